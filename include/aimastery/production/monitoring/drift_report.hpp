#pragma once
/// \file
/// The result of DriftDetector: one FeatureDrift per feature and the dataset verdict (DriftReport), with
/// a text table and JSON export. The JSON conversions are templates over the JSON type (JsonValue by
/// default; nlohmann::json too), so this header needs only the name JsonValue; converting needs
/// io/json.hpp where it is done (aimastery/production/monitoring/json.hpp includes it).

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/io/json_fwd.hpp"
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

struct DriftReport;
template <class Json>
void to_json(Json& j, const DriftReport& report);

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

  /// The report as JSON (p-values null for distance methods), by the free to_json below. Needs
  /// io/json.hpp where it is called (aimastery/production/monitoring/json.hpp includes it);
  /// `to_json<nlohmann::json>()` where <nlohmann/json.hpp> is included.
  template <class Json = JsonValue>
  [[nodiscard]] Json to_json() const {
    Json j;
    aimastery::to_json(j, *this);
    return j;
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

/// One feature's drift as JSON (p-values null for distance methods), in a JsonValue or an
/// nlohmann::json (found by nlohmann/json, so `nlohmann::json j = feature;` works where
/// <nlohmann/json.hpp> is included).
template <class Json>
void to_json(Json& j, const FeatureDrift& f) {
  j = Json::object();
  j["name"] = f.name;
  j["type"] = f.numeric ? "numeric" : "categorical";
  j["method"] = to_string(f.method);
  j["statistic"] = f.statistic;
  j["p_value"] = f.p_value ? Json(*f.p_value) : Json(nullptr);
  j["adjusted_p_value"] = f.adjusted_p_value ? Json(*f.adjusted_p_value) : Json(nullptr);
  j["threshold"] = f.threshold;
  j["drifted"] = f.drifted;
  j["reference_size"] = f.reference_size;
  j["current_size"] = f.current_size;
}

/// The drift report as JSON: the dataset verdict and one object per feature under "features".
template <class Json>
void to_json(Json& j, const DriftReport& report) {
  j = Json::object();
  j["dataset_drift"] = report.dataset_drift;
  j["drifted_features"] = report.drifted_features;
  j["n_features"] = report.features.size();
  j["share_drifted"] = report.share_drifted;
  j["drift_share_threshold"] = report.drift_share_threshold;
  j["correction"] = to_string(report.correction);
  j["features"] = Json::array();
  for (const auto& f : report.features) {
    Json feature;
    to_json(feature, f);
    j["features"].push_back(std::move(feature));
  }
}

}  // namespace aimastery
