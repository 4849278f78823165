#pragma once
/// \file
/// PerformanceMonitor: a thread-safe record of a served model's requests, latencies and prediction
/// quality over a sliding window (the last `window_size` records, and optionally only those younger
/// than `window_duration` on an injectable clock), exported as a snapshot or in the Prometheus text
/// exposition format.
///
/// Over the window:
///   latency p50/p95/p99     NumPy's linear-interpolation percentiles of the latencies
///   error rate              failed requests / requests
///   accuracy                Σ[y = ŷ] / n
///   precision, recall, F1   macro averages over the labels seen in y or ŷ (scikit-learn's
///                           average='macro', zero_division=0): P_c = tp/(tp+fp), R_c = tp/(tp+fn),
///                           F1_c = 2tp/(2tp+fp+fn)
///   MSE, MAE, R²            mean (y−ŷ)², mean |y−ŷ|, 1 − Σ(y−ŷ)²/Σ(y−ȳ)² (1 if both sums are 0,
///                           0 if only the denominator is)
/// Labels that arrive later are joined to their prediction by request id; the pending predictions
/// are bounded (`max_pending`, the oldest is dropped first and counted). A metric without data is NaN.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <functional>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/production/monitoring/quantile.hpp"

namespace aimastery {

using MonitorClock = std::function<std::chrono::steady_clock::time_point()>;

struct PerformanceMonitorOptions {
  std::size_t window_size = 1000;                                          ///< records kept per stream
  std::optional<std::chrono::nanoseconds> window_duration = std::nullopt;  ///< and only those this young
  std::size_t max_pending = 10000;                                         ///< predictions awaiting a label
  std::string metric_prefix = "aimastery_model";                           ///< Prometheus metric name prefix
  MonitorClock clock = [] { return std::chrono::steady_clock::now(); };
};

/// One snapshot of the window (NaN where there is no data) and of the all-time counters.
struct PerformanceSnapshot {
  std::size_t requests = 0, errors = 0;  ///< in the window
  double error_rate = NAN;
  std::size_t latency_count = 0;
  double latency_mean = NAN, latency_p50 = NAN, latency_p95 = NAN, latency_p99 = NAN;
  std::size_t classification_count = 0;
  double accuracy = NAN, precision = NAN, recall = NAN, f1 = NAN;
  std::size_t regression_count = 0;
  double mse = NAN, mae = NAN, r2 = NAN;
  std::size_t pending_predictions = 0;
  // All-time counters.
  std::size_t requests_total = 0, errors_total = 0, predictions_total = 0, labels_total = 0;
  std::size_t unmatched_labels_total = 0, dropped_predictions_total = 0;
  double latency_sum_total = 0;
  std::size_t latency_count_total = 0;

  /// The window's metrics by name ("accuracy", "latency_p95", "error_rate", ...), for AlertManager.
  /// (The map type is a template parameter only so that the map is built and compiled where it is asked
  /// for; call it as metrics(), which returns a std::map<std::string, double>.)
  template <class Map = std::map<std::string, double>>
  [[nodiscard]] Map metrics() const {
    return {{"error_rate", error_rate},
            {"latency_mean", latency_mean},
            {"latency_p50", latency_p50},
            {"latency_p95", latency_p95},
            {"latency_p99", latency_p99},
            {"accuracy", accuracy},
            {"precision", precision},
            {"recall", recall},
            {"f1", f1},
            {"mse", mse},
            {"mae", mae},
            {"r2", r2},
            {"requests", static_cast<double>(requests)},
            {"pending_predictions", static_cast<double>(pending_predictions)}};
  }
};

namespace detail {

/// NumPy's default percentile (linear interpolation) of unsorted values, q in [0, 100].
template <class = void>
double percentile_linear(std::vector<double> values, double q) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  return quantile_sorted(values, q / 100.0);
}

/// Prometheus sample value: Go's float syntax (NaN, +Inf, -Inf).
template <class = void>
std::string prometheus_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace detail

/// The monitor. A class template only so that its members are compiled in the files that use a monitor,
/// not in every file that includes this header: PerformanceMonitor (below) is the one to use.
template <class = void>
class BasicPerformanceMonitor {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit BasicPerformanceMonitor(PerformanceMonitorOptions options = {}) : options_(std::move(options)) {
    require(options_.window_size > 0, "PerformanceMonitor", "window_size must be positive");
    require(options_.max_pending > 0, "PerformanceMonitor", "max_pending must be positive");
    require(!options_.window_duration || options_.window_duration->count() > 0, "PerformanceMonitor",
            "window_duration must be positive");
    require(static_cast<bool>(options_.clock), "PerformanceMonitor", "clock is empty");
    require(valid_metric_name(options_.metric_prefix), "PerformanceMonitor",
            [&] { return "metric_prefix \"" + options_.metric_prefix + "\" is not a valid Prometheus metric name"; });
  }

