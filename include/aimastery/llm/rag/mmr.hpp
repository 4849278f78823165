#pragma once
/// \file
/// Maximal marginal relevance (Carbonell and Goldstein, SIGIR 1998): rerank candidates so that each next
/// pick is relevant to the query and unlike the picks so far.
///
///   std::vector<Index> order = maximal_marginal_relevance(query_vec, candidate_vecs, 5, 0.7);
///
/// With unit vectors, sim = cosine, S the picks so far and C the rest, the next pick is
///
///   argmax_{c ∈ C}  λ · sim(q, c) − (1 − λ) · max_{s ∈ S} sim(c, s)        (the max is 0 while S = ∅)
///
/// λ = 1 is plain relevance order; λ = 0 only avoids redundancy. The query–candidate similarities are
/// one matrix–vector product and the candidate–candidate ones one GEMM; the running maximum over S is
/// updated with each pick, so the selection costs O(k · n) after the products. Ties go to the earlier
/// candidate.

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/linalg/matmul.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/embedding_model.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"

namespace aimastery {

/// The positions of up to k candidates (rows) in MMR order. Rows and query are scaled to unit norm.
template <Scalar T>
std::vector<Index> maximal_marginal_relevance(const VectorRef<T>& query, const MatrixRef<T>& candidates, Index k,
                                              double lambda) {
  constexpr std::string_view where = "maximal_marginal_relevance";
  require(query.size() == candidates.cols(), where, [&] {
    return "the query has " + std::to_string(query.size()) + " dimensions, the candidates are " + shape_of(candidates);
  });
  require(k >= 1, where, [&] { return "k must be at least 1, got " + std::to_string(k); });
  require(lambda >= 0 && lambda <= 1, where, [&] { return "lambda must be in [0, 1], got " + std::to_string(lambda); });
  require(query.allFinite() && candidates.allFinite(), where, "the vectors hold NaN or Inf");
  const Index n = candidates.rows();
  std::vector<Index> picked;
  if (n == 0) return picked;
  Matrix<T> C = candidates;
  for (Index i = 0; i < n; ++i)
    if (const T norm = C.row(i).norm(); norm > T(0)) C.row(i) /= norm;
  Vector<T> q = query;
  if (const T norm = q.norm(); norm > T(0)) q /= norm;
  const Vector<T> relevance = C * q;
  const Matrix<T> between = matrix_multiply(C, C.transpose());
  std::vector<double> redundancy(static_cast<std::size_t>(n), 0.0);  // max over the picks of sim(c, s)
  std::vector<bool> taken(static_cast<std::size_t>(n), false);
  const auto want = std::min(k, n);
  while (static_cast<Index>(picked.size()) < want) {
    Index best = -1;
    double best_value = -std::numeric_limits<double>::infinity();
    for (Index c = 0; c < n; ++c) {
      if (taken[static_cast<std::size_t>(c)]) continue;
      const double value = lambda * static_cast<double>(relevance[c]) -
                           (picked.empty() ? 0.0 : (1 - lambda) * redundancy[static_cast<std::size_t>(c)]);
      if (value > best_value) best = c, best_value = value;
    }
    picked.push_back(best);
    taken[static_cast<std::size_t>(best)] = true;
    for (Index c = 0; c < n; ++c) {
      const double s = static_cast<double>(between(c, best));
      auto& r = redundancy[static_cast<std::size_t>(c)];
      r = picked.size() == 1 ? s : std::max(r, s);
    }
  }
  return picked;
}

/// Reranks retrieval results by MMR with a model's embeddings of the query and the results' texts; the
/// k picked results get ranks 1..k and keep their retrieval scores.
template <EmbeddingModel Model>
std::vector<RetrievalResult> mmr_rerank(Model& model, const std::string& query,
                                        const std::vector<RetrievalResult>& results, Index k, double lambda = 0.5) {
  using T = typename Model::Scalar;
  if (results.empty()) {
    require(k >= 1, "mmr_rerank", [&] { return "k must be at least 1, got " + std::to_string(k); });
    return {};
  }
  std::vector<std::string> texts{query};
  for (const auto& r : results) texts.push_back(r.chunk.text);
  const Matrix<T> E = model.embed(texts);
  const Vector<T> q = E.row(0).transpose();
  const Matrix<T> C = E.bottomRows(E.rows() - 1);
  std::vector<RetrievalResult> out;
  Index rank = 0;
  for (const Index i : maximal_marginal_relevance<T>(q, C, k, lambda)) {
    out.push_back(results[static_cast<std::size_t>(i)]);
    out.back().rank = ++rank;
  }
  return out;
}

/// mmr_rerank as a Reranker (llm/rag/reranker.hpp): holds the model by reference.
template <EmbeddingModel Model>
class MMRReranker {
 public:
  explicit MMRReranker(Model& model, double lambda = 0.5) : model_(&model), lambda_(lambda) {
    require(lambda >= 0 && lambda <= 1, "MMRReranker",
            [&] { return "lambda must be in [0, 1], got " + std::to_string(lambda); });
  }

  [[nodiscard]] std::vector<RetrievalResult> rerank(std::string_view question,
                                                    const std::vector<RetrievalResult>& candidates, Index k) {
    return mmr_rerank(*model_, std::string(question), candidates, k, lambda_);
  }

 private:
  Model* model_;
  double lambda_;
};

}  // namespace aimastery
