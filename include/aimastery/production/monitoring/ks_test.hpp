#pragma once
/// \file
/// The two-sample Kolmogorov–Smirnov test, as scipy.stats.ks_2samp (two-sided).
///
///   D = sup_x |F_ref(x) − F_cur(x)|,  F_s(x) = #{s_i ≤ x} / n_s   (empirical CDFs, ties counted together)
///
/// p-value: exact, P[D_{n,m} ≥ d] by Hodges' lattice-path count (method 'exact'; 'auto' picks it when
/// max(n, m) ≤ 10000), or from the one-sample distribution with the effective size
/// n_e = round(nm/(n+m)): kstwo.sf(d, n_e) (method 'asymptotic'). O((n + m) log(n + m)).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <string_view>
#include <vector>

#include "aimastery/core/special/kolmogorov.hpp"
#include "aimastery/production/monitoring/sample.hpp"

namespace aimastery {

/// How the p-value is computed: as SciPy's method='auto' | 'exact' | 'asymp'.
enum class KsMethod { automatic, exact, asymptotic };

inline std::string_view to_string(KsMethod m) {
  switch (m) {
    case KsMethod::exact:
      return "exact";
    case KsMethod::asymptotic:
      return "asymptotic";
    default:
      return "auto";
  }
}

struct KsResult {
  double statistic = 0;  ///< D (in the exact method, rounded to h/lcm(n, m) as SciPy does)
  double p_value = 1;
  KsMethod method = KsMethod::exact;  ///< the method actually used
};

namespace detail {

/// Sorts in place. Doubles are mapped to order-preserving unsigned keys and sorted by an LSD radix
/// sort (11-bit digits); for short inputs std::sort.
template <class = void>
void sort_values(std::vector<double>& v) {
  if (v.size() < 4096) {
    std::sort(v.begin(), v.end());
    return;
  }
  const std::size_t n = v.size();
  std::vector<std::uint64_t> keys(n), buffer(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t bits;
    std::memcpy(&bits, &v[i], sizeof bits);
    // Negative numbers: flip all bits; positive: flip the sign bit. (−0.0 sorts just before +0.0.)
    keys[i] = (bits >> 63) ? ~bits : (bits | (std::uint64_t(1) << 63));
  }
  constexpr int digit_bits = 11, passes = 6;
  constexpr std::size_t buckets = std::size_t(1) << digit_bits;
  std::vector<std::size_t> counts(buckets * passes, 0);
  for (std::uint64_t k : keys)
    for (int p = 0; p < passes; ++p)
      ++counts[static_cast<std::size_t>(p) * buckets + ((k >> (p * digit_bits)) & (buckets - 1))];
  for (int p = 0; p < passes; ++p) {
    std::size_t* c = counts.data() + static_cast<std::size_t>(p) * buckets;
    if (c[(keys[0] >> (p * digit_bits)) & (buckets - 1)] == n) continue;  // every key has this digit
    std::size_t total = 0;
    for (std::size_t b = 0; b < buckets; ++b) {
      const std::size_t count = c[b];
      c[b] = total;
      total += count;
    }
    for (std::uint64_t k : keys) buffer[c[(k >> (p * digit_bits)) & (buckets - 1)]++] = k;
    keys.swap(buffer);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t k = keys[i];
    const std::uint64_t bits = (k >> 63) ? (k & ~(std::uint64_t(1) << 63)) : ~k;
    std::memcpy(&v[i], &bits, sizeof bits);
  }
}

/// max_x |F_a(x) − F_b(x)| over sorted samples, with F evaluated after all ties at x (searchsorted
/// 'right'), as SciPy: the larger of max(F_a − F_b) and max(F_b − F_a).
inline double ks_statistic_sorted(const std::vector<double>& a, const std::vector<double>& b) {
  const std::size_t n1 = a.size(), n2 = b.size();
  const double d1 = static_cast<double>(n1), d2 = static_cast<double>(n2);
  std::size_t i = 0, j = 0;
  double max_diff = -std::numeric_limits<double>::infinity(), min_diff = std::numeric_limits<double>::infinity();
  while (i < n1 || j < n2) {
    const double x = (j >= n2 || (i < n1 && a[i] <= b[j])) ? a[i] : b[j];
    while (i < n1 && a[i] <= x) ++i;
    while (j < n2 && b[j] <= x) ++j;
    const double diff = static_cast<double>(i) / d1 - static_cast<double>(j) / d2;
    max_diff = std::max(max_diff, diff);
    min_diff = std::min(min_diff, diff);
  }
  const double min_s = std::clamp(-min_diff, 0.0, 1.0);
  return min_s > max_diff ? min_s : max_diff;
}

/// p-value of D for sample sizes n1, n2 and the requested method, as ks_2samp (two-sided).
template <class = void>
KsResult ks_p_value(double d, std::int64_t n1, std::int64_t n2, KsMethod method) {
  constexpr std::int64_t max_auto_n = 10000;
  const std::int64_t g = std::gcd(n1, n2);
  const std::int64_t n1g = n1 / g, n2g = n2 / g;
  if (method == KsMethod::automatic) method = std::max(n1, n2) <= max_auto_n ? KsMethod::exact : KsMethod::asymptotic;
  if (method == KsMethod::exact && static_cast<double>(n1g) >= 2147483647.0 / static_cast<double>(n2g))
    method = KsMethod::asymptotic;  // lcm too large to count paths
  if (method == KsMethod::exact) {
    const std::int64_t lcm = n1g * n2;
    const auto h = static_cast<std::int64_t>(std::nearbyint(d * static_cast<double>(lcm)));
    const double d_exact = static_cast<double>(h) / static_cast<double>(lcm);
    const double p = ks_2samp_exact_sf(n1, n2, h);
    if (!std::isnan(p)) return {d_exact, p, KsMethod::exact};
    d = d_exact;  // SciPy keeps the rounded statistic when it falls back
  }
  const double m = static_cast<double>(std::max(n1, n2)), n = static_cast<double>(std::min(n1, n2));
  const double en = m * n / (m + n);
  const auto n_effective = static_cast<std::int64_t>(std::nearbyint(en));
  if (n_effective == 0) return {d, std::numeric_limits<double>::quiet_NaN(), KsMethod::asymptotic};  // 1 vs 1
  return {d, std::clamp(kstwo_sf(n_effective, d), 0.0, 1.0), KsMethod::asymptotic};
}

}  // namespace detail

/// Two-sample two-sided Kolmogorov–Smirnov test of `reference` against `current`, as
/// scipy.stats.ks_2samp(reference, current, method=...). Samples: Eigen vectors or numeric ranges,
/// non-empty, finite.
template <NumericSample Reference, NumericSample Current>
KsResult ks_test(const Reference& reference, const Current& current, KsMethod method = KsMethod::automatic) {
  std::vector<double> a = detail::sample_values(reference, "ks_test", "reference");
  std::vector<double> b = detail::sample_values(current, "ks_test", "current");
  detail::sort_values(a);
  detail::sort_values(b);
  const double d = detail::ks_statistic_sorted(a, b);
  return detail::ks_p_value(d, static_cast<std::int64_t>(a.size()), static_cast<std::int64_t>(b.size()), method);
}

}  // namespace aimastery
