#pragma once
/// \file
/// LRUCache: a least-recently-used cache with O(1) get and put, capacity in entries and optionally by
/// weight, per-entry TTL with an injectable clock, statistics, and `get_or_compute` that runs the
/// computation once per key however many threads ask for it at the same time. ShardedLRUCache splits
/// the key space over independently locked shards for concurrent use.
///
/// Thread safety is a policy (as spdlog's sinks): `LRUCache<K, V>` locks a std::mutex around every
/// operation; `LRUCache<K, V, NullMutex>` is for a single thread and pays nothing for locking.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/production/caching/frequency_sketch.hpp"

namespace aimastery {

/// The lock policy of a cache used by one thread only: every operation is a no-op.
struct NullMutex {
  void lock() noexcept {}
  void unlock() noexcept {}
  bool try_lock() noexcept { return true; }
};

/// Counters of a cache. A hit is a lookup served without computing (a `get_or_compute` that waited for
/// another thread's computation counts as a hit); an expiration is an entry found or evicted past its TTL;
/// a rejection is a new entry that TinyLFU admission did not let in.
struct CacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t evictions = 0;
  std::uint64_t expirations = 0;
  std::uint64_t rejections = 0;

  /// hits / (hits + misses), 0 before the first lookup.
  [[nodiscard]] double hit_rate() const {
    const std::uint64_t lookups = hits + misses;
    return lookups ? static_cast<double>(hits) / static_cast<double>(lookups) : 0.0;
  }
  CacheStats& operator+=(const CacheStats& other) {
    hits += other.hits;
    misses += other.misses;
    evictions += other.evictions;
    expirations += other.expirations;
    rejections += other.rejections;
    return *this;
  }
};

/// The clock of cache TTLs.
using CacheClock = std::chrono::steady_clock;

/// Options of LRUCache and ShardedLRUCache.
template <class K, class V>
struct LRUCacheOptions {
  /// Most entries held (at least 1).
  std::size_t capacity = 1024;
  /// Most total weight held, with `weigher` giving each entry's weight; 0 = no weight limit.
  std::size_t max_weight = 0;
  std::function<std::size_t(const K&, const V&)> weigher{};
  /// TTL of an entry put without one; zero = entries never expire.
  std::chrono::nanoseconds default_ttl{0};
  /// The time source of TTLs (tests inject a manual clock); empty = CacheClock::now.
  std::function<CacheClock::time_point()> clock{};
  /// TinyLFU admission: when the cache is full, a new key is let in only if its recent access frequency
  /// (a count-min sketch with a doorkeeper, see frequency_sketch.hpp) exceeds that of the entry it would
  /// evict. Protects a frequently used working set from one-off scans; `put` returns false when refused.
  bool tinylfu_admission = false;
};

namespace detail {

/// A 64-bit finaliser (from MurmurHash3's fmix64) so that weak hashes such as libstdc++'s identity
/// std::hash<int> spread over both the low bits (table slot) and the high bits (shard).
inline std::uint64_t mix_hash(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

/// An address that tells the calling thread from every other running thread (its own thread_local's).
inline const void* this_thread_token() noexcept {
  thread_local const char token = 0;
  return &token;
}

inline void check_ttl(std::chrono::nanoseconds ttl, const char* where) {
  if (ttl.count() < 0)
    throw InvalidArgument(std::string(where) + ": ttl must be zero (never expire) or positive, got " +
                          std::to_string(ttl.count()) + " ns");
}

}  // namespace detail

/// Least-recently-used cache.
///
/// Layout: the entries live in one slab (a std::vector of nodes) and are linked into the recency list
/// by 32-bit indices, so a steady-state put (which evicts the tail and reuses its node) allocates
/// nothing for the list; an open-addressing table with linear probing maps a key's hash to its node.
///
///   get(k):  slot = probe(h(k)); if found and not expired, unlink the node and link it at the head.
///   put(k):  if present, replace the value and move to head; otherwise evict from the tail while
///            size = capacity or weight + w(k, v) > max_weight, then link a new node at the head.
///   Both are O(1) expected: the table is kept at most half full, so a probe visits
///   1/2 (1 + 1/(1 − α)²) ≤ 2.5 slots on average for an absent key at load α ≤ 1/2 (Knuth).
template <class K, class V, class Mutex = std::mutex, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>>
class LRUCache {
 public:
  using key_type = K;
  using mapped_type = V;
  using Options = LRUCacheOptions<K, V>;
  using TimePoint = CacheClock::time_point;

