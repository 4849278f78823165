// RagIndex with metadata in the chunk budget (TextChunkerOptions::metadata_in_budget): the dense side reads
// TextChunker::embedding_text of each chunk (its "key: value" lines, then its text), at build and on load,
// through the built-in hashing embedder and through an IndexEmbedder; queries and BM25 read bare text. The
// option is saved in the manifest (format version 3) and a tampered value is a FormatError; version 2
// manifests are still read. A budget the metadata leaves no room in is the chunker's InvalidArgument. The
// retrievers (DenseRetriever, HnswRetriever, HybridRetriever) take the same rule for their add(), and an
// add() that throws leaves them unchanged.
#include <aimastery/llm/rag/hnsw_retriever.hpp>
#include <aimastery/llm/rag/hybrid_retriever.hpp>
#include <aimastery/llm/rag/rag_index.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "llm/rag_index/index_support.hpp"
#include "support.hpp"

using namespace aimastery;
namespace fs = std::filesystem;

namespace {

// Three documents; two have a title that their text never uses ("handbook", "manual").
std::vector<Document> titled_documents() {
  return {Document::from_source("zebra.md",
                                "# Feeding\nZebras graze on tall grass for most of the day, moving slowly.\n"
                                "## Water\nThey drink once a day at a river or a water hole in the dry season.\n",
                                {{"title", "Zebra handbook"}}),
          Document::from_source("engine.md",
                                "# Pistons\nThe pistons move up and down inside the cylinders of the block.\n"
                                "## Oil\nChange the oil every ten thousand kilometres, and the filter too.\n",
                                {{"title", "Engine manual"}}),
          Document::from_source("notes.txt", "A note without a title, about rivers, grass and the dry season.")};
}

RagIndexOptions titled_options() {
  RagIndexOptions o;
  o.chunking.strategy = ChunkingStrategy::markdown;
  o.chunking.unit = ChunkUnit::words;
  o.chunking.size = 14;
  o.chunking.overlap = 2;
  o.chunking.metadata_in_budget = {"title", "heading"};
  o.embedding.dimension = 256;
  o.hnsw.M = 8;
  o.hnsw.ef_construction = 64;
  o.hnsw.ef = 32;
  return o;
}

const std::vector<std::string> titled_questions = {"zebra handbook", "engine manual oil", "water in the dry season",
                                                   "pistons", "handbook"};

std::vector<std::string> embedding_texts(const TextChunker& chunker, const std::vector<Chunk>& chunks) {
  std::vector<std::string> texts;
  for (const Chunk& c : chunks) texts.push_back(chunker.embedding_text(c));
  return texts;
}

ChunkText rule_of(const TextChunker& chunker) {
  return [chunker](const Chunk& c) { return chunker.embedding_text(c); };
}

void same_index(const RagIndex& a, const RagIndex& b) {
  RetrieveOptions exact;
  exact.mode = RetrievalMode::dense;
  exact.exact = true;
  for (const std::string& q : titled_questions) {
    CAPTURE(q);
    for (const RetrievalMode mode : {RetrievalMode::bm25, RetrievalMode::dense, RetrievalMode::hybrid})
      test::same_results(a.retrieve(q, 6, mode), b.retrieve(q, 6, mode));
    test::same_results(a.retrieve(q, 6, exact), b.retrieve(q, 6, exact));
  }
}

}  // namespace

