// RagIndex with an IndexEmbedder (llm/rag/index_embedder.hpp): the manifest records the embedder's name,
// model identity and dimension; load() re-creates nothing itself and refuses an embedder that differs;
// exact dense search equals ExactDenseIndex, and MMR reranks over the stored vectors. An index with the
// all-MiniLM-L6-v2 sentence encoder is tested in tests/llm/minilm.
#include <aimastery/llm/rag/rag_index.hpp>

#include <filesystem>
#include <limits>

#include "llm/rag_index/index_support.hpp"
#include "llm/rag_index/reference_corpus.hpp"
#include "support.hpp"

using namespace aimastery;
namespace fs = std::filesystem;
using test::equal_results;
using test::index_options;
using test::questions;

TEST_CASE("RagIndex with an IndexEmbedder: recorded, saved, loaded with the same embedder only") {
  const fs::path folder = test::fresh_folder("embedder_fake");
  const IndexEmbedder fake = test::fake_embedder();
  Index progress_calls = 0, last_done = 0;
  const RagIndex index =
      RagIndex::build(test::reference_corpus_documents(), index_options(), fake, [&](Index done, Index total) {
        ++progress_calls;
        CHECK(done > last_done);
        CHECK(done <= total);
        last_done = done;
      });
  CHECK(progress_calls >= 1);
  CHECK(last_done == static_cast<Index>(index.chunks().size()));
  CHECK(index.embedder_name() == "fake");
  CHECK(index.dense_dimension() == 64);
  index.save(folder.string());

  const IndexEmbedder recorded = RagIndex::recorded_embedder(folder.string());
  CHECK(recorded.name == "fake");
  CHECK(recorded.model == "fake-v1");
  CHECK(recorded.dimension == 64);
  CHECK(!recorded.embed);

  const RagIndex loaded = RagIndex::load(folder.string(), fake);
  for (const std::string& q : questions)
    for (const RetrievalMode mode : {RetrievalMode::bm25, RetrievalMode::dense, RetrievalMode::hybrid})
      equal_results(loaded.retrieve(q, 5, mode), index.retrieve(q, 5, mode), 0);

  CHECK_THROWS_NAMING((void)RagIndex::load(folder.string()), InvalidArgument,
                      "was built with the embedder 'fake' (model fake-v1");
  CHECK_THROWS_NAMING((void)RagIndex::load(folder.string(), test::fake_embedder(64, "fake-v2")), InvalidArgument,
                      "the embedder given has another model, fake-v2");
  CHECK_THROWS_NAMING((void)RagIndex::load(folder.string(), test::fake_embedder(32)), InvalidArgument,
                      "the embedder given has dimension 32");
  IndexEmbedder renamed = fake;
  renamed.name = "other";
  CHECK_THROWS_NAMING((void)RagIndex::load(folder.string(), renamed), InvalidArgument, "not with 'other'");

  // A hashing index records "hashing" and refuses an IndexEmbedder.
  const fs::path hashing_folder = test::fresh_folder("embedder_hashing");
  RagIndex::build(test::reference_corpus_documents(), index_options()).save(hashing_folder.string());
  CHECK(RagIndex::recorded_embedder(hashing_folder.string()).name == "hashing");
  CHECK_THROWS_NAMING((void)RagIndex::load(hashing_folder.string(), fake), InvalidArgument,
                      "built with the embedder 'hashing', not with 'fake'");

  // A manifest whose recorded dimension was edited (and resealed) no longer matches the graph: FormatError.
  nlohmann::json manifest = test::read_json(folder / "manifest.json");
  REQUIRE(manifest.at("embedder").at("dimension") == 64);
  manifest["embedder"]["dimension"] = 32;
  test::write_json(folder / "manifest.json", test::resealed(manifest));
  const std::string n = std::to_string(index.chunks().size());
  const std::string expected =
      "graph.hnsw' holds " + n + " vectors of dimension 64 for " + n + " chunks of dimension 32";
  CHECK_THROWS_NAMING((void)RagIndex::load(folder.string(), test::fake_embedder(32)), FormatError, expected.c_str());
  fs::remove_all(folder);
  fs::remove_all(hashing_folder);
}

