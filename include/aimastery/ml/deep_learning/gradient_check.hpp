#pragma once
/// \file
/// Gradient checking by central differences: the analytic gradients of backward against
///   ∂f/∂θᵢ ≈ (f(θ + h eᵢ) − f(θ − h eᵢ)) / 2h     (error O(h²) + O(ε_machine·|f| / h))
/// for every entry of every trainable parameter and of the input. Use double: in float the rounding term
/// dominates and only a loose agreement can be expected.
///
/// The error of one variable (a parameter or the input) is norm-wise relative:
///   ‖g_analytic − g_numeric‖∞ / max(‖g_analytic‖∞, ‖g_numeric‖∞, floor·max(1, |f|))
/// The floor keeps a gradient that is exactly zero (a bias followed by batch normalisation) from being
/// judged against the rounding noise ε|f|/h of its numerical estimate: gradients below it are compared
/// in absolute terms.
/// and the result reports the largest over the variables, with the variable's name and the flat index
/// (row-major) of its worst entry.
///
/// Three forms:
///   gradient_check(objective, variables)   any scalar function of the values in `variables`, whose
///                                          `grad` already holds the analytic gradient
///   gradient_check(layer, X)               f(X, θ) = Σ G ⊙ layer.forward(X) with a fixed random G
///   gradient_check(loss, prediction, target)  f(prediction) = loss.forward(prediction, target)

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"
#include "aimastery/ml/deep_learning/losses.hpp"

namespace aimastery {

struct GradientCheckOptions {
  /// The step h of the central difference.
  double step = 1e-6;
  /// Denominator floor of the relative error, relative to max(1, |f|) (see above).
  double floor = 1e-3;
  /// Seed of the random upstream gradient G used by the layer form.
  std::uint64_t seed = 1;
  /// Called before every forward of the layer form (e.g. to reseed a Dropout so its mask stays fixed).
  std::function<void()> before_forward = {};
};

struct GradientCheckResult {
  double max_relative_error = 0.0;
  /// The variable with the largest error ("input" or a parameter's name) and the flat index of its
  /// worst entry.
  std::string worst_variable;
  Index worst_index = 0;
  /// The analytic and numeric derivative at that entry.
  double analytic = 0.0;
  double numeric = 0.0;

  [[nodiscard]] bool passed(double tolerance) const noexcept { return max_relative_error <= tolerance; }
};

/// Central differences of `objective()` with respect to every entry of every trainable variable in
/// `variables`, compared with the analytic gradients already held in their `grad`.
template <Scalar T, class Objective>
GradientCheckResult gradient_check(Objective&& objective, const ParameterList<T>& variables,
                                   const GradientCheckOptions& options = {}) {
  require(options.step > 0.0 && std::isfinite(options.step), "gradient_check", "step must be positive and finite");
  require(options.floor > 0.0, "gradient_check", "floor must be positive");
  GradientCheckResult result;
  const T h = static_cast<T>(options.step);
  const double floor = options.floor * std::max(1.0, std::abs(static_cast<double>(objective())));
  for (const auto& entry : variables) {
    if (!entry.trainable) continue;
    Parameter<T>& p = *entry.parameter;
    require(p.grad.rows() == p.value.rows() && p.grad.cols() == p.value.cols(), "gradient_check", [&] {
      return "the gradient of " + entry.name + " is " + shape_of(p.grad) + " but its value is " + shape_of(p.value);
    });
    Matrix<T> numeric(p.value.rows(), p.value.cols());
    for (Index i = 0; i < p.value.size(); ++i) {
      T& v = p.value.data()[i];
      const T saved = v;
      v = saved + h;
      const double plus = static_cast<double>(objective());
      v = saved - h;
      const double minus = static_cast<double>(objective());
      v = saved;
      numeric.data()[i] = static_cast<T>((plus - minus) / (2.0 * options.step));
    }
    // auto (Matrix<double>, as T is a template parameter): the comparison below is compiled where the check
    // is instantiated, not in every file that includes this header.
    const auto a = p.grad.template cast<double>().eval();
    const auto n = numeric.template cast<double>().eval();
    if (a.size() == 0) continue;
    Index worst = 0;
    const double max_diff = (a - n).cwiseAbs().reshaped().maxCoeff(&worst);
    const double scale = std::max({a.cwiseAbs().maxCoeff(), n.cwiseAbs().maxCoeff(), floor});
    const double error = std::isfinite(max_diff) ? max_diff / scale : std::numeric_limits<double>::infinity();
    if (result.worst_variable.empty() || error > result.max_relative_error) {
      // reshaped() walks column-major; convert to the row-major flat index of the data.
      const Index row = worst % a.rows();
      const Index col = worst / a.rows();
      result = {error, entry.name, row * a.cols() + col, a(row, col), n(row, col)};
    }
  }
  return result;
}

/// Checks a layer's backward (input gradient and the gradients of its trainable parameters) at X, in the
/// layer's current mode, with the scalar f = Σ G ⊙ layer.forward(X) for a fixed random G (entries in
/// [−1, 1)). The parameters' gradients are reset to zero first and left holding the analytic gradient.
template <Scalar T>
GradientCheckResult gradient_check(Layer<T>& layer, const std::type_identity_t<Matrix<T>>& X,
                                   const GradientCheckOptions& options = {}) {
  require(X.size() > 0, "gradient_check", [&] { return "input is empty (" + shape_of(X) + ")"; });
  const auto prepare = [&] {
    if (options.before_forward) options.before_forward();
  };
  ParameterList<T> variables = layer.parameters();
  for (auto& entry : variables)
    if (entry.trainable) entry.parameter->zero_grad();

  prepare();
  const Matrix<T> first = layer.forward(X);
  RandomEngine rng(options.seed);
  Matrix<T> upstream(first.rows(), first.cols());
  for (Index i = 0; i < upstream.size(); ++i)
    upstream.data()[i] = static_cast<T>(2.0 * detail::uniform_open01(rng) - 1.0);

  Parameter<T> input(X);
  input.grad = layer.backward(upstream);
  variables.insert(variables.begin(), NamedParameter<T>{"input", &input, true});

  const auto objective = [&] {
    prepare();
    return (upstream.array() * layer.forward(input.value).array()).sum();
  };
  return gradient_check<T>(objective, variables, options);
}

/// Checks a loss's backward (∂L/∂prediction) at `prediction` for a fixed target (a matrix or labels).
template <Scalar T, class Target>
GradientCheckResult gradient_check(Loss<T>& loss, const std::type_identity_t<Matrix<T>>& prediction,
                                   const Target& target, const GradientCheckOptions& options = {}) {
  Parameter<T> input(prediction);
  loss.forward(prediction, target);
  input.grad = loss.backward();
  const ParameterList<T> variables{{"prediction", &input, true}};
  const auto objective = [&] { return loss.forward(input.value, target); };
  return gradient_check<T>(objective, variables, options);
}

}  // namespace aimastery
