// BM25Retriever against bm25s (method="lucene", float64; tests/reference/gen_llm_rag_bm25.py) on 64 texts
// (Python standard-library docstrings and a few Unicode texts), three (k1, b, stop words) settings and 20
// queries: LexicalTokenizer gives the generator's tokens, every score of every document equals bm25s', and
// the top 5 are bm25s' top 5; bad options and k are InvalidArgument.
#include <aimastery/llm/rag/bm25.hpp>

#include "support.hpp"

using namespace aimastery;

TEST_CASE("BM25Retriever: tokens, every score and the top 5 equal bm25s (lucene)") {
  const auto ref = test::load_reference("llm_rag_bm25.json");
  const auto texts = ref["corpus"].get<std::vector<std::string>>();
  std::vector<Chunk> chunks;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Document doc = Document::from_source("doc" + std::to_string(i), texts[i]);
    chunks.push_back({doc.id, 0, doc.text.size(), doc.text, {}, {}});
  }
  std::size_t compared = 0;
  for (const auto& s : ref["settings"]) {
    const BM25Options options{.k1 = s["k1"].get<double>(),
                              .b = s["b"].get<double>(),
                              .tokenizer = {.remove_stopwords = s["stopwords"].get<bool>()}};
    CAPTURE(options.k1);
    BM25Retriever bm25(options);
    // Indexed in two batches: N, avgdl and the norms follow the additions.
    bm25.add(std::span<const Chunk>(chunks).first(10));
    bm25.add(std::span<const Chunk>(chunks).subspan(10));
    REQUIRE(bm25.size() == static_cast<Index>(texts.size()));
    const auto doc_tokens = s["doc_tokens"].get<std::vector<std::vector<std::string>>>();
    for (std::size_t i = 0; i < texts.size(); ++i) CHECK(bm25.tokenizer().tokenize(texts[i]) == doc_tokens[i]);
    for (const auto& q : s["queries"]) {
      const auto query = q["text"].get<std::string>();
      CAPTURE(query);
      CHECK(bm25.tokenizer().tokenize(query) == q["tokens"].get<std::vector<std::string>>());
      const std::vector<double> ours = bm25.scores(query);
      const auto expected = q["scores"].get<std::vector<double>>();
      REQUIRE(ours.size() == expected.size());
      for (std::size_t d = 0; d < ours.size(); ++d) {
        CHECK(ours[d] == doctest::Approx(expected[d]).epsilon(1e-12));
        ++compared;
      }
      const auto top = bm25.retrieve(query, 5);
      const auto top5 = q["top5"].get<std::vector<Index>>();
      const auto top5_scores = q["top5_scores"].get<std::vector<double>>();
      std::size_t positive = 0;
      for (const double v : top5_scores) positive += v > 0;
      REQUIRE(top.size() == positive);  // only chunks sharing a token with the query
      for (std::size_t r = 0; r < top.size(); ++r) {
        CHECK(top[r].rank == static_cast<Index>(r + 1));
        CHECK(top[r].score == doctest::Approx(top5_scores[r]).epsilon(1e-12));
        // Equal scores may come in another order: compare the ids only where the score is unique.
        if (std::count(expected.begin(), expected.end(), top5_scores[r]) == 1)
          CHECK(top[r].chunk.text == texts[static_cast<std::size_t>(top5[r])]);
        CHECK(top[r].citation.document_id == top[r].chunk.document_id);
        CHECK(top[r].citation.end == top[r].chunk.text.size());
      }
    }
  }
  CHECK(compared == 3 * 20 * texts.size());
}

TEST_CASE("BM25Retriever: ties go to the earlier chunk, k limits the results, bad options are named") {
  BM25Retriever bm25;
  const std::vector<std::vector<std::string>> docs = {{"x", "y"}, {"y", "x"}, {"z"}, {"x", "x", "y", "y"}};
  bm25.add_tokenized(docs);
  const auto top = bm25.search("x", 10);
  REQUIRE(top.size() == 3);
  CHECK(top[0].index == 3);  // tf 2 in a chunk of average length
  CHECK(top[1].index == 0);  // chunks 0 and 1 tie: the earlier first
  CHECK(top[2].index == 1);
  CHECK(top[1].score == top[2].score);
  CHECK(bm25.search("x", 1).size() == 1);
  CHECK(bm25.search("nothing", 3).empty());
  CHECK(BM25Retriever().search("x", 3).empty());
  CHECK_THROWS_NAMING(bm25.search("x", 0), InvalidArgument, "BM25Retriever::search: k must be at least 1, got 0");
  CHECK_THROWS_NAMING(BM25Retriever({.k1 = -1}), InvalidArgument, "k1 must be finite and >= 0");
  CHECK_THROWS_NAMING(BM25Retriever({.k1 = std::nan("")}), InvalidArgument, "k1 must be finite");
  CHECK_THROWS_NAMING(BM25Retriever({.b = 1.5}), InvalidArgument, "b must be in [0, 1], got 1.5");
}

TEST_CASE("LexicalTokenizer: the stated rule") {
  const LexicalTokenizer plain;
  CHECK(plain.tokenize("The BM25-score, in Lucene!") ==
        std::vector<std::string>{"the", "bm25", "score", "in", "lucene"});
  CHECK(plain.tokenize("Crème_ÉTÉ x") == std::vector<std::string>{"crème", "ÉtÉ", "x"});  // UTF-8 kept as is
  CHECK(plain.tokenize("  \t\n").empty());
  const LexicalTokenizer stop({.remove_stopwords = true});
  CHECK(stop.tokenize("The BM25-score, in Lucene!") == std::vector<std::string>{"bm25", "score", "lucene"});
  CHECK(LexicalTokenizer::is_stopword("with"));
  CHECK_FALSE(LexicalTokenizer::is_stopword("within"));
}
