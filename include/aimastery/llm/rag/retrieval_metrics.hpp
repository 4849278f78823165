#pragma once
/// \file
/// Retrieval metrics with trec_eval's definitions (the figures `pytrec_eval` reports):
///
///   Qrels qrels = read_trec_qrels("qrels.txt");            // llm/rag/trec_files.hpp
///   Run run = read_trec_run("bm25.run");
///   auto per_query = evaluate_run(qrels, run, {.cutoffs = {5, 10}});
///   per_query["q1"]["ndcg_cut_10"];  mean_over_queries(per_query)["recall_10"];
///
/// A query's ranking is its run entries sorted by score, descending, ties broken by document id in
/// descending byte order (as trec_eval does; the rank column of a run file is ignored). A document is
/// relevant when its grade is at least 1; R is the number of relevant documents in the qrels of the query.
/// With rel(i) the grade of the document at rank i (0 when unjudged) and [·] = 1 for a relevant one:
///
///   P@k          = Σ_{i≤k} [rel(i) ≥ 1] / k                           (k, not the number retrieved)
///   recall@k     = Σ_{i≤k} [rel(i) ≥ 1] / R                           (0 when R = 0)
///   recip_rank   = 1 / (rank of the first relevant document)          (0 when none is retrieved)
///   AP           = Σ_{i: rel(i) ≥ 1} P@i / R                          (map is its mean over queries)
///   nDCG@k       = DCG@k / IDCG@k,  DCG@k = Σ_{i≤k} max(rel(i), 0) / log₂(i + 1)
///                  IDCG@k: the same sum over the qrels' grades sorted in decreasing order (0 when 0)
///
/// evaluate_run reports, like pytrec_eval, only the queries present in both the run and the qrels.

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// Relevance grades of one query's judged documents: document id -> grade (>= 1 relevant).
using Judgments = std::map<std::string, int>;
/// Judgments of every query: query id -> judgments.
using Qrels = std::map<std::string, Judgments>;
/// Scores of the retrieved documents of one query: document id -> score (larger is better).
using RunScores = std::map<std::string, double>;
/// A run: query id -> scores.
using Run = std::map<std::string, RunScores>;

/// A query's retrieved documents in rank order: score descending, then document id descending.
template <class Unused = void>
std::vector<std::string> rank_documents(const RunScores& scores) {
  std::vector<std::pair<double, const std::string*>> order;
  order.reserve(scores.size());
  for (const auto& [doc, score] : scores) order.emplace_back(score, &doc);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : *a.second > *b.second;
  });
  std::vector<std::string> ranking;
  ranking.reserve(order.size());
  for (const auto& entry : order) ranking.push_back(*entry.second);
  return ranking;
}

namespace detail::rag {

inline int grade(const Judgments& judgments, const std::string& doc) {
  const auto it = judgments.find(doc);
  return it == judgments.end() ? 0 : it->second;
}

inline Index relevant_count(const Judgments& judgments) {
  return static_cast<Index>(
      std::count_if(judgments.begin(), judgments.end(), [](const auto& j) { return j.second >= 1; }));
}

inline void check_cutoff(Index k, const char* where) {
  require(k >= 1, where, [&] { return "the cutoff k must be at least 1, got " + std::to_string(k); });
}

/// Relevant documents among the first k of the ranking.
inline Index relevant_in_top(const std::vector<std::string>& ranking, const Judgments& judgments, Index k) {
  Index hits = 0;
  const auto n = std::min<std::size_t>(ranking.size(), static_cast<std::size_t>(k));
  for (std::size_t i = 0; i < n; ++i) hits += grade(judgments, ranking[i]) >= 1;
  return hits;
}

}  // namespace detail::rag

/// P@k = (relevant documents in the first k) / k.
inline double precision_at_k(const std::vector<std::string>& ranking, const Judgments& judgments, Index k) {
  detail::rag::check_cutoff(k, "precision_at_k");
  return static_cast<double>(detail::rag::relevant_in_top(ranking, judgments, k)) / static_cast<double>(k);
}

