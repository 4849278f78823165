// Data-parallel NeuralNetwork training on 2 and 4 ranks against NeuralNetwork::fit in one process (run on
// every rank, in the same test): the same parameters to float reassociation, identical on every rank.
#include <doctest/doctest.h>

#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "aimastery/ml/deep_learning.hpp"
#include "distributed/mpi_support.hpp"
#include "support.hpp"

using namespace aimastery;

namespace {

/// Tolerances of the comparison with one process after a few epochs: the gradient sums are reassociated
/// (Σ_r w_r g_r instead of one sum over the batch), a few ulps per step, grown a little by training.
/// Measured on 2 and 4 ranks after 4 epochs: 3e-16 (double), 2e-7 (float); the bounds leave room for
/// other MPI reduction orders.
template <class T>
constexpr T reassociation = std::is_same_v<T, double> ? T(1e-12) : T(1e-5);

/// A small classifier: Dense(5→8), tanh, Dense(8→3). `seed` sets the initial weights.
template <class T>
NeuralNetwork<T> classifier(std::uint64_t seed, std::unique_ptr<Optimizer<T>> optimizer) {
  NeuralNetwork<T> net;
  net.template add<Dense<T>>(5, 8, DenseOptions{.seed = seed})
      .template add<Activation<T>>(ActivationKind::tanh)
      .template add<Dense<T>>(8, 3, DenseOptions{.seed = seed + 1});
  net.template set_loss<CrossEntropyLoss<T>>();
  net.set_optimizer(std::move(optimizer));
  return net;
}

template <class T>
std::unique_ptr<Optimizer<T>> sgd() {
  return std::make_unique<SGD<T>>(SGDOptions<T>{.learning_rate = T(0.1), .momentum = T(0.9)});
}

/// Labels from the data: the arg-max of three fixed projections.
template <class T>
IndexVector labels_of(const Matrix<T>& X) {
  IndexVector y(X.rows());
  for (Index i = 0; i < X.rows(); ++i) {
    const T a = X(i, 0) + X(i, 1), b = X(i, 2) - X(i, 3), c = X(i, 4);
    y(i) = a >= b && a >= c ? 0 : (b >= c ? 1 : 2);
  }
  return y;
}

template <class T>
std::vector<T> flat_parameters(const NeuralNetwork<T>& net) {
  std::vector<T> flat;
  for (const auto& p : net.parameters())
    flat.insert(flat.end(), p.parameter->value.data(), p.parameter->value.data() + p.parameter->value.size());
  return flat;
}

/// Largest |a − b| over the parameters, relative to the largest |b|.
template <class T>
double parameter_error(const NeuralNetwork<T>& a, const NeuralNetwork<T>& b) {
  double worst = 0, scale = 1e-300;
  for (std::size_t k = 0; k < a.parameters().size(); ++k) {
    const Matrix<T>& x = a.parameters()[k].parameter->value;
    const Matrix<T>& y = b.parameters()[k].parameter->value;
    REQUIRE(x.rows() == y.rows());
    REQUIRE(x.cols() == y.cols());
    worst = std::max(worst, (x.template cast<double>() - y.template cast<double>()).cwiseAbs().maxCoeff());
    scale = std::max(scale, y.template cast<double>().cwiseAbs().maxCoeff());
  }
  return worst / scale;
}

}  // namespace

TEST_CASE("batch_share: contiguous shares in rank order that cover the batch, sizes differing by at most one") {
  for (Index rows : {1, 3, 7, 16, 103})
    for (int ranks : {1, 2, 3, 4, 8}) {
      Index next = 0, smallest = rows, largest = 0;
      for (int r = 0; r < ranks; ++r) {
        const BatchShare s = batch_share(rows, r, ranks);
        REQUIRE(s.lo == next);
        REQUIRE(s.hi >= s.lo);
        smallest = std::min(smallest, s.hi - s.lo);
        largest = std::max(largest, s.hi - s.lo);
        next = s.hi;
      }
      CHECK(next == rows);
      CHECK(largest - smallest <= 1);
    }
}

