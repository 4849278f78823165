// PerformanceMonitor against scikit-learn / NumPy metrics, its Prometheus export against a strict
// checker of the text exposition format, and AlertManager's rules, cooldown, deduplication and sinks.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "aimastery/production/monitoring.hpp"
#include "aimastery/production/monitoring/json.hpp"
#include "support.hpp"

using namespace aimastery;
using namespace std::chrono_literals;
using aimastery::test::close;
using aimastery::test::json_number;
using aimastery::test::load_reference;

namespace {

constexpr double alerts_rel = aimastery::test::Tolerance<double>::reference;

/// A clock the test moves by hand.
struct ManualClock {
  std::shared_ptr<std::chrono::steady_clock::time_point> now =
      std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::time_point{} + 1h);
  MonitorClock function() const {
    auto p = now;
    return [p] { return *p; };
  }
  void advance(std::chrono::nanoseconds d) const { *now += d; }
};

bool is_metric_name(const std::string& s, bool label = false) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
    if (!(letter || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}

/// A sample value: a Go float (decimal or exponent form, NaN, +Inf, -Inf, Inf).
bool is_sample_value(const std::string& v) {
  if (v == "NaN" || v == "+Inf" || v == "-Inf" || v == "Inf") return true;
  if (v.empty() || v.find_first_not_of("0123456789+-.eE") != std::string::npos) return false;
  char* end = nullptr;
  std::strtod(v.c_str(), &end);
  return end == v.c_str() + v.size();
}

/// Parses `name{label="value",...} value [timestamp]`; returns "" or the problem.
std::string parse_sample(const std::string& line, std::string& name, std::string& labels) {
  std::size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  name = line.substr(0, i);
  if (!is_metric_name(name)) return "bad metric name \"" + name + "\"";
  labels.clear();
  if (i < line.size() && line[i] == '{') {
    const std::size_t open = i++;
    while (i < line.size() && line[i] != '}') {
      const std::size_t start = i;
      while (i < line.size() && line[i] != '=') ++i;
      if (!is_metric_name(line.substr(start, i - start), true)) return "bad label name";
      if (++i >= line.size() || line[i] != '"') return "label value not quoted";
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\') {
          if (++i >= line.size() || (line[i] != '\\' && line[i] != '"' && line[i] != 'n')) return "bad escape";
        }
      }
      if (i >= line.size()) return "unterminated label value";
      ++i;  // closing quote
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return "unterminated label set";
    labels = line.substr(open, ++i - open);
  }
  if (i >= line.size() || line[i] != ' ') return "no space before the value";
  const std::string rest = line.substr(i + 1);
  const std::size_t space = rest.find(' ');
  const std::string value = rest.substr(0, space);
  if (!is_sample_value(value)) return "bad value \"" + value + "\"";
  if (space != std::string::npos) {
    const std::string ts = rest.substr(space + 1);
    if (ts.empty() || ts.find_first_not_of("-0123456789") != std::string::npos) return "bad timestamp";
  }
  return "";
}

