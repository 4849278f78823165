#pragma once
/// \file
/// RedisCache: a byte cache on a Redis server through hiredis (Debian's 0.14 or 1.x), safe to share
/// across threads through a small connection pool.
///
/// Failure model (never a crash, a hang or a silent no-op):
///  - Every connection has a finite connect timeout and a finite command timeout, set again after each
///    reconnect (hiredis 0.14 forgets a command timeout on redisReconnect).
///  - A connection that failed is reconnected on its next use (redisReconnect, then the timeouts, AUTH and
///    SELECT again).
///  - A command that fails on a connection that was healthy (the server restarted, or a stale socket) is
///    retried once on the reconnected connection. Every command RedisCache sends is idempotent (GET, MGET,
///    EXISTS, PTTL, SET with a given value and TTL, DEL, SCAN), so the retry can never apply a change twice
///    with a different result; `retry_writes = false` restricts it to reads.
///  - Anything else — the server unreachable, no reply within the command timeout, an error reply, no pooled
///    connection free within pool_wait_timeout — throws ConnectionError naming the operation. A call
///    returns within about connect_timeout + 2 × command_timeout (one command timeout more for each of
///    AUTH and SELECT on a reconnect, plus pool_wait_timeout if it had to wait for a connection).
///  - Writing to a socket the server has closed raises SIGPIPE; it is blocked in the calling thread during
///    each command and consumed, so the process is not killed (the process-wide disposition is untouched).

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/production/caching/value_codec.hpp"

#if !defined(HIREDIS_MAJOR)
#error "aimastery/production/caching/redis_cache.hpp needs hiredis (link aimastery::redis)"
#endif

namespace aimastery {

/// Options of RedisCache. The timeouts are finite by default so that no call can hang.
struct RedisCacheOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int database = 0;
  /// AUTH password; empty = no AUTH. With `username` (Redis 6 ACL) AUTH username password.
  std::string password{};
  std::string username{};
  /// Prepended to every key, e.g. "app:".
  std::string key_prefix{};
  /// TTL of a value set without one; zero = no expiry.
  std::chrono::milliseconds default_ttl{0};
  std::chrono::milliseconds connect_timeout{500};
  std::chrono::milliseconds command_timeout{500};
  /// Connections (each one in use by one thread at a time), connected on first use.
  std::size_t pool_size = 4;
  /// Longest wait for a free connection before ConnectionError.
  std::chrono::milliseconds pool_wait_timeout{2000};
  /// Retry a write (SET, DEL) once on a reconnected connection, as reads are. Both are idempotent.
  bool retry_writes = true;
};

/// The remaining lifetime of a key: `exists` is false for a missing key; `remaining` is empty for a key
/// without expiry.
struct RedisKeyTtl {
  bool exists = false;
  std::optional<std::chrono::milliseconds> remaining;
};

namespace detail {

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

struct RedisContextDeleter {
  void operator()(redisContext* context) const noexcept { redisFree(context); }
};
using RedisContextPtr = std::unique_ptr<redisContext, RedisContextDeleter>;

inline timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(ms.count() / 1000);
  tv.tv_usec = static_cast<decltype(tv.tv_usec)>((ms.count() % 1000) * 1000);
  return tv;
}

