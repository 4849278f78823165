#pragma once
/// \file
/// JSON export of the monitoring results: the header to include where a DriftReport, FeatureDrift or
/// Alert is turned into JSON (`nlohmann::json j = report;`, `report.to_json()`, `alert.to_json()`,
/// AlertManager::add_jsonl_sink). The conversions are the free `to_json` templates next to each type
/// (drift_report.hpp, alert_manager.hpp), which need only <nlohmann/json_fwd.hpp>; this header adds the
/// whole <nlohmann/json.hpp> that converting needs, and the JSON-lines file sink of add_jsonl_sink (with
/// <fstream>). The monitoring umbrella does not include it, so that code which does not write JSON does not
/// parse nlohmann/json.

#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <ios>
#include <memory>
#include <stdexcept>
#include <string>

#include "aimastery/core/errors.hpp"
#include "aimastery/production/monitoring/alert_manager.hpp"
#include "aimastery/production/monitoring/drift_report.hpp"

namespace aimastery::detail {

template <class Json>
std::function<void(const Alert&)> jsonl_alert_sink(const std::string& path) {
  auto file = std::make_shared<std::ofstream>(path, std::ios::app);
  require(file->is_open(), "AlertManager::add_jsonl_sink",
          [&] { return "cannot open \"" + path + "\" for appending"; });
  return [file](const Alert& a) {
    *file << Json(a).dump() << '\n';
    file->flush();
    if (!*file) throw std::runtime_error("AlertManager: writing the JSON-lines sink failed");
  };
}

}  // namespace aimastery::detail
