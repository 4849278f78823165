// Deployment strategies over the registry: blue-green switches, canary routing by request-id hash (share
// within tolerance, sticky callers), promotion, rollback, and the automatic rollback driven by a
// PerformanceMonitor metric.

#include <cmath>
#include <string>

#include "aimastery/production/deployment/deployment_strategy.hpp"
#include "support.hpp"
#include "temp_folder.hpp"

using namespace aimastery;
using aimastery::test::TempFolder;

namespace {

/// A registry with versions 1..n of model "m".
void fill(ModelVersionManager& registry, int n) {
  for (int i = 1; i <= n; ++i) registry.register_bytes("m", {{"w", std::to_string(i)}});
}

}  // namespace

TEST_CASE("traffic_point: deterministic, in [0, 1), and a share s selects a fraction s of the ids") {
  CHECK(traffic_point("user-1") == traffic_point("user-1"));
  CHECK(traffic_point("user-1") != traffic_point("user-2"));
  CHECK(traffic_point("user-1", 1) != traffic_point("user-1", 2));
  // Over n ids the selected count is Binomial(n, s): standard deviation √(s(1−s)/n) of the fraction;
  // 5 of them is the tolerance (a false failure once in ~3.5 million runs).
  constexpr int n = 100000;
  for (double share : {0.01, 0.1, 0.5}) {
    for (std::uint64_t seed : {0ull, 7ull}) {
      int selected = 0;
      for (int i = 0; i < n; ++i) {
        const double p = traffic_point("user-" + std::to_string(i), seed);
        REQUIRE(p >= 0.0);
        REQUIRE(p < 1.0);
        selected += p < share ? 1 : 0;
      }
      const double fraction = static_cast<double>(selected) / n;
      const double tolerance = 5 * std::sqrt(share * (1 - share) / n);
      CAPTURE(share);
      CAPTURE(seed);
      CHECK(std::abs(fraction - share) <= tolerance);
    }
  }
}

TEST_CASE("BlueGreenDeployment: a switch is one alias write; rollback is one persisted call") {
  TempFolder dir;
  ModelVersionManager registry(dir.path());
  fill(registry, 3);
  BlueGreenDeployment deployment(registry, "m");
  CHECK_FALSE(deployment.live().has_value());
  deployment.switch_to(1);
  const auto generation = registry.generation();
  deployment.switch_to(2);
  CHECK(registry.generation() == generation + 1);  // exactly one committed write
  CHECK(deployment.live() == 2);
  CHECK_THROWS_NAMING(deployment.switch_to(99), InvalidArgument, "has no version 99");
  CHECK(deployment.live() == 2);
  CHECK(deployment.rollback() == 1);
  CHECK(ModelVersionManager(dir.path()).alias("m", "champion") == 1);
  CHECK(registry.alias_history("m", "champion").back().reason == "blue-green rollback");
  CHECK_THROWS_NAMING(BlueGreenDeployment(registry, "nope"), InvalidArgument, "unknown model \"nope\"");
  CHECK_THROWS_NAMING(BlueGreenDeployment(registry, "m", "Live!"), InvalidArgument, "alias name \"Live!\"");
}

TEST_CASE("CanaryDeployment: the canary gets its share, callers stay put, promote and rollback end it") {
  TempFolder dir;
  ModelVersionManager registry(dir.path());
  fill(registry, 3);
  registry.set_alias("m", "champion", 1);
  CanaryDeployment canary(registry, "m", {.seed = 11});
  CHECK(canary.share() == 0.0);
  CHECK(canary.route("anyone").version == 1);
  canary.start(2, 0.2);
  CHECK(canary.share() == 0.2);

  constexpr int n = 20000;
  std::vector<bool> on_canary(n);
  int count = 0;
  for (int i = 0; i < n; ++i) {
    const CanaryRoute r = canary.route("req-" + std::to_string(i));
    CHECK(r.version == (r.canary ? 2 : 1));
    on_canary[static_cast<std::size_t>(i)] = r.canary;
    count += r.canary ? 1 : 0;
  }
  const double fraction = static_cast<double>(count) / n;
  CHECK(std::abs(fraction - 0.2) <= 5 * std::sqrt(0.2 * 0.8 / n));

  // Another process (another registry object) routes every caller the same way.
  ModelVersionManager other_process(dir.path());
  CanaryDeployment same(other_process, "m", {.seed = 11});
  for (int i = 0; i < 2000; ++i)
    CHECK(same.route("req-" + std::to_string(i)).canary == on_canary[static_cast<std::size_t>(i)]);

  // A larger share keeps every canary caller on the canary.
  canary.start(2, 0.3);
  for (int i = 0; i < 2000; ++i)
    if (on_canary[static_cast<std::size_t>(i)]) CHECK(canary.route("req-" + std::to_string(i)).canary);

  canary.promote();
  CHECK(registry.alias("m", "champion") == 2);
  CHECK_FALSE(registry.alias("m", "challenger").has_value());
  CHECK(canary.share() == 0.0);
  CHECK_FALSE(registry.model_metadata("m").contains("canary"));

  canary.start(3, 0.5);
  canary.rollback("manual");
  CHECK(canary.route("req-1").version == 2);
  CHECK(ModelVersionManager(dir.path()).alias("m", "challenger") == std::nullopt);
  CHECK(registry.alias_history("m", "challenger").back().reason == "manual");
}

