// HealthChecker: probe semantics (startup latch, liveness while starting, readiness gate), critical and
// non-critical checks, checks that throw or hang (bounded by their timeout), the JSON report, bad inputs,
// and probes from many threads at once.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aimastery/production/deployment/health_checker.hpp"
#include "support.hpp"

using namespace aimastery;
using namespace std::chrono_literals;

namespace {

/// A check that blocks until released: a hung dependency.
struct Hang {
  std::mutex mutex;
  std::condition_variable released_signal;
  bool released = false;
  std::atomic<int> running{0};

  CheckOutcome operator()() {
    ++running;
    std::unique_lock lock(mutex);
    released_signal.wait(lock, [&] { return released; });
    --running;
    return {true, "finally answered"};
  }
  void release() {
    {
      std::lock_guard lock(mutex);
      released = true;
    }
    released_signal.notify_all();
    while (running.load() > 0) std::this_thread::sleep_for(1ms);  // let the detached thread leave
  }
};

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

TEST_CASE("HealthChecker: critical failures fail the probe, non-critical ones degrade it") {
  HealthChecker health;
  bool database_up = true, cache_up = true;
  health.add_check("database", ProbeKind::readiness, std::function<bool()>([&] { return database_up; }));
  health.add_check("cache", ProbeKind::readiness,
                   [&] {
                     return CheckOutcome{cache_up, cache_up ? "" : "redis unreachable"};
                   },
                   {.critical = false});
  health.add_check("process", ProbeKind::liveness, std::function<bool()>([] { return true; }));

  HealthReport r = health.readiness();
  CHECK(r.status == HealthStatus::pass);
  CHECK(r.http_status() == 200);
  CHECK(r.checks.size() == 2);

  cache_up = false;
  r = health.readiness();
  CHECK(r.status == HealthStatus::degraded);
  CHECK(r.http_status() == 200);
  CHECK(r.message == "failing: cache");
  const JsonValue j = r.to_json();
  CHECK(j.at("status") == "degraded");
  CHECK(j.at("probe") == "readiness");
  CHECK(j.at("checks").at(1).at("name") == "cache");
  CHECK(j.at("checks").at(1).at("status") == "fail");
  CHECK(j.at("checks").at(1).at("critical") == false);
  CHECK(j.at("checks").at(1).at("message") == "redis unreachable");
  CHECK(j.at("checks").at(1).at("duration_ms").is_number_float());

  database_up = false;
  r = health.readiness();
  CHECK(r.status == HealthStatus::fail);
  CHECK(r.http_status() == 503);
  CHECK(r.message == "failing: database, cache");
  CHECK(health.liveness().status == HealthStatus::pass);  // readiness failures do not restart the process

  const JsonValue all = health.report();
  CHECK(all.at("status") == "fail");
  CHECK(all.at("liveness").at("status") == "pass");
  CHECK(all.at("startup").at("status") == "pass");
  CHECK(JsonValue::parse(all.dump()) == all);
}

TEST_CASE("HealthChecker: startup gates the other probes, then latches") {
  HealthChecker health;
  std::atomic<bool> loaded{false};
  std::atomic<int> startup_calls{0}, readiness_calls{0};
  health.add_check("model loaded", ProbeKind::startup, std::function<bool()>([&] {
                     ++startup_calls;
                     return loaded.load();
                   }));
  health.add_check("ready", ProbeKind::readiness, std::function<bool()>([&] {
                     ++readiness_calls;
                     return true;
                   }));
  CHECK(health.startup().status == HealthStatus::fail);
  CHECK_FALSE(health.started());
  HealthReport live = health.liveness();
  CHECK(live.status == HealthStatus::pass);  // starting is alive: no restart while loading
  CHECK(live.message == "starting");
  HealthReport ready = health.readiness();
  CHECK(ready.status == HealthStatus::fail);
  CHECK(ready.message == "starting");
  CHECK(readiness_calls == 0);

  loaded = true;
  CHECK(health.startup().status == HealthStatus::pass);
  CHECK(health.started());
  const int calls = startup_calls;
  loaded = false;  // a started service does not un-start
  CHECK(health.startup().status == HealthStatus::pass);
  CHECK(startup_calls == calls);
  CHECK(health.readiness().status == HealthStatus::pass);
  CHECK(readiness_calls == 1);
}

TEST_CASE("HealthChecker: a closed readiness gate fails readiness at once, without running the checks") {
  HealthChecker health;
  std::atomic<bool> accepting{true};
  std::atomic<int> calls{0};
  health.add_check("ready", ProbeKind::readiness, std::function<bool()>([&] {
                     ++calls;
                     return true;
                   }));
  health.set_readiness_gate([&] { return accepting.load(); }, "shutting down");
  CHECK(health.readiness().ok());
  accepting = false;
  const HealthReport r = health.readiness();
  CHECK(r.status == HealthStatus::fail);
  CHECK(r.message == "shutting down");
  CHECK(calls == 1);
  CHECK(health.liveness().ok());
}

TEST_CASE("HealthChecker: a check that throws fails with its message") {
  HealthChecker health;
  health.add_check("disk", ProbeKind::liveness,
                   std::function<bool()>([]() -> bool { throw std::runtime_error("disk full"); }));
  const HealthReport r = health.liveness();
  CHECK(r.status == HealthStatus::fail);
  CHECK(r.checks[0].message == "threw: disk full");
}

TEST_CASE("HealthChecker: a hanging check fails after its timeout and does not block later probes") {
  HealthChecker health;
  Hang hang;
  health.add_check("upstream", ProbeKind::readiness, [&] { return hang(); }, {.timeout = 200ms, .critical = true});
  health.add_check("fast", ProbeKind::readiness, std::function<bool()>([] { return true; }));
  auto start = std::chrono::steady_clock::now();
  HealthReport r = health.readiness();
  const double first_ms = elapsed_ms(start);
  CHECK(r.status == HealthStatus::fail);
  CHECK(r.checks[0].timed_out);
  CHECK(r.checks[0].message == "timed out after 200 ms");
  CHECK(r.checks[1].healthy);
  CHECK(first_ms >= 190);
  CHECK(first_ms < 5000);

  // The hung run is not started again: the next probe finds its deadline passed and answers at once.
  start = std::chrono::steady_clock::now();
  r = health.readiness();
  CHECK(r.checks[0].timed_out);
  CHECK(elapsed_ms(start) < 150);
  CHECK(hang.running == 1);

  hang.release();
  r = health.readiness();
  CHECK(r.status == HealthStatus::pass);
}

TEST_CASE("HealthChecker: the checks of one probe run in parallel, so hung checks cost the largest timeout") {
  HealthChecker health;
  Hang a, b;
  health.add_check("a", ProbeKind::liveness, [&] { return a(); }, {.timeout = 300ms});
  health.add_check("b", ProbeKind::liveness, [&] { return b(); }, {.timeout = 300ms});
  const auto start = std::chrono::steady_clock::now();
  const HealthReport r = health.liveness();
  const double ms = elapsed_ms(start);
  CHECK(r.status == HealthStatus::fail);
  CHECK(r.checks[0].timed_out);
  CHECK(r.checks[1].timed_out);
  CHECK(ms < 590);  // in sequence it would take at least 600 ms
  a.release();
  b.release();
}

TEST_CASE("HealthChecker: bad inputs are refused by name") {
  HealthChecker health;
  health.add_check("x", ProbeKind::liveness, std::function<bool()>([] { return true; }));
  CHECK_THROWS_NAMING(health.add_check("", ProbeKind::liveness, std::function<bool()>([] { return true; })),
                      InvalidArgument, "name is empty");
  CHECK_THROWS_NAMING(health.add_check("x", ProbeKind::readiness, std::function<bool()>([] { return true; })),
                      InvalidArgument, "a check named \"x\" already exists");
  CHECK_THROWS_NAMING(health.add_check("y", ProbeKind::liveness, std::function<bool()>()), InvalidArgument,
                      "check \"y\" is empty");
  CHECK_THROWS_NAMING(health.add_check("z", ProbeKind::liveness, HealthChecker::Check()), InvalidArgument,
                      "check \"z\" is empty");
  CHECK_THROWS_NAMING(
      health.add_check("w", ProbeKind::liveness, std::function<bool()>([] { return true; }), {.timeout = 0ms}),
      InvalidArgument, "check \"w\": timeout must be positive");
  CHECK(health.liveness().checks.size() == 1);  // nothing was added
}

TEST_CASE("HealthChecker: probes from many threads at once") {
  HealthChecker health;
  std::atomic<int> calls{0};
  health.add_check("slow", ProbeKind::readiness, std::function<bool()>([&] {
                     ++calls;
                     std::this_thread::sleep_for(1ms);
                     return true;
                   }));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 30; ++i)
        if (!health.readiness().ok()) ++failures;
    });
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(calls >= 30);  // concurrent probes may share one run of the check
  CHECK(calls <= 180);
}
