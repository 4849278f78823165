#pragma once
/// \file
/// RedisCache: a byte cache on a Redis server (hiredis 0.14 or 1.x parses the replies), safe to share
/// across threads through a small connection pool.
///
/// Failure model (never a crash, a hang or a silent no-op):
///  - Every call has one deadline, call_timeout() after it obtained a pooled connection:
///      call_timeout = connect_timeout + (2 + [AUTH] + [SELECT]) × command_timeout
///    (one connect, a command and its retry, AUTH and SELECT on a reconnect). Every wait (connect, send,
///    each piece of a reply) is bounded by the time left, so a server that trickles its reply byte by byte
///    or never answers ends the call by then; so does a pooled connection that does not free within
///    pool_wait_timeout (which comes before it). erase_prefix, a walk of many commands, has its own
///    deadline, erase_prefix_timeout.
///  - A connection that failed is reopened on its next use (connect, then AUTH and SELECT again).
///  - A command that fails on a connection that was healthy (the server restarted, or a stale socket) is
///    retried once on the reopened connection. Every command RedisCache sends is idempotent (GET, MGET,
///    EXISTS, PTTL, SET with a given value and TTL, DEL, SCAN), so the retry can never apply a change twice
///    with a different result; `retry_writes = false` restricts it to reads.
///  - Anything else (the server unreachable, no complete reply in time, an error reply, a peer that does
///    not speak RESP) throws ConnectionError naming the operation. The constructor sends PING, so a
///    listener that is not Redis is refused at once.
///  - No SIGPIPE: writes use MSG_NOSIGNAL (see redis_connection.hpp).

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/production/caching/redis_connection.hpp"
#include "aimastery/production/caching/redis_connection_pool.hpp"
#include "aimastery/production/caching/redis_options.hpp"
#include "aimastery/production/caching/value_codec.hpp"

namespace aimastery {

/// A cache of byte values in Redis. Keys are prefixed with options.key_prefix; values are arbitrary bytes
/// (std::string), with typed helpers for Eigen vectors (see value_codec.hpp). One object is safe to use from
/// many threads. The constructor connects once and throws ConnectionError when the server cannot be used,
/// so a wrong address or password is found at once.
class RedisCache {
 public:
  explicit RedisCache(RedisCacheOptions options = {})
      : options_(validated(std::move(options))),
        call_timeout_(call_timeout_of(options_)),
        pool_(std::make_unique<detail::RedisConnectionPool>(options_)) {
    constexpr const char* where = "RedisCache";
    auto lease = pool_->acquire(where);
    const detail::RedisDeadline deadline = detail::RedisClock::now() + call_timeout_;
    lease->ensure(where, deadline);
    // A listener that is not Redis must not be taken for one: it has to answer PING with PONG.
    const auto reply = lease->command({"PING"}, where, deadline);
    if (reply->type == REDIS_REPLY_ERROR)
      throw ConnectionError(std::string(where) + ": PING to " + lease->address() +
                            " failed: " + std::string(reply->str, reply->len));
    if (reply->type != REDIS_REPLY_STATUS || std::string_view(reply->str, reply->len) != "PONG")
      throw ConnectionError(std::string(where) + ": " + lease->address() +
                            " did not answer PING with PONG: it is not a Redis server");
  }

  /// The longest a call (other than erase_prefix) takes once it has a pooled connection:
  /// connect_timeout + (2 + [AUTH] + [SELECT]) × command_timeout.
  [[nodiscard]] std::chrono::milliseconds call_timeout() const noexcept { return call_timeout_; }

  [[nodiscard]] const RedisCacheOptions& options() const noexcept { return options_; }

  /// The value of `key`, or nothing when absent.
  std::optional<std::string> get(std::string_view key) {
    const std::string full = full_key(key);
    return run("RedisCache::get", true, [&](detail::RedisConnection& c, detail::RedisDeadline d) {
      return optional_string(c.command({"GET", full}, "RedisCache::get", d), "RedisCache::get");
    });
  }

  /// Stores `value` under `key` with the default TTL.
  void set(std::string_view key, std::string_view value) { set(key, value, options_.default_ttl); }