  /// One served request: its latency in seconds (finite, ≥ 0) and whether it succeeded.
  void record_request(double latency_seconds, bool success = true) {
    require(std::isfinite(latency_seconds) && latency_seconds >= 0, "PerformanceMonitor::record_request",
            [&] { return "latency must be finite and >= 0, got " + std::to_string(latency_seconds); });
    std::lock_guard lock(mutex_);
    const TimePoint now = options_.clock();
    push(requests_, {now, latency_seconds, success ? 0.0 : 1.0});
    ++requests_total_;
    errors_total_ += success ? 0 : 1;
    latency_sum_total_ += latency_seconds;
  }

  /// A classification outcome whose label is known now.
  void record_classification(Index truth, Index predicted) {
    std::lock_guard lock(mutex_);
    push(classifications_, {options_.clock(), static_cast<double>(truth), static_cast<double>(predicted)});
  }
  /// A regression outcome whose target is known now (both finite).
  void record_regression(double truth, double predicted) {
    require(std::isfinite(truth) && std::isfinite(predicted), "PerformanceMonitor::record_regression",
            "truth and prediction must be finite");
    std::lock_guard lock(mutex_);
    push(regressions_, {options_.clock(), truth, predicted});
  }

  /// A class prediction whose label will arrive later under the same request id.
  void record_prediction(const std::string& request_id, Index predicted_class) {
    add_pending("PerformanceMonitor::record_prediction", request_id, Pending{predicted_class});
  }
  /// A regression prediction whose target will arrive later.
  void record_prediction_value(const std::string& request_id, double predicted) {
    require(std::isfinite(predicted), "PerformanceMonitor::record_prediction_value", "prediction must be finite");
    add_pending("PerformanceMonitor::record_prediction_value", request_id, Pending{predicted});
  }
  /// The label of an earlier class prediction; false when no pending prediction has this id.
  bool record_label(const std::string& request_id, Index truth) {
    return join("PerformanceMonitor::record_label", request_id, Pending{truth});
  }
  /// The target of an earlier regression prediction; false when no pending prediction has this id.
  bool record_label_value(const std::string& request_id, double truth) {
    require(std::isfinite(truth), "PerformanceMonitor::record_label_value", "target must be finite");
    return join("PerformanceMonitor::record_label_value", request_id, Pending{truth});
  }

  [[nodiscard]] PerformanceSnapshot snapshot() {
    std::lock_guard lock(mutex_);
    const TimePoint now = options_.clock();
    prune(requests_, now);
    prune(classifications_, now);
    prune(regressions_, now);
    PerformanceSnapshot s;
    s.requests = requests_.size();
    std::vector<double> latencies;
    latencies.reserve(requests_.size());
    for (const auto& r : requests_) {
      latencies.push_back(r.a);
      s.errors += r.b > 0 ? 1 : 0;
    }
    if (s.requests > 0) {
      s.error_rate = static_cast<double>(s.errors) / static_cast<double>(s.requests);
      s.latency_count = latencies.size();
      double sum = 0;
      for (double v : latencies) sum += v;
      s.latency_mean = sum / static_cast<double>(latencies.size());
      s.latency_p50 = detail::percentile_linear(latencies, 50);
      s.latency_p95 = detail::percentile_linear(latencies, 95);
      s.latency_p99 = detail::percentile_linear(latencies, 99);
    }
    classification_metrics(s);
    regression_metrics(s);
    s.pending_predictions = pending_.size();
    s.requests_total = requests_total_;
    s.errors_total = errors_total_;
    s.predictions_total = predictions_total_;
    s.labels_total = labels_total_;
    s.unmatched_labels_total = unmatched_labels_total_;
    s.dropped_predictions_total = dropped_predictions_total_;
    s.latency_sum_total = latency_sum_total_;
    s.latency_count_total = requests_total_;
    return s;
  }

