// Many threads on LRUCache, ShardedLRUCache, get_or_compute and RedisCache's pool (label concurrency; these
// run under ThreadSanitizer in CI).

#include <atomic>
#include <barrier>
#include <chrono>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "aimastery/production/caching/lru_cache.hpp"
#include "support.hpp"

#if defined(AIMASTERY_HAVE_REDIS)
#include "aimastery/production/caching/redis_cache.hpp"
#include "redis_test_server.hpp"
#endif

using namespace aimastery;
using namespace std::chrono_literals;

namespace {

constexpr int thread_count = 8;

template <class Cache>
void hammer(Cache& cache, std::uint64_t seed, int operations_per_thread) {
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&cache, seed, t, operations_per_thread] {
      std::mt19937_64 rng(seed + static_cast<std::uint64_t>(t));
      std::uniform_int_distribution<int> key_of(0, 499), op_of(0, 9);
      for (int i = 0; i < operations_per_thread; ++i) {
        const int key = key_of(rng);
        const int op = op_of(rng);
        if (op < 6) {
          if (auto v = cache.get(key)) CHECK(*v == key * 3);  // a value is never torn or mixed up
        } else if (op < 9) {
          cache.put(key, key * 3);
        } else {
          cache.erase(key);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
}

}  // namespace

TEST_SUITE("concurrency") {
  TEST_CASE("LRUCache: many threads get, put and erase; values stay consistent and the capacity holds") {
    LRUCache<int, int> cache({.capacity = 128});
    hammer(cache, test::test_seed(), 20000);
    CHECK(cache.size() <= 128);
    const CacheStats s = cache.stats();
    CHECK(s.hits + s.misses > 0);
    for (int key : cache.keys()) CHECK(*cache.get(key) == key * 3);
  }

  TEST_CASE("ShardedLRUCache: many threads on 8 shards") {
    ShardedLRUCache<int, int> cache({.capacity = 256}, 8);
    hammer(cache, test::test_seed(), 20000);
    CHECK(cache.size() <= 256);
    CHECK(cache.stats().hits > 0);
  }

  TEST_CASE("get_or_compute: threads asking for the same keys at once compute each key exactly once") {
    LRUCache<int, int> cache({.capacity = 1000});
    constexpr int keys = 50;
    std::vector<std::atomic<int>> computations(keys);
    std::barrier start(thread_count);
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        for (int k = 0; k < keys; ++k) {
          const int v = cache.get_or_compute(k, [&, k] {
            computations[static_cast<std::size_t>(k)].fetch_add(1);
            std::this_thread::sleep_for(1ms);  // long enough for the others to arrive while it runs
            return k * k;
          });
          CHECK(v == k * k);
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int k = 0; k < keys; ++k) CHECK(computations[static_cast<std::size_t>(k)].load() == 1);
    CHECK(cache.stats().misses == keys);
    CHECK(cache.stats().hits == static_cast<std::uint64_t>((thread_count - 1) * keys));
  }

  TEST_CASE("get_or_compute: an exception reaches every waiting thread and is not cached") {
    LRUCache<int, int> cache({.capacity = 10});
    std::atomic<int> calls{0}, failures{0};
    std::barrier start(thread_count);
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        try {
          cache.get_or_compute(1, [&]() -> int {
            calls.fetch_add(1);
            std::this_thread::sleep_for(20ms);
            throw std::runtime_error("backend failed");
          });
        } catch (const std::runtime_error& e) {
          if (std::string(e.what()) == "backend failed") failures.fetch_add(1);
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(failures.load() == thread_count);
    CHECK(calls.load() >= 1);
    CHECK(calls.load() < thread_count);  // the threads that arrived during the computation shared it
    CHECK_FALSE(cache.contains(1));
  }

  TEST_CASE("ShardedLRUCache::get_or_compute with a TTL from many threads") {
    ShardedLRUCache<int, int> cache({.capacity = 512}, 4);
    std::atomic<int> calls{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t)
      threads.emplace_back([&] {
        for (int k = 0; k < 200; ++k)
          CHECK(cache.get_or_compute(
                    k,
                    [&, k] {
                      calls.fetch_add(1);
                      return -k;
                    },
                    10s) == -k);
      });
    for (auto& th : threads) th.join();
    CHECK(calls.load() == 200);
  }

#if defined(AIMASTERY_HAVE_REDIS)
  TEST_CASE("RedisCache: one object shared by more threads than pooled connections") {
    test::RedisTestServer server;
    RedisCache cache({.port = server.port(), .key_prefix = test::unique_prefix("pool"), .pool_size = 3});
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 100; ++i) {
          // Appended piece by piece: `"k" + std::to_string(t)` trips g++ 12's -Wstringop-overflow at -O3 (a
          // false positive inside std::string's insert).
          std::string key = "k";
          key += std::to_string(t);
          key += ':';
          key += std::to_string(i);
          cache.set(key, std::to_string(i * t));
          if (cache.get(key) != std::optional<std::string>(std::to_string(i * t))) wrong.fetch_add(1);
          if (i % 10 == 0) {
            const std::vector<std::string> keys{key, "absent"};
            const auto values = cache.get_many(keys);
            if (!values[0] || values[1]) wrong.fetch_add(1);
          }
        }
      });
    for (auto& th : threads) th.join();
    CHECK(wrong.load() == 0);
    CHECK(cache.exists("k7:99"));
  }
#endif
}