  explicit LRUCache(Options options = {}) : options_(std::move(options)) {
    if (options_.capacity == 0) throw InvalidArgument("LRUCache: capacity must be at least 1, got 0");
    if (options_.capacity >= static_cast<std::size_t>(npos))
      throw InvalidArgument("LRUCache: capacity " + std::to_string(options_.capacity) + " exceeds the limit " +
                            std::to_string(npos - 1));
    if (options_.max_weight > 0 && !options_.weigher)
      throw InvalidArgument("LRUCache: max_weight is set but no weigher is given");
    if (options_.max_weight == 0 && options_.weigher)
      throw InvalidArgument("LRUCache: a weigher is given but max_weight is 0 (no weight limit)");
    detail::check_ttl(options_.default_ttl, "LRUCache");
    table_.assign(16, 0);
    if (options_.tinylfu_admission) sketch_ = std::make_unique<detail::FrequencySketch>(options_.capacity);
  }

  LRUCache(const LRUCache&) = delete;
  LRUCache& operator=(const LRUCache&) = delete;

  /// The value of `key` (a copy), or nothing when absent or expired. Marks the entry most recent.
  std::optional<V> get(const K& key) {
    const std::uint64_t h = hash_of(key);
    std::lock_guard lock(mutex_);
    if (sketch_) sketch_->record(h);
    const std::uint32_t node = find_live(key, h);
    if (node == npos) {
      ++stats_.misses;
      return std::nullopt;
    }
    ++stats_.hits;
    move_to_front(node);
    return nodes_[node].entry->second;
  }

  /// Whether `key` is present and not expired; neither recency nor statistics change.
  bool contains(const K& key) const {
    const std::uint64_t h = hash_of(key);
    std::lock_guard lock(mutex_);
    const std::size_t pos = find_position(key, h);
    return pos != no_position && !expired(nodes_[table_[pos] - 1], now_if_needed(nodes_[table_[pos] - 1]));
  }

  /// Stores `value` under `key` with the default TTL. Returns false when the entry is not stored: heavier
  /// than max_weight alone (an older value of the key is removed too), or refused by TinyLFU admission.
  bool put(const K& key, V value) { return put(key, std::move(value), options_.default_ttl); }

  /// Stores `value` under `key`, expiring after `ttl` (zero = never).
  bool put(const K& key, V value, std::chrono::nanoseconds ttl) {
    detail::check_ttl(ttl, "LRUCache::put");
    const std::uint64_t h = hash_of(key);
    const std::size_t w = weigh(key, value);
    std::lock_guard lock(mutex_);
    if (sketch_) sketch_->record(h);
    return put_locked(key, std::move(value), h, w, ttl);
  }

  /// The cached value of `key`, or `compute()` stored with the default TTL. Concurrent callers for the same
  /// key wait for the one computation in flight and share its result; an exception thrown by `compute`
  /// reaches every waiter and nothing is cached.
  ///
  /// A `compute` that calls get_or_compute for its own key on the same thread would wait for itself for
  /// ever; it is detected and throws InvalidArgument ("recursive computation"), as Caffeine throws
  /// IllegalStateException("Recursive update"), and the outer call then fails with it and caches nothing.
  /// (A cycle across threads, A computing k1 for k2 while B computes k2 for k1, is not detected.)
  template <class F>
  V get_or_compute(const K& key, F&& compute) {
    return get_or_compute(key, std::forward<F>(compute), options_.default_ttl);
  }

