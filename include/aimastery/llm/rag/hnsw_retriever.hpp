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

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/document.hpp"
#include "aimastery/llm/rag/embedded_chunks.hpp"
#include "aimastery/llm/rag/embedding_model.hpp"
#include "aimastery/llm/rag/hnsw_index.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"

namespace aimastery {

template <EmbeddingModel M>
class HnswRetriever {
 public:
  using T = typename M::Scalar;

  /// `chunk_text`: what the model reads of a chunk on add() (EmbeddedChunks; empty: its text).
  explicit HnswRetriever(M model, HnswParams params = {}, ChunkText chunk_text = {})
      : store_(std::move(model), std::move(chunk_text)), index_(store_.model().dimension(), params) {}

  [[nodiscard]] M& model() noexcept { return store_.model(); }
  [[nodiscard]] HnswIndex<T>& index() noexcept { return index_; }
  [[nodiscard]] const HnswIndex<T>& index() const noexcept { return index_; }
  [[nodiscard]] Index size() const { return index_.size(); }
  [[nodiscard]] const Chunk& chunk(Index i) const { return store_.chunk(i); }

  /// Embeds the chunks (their texts, or the ChunkText rule's) and inserts them (nothing is inserted when the model or
  /// the index throws).
  HnswRetriever& add(std::span<const Chunk> chunks) {
    const Matrix<T> E = store_.embed_chunks(chunks, "HnswRetriever::add");
    store_.reserve_more(chunks.size());
    index_.add(E);
    store_.append(chunks);
    return *this;
  }

  /// The k most similar chunks of every query by the graph search (beam width max(ef, k)).
  [[nodiscard]] std::vector<std::vector<RetrievalResult>> retrieve_batch(std::span<const std::string> queries,
                                                                         Index k) {
    require(k >= 1, "HnswRetriever::retrieve", [&] { return "k must be at least 1, got " + std::to_string(k); });
    return store_.results_of(index_.search(store_.model().embed(queries), k, std::max(k, index_.params().ef)));
  }

  [[nodiscard]] std::vector<RetrievalResult> retrieve(std::string_view query, Index k) {
    const std::string q(query);
    return std::move(retrieve_batch(std::span<const std::string>(&q, 1), k).front());
  }

 private:
  EmbeddedChunks<M> store_;
  HnswIndex<T> index_;
};

}  // namespace aimastery
