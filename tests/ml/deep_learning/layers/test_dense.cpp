#include "aimastery/ml/deep_learning/dense.hpp"

#include <cmath>
#include <random>

#include "aimastery/ml/deep_learning/gradient_check.hpp"
#include "layers_support.hpp"

using aimastery::Dense;
using aimastery::Index;
using aimastery::Initializer;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::RandomEngine;
namespace test = aimastery::test;

TEST_CASE_TEMPLATE("Dense equals torch.nn.Linear: output and every gradient, with and without bias", T, float, double) {
  const auto reference = test::load_reference("dl_layers_dense.json");
  for (const char* variant : {"bias", "no_bias"}) {
    CAPTURE(variant);
    const auto& c = reference[variant];
    const bool bias = std::string(variant) == "bias";
    Dense<T> layer(4, 3, {.bias = bias});
    layer.weight().value = test::json_matrix<T>(c["weight"]);
    if (bias) layer.bias().value = test::json_matrix<T>(c["bias"]);
    const Matrix<T> X = test::json_matrix<T>(c["x"]);
    const Matrix<T> Y = layer.forward(X);
    test::check_parity<T>(Y, c["y"], "Y");
    const Matrix<T> dX = layer.backward(test::json_matrix<T>(c["g"]));
    test::check_parity<T>(dX, c["dx"], "dX");
    test::check_parity<T>(layer.weight().grad, c["dweight"], "dW");
    if (bias) test::check_parity<T>(layer.bias().grad, c["dbias"], "db");
    CHECK(layer.parameters().size() == (bias ? 2u : 1u));
  }
}

TEST_CASE("Dense parameters: names, shapes (weight out x in, bias 1 x out), accumulation of gradients") {
  Dense<double> layer(4, 3, {.seed = 5});
  auto params = layer.parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].name == "weight");
  CHECK(params[0].trainable);
  CHECK(params[0].parameter->value.rows() == 3);
  CHECK(params[0].parameter->value.cols() == 4);
  CHECK(params[1].name == "bias");
  CHECK(params[1].parameter->value.rows() == 1);
  CHECK(params[1].parameter->value.cols() == 3);
  CHECK(params[1].parameter->value.isZero());
  CHECK(layer.name() == "Dense(4 -> 3)");
  CHECK(Dense<double>(4, 3, {.bias = false}).name() == "Dense(4 -> 3, no bias)");
  CHECK(layer.output_features(4) == 3);

  std::mt19937_64 rng(test::test_seed());
  const Matrix<double> X = test::random_matrix<double>(6, 4, rng);
  const Matrix<double> G = test::random_matrix<double>(6, 3, rng);
  layer.forward(X);
  layer.backward(G);
  const Matrix<double> once = layer.weight().grad;
  const Matrix<double> bias_once = layer.bias().grad;
  layer.forward(X);
  layer.backward(G);
  // backward accumulates (+=), as PyTorch does.
  CHECK(test::max_relative_error(layer.weight().grad, 2.0 * once) <= test::Tolerance<double>::tight);
  CHECK(test::max_relative_error(layer.bias().grad, 2.0 * bias_once) <= test::Tolerance<double>::tight);
  // dW = dYᵀ X and db = 1ᵀ dY (closed forms of the first backward).
  CHECK(test::max_relative_error(once, G.transpose() * X) <= test::Tolerance<double>::tight);
  CHECK(test::max_relative_error(bias_once, G.colwise().sum()) <= test::Tolerance<double>::tight);
}

TEST_CASE("Dense initialisers: seeded, bounded, with the Glorot and He variances") {
  const Index in = 300;
  const Index out = 200;
  struct Case {
    Initializer init;
    double variance;
    bool uniform;
  };
  for (const Case& c : {Case{Initializer::glorot_uniform, 2.0 / (in + out), true},
                        Case{Initializer::glorot_normal, 2.0 / (in + out), false},
                        Case{Initializer::he_uniform, 2.0 / in, true}, Case{Initializer::he_normal, 2.0 / in, false}}) {
    CAPTURE(static_cast<int>(c.init));
    Dense<double> a(in, out, {.initializer = c.init, .seed = 11});
    Dense<double> b(in, out, {.initializer = c.init, .seed = 11});
    Dense<double> other(in, out, {.initializer = c.init, .seed = 12});
    const Matrix<double>& W = a.weight().value;
    CHECK(W == b.weight().value);
    CHECK(W != other.weight().value);
    const double mean = W.mean();
    const double variance = (W.array() - mean).square().mean();
    // 60000 draws: the sample variance is within a few percent of the population's.
    CHECK(std::abs(variance / c.variance - 1.0) < 0.03);
    CHECK(std::abs(mean) < 4.0 * std::sqrt(c.variance / static_cast<double>(W.size())));
    if (c.uniform) CHECK(W.cwiseAbs().maxCoeff() <= std::sqrt(3.0 * c.variance));
  }
  // The Xavier and Kaiming names are the same initialisers.
  CHECK(Dense<double>(5, 4, {.initializer = Initializer::xavier_normal, .seed = 3}).weight().value ==
        Dense<double>(5, 4, {.initializer = Initializer::glorot_normal, .seed = 3}).weight().value);
  CHECK(Dense<double>(5, 4, {.initializer = Initializer::kaiming_uniform, .seed = 3}).weight().value ==
        Dense<double>(5, 4, {.initializer = Initializer::he_uniform, .seed = 3}).weight().value);
}

