#pragma once
/// \file
/// HealthChecker: the liveness, readiness and startup probes of a service, with the Kubernetes meanings.
///
///   startup    "has the service finished starting?" Runs the startup checks until they all pass once,
///              then latches: later startup probes pass without running them (Kubernetes stops the
///              startup probe after its first success). Until then liveness passes ("starting": a
///              process that is still loading its model must not be restarted) and readiness fails.
///   liveness   "should the process be restarted?" Fails only when a critical liveness check fails.
///   readiness  "may it receive traffic now?" Fails while starting, while the readiness gate is closed
///              (e.g. GracefulShutdown refusing new work: checked first, inline, so readiness turns false
///              at once), or when a critical readiness check fails.
/// A failing non-critical check makes the probe `degraded`: still HTTP 200, reported in the JSON.
///
/// Timeouts. The checks of a probe run in parallel, each on its own thread, and the probe waits for each
/// until its start + timeout: a check that hangs is reported as failed ("timed out after N ms") and
/// the report returns after at most the largest timeout. A hung check is not started again while it
/// still runs: later probes wait on the same run, whose deadline has passed, so they answer at once.
/// The thread of a hung check owns the check's std::function, so whatever the check captures by
/// reference must outlive it (a check that may hang should capture shared state by std::shared_ptr).

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/io/json.hpp"

namespace aimastery {

enum class ProbeKind { liveness, readiness, startup };
enum class HealthStatus { pass, degraded, fail };

inline const char* to_string(ProbeKind kind) noexcept {
  switch (kind) {
    case ProbeKind::liveness:
      return "liveness";
    case ProbeKind::readiness:
      return "readiness";
    case ProbeKind::startup:
      return "startup";
  }
  return "unknown";
}

inline const char* to_string(HealthStatus status) noexcept {
  switch (status) {
    case HealthStatus::pass:
      return "pass";
    case HealthStatus::degraded:
      return "degraded";
    case HealthStatus::fail:
      return "fail";
  }
  return "unknown";
}

/// What a check returns: healthy or not, and a message for the report.
struct CheckOutcome {
  bool healthy = true;
  std::string message = {};
};

struct HealthCheckOptions {
  std::chrono::milliseconds timeout{1000};
  bool critical = true;
};

/// One check's result inside a report.
struct CheckReport {
  std::string name;
  ProbeKind kind = ProbeKind::liveness;
  bool critical = true;
  bool healthy = false;
  bool timed_out = false;
  std::string message;
  double duration_ms = 0;  ///< time this probe waited for the check
};

struct HealthReport {
  ProbeKind probe = ProbeKind::liveness;
  HealthStatus status = HealthStatus::pass;
  std::string message;
  std::vector<CheckReport> checks;

  /// The probe's HTTP answer: 200 for pass and degraded, 503 for fail.
  [[nodiscard]] int http_status() const noexcept { return status == HealthStatus::fail ? 503 : 200; }
  [[nodiscard]] bool ok() const noexcept { return status != HealthStatus::fail; }

  /// (A template only so that it is compiled where it is called.)
  template <class Json = JsonValue>
  [[nodiscard]] Json to_json() const {
    Json checks_json = Json::array();
    for (const auto& c : checks)
      checks_json.push_back(Json::object({{"name", c.name},
                                          {"kind", to_string(c.kind)},
                                          {"critical", c.critical},
                                          {"status", c.healthy ? "pass" : "fail"},
                                          {"timed_out", c.timed_out},
                                          {"message", c.message},
                                          {"duration_ms", c.duration_ms}}));
    return Json::object({{"probe", to_string(probe)},
                         {"status", to_string(status)},
                         {"message", message},
                         {"checks", std::move(checks_json)}});
  }
};

/// The probes (use it as HealthChecker). A class template only so that a translation unit that includes
/// it without using it does not compile its members (threads, condition variables, std::function).
template <class Tag = void>
class BasicHealthChecker {
 public:
  using Check = std::function<CheckOutcome()>;

  BasicHealthChecker() = default;
  BasicHealthChecker(const BasicHealthChecker&) = delete;
  BasicHealthChecker& operator=(const BasicHealthChecker&) = delete;

  /// Adds a check to one probe. A check that throws is reported failed with the exception's message.
  void add_check(std::string name, ProbeKind kind, Check check, HealthCheckOptions options = {}) {
    static constexpr const char* where = "HealthChecker::add_check";
    require(!name.empty(), where, "name is empty");
    require(static_cast<bool>(check), where, [&] { return "check \"" + name + "\" is empty"; });
    require(options.timeout.count() > 0, where, [&] {
      return "check \"" + name + "\": timeout must be positive, got " + std::to_string(options.timeout.count()) + " ms";
    });
    std::lock_guard lock(mutex_);
    for (const auto& c : checks_)
      require(c->name != name, where, [&] { return "a check named \"" + name + "\" already exists"; });
    auto entry = std::make_shared<Entry>();
    entry->name = std::move(name);
    entry->kind = kind;
    entry->options = options;
    entry->check = std::move(check);
    checks_.push_back(std::move(entry));
  }

  /// The same for a check that answers only yes or no.
  void add_check(std::string name, ProbeKind kind, std::function<bool()> check, HealthCheckOptions options = {}) {
    require(static_cast<bool>(check), "HealthChecker::add_check", [&] { return "check \"" + name + "\" is empty"; });
    add_check(std::move(name), kind, Check([check = std::move(check)] { return CheckOutcome{check(), {}}; }), options);
  }

  /// A condition evaluated inline, first, by every readiness probe (it must be cheap and must not
  /// block): while it is false the service is not ready, whatever its checks say.
  void set_readiness_gate(std::function<bool()> gate, std::string message = "not accepting traffic") {
    std::lock_guard lock(mutex_);
    gate_ = std::move(gate);
    gate_message_ = std::move(message);
  }