TEST_CASE_TEMPLATE("fit_data_parallel equals NeuralNetwork::fit with the same global batch (SGD + momentum)", T, float,
                   double) {
  Communicator world = Communicator::world();
  const Matrix<T> X = test::normal_matrix<T>(103, 5, 11);  // 103 rows: the last batch of 16 is short (7)
  const IndexVector y = labels_of(X);
  const FitOptions<T> options{.epochs = 4, .batch_size = 16, .seed = 7};

  NeuralNetwork<T> single = classifier<T>(1, sgd<T>());
  const History<T> expected = single.fit(X, y, options);

  // Each rank starts from its own weights: rank 0's are broadcast, so the result must still match.
  NeuralNetwork<T> net = classifier<T>(1 + 10 * static_cast<std::uint64_t>(world.rank()), sgd<T>());
  std::vector<Index> epochs_seen;
  FitOptions<T> distributed = options;
  distributed.on_epoch_end = [&](const EpochLog<T>& log) { epochs_seen.push_back(log.epoch); };
  // Small buckets: several MPI_Allreduce calls per step.
  const History<T> h = fit_data_parallel(world, net, X, y, distributed, {.bucket_elements = 20});

  CAPTURE(world.rank());
  CHECK(parameter_error(net, single) <= reassociation<T>);
  CHECK(test::identical_on_all_ranks(world, flat_parameters(net)));
  REQUIRE(h.epochs() == expected.epochs());
  CHECK(epochs_seen == std::vector<Index>{0, 1, 2, 3});
  for (Index e = 0; e < h.epochs(); ++e) {
    const auto k = static_cast<std::size_t>(e);
    CHECK(test::close(h.loss[k], expected.loss[k], T(10) * reassociation<T>));
    CHECK(h.accuracy[k] == expected.accuracy[k]);
    CHECK(h.learning_rate[k] == expected.learning_rate[k]);
  }
  CHECK(h.best_epoch == expected.best_epoch);
  CHECK(single.optimizer().steps() == net.optimizer().steps());
}

TEST_CASE_TEMPLATE("fit_data_parallel: regression, sum-reduced MSE, Adam, clipping, a schedule, no shuffle", T, float,
                   double) {
  Communicator world = Communicator::world();
  const Matrix<T> X = test::normal_matrix<T>(50, 5, 21);
  Matrix<T> targets(50, 2);
  targets.col(0) = X.col(0) - T(0.5) * X.col(3);
  targets.col(1) = X.col(1).array() * X.col(2).array();
  const auto make = [&](std::uint64_t seed) {
    NeuralNetwork<T> net;
    net.template add<Dense<T>>(5, 6, DenseOptions{.seed = seed})
        .template add<Activation<T>>(ActivationKind::relu)
        .template add<Dense<T>>(6, 2, DenseOptions{.seed = seed + 1});
    net.template set_loss<MSELoss<T>>(Reduction::sum);
    net.template set_optimizer<Adam<T>>(AdamOptions<T>{.learning_rate = T(0.01)});
    return net;
  };
  const FitOptions<T> options{
      .epochs = 3,
      .batch_size = 8,
      .shuffle = false,
      .schedule = std::make_shared<StepSchedule<T>>(StepScheduleOptions<T>{.step_size = 1, .gamma = T(0.5)}),
      .clip_norm = T(1),
  };
  NeuralNetwork<T> single = make(3);
  const History<T> expected = single.fit(X, targets, options);
  NeuralNetwork<T> net = make(3 + static_cast<std::uint64_t>(world.rank()));
  const History<T> h = fit_data_parallel(world, net, X, targets, options);
  CAPTURE(world.rank());
  CHECK(parameter_error(net, single) <= reassociation<T>);
  CHECK(test::identical_on_all_ranks(world, flat_parameters(net)));
  for (std::size_t k = 0; k < h.loss.size(); ++k) {
    CHECK(test::close(h.loss[k], expected.loss[k], T(10) * reassociation<T>));
    CHECK(h.learning_rate[k] == expected.learning_rate[k]);
  }
  CHECK(h.accuracy.empty());
}

