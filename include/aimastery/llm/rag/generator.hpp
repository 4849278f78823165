#pragma once
/// \file
/// Generator: the last stage of the RAG pipeline, which answers a question from an assembled context.
///
///   template <Generator G> std::string answer(G& generator, const AssembledContext& context) {
///     return generator.generate("what is BM25?", context).text;
///   }
///
/// A generator reads the question and the context's numbered passages, and returns the answer's text
/// with the passage numbers it cites. Built-ins: ExtractiveGenerator (the context's sentences that best
/// answer the question, no model needed) and OpenAIChatGenerator (any OpenAI-compatible chat-completions
/// server: llama.cpp's server, vLLM, Ollama).

#include <concepts>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/context_assembler.hpp"

namespace aimastery {

/// A sentence of an extractive answer: its exact place in its document and the passage it came from.
struct AnswerSentence {
  std::string text;
  Index passage = 0;  ///< the context label [passage] it cites
  Citation citation;  ///< document id and the byte range of `text` in the document
  double score = 0;
};

struct GeneratedAnswer {
  std::string text;                       ///< the answer, with citation labels "[n]"
  std::vector<Index> cited;               ///< the passage numbers the answer cites, ascending, distinct
  std::vector<AnswerSentence> sentences;  ///< for extractive answers: the sentences, best first
};

template <class G>
concept Generator = requires(G& generator, std::string_view question, const AssembledContext& context) {
  { generator.generate(question, context) } -> std::same_as<GeneratedAnswer>;
};

}  // namespace aimastery