/// Strict checker of the Prometheus text exposition format 0.0.4 (the rules `promtool check metrics`
/// enforces, including its lint that counters end in _total). Returns "" when valid, else the problem.
std::string check_prometheus_text(const std::string& text) {
  if (text.empty() || text.back() != '\n') return "text must end with a newline";
  const std::set<std::string> known_types = {"counter", "gauge", "summary", "histogram", "untyped"};
  std::map<std::string, std::string> types;
  std::set<std::string> helped, finished;
  std::string current_family;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string at = "line " + std::to_string(number) + ": ";
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      const std::string body = line.substr(7);
      const std::size_t space = body.find(' ');
      if (space == std::string::npos || space + 1 >= body.size()) return at + "HELP or TYPE without text";
      const std::string name = body.substr(0, space), rest = body.substr(space + 1);
      if (!is_metric_name(name)) return at + "bad metric name in HELP or TYPE";
      if (line[2] == 'H') {
        if (!helped.insert(name).second) return at + "second HELP for " + name;
        continue;
      }
      if (!known_types.count(rest)) return at + "unknown type " + rest;
      if (types.count(name)) return at + "second TYPE for " + name;
      if (finished.count(name) || current_family == name) return at + "TYPE after samples of " + name;
      types[name] = rest;
      if (rest == "counter" && (name.size() < 6 || name.substr(name.size() - 6) != "_total"))
        return at + "counter " + name + " should end in _total";
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    std::string name, labels;
    if (const std::string problem = parse_sample(line, name, labels); !problem.empty()) return at + problem;
    // The family a sample belongs to: the name itself, or a summary/histogram's _sum/_count/_bucket.
    std::string family = name;
    for (const std::string suffix : {"_sum", "_count", "_bucket"}) {
      if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
        const std::string base = name.substr(0, name.size() - suffix.size());
        if (types.count(base) && (types[base] == "summary" || types[base] == "histogram")) family = base;
      }
    }
    if (!types.count(family)) return at + "sample " + name + " without a TYPE";
    if (types[family] == "summary" && family == name && labels.find("quantile=\"") == std::string::npos)
      return at + "summary sample without a quantile label";
    if (family != current_family) {
      if (finished.count(family)) return at + "samples of " + family + " are not contiguous";
      if (!current_family.empty()) finished.insert(current_family);
      current_family = family;
    }
  }
  for (const auto& [name, type] : types)
    if (!helped.count(name)) return "metric " + name + " has no HELP";
  return "";
}

}  // namespace

TEST_CASE("PerformanceMonitor metrics equal scikit-learn and NumPy on the reference data") {
  const auto ref = load_reference("monitoring_streams.json")["metrics"];
  PerformanceMonitor monitor({.window_size = 5000});
  const auto y_true = ref["y_true"].get<std::vector<Index>>(), y_pred = ref["y_pred"].get<std::vector<Index>>();
  for (std::size_t i = 0; i < y_true.size(); ++i) monitor.record_classification(y_true[i], y_pred[i]);
  const auto reg_true = ref["reg_true"].get<std::vector<double>>(),
             reg_pred = ref["reg_pred"].get<std::vector<double>>();
  for (std::size_t i = 0; i < reg_true.size(); ++i) monitor.record_regression(reg_true[i], reg_pred[i]);
  const auto latencies = ref["latencies"].get<std::vector<double>>();
  for (std::size_t i = 0; i < latencies.size(); ++i) monitor.record_request(latencies[i], i % 10 != 0);
  const PerformanceSnapshot s = monitor.snapshot();
  CHECK(close(s.accuracy, json_number<double>(ref["accuracy"]), alerts_rel));
  CHECK(close(s.precision, json_number<double>(ref["precision_macro"]), alerts_rel));
  CHECK(close(s.recall, json_number<double>(ref["recall_macro"]), alerts_rel));
  CHECK(close(s.f1, json_number<double>(ref["f1_macro"]), alerts_rel));
  CHECK(close(s.mse, json_number<double>(ref["mse"]), alerts_rel));
  CHECK(close(s.mae, json_number<double>(ref["mae"]), alerts_rel));
  CHECK(close(s.r2, json_number<double>(ref["r2"]), alerts_rel));
  CHECK(close(s.latency_p50, json_number<double>(ref["p50"]), alerts_rel));
  CHECK(close(s.latency_p95, json_number<double>(ref["p95"]), alerts_rel));
  CHECK(close(s.latency_p99, json_number<double>(ref["p99"]), alerts_rel));
  CHECK(s.requests == 1000);
  CHECK(s.errors == 100);
  CHECK(close(s.error_rate, 0.1, 1e-15));
  CHECK(s.classification_count == 500);
  CHECK(s.regression_count == 400);
}

