// RedisCache against loopback servers that misbehave (suite redis_deadline; no Redis needed): every call
// ends with ConnectionError by its deadline (call_timeout(), measured here), however the peer behaves.

#if defined(AIMASTERY_HAVE_REDIS)

#include <chrono>
#include <string>

#include "aimastery/production/caching/redis_cache.hpp"
#include "fake_redis_server.hpp"
#include "support.hpp"

using namespace aimastery;
using namespace std::chrono_literals;
using Behaviour = test::FakeRedisServer::Behaviour;

namespace {

// Short limits: call_timeout() = 200 + 2 × 200 = 600 ms. The trickling server sends a byte every 100 ms,
// inside the 200 ms command timeout, so a bound per read (hiredis's) would never end the call.
RedisCacheOptions fake_options(const test::FakeRedisServer& server) {
  return {.port = server.port(), .connect_timeout = 200ms, .command_timeout = 200ms, .pool_size = 1};
}

// Scheduling slack on a loaded machine; far below the 12 s a trickling server held a call before.
constexpr auto slack = 400ms;

template <class F>
std::chrono::milliseconds elapsed(F&& call) {
  const auto t0 = std::chrono::steady_clock::now();
  call();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
}

}  // namespace

TEST_SUITE("redis_deadline") {
  TEST_CASE("RedisCache: the call deadline is connect_timeout + 2 x command_timeout (+ AUTH, SELECT)") {
    test::FakeRedisServer server(Behaviour::silent, 1);
    RedisCache cache(fake_options(server));
    CHECK(cache.call_timeout() == 600ms);
  }

  TEST_CASE("RedisCache: a server that trickles its reply -> ConnectionError by the deadline") {
    SUBCASE("at construction (PING)") {
      test::FakeRedisServer server(Behaviour::trickle);
      const auto took = elapsed(
          [&] { CHECK_THROWS_NAMING(RedisCache(fake_options(server)), ConnectionError, "no complete reply from"); });
      CHECK(took >= 200ms);
      CHECK(took <= 600ms + slack);
    }
    SUBCASE("get, then ping()") {
      test::FakeRedisServer server(Behaviour::trickle, 1);
      RedisCache cache(fake_options(server));
      const auto took =
          elapsed([&] { CHECK_THROWS_NAMING(cache.get("k"), ConnectionError, "RedisCache::get: no complete reply"); });
      CHECK(took >= 200ms);  // it waited for the reply, and the retry was cut off too
      CHECK(took <= cache.call_timeout() + slack);
      bool answered = true;
      const auto ping_took = elapsed([&] { answered = cache.ping(); });
      CHECK_FALSE(answered);
      CHECK(ping_took <= cache.call_timeout() + slack);
    }
  }

  TEST_CASE("RedisCache: spinning on the read (busy_poll) ends by the same deadline") {
    // busy_poll = command_timeout, on every wait: each wait for the reply is spent spinning, never in poll().
    for (const Behaviour behaviour : {Behaviour::trickle, Behaviour::silent}) {
      CAPTURE(static_cast<int>(behaviour));
      test::FakeRedisServer server(behaviour, 1);
      RedisCacheOptions options = fake_options(server);
      options.busy_poll = options.command_timeout;
      options.adaptive_busy_poll = false;
      RedisCache cache(options);
      const auto took =
          elapsed([&] { CHECK_THROWS_NAMING(cache.get("k"), ConnectionError, "RedisCache::get: no complete reply"); });
      CHECK(took >= 200ms);
      CHECK(took <= cache.call_timeout() + slack);
    }
  }

  TEST_CASE("RedisCache: a server that accepts and never answers -> ConnectionError by the deadline") {
    SUBCASE("at construction") {
      test::FakeRedisServer server(Behaviour::silent);
      const auto took =
          elapsed([&] { CHECK_THROWS_NAMING(RedisCache(fake_options(server)), ConnectionError, "no complete reply"); });
      CHECK(took >= 200ms);
      CHECK(took <= 600ms + slack);
    }
    SUBCASE("set, get_many, erase_prefix") {
      test::FakeRedisServer server(Behaviour::silent, 1);
      RedisCache cache(fake_options(server));
      const std::vector<std::string> keys{"a", "b"};
      for (auto took : {elapsed([&] { CHECK_THROWS_AS(cache.set("k", "v"), ConnectionError); }),
                        elapsed([&] { CHECK_THROWS_AS(cache.get_many(keys), ConnectionError); }),
                        elapsed([&] { CHECK_THROWS_AS(cache.exists("k"), ConnectionError); })})
        CHECK(took <= cache.call_timeout() + slack);
    }
  }

  TEST_CASE("RedisCache: a listener that is not Redis is refused at construction") {
    SUBCASE("HTTP") {
      test::FakeRedisServer server(Behaviour::http);
      const auto took = elapsed([&] {
        CHECK_THROWS_NAMING(RedisCache(fake_options(server)), ConnectionError, "does not speak the Redis protocol");
      });
      CHECK(took <= 600ms + slack);
    }
    SUBCASE("answers PING with +OK") {
      test::FakeRedisServer server(Behaviour::wrong_pong);
      CHECK_THROWS_NAMING(RedisCache(fake_options(server)), ConnectionError, "did not answer PING with PONG");
    }
  }

  TEST_CASE("RedisCache: an array reply that announces 2^31 - 1 elements is refused before room is made for them") {
    // hiredis allocated the 2^31 slots and walked them all when the half-read reply was freed: seconds per
    // header. The header is refused as it is read, whatever the command.
    test::FakeRedisServer server(Behaviour::huge_array, 1);
    RedisCache cache(fake_options(server));
    const std::vector<std::string> keys{"a", "b", "c"};
    const auto took = elapsed([&] {
      CHECK_THROWS_NAMING(cache.get_many(keys), ConnectionError,
                          "sent an array reply of 2147483647 elements, more than the 65536 the command can return");
      CHECK_THROWS_NAMING(cache.get("k"), ConnectionError, "array reply of 2147483647 elements");
      CHECK_THROWS_NAMING(cache.erase_prefix("p:"), ConnectionError, "array reply of 2147483647 elements");
    });
    CHECK(took <= cache.call_timeout() + slack);
  }

  TEST_CASE("RedisCache::erase_prefix: a SCAN cursor that never returns to 0 is cut off by erase_prefix_timeout") {
    test::FakeRedisServer server(Behaviour::endless_scan, 1);
    RedisCacheOptions options = fake_options(server);
    options.erase_prefix_timeout = 300ms;
    RedisCache cache(options);
    const auto took =
        elapsed([&] { CHECK_THROWS_NAMING(cache.erase_prefix("p:"), ConnectionError, "SCAN did not finish within"); });
    CHECK(took >= 300ms);
    CHECK(took <= 300ms + slack);
  }

  TEST_CASE("RedisCache: an erase_prefix_timeout of zero or a timeout above 24 h is refused") {
    test::FakeRedisServer server(Behaviour::silent, 1);
    RedisCacheOptions options = fake_options(server);
    options.erase_prefix_timeout = 0ms;
    CHECK_THROWS_NAMING(RedisCache(options), InvalidArgument, "erase_prefix_timeout must be positive");
    options = fake_options(server);
    options.command_timeout = std::chrono::hours(25);
    CHECK_THROWS_NAMING(RedisCache(options), InvalidArgument, "at most 24 hours");
  }
}

#endif
