// DenseRetriever over SentenceEncoderEmbedder with all-MiniLM-L6-v2 (AIMASTERY_MINILM_DIR) equals
// sentence-transformers' exact search on the dense reference corpus (tests/reference/gen_llm_rag_dense.py):
// the top 5 scores of every query, and the top 5 texts where their scores are clearly apart.
#include <aimastery/llm/rag/dense_retriever.hpp>
#include <aimastery/llm/rag/sentence_encoder_embedder.hpp>

#include <string>
#include <vector>

#include "llm/bert_fixture.hpp"
#include "llm/rag_retrieval/corpus_chunks.hpp"
#include "support.hpp"

using namespace aimastery;
using aimastery::test::corpus_chunks;
using aimastery::test::minilm_dir;

TEST_CASE("MiniLM: DenseRetriever over SentenceEncoderEmbedder equals sentence-transformers' exact search") {
  const std::string dir = minilm_dir();
  const auto ref = test::load_reference("llm_rag_dense.json");
  const auto texts = ref["corpus"].get<std::vector<std::string>>();
  const auto queries = ref["queries"].get<std::vector<std::string>>();
  static_assert(EmbeddingModel<SentenceEncoderEmbedder>);
  DenseRetriever<SentenceEncoderEmbedder> dense(SentenceEncoderEmbedder(SentenceEncoder::load(dir), 16));
  CHECK(dense.model().dimension() == 384);
  CHECK_THROWS_NAMING(SentenceEncoderEmbedder(SentenceEncoder::load(dir), 0), InvalidArgument,
                      "SentenceEncoderEmbedder: batch_size must be positive, got 0");
  dense.add(corpus_chunks(texts));
  const auto results = dense.retrieve_batch(queries, 5);
  const auto top5 = ref["minilm"]["top5"].get<std::vector<std::vector<Index>>>();
  const auto scores = ref["minilm"]["top5_scores"].get<std::vector<std::vector<double>>>();
  for (std::size_t i = 0; i < queries.size(); ++i) {
    CAPTURE(queries[i]);
    REQUIRE(results[i].size() == 5);
    for (std::size_t r = 0; r < 5; ++r) {
      CHECK(results[i][r].score == doctest::Approx(scores[i][r]).epsilon(1e-4));
      const bool clear =
          (r == 0 || scores[i][r - 1] - scores[i][r] > 1e-4) && (r == 4 || scores[i][r] - scores[i][r + 1] > 1e-4);
      if (clear) CHECK(results[i][r].chunk.text == texts[static_cast<std::size_t>(top5[i][r])]);
    }
  }
}
