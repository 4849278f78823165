#pragma once
/// \file
/// JSON export of the monitoring results: the header to include where a DriftReport, FeatureDrift or
/// Alert is turned into JSON (`report.to_json()`, `alert.to_json()`, AlertManager::add_jsonl_sink), as a
/// JsonValue (io/json.hpp). The conversions are the free `to_json` templates next to each type
/// (drift_report.hpp, alert_manager.hpp), which need only the name JsonValue; this header adds the
/// io/json.hpp that converting needs. The monitoring umbrella does not include it, so that code which
/// does not write JSON does not parse it.
///
/// The same templates fill an nlohmann::json where <nlohmann/json.hpp> is included: `nlohmann::json j =
/// report;` or `report.to_json<nlohmann::json>()`.

#include "aimastery/io/json.hpp"
#include "aimastery/production/monitoring/alert_manager.hpp"
#include "aimastery/production/monitoring/drift_report.hpp"
