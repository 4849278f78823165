#pragma once
/// \file
/// Validation of discrete probability vectors, shared by Categorical and the information measures.

#include <cmath>
#include <string>
#include <string_view>

#include "aimastery/core/tensor.hpp"

namespace aimastery::detail {

/// The tolerance on Σ pᵢ = 1: a few hundred ulps of accumulated rounding per precision.
template <class T>
constexpr T probability_sum_tolerance() {
  return sizeof(T) >= sizeof(double) ? T(1e-9) : T(1e-4);
}

/// p is a probability vector: not empty, every entry finite and ≥ 0, and Σ pᵢ = 1 within tolerance.
template <class Derived>
void check_probability_vector(std::string_view where, std::string_view name, const Eigen::MatrixBase<Derived>& p) {
  using T = typename Derived::Scalar;
  check_not_empty(where, name, p);
  for (Index i = 0; i < p.size(); ++i) {
    const T v = p.derived().coeff(i);
    require(std::isfinite(v) && v >= T(0), where, [&] {
      return std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(v) +
             " is not a probability (must be finite and >= 0)";
    });
  }
  const T sum = p.sum();
  require(std::abs(sum - T(1)) <= probability_sum_tolerance<T>(), where,
          [&] { return std::string(name) + " sums to " + std::to_string(sum) + ", not 1"; });
}

}  // namespace aimastery::detail
