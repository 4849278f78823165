// CrossEncoderReranker and BiEncoderScorer: the bi-encoder's scores are the cosines of the embeddings; the
// reranker orders by the scorer (ties keep retrieval order), scores in batches, caps at k, numbers the ranks,
// and refuses a scorer that miscounts or gives NaN; it plugs into RAGPipeline as a Reranker.
#include <aimastery/llm/rag/bm25.hpp>
#include <aimastery/llm/rag/cross_encoder_reranker.hpp>
#include <aimastery/llm/rag/extractive_generator.hpp>
#include <aimastery/llm/rag/hashing_tfidf_embedder.hpp>
#include <aimastery/llm/rag/rag_pipeline.hpp>

#include "support.hpp"

using namespace aimastery;

namespace {

// The whole text of a new document as one chunk.
Chunk whole_document(const std::string& source, const std::string& text) {
  Chunk chunk;
  chunk.document_id = Document::from_source(source, text).id;
  chunk.end = text.size();
  chunk.text = text;
  return chunk;
}

std::vector<RetrievalResult> candidates_of(const std::vector<std::string>& texts) {
  std::vector<RetrievalResult> out;
  for (std::size_t i = 0; i < texts.size(); ++i)
    out.push_back(RetrievalResult::of(whole_document("doc" + std::to_string(i), texts[i]), 1.0 / double(i + 1),
                                      static_cast<Index>(i + 1)));
  return out;
}

// Scores a passage by how many of the question's words it contains, and records the batch sizes it saw.
struct WordOverlapScorer {
  std::vector<std::size_t> batches;
  std::vector<double> score(std::string_view question, std::span<const std::string> passages) {
    batches.push_back(passages.size());
    std::vector<double> scores;
    for (const std::string& p : passages) {
      double s = 0;
      std::size_t start = 0;
      while (start < question.size()) {
        const std::size_t end = std::min(question.find(' ', start), question.size());
        if (p.find(question.substr(start, end - start)) != std::string::npos) ++s;
        start = end + 1;
      }
      scores.push_back(s);
    }
    return scores;
  }
};

struct FixedScorer {
  std::vector<double> scores;
  std::vector<double> score(std::string_view, std::span<const std::string>) { return scores; }
};

}  // namespace

static_assert(PairScorer<WordOverlapScorer>);
static_assert(PairScorer<BiEncoderScorer<HashingTfidfEmbedder<double>>>);
static_assert(Reranker<CrossEncoderReranker<WordOverlapScorer>>);

TEST_CASE("BiEncoderScorer: each score is the cosine of the question's and the passage's embeddings") {
  const std::vector<std::string> passages = {"the forest votes over many trees", "attention weights values by keys",
                                             "a tree splits on the best feature", ""};
  HashingTfidfEmbedder<double> embedder;
  embedder.fit(passages);
  BiEncoderScorer scorer(embedder);
  const std::string question = "how does a tree split";
  const std::vector<double> scores = scorer.score(question, passages);
  REQUIRE(scores.size() == passages.size());
  std::vector<std::string> both{question};
  for (std::size_t i = 0; i < passages.size(); ++i) {
    both.resize(1);
    both.push_back(passages[i]);
    const Matrix<double> E = embedder.embed(both);
    const double norms = E.row(0).norm() * E.row(1).norm();
    const double expected = norms > 0 ? E.row(0).dot(E.row(1)) / norms : 0.0;
    CAPTURE(i);
    CHECK(scores[i] == doctest::Approx(expected).epsilon(1e-12));
  }
  CHECK(scores[3] == 0.0);  // an empty passage embeds to zero
  CHECK(scores[2] > scores[0]);
  CHECK(scorer.score(question, std::span<const std::string>{}).empty());
}

TEST_CASE("CrossEncoderReranker: orders by the scorer, ties in retrieval order, batches, k and ranks") {
  const auto candidates = candidates_of({"red apple", "green pear", "red pear", "blue sky", "red green pear"});
  WordOverlapScorer scorer;
  CrossEncoderReranker reranker(scorer, {.batch_size = 2});
  const auto out = reranker.rerank("red pear", candidates, 4);
  CHECK(scorer.batches == std::vector<std::size_t>{2, 2, 1});
  REQUIRE(out.size() == 4);
  // scores: red apple 1, green pear 1, red pear 2, blue sky 0, red green pear 2
  CHECK(out[0].chunk.text == "red pear");
  CHECK(out[1].chunk.text == "red green pear");
  CHECK(out[2].chunk.text == "red apple");
  CHECK(out[3].chunk.text == "green pear");
  for (std::size_t i = 0; i < out.size(); ++i) {
    CHECK(out[i].rank == static_cast<Index>(i + 1));
    CHECK(out[i].citation.document_id == out[i].chunk.document_id);
  }
  CHECK(out[0].score == 2.0);
  CHECK(out[3].score == 1.0);
  // k larger than the candidates: all of them; no candidates: nothing (and no scorer call).
  CHECK(reranker.rerank("red pear", candidates, 50).size() == candidates.size());
  scorer.batches.clear();
  CHECK(reranker.rerank("red pear", {}, 3).empty());
  CHECK(scorer.batches.empty());
}

TEST_CASE("CrossEncoderReranker: a bi-encoder scorer inside RAGPipeline reranks BM25's candidates") {
  const std::vector<std::string> texts = {"BM25 scores terms by frequency and inverse document frequency.",
                                          "Dense retrieval embeds the question and the passage as vectors.",
                                          "Reciprocal rank fusion merges two rankings by their ranks.",
                                          "A cross-encoder reads the question and the passage together."};
  std::vector<Chunk> chunks;
  for (std::size_t i = 0; i < texts.size(); ++i) chunks.push_back(whole_document("d" + std::to_string(i), texts[i]));
  BM25Retriever bm25;
  bm25.add(chunks);
  HashingTfidfEmbedder<double> embedder;
  embedder.fit(texts);
  BiEncoderScorer scorer(embedder);
  RAGPipeline pipeline(bm25, CrossEncoderReranker(scorer), ContextAssembler(count_words), ExtractiveGenerator{},
                       {.candidates = 4, .k = 2});
  const RAGResponse r = pipeline.query("how does a cross-encoder read the question and the passage");
  REQUIRE(r.reranked.size() == 2);
  CHECK(r.reranked[0].chunk.text == texts[3]);
  CHECK(r.reranked[0].rank == 1);
  CHECK(r.reranked[0].score >= r.reranked[1].score);
}

TEST_CASE("CrossEncoderReranker: bad options and a misbehaving scorer are InvalidArgument") {
  WordOverlapScorer words;
  CHECK_THROWS_NAMING(CrossEncoderReranker(words, {.batch_size = 0}), InvalidArgument, "batch_size must be at least 1");
  CrossEncoderReranker reranker(words);
  const auto candidates = candidates_of({"a", "b", "c"});
  CHECK_THROWS_NAMING(static_cast<void>(reranker.rerank("a", candidates, 0)), InvalidArgument, "k must be at least 1");
  FixedScorer short_scorer{{1.0, 2.0}};
  CHECK_THROWS_NAMING(static_cast<void>(CrossEncoderReranker(short_scorer).rerank("a", candidates, 2)), InvalidArgument,
                      "the scorer gave 2 scores for 3 passages");
  FixedScorer nan_scorer{{1.0, std::nan(""), 0.0}};
  CHECK_THROWS_NAMING(static_cast<void>(CrossEncoderReranker(nan_scorer).rerank("a", candidates, 2)), InvalidArgument,
                      "NaN score");
}