TEST_CASE("RagIndex: the dense side reads embedding_text, equal to a retriever given the chunker's rule") {
  const RagIndexOptions o = titled_options();
  const RagIndex index = RagIndex::build(titled_documents(), o);
  const TextChunker chunker(o.chunking);
  const std::vector<Chunk> chunks = chunker.split(std::span<const Document>(titled_documents()));
  REQUIRE(index.chunks().size() == chunks.size());
  const std::vector<std::string> texts = embedding_texts(chunker, chunks);
  std::size_t with_header = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    CHECK(index.chunks()[i].id() == chunks[i].id());
    CHECK(index.chunks()[i].text == chunks[i].text);  // the chunk itself stays the exact passage
    with_header += texts[i] != chunks[i].text;
  }
  CHECK(with_header >= 4);  // every chunk of the two titled documents

  // The built-in hashing embedder, fitted on what it reads; HNSW and exact search.
  HashingTfidfEmbedder<float> embedder(o.embedding);
  embedder.fit(texts);
  HnswRetriever<HashingTfidfEmbedder<float>> graph(embedder, o.hnsw, rule_of(chunker));
  graph.add(chunks);
  DenseRetriever<HashingTfidfEmbedder<float>> exact(embedder, rule_of(chunker));
  exact.add(chunks);
  BM25Retriever bm25(o.bm25);
  bm25.add(chunks);
  RetrieveOptions exact_search;
  exact_search.mode = RetrievalMode::dense;
  exact_search.exact = true;
  for (const std::string& q : titled_questions) {
    CAPTURE(q);
    test::same_results(index.retrieve(q, 5, RetrievalMode::dense), graph.retrieve(q, 5));
    const auto got = index.retrieve(q, 5, exact_search);
    const auto expected = exact.retrieve(q, 5);
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].chunk.id() == expected[i].chunk.id());
      CHECK(got[i].score == doctest::Approx(expected[i].score).epsilon(1e-6));
    }
    test::same_results(index.retrieve(q, 5, RetrievalMode::bm25), bm25.retrieve(q, 5));
  }
  // The titles are read by the dense side only: "handbook" is in no document's text.
  CHECK(index.retrieve("handbook", 3, RetrievalMode::bm25).empty());
  CHECK(index.retrieve("handbook", 1, exact_search).front().chunk.document_id == titled_documents()[0].id);
  CHECK(index.retrieve("manual", 1, exact_search).front().chunk.document_id == titled_documents()[1].id);

  // An IndexEmbedder: each stored vector is the embedder's vector of the chunk's embedding_text (as found
  // by an exact search over those vectors), and the query is embedded as it is.
  const IndexEmbedder fake = test::fake_embedder(128);
  const RagIndex with_model = RagIndex::build(titled_documents(), o, fake);
  ExactDenseIndex<float> reference(fake.dimension);
  reference.add(fake.embed(texts));
  for (const std::string& q : titled_questions) {
    CAPTURE(q);
    const auto hits = reference.search(fake.embed(std::span<const std::string>(&q, 1)), 8).front();
    const auto got = with_model.retrieve(q, 8, exact_search);
    REQUIRE(got.size() == hits.size());
    for (std::size_t i = 0; i < hits.size(); ++i) {
      CHECK(got[i].chunk.id() == chunks[static_cast<std::size_t>(hits[i].index)].id());
      CHECK(got[i].score == doctest::Approx(hits[i].score).epsilon(1e-6));
    }
  }
}

