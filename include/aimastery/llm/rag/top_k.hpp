#pragma once
/// \file
/// Top-k selection: the k largest scores of n, best first, by partial selection (std::nth_element,
/// O(n) on average, then a sort of the k selected: O(k log k)), never a full sort; or over a stream
/// (RunningTopK): a heap of the k best so far whose root is the worst of them, so that most scores are
/// turned away by one comparison with it. Ties go to the smaller index, so the result does not depend on
/// the selection algorithm.

#include <algorithm>
#include <limits>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// A position in a collection and its score.
struct ScoredIndex {
  Index index = 0;
  double score = 0;
  friend bool operator==(const ScoredIndex&, const ScoredIndex&) = default;
};

/// The order of results: higher score first, then the smaller index.
inline bool ranks_before(const ScoredIndex& a, const ScoredIndex& b) noexcept {
  return a.score != b.score ? a.score > b.score : a.index < b.index;
}

/// The min(k, n) best of `candidates` (score descending, then index ascending), in that order.
template <class Unused = void>
std::vector<ScoredIndex> select_top_k(std::vector<ScoredIndex> candidates, Index k) {
  require(k >= 0, "select_top_k", [&] { return "k must not be negative, got " + std::to_string(k); });
  const auto better = ranks_before;
  const auto keep = std::min(candidates.size(), static_cast<std::size_t>(k));
  if (keep < candidates.size()) {
    std::nth_element(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(keep), candidates.end(),
                     better);
    candidates.resize(keep);
  }
  std::sort(candidates.begin(), candidates.end(), better);
  return candidates;
}

/// The k best of a stream of scored positions offered one at a time. With the heap ordered by
/// ranks_before, its root is the worst entry kept; once k are kept, a new entry goes in only if it ranks
/// before the root, which then leaves. Offered in increasing index order, an entry that ties the root's
/// score never displaces it, as select_top_k would decide.
class RunningTopK {
 public:
  explicit RunningTopK(Index k) : k_(static_cast<std::size_t>(k)) {
    require(k >= 0, "RunningTopK", [&] { return "k must not be negative, got " + std::to_string(k); });
    heap_.reserve(k_);
  }

  /// A score below which (or equal to which, for a later index) nothing can enter any more; -inf until k
  /// entries are kept.
  [[nodiscard]] double threshold() const noexcept {
    if (heap_.size() < k_) return -std::numeric_limits<double>::infinity();
    return k_ == 0 ? std::numeric_limits<double>::infinity() : heap_.front().score;
  }

  void offer(Index index, double score) {
    const ScoredIndex entry{index, score};
    if (heap_.size() < k_) {
      heap_.push_back(entry);
      std::push_heap(heap_.begin(), heap_.end(), ranks_before);
    } else if (k_ > 0 && ranks_before(entry, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), ranks_before);
      heap_.back() = entry;
      std::push_heap(heap_.begin(), heap_.end(), ranks_before);
    }
  }

  /// The entries kept, best first.
  [[nodiscard]] std::vector<ScoredIndex> sorted() const {
    std::vector<ScoredIndex> out = heap_;
    std::sort(out.begin(), out.end(), ranks_before);
    return out;
  }

 private:
  std::size_t k_;
  std::vector<ScoredIndex> heap_;
};

}  // namespace aimastery
