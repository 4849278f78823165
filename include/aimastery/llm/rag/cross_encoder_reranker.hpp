#pragma once
/// \file
/// Cross-encoder reranking: a model reads the question and one passage together and scores the pair; the
/// candidates are reordered by that score. A cross-encoder sees both texts at once, so it ranks better than
/// the bi-encoder that retrieved them, at the cost of one model call per candidate (which is why it only
/// reranks the few retrieved candidates).
///
///   BiEncoderScorer scorer(embedder);                  // any EmbeddingModel, or a real cross-encoder
///   CrossEncoderReranker reranker(scorer, {.batch_size = 16});
///   auto best = reranker.rerank("what is BM25?", candidates, 5);   // ranks 1..5, scores from the scorer
///
/// PairScorer is the interface: `score(question, passages)` gives one score per passage, larger is better
/// (a cross-encoder's logit or probability). BiEncoderScorer makes one from any EmbeddingModel with the
/// cosine similarity of the two embeddings,
///
///   score(q, p) = ⟨e(q), e(p)⟩ / (‖e(q)‖ ‖e(p)‖)        (0 when either embedding is zero),
///
/// so the reranking stage can be exercised and measured with the models the library has.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/embedding_model.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"

namespace aimastery {

template <class S>
concept PairScorer = requires(S& scorer, std::string_view question, std::span<const std::string> passages) {
  { scorer.score(question, passages) } -> std::same_as<std::vector<double>>;
};

/// A bi-encoder as a PairScorer: the cosine similarity of the question's and each passage's embedding, all
/// embedded in one batch. Holds the model by reference.
template <EmbeddingModel Model>
class BiEncoderScorer {
 public:
  explicit BiEncoderScorer(Model& model) : model_(&model) {}

  [[nodiscard]] std::vector<double> score(std::string_view question, std::span<const std::string> passages) {
    std::vector<std::string> texts;
    texts.reserve(passages.size() + 1);
    texts.emplace_back(question);
    texts.insert(texts.end(), passages.begin(), passages.end());
    const Matrix<typename Model::Scalar> E = model_->embed(texts);
    require(E.rows() == static_cast<Index>(texts.size()), "BiEncoderScorer::score",
            [&] { return "the model gave " + std::to_string(E.rows()) + " rows for " + std::to_string(texts.size()); });
    const double question_norm = static_cast<double>(E.row(0).norm());
    std::vector<double> scores(passages.size(), 0.0);
    for (std::size_t i = 0; i < passages.size(); ++i) {
      const auto row = static_cast<Index>(i + 1);
      const double norms = question_norm * static_cast<double>(E.row(row).norm());
      if (norms > 0) scores[i] = static_cast<double>(E.row(0).dot(E.row(row))) / norms;
    }
    return scores;
  }

 private:
  Model* model_;
};

struct CrossEncoderOptions {
  Index batch_size = 32;  ///< passages per scorer call
};

/// Reranks candidates by a PairScorer: every candidate is scored with the question (in batches of
/// batch_size), the candidates are sorted by that score (ties keep the retrieval order), and the first k get
/// ranks 1..k and the scorer's score. A scorer that returns the wrong number of scores, or NaN, is an error.
template <PairScorer Scorer>
class CrossEncoderReranker {
 public:
  explicit CrossEncoderReranker(Scorer& scorer, CrossEncoderOptions options = {})
      : scorer_(&scorer), options_(options) {
    require(options.batch_size >= 1, "CrossEncoderReranker",
            [&] { return "batch_size must be at least 1, got " + std::to_string(options.batch_size); });
  }

  [[nodiscard]] std::vector<RetrievalResult> rerank(std::string_view question,
                                                    const std::vector<RetrievalResult>& candidates, Index k) {
    constexpr std::string_view where = "CrossEncoderReranker::rerank";
    require(k >= 1, where, [&] { return "k must be at least 1, got " + std::to_string(k); });
    std::vector<double> scores;
    scores.reserve(candidates.size());
    const auto batch = static_cast<std::size_t>(options_.batch_size);
    std::vector<std::string> passages;
    for (std::size_t begin = 0; begin < candidates.size(); begin += batch) {
      const std::size_t end = std::min(candidates.size(), begin + batch);
      passages.clear();
      for (std::size_t i = begin; i < end; ++i) passages.push_back(candidates[i].chunk.text);
      const std::vector<double> part = scorer_->score(question, passages);
      require(part.size() == passages.size(), where, [&] {
        return "the scorer gave " + std::to_string(part.size()) + " scores for " + std::to_string(passages.size()) +
               " passages";
      });
      for (const double s : part) {
        require(!std::isnan(s), where, "the scorer gave a NaN score");
        scores.push_back(s);
      }
    }
    std::vector<std::size_t> order(candidates.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
    order.resize(std::min(order.size(), static_cast<std::size_t>(k)));
    std::vector<RetrievalResult> out;
    out.reserve(order.size());
    for (const std::size_t i : order) {
      out.push_back(candidates[i]);
      out.back().score = scores[i];
      out.back().rank = static_cast<Index>(out.size());
    }
    return out;
  }

  [[nodiscard]] const CrossEncoderOptions& options() const noexcept { return options_; }

 private:
  Scorer* scorer_;
  CrossEncoderOptions options_;
};

}  // namespace aimastery
