// Accuracy of the MLP on real data: digits (held-out test set) and breast_cancer (5-fold CV), both
// standardised with the training part's statistics.

#include <numeric>
#include <random>
#include <vector>

#include "aimastery/io/csv.hpp"
#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/dropout.hpp"
#include "aimastery/ml/deep_learning/losses.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"
#include "aimastery/ml/deep_learning/optimizers.hpp"
#include "support.hpp"

using namespace aimastery;

namespace {

/// Rows of X (and y) picked by `rows`.
struct Split {
  Matrix<double> X_train, X_test;
  IndexVector y_train, y_test;
};

Split take(const Matrix<double>& X, const IndexVector& y, const std::vector<Index>& train,
           const std::vector<Index>& test) {
  Split s{X(train, Eigen::all), X(test, Eigen::all), y(train), y(test)};
  // Standardise with the training rows' mean and standard deviation (constant columns left centred).
  const RowVector<double> mean = s.X_train.colwise().mean();
  RowVector<double> sd = ((s.X_train.rowwise() - mean).array().square().colwise().mean()).sqrt();
  sd = (sd.array() > 1e-12).select(sd, 1.0);
  s.X_train = (s.X_train.rowwise() - mean).array().rowwise() / sd.array();
  s.X_test = (s.X_test.rowwise() - mean).array().rowwise() / sd.array();
  return s;
}

/// Per class, the samples in a seeded random order dealt to `folds` folds in turn (stratified).
std::vector<std::vector<Index>> stratified_folds(const IndexVector& y, Index folds, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Index> order(static_cast<std::size_t>(y.size()));
  std::iota(order.begin(), order.end(), Index(0));
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return y(a) < y(b); });
  std::vector<std::vector<Index>> out(static_cast<std::size_t>(folds));
  for (std::size_t k = 0; k < order.size(); ++k) out[k % static_cast<std::size_t>(folds)].push_back(order[k]);
  return out;
}

NeuralNetwork<double> mlp(Index in, Index hidden, Index classes, double dropout, std::uint64_t seed) {
  NeuralNetwork<double> net;
  net.add<Dense<double>>(in, hidden, DenseOptions{.initializer = Initializer::he_uniform, .seed = seed})
      .add<Activation<double>>(ActivationKind::relu);
  if (dropout > 0) net.add<Dropout<double>>(dropout, seed + 2);
  net.add<Dense<double>>(hidden, classes, DenseOptions{.seed = seed + 1});
  net.set_loss<CrossEntropyLoss<double>>().set_optimizer<Adam<double>>(AdamOptions<double>{.learning_rate = 1e-3});
  return net;
}

}  // namespace

TEST_CASE("MLP 64-256-10 with dropout 0.2 on standardised digits reaches >= 0.97 test accuracy") {
  const auto digits = read_csv<double>(test::data_path("digits.csv"));
  const IndexVector y = digits.labels();
  const auto folds = stratified_folds(y, 4, 20260101);  // 75 % train, 25 % test
  std::vector<Index> train;
  for (std::size_t k = 1; k < folds.size(); ++k) train.insert(train.end(), folds[k].begin(), folds[k].end());
  const Split s = take(digits.X, y, train, folds[0]);
  auto net = mlp(64, 256, 10, 0.2, 1);
  net.fit(s.X_train, s.y_train, {.epochs = 30, .batch_size = 32, .seed = 2});
  const double accuracy = net.evaluate(s.X_test, s.y_test).accuracy.value();
  MESSAGE("digits test accuracy " << accuracy << " on " << s.y_test.size() << " samples");
  CHECK(accuracy >= 0.97);
}

TEST_CASE("MLP 30-100-2 on standardised breast_cancer reaches >= 0.97 in 5-fold stratified CV") {
  const auto data = read_csv<double>(test::data_path("breast_cancer.csv"));
  const IndexVector y = data.labels();
  const auto folds = stratified_folds(y, 5, 0);
  double total = 0;
  for (std::size_t k = 0; k < folds.size(); ++k) {
    std::vector<Index> train;
    for (std::size_t j = 0; j < folds.size(); ++j)
      if (j != k) train.insert(train.end(), folds[j].begin(), folds[j].end());
    const Split s = take(data.X, y, train, folds[k]);
    auto net = mlp(30, 100, 2, 0.0, 10 + k);
    net.fit(s.X_train, s.y_train, {.epochs = 20, .batch_size = 32, .seed = k});
    const double accuracy = net.evaluate(s.X_test, s.y_test).accuracy.value();
    MESSAGE("fold " << k << ": " << accuracy);
    total += accuracy;
  }
  const double mean = total / static_cast<double>(folds.size());
  MESSAGE("breast_cancer 5-fold CV mean accuracy " << mean);
  CHECK(mean >= 0.97);
}
