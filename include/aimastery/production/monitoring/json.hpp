#pragma once
/// \file
/// JSON export of the monitoring results: the header to include where a DriftReport, FeatureDrift or
/// Alert is turned into JSON (`nlohmann::json j = report;`, `report.to_json()`, `alert.to_json()`,
/// AlertManager::add_jsonl_sink). The conversions are the free `to_json` templates next to each type
/// (drift_report.hpp, alert_manager.hpp), which need only <nlohmann/json_fwd.hpp>; this header adds the
/// whole <nlohmann/json.hpp> that converting needs. The monitoring umbrella does not include it, so that
/// code which does not write JSON does not parse nlohmann/json.

#include <nlohmann/json.hpp>

#include "aimastery/production/monitoring/alert_manager.hpp"
#include "aimastery/production/monitoring/drift_report.hpp"