  /// Stores `value` under `key`, expiring after `ttl` (zero = never).
  void set(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) {
    check_ttl(ttl, "RedisCache::set");
    const std::string full = full_key(key);
    const std::string ms = std::to_string(ttl.count());
    run("RedisCache::set", options_.retry_writes, [&](detail::RedisConnection& c, detail::RedisDeadline d) {
      auto reply = ttl.count() > 0 ? c.command({"SET", full, value, "PX", ms}, "RedisCache::set", d)
                                   : c.command({"SET", full, value}, "RedisCache::set", d);
      expect_status(reply, "RedisCache::set");
      return 0;
    });
  }

  /// Removes `key`; returns whether it existed.
  bool erase(std::string_view key) {
    const std::string full = full_key(key);
    return run("RedisCache::erase", options_.retry_writes, [&](detail::RedisConnection& c, detail::RedisDeadline d) {
      return integer(c.command({"DEL", full}, "RedisCache::erase", d), "RedisCache::erase") > 0;
    });
  }

  bool exists(std::string_view key) {
    const std::string full = full_key(key);
    return run("RedisCache::exists", true, [&](detail::RedisConnection& c, detail::RedisDeadline d) {
      return integer(c.command({"EXISTS", full}, "RedisCache::exists", d), "RedisCache::exists") > 0;
    });
  }

  /// The remaining lifetime of `key` (PTTL).
  RedisKeyTtl ttl(std::string_view key) {
    const std::string full = full_key(key);
    const long long ms = run("RedisCache::ttl", true, [&](detail::RedisConnection& c, detail::RedisDeadline d) {
      return integer(c.command({"PTTL", full}, "RedisCache::ttl", d), "RedisCache::ttl");
    });
    if (ms == -2) return {};
    if (ms == -1) return {true, std::nullopt};
    return {true, std::chrono::milliseconds(ms)};
  }

  /// The values of many keys in one round trip (MGET), in the order of `keys`.
  std::vector<std::optional<std::string>> get_many(std::span<const std::string> keys) {
    if (keys.empty()) return {};
    std::vector<std::string> full;
    full.reserve(keys.size());
    for (const auto& k : keys) full.push_back(full_key(k));
    std::vector<std::string_view> argv;
    argv.reserve(keys.size() + 1);
    argv.emplace_back("MGET");
    for (const auto& k : full) argv.emplace_back(k);
    return run("RedisCache::get_many", true, [&](detail::RedisConnection& c, detail::RedisDeadline d) {
      auto reply = c.command(argv, "RedisCache::get_many", d);
      throw_if_error(reply, "RedisCache::get_many");
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != keys.size())
        throw ConnectionError("RedisCache::get_many: MGET of " + std::to_string(keys.size()) +
                              " keys returned an unexpected reply");
      std::vector<std::optional<std::string>> values(keys.size());
      for (std::size_t i = 0; i < keys.size(); ++i) {
        const redisReply* element = reply->element[i];
        if (element->type == REDIS_REPLY_STRING) values[i].emplace(element->str, element->len);
      }
      return values;
    });
  }

