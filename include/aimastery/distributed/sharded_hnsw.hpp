#pragma once
/// \file
/// ShardedHnsw: approximate cosine search over a collection of vectors sharded by rows across ranks, one
/// HnswIndex per rank over its shard (llm/rag/hnsw_index.hpp).
///
///   ShardedHnsw<float> index(world, 384, {.M = 16, .ef_construction = 200, .ef = 64});
///   index.add(my_rows);                         // local: this rank's graph
///   auto hits = index.search(queries, 10);      // collective: per query the global 10 best found, on every rank
///   index.save("chunks.hnsw");                  // collective: rank r writes "chunks.hnsw.r-of-p"
///   auto again = ShardedHnsw<float>::load(world, "chunks.hnsw");
///
/// The whole collection is the shards in rank order: global position = shard_offset + local position. A
/// search checks that every rank has the same dimension, the same queries (count and XXH3 hash), the same
/// k and ef; each rank runs the single index's search on its graph with beam ef, and the lists are merged
/// (distributed/top_k_merge.hpp) by (cosine descending, position ascending).
///
/// Recall. A row of the global top k is in the top k of its own shard, so the merged list holds it exactly
/// when its shard's search found it: the recall of the sharded search is that of p searches over graphs of
/// n/p rows with the same beam, which is at least the single graph's at the same ef in the tests (the beam
/// covers a larger share of a smaller graph). With ef ≥ shard size the beam holds every row its graph
/// reaches, so the result is the exact search's; the cosine of a (query, row) pair is computed as the
/// single HnswIndex computes it (−d(q̂, x̂) of the stored unit rows, whatever the other rows of the shard),
/// equal to ExactDenseIndex's up to the rounding of the dot product.
///
/// Persistence is per shard: each rank saves and loads its own graph (HnswIndex's file format), so a
/// collection saved on p ranks is loaded on p ranks; a failure on any rank throws on every rank.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/distributed/agreement.hpp"
#include "aimastery/distributed/communicator.hpp"
#include "aimastery/distributed/same_queries.hpp"
#include "aimastery/distributed/top_k_merge.hpp"
#include "aimastery/llm/rag/hnsw_index.hpp"

namespace aimastery {

/// The file of rank `rank` of `size` for a sharded index saved under `path`: "<path>.<rank>-of-<size>".
[[nodiscard]] inline std::string shard_path(const std::string& path, int rank, int size) {
  return path + "." + std::to_string(rank) + "-of-" + std::to_string(size);
}

template <Scalar T>
class ShardedHnsw {
 public:
  /// An empty shard of vectors of `dimension` columns (HnswIndex's checks of the parameters). The
  /// communicator must outlive the index.
  ShardedHnsw(const Communicator& comm, Index dimension, HnswParams params = {})
      : comm_(&comm), shard_(std::make_unique<HnswIndex<T>>(dimension, params)) {}

  [[nodiscard]] Index dimension() const noexcept { return shard_->dimension(); }
  [[nodiscard]] HnswParams params() const { return shard_->params(); }
  /// This rank's graph (local positions).
  [[nodiscard]] const HnswIndex<T>& shard() const noexcept { return *shard_; }
  /// The number of vectors of this rank's shard, deleted ones included.
  [[nodiscard]] Index shard_size() const { return shard_->size(); }

  /// The number of vectors over all ranks, deleted ones included (collective).
  [[nodiscard]] Index size() const { return static_cast<Index>(comm_->sum(static_cast<std::int64_t>(shard_size()))); }

  /// Inserts vectors into this rank's graph (local: not collective); they get the next local positions.
  /// Wrong dimension, NaN or Inf: InvalidArgument, nothing inserted.
  void add(const MatrixRef<T>& rows) { shard_->add(rows); }

  /// The search beam width of this rank's graph (local).
  void set_ef(Index ef) { shard_->set_ef(ef); }

