#pragma once
/// \file
/// Top-k selection: the k largest scores of n, best first, by partial selection (std::nth_element,
/// O(n) on average, then a sort of the k selected: O(k log k)), never a full sort. Ties go to the
/// smaller index, so the result does not depend on the selection algorithm.

#include <algorithm>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// A position in a collection and its score.
struct ScoredIndex {
  Index index = 0;
  double score = 0;
  friend bool operator==(const ScoredIndex&, const ScoredIndex&) = default;
};

/// The min(k, n) best of `candidates` (score descending, then index ascending), in that order.
inline std::vector<ScoredIndex> select_top_k(std::vector<ScoredIndex> candidates, Index k) {
  require(k >= 0, "select_top_k", [&] { return "k must not be negative, got " + std::to_string(k); });
  const auto better = [](const ScoredIndex& a, const ScoredIndex& b) {
    return a.score != b.score ? a.score > b.score : a.index < b.index;
  };
  const auto keep = std::min(candidates.size(), static_cast<std::size_t>(k));
  if (keep < candidates.size()) {
    std::nth_element(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(keep), candidates.end(),
                     better);
    candidates.resize(keep);
  }
  std::sort(candidates.begin(), candidates.end(), better);
  return candidates;
}

}  // namespace aimastery
