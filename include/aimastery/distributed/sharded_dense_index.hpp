#pragma once
/// \file
/// ShardedDenseIndex: exact cosine search over a collection of vectors sharded by rows across ranks,
/// giving the single ExactDenseIndex's results (the same global positions and the same scores).
///
///   ShardedDenseIndex<float> index(world, 384);
///   index.add(my_rows);                                 // local: this rank's shard
///   auto hits = index.search(queries, 10);              // collective: the global 10 best, on every rank
///
/// The whole collection is the shards in rank order: global position = shard_offset + local position.
/// A search checks that every rank has the same dimension, the same queries (count and XXH3 hash) and
/// the same k, searches its shard (llm/rag/dense_retriever.hpp: S = Q̂ · Êᵀ, top-k by partial
/// selection) and merges the lists (distributed/top_k_merge.hpp). Each cosine is one dot product of two
/// unit rows, which does not depend on which other rows share the shard, so the scores equal the single
/// index's bit for bit (tested) and ties go to the smaller global position, as there.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/distributed/agreement.hpp"
#include "aimastery/distributed/communicator.hpp"
#include "aimastery/distributed/same_queries.hpp"
#include "aimastery/distributed/top_k_merge.hpp"
#include "aimastery/llm/rag/dense_retriever.hpp"

namespace aimastery {

template <Scalar T>
class ShardedDenseIndex {
 public:
  /// An empty shard of vectors of `dimension` columns. The communicator must outlive the index.
  ShardedDenseIndex(const Communicator& comm, Index dimension) : comm_(&comm), shard_(dimension) {}

  [[nodiscard]] Index dimension() const noexcept { return shard_.dimension(); }
  /// This rank's shard.
  [[nodiscard]] const ExactDenseIndex<T>& shard() const noexcept { return shard_; }
  /// The number of vectors of this rank's shard.
  [[nodiscard]] Index shard_size() const noexcept { return shard_.size(); }

  /// Appends vectors to this rank's shard (local: not collective). Wrong dimension: InvalidArgument.
  void add(const MatrixRef<T>& rows) { shard_.add(rows); }

  /// The number of vectors over all ranks (collective).
  [[nodiscard]] Index size() const { return static_cast<Index>(comm_->sum(static_cast<std::int64_t>(shard_.size()))); }

  /// For every query row, the min(k, size()) most similar vectors of the whole collection, best first,
  /// with global positions. Collective: every rank passes the same queries and k; a bad argument on any
  /// rank throws InvalidArgument on every rank.
  [[nodiscard]] std::vector<std::vector<ScoredIndex>> search(const MatrixRef<T>& queries, Index k) const {
    constexpr std::string_view where = "ShardedDenseIndex::search";
    check_same_on_all_ranks(*comm_, where, "the dimension", dimension());
    check_on_all_ranks(*comm_, [&] {
      require(queries.cols() == dimension(), where, [&] {
        return "queries have " + std::to_string(queries.cols()) + " columns, the index " + std::to_string(dimension());
      });
      require(k >= 1, where, [&] { return "k must be at least 1, got " + std::to_string(k); });
    });
    check_same_on_all_ranks(*comm_, where, "k", k);
    const Matrix<T> Q = queries;  // contiguous, for the hash
    check_same_queries_on_all_ranks(*comm_, where, Q);
    const Index offset = shard_offset(*comm_, shard_.size());
    std::vector<std::vector<ScoredIndex>> local = shard_.search(Q, k);
    for (auto& list : local)
      for (ScoredIndex& s : list) s.index += offset;
    return merge_top_k(*comm_, local, k);
  }

 private:
  const Communicator* comm_;
  ExactDenseIndex<T> shard_;
};

}  // namespace aimastery
