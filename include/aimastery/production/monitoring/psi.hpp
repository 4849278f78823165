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
#include <limits>
#include <string>
#include <vector>

#include "aimastery/production/monitoring/ks_test.hpp"
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

}  // namespace detail

/// PSI of `current` against `reference` (numeric samples) with per-bin detail.
template <NumericSample Reference, NumericSample Current>
PsiResult psi(const Reference& reference, const Current& current, PsiOptions options = {}) {
  constexpr const char* where = "psi";
  require(options.bins >= 2, where, "bins = " + std::to_string(options.bins) + " must be at least 2");
  require(options.floor > 0 && options.floor < 1, where,
          "floor = " + std::to_string(options.floor) + " must be in (0, 1)");
  std::vector<double> ref = detail::sample_values(reference, where, "reference");
  std::vector<double> cur = detail::sample_values(current, where, "current");
  detail::sort_values(ref);
  detail::sort_values(cur);
  std::vector<double> edges;  // interior edges, increasing, distinct
  const double step = 1.0 / options.bins;
  for (int b = 1; b < options.bins; ++b) {
    const double q = static_cast<double>(b) * step;
    const double e = options.binning == PsiBinning::quantile ? detail::quantile_sorted(ref, q)
                                                             : ref.front() + (ref.back() - ref.front()) * q;
    if (edges.empty() || e > edges.back()) edges.push_back(e);
  }
  // Counts per bin (e_b, e_{b+1}] by a walk over the sorted sample.
  auto counts_of = [&](const std::vector<double>& sorted) {
    std::vector<double> counts(edges.size() + 1, 0.0);
    std::size_t bin = 0;
    for (double x : sorted) {
      while (bin < edges.size() && x > edges[bin]) ++bin;
      counts[bin] += 1;
    }
    return counts;
  };
  const std::vector<double> rc = counts_of(ref), cc = counts_of(cur);
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
