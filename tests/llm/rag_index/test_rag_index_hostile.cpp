// RagIndex::load on hostile folders whose files are consistent (checksums and counts resealed) but ask for
// memory out of proportion to their bytes: an index without chunks recording a huge embedding dimension
// (the hashing embedder is not fitted on it: an empty index answers every query with nothing), and
// chunks.json naming the same large range of a document again and again (the chunk count is checked
// against the graph before any chunk is read, and the chunks' texts must not sum to more than the chunking
// options can cover each byte of a document with). Real indexes of extreme overlaps still load.
#include <aimastery/llm/rag/hnsw_index.hpp>
#include <aimastery/llm/rag/rag_index.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llm/rag_index/index_support.hpp"
#include "llm/rag_index/reference_corpus.hpp"
#include "support.hpp"

using namespace aimastery;
namespace fs = std::filesystem;

namespace {

std::string hostile_read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void hostile_write(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

// The manifest made consistent with the folder's files again (sizes, checksums, counts, its own checksum),
// so that load reaches the checks after them.
void hostile_reseal(const fs::path& folder, nlohmann::json manifest, std::size_t documents, std::size_t chunks) {
  for (const char* name : {"documents.json", "chunks.json", "graph.hnsw"}) {
    const std::string bytes = hostile_read(folder / name);
    manifest["files"][name] = {{"bytes", bytes.size()}, {"fnv1a64", detail::rag::hex64(detail::rag::fnv1a(bytes))}};
  }
  manifest["documents"] = documents;
  manifest["chunks"] = chunks;
  test::write_json(folder / "manifest.json", test::resealed(manifest));
}

const RagIndexOptions hostile_options{
    .chunking = {.strategy = ChunkingStrategy::recursive, .unit = ChunkUnit::words, .size = 25, .overlap = 5},
    .embedding = {.dimension = 64},
    .hnsw = {.M = 4, .ef_construction = 16, .ef = 16}};

// One document of `words` words ("w0 w1 …").
Document hostile_long_document(std::size_t words) {
  std::string text;
  for (std::size_t i = 0; i < words; ++i) text += (i ? " w" : "w") + std::to_string(i);
  return Document::from_source("long.txt", text);
}

}  // namespace

TEST_CASE("RagIndex: an index without chunks loads without memory for its recorded dimension") {
  const fs::path folder = test::fresh_folder("hostile_dimension");
  const RagIndex empty = RagIndex::build({}, hostile_options);  // build() accepts no documents: so does load()
  empty.save(folder.string());
  CHECK(RagIndex::load(folder.string()).chunks().empty());

  // The same empty index recording dimension 2^22: its files hold no vector, and fitting the hashing
  // embedder on it took ~25 bytes per dimension (100 MB here, 27 GB at the limit 2^30).
  constexpr Index dimension = Index{1} << 22;
  nlohmann::json manifest = test::read_json(folder / "manifest.json");
  manifest["options"]["embedding"]["dimension"] = dimension;
  manifest["embedder"]["dimension"] = dimension;
  HnswIndex<float>(dimension, hostile_options.hnsw).save((folder / "graph.hnsw").string());
  hostile_reseal(folder, manifest, 0, 0);
  std::uintmax_t folder_bytes = 0;
  for (const auto& entry : fs::directory_iterator(folder)) folder_bytes += entry.file_size();
  CHECK(folder_bytes < 2000);

  const std::int64_t before = test::peak_resident_bytes(/*reset_first=*/true);
  {
    const RagIndex loaded = RagIndex::load(folder.string());
    CHECK(loaded.chunks().empty());
    CHECK(loaded.dense_dimension() == dimension);
    RetrieveOptions mmr;
    mmr.mmr_lambda = 0.5;
    CHECK(loaded.retrieve("anything at all", 5, mmr).empty());
    for (const RetrievalMode mode : {RetrievalMode::bm25, RetrievalMode::dense, RetrievalMode::hybrid})
      CHECK(loaded.retrieve("anything at all", 5, mode).empty());
    CHECK_THROWS_NAMING(loaded.retrieve("anything", 0), InvalidArgument, "k must be at least 1");
  }
  const std::int64_t after = test::peak_resident_bytes();
  if (before == 0 || after == 0) {
    MESSAGE("the peak resident size cannot be reset here: the memory bound is not checked");
  } else {
    CAPTURE(after - before);
    CHECK(after - before < 24 * 1024 * 1024);  // a few MB of noise; fitting the embedder took ~100 MB
  }
  fs::remove_all(folder);
}

TEST_CASE("RagIndex: chunks whose texts sum to more than the chunking covers are refused before any is copied") {
  const fs::path folder = test::fresh_folder("hostile_chunks");
  const Document document = hostile_long_document(200);
  const std::size_t T = document.text.size();
  const RagIndex index = RagIndex::build({document}, hostile_options);
  const std::size_t n = index.chunks().size();
  REQUIRE(n > 6);  // more chunks than recursive chunking with overlap 5 can put one byte in (overlap + 1)
  index.save(folder.string());
  const nlohmann::json manifest = test::read_json(folder / "manifest.json");
  CHECK_NOTHROW((void)RagIndex::load(folder.string()));

  // As many chunks as the graph holds vectors, each the whole document: n copies of it.
  nlohmann::json whole = nlohmann::json::array();
  for (std::size_t i = 0; i < n; ++i) whole.push_back({0, 0, T, ""});
  hostile_write(folder / "chunks.json", whole.dump());
  hostile_reseal(folder, manifest, 1, n);
  const std::string expected = "chunks.json' holds chunks of document " + document.id +
                               " whose texts sum to more than 6 × its " + std::to_string(T) + " bytes";
  CHECK_THROWS_NAMING(RagIndex::load(folder.string()), FormatError, expected.c_str());
  CHECK_THROWS_NAMING(RagIndex::load(folder.string()), FormatError, "recursive chunking of size 25 and overlap 5");

  // Fixed windows without overlap hold each byte once.
  nlohmann::json fixed = manifest;
  fixed["options"]["chunking"]["strategy"] = static_cast<int>(ChunkingStrategy::fixed);
  fixed["options"]["chunking"]["overlap"] = 0;
  nlohmann::json twice = nlohmann::json::array({{0, 0, T / 2 + 1, ""}, {0, T / 2, T, ""}});
  hostile_write(folder / "chunks.json", twice.dump());
  HnswIndex<float> two(64, hostile_options.hnsw);
  two.add(Matrix<float>::Identity(2, 64));
  two.save((folder / "graph.hnsw").string());
  hostile_reseal(folder, fixed, 1, 2);
  CHECK_THROWS_NAMING(RagIndex::load(folder.string()), FormatError, "sum to more than 1 × its");
  twice[0][2] = T / 2;  // the two halves: each byte once
  hostile_write(folder / "chunks.json", twice.dump());
  hostile_reseal(folder, fixed, 1, 2);
  CHECK(RagIndex::load(folder.string()).chunks().size() == 2);

  // A chunk is never empty.
  twice[1] = {0, T / 2, T / 2, ""};
  hostile_write(folder / "chunks.json", twice.dump());
  hostile_reseal(folder, fixed, 1, 2);
  const std::string empty_chunk = "chunks.json' holds the empty chunk [" + std::to_string(T / 2);
  CHECK_THROWS_NAMING(RagIndex::load(folder.string()), FormatError, empty_chunk.c_str());
  fs::remove_all(folder);
}

TEST_CASE("RagIndex: the chunk count is checked against the graph before any chunk is read") {
  const fs::path folder = test::fresh_folder("hostile_count");
  const Document document = hostile_long_document(20);
  const std::size_t T = document.text.size();
  RagIndex::build({document}, hostile_options).save(folder.string());
  REQUIRE(RagIndex::load(folder.string()).chunks().size() == 1);
  // 5000 copies of the document for a graph of one vector (the last one outside the document): the count
  // is refused before the chunks are read, so the range is never reached.
  nlohmann::json many = nlohmann::json::array();
  for (int i = 0; i < 5000; ++i) many.push_back({0, 0, T, ""});
  many.push_back({0, 0, T + 1, ""});
  hostile_write(folder / "chunks.json", many.dump());
  hostile_reseal(folder, test::read_json(folder / "manifest.json"), 1, 5001);
  CHECK_THROWS_NAMING(RagIndex::load(folder.string()), FormatError,
                      "graph.hnsw' holds 1 vectors of dimension 64 for 5001 chunks");
  fs::remove_all(folder);
}

TEST_CASE("RagIndex: real indexes of extreme overlaps load (each byte in at most overlap + 1 chunks)") {
  std::vector<Document> docs = test::reference_corpus_documents();
  docs.resize(6);
  docs.push_back(Document::from_source("spaces.md", "# A\nx    y\n\n\n   z.  w!\n## B\n" + std::string(40, ' ') +
                                                        "long\twords   é日本 here. and\n\nthere"));
  const fs::path folder = test::fresh_folder("extreme_overlap");
  for (const ChunkingStrategy strategy :
       {ChunkingStrategy::fixed, ChunkingStrategy::sentence, ChunkingStrategy::recursive, ChunkingStrategy::markdown})
    for (const ChunkUnit unit : {ChunkUnit::characters, ChunkUnit::words})
      for (const auto& [size_, overlap_] : {std::pair<Index, Index>{2, 1}, {5, 4}, {12, 6}, {30, 29}}) {
        const Index size = size_, overlap = overlap_;
        CAPTURE(static_cast<int>(strategy));
        CAPTURE(static_cast<int>(unit));
        CAPTURE(size);
        CAPTURE(overlap);
        RagIndexOptions o = hostile_options;
        o.embedding.dimension = 8;
        o.hnsw = {.M = 2, .ef_construction = 4, .ef = 4};
        o.chunking = {.strategy = strategy, .unit = unit, .size = size, .overlap = overlap};
        const RagIndex index = RagIndex::build(docs, o);
        index.save(folder.string());
        CHECK(RagIndex::load(folder.string()).chunks().size() == index.chunks().size());
      }
  fs::remove_all(folder);
}
