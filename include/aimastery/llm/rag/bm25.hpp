#pragma once
/// \file
/// BM25Retriever: lexical retrieval by Okapi BM25 over an inverted index, with Lucene's formulas (the
/// scores bm25s computes with method="lucene").
///
///   BM25Retriever bm25({.k1 = 1.2, .b = 0.75});
///   bm25.add(chunks);
///   for (const RetrievalResult& r : bm25.retrieve("inverted index", 10)) ...
///
/// For a query q (its tokens t, repeated tokens counted as often as they occur, as bm25s and Lucene do)
/// and a chunk d of |d| tokens, with N chunks, avgdl their mean length, df(t) the chunks containing t and
/// tf(t, d) the count of t in d:
///
///   score(q, d) = Σ_{t ∈ q} idf(t) · tf(t, d) / (tf(t, d) + k1 · (1 − b + b · |d| / avgdl))
///   idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))                  (never negative)
///
/// Tokens are LexicalTokenizer's (ASCII lower-cased, split at non-alphanumerics, optional stop words).
/// The inverted index maps a token to its postings (chunk, tf); a query touches only the postings of its
/// tokens, accumulating into one score per chunk; the k best chunks that share a token with the query
/// are then kept by a running top-k heap (llm/rag/top_k.hpp). Chunks can be added at any time; N, avgdl
/// and the length norms follow.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/document.hpp"
#include "aimastery/llm/rag/lexical_tokenizer.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"
#include "aimastery/llm/rag/top_k.hpp"

namespace aimastery {

namespace detail::rag {

/// Calls sink(token, tf) once for every distinct token of a tokenised chunk, tf its number of occurrences.
template <class Sink>
void for_each_term_frequency(const std::vector<std::string>& words, Sink&& sink) {
  std::unordered_map<std::string_view, std::uint32_t> counts;
  for (const std::string& w : words) ++counts[w];
  for (const auto& [w, tf] : counts) sink(w, tf);
}

}  // namespace detail::rag

struct BM25Options {
  double k1 = 1.5;  ///< term-frequency saturation, >= 0 (bm25s' default 1.5)
  double b = 0.75;  ///< length normalisation, in [0, 1]
  LexicalTokenizerOptions tokenizer = {};
};

template <class Unused = void>
class BasicBM25Retriever {
 public:
  explicit BasicBM25Retriever(BM25Options options = {}) : options_(options), tokenizer_(options.tokenizer) {
    constexpr std::string_view where = "BM25Retriever";
    require(std::isfinite(options_.k1) && options_.k1 >= 0, where,
            [&] { return "k1 must be finite and >= 0, got " + std::to_string(options_.k1); });
    require(options_.b >= 0 && options_.b <= 1, where,
            [&] { return "b must be in [0, 1], got " + std::to_string(options_.b); });
  }

  [[nodiscard]] const BM25Options& options() const noexcept { return options_; }
  [[nodiscard]] const LexicalTokenizer& tokenizer() const noexcept { return tokenizer_; }
  [[nodiscard]] Index size() const noexcept { return static_cast<Index>(chunks_.size()); }
  [[nodiscard]] const Chunk& chunk(Index i) const { return chunks_.at(static_cast<std::size_t>(i)); }
  /// Distinct tokens in the index.
  [[nodiscard]] Index vocabulary_size() const noexcept { return static_cast<Index>(postings_.size()); }

  /// Indexes chunks (their text), after those already indexed.
  BasicBM25Retriever& add(std::span<const Chunk> chunks) {
    std::vector<std::vector<std::string>> tokens(chunks.size());
    for (std::size_t i = 0; i < chunks.size(); ++i) tokens[i] = tokenizer_.tokenize(chunks[i].text);
    add_tokens(tokens);
    chunks_.insert(chunks_.end(), chunks.begin(), chunks.end());
    return *this;
  }

  /// Indexes pre-tokenised texts (chunk i gets an empty Chunk with text = the tokens joined by spaces).
  BasicBM25Retriever& add_tokenized(std::span<const std::vector<std::string>> tokens) {
    add_tokens(tokens);
    for (const auto& t : tokens) {
      Chunk c;
      for (const auto& w : t) c.text += (c.text.empty() ? "" : " ") + w;
      chunks_.push_back(std::move(c));
    }
    return *this;
  }

  /// The BM25 score of every chunk for a query's tokens (0 for chunks sharing none).
  [[nodiscard]] std::vector<double> scores_of_tokens(std::span<const std::string> query) const {
    std::vector<double> acc(chunks_.size(), 0.0);
    const double n = static_cast<double>(chunks_.size());
    for (const std::string& t : query) {
      const auto it = postings_.find(t);
      if (it == postings_.end()) continue;
      const double df = static_cast<double>(it->second.size());
      const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
      for (const Posting& p : it->second) acc[p.chunk] += idf * p.weight;
    }
    return acc;
  }

