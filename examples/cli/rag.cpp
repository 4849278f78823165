// `aimastery rag index|query|eval` (see rag.hpp).
#include "rag.hpp"

#include <aimastery/io/json.hpp>
#include <aimastery/llm/rag/extractive_generator.hpp>
#include <aimastery/llm/rag/rag_index.hpp>
#include <aimastery/llm/rag/rag_pipeline.hpp>
#include <aimastery/llm/rag/retrieval_metrics.hpp>
#include <aimastery/llm/rag/sentence_encoder_embedder.hpp>
#include <aimastery/llm/rag/trec_files.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "usage_error.hpp"

namespace cli {
namespace {

namespace fs = std::filesystem;
using aimastery::Index;
using aimastery::JsonValue;

aimastery::RetrieveOptions search_options(const RagSearchFlags& f) {
  if (f.mmr > 1) throw UsageError("--mmr takes a lambda in [0, 1], got " + std::to_string(f.mmr));
  aimastery::RetrieveOptions how;
  how.mode = f.mode == "bm25"    ? aimastery::RetrievalMode::bm25
             : f.mode == "dense" ? aimastery::RetrievalMode::dense
                                 : aimastery::RetrievalMode::hybrid;
  how.exact = f.exact;
  if (f.mmr >= 0) how.mmr_lambda = f.mmr;
  return how;
}

// A RagIndex searched one way, as the Retriever the pipeline takes.
struct IndexInMode {
  const aimastery::RagIndex* index;
  aimastery::RetrieveOptions how;
  std::vector<aimastery::RetrievalResult> retrieve(std::string_view query, Index k) const {
    return index->retrieve(query, k, how);
  }
};

// The MiniLM embedder of `dir`, with the flag that named the folder in the errors.
aimastery::IndexEmbedder minilm_from(const std::string& dir, const std::string& named_by) {
  if (dir.empty())
    throw UsageError("--embedder minilm needs the model folder: --model-dir DIR or $AIMASTERY_MINILM_DIR");
  if (!fs::is_directory(dir))
    throw UsageError("the MiniLM model folder '" + dir + "' (" + named_by +
                     ") is not a directory; fetch it with tools/fetch_minilm.sh DIR");
  return aimastery::sentence_encoder_index_embedder(dir);
}

// Loads an index with the embedder it was built with: the built-in hashing one, or MiniLM from the folder
// recorded in the index (or --model-dir). A model whose files differ from the recorded ones is refused.
aimastery::RagIndex load_index(const std::string& folder, const std::string& model_dir) {
  const aimastery::IndexEmbedder recorded = aimastery::RagIndex::recorded_embedder(folder);
  if (recorded.name == "hashing") {
    if (!model_dir.empty())
      throw UsageError("--model-dir: the index '" + folder + "' was built with the hashing embedder, not a model");
    return aimastery::RagIndex::load(folder);
  }
  if (recorded.name != "minilm")
    throw UsageError("the index '" + folder + "' was built with the embedder '" + recorded.name +
                     "', which this tool cannot create (it knows hashing and minilm)");
  const bool recorded_dir = model_dir.empty();
  return aimastery::RagIndex::load(
      folder,
      minilm_from(recorded_dir ? recorded.source : model_dir,
                  recorded_dir ? "recorded in the index; pass --model-dir to read it elsewhere" : "--model-dir"));
}

// Queries, "id<TAB>text" per line (empty lines skipped).
std::vector<std::pair<std::string, std::string>> read_queries(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read the queries '" + path + "'");
  std::vector<std::pair<std::string, std::string>> out;
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos || tab == 0)
      throw UsageError(path + ":" + std::to_string(line_number) + ": expected \"id<TAB>text\"");
    out.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return out;
}

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

/// The per-stage timings of a query, in milliseconds.
JsonValue timings_json(const aimastery::RAGTimings& t) {
  return JsonValue::object({{"retrieve", t.retrieve_ms},
                            {"rerank", t.rerank_ms},
                            {"assemble", t.assemble_ms},
                            {"generate", t.generate_ms},
                            {"total", t.total_ms}});
}

}  // namespace