/// Blocks SIGPIPE in the calling thread for its lifetime and consumes one raised meanwhile, so that a
/// write to a socket closed by the server fails with EPIPE instead of killing the process.
class SigpipeGuard {
 public:
  SigpipeGuard() noexcept {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        sigtimedwait(&pipe_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t previous_{};
  bool was_pending_ = false;
};

/// One hiredis connection: connected lazily, reconnected after a failure, used by one thread at a time.
class RedisConnection {
 public:
  explicit RedisConnection(const RedisCacheOptions& options) : options_(&options) {}

  /// Whether the last command left the connection broken (it is reconnected on the next ensure()).
  [[nodiscard]] bool broken() const noexcept { return !context_ || context_->err != 0 || !ready_; }

  /// Connects (or reconnects) and sets the timeouts, AUTH and SELECT; throws ConnectionError.
  void ensure(const std::string& where) {
    if (!broken()) return;
    ready_ = false;
    const timeval connect_tv = to_timeval(options_->connect_timeout);
    if (context_) {
      if (redisReconnect(context_.get()) != REDIS_OK || context_->err)
        throw ConnectionError(where + ": cannot reconnect to " + address() + ": " + context_->errstr);
    } else {
      RedisContextPtr fresh(redisConnectWithTimeout(options_->host.c_str(), options_->port, connect_tv));
      if (!fresh) throw ConnectionError(where + ": cannot allocate a connection to " + address());
      if (fresh->err) throw ConnectionError(where + ": cannot connect to " + address() + ": " + fresh->errstr);
      context_ = std::move(fresh);
    }
    if (redisSetTimeout(context_.get(), to_timeval(options_->command_timeout)) != REDIS_OK)
      throw ConnectionError(where + ": cannot set the command timeout on " + address() + ": " + context_->errstr);
    redisEnableKeepAlive(context_.get());
    if (!options_->password.empty()) {
      std::vector<std::string_view> auth{"AUTH"};
      if (!options_->username.empty()) auth.push_back(options_->username);
      auth.push_back(options_->password);
      expect_ok(command(auth, where), where, "AUTH");
    }
    if (options_->database != 0) {
      const std::string db = std::to_string(options_->database);
      expect_ok(command({"SELECT", db}, where), where, "SELECT " + db);
    }
    ready_ = true;
  }

  /// Sends one command and reads its reply (which may be an error reply). A failed exchange throws
  /// ConnectionError and leaves the connection broken.
  RedisReplyPtr command(std::span<const std::string_view> argv, const std::string& where) {
    std::vector<const char*> pointers;
    std::vector<std::size_t> lengths;
    flatten(argv, pointers, lengths);
    SigpipeGuard guard;
    void* reply = redisCommandArgv(context_.get(), static_cast<int>(argv.size()), pointers.data(), lengths.data());
    if (!reply) throw io_failure(where);
    return RedisReplyPtr(static_cast<redisReply*>(reply));
  }
  RedisReplyPtr command(std::initializer_list<std::string_view> argv, const std::string& where) {
    return command(std::span<const std::string_view>(argv.begin(), argv.size()), where);
  }

  /// Sends every command, then reads every reply: one round trip for the batch.
  std::vector<RedisReplyPtr> pipeline(const std::vector<std::vector<std::string_view>>& commands,
                                      const std::string& where) {
    SigpipeGuard guard;
    std::vector<const char*> pointers;
    std::vector<std::size_t> lengths;
    for (const auto& argv : commands) {
      flatten(argv, pointers, lengths);
      if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), pointers.data(), lengths.data()) !=
          REDIS_OK)
        throw io_failure(where);
    }
    std::vector<RedisReplyPtr> replies;
    replies.reserve(commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i) {
      void* reply = nullptr;
      if (redisGetReply(context_.get(), &reply) != REDIS_OK || !reply) throw io_failure(where);
      replies.emplace_back(static_cast<redisReply*>(reply));
    }
    return replies;
  }

 private:
  static void flatten(std::span<const std::string_view> argv, std::vector<const char*>& pointers,
                      std::vector<std::size_t>& lengths) {
    pointers.clear();
    lengths.clear();
    for (const auto& a : argv) {
      pointers.push_back(a.data());
      lengths.push_back(a.size());
    }
  }

  std::string address() const { return options_->host + ":" + std::to_string(options_->port); }

  ConnectionError io_failure(const std::string& where) const {
    ready_ = false;
    const bool timed_out =
#if defined(REDIS_ERR_TIMEOUT)
        context_->err == REDIS_ERR_TIMEOUT ||
#endif
        (context_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK));
    if (timed_out)
      return ConnectionError(where + ": no reply from " + address() + " within the command timeout of " +
                             std::to_string(options_->command_timeout.count()) + " ms");
    return ConnectionError(where + ": connection to " + address() + " failed: " + context_->errstr);
  }

  static void expect_ok(const RedisReplyPtr& reply, const std::string& where, const std::string& what) {
    if (reply->type == REDIS_REPLY_STATUS) return;
    const std::string message = reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len) : "no OK";
    throw ConnectionError(where + ": " + what + " failed: " + message);
  }

  const RedisCacheOptions* options_;
  RedisContextPtr context_;
  mutable bool ready_ = false;
};

/// A fixed set of connections; acquire() waits up to pool_wait_timeout for a free one.
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

  explicit RedisConnectionPool(RedisCacheOptions options)
      : options_(std::move(options)), wait_(options_.pool_wait_timeout) {
    for (std::size_t i = 0; i < options_.pool_size; ++i) {
      connections_.push_back(std::make_unique<RedisConnection>(options_));
      idle_.push_back(connections_.back().get());
    }
  }

  Lease acquire(const std::string& where) {
    std::unique_lock lock(mutex_);
    if (!available_.wait_for(lock, wait_, [&] { return !idle_.empty(); }))
      throw ConnectionError(where + ": no pooled connection became free within " + std::to_string(wait_.count()) +
                            " ms (pool_size " + std::to_string(connections_.size()) + ")");
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
  std::chrono::milliseconds wait_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<RedisConnection>> connections_;
  std::vector<RedisConnection*> idle_;
};

}  // namespace detail

/// A cache of byte values in Redis. Keys are prefixed with options.key_prefix; values are arbitrary bytes
/// (std::string), with typed helpers for Eigen vectors (see value_codec.hpp). One object is safe to use from
/// many threads. The constructor connects once and throws ConnectionError when the server cannot be used,
/// so a wrong address or password is found at once.
class RedisCache {
 public:
  explicit RedisCache(RedisCacheOptions options = {})
      : options_(validated(std::move(options))), pool_(std::make_unique<detail::RedisConnectionPool>(options_)) {
    auto lease = pool_->acquire("RedisCache");
    lease->ensure("RedisCache");
  }

  [[nodiscard]] const RedisCacheOptions& options() const noexcept { return options_; }

