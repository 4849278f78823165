#pragma once
/// \file
/// Exact dense retrieval: cosine similarity between a query's embedding and every chunk's, computed for
/// a whole batch of queries as one matrix product.
///
///   ExactDenseIndex<float> index(384);
///   index.add(chunk_embeddings);                        // rows scaled to unit norm on the way in
///   auto hits = index.search(query_embeddings, 10);     // per query: the 10 best (position, cosine)
///
///   DenseRetriever<HashingTfidfEmbedder<float>> dense(std::move(embedder));
///   dense.add(chunks);                                  // embeds the chunks' texts
///   dense.retrieve("what is BM25?", 5);                 // RetrievalResults with citations
///
/// With the stored vectors as the rows of E (N × d, unit norm) and a batch of queries as the rows of Q
/// (q × d, unit norm), every similarity at once is
///
///   S = Q · Eᵀ          S[i, j] = cos(query i, chunk j)           (one GEMM: core/linalg/matmul.hpp)
///
/// computed a block of chunks at a time, and each row's k largest entries are kept as the blocks go by
/// (RunningTopK, llm/rag/top_k.hpp; ties to the earlier chunk). A zero vector (a text without a known token) stays
/// zero: its similarity is 0 to all.

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/linalg/matmul.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/document.hpp"
#include "aimastery/llm/rag/embedded_chunks.hpp"
#include "aimastery/llm/rag/embedding_model.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"
#include "aimastery/llm/rag/top_k.hpp"

namespace aimastery {

template <Scalar T>
class ExactDenseIndex {
 public:
  explicit ExactDenseIndex(Index dimension) : vectors_(0, dimension) {
    require(dimension >= 1, "ExactDenseIndex",
            [&] { return "dimension must be positive, got " + std::to_string(dimension); });
  }

  [[nodiscard]] Index dimension() const noexcept { return vectors_.cols(); }
  [[nodiscard]] Index size() const noexcept { return vectors_.rows(); }
  /// The stored unit vectors, one row per added vector.
  [[nodiscard]] const Matrix<T>& vectors() const noexcept { return vectors_; }

  /// Appends vectors (one per row), each scaled to unit norm.
  void add(const MatrixRef<T>& rows) {
    check(rows, "ExactDenseIndex::add");
    Matrix<T> grown(vectors_.rows() + rows.rows(), dimension());
    grown.topRows(vectors_.rows()) = vectors_;
    grown.bottomRows(rows.rows()) = normalized(rows);
    vectors_.swap(grown);
  }

  /// For every query row, the min(k, size()) most similar stored vectors, best first.
  [[nodiscard]] std::vector<std::vector<ScoredIndex>> search(const MatrixRef<T>& queries, Index k) const {
    constexpr std::string_view where = "ExactDenseIndex::search";
    check(queries, where);
    require(k >= 1, where, [&] { return "k must be at least 1, got " + std::to_string(k); });
    std::vector<std::vector<ScoredIndex>> out(static_cast<std::size_t>(queries.rows()));
    if (size() == 0 || queries.rows() == 0) return out;
    // S = Q Eᵀ one block of stored vectors at a time (the scores of a block stay in cache); each query
    // keeps its k best so far, and most scores fail the one comparison with its worst kept.
    const Matrix<T> Q = normalized(queries);
    std::vector<RunningTopK> best(static_cast<std::size_t>(Q.rows()), RunningTopK(k));
    Matrix<T> S;
    for (Index begin = 0; begin < size(); begin += search_block) {
      const Index count = std::min(search_block, size() - begin);
      S = matrix_multiply(Q, vectors_.middleRows(begin, count).transpose());
      for (Index i = 0; i < S.rows(); ++i) {
        RunningTopK& top = best[static_cast<std::size_t>(i)];
        double threshold = top.threshold();
        const T* row = S.row(i).data();
        for (Index j = 0; j < count; ++j)
          if (static_cast<double>(row[j]) > threshold) {
            top.offer(begin + j, static_cast<double>(row[j]));
            threshold = top.threshold();
          }
      }
    }
    for (std::size_t i = 0; i < best.size(); ++i) out[i] = best[i].sorted();
    return out;
  }

 private:
  void check(const MatrixRef<T>& rows, std::string_view where) const {
    require(rows.cols() == dimension(), where, [&] {
      return "vectors are " + shape_of(rows) + ", the index holds " + std::to_string(dimension()) + "-d vectors";
    });
    require(rows.allFinite(), where, "vectors hold NaN or Inf");
  }

  /// Rows scaled to unit Euclidean norm (zero rows stay zero).
  static Matrix<T> normalized(const MatrixRef<T>& rows) {
    Matrix<T> out = rows;
    for (Index i = 0; i < out.rows(); ++i) {
      const T norm = out.row(i).norm();
      if (norm > T(0)) out.row(i) /= norm;
    }
    return out;
  }

  /// Stored vectors scored per block in search: 256 queries × 2,048 floats is 2 MiB of scores.
  static constexpr Index search_block = 2048;

  Matrix<T> vectors_;
};

/// Dense retrieval of chunks with an embedding model and an exact index.
template <EmbeddingModel M>
class DenseRetriever {
 public:
  using T = typename M::Scalar;

  /// `chunk_text`: what the model reads of a chunk on add() (EmbeddedChunks; empty: its text).
  explicit DenseRetriever(M model, ChunkText chunk_text = {})
      : store_(std::move(model), std::move(chunk_text)), index_(store_.model().dimension()) {}

  [[nodiscard]] M& model() noexcept { return store_.model(); }
  [[nodiscard]] const ExactDenseIndex<T>& index() const noexcept { return index_; }
  [[nodiscard]] Index size() const noexcept { return index_.size(); }
  [[nodiscard]] const Chunk& chunk(Index i) const { return store_.chunk(i); }

  /// Embeds the chunks (their texts, or the ChunkText rule's) and indexes them; nothing is added when the
  /// model or the rule throws.
  DenseRetriever& add(std::span<const Chunk> chunks) {
    const Matrix<T> E = store_.embed_chunks(chunks, "DenseRetriever::add");
    store_.reserve_more(chunks.size());
    index_.add(E);
    store_.append(chunks);
    return *this;
  }

  /// The k most similar chunks of every query (one embedding batch, one GEMM).
  [[nodiscard]] std::vector<std::vector<RetrievalResult>> retrieve_batch(std::span<const std::string> queries,
                                                                         Index k) {
    require(k >= 1, "DenseRetriever::retrieve", [&] { return "k must be at least 1, got " + std::to_string(k); });
    return store_.results_of(index_.search(store_.model().embed(queries), k));
  }

  [[nodiscard]] std::vector<RetrievalResult> retrieve(std::string_view query, Index k) {
    const std::string q(query);
    return std::move(retrieve_batch(std::span<const std::string>(&q, 1), k).front());
  }

 private:
  EmbeddedChunks<M> store_;
  ExactDenseIndex<T> index_;
};

}  // namespace aimastery