TEST_CASE("RagIndex: exact dense search and MMR over the stored vectors") {
  const IndexEmbedder fake = test::fake_embedder();
  const RagIndex index = RagIndex::build(test::reference_corpus_documents(), index_options(), fake);
  ExactDenseIndex<float> exact(64);
  std::vector<std::string> texts;
  for (const Chunk& c : index.chunks()) texts.push_back(c.text);
  exact.add(fake.embed(texts));
  RetrieveOptions how;
  how.mode = RetrievalMode::dense;
  how.exact = true;
  for (const std::string& q : questions) {
    CAPTURE(q);
    const auto hits = exact.search(fake.embed(std::span<const std::string>(&q, 1)), 6).front();
    const auto got = index.retrieve(q, 6, how);
    REQUIRE(got.size() == hits.size());
    for (std::size_t i = 0; i < hits.size(); ++i) {
      CHECK(got[i].chunk.id() == index.chunks()[static_cast<std::size_t>(hits[i].index)].id());
      CHECK(got[i].score == doctest::Approx(hits[i].score).epsilon(1e-6));
    }
    // MMR with λ = 1 is relevance order by cosine: over the exact dense list, that list itself.
    RetrieveOptions mmr = how;
    mmr.mmr_lambda = 1.0;
    const auto reranked = index.retrieve(q, 6, mmr);
    REQUIRE(reranked.size() == got.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(reranked[i].chunk.id() == got[i].chunk.id());
    // λ = 0 after the first pick only avoids redundancy: the first pick is still the most relevant.
    mmr.mmr_lambda = 0.0;
    CHECK(index.retrieve(q, 6, mmr).front().chunk.id() == got.front().chunk.id());
  }
  how.mmr_lambda = 1.5;
  CHECK_THROWS_NAMING((void)index.retrieve("open a file", 3, how), InvalidArgument, "mmr_lambda must be in [0, 1]");
}

TEST_CASE("RagIndex: bad IndexEmbedders are refused before anything is built") {
  const std::vector<Document> docs = test::reference_corpus_documents();
  IndexEmbedder e = test::fake_embedder();
  e.name = "";
  CHECK_THROWS_NAMING((void)RagIndex::build(docs, index_options(), e), InvalidArgument, "needs a name");
  e.name = "hashing";
  CHECK_THROWS_NAMING((void)RagIndex::build(docs, index_options(), e), InvalidArgument, "other than 'hashing'");
  e = test::fake_embedder();
  e.model = "";
  CHECK_THROWS_NAMING((void)RagIndex::build(docs, index_options(), e), InvalidArgument, "no model identity");
  e = test::fake_embedder();
  e.dimension = 0;
  CHECK_THROWS_NAMING((void)RagIndex::build(docs, index_options(), e), InvalidArgument, "has dimension 0");
  e = test::fake_embedder();
  e.embed = nullptr;
  CHECK_THROWS_NAMING((void)RagIndex::build(docs, index_options(), e), InvalidArgument, "no embed function");
  e = test::fake_embedder();
  e.dimension = 65;  // the function returns 64 columns
  CHECK_THROWS_NAMING((void)RagIndex::build(docs, index_options(), e), InvalidArgument, "the embedder 'fake' returned");
  e = test::fake_embedder();
  e.embed = [](std::span<const std::string> texts) {
    Matrix<float> E = Matrix<float>::Ones(static_cast<Index>(texts.size()), 64);
    E(0, 0) = std::numeric_limits<float>::quiet_NaN();
    return E;
  };
  CHECK_THROWS_NAMING((void)RagIndex::build(docs, index_options(), e), InvalidArgument, "not finite");
  CHECK_THROWS_NAMING((void)RagIndex::load(test::fresh_folder("embedder_none").string(), test::fake_embedder()),
                      FormatError, "manifest.json");
  CHECK_THROWS_NAMING((void)RagIndex::recorded_embedder(test::fresh_folder("embedder_none").string()), FormatError,
                      "manifest.json");
}
