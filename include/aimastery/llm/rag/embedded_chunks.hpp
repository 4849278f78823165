#pragma once
/// \file
/// EmbeddedChunks: what a dense retriever keeps beside its vector index: the embedding model and the
/// chunks, row i of the index being chunk i. DenseRetriever (exact search) and HnswRetriever (graph
/// search) both build on it, and differ only in the index they search.
///
///   EmbeddedChunks<HashingTfidfEmbedder<float>> store(std::move(embedder));
///   Matrix<float> E = store.embed_chunks(chunks, "MyRetriever::add");   // checked: one row per chunk
///   index.add(E);
///   store.append(chunks);                                               // only once the index took them
///   auto results = store.results_of(index.search(store.model().embed(queries), k));
///
/// The model reads each chunk's text, or what a ChunkText rule makes of the chunk: with a chunker whose
/// options name metadata_in_budget keys, [chunker](const Chunk& c) { return chunker.embedding_text(c); }
/// gives the embedder the metadata lines the chunk budget counted. Queries are embedded as they are.

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/document.hpp"
#include "aimastery/llm/rag/embedding_model.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"
#include "aimastery/llm/rag/top_k.hpp"

namespace aimastery {

/// What the embedding model reads of a chunk (empty: the chunk's text).
using ChunkText = std::function<std::string(const Chunk&)>;

template <EmbeddingModel M>
class EmbeddedChunks {
 public:
  using T = typename M::Scalar;

  explicit EmbeddedChunks(M model, ChunkText chunk_text = {})
      : model_(std::move(model)), chunk_text_(std::move(chunk_text)) {}

  [[nodiscard]] M& model() noexcept { return model_; }
  [[nodiscard]] const M& model() const noexcept { return model_; }
  [[nodiscard]] Index size() const noexcept { return static_cast<Index>(chunks_.size()); }
  [[nodiscard]] const Chunk& chunk(Index i) const { return chunks_.at(static_cast<std::size_t>(i)); }

  /// The embeddings of the chunks' texts (or of the ChunkText rule's texts), one row per chunk (a model
  /// that returns another number of rows is an InvalidArgument naming `where`). Nothing is stored.
  [[nodiscard]] Matrix<T> embed_chunks(std::span<const Chunk> chunks, std::string_view where) {
    std::vector<std::string> texts;
    texts.reserve(chunks.size());
    for (const Chunk& c : chunks) texts.push_back(chunk_text_ ? chunk_text_(c) : c.text);
    Matrix<T> E = model_.embed(texts);
    require(E.rows() == static_cast<Index>(chunks.size()), where, [&] {
      return "the model returned " + std::to_string(E.rows()) + " rows for " + std::to_string(chunks.size()) + " texts";
    });
    return E;
  }

  /// Appends the chunks whose embeddings the index has just taken (call after the index's add succeeded).
  void append(std::span<const Chunk> chunks) { chunks_.insert(chunks_.end(), chunks.begin(), chunks.end()); }

  /// Reserves room for `more` chunks, so that append() after a successful index insertion cannot throw.
  void reserve_more(std::size_t more) { chunks_.reserve(chunks_.size() + more); }

  /// Per query, the hits (positions and scores, best first) as RetrievalResults ranked from 1.
  [[nodiscard]] std::vector<std::vector<RetrievalResult>> results_of(
      const std::vector<std::vector<ScoredIndex>>& hits_per_query) const {
    std::vector<std::vector<RetrievalResult>> out;
    out.reserve(hits_per_query.size());
    for (const auto& hits : hits_per_query) {
      auto& results = out.emplace_back();
      Index rank = 0;
      for (const ScoredIndex& h : hits)
        results.push_back(RetrievalResult::of(chunks_[static_cast<std::size_t>(h.index)], h.score, ++rank));
    }
    return out;
  }

 private:
  M model_;
  ChunkText chunk_text_;
  std::vector<Chunk> chunks_;
};

}  // namespace aimastery
