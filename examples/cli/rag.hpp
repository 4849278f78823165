#pragma once
// `aimastery rag`: index files, answer questions with citations, evaluate retrieval (examples/cli/rag.cpp).
//
//   aimastery rag index --input PATH... --out INDEX [--chunk-size 120] [--overlap 20] [--chunking recursive]
//   aimastery rag query --index INDEX [--k 5] [--mode hybrid] [--max-tokens 512] "question"
//   aimastery rag eval  --index INDEX --queries QUERIES --qrels QRELS [--k 10] [--mode hybrid]
//
// index reads .txt and .md files (folders are walked recursively, in sorted order) and writes a RagIndex
// folder (BM25 + hashed TF-IDF vectors in an HNSW graph). query prints JSON: the extractive answer with its
// citation labels, the context's passages [n] with document, source and byte offsets, the retrieved chunks
// with scores, and per-stage timings. eval reads queries ("id<TAB>text" per line) and TREC qrels whose
// document field is a document's source path as indexed, and prints trec_eval's measures as JSON (mean over
// queries, and per query).

#include <string>
#include <vector>

namespace cli {

struct RagIndexCommand {
  std::vector<std::string> inputs;
  std::string out;
  std::string chunking = "recursive";
  long chunk_size = 120;
  long overlap = 20;
};

struct RagQueryCommand {
  std::string index;
  std::string question;
  std::string mode = "hybrid";
  long k = 5;
  long max_tokens = 512;
};

struct RagEvalCommand {
  std::string index;
  std::string queries;
  std::string qrels;
  std::string mode = "hybrid";
  long k = 10;
};

int run_rag_index(const RagIndexCommand& c);
int run_rag_query(const RagQueryCommand& c);
int run_rag_eval(const RagEvalCommand& c);

}  // namespace cli