TEST_CASE("RagIndex: metadata_in_budget is saved; a tampered value is a FormatError; formats 3, 2 and 1 are read") {
  const fs::path folder = test::fresh_folder("metadata_roundtrip");
  const RagIndex index = RagIndex::build(titled_documents(), titled_options());
  index.save(folder.string());
  const nlohmann::json manifest = test::read_json(folder / "manifest.json");
  CHECK(manifest.at("version") == 4);
  {  // the rule docs/rag.md states, computed here on its own
    nlohmann::json without = manifest;
    without.erase("manifest_fnv1a64");
    CHECK(manifest.at("manifest_fnv1a64") == detail::rag::hex64(detail::rag::fnv1a(without.dump())));
  }
  CHECK(manifest.at("options").at("chunking").at("metadata_in_budget") == nlohmann::json::array({"title", "heading"}));
  const RagIndex loaded = RagIndex::load(folder.string());
  CHECK(loaded.options().chunking.metadata_in_budget == titled_options().chunking.metadata_in_budget);
  same_index(loaded, index);  // the hashing embedder refitted on load reads the same texts

  const IndexEmbedder fake = test::fake_embedder(128);
  const fs::path model_folder = test::fresh_folder("metadata_model");
  const RagIndex with_model = RagIndex::build(titled_documents(), titled_options(), fake);
  with_model.save(model_folder.string());
  same_index(RagIndex::load(model_folder.string(), fake), with_model);

  // Each edit is resealed (its checksum recomputed) so that the check after the checksum is the one reached.
  const auto loads_with = [&](const nlohmann::json& edited) {
    test::write_json(folder / "manifest.json", test::resealed(edited));
    return RagIndex::load(folder.string());
  };
  // Formats 1 to 3 carry no checksum.
  const auto loads_old = [&](nlohmann::json edited) {
    edited.erase("manifest_fnv1a64");
    test::write_json(folder / "manifest.json", edited);
    return RagIndex::load(folder.string());
  };
  nlohmann::json edited = manifest;
  edited["options"]["chunking"]["metadata_in_budget"] = nlohmann::json::array({"title", ""});
  CHECK_THROWS_NAMING(loads_with(edited), FormatError,
                      "holds invalid options: TextChunker: a key of metadata_in_budget");
  edited["options"]["chunking"]["metadata_in_budget"] = "title";
  CHECK_THROWS_NAMING(loads_with(edited), FormatError, "manifest.json' is malformed");
  edited["options"]["chunking"].erase("metadata_in_budget");
  CHECK_THROWS_NAMING(loads_with(edited), FormatError, "metadata_in_budget");
  edited = manifest;
  edited["version"] = 2;  // version 2 did not record the option: a manifest that does is not one
  CHECK_THROWS_NAMING(loads_old(edited), FormatError,
                      "has format version 2 and chunking.metadata_in_budget, which only version 3 on records");
  edited["version"] = 3;  // nor did version 3 record a checksum
  CHECK_THROWS_NAMING(loads_with(edited), FormatError,
                      "has format version 3 and manifest_fnv1a64, which only version 4 on records");
  for (const nlohmann::json& version : {nlohmann::json(5), nlohmann::json(0), nlohmann::json(4294967299ULL),
                                        nlohmann::json(2.5), nlohmann::json("4")}) {
    edited["version"] = version;
    const std::string expected = "has format version " + version.dump() + ", this library reads 1 to 4";
    CHECK_THROWS_NAMING(loads_with(edited), FormatError, expected.c_str());
  }
  test::write_json(folder / "manifest.json", manifest);
  same_index(RagIndex::load(folder.string()), index);

  // An edit that leaves a valid manifest (one metadata key for another) is found by the checksum, and a
  // manifest of format 4 without its checksum is refused.
  edited = manifest;
  edited["options"]["chunking"]["metadata_in_budget"] = nlohmann::json::array({"title"});
  test::write_json(folder / "manifest.json", edited);
  CHECK_THROWS_NAMING(RagIndex::load(folder.string()), FormatError,
                      "manifest.json' is corrupt: its content differs from its checksum");
  CHECK_NOTHROW(loads_with(edited));  // the same edit resealed is a valid index of other options
  edited["manifest_fnv1a64"] = 17;
  test::write_json(folder / "manifest.json", edited);
  CHECK_THROWS_NAMING(RagIndex::load(folder.string()), FormatError, "differs from its checksum");
  edited.erase("manifest_fnv1a64");
  test::write_json(folder / "manifest.json", edited);
  CHECK_THROWS_NAMING(RagIndex::load(folder.string()), FormatError, "has no manifest_fnv1a64 (its checksum)");
  // A layout of its own (indentation, key order) with the same content keeps the checksum.
  test::write_json(folder / "manifest.json", manifest);
  std::ofstream(folder / "manifest.json", std::ios::trunc) << manifest.dump(4);
  same_index(RagIndex::load(folder.string()), index);

  // An index of format 2 (and 1) without the option: read, the bare chunk texts embedded as before.
  RagIndexOptions plain = titled_options();
  plain.chunking.metadata_in_budget.clear();
  const RagIndex before = RagIndex::build(titled_documents(), plain);
  before.save(folder.string());
  nlohmann::json old = test::read_json(folder / "manifest.json");
  old["version"] = 3;
  same_index(loads_old(old), before);
  old["version"] = 2;
  old["options"]["chunking"].erase("metadata_in_budget");
  same_index(loads_old(old), before);
  CHECK(RagIndex::load(folder.string()).options().chunking.metadata_in_budget.empty());
  old["version"] = 1;
  old.erase("embedder");
  same_index(loads_old(old), before);
  fs::remove_all(folder);
  fs::remove_all(model_folder);
}

