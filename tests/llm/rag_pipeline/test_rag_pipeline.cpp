// RAGPipeline over BM25 on 64 standard-library docstrings (the BM25 reference corpus): the stages see what
// the previous one produced (a recording generator), the response's citations map to exact passages, the
// reranker bounds the context, timings add up; MMR reranking through the hashing embedder; bad options.
#include <aimastery/llm/rag/bm25.hpp>
#include <aimastery/llm/rag/extractive_generator.hpp>
#include <aimastery/llm/rag/hashing_tfidf_embedder.hpp>
#include <aimastery/llm/rag/mmr.hpp>
#include <aimastery/llm/rag/rag_pipeline.hpp>
#include <aimastery/llm/rag/text_chunker.hpp>

#include "support.hpp"

using namespace aimastery;

namespace {

struct Corpus {
  std::vector<Document> documents;
  std::vector<Chunk> chunks;
};

Corpus docstring_corpus() {
  const auto texts = test::load_reference("llm_rag_bm25.json")["corpus"].get<std::vector<std::string>>();
  Corpus corpus;
  const TextChunker chunker({.strategy = ChunkingStrategy::sentence, .unit = ChunkUnit::words, .size = 30});
  for (std::size_t i = 0; i < texts.size(); ++i) {
    corpus.documents.push_back(Document::from_source("doc" + std::to_string(i), texts[i]));
    for (Chunk& c : chunker.split(corpus.documents.back())) corpus.chunks.push_back(std::move(c));
  }
  return corpus;
}

const Document& document_of(const Corpus& corpus, const std::string& id) {
  return *std::ranges::find(corpus.documents, id, &Document::id);
}

// Answers with the first passage and remembers the question and context it was given.
struct RecordingGenerator {
  std::string question;
  AssembledContext context;
  GeneratedAnswer generate(std::string_view q, const AssembledContext& c) {
    question = std::string(q);
    context = c;
    GeneratedAnswer a;
    if (!c.passages.empty()) {
      a.text = "see [1]";
      a.cited = {1};
    }
    return a;
  }
};

}  // namespace

TEST_CASE("RAGPipeline: retrieve, rerank, assemble and generate, with exact citations") {
  const Corpus corpus = docstring_corpus();
  BM25Retriever bm25;
  bm25.add(corpus.chunks);
  const std::string question = "return the absolute value of a number";

  RAGPipeline recorded(bm25, KeepRetrievalOrder{}, ContextAssembler(count_words, {.max_tokens = 200}),
                       RecordingGenerator{}, {.candidates = 10, .k = 4});
  const RAGResponse r = recorded.query(question);
  CHECK(r.question == question);
  const std::vector<RetrievalResult> direct = bm25.retrieve(question, 10);
  REQUIRE(r.retrieved.size() == direct.size());
  for (std::size_t i = 0; i < direct.size(); ++i) {
    CHECK(r.retrieved[i].chunk.id() == direct[i].chunk.id());
    CHECK(r.retrieved[i].score == direct[i].score);
  }
  REQUIRE(r.reranked.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) CHECK(r.reranked[i].chunk.id() == r.retrieved[i].chunk.id());
  CHECK(r.context.text == ContextAssembler(count_words, {.max_tokens = 200}).assemble(r.reranked).text);
  CHECK(r.answer.text == "see [1]");
  CHECK(r.timings.total_ms >=
        r.timings.retrieve_ms + r.timings.rerank_ms + r.timings.assemble_ms + r.timings.generate_ms - 1e-9);
  CHECK(r.timings.retrieve_ms >= 0);

  RAGPipeline extractive(bm25, KeepRetrievalOrder{}, ContextAssembler(count_words, {.max_tokens = 200}),
                         ExtractiveGenerator({.max_sentences = 2}), {.candidates = 10, .k = 4});
  const RAGResponse e = extractive.query(question);
  REQUIRE_FALSE(e.answer.sentences.empty());
  CHECK(e.context.tokens <= 200);
  for (const AnswerSentence& s : e.answer.sentences) {
    const Document& doc = document_of(corpus, s.citation.document_id);
    CHECK(doc.text.substr(s.citation.start, s.citation.end - s.citation.start) == s.text);
    const ContextPassage& p = e.context.passage(s.passage);
    CHECK(p.citation.start <= s.citation.start);
    CHECK(s.citation.end <= p.citation.end);
  }
  for (const ContextPassage& p : e.context.passages)
    CHECK(
        document_of(corpus, p.citation.document_id).text.substr(p.citation.start, p.citation.end - p.citation.start) ==
        p.text);
}

TEST_CASE("RAGPipeline: MMR reranking through the hashing embedder keeps k distinct candidates") {
  const Corpus corpus = docstring_corpus();
  BM25Retriever bm25;
  bm25.add(corpus.chunks);
  HashingTfidfEmbedder<double> embedder;
  std::vector<std::string> texts;
  for (const Chunk& c : corpus.chunks) texts.push_back(c.text);
  embedder.fit(texts);
  RAGPipeline pipeline(bm25, MMRReranker(embedder, 0.5), ContextAssembler(count_words, {.max_tokens = 400}),
                       ExtractiveGenerator{}, {.candidates = 12, .k = 3});
  const RAGResponse r = pipeline.query("sort a list in place");
  REQUIRE(r.reranked.size() == 3);
  for (Index i = 0; i < 3; ++i) CHECK(r.reranked[static_cast<std::size_t>(i)].rank == i + 1);
  for (const RetrievalResult& kept : r.reranked)
    CHECK(std::ranges::find(r.retrieved, kept.chunk.id(), [](const RetrievalResult& x) { return x.chunk.id(); }) !=
          r.retrieved.end());
  CHECK_THROWS_NAMING(MMRReranker(embedder, 1.5), InvalidArgument, "lambda must be in [0, 1]");
}

TEST_CASE("RAGPipeline: bad options are InvalidArgument") {
  BM25Retriever bm25;
  const auto make = [&](RAGOptions options) {
    return RAGPipeline(bm25, KeepRetrievalOrder{}, ContextAssembler(count_words), ExtractiveGenerator{}, options);
  };
  CHECK_THROWS_NAMING(make({.candidates = 5, .k = 0}), InvalidArgument, "k must be at least 1");
  CHECK_THROWS_NAMING(make({.candidates = 2, .k = 3}), InvalidArgument, "candidates (2) must be at least k (3)");
  CHECK_THROWS_NAMING(KeepRetrievalOrder{}.rerank("q", {}, 0), InvalidArgument, "k must be at least 1");
  // An empty index: nothing retrieved, an empty context and answer.
  const RAGResponse r = make({}).query("anything");
  CHECK(r.retrieved.empty());
  CHECK(r.context.passages.empty());
  CHECK(r.answer.text.empty());
}
