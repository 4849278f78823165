// LRUCache and ShardedLRUCache: recency order, weights, TTL on an injected clock, statistics,
// get_or_compute, bad inputs, and hit counts on replayed traces equal to a reference LRU simulation.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <limits>
#include <list>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "aimastery/production/caching/lru_cache.hpp"
#include "support.hpp"

using namespace aimastery;
using namespace std::chrono_literals;

namespace {

/// The textbook LRU (a list in recency order and a map into it): the reference the cache is compared with.
class ReferenceLRU {
 public:
  explicit ReferenceLRU(std::size_t capacity) : capacity_(capacity) {}
  bool get(int key) {
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    order_.splice(order_.begin(), order_, it->second);
    return true;
  }
  void put(int key) {
    if (auto it = map_.find(key); it != map_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    if (map_.size() == capacity_) {
      map_.erase(order_.back());
      order_.pop_back();
    }
    order_.push_front(key);
    map_[key] = order_.begin();
  }
  void erase(int key) {
    if (auto it = map_.find(key); it != map_.end()) {
      order_.erase(it->second);
      map_.erase(it);
    }
  }
  std::vector<int> keys() const { return {order_.begin(), order_.end()}; }

 private:
  std::size_t capacity_;
  std::list<int> order_;
  std::unordered_map<int, std::list<int>::iterator> map_;
};

/// Replays get-then-put-on-miss over `trace`; returns the number of hits.
template <class Cache>
std::uint64_t replay(Cache& cache, const std::vector<int>& trace) {
  std::uint64_t hits = 0;
  for (int key : trace) {
    if (cache.get(key))
      ++hits;
    else
      cache.put(key, key);
  }
  return hits;
}

std::uint64_t replay_reference(std::size_t capacity, const std::vector<int>& trace) {
  ReferenceLRU reference(capacity);
  std::uint64_t hits = 0;
  for (int key : trace) {
    if (reference.get(key))
      ++hits;
    else
      reference.put(key);
  }
  return hits;
}

/// Keys drawn from a Zipf(s) law over 1..n by inverting its cumulative distribution.
std::vector<int> zipf_trace(int n, double s, std::size_t length, std::uint64_t seed) {
  std::vector<double> cdf(static_cast<std::size_t>(n));
  double total = 0;
  for (int k = 1; k <= n; ++k) cdf[static_cast<std::size_t>(k - 1)] = total += 1.0 / std::pow(k, s);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, total);
  std::vector<int> trace(length);
  for (auto& key : trace) key = static_cast<int>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin()) + 1;
  return trace;
}

/// A clock the test moves by hand.
struct ManualClock {
  CacheClock::time_point now{std::chrono::hours(1)};
  std::function<CacheClock::time_point()> function() {
    return [this] { return now; };
  }
};

/// Runs `work` on its own thread and returns (or rethrows) its result if it finishes within `limit`; a
/// deadlocked call cannot be joined, so a timeout ends the test program with a message instead of hanging.
void within(std::chrono::seconds limit, const char* what, std::function<void()> work) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread([done, work = std::move(work)] {
    try {
      work();
      done->set_value();
    } catch (...) {
      done->set_exception(std::current_exception());
    }
  }).detach();
  if (finished.wait_for(limit) == std::future_status::timeout) {
    std::fprintf(stderr, "FAILED: %s did not finish within %lld s (deadlock)\n", what,
                 static_cast<long long>(limit.count()));
    std::_Exit(1);
  }
  finished.get();
}

}  // namespace

TEST_CASE("LRUCache: get, put, update and eviction of the least recently used") {
  LRUCache<int, std::string> cache({.capacity = 3});
  CHECK(cache.put(1, "one"));
  cache.put(2, "two");
  cache.put(3, "three");
  CHECK(cache.get(1) == std::optional<std::string>("one"));  // 1 becomes the most recent
  cache.put(4, "four");                                      // evicts 2, the least recent
  CHECK_FALSE(cache.get(2).has_value());
  CHECK(cache.keys() == std::vector<int>{4, 1, 3});
  cache.put(3, "THREE");  // update moves to the front without eviction
  CHECK(cache.keys() == std::vector<int>{3, 4, 1});
  CHECK(*cache.get(3) == "THREE");
  CHECK(cache.size() == 3);
  const CacheStats s = cache.stats();
  CHECK(s.hits == 2);
  CHECK(s.misses == 1);
  CHECK(s.evictions == 1);
  CHECK(s.hit_rate() == doctest::Approx(2.0 / 3.0));
}

