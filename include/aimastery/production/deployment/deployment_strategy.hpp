#pragma once
/// \file
/// Deployment strategies over a ModelVersionManager's aliases: blue-green (one atomic alias switch),
/// canary (a fixed share of the traffic, chosen by hashing the request id), rollback (persisted, one
/// call), and automatic rollback when a PerformanceMonitor metric of the canary crosses a threshold.
///
/// Every decision lives in the registry (aliases and the model's settings), so several serving
/// processes that share the registry folder route the same request to the same version and see a
/// rollback as soon as it is committed.

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "aimastery/core/tensor.hpp"
#include "aimastery/io/json.hpp"
#include "aimastery/production/deployment/model_version_manager.hpp"
#include "aimastery/production/monitoring/performance_monitor.hpp"

namespace aimastery {

/// The position of a request id in [0, 1): FNV-1a over its bytes (from a seeded offset basis), then the
/// splitmix64 finaliser, whose avalanche makes ids that differ in one character (user-1, user-2, ...)
/// land independently; the top 53 bits divided by 2⁵³. The same id always gives the same point, so a
/// caller stays on one version while the share is unchanged, and raising the share only moves callers
/// from the stable version to the canary (the canary set {point < share} grows with the share).
inline double traffic_point(std::string_view request_id, std::uint64_t seed = 0) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull ^ seed;  // FNV-1a 64: h = (h ⊕ byte) · 0x100000001b3
  for (unsigned char c : request_id) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h += 0x9e3779b97f4a7c15ull;  // splitmix64 finaliser
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  h ^= h >> 31;
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

/// Blue-green: one alias (the live one) is the whole deployment; a switch is one atomic alias write,
/// so every reader sees the old version or the new one, and a rollback is one call. (Use it as
/// BlueGreenDeployment; a template only so that it is compiled where it is used, as the registry.)
template <class Tag = void>
class BasicBlueGreenDeployment {
 public:
  BasicBlueGreenDeployment(BasicModelVersionManager<Tag>& registry, std::string model,
                           std::string live_alias = "champion")
      : registry_(registry), model_(std::move(model)), live_alias_(std::move(live_alias)) {
    require(registry_.has_model(model_), "BlueGreenDeployment", [&] { return "unknown model \"" + model_ + "\""; });
    require(detail::valid_alias_name(live_alias_), "BlueGreenDeployment",
            [&] { return "alias name \"" + live_alias_ + "\" is invalid"; });
  }

  /// The live version (nothing before the first switch).
  [[nodiscard]] std::optional<std::int64_t> live() const { return registry_.alias(model_, live_alias_); }

  /// Sends all traffic to `version` (which must exist).
  void switch_to(std::int64_t version, std::string_view reason = "blue-green switch") {
    registry_.set_alias(model_, live_alias_, version, reason);
  }

  /// Back to the version live before the latest switch; returns it.
  std::optional<std::int64_t> rollback(std::string_view reason = "blue-green rollback") {
    return registry_.rollback(model_, live_alias_, reason);
  }

 private:
  BasicModelVersionManager<Tag>& registry_;
  std::string model_, live_alias_;
};

using BlueGreenDeployment = BasicBlueGreenDeployment<>;

struct CanaryOptions {
  std::string stable_alias = "champion";
  std::string canary_alias = "challenger";
  std::uint64_t seed = 0;  ///< the hash seed: another seed draws another set of canary callers
};

/// Where one request goes.
struct CanaryRoute {
  std::int64_t version = 0;
  bool canary = false;
};

/// When the canary is rolled back automatically: `metric` (a name of PerformanceSnapshot::metrics(),
/// e.g. "error_rate", "latency_p99", "accuracy") above (or below, with `higher_is_worse` false) the
/// threshold, once at least `min_samples` observations feed that metric.
struct RollbackRule {
  std::string metric = "error_rate";
  double threshold = 0.05;
  bool higher_is_worse = true;
  std::size_t min_samples = 100;
};

/// What CanaryDeployment::check decided.
struct RollbackDecision {
  bool rolled_back = false;
  double value = NAN;       ///< the metric (NaN without data)
  std::size_t samples = 0;  ///< observations behind it
  std::string reason;       ///< why it rolled back, or why it did not
};

/// Canary: the stable alias serves everyone except the callers whose traffic_point falls below the
/// canary's share; those get the canary alias's version. The share is kept in the model's settings
/// under "canary" ({"share": s, "seed": k}), written in the same atomic write as the canary alias.
/// (Use it as CanaryDeployment; a template only so that it is compiled where it is used.)
template <class Tag = void>
class BasicCanaryDeployment {
 public:
  BasicCanaryDeployment(BasicModelVersionManager<Tag>& registry, std::string model, CanaryOptions options = {})
      : registry_(registry), model_(std::move(model)), options_(std::move(options)) {
    static constexpr const char* where = "CanaryDeployment";
    require(registry_.has_model(model_), where, [&] { return "unknown model \"" + model_ + "\""; });
    require(
        detail::valid_alias_name(options_.stable_alias) && detail::valid_alias_name(options_.canary_alias), where,
        [&] { return "alias names \"" + options_.stable_alias + "\", \"" + options_.canary_alias + "\" are invalid"; });
    require(options_.stable_alias != options_.canary_alias, where, "stable_alias and canary_alias must differ");
  }

