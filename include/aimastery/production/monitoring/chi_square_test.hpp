#pragma once
/// \file
/// Pearson's chi-square tests, as SciPy:
///
/// Contingency table O (r×c), scipy.stats.chi2_contingency:
///   E_ij = (row_i total)(column_j total) / N,   dof = (r − 1)(c − 1),
///   χ² = Σ (O_ij − E_ij)² / E_ij,   p = P[χ²_dof > χ²] = Q(dof/2, χ²/2).
///   Yates' continuity correction when dof = 1: O_ij moves towards E_ij by min(½, |E_ij − O_ij|).
///   dof = 0 (one row or one column) gives χ² = 0, p = 1.
/// Goodness of fit, scipy.stats.chisquare(observed, expected): χ² = Σ (O_i − E_i)²/E_i, dof = k − 1,
///   where Σ O and Σ E must agree to 1e-8 relative.
/// Two samples of categories (integer codes or strings): the 2×K table of their counts over the
///   categories seen in either, then the contingency test.

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <map>
#include <ranges>
#include <string>
#include <type_traits>
#include <vector>

#include "aimastery/core/special/gamma.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/production/monitoring/sample.hpp"

namespace aimastery {

struct ChiSquareResult {
  double statistic = 0;
  double p_value = 1;
  Index dof = 0;
  Matrix<double> expected;  ///< expected counts (r×c for a table; 1×k for goodness of fit)
};

struct ChiSquareOptions {
  bool correction = true;  ///< Yates' continuity correction when dof = 1
};

/// A sample of categories: a range of integers or strings, or an Eigen vector of integers.
template <class S>
concept CategoricalSample = (std::derived_from<S, Eigen::DenseBase<S>> && std::is_integral_v<typename S::Scalar>) ||
                            (std::ranges::sized_range<S> && !std::derived_from<S, Eigen::DenseBase<S>> &&
                             (std::is_integral_v<std::ranges::range_value_t<S>> ||
                              std::convertible_to<std::ranges::range_value_t<S>, std::string>));

namespace detail {

/// Σ (O − E)²/E over matching entries, each term as (O − E)·((O − E)/E) so that (O − E)² cannot overflow
/// for counts near the largest double. A sum that still overflows is reported, never passed on as NaN.
template <class = void>
double pearson_statistic(const Matrix<double>& observed, const Matrix<double>& expected, const char* where) {
  double chi2 = 0;
  for (Index i = 0; i < observed.size(); ++i) {
    const double diff = observed.data()[i] - expected.data()[i];
    chi2 += diff * (diff / expected.data()[i]);
  }
  require(std::isfinite(chi2), where, "the counts are too large: the chi-square statistic overflows double");
  return chi2;
}

/// "(r, c)". Appended piece by piece: g++ 12 at -O3 reports `"(" + std::to_string(r)` as an overlapping
/// copy (-Wrestrict, GCC bug 105329).
inline std::string cell_name(Index r, Index c) {
  std::string name = "(";
  name += std::to_string(r);
  name += ", ";
  name += std::to_string(c);
  name += ')';
  return name;
}

/// The categories' key: integers keep their numeric order, strings their lexicographic order.
template <CategoricalSample S>
auto category_keys(const S& sample) {
  if constexpr (std::derived_from<S, Eigen::DenseBase<S>>) {
    std::vector<long long> keys(static_cast<std::size_t>(sample.size()));
    for (Index i = 0; i < sample.size(); ++i) keys[static_cast<std::size_t>(i)] = static_cast<long long>(sample(i));
    return keys;
  } else if constexpr (std::is_integral_v<std::ranges::range_value_t<S>>) {
    std::vector<long long> keys;
    keys.reserve(std::ranges::size(sample));
    for (const auto& v : sample) keys.push_back(static_cast<long long>(v));
    return keys;
  } else {
    std::vector<std::string> keys;
    keys.reserve(std::ranges::size(sample));
    for (const auto& v : sample) keys.emplace_back(v);
    return keys;
  }
}

}  // namespace detail

/// Chi-square test of independence on a table of counts (r×c, r, c ≥ 1), as
/// scipy.stats.chi2_contingency(observed, correction). Counts must be finite and non-negative, and no
/// row or column may sum to zero (its expected counts would be zero).
template <class Derived>
ChiSquareResult chi_square_test(const Eigen::MatrixBase<Derived>& observed, ChiSquareOptions options = {}) {
  constexpr const char* where = "chi_square_test";
  check_not_empty(where, "observed", observed);
  // Matrix<double>, named through Derived: the Eigen arithmetic below depends on the template parameter and
  // is compiled where the test is instantiated, not in every file that includes this header.
  using Counts = Matrix<std::conditional_t<std::is_void_v<Derived>, void, double>>;
  Counts O = observed.template cast<double>();
  check_finite(where, "observed", O);
  require((O.array() >= 0).all(), where, "observed has negative counts");
  const auto rows = O.rowwise().sum().eval();
  const auto cols = O.colwise().sum().eval();
  const double total = O.sum();
  require(std::isfinite(total), where, "observed sums to more than the largest double (the counts are too large)");
  ChiSquareResult result;
  // E_ij = row_i · (col_j / N): col_j / N ≤ 1, so no product overflows.
  result.expected = rows * (cols / total);
  for (Index r = 0; r < O.rows(); ++r)
    for (Index c = 0; c < O.cols(); ++c)
      require(result.expected(r, c) > 0, where, [&] {
        return "the expected count at " + detail::cell_name(r, c) + " is zero (row " + std::to_string(r) +
               " or column " + std::to_string(c) + " of observed sums to zero)";
      });
  result.dof = (O.rows() - 1) * (O.cols() - 1);
  if (result.dof == 0) return result;  // observed == expected: χ² = 0, p = 1
  if (result.dof == 1 && options.correction) {
    for (Index i = 0; i < O.size(); ++i) {
      const double diff = result.expected.data()[i] - O.data()[i];
      const double direction = diff > 0 ? 1.0 : (diff < 0 ? -1.0 : 0.0);
      O.data()[i] += std::min(0.5, std::abs(diff)) * direction;
    }
  }
  result.statistic = detail::pearson_statistic(O, result.expected, where);
  result.p_value = chi2_sf(result.statistic, static_cast<double>(result.dof));
  return result;
}

/// Goodness of fit of observed counts to expected counts (same length k ≥ 1, expected > 0, equal
/// totals to 1e-8 relative), as scipy.stats.chisquare(observed, expected): dof = k − 1.
template <NumericSample Observed, NumericSample Expected>
ChiSquareResult chi_square_goodness_of_fit(const Observed& observed, const Expected& expected) {
  constexpr const char* where = "chi_square_goodness_of_fit";
  const std::vector<double> o = detail::sample_values(observed, where, "observed");
  const std::vector<double> e = detail::sample_values(expected, where, "expected");
  require(o.size() == e.size(), where, [&] {
    return "observed has " + std::to_string(o.size()) + " categories but expected has " + std::to_string(e.size());
  });
  require(std::all_of(o.begin(), o.end(), [](double v) { return v >= 0; }), where, "observed has negative counts");
  require(std::all_of(e.begin(), e.end(), [](double v) { return v > 0; }), where,
          "expected has a zero or negative count");
  double so = 0, se = 0;
  for (std::size_t i = 0; i < o.size(); ++i) so += o[i], se += e[i];
  require(std::isfinite(so) && std::isfinite(se), where,
          "the counts sum to more than the largest double (the counts are too large)");
  require(std::abs(so - se) / std::min(so, se) <= 1e-8, where, [&] {
    return "observed sums to " + std::to_string(so) + " but expected sums to " + std::to_string(se) +
           " (they must agree to 1e-8 relative)";
  });
  ChiSquareResult result;
  result.expected = Eigen::Map<const Matrix<double>>(e.data(), 1, static_cast<Index>(e.size()));
  const Matrix<double> O = Eigen::Map<const Matrix<double>>(o.data(), 1, static_cast<Index>(o.size()));
  result.statistic = detail::pearson_statistic(O, result.expected, where);
  result.dof = static_cast<Index>(o.size()) - 1;
  result.p_value = result.dof > 0 ? chi2_sf(result.statistic, static_cast<double>(result.dof)) : 1.0;
  return result;
}

/// The 2×K table of counts of two samples over the K categories seen in either (sorted: integers
/// numerically, strings lexicographically); row 0 is the reference.
template <CategoricalSample Reference, CategoricalSample Current>
Matrix<double> category_table(const Reference& reference, const Current& current) {
  auto ref = detail::category_keys(reference);
  auto cur = detail::category_keys(current);
  static_assert(std::is_same_v<decltype(ref), decltype(cur)>,
                "category_table: both samples must hold integers, or both strings");
  require(!ref.empty(), "chi_square_test", "reference is empty");
  require(!cur.empty(), "chi_square_test", "current is empty");
  std::map<typename decltype(ref)::value_type, Index> column;
  for (const auto& k : ref) column.emplace(k, 0);
  for (const auto& k : cur) column.emplace(k, 0);
  Index next = 0;
  for (auto& [key, index] : column) index = next++;
  Matrix<double> table = Matrix<double>::Zero(2, next);
  for (const auto& k : ref) table(0, column[k]) += 1;
  for (const auto& k : cur) table(1, column[k]) += 1;
  return table;
}

/// Chi-square test of reference against current samples of categories (integer codes or strings):
/// chi_square_test on their 2×K table (category_table). One category in all gives χ² = 0, p = 1.
template <CategoricalSample Reference, CategoricalSample Current>
ChiSquareResult chi_square_test(const Reference& reference, const Current& current, ChiSquareOptions options = {}) {
  return chi_square_test(category_table(reference, current), options);
}

}  // namespace aimastery
