#pragma once
// `aimastery rag`: index files, answer questions with citations, evaluate retrieval (examples/cli/rag.cpp).
//
//   aimastery rag index --input PATH... --out INDEX [--embedder hashing|minilm] [--model-dir DIR]
//                       [--chunk-size 120] [--overlap 20] [--chunking recursive] [--embed-heading]
//   aimastery rag query --index INDEX [--k 5] [--mode hybrid] [--exact] [--mmr LAMBDA] [--max-tokens 512]
//                       [--model-dir DIR] ("question" | --queries QUERIES)
//   aimastery rag eval  --index INDEX --queries QUERIES --qrels QRELS [--k 10] [--mode hybrid] [--exact]
//                       [--mmr LAMBDA] [--model-dir DIR] [--run RUN]
//
// index reads .txt and .md files (folders are walked recursively, in sorted order) and writes a RagIndex
// folder: BM25, and dense vectors in an HNSW graph from the hashing TF-IDF embedder (the default) or the
// MiniLM sentence encoder of --model-dir (default $AIMASTERY_MINILM_DIR), whose identity (a hash of its
// files) the index records. --embed-heading (with --chunking markdown) has the embedder read each chunk's
// heading path as a line "heading: A > B" before its text, counted in --chunk-size. query and eval re-create the
// recorded embedder from the folder it was read from (or --model-dir) and refuse a model whose files differ. --exact
// searches the dense side exactly instead of through the graph; --mmr reranks by maximal marginal relevance with that
// λ. query prints JSON: the extractive answer with its citation labels, the context's passages [n] with document,
// source and byte offsets, the retrieved chunks with scores, and per-stage timings; with
// --queries ("id<TAB>text" per line) one such JSON object per line, with the query's id. eval reads queries
// and TREC qrels whose document field is a document's source path as indexed, prints trec_eval's measures
// as JSON (mean over queries, and per query), and with --run writes the ranking as a TREC run file.

#include <string>
#include <vector>

namespace cli {

struct RagIndexCommand {
  std::vector<std::string> inputs;
  std::string out;
  std::string chunking = "recursive";
  long chunk_size = 120;
  long overlap = 20;
  bool embed_heading = false;  ///< markdown: the heading path is embedded with each chunk, inside its budget
  std::string embedder = "hashing";
  std::string model_dir;  ///< minilm: the model folder (default $AIMASTERY_MINILM_DIR)
};

/// How query and eval search an index (see RetrieveOptions).
struct RagSearchFlags {
  std::string mode = "hybrid";
  bool exact = false;
  double mmr = -1;        ///< < 0: no MMR
  std::string model_dir;  ///< overrides the model folder recorded in the index
};

struct RagQueryCommand {
  std::string index;
  std::string question;
  std::string queries;  ///< "id<TAB>text" per line, instead of the question
  RagSearchFlags search;
  long k = 5;
  long max_tokens = 512;
};

struct RagEvalCommand {
  std::string index;
  std::string queries;
  std::string qrels;
  std::string run;  ///< when set, the ranking is written there as a TREC run
  RagSearchFlags search;
  long k = 10;
};

int run_rag_index(const RagIndexCommand& c);
int run_rag_query(const RagQueryCommand& c);
int run_rag_eval(const RagEvalCommand& c);

}  // namespace cli
