#pragma once
// What the RAG index tests share: a fresh scratch folder, small index options and questions about the
// reference corpus, equal result lists, a deterministic IndexEmbedder with weights of its own, and manifests
// read, edited and written back.
#include <aimastery/llm/rag/hashing_tfidf_embedder.hpp>
#include <aimastery/llm/rag/index_embedder.hpp>
#include <aimastery/llm/rag/rag_index.hpp>
#include <aimastery/llm/rag/retrieval_result.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "support.hpp"

namespace aimastery::test {

/// An empty path in the temporary folder, named after the test and the process.
inline std::filesystem::path fresh_folder(const std::string& name) {
  const auto p =
      std::filesystem::temp_directory_path() / ("aimastery_rag_index_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  return p;
}

/// Options for an index of the reference corpus: chunks of 25 words overlapping by 5, a small HNSW graph.
inline RagIndexOptions index_options() {
  RagIndexOptions o;
  o.chunking.unit = ChunkUnit::words;
  o.chunking.size = 25;
  o.chunking.overlap = 5;
  o.hnsw.M = 8;
  o.hnsw.ef_construction = 64;
  o.hnsw.ef = 32;
  return o;
}

/// Questions about the reference corpus (the docstrings of Python standard-library modules).
inline const std::vector<std::string> questions = {"return the absolute value", "sort a list in place", "open a file",
                                                   "split a string at whitespace"};

/// The same chunks and ranks in the same order, scores within `tolerance`.
inline void equal_results(const std::vector<RetrievalResult>& a, const std::vector<RetrievalResult>& b,
                          double tolerance) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].chunk.id() == b[i].chunk.id());
    CHECK(std::abs(a[i].score - b[i].score) <= tolerance);
    CHECK(a[i].rank == b[i].rank);
  }
}

/// The same chunks, texts, scores and ranks, in the same order.
inline void same_results(const std::vector<RetrievalResult>& a, const std::vector<RetrievalResult>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].chunk.id() == b[i].chunk.id());
    CHECK(a[i].chunk.text == b[i].chunk.text);
    CHECK(a[i].score == b[i].score);
    CHECK(a[i].rank == b[i].rank);
  }
}

/// A deterministic embedder with weights of its own: a hashing TF-IDF embedder fitted on fixed texts, so
/// that its vectors do not depend on the chunks (as a model's do not).
inline IndexEmbedder fake_embedder(Index dimension = 64, std::string model = "fake-v1") {
  HashingTfidfOptions o;
  o.dimension = dimension;
  auto hashing = std::make_shared<HashingTfidfEmbedder<float>>(o);
  hashing->fit(std::vector<std::string>{"return value", "list sort", "file open read write", "string split"});
  IndexEmbedder e;
  e.name = "fake";
  e.model = std::move(model);
  e.source = "memory";
  e.dimension = dimension;
  e.embed = [hashing](std::span<const std::string> texts) { return hashing->embed(texts); };
  return e;
}

inline nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

inline void write_json(const std::filesystem::path& p, const nlohmann::json& j) {
  std::ofstream(p, std::ios::trunc) << j.dump(1);
}

/// An edited manifest of format 4 with its checksum recomputed, so that a test reaches the check after it.
inline nlohmann::json resealed(nlohmann::json manifest) {
  const std::string checksum = RagIndex::manifest_checksum(JsonValue::parse(manifest.dump()));
  manifest["manifest_fnv1a64"] = checksum;
  return manifest;
}

}  // namespace aimastery::test
