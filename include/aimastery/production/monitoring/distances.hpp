#pragma once
/// \file
/// Distances between two distributions, as SciPy:
///
/// wasserstein_distance(u, v) — the 1-D earth mover's distance, scipy.stats.wasserstein_distance:
///   W₁ = ∫ |F_u(x) − F_v(x)| dx = Σ_k |F_u(x_k) − F_v(x_k)| (x_{k+1} − x_k)
///   over the pooled sorted values x_k, F the (optionally weighted) empirical CDFs.
/// jensen_shannon(p, q, base) — the Jensen–Shannon distance, scipy.spatial.distance.jensenshannon:
///   p ← p/Σp, q ← q/Σq, m = (p + q)/2,
///   JS = √( (KL(p‖m) + KL(q‖m)) / 2 ),  KL(a‖m) = Σ a_i ln(a_i/m_i) (0·ln 0 = 0), divided by ln(base)
///   inside the root when a base is given (base 2 gives a distance in [0, 1]).

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "aimastery/production/monitoring/ks_test.hpp"
#include "aimastery/production/monitoring/sample.hpp"

namespace aimastery {

namespace detail {

/// Sorted values with their weights carried along; cumulative[k] = Σ of the first k weights.
struct WeightedSorted {
  std::vector<double> values;
  std::vector<double> cumulative;
};

template <class = void>
WeightedSorted weighted_sorted(std::vector<double> values, const std::vector<double>& weights, std::string_view name) {
  constexpr const char* where = "wasserstein_distance";
  WeightedSorted out;
  out.cumulative.assign(values.size() + 1, 0.0);
  if (weights.empty()) {
    sort_values(values);
    for (std::size_t k = 0; k < values.size(); ++k) out.cumulative[k + 1] = static_cast<double>(k + 1);
  } else {
    require(weights.size() == values.size(), where, [&] {
      return std::string(name) + " has " + std::to_string(values.size()) + " values but " +
             std::to_string(weights.size()) + " weights";
    });
    require(std::all_of(weights.begin(), weights.end(), [](double w) { return w >= 0; }), where,
            [&] { return std::string(name) + " weights must be non-negative"; });
    std::vector<std::size_t> order(values.size());
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
    std::vector<double> sorted(values.size());
    for (std::size_t k = 0; k < order.size(); ++k) {
      sorted[k] = values[order[k]];
      out.cumulative[k + 1] = out.cumulative[k] + weights[order[k]];
    }
    values.swap(sorted);
    require(out.cumulative.back() > 0, where, [&] { return std::string(name) + " weights sum to zero"; });
  }
  out.values = std::move(values);
  return out;
}

}  // namespace detail

/// First Wasserstein distance between the empirical distributions of u and v (optionally weighted;
/// pass empty weights for equal ones), as scipy.stats.wasserstein_distance(u, v, u_weights, v_weights).
template <NumericSample U, NumericSample V>
double wasserstein_distance(const U& u, const V& v, const std::vector<double>& u_weights = {},
                            const std::vector<double>& v_weights = {}) {
  constexpr const char* where = "wasserstein_distance";
  const auto a = detail::weighted_sorted(detail::sample_values(u, where, "u"), u_weights, "u");
  const auto b = detail::weighted_sorted(detail::sample_values(v, where, "v"), v_weights, "v");
  const double total_a = a.cumulative.back(), total_b = b.cumulative.back();
  const std::size_t n1 = a.values.size(), n2 = b.values.size();
  // Merge walk over the pooled sorted values; between consecutive pooled values x_k < x_{k+1} the
  // CDFs are constant at (weight of values ≤ x_k) / total.
  std::size_t i = 0, j = 0;
  double distance = 0;
  while (i < n1 || j < n2) {
    const double x = (j >= n2 || (i < n1 && a.values[i] <= b.values[j])) ? a.values[i] : b.values[j];
    while (i < n1 && a.values[i] <= x) ++i;
    while (j < n2 && b.values[j] <= x) ++j;
    if (i == n1 && j == n2) break;
    const double next = (j >= n2 || (i < n1 && a.values[i] <= b.values[j])) ? a.values[i] : b.values[j];
    distance += std::abs(a.cumulative[i] / total_a - b.cumulative[j] / total_b) * (next - x);
  }
  return distance;
}

/// Jensen–Shannon distance between two probability vectors (normalised here; non-negative, same
/// length, positive sums), natural log unless `base` is given, as scipy.spatial.distance.jensenshannon.
template <NumericSample P, NumericSample Q>
double jensen_shannon(const P& p, const Q& q, std::optional<double> base = std::nullopt) {
  constexpr const char* where = "jensen_shannon";
  std::vector<double> a = detail::sample_values(p, where, "p");
  std::vector<double> b = detail::sample_values(q, where, "q");
  require(a.size() == b.size(), where,
          [&] { return "p has " + std::to_string(a.size()) + " elements but q has " + std::to_string(b.size()); });
  require(std::all_of(a.begin(), a.end(), [](double x) { return x >= 0; }), where, "p has negative entries");
  require(std::all_of(b.begin(), b.end(), [](double x) { return x >= 0; }), where, "q has negative entries");
  if (base) require(*base > 0 && *base != 1 && std::isfinite(*base), where, "base must be positive, finite and not 1");
  const double sa = std::accumulate(a.begin(), a.end(), 0.0), sb = std::accumulate(b.begin(), b.end(), 0.0);
  require(sa > 0, where, "p sums to zero");
  require(sb > 0, where, "q sums to zero");
  double left = 0, right = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double pi = a[i] / sa, qi = b[i] / sb, mi = (pi + qi) / 2.0;
    if (pi > 0) left += pi * std::log(pi / mi);
    if (qi > 0) right += qi * std::log(qi / mi);
  }
  double js = left + right;
  if (base) js /= std::log(*base);
  return std::sqrt(std::max(js, 0.0) / 2.0);
}

}  // namespace aimastery
