#include "aimastery/ml/deep_learning/activation.hpp"

#include <limits>
#include <random>
#include <string>

#include "aimastery/ml/deep_learning/gradient_check.hpp"
#include "layers_support.hpp"

using aimastery::Activation;
using aimastery::ActivationKind;
using aimastery::InvalidArgument;
using aimastery::Matrix;
namespace test = aimastery::test;

namespace {
const char* const kinds[] = {"identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "gelu", "gelu_tanh"};
}

TEST_CASE_TEMPLATE("Activation equals PyTorch: forward and input gradient of every kind", T, float, double) {
  const auto reference = test::load_reference("dl_layers_activations.json");
  const T slope = test::json_number<T>(reference["leaky_relu_negative_slope"]);
  for (const char* kind : kinds) {
    CAPTURE(kind);
    const auto& c = reference["cases"][kind];
    Activation<T> layer(kind, slope);
    CHECK(aimastery::to_string(layer.kind()) == kind);
    const Matrix<T> Y = layer.forward(test::json_matrix<T>(c["x"]));
    test::check_parity<T>(Y, c["y"], "Y");
    // softmax with a non-trivial upstream gradient: its full Jacobian-vector product, standalone.
    const Matrix<T> dX = layer.backward(test::json_matrix<T>(c["g"]));
    test::check_parity<T>(dX, c["dx"], "dX");
    CHECK(layer.parameters().empty());
  }
}

TEST_CASE("Activation passes the gradient check in double for every kind") {
  std::mt19937_64 rng(test::test_seed());
  const Matrix<double> X = 3.0 * test::random_matrix<double>(6, 5, rng);
  for (const char* kind : kinds) {
    CAPTURE(kind);
    Activation<double> layer(kind, 0.1);
    const auto result = aimastery::gradient_check(layer, X);
    INFO(result.worst_variable << "[" << result.worst_index << "]: " << result.analytic << " vs " << result.numeric);
    CHECK(result.max_relative_error <= test::gradient_tolerance);
  }
}

TEST_CASE("Softmax backward: a row-constant upstream gradient has zero effect (rows of Y sum to one)") {
  std::mt19937_64 rng(test::test_seed());
  Activation<double> layer(ActivationKind::softmax);
  const Matrix<double> Y = layer.forward(test::random_matrix<double>(4, 6, rng));
  CHECK((Y.rowwise().sum().array() - 1.0).abs().maxCoeff() <= test::Tolerance<double>::tight);
  Matrix<double> G(4, 6);
  for (int r = 0; r < 4; ++r) G.row(r).setConstant(r + 0.5);
  CHECK(layer.backward(G).cwiseAbs().maxCoeff() <= test::Tolerance<double>::tight);
}

TEST_CASE_TEMPLATE("Activation names, feature counts and bad inputs", T, float, double) {
  CHECK(Activation<T>("linear").kind() == ActivationKind::identity);
  CHECK(Activation<T>(ActivationKind::relu).name() == "Activation(relu)");
  CHECK(Activation<T>("leaky_relu", T(0.25)).name().find("negative_slope=0.25") != std::string::npos);
  CHECK(Activation<T>("gelu").output_features(7) == 7);
  CHECK_THROWS_NAMING(Activation<T>("swish"), InvalidArgument, "Activation: unknown activation \"swish\"");
  CHECK_THROWS_NAMING(Activation<T>("leaky_relu", std::numeric_limits<T>::quiet_NaN()), InvalidArgument,
                      "negative_slope must be finite");
  Activation<T> layer("tanh");
  CHECK_THROWS_NAMING(layer.output_features(0), InvalidArgument, "Activation::output_features: Activation(tanh)");
  CHECK_THROWS_NAMING(layer.backward(Matrix<T>::Zero(2, 2)), InvalidArgument,
                      "Activation::backward: called before forward on Activation(tanh)");
  CHECK_THROWS_NAMING(layer.forward(Matrix<T>(0, 3)), InvalidArgument, "Activation::forward: input is empty (0x3)");
  layer.forward(Matrix<T>::Zero(2, 3));
  CHECK_THROWS_NAMING(layer.backward(Matrix<T>::Zero(3, 2)), InvalidArgument,
                      "Activation::backward: grad_output is 3x2 but Activation(tanh) produced 2x3");
}

TEST_CASE_TEMPLATE("Activation is stable for large inputs and propagates NaN", T, float, double) {
  Matrix<T> X(1, 4);
  X << T(-1000), T(-30), T(30), T(1000);
  for (const char* kind : kinds) {
    CAPTURE(kind);
    Activation<T> layer(kind);
    const Matrix<T> Y = layer.forward(X);
    CHECK(Y.allFinite());
    CHECK(layer.backward(Matrix<T>::Ones(1, 4)).allFinite());
    Matrix<T> with_nan = X;
    with_nan(0, 1) = std::numeric_limits<T>::quiet_NaN();
    CHECK(std::isnan(layer.forward(with_nan)(0, 1)));
  }
}