  /// The Prometheus text exposition format (version 0.0.4): a summary of the window's latency
  /// (quantiles 0.5, 0.95, 0.99; _sum and _count over all time), counters (_total) and gauges.
  [[nodiscard]] std::string prometheus() {
    const PerformanceSnapshot s = snapshot();
    const std::string& p = options_.metric_prefix;
    std::string out;
    auto header = [&](const std::string& name, const char* type, const char* help) {
      out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    auto sample = [&](const std::string& name, double v, const std::string& labels = "") {
      out += name + labels + " " + detail::prometheus_number(v) + "\n";
    };
    const std::string latency = p + "_request_latency_seconds";
    header(latency, "summary", "Request latency in seconds (quantiles over the sliding window).");
    sample(latency, s.latency_p50, "{quantile=\"0.5\"}");
    sample(latency, s.latency_p95, "{quantile=\"0.95\"}");
    sample(latency, s.latency_p99, "{quantile=\"0.99\"}");
    sample(latency + "_sum", s.latency_sum_total);
    sample(latency + "_count", static_cast<double>(s.latency_count_total));
    auto counter = [&](const std::string& name, std::size_t v, const char* help) {
      header(p + name, "counter", help);
      sample(p + name, static_cast<double>(v));
    };
    counter("_requests_total", s.requests_total, "Requests served.");
    counter("_request_errors_total", s.errors_total, "Requests that failed.");
    counter("_predictions_total", s.predictions_total, "Predictions recorded to await a label.");
    counter("_labels_total", s.labels_total, "Labels joined to their prediction.");
    counter("_unmatched_labels_total", s.unmatched_labels_total, "Labels whose request id had no pending prediction.");
    counter("_dropped_predictions_total", s.dropped_predictions_total,
            "Pending predictions dropped because the pending map was full.");
    auto gauge = [&](const std::string& name, double v, const char* help) {
      header(p + name, "gauge", help);
      sample(p + name, v);
    };
    gauge("_error_rate", s.error_rate, "Share of failed requests in the window.");
    gauge("_accuracy", s.accuracy, "Classification accuracy over the window.");
    gauge("_precision_macro", s.precision, "Macro-averaged precision over the window.");
    gauge("_recall_macro", s.recall, "Macro-averaged recall over the window.");
    gauge("_f1_macro", s.f1, "Macro-averaged F1 over the window.");
    gauge("_mse", s.mse, "Regression mean squared error over the window.");
    gauge("_mae", s.mae, "Regression mean absolute error over the window.");
    gauge("_r2", s.r2, "Regression coefficient of determination over the window.");
    gauge("_pending_predictions", static_cast<double>(s.pending_predictions), "Predictions awaiting a label.");
    return out;
  }

  [[nodiscard]] const PerformanceMonitorOptions& options() const noexcept { return options_; }

 private:
  struct Record {
    TimePoint at;
    double a, b;  // (latency, failed) or (truth, prediction)
  };
  using Pending = std::variant<Index, double>;
  struct PendingEntry {
    Pending prediction;
    std::list<std::string>::iterator order;
  };

  static bool valid_metric_name(const std::string& name) {
    if (name.empty()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
      const char c = name[i];
      const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
      if (!(letter || (i > 0 && c >= '0' && c <= '9'))) return false;
    }
    return true;
  }

  void push(std::deque<Record>& stream, Record r) {
    stream.push_back(r);
    prune(stream, r.at);
  }
  void prune(std::deque<Record>& stream, TimePoint now) const {
    while (stream.size() > options_.window_size) stream.pop_front();
    if (options_.window_duration)
      while (!stream.empty() && now - stream.front().at > *options_.window_duration) stream.pop_front();
  }

  void add_pending(const char* where, const std::string& id, Pending prediction) {
    require(!id.empty(), where, "request_id is empty");
    std::lock_guard lock(mutex_);
    require(pending_.find(id) == pending_.end(), where,
            [&] { return "request_id \"" + id + "\" already has a pending prediction"; });
    if (pending_.size() >= options_.max_pending) {  // drop the oldest
      pending_.erase(pending_order_.front());
      pending_order_.pop_front();
      ++dropped_predictions_total_;
    }
    pending_order_.push_back(id);
    pending_.emplace(id, PendingEntry{prediction, std::prev(pending_order_.end())});
    ++predictions_total_;
  }

  bool join(const char* where, const std::string& id, Pending truth) {
    std::lock_guard lock(mutex_);
    const auto it = pending_.find(id);
    if (it == pending_.end()) {
      ++unmatched_labels_total_;
      return false;
    }
    require(it->second.prediction.index() == truth.index(), where, [&] {
      return "request \"" + id + "\" holds a " +
             (std::holds_alternative<Index>(it->second.prediction) ? "class" : "regression") +
             " prediction; use the matching record_label function";
    });
    const TimePoint now = options_.clock();
    if (std::holds_alternative<Index>(truth))
      push(classifications_, {now, static_cast<double>(std::get<Index>(truth)),
                              static_cast<double>(std::get<Index>(it->second.prediction))});
    else
      push(regressions_, {now, std::get<double>(truth), std::get<double>(it->second.prediction)});
    pending_order_.erase(it->second.order);
    pending_.erase(it);
    ++labels_total_;
    return true;
  }

  void classification_metrics(PerformanceSnapshot& s) const {
    s.classification_count = classifications_.size();
    if (classifications_.empty()) return;
    struct Counts {
      double tp = 0, fp = 0, fn = 0;
    };
    std::map<double, Counts> per_label;
    double correct = 0;
    for (const auto& r : classifications_) {
      if (r.a == r.b) {
        correct += 1;
        per_label[r.a].tp += 1;
      } else {
        per_label[r.a].fn += 1;
        per_label[r.b].fp += 1;
      }
    }
    const double n = static_cast<double>(classifications_.size());
    s.accuracy = correct / n;
    double precision = 0, recall = 0, f1 = 0;
    for (const auto& [label, c] : per_label) {
      precision += c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 0.0;
      recall += c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 0.0;
      f1 += 2 * c.tp + c.fp + c.fn > 0 ? 2 * c.tp / (2 * c.tp + c.fp + c.fn) : 0.0;
    }
    const double k = static_cast<double>(per_label.size());
    s.precision = precision / k;
    s.recall = recall / k;
    s.f1 = f1 / k;
  }

  void regression_metrics(PerformanceSnapshot& s) const {
    s.regression_count = regressions_.size();
    if (regressions_.empty()) return;
    const double n = static_cast<double>(regressions_.size());
    double mean = 0, se = 0, ae = 0, tot = 0;
    for (const auto& r : regressions_) mean += r.a;
    mean /= n;
    for (const auto& r : regressions_) {
      const double e = r.a - r.b;
      se += e * e;
      ae += std::abs(e);
      tot += (r.a - mean) * (r.a - mean);
    }
    s.mse = se / n;
    s.mae = ae / n;
    s.r2 = tot > 0 ? 1.0 - se / tot : (se == 0 ? 1.0 : 0.0);
  }

  PerformanceMonitorOptions options_;
  std::mutex mutex_;
  std::deque<Record> requests_, classifications_, regressions_;
  std::unordered_map<std::string, PendingEntry> pending_;
  std::list<std::string> pending_order_;
  std::size_t requests_total_ = 0, errors_total_ = 0, predictions_total_ = 0, labels_total_ = 0;
  std::size_t unmatched_labels_total_ = 0, dropped_predictions_total_ = 0;
  double latency_sum_total_ = 0;
};

/// Thread-safe performance monitor of a served model (see the file comment).
using PerformanceMonitor = BasicPerformanceMonitor<>;

}  // namespace aimastery