  /// The BM25 score of every chunk for a query text.
  [[nodiscard]] std::vector<double> scores(std::string_view query) const {
    return scores_of_tokens(tokenizer_.tokenize(query));
  }

  /// The k best chunks that share a token with the query (fewer if fewer do): chunk positions and scores.
  [[nodiscard]] std::vector<ScoredIndex> search(std::string_view query, Index k) const {
    require(k >= 1, "BM25Retriever::search", [&] { return "k must be at least 1, got " + std::to_string(k); });
    // Every term of a posting adds idf·weight > 0, so a chunk whose sum is still 0 is met for the first
    // time: it joins the candidates. The accumulator is per thread and only the touched entries are
    // reset, so a query costs the postings it reads, not the size of the index.
    thread_local std::vector<double> acc;
    if (acc.size() < chunks_.size()) acc.resize(chunks_.size(), 0.0);
    std::vector<const std::vector<Posting>*> lists;
    std::size_t total = 0;
    tokenizer_.for_each_token(query, [&](std::string_view t) {
      if (const auto it = postings_.find(std::string(t)); it != postings_.end()) {
        lists.push_back(&it->second);
        total += it->second.size();
      }
    });
    thread_local std::vector<std::uint32_t> touched;
    touched.clear();
    touched.reserve(std::min(total, chunks_.size()));
    const double n = static_cast<double>(chunks_.size());
    for (const std::vector<Posting>* list : lists) {
      const double df = static_cast<double>(list->size());
      const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
      for (const Posting& p : *list) {
        double& a = acc[p.chunk];
        if (a == 0) touched.push_back(p.chunk);
        a += idf * p.weight;
      }
    }
    // The k best of the touched chunks, resetting the accumulator on the way: most scores fall below the
    // k-th best so far and cost one comparison.
    RunningTopK best(k);
    double threshold = best.threshold();
    for (const std::uint32_t chunk : touched) {
      const double score = acc[chunk];
      acc[chunk] = 0;
      if (score >= threshold) {  // a tie may still win on the smaller index
        best.offer(static_cast<Index>(chunk), score);
        threshold = best.threshold();
      }
    }
    return best.sorted();
  }

  /// As search(), as RetrievalResults with rank from 1 and citations.
  [[nodiscard]] std::vector<RetrievalResult> retrieve(std::string_view query, Index k) const {
    std::vector<RetrievalResult> out;
    Index rank = 0;
    for (const ScoredIndex& s : search(query, k))
      out.push_back(RetrievalResult::of(chunks_[static_cast<std::size_t>(s.index)], s.score, ++rank));
    return out;
  }

 private:
  struct Posting {
    std::uint32_t chunk;
    std::uint32_t tf;
    double weight;  ///< tf / (tf + k1·(1 − b + b·|d|/avgdl)): the score of the term in the chunk, over idf
  };

  /// Adds the postings of new chunks, then recomputes every posting's weight with the new avgdl.
  void add_tokens(std::span<const std::vector<std::string>> tokens) {
    require(chunks_.size() + tokens.size() < UINT32_MAX, "BM25Retriever::add", "too many chunks for one index");
    std::size_t id = chunks_.size();
    for (const auto& words : tokens) {
      detail::rag::for_each_term_frequency(words, [&](std::string_view w, std::uint32_t tf) {
        postings_[std::string(w)].push_back({static_cast<std::uint32_t>(id), tf, 0.0});
      });
      lengths_.push_back(static_cast<double>(words.size()));
      total_length_ += static_cast<double>(words.size());
      ++id;
    }
    const double avgdl = lengths_.empty() ? 1.0 : total_length_ / static_cast<double>(lengths_.size());
    std::vector<double> norm(lengths_.size());
    for (std::size_t i = 0; i < lengths_.size(); ++i)
      norm[i] = options_.k1 * (1.0 - options_.b + options_.b * lengths_[i] / (avgdl > 0 ? avgdl : 1.0));
    // avgdl moved: every posting's weight is recomputed (one pass over the index), so a query only
    // multiplies and adds.
    for (auto& [token, postings] : postings_)
      for (Posting& p : postings) {
        const double tf = p.tf;
        p.weight = tf / (tf + norm[p.chunk]);
      }
  }

  BM25Options options_;
  LexicalTokenizer tokenizer_;
  std::vector<Chunk> chunks_;
  std::unordered_map<std::string, std::vector<Posting>> postings_;
  std::vector<double> lengths_;  ///< |d| of every chunk
  double total_length_ = 0;
};

/// (BasicBM25Retriever is a class template only so that it is compiled where it is used.)
using BM25Retriever = BasicBM25Retriever<>;

}  // namespace aimastery
