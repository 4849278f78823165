#pragma once
/// \file
/// Approximate dense retrieval: a hierarchical navigable small world graph (HNSW; Malkov & Yashunin,
/// 2018), with the semantics of hnswlib. Vectors are scaled to unit norm on the way in, so the inner
/// product is the cosine similarity, and the distance the graph is navigated by is d(a, b) = −⟨a, b⟩.
///
///   HnswIndex<float> index(384, {.M = 16, .ef_construction = 200, .ef = 64});
///   index.add(chunk_embeddings);                   // rows: positions 0, 1, 2, … in order of insertion
///   index.mark_deleted(7);                         // never returned again; searches still route through it
///   auto hits = index.search(query_embeddings, 10); // per query: ≤ 10 (position, cosine), best first
///   index.save("chunks.hnsw");  auto again = HnswIndex<float>::load("chunks.hnsw");
///
/// The layered graph. Every inserted element draws a top level ℓ = ⌊−ln(U) · m_L⌋ with U ~ U(0, 1) and
/// m_L = 1 / ln M (so P(ℓ ≥ j) = M^−j) and lives on the layers 0 … ℓ; layer 0 holds everything and each
/// higher layer about 1/M of the one below. Each element keeps at most M neighbours on the upper layers
/// and 2M on layer 0. The entry point is an element of the highest layer.
///
/// Search for q (k results, beam ef ≥ k): from the entry point, descend greedily through the upper layers
/// (move to a neighbour closer to q while there is one); on layer 0 run a best-first beam search keeping
/// the ef closest elements found (W) and a queue of candidates to expand (C): take the closest c from C;
/// stop when d(q, c) is larger than the farthest of W and W is full; otherwise look at c's unvisited
/// neighbours and keep those closer than W's farthest (or all while W is not full). Return W's k best.
///
/// Insertion of x at level ℓ: descend greedily to layer ℓ + 1, then on every layer j = min(ℓ, top) … 0
/// find ef_construction candidates by the same beam search, pick x's neighbours among them with the
/// heuristic below and link both ways. A neighbour whose list overflows re-selects its list by the same
/// heuristic over its old neighbours plus x.
///
/// Neighbour selection heuristic (the paper's Algorithm 4; hnswlib's getNeighborsByHeuristic2): go through
/// the candidates from the closest to x; keep candidate e only if it is closer to x than to every
/// neighbour kept so far (d(x, e) ≤ d(e, r) for all kept r), up to M. This keeps links in diverse
/// directions, which holds clustered data together.
///
/// Deletion marks an element: it is never returned, but it stays in the graph and searches go through it
/// (so the graph stays connected); with deletions present, the layer-0 search does not stop before W holds
/// ef live elements.
///
/// Thread safety: the queries (search, size, save, …) are const and take a shared lock, so any number
/// may run at once; add, mark_deleted and set_ef take the lock exclusively, one vector at a time, so the
/// queries interleave with a long insertion. A query sees the index before or after each single insertion.
/// A waiting writer goes before readers that arrive after it (it is never starved by a stream of queries).
/// add(rows, threads > 1) inserts batches on several threads under the exclusive lock; inside a batch the
/// threads share the graph as in hnswlib's parallel add_items, every neighbour list read or written under
/// its element's lock.
///
/// Speed: the distance is the SIMD inner product of dot_kernel.hpp; expanding an element first gathers its
/// unvisited neighbours and prefetches their vectors, then scores them (the loads overlap); a search's
/// visited marks and heaps live in a pooled scratch object, so a warm search allocates only its answer.
///
/// The random levels come from the library's engine (core/probability/sampling.hpp) seeded by
/// HnswParams::seed: the same seed and insertion order give the same graph on every platform.
///
/// File format (little-endian as written by the host; one file, written atomically: a temporary name in
/// the same folder, fsync, rename):
///   "AIMHNSW\0"  u32 version (1)  u32 scalar size (4 or 8)
///   u64 dimension, M, ef_construction, ef, seed, count n, levels drawn
///   i64 entry point (−1 when empty)  i64 top level
///   n × (u8 deleted, u8 level)    n × dimension scalars
///   for each element, for each of its levels 0 … level: u32 m, m × u32 neighbour
///   u64 FNV-1a hash of every byte before it
/// Reading checks every count against the bytes that remain before allocating, every neighbour id, level
/// and list length against the parameters, and the hash; any violation is a FormatError naming it.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/io/atomic_file.hpp"
#include "aimastery/io/file.hpp"
#include "aimastery/llm/rag/dot_kernel.hpp"
#include "aimastery/llm/rag/top_k.hpp"

namespace aimastery {

/// The parameters of an HNSW index (hnswlib's defaults).
struct HnswParams {
  Index M = 16;                 ///< neighbours per element on the upper layers (2M on layer 0); ≥ 2
  Index ef_construction = 200;  ///< beam width while inserting; ≥ 1
  Index ef = 10;                ///< beam width of search(); a search for k > ef is an InvalidArgument
  std::uint64_t seed = 100;     ///< seeds the engine that draws the levels
};

template <Scalar T>
class HnswIndex {
 public:
  HnswIndex(Index dimension, HnswParams params = {}) {
    constexpr std::string_view where = "HnswIndex";
    require(dimension >= 1, where, [&] { return "dimension must be positive, got " + std::to_string(dimension); });
    check_params(params, where);
    g_.dimension = dimension;
    g_.params = params;
    g_.rng.seed(params.seed);
  }

