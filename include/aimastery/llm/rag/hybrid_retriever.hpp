#pragma once
/// \file
/// HybridRetriever: BM25 and dense retrieval of the same chunks, fused.
///
///   HybridRetriever<HashingTfidfEmbedder<float>> hybrid(BM25Retriever{}, std::move(embedder));
///   hybrid.add(chunks);
///   hybrid.retrieve("how are chunks scored?", 5);                    // reciprocal rank fusion, k = 60
///   hybrid.retrieve(q, 5, {.fusion = HybridFusion::normalized_scores, .weights = {0.3, 0.7}});
///
/// Each retriever returns its `candidates` best chunks (default 50), and the two lists are fused
/// (llm/rag/fusion.hpp): lexical matching finds rare exact terms (names, codes) that embeddings blur,
/// embeddings find paraphrases that share no word with the query.

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/llm/rag/bm25.hpp"
#include "aimastery/llm/rag/dense_retriever.hpp"
#include "aimastery/llm/rag/fusion.hpp"

namespace aimastery {

enum class HybridFusion { reciprocal_rank, normalized_scores };

struct HybridOptions {
  HybridFusion fusion = HybridFusion::reciprocal_rank;
  Index candidates = 50;             ///< results taken from each retriever before fusion
  double rrf_k = 60;                 ///< k of reciprocal rank fusion
  std::vector<double> weights = {};  ///< normalised score fusion: {w_bm25, w_dense}; empty = {1, 1}
};

template <EmbeddingModel M>
class HybridRetriever {
 public:
  /// `chunk_text`: what the dense side reads of a chunk (DenseRetriever; empty: its text); BM25 reads its text.
  HybridRetriever(BM25Retriever bm25, M model, ChunkText chunk_text = {})
      : bm25_(std::move(bm25)), dense_(std::move(model), std::move(chunk_text)) {}

  [[nodiscard]] BM25Retriever& bm25() noexcept { return bm25_; }
  [[nodiscard]] DenseRetriever<M>& dense() noexcept { return dense_; }
  [[nodiscard]] Index size() const noexcept { return bm25_.size(); }

  /// Indexes the chunks in both retrievers.
  HybridRetriever& add(std::span<const Chunk> chunks) {
    dense_.add(chunks);  // the embedding may throw: before BM25 changes
    bm25_.add(chunks);
    return *this;
  }

  [[nodiscard]] std::vector<RetrievalResult> retrieve(std::string_view query, Index k,
                                                      const HybridOptions& options = {}) {
    constexpr std::string_view where = "HybridRetriever::retrieve";
    require(k >= 1, where, [&] { return "k must be at least 1, got " + std::to_string(k); });
    require(options.candidates >= k, where, [&] {
      return "candidates (" + std::to_string(options.candidates) + ") must be at least k (" + std::to_string(k) + ")";
    });
    const std::vector<std::vector<RetrievalResult>> lists = {bm25_.retrieve(query, options.candidates),
                                                             dense_.retrieve(query, options.candidates)};
    return options.fusion == HybridFusion::reciprocal_rank ? reciprocal_rank_fusion(lists, k, options.rrf_k)
                                                           : normalized_score_fusion(lists, k, options.weights);
  }

 private:
  BM25Retriever bm25_;
  DenseRetriever<M> dense_;
};

}  // namespace aimastery
