// Reciprocal rank fusion, normalised score fusion, HybridRetriever and maximal marginal relevance: worked
// examples computed from the definitions, independence of the list order, and bad input.
#include <aimastery/llm/rag/hashing_tfidf_embedder.hpp>
#include <aimastery/llm/rag/hybrid_retriever.hpp>
#include <aimastery/llm/rag/mmr.hpp>
#include <aimastery/llm/rag/retriever.hpp>

#include "support.hpp"

using namespace aimastery;

namespace {

RetrievalResult result(const std::string& name, double score) {
  Chunk c;
  c.document_id = "d-" + name;
  c.end = 1;
  c.text = name;
  return RetrievalResult::of(c, score, 0);
}

std::vector<std::string> names(const std::vector<RetrievalResult>& results) {
  std::vector<std::string> out;
  for (const auto& r : results) out.push_back(r.chunk.text);
  return out;
}

}  // namespace

static_assert(Retriever<BM25Retriever>);
static_assert(Retriever<DenseRetriever<HashingTfidfEmbedder<float>>>);
static_assert(Retriever<HybridRetriever<HashingTfidfEmbedder<double>>>);
static_assert(!Retriever<ExactDenseIndex<float>>);

TEST_CASE("reciprocal_rank_fusion: Σ 1 / (60 + rank) over the lists") {
  const std::vector<RetrievalResult> a = {result("x", 9), result("y", 5), result("z", 1)};
  const std::vector<RetrievalResult> b = {result("y", 0.9), result("w", 0.2)};
  const auto fused = reciprocal_rank_fusion({a, b}, 10);
  CHECK(names(fused) == std::vector<std::string>{"y", "x", "w", "z"});
  CHECK(fused[0].score == doctest::Approx(1.0 / 62 + 1.0 / 61));
  CHECK(fused[1].score == doctest::Approx(1.0 / 61));
  CHECK(fused[2].score == doctest::Approx(1.0 / 62));
  CHECK(fused[3].score == doctest::Approx(1.0 / 63));
  for (std::size_t r = 0; r < fused.size(); ++r) CHECK(fused[r].rank == static_cast<Index>(r + 1));
  CHECK(fused[0].citation.document_id == "d-y");
  // The order of the lists does not matter, ties included (x and a tie at 1/61: by chunk id).
  const std::vector<RetrievalResult> c = {result("a", 1)};
  CHECK(names(reciprocal_rank_fusion({a, b, c}, 3)) == names(reciprocal_rank_fusion({c, b, a}, 3)));
  CHECK(names(reciprocal_rank_fusion({a, b, c}, 3)) == std::vector<std::string>{"y", "a", "x"});
  CHECK(reciprocal_rank_fusion({a, b}, 2, 0).front().score == doctest::Approx(1.0 / 2 + 1.0 / 1));
  CHECK(reciprocal_rank_fusion({}, 3).empty());
  CHECK_THROWS_NAMING(reciprocal_rank_fusion({a}, 0), InvalidArgument, "top_k must be at least 1, got 0");
  CHECK_THROWS_NAMING(reciprocal_rank_fusion({a}, 1, -1), InvalidArgument, "k must be finite and >= 0");
}

TEST_CASE("normalized_score_fusion: min-max scaled scores, weighted sum") {
  const std::vector<RetrievalResult> a = {result("x", 10), result("y", 5), result("z", 0)};
  const std::vector<RetrievalResult> b = {result("y", 0.9), result("w", 0.1)};
  const auto fused = normalized_score_fusion({a, b}, 10);
  CHECK(names(fused) == std::vector<std::string>{"y", "x", "w", "z"});  // w and z tie at 0: by id
  CHECK(fused[0].score == doctest::Approx(1.5));
  CHECK(fused[1].score == doctest::Approx(1.0));
  const auto weighted = normalized_score_fusion({a, b}, 2, {0.2, 0.8});
  CHECK(names(weighted) == std::vector<std::string>{"y", "x"});
  CHECK(weighted[0].score == doctest::Approx(0.2 * 0.5 + 0.8 * 1.0));
  CHECK(normalized_score_fusion({{result("p", 3), result("q", 3)}}, 2).front().score == 1.0);  // all equal: 1
  CHECK_THROWS_NAMING(normalized_score_fusion({a, b}, 2, {1.0}), InvalidArgument, "1 weights for 2 lists");
  CHECK_THROWS_NAMING(normalized_score_fusion({{result("p", std::nan(""))}}, 2), InvalidArgument, "NaN or Inf");
}