  template <class F>
  V get_or_compute(const K& key, F&& compute, std::chrono::nanoseconds ttl) {
    detail::check_ttl(ttl, "LRUCache::get_or_compute");
    const std::uint64_t h = hash_of(key);
    std::shared_ptr<InFlight> flight;  // made only on a miss
    {
      std::unique_lock lock(mutex_);
      if (sketch_) sketch_->record(h);
      const std::uint32_t node = find_live(key, h);
      if (node != npos) {
        ++stats_.hits;
        move_to_front(node);
        return nodes_[node].entry->second;
      }
      if (auto running = in_flight_.find(key); running != in_flight_.end()) {
        if (running->second->owner == detail::this_thread_token())
          throw InvalidArgument(
              "LRUCache::get_or_compute: recursive computation: compute for a key called get_or_compute for the "
              "same key on the same thread (it would wait for itself)");
        ++stats_.hits;
        const std::shared_ptr<InFlight> result = running->second;
        lock.unlock();
        return result->get();
      }
      ++stats_.misses;
      flight = std::make_shared<InFlight>();
      in_flight_.emplace(key, flight);
    }
    std::optional<V> value;
    try {
      value.emplace(std::forward<F>(compute)());
    } catch (...) {
      {
        std::lock_guard lock(mutex_);
        in_flight_.erase(key);
      }
      flight->fail(std::current_exception());
      throw;
    }
    try {
      const std::size_t w = weigh(key, *value);
      std::lock_guard lock(mutex_);
      put_locked(key, V(*value), h, w, ttl);
      in_flight_.erase(key);
    } catch (...) {
      {
        std::lock_guard lock(mutex_);
        in_flight_.erase(key);
      }
      flight->fail(std::current_exception());
      throw;
    }
    flight->succeed(*value);
    return std::move(*value);
  }

  /// Removes `key`; returns whether it was present.
  bool erase(const K& key) {
    const std::uint64_t h = hash_of(key);
    std::lock_guard lock(mutex_);
    const std::size_t pos = find_position(key, h);
    if (pos == no_position) return false;
    remove_node(table_[pos] - 1);
    return true;
  }

  /// Removes every entry whose key satisfies `predicate(key)`; returns how many. O(size).
  template <class Predicate>
  std::size_t erase_if(Predicate predicate) {
    std::lock_guard lock(mutex_);
    std::size_t removed = 0;
    for (std::uint32_t node = head_; node != npos;) {
      const std::uint32_t next = nodes_[node].next;
      if (predicate(std::as_const(nodes_[node].entry->first))) {
        remove_node(node);
        ++removed;
      }
      node = next;
    }
    return removed;
  }

  /// Removes every expired entry (they are otherwise removed when looked up or evicted); returns how many.
  std::size_t purge_expired() {
    std::lock_guard lock(mutex_);
    std::size_t removed = 0;
    const TimePoint now = clock_now();
    for (std::uint32_t node = head_; node != npos;) {
      const std::uint32_t next = nodes_[node].next;
      if (expired(nodes_[node], now)) {
        remove_node(node);
        ++stats_.expirations;
        ++removed;
      }
      node = next;
    }
    return removed;
  }

  /// Removes every entry (statistics are kept).
  void clear() {
    std::lock_guard lock(mutex_);
    nodes_.clear();
    free_ = npos;
    head_ = tail_ = npos;
    size_ = 0;
    weight_ = 0;
    table_.assign(16, 0);
  }

  /// Entries held, counting expired ones not yet removed (see purge_expired).
  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(mutex_);
    return size_;
  }
  /// Total weight held (0 without a weigher).
  [[nodiscard]] std::size_t weight() const {
    std::lock_guard lock(mutex_);
    return weight_;
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return options_.capacity; }
  [[nodiscard]] std::size_t max_weight() const noexcept { return options_.max_weight; }

