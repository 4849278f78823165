// Dense retrieval (tests/reference/gen_llm_rag_dense.py): HashingTfidfEmbedder equals scikit-learn's
// HashingVectorizer + TfidfTransformer (idf of every dimension, every query vector, the top 5 by cosine);
// ExactDenseIndex equals FAISS IndexFlatIP on seeded random vectors. DenseRetriever with the MiniLM encoder is
// tested in tests/llm/minilm.
#include <aimastery/core/probability/sampling.hpp>
#include <aimastery/llm/rag/dense_retriever.hpp>
#include <aimastery/llm/rag/hashing_tfidf_embedder.hpp>

#include "llm/rag_retrieval/corpus_chunks.hpp"
#include "seeded_normal.hpp"
#include "support.hpp"

using namespace aimastery;
using aimastery::test::corpus_chunks;
using aimastery::test::seeded_normal;

static_assert(EmbeddingModel<HashingTfidfEmbedder<double>>);

TEST_CASE_TEMPLATE("HashingTfidfEmbedder: idf, query vectors and top 5 equal scikit-learn", T, float, double) {
  const auto ref = test::load_reference("llm_rag_dense.json");
  const auto texts = ref["corpus"].get<std::vector<std::string>>();
  const auto queries = ref["queries"].get<std::vector<std::string>>();
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-12;
  for (const auto& s : ref["hashing"]) {
    HashingTfidfEmbedder<T> embedder({.dimension = s["dimension"].get<Index>(),
                                      .alternate_sign = s["alternate_sign"].get<bool>(),
                                      .sublinear_tf = s["sublinear_tf"].get<bool>(),
                                      .tokenizer = {.remove_stopwords = s["stopwords"].get<bool>()}});
    CAPTURE(embedder.dimension());
    CHECK_THROWS_NAMING(embedder.embed(texts), NotFittedError, "call fit() first");
    embedder.fit(texts);
    const auto idf = s["idf"].get<std::vector<double>>();
    REQUIRE(embedder.idf().size() == static_cast<Index>(idf.size()));
    for (std::size_t j = 0; j < idf.size(); ++j)
      CHECK(embedder.idf()[static_cast<Index>(j)] == doctest::Approx(idf[j]).epsilon(1e-12));
    const Matrix<T> Q = embedder.embed(queries);
    for (std::size_t i = 0; i < queries.size(); ++i) {
      CAPTURE(queries[i]);
      const auto& q = s["queries"][i];
      Vector<double> expected = Vector<double>::Zero(embedder.dimension());
      const auto indices = q["indices"].get<std::vector<Index>>();
      const auto values = q["values"].get<std::vector<double>>();
      for (std::size_t k = 0; k < indices.size(); ++k) expected[indices[k]] = values[k];
      CHECK((Q.row(static_cast<Index>(i)).transpose().template cast<double>() - expected).cwiseAbs().maxCoeff() <= tol);
    }
    DenseRetriever<HashingTfidfEmbedder<T>> dense(embedder);
    dense.add(corpus_chunks(texts));
    const auto results = dense.retrieve_batch(queries, 5);
    for (std::size_t i = 0; i < queries.size(); ++i) {
      CAPTURE(queries[i]);
      const auto top5 = s["queries"][i]["top5"].get<std::vector<Index>>();
      const auto scores = s["queries"][i]["top5_scores"].get<std::vector<double>>();
      REQUIRE(results[i].size() == 5);
      for (std::size_t r = 0; r < 5; ++r) {
        CHECK(results[i][r].score == doctest::Approx(scores[r]).epsilon(tol * 10));
        const bool unique =
            (r == 0 || scores[r - 1] - scores[r] > 1e-5) && (r == 4 || scores[r] - scores[r + 1] > 1e-5);
        if (unique && scores[r] > 0) CHECK(results[i][r].chunk.text == texts[static_cast<std::size_t>(top5[r])]);
      }
    }
  }
}

