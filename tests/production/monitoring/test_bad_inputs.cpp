// Bad inputs of the monitoring API not covered beside their features: each raises InvalidArgument (or
// NotFittedError) naming the problem, and a call that throws leaves its object as it was. Also the new
// pieces of the header split: benjamini_hochberg on its own and JSON export by free to_json functions.

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "aimastery/core/special/normal.hpp"
#include "aimastery/production/monitoring.hpp"
#include "aimastery/production/monitoring/json.hpp"
#include "support.hpp"

using namespace aimastery;

TEST_CASE("ndtri: p outside [0, 1] or NaN is refused, naming p") {
  CHECK_THROWS_NAMING(ndtri(-0.1), InvalidArgument, "ndtri: p = -0.1");
  CHECK_THROWS_NAMING(ndtri(1.5), InvalidArgument, "not a probability in [0, 1]");
  CHECK_THROWS_NAMING(ndtri(std::numeric_limits<double>::quiet_NaN()), InvalidArgument, "not a probability");
}

TEST_CASE("benjamini_hochberg: step-up adjusted p-values; NaN passes through; a p outside [0, 1] is refused") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // m = 3 (the NaN is not counted): sorted 0.01, 0.03, 0.04 → 3·0.04/3 = 0.04, min(3·0.03/2, 0.04) = 0.04,
  // min(3·0.01/1, 0.04) = 0.03.
  const std::vector<double> adjusted = benjamini_hochberg({0.01, 0.04, 0.03, nan});
  REQUIRE(adjusted.size() == 4);
  CHECK(adjusted[0] == doctest::Approx(0.03));
  CHECK(adjusted[1] == doctest::Approx(0.04));
  CHECK(adjusted[2] == doctest::Approx(0.04));
  CHECK(std::isnan(adjusted[3]));
  CHECK(benjamini_hochberg({}).empty());
  CHECK_THROWS_NAMING(benjamini_hochberg({0.5, 1.5}), InvalidArgument, "benjamini_hochberg: p-value 1 is 1.5");
  CHECK_THROWS_NAMING(benjamini_hochberg({-0.01}), InvalidArgument, "not a probability in [0, 1]");
}

TEST_CASE("FeatureFrame: an unknown or duplicate feature is named, and a refused add leaves the frame as it was") {
  FeatureFrame frame;
  frame.add_numeric("x", std::vector<double>{1, 2, 3});
  CHECK_THROWS_NAMING(frame.column("y"), InvalidArgument, "FeatureFrame::column: no feature named \"y\"");
  CHECK_THROWS_NAMING(frame.add_categorical("x", std::vector<std::string>{"a"}), InvalidArgument,
                      "feature \"x\" is already present");
  CHECK_THROWS_NAMING(frame.add_numeric("", std::vector<double>{1}), InvalidArgument, "a feature name is empty");
  CHECK(frame.names() == std::vector<std::string>{"x"});
  CHECK(frame.is_numeric("x"));
  CHECK(frame.rows("x") == 3);
}

TEST_CASE("DriftDetector: a refused refit keeps the earlier reference; DriftReport::feature names the unknown") {
  FeatureFrame reference, current;
  reference.add_numeric("x", std::vector<double>{1, 2, 3, 4, 5, 6});
  current.add_numeric("x", std::vector<double>{1, 2, 3, 4, 5, 7});
  DriftDetector detector;
  CHECK_THROWS_AS(static_cast<void>(detector.detect(current)), NotFittedError);
  detector.fit(reference);
  const DriftReport before = detector.detect(current);
  FeatureFrame bad;
  bad.add_numeric("x", std::vector<double>{1, std::numeric_limits<double>::quiet_NaN()});
  CHECK_THROWS_NAMING(detector.fit(bad), InvalidArgument, "feature \"x\" contains NaN or infinity");
  const DriftReport after = detector.detect(current);
  CHECK(after.features.front().statistic == before.features.front().statistic);
  CHECK(after.features.front().p_value == before.features.front().p_value);
  CHECK_THROWS_NAMING(after.feature("z"), InvalidArgument, "DriftReport::feature: no feature named \"z\"");
}

