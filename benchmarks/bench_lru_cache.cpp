// LRUCache against the textbook LRU (one mutex + std::list + std::unordered_map) built here:
//   get_hit      every lookup hits (65 536 entries, keys in random order)
//   miss_heavy   get, then put on a miss, keys uniform over 16× the capacity (~94% misses, each evicting)
//   mixed (2 threads, real time)  90% get / 10% put on keys over 2× the capacity, one shared cache
// Counters: items_per_second (cache operations).

#include <benchmark/benchmark.h>

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include "aimastery/production/caching/lru_cache.hpp"

namespace {

using Key = std::uint64_t;
using Value = std::uint64_t;

/// The baseline: what one writes first, a mutex around a list in recency order and a map into it.
class BaselineLRU {
 public:
  explicit BaselineLRU(std::size_t capacity) : capacity_(capacity) { map_.reserve(capacity); }
  std::optional<Value> get(Key key) {
    std::lock_guard lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  void put(Key key, Value value) {
    std::lock_guard lock(mutex_);
    if (auto it = map_.find(key); it != map_.end()) {
      it->second->second = value;
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    if (map_.size() == capacity_) {
      map_.erase(order_.back().first);
      order_.pop_back();
    }
    order_.emplace_front(key, value);
    map_.emplace(key, order_.begin());
  }

 private:
  std::size_t capacity_;
  std::mutex mutex_;
  std::list<std::pair<Key, Value>> order_;
  std::unordered_map<Key, std::list<std::pair<Key, Value>>::iterator> map_;
};

using Ours = aimastery::LRUCache<Key, Value>;
using OursSingleThread = aimastery::LRUCache<Key, Value, aimastery::NullMutex>;
using Sharded = aimastery::ShardedLRUCache<Key, Value>;

template <class Cache>
std::unique_ptr<Cache> make_cache(std::size_t capacity) {
  if constexpr (std::is_same_v<Cache, BaselineLRU>)
    return std::make_unique<Cache>(capacity);
  else if constexpr (std::is_same_v<Cache, Sharded>)
    return std::make_unique<Cache>(typename Cache::Options{.capacity = capacity}, 16);
  else
    return std::make_unique<Cache>(typename Cache::Options{.capacity = capacity});
}

std::vector<Key> random_keys(std::size_t count, Key range, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<Key> key(0, range - 1);
  std::vector<Key> keys(count);
  for (auto& k : keys) k = key(rng);
  return keys;
}

template <class Cache>
void get_hit(benchmark::State& state) {
  constexpr std::size_t capacity = 1 << 16;
  auto cache = make_cache<Cache>(capacity);
  for (Key k = 0; k < capacity; ++k) cache->put(k, k);
  const auto keys = random_keys(1 << 20, capacity, 1);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache->get(keys[i]));
    i = (i + 1) & (keys.size() - 1);
  }
  state.SetItemsProcessed(state.iterations());
}

template <class Cache>
void miss_heavy(benchmark::State& state) {
  constexpr std::size_t capacity = 1 << 14;
  auto cache = make_cache<Cache>(capacity);
  const auto keys = random_keys(1 << 20, 16 * capacity, 2);
  std::size_t i = 0;
  for (auto _ : state) {
    const Key k = keys[i];
    if (!cache->get(k)) cache->put(k, k);
    i = (i + 1) & (keys.size() - 1);
  }
  state.SetItemsProcessed(state.iterations());
}

// One cache shared by the benchmark's threads.
template <class Cache>
Cache* shared_cache = nullptr;

template <class Cache>
void mixed_threads(benchmark::State& state) {
  constexpr std::size_t capacity = 1 << 16;
  static std::unique_ptr<Cache> owner;
  if (state.thread_index() == 0) {
    owner = make_cache<Cache>(capacity);
    for (Key k = 0; k < capacity; ++k) owner->put(k, k);
    shared_cache<Cache> = owner.get();
  }
  const auto keys = random_keys(1 << 18, 2 * capacity, 3 + static_cast<std::uint64_t>(state.thread_index()));
  std::size_t i = 0;
  for (auto _ : state) {
    Cache& cache = *shared_cache<Cache>;
    const Key k = keys[i];
    if (i % 10 == 0)
      cache.put(k, k);
    else
      benchmark::DoNotOptimize(cache.get(k));
    i = (i + 1) & (keys.size() - 1);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(get_hit<BaselineLRU>)->Name("get_hit/baseline_list_map");
BENCHMARK(get_hit<Ours>)->Name("get_hit/LRUCache");
BENCHMARK(get_hit<OursSingleThread>)->Name("get_hit/LRUCache_NullMutex");
BENCHMARK(miss_heavy<BaselineLRU>)->Name("miss_heavy/baseline_list_map");
BENCHMARK(miss_heavy<Ours>)->Name("miss_heavy/LRUCache");
BENCHMARK(miss_heavy<OursSingleThread>)->Name("miss_heavy/LRUCache_NullMutex");
BENCHMARK(mixed_threads<BaselineLRU>)->Name("mixed/baseline_list_map")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(mixed_threads<Ours>)->Name("mixed/LRUCache")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(mixed_threads<Sharded>)->Name("mixed/ShardedLRUCache_16")->Threads(1)->Threads(2)->UseRealTime();
