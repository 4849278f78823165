#pragma once
/// \file
/// The Population Stability Index of a current sample against a reference sample:
///
///   PSI = Σ_b (c_b − r_b) · ln(c_b / r_b)
///
/// where r_b, c_b are the shares of the reference and current samples in bin b. Rule of thumb:
/// < 0.1 stable, 0.1–0.25 moderate shift, ≥ 0.25 significant shift.
///
/// Two choices are explicit options:
///  - binning: `quantile` (default) puts the bin edges at the reference's quantiles 1/B, ..., (B−1)/B
///    (NumPy's linear interpolation), so every bin holds about 1/B of the reference (deciles for
///    B = 10); repeated edges (many tied values) are merged, so there may be fewer than B bins.
///    `uniform` uses B equal-width bins over the reference's [min, max]. The outer bins extend to
///    ±∞ either way, so current values outside the reference range are counted. A value equal to an
///    edge belongs to the bin below it: bin b = (e_b, e_{b+1}].
///  - floor: an empty bin would make ln(c/r) infinite; shares below `floor` (default 1e-4) are
///    raised to `floor` before the sum (the shares are not renormalised). floor must be in (0, 1).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "aimastery/production/monitoring/quantile.hpp"
#include "aimastery/production/monitoring/sample.hpp"