TEST_CASE("Dense passes the gradient check in double, with and without bias") {
  std::mt19937_64 rng(test::test_seed());
  const Matrix<double> X = test::random_matrix<double>(7, 5, rng);
  for (bool bias : {true, false}) {
    Dense<double> layer(5, 4, {.bias = bias, .initializer = Initializer::he_normal, .seed = 2});
    const auto result = aimastery::gradient_check(layer, X);
    INFO(result.worst_variable << "[" << result.worst_index << "]: " << result.analytic << " vs " << result.numeric);
    CHECK(result.max_relative_error <= test::gradient_tolerance);
  }
}

TEST_CASE_TEMPLATE("Dense rejects bad inputs, naming the layer and both shapes", T, float, double) {
  CHECK_THROWS_NAMING(Dense<T>(0, 3), InvalidArgument, "Dense: in_features and out_features must be positive");
  CHECK_THROWS_NAMING(Dense<T>(3, -1), InvalidArgument, "got 3 and -1");
  Dense<T> layer(4, 3);
  CHECK_THROWS_NAMING(layer.backward(Matrix<T>::Zero(2, 3)), InvalidArgument,
                      "Dense::backward: called before forward on Dense(4 -> 3)");
  CHECK_THROWS_NAMING(layer.forward(Matrix<T>::Zero(5, 6)), InvalidArgument,
                      "Dense::forward: input is 5x6 but Dense(4 -> 3) takes 4 features (weight is 3x4)");
  CHECK_THROWS_NAMING(layer.forward(Matrix<T>::Zero(0, 4)), InvalidArgument, "Dense::forward: input is empty (0x4)");
  layer.forward(Matrix<T>::Zero(2, 4));
  CHECK_THROWS_NAMING(layer.backward(Matrix<T>::Zero(2, 4)), InvalidArgument,
                      "Dense::backward: grad_output is 2x4 but Dense(4 -> 3) produced 2x3");
  CHECK_THROWS_NAMING(layer.output_features(5), InvalidArgument,
                      "Dense::output_features: Dense(4 -> 3) takes 4 features, got 5");
  Dense<T> no_bias(4, 3, {.bias = false});
  CHECK_THROWS_NAMING(no_bias.bias(), InvalidArgument, "Dense::bias: Dense(4 -> 3, no bias) has no bias");
}

TEST_CASE(
    "Dense initial weights are pinned: every draw from the library's engine, the same with every standard library") {
  // Values of detail::uniform_open01 / detail::standard_normal on RandomEngine(42) (std::mt19937_64,
  // whose output the C++ standard fixes), printed with 17 digits. std::uniform_real_distribution and
  // std::normal_distribution, which libstdc++ and libc++ implement differently, gave other values.
  RandomEngine engine;
  engine.discard(9999);
  REQUIRE(engine() == 9981545732273789042ULL);  // the standard's check value of mt19937_64
  const Dense<double> uniform(3, 2, {.initializer = Initializer::glorot_uniform, .seed = 42});
  const Dense<double> normal(3, 2, {.initializer = Initializer::he_normal, .seed = 42});
  const double expected_uniform[] = {0.55901776428581518,  0.30460252246241171, 0.55242245686545088,
                                     -0.79688662382132891, 0.88351803861846567, -0.88935176981459463};
  const double expected_normal[] = {-0.39291260657011129, 0.40382602759810166, 0.30582227988775695,
                                    -0.59968084145346146, -1.0139331965750744, -2.392973832767527};
  for (int i = 0; i < 6; ++i) {
    CAPTURE(i);
    CHECK(uniform.weight().value.data()[i] == doctest::Approx(expected_uniform[i]).epsilon(1e-15));
    CHECK(normal.weight().value.data()[i] == doctest::Approx(expected_normal[i]).epsilon(1e-14));
  }
  // float draws the same doubles and rounds them.
  const Dense<float> uniform_float(3, 2, {.initializer = Initializer::glorot_uniform, .seed = 42});
  CHECK(uniform_float.weight().value(0, 0) == static_cast<float>(expected_uniform[0]));
}