TEST_CASE("LRUCache: erase, contains, clear, erase_if") {
  LRUCache<int, int> cache({.capacity = 8});
  for (int k = 0; k < 8; ++k) cache.put(k, k * k);
  CHECK(cache.erase(3));
  CHECK_FALSE(cache.erase(3));
  CHECK_FALSE(cache.contains(3));
  CHECK(cache.contains(4));
  CHECK(cache.size() == 7);
  CHECK(cache.erase_if([](int k) { return k % 2 == 0; }) == 4);
  CHECK(cache.keys() == std::vector<int>{7, 5, 1});
  cache.clear();
  CHECK(cache.size() == 0);
  CHECK_FALSE(cache.get(7).has_value());
  cache.put(9, 81);
  CHECK(*cache.get(9) == 81);
}

TEST_CASE("LRUCache: a random mix of get, put and erase keeps exactly the reference's keys in order") {
  const auto seed = test::test_seed();
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> key_of(0, 199), op_of(0, 9);
  LRUCache<int, int, NullMutex> cache({.capacity = 64});
  ReferenceLRU reference(64);
  for (int step = 0; step < 20000; ++step) {
    const int key = key_of(rng), op = op_of(rng);
    if (op < 5) {
      const bool hit = cache.get(key).has_value();
      REQUIRE(hit == reference.get(key));
    } else if (op < 9) {
      cache.put(key, key);
      reference.put(key);
    } else {
      cache.erase(key);
      reference.erase(key);
    }
  }
  CHECK(cache.keys() == reference.keys());
}

TEST_CASE("LRUCache: hit counts on replayed traces equal a reference LRU simulation") {
  const std::size_t capacity = 100;
  SUBCASE("a loop over capacity + 1 keys never hits (each key is evicted just before it returns)") {
    std::vector<int> trace;
    for (int pass = 0; pass < 20; ++pass)
      for (int k = 0; k <= static_cast<int>(capacity); ++k) trace.push_back(k);
    LRUCache<int, int> cache({.capacity = capacity});
    CHECK(replay(cache, trace) == 0);
    CHECK(cache.stats().evictions == trace.size() - capacity);
  }
  SUBCASE("a loop over capacity keys hits on every pass after the first") {
    std::vector<int> trace;
    for (int pass = 0; pass < 20; ++pass)
      for (int k = 0; k < static_cast<int>(capacity); ++k) trace.push_back(k);
    LRUCache<int, int> cache({.capacity = capacity});
    CHECK(replay(cache, trace) == 19 * capacity);
  }
  SUBCASE("a Zipf(1.1) trace over 1000 keys") {
    const auto trace = zipf_trace(1000, 1.1, 50000, test::test_seed());
    LRUCache<int, int> cache({.capacity = capacity});
    const std::uint64_t hits = replay(cache, trace);
    CHECK(hits == replay_reference(capacity, trace));
    CHECK(cache.stats().hits == hits);
    CHECK(cache.stats().misses == trace.size() - hits);
    // With one shard the sharded cache is the same LRU.
    ShardedLRUCache<int, int> one_shard({.capacity = capacity}, 1);
    CHECK(replay(one_shard, trace) == hits);
    // With 8 shards recency is per shard: close to, but not exactly, the global LRU.
    ShardedLRUCache<int, int> sharded({.capacity = capacity}, 8);
    const double sharded_hits = static_cast<double>(replay(sharded, trace));
    CHECK(std::abs(sharded_hits - static_cast<double>(hits)) < 0.05 * static_cast<double>(trace.size()));
  }
}

TEST_CASE("LRUCache: capacity by weight") {
  LRUCache<std::string, std::string> cache(
      {.capacity = 100, .max_weight = 10, .weigher = [](const std::string&, const std::string& v) {
         return v.size();
       }});
  cache.put("a", "aaaa");  // 4
  cache.put("b", "bbbb");  // 8
  cache.put("c", "cc");    // 10
  CHECK(cache.weight() == 10);
  cache.put("d", "d");  // 11 > 10: evicts a
  CHECK_FALSE(cache.contains("a"));
  CHECK(cache.weight() == 7);
  cache.put("c", "cccccc");  // grows c by 4 → 11: evicts b
  CHECK_FALSE(cache.contains("b"));
  CHECK(cache.weight() == 7);
  CHECK(cache.keys() == std::vector<std::string>{"c", "d"});
  // An entry heavier than max_weight is refused, and removes the key's older value.
  CHECK_FALSE(cache.put("c", std::string(11, 'x')));
  CHECK_FALSE(cache.contains("c"));
  CHECK(cache.weight() == 1);
}

