#pragma once
/// \file
/// Reranker: the stage between retrieval and context assembly that reorders (and thins) the candidates.
///
///   template <Reranker R> auto best(R& reranker, const std::vector<RetrievalResult>& candidates) {
///     return reranker.rerank("what is BM25?", candidates, 5);   // at most 5, ranks 1..5
///   }
///
/// Built-ins: KeepRetrievalOrder (the first k, as retrieved), MMRReranker (maximal marginal relevance
/// over a model's embeddings: llm/rag/mmr.hpp) and CrossEncoderReranker (a model that scores each
/// (question, passage) pair: llm/rag/cross_encoder_reranker.hpp).

#include <concepts>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"

namespace aimastery {

template <class R>
concept Reranker = requires(R& reranker, std::string_view question, const std::vector<RetrievalResult>& candidates,
                            Index k) {
  { reranker.rerank(question, candidates, k) } -> std::same_as<std::vector<RetrievalResult>>;
};

/// No reranking: the first k candidates in their retrieval order.
struct KeepRetrievalOrder {
  [[nodiscard]] std::vector<RetrievalResult> rerank(std::string_view /*question*/,
                                                    const std::vector<RetrievalResult>& candidates, Index k) const {
    require(k >= 1, "KeepRetrievalOrder::rerank", [&] { return "k must be at least 1, got " + std::to_string(k); });
    const auto n = std::min(candidates.size(), static_cast<std::size_t>(k));
    return {candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n)};
  }
};

}  // namespace aimastery