  [[nodiscard]] CacheStats stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
  }
  void reset_stats() {
    std::lock_guard lock(mutex_);
    stats_ = {};
  }

  /// Keys from most to least recently used (for inspection and tests). O(size).
  [[nodiscard]] std::vector<K> keys() const {
    std::lock_guard lock(mutex_);
    std::vector<K> out;
    out.reserve(size_);
    for (std::uint32_t node = head_; node != npos; node = nodes_[node].next) out.push_back(nodes_[node].entry->first);
    return out;
  }

 private:
  static constexpr std::uint32_t npos = std::numeric_limits<std::uint32_t>::max();
  static constexpr std::size_t no_position = std::numeric_limits<std::size_t>::max();
  static constexpr TimePoint never = TimePoint::max();

  struct Node {
    std::optional<std::pair<K, V>> entry;  // empty while the node is on the free list
    std::uint64_t hash = 0;
    TimePoint expiry = never;
    std::size_t weight = 0;
    std::uint32_t prev = npos;
    std::uint32_t next = npos;  // the free-list link while unused
  };

  std::uint64_t hash_of(const K& key) const { return detail::mix_hash(static_cast<std::uint64_t>(hasher_(key))); }

  std::size_t weigh(const K& key, const V& value) const {
    return options_.max_weight > 0 ? options_.weigher(key, value) : 0;
  }

  TimePoint clock_now() const { return options_.clock ? options_.clock() : CacheClock::now(); }
  // The clock is read only for entries that can expire, so a cache without TTLs never reads it.
  TimePoint now_if_needed(const Node& node) const { return node.expiry == never ? TimePoint{} : clock_now(); }
  static bool expired(const Node& node, TimePoint now) { return node.expiry != never && now >= node.expiry; }

  // now + ttl, saturated at `never`. Written as now >= never − ttl, which cannot overflow for ttl > 0
  // (never − now can: with a clock at time_point::min() it is max − min).
  TimePoint expiry_after(std::chrono::nanoseconds ttl) const {
    if (ttl.count() == 0) return never;
    using Duration = CacheClock::duration;
    if (std::chrono::duration_cast<std::chrono::duration<double, Duration::period>>(ttl).count() >=
        static_cast<double>(Duration::max().count()))
      return never;
    const auto d = std::chrono::ceil<Duration>(ttl);
    const TimePoint now = clock_now();
    return now >= never - d ? never : now + d;
  }

  // Table position holding `key`, or no_position.
  std::size_t find_position(const K& key, std::uint64_t h) const {
    const std::size_t mask = table_.size() - 1;
    for (std::size_t pos = h & mask;; pos = (pos + 1) & mask) {
      const std::uint32_t slot = table_[pos];
      if (slot == 0) return no_position;
      const Node& node = nodes_[slot - 1];
      if (node.hash == h && equal_(node.entry->first, key)) return pos;
    }
  }

  // The node of `key` if present and live; an expired node is removed and counted.
  std::uint32_t find_live(const K& key, std::uint64_t h) {
    const std::size_t pos = find_position(key, h);
    if (pos == no_position) return npos;
    const std::uint32_t node = table_[pos] - 1;
    if (expired(nodes_[node], now_if_needed(nodes_[node]))) {
      remove_node(node);
      ++stats_.expirations;
      return npos;
    }
    return node;
  }

  bool put_locked(const K& key, V&& value, std::uint64_t h, std::size_t w, std::chrono::nanoseconds ttl) {
    const std::size_t pos = find_position(key, h);
    if (options_.max_weight > 0 && w > options_.max_weight) {
      if (pos != no_position) remove_node(table_[pos] - 1);
      return false;
    }
    const TimePoint expiry = expiry_after(ttl);
    if (pos != no_position) {
      const std::uint32_t node = table_[pos] - 1;
      Node& n = nodes_[node];
      n.entry->second = std::move(value);  // the one step that may throw: nothing has changed before it
      weight_ -= n.weight;
      n.weight = 0;
      n.expiry = expiry;
      move_to_front(node);
      // Room for w, compared as w > max − total so that the total never wraps; `node` is at the front and
      // is never the tail while other entries remain (alone, the total is 0 and w ≤ max_weight).
      while (options_.max_weight > 0 && w > options_.max_weight - weight_) evict_tail();
      n.weight = w;
      weight_ += w;
      return true;
    }
    const auto full = [&] {
      return size_ >= options_.capacity || (options_.max_weight > 0 && w > options_.max_weight - weight_);
    };
    // TinyLFU: a full cache admits the newcomer only if it is more frequent than the entry it would evict
    // (an expired tail is always given up).
    if (sketch_ && full() && !expired(nodes_[tail_], now_if_needed(nodes_[tail_])) &&
        sketch_->estimate(h) <= sketch_->estimate(nodes_[tail_].hash)) {
      ++stats_.rejections;
      return false;
    }
    while (full()) evict_tail();
    const std::uint32_t node = allocate_node(key, std::move(value));
    Node& n = nodes_[node];
    n.hash = h;
    n.weight = w;
    n.expiry = expiry;
    link_front(node);
    ++size_;
    weight_ += w;
    insert_into_table(node);
    return true;
  }

  std::uint32_t allocate_node(const K& key, V&& value) {
    if (free_ != npos) {
      const std::uint32_t node = free_;
      nodes_[node].entry.emplace(key, std::move(value));
      free_ = nodes_[node].next;
      return node;
    }
    nodes_.emplace_back();
    try {
      nodes_.back().entry.emplace(key, std::move(value));
    } catch (...) {
      nodes_.pop_back();
      throw;
    }
    return static_cast<std::uint32_t>(nodes_.size() - 1);
  }

  void evict_tail() {
    AIMASTERY_ASSERT(tail_ != npos);
    const std::uint32_t node = tail_;
    if (expired(nodes_[node], now_if_needed(nodes_[node])))
      ++stats_.expirations;
    else
      ++stats_.evictions;
    remove_node(node);
  }

  void remove_node(std::uint32_t node) {
    erase_from_table(node);
    unlink(node);
    Node& n = nodes_[node];
    n.entry.reset();
    weight_ -= n.weight;
    n.weight = 0;
    n.next = free_;
    free_ = node;
    --size_;
  }

  void link_front(std::uint32_t node) {
    Node& n = nodes_[node];
    n.prev = npos;
    n.next = head_;
    if (head_ != npos) nodes_[head_].prev = node;
    head_ = node;
    if (tail_ == npos) tail_ = node;
  }

  void unlink(std::uint32_t node) {
    Node& n = nodes_[node];
    if (n.prev != npos)
      nodes_[n.prev].next = n.next;
    else
      head_ = n.next;
    if (n.next != npos)
      nodes_[n.next].prev = n.prev;
    else
      tail_ = n.prev;
  }

  void move_to_front(std::uint32_t node) {
    if (head_ == node) return;
    unlink(node);
    link_front(node);
  }

  // The table is kept at most half full: doubled (every live node re-placed by its stored hash) first.
  void insert_into_table(std::uint32_t node) {
    if (2 * (size_ + 1) > table_.size()) {
      std::vector<std::uint32_t> old(2 * table_.size(), 0);
      old.swap(table_);
      for (std::uint32_t slot : old)
        if (slot != 0) place(slot - 1);
    }
    place(node);
  }

  void place(std::uint32_t node) {
    const std::size_t mask = table_.size() - 1;
    std::size_t pos = nodes_[node].hash & mask;
    while (table_[pos] != 0) pos = (pos + 1) & mask;
    table_[pos] = node + 1;
  }

  // Linear-probing deletion without tombstones (Knuth's Algorithm R): after emptying slot i, walk the
  // run that follows and move back every entry whose home slot k does not lie cyclically in (i, j].
  void erase_from_table(std::uint32_t node) {
    const std::size_t mask = table_.size() - 1;
    std::size_t i = nodes_[node].hash & mask;
    while (table_[i] != node + 1) i = (i + 1) & mask;
    for (std::size_t j = (i + 1) & mask; table_[j] != 0; j = (j + 1) & mask) {
      const std::size_t k = nodes_[table_[j] - 1].hash & mask;
      const bool k_in_i_j = i <= j ? (i < k && k <= j) : (i < k || k <= j);
      if (!k_in_i_j) {
        table_[i] = table_[j];
        i = j;
      }
    }
    table_[i] = 0;
  }

  Options options_;
  [[no_unique_address]] Hash hasher_{};
  [[no_unique_address]] KeyEqual equal_{};
  mutable Mutex mutex_;
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> table_;  // node index + 1; 0 = empty
  std::uint32_t head_ = npos;         // most recently used
  std::uint32_t tail_ = npos;         // least recently used
  std::uint32_t free_ = npos;
  std::size_t size_ = 0;
  std::size_t weight_ = 0;
  CacheStats stats_;
  std::unique_ptr<detail::FrequencySketch> sketch_;  // only with TinyLFU admission
  // A computation in flight: the thread running it (to detect a recursive call) and, once `done`, its value
  // or its exception. Waiters block on `done` (std::atomic's wait) and read the result after it is set.
  struct InFlight {
    const void* owner = detail::this_thread_token();
    std::atomic<bool> done{false};
    std::optional<V> value;
    std::exception_ptr error;

    V get() const {
      done.wait(false, std::memory_order_acquire);
      if (error) std::rethrow_exception(error);
      return *value;
    }
    void succeed(const V& v) {
      try {
        value.emplace(v);
      } catch (...) {
        fail(std::current_exception());
        throw;
      }
      finish();
    }
    void fail(std::exception_ptr e) {
      error = std::move(e);
      finish();
    }
    void finish() {
      done.store(true, std::memory_order_release);
      done.notify_all();
    }
  };
  std::unordered_map<K, std::shared_ptr<InFlight>, Hash, KeyEqual> in_flight_;
};