TEST_CASE("RagIndex: a budget the metadata leaves no room in is the chunker's InvalidArgument naming the document") {
  RagIndexOptions o = titled_options();
  o.chunking.size = 5;  // "title: Zebra handbook" and "heading: Feeding" take 5 words
  std::string chunker_message;
  try {
    (void)TextChunker(o.chunking).split(titled_documents()[0]);
  } catch (const InvalidArgument& e) {
    chunker_message = e.what();
  }
  REQUIRE(chunker_message.find("document " + titled_documents()[0].id + " (zebra.md)") != std::string::npos);
  CHECK(chunker_message.find("takes 5 of the chunk budget of 5 words") != std::string::npos);
  CHECK_THROWS_NAMING(RagIndex::build(titled_documents(), o), InvalidArgument, chunker_message.c_str());
  CHECK_THROWS_NAMING(RagIndex::build(titled_documents(), o, test::fake_embedder(128)), InvalidArgument,
                      chunker_message.c_str());
  o.chunking.metadata_in_budget = {"title", ""};
  CHECK_THROWS_NAMING(RagIndex::build(titled_documents(), o), InvalidArgument, "a key of metadata_in_budget is empty");
}

TEST_CASE("Retrievers with a ChunkText rule: add() embeds the rule's texts; an add() that throws changes nothing") {
  const RagIndexOptions o = titled_options();
  const TextChunker chunker(o.chunking);
  const std::vector<Document> docs = titled_documents();
  const std::vector<Chunk> chunks = chunker.split(std::span<const Document>(docs));
  HashingTfidfEmbedder<float> embedder(o.embedding);
  embedder.fit(embedding_texts(chunker, chunks));

  DenseRetriever<HashingTfidfEmbedder<float>> dense(embedder, rule_of(chunker));
  dense.add(chunks);
  // ExactDenseIndex keeps rows scaled to unit norm.
  const Matrix<float> expected = embedder.embed(embedding_texts(chunker, chunks)).rowwise().normalized();
  REQUIRE(dense.index().vectors().rows() == expected.rows());
  CHECK((dense.index().vectors() - expected).cwiseAbs().maxCoeff() <= 1e-6F);
  DenseRetriever<HashingTfidfEmbedder<float>> bare(embedder);  // no rule: the chunk's text
  bare.add(chunks);
  std::vector<std::string> plain_texts;
  for (const Chunk& c : chunks) plain_texts.push_back(c.text);
  CHECK((bare.index().vectors() - embedder.embed(plain_texts).rowwise().normalized()).cwiseAbs().maxCoeff() <= 1e-6F);

  // A rule that throws on the untitled document: nothing of the batch is added, to either side of a hybrid.
  const ChunkText strict = [chunker](const Chunk& c) {
    if (!c.metadata.contains("title")) throw std::runtime_error("no title for " + c.document_id);
    return chunker.embedding_text(c);
  };
  const std::span<const Chunk> all(chunks);
  const auto titled_end = std::ranges::find(chunks, docs[2].id, &Chunk::document_id) - chunks.begin();
  REQUIRE(titled_end > 0);
  const auto titled = all.first(static_cast<std::size_t>(titled_end));
  HnswRetriever<HashingTfidfEmbedder<float>> graph(embedder, o.hnsw, strict);
  graph.add(titled);
  HybridRetriever<HashingTfidfEmbedder<float>> hybrid(BM25Retriever(o.bm25), embedder, strict);
  hybrid.add(titled);
  const auto graph_before = graph.retrieve("water in the dry season", 4);
  const auto hybrid_before = hybrid.retrieve("water in the dry season", 4);
  CHECK_THROWS_NAMING(graph.add(all), std::runtime_error, "no title for");
  CHECK_THROWS_NAMING(hybrid.add(all), std::runtime_error, "no title for");
  CHECK(graph.size() == titled_end);
  CHECK(hybrid.size() == titled_end);
  CHECK(hybrid.dense().size() == titled_end);
  test::same_results(graph.retrieve("water in the dry season", 4), graph_before);
  test::same_results(hybrid.retrieve("water in the dry season", 4), hybrid_before);
}
