#pragma once
// The documents of the RAG index tests: the BM25 reference corpus (tests/reference/gen_llm_rag_bm25.py),
// one document per text, named doc<i>.txt, optionally with the metadata n = i.
#include <aimastery/llm/rag/document.hpp>

#include <string>
#include <vector>

#include "support.hpp"

namespace aimastery::test {

inline std::vector<Document> reference_corpus_documents(bool numbered = false) {
  const auto texts = load_reference("llm_rag_bm25.json")["corpus"].get<std::vector<std::string>>();
  std::vector<Document> docs;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string source = "doc" + std::to_string(i) + ".txt";
    docs.push_back(numbered ? Document::from_source(source, texts[i], {{"n", std::to_string(i)}})
                            : Document::from_source(source, texts[i]));
  }
  return docs;
}

}  // namespace aimastery::test
