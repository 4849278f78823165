#include "aimastery/ml/deep_learning/gradient_check.hpp"

#include <iterator>
#include <random>
#include <string>

#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/batch_normalization.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/dropout.hpp"
#include "layers_support.hpp"

using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::Parameter;
using aimastery::ParameterList;
namespace test = aimastery::test;

namespace {

/// A Dense layer whose weight gradient is deliberately wrong (scaled by 1.01): the check must catch it.
class WrongWeightGradient : public aimastery::Dense<double> {
 public:
  using Dense::Dense;
  Matrix<double> backward(const Matrix<double>& grad_output) override {
    const Matrix<double> before = weight().grad;
    Matrix<double> dX = Dense::backward(grad_output);
    weight().grad = before + 1.01 * (weight().grad - before);
    return dX;
  }
};

}  // namespace

TEST_CASE("gradient_check finds a wrong gradient and names the parameter") {
  std::mt19937_64 rng(test::test_seed());
  const Matrix<double> X = test::random_matrix<double>(5, 4, rng);
  WrongWeightGradient layer(4, 3, {.seed = 1});
  const auto result = aimastery::gradient_check(layer, X);
  CHECK(result.worst_variable == "weight");
  CHECK(result.max_relative_error > 1e-3);
  CHECK_FALSE(result.passed(1e-6));
  CHECK(result.analytic == doctest::Approx(1.01 * result.numeric).epsilon(1e-6));
}

TEST_CASE("gradient_check of any scalar function of a parameter list") {
  // f(a, b) = Σ a² b (elementwise), ∂f/∂a = 2ab, ∂f/∂b = a².
  std::mt19937_64 rng(test::test_seed());
  Parameter<double> a(test::random_matrix<double>(3, 2, rng));
  Parameter<double> b(test::random_matrix<double>(3, 2, rng));
  a.grad = 2.0 * a.value.cwiseProduct(b.value);
  b.grad = a.value.cwiseAbs2();
  const ParameterList<double> variables{{"a", &a, true}, {"b", &b, true}};
  const auto f = [&] { return (a.value.array().square() * b.value.array()).sum(); };
  CHECK(aimastery::gradient_check<double>(f, variables).max_relative_error <= test::gradient_tolerance);
  // A wrong entry is located by name and row-major index.
  b.grad(2, 1) += 0.5;
  const auto result = aimastery::gradient_check<double>(f, variables);
  CHECK(result.worst_variable == "b");
  CHECK(result.worst_index == 5);
  // Non-trainable entries are skipped.
  const ParameterList<double> frozen{{"a", &a, true}, {"b", &b, false}};
  CHECK(aimastery::gradient_check<double>(f, frozen).max_relative_error <= test::gradient_tolerance);
}

TEST_CASE("gradient_check rejects bad options and inputs") {
  Parameter<double> a(Matrix<double>::Ones(2, 2));
  const ParameterList<double> variables{{"a", &a, true}};
  const auto f = [&] { return a.value.sum(); };
  CHECK_THROWS_NAMING(aimastery::gradient_check<double>(f, variables, {.step = 0.0}), InvalidArgument,
                      "gradient_check: step must be positive");
  CHECK_THROWS_NAMING(aimastery::gradient_check<double>(f, variables, {.floor = -1.0}), InvalidArgument,
                      "gradient_check: floor must be positive");
  a.grad.resize(1, 2);
  CHECK_THROWS_NAMING(aimastery::gradient_check<double>(f, variables), InvalidArgument,
                      "the gradient of a is 1x2 but its value is 2x2");
  aimastery::Dense<double> layer(2, 2);
  CHECK_THROWS_NAMING(aimastery::gradient_check(layer, Matrix<double>(0, 2)), InvalidArgument,
                      "gradient_check: input is empty (0x2)");
}

TEST_CASE("A stack Dense -> BatchNormalization -> gelu -> Dropout -> Dense -> softmax cross-entropy passes") {
  std::mt19937_64 rng(test::test_seed());
  aimastery::Dense<double> first(5, 6, {.initializer = aimastery::Initializer::he_normal, .seed = 3});
  aimastery::BatchNormalization<double> norm(6);
  aimastery::Activation<double> gelu(aimastery::ActivationKind::gelu);
  aimastery::Dropout<double> dropout(0.3, 4);
  aimastery::Dense<double> last(6, 3, {.seed = 5});
  aimastery::CrossEntropyLoss<double> loss({.label_smoothing = 0.05});
  aimastery::Layer<double>* stack[] = {&first, &norm, &gelu, &dropout, &last};
  Parameter<double> input(test::random_matrix<double>(8, 5, rng));
  aimastery::IndexVector labels(8);
  labels << 0, 1, 2, 0, 1, 2, 2, 1;

  const auto objective = [&] {
    dropout.reseed(11);
    Matrix<double> a = input.value;
    for (auto* layer : stack) a = layer->forward(a);
    return loss.forward(a, labels);
  };
  ParameterList<double> variables{{"input", &input, true}};
  for (auto* layer : stack)
    for (auto entry : layer->parameters()) {
      entry.name = layer->name() + "." + entry.name;
      entry.parameter->zero_grad();
      variables.push_back(entry);
    }
  objective();
  Matrix<double> grad = loss.backward();
  for (auto it = std::rbegin(stack); it != std::rend(stack); ++it) grad = (*it)->backward(grad);
  input.grad = grad;
  const auto result = aimastery::gradient_check<double>(objective, variables);
  INFO(result.worst_variable << "[" << result.worst_index << "]: " << result.analytic << " vs " << result.numeric);
  CHECK(result.max_relative_error <= test::gradient_tolerance);
}