  /// Starts (or re-targets) a canary: `version` gets the share `share` ∈ (0, 1) of the traffic. The
  /// stable alias must already be set.
  void start(std::int64_t version, double share, std::string_view reason = "canary start") {
    static constexpr const char* where = "CanaryDeployment::start";
    require(std::isfinite(share) && share > 0 && share < 1, where,
            [&] { return "share must be in (0, 1), got " + std::to_string(share); });
    require(registry_.alias(model_, options_.stable_alias).has_value(), where,
            [&] { return "the stable alias \"" + options_.stable_alias + "\" of \"" + model_ + "\" is not set"; });
    registry_.update(model_, {.aliases = {{options_.canary_alias, version}},
                              .metadata = {{"canary", JsonValue::object({{"share", share}, {"seed", options_.seed}})}},
                              .reason = std::string(reason)});
  }

  /// The canary's share of the traffic (0 when no canary runs).
  [[nodiscard]] double share() const {
    if (!registry_.alias(model_, options_.canary_alias)) return 0.0;
    const JsonValue settings = registry_.model_metadata(model_);
    const JsonValue* canary = settings.find("canary");
    const JsonValue* share = canary != nullptr ? canary->find("share") : nullptr;
    return share != nullptr && share->is_number() ? share->get<double>() : 0.0;
  }

  /// The version that serves `request_id`.
  [[nodiscard]] CanaryRoute route(std::string_view request_id) const {
    const auto stable = registry_.alias(model_, options_.stable_alias);
    require(stable.has_value(), "CanaryDeployment::route",
            [&] { return "the stable alias \"" + options_.stable_alias + "\" of \"" + model_ + "\" is not set"; });
    const auto canary = registry_.alias(model_, options_.canary_alias);
    if (canary && traffic_point(request_id, options_.seed) < share()) return {*canary, true};
    return {*stable, false};
  }

  /// The canary becomes the stable version and the canary ends, in one write.
  void promote(std::string_view reason = "canary promoted") {
    const auto canary = registry_.alias(model_, options_.canary_alias);
    require(canary.has_value(), "CanaryDeployment::promote", [&] { return "no canary runs for \"" + model_ + "\""; });
    registry_.update(model_, {.aliases = {{options_.stable_alias, *canary}, {options_.canary_alias, std::nullopt}},
                              .metadata = {{"canary", nullptr}},
                              .reason = std::string(reason)});
  }

  /// Ends the canary: all traffic back to the stable version, in one persisted write.
  void rollback(std::string_view reason = "canary rolled back") {
    require(registry_.alias(model_, options_.canary_alias).has_value(), "CanaryDeployment::rollback",
            [&] { return "no canary runs for \"" + model_ + "\""; });
    registry_.update(model_, {.aliases = {{options_.canary_alias, std::nullopt}},
                              .metadata = {{"canary", nullptr}},
                              .reason = std::string(reason)});
  }

  /// Automatic rollback: reads `rule.metric` from the canary's monitor and rolls the canary back when
  /// it is worse than the threshold with enough samples. Without a running canary, or without enough
  /// data (a NaN metric, fewer than min_samples observations), nothing changes.
  RollbackDecision check(PerformanceMonitor& canary_monitor, const RollbackRule& rule) {
    static constexpr const char* where = "CanaryDeployment::check";
    require(std::isfinite(rule.threshold), where, "threshold must be finite");
    const PerformanceSnapshot snapshot = canary_monitor.snapshot();
    const auto metrics = snapshot.metrics();
    const auto it = metrics.find(rule.metric);
    require(it != metrics.end(), where, [&] {
      std::string known;
      for (const auto& [name, v] : metrics) known += (known.empty() ? "" : ", ") + name;
      return "unknown metric \"" + rule.metric + "\" (known: " + known + ")";
    });
    RollbackDecision decision;
    decision.value = it->second;
    decision.samples = samples_behind(snapshot, rule.metric);
    if (!registry_.alias(model_, options_.canary_alias)) {
      decision.reason = "no canary runs";
      return decision;
    }
    if (std::isnan(decision.value) || decision.samples < rule.min_samples) {
      decision.reason = "not enough data (" + std::to_string(decision.samples) + " samples)";
      return decision;
    }
    const bool worse = rule.higher_is_worse ? decision.value > rule.threshold : decision.value < rule.threshold;
    if (!worse) {
      decision.reason = "healthy";
      return decision;
    }
    decision.reason = "automatic rollback: " + rule.metric + " = " + std::to_string(decision.value) +
                      (rule.higher_is_worse ? " > " : " < ") + std::to_string(rule.threshold) + " over " +
                      std::to_string(decision.samples) + " samples";
    rollback(decision.reason);
    decision.rolled_back = true;
    return decision;
  }

  [[nodiscard]] const CanaryOptions& options() const noexcept { return options_; }

 private:
  /// The number of observations a metric of the snapshot is computed from.
  static std::size_t samples_behind(const PerformanceSnapshot& s, const std::string& metric) {
    if (metric == "accuracy" || metric == "precision" || metric == "recall" || metric == "f1")
      return s.classification_count;
    if (metric == "mse" || metric == "mae" || metric == "r2") return s.regression_count;
    return s.requests;
  }

  BasicModelVersionManager<Tag>& registry_;
  std::string model_;
  CanaryOptions options_;
};

using CanaryDeployment = BasicCanaryDeployment<>;

}  // namespace aimastery