/// An LRU cache split into `shards` independently locked LRUCaches, the shard chosen by the key's hash:
/// threads working on different shards never wait for each other. Each shard holds
/// ceil(capacity / shards) entries (and ceil(max_weight / shards) weight), so recency is per shard: the
/// evicted entry is the least recent of its shard, an approximation of global LRU that is exact for
/// shards = 1.
template <class K, class V, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>>
class ShardedLRUCache {
 public:
  using Shard = LRUCache<K, V, std::mutex, Hash, KeyEqual>;
  using Options = LRUCacheOptions<K, V>;

  explicit ShardedLRUCache(Options options = {}, std::size_t shards = 16) {
    if (shards == 0) throw InvalidArgument("ShardedLRUCache: shards must be at least 1, got 0");
    if (options.capacity == 0) throw InvalidArgument("ShardedLRUCache: capacity must be at least 1, got 0");
    if (options.capacity < shards)
      throw InvalidArgument("ShardedLRUCache: capacity " + std::to_string(options.capacity) +
                            " is smaller than the number of shards " + std::to_string(shards));
    Options per_shard = options;
    per_shard.capacity = (options.capacity + shards - 1) / shards;
    per_shard.max_weight = (options.max_weight + shards - 1) / shards;
    shards_.reserve(shards);
    for (std::size_t s = 0; s < shards; ++s) shards_.push_back(std::make_unique<Padded>(per_shard));
  }

