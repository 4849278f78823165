// Tour section: production.monitoring on the wine data — a drift report for a shifted copy, and a
// PerformanceMonitor snapshot of a simulated serving run with late labels.
#include <aimastery/io/csv.hpp>
#include <aimastery/production/monitoring.hpp>
#include <aimastery/production/monitoring/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "tour.hpp"

AIMASTERY_TOUR_SECTION(51, "production.monitoring: drift report, performance monitor") {
  using namespace aimastery;
  const auto wine = read_csv<double>(data_dir + "/wine.csv");
  // Reference: the even rows; current: the odd rows with alcohol shifted by +0.8 and color_intensity
  // scaled by 1.5 (two of six features drift), and the class column as a categorical feature.
  const std::vector<Index> columns = {0, 1, 4, 6, 9, 12};
  FeatureFrame reference, current;
  for (Index c : columns) {
    std::vector<double> ref, cur;
    for (Index r = 0; r < wine.X.rows(); ++r) {
      const double x = wine.X(r, c);
      if (r % 2 == 0)
        ref.push_back(x);
      else
        cur.push_back(c == 0 ? x + 0.8 : (c == 9 ? 1.5 * x : x));
    }
    const std::string& name = wine.feature_names[static_cast<std::size_t>(c)];
    reference.add_numeric(name, ref);
    current.add_numeric(name, cur);
  }
  std::vector<int> ref_class, cur_class;
  const IndexVector labels = wine.labels();
  for (Index r = 0; r < labels.size(); ++r) (r % 2 == 0 ? ref_class : cur_class).push_back(static_cast<int>(labels(r)));
  reference.add_categorical("class", ref_class);
  current.add_categorical("class", cur_class);

  DriftDetector detector({.correction = MultipleTestingCorrection::benjamini_hochberg});
  const DriftReport report = detector.fit(reference).detect(current);
  std::cout << report.to_table();
  const JsonValue j = report.to_json();
  std::printf("as JSON (dataset fields, then one feature per line):\n");
  JsonValue summary = j;
  summary.erase("features");
  std::printf("  %s\n", summary.dump().c_str());
  for (const JsonValue& f : j.at("features").elements())
    std::printf("  {\"name\":%s,\"method\":%s,\"statistic\":%.4g,\"adjusted_p_value\":%s,\"drifted\":%s}\n",
                f.at("name").dump().c_str(), f.at("method").dump().c_str(), f.at("statistic").get<double>(),
                f.at("adjusted_p_value").dump().c_str(), f.at("drifted").dump().c_str());

  // Serving simulation: each request gets a prediction now and its label later (joined by id).
  PerformanceMonitor monitor({.window_size = 500, .metric_prefix = "wine_model"});
  for (Index r = 0; r < labels.size(); ++r) {
    const std::string id = "req-" + std::to_string(r);
    const Index predicted = r % 9 == 0 ? (labels(r) + 1) % 3 : labels(r);  // about 89% right
    monitor.record_prediction(id, predicted);
    monitor.record_request(0.002 + 0.0001 * static_cast<double>(r % 40), r % 50 != 0);
  }
  for (Index r = 0; r < labels.size(); r += 2) monitor.record_label("req-" + std::to_string(r), labels(r));
  const PerformanceSnapshot s = monitor.snapshot();
  std::printf("performance: %zu requests, error rate %.3f, latency p50/p95/p99 %.2f/%.2f/%.2f ms\n", s.requests,
              s.error_rate, 1e3 * s.latency_p50, 1e3 * s.latency_p95, 1e3 * s.latency_p99);
  std::printf("  %zu labelled (%zu pending): accuracy %.3f, macro precision %.3f, recall %.3f, F1 %.3f\n",
              s.classification_count, s.pending_predictions, s.accuracy, s.precision, s.recall, s.f1);
  const std::string prometheus = monitor.prometheus();
  const std::size_t at = prometheus.find("\nwine_model_accuracy ") + 1;
  std::printf("  Prometheus export: %zu lines, e.g. \"%s\"\n",
              static_cast<std::size_t>(std::count(prometheus.begin(), prometheus.end(), '\n')),
              prometheus.substr(at, prometheus.find('\n', at) - at).c_str());
}
