#pragma once
/// \file
/// ServingMetrics: what the server counts, in the Prometheus text exposition format (version 0.0.4).
///
///   # TYPE aimastery_requests_total counter
///   aimastery_requests_total{model="forest",code="200"} 1520
///   # TYPE aimastery_request_duration_seconds histogram
///   aimastery_request_duration_seconds_bucket{model="forest",le="0.001"} 1411
///   ...
///   aimastery_request_duration_seconds_bucket{model="forest",le="+Inf"} 1520
///   aimastery_request_duration_seconds_sum{model="forest"} 0.8312
///   aimastery_request_duration_seconds_count{model="forest"} 1520
///
/// A histogram counts observations x in cumulative buckets: bucket b counts every x ≤ le_b, the last
/// bucket (+Inf) every x, so a scraper can estimate any quantile (histogram_quantile) and aggregate
/// across servers, which precomputed percentiles cannot. Request counts by model and HTTP status,
/// request latency and batch size (rows per batched call) histograms by model are kept here; the
/// server appends the caches' hit counts and the drift statistics, each written by its own class.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace aimastery {

/// Writes the text format: a "# HELP"/"# TYPE" header once per metric family, then its samples.
class PrometheusText {
 public:
  void family(const std::string& name, const char* type, const char* help) {
    out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  /// One sample; `labels` as {{"model", "forest"}, ...}, values escaped (\\, \", \n).
  void sample(const std::string& name, const std::vector<std::pair<std::string, std::string>>& labels, double value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      for (std::size_t i = 0; i < labels.size(); ++i) {
        out_ += (i ? "," : "") + labels[i].first + "=\"";
        for (char c : labels[i].second) {
          if (c == '\\' || c == '"') out_ += '\\';
          if (c == '\n')
            out_ += "\\n";
          else
            out_ += c;
        }
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ' + number(value) + '\n';
  }
  [[nodiscard]] std::string& text() noexcept { return out_; }

  static std::string number(double v) {
    if (v != v) return "NaN";
    if (v > 1.7976931348623157e308) return "+Inf";
    if (v < -1.7976931348623157e308) return "-Inf";
    // The shorter %.15g when it reads back as the same double (le="0.00025", not "0.00025000000000000001").
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.15g", v);
    if (std::strtod(buffer, nullptr) != v) std::snprintf(buffer, sizeof buffer, "%.17g", v);
    return buffer;
  }

 private:
  std::string out_;
};

/// Cumulative-bucket counts of observations (not thread-safe by itself: ServingMetrics locks).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)), counts_(bounds_.size()) {}

  void observe(double x) {
    // Non-cumulative counts; the cumulative sums are formed when written.
    const auto b = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), x) - bounds_.begin());
    if (b < counts_.size()) ++counts_[b];
    ++count_;
    sum_ += x;
  }
  void write(PrometheusText& out, const std::string& name,
             std::vector<std::pair<std::string, std::string>> labels) const {
    std::uint64_t cumulative = 0;
    labels.emplace_back("le", "");
    for (std::size_t b = 0; b < bounds_.size(); ++b) {
      cumulative += counts_[b];
      labels.back().second = PrometheusText::number(bounds_[b]);
      out.sample(name + "_bucket", labels, static_cast<double>(cumulative));
    }
    labels.back().second = "+Inf";
    out.sample(name + "_bucket", labels, static_cast<double>(count_));
    labels.pop_back();
    out.sample(name + "_sum", labels, sum_);
    out.sample(name + "_count", labels, static_cast<double>(count_));
  }
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] double sum() const noexcept { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

/// Request, latency and batch counts of a server, by model. Thread-safe. ServingMetrics is
/// BasicServingMetrics<>, compiled only where a server uses it.
template <class = void>
class BasicServingMetrics {
 public:
  /// One answered request ("" for routes that are not about a model).
  void record_request(const std::string& model, int http_status, double seconds) {
    std::lock_guard lock(mutex_);
    ++requests_[{model, http_status}];
    if (!model.empty()) latency(model).observe(seconds);
  }
  /// One batched call of `model` on `rows` rows.
  void record_batch(const std::string& model, std::int64_t rows) {
    std::lock_guard lock(mutex_);
    auto it = batches_.find(model);
    if (it == batches_.end()) it = batches_.emplace(model, Histogram({1, 2, 4, 8, 16, 32, 64, 128, 256, 1024})).first;
    it->second.observe(static_cast<double>(rows));
  }

  /// Requests answered so far with `http_status` for `model`.
  [[nodiscard]] std::uint64_t requests(const std::string& model, int http_status) const {
    std::lock_guard lock(mutex_);
    const auto it = requests_.find({model, http_status});
    return it == requests_.end() ? 0 : it->second;
  }
  /// Count and sum of the latencies of `model` (for rates and means on the status page).
  [[nodiscard]] std::pair<std::uint64_t, double> latency_totals(const std::string& model) const {
    std::lock_guard lock(mutex_);
    const auto it = latencies_.find(model);
    return it == latencies_.end() ? std::pair<std::uint64_t, double>{0, 0.0}
                                  : std::pair{it->second.count(), it->second.sum()};
  }
  [[nodiscard]] std::pair<std::uint64_t, double> batch_totals(const std::string& model) const {
    std::lock_guard lock(mutex_);
    const auto it = batches_.find(model);
    return it == batches_.end() ? std::pair<std::uint64_t, double>{0, 0.0}
                                : std::pair{it->second.count(), it->second.sum()};
  }

  void write(PrometheusText& out) const {
    std::lock_guard lock(mutex_);
    out.family("aimastery_requests_total", "counter", "HTTP requests answered, by model and status code.");
    for (const auto& [key, n] : requests_)
      out.sample("aimastery_requests_total", {{"model", key.first}, {"code", std::to_string(key.second)}},
                 static_cast<double>(n));
    out.family("aimastery_request_duration_seconds", "histogram", "Time to answer an inference request.");
    for (const auto& [model, h] : latencies_) h.write(out, "aimastery_request_duration_seconds", {{"model", model}});
    out.family("aimastery_batch_rows", "histogram", "Rows per batched model call.");
    for (const auto& [model, h] : batches_) h.write(out, "aimastery_batch_rows", {{"model", model}});
  }

 private:
  Histogram& latency(const std::string& model) {
    auto it = latencies_.find(model);
    if (it == latencies_.end())
      it = latencies_
               .emplace(model, Histogram({0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5, 1, 2.5, 10}))
               .first;
    return it->second;
  }

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::map<std::string, Histogram> latencies_;
  std::map<std::string, Histogram> batches_;
};
using ServingMetrics = BasicServingMetrics<>;

}  // namespace aimastery