TEST_CASE("PerformanceMonitor: sliding windows by count and by time on an injected clock") {
  ManualClock clock;
  PerformanceMonitor by_count({.window_size = 3, .clock = clock.function()});
  for (int i = 1; i <= 5; ++i) by_count.record_request(i * 0.1, i != 1);
  auto s = by_count.snapshot();
  CHECK(s.requests == 3);  // the last three: 0.3, 0.4, 0.5, all successful
  CHECK(s.errors == 0);
  CHECK(close(s.latency_p50, 0.4, 1e-15));
  CHECK(s.requests_total == 5);
  CHECK(s.errors_total == 1);

  PerformanceMonitor by_time({.window_size = 100, .window_duration = 10s, .clock = clock.function()});
  by_time.record_request(1.0, false);
  clock.advance(6s);
  by_time.record_request(2.0, true);
  by_time.record_classification(1, 1);
  CHECK(by_time.snapshot().requests == 2);
  clock.advance(5s);  // the first request is now 11 s old
  s = by_time.snapshot();
  CHECK(s.requests == 1);
  CHECK(s.error_rate == 0.0);
  CHECK(s.latency_p99 == 2.0);
  CHECK(s.accuracy == 1.0);
  clock.advance(20s);
  s = by_time.snapshot();
  CHECK(s.requests == 0);
  CHECK(std::isnan(s.error_rate));
  CHECK(std::isnan(s.accuracy));
  CHECK(s.requests_total == 2);
}

TEST_CASE("PerformanceMonitor joins late labels by request id, with a bounded pending map") {
  PerformanceMonitor monitor({.max_pending = 3});
  monitor.record_prediction("a", 1);
  monitor.record_prediction("b", 0);
  monitor.record_prediction_value("r", 2.5);
  CHECK(monitor.snapshot().pending_predictions == 3);
  CHECK(monitor.record_label("b", 0));
  CHECK(monitor.record_label("a", 0));
  CHECK(!monitor.record_label("a", 0));  // already joined
  CHECK(!monitor.record_label("zzz", 1));
  CHECK(monitor.record_label_value("r", 2.0));
  auto s = monitor.snapshot();
  CHECK(s.classification_count == 2);
  CHECK(s.accuracy == 0.5);
  CHECK(s.regression_count == 1);
  CHECK(s.mae == 0.5);
  CHECK(s.pending_predictions == 0);
  CHECK(s.unmatched_labels_total == 2);
  CHECK(s.labels_total == 3);
  for (int i = 0; i < 5; ++i) monitor.record_prediction("p" + std::to_string(i), i);
  s = monitor.snapshot();
  CHECK(s.pending_predictions == 3);
  CHECK(s.dropped_predictions_total == 2);
  CHECK(!monitor.record_label("p0", 0));  // dropped, the oldest first
  CHECK(monitor.record_label("p4", 4));

  monitor.record_prediction("c", 1);
  CHECK_THROWS_NAMING(monitor.record_prediction("c", 2), InvalidArgument, "already has a pending prediction");
  CHECK_THROWS_NAMING(monitor.record_label_value("c", 1.0), InvalidArgument, "holds a class prediction");
  CHECK_THROWS_NAMING(monitor.record_prediction("", 2), InvalidArgument, "request_id is empty");
  CHECK_THROWS_NAMING(monitor.record_request(-1.0), InvalidArgument, "latency must be finite and >= 0");
  CHECK_THROWS_NAMING(monitor.record_request(NAN), InvalidArgument, "record_request");
  CHECK_THROWS_NAMING(monitor.record_regression(1.0, INFINITY), InvalidArgument, "finite");
  CHECK_THROWS_NAMING(PerformanceMonitor({.window_size = 0}), InvalidArgument, "window_size");
  CHECK_THROWS_NAMING(PerformanceMonitor({.metric_prefix = "9bad name"}), InvalidArgument, "metric_prefix");
  CHECK_THROWS_NAMING(PerformanceMonitor({.window_duration = 0s}), InvalidArgument, "window_duration");
}

