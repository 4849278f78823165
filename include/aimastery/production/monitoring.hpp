#pragma once
/// \file
/// The seed module `production.monitoring`: statistical drift tests, drift detectors, performance
/// monitoring and alerting. JSON export of the results (to_json, the alerts' JSON-lines sink) needs
/// <nlohmann/json.hpp> as well: include aimastery/production/monitoring/json.hpp where JSON is written.

#include "aimastery/production/monitoring/alert_manager.hpp"
#include "aimastery/production/monitoring/chi_square_test.hpp"
#include "aimastery/production/monitoring/concept_drift.hpp"
#include "aimastery/production/monitoring/distances.hpp"
#include "aimastery/production/monitoring/drift_detector.hpp"
#include "aimastery/production/monitoring/drift_report.hpp"
#include "aimastery/production/monitoring/feature_frame.hpp"
#include "aimastery/production/monitoring/ks_test.hpp"
#include "aimastery/production/monitoring/multiple_testing.hpp"
#include "aimastery/production/monitoring/performance_monitor.hpp"
#include "aimastery/production/monitoring/psi.hpp"
