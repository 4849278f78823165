// RagIndex on 64 standard-library docstrings (the BM25 reference corpus): each mode equals the retriever it
// stands for (BM25Retriever, HnswRetriever over the same hashed TF-IDF, their RRF), save and load give the
// same results, a save over an index replaces it, and every damaged file (each byte flipped in turn in the
// small files, truncations, a missing file) is a FormatError naming the file (or, for a flip in the recorded
// embedder's name, an InvalidArgument naming that embedder); bad options are refused.
#include <aimastery/llm/rag/hnsw_retriever.hpp>
#include <aimastery/llm/rag/rag_index.hpp>

#include <filesystem>
#include <fstream>

#include "llm/rag_index/index_support.hpp"
#include "llm/rag_index/reference_corpus.hpp"
#include "support.hpp"

using namespace aimastery;
namespace fs = std::filesystem;

namespace {

const RagIndexOptions small_options{
    .chunking = {.strategy = ChunkingStrategy::recursive, .unit = ChunkUnit::words, .size = 25, .overlap = 5},
    .embedding = {.dimension = 512},
    .hnsw = {.M = 8, .ef_construction = 64, .ef = 32}};

const std::vector<std::string> queries = {"return the absolute value", "sort a list in place", "open a file",
                                          "split a string at whitespace", "zzz unknown words"};

}  // namespace

TEST_CASE("RagIndex: each mode equals the retriever it stands for") {
  const std::vector<Document> docs = test::reference_corpus_documents(true);
  const RagIndex index = RagIndex::build(docs, small_options);
  std::vector<Chunk> chunks;
  const TextChunker chunker(small_options.chunking);
  for (const Document& d : docs)
    for (Chunk& c : chunker.split(d)) chunks.push_back(std::move(c));
  REQUIRE(index.chunks().size() == chunks.size());
  for (std::size_t i = 0; i < chunks.size(); ++i) CHECK(index.chunks()[i].id() == chunks[i].id());

  BM25Retriever bm25(small_options.bm25);
  bm25.add(chunks);
  HashingTfidfEmbedder<float> embedder(small_options.embedding);
  std::vector<std::string> texts;
  for (const Chunk& c : chunks) texts.push_back(c.text);
  embedder.fit(texts);
  HnswRetriever<HashingTfidfEmbedder<float>> dense(embedder, small_options.hnsw);
  dense.add(chunks);
  for (const std::string& q : queries) {
    CAPTURE(q);
    test::same_results(index.retrieve(q, 5, RetrievalMode::bm25), bm25.retrieve(q, 5));
    test::same_results(index.retrieve(q, 5, RetrievalMode::dense), dense.retrieve(q, 5));
    test::same_results(index.retrieve(q, 5, RetrievalMode::hybrid),
                       reciprocal_rank_fusion({bm25.retrieve(q, 50), dense.retrieve(q, 50)}, 5));
  }
}

TEST_CASE("RagIndex: save and load give the same index; a second save replaces the first") {
  const fs::path folder = test::fresh_folder("roundtrip");
  const RagIndex index = RagIndex::build(test::reference_corpus_documents(true), small_options);
  index.save(folder.string());
  const RagIndex loaded = RagIndex::load(folder.string());
  REQUIRE(loaded.documents().size() == index.documents().size());
  for (std::size_t i = 0; i < index.documents().size(); ++i) {
    CHECK(loaded.documents()[i].id == index.documents()[i].id);
    CHECK(loaded.documents()[i].metadata == index.documents()[i].metadata);
  }
  for (const std::string& q : queries)
    for (const RetrievalMode mode : {RetrievalMode::bm25, RetrievalMode::dense, RetrievalMode::hybrid})
      test::same_results(loaded.retrieve(q, 7, mode), index.retrieve(q, 7, mode));

  const RagIndex other = RagIndex::build({Document::from_source("one.txt", "a single tiny document")}, small_options);
  other.save(folder.string());
  CHECK(RagIndex::load(folder.string()).documents().size() == 1);
  // Nothing is left beside the folder (the staging folder held the old index and is gone).
  for (const auto& entry : fs::directory_iterator(folder.parent_path()))
    CHECK(entry.path().filename().string().find(".aimastery_rag_index_roundtrip") == std::string::npos);
  fs::remove_all(folder);
}