  std::optional<V> get(const K& key) { return shard(key).get(key); }
  bool contains(const K& key) const { return shard(key).contains(key); }
  bool put(const K& key, V value) { return shard(key).put(key, std::move(value)); }
  bool put(const K& key, V value, std::chrono::nanoseconds ttl) { return shard(key).put(key, std::move(value), ttl); }
  template <class F>
  V get_or_compute(const K& key, F&& compute) {
    return shard(key).get_or_compute(key, std::forward<F>(compute));
  }
  template <class F>
  V get_or_compute(const K& key, F&& compute, std::chrono::nanoseconds ttl) {
    return shard(key).get_or_compute(key, std::forward<F>(compute), ttl);
  }
  bool erase(const K& key) { return shard(key).erase(key); }
  template <class Predicate>
  std::size_t erase_if(Predicate predicate) {
    std::size_t removed = 0;
    for (auto& s : shards_) removed += s->cache.erase_if(predicate);
    return removed;
  }
  std::size_t purge_expired() {
    std::size_t removed = 0;
    for (auto& s : shards_) removed += s->cache.purge_expired();
    return removed;
  }
  void clear() {
    for (auto& s : shards_) s->cache.clear();
  }
  [[nodiscard]] std::size_t size() const {
    std::size_t total = 0;
    for (const auto& s : shards_) total += s->cache.size();
    return total;
  }
  [[nodiscard]] std::size_t capacity() const { return shards_.size() * shards_.front()->cache.capacity(); }
  [[nodiscard]] std::size_t shard_count() const noexcept { return shards_.size(); }
  [[nodiscard]] CacheStats stats() const {
    CacheStats total;
    for (const auto& s : shards_) total += s->cache.stats();
    return total;
  }
  void reset_stats() {
    for (auto& s : shards_) s->cache.reset_stats();
  }

 private:
  // One cache line (at least) per shard so that two shards' locks never share a line.
  struct alignas(64) Padded {
    explicit Padded(const Options& options) : cache(options) {}
    Shard cache;
  };

  // The shard is taken from the high half of the mixed hash; each shard's table uses the low bits.
  std::size_t shard_index(const K& key) const {
    const std::uint64_t high = detail::mix_hash(static_cast<std::uint64_t>(hasher_(key))) >> 32;
    return static_cast<std::size_t>((high * shards_.size()) >> 32);
  }
  Shard& shard(const K& key) { return shards_[shard_index(key)]->cache; }
  const Shard& shard(const K& key) const { return shards_[shard_index(key)]->cache; }

  [[no_unique_address]] Hash hasher_{};
  std::vector<std::unique_ptr<Padded>> shards_;
};

}  // namespace aimastery
