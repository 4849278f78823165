#include "aimastery/ml/deep_learning/losses.hpp"

#include <limits>
#include <memory>
#include <random>
#include <string>

#include "aimastery/ml/deep_learning/gradient_check.hpp"
#include "layers_support.hpp"

using aimastery::BinaryCrossEntropyLoss;
using aimastery::CrossEntropyLoss;
using aimastery::IndexVector;
using aimastery::InvalidArgument;
using aimastery::Loss;
using aimastery::Matrix;
using aimastery::MSELoss;
using aimastery::Reduction;
namespace test = aimastery::test;

namespace {

template <class T>
std::unique_ptr<Loss<T>> make_loss(const nlohmann::json& c) {
  const Reduction reduction = c["reduction"] == "mean" ? Reduction::mean : Reduction::sum;
  const std::string name = c["loss_name"];
  if (name == "mse") return std::make_unique<MSELoss<T>>(reduction);
  if (name == "cross_entropy")
    return std::make_unique<CrossEntropyLoss<T>>(
        aimastery::CrossEntropyOptions{.reduction = reduction, .label_smoothing = c["label_smoothing"].get<double>()});
  return std::make_unique<BinaryCrossEntropyLoss<T>>(
      aimastery::BinaryCrossEntropyOptions{.from_logits = c["from_logits"].get<bool>(), .reduction = reduction});
}

IndexVector json_labels(const nlohmann::json& j) {
  IndexVector labels(static_cast<aimastery::Index>(j.size()));
  for (aimastery::Index i = 0; i < labels.size(); ++i)
    labels(i) = j[static_cast<std::size_t>(i)].get<aimastery::Index>();
  return labels;
}

std::string describe(const nlohmann::json& c) {
  std::string out = c["loss_name"].get<std::string>() + " reduction=" + c["reduction"].get<std::string>() +
                    " target=" + c["target_kind"].get<std::string>();
  if (c.contains("label_smoothing")) out += " label_smoothing=" + std::to_string(c["label_smoothing"].get<double>());
  if (c.contains("from_logits")) out += c["from_logits"].get<bool>() ? " from logits" : " from probabilities";
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("Every loss equals PyTorch: value and gradient, each reduction and target kind", T, float, double) {
  const auto reference = test::load_reference("dl_layers_losses.json");
  for (const auto& c : reference["cases"]) {
    INFO(describe(c));
    const auto loss = make_loss<T>(c);
    const Matrix<T> prediction = test::json_matrix<T>(c["prediction"]);
    const T value = c["target_kind"] == "labels" ? loss->forward(prediction, json_labels(c["target"]))
                                                 : loss->forward(prediction, test::json_matrix<T>(c["target"]));
    const double expected = test::json_number<double>(c["loss"]);
    CHECK(test::close(static_cast<double>(value), expected, test::parity_tolerance<T>()));
    test::check_parity<T>(loss->backward(), c["grad"], "dL/dprediction");
  }
}

TEST_CASE("Every loss passes the gradient check in double") {
  const auto reference = test::load_reference("dl_layers_losses.json");
  for (const auto& c : reference["cases"]) {
    INFO(describe(c));
    const auto loss = make_loss<double>(c);
    Matrix<double> prediction = test::json_matrix<double>(c["prediction"]);
    if (c["loss_name"] == "bce" && !c["from_logits"].get<bool>())
      prediction = prediction.array().min(0.99).max(0.01);  // the clamped log has no derivative at 0 and 1
    const auto result = c["target_kind"] == "labels"
                            ? aimastery::gradient_check(*loss, prediction, json_labels(c["target"]))
                            : aimastery::gradient_check(*loss, prediction, test::json_matrix<double>(c["target"]));
    INFO(result.worst_variable << "[" << result.worst_index << "]: " << result.analytic << " vs " << result.numeric);
    CHECK(result.max_relative_error <= test::gradient_tolerance);
  }
}

TEST_CASE_TEMPLATE("Cross-entropy from logits is exact where log(softmax) would underflow", T, float, double) {
  Matrix<T> logits(2, 3);
  logits << T(1000), T(0), T(-1000), T(-1000), T(0), T(1000);
  IndexVector labels(2);
  labels << 2, 0;
  CrossEntropyLoss<T> loss;
  // −log p = 2000 for both rows: the fused log-softmax keeps it finite.
  CHECK(loss.forward(logits, labels) == doctest::Approx(2000.0));
  CHECK(loss.backward().allFinite());
  const Matrix<T> p = loss.probabilities(logits);
  CHECK((p.rowwise().sum().array() - T(1)).abs().maxCoeff() < T(1e-6));

  BinaryCrossEntropyLoss<T> bce;
  Matrix<T> z(1, 2);
  z << T(-1000), T(1000);
  Matrix<T> y(1, 2);
  y << T(1), T(0);
  CHECK(bce.forward(z, y) == doctest::Approx(1000.0));
  CHECK(bce.backward().allFinite());
  CHECK(bce.probabilities(z)(0, 1) == T(1));
}

TEST_CASE("The loss interface: what each loss takes, probabilities, reduction sum = n x mean") {
  std::mt19937_64 rng(test::test_seed());
  const Matrix<double> Z = test::random_matrix<double>(6, 3, rng);
  const Matrix<double> Y = test::random_matrix<double>(6, 3, rng);
  MSELoss<double> mean_loss;
  MSELoss<double> sum_loss(Reduction::sum);
  CHECK(sum_loss.forward(Z, Y) == doctest::Approx(18.0 * mean_loss.forward(Z, Y)));
  CHECK(test::max_relative_error(sum_loss.backward(), 18.0 * mean_loss.backward()) < 1e-12);
  CHECK_FALSE(mean_loss.takes_labels());
  CHECK(mean_loss.probabilities(Z) == Z);
  CHECK(CrossEntropyLoss<double>().takes_labels());
  CHECK(BinaryCrossEntropyLoss<double>().takes_labels());
  CHECK(test::max_relative_error(BinaryCrossEntropyLoss<double>().probabilities(Z), aimastery::sigmoid(Z)) < 1e-15);
  CHECK(BinaryCrossEntropyLoss<double>({.from_logits = false}).probabilities(Y) == Y);
}

TEST_CASE_TEMPLATE("Losses reject bad targets: shapes, labels out of range, NaN, bad options", T, float, double) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const Matrix<T> P = Matrix<T>::Constant(3, 2, T(0.5));
  IndexVector labels(3);
  labels << 0, 1, 2;

  MSELoss<T> mse;
  CHECK_THROWS_NAMING(mse.backward(), InvalidArgument, "MSELoss::backward: called before forward");
  CHECK_THROWS_NAMING(mse.forward(P, Matrix<T>::Zero(2, 3)), InvalidArgument,
                      "MSELoss::forward: prediction is 3x2 but target is 2x3");
  CHECK_THROWS_NAMING(mse.forward(Matrix<T>(0, 2), Matrix<T>(0, 2)), InvalidArgument, "prediction is empty (0x2)");
  Matrix<T> bad = P;
  bad(1, 1) = nan;
  CHECK_THROWS_NAMING(mse.forward(P, bad), InvalidArgument, "MSELoss::forward: target contains NaN or infinity");
  CHECK_THROWS_NAMING(mse.forward(P, labels), InvalidArgument, "MSELoss::forward: takes a target matrix");

  CrossEntropyLoss<T> ce;
  CHECK_THROWS_NAMING(ce.backward(), InvalidArgument, "CrossEntropyLoss::backward: called before forward");
  CHECK_THROWS_NAMING(ce.forward(P, labels), InvalidArgument,
                      "CrossEntropyLoss::forward: label 2 at row 2 is out of range for 2 classes (codes 0..1)");
  labels(2) = -1;
  CHECK_THROWS_NAMING(ce.forward(P, labels), InvalidArgument, "label -1 at row 2 is out of range");
  CHECK_THROWS_NAMING(ce.forward(P, IndexVector::Zero(4)), InvalidArgument,
                      "prediction has 3 rows (3x2) but labels has 4 entries");
  CHECK_THROWS_NAMING(ce.forward(P, bad), InvalidArgument, "CrossEntropyLoss::forward: target contains NaN");
  CHECK_THROWS_NAMING(ce.forward(P, Matrix<T>::Zero(3, 3)), InvalidArgument, "prediction is 3x2 but target is 3x3");
  CHECK_THROWS_NAMING(CrossEntropyLoss<T>({.label_smoothing = 1.5}), InvalidArgument,
                      "CrossEntropyLoss: label_smoothing must be in [0, 1]");
  CHECK_THROWS_NAMING(CrossEntropyLoss<T>({.label_smoothing = std::numeric_limits<double>::quiet_NaN()}),
                      InvalidArgument, "label_smoothing must be in [0, 1]");

  BinaryCrossEntropyLoss<T> bce;
  CHECK_THROWS_NAMING(bce.backward(), InvalidArgument, "BinaryCrossEntropyLoss::backward: called before forward");
  CHECK_THROWS_NAMING(bce.forward(P, Matrix<T>::Constant(3, 2, T(1.5))), InvalidArgument,
                      "BinaryCrossEntropyLoss::forward: target must lie in [0, 1]");
  CHECK_THROWS_NAMING(bce.forward(P, bad), InvalidArgument, "target contains NaN or infinity");
  CHECK_THROWS_NAMING(bce.forward(P, IndexVector::Zero(3)), InvalidArgument,
                      "class labels need a single-column prediction (n x 1), got 3x2");
  IndexVector binary(3);
  binary << 0, 2, 1;
  CHECK_THROWS_NAMING(bce.forward(Matrix<T>::Zero(3, 1), binary), InvalidArgument,
                      "label 2 at row 1 is out of range for 2 classes");
  BinaryCrossEntropyLoss<T> from_probabilities({.from_logits = false});
  CHECK_THROWS_NAMING(from_probabilities.forward(Matrix<T>::Constant(3, 2, T(1.2)), P), InvalidArgument,
                      "probabilities must lie in [0, 1]");
  CHECK_THROWS_NAMING(from_probabilities.forward(bad, P), InvalidArgument, "probabilities must lie in [0, 1]");
}
