#pragma once
/// \file
/// JSON export of the monitoring results, as free functions found by nlohmann/json (so
/// `nlohmann::json j = report;` works, and report.to_json() forwards here). Kept apart so that the
/// monitoring headers themselves do not pull in nlohmann/json; the monitoring umbrella includes it.

#include <nlohmann/json.hpp>

#include "aimastery/production/monitoring/alert_manager.hpp"
#include "aimastery/production/monitoring/drift_report.hpp"

namespace aimastery {

/// One feature's drift (p-values null for distance methods).
inline void to_json(nlohmann::json& j, const FeatureDrift& f) {
  j = nlohmann::json::object();
  j["name"] = f.name;
  j["type"] = f.numeric ? "numeric" : "categorical";
  j["method"] = to_string(f.method);
  j["statistic"] = f.statistic;
  j["p_value"] = f.p_value ? nlohmann::json(*f.p_value) : nlohmann::json(nullptr);
  j["adjusted_p_value"] = f.adjusted_p_value ? nlohmann::json(*f.adjusted_p_value) : nlohmann::json(nullptr);
  j["threshold"] = f.threshold;
  j["drifted"] = f.drifted;
  j["reference_size"] = f.reference_size;
  j["current_size"] = f.current_size;
}

/// The drift report: the dataset verdict and one object per feature under "features".
inline void to_json(nlohmann::json& j, const DriftReport& report) {
  j = nlohmann::json::object();
  j["dataset_drift"] = report.dataset_drift;
  j["drifted_features"] = report.drifted_features;
  j["n_features"] = report.features.size();
  j["share_drifted"] = report.share_drifted;
  j["drift_share_threshold"] = report.drift_share_threshold;
  j["correction"] = to_string(report.correction);
  j["features"] = nlohmann::json::array();
  for (const auto& f : report.features) j["features"].push_back(f);
}

/// One fired alert (as written by AlertManager's JSON-lines sink).
inline void to_json(nlohmann::json& j, const Alert& a) {
  j = {{"rule", a.rule},
       {"metric", a.metric},
       {"severity", to_string(a.severity)},
       {"value", a.value},
       {"comparator", to_string(a.comparator)},
       {"threshold", a.threshold},
       {"message", a.message},
       {"sequence", a.sequence},
       {"unix_time_ms", a.unix_time_ms}};
}

}  // namespace aimastery
