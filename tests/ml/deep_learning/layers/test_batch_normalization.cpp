#include "aimastery/ml/deep_learning/batch_normalization.hpp"

#include <random>

#include "aimastery/ml/deep_learning/gradient_check.hpp"
#include "layers_support.hpp"

using aimastery::BatchNormalization;
using aimastery::InvalidArgument;
using aimastery::Matrix;
namespace test = aimastery::test;

TEST_CASE_TEMPLATE("BatchNormalization equals torch.nn.BatchNorm1d: two training steps and evaluation", T, float,
                   double) {
  const auto reference = test::load_reference("dl_layers_batch_normalization.json");
  BatchNormalization<T> layer(4, {.eps = test::json_number<double>(reference["eps"]),
                                  .momentum = test::json_number<double>(reference["momentum"])});
  layer.weight().value = test::json_matrix<T>(reference["weight"]);
  layer.bias().value = test::json_matrix<T>(reference["bias"]);
  int step = 0;
  for (const auto& c : reference["train"]) {
    CAPTURE(++step);
    const Matrix<T> Y = layer.forward(test::json_matrix<T>(c["x"]));
    test::check_parity<T>(Y, c["y"], "Y");
    test::check_parity<T>(layer.backward(test::json_matrix<T>(c["g"])), c["dx"], "dX");
    // No zero_grad between the steps: the gradients accumulate in both libraries.
    test::check_parity<T>(layer.weight().grad, c["dweight"], "dgamma");
    test::check_parity<T>(layer.bias().grad, c["dbias"], "dbeta");
    test::check_parity<T>(layer.running_mean(), c["running_mean"], "running_mean");
    test::check_parity<T>(layer.running_var(), c["running_var"], "running_var (unbiased)");
  }
  const auto& c = reference["eval"];
  layer.eval();
  layer.weight().zero_grad();
  layer.bias().zero_grad();
  const Matrix<T> running_mean = layer.running_mean();
  test::check_parity<T>(layer.forward(test::json_matrix<T>(c["x"])), c["y"], "eval Y");
  test::check_parity<T>(layer.backward(test::json_matrix<T>(c["g"])), c["dx"], "eval dX");
  test::check_parity<T>(layer.weight().grad, c["dweight"], "eval dgamma");
  test::check_parity<T>(layer.bias().grad, c["dbias"], "eval dbeta");
  CHECK(layer.running_mean() == running_mean);  // evaluation leaves the statistics alone
}

TEST_CASE("BatchNormalization lists gamma, beta and the running statistics (not trainable)") {
  BatchNormalization<double> layer(3);
  const auto params = layer.parameters();
  REQUIRE(params.size() == 4);
  CHECK(params[0].name == "weight");
  CHECK(params[0].trainable);
  CHECK(params[0].parameter->value == Matrix<double>::Ones(1, 3));
  CHECK(params[1].name == "bias");
  CHECK(params[1].trainable);
  CHECK(params[2].name == "running_mean");
  CHECK_FALSE(params[2].trainable);
  CHECK(params[3].name == "running_var");
  CHECK_FALSE(params[3].trainable);
  CHECK(params[3].parameter->value == Matrix<double>::Ones(1, 3));
  CHECK(layer.output_features(3) == 3);
  CHECK(layer.name() == "BatchNormalization(3)");
}

TEST_CASE("BatchNormalization in training: each output column has mean beta and (biased) std gamma") {
  std::mt19937_64 rng(test::test_seed());
  BatchNormalization<double> layer(5);
  layer.weight().value.setConstant(2.0);
  layer.bias().value.setConstant(-1.0);
  const Matrix<double> X = (5.0 * test::random_matrix<double>(50, 5, rng)).array() + 3.0;
  const Matrix<double> Y = layer.forward(X);
  const Matrix<double> mean = Y.colwise().mean();
  CHECK((mean.array() + 1.0).abs().maxCoeff() < 1e-12);
  const Matrix<double> variance = (Y.rowwise() - mean.row(0)).colwise().squaredNorm() / 50.0;
  CHECK((variance.array() - 4.0).abs().maxCoeff() < 1e-3);  // eps = 1e-5 shrinks it slightly
}

TEST_CASE("BatchNormalization passes the gradient check in double, in training and in evaluation") {
  std::mt19937_64 rng(test::test_seed());
  const Matrix<double> X = test::random_matrix<double>(7, 4, rng);
  BatchNormalization<double> layer(4);
  layer.weight().value = test::random_matrix<double>(1, 4, rng).array() + 1.5;
  layer.bias().value = test::random_matrix<double>(1, 4, rng);
  auto result = aimastery::gradient_check(layer, X);
  INFO(result.worst_variable << "[" << result.worst_index << "]: " << result.analytic << " vs " << result.numeric);
  CHECK(result.max_relative_error <= test::gradient_tolerance);
  layer.eval();
  result = aimastery::gradient_check(layer, X);
  CHECK(result.max_relative_error <= test::gradient_tolerance);
}

TEST_CASE_TEMPLATE("BatchNormalization rejects bad options and shapes", T, float, double) {
  CHECK_THROWS_NAMING(BatchNormalization<T>(0), InvalidArgument, "BatchNormalization: features must be positive");
  CHECK_THROWS_NAMING(BatchNormalization<T>(3, {.eps = 0.0}), InvalidArgument, "eps must be positive");
  CHECK_THROWS_NAMING(BatchNormalization<T>(3, {.momentum = 1.5}), InvalidArgument, "momentum must be in [0, 1]");
  BatchNormalization<T> layer(3);
  CHECK_THROWS_NAMING(layer.backward(Matrix<T>::Zero(2, 3)), InvalidArgument,
                      "BatchNormalization::backward: called before forward on BatchNormalization(3)");
  CHECK_THROWS_NAMING(layer.forward(Matrix<T>::Zero(4, 2)), InvalidArgument,
                      "BatchNormalization::forward: input is 4x2 but BatchNormalization(3) takes 3 features");
  CHECK_THROWS_NAMING(layer.forward(Matrix<T>::Zero(1, 3)), InvalidArgument,
                      "training needs more than one sample per feature, got input 1x3");
  CHECK_THROWS_NAMING(layer.output_features(4), InvalidArgument,
                      "BatchNormalization::output_features: BatchNormalization(3) takes 3 features, got 4");
  layer.forward(Matrix<T>::Random(4, 3));
  CHECK_THROWS_NAMING(layer.backward(Matrix<T>::Zero(3, 3)), InvalidArgument,
                      "BatchNormalization::backward: grad_output is 3x3 but BatchNormalization(3) produced 4x3");
  layer.eval();
  CHECK(layer.forward(Matrix<T>::Ones(1, 3)).allFinite());  // one sample is fine in evaluation
}
