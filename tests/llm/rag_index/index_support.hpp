#pragma once
// What the RAG index tests share: a fresh scratch folder, equal result lists, and a deterministic
// IndexEmbedder with weights of its own.
#include <aimastery/llm/rag/hashing_tfidf_embedder.hpp>
#include <aimastery/llm/rag/index_embedder.hpp>
#include <aimastery/llm/rag/retrieval_result.hpp>

#include <unistd.h>

#include <filesystem>
#include <memory>
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

}  // namespace aimastery::test
