#pragma once
/// \file
/// ShardedBM25: Okapi BM25 (Lucene's formulas, as BM25Retriever) over chunks sharded across ranks, with
/// the global document statistics, so every score equals the single index's over all the chunks.
///
///   ShardedBM25 bm25(world, {.k1 = 1.2, .b = 0.75});
///   bm25.add(my_chunks);                                // local: this rank's shard
///   auto hits = bm25.search("inverted index", 10);      // collective: global positions and scores
///
/// BM25 of a chunk depends on the whole collection through N (the number of chunks), avgdl (their mean
/// length) and df(t) (the chunks containing t):
///
///   score(q, d) = Σ_{t ∈ q} idf(t) · tf(t, d) / (tf(t, d) + k1 · (1 − b + b · |d| / avgdl))
///   idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
///
/// A search sums, over the ranks in one MPI_Allreduce, each shard's chunk count, total length and the
/// df of every query token: integers, exact in double, so N, avgdl and idf are the single index's to the
/// bit. Each rank then scores its chunks with the same expressions, adding the terms in the query's token
/// order as BM25Retriever does, takes its top k and the lists are merged (distributed/top_k_merge.hpp):
/// identical positions and scores, ties to the smaller global position. Global position = the shards in
/// rank order (shard_offset + local position).

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/distributed/agreement.hpp"
#include "aimastery/distributed/communicator.hpp"
#include "aimastery/distributed/top_k_merge.hpp"
#include "aimastery/llm/rag/bm25.hpp"
#include "aimastery/llm/rag/document.hpp"
#include "aimastery/llm/rag/lexical_tokenizer.hpp"
#include "aimastery/llm/rag/top_k.hpp"
#include "aimastery/production/caching/content_hash.hpp"

namespace aimastery {

class ShardedBM25 {
 public:
  /// An empty shard; options as BM25Retriever's (checked the same way). The communicator must outlive it.
  explicit ShardedBM25(const Communicator& comm, BM25Options options = {})
      : comm_(&comm), options_(options), tokenizer_(options.tokenizer) {
    (void)BM25Retriever(options);  // the same option checks and messages
  }

  [[nodiscard]] const BM25Options& options() const noexcept { return options_; }
  /// The chunks of this rank's shard.
  [[nodiscard]] Index shard_size() const noexcept { return static_cast<Index>(chunks_.size()); }
  /// Chunk i of this rank's shard (local position).
  [[nodiscard]] const Chunk& chunk(Index i) const { return chunks_.at(static_cast<std::size_t>(i)); }

  /// Indexes chunks into this rank's shard (local: not collective).
  ShardedBM25& add(std::span<const Chunk> chunks) {
    std::vector<std::vector<std::string>> tokens(chunks.size());
    for (std::size_t i = 0; i < chunks.size(); ++i) tokens[i] = tokenizer_.tokenize(chunks[i].text);
    add_tokens(tokens);
    chunks_.insert(chunks_.end(), chunks.begin(), chunks.end());
    return *this;
  }

  /// The k best chunks of the whole collection that share a token with the query, with global
  /// positions and the single index's scores. Collective: every rank passes the same query and k.
  [[nodiscard]] std::vector<ScoredIndex> search(std::string_view query, Index k) const {
    constexpr std::string_view where = "ShardedBM25::search";
    check_on_all_ranks(
        *comm_, [&] { require(k >= 1, where, [&] { return "k must be at least 1, got " + std::to_string(k); }); });
    check_same_on_all_ranks(*comm_, where, "k", k);
    const ContentHash h = content_hash(query);
    check_same_on_all_ranks(*comm_, where, "the hash of the query (every rank must pass the same)",
                            static_cast<std::int64_t>(h.low ^ h.high));

    // [N, Σ|d|, df(t₁), …, df(t_m)] summed over the shards.
    const std::vector<std::string> tokens = tokenizer_.tokenize(query);
    std::vector<const std::vector<Posting>*> lists(tokens.size(), nullptr);
    std::vector<double> stats(2 + tokens.size(), 0.0);
    stats[0] = static_cast<double>(chunks_.size());
    stats[1] = total_length_;
    for (std::size_t i = 0; i < tokens.size(); ++i)
      if (const auto it = postings_.find(tokens[i]); it != postings_.end()) {
        lists[i] = &it->second;
        stats[2 + i] = static_cast<double>(it->second.size());
      }
    comm_->allreduce_sum(std::span<double>(stats));
    const double n = stats[0];
    const double avgdl = n > 0 ? stats[1] / n : 1.0;

    std::vector<double> norm(lengths_.size());
    for (std::size_t i = 0; i < lengths_.size(); ++i)
      norm[i] = options_.k1 * (1.0 - options_.b + options_.b * lengths_[i] / (avgdl > 0 ? avgdl : 1.0));
    std::vector<double> acc(chunks_.size(), 0.0);
    std::vector<ScoredIndex> candidates;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const double df = stats[2 + i];
      if (df == 0 || lists[i] == nullptr) continue;
      const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
      for (const Posting& p : *lists[i]) {
        const double tf = p.tf;
        double& a = acc[p.chunk];
        if (a == 0) candidates.push_back({static_cast<Index>(p.chunk), 0.0});
        a += idf * (tf / (tf + norm[p.chunk]));
      }
    }
    const Index offset = shard_offset(*comm_, shard_size());
    for (ScoredIndex& c : candidates) {
      c.score = acc[static_cast<std::size_t>(c.index)];
      c.index += offset;
    }
    std::vector<std::vector<ScoredIndex>> local{select_top_k(std::move(candidates), k)};
    return merge_top_k(*comm_, local, k).front();
  }

 private:
  struct Posting {
    std::uint32_t chunk;
    std::uint32_t tf;
  };

  void add_tokens(std::span<const std::vector<std::string>> tokens) {
    require(chunks_.size() + tokens.size() < UINT32_MAX, "ShardedBM25::add", "too many chunks for one shard");
    std::size_t id = chunks_.size();
    for (const auto& words : tokens) {
      detail::rag::for_each_term_frequency(words, [&](std::string_view w, std::uint32_t tf) {
        postings_[std::string(w)].push_back({static_cast<std::uint32_t>(id), tf});
      });
      lengths_.push_back(static_cast<double>(words.size()));
      total_length_ += static_cast<double>(words.size());
      ++id;
    }
  }

  const Communicator* comm_;
  BM25Options options_;
  LexicalTokenizer tokenizer_;
  std::vector<Chunk> chunks_;
  std::unordered_map<std::string, std::vector<Posting>> postings_;
  std::vector<double> lengths_;
  double total_length_ = 0;
};

}  // namespace aimastery