TEST_CASE_TEMPLATE("fit_data_parallel: overlapping the reduction with the backward pass changes no bit", T, float,
                   double) {
  Communicator world = Communicator::world();
  const Matrix<T> X = test::normal_matrix<T>(61, 5, 51);
  const IndexVector y = labels_of(X);
  // Five layers, three with parameters (last to first: 4·3 + 3 = 15, 7·4 + 4 = 32, 5·7 + 7 = 42 scalars,
  // after the loss and the correct count).
  const auto make = [&](std::uint64_t seed) {
    NeuralNetwork<T> net;
    net.template add<Dense<T>>(5, 7, DenseOptions{.seed = seed})
        .template add<Activation<T>>(ActivationKind::tanh)
        .template add<Dense<T>>(7, 4, DenseOptions{.seed = seed + 1})
        .template add<Activation<T>>(ActivationKind::relu)
        .template add<Dense<T>>(4, 3, DenseOptions{.seed = seed + 2});
    net.template set_loss<CrossEntropyLoss<T>>();
    net.template set_optimizer<Adam<T>>(AdamOptions<T>{.learning_rate = T(0.01)});
    return net;
  };
  // Batches of 10 (7 on 4 ranks: shares of 2, 2, 2, 1) and of 3 (a rank with no rows on 4 ranks).
  for (const Index batch_size : {Index(10), Index(3)})
    // One bucket per step; buckets inside a layer, across layers and around the loss (7, 20); one scalar each.
    for (const Index bucket : {Index(1) << 22, Index(7), Index(20), Index(1)}) {
      CAPTURE(batch_size);
      CAPTURE(bucket);
      const FitOptions<T> options{.epochs = 3, .batch_size = batch_size, .seed = 9};
      NeuralNetwork<T> single = make(1);
      const History<T> expected = single.fit(X, y, options);
      NeuralNetwork<T> overlapped = make(1), sequential = make(1);
      DataParallelOptions parallel;
      parallel.bucket_elements = bucket;
      const History<T> h_overlapped = fit_data_parallel(world, overlapped, X, y, options, parallel);
      parallel.overlap = false;
      const History<T> h_sequential = fit_data_parallel(world, sequential, X, y, options, parallel);
      CHECK(flat_parameters(overlapped) == flat_parameters(sequential));
      CHECK(h_overlapped.loss == h_sequential.loss);
      CHECK(h_overlapped.accuracy == h_sequential.accuracy);
      CHECK(test::identical_on_all_ranks(world, flat_parameters(overlapped)));
      CHECK(parameter_error(overlapped, single) <= reassociation<T>);
      for (std::size_t k = 0; k < expected.loss.size(); ++k)
        CHECK(test::close(h_overlapped.loss[k], expected.loss[k], T(10) * reassociation<T>));
      CHECK(h_overlapped.accuracy == expected.accuracy);
    }
}

TEST_CASE("fit_data_parallel: a batch smaller than the number of ranks leaves some ranks without rows") {
  Communicator world = Communicator::world();
  const Matrix<double> X = test::normal_matrix<double>(10, 5, 31);
  const IndexVector y = labels_of(X);
  const FitOptions<double> options{.epochs = 2, .batch_size = 3, .seed = 5};  // batches of 3, 3, 3, 1
  NeuralNetwork<double> single = classifier<double>(4, sgd<double>());
  single.fit(X, y, options);
  NeuralNetwork<double> net = classifier<double>(4, sgd<double>());
  fit_data_parallel(world, net, X, y, options);
  CHECK(parameter_error(net, single) <= reassociation<double>);
  CHECK(test::identical_on_all_ranks(world, flat_parameters(net)));
}