TEST_CASE("monitoring JSON: free to_json functions; the member to_json() forwards to them") {
  FeatureFrame reference, current;
  reference.add_numeric("x", std::vector<double>{1, 2, 3, 4, 5, 6});
  current.add_numeric("x", std::vector<double>{4, 5, 6, 7, 8, 9});
  const DriftReport report = DriftDetector().fit(reference).detect(current);
  const nlohmann::json j = report;
  // The same document as a JsonValue (the default) and through nlohmann, byte for byte.
  CHECK(j.dump() == report.to_json().dump());
  CHECK(j == report.to_json<nlohmann::json>());
  CHECK(report.to_json().at("features").at(0).at("name") == "x");
  CHECK(j["features"][0]["name"] == "x");
  CHECK(j["features"][0]["method"] == "ks");
  CHECK(j["n_features"] == 1);
  Alert alert;
  alert.rule = "slow";
  alert.value = 2.5;
  const nlohmann::json a = alert;
  CHECK(a.dump() == alert.to_json().dump());
  CHECK(a == alert.to_json<nlohmann::json>());
  CHECK(a["rule"] == "slow");
  CHECK(a["value"] == 2.5);
}

TEST_CASE("PerformanceMonitor: a refused record changes no count") {
  PerformanceMonitor monitor;
  monitor.record_request(0.1);
  monitor.record_prediction("r1", 1);
  CHECK_THROWS_NAMING(monitor.record_request(std::numeric_limits<double>::quiet_NaN()), InvalidArgument,
                      "PerformanceMonitor::record_request: latency must be finite and >= 0");
  CHECK_THROWS_NAMING(monitor.record_request(-1.0), InvalidArgument, "got -1");
  CHECK_THROWS_NAMING(monitor.record_prediction("r1", 2), InvalidArgument,
                      "request_id \"r1\" already has a pending prediction");
  CHECK_THROWS_NAMING(monitor.record_label_value("r1", 1.0), InvalidArgument, "holds a class prediction");
  CHECK_THROWS_NAMING(monitor.record_prediction("", 2), InvalidArgument, "request_id is empty");
  const PerformanceSnapshot s = monitor.snapshot();
  CHECK(s.requests_total == 1);
  CHECK(s.predictions_total == 1);
  CHECK(s.pending_predictions == 1);
  CHECK(monitor.record_label("r1", 1));  // the pending prediction survived the refused calls
}

TEST_CASE("AlertManager: a refused rule leaves the rules as they were") {
  AlertManager alerts;
  alerts.add_rule({.name = "errors", .metric = "error_rate", .threshold = 0.1});
  CHECK_THROWS_NAMING(alerts.add_rule({.name = "errors", .metric = "accuracy"}), InvalidArgument,
                      "a rule named \"errors\" already exists");
  CHECK_THROWS_NAMING(alerts.add_rule({.name = "nan", .metric = "accuracy", .threshold = std::nan("")}),
                      InvalidArgument, "rule \"nan\" has a NaN threshold");
  CHECK_FALSE(alerts.remove_rule("nan"));
  // The original rule still fires on its own metric.
  CHECK(alerts.evaluate(std::map<std::string, double>{{"error_rate", 0.5}}).size() == 1);
}

TEST_CASE("concept drift detectors: bad options and a NaN observation that changes nothing") {
  CHECK_THROWS_NAMING(DDM({.warning_threshold = 3.0, .drift_threshold = 2.0}), InvalidArgument,
                      "0 < warning_threshold <= drift_threshold");
  CHECK_THROWS_NAMING(PageHinkley({.threshold = 0.0}), InvalidArgument, "threshold must be positive");
  PageHinkley ph;
  for (int i = 0; i < 10; ++i) ph.update(1.0);
  CHECK_THROWS_NAMING(ph.update(std::numeric_limits<double>::infinity()), InvalidArgument,
                      "PageHinkley::update: x is NaN or infinite");
  PageHinkley fresh;
  for (int i = 0; i < 10; ++i) fresh.update(1.0);
  CHECK(ph.update(50.0) == fresh.update(50.0));
}
