// Measurements of the distributed pieces on this machine, printed as a Markdown table by rank 0:
//   mpirun -np 1 ./measure_mpi   then   mpirun -np 2 ./measure_mpi   (and -np 4 with --oversubscribe)
// - MPI_Allreduce (in place, double) latency and bandwidth for 8 B … 32 MiB;
// - one epoch of fit_data_parallel (an MLP 64 → 256 → 10 on 20 000 × 64, global batch 256);
// - ShardedKNN::kneighbors (k = 10, euclidean) of 500 queries against 40 000 × 32 training rows;
// - fit_sharded of a RandomForestScratch (20 trees, max_features sqrt) on rows sharded evenly: deep trees
//   on 40 000 × 16 (max_depth 12: many small nodes) and shallow ones on 400 000 × 16 (max_depth 6), with
//   the CPU seconds of all ranks (getrusage) beside the wall time.
// Each figure is the median of several repetitions, each timed between barriers (MPI_Wtime, wall clock).
// Not a Google Benchmark program: every rank must run the same iterations in step.
#include <aimastery/distributed.hpp>
#include <aimastery/ml/deep_learning.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

using namespace aimastery;

namespace {

Matrix<double> normal(Index rows, Index cols, std::uint64_t seed) {
  RandomEngine rng(seed);
  Matrix<double> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = detail::standard_normal(rng);
  return m;
}

/// Median seconds of `repeats` runs of `work`, each between barriers.
double median_seconds(const Communicator& world, int repeats, const std::function<void()>& work) {
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    world.barrier();
    const double start = MPI_Wtime();
    work();
    world.barrier();
    t.push_back(MPI_Wtime() - start);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

/// CPU seconds (user + system) this process has used so far.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

/// fit_sharded(RandomForestScratch) on rows sharded evenly: wall time (median of 3) and the CPU seconds of
/// all ranks per fit; on one rank also RandomForestScratch::fit (OpenMP over trees) for reference.
void measure_sharded_forest(const Communicator& world, Index n, Index depth) {
  const Index d = 16;
  const Matrix<double> X = normal(n, d, 6);
  IndexVector y(n);
  for (Index i = 0; i < n; ++i) y(i) = (X(i, 0) + 0.5 * X(i, 1) * X(i, 2) + 0.3 * X(i, 3) > 0.2 ? 1 : 0);
  RandomForestParams params;
  params.n_estimators = 20;
  params.max_depth = depth;
  params.seed = 7;
  const BatchShare mine = batch_share(n, world.rank(), world.size());
  const Matrix<double> X_mine = X.middleRows(mine.lo, mine.hi - mine.lo);
  const IndexVector y_mine = y.segment(mine.lo, mine.hi - mine.lo);
  RandomForestScratch<double> forest(params);
  const double cpu_start = cpu_seconds();
  const double t = median_seconds(world, 3, [&] { fit_sharded(world, forest, X_mine, y_mine); });
  const double cpu = world.sum(cpu_seconds() - cpu_start) / 3;
  Index nodes = 0;
  for (Index k = 0; k < forest.n_trees(); ++k) nodes += static_cast<Index>(forest.tree(k).nodes.size());
  if (world.is_root())
    std::printf(
        "| fit_sharded(RandomForestScratch), 20 trees, sqrt features, depth %ld (%ld nodes) | %ld x 16 | %.3f s "
        "(CPU %.2f s, all ranks) | %.0f samples/s |\n",
        static_cast<long>(depth), static_cast<long>(nodes), static_cast<long>(n), t, cpu, static_cast<double>(n) / t);
  if (world.size() == 1) {
    const double single_start = cpu_seconds();
    const double single = median_seconds(world, 3, [&] { forest.fit(X, y); });
    std::printf(
        "| RandomForestScratch::fit (one process, OpenMP), depth %ld | %ld x 16 | %.3f s (CPU %.2f s) | %.0f "
        "samples/s |\n",
        static_cast<long>(depth), static_cast<long>(n), single, (cpu_seconds() - single_start) / 3,
        static_cast<double>(n) / single);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Environment mpi(argc, argv);
  Communicator world = Communicator::world();
  const bool root = world.is_root();
  const int p = world.size();
  if (root) std::printf("ranks: %d\n\n| measurement | size | time | rate |\n|---|---|---|---|\n", p);

  for (std::size_t bytes :
       {std::size_t{8}, std::size_t{1} << 10, std::size_t{1} << 16, std::size_t{1} << 20, std::size_t{1} << 25}) {
    std::vector<double> buffer(bytes / sizeof(double), 1.0);
    const int inner = bytes <= (1u << 16) ? 1000 : (bytes <= (1u << 20) ? 50 : 5);
    const double t = median_seconds(world, 7,
                                    [&] {
                                      for (int i = 0; i < inner; ++i) world.allreduce_sum(std::span<double>(buffer));
                                    }) /
                     inner;
    if (root)
      std::printf("| MPI_Allreduce (double, in place) | %zu B | %.2f us | %.3f GB/s |\n", bytes, t * 1e6,
                  static_cast<double>(bytes) / t / 1e9);
  }

  {
    const Matrix<double> X = normal(20000, 64, 1);
    IndexVector y(X.rows());
    for (Index i = 0; i < X.rows(); ++i) y(i) = static_cast<Index>(std::abs(X(i, 0) * 3 + X(i, 1))) % 10;
    NeuralNetwork<double> net;
    net.add<Dense<double>>(64, 256, DenseOptions{.seed = 1})
        .add<Activation<double>>(ActivationKind::relu)
        .add<Dense<double>>(256, 10, DenseOptions{.seed = 2});
    net.set_loss<CrossEntropyLoss<double>>().set_optimizer<SGD<double>>(SGDOptions<double>{.learning_rate = 0.05});
    const double t = median_seconds(
        world, 3, [&] { fit_data_parallel(world, net, X, y, {.epochs = 1, .batch_size = 256, .seed = 3}); });
    if (root)
      std::printf(
          "| fit_data_parallel, one epoch (MLP 64-256-10, double) | 20000 x 64, batch 256 | %.3f s | %.0f samples/s "
          "|\n",
          t, 20000.0 / t);
  }

  {
    const Matrix<double> X = normal(40000, 32, 4);
    const Matrix<double> Q = normal(500, 32, 5);
    const BatchShare mine = batch_share(X.rows(), world.rank(), p);
    ShardedKNN<double> knn(world, {.k = 10});
    knn.fit(X.middleRows(mine.lo, mine.hi - mine.lo), IndexVector::Zero(mine.hi - mine.lo));
    const double t = median_seconds(world, 5, [&] { (void)knn.kneighbors(Q); });
    if (root)
      std::printf("| ShardedKNN::kneighbors (k = 10, double) | 500 queries x 40000 x 32 | %.3f s | %.0f queries/s |\n",
                  t, 500.0 / t);
  }

  measure_sharded_forest(world, 40000, 12);
  measure_sharded_forest(world, 400000, 6);
  return 0;
}
