#pragma once
/// \file
/// Information theory on discrete distributions (natural log by default; `base` 2 gives bits).
///
///   entropy(p)          H(p)    = −Σ pᵢ log pᵢ
///   cross_entropy(p, q) H(p, q) = −Σ pᵢ log qᵢ
///   kl_divergence(p, q) D(p‖q)  =  Σ pᵢ log(pᵢ/qᵢ)  =  H(p, q) − H(p)
///
/// Conventions, as scipy.special's entr and rel_entr: 0·log 0 = 0 and 0·log(0/q) = 0; a qᵢ = 0 where
/// pᵢ > 0 gives +∞. So cross_entropy(p, p) == entropy(p) and kl_divergence(p, p) == 0. p and q must
/// be probability vectors of equal length (finite, ≥ 0, Σ = 1), and base finite, > 0 and ≠ 1.

#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <string_view>

#include "aimastery/core/probability/probability_vector.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {
namespace detail {

template <class T>
T log_base_divisor(std::string_view where, T base) {
  require(std::isfinite(base) && base > T(0) && base != T(1), where,
          [&] { return "base must be finite, > 0 and != 1, got " + std::to_string(base); });
  return std::log(base);
}

template <class DP, class DQ>
void check_distribution_pair(std::string_view where, const Eigen::MatrixBase<DP>& p, const Eigen::MatrixBase<DQ>& q) {
  check_probability_vector(where, "p", p);
  check_probability_vector(where, "q", q);
  check_same_size(where, "p", p, "q", q);
}

/// Σ over the support of p (pᵢ > 0) of term(pᵢ, qᵢ), divided by log(base): the shared form of
/// H(p, q) and D(p‖q). A qᵢ = 0 inside the support of p makes the sum +∞.
template <class DP, class DQ, class Term>
typename DP::Scalar sum_over_support(std::string_view where, const Eigen::MatrixBase<DP>& p,
                                     const Eigen::MatrixBase<DQ>& q, typename DP::Scalar base, Term term) {
  using T = typename DP::Scalar;
  const T divisor = log_base_divisor(where, base);
  check_distribution_pair(where, p, q);
  T sum = 0;
  for (Index i = 0; i < p.size(); ++i) {
    const T pi = p.derived().coeff(i), qi = q.derived().coeff(i);
    if (pi == T(0)) continue;
    if (qi == T(0)) return std::numeric_limits<T>::infinity();
    sum += term(pi, qi);
  }
  return sum / divisor;
}

}  // namespace detail

/// H(p) = −Σ pᵢ log pᵢ, in units of log `base`.
template <class Derived>
typename Derived::Scalar entropy(const Eigen::MatrixBase<Derived>& p,
                                 typename Derived::Scalar base = std::numbers::e_v<typename Derived::Scalar>) {
  using T = typename Derived::Scalar;
  const T divisor = detail::log_base_divisor("entropy", base);
  detail::check_probability_vector("entropy", "p", p);
  T h = 0;
  for (Index i = 0; i < p.size(); ++i) {
    const T pi = p.derived().coeff(i);
    if (pi > T(0)) h -= pi * std::log(pi);
  }
  return h / divisor;
}

/// H(p, q) = −Σ pᵢ log qᵢ, in units of log `base`; +∞ when some qᵢ = 0 < pᵢ.
template <class DP, class DQ>
typename DP::Scalar cross_entropy(const Eigen::MatrixBase<DP>& p, const Eigen::MatrixBase<DQ>& q,
                                  typename DP::Scalar base = std::numbers::e_v<typename DP::Scalar>) {
  using T = typename DP::Scalar;
  return detail::sum_over_support("cross_entropy", p, q, base, [](T pi, T qi) { return -pi * std::log(qi); });
}

/// D(p‖q) = Σ pᵢ log(pᵢ/qᵢ) ≥ 0 (Gibbs), zero iff p = q, not symmetric; +∞ when some qᵢ = 0 < pᵢ.
template <class DP, class DQ>
typename DP::Scalar kl_divergence(const Eigen::MatrixBase<DP>& p, const Eigen::MatrixBase<DQ>& q,
                                  typename DP::Scalar base = std::numbers::e_v<typename DP::Scalar>) {
  using T = typename DP::Scalar;
  return detail::sum_over_support("kl_divergence", p, q, base, [](T pi, T qi) { return pi * std::log(pi / qi); });
}

}  // namespace aimastery
