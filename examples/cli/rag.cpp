// `aimastery rag index|query|eval` (see rag.hpp).
#include "rag.hpp"

#include <aimastery/llm/rag/extractive_generator.hpp>
#include <aimastery/llm/rag/rag_index.hpp>
#include <aimastery/llm/rag/rag_pipeline.hpp>
#include <aimastery/llm/rag/retrieval_metrics.hpp>
#include <aimastery/llm/rag/trec_files.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "usage_error.hpp"

namespace cli {
namespace {

namespace fs = std::filesystem;
using aimastery::Index;

aimastery::RetrievalMode mode_of(const std::string& name) {
  if (name == "bm25") return aimastery::RetrievalMode::bm25;
  if (name == "dense") return aimastery::RetrievalMode::dense;
  return aimastery::RetrievalMode::hybrid;
}

// A RagIndex in one mode, as the Retriever the pipeline takes.
struct IndexInMode {
  const aimastery::RagIndex* index;
  aimastery::RetrievalMode mode;
  std::vector<aimastery::RetrievalResult> retrieve(std::string_view query, Index k) const {
    return index->retrieve(query, k, mode);
  }
};

bool indexable(const fs::path& p) { return p.extension() == ".txt" || p.extension() == ".md"; }

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + p.string() + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Files named on the command line as given; folders walked recursively, their .txt and .md files sorted.
std::vector<aimastery::Document> read_documents(const std::vector<std::string>& inputs) {
  std::vector<aimastery::Document> docs;
  for (const std::string& input : inputs) {
    std::vector<fs::path> files;
    if (fs::is_directory(input)) {
      for (const auto& e : fs::recursive_directory_iterator(input))
        if (e.is_regular_file() && indexable(e.path())) files.push_back(e.path());
      std::ranges::sort(files);
    } else {
      files.emplace_back(input);
    }
    for (const fs::path& f : files) docs.push_back(aimastery::Document::from_source(f.string(), read_text(f)));
  }
  return docs;
}

const aimastery::Document& document_named(const aimastery::RagIndex& index, const std::string& id) {
  return *std::ranges::find(index.documents(), id, &aimastery::Document::id);
}

}  // namespace

int run_rag_index(const RagIndexCommand& c) {
  if (c.overlap >= c.chunk_size)
    throw UsageError("--overlap (" + std::to_string(c.overlap) + ") must be smaller than --chunk-size (" +
                     std::to_string(c.chunk_size) + ")");
  const auto started = std::chrono::steady_clock::now();
  std::vector<aimastery::Document> docs = read_documents(c.inputs);
  if (docs.empty()) throw UsageError("no .txt or .md file under the --input paths");
  aimastery::RagIndexOptions options;
  options.chunking.strategy = c.chunking == "sentence"   ? aimastery::ChunkingStrategy::sentence
                              : c.chunking == "fixed"    ? aimastery::ChunkingStrategy::fixed
                              : c.chunking == "markdown" ? aimastery::ChunkingStrategy::markdown
                                                         : aimastery::ChunkingStrategy::recursive;
  options.chunking.size = c.chunk_size;
  options.chunking.overlap = c.overlap;
  const std::size_t n_docs = docs.size();
  const aimastery::RagIndex index = aimastery::RagIndex::build(std::move(docs), options);
  index.save(c.out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cerr << "indexed " << n_docs << " documents, " << index.chunks().size() << " chunks into " << c.out << " in "
            << seconds << " s\n";
  return 0;
}

int run_rag_query(const RagQueryCommand& c) {
  const aimastery::RagIndex index = aimastery::RagIndex::load(c.index);
  IndexInMode retriever{&index, mode_of(c.mode)};
  aimastery::RAGPipeline pipeline(retriever, aimastery::KeepRetrievalOrder{},
                                  aimastery::ContextAssembler(aimastery::count_words, {.max_tokens = c.max_tokens}),
                                  aimastery::ExtractiveGenerator{}, {.candidates = std::max<Index>(20, c.k), .k = c.k});
  const aimastery::RAGResponse r = pipeline.query(c.question);
  nlohmann::json passages = nlohmann::json::array();
  for (const aimastery::ContextPassage& p : r.context.passages)
    passages.push_back({{"number", p.number},
                        {"document_id", p.citation.document_id},
                        {"source", document_named(index, p.citation.document_id).source},
                        {"start", p.citation.start},
                        {"end", p.citation.end},
                        {"heading", p.citation.heading},
                        {"score", p.score},
                        {"text", p.text}});
  nlohmann::json sentences = nlohmann::json::array();
  for (const aimastery::AnswerSentence& s : r.answer.sentences)
    sentences.push_back({{"text", s.text},
                         {"passage", s.passage},
                         {"document_id", s.citation.document_id},
                         {"start", s.citation.start},
                         {"end", s.citation.end}});
  nlohmann::json retrieved = nlohmann::json::array();
  for (const aimastery::RetrievalResult& x : r.retrieved)
    retrieved.push_back({{"rank", x.rank},
                         {"score", x.score},
                         {"document_id", x.citation.document_id},
                         {"source", document_named(index, x.citation.document_id).source},
                         {"start", x.citation.start},
                         {"end", x.citation.end}});
  const nlohmann::json out = {{"question", r.question},
                              {"answer", r.answer.text},
                              {"cited", r.answer.cited},
                              {"answer_sentences", sentences},
                              {"citations", passages},
                              {"retrieved", retrieved},
                              {"timings_ms",
                               {{"retrieve", r.timings.retrieve_ms},
                                {"rerank", r.timings.rerank_ms},
                                {"assemble", r.timings.assemble_ms},
                                {"generate", r.timings.generate_ms},
                                {"total", r.timings.total_ms}}}};
  std::cout << out.dump(2) << "\n";
  return 0;
}

int run_rag_eval(const RagEvalCommand& c) {
  const aimastery::RagIndex index = aimastery::RagIndex::load(c.index);
  const aimastery::Qrels qrels = aimastery::read_trec_qrels(c.qrels);
  std::ifstream in(c.queries);
  std::string line;
  std::size_t line_number = 0;
  aimastery::Run run;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos || tab == 0)
      throw UsageError(c.queries + ":" + std::to_string(line_number) + ": expected \"id<TAB>text\"");
    const std::string id = line.substr(0, tab), text = line.substr(tab + 1);
    // A document's score is its best chunk's; chunks are fetched deep enough to rank k documents.
    aimastery::RunScores& scores = run[id];
    for (const aimastery::RetrievalResult& r : index.retrieve(text, 5 * c.k, mode_of(c.mode))) {
      const std::string& source = document_named(index, r.citation.document_id).source;
      if (scores.size() >= static_cast<std::size_t>(c.k) && !scores.contains(source)) continue;
      auto [it, inserted] = scores.emplace(source, r.score);
      if (!inserted) it->second = std::max(it->second, r.score);
    }
  }
  const auto per_query = aimastery::evaluate_run(qrels, run, {.cutoffs = {1, 5, c.k}});
  const nlohmann::json out = {{"queries", per_query.size()},
                              {"k", c.k},
                              {"mode", c.mode},
                              {"mean", aimastery::mean_over_queries(per_query)},
                              {"per_query", per_query}};
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace cli
