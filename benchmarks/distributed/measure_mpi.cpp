// Measurements of the distributed pieces on this machine, printed as a Markdown table by rank 0:
//   mpirun -np 1 ./measure_mpi   then   mpirun -np 2 ./measure_mpi   (and -np 4 with --oversubscribe)
// - MPI_Allreduce (in place, double) latency and bandwidth for 8 B … 32 MiB;
// - one epoch of fit_data_parallel, overlap on and off (measure_data_parallel): an MLP 64 → 256 → 10 on
//   20 000 × 64 and an MLP 1024 → 1024 → 1024 → 10 on 2048 × 1024, global batch 256, wall time and the CPU
//   seconds of all ranks (getrusage); on one rank also forward + backward per batch of 256, 128, 64 and
//   the optimiser step (the compute inputs of benchmarks/distributed/scaling_model.py);
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
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

/// For each of `works`: the median wall time of `repeats` runs (between barriers; the works take turns,
/// so that a change in the machine's load hits them alike) and the CPU seconds all ranks used in that run.
struct WallAndCpu {
  double wall = 0;
  double cpu = 0;
};
std::vector<WallAndCpu> median_wall_and_cpu(const Communicator& world, int repeats,
                                            const std::vector<std::function<void()>>& works) {
  std::vector<std::vector<std::pair<double, double>>> runs(works.size());
  for (int r = 0; r < repeats; ++r)
    for (std::size_t w = 0; w < works.size(); ++w) {
      world.barrier();
      const double start = MPI_Wtime(), cpu = cpu_seconds();
      works[w]();
      const double used = cpu_seconds() - cpu;
      world.barrier();
      runs[w].emplace_back(MPI_Wtime() - start, world.sum(used));
    }
  std::vector<WallAndCpu> out;
  for (auto& t : runs) {
    std::sort(t.begin(), t.end());
    out.push_back({t[t.size() / 2].first, t[t.size() / 2].second});
  }
  return out;
}

/// An MLP with ReLU between Dense layers of the given widths (input first), cross-entropy and SGD.
NeuralNetwork<double> mlp(const std::vector<Index>& widths) {
  NeuralNetwork<double> net;
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    if (i > 0) net.add<Activation<double>>(ActivationKind::relu);
    net.add<Dense<double>>(widths[i], widths[i + 1], DenseOptions{.seed = 1 + i});
  }
  net.set_loss<CrossEntropyLoss<double>>().set_optimizer<SGD<double>>(SGDOptions<double>{.learning_rate = 0.05});
  return net;
}

/// One epoch of fit_data_parallel with overlap on and off, for a small and a large MLP; on one rank, the
/// compute of one step (forward + backward at the batch a rank gets on 1, 2, 4 ranks; optimiser step).
void measure_data_parallel(const Communicator& world) {
  struct Case {
    const char* name;
    std::vector<Index> widths;
    Index rows;
    Index bucket;
    int repeats;
  };
  const Case cases[] = {{"MLP 64-256-10", {64, 256, 10}, 20000, 1024, 5},
                        {"MLP 1024-1024-1024-10", {1024, 1024, 1024, 10}, 2048, Index(1) << 18, 3}};
  const Index batch = 256;
  for (const Case& c : cases) {
    const Matrix<double> X = normal(c.rows, c.widths.front(), 1);
    IndexVector y(X.rows());
    for (Index i = 0; i < X.rows(); ++i) y(i) = static_cast<Index>(std::abs(X(i, 0) * 3 + X(i, 1))) % c.widths.back();
    NeuralNetwork<double> net = mlp(c.widths);
    const Index parameters = net.parameter_count();
    std::vector<std::function<void()>> epochs;
    for (const bool overlap : {true, false})
      epochs.emplace_back([&, overlap] {
        DataParallelOptions parallel;
        parallel.bucket_elements = c.bucket;
        parallel.overlap = overlap;
        fit_data_parallel(world, net, X, y, {.epochs = 1, .batch_size = batch, .seed = 3}, parallel);
      });
    // The reduction of one step's buffer alone (gradients, loss, correct count), in the same buckets.
    std::vector<double> flat(static_cast<std::size_t>(parameters) + 2, 1.0);
    const std::size_t cap = static_cast<std::size_t>(c.bucket);
    const int inner = parameters > 100000 ? 5 : 50;
    epochs.emplace_back([&] {
      for (int i = 0; i < inner; ++i) {
        std::vector<Request> requests;
        for (std::size_t from = 0; from < flat.size(); from += cap)
          requests.push_back(
              world.iallreduce_sum(std::span<double>(flat.data() + from, std::min(cap, flat.size() - from))));
        for (Request& r : requests) r.wait();
      }
    });
    const std::vector<WallAndCpu> t = median_wall_and_cpu(world, c.repeats, epochs);
    for (std::size_t k = 0; k < 2; ++k)
      if (world.is_root())
        std::printf(
            "| fit_data_parallel, one epoch (%s, double, %lld parameters, buckets of %lld, overlap %s) | %lld x %lld, "
            "batch %lld | %.3f s (CPU %.2f s) | %.0f samples/s |\n",
            c.name, static_cast<long long>(parameters), static_cast<long long>(c.bucket), k == 0 ? "on" : "off",
            static_cast<long long>(c.rows), static_cast<long long>(c.widths.front()), static_cast<long long>(batch),
            t[k].wall, t[k].cpu, static_cast<double>(c.rows) / t[k].wall);
    if (world.is_root())
      std::printf(
          "| gradient reduction of one step (%s, MPI_Iallreduce in buckets of %lld) | %lld B | %.3f ms (CPU %.3f ms) | "
          "%.3f GB/s |\n",
          c.name, static_cast<long long>(c.bucket), static_cast<long long>(flat.size() * sizeof(double)),
          t[2].wall / inner * 1e3, t[2].cpu / inner * 1e3,
          static_cast<double>(flat.size() * sizeof(double)) / (t[2].wall / inner) / 1e9);
    if (world.size() != 1) continue;
    net.train(true);
    for (const Index b : {batch, batch / 2, batch / 4}) {
      const Matrix<double> Xb = X.topRows(b);
      const IndexVector yb = y.head(b);
      const int passes = c.widths[1] >= 1024 ? 3 : 50;
      const WallAndCpu fb = median_wall_and_cpu(world, 5, {[&] {
                                                  for (int i = 0; i < passes; ++i) {
                                                    net.zero_grad();
                                                    (void)net.loss().forward(net.forward(Xb), yb);
                                                    net.backward_each_layer(net.loss().backward(), [](std::size_t) {});
                                                  }
                                                }})[0];
      std::printf(
          "| forward + backward (%s, double) | batch %lld | %.3f ms (CPU %.3f ms) | %.2f us/sample (CPU %.2f) |\n",
          c.name, static_cast<long long>(b), fb.wall / passes * 1e3, fb.cpu / passes * 1e3,
          fb.wall / passes / static_cast<double>(b) * 1e6, fb.cpu / passes / static_cast<double>(b) * 1e6);
    }
    const WallAndCpu step = median_wall_and_cpu(world, 5, {[&] {
                                                  for (int i = 0; i < 20; ++i) net.optimizer().step(net.parameters());
                                                }})[0];
    std::printf("| optimiser step (%s, SGD, double) | %lld parameters | %.3f ms (CPU %.3f ms) | |\n", c.name,
                static_cast<long long>(parameters), step.wall / 20 * 1e3, step.cpu / 20 * 1e3);
  }
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

  measure_data_parallel(world);

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
