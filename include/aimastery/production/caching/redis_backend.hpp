#pragma once
/// \file
/// RedisCacheBackend: the CacheBackend of EmbeddingCache and PredictionCache on a RedisCache (batch get
/// with MGET, batch set pipelined, prefix removal with SCAN). Needs hiredis (link aimastery::redis).

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/production/caching/cache_backend.hpp"
#include "aimastery/production/caching/redis_cache.hpp"

namespace aimastery {

class RedisCacheBackend final : public CacheBackend {
 public:
  explicit RedisCacheBackend(std::shared_ptr<RedisCache> redis) : redis_(std::move(redis)) {
    if (!redis_) throw InvalidArgument("RedisCacheBackend: the RedisCache is null");
  }

  std::vector<std::optional<std::string>> get_many(std::span<const std::string> keys) override {
    return redis_->get_many(keys);
  }
  void set_many(std::span<const std::pair<std::string, std::string>> items, std::chrono::milliseconds ttl) override {
    redis_->set_many(items, ttl);
  }
  std::size_t erase_prefix(std::string_view prefix) override { return redis_->erase_prefix(prefix); }

  [[nodiscard]] RedisCache& redis() const noexcept { return *redis_; }

 private:
  std::shared_ptr<RedisCache> redis_;
};

}  // namespace aimastery