TEST_CASE_TEMPLATE("ExactDenseIndex: top 10 equal FAISS IndexFlatIP on normalised random vectors", T, float, double) {
  const auto ref = test::load_reference("llm_rag_dense.json")["faiss"];
  const auto seeds = ref["seeds"].get<std::vector<std::uint64_t>>();
  const Index d = ref["dimension"].get<Index>();
  const Matrix<T> X = seeded_normal<T>(seeds[0], ref["rows"].get<Index>(), d);
  const Matrix<T> Q = seeded_normal<T>(seeds[1], ref["queries"].get<Index>(), d);
  ExactDenseIndex<T> index(d);
  index.add(X.topRows(123));  // in two parts
  index.add(X.bottomRows(X.rows() - 123));
  REQUIRE(index.size() == X.rows());
  CHECK(index.vectors().rowwise().norm().minCoeff() == doctest::Approx(1.0).epsilon(1e-5));
  const auto hits = index.search(Q, 10);
  const auto ids = ref["ids"].get<std::vector<std::vector<Index>>>();
  const auto scores = ref["scores"].get<std::vector<std::vector<double>>>();
  REQUIRE(hits.size() == ids.size());
  for (std::size_t i = 0; i < hits.size(); ++i) {
    REQUIRE(hits[i].size() == 10);
    for (std::size_t r = 0; r < 10; ++r) {
      CHECK(hits[i][r].index == ids[i][r]);
      CHECK(hits[i][r].score == doctest::Approx(scores[i][r]).epsilon(1e-5));
    }
  }
  // k larger than the index: everything, ranked.
  CHECK(index.search(Q.topRows(1), 1000).front().size() == static_cast<std::size_t>(X.rows()));
}

TEST_CASE("RunningTopK keeps what select_top_k selects, ties to the smaller index, on seeded random streams") {
  RandomEngine rng(test::test_seed(41));
  for (const Index n : {0, 1, 7, 100, 1000})
    for (const Index k : {0, 1, 3, 10, 2000}) {
      CAPTURE(n);
      CAPTURE(k);
      std::vector<ScoredIndex> all;
      RunningTopK running(k);
      for (Index i = 0; i < n; ++i) {
        const double score = std::floor(detail::uniform_open01(rng) * 20.0);  // many ties
        all.push_back({i, score});
        running.offer(i, score);
      }
      CHECK(running.sorted() == select_top_k(all, k));
    }
  CHECK_THROWS_NAMING(RunningTopK(-2), InvalidArgument, "RunningTopK: k must not be negative, got -2");
}

TEST_CASE_TEMPLATE("ExactDenseIndex: blockwise search over several blocks equals top-k of the whole score matrix", T,
                   float, double) {
  const Index n = 5000, d = 16;  // three blocks of stored vectors, the last one partial
  const Matrix<T> X = seeded_normal<T>(test::test_seed(42), n, d);
  const Matrix<T> Q = seeded_normal<T>(test::test_seed(43), 9, d);
  ExactDenseIndex<T> index(d);
  index.add(X);
  const auto hits = index.search(Q, 25);
  const Matrix<T>& E = index.vectors();
  for (Index i = 0; i < Q.rows(); ++i) {
    const RowVector<T> q = Q.row(i) / Q.row(i).norm();
    std::vector<ScoredIndex> all;
    for (Index j = 0; j < n; ++j) all.push_back({j, static_cast<double>(q.dot(E.row(j)))});
    const auto expected = select_top_k(all, 25);
    REQUIRE(hits[static_cast<std::size_t>(i)].size() == expected.size());
    for (std::size_t r = 0; r < expected.size(); ++r) {
      CHECK(hits[static_cast<std::size_t>(i)][r].index == expected[r].index);
      CHECK(hits[static_cast<std::size_t>(i)][r].score == doctest::Approx(expected[r].score).epsilon(1e-5));
    }
  }
}