  /// True once every critical startup check has passed in one startup probe.
  [[nodiscard]] bool started() const {
    std::lock_guard lock(mutex_);
    return started_;
  }

  HealthReport startup() {
    {
      std::lock_guard lock(mutex_);
      if (started_) return {ProbeKind::startup, HealthStatus::pass, "started", {}};
    }
    HealthReport report = run(ProbeKind::startup);
    if (report.ok()) {
      std::lock_guard lock(mutex_);
      started_ = true;
    }
    return report;
  }

  HealthReport liveness() {
    if (!started_or_probe()) return {ProbeKind::liveness, HealthStatus::pass, "starting", {}};
    return run(ProbeKind::liveness);
  }

  HealthReport readiness() {
    std::function<bool()> gate;
    std::string gate_message;
    {
      std::lock_guard lock(mutex_);
      gate = gate_;
      gate_message = gate_message_;
    }
    if (gate && !gate()) return {ProbeKind::readiness, HealthStatus::fail, gate_message, {}};
    if (!started_or_probe()) return {ProbeKind::readiness, HealthStatus::fail, "starting", {}};
    return run(ProbeKind::readiness);
  }

  /// The three probes in one JSON object: {"status", "startup", "liveness", "readiness"}, where the
  /// overall status is the worst of the three.
  JsonValue report() {
    const HealthReport s = startup(), l = liveness(), r = readiness();
    const HealthStatus worst = std::max({s.status, l.status, r.status});
    return JsonValue::object({{"status", to_string(worst)},
                              {"startup", s.to_json()},
                              {"liveness", l.to_json()},
                              {"readiness", r.to_json()}});
  }

 private:
  /// One execution of a check, shared by the thread that runs it and every probe that waits for it.
  struct Run {
    std::mutex mutex;
    std::condition_variable done_signal;
    bool done = false;
    CheckOutcome outcome;
    std::chrono::steady_clock::time_point started;
  };
  struct Entry {
    std::string name;
    ProbeKind kind = ProbeKind::liveness;
    HealthCheckOptions options;
    Check check;
    std::shared_ptr<Run> current;  // guarded by HealthChecker::mutex_
  };

  /// Without startup checks a service counts as started; otherwise it has started once a startup
  /// probe passed (this does not run the startup checks).
  bool started_or_probe() {
    std::lock_guard lock(mutex_);
    if (started_) return true;
    const bool any_startup =
        std::any_of(checks_.begin(), checks_.end(), [](const auto& c) { return c->kind == ProbeKind::startup; });
    if (!any_startup) started_ = true;
    return started_;
  }

  HealthReport run(ProbeKind kind) {
    // Start (or join) one run per check, all in parallel.
    std::vector<std::pair<std::shared_ptr<Entry>, std::shared_ptr<Run>>> runs;
    {
      std::lock_guard lock(mutex_);
      for (const auto& entry : checks_) {
        if (entry->kind != kind) continue;
        bool running = false;
        if (entry->current) {
          std::lock_guard run_lock(entry->current->mutex);
          running = !entry->current->done;
        }
        if (!running) entry->current = start(entry);
        runs.emplace_back(entry, entry->current);
      }
    }
    HealthReport report{kind, HealthStatus::pass, "", {}};
    for (const auto& started_run : runs) {
      const std::shared_ptr<Entry>& entry = started_run.first;
      const std::shared_ptr<Run>& run = started_run.second;  // named: lambdas cannot capture bindings (clang 14)
      const auto deadline = run->started + entry->options.timeout;
      const auto waited_from = std::chrono::steady_clock::now();
      CheckReport c{entry->name, kind, entry->options.critical, false, false, "", 0.0};
      std::unique_lock run_lock(run->mutex);
      if (run->done_signal.wait_until(run_lock, deadline, [&] { return run->done; })) {
        c.healthy = run->outcome.healthy;
        c.message = run->outcome.message;
      } else {
        c.timed_out = true;
        c.message = "timed out after " + std::to_string(entry->options.timeout.count()) + " ms";
      }
      run_lock.unlock();
      c.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - waited_from).count();
      if (!c.healthy) {
        if (c.critical)
          report.status = HealthStatus::fail;
        else if (report.status == HealthStatus::pass)
          report.status = HealthStatus::degraded;
      }
      report.checks.push_back(std::move(c));
    }
    std::string failing;
    for (const auto& c : report.checks)
      if (!c.healthy) failing += (failing.empty() ? "" : ", ") + c.name;
    report.message = failing.empty() ? "all checks pass" : "failing: " + failing;
    return report;
  }

  /// Runs the check on a detached thread that owns what it touches (the entry and the run), so a hung
  /// check outlives the probe, and even the HealthChecker, without dangling.
  static std::shared_ptr<Run> start(const std::shared_ptr<Entry>& entry) {
    auto run = std::make_shared<Run>();
    run->started = std::chrono::steady_clock::now();
    std::thread([entry, run] {
      CheckOutcome outcome;
      try {
        outcome = entry->check();
      } catch (const std::exception& e) {
        outcome = {false, std::string("threw: ") + e.what()};
      } catch (...) {
        outcome = {false, "threw a non-standard exception"};
      }
      std::lock_guard lock(run->mutex);
      run->outcome = std::move(outcome);
      run->done = true;
      run->done_signal.notify_all();
    }).detach();
    return run;
  }

  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Entry>> checks_;
  std::function<bool()> gate_;
  std::string gate_message_;
  bool started_ = false;
};

using HealthChecker = BasicHealthChecker<>;

}  // namespace aimastery