  /// Marks the row at a global position deleted (collective: every rank passes the same position; the
  /// rank holding it marks it). Outside [0, size()) or already deleted: InvalidArgument on every rank.
  void mark_deleted(Index position) {
    constexpr std::string_view where = "ShardedHnsw::mark_deleted";
    check_same_on_all_ranks(*comm_, where, "the position", position);
    const Index offset = shard_offset(*comm_, shard_size());
    const Index total = size();
    check_on_all_ranks(*comm_, [&] {
      require(position >= 0 && position < total, where, [&] {
        return "position " + std::to_string(position) + " is outside [0, " + std::to_string(total) + ")";
      });
      if (position >= offset && position < offset + shard_size()) shard_->mark_deleted(position - offset);
    });
  }

  /// For every query row, the k best rows found over the whole collection (fewer when fewer live rows are
  /// reached), best first, with global positions; each shard searched with the beam of its params().ef.
  /// Collective: every rank passes the same queries and k and has the same ef; a bad argument on any rank
  /// throws InvalidArgument on every rank.
  [[nodiscard]] std::vector<std::vector<ScoredIndex>> search(const MatrixRef<T>& queries, Index k) const {
    return search(queries, k, params().ef);
  }

  /// The same with beam width ef ≥ k on every shard.
  [[nodiscard]] std::vector<std::vector<ScoredIndex>> search(const MatrixRef<T>& queries, Index k, Index ef) const {
    constexpr std::string_view where = "ShardedHnsw::search";
    check_same_on_all_ranks(*comm_, where, "the dimension", dimension());
    check_on_all_ranks(*comm_, [&] {
      require(queries.cols() == dimension(), where, [&] {
        return "queries have " + std::to_string(queries.cols()) + " columns, the index " + std::to_string(dimension());
      });
      require(queries.allFinite(), where, "queries hold NaN or Inf");
      require(k >= 1, where, [&] { return "k must be at least 1, got " + std::to_string(k); });
      require(ef >= k, where,
              [&] { return "ef (" + std::to_string(ef) + ") must be at least k (" + std::to_string(k) + ")"; });
    });
    check_same_on_all_ranks(*comm_, where, "k", k);
    check_same_on_all_ranks(*comm_, where, "ef", ef);
    const Matrix<T> Q = queries;  // contiguous, for the hash
    check_same_queries_on_all_ranks(*comm_, where, Q);
    const Index offset = shard_offset(*comm_, shard_size());
    std::vector<std::vector<ScoredIndex>> local = shard_->search(Q, k, ef);
    for (auto& list : local)
      for (ScoredIndex& s : list) s.index += offset;
    return merge_top_k(*comm_, local, k);
  }

  /// Writes each rank's graph to shard_path(path, rank, size) (collective). A rank that cannot write
  /// makes every rank throw: FormatError on that rank, std::runtime_error("rank r: …") on the others.
  void save(const std::string& path) const {
    check_on_all_ranks(*comm_, [&] { shard_->save(shard_path(path, comm_->rank(), comm_->size())); });
  }

  /// Reads the graphs written by save() on as many ranks (collective; rank r reads shard_path(path, r,
  /// size)). A missing or malformed file on any rank throws on every rank, as save(); ranks whose files
  /// hold different dimensions: InvalidArgument on every rank.
  [[nodiscard]] static ShardedHnsw load(const Communicator& comm, const std::string& path) {
    std::unique_ptr<HnswIndex<T>> shard;
    check_on_all_ranks(
        comm, [&] { shard.reset(new HnswIndex<T>(HnswIndex<T>::load(shard_path(path, comm.rank(), comm.size())))); });
    check_same_on_all_ranks(comm, "ShardedHnsw::load", "the dimension", shard->dimension());
    return ShardedHnsw(comm, std::move(shard));
  }

 private:
  ShardedHnsw(const Communicator& comm, std::unique_ptr<HnswIndex<T>> shard) : comm_(&comm), shard_(std::move(shard)) {}

  const Communicator* comm_;
  std::unique_ptr<HnswIndex<T>> shard_;  // HnswIndex holds mutexes: not movable, so the index owns it by pointer
};

}  // namespace aimastery
