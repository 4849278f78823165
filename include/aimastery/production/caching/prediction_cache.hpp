#pragma once
/// \file
/// PredictionCache: a model's predictions cached under the model version and a content hash of the
/// feature vector, with a TTL; invalidating one model version removes its predictions and leaves the
/// other versions' alone.
///
///   key(version, x) = parts(namespace, version) + hex(XXH3-128(bytes of x))
///
/// Because every key of a version starts with parts(namespace, version), and parts() are
/// length-prefixed, invalidate(version) is a prefix removal that cannot touch another version (not even
/// "v1" vs "v1.1"), and it holds for every process sharing a Redis backend.

#include <Eigen/Core>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/production/caching/cache_backend.hpp"
#include "aimastery/production/caching/content_hash.hpp"
#include "aimastery/production/caching/value_codec.hpp"

namespace aimastery {

struct PredictionCacheOptions {
  std::string key_namespace = "prediction";
  /// Lifetime of a cached prediction; zero = until invalidated or evicted.
  std::chrono::milliseconds ttl{0};
  /// In get_or_compute, a failing backend (ConnectionError) is answered by calling the model and
  /// stats().backend_errors counts it; with false the ConnectionError propagates.
  bool compute_when_backend_fails = true;
};

template <Scalar T = double>
class PredictionCache {
 public:
  PredictionCache(std::shared_ptr<CacheBackend> backend, PredictionCacheOptions options = {})
      : backend_(std::move(backend)), options_(std::move(options)) {
    if (!backend_) throw InvalidArgument("PredictionCache: the backend is null");
    if (options_.ttl.count() < 0)
      throw InvalidArgument("PredictionCache: ttl must be zero (never expire) or positive, got " +
                            std::to_string(options_.ttl.count()) + " ms");
  }

  /// The backend key of the prediction of `model_version` for `features`.
  template <class Derived>
  [[nodiscard]] std::string key(std::string_view model_version, const Eigen::MatrixBase<Derived>& features) const {
    return version_prefix(model_version, "PredictionCache::key") +
           content_hash_of_values(Vector<T>(features.derived().reshaped())).hex();
  }

  template <class Derived>
  std::optional<Vector<T>> get(std::string_view model_version, const Eigen::MatrixBase<Derived>& features) {
    const std::string k = key(model_version, features);
    auto bytes = backend_->get_many(std::span<const std::string>(&k, 1));
    count(bytes.front().has_value());
    if (!bytes.front()) return std::nullopt;
    return decode_vector<T>(*bytes.front());
  }

  template <class Derived, class PredictionDerived>
  void set(std::string_view model_version, const Eigen::MatrixBase<Derived>& features,
           const Eigen::MatrixBase<PredictionDerived>& prediction) {
    const std::pair<std::string, std::string> item{key(model_version, features),
                                                   encode_vector(Vector<T>(prediction.derived().reshaped()))};
    backend_->set_many(std::span(&item, 1), options_.ttl);
  }

  /// The cached prediction, or `predict(features)` (a vector, or anything convertible to Vector<T>) stored
  /// and returned.
  template <class Derived, class Predict>
  Vector<T> get_or_compute(std::string_view model_version, const Eigen::MatrixBase<Derived>& features,
                           Predict&& predict) {
    const std::string k = key(model_version, features);
    bool backend_ok = true;
    try {
      auto bytes = backend_->get_many(std::span<const std::string>(&k, 1));
      count(bytes.front().has_value());
      if (bytes.front()) return decode_vector<T>(*bytes.front());
    } catch (const ConnectionError&) {
      if (!options_.compute_when_backend_fails) throw;
      backend_ok = false;
      count(false);
      stats_.backend_errors.fetch_add(1, std::memory_order_relaxed);
    }
    Vector<T> prediction = std::forward<Predict>(predict)(features.derived());
    if (backend_ok) {
      try {
        const std::pair<std::string, std::string> item{k, encode_vector(prediction)};
        backend_->set_many(std::span(&item, 1), options_.ttl);
      } catch (const ConnectionError&) {
        if (!options_.compute_when_backend_fails) throw;
        stats_.backend_errors.fetch_add(1, std::memory_order_relaxed);
      }
    }
    return prediction;
  }

  /// Removes every cached prediction of `model_version`; returns how many.
  std::size_t invalidate(std::string_view model_version) {
    return backend_->erase_prefix(version_prefix(model_version, "PredictionCache::invalidate"));
  }

  [[nodiscard]] BackendCacheStats stats() const { return stats_.snapshot(); }
  void reset_stats() { stats_.reset(); }

 private:
  std::string version_prefix(std::string_view model_version, const char* where) const {
    if (model_version.empty()) throw InvalidArgument(std::string(where) + ": model_version is empty");
    std::string prefix;
    detail::append_key_part(prefix, options_.key_namespace);
    detail::append_key_part(prefix, model_version);
    return prefix;
  }
  void count(bool hit) { (hit ? stats_.hits : stats_.misses).fetch_add(1, std::memory_order_relaxed); }

  std::shared_ptr<CacheBackend> backend_;
  PredictionCacheOptions options_;
  detail::AtomicBackendCacheStats stats_;
};

}  // namespace aimastery