  /// Stores many values in one round trip (pipelined SETs), each with `ttl` (zero = never).
  void set_many(std::span<const std::pair<std::string, std::string>> items, std::chrono::milliseconds ttl) {
    check_ttl(ttl, "RedisCache::set_many");
    if (items.empty()) return;
    std::vector<std::string> full;
    full.reserve(items.size());
    for (const auto& item : items) full.push_back(full_key(item.first));
    const std::string ms = std::to_string(ttl.count());
    std::vector<std::vector<std::string_view>> commands;
    commands.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (ttl.count() > 0)
        commands.push_back({"SET", full[i], items[i].second, "PX", ms});
      else
        commands.push_back({"SET", full[i], items[i].second});
    }
    run("RedisCache::set_many", options_.retry_writes, [&](detail::RedisConnection& c, detail::RedisDeadline d) {
      for (const auto& reply : c.pipeline(commands, "RedisCache::set_many", d))
        expect_status(reply, "RedisCache::set_many");
      return 0;
    });
  }
  void set_many(std::span<const std::pair<std::string, std::string>> items) { set_many(items, options_.default_ttl); }

  /// Removes every key that starts with `prefix` (after the cache's key_prefix), walking the key space with
  /// SCAN (never the blocking KEYS); returns how many were removed. O(keys in the database).
  std::size_t erase_prefix(std::string_view prefix) {
    constexpr const char* where = "RedisCache::erase_prefix";
    // SCAN returns to cursor 0 after a full walk; a server whose cursor never does (or a key space that
    // keeps growing) is cut off by a bound on the commands and on the time.
    constexpr std::size_t max_scans = 1'000'000;
    const std::string pattern = glob_escape(options_.key_prefix + std::string(prefix)) + "*";
    return run(
        where, options_.retry_writes,
        [&](detail::RedisConnection& c, detail::RedisDeadline d) {
          std::size_t removed = 0;
          std::string cursor = "0";
          std::vector<std::string_view> argv;
          for (std::size_t scans = 0;; ++scans) {
            if (scans == max_scans)
              throw ConnectionError(std::string(where) + ": SCAN did not finish within " + std::to_string(max_scans) +
                                    " commands");
            if (detail::RedisClock::now() >= d)
              throw ConnectionError(std::string(where) + ": SCAN did not finish within erase_prefix_timeout (" +
                                    std::to_string(options_.erase_prefix_timeout.count()) + " ms)");
            auto reply = c.command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}, where, d);
            throw_if_error(reply, where);
            if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
                reply->element[0]->type != REDIS_REPLY_STRING || reply->element[1]->type != REDIS_REPLY_ARRAY)
              throw ConnectionError(std::string(where) + ": SCAN returned an unexpected reply");
            cursor.assign(reply->element[0]->str, reply->element[0]->len);
            const redisReply* keys = reply->element[1];
            if (keys->elements > 0) {
              argv.assign({"DEL"});
              for (std::size_t i = 0; i < keys->elements; ++i) {
                if (keys->element[i]->type != REDIS_REPLY_STRING)
                  throw ConnectionError(std::string(where) + ": SCAN returned a key that is not a string");
                argv.emplace_back(keys->element[i]->str, keys->element[i]->len);
              }
              removed += static_cast<std::size_t>(integer(c.command(argv, where, d), where));
            }
            if (cursor == "0") return removed;
          }
        },
        options_.erase_prefix_timeout);
  }

  /// Whether the server answers PING now (never throws).
  bool ping() noexcept {
    try {
      return run("RedisCache::ping", true, [&](detail::RedisConnection& c, detail::RedisDeadline d) {
        auto reply = c.command({"PING"}, "RedisCache::ping", d);
        return reply->type == REDIS_REPLY_STATUS;
      });
    } catch (...) {
      return false;
    }
  }

  /// Stores a float or double vector (see encode_vector).
  template <class Derived>
  void set_vector(std::string_view key, const Eigen::MatrixBase<Derived>& v) {
    set(key, encode_vector(v));
  }
  template <class Derived>
  void set_vector(std::string_view key, const Eigen::MatrixBase<Derived>& v, std::chrono::milliseconds ttl) {
    set(key, encode_vector(v), ttl);
  }
  /// The vector stored under `key`; FormatError when the value is not a vector of T.
  template <Scalar T>
  std::optional<Vector<T>> get_vector(std::string_view key) {
    auto bytes = get(key);
    if (!bytes) return std::nullopt;
    return decode_vector<T>(*bytes);
  }

 private:
  static RedisCacheOptions validated(RedisCacheOptions o) {
    if (o.host.empty()) throw InvalidArgument("RedisCache: host is empty");
    if (o.port <= 0 || o.port > 65535)
      throw InvalidArgument("RedisCache: port must be in 1..65535, got " + std::to_string(o.port));
    if (o.database < 0) throw InvalidArgument("RedisCache: database must be >= 0, got " + std::to_string(o.database));
    if (o.pool_size == 0) throw InvalidArgument("RedisCache: pool_size must be at least 1, got 0");
    if (o.connect_timeout.count() <= 0 || o.command_timeout.count() <= 0 || o.pool_wait_timeout.count() <= 0 ||
        o.erase_prefix_timeout.count() <= 0)
      throw InvalidArgument(
          "RedisCache: connect_timeout, command_timeout, pool_wait_timeout and erase_prefix_timeout must be positive");
    // The deadlines are computed as steady_clock::now() + a sum of these: keep them far from overflow.
    constexpr auto limit = std::chrono::hours(24);
    if (o.connect_timeout > limit || o.command_timeout > limit || o.pool_wait_timeout > limit ||
        o.erase_prefix_timeout > limit)
      throw InvalidArgument("RedisCache: every timeout must be at most 24 hours");
    if (o.busy_poll.count() < 0 || o.busy_poll > o.command_timeout)
      throw InvalidArgument("RedisCache: busy_poll must be between 0 and command_timeout, got " +
                            std::to_string(o.busy_poll.count()) + " us");
    if (!o.username.empty() && o.password.empty())
      throw InvalidArgument("RedisCache: username is set but password is empty");
    check_ttl(o.default_ttl, "RedisCache");
    return o;
  }

  static void check_ttl(std::chrono::milliseconds ttl, const char* where) {
    if (ttl.count() < 0)
      throw InvalidArgument(std::string(where) + ": ttl must be zero (no expiry) or positive, got " +
                            std::to_string(ttl.count()) + " ms");
  }

  std::string full_key(std::string_view key) const {
    std::string full;
    full.reserve(options_.key_prefix.size() + key.size());
    full += options_.key_prefix;
    full += key;
    return full;
  }

  // Escapes the glob characters of SCAN MATCH so that a prefix matches literally.
  static std::string glob_escape(std::string_view text) {
    std::string out;
    for (char ch : text) {
      if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\') out += '\\';
      out += ch;
    }
    return out;
  }

  static std::chrono::milliseconds call_timeout_of(const RedisCacheOptions& o) {
    const int commands = 2 + (o.password.empty() ? 0 : 1) + (o.database != 0 ? 1 : 0);
    return o.connect_timeout + commands * o.command_timeout;
  }

  // Runs `work(connection, deadline)` on a pooled connection, by the call's deadline (`budget` after the
  // connection was obtained; call_timeout() unless given). A failure on a connection that was healthy is
  // retried once on the reopened connection when `retry`; a failure to (re)connect is not retried.
  template <class Work>
  std::invoke_result_t<Work&, detail::RedisConnection&, detail::RedisDeadline> run(
      const char* where, bool retry, Work&& work, std::optional<std::chrono::milliseconds> budget = std::nullopt) {
    auto lease = pool_->acquire(where);
    const detail::RedisDeadline deadline = detail::RedisClock::now() + budget.value_or(call_timeout_);
    lease->ensure(where, deadline);
    try {
      return work(*lease, deadline);
    } catch (const ConnectionError&) {
      if (!retry || !lease->broken()) throw;
    }
    lease->ensure(where, deadline);
    return work(*lease, deadline);
  }

  static void throw_if_error(const detail::RedisReplyPtr& reply, const char* where) {
    if (reply->type == REDIS_REPLY_ERROR)
      throw ConnectionError(std::string(where) + ": the server replied: " + std::string(reply->str, reply->len));
  }
  static std::optional<std::string> optional_string(const detail::RedisReplyPtr& reply, const char* where) {
    throw_if_error(reply, where);
    if (reply->type == REDIS_REPLY_NIL) return std::nullopt;
    if (reply->type != REDIS_REPLY_STRING) throw ConnectionError(std::string(where) + ": unexpected reply type");
    return std::string(reply->str, reply->len);
  }
  static long long integer(const detail::RedisReplyPtr& reply, const char* where) {
    throw_if_error(reply, where);
    if (reply->type != REDIS_REPLY_INTEGER) throw ConnectionError(std::string(where) + ": unexpected reply type");
    return reply->integer;
  }
  static void expect_status(const detail::RedisReplyPtr& reply, const char* where) {
    throw_if_error(reply, where);
    if (reply->type != REDIS_REPLY_STATUS) throw ConnectionError(std::string(where) + ": unexpected reply type");
  }

  RedisCacheOptions options_;
  std::chrono::milliseconds call_timeout_;
  std::unique_ptr<detail::RedisConnectionPool> pool_;
};

}  // namespace aimastery
