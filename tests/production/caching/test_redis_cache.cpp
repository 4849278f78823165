// RedisCache against real redis-server processes (label redis): the operations, the failure model (server
// killed, hung, restarted), the pool's wait timeout, and the embedding and prediction caches on Redis.

#if defined(AIMASTERY_HAVE_REDIS)

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "aimastery/production/caching/embedding_cache.hpp"
#include "aimastery/production/caching/prediction_cache.hpp"
#include "aimastery/production/caching/redis_backend.hpp"
#include "aimastery/production/caching/redis_cache.hpp"
#include "redis_test_server.hpp"
#include "support.hpp"

using namespace aimastery;
using namespace std::chrono_literals;

namespace {

RedisCacheOptions shared_options(const std::string& test_name) {
  RedisCacheOptions o;
  o.port = test::shared_redis_port();
  o.key_prefix = test::unique_prefix(test_name);
  return o;
}

/// Runs `call`, requires that it throws ConnectionError, and returns how long it took.
template <class F>
std::chrono::milliseconds time_connection_error(F&& call) {
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(call(), ConnectionError);
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
}

Matrix<float> embed_rows(const std::vector<std::string>& texts) {
  Matrix<float> out(static_cast<Index>(texts.size()), 2);
  for (std::size_t i = 0; i < texts.size(); ++i)
    out.row(static_cast<Index>(i)) << static_cast<float>(texts[i].size()), static_cast<float>(texts[i][0]);
  return out;
}

}  // namespace