/// recall@k = (relevant documents in the first k) / R; 0 when the query has no relevant document.
inline double recall_at_k(const std::vector<std::string>& ranking, const Judgments& judgments, Index k) {
  detail::rag::check_cutoff(k, "recall_at_k");
  const Index R = detail::rag::relevant_count(judgments);
  return R == 0 ? 0.0
                : static_cast<double>(detail::rag::relevant_in_top(ranking, judgments, k)) / static_cast<double>(R);
}

/// 1 / rank of the first relevant document; 0 when none is retrieved. MRR is its mean over queries
/// (MRR@k: of the rankings cut to k).
inline double reciprocal_rank(const std::vector<std::string>& ranking, const Judgments& judgments) {
  for (std::size_t i = 0; i < ranking.size(); ++i)
    if (detail::rag::grade(judgments, ranking[i]) >= 1) return 1.0 / static_cast<double>(i + 1);
  return 0.0;
}

/// AP = Σ over ranks i holding a relevant document of P@i, divided by R; 0 when R = 0.
template <class Unused = void>
double average_precision(const std::vector<std::string>& ranking, const Judgments& judgments) {
  const Index R = detail::rag::relevant_count(judgments);
  if (R == 0) return 0.0;
  double sum = 0;
  Index hits = 0;
  for (std::size_t i = 0; i < ranking.size(); ++i)
    if (detail::rag::grade(judgments, ranking[i]) >= 1) sum += static_cast<double>(++hits) / static_cast<double>(i + 1);
  return sum / static_cast<double>(R);
}

/// nDCG@k with gains max(grade, 0) and discount 1 / log₂(rank + 1); 0 when the ideal DCG is 0.
template <class Unused = void>
double ndcg_at_k(const std::vector<std::string>& ranking, const Judgments& judgments, Index k) {
  detail::rag::check_cutoff(k, "ndcg_at_k");
  const auto discounted = [](double gain, std::size_t i) { return gain / std::log2(static_cast<double>(i) + 2.0); };
  double dcg = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(ranking.size(), static_cast<std::size_t>(k)); ++i)
    dcg += discounted(std::max(detail::rag::grade(judgments, ranking[i]), 0), i);
  std::vector<int> ideal;
  for (const auto& [doc, g] : judgments)
    if (g > 0) ideal.push_back(g);
  std::sort(ideal.begin(), ideal.end(), std::greater<>());
  double idcg = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(ideal.size(), static_cast<std::size_t>(k)); ++i)
    idcg += discounted(ideal[i], i);
  return idcg > 0 ? dcg / idcg : 0.0;
}

struct EvaluateOptions {
  std::vector<Index> cutoffs = {1, 5, 10};  ///< the k of P_k, recall_k and ndcg_cut_k
};

/// Per query (present in both the run and the qrels), the measures under pytrec_eval's names:
/// "P_k", "recall_k", "ndcg_cut_k" for every cutoff k, "recip_rank" and "map".
template <class Unused = void>
std::map<std::string, std::map<std::string, double>> evaluate_run(const Qrels& qrels, const Run& run,
                                                                  const EvaluateOptions& options = {}) {
  for (const Index k : options.cutoffs) detail::rag::check_cutoff(k, "evaluate_run");
  std::map<std::string, std::map<std::string, double>> out;
  for (const auto& [query, scores] : run) {
    const auto judged = qrels.find(query);
    if (judged == qrels.end()) continue;
    const std::vector<std::string> ranking = rank_documents(scores);
    auto& m = out[query];
    for (const Index k : options.cutoffs) {
      const std::string suffix = "_" + std::to_string(k);
      m["P" + suffix] = precision_at_k(ranking, judged->second, k);
      m["recall" + suffix] = recall_at_k(ranking, judged->second, k);
      m["ndcg_cut" + suffix] = ndcg_at_k(ranking, judged->second, k);
    }
    m["recip_rank"] = reciprocal_rank(ranking, judged->second);
    m["map"] = average_precision(ranking, judged->second);
  }
  return out;
}

/// The mean of every measure over the queries (an empty map for no queries).
template <class Unused = void>
std::map<std::string, double> mean_over_queries(const std::map<std::string, std::map<std::string, double>>& per_query) {
  std::map<std::string, double> mean;
  for (const auto& [query, measures] : per_query)
    for (const auto& [name, value] : measures) mean[name] += value;
  for (auto& [name, value] : mean) value /= static_cast<double>(per_query.size());
  return mean;
}

}  // namespace aimastery
