#pragma once
/// \file
/// power_iteration: the dominant eigenvalue (largest |λ|) and its eigenvector of a square matrix.

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "aimastery/core/probability/mersenne_twister.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

template <Scalar T>
struct PowerIterationResult {
  T eigenvalue = T(0);
  Vector<T> eigenvector;  ///< unit length
  Index iterations = 0;   ///< matrix-vector products performed
  bool converged = false;
};

/// Repeatedly multiply by A and normalise:
///   v₀ = seeded random unit vector,   w = A vₖ,   λₖ = vₖᵀ w (Rayleigh quotient),   vₖ₊₁ = w / ‖w‖,
/// stopping when the residual ‖A vₖ − λₖ vₖ‖ ≤ tolerance · ‖A vₖ‖ (then vₖ is returned with λₖ).
/// The iterates converge at the rate |λ₂/λ₁|; for a symmetric A the Rayleigh quotient is accurate to
/// about tolerance². A dominant pair ±λ or a complex pair does not converge: `converged` says so.
/// A zero product A v = 0 (a zero or nilpotent matrix) means v is an eigenvector of 0: the result is
/// λ = 0 with that v, converged, never a division by zero.
template <class Derived>
PowerIterationResult<typename Derived::Scalar> power_iteration(
    const Eigen::MatrixBase<Derived>& A, Index num_iterations = 1000,
    typename Derived::Scalar tolerance = std::sqrt(std::numeric_limits<typename Derived::Scalar>::epsilon()),
    std::uint64_t seed = 0) {
  using T = typename Derived::Scalar;
  static_assert(Scalar<T>, "power_iteration: A must hold float or double");
  constexpr const char* where = "power_iteration";
  check_not_empty(where, "A", A);
  check_square(where, "A", A);
  check_finite(where, "A", A);
  require(num_iterations >= 1, where,
          [&] { return "num_iterations must be at least 1, got " + std::to_string(num_iterations); });
  require(tolerance >= T(0), where, [&] { return "tolerance must be non-negative, got " + std::to_string(tolerance); });

  // Start: entries uniform on [-1, 1) from the seeded engine (bits → double, the same on every platform).
  MersenneTwister64 engine(seed);
  Vector<T> v(A.rows());
  for (Index i = 0; i < v.size(); ++i) v(i) = static_cast<T>(static_cast<double>(engine() >> 11) * 0x1.0p-52 - 1.0);
  v /= v.norm();

  PowerIterationResult<T> result;
  Vector<T> w(A.rows());
  for (Index k = 1; k <= num_iterations; ++k) {
    w.noalias() = A * v;
    result.iterations = k;
    const T w_norm = w.norm();
    if (w_norm == T(0)) {
      result.eigenvalue = T(0);
      result.eigenvector = v;
      result.converged = true;
      return result;
    }
    const T lambda = v.dot(w);
    result.eigenvalue = lambda;
    result.eigenvector = v;
    if ((w - lambda * v).norm() <= tolerance * w_norm) {
      result.converged = true;
      return result;
    }
    v = w / w_norm;
  }
  // Out of iterations: report the latest iterate and its Rayleigh quotient.
  w.noalias() = A * v;
  result.eigenvalue = v.dot(w);
  result.eigenvector = v;
  return result;
}

}  // namespace aimastery
