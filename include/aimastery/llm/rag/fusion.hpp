#pragma once
/// \file
/// Fusion of ranked lists: the results of several retrievers (BM25 and dense, say) for one query merged
/// into one ranking.
///
///   auto fused = reciprocal_rank_fusion({bm25.retrieve(q, 50), dense.retrieve(q, 50)}, 10);
///
/// Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009): a chunk at rank r_l(d) in list l
/// scores
///   RRF(d) = Σ_l 1 / (k + r_l(d))            (k = 60; a list that misses d adds nothing)
/// Only ranks matter, so lists whose scores live on different scales (BM25's unbounded sums, cosines in
/// [−1, 1]) fuse without calibration; k damps the weight of the very first ranks.
///
/// Normalised score fusion: each list's scores are min–max scaled to [0, 1] (all equal: all 1), then
///   S(d) = Σ_l w_l · ŝ_l(d)                  (w_l = 1 by default; a list that misses d adds nothing)
///
/// A chunk is identified by its document id and offsets (Chunk::id()). Equal fused scores are ordered
/// by chunk id, so the result does not depend on the order of the lists.

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"

namespace aimastery {

namespace detail::rag {

/// Accumulated fused scores keyed by chunk id, keeping one copy of each chunk. (A template so that its
/// members are compiled where a fusion is called.)
template <class Result = RetrievalResult>
struct FusedScores {
  std::map<std::string, std::pair<double, const Result*>> by_id;

  void add(const Result& r, double contribution) {
    auto [it, inserted] = by_id.try_emplace(r.chunk.id(), 0.0, &r);
    it->second.first += contribution;
  }

  std::vector<Result> top(Index k) const {
    std::vector<std::pair<double, const std::string*>> order;
    for (const auto& [id, entry] : by_id) order.emplace_back(entry.first, &id);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : *a.second < *b.second;
    });
    std::vector<Result> out;
    for (std::size_t i = 0; i < std::min(order.size(), static_cast<std::size_t>(k)); ++i)
      out.push_back(Result::of(by_id.at(*order[i].second).second->chunk, order[i].first, static_cast<Index>(i + 1)));
    return out;
  }
};

}  // namespace detail::rag

/// RRF(d) = Σ_l 1 / (k + rank_l(d)) over the lists (rank from 1: a list's order, its rank fields unused);
/// the top_k best.
template <class Unused = void>
std::vector<RetrievalResult> reciprocal_rank_fusion(const std::vector<std::vector<RetrievalResult>>& lists, Index top_k,
                                                    double k = 60) {
  constexpr std::string_view where = "reciprocal_rank_fusion";
  require(top_k >= 1, where, [&] { return "top_k must be at least 1, got " + std::to_string(top_k); });
  require(k >= 0 && std::isfinite(k), where, [&] { return "k must be finite and >= 0, got " + std::to_string(k); });
  detail::rag::FusedScores<> fused;
  for (const auto& list : lists)
    for (std::size_t r = 0; r < list.size(); ++r) fused.add(list[r], 1.0 / (k + static_cast<double>(r + 1)));
  return fused.top(top_k);
}

/// S(d) = Σ_l w_l · (s_l(d) − min_l) / (max_l − min_l) over the lists (1 when a list's scores are all
/// equal); `weights` empty means all 1, else one per list. The top_k best.
template <class Unused = void>
std::vector<RetrievalResult> normalized_score_fusion(const std::vector<std::vector<RetrievalResult>>& lists,
                                                     Index top_k, const std::vector<double>& weights = {}) {
  constexpr std::string_view where = "normalized_score_fusion";
  require(top_k >= 1, where, [&] { return "top_k must be at least 1, got " + std::to_string(top_k); });
  require(weights.empty() || weights.size() == lists.size(), where,
          [&] { return std::to_string(weights.size()) + " weights for " + std::to_string(lists.size()) + " lists"; });
  for (const double w : weights) require(std::isfinite(w), where, "weights must be finite");
  detail::rag::FusedScores<> fused;
  for (std::size_t l = 0; l < lists.size(); ++l) {
    if (lists[l].empty()) continue;
    double lo = lists[l].front().score, hi = lo;
    for (const auto& r : lists[l]) {
      require(std::isfinite(r.score), where, "a score is NaN or Inf");
      lo = std::min(lo, r.score);
      hi = std::max(hi, r.score);
    }
    const double w = weights.empty() ? 1.0 : weights[l];
    for (const auto& r : lists[l]) fused.add(r, w * (hi > lo ? (r.score - lo) / (hi - lo) : 1.0));
  }
  return fused.top(top_k);
}

}  // namespace aimastery
