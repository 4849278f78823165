#pragma once
/// \file
/// Corrections for testing many hypotheses at once (m p-values):
///   Bonferroni: reject when m·p < α (controls the family-wise error rate).
///   Benjamini–Hochberg: with p_(1) ≤ … ≤ p_(m), the step-up adjusted p_(i) = min_{j ≥ i} m·p_(j)/j
///   (capped at 1); rejecting adjusted p < α controls the false discovery rate at α.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

enum class MultipleTestingCorrection { none, bonferroni, benjamini_hochberg };

inline std::string to_string(MultipleTestingCorrection c) {
  switch (c) {
    case MultipleTestingCorrection::bonferroni:
      return "bonferroni";
    case MultipleTestingCorrection::benjamini_hochberg:
      return "benjamini_hochberg";
    default:
      return "none";
  }
}

/// Benjamini–Hochberg step-up adjusted p-values (as statsmodels' fdr_bh), in the order of `p`. A NaN
/// p-value (a test that has none, e.g. KS on one value against one) stays NaN and is not counted in m.
/// InvalidArgument for a p-value outside [0, 1].
template <class = void>
std::vector<double> benjamini_hochberg(const std::vector<double>& p) {
  std::vector<std::size_t> order;
  order.reserve(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (std::isnan(p[i])) continue;
    if (!(p[i] >= 0.0 && p[i] <= 1.0))
      fail("benjamini_hochberg",
           "p-value " + std::to_string(i) + " is " + std::to_string(p[i]) + ", not a probability in [0, 1]");
    order.push_back(i);
  }
  const std::size_t m = order.size();
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  std::vector<double> adjusted(p.size(), std::numeric_limits<double>::quiet_NaN());
  double running = 1.0;
  for (std::size_t k = m; k-- > 0;) {
    const double value = p[order[k]] * static_cast<double>(m) / static_cast<double>(k + 1);
    running = std::min(running, value);
    adjusted[order[k]] = std::min(running, 1.0);
  }
  return adjusted;
}

}  // namespace aimastery