TEST_CASE("ExactDenseIndex and DenseRetriever: zero vectors, empty index, bad input") {
  ExactDenseIndex<double> index(3);
  CHECK(index.search(Matrix<double>::Ones(2, 3), 5) == std::vector<std::vector<ScoredIndex>>(2));
  Matrix<double> V(3, 3);
  V << 1, 0, 0, 0, 0, 0, 0, 2, 0;
  index.add(V);
  const auto hits = index.search(Matrix<double>{{0, 1, 0}}, 3);
  CHECK(hits[0] == std::vector<ScoredIndex>{{2, 1.0}, {0, 0.0}, {1, 0.0}});
  CHECK_THROWS_NAMING(index.add(Matrix<double>::Ones(2, 4)), InvalidArgument,
                      "ExactDenseIndex::add: vectors are 2x4, the index holds 3-d vectors");
  Matrix<double> bad = Matrix<double>::Ones(1, 3);
  bad(0, 1) = std::nan("");
  CHECK_THROWS_NAMING(index.add(bad), InvalidArgument, "NaN or Inf");
  CHECK(index.size() == 3);  // unchanged by the failed calls
  CHECK_THROWS_NAMING(index.search(Matrix<double>::Ones(1, 3), 0), InvalidArgument, "k must be at least 1, got 0");
  CHECK_THROWS_NAMING(ExactDenseIndex<float>(0), InvalidArgument, "dimension must be positive");
  CHECK_THROWS_NAMING(HashingTfidfEmbedder<float>({.dimension = 0}), InvalidArgument, "dimension must be in");
  CHECK_THROWS_NAMING(HashingTfidfEmbedder<float>({.sublinear_tf = true}), InvalidArgument, "sublinear_tf");
  HashingTfidfEmbedder<float> e({.dimension = 64});
  const std::vector<std::string> texts = {"alpha beta", "beta gamma", "!!!"};
  e.fit(texts);
  CHECK(e.embed(texts).row(2).isZero());  // no tokens: a zero row
  CHECK(e.embed(texts).row(0).norm() == doctest::Approx(1.0));
  DenseRetriever<HashingTfidfEmbedder<float>> dense(e);
  CHECK(dense.retrieve("alpha", 3).empty());
  const Document doc = Document::from_source("x", "alpha beta. beta gamma.");
  dense.add(std::vector<Chunk>{{doc.id, 0, 11, "alpha beta.", {}, {}}, {doc.id, 12, 23, "beta gamma.", {}, {}}});
  const auto r = dense.retrieve("gamma", 2);
  REQUIRE(r.size() == 2);
  CHECK(r[0].chunk.text == "beta gamma.");
  CHECK(r[0].rank == 1);
  CHECK(r[0].citation.document_id == doc.id);
  CHECK(r[0].citation.start == 12);
  CHECK(r[0].citation.end == 23);
  CHECK_THROWS_NAMING(dense.retrieve("gamma", 0), InvalidArgument, "DenseRetriever::retrieve: k must be at least 1");
}

namespace {

/// A model that returns one row whatever it is given.
struct OneRowModel {
  using Scalar = float;
  Index dimension() const { return 2; }
  Matrix<float> embed(std::span<const std::string>) { return Matrix<float>::Ones(1, 2); }
};

}  // namespace

TEST_CASE("DenseRetriever: a model that returns the wrong number of rows is named, the index unchanged") {
  DenseRetriever<OneRowModel> dense(OneRowModel{});
  const std::vector<Chunk> chunks(3);
  CHECK_THROWS_NAMING(dense.add(chunks), InvalidArgument, "DenseRetriever::add: the model returned 1 rows for 3 texts");
  CHECK(dense.size() == 0);
  CHECK_THROWS_NAMING(HashingTfidfEmbedder<float>().idf(), NotFittedError,
                      "HashingTfidfEmbedder::idf: call fit() first");
  CHECK_THROWS_NAMING(select_top_k({}, -1), InvalidArgument, "select_top_k: k must not be negative, got -1");
  CHECK(select_top_k({{0, 1.0}, {1, 3.0}, {2, 3.0}, {3, 2.0}}, 3) ==
        std::vector<ScoredIndex>{{1, 3.0}, {2, 3.0}, {3, 2.0}});
}

TEST_CASE("murmur3_32: the reference values of MurmurHash3_x86_32") {
  CHECK(detail::rag::murmur3_32("") == 0u);
  CHECK(detail::rag::murmur3_32("", 1) == 0x514E28B7u);
  CHECK(detail::rag::murmur3_32("Hello, world!", 1234) == 0xFAF6CDB3u);
  CHECK(detail::rag::murmur3_32("The quick brown fox jumps over the lazy dog") == 0x2E4FF723u);
}
