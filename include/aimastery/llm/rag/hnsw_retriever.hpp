#pragma once
/// \file
/// Approximate dense retrieval of chunks: an embedding model in front of an HnswIndex (the Retriever
/// contract of llm/rag/retriever.hpp), the approximate twin of DenseRetriever.
///
///   HnswRetriever<HashingTfidfEmbedder<float>> dense(std::move(embedder), {.M = 16, .ef = 64});
///   dense.add(chunks);                        // embeds the chunks' texts, inserts them into the graph
///   dense.retrieve("what is BM25?", 5);       // RetrievalResults with citations
///
/// The index's queries may run concurrently with its insertions; the retriever's own chunk list may not:
/// call add() and retrieve() of one HnswRetriever from one thread at a time (or share the HnswIndex).

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/document.hpp"
#include "aimastery/llm/rag/embedding_model.hpp"
#include "aimastery/llm/rag/hnsw_index.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"

namespace aimastery {

template <EmbeddingModel M>
class HnswRetriever {
 public:
  using T = typename M::Scalar;

  explicit HnswRetriever(M model, HnswParams params = {})
      : model_(std::move(model)), index_(model_.dimension(), params) {}

  [[nodiscard]] M& model() noexcept { return model_; }
  [[nodiscard]] HnswIndex<T>& index() noexcept { return index_; }
  [[nodiscard]] const HnswIndex<T>& index() const noexcept { return index_; }
  [[nodiscard]] Index size() const { return index_.size(); }
  [[nodiscard]] const Chunk& chunk(Index i) const { return chunks_.at(static_cast<std::size_t>(i)); }

  /// Embeds the chunks' texts and inserts them (nothing is inserted when the model or the index throws).
  HnswRetriever& add(std::span<const Chunk> chunks) {
    std::vector<std::string> texts;
    texts.reserve(chunks.size());
    for (const Chunk& c : chunks) texts.push_back(c.text);
    const Matrix<T> E = model_.embed(texts);
    require(E.rows() == static_cast<Index>(chunks.size()), "HnswRetriever::add", [&] {
      return "the model returned " + std::to_string(E.rows()) + " rows for " + std::to_string(chunks.size()) + " texts";
    });
    chunks_.reserve(chunks_.size() + chunks.size());
    index_.add(E);
    chunks_.insert(chunks_.end(), chunks.begin(), chunks.end());
    return *this;
  }

  /// The k most similar chunks of every query by the graph search (beam width max(ef, k)).
  [[nodiscard]] std::vector<std::vector<RetrievalResult>> retrieve_batch(std::span<const std::string> queries,
                                                                         Index k) {
    require(k >= 1, "HnswRetriever::retrieve", [&] { return "k must be at least 1, got " + std::to_string(k); });
    const Matrix<T> Q = model_.embed(queries);
    std::vector<std::vector<RetrievalResult>> out;
    for (const auto& hits : index_.search(Q, k, std::max(k, index_.params().ef))) {
      auto& results = out.emplace_back();
      Index rank = 0;
      for (const ScoredIndex& h : hits)
        results.push_back(RetrievalResult::of(chunks_[static_cast<std::size_t>(h.index)], h.score, ++rank));
    }
    return out;
  }

  [[nodiscard]] std::vector<RetrievalResult> retrieve(std::string_view query, Index k) {
    const std::string q(query);
    return std::move(retrieve_batch(std::span<const std::string>(&q, 1), k).front());
  }

 private:
  M model_;
  HnswIndex<T> index_;
  std::vector<Chunk> chunks_;
};

}  // namespace aimastery
