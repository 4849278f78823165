#pragma once
/// \file
/// Merging each rank's top-k into the global top-k, for search over a collection sharded by rows.
///
/// Rank r holds rows [o_r, o_r + n_r) of the whole collection (o_r = Σ_{s<r} n_s: shards in rank
/// order) and finds, for every query, its k best rows by (score descending, then global index
/// ascending), the order select_top_k uses (llm/rag/top_k.hpp). The global k best are among the union
/// of the local lists: a row beaten by k rows of its own shard is beaten by k rows overall. So the lists
/// are gathered on every rank (MPI_Allgatherv of the counts, indices and scores) and the k best of their
/// union taken with the same order: the result, ties included, is the single index's.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/distributed/agreement.hpp"
#include "aimastery/distributed/communicator.hpp"
#include "aimastery/llm/rag/top_k.hpp"

namespace aimastery {

/// Where this rank's rows start in the whole collection (Σ of the shard sizes of the ranks before it).
[[nodiscard]] inline Index shard_offset(const Communicator& comm, Index shard_size) {
  return static_cast<Index>(comm.exclusive_prefix_sum(static_cast<std::int64_t>(shard_size)));
}

/// The global top-k of every query from each rank's local top-k lists (`local[i]`: query i's best rows
/// of this shard, indices already global). Collective; every rank passes the same number of queries
/// (checked) and gets the merged lists.
[[nodiscard]] inline std::vector<std::vector<ScoredIndex>> merge_top_k(
    const Communicator& comm, const std::vector<std::vector<ScoredIndex>>& local, Index k) {
  constexpr std::string_view where = "merge_top_k";
  check_on_all_ranks(comm,
                     [&] { require(k >= 1, where, [&] { return "k must be at least 1, got " + std::to_string(k); }); });
  check_same_on_all_ranks(comm, where, "the number of queries", static_cast<std::int64_t>(local.size()));
  std::vector<std::int64_t> counts, indices;
  std::vector<double> scores;
  counts.reserve(local.size());
  for (const auto& list : local) {
    counts.push_back(static_cast<std::int64_t>(list.size()));
    for (const ScoredIndex& s : list) {
      indices.push_back(static_cast<std::int64_t>(s.index));
      scores.push_back(s.score);
    }
  }
  std::vector<int> per_rank;
  const std::vector<std::int64_t> all_counts = comm.allgather(std::span<const std::int64_t>(counts));
  const std::vector<std::int64_t> all_indices = comm.allgather(std::span<const std::int64_t>(indices), &per_rank);
  const std::vector<double> all_scores = comm.allgather(std::span<const double>(scores));

  const std::size_t queries = local.size();
  std::vector<std::vector<ScoredIndex>> candidates(queries);
  std::size_t at = 0;  // walks the gathered entries: rank by rank, query by query
  for (int r = 0; r < comm.size(); ++r)
    for (std::size_t q = 0; q < queries; ++q) {
      const auto n = static_cast<std::size_t>(all_counts[static_cast<std::size_t>(r) * queries + q]);
      for (std::size_t j = 0; j < n; ++j, ++at)
        candidates[q].push_back({static_cast<Index>(all_indices[at]), all_scores[at]});
    }
  AIMASTERY_ASSERT(at == all_indices.size());
  std::vector<std::vector<ScoredIndex>> out(queries);
  for (std::size_t q = 0; q < queries; ++q) out[q] = select_top_k(std::move(candidates[q]), k);
  return out;
}

}  // namespace aimastery