TEST_SUITE("redis") {
  TEST_CASE("RedisCache: get, set, erase, exists, binary values") {
    RedisCache cache(shared_options("basic"));
    CHECK_FALSE(cache.get("a").has_value());
    cache.set("a", "alpha");
    CHECK(cache.get("a") == std::optional<std::string>("alpha"));
    CHECK(cache.exists("a"));
    const std::string binary("x\0y\r\n\xff", 6);
    cache.set("bin", binary);
    CHECK(*cache.get("bin") == binary);
    cache.set("empty", "");
    CHECK(cache.get("empty") == std::optional<std::string>(""));
    CHECK(cache.erase("a"));
    CHECK_FALSE(cache.erase("a"));
    CHECK_FALSE(cache.exists("a"));
    CHECK(cache.ping());

    // Every way of waiting for a reply takes the same replies, a 1 MiB one in many reads too: the default
    // (spinning while it pays), sleeping in poll() at once (busy_poll = 0) and spinning on every wait.
    std::string large(1 << 20, 'v');
    for (std::size_t i = 0; i < large.size(); i += 4093) large[i] = static_cast<char>('a' + i % 26);
    cache.set("large", large);
    for (const bool adaptive : {true, false})
      for (const auto busy_poll : {0us, 50us}) {
        CAPTURE(adaptive);
        CAPTURE(busy_poll.count());
        RedisCacheOptions options = shared_options("basic");
        options.busy_poll = busy_poll;
        options.adaptive_busy_poll = adaptive;
        RedisCache other(options);
        CHECK(*other.get("bin") == binary);
        CHECK(other.get("large") == std::optional<std::string>(large));
        other.set("large", large);
        CHECK(cache.get("large") == std::optional<std::string>(large));
        CHECK(other.ping());
      }
  }

  TEST_CASE("RedisCache: TTL per value and by default") {
    auto options = shared_options("ttl");
    options.default_ttl = 60s;
    RedisCache cache(options);
    cache.set("default", "v");
    const RedisKeyTtl d = cache.ttl("default");
    CHECK(d.exists);
    REQUIRE(d.remaining.has_value());
    CHECK(*d.remaining > 55s);
    CHECK(*d.remaining <= 60s);
    cache.set("forever", "v", 0ms);
    CHECK(cache.ttl("forever").exists);
    CHECK_FALSE(cache.ttl("forever").remaining.has_value());
    CHECK_FALSE(cache.ttl("absent").exists);
    cache.set("short", "v", 50ms);
    std::this_thread::sleep_for(150ms);
    CHECK_FALSE(cache.get("short").has_value());
  }

  TEST_CASE("RedisCache: batch get (MGET) and batch set (pipelined)") {
    RedisCache cache(shared_options("batch"));
    // "k12", "v12": appended piece by piece, as `"k" + std::to_string(i)` trips g++ 12's -Wstringop-overflow
    // at -O3 (a false positive inside std::string's insert).
    const auto numbered = [](char prefix, int i) {
      std::string text(1, prefix);
      text += std::to_string(i);
      return text;
    };
    std::vector<std::pair<std::string, std::string>> items;
    for (int i = 0; i < 500; ++i) items.emplace_back(numbered('k', i), numbered('v', i));
    cache.set_many(items, 60s);
    std::vector<std::string> keys;
    for (int i = 0; i < 510; ++i) keys.push_back(numbered('k', i));
    const auto values = cache.get_many(keys);
    REQUIRE(values.size() == 510);
    for (int i = 0; i < 500; ++i)
      CHECK(values[static_cast<std::size_t>(i)] == std::optional<std::string>(numbered('v', i)));
    for (int i = 500; i < 510; ++i) CHECK_FALSE(values[static_cast<std::size_t>(i)].has_value());
    CHECK(cache.ttl("k7").remaining.has_value());
    CHECK(cache.get_many(std::vector<std::string>{}).empty());
    CHECK(cache.erase_prefix("k1") == 111);  // k1, k10..k19, k100..k199
    CHECK_FALSE(cache.exists("k150"));
    CHECK(cache.exists("k2"));
  }

  TEST_CASE("RedisCache: key prefixes and databases keep caches apart; glob characters match literally") {
    auto o1 = shared_options("prefix-a");
    auto o2 = shared_options("prefix-b");
    RedisCache a(o1), b(o2);
    a.set("k", "a");
    b.set("k", "b");
    CHECK(*a.get("k") == "a");
    CHECK(*b.get("k") == "b");
    auto o3 = shared_options("prefix-a");
    o3.database = 1;
    RedisCache other_db(o3);
    CHECK_FALSE(other_db.get("k").has_value());
    other_db.set("k", "db1");
    CHECK(*a.get("k") == "a");
    a.set("x*", "star");
    a.set("xy", "plain");
    CHECK(a.erase_prefix("x*") == 1);
    CHECK(a.exists("xy"));
  }

  TEST_CASE("RedisCache: typed vector values detect a wrong type") {
    RedisCache cache(shared_options("vectors"));
    Vector<double> v(3);
    v << 1.5, -2, 1e300;
    cache.set_vector("v", v);
    CHECK(*cache.get_vector<double>("v") == v);
    CHECK_FALSE(cache.get_vector<double>("absent").has_value());
    CHECK_THROWS_NAMING(cache.get_vector<float>("v"), FormatError, "holds scalars of type");
    cache.set("text", "not a vector");
    CHECK_THROWS_NAMING(cache.get_vector<double>("text"), FormatError, "not an encoded vector");
  }

  TEST_CASE("RedisCache: bad options and an unusable server are reported at construction") {
    const int port = test::shared_redis_port();
    CHECK_THROWS_NAMING(RedisCache({.port = 0}), InvalidArgument, "port must be in 1..65535");
    CHECK_THROWS_NAMING(RedisCache({.host = ""}), InvalidArgument, "host is empty");
    CHECK_THROWS_NAMING(RedisCache({.port = port, .database = -1}), InvalidArgument, "database must be >= 0");
    CHECK_THROWS_NAMING(RedisCache({.port = port, .pool_size = 0}), InvalidArgument, "pool_size must be at least 1");
    CHECK_THROWS_NAMING(RedisCache({.port = port, .command_timeout = 0ms}), InvalidArgument, "must be positive");
    CHECK_THROWS_NAMING(RedisCache({.port = port, .default_ttl = -1ms}), InvalidArgument, "ttl must be");
    CHECK_THROWS_NAMING(RedisCache({.port = port, .busy_poll = -1us}), InvalidArgument,
                        "busy_poll must be between 0 and command_timeout, got -1 us");
    CHECK_THROWS_NAMING(RedisCache({.port = port, .command_timeout = 1ms, .busy_poll = 1001us}), InvalidArgument,
                        "busy_poll must be between 0 and command_timeout, got 1001 us");
    CHECK_THROWS_NAMING(RedisCache({.port = port, .username = "u"}), InvalidArgument, "password is empty");
    RedisCache cache({.port = port});
    CHECK_THROWS_NAMING(cache.set("k", "v", -1ms), InvalidArgument, "RedisCache::set: ttl");
    const std::vector<std::pair<std::string, std::string>> items{{"k", "v"}};
    CHECK_THROWS_NAMING(cache.set_many(items, -1ms), InvalidArgument, "RedisCache::set_many: ttl");
    CHECK_THROWS_NAMING(cache.set_vector("k", Vector<double>::Ones(2), -1ms), InvalidArgument, "ttl must be");
    CHECK_THROWS_NAMING(RedisCacheBackend(nullptr), InvalidArgument, "the RedisCache is null");
    // The server has no password: AUTH fails, and says so.
    CHECK_THROWS_NAMING(RedisCache({.port = port, .password = "secret"}), ConnectionError, "AUTH failed");
    CHECK_THROWS_NAMING(RedisCache({.port = port, .database = 100000}), ConnectionError, "SELECT 100000 failed");
    // Nobody listens on a port just freed: refused at once.
    const int dead_port = test::free_loopback_port();
    const auto took = time_connection_error([&] { RedisCache unreachable({.port = dead_port}); });
    CHECK(took < 2000ms);
  }

  TEST_CASE("RedisCache: the server killed mid-run -> ConnectionError within the timeout; back -> works again") {
    test::RedisTestServer server;
    RedisCache cache({.port = server.port(),
                      .key_prefix = test::unique_prefix("kill"),
                      .connect_timeout = 300ms,
                      .command_timeout = 300ms,
                      .pool_size = 2});
    cache.set("k", "before");
    CHECK(*cache.get("k") == "before");
    server.kill();
    CHECK(time_connection_error([&] { cache.get("k"); }) < 2000ms);
    CHECK(time_connection_error([&] { cache.set("k", "v"); }) < 2000ms);
    CHECK(time_connection_error([&] { cache.get_many(std::vector<std::string>{"k", "j"}); }) < 2000ms);
    CHECK(time_connection_error([&] { cache.exists("k"); }) < 2000ms);
    CHECK_FALSE(cache.ping());
    server.start();  // same port, empty (no persistence)
    CHECK_FALSE(cache.get("k").has_value());
    cache.set("k", "after");
    CHECK(*cache.get("k") == "after");
    // Every pooled connection recovers, not just one.
    for (int i = 0; i < 10; ++i) CHECK(cache.exists("k"));
  }

  TEST_CASE("RedisCache: a restart between calls is invisible (stale connection retried once)") {
    test::RedisTestServer server;
    RedisCache cache({.port = server.port(), .key_prefix = test::unique_prefix("restart"), .pool_size = 1});
    cache.set("k", "v");
    server.kill();
    server.start();
    CHECK_FALSE(cache.get("k").has_value());  // the read on the stale connection was retried
    cache.set("k", "v2");
    CHECK(*cache.get("k") == "v2");
  }

  TEST_CASE("RedisCache: a hung server -> ConnectionError after the command timeout, not a hang") {
    test::RedisTestServer server;
    RedisCache cache({.port = server.port(),
                      .key_prefix = test::unique_prefix("hang"),
                      .connect_timeout = 200ms,
                      .command_timeout = 200ms,
                      .pool_size = 1,
                      .pool_wait_timeout = 100ms});
    cache.set("k", "v");
    server.pause();
    // One try and one retry of the read, each bounded by the command timeout.
    const auto took = time_connection_error([&] { cache.get("k"); });
    CHECK(took >= 200ms);
    CHECK(took < 2000ms);
    // While one thread waits on the hung server, another finds no free connection within pool_wait_timeout.
    std::thread holder([&] { CHECK_THROWS_AS(cache.get("k"), ConnectionError); });
    std::this_thread::sleep_for(50ms);
    CHECK_THROWS_NAMING(cache.get("k"), ConnectionError, "no pooled connection became free within 100 ms");
    holder.join();
    server.resume();
    CHECK(*cache.get("k") == "v");
  }

  TEST_CASE("EmbeddingCache on Redis: shared by two cache objects; falls back to computing when Redis is down") {
    test::RedisTestServer server;
    auto redis = std::make_shared<RedisCache>(RedisCacheOptions{.port = server.port(),
                                                                .key_prefix = test::unique_prefix("emb"),
                                                                .connect_timeout = 200ms,
                                                                .command_timeout = 200ms});
    auto backend = std::make_shared<RedisCacheBackend>(redis);
    EmbeddingCache<float> writer(backend, {.model_id = "toy"});
    EmbeddingCache<float> reader(backend, {.model_id = "toy"});
    const std::vector<std::string> texts{"one", "two", "one"};
    int calls = 0;
    auto embed = [&](const std::vector<std::string>& t) {
      ++calls;
      return embed_rows(t);
    };
    const Matrix<float> first = writer.get_or_compute(texts, embed);
    const Matrix<float> second = reader.get_or_compute(texts, embed);
    CHECK(calls == 1);
    CHECK(first == second);
    CHECK(reader.stats().hits == 3);

    server.kill();
    const Matrix<float> fallback = reader.get_or_compute(texts, embed);
    CHECK(calls == 2);
    CHECK(fallback == first);
    CHECK(reader.stats().backend_errors == 1);
    EmbeddingCache<float> strict(backend, {.model_id = "toy", .compute_when_backend_fails = false});
    CHECK_THROWS_AS(strict.get_or_compute(texts, embed), ConnectionError);
    CHECK_THROWS_AS(reader.get("one"), ConnectionError);
    server.start();
    reader.get_or_compute(texts, embed);
    CHECK(calls == 3);  // the restarted server is empty
    reader.get_or_compute(texts, embed);
    CHECK(calls == 3);
  }

  TEST_CASE("PredictionCache on Redis: invalidating one version leaves the others") {
    auto redis = std::make_shared<RedisCache>(shared_options("pred"));
    PredictionCache<double> cache(std::make_shared<RedisCacheBackend>(redis), {.ttl = 60s});
    Vector<double> x = Vector<double>::LinSpaced(4, 0, 1);
    auto model = [](const Vector<double>& f) { return Vector<double>(f.array() + 1.0); };
    for (const char* version : {"v1", "v1.1", "v2"}) cache.get_or_compute(version, x, model);
    cache.get_or_compute("v1", Vector<double>(x * 2), model);
    CHECK(cache.invalidate("v1") == 2);
    CHECK_FALSE(cache.get("v1", x).has_value());
    CHECK(cache.get("v1.1", x).has_value());
    CHECK(*cache.get("v2", x) == model(x));
    CHECK(redis->ttl(cache.key("v2", x)).remaining.has_value());
  }
}

#endif  // AIMASTERY_HAVE_REDIS
