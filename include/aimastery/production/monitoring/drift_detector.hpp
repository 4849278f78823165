#pragma once
/// \file
/// DriftDetector: data drift of many named features between a reference and a current dataset.
///
/// Each feature gets one test. By default the method follows its type and the reference size (the
/// conventions of Evidently): numeric → Kolmogorov–Smirnov (p < 0.05) when the reference has ≤ 1000
/// rows, otherwise Wasserstein distance divided by the reference's standard deviation (≥ 0.1);
/// categorical → chi-square (p < 0.05) when small, otherwise Jensen–Shannon distance (≥ 0.1). A method
/// can be set per feature: ks, psi (≥ 0.1), wasserstein, jensen_shannon, chi_square (numeric features
/// are binned at the reference's deciles for the last two).
///
/// With many features the p-value tests are corrected for multiple testing: Bonferroni (p·m < α) or
/// Benjamini–Hochberg (the step-up adjusted p_(i) = min_{j ≥ i} m·p_(j)/j < α, controlling the false
/// discovery rate), m = the number of p-value tests. The dataset drifts when the share of drifted
/// features reaches `drift_share` (0.5).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/production/monitoring/chi_square_test.hpp"
#include "aimastery/production/monitoring/distances.hpp"
#include "aimastery/production/monitoring/drift_report.hpp"
#include "aimastery/production/monitoring/feature_frame.hpp"
#include "aimastery/production/monitoring/ks_test.hpp"
#include "aimastery/production/monitoring/multiple_testing.hpp"
#include "aimastery/production/monitoring/psi.hpp"

namespace aimastery {

struct DriftDetectorOptions {
  double p_value_threshold = 0.05;        ///< ks, chi_square: drift when the (adjusted) p-value is below
  double psi_threshold = 0.1;             ///< psi: drift when PSI ≥ this
  double wasserstein_threshold = 0.1;     ///< wasserstein: drift when W / std(reference) ≥ this
  double jensen_shannon_threshold = 0.1;  ///< jensen_shannon: drift when the distance (natural log) ≥ this
  MultipleTestingCorrection correction = MultipleTestingCorrection::none;
  double drift_share = 0.5;            ///< dataset drift when drifted / features ≥ this
  std::size_t small_reference = 1000;  ///< automatic: statistical tests up to this many reference rows
  PsiOptions psi = {};
  std::map<std::string, DriftMethod> methods = {};  ///< per-feature methods (others automatic)
};

namespace detail {

/// Counts of a numeric sample in the bins (e_b, e_{b+1}] at the reference's deciles.
template <class = void>
std::vector<double> binned_counts(const std::vector<double>& values, const std::vector<double>& edges) {
  std::vector<double> counts(edges.size() + 1, 0.0);
  for (double x : values) {
    const auto b = static_cast<std::size_t>(std::lower_bound(edges.begin(), edges.end(), x) - edges.begin());
    counts[b] += 1;
  }
  return counts;
}

/// Counts of two categorical samples over the categories of either (sorted).
template <class = void>
std::pair<std::vector<double>, std::vector<double>> category_counts(const std::vector<std::string>& a,
                                                                    const std::vector<std::string>& b) {
  std::map<std::string, std::size_t> index;
  for (const auto& s : a) index.emplace(s, 0);
  for (const auto& s : b) index.emplace(s, 0);
  std::size_t next = 0;
  for (auto& [key, i] : index) i = next++;
  std::vector<double> ca(next, 0.0), cb(next, 0.0);
  for (const auto& s : a) ca[index[s]] += 1;
  for (const auto& s : b) cb[index[s]] += 1;
  return {ca, cb};
}

/// PSI over the counts of two samples in the same bins (or categories), with a floor.
template <class = void>
double psi_of_counts(const std::vector<double>& ref, const std::vector<double>& cur, double floor) {
  const double nr = std::accumulate(ref.begin(), ref.end(), 0.0), nc = std::accumulate(cur.begin(), cur.end(), 0.0);
  double value = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) value += psi_bin(0, 0, ref[i], nr, cur[i], nc, floor).contribution;
  return value;
}

}  // namespace detail

/// Data drift between a reference FeatureFrame (set once) and current frames. A class template only so that
/// its members, and the tests they run, are compiled in the files that use a detector, not in every file
/// that includes this header: DriftDetector (below) is the one to use.
template <class = void>
class BasicDriftDetector {
 public:
  explicit BasicDriftDetector(DriftDetectorOptions options = {}) : options_(std::move(options)) {
    constexpr const char* where = "DriftDetector";
    require(options_.p_value_threshold > 0 && options_.p_value_threshold < 1, where,
            "p_value_threshold must be in (0, 1)");
    require(options_.drift_share > 0 && options_.drift_share <= 1, where, "drift_share must be in (0, 1]");
    require(options_.psi_threshold > 0 && options_.wasserstein_threshold > 0 && options_.jensen_shannon_threshold > 0,
            where, "distance thresholds must be positive");
  }