TEST_CASE("CanaryDeployment::check rolls back automatically when the canary's metric crosses its threshold") {
  TempFolder dir;
  ModelVersionManager registry(dir.path());
  fill(registry, 2);
  registry.set_alias("m", "champion", 1);
  CanaryDeployment canary(registry, "m");
  canary.start(2, 0.1);
  const RollbackRule rule{.metric = "error_rate", .threshold = 0.05, .higher_is_worse = true, .min_samples = 100};

  PerformanceMonitor monitor;
  for (int i = 0; i < 50; ++i) monitor.record_request(0.01, i % 5 != 0);  // 20% errors, too few samples
  RollbackDecision d = canary.check(monitor, rule);
  CHECK_FALSE(d.rolled_back);
  CHECK(d.reason.find("not enough data") != std::string::npos);
  CHECK(registry.alias("m", "challenger") == 2);

  PerformanceMonitor healthy;
  for (int i = 0; i < 200; ++i) healthy.record_request(0.01, i % 50 != 0);  // 2% errors
  d = canary.check(healthy, rule);
  CHECK_FALSE(d.rolled_back);
  CHECK(d.value == doctest::Approx(0.02));
  CHECK(d.reason == "healthy");

  for (int i = 50; i < 200; ++i) monitor.record_request(0.01, i % 5 != 0);
  d = canary.check(monitor, rule);
  CHECK(d.rolled_back);
  CHECK(d.value == doctest::Approx(0.2));
  CHECK(d.samples == 200);
  CHECK_FALSE(registry.alias("m", "challenger").has_value());
  CHECK(canary.route("user").version == 1);
  const auto history = ModelVersionManager(dir.path()).alias_history("m", "challenger");
  CHECK(history.back().action == "remove");
  CHECK(history.back().reason.find("automatic rollback: error_rate = 0.2") != std::string::npos);
  // Without a running canary nothing more happens.
  CHECK(canary.check(monitor, rule).reason == "no canary runs");

  // A metric where lower is worse (accuracy below 0.9).
  canary.start(2, 0.1);
  PerformanceMonitor quality;
  for (int i = 0; i < 100; ++i) quality.record_classification(1, i % 4 == 0 ? 0 : 1);  // accuracy 0.75
  d = canary.check(quality, {.metric = "accuracy", .threshold = 0.9, .higher_is_worse = false, .min_samples = 100});
  CHECK(d.rolled_back);
  CHECK(d.value == doctest::Approx(0.75));
}

TEST_CASE("CanaryDeployment: bad inputs are refused by name and change nothing") {
  TempFolder dir;
  ModelVersionManager registry(dir.path());
  fill(registry, 2);
  CHECK_THROWS_NAMING(CanaryDeployment(registry, "nope"), InvalidArgument, "unknown model \"nope\"");
  CHECK_THROWS_NAMING(CanaryDeployment(registry, "m", {.stable_alias = "a", .canary_alias = "a"}), InvalidArgument,
                      "must differ");
  CHECK_THROWS_NAMING(CanaryDeployment(registry, "m", {.canary_alias = "Bad"}), InvalidArgument, "\"Bad\"");
  CanaryDeployment canary(registry, "m");
  CHECK_THROWS_NAMING(canary.start(2, 0.1), InvalidArgument, "stable alias \"champion\" of \"m\" is not set");
  CHECK_THROWS_NAMING(canary.route("x"), InvalidArgument, "stable alias \"champion\"");
  registry.set_alias("m", "champion", 1);
  const auto generation = registry.generation();
  for (double share : {0.0, 1.0, -0.5, std::nan("")}) {
    CAPTURE(share);
    CHECK_THROWS_NAMING(canary.start(2, share), InvalidArgument, "share must be in (0, 1)");
  }
  CHECK_THROWS_NAMING(canary.start(5, 0.1), InvalidArgument, "has no version 5");
  CHECK_THROWS_NAMING(canary.promote(), InvalidArgument, "no canary runs for \"m\"");
  CHECK_THROWS_NAMING(canary.rollback(), InvalidArgument, "no canary runs for \"m\"");
  PerformanceMonitor monitor;
  CHECK_THROWS_NAMING(canary.check(monitor, {.metric = "latency"}), InvalidArgument, "unknown metric \"latency\"");
  CHECK_THROWS_NAMING(canary.check(monitor, {.threshold = std::nan("")}), InvalidArgument, "threshold must be finite");
  CHECK(registry.generation() == generation);
}
