// HnswRetriever: the Retriever contract over an HnswIndex. With ef at least the corpus size, its results
// equal DenseRetriever's (exact search) on the corpus and queries of tests/reference/gen_llm_rag_dense.py.
#include <aimastery/llm/rag/dense_retriever.hpp>
#include <aimastery/llm/rag/hashing_tfidf_embedder.hpp>
#include <aimastery/llm/rag/hnsw_retriever.hpp>
#include <aimastery/llm/rag/retriever.hpp>

#include "support.hpp"

using namespace aimastery;

static_assert(Retriever<HnswRetriever<HashingTfidfEmbedder<float>>>);

TEST_CASE_TEMPLATE("HnswRetriever: with ef >= n it returns DenseRetriever's chunks and scores", T, float, double) {
  const auto ref = test::load_reference("llm_rag_dense.json");
  const auto texts = ref["corpus"].get<std::vector<std::string>>();
  const auto queries = ref["queries"].get<std::vector<std::string>>();
  std::vector<Chunk> chunks;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Document doc = Document::from_source("doc" + std::to_string(i), texts[i]);
    chunks.push_back({doc.id, 0, doc.text.size(), doc.text, {}, {}});
  }
  HashingTfidfEmbedder<T> embedder({.dimension = 512});
  embedder.fit(texts);
  DenseRetriever<HashingTfidfEmbedder<T>> exact(embedder);
  exact.add(chunks);
  const Index n = static_cast<Index>(chunks.size());
  HnswRetriever<HashingTfidfEmbedder<T>> approximate(embedder, {.M = 6, .ef_construction = 30, .ef = n});
  approximate.add(chunks);
  REQUIRE(approximate.size() == n);
  Index compared = 0;
  for (const auto& q : queries) {
    CAPTURE(q);
    const auto want = exact.retrieve(q, 5);
    const auto got = approximate.retrieve(q, 5);
    REQUIRE(got.size() == want.size());
    for (std::size_t r = 0; r < want.size(); ++r) {
      CHECK(got[r].rank == want[r].rank);
      CHECK(got[r].score == doctest::Approx(want[r].score).epsilon(test::Tolerance<T>::reference));
      const bool unique = (r == 0 || want[r - 1].score - want[r].score > 1e-5) &&
                          (r + 1 == want.size() || want[r].score - want[r + 1].score > 1e-5);
      if (unique && want[r].score > 0) {
        CHECK(got[r].chunk.text == want[r].chunk.text);
        ++compared;
      }
    }
  }
  CHECK(compared >= Index(queries.size()));  // the comparison is not vacuous
  CHECK_THROWS_AS((void)approximate.retrieve("x", 0), InvalidArgument);
}