int run_rag_index(const RagIndexCommand& c) {
  if (c.overlap >= c.chunk_size)
    throw UsageError("--overlap (" + std::to_string(c.overlap) + ") must be smaller than --chunk-size (" +
                     std::to_string(c.chunk_size) + ")");
  if (c.embed_heading && c.chunking != "markdown")
    throw UsageError(
        "--embed-heading needs --chunking markdown (only Markdown sections have headings), got --chunking " +
        c.chunking);
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
  if (c.embed_heading) options.chunking.metadata_in_budget = {"heading"};
  const std::size_t n_docs = docs.size();
  std::optional<aimastery::RagIndex> index;
  if (c.embedder == "minilm") {
    const char* env = std::getenv("AIMASTERY_MINILM_DIR");
    const std::string dir = !c.model_dir.empty() ? c.model_dir : env != nullptr ? env : "";
    const auto progress = [](Index done, Index total) {
      constexpr int width = 40;
      const int filled = static_cast<int>(width * done / total);
      std::cerr << "\rembedding chunks [" << std::string(static_cast<std::size_t>(filled), '#')
                << std::string(static_cast<std::size_t>(width - filled), '.') << "] " << done << '/' << total
                << (done == total ? "\n" : "") << std::flush;
    };
    index.emplace(aimastery::RagIndex::build(
        std::move(docs), options, minilm_from(dir, c.model_dir.empty() ? "$AIMASTERY_MINILM_DIR" : "--model-dir"),
        progress));
  } else {
    if (!c.model_dir.empty()) throw UsageError("--model-dir is for --embedder minilm");
    index.emplace(aimastery::RagIndex::build(std::move(docs), options));
  }
  index->save(c.out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cerr << "indexed " << n_docs << " documents, " << index->chunks().size() << " chunks into " << c.out
            << " (embedder " << index->embedder_name() << ") in " << seconds << " s\n";
  return 0;
}

int run_rag_query(const RagQueryCommand& c) {
  if (c.question.empty() == c.queries.empty()) throw UsageError("give either a question or --queries FILE");
  const auto how = search_options(c.search);
  const auto load_started = std::chrono::steady_clock::now();
  const aimastery::RagIndex index = load_index(c.index, c.search.model_dir);
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_started).count();
  IndexInMode retriever{&index, how};
  aimastery::RAGPipeline pipeline(retriever, aimastery::KeepRetrievalOrder{},
                                  aimastery::ContextAssembler(aimastery::count_words, {.max_tokens = c.max_tokens}),
                                  aimastery::ExtractiveGenerator{}, {.candidates = std::max<Index>(20, c.k), .k = c.k});
  if (!c.queries.empty()) {
    // One JSON object per line: the query's id, the answer, the retrieved chunks and the timings.
    std::cerr << "index loaded in " << load_ms << " ms\n";
    for (const auto& [id, text] : read_queries(c.queries)) {
      const aimastery::RAGResponse r = pipeline.query(text);
      JsonValue retrieved = JsonValue::array();
      for (const aimastery::RetrievalResult& x : r.retrieved)
        retrieved.push_back(JsonValue::object({{"rank", x.rank},
                                               {"score", x.score},
                                               {"source", document_named(index, x.citation.document_id).source},
                                               {"start", x.citation.start},
                                               {"end", x.citation.end}}));
      const JsonValue out = JsonValue::object(
          {{"id", id}, {"answer", r.answer.text}, {"retrieved", retrieved}, {"timings_ms", timings_json(r.timings)}});
      std::cout << out.dump() << "\n";
    }
    return std::cout ? 0 : 1;
  }
  const aimastery::RAGResponse r = pipeline.query(c.question);
  JsonValue passages = JsonValue::array();
  for (const aimastery::ContextPassage& p : r.context.passages)
    passages.push_back(JsonValue::object({{"number", p.number},
                                          {"document_id", p.citation.document_id},
                                          {"source", document_named(index, p.citation.document_id).source},
                                          {"start", p.citation.start},
                                          {"end", p.citation.end},
                                          {"heading", p.citation.heading},
                                          {"score", p.score},
                                          {"text", p.text}}));
  JsonValue sentences = JsonValue::array();
  for (const aimastery::AnswerSentence& s : r.answer.sentences)
    sentences.push_back(JsonValue::object({{"text", s.text},
                                           {"passage", s.passage},
                                           {"document_id", s.citation.document_id},
                                           {"start", s.citation.start},
                                           {"end", s.citation.end}}));
  JsonValue retrieved = JsonValue::array();
  for (const aimastery::RetrievalResult& x : r.retrieved)
    retrieved.push_back(JsonValue::object({{"rank", x.rank},
                                           {"score", x.score},
                                           {"document_id", x.citation.document_id},
                                           {"source", document_named(index, x.citation.document_id).source},
                                           {"start", x.citation.start},
                                           {"end", x.citation.end}}));
  JsonValue out = JsonValue::object({{"question", r.question},
                                     {"answer", r.answer.text},
                                     {"cited", r.answer.cited},
                                     {"answer_sentences", sentences},
                                     {"citations", passages},
                                     {"retrieved", retrieved},
                                     {"timings_ms", timings_json(r.timings)}});
  out["timings_ms"]["load_index"] = load_ms;
  std::cout << out.dump(2) << "\n";
  return 0;
}

int run_rag_eval(const RagEvalCommand& c) {
  const auto how = search_options(c.search);
  const aimastery::RagIndex index = load_index(c.index, c.search.model_dir);
  const aimastery::Qrels qrels = aimastery::read_trec_qrels(c.qrels);
  aimastery::Run run;
  for (const auto& [id, text] : read_queries(c.queries)) {
    // A document's score is its best chunk's; chunks are fetched deep enough to rank k documents. MMR's
    // order is not its scores' order, so with --mmr a chunk scores 1 / rank.
    aimastery::RunScores& scores = run[id];
    for (const aimastery::RetrievalResult& r : index.retrieve(text, 5 * c.k, how)) {
      const std::string& source = document_named(index, r.citation.document_id).source;
      const double score = how.mmr_lambda ? 1.0 / static_cast<double>(r.rank) : r.score;
      if (scores.size() >= static_cast<std::size_t>(c.k) && !scores.contains(source)) continue;
      auto [it, inserted] = scores.emplace(source, score);
      if (!inserted) it->second = std::max(it->second, score);
    }
  }
  if (!c.run.empty()) {
    std::ofstream out(c.run, std::ios::trunc);
    if (!out) throw UsageError("cannot write the run '" + c.run + "'");
    aimastery::write_trec_run(out, run, "aimastery-" + c.search.mode);
    if (!out) throw std::runtime_error("cannot write '" + c.run + "'");
  }
  const auto per_query = aimastery::evaluate_run(qrels, run, {.cutoffs = {1, 5, c.k}});
  const JsonValue out = JsonValue::object({{"queries", per_query.size()},
                                           {"k", c.k},
                                           {"mode", c.search.mode},
                                           {"mean", aimastery::mean_over_queries(per_query)},
                                           {"per_query", per_query}});
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace cli
