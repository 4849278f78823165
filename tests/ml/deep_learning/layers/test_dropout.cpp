#include "aimastery/ml/deep_learning/dropout.hpp"

#include <cmath>
#include <limits>
#include <random>

#include "aimastery/ml/deep_learning/gradient_check.hpp"
#include "layers_support.hpp"

using aimastery::Dropout;
using aimastery::InvalidArgument;
using aimastery::Matrix;
namespace test = aimastery::test;

TEST_CASE_TEMPLATE("Dropout in evaluation mode is the identity, as PyTorch's", T, float, double) {
  const auto reference = test::load_reference("dl_layers_dropout.json");
  const auto& c = reference["eval"];
  Dropout<T> layer(test::json_number<double>(reference["rate"]), 3);
  layer.eval();
  const Matrix<T> X = test::json_matrix<T>(c["x"]);
  const Matrix<T> Y = layer.forward(X);
  test::check_parity<T>(Y, c["y"], "Y");
  CHECK(Y == X);
  test::check_parity<T>(layer.backward(test::json_matrix<T>(c["g"])), c["dx"], "dX");
}

TEST_CASE_TEMPLATE("Dropout in training: kept units scaled as PyTorch scales them, about 1 - rate kept", T, float,
                   double) {
  const auto reference = test::load_reference("dl_layers_dropout.json");
  const double rate = test::json_number<double>(reference["rate"]);
  const double torch_scale = test::json_number<double>(reference["train_scale"]);
  std::mt19937_64 rng(test::test_seed());
  const Matrix<T> X = test::random_matrix<T>(200, 50, rng).array() + T(2);  // no zero inputs
  Dropout<T> layer(rate, 17);
  const Matrix<T> Y = layer.forward(X);
  const auto kept = (Y.array() != T(0));
  const double kept_fraction = kept.template cast<double>().mean();
  // Binomial(10000, 0.7): the kept fraction is within 5 standard deviations of 1 − rate.
  CHECK(std::abs(kept_fraction - (1.0 - rate)) < 5.0 * std::sqrt(rate * (1.0 - rate) / 10000.0));
  CHECK(std::abs(test::json_number<double>(reference["train_kept_fraction"]) - (1.0 - rate)) < 0.05);
  double worst = 0.0;
  for (aimastery::Index i = 0; i < Y.size(); ++i)
    if (Y.data()[i] != T(0))
      worst = std::max(worst, std::abs(static_cast<double>(Y.data()[i] / X.data()[i]) / torch_scale - 1.0));
  CHECK(worst <= test::parity_tolerance<T>());
  // The mask of the forward is reused in backward.
  const Matrix<T> G = test::random_matrix<T>(200, 50, rng);
  const Matrix<T> dX = layer.backward(G);
  CHECK(dX == Matrix<T>(G.array() * layer.mask().array()));
  CHECK(((dX.array() != T(0)) == kept).all());
}

TEST_CASE("Dropout is seeded; rate 0 is the identity in training too") {
  std::mt19937_64 rng(test::test_seed());
  const Matrix<double> X = test::random_matrix<double>(20, 10, rng);
  Dropout<double> a(0.5, 4);
  Dropout<double> b(0.5, 4);
  Dropout<double> c(0.5, 5);
  const Matrix<double> ya = a.forward(X);
  CHECK(ya == b.forward(X));
  CHECK(ya != c.forward(X));
  CHECK(ya != a.forward(X));  // a new mask every forward
  a.reseed(4);
  CHECK(ya == a.forward(X));
  Dropout<double> none(0.0, 1);
  CHECK(none.forward(X) == X);
  CHECK(none.backward(X) == X);
}

TEST_CASE("Dropout passes the gradient check in double (mask fixed by reseeding)") {
  std::mt19937_64 rng(test::test_seed());
  const Matrix<double> X = test::random_matrix<double>(8, 6, rng);
  Dropout<double> layer(0.4, 1);
  aimastery::GradientCheckOptions options;
  options.before_forward = [&] { layer.reseed(99); };
  const auto result = aimastery::gradient_check(layer, X, options);
  CHECK(result.max_relative_error <= test::gradient_tolerance);
  layer.eval();
  CHECK(aimastery::gradient_check(layer, X).max_relative_error <= test::gradient_tolerance);
}

TEST_CASE_TEMPLATE("Dropout rejects a rate outside [0, 1) and bad shapes", T, float, double) {
  CHECK_THROWS_NAMING(Dropout<T>(1.0), InvalidArgument, "Dropout: rate must be in [0, 1), got 1");
  CHECK_THROWS_NAMING(Dropout<T>(-0.1), InvalidArgument, "Dropout: rate must be in [0, 1)");
  CHECK_THROWS_NAMING(Dropout<T>(std::numeric_limits<double>::quiet_NaN()), InvalidArgument,
                      "Dropout: rate must be in [0, 1)");
  Dropout<T> layer(0.2);
  CHECK(layer.output_features(9) == 9);
  CHECK_THROWS_NAMING(layer.output_features(0), InvalidArgument, "Dropout::output_features");
  CHECK_THROWS_NAMING(layer.backward(Matrix<T>::Zero(2, 2)), InvalidArgument,
                      "Dropout::backward: called before forward on Dropout(rate=0.2)");
  CHECK_THROWS_NAMING(layer.forward(Matrix<T>(0, 2)), InvalidArgument, "Dropout::forward: input is empty (0x2)");
  layer.forward(Matrix<T>::Ones(2, 3));
  CHECK_THROWS_NAMING(layer.backward(Matrix<T>::Zero(2, 2)), InvalidArgument,
                      "Dropout::backward: grad_output is 2x2 but Dropout(rate=0.2)");
}

TEST_CASE("Dropout masks are pinned: drawn from the library's engine, the same with every standard library") {
  // u = detail::uniform_open01(RandomEngine(7)), kept when u >= 0.5, scaled by 1/(1 − 0.5) = 2.
  Dropout<double> dropout(0.5, 7);
  const Matrix<double> Y = dropout.forward(Matrix<double>::Ones(2, 6));
  const double expected[] = {2, 2, 0, 2, 0, 0, 2, 2, 0, 2, 2, 2};
  for (int i = 0; i < 12; ++i) {
    CAPTURE(i);
    CHECK(Y.data()[i] == expected[i]);
  }
}
