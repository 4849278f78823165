#pragma once
// The dense retrieval tests' corpus: one chunk per text, the whole of a document named doc<i>.
#include <aimastery/llm/rag/document.hpp>

#include <string>
#include <vector>

namespace aimastery::test {

inline std::vector<Chunk> corpus_chunks(const std::vector<std::string>& texts) {
  std::vector<Chunk> chunks;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Document doc = Document::from_source("doc" + std::to_string(i), texts[i]);
    chunks.push_back({doc.id, 0, doc.text.size(), doc.text, {}, {}});
  }
  return chunks;
}

}  // namespace aimastery::test