TEST_CASE("broadcast_parameters and save_checkpoint: rank 0's weights everywhere, one file written by rank 0") {
  Communicator world = Communicator::world();
  NeuralNetwork<double> net = classifier<double>(100 + static_cast<std::uint64_t>(world.rank()), sgd<double>());
  broadcast_parameters(world, net);
  const NeuralNetwork<double> rank0 = classifier<double>(100, sgd<double>());
  CHECK(parameter_error(net, rank0) == 0.0);

  std::string dir =
      world.rank() == 0
          ? (std::filesystem::temp_directory_path() / ("aimastery_mpi_checkpoint_" + std::to_string(::getpid())))
                .string()
          : std::string();
  world.broadcast(dir, 0);
  if (world.rank() == 0) std::filesystem::create_directories(dir);
  world.barrier();
  const std::string path = dir + "/model.safetensors";
  save_checkpoint(world, net, path);
  NeuralNetwork<double> loaded = classifier<double>(999, sgd<double>());
  loaded.load(path);  // every rank reads the file rank 0 wrote
  CHECK(parameter_error(loaded, net) == 0.0);
  world.barrier();
  if (world.rank() == 0) std::filesystem::remove_all(dir);

  // A failure on rank 0 is thrown on every rank, with rank 0's message.
  CHECK_THROWS_NAMING(
      save_checkpoint(world, net, dir + "/no/such/folder/model.safetensors"), std::runtime_error,
      test::text("save_checkpoint: rank 0 could not write '" + dir + "/no/such/folder/model.safetensors'"));
  CHECK_THROWS_NAMING(save_checkpoint(world, net, "x.safetensors", world.size()), InvalidArgument,
                      test::text("root " + std::to_string(world.size()) + " is not a rank"));

  // A different architecture on one rank is caught before anything is sent.
  NeuralNetwork<double> other = world.rank() == 1 ? NeuralNetwork<double>() : classifier<double>(1, sgd<double>());
  if (world.rank() == 1)
    other.add<Dense<double>>(5, 4, DenseOptions{.seed = 1}).add<Dense<double>>(4, 3, DenseOptions{.seed = 2});
  CHECK_THROWS_NAMING(broadcast_parameters(world, other), InvalidArgument,
                      "broadcast_parameters: ranks disagree on the number of parameters (with buffers)");
}

