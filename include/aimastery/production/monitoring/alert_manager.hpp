#pragma once
/// \file
/// AlertManager: rules on named metrics, evaluated on demand (e.g. on each PerformanceSnapshot).
///
/// A rule "metric ⋈ threshold" (⋈ one of >, ≥, <, ≤, =, ≠) must hold for `for_evaluations`
/// consecutive evaluations before it fires; a missing or NaN metric counts as not holding. A rule fires
/// once per episode (deduplication): it fires again only after the condition has cleared, and not
/// before `cooldown` has passed since it last fired (a new episode inside the cooldown fires when the
/// cooldown ends, if the condition still holds). Fired alerts go to every sink (callbacks, JSON-lines
/// files), outside the manager's lock, and into a bounded history. A sink that throws is counted in
/// sink_failures() and does not stop the others.

#include <chrono>
#include <cmath>
#include <cstddef>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/io/json_fwd.hpp"
#include "aimastery/production/monitoring/performance_monitor.hpp"

namespace aimastery {

enum class Comparator { greater, greater_equal, less, less_equal, equal, not_equal };
enum class Severity { info, warning, critical };

inline std::string to_string(Comparator c) {
  switch (c) {
    case Comparator::greater:
      return ">";
    case Comparator::greater_equal:
      return ">=";
    case Comparator::less:
      return "<";
    case Comparator::less_equal:
      return "<=";
    case Comparator::equal:
      return "==";
    default:
      return "!=";
  }
}

inline std::string to_string(Severity s) {
  switch (s) {
    case Severity::info:
      return "info";
    case Severity::warning:
      return "warning";
    default:
      return "critical";
  }
}

struct AlertRule {
  std::string name;
  std::string metric;
  Comparator comparator = Comparator::greater;
  double threshold = 0;
  std::size_t for_evaluations = 1;  ///< consecutive evaluations the condition must hold
  Severity severity = Severity::warning;
  std::chrono::nanoseconds cooldown{0};
  std::string message = {};
};

struct Alert;
template <class Json>
void to_json(Json& j, const Alert& a);

struct Alert {
  std::string rule;
  std::string metric;
  Severity severity = Severity::warning;
  double value = 0;
  Comparator comparator = Comparator::greater;
  double threshold = 0;
  std::string message;
  std::size_t sequence = 0;  ///< 1, 2, ... in firing order
  std::chrono::steady_clock::time_point fired_at;
  std::int64_t unix_time_ms = 0;  ///< wall-clock time of firing (system_clock)

  /// The alert as JSON, by the free to_json below. Needs io/json.hpp where it is called
  /// (aimastery/production/monitoring/json.hpp includes it); `to_json<nlohmann::json>()` where
  /// <nlohmann/json.hpp> is included.
  template <class Json = JsonValue>
  [[nodiscard]] Json to_json() const {
    Json j;
    aimastery::to_json(j, *this);
    return j;
  }
};

/// One fired alert as JSON (as written by AlertManager's JSON-lines sink), in a JsonValue or an
/// nlohmann::json (found by nlohmann/json, so `nlohmann::json j = alert;` works where
/// <nlohmann/json.hpp> is included).
template <class Json>
void to_json(Json& j, const Alert& a) {
  j = Json::object();
  j["rule"] = a.rule;
  j["metric"] = a.metric;
  j["severity"] = to_string(a.severity);
  j["value"] = a.value;
  j["comparator"] = to_string(a.comparator);
  j["threshold"] = a.threshold;
  j["message"] = a.message;
  j["sequence"] = a.sequence;
  j["unix_time_ms"] = a.unix_time_ms;
}

struct AlertManagerOptions {
  std::size_t history_size = 1000;
  MonitorClock clock = [] { return std::chrono::steady_clock::now(); };
};

/// The manager. A class template only so that its members are compiled in the files that use a manager,
/// not in every file that includes this header: AlertManager (below) is the one to use.
template <class = void>
class BasicAlertManager {
 public:
  using Sink = std::function<void(const Alert&)>;

  explicit BasicAlertManager(AlertManagerOptions options = {}) : options_(std::move(options)) {
    require(options_.history_size > 0, "AlertManager", "history_size must be positive");
    require(static_cast<bool>(options_.clock), "AlertManager", "clock is empty");
  }

  BasicAlertManager& add_rule(AlertRule rule) {
    constexpr const char* where = "AlertManager::add_rule";
    require(!rule.name.empty(), where, "the rule has no name");
    require(!rule.metric.empty(), where, [&] { return "rule \"" + rule.name + "\" has no metric"; });
    require(!std::isnan(rule.threshold), where, [&] { return "rule \"" + rule.name + "\" has a NaN threshold"; });
    require(rule.for_evaluations >= 1, where,
            [&] { return "rule \"" + rule.name + "\": for_evaluations must be >= 1"; });
    require(rule.cooldown.count() >= 0, where, [&] { return "rule \"" + rule.name + "\": cooldown must be >= 0"; });
    std::lock_guard lock(mutex_);
    require(rules_.find(rule.name) == rules_.end(), where,
            [&] { return "a rule named \"" + rule.name + "\" already exists"; });
    const std::string name = rule.name;
    rules_.emplace(name, RuleState{std::move(rule)});
    return *this;
  }