TEST_CASE("LRUCache: TTL per entry and by default, on an injected clock") {
  ManualClock clock;
  LRUCache<int, int> cache({.capacity = 10, .default_ttl = 10s, .clock = clock.function()});
  cache.put(1, 1);       // expires at +10 s
  cache.put(2, 2, 30s);  // at +30 s
  cache.put(3, 3, 0s);   // never
  clock.now += 9s;
  CHECK(cache.get(1).has_value());
  clock.now += 1s;  // exactly at the expiry: expired
  CHECK_FALSE(cache.get(1).has_value());
  CHECK(cache.stats().expirations == 1);
  CHECK(cache.contains(2));
  clock.now += 20s;
  CHECK_FALSE(cache.contains(2));
  CHECK(cache.purge_expired() == 1);
  clock.now += std::chrono::hours(1000);
  CHECK(cache.get(3).has_value());
  CHECK(cache.size() == 1);
  CHECK(cache.stats().expirations == 2);
  // An expired entry at the tail counts as an expiration when it is evicted.
  LRUCache<int, int> small({.capacity = 1, .clock = clock.function()});
  small.put(1, 1, 1s);
  clock.now += 2s;
  small.put(2, 2);
  CHECK(small.stats().expirations == 1);
  CHECK(small.stats().evictions == 0);
}

TEST_CASE("LRUCache: get_or_compute computes once, caches the value and never caches an exception") {
  LRUCache<int, int> cache({.capacity = 4});
  int calls = 0;
  CHECK(cache.get_or_compute(7, [&] { return ++calls * 10; }) == 10);
  CHECK(cache.get_or_compute(7, [&] { return ++calls * 10; }) == 10);
  CHECK(calls == 1);
  CHECK_THROWS_AS(cache.get_or_compute(8, []() -> int { throw std::runtime_error("model down"); }), std::runtime_error);
  CHECK_FALSE(cache.contains(8));
  CHECK(cache.get_or_compute(8, [] { return 80; }) == 80);
  ManualClock clock;
  LRUCache<int, int> timed({.capacity = 4, .clock = clock.function()});
  timed.get_or_compute(
      1, [] { return 1; }, 5s);
  clock.now += 6s;
  CHECK_FALSE(timed.get(1).has_value());
}

TEST_CASE("LRUCache and ShardedLRUCache: bad inputs") {
  using Cache = LRUCache<int, int>;
  CHECK_THROWS_NAMING(Cache({.capacity = 0}), InvalidArgument, "capacity must be at least 1");
  CHECK_THROWS_NAMING(Cache({.capacity = 4, .max_weight = 10}), InvalidArgument, "no weigher");
  CHECK_THROWS_NAMING(Cache({.capacity = 4, .weigher = [](const int&, const int&) { return std::size_t{1}; }}),
                      InvalidArgument, "max_weight is 0");
  CHECK_THROWS_NAMING(Cache({.capacity = 4, .default_ttl = -1s}), InvalidArgument, "ttl must be zero");
  Cache cache({.capacity = 4});
  CHECK_THROWS_NAMING(cache.put(1, 1, -5ms), InvalidArgument, "LRUCache::put: ttl");
  CHECK_THROWS_NAMING(cache.get_or_compute(
                          1, [] { return 1; }, -1ns),
                      InvalidArgument, "LRUCache::get_or_compute");
  using Sharded = ShardedLRUCache<int, int>;
  CHECK_THROWS_NAMING(Sharded({.capacity = 4}, 0), InvalidArgument, "shards must be at least 1");
  CHECK_THROWS_NAMING(Sharded({.capacity = 4}, 8), InvalidArgument, "smaller than the number of shards");
  CHECK_THROWS_NAMING(Sharded({.capacity = 0}, 1), InvalidArgument, "capacity must be at least 1");
}

TEST_CASE("ShardedLRUCache: the same operations, summed statistics") {
  ShardedLRUCache<std::string, int> cache({.capacity = 64}, 4);
  CHECK(cache.shard_count() == 4);
  CHECK(cache.capacity() == 64);
  for (int k = 0; k < 40; ++k) cache.put("key" + std::to_string(k), k);
  int found = 0;
  for (int k = 0; k < 40; ++k) found += cache.get("key" + std::to_string(k)).has_value() ? 1 : 0;
  CHECK(cache.size() == static_cast<std::size_t>(found));
  CHECK(cache.stats().hits == static_cast<std::uint64_t>(found));
  CHECK(found >= 16);  // one shard's capacity, even if every key fell into one shard
  const bool had_39 = cache.contains("key39");
  CHECK(cache.erase("key39") == had_39);
  CHECK_FALSE(cache.contains("key39"));
  CHECK(cache.get_or_compute("new", [] { return 5; }) == 5);
  const std::size_t before = cache.size();
  CHECK(cache.erase_if([](const std::string& k) { return k.starts_with("key"); }) == before - 1);
  CHECK(cache.size() == 1);
  cache.clear();
  CHECK(cache.size() == 0);
}

