#pragma once
// Recall of an approximate search against the exact one, shared by the HNSW tests (one index and sharded).

#include <aimastery/llm/rag/top_k.hpp>

#include <set>
#include <vector>

namespace aimastery::test {

/// The fraction of the exact top k found, averaged over the queries.
inline double recall(const std::vector<std::vector<ScoredIndex>>& found,
                     const std::vector<std::vector<ScoredIndex>>& exact) {
  double sum = 0;
  for (std::size_t q = 0; q < exact.size(); ++q) {
    std::set<Index> truth;
    for (const auto& h : exact[q]) truth.insert(h.index);
    Index hit = 0;
    for (const auto& h : found[q]) hit += truth.count(h.index) ? 1 : 0;
    sum += double(hit) / double(truth.size());
  }
  return sum / double(exact.size());
}

}  // namespace aimastery::test