TEST_CASE("PerformanceMonitor exports the Prometheus text format") {
  PerformanceMonitor monitor({.metric_prefix = "fraud_model"});
  const std::string empty = monitor.prometheus();
  CHECK(check_prometheus_text(empty) == "");
  CHECK(empty.find("fraud_model_accuracy NaN\n") != std::string::npos);
  for (int i = 0; i < 100; ++i) monitor.record_request(0.001 * (i + 1), i % 20 != 0);
  monitor.record_classification(1, 1);
  monitor.record_regression(1.0, 0.5);
  const std::string text = monitor.prometheus();
  INFO(text);
  CHECK(check_prometheus_text(text) == "");
  CHECK(text.find("# TYPE fraud_model_request_latency_seconds summary\n") != std::string::npos);
  CHECK(text.find("fraud_model_request_latency_seconds{quantile=\"0.5\"} 0.050500000000000003\n") != std::string::npos);
  CHECK(text.find("fraud_model_request_latency_seconds_count 100\n") != std::string::npos);
  CHECK(text.find("# TYPE fraud_model_requests_total counter\nfraud_model_requests_total 100\n") != std::string::npos);
  CHECK(text.find("fraud_model_request_errors_total 5\n") != std::string::npos);
  CHECK(text.find("fraud_model_error_rate 0.050000000000000003\n") != std::string::npos);
  CHECK(text.find("fraud_model_accuracy 1\n") != std::string::npos);
  // The checker itself rejects what promtool rejects.
  CHECK(check_prometheus_text("# TYPE x counter\nx 1\n") != "");              // counter without _total
  CHECK(check_prometheus_text("# HELP y h\n# TYPE y gauge\ny one\n") != "");  // bad value
  CHECK(check_prometheus_text("# HELP y h\ny 1\n") != "");                    // no TYPE
  CHECK(check_prometheus_text("# HELP y h\n# TYPE y gauge\ny 1") != "");      // no final newline
  CHECK(check_prometheus_text("# HELP s h\n# TYPE s summary\ns 1\n") != "");  // quantile missing
  CHECK(check_prometheus_text("# HELP a h\n# TYPE a gauge\n# HELP b h\n# TYPE b gauge\na 1\nb 1\na 2\n") != "");
  CHECK(check_prometheus_text("# HELP a h\n# TYPE a gauge\na{l=\"x\\q\"} 1\n") != "");  // bad escape
  CHECK(check_prometheus_text("# HELP a h\n# TYPE a gauge\na{l=\"x\",m=\"y\"} 1 1700000000\n") == "");
}