  HnswIndex(const HnswIndex&) = delete;
  HnswIndex& operator=(const HnswIndex&) = delete;

  [[nodiscard]] Index dimension() const noexcept { return g_.dimension; }
  [[nodiscard]] HnswParams params() const {
    const auto lock = read_lock();
    return g_.params;
  }
  /// Number of inserted elements, deleted ones included (positions run 0 … size() − 1).
  [[nodiscard]] Index size() const {
    const auto lock = read_lock();
    return g_.count();
  }
  [[nodiscard]] bool is_deleted(Index position) const {
    const auto lock = read_lock();
    check_position(position, "HnswIndex::is_deleted");
    return g_.deleted[static_cast<std::size_t>(position)] != 0;
  }
  /// The top layer of an element (0 for most).
  [[nodiscard]] Index level(Index position) const {
    const auto lock = read_lock();
    check_position(position, "HnswIndex::level");
    return g_.levels[static_cast<std::size_t>(position)];
  }

  /// The stored vectors, one unit-norm row per position (deleted ones included), as a copy.
  [[nodiscard]] Matrix<T> vectors() const {
    const auto lock = read_lock();
    return Eigen::Map<const Matrix<T>>(g_.vectors.data(), g_.count(), g_.dimension);
  }

  /// The search beam width ef (≥ 1).
  void set_ef(Index ef) {
    require(ef >= 1, "HnswIndex::set_ef", [&] { return "ef must be at least 1, got " + std::to_string(ef); });
    const auto lock = write_lock();
    g_.params.ef = ef;
  }

  /// Inserts vectors (one per row), each scaled to unit norm; they get the next positions in order.
  /// Every row is checked before the first is inserted, so a throwing call inserts nothing.
  ///
  /// threads = 1 inserts one vector at a time under the exclusive lock (queries interleave with every
  /// insertion) and gives the same graph for the same seed and order on every run. threads > 1 inserts
  /// batches of 1024 × threads vectors, each batch on `threads` threads at once (hnswlib's parallel
  /// add_items: every neighbour list is read and written under its element's lock); queries wait for a
  /// whole batch, and the graph depends on the threads' timing (the levels do not: they are drawn in order).
  void add(const MatrixRef<T>& rows, Index threads = 1) {
    constexpr std::string_view where = "HnswIndex::add";
    check_rows(rows, where);
    require(threads >= 1, where, [&] { return "threads must be at least 1, got " + std::to_string(threads); });
    require(static_cast<std::uint64_t>(size()) + static_cast<std::uint64_t>(rows.rows()) <= max_elements, where,
            "the index would exceed 2^32 − 1 elements");
    const Index d = dimension();
    const Index batch = threads == 1 ? 1 : 1024 * threads;
    std::vector<T> x(static_cast<std::size_t>(std::min(batch, rows.rows()) * d));
    std::unique_ptr<ListLocks> locks;  // one per element, for the whole call (another writer may add more)
    if (threads > 1 && rows.rows() > 1) locks = std::make_unique<ListLocks>(size() + rows.rows());
    for (Index start = 0; start < rows.rows(); start += batch) {
      const Index m = std::min(batch, rows.rows() - start);
      for (Index i = 0; i < m; ++i) {
        T* xi = x.data() + i * d;
        for (Index j = 0; j < d; ++j) xi[j] = rows(start + i, j);
        normalise(xi, d);
      }
      const auto lock = write_lock();
      const Id first = append(x.data(), m);
      if (m == 1) {
        auto scratch = take_scratch();
        insert(first, *scratch, nullptr, nullptr);
        give_back(std::move(scratch));
        continue;
      }
      if (locks->size() < std::size_t(g_.count()))
        locks = std::make_unique<ListLocks>(g_.count() + rows.rows() - start);
      insert_parallel(first, m, threads, *locks);
    }
  }

  /// Marks an element deleted: it is never returned by search again.
  void mark_deleted(Index position) {
    constexpr std::string_view where = "HnswIndex::mark_deleted";
    const auto lock = write_lock();
    check_position(position, where);
    require(g_.deleted[static_cast<std::size_t>(position)] == 0, where,
            [&] { return "element " + std::to_string(position) + " is already deleted"; });
    g_.deleted[static_cast<std::size_t>(position)] = 1;
    ++g_.deleted_count;
  }

  /// For every query row, the min(k, live elements reached) best (position, cosine), best first, with the
  /// beam width of params().ef.
  [[nodiscard]] std::vector<std::vector<ScoredIndex>> search(const MatrixRef<T>& queries, Index k) const {
    const auto lock = read_lock();
    return search_locked(queries, k, g_.params.ef);
  }

  /// The same with beam width ef ≥ k.
  [[nodiscard]] std::vector<std::vector<ScoredIndex>> search(const MatrixRef<T>& queries, Index k, Index ef) const {
    const auto lock = read_lock();
    return search_locked(queries, k, ef);
  }

  /// Writes the index to `path` atomically (temporary file in the same folder, fsync, rename).
  void save(const std::string& path) const {
    std::vector<unsigned char> bytes;
    {
      const auto lock = read_lock();
      bytes = serialise();
    }
    write_atomically(path, bytes);
  }

