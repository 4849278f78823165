#pragma once
/// \file
/// Minimisers of smooth convex objectives f: ℝⁿ → ℝ given as `T f(const Vector<T>& x, Vector<T>& gradient)`,
/// used by the linear models: gradient descent with a fixed step (the lesson) and L-BFGS (the workhorse).
/// Internal: users reach them through the estimators' `solver` option.

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <vector>

#include "aimastery/core/linalg/power_iteration.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery::detail {

template <Scalar T>
struct MinimisationResult {
  Vector<T> x;
  T value = T(0);
  Index iterations = 0;
  bool converged = false;
};

/// Stop when max_i |∂f/∂x_i| ≤ tolerance (the projected-gradient test of scipy's L-BFGS-B, `gtol`).
template <Scalar T>
bool gradient_small(const Vector<T>& gradient, T tolerance) {
  return gradient.size() == 0 || gradient.cwiseAbs().maxCoeff() <= tolerance;
}

/// An upper bound on the largest eigenvalue of a symmetric positive semi-definite G (the Lipschitz constant
/// of the gradient of ½xᵀGx): 1.05 × the power-iteration estimate, never above trace(G).
template <Scalar T>
T largest_eigenvalue_bound(const Matrix<T>& G) {
  const T trace = G.trace();
  if (trace <= T(0)) return T(0);
  const T estimate = power_iteration(G, 200, T(1e-4)).eigenvalue;
  return std::min(trace, T(1.05) * std::max(estimate, T(0)));
}

/// Gradient descent with a fixed step η:  x_{k+1} = x_k − η ∇f(x_k).  With η ≤ 1/L (L the Lipschitz
/// constant of ∇f) every step decreases f and f(x_k) − f* ≤ ‖x₀ − x*‖² / (2ηk).
template <Scalar T, class Objective>
MinimisationResult<T> gradient_descent(Objective&& f, Vector<T> x, T step, Index max_iter, T tolerance) {
  MinimisationResult<T> r;
  Vector<T> gradient(x.size());
  r.value = f(x, gradient);
  for (r.iterations = 0; r.iterations < max_iter; ++r.iterations) {
    if (gradient_small(gradient, tolerance)) {
      r.converged = true;
      break;
    }
    x -= step * gradient;
    r.value = f(x, gradient);
  }
  if (!r.converged) r.converged = gradient_small(gradient, tolerance);
  r.x = std::move(x);
  return r;
}

/// L-BFGS (Nocedal & Wright, Algorithm 7.4/7.5). With the last m pairs sₖ = x_{k+1} − x_k,
/// yₖ = ∇f_{k+1} − ∇f_k, the two-loop recursion applies the inverse-Hessian approximation
///   H_k = (I − ρ s yᵀ) H_{k−1} (I − ρ y sᵀ) + ρ s sᵀ,   ρ = 1 / (yᵀs),   H⁰ = (sᵀy / yᵀy) I
/// to the gradient: d = −H ∇f. The step length α satisfies the Armijo condition
/// f(x + αd) ≤ f(x) + 10⁻⁴ α ∇fᵀd (backtracking from α = 1, halving); a pair with yᵀs ≤ 0 is not stored, so
/// H stays positive definite.
template <Scalar T, class Objective>
MinimisationResult<T> lbfgs(Objective&& f, Vector<T> x, Index memory, Index max_iter, T tolerance) {
  MinimisationResult<T> r;
  const Index n = x.size();
  Vector<T> gradient(n), new_gradient(n), direction(n), trial(n);
  std::deque<Vector<T>> s_history, y_history;
  std::deque<T> rho_history;
  std::vector<T> alpha(static_cast<std::size_t>(std::max<Index>(memory, 1)));
  T value = f(x, gradient);
  for (r.iterations = 0; r.iterations < max_iter; ++r.iterations) {
    if (gradient_small(gradient, tolerance)) {
      r.converged = true;
      break;
    }
    // Two-loop recursion: direction = −H ∇f.
    direction = -gradient;
    const Index stored = static_cast<Index>(s_history.size());
    for (Index i = stored - 1; i >= 0; --i) {
      const auto u = static_cast<std::size_t>(i);
      alpha[u] = rho_history[u] * s_history[u].dot(direction);
      direction -= alpha[u] * y_history[u];
    }
    if (stored > 0) {
      const Vector<T>& s = s_history.back();
      const Vector<T>& y = y_history.back();
      direction *= s.dot(y) / y.squaredNorm();
    } else {
      direction /= std::max(T(1), gradient.norm());  // first step: at most unit length
    }
    for (Index i = 0; i < stored; ++i) {
      const auto u = static_cast<std::size_t>(i);
      const T beta = rho_history[u] * y_history[u].dot(direction);
      direction += (alpha[u] - beta) * s_history[u];
    }
    T slope = gradient.dot(direction);
    if (!(slope < T(0))) {  // not a descent direction (rounding): restart from steepest descent
      s_history.clear();
      y_history.clear();
      rho_history.clear();
      direction = -gradient / std::max(T(1), gradient.norm());
      slope = gradient.dot(direction);
    }
    // Backtracking line search (Armijo).
    T step = T(1);
    T new_value = value;
    bool accepted = false;
    for (int halving = 0; halving < 60; ++halving) {
      trial = x + step * direction;
      new_value = f(trial, new_gradient);
      if (std::isfinite(new_value) && new_value <= value + T(1e-4) * step * slope) {
        accepted = true;
        break;
      }
      step *= T(0.5);
    }
    if (!accepted) break;  // no decrease possible at this precision: report where we are
    Vector<T> s = trial - x;
    Vector<T> y = new_gradient - gradient;
    const T sy = s.dot(y);
    x.swap(trial);
    gradient.swap(new_gradient);
    const T decrease = value - new_value;
    value = new_value;
    if (sy > std::numeric_limits<T>::epsilon() * y.squaredNorm()) {
      if (static_cast<Index>(s_history.size()) == memory) {
        s_history.pop_front();
        y_history.pop_front();
        rho_history.pop_front();
      }
      s_history.push_back(std::move(s));
      y_history.push_back(std::move(y));
      rho_history.push_back(T(1) / sy);
    }
    // Relative decrease at rounding level (scipy's ftol = 64ε): nothing more to gain.
    if (decrease <=
        T(64) * std::numeric_limits<T>::epsilon() * std::max({std::abs(value), std::abs(value + decrease), T(1)})) {
      r.converged = true;
      ++r.iterations;
      r.x = std::move(x);
      r.value = value;
      return r;
    }
  }
  if (!r.converged) r.converged = gradient_small(gradient, tolerance);
  r.x = std::move(x);
  r.value = value;
  return r;
}

}  // namespace aimastery::detail
