// ExtractiveGenerator: the answer is the best-matching sentences of the context, best first, each an exact
// passage of its document with the label of its passage; a question that shares no word gets an empty
// answer; bad options are InvalidArgument.
#include <aimastery/llm/rag/extractive_generator.hpp>

#include "support.hpp"

using namespace aimastery;

namespace {

AssembledContext context_of(const std::vector<Document>& docs) {
  std::vector<RetrievalResult> results;
  Index rank = 0;
  for (const Document& d : docs) {
    ++rank;
    results.push_back(
        RetrievalResult::of({d.id, 0, d.text.size(), d.text, {}, {}}, 1.0 / static_cast<double>(rank), rank));
  }
  return ContextAssembler(count_words, {.max_tokens = 1000}).assemble(results);
}

}  // namespace

TEST_CASE("ExtractiveGenerator: the best sentences, best first, with exact citations") {
  const std::vector<Document> docs = {
      Document::from_source("bm25.md",
                            "BM25 ranks documents by term frequency. The idf weight favours rare terms!  "
                            "Length normalisation uses the parameter b."),
      Document::from_source("hnsw.md", "HNSW builds a layered graph. Search descends the layers greedily."),
      Document::from_source("unicode.md", "Größe und Gewicht. Die idf-Gewichtung zählt. Ende.")};
  const AssembledContext context = context_of(docs);
  const ExtractiveGenerator generator({.max_sentences = 2});
  const GeneratedAnswer answer = generator.generate("how does the idf weight favour rare terms", context);
  REQUIRE(answer.sentences.size() == 2);
  CHECK(answer.sentences[0].text == "The idf weight favours rare terms!");
  CHECK(answer.sentences[0].passage == 1);
  CHECK(answer.sentences[0].score > answer.sentences[1].score);
  for (const AnswerSentence& s : answer.sentences) {
    CAPTURE(s.text);
    const Document& doc = *std::ranges::find(docs, s.citation.document_id, &Document::id);
    CHECK(doc.text.substr(s.citation.start, s.citation.end - s.citation.start) == s.text);
    CHECK(context.passage(s.passage).citation.document_id == s.citation.document_id);
  }
  CHECK(answer.text == answer.sentences[0].text + " [" + std::to_string(answer.sentences[0].passage) + "] " +
                           answer.sentences[1].text + " [" + std::to_string(answer.sentences[1].passage) + "]");
  CHECK(std::ranges::is_sorted(answer.cited));
  CHECK(std::ranges::adjacent_find(answer.cited) == answer.cited.end());

  const GeneratedAnswer german = generator.generate("Gewicht", context);
  REQUIRE(german.sentences.size() == 1);
  CHECK(german.sentences[0].text == "Größe und Gewicht.");
  CHECK(german.cited == std::vector<Index>{3});
}

TEST_CASE("ExtractiveGenerator: no shared word, or no context, gives an empty answer") {
  const ExtractiveGenerator generator;
  const AssembledContext context = context_of({Document::from_source("a", "Alpha beta. Gamma delta.")});
  const GeneratedAnswer none = generator.generate("zeta", context);
  CHECK(none.text.empty());
  CHECK(none.sentences.empty());
  CHECK(none.cited.empty());
  CHECK(generator.generate("alpha", AssembledContext{}).text.empty());
  CHECK(generator.generate("alpha", context).text == "Alpha beta. [1]");
}

TEST_CASE("ExtractiveGenerator: bad options are InvalidArgument") {
  CHECK_THROWS_NAMING(ExtractiveGenerator({.max_sentences = 0}), InvalidArgument, "max_sentences");
  CHECK_THROWS_NAMING(ExtractiveGenerator({.scoring = {.k1 = -1}}), InvalidArgument, "k1");
  CHECK_THROWS_NAMING(ExtractiveGenerator({.scoring = {.b = 2}}), InvalidArgument, "b must be in [0, 1]");
}