TEST_CASE("fit_data_parallel: bad inputs throw on every rank before any work, naming the problem") {
  Communicator world = Communicator::world();
  const Matrix<double> X = test::normal_matrix<double>(20, 5, 41);
  const IndexVector y = labels_of(X);
  NeuralNetwork<double> net = classifier<double>(1, sgd<double>());
  const std::vector<double> before = flat_parameters(net);
  const auto fit = [&](const Matrix<double>& X_, const IndexVector& y_, const FitOptions<double>& o = {},
                       const DataParallelOptions& p = {}) { return fit_data_parallel(world, net, X_, y_, o, p); };
  const bool odd = world.rank() == 1;

  // Different data on one rank: feature count, sample count, values, options.
  const Matrix<double> X6 = test::normal_matrix<double>(20, 6, 41);
  CHECK_THROWS_NAMING(fit(odd ? X6 : X, y), InvalidArgument, "ranks disagree on the number of features: 5 to 6");
  const Matrix<double> X19 = X.topRows(19);
  const IndexVector y19 = y.head(19);
  CHECK_THROWS_NAMING(fit(odd ? X19 : X, odd ? y19 : y), InvalidArgument,
                      "ranks disagree on the number of samples: 19 to 20");
  Matrix<double> changed = X;
  changed(3, 2) += 1e-9;
  CHECK_THROWS_NAMING(fit(odd ? changed : X, y), InvalidArgument, "the hash of X (every rank must hold the same data)");
  IndexVector relabelled = y;
  relabelled(0) = (y(0) + 1) % 3;
  CHECK_THROWS_NAMING(fit(X, odd ? relabelled : y), InvalidArgument, "the hash of the targets");
  CHECK_THROWS_NAMING(fit(X, y, {.batch_size = odd ? 8 : 16}), InvalidArgument, "ranks disagree on batch_size");
  CHECK_THROWS_NAMING(fit(X, y, {.seed = odd ? 1u : 2u}), InvalidArgument, "ranks disagree on the shuffling seed");

  // A bad value on one rank only: every rank throws that rank's message.
  Matrix<double> with_nan = X;
  with_nan(0, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_NAMING(fit(odd ? with_nan : X, y), InvalidArgument,
                      "rank 1: fit_data_parallel: X contains NaN or infinity");

  // Bad options and data, as NeuralNetwork::fit rejects them.
  CHECK_THROWS_NAMING(fit(X, y, {.epochs = 0}), InvalidArgument, "epochs must be >= 1, got 0");
  CHECK_THROWS_NAMING(fit(X, y, {.batch_size = 0}), InvalidArgument, "batch_size must be >= 1, got 0");
  CHECK_THROWS_NAMING(fit(X, y, {.clip_norm = -1.0}), InvalidArgument, "clip_norm must be >= 0");
  CHECK_THROWS_NAMING(fit(X, y, {.validation_split = 0.1}), InvalidArgument, "validation_split is not supported");
  CHECK_THROWS_NAMING(fit(X, y, {.patience = 2}), InvalidArgument, "patience (early stopping) is not supported");
  CHECK_THROWS_NAMING(fit(X, y, {}, {.bucket_elements = 0}), InvalidArgument, "bucket_elements must be >= 1, got 0");
  CHECK_THROWS_NAMING(fit(Matrix<double>(0, 5), IndexVector(0)), InvalidArgument,
                      "fit_data_parallel: X is empty (0x5)");
  CHECK_THROWS_NAMING(fit(X, y19), InvalidArgument, "X has 20 samples (rows) but labels has 19");
  Matrix<double> targets_nan = Matrix<double>::Zero(20, 3);
  targets_nan(4, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_NAMING(fit_data_parallel(world, net, X, targets_nan), InvalidArgument,
                      "targets contains NaN or infinity");
  CHECK(flat_parameters(net) == before);

  // A network that cannot be trained data-parallel, or not at all.
  NeuralNetwork<double> empty;
  CHECK_THROWS_NAMING(fit_data_parallel(world, empty, X, y), InvalidArgument, "the network has no layers");
  NeuralNetwork<double> no_loss;
  no_loss.add<Dense<double>>(5, 3);
  CHECK_THROWS_NAMING(fit_data_parallel(world, no_loss, X, y), InvalidArgument, "no loss set");
  no_loss.set_loss<CrossEntropyLoss<double>>();
  CHECK_THROWS_NAMING(fit_data_parallel(world, no_loss, X, y), InvalidArgument, "no optimizer set");
  NeuralNetwork<double> batch_norm = classifier<double>(1, sgd<double>());
  batch_norm.add<BatchNormalization<double>>(3);
  CHECK_THROWS_NAMING(fit_data_parallel(world, batch_norm, X, y), InvalidArgument,
                      "layer 3 BatchNormalization(3) depends on the whole batch");
  NeuralNetwork<double> dropout = classifier<double>(1, sgd<double>());
  dropout.replace(1, std::make_unique<Dropout<double>>(0.5));
  CHECK_THROWS_NAMING(fit_data_parallel(world, dropout, X, y), InvalidArgument, "layer 1 Dropout(rate=0.5)");
  NeuralNetwork<double> built = classifier<double>(1, sgd<double>());
  built.build(5);
  CHECK_THROWS_NAMING(fit_data_parallel(world, built, X6, y), InvalidArgument,
                      "X has 6 features, the network was built for 5");

  // A loss that overflows: every rank throws, and the parameters and the optimiser are as before.
  NeuralNetwork<double> unstable;
  unstable.add<Dense<double>>(5, 3, DenseOptions{.seed = 1});
  unstable.set_loss<MSELoss<double>>().set_optimizer<SGD<double>>(SGDOptions<double>{.learning_rate = 1e30});
  const Matrix<double> targets = Matrix<double>::Ones(20, 3);
  const std::vector<double> unstable_before = flat_parameters(unstable);
  CHECK_THROWS_NAMING(fit_data_parallel(world, unstable, X, targets, {.epochs = 5, .batch_size = 4}), InvalidArgument,
                      "fit_data_parallel: the loss became");
  CHECK(flat_parameters(unstable) == unstable_before);
  CHECK(unstable.optimizer().steps() == 0);
}