TEST_CASE("LRUCache: TinyLFU admission keeps a hot set through a scan that flushes plain LRU") {
  // 50 hot keys, each access followed by two never-repeated scan keys: between two uses of a hot key come
  // 49 hot and 100 scan keys, more than the capacity of 100, so plain LRU never hits.
  std::vector<int> trace;
  int scan = 1000;
  for (int round = 0; round < 40; ++round)
    for (int hot = 0; hot < 50; ++hot) {
      trace.push_back(hot);
      trace.push_back(scan++);
      trace.push_back(scan++);
    }
  LRUCache<int, int> lru({.capacity = 100});
  CHECK(replay(lru, trace) == replay_reference(100, trace));
  CHECK(lru.stats().hits == 0);
  LRUCache<int, int> tinylfu({.capacity = 100, .tinylfu_admission = true});
  const std::uint64_t hits = replay(tinylfu, trace);
  CHECK(hits >= 30 * 50);  // after a few rounds every hot access hits
  CHECK(tinylfu.stats().rejections > 0);
  CHECK(tinylfu.size() <= 100);
  // Without pressure (a cache that is not full) admission lets everything in.
  LRUCache<int, int> roomy({.capacity = 10, .tinylfu_admission = true});
  for (int k = 0; k < 10; ++k) CHECK(roomy.put(k, k));
  CHECK(roomy.stats().rejections == 0);
}

TEST_CASE_TEMPLATE("LRUCache::get_or_compute: a compute that asks for its own key throws instead of deadlocking", Mutex,
                   std::mutex, NullMutex) {
  LRUCache<int, int, Mutex> cache({.capacity = 4});
  const auto recursive = [&] {
    within(10s, "recursive get_or_compute",
           [&] { cache.get_or_compute(1, [&] { return cache.get_or_compute(1, [] { return 2; }); }); });
  };
  CHECK_THROWS_NAMING(recursive(), InvalidArgument, "recursive computation");
  // Nothing was cached, nothing stays in flight: the key computes normally afterwards.
  CHECK(cache.size() == 0);
  CHECK(cache.get_or_compute(1, [] { return 10; }) == 10);
  // A compute that needs another key is not recursive.
  CHECK(cache.get_or_compute(2, [&] { return cache.get_or_compute(3, [] { return 3; }) + 1; }) == 4);
  CHECK(cache.get(3) == 3);
}

TEST_CASE("ShardedLRUCache::get_or_compute: recursion for the same key throws") {
  ShardedLRUCache<int, int> cache({.capacity = 16}, 4);
  CHECK_THROWS_NAMING(
      within(10s, "recursive get_or_compute",
             [&] { cache.get_or_compute(5, [&] { return cache.get_or_compute(5, [] { return 1; }); }); }),
      InvalidArgument, "recursive computation");
  CHECK_FALSE(cache.contains(5));
}

TEST_CASE("LRUCache::get_or_compute: another thread waiting for the same key is not mistaken for recursion") {
  LRUCache<int, int> cache({.capacity = 4});
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> go = release.get_future().share();
  std::thread first([&] {
    cache.get_or_compute(1, [&] {
      started.set_value();
      go.wait();
      return 7;
    });
  });
  started.get_future().wait();
  std::future<int> second = std::async(std::launch::async, [&] { return cache.get_or_compute(1, [] { return 8; }); });
  std::this_thread::sleep_for(20ms);
  release.set_value();
  first.join();
  CHECK(second.get() == 7);
}

TEST_CASE("LRUCache: a clock at time_point::min() gives TTLs without overflow") {
  ManualClock clock;
  clock.now = CacheClock::time_point::min();
  LRUCache<int, int> cache({.capacity = 4, .clock = clock.function()});
  cache.put(1, 1, 1s);
  cache.put(2, 2, std::chrono::nanoseconds::max());  // saturates at "never"
  CHECK(cache.get(1) == 1);
  clock.now += 2s;
  CHECK_FALSE(cache.get(1).has_value());  // expired (it never expired when min() + ttl overflowed)
  CHECK(cache.get(2) == 2);
  clock.now = CacheClock::time_point::max();
  cache.put(3, 3, 1s);  // at the end of time: saturates at "never", no overflow
  CHECK(cache.get(3) == 3);
}

TEST_CASE("LRUCache: the weight total never wraps, however large max_weight") {
  constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
  constexpr std::size_t half = max / 2 + 1;  // two of these exceed max
  LRUCache<int, std::size_t> cache(
      {.capacity = 8, .max_weight = max, .weigher = [](const int&, const std::size_t& w) { return w; }});
  CHECK(cache.put(1, half));
  CHECK(cache.put(2, half));  // 1 must go: half + half wraps to 0 in size_t
  CHECK(cache.size() == 1);
  CHECK(cache.weight() == half);
  CHECK_FALSE(cache.contains(1));
  CHECK(cache.put(2, max));  // replacing 2 by a heavier value of the whole budget
  CHECK(cache.weight() == max);
  CHECK(cache.put(3, 1));  // evicts 2
  CHECK(cache.weight() == 1);
  CHECK(cache.keys() == std::vector<int>{3});
}