  /// Sets the reference data; every feature must be non-empty and finite.
  BasicDriftDetector& fit(FeatureFrame reference) {
    require(!reference.names().empty(), "DriftDetector::fit", "the reference has no features");
    for (const auto& name : reference.names()) {
      require(reference.rows(name) > 0, "DriftDetector::fit", [&] { return "feature \"" + name + "\" is empty"; });
      if (reference.is_numeric(name)) {
        const auto& v = std::get<std::vector<double>>(reference.column(name));
        require(std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); }), "DriftDetector::fit",
                [&] { return "feature \"" + name + "\" contains NaN or infinity"; });
      }
    }
    for (const auto& entry : options_.methods) {
      const std::string& name = entry.first;  // named, not a structured binding: lambdas capture it (clang 14)
      const DriftMethod method = entry.second;
      require(reference.contains(name), "DriftDetector::fit",
              [&] { return "a method is set for unknown feature \"" + name + "\""; });
      const bool numeric = reference.is_numeric(name);
      require(numeric || (method != DriftMethod::ks && method != DriftMethod::wasserstein), "DriftDetector::fit", [&] {
        return "method " + to_string(method) + " needs a numeric feature, \"" + name + "\" is categorical";
      });
    }
    reference_ = std::move(reference);
    fitted_ = true;
    return *this;
  }

  /// Convenience: numeric columns of a matrix.
  template <class Derived>
  BasicDriftDetector& fit(const Eigen::MatrixBase<Derived>& X, const std::vector<std::string>& names = {}) {
    return fit(FeatureFrame::from_matrix(X, names));
  }

  /// The method a feature uses (after the automatic choice).
  [[nodiscard]] DriftMethod method_for(const std::string& name) const {
    require(fitted_, "DriftDetector::method_for", "call fit() with the reference data first");
    const auto it = options_.methods.find(name);
    if (it != options_.methods.end() && it->second != DriftMethod::automatic) return it->second;
    const bool small = reference_.rows(name) <= options_.small_reference;
    if (reference_.is_numeric(name)) return small ? DriftMethod::ks : DriftMethod::wasserstein;
    return small ? DriftMethod::chi_square : DriftMethod::jensen_shannon;
  }

  /// Tests every reference feature on `current` (which must hold each of them, with the same type).
  [[nodiscard]] DriftReport detect(const FeatureFrame& current) const {
    constexpr const char* where = "DriftDetector::detect";
    if (!fitted_) throw NotFittedError("DriftDetector::detect: call fit() with the reference data first");
    DriftReport report;
    report.correction = options_.correction;
    report.drift_share_threshold = options_.drift_share;
    for (const auto& name : reference_.names()) {
      require(current.contains(name), where, [&] { return "current data has no feature \"" + name + "\""; });
      require(current.is_numeric(name) == reference_.is_numeric(name), where, [&] {
        return "feature \"" + name + "\" is " + (reference_.is_numeric(name) ? "numeric" : "categorical") +
               " in the reference but not in the current data";
      });
      require(current.rows(name) > 0, where, [&] { return "feature \"" + name + "\" is empty in the current data"; });
      report.features.push_back(test_feature(name, current));
    }
    // Multiple-testing correction over the p-value tests.
    std::vector<std::size_t> tested;
    std::vector<double> p;
    for (std::size_t i = 0; i < report.features.size(); ++i)
      if (report.features[i].p_value) {
        tested.push_back(i);
        p.push_back(*report.features[i].p_value);
      }
    std::vector<double> adjusted = p;
    const double m = static_cast<double>(p.size());
    if (options_.correction == MultipleTestingCorrection::bonferroni)
      for (double& v : adjusted) v = std::min(1.0, v * m);
    else if (options_.correction == MultipleTestingCorrection::benjamini_hochberg)
      adjusted = benjamini_hochberg(p);
    for (std::size_t k = 0; k < tested.size(); ++k) {
      auto& f = report.features[tested[k]];
      f.adjusted_p_value = adjusted[k];
      f.drifted = adjusted[k] < options_.p_value_threshold;
    }
    for (const auto& f : report.features) report.drifted_features += f.drifted ? 1 : 0;
    report.share_drifted = static_cast<double>(report.drifted_features) / static_cast<double>(report.features.size());
    report.dataset_drift = report.share_drifted >= options_.drift_share;
    return report;
  }

  template <class Derived>
  [[nodiscard]] DriftReport detect(const Eigen::MatrixBase<Derived>& X,
                                   const std::vector<std::string>& names = {}) const {
    return detect(FeatureFrame::from_matrix(X, names.empty() ? reference_.names() : names));
  }

  [[nodiscard]] const DriftDetectorOptions& options() const noexcept { return options_; }

 private:
  FeatureDrift test_feature(const std::string& name, const FeatureFrame& current) const {
    FeatureDrift f;
    f.name = name;
    f.numeric = reference_.is_numeric(name);
    f.method = method_for(name);
    f.reference_size = reference_.rows(name);
    f.current_size = current.rows(name);
    const std::string where = "DriftDetector::detect (feature \"" + name + "\")";
    if (f.numeric) {
      const auto& ref = std::get<std::vector<double>>(reference_.column(name));
      const auto& cur = std::get<std::vector<double>>(current.column(name));
      require(std::all_of(cur.begin(), cur.end(), [](double x) { return std::isfinite(x); }), where,
              "current values contain NaN or infinity");
      switch (f.method) {
        case DriftMethod::ks: {
          const KsResult r = ks_test(ref, cur);
          f.statistic = r.statistic;
          f.p_value = r.p_value;
          f.threshold = options_.p_value_threshold;
          break;
        }
        case DriftMethod::wasserstein: {
          const double mean = std::accumulate(ref.begin(), ref.end(), 0.0) / static_cast<double>(ref.size());
          double var = 0;
          for (double x : ref) var += (x - mean) * (x - mean);
          const double sd = std::sqrt(var / static_cast<double>(ref.size()));
          const double w = wasserstein_distance(ref, cur);
          f.statistic = sd > 0 ? w / sd : (w > 0 ? std::numeric_limits<double>::infinity() : 0.0);
          f.threshold = options_.wasserstein_threshold;
          f.drifted = f.statistic >= f.threshold;
          break;
        }
        case DriftMethod::psi: {
          f.statistic = psi(ref, cur, options_.psi).value;
          f.threshold = options_.psi_threshold;
          f.drifted = f.statistic >= f.threshold;
          break;
        }
        default: {  // jensen_shannon or chi_square on decile bins of the reference
          const PsiResult bins = psi(ref, cur, {.bins = 10, .floor = options_.psi.floor});
          std::vector<double> edges;
          for (std::size_t b = 0; b + 1 < bins.bins.size(); ++b) edges.push_back(bins.bins[b].upper);
          const auto rc = detail::binned_counts(ref, edges), cc = detail::binned_counts(cur, edges);
          distance_or_chi_square(f, rc, cc);
        }
      }
    } else {
      const auto& ref = std::get<std::vector<std::string>>(reference_.column(name));
      const auto& cur = std::get<std::vector<std::string>>(current.column(name));
      const auto [rc, cc] = detail::category_counts(ref, cur);
      if (f.method == DriftMethod::psi) {
        f.statistic = detail::psi_of_counts(rc, cc, options_.psi.floor);
        f.threshold = options_.psi_threshold;
        f.drifted = f.statistic >= f.threshold;
      } else {
        distance_or_chi_square(f, rc, cc);
      }
    }
    return f;
  }

  void distance_or_chi_square(FeatureDrift& f, const std::vector<double>& rc, const std::vector<double>& cc) const {
    if (f.method == DriftMethod::jensen_shannon) {
      f.statistic = jensen_shannon(rc, cc);
      f.threshold = options_.jensen_shannon_threshold;
      f.drifted = f.statistic >= f.threshold;
      return;
    }
    // chi_square on the 2×K table, dropping categories (bins) empty in both.
    std::vector<double> r, c;
    for (std::size_t k = 0; k < rc.size(); ++k)
      if (rc[k] + cc[k] > 0) r.push_back(rc[k]), c.push_back(cc[k]);
    Matrix<double> table(2, static_cast<Index>(r.size()));
    for (std::size_t k = 0; k < r.size(); ++k) {
      table(0, static_cast<Index>(k)) = r[k];
      table(1, static_cast<Index>(k)) = c[k];
    }
    const ChiSquareResult res = chi_square_test(table);
    f.statistic = res.statistic;
    f.p_value = res.p_value;
    f.threshold = options_.p_value_threshold;
  }

  DriftDetectorOptions options_;
  FeatureFrame reference_;
  bool fitted_ = false;
};

/// Data drift of named features (see the file comment).
using DriftDetector = BasicDriftDetector<>;

}  // namespace aimastery