  bool remove_rule(const std::string& name) {
    std::lock_guard lock(mutex_);
    return rules_.erase(name) > 0;
  }

  BasicAlertManager& add_sink(Sink sink) {
    require(static_cast<bool>(sink), "AlertManager::add_sink", "the sink is empty");
    std::lock_guard lock(sink_mutex_);
    sinks_.push_back(std::move(sink));
    return *this;
  }

  /// Appends each alert as one JSON line to `path` (opened now, in append mode).
  /// Needs io/json.hpp where it is called (aimastery/production/monitoring/json.hpp includes it).
  template <class Json = JsonValue>
  BasicAlertManager& add_jsonl_sink(const std::string& path) {
    auto file = std::make_shared<std::ofstream>(path, std::ios::app);
    require(file->is_open(), "AlertManager::add_jsonl_sink",
            [&] { return "cannot open \"" + path + "\" for appending"; });
    return add_sink([file](const Alert& a) {
      *file << a.template to_json<Json>().dump() << '\n';
      file->flush();
      if (!*file) throw std::runtime_error("AlertManager: writing the JSON-lines sink failed");
    });
  }

  /// Evaluates every rule on the metrics; returns the alerts fired now (already sent to the sinks).
  std::vector<Alert> evaluate(const std::map<std::string, double>& metrics) {
    std::vector<Alert> fired;
    {
      std::lock_guard lock(mutex_);
      const auto now = options_.clock();
      ++evaluations_;
      for (auto& [name, state] : rules_) {
        const AlertRule& rule = state.rule;
        const auto it = metrics.find(rule.metric);
        const double value = it == metrics.end() ? NAN : it->second;
        if (!holds(rule, value)) {
          state.consecutive = 0;
          state.firing = false;
          continue;
        }
        ++state.consecutive;
        if (state.firing || state.consecutive < rule.for_evaluations) continue;
        if (state.fired_once && now - state.last_fired < rule.cooldown) {
          ++suppressed_;
          continue;
        }
        state.firing = true;
        state.fired_once = true;
        state.last_fired = now;
        Alert alert{
            rule.name,
            rule.metric,
            rule.severity,
            value,
            rule.comparator,
            rule.threshold,
            rule.message.empty() ? rule.metric + " = " + std::to_string(value) + " " + to_string(rule.comparator) +
                                       " " + std::to_string(rule.threshold)
                                 : rule.message,
            ++sequence_,
            now,
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count()};
        history_.push_back(alert);
        while (history_.size() > options_.history_size) history_.pop_front();
        fired.push_back(std::move(alert));
      }
    }
    if (!fired.empty()) {
      std::lock_guard lock(sink_mutex_);
      for (const auto& alert : fired)
        for (const auto& sink : sinks_) {
          try {
            sink(alert);
          } catch (...) {
            ++sink_failures_;
          }
        }
    }
    return fired;
  }

  std::vector<Alert> evaluate(const PerformanceSnapshot& snapshot) { return evaluate(snapshot.metrics()); }

  /// The most recent alerts, oldest first (at most history_size).
  [[nodiscard]] std::vector<Alert> history() const {
    std::lock_guard lock(mutex_);
    return {history_.begin(), history_.end()};
  }
  /// Names of the rules whose current episode has fired.
  [[nodiscard]] std::vector<std::string> firing() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, state] : rules_)
      if (state.firing) out.push_back(name);
    return out;
  }
  [[nodiscard]] std::size_t suppressed() const {
    std::lock_guard lock(mutex_);
    return suppressed_;
  }
  [[nodiscard]] std::size_t sink_failures() const {
    std::lock_guard lock(sink_mutex_);
    return sink_failures_;
  }
  [[nodiscard]] std::size_t evaluations() const {
    std::lock_guard lock(mutex_);
    return evaluations_;
  }

 private:
  struct RuleState {
    AlertRule rule;
    std::size_t consecutive = 0;
    bool firing = false;
    bool fired_once = false;
    std::chrono::steady_clock::time_point last_fired{};
  };

  static bool holds(const AlertRule& r, double v) {
    if (std::isnan(v)) return false;
    switch (r.comparator) {
      case Comparator::greater:
        return v > r.threshold;
      case Comparator::greater_equal:
        return v >= r.threshold;
      case Comparator::less:
        return v < r.threshold;
      case Comparator::less_equal:
        return v <= r.threshold;
      case Comparator::equal:
        return v == r.threshold;
      default:
        return v != r.threshold;
    }
  }

  AlertManagerOptions options_;
  mutable std::mutex mutex_, sink_mutex_;
  std::map<std::string, RuleState> rules_;
  std::vector<Sink> sinks_;
  std::deque<Alert> history_;
  std::size_t sequence_ = 0, suppressed_ = 0, sink_failures_ = 0, evaluations_ = 0;
};

/// Alert rules on named metrics (see the file comment).
using AlertManager = BasicAlertManager<>;

}  // namespace aimastery