TEST_CASE("AlertManager: N consecutive evaluations, deduplication, cooldown, severity and sinks") {
  ManualClock clock;
  AlertManager alerts({.history_size = 3, .clock = clock.function()});
  alerts.add_rule({.name = "slow",
                   .metric = "latency_p95",
                   .comparator = Comparator::greater,
                   .threshold = 0.5,
                   .for_evaluations = 3,
                   .severity = Severity::critical,
                   .cooldown = 60s});
  alerts.add_rule({.name = "inaccurate", .metric = "accuracy", .comparator = Comparator::less, .threshold = 0.8});
  std::vector<Alert> received;
  alerts.add_sink([&](const Alert& a) { received.push_back(a); });
  alerts.add_sink([](const Alert&) { throw std::runtime_error("sink down"); });
  const std::string path = "alerts_test_" + std::to_string(aimastery::test::test_seed()) + ".jsonl";
  std::remove(path.c_str());
  alerts.add_jsonl_sink(path);

  auto eval = [&](double p95, double accuracy) {
    clock.advance(10s);
    return alerts.evaluate({{"latency_p95", p95}, {"accuracy", accuracy}});
  };
  CHECK(eval(0.9, 0.95).empty());  // 1st holding evaluation
  CHECK(eval(0.9, 0.95).empty());  // 2nd
  auto fired = eval(0.9, 0.95);    // 3rd: fires
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].rule == "slow");
  CHECK(fired[0].severity == Severity::critical);
  CHECK(fired[0].value == 0.9);
  CHECK(eval(0.9, 0.95).empty());  // still holding: deduplicated
  CHECK(alerts.firing() == std::vector<std::string>{"slow"});
  CHECK(eval(0.1, 0.95).empty());  // clears
  CHECK(alerts.firing().empty());
  CHECK(eval(0.9, 0.95).empty());  // 30 s after firing
  CHECK(eval(0.9, 0.95).empty());  // 40 s
  CHECK(eval(0.9, 0.95).empty());  // 50 s: 3 in a row again, but within the 60 s cooldown
  CHECK(alerts.suppressed() == 1);
  fired = eval(0.9, 0.95);  // 60 s: the cooldown is over and the condition still holds
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].rule == "slow");
  CHECK(alerts.history().size() == 2);
  auto inaccurate = eval(0.1, 0.5);  // for_evaluations = 1: fires at once
  REQUIRE(inaccurate.size() == 1);
  CHECK(inaccurate[0].rule == "inaccurate");
  CHECK(inaccurate[0].message == "accuracy = 0.500000 < 0.800000");
  CHECK(eval(0.1, NAN).empty());  // NaN: not holding
  CHECK(eval(0.1, 0.5).size() == 1);
  const auto history = alerts.history();
  CHECK(history.size() == 3);  // bounded
  CHECK(history.back().sequence == 4);
  CHECK(received.size() == 4);
  CHECK(alerts.sink_failures() == 4);  // the throwing sink, once per alert; the others still ran
  std::ifstream lines(path);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    CHECK(j.contains("rule"));
    CHECK(j["sequence"] == ++count);
  }
  CHECK(count == 4);
  std::remove(path.c_str());

  // Snapshots evaluate directly.
  PerformanceMonitor monitor;
  monitor.record_classification(1, 0);
  CHECK(alerts.evaluate(monitor.snapshot()).size() == 0);  // "inaccurate" already firing (dedup)
  CHECK(alerts.remove_rule("inaccurate"));
  CHECK(!alerts.remove_rule("inaccurate"));

  CHECK_THROWS_NAMING(alerts.add_rule({.name = "slow", .metric = "x"}), InvalidArgument, "already exists");
  CHECK_THROWS_NAMING(alerts.add_rule({.name = "", .metric = "x"}), InvalidArgument, "no name");
  CHECK_THROWS_NAMING(alerts.add_rule({.name = "n", .metric = ""}), InvalidArgument, "has no metric");
  CHECK_THROWS_NAMING(alerts.add_rule({.name = "n", .metric = "x", .for_evaluations = 0}), InvalidArgument,
                      "for_evaluations");
  CHECK_THROWS_NAMING(alerts.add_rule({.name = "n", .metric = "x", .threshold = NAN}), InvalidArgument,
                      "NaN threshold");
  CHECK_THROWS_NAMING(alerts.add_jsonl_sink("/nonexistent-dir/alerts.jsonl"), InvalidArgument, "cannot open");
  CHECK_THROWS_NAMING(alerts.add_sink(nullptr), InvalidArgument, "sink is empty");
  CHECK_THROWS_NAMING(AlertManager({.history_size = 0}), InvalidArgument, "history_size");
}

TEST_SUITE("concurrency") {
  TEST_CASE("PerformanceMonitor and AlertManager under concurrent writers and readers") {
    PerformanceMonitor monitor({.window_size = 100000, .max_pending = 100000});
    AlertManager alerts;
    alerts.add_rule({.name = "errors", .metric = "error_rate", .comparator = Comparator::greater, .threshold = 0.0});
    std::atomic<int> fired{0};
    alerts.add_sink([&](const Alert&) { fired.fetch_add(1); });
    constexpr int threads = 4, per_thread = 2000;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          const std::string id = std::to_string(t) + ":" + std::to_string(i);
          monitor.record_prediction(id, i % 3);
          monitor.record_request(0.001 * (i % 7), i % 50 != 0);
          monitor.record_label(id, i % 2);
          if (i % 200 == 0) {
            (void)monitor.prometheus();
            alerts.evaluate(monitor.snapshot());
          }
        }
      });
    for (auto& w : workers) w.join();
    const auto s = monitor.snapshot();
    CHECK(s.requests_total == threads * per_thread);
    CHECK(s.labels_total == threads * per_thread);
    CHECK(s.classification_count == threads * per_thread);
    CHECK(s.pending_predictions == 0);
    CHECK(s.errors_total == threads * per_thread / 50);
    CHECK(fired.load() == 1);  // one episode, deduplicated across threads
    CHECK(alerts.evaluations() == threads * per_thread / 200);
  }
}
