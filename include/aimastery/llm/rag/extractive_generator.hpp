#pragma once
/// \file
/// ExtractiveGenerator: answers with the sentences of the context that best match the question, each
/// with its citation. No model and no network: the answer is made only of exact passages of the indexed
/// documents, so it cannot say anything the documents do not.
///
///   ExtractiveGenerator generator({.max_sentences = 2});
///   GeneratedAnswer a = generator.generate("how is idf computed?", context);
///   a.text                    // "idf(t) = ln(1 + ...) [2] The postings ... [1]"
///   a.sentences[0].citation   // document id and byte range of the best sentence
///
/// The context's passages are cut into sentences (sentence_spans), and the sentences are ranked by BM25
/// against the question with the sentences as the collection (so idf favours the question's rarer words
/// among the sentences at hand). The best `max_sentences` that share a word with the question form the
/// answer, best first, each followed by its passage's label. A question that shares no word with the
/// context gets an empty answer.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/bm25.hpp"
#include "aimastery/llm/rag/context_assembler.hpp"
#include "aimastery/llm/rag/generator.hpp"
#include "aimastery/llm/rag/text_spans.hpp"

namespace aimastery {

struct ExtractiveGeneratorOptions {
  Index max_sentences = 3;
  BM25Options scoring = {};  ///< BM25 parameters and tokenisation of the sentence ranking
};

template <class Unused = void>
class BasicExtractiveGenerator {
 public:
  explicit BasicExtractiveGenerator(ExtractiveGeneratorOptions options = {}) : options_(std::move(options)) {
    require(options_.max_sentences >= 1, "ExtractiveGenerator",
            [&] { return "max_sentences must be at least 1, got " + std::to_string(options_.max_sentences); });
    [[maybe_unused]] const BM25Retriever check_scoring(options_.scoring);  // validates k1 and b now
  }

  [[nodiscard]] GeneratedAnswer generate(std::string_view question, const AssembledContext& context) const {
    // Every sentence of every passage, as a chunk whose offsets are document offsets; the passage
    // number rides in the metadata.
    std::vector<Chunk> sentences;
    for (const ContextPassage& p : context.passages) {
      for (const TextSpan whole : sentence_spans(p.text)) {
        const TextSpan s = trim_span(p.text, whole);
        if (s.start == s.end) continue;
        Chunk c;
        c.document_id = p.citation.document_id;
        c.start = p.citation.start + s.start;
        c.end = p.citation.start + s.end;
        c.text = p.text.substr(s.start, s.end - s.start);
        c.heading = p.citation.heading;
        c.metadata["passage"] = std::to_string(p.number);
        sentences.push_back(std::move(c));
      }
    }
    GeneratedAnswer answer;
    if (sentences.empty()) return answer;
    BM25Retriever ranking(options_.scoring);
    ranking.add(sentences);
    for (const RetrievalResult& r : ranking.retrieve(question, options_.max_sentences)) {
      AnswerSentence s;
      s.text = r.chunk.text;
      s.passage = std::stoll(r.chunk.metadata.at("passage"));
      s.citation = r.citation;
      s.score = r.score;
      if (!answer.text.empty()) answer.text += ' ';
      answer.text += s.text + " [" + std::to_string(s.passage) + "]";
      answer.cited.push_back(s.passage);
      answer.sentences.push_back(std::move(s));
    }
    std::ranges::sort(answer.cited);
    answer.cited.erase(std::unique(answer.cited.begin(), answer.cited.end()), answer.cited.end());
    return answer;
  }

 private:
  ExtractiveGeneratorOptions options_;
};

/// (BasicExtractiveGenerator is a class template only so that it is compiled where it is used.)
using ExtractiveGenerator = BasicExtractiveGenerator<>;

}  // namespace aimastery