  /// Reads an index written by save(). Malformed, truncated or tampered: FormatError.
  [[nodiscard]] static HnswIndex load(const std::string& path) {
    constexpr std::string_view where = "HnswIndex::load";
    detail::InputFile file = detail::open_input_file(path, where);
    std::vector<unsigned char> bytes(static_cast<std::size_t>(file.size));
    file.stream.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!file.stream) throw FormatError("HnswIndex::load: '" + path + "' could not be read in full");
    return HnswIndex(deserialise(bytes, path));
  }

 private:
  using Id = std::uint32_t;
  static constexpr std::uint64_t max_elements = std::numeric_limits<Id>::max();
  static constexpr Index max_level = 255;  // stored as one byte; M ≥ 2 makes a level above 60 a 2^-60 event

  // Everything that is saved, apart from the mutexes: one value so that load builds it aside.
  struct Graph {
    Index dimension = 0;
    HnswParams params;
    RandomEngine rng;
    std::uint64_t draws = 0;           // levels drawn so far (the engine's state is seed + draws)
    std::vector<T> vectors;            // count × dimension, unit rows
    std::vector<std::uint8_t> levels;  // top layer of every element
    std::vector<std::uint8_t> deleted;
    Index deleted_count = 0;
    std::vector<Id> layer0;              // count × (1 + 2M): list length, then the neighbours
    std::vector<std::vector<Id>> upper;  // per element: levels × (1 + M), layers 1 … level
    std::int64_t entry = -1;
    Index top = -1;

    [[nodiscard]] Index count() const noexcept { return static_cast<Index>(levels.size()); }
    [[nodiscard]] Index capacity(Index layer) const noexcept { return layer == 0 ? 2 * params.M : params.M; }
    [[nodiscard]] const T* vector(Id i) const noexcept { return vectors.data() + std::size_t(i) * dimension; }
    // A neighbour list: [length, id, id, …] with room for capacity(layer) ids.
    [[nodiscard]] Id* list(Id i, Index layer) noexcept {
      if (layer == 0) return layer0.data() + std::size_t(i) * std::size_t(1 + 2 * params.M);
      return upper[i].data() + std::size_t(layer - 1) * std::size_t(1 + params.M);
    }
    [[nodiscard]] const Id* list(Id i, Index layer) const noexcept { return const_cast<Graph*>(this)->list(i, layer); }
  };

  explicit HnswIndex(Graph g) : g_(std::move(g)) {}

  // A (distance, id) pair; the heaps order by distance, then id, as hnswlib's std::pair does.
  using Pair = std::pair<T, Id>;

  // The search heaps hold a Key, one integer whose order is the pair's order, so that each of the heap's
  // comparisons is one integer comparison (C++20 derives pair's < from <=>, which on a float goes
  // through a partial ordering; comparing the pair took a sixth of a search). For float:
  //   key = bits(d)' · 2³² + id,   bits(d)' = bits(d) with every bit flipped if d < 0, else the sign bit
  // (IEEE-754 floats in the order of these unsigned integers; −0 is made +0 first). Other scalars keep
  // the pair.
  static constexpr bool packed_keys = std::is_same_v<T, float>;
  using Key = std::conditional_t<packed_keys, std::uint64_t, Pair>;
  static Key key_of(T d, Id id) noexcept {
    if constexpr (packed_keys) {
      d += 0.0f;  // −0 → +0
      std::uint32_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      bits ^= static_cast<std::uint32_t>(static_cast<std::int32_t>(bits) >> 31) | 0x80000000u;
      return (std::uint64_t(bits) << 32) | id;
    } else {
      return {d, id};
    }
  }
  static Pair pair_of(Key key) noexcept {
    if constexpr (packed_keys) {
      std::uint32_t bits = static_cast<std::uint32_t>(key >> 32);
      bits ^= (bits & 0x80000000u) ? 0x80000000u : 0xFFFFFFFFu;
      float d;
      std::memcpy(&d, &bits, sizeof d);
      return {d, static_cast<Id>(key)};
    } else {
      return key;
    }
  }

  // d(a, b) = −⟨a, b⟩ on unit vectors (a monotone transform of hnswlib's 1 − ⟨a, b⟩), by the SIMD kernel.
  [[nodiscard]] T distance(const T* a, const T* b) const noexcept { return -detail::dot_kernel(a, b, g_.dimension); }

  // Hints to bring memory into the cache ahead of its use (no effect on results).
  static void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p);
#else
    (void)p;