  /// The value of `key`, or nothing when absent.
  std::optional<std::string> get(std::string_view key) {
    const std::string full = full_key(key);
    return run("RedisCache::get", true, [&](detail::RedisConnection& c) {
      return optional_string(c.command({"GET", full}, "RedisCache::get"), "RedisCache::get");
    });
  }

  /// Stores `value` under `key` with the default TTL.
  void set(std::string_view key, std::string_view value) { set(key, value, options_.default_ttl); }

  /// Stores `value` under `key`, expiring after `ttl` (zero = never).
  void set(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) {
    check_ttl(ttl, "RedisCache::set");
    const std::string full = full_key(key);
    const std::string ms = std::to_string(ttl.count());
    run("RedisCache::set", options_.retry_writes, [&](detail::RedisConnection& c) {
      auto reply = ttl.count() > 0 ? c.command({"SET", full, value, "PX", ms}, "RedisCache::set")
                                   : c.command({"SET", full, value}, "RedisCache::set");
      expect_status(reply, "RedisCache::set");
      return 0;
    });
  }

  /// Removes `key`; returns whether it existed.
  bool erase(std::string_view key) {
    const std::string full = full_key(key);
    return run("RedisCache::erase", options_.retry_writes, [&](detail::RedisConnection& c) {
      return integer(c.command({"DEL", full}, "RedisCache::erase"), "RedisCache::erase") > 0;
    });
  }

  bool exists(std::string_view key) {
    const std::string full = full_key(key);
    return run("RedisCache::exists", true, [&](detail::RedisConnection& c) {
      return integer(c.command({"EXISTS", full}, "RedisCache::exists"), "RedisCache::exists") > 0;
    });
  }

  /// The remaining lifetime of `key` (PTTL).
  RedisKeyTtl ttl(std::string_view key) {
    const std::string full = full_key(key);
    const long long ms = run("RedisCache::ttl", true, [&](detail::RedisConnection& c) {
      return integer(c.command({"PTTL", full}, "RedisCache::ttl"), "RedisCache::ttl");
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
    return run("RedisCache::get_many", true, [&](detail::RedisConnection& c) {
      auto reply = c.command(argv, "RedisCache::get_many");
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
    run("RedisCache::set_many", options_.retry_writes, [&](detail::RedisConnection& c) {
      for (const auto& reply : c.pipeline(commands, "RedisCache::set_many"))
        expect_status(reply, "RedisCache::set_many");
      return 0;
    });
  }
  void set_many(std::span<const std::pair<std::string, std::string>> items) { set_many(items, options_.default_ttl); }

  /// Removes every key that starts with `prefix` (after the cache's key_prefix), walking the key space with
  /// SCAN (never the blocking KEYS); returns how many were removed. O(keys in the database).
  std::size_t erase_prefix(std::string_view prefix) {
    const std::string pattern = glob_escape(options_.key_prefix + std::string(prefix)) + "*";
    return run("RedisCache::erase_prefix", options_.retry_writes, [&](detail::RedisConnection& c) {
      std::size_t removed = 0;
      std::string cursor = "0";
      do {
        auto reply = c.command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}, "RedisCache::erase_prefix");
        throw_if_error(reply, "RedisCache::erase_prefix");
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || reply->element[0]->type != REDIS_REPLY_STRING ||
            reply->element[1]->type != REDIS_REPLY_ARRAY)
          throw ConnectionError("RedisCache::erase_prefix: SCAN returned an unexpected reply");
        cursor.assign(reply->element[0]->str, reply->element[0]->len);
        const redisReply* keys = reply->element[1];
        if (keys->elements > 0) {
          std::vector<std::string_view> argv{"DEL"};
          for (std::size_t i = 0; i < keys->elements; ++i)
            argv.emplace_back(keys->element[i]->str, keys->element[i]->len);
          removed += static_cast<std::size_t>(
              integer(c.command(argv, "RedisCache::erase_prefix"), "RedisCache::erase_prefix"));
        }
      } while (cursor != "0");
      return removed;
    });
  }

  /// Whether the server answers PING now (never throws).
  bool ping() noexcept {
    try {
      return run("RedisCache::ping", true, [&](detail::RedisConnection& c) {
        auto reply = c.command({"PING"}, "RedisCache::ping");
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
    if (o.connect_timeout.count() <= 0 || o.command_timeout.count() <= 0 || o.pool_wait_timeout.count() <= 0)
      throw InvalidArgument("RedisCache: connect_timeout, command_timeout and pool_wait_timeout must be positive");
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

  // Runs `work` on a pooled connection. A failure on a connection that was healthy is retried once on the
  // reconnected connection when `retry`; a failure to (re)connect is not retried.
  template <class Work>
  std::invoke_result_t<Work&, detail::RedisConnection&> run(const std::string& where, bool retry, Work&& work) {
    auto lease = pool_->acquire(where);
    lease->ensure(where);
    try {
      return work(*lease);
    } catch (const ConnectionError&) {
      if (!retry || !lease->broken()) throw;
    }
    lease->ensure(where);
    return work(*lease);
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
  std::unique_ptr<detail::RedisConnectionPool> pool_;
};

}  // namespace aimastery