namespace aimastery {

enum class PsiBinning { quantile, uniform };

struct PsiOptions {
  int bins = 10;
  double floor = 1e-4;
  PsiBinning binning = PsiBinning::quantile;
};

struct PsiBin {
  double lower;            ///< exclusive (−∞ for the first bin)
  double upper;            ///< inclusive (+∞ for the last bin)
  double reference_share;  ///< after the floor
  double current_share;    ///< after the floor
  double contribution;     ///< (current − reference) · ln(current / reference)
};

struct PsiResult {
  double value = 0;
  std::vector<PsiBin> bins;
};

namespace detail {

/// One bin of the PSI sum from raw counts: shares raised to the floor, then (c − r)·ln(c/r).
inline PsiBin psi_bin(double lower, double upper, double reference_count, double reference_total, double current_count,
                      double current_total, double floor) {
  PsiBin bin{lower, upper, std::max(reference_count / reference_total, floor),
             std::max(current_count / current_total, floor), 0.0};
  bin.contribution = (bin.current_share - bin.reference_share) * std::log(bin.current_share / bin.reference_share);
  return bin;
}

/// Puts the k-th smallest value of v[lo, hi) at position k for every k in `positions` (increasing), as a
/// sort would, without sorting: select the middle position (nth_element), then recurse on either side.
/// O(n log m) for m positions, against O(n log n) for a sort.
template <class = void>
void select_positions(std::vector<double>& v, std::size_t lo, std::size_t hi, std::span<const std::size_t> positions) {
  if (positions.empty()) return;
  const std::size_t middle = positions.size() / 2, k = positions[middle];
  std::nth_element(v.begin() + static_cast<std::ptrdiff_t>(lo), v.begin() + static_cast<std::ptrdiff_t>(k),
                   v.begin() + static_cast<std::ptrdiff_t>(hi));
  select_positions(v, lo, k, positions.first(middle));
  select_positions(v, k + 1, hi, positions.subspan(middle + 1));
}

/// The interior bin edges (increasing, repeated edges merged). Quantile binning: the reference's
/// quantiles b/B by NumPy's linear rule, which reads only the order statistics ⌊h⌋ and ⌊h⌋ + 1 of each
/// h = (n − 1)·b/B, so only those are selected (reordering `reference`). Uniform binning: the points
/// min + (max − min)·b/B, or, when max − min overflows (a range beyond the largest double), the
/// overflow-free lerp(min, max, b/B) = (1 − t)·min + t·max.
template <class = void>
std::vector<double> psi_edges(std::vector<double>& reference, int bins, PsiBinning binning) {
  std::vector<double> edges;
  const double step = 1.0 / bins;
  if (binning == PsiBinning::uniform) {
    const auto [lo, hi] = std::minmax_element(reference.begin(), reference.end());
    for (int b = 1; b < bins; ++b) {
      const double q = static_cast<double>(b) * step, range = *hi - *lo;
      const double e = std::isfinite(range) ? *lo + range * q : std::lerp(*lo, *hi, q);
      if (edges.empty() || e > edges.back()) edges.push_back(e);
    }
    return edges;
  }
  const std::size_t n = reference.size();
  std::vector<std::size_t> positions;
  for (int b = 1; b < bins; ++b) {
    const auto i = static_cast<std::size_t>(std::floor(static_cast<double>(n - 1) * (static_cast<double>(b) * step)));
    positions.push_back(i);
    positions.push_back(std::min(i + 1, n - 1));
  }
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  select_positions(reference, 0, n, positions);
  for (int b = 1; b < bins; ++b) {
    const double e = quantile_sorted(reference, static_cast<double>(b) * step);
    if (edges.empty() || e > edges.back()) edges.push_back(e);
  }
  return edges;
}

/// counts[b] = #{x ∈ (e_{b−1}, e_b]} with e_{−1} = −∞ and e_E = +∞, as differences of
/// above_k = #{x > e_k}:  counts[0] = n − above_0,  counts[b] = above_{b−1} − above_b,  counts[E] = above_{E−1}.
/// Each above_k is a count of comparisons over a block of x small enough to stay in L1 cache, a loop the
/// compiler vectorises (no branch, no search per value).
template <class = void>
std::vector<double> psi_counts(const std::vector<double>& x, const std::vector<double>& edges) {
  std::vector<std::size_t> above(edges.size(), 0);
  constexpr std::size_t block = 2048;
  for (std::size_t start = 0; start < x.size(); start += block) {
    const double* values = x.data() + start;
    const std::size_t length = std::min(block, x.size() - start);
    for (std::size_t k = 0; k < edges.size(); ++k) {
      const double e = edges[k];
      std::size_t count = 0;
      for (std::size_t i = 0; i < length; ++i) count += values[i] > e ? 1 : 0;
      above[k] += count;
    }
  }
  std::vector<double> counts(edges.size() + 1);
  std::size_t previous = x.size();
  for (std::size_t k = 0; k < edges.size(); ++k) {
    counts[k] = static_cast<double>(previous - above[k]);
    previous = above[k];
  }
  counts[edges.size()] = static_cast<double>(previous);
  return counts;
}

}  // namespace detail

/// PSI of `current` against `reference` (numeric samples) with per-bin detail. O(n log B) for quantile
/// binning, O(n·B) comparisons for the counts (vectorised).
template <NumericSample Reference, NumericSample Current>
PsiResult psi(const Reference& reference, const Current& current, PsiOptions options = {}) {
  constexpr const char* where = "psi";
  require(options.bins >= 2, where, [&] { return "bins = " + std::to_string(options.bins) + " must be at least 2"; });
  require(options.floor > 0 && options.floor < 1, where,
          [&] { return "floor = " + std::to_string(options.floor) + " must be in (0, 1)"; });
  std::vector<double> ref = detail::sample_values(reference, where, "reference");
  const std::vector<double> cur = detail::sample_values(current, where, "current");
  const std::vector<double> edges = detail::psi_edges(ref, options.bins, options.binning);
  const std::vector<double> rc = detail::psi_counts(ref, edges), cc = detail::psi_counts(cur, edges);
  PsiResult result;
  const double inf = std::numeric_limits<double>::infinity();
  for (std::size_t b = 0; b < rc.size(); ++b) {
    const PsiBin bin =
        detail::psi_bin(b == 0 ? -inf : edges[b - 1], b == edges.size() ? inf : edges[b], rc[b],
                        static_cast<double>(ref.size()), cc[b], static_cast<double>(cur.size()), options.floor);
    result.value += bin.contribution;
    result.bins.push_back(bin);
  }
  return result;
}

}  // namespace aimastery