#endif
  }
  // Every 64-byte line of a stored vector.
  void prefetch_vector(Id i) const noexcept {
    const auto* p = reinterpret_cast<const char*>(g_.vector(i));
    for (std::size_t at = 0; at < std::size_t(g_.dimension) * sizeof(T); at += 64) prefetch(p + at);
  }

  // The working memory of one search, reused from search to search (no allocation once warm):
  // visited marks (a stamp per element, so clearing is one increment), the two heaps of the beam search
  // kept as vectors under std::push_heap / pop_heap, and room for one neighbour list.
  struct Scratch {
    std::vector<std::uint32_t> stamp;
    std::uint32_t current = 0;
    std::vector<Key> found_keys;            // max-heap: the farthest kept element on top
    std::vector<Key> candidate_keys;        // min-heap: the closest element to expand on top
    std::vector<Pair> found;                // a layer's result, farthest first
    std::vector<Id> list;                   // a neighbour list copied under its lock (parallel insertion)
    std::vector<Id> fresh;                  // the unvisited neighbours of the element being expanded
    std::vector<std::vector<Pair>> chosen;  // an insertion's selected neighbours, per layer
    void reset(std::size_t n) {
      if (stamp.size() < n) stamp.resize(n, 0);
      if (++current == 0) {
        std::fill(stamp.begin(), stamp.end(), 0);
        current = 1;
      }
    }
    bool visit(Id i) {
      if (stamp[i] == current) return false;
      stamp[i] = current;
      return true;
    }
  };
  // A pool of Scratch shared by the concurrent queries and insertion threads (its own small lock).
  std::unique_ptr<Scratch> take_scratch() const {
    std::unique_ptr<Scratch> s;
    {
      std::lock_guard guard(pool_mutex_);
      if (!pool_.empty()) {
        s = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    if (!s) s = std::make_unique<Scratch>();
    const std::size_t lists = std::size_t(1 + 2 * g_.params.M);
    if (s->list.size() < lists) {
      s->list.resize(lists);
      s->fresh.resize(lists);
    }
    return s;
  }
  void give_back(std::unique_ptr<Scratch> s) const {
    std::lock_guard guard(pool_mutex_);
    pool_.push_back(std::move(s));
  }

  // One spin lock per element, for the parallel insertion only. The critical sections are a copy of one
  // neighbour list or one update of it, and no thread ever holds two, so there is no deadlock.
  class ListLocks {
   public:
    explicit ListLocks(Index n) : n_(std::size_t(n)), flags_(std::make_unique<std::atomic_flag[]>(n_)) {}
    [[nodiscard]] std::size_t size() const noexcept { return n_; }
    void lock(Id i) noexcept {
      for (int spins = 0; flags_[i].test_and_set(std::memory_order_acquire);)
        while (flags_[i].test(std::memory_order_relaxed))
          if (++spins % 64 == 0) std::this_thread::yield();  // the holder may have lost its core
    }
    void unlock(Id i) noexcept { flags_[i].clear(std::memory_order_release); }

   private:
    std::size_t n_;
    std::unique_ptr<std::atomic_flag[]> flags_;
  };
  // Holds element i's lock for a scope; does nothing without locks (one inserting thread).
  struct ListGuard {
    ListLocks* locks;
    Id i;
    ListGuard(ListLocks* l, Id e) noexcept : locks(l), i(e) {
      if (locks) locks->lock(i);
    }
    ~ListGuard() {
      if (locks) locks->unlock(i);
    }
    ListGuard(const ListGuard&) = delete;
    ListGuard& operator=(const ListGuard&) = delete;
  };

  // Element i's neighbour list on `layer` ([length, ids…]): in place, or with locks a copy taken under
  // i's lock into the scratch buffer (valid until the next call).
  const Id* neighbours(Id i, Index layer, Scratch& s, ListLocks* locks) const {
    const Id* l = g_.list(i, layer);
    if (!locks) return l;
    ListGuard guard(locks, i);
    std::copy(l, l + 1 + l[0], s.list.begin());
    return s.list.data();
  }

  // Greedy descent on one layer: move to a closer neighbour while there is one.
  Id greedy(const T* q, Id current, T& best, Index layer, Scratch& s, ListLocks* locks) const {
    for (bool changed = true; changed;) {
      changed = false;
      const Id* l = neighbours(current, layer, s, locks);
      for (Id j = 1; j <= l[0]; ++j) prefetch(g_.vector(l[j]));
      for (Id j = 1; j <= l[0]; ++j) {
        const T d = distance(q, g_.vector(l[j]));
        if (d < best) {
          best = d;
          current = l[j];
          changed = true;
        }
      }
    }
    return current;
  }

  // The beam search of one layer from `start` (hnswlib's searchBaseLayer / searchBaseLayerST), leaving in
  // s.found the ef closest live elements reached as a max-heap (farthest first). Deleted elements are
  // expanded but never kept.
  //
  // Expanding c first collects c's unvisited neighbours and prefetches all their vectors, then scores
  // them: the loads of one list overlap instead of waiting for each other (on a large index nearly every
  // vector is a cache miss, and this wait is most of a search).
  void search_layer(const T* q, Id start, Index ef, Index layer, Scratch& s, ListLocks* locks) const {
    const auto closer = std::greater<Key>();  // orders the candidates' min-heap
    s.reset(static_cast<std::size_t>(g_.count()));
    auto& found = s.found_keys;
    auto& candidates = s.candidate_keys;
    found.clear();
    candidates.clear();
    const std::size_t width = static_cast<std::size_t>(ef);
    T bound = std::numeric_limits<T>::max();
    const T d0 = distance(q, g_.vector(start));
    if (!g_.deleted[start]) {
      found.push_back(key_of(d0, start));
      bound = d0;
    }
    candidates.push_back(key_of(g_.deleted[start] ? bound : d0, start));
    s.visit(start);
    const bool any_deleted = g_.deleted_count > 0;
    while (!candidates.empty()) {
      const auto [dc, c] = pair_of(candidates.front());
      if (dc > bound && (found.size() == width || !any_deleted)) break;
      std::pop_heap(candidates.begin(), candidates.end(), closer);
      candidates.pop_back();
      const Id* l = neighbours(c, layer, s, locks);
      std::size_t fresh = 0;
      for (Id j = 1; j <= l[0]; ++j)
        if (s.visit(l[j])) {
          s.fresh[fresh++] = l[j];
          prefetch_vector(l[j]);
          prefetch(g_.list(l[j], layer));  // its own list, read if it is expanded in turn
        }
      for (std::size_t j = 0; j < fresh; ++j) {
        const Id e = s.fresh[j];
        const T d = distance(q, g_.vector(e));
        if (found.size() < width || d < bound) {
          const Key key = key_of(d, e);
          candidates.push_back(key);
          std::push_heap(candidates.begin(), candidates.end(), closer);
          if (!g_.deleted[e]) {
            found.push_back(key);
            std::push_heap(found.begin(), found.end());
          }
          if (found.size() > width) {
            std::pop_heap(found.begin(), found.end());
            found.pop_back();
          }
          if (!found.empty()) bound = pair_of(found.front()).first;
        }
      }
    }
    // s.found: the pairs, farthest first (so also a max-heap of pairs).
    std::sort(found.begin(), found.end(), closer);
    s.found.resize(found.size());
    std::transform(found.begin(), found.end(), s.found.begin(), pair_of);
  }

  // The neighbour selection heuristic (paper, Algorithm 4; hnswlib's getNeighborsByHeuristic2): going
  // through `ordered` (closest to x first), keep e when d(x, e) < d(e, r) fails for no kept r, up to m.
  std::vector<Pair> select_neighbours(const std::vector<Pair>& ordered, Index m) const {
    if (ordered.size() < static_cast<std::size_t>(m)) return ordered;
    std::vector<Pair> kept;
    kept.reserve(static_cast<std::size_t>(m));
    for (const Pair& e : ordered) {
      if (kept.size() >= static_cast<std::size_t>(m)) break;
      const bool diverse = std::none_of(kept.begin(), kept.end(), [&](const Pair& r) {
        return distance(g_.vector(r.second), g_.vector(e.second)) < e.first;
      });
      if (diverse) kept.push_back(e);
    }
    return kept;
  }

  // Links x on `layer` to its selected neighbours and each of them back to x (hnswlib's
  // mutuallyConnectNewElement). x's own list is written first, so whoever reaches x through a back link
  // finds it complete.
  void link(Id x, const std::vector<Pair>& chosen, Index layer, ListLocks* locks) {
    const Index cap = g_.capacity(layer);
    {
      ListGuard guard(locks, x);
      Id* own = g_.list(x, layer);
      own[0] = static_cast<Id>(chosen.size());
      for (std::size_t j = 0; j < chosen.size(); ++j) own[j + 1] = chosen[j].second;
    }
    for (const Pair& p : chosen) {
      ListGuard guard(locks, p.second);
      Id* l = g_.list(p.second, layer);
      if (l[0] < static_cast<Id>(cap)) {
        l[++l[0]] = x;
        continue;
      }
      // The list is full: re-select among the old neighbours and x, by distance to p.
      const T* v = g_.vector(p.second);
      std::vector<Pair> pool;
      pool.reserve(std::size_t(l[0]) + 1);
      pool.emplace_back(distance(g_.vector(x), v), x);
      for (Id j = 1; j <= l[0]; ++j) pool.emplace_back(distance(g_.vector(l[j]), v), l[j]);
      std::sort(pool.begin(), pool.end());
      const std::vector<Pair> kept = select_neighbours(pool, cap);
      l[0] = static_cast<Id>(kept.size());
      for (std::size_t j = 0; j < kept.size(); ++j) l[j + 1] = kept[j].second;
    }
  }

  // Appends m unit vectors as elements with empty lists and their drawn levels; returns the first's id.
  Id append(const T* x, Index m) {
    Graph& g = g_;
    const Index M = g.params.M;
    const Id first = static_cast<Id>(g.count());
    g.vectors.insert(g.vectors.end(), x, x + m * g.dimension);
    g.layer0.resize(g.layer0.size() + std::size_t(m) * std::size_t(1 + 2 * M), 0);
    for (Index i = 0; i < m; ++i) {
      // ℓ = ⌊−ln(U) · m_L⌋, m_L = 1 / ln M.
      const double u = detail::uniform_open01(g.rng);
      const Index level =
          std::min<Index>(max_level, static_cast<Index>(std::floor(-std::log(u) / std::log(double(M)))));
      ++g.draws;
      g.upper.emplace_back(std::size_t(level) * std::size_t(1 + M), 0);
      g.levels.push_back(static_cast<std::uint8_t>(level));
      g.deleted.push_back(0);
    }
    return first;
  }

  // One insertion (hnswlib's addPoint) of an appended element, under the exclusive lock; with locks, one
  // of several running at once (entry_mutex then guards the entry point and top level, and is held
  // through an insertion that raises the top level, as in hnswlib).
  //   1. From the entry point descend greedily to layer ℓ + 1.
  //   2. On every layer j = min(ℓ, top) … 0: beam search with ef_construction, select the neighbours;
  //      the closest selected is the next layer's starting point.
  //   3. Link layer 0 first, then upwards: once x is reachable on a layer its lists below are complete.
  void insert(Id id, Scratch& s, ListLocks* locks, std::mutex* entry_mutex) {
    Graph& g = g_;
    const Index level = g.levels[id];
    const T* x = g.vector(id);
    std::unique_lock<std::mutex> top_lock;
    if (entry_mutex) top_lock = std::unique_lock(*entry_mutex);
    if (g.entry < 0) {
      g.entry = id;
      g.top = level;
      return;
    }
    const Id entry = static_cast<Id>(g.entry);
    const Index top = g.top;
    if (top_lock && level <= top) top_lock.unlock();

    Id current = entry;
    T best = distance(x, g.vector(current));
    for (Index layer = top; layer > level; --layer) current = greedy(x, current, best, layer, s, locks);
    const bool entry_deleted = g.deleted[entry] != 0;
    const Index highest = std::min(level, top);
    if (s.chosen.size() < std::size_t(highest + 1)) s.chosen.resize(std::size_t(highest + 1));
    for (Index layer = highest; layer >= 0; --layer) {
      search_layer(x, current, g.params.ef_construction, layer, s, locks);
      if (entry_deleted) {  // hnswlib keeps a deleted entry point as a candidate
        s.found.emplace_back(distance(x, g.vector(entry)), entry);
        std::push_heap(s.found.begin(), s.found.end());
        if (s.found.size() > static_cast<std::size_t>(g.params.ef_construction)) {
          std::pop_heap(s.found.begin(), s.found.end());
          s.found.pop_back();
        }
      }
      std::sort_heap(s.found.begin(), s.found.end());  // closest first (the order of hnswlib's min-queue)
      s.chosen[std::size_t(layer)] = select_neighbours(s.found, g.params.M);
      if (!s.chosen[std::size_t(layer)].empty()) current = s.chosen[std::size_t(layer)].front().second;
    }
    for (Index layer = 0; layer <= highest; ++layer) link(id, s.chosen[std::size_t(layer)], layer, locks);
    if (level > top) {  // with entry_mutex, still held since the start
      g.entry = id;
      g.top = level;
    }
  }

  // Inserts the appended elements first … first + m − 1 on `threads` threads, each taking the next id.
  void insert_parallel(Id first, Index m, Index threads, ListLocks& locks) {
    std::mutex entry_mutex;
    std::atomic<std::uint64_t> next{first};
    const std::uint64_t end = std::uint64_t(first) + std::uint64_t(m);
    std::mutex error_mutex;
    std::exception_ptr error;
    const auto work = [&] {
      try {
        auto scratch = take_scratch();
        for (std::uint64_t i; (i = next++) < end;) insert(static_cast<Id>(i), *scratch, &locks, &entry_mutex);
        give_back(std::move(scratch));
      } catch (...) {
        std::lock_guard guard(error_mutex);
        if (!error) error = std::current_exception();
        next = end;
      }
    };
    std::vector<std::thread> helpers;
    try {
      for (Index t = 1; t < std::min(threads, m); ++t) helpers.emplace_back(work);
    } catch (...) {  // the system refused a thread: this one and those started finish the batch
    }
    work();
    for (auto& h : helpers) h.join();
    if (error) std::rethrow_exception(error);
  }

  std::vector<std::vector<ScoredIndex>> search_locked(const MatrixRef<T>& queries, Index k, Index ef) const {
    constexpr std::string_view where = "HnswIndex::search";
    check_rows(queries, where);
    require(k >= 1, where, [&] { return "k must be at least 1, got " + std::to_string(k); });
    require(ef >= k, where, [&] {
      return "ef (" + std::to_string(ef) + ") must be at least k (" + std::to_string(k) + "); raise ef with set_ef";
    });
    std::vector<std::vector<ScoredIndex>> out(static_cast<std::size_t>(queries.rows()));
    if (g_.entry < 0) return out;
    std::vector<T> q(static_cast<std::size_t>(dimension()));
    auto s = take_scratch();
    for (Index i = 0; i < queries.rows(); ++i) {
      for (Index j = 0; j < dimension(); ++j) q[static_cast<std::size_t>(j)] = queries(i, j);
      normalise(q.data(), dimension());
      Id current = static_cast<Id>(g_.entry);
      T best = distance(q.data(), g_.vector(current));
      for (Index layer = g_.top; layer > 0; --layer) current = greedy(q.data(), current, best, layer, *s, nullptr);
      search_layer(q.data(), current, ef, 0, *s, nullptr);
      std::sort_heap(s->found.begin(), s->found.end());  // closest first
      auto& hits = out[static_cast<std::size_t>(i)];
      hits.resize(std::min(s->found.size(), static_cast<std::size_t>(k)));
      for (std::size_t r = 0; r < hits.size(); ++r)
        hits[r] = {static_cast<Index>(s->found[r].second), -static_cast<double>(s->found[r].first)};
    }
    give_back(std::move(s));
    return out;
  }

  // ---- checks ----
  static void check_params(const HnswParams& p, std::string_view where) {
    require(p.M >= 2 && p.M <= 65535, where, [&] { return "M must be in [2, 65535], got " + std::to_string(p.M); });
    require(p.ef_construction >= 1, where,
            [&] { return "ef_construction must be at least 1, got " + std::to_string(p.ef_construction); });
    require(p.ef >= 1, where, [&] { return "ef must be at least 1, got " + std::to_string(p.ef); });
  }
  void check_rows(const MatrixRef<T>& rows, std::string_view where) const {
    require(rows.cols() == dimension(), where, [&] {
      return "vectors are " + shape_of(rows) + ", the index holds " + std::to_string(dimension()) + "-d vectors";
    });
    require(rows.allFinite(), where, "vectors hold NaN or Inf");
  }
  void check_position(Index position, std::string_view where) const {
    require(position >= 0 && position < g_.count(), where, [&] {
      return "position " + std::to_string(position) + " is outside [0, " + std::to_string(g_.count()) + ")";
    });
  }
  // x ← x / ‖x‖ (a zero vector stays zero: similarity 0 to everything).
  static void normalise(T* x, Index d) {
    Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>> v(x, d);
    const T norm = v.norm();
    if (norm > T(0)) v /= norm;
  }

  // ---- the file ----
  static constexpr char magic[8] = {'A', 'I', 'M', 'H', 'N', 'S', 'W', '\0'};
  static constexpr std::uint32_t format_version = 1;

  // FNV-1a, 64 bits: h ← (h ⊕ byte) · 1099511628211 from h = 14695981039346656037.
  static std::uint64_t fnv1a(const unsigned char* p, std::size_t n) {
    std::uint64_t h = 14695981039346656037ull;
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
  }

  template <class V>
  static void put(std::vector<unsigned char>& out, const V& value) {
    const auto* p = reinterpret_cast<const unsigned char*>(&value);
    out.insert(out.end(), p, p + sizeof(V));
  }

  std::vector<unsigned char> serialise() const {
    const Graph& g = g_;
    std::vector<unsigned char> out(std::begin(magic), std::end(magic));
    put(out, format_version);
    put(out, static_cast<std::uint32_t>(sizeof(T)));
    for (const auto v : {std::uint64_t(g.dimension), std::uint64_t(g.params.M), std::uint64_t(g.params.ef_construction),
                         std::uint64_t(g.params.ef), g.params.seed, std::uint64_t(g.count()), g.draws})
      put(out, v);
    put(out, static_cast<std::int64_t>(g.entry));
    put(out, static_cast<std::int64_t>(g.top));
    for (Index i = 0; i < g.count(); ++i) {
      out.push_back(g.deleted[std::size_t(i)]);
      out.push_back(g.levels[std::size_t(i)]);
    }
    const auto* v = reinterpret_cast<const unsigned char*>(g.vectors.data());
    out.insert(out.end(), v, v + g.vectors.size() * sizeof(T));
    for (Id i = 0; i < Id(g.count()); ++i)
      for (Index layer = 0; layer <= g.levels[i]; ++layer) {
        const Id* l = g.list(i, layer);
        for (Id j = 0; j <= l[0]; ++j) put(out, l[j]);
      }
    put(out, fnv1a(out.data(), out.size()));
    return out;
  }

  // A bounded reader: every read checks the bytes that remain.
  struct Reader {
    const std::vector<unsigned char>& bytes;
    std::size_t at = 0;
    const std::string& path;
    [[noreturn]] void bad(const std::string& problem) const {
      throw FormatError("HnswIndex::load: '" + path + "' " + problem);
    }
    void need(std::uint64_t n, const char* what) const {
      if (n > bytes.size() - at)
        bad(std::string("is truncated: ") + what + " needs " + std::to_string(n) + " bytes, " +
            std::to_string(bytes.size() - at) + " remain");
    }
    template <class V>
    V get(const char* what) {
      need(sizeof(V), what);
      V v;
      std::memcpy(&v, bytes.data() + at, sizeof(V));
      at += sizeof(V);
      return v;
    }
  };

  static Graph deserialise(const std::vector<unsigned char>& bytes, const std::string& path) {
    Reader r{bytes, 0, path};
    r.need(sizeof magic, "the magic");
    if (std::memcmp(bytes.data(), magic, sizeof magic) != 0) r.bad("is not an HNSW index (wrong magic)");
    r.at = sizeof magic;
    if (const auto v = r.template get<std::uint32_t>("the version"); v != format_version)
      r.bad("has format version " + std::to_string(v) + ", this library reads " + std::to_string(format_version));
    if (const auto s = r.template get<std::uint32_t>("the scalar size"); s != sizeof(T))
      r.bad("holds " + std::to_string(s) + "-byte scalars, this index has " + std::to_string(sizeof(T)) + "-byte ones");
    // The hash covers everything before its last 8 bytes.
    if (bytes.size() < r.at + 8) r.bad("is truncated: no room for the header");
    std::uint64_t stored = 0;
    std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
    if (fnv1a(bytes.data(), bytes.size() - 8) != stored) r.bad("is corrupt: checksum mismatch (truncated or tampered)");
    const std::vector<unsigned char> body(bytes.begin(), bytes.end() - 8);  // the reader stops at the hash
    Reader b{body, r.at, path};

    const auto dimension = b.template get<std::uint64_t>("the dimension");
    const auto M = b.template get<std::uint64_t>("M");
    const auto ef_construction = b.template get<std::uint64_t>("ef_construction");
    const auto ef = b.template get<std::uint64_t>("ef");
    const auto seed = b.template get<std::uint64_t>("the seed");
    const auto n = b.template get<std::uint64_t>("the count");
    const auto draws = b.template get<std::uint64_t>("the number of draws");
    const auto entry = b.template get<std::int64_t>("the entry point");
    const auto top = b.template get<std::int64_t>("the top level");
    const std::uint64_t limit = std::uint64_t(1) << 40;
    if (dimension < 1 || dimension > limit) b.bad("has an impossible dimension " + std::to_string(dimension));
    if (M < 2 || M > 65535) b.bad("has an invalid M " + std::to_string(M));
    if (ef_construction < 1 || ef_construction > limit || ef < 1 || ef > limit)
      b.bad("has an invalid ef or ef_construction");
    if (n > max_elements) b.bad("claims " + std::to_string(n) + " elements");
    if (draws != n) b.bad("has " + std::to_string(draws) + " level draws for " + std::to_string(n) + " elements");
    Graph g;
    g.dimension = static_cast<Index>(dimension);
    g.params = {static_cast<Index>(M), static_cast<Index>(ef_construction), static_cast<Index>(ef), seed};
    b.need(2 * n, "the levels and deletion marks");
    const std::uint64_t room = (body.size() - b.at - 2 * n) / sizeof(T);  // scalars that could follow
    if (n > 0 && dimension > room / n)
      b.bad("is truncated: " + std::to_string(n) + " vectors of dimension " + std::to_string(dimension) +
            " do not fit in the bytes that remain");
    b.need(2 * n + n * dimension * sizeof(T), "the vectors");
    // The engine catches up only now that the file holds all `draws` elements: a forged count cannot make
    // it run for longer than reading the file takes.
    g.draws = draws;
    g.rng.seed(seed);
    g.rng.discard(draws);
    g.levels.resize(n);
    g.deleted.resize(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      g.deleted[i] = b.bytes[b.at++];
      g.levels[i] = b.bytes[b.at++];
      if (g.deleted[i] > 1) b.bad("has an invalid deletion mark at element " + std::to_string(i));
      g.deleted_count += g.deleted[i];
    }
    g.vectors.resize(n * dimension);
    if (!g.vectors.empty()) std::memcpy(g.vectors.data(), b.bytes.data() + b.at, g.vectors.size() * sizeof(T));
    b.at += g.vectors.size() * sizeof(T);
    if (!std::all_of(g.vectors.begin(), g.vectors.end(), [](T v) { return std::isfinite(v); }))
      b.bad("holds NaN or Inf vector entries");
    if (n == 0 ? (entry != -1 || top != -1)
               : (entry < 0 || std::uint64_t(entry) >= n || top != g.levels[std::size_t(entry)] ||
                  *std::max_element(g.levels.begin(), g.levels.end()) != top))
      b.bad("has an invalid entry point or top level");
    g.entry = entry;
    g.top = static_cast<Index>(top);
    // Every list takes at least its 4-byte length on disk; in memory it takes room for its capacity.
    // A hostile M or level cannot make that a huge allocation from a small file: the memory is bounded
    // by 64 × the file size + 16 MiB.
    std::uint64_t layers = 0;
    for (const auto l : g.levels) layers += 1 + l;
    b.need(4 * layers, "the neighbour lists");
    const std::size_t stride0 = std::size_t(1 + 2 * M);
    const std::uint64_t memory = 4 * (n * stride0 + (layers - n) * (1 + M));
    if (memory > 64 * std::uint64_t(bytes.size()) + (std::uint64_t(16) << 20))
      b.bad("would need " + std::to_string(memory) + " bytes of neighbour lists for a file of " +
            std::to_string(bytes.size()) + " bytes (M " + std::to_string(M) + ")");
    g.layer0.assign(n * stride0, 0);
    g.upper.resize(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      const Index level = g.levels[i];
      g.upper[i].assign(std::size_t(level) * std::size_t(1 + M), 0);
      for (Index layer = 0; layer <= level; ++layer) {
        const auto m = b.template get<Id>("a neighbour list length");
        if (m > std::uint64_t(g.capacity(layer)))
          b.bad("has " + std::to_string(m) + " neighbours for element " + std::to_string(i) + " on layer " +
                std::to_string(layer) + ", at most " + std::to_string(g.capacity(layer)) + " allowed");
        Id* l = g.list(Id(i), layer);
        l[0] = m;
        for (Id j = 1; j <= m; ++j) {
          const Id e = b.template get<Id>("a neighbour id");
          if (e >= n || g.levels[e] < layer)
            b.bad("links element " + std::to_string(i) + " to an invalid neighbour " + std::to_string(e) +
                  " on layer " + std::to_string(layer));
          l[j] = e;
        }
      }
    }
    if (b.at != body.size()) b.bad("has " + std::to_string(body.size() - b.at) + " unexpected trailing bytes");
    return g;
  }

  // Temporary file in the same folder, write, fsync, rename over `path`, fsync the folder.
  static void write_atomically(const std::string& path, const std::vector<unsigned char>& bytes) {
    try {
      write_file_atomically(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    } catch (const std::system_error& e) {
      throw FormatError(std::string("HnswIndex::save: ") + e.what());
    }
  }

  // Writer preference: glibc's shared_mutex lets a steady stream of readers starve a writer forever. A
  // writer holds the turnstile while it waits for the readers inside to leave, and every reader passes
  // through the turnstile before taking its shared lock, so new readers queue behind a waiting writer.
  [[nodiscard]] std::shared_lock<std::shared_mutex> read_lock() const {
    { std::lock_guard pass(turnstile_); }
    return std::shared_lock(mutex_);
  }
  struct WriteLock {
    std::unique_lock<std::mutex> turn;
    std::unique_lock<std::shared_mutex> exclusive;
  };
  [[nodiscard]] WriteLock write_lock() const {
    std::unique_lock turn(turnstile_);
    std::unique_lock exclusive(mutex_);
    return {std::move(turn), std::move(exclusive)};
  }

  Graph g_;
  mutable std::mutex turnstile_;
  mutable std::shared_mutex mutex_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Scratch>> pool_;
};

}  // namespace aimastery
