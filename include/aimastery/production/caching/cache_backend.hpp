#pragma once
/// \file
/// CacheBackend: the one small byte-level interface that EmbeddingCache and PredictionCache store through,
/// with the in-process implementation LRUCacheBackend (a ShardedLRUCache of strings). The Redis
/// implementation is RedisCacheBackend in redis_backend.hpp.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/production/caching/lru_cache.hpp"

namespace aimastery {

/// A store of byte values under string keys. Implementations are safe to use from many threads.
class CacheBackend {
 public:
  virtual ~CacheBackend() = default;
  /// The values of `keys`, in order; nothing for an absent key.
  virtual std::vector<std::optional<std::string>> get_many(std::span<const std::string> keys) = 0;
  /// Stores every (key, value), each expiring after `ttl` (zero = never).
  virtual void set_many(std::span<const std::pair<std::string, std::string>> items, std::chrono::milliseconds ttl) = 0;
  /// Removes every key starting with `prefix`; returns how many.
  virtual std::size_t erase_prefix(std::string_view prefix) = 0;
};

/// Counters of a cache that stores through a CacheBackend. A backend error is a failed backend call that
/// was answered by the documented fallback (computing the value) instead of an exception.
struct BackendCacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t backend_errors = 0;

  /// hits / (hits + misses), 0 before the first lookup.
  [[nodiscard]] double hit_rate() const {
    const std::uint64_t lookups = hits + misses;
    return lookups ? static_cast<double>(hits) / static_cast<double>(lookups) : 0.0;
  }
};

namespace detail {

/// BackendCacheStats updated from many threads.
struct AtomicBackendCacheStats {
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> misses{0};
  std::atomic<std::uint64_t> backend_errors{0};

  [[nodiscard]] BackendCacheStats snapshot() const {
    return {hits.load(std::memory_order_relaxed), misses.load(std::memory_order_relaxed),
            backend_errors.load(std::memory_order_relaxed)};
  }
  void reset() {
    hits.store(0, std::memory_order_relaxed);
    misses.store(0, std::memory_order_relaxed);
    backend_errors.store(0, std::memory_order_relaxed);
  }
};

}  // namespace detail

/// CacheBackend on a ShardedLRUCache<std::string, std::string> in this process (`Cache`: any cache of string
/// keys and values with ShardedLRUCache's get, put with a ttl and erase_if). A template so that the cache is
/// compiled only in the programs that construct one; LRUCacheBackend is the one to use.
template <class Cache = ShardedLRUCache<std::string, std::string>>
class BasicLRUCacheBackend final : public CacheBackend {
 public:
  using Options = typename Cache::Options;

  explicit BasicLRUCacheBackend(Options options = {}, std::size_t shards = 8) : cache_(std::move(options), shards) {}

  std::vector<std::optional<std::string>> get_many(std::span<const std::string> keys) override {
    std::vector<std::optional<std::string>> values;
    values.reserve(keys.size());
    for (const auto& key : keys) values.push_back(cache_.get(key));
    return values;
  }
  void set_many(std::span<const std::pair<std::string, std::string>> items, std::chrono::milliseconds ttl) override {
    detail::check_ttl(ttl, "LRUCacheBackend::set_many");  // before any item is stored
    for (const auto& [key, value] : items) cache_.put(key, value, ttl);
  }
  std::size_t erase_prefix(std::string_view prefix) override {
    return cache_.erase_if([prefix](const std::string& key) { return key.starts_with(prefix); });
  }

  /// The underlying cache (for its statistics and size).
  [[nodiscard]] const Cache& cache() const noexcept { return cache_; }

 private:
  Cache cache_;
};

/// The in-process CacheBackend: a ShardedLRUCache<std::string, std::string>.
using LRUCacheBackend = BasicLRUCacheBackend<>;

}  // namespace aimastery
