#pragma once
/// \file
/// A fixed set of Redis connections shared by threads: acquire() lends one (waiting up to a deadline for a
/// free one), and the lease gives it back when it goes out of scope.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/production/caching/redis_connection.hpp"
#include "aimastery/production/caching/redis_options.hpp"

namespace aimastery::detail {

class RedisConnectionPool {
 public:
  class Lease {
   public:
    Lease(RedisConnectionPool& pool, RedisConnection* connection) : pool_(&pool), connection_(connection) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), connection_(std::exchange(other.connection_, nullptr)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (connection_) pool_->release(connection_);
    }
    RedisConnection& operator*() const noexcept { return *connection_; }
    RedisConnection* operator->() const noexcept { return connection_; }

   private:
    RedisConnectionPool* pool_;
    RedisConnection* connection_;
  };

  explicit RedisConnectionPool(RedisCacheOptions options) : options_(std::move(options)) {
    for (std::size_t i = 0; i < options_.pool_size; ++i) {
      connections_.push_back(std::make_unique<RedisConnection>(options_));
      idle_.push_back(connections_.back().get());
    }
  }

  /// A free connection, waiting for one up to pool_wait_timeout; ConnectionError when none frees.
  Lease acquire(std::string_view where) {
    std::unique_lock lock(mutex_);
    if (idle_.empty() && !available_.wait_for(lock, options_.pool_wait_timeout, [&] { return !idle_.empty(); }))
      throw ConnectionError(std::string(where) + ": no pooled connection became free within " +
                            std::to_string(options_.pool_wait_timeout.count()) + " ms (pool_size " +
                            std::to_string(connections_.size()) + ")");
    RedisConnection* connection = idle_.back();
    idle_.pop_back();
    return Lease(*this, connection);
  }

 private:
  void release(RedisConnection* connection) {
    {
      std::lock_guard lock(mutex_);
      idle_.push_back(connection);
    }
    available_.notify_one();
  }

  RedisCacheOptions options_;  // the connections point here
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<RedisConnection>> connections_;
  std::vector<RedisConnection*> idle_;
};

}  // namespace aimastery::detail