TEST_CASE_TEMPLATE("maximal_marginal_relevance: relevance against redundancy", T, float, double) {
  Vector<T> q(2);
  q << 1, 0;
  Matrix<T> C(3, 2);
  C << T(1), T(0),          // a: the query itself
      T(0.995), T(0.0998),  // b: almost a copy of a
      T(0), T(1);           // c: orthogonal to the query and to a
  CHECK(maximal_marginal_relevance<T>(q, C, 3, 1.0) == std::vector<Index>{0, 1, 2});  // λ = 1: relevance
  // λ = 0.7, after a: b scores 0.7·0.995 − 0.3·0.995 ≈ 0.4 > c's 0; λ = 0.3: b ≈ −0.4 < c's 0.
  CHECK(maximal_marginal_relevance<T>(q, C, 2, 0.7) == std::vector<Index>{0, 1});
  CHECK(maximal_marginal_relevance<T>(q, C, 2, 0.3) == std::vector<Index>{0, 2});
  CHECK(maximal_marginal_relevance<T>(q, C * T(5), 2, 0.3) == std::vector<Index>{0, 2});  // scale-free
  CHECK(maximal_marginal_relevance<T>(q, C, 10, 0.5).size() == 3);
  CHECK(maximal_marginal_relevance<T>(q, Matrix<T>(0, 2), 3, 0.5).empty());
  CHECK_THROWS_NAMING(maximal_marginal_relevance<T>(q, Matrix<T>::Ones(3, 4), 2, 0.5), InvalidArgument,
                      "the query has 2 dimensions, the candidates are 3x4");
  CHECK_THROWS_NAMING(maximal_marginal_relevance<T>(q, C, 2, 1.5), InvalidArgument, "lambda must be in [0, 1]");
  CHECK_THROWS_NAMING(maximal_marginal_relevance<T>(q, C, 0, 0.5), InvalidArgument, "k must be at least 1");
}

TEST_CASE("HybridRetriever and mmr_rerank on the BM25 corpus with the hashing embedder") {
  const auto texts = test::load_reference("llm_rag_bm25.json")["corpus"].get<std::vector<std::string>>();
  std::vector<Chunk> chunks;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Document doc = Document::from_source("doc" + std::to_string(i), texts[i]);
    chunks.push_back({doc.id, 0, doc.text.size(), doc.text, {}, {}});
  }
  HashingTfidfEmbedder<float> embedder({.dimension = 2048});
  embedder.fit(texts);
  HybridRetriever<HashingTfidfEmbedder<float>> hybrid(BM25Retriever({.k1 = 1.2}), embedder);
  hybrid.add(chunks);
  CHECK(hybrid.size() == static_cast<Index>(texts.size()));
  const std::string query = "priority queue of a heap";
  const auto fused = hybrid.retrieve(query, 5, {.candidates = 20});
  const auto expected =
      reciprocal_rank_fusion({hybrid.bm25().retrieve(query, 20), hybrid.dense().retrieve(query, 20)}, 5);
  REQUIRE(fused.size() == 5);
  CHECK(names(fused) == names(expected));
  CHECK(fused[0].chunk.text.find("Heap queue algorithm") != std::string::npos);
  const auto by_scores = hybrid.retrieve(query, 5, {.fusion = HybridFusion::normalized_scores, .candidates = 20});
  CHECK(by_scores.size() == 5);
  CHECK_THROWS_NAMING(hybrid.retrieve(query, 5, {.candidates = 3}), InvalidArgument,
                      "candidates (3) must be at least k (5)");
  // MMR with λ = 1 keeps the relevance order of the dense scores; smaller λ keeps the best first.
  auto& model = hybrid.dense().model();
  const auto candidates = hybrid.dense().retrieve(query, 10);
  const auto same = mmr_rerank(model, query, candidates, 10, 1.0);
  CHECK(names(same) == names(candidates));
  const auto diverse = mmr_rerank(model, query, candidates, 4, 0.3);
  REQUIRE(diverse.size() == 4);
  CHECK(diverse[0].chunk.text == candidates[0].chunk.text);
  CHECK(diverse[3].rank == 4);
  CHECK(mmr_rerank(model, query, {}, 3).empty());
  CHECK_THROWS_NAMING(mmr_rerank(model, query, {}, 0), InvalidArgument, "mmr_rerank: k must be at least 1");
  CHECK_THROWS_NAMING(mmr_rerank(model, query, candidates, 0), InvalidArgument, "k must be at least 1");
}
