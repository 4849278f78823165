#pragma once
/// \file
/// The result of DriftDetector: one FeatureDrift per feature and the dataset verdict (DriftReport), with
/// a text table. JSON export: aimastery/production/monitoring/json.hpp.

#include <nlohmann/json_fwd.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/production/monitoring/multiple_testing.hpp"

namespace aimastery {

enum class DriftMethod { automatic, ks, psi, wasserstein, jensen_shannon, chi_square };

inline std::string to_string(DriftMethod m) {
  switch (m) {
    case DriftMethod::ks:
      return "ks";
    case DriftMethod::psi:
      return "psi";
    case DriftMethod::wasserstein:
      return "wasserstein";
    case DriftMethod::jensen_shannon:
      return "jensen_shannon";
    case DriftMethod::chi_square:
      return "chi_square";
    default:
      return "auto";
  }
}

struct FeatureDrift {
  std::string name;
  bool numeric = true;
  DriftMethod method = DriftMethod::ks;
  double statistic = 0;           ///< D, PSI, W/std, JS distance or χ²
  std::optional<double> p_value;  ///< for ks and chi_square
  std::optional<double> adjusted_p_value;
  double threshold = 0;
  bool drifted = false;
  std::size_t reference_size = 0, current_size = 0;
};

struct DriftReport {
  std::vector<FeatureDrift> features;
  std::size_t drifted_features = 0;
  double share_drifted = 0;
  double drift_share_threshold = 0.5;
  bool dataset_drift = false;
  MultipleTestingCorrection correction = MultipleTestingCorrection::none;

  [[nodiscard]] const FeatureDrift& feature(const std::string& name) const {
    for (const auto& f : features)
      if (f.name == name) return f;
    throw InvalidArgument("DriftReport::feature: no feature named \"" + name + "\"");
  }

  /// The report as JSON (p-values null for distance methods), by the free to_json of
  /// aimastery/production/monitoring/json.hpp (included by the monitoring umbrella), which must be included
  /// where this is called; this header itself does not pull in nlohmann/json.
  template <class Json = nlohmann::json>
  [[nodiscard]] Json to_json() const {
    return Json(*this);
  }

  /// A fixed-width table, one feature a row, then the dataset verdict.
  [[nodiscard]] std::string to_table() const {
    std::size_t width = 7;
    for (const auto& f : features) width = std::max(width, f.name.size());
    auto pad = [](std::string s, std::size_t w) {
      if (s.size() < w) s.append(w - s.size(), ' ');
      return s;
    };
    auto number = [](double v) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4g", v);
      return std::string(buf);
    };
    std::string out =
        pad("feature", width) + "  type         method          statistic   p (adj.)    threshold   drift\n";
    out += std::string(width + 73, '-') + "\n";
    for (const auto& f : features) {
      out += pad(f.name, width) + "  " + pad(f.numeric ? "numeric" : "categorical", 11) + "  " +
             pad(to_string(f.method), 14) + "  " + pad(number(f.statistic), 10) + "  " +
             pad(f.adjusted_p_value ? number(*f.adjusted_p_value) : "-", 10) + "  " +
             pad((f.p_value ? "p < " : ">= ") + number(f.threshold), 10) + "  " + (f.drifted ? "DRIFT" : "ok") + "\n";
    }
    out += "dataset drift: " + std::string(dataset_drift ? "YES" : "no") + " (" + std::to_string(drifted_features) +
           " of " + std::to_string(features.size()) + " features drifted, share " + number(share_drifted) +
           ", threshold " + number(drift_share_threshold) + ")\n";
    return out;
  }
};

}  // namespace aimastery