TEST_CASE("RagIndex: every damaged file is a FormatError naming it") {
  const fs::path folder = test::fresh_folder("damaged");
  const std::vector<Document> docs = {Document::from_source("a.md", "Alpha beta gamma. Delta epsilon."),
                                      Document::from_source("b.md", "Zeta eta theta iota kappa.")};
  RagIndex::build(docs, small_options).save(folder.string());
  const auto read = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const auto write = [](const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
  };
  std::size_t cases = 0;
  for (const char* name : {"manifest.json", "documents.json", "chunks.json", "graph.hnsw"}) {
    CAPTURE(name);
    const fs::path file = folder / name;
    const std::string original = read(file);
    // Every byte of the small files flipped in turn; a sample of the graph's.
    const std::size_t step = original.size() > 4096 ? 97 : 1;
    for (std::size_t at = 0; at < original.size(); at += step) {
      std::string damaged = original;
      damaged[at] = static_cast<char>(damaged[at] ^ 0x5A);
      write(file, damaged);
      // Every flip is found: the manifest by its own checksum, the other files by the manifest's.
      try {
        (void)RagIndex::load(folder.string());
        FAIL("a damaged " << name << " was read");
      } catch (const FormatError& e) {
        CHECK(std::string(e.what()).find(folder.string()) != std::string::npos);
        ++cases;
      }
    }
    for (const std::size_t keep : {std::size_t{0}, original.size() / 2, original.size() - 1}) {
      write(file, original.substr(0, keep));
      CHECK_THROWS_AS((void)RagIndex::load(folder.string()), FormatError);
    }
    write(file, original);
  }
  CHECK(cases > 100);
  fs::remove(folder / "chunks.json");
  CHECK_THROWS_NAMING((void)RagIndex::load(folder.string()), FormatError, "chunks.json' cannot be read");
  CHECK_THROWS_NAMING((void)RagIndex::load((folder / "missing").string()), FormatError, "manifest.json");
  fs::remove_all(folder);
}

TEST_CASE("RagIndex: bad options, duplicate ids, k and a target that is not an index are refused") {
  const std::vector<Document> docs = {Document::from_source("a.md", "Alpha beta.")};
  RagIndexOptions tokens = small_options;
  tokens.chunking.unit = ChunkUnit::tokens;
  CHECK_THROWS_NAMING((void)RagIndex::build(docs, tokens), InvalidArgument, "token chunking needs a tokenizer");
  RagIndexOptions depth = small_options;
  depth.fusion_depth = 0;
  CHECK_THROWS_NAMING((void)RagIndex::build(docs, depth), InvalidArgument, "fusion_depth");
  RagIndexOptions hnsw = small_options;
  hnsw.hnsw.M = 1;
  CHECK_THROWS_AS((void)RagIndex::build(docs, hnsw), InvalidArgument);
  CHECK_THROWS_NAMING((void)RagIndex::build({docs[0], docs[0]}, small_options), InvalidArgument,
                      "two documents have the id");
  const RagIndex index = RagIndex::build(docs, small_options);
  CHECK_THROWS_NAMING((void)index.retrieve("alpha", 0), InvalidArgument, "k must be at least 1");
  const fs::path not_an_index = test::fresh_folder("not_an_index");
  fs::create_directories(not_an_index);
  std::ofstream(not_an_index / "keep.txt") << "user data";
  CHECK_THROWS_NAMING(index.save(not_an_index.string()), InvalidArgument, "is not a RAG index folder");
  CHECK(fs::exists(not_an_index / "keep.txt"));
  fs::remove_all(not_an_index);
}
