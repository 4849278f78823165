#pragma once
/// \file
/// RAGPipeline: question → retrieve (the retriever embeds it) → rerank → assemble the context →
/// generate → a response with the answer, its citations, the chunks it came from and the time of each
/// stage.
///
///   BM25Retriever bm25;
///   bm25.add(chunks);
///   RAGPipeline pipeline(bm25, KeepRetrievalOrder{}, ContextAssembler(count_words), ExtractiveGenerator{});
///   RAGResponse r = pipeline.query("how are scores normalised?");
///   r.answer.text              // "... [1]"
///   r.context.passage(1)       // document id and byte offsets of citation [1]
///
/// The retriever fetches `candidates` chunks; the reranker keeps the best `k`; the assembler fits them
/// into its token budget; the generator answers from that context only. The pipeline holds the
/// retriever by reference (an index is large and shared) and owns the other stages.

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/context_assembler.hpp"
#include "aimastery/llm/rag/generator.hpp"
#include "aimastery/llm/rag/reranker.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"
#include "aimastery/llm/rag/retriever.hpp"

namespace aimastery {

struct RAGOptions {
  Index candidates = 20;  ///< chunks retrieved for the reranker, >= k
  Index k = 5;            ///< chunks kept by the reranker for the context
};

/// Wall time of each stage, in milliseconds.
struct RAGTimings {
  double retrieve_ms = 0;
  double rerank_ms = 0;
  double assemble_ms = 0;
  double generate_ms = 0;
  double total_ms = 0;
};

struct RAGResponse {
  std::string question;
  GeneratedAnswer answer;                  ///< text with labels [n], and the labels it cites
  AssembledContext context;                ///< the numbered passages [n] → document and offsets
  std::vector<RetrievalResult> retrieved;  ///< the candidates, as retrieved
  std::vector<RetrievalResult> reranked;   ///< the k kept, in reranked order
  RAGTimings timings;
};

template <Retriever R, Reranker K, Generator G>
class RAGPipeline {
 public:
  RAGPipeline(R& retriever, K reranker, ContextAssembler assembler, G generator, RAGOptions options = {})
      : retriever_(&retriever),
        reranker_(std::move(reranker)),
        assembler_(std::move(assembler)),
        generator_(std::move(generator)),
        options_(options) {
    constexpr std::string_view where = "RAGPipeline";
    require(options_.k >= 1, where, [&] { return "k must be at least 1, got " + std::to_string(options_.k); });
    require(options_.candidates >= options_.k, where, [&] {
      return "candidates (" + std::to_string(options_.candidates) + ") must be at least k (" +
             std::to_string(options_.k) + ")";
    });
  }

  [[nodiscard]] const RAGOptions& options() const noexcept { return options_; }

  [[nodiscard]] RAGResponse query(std::string_view question) {
    using clock = std::chrono::steady_clock;
    const auto ms = [](clock::time_point a, clock::time_point b) {
      return std::chrono::duration<double, std::milli>(b - a).count();
    };
    RAGResponse response;
    response.question = std::string(question);
    const auto t0 = clock::now();
    response.retrieved = retriever_->retrieve(question, options_.candidates);
    const auto t1 = clock::now();
    response.reranked = reranker_.rerank(question, response.retrieved, options_.k);
    const auto t2 = clock::now();
    response.context = assembler_.assemble(response.reranked);
    const auto t3 = clock::now();
    response.answer = generator_.generate(question, response.context);
    const auto t4 = clock::now();
    response.timings = {ms(t0, t1), ms(t1, t2), ms(t2, t3), ms(t3, t4), ms(t0, t4)};
    return response;
  }

 private:
  R* retriever_;
  K reranker_;
  ContextAssembler assembler_;
  G generator_;
  RAGOptions options_;
};

}  // namespace aimastery
