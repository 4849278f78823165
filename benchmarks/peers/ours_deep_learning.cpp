// The aimastery side of benchmarks/peers/tasks_deep_learning.py: MLP training epochs and single-sample
// inference, float32, Adam(lr 1e-3), cross-entropy, shuffled mini-batches.
//
//   peer_ours_deep_learning epoch_digits DIGITS_CSV EPOCHS BATCH REPEAT
//   peer_ours_deep_learning epoch_synthetic N EPOCHS BATCH REPEAT
//   peer_ours_deep_learning latency DIGITS_CSV CALLS REPEAT
// Threads: OMP_NUM_THREADS (the library's GEMM splits large products over them).

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "aimastery/io/csv.hpp"
#include "aimastery/ml/deep_learning.hpp"
#include "peer_common.hpp"

using namespace aimastery;
using aimastery::peers::Args;

namespace {

/// Sizes 64-100-10 or 784-256-128-10: Dense + ReLU between, PyTorch's default (Kaiming-uniform-like) scale.
NeuralNetwork<float> mlp(const std::vector<Index>& sizes) {
  NeuralNetwork<float> net;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    net.add<Dense<float>>(sizes[i], sizes[i + 1], DenseOptions{.initializer = Initializer::he_uniform, .seed = i + 1});
    if (i + 2 < sizes.size()) net.add<Activation<float>>(ActivationKind::relu);
  }
  net.set_loss<CrossEntropyLoss<float>>().set_optimizer<Adam<float>>(AdamOptions<float>{.learning_rate = 1e-3f});
  return net;
}

/// The synthetic set both sides build from integers alone (so it is identical bit for bit):
///   x_ij = ((i·7919 + j·104729) mod 1000) / 500 − 1,   y_i = (i·31) mod 10
/// (y_i = i mod 10 follows from x_i0, so the loss falls as on real data; the task measures time).
void synthetic(Index n, Index d, Matrix<float>& X, IndexVector& y) {
  X.resize(n, d);
  y.resize(n);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < d; ++j)
      X(i, j) = static_cast<float>(static_cast<double>((i * 7919 + j * 104729) % 1000) / 500.0 - 1.0);
    y(i) = (i * 31) % 10;
  }
}

nlohmann::json time_epochs(NeuralNetwork<float>& net, const Matrix<float>& X, const IndexVector& y, Index epochs,
                           Index batch, int repeat) {
  net.fit(X, y, {.epochs = 1, .batch_size = batch, .seed = 1});  // warm-up: buffers, optimiser state
  History<float> h;
  double cpu = 1e300;  // process CPU time (all threads) of the best run: on a loaded machine the wall
                       // time of a single-threaded run counts other processes' turns too
  const double seconds = peers::best_seconds(repeat, [&] {
    const std::clock_t c0 = std::clock();
    h = net.fit(X, y, {.epochs = epochs, .batch_size = batch, .seed = 2});
    cpu = std::min(cpu, static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
  });
  const double e = static_cast<double>(epochs);
  return {{"seconds", seconds / e}, {"cpu_seconds", cpu / e}, {"loss", h.loss.back()}, {"accuracy", h.accuracy.back()}};
}

nlohmann::json epoch_digits(const Args& a) {
  const auto digits = read_csv<float>(a.at(0));
  Matrix<float> X = digits.X / 16.0f;
  auto net = mlp({64, 100, 10});
  return time_epochs(net, X, digits.labels(), std::stol(a.at(1)), std::stol(a.at(2)), std::stoi(a.at(3)));
}

nlohmann::json epoch_synthetic(const Args& a) {
  Matrix<float> X;
  IndexVector y;
  synthetic(std::stol(a.at(0)), 784, X, y);
  auto net = mlp({784, 256, 128, 10});
  return time_epochs(net, X, y, std::stol(a.at(1)), std::stol(a.at(2)), std::stoi(a.at(3)));
}

/// Mean seconds of one predict() of one sample (the best of `repeat` runs of `calls` calls).
nlohmann::json latency(const Args& a) {
  const auto digits = read_csv<float>(a.at(0));
  const Matrix<float> X = digits.X / 16.0f;
  auto net = mlp({64, 100, 10});
  net.eval();
  const Index calls = std::stol(a.at(1));
  float sink = 0;
  Matrix<float> sample(1, 64);
  const double seconds = peers::best_seconds(std::stoi(a.at(2)), [&] {
    for (Index c = 0; c < calls; ++c) {
      sample = X.row(c % X.rows());
      sink += net.predict(sample)(0, 0);
    }
  });
  return {{"seconds", seconds / static_cast<double>(calls)}, {"checksum", sink}};
}

}  // namespace

int main(int argc, char** argv) {
  return peers::run_task(argc, argv,
                         {{"epoch_digits", epoch_digits}, {"epoch_synthetic", epoch_synthetic}, {"latency", latency}});
}
