#pragma once
/// \file
/// RagIndex: a whole retrieval index (documents, chunks, BM25, dense vectors in an HNSW graph) that is
/// built once, saved to a folder and loaded back: what `aimastery rag index` writes and `aimastery rag
/// query` reads. The dense vectors come from the built-in hashing TF-IDF embedder (the default, no
/// weights) or from an IndexEmbedder with weights, such as the MiniLM sentence encoder.
///
///   RagIndex index = RagIndex::build(documents, {.chunking = {.unit = ChunkUnit::words, .size = 120}});
///   index.retrieve("how is idf computed?", 5, RetrievalMode::hybrid);   // RRF of BM25 and dense
///   index.save("docs.index");                  // atomic: the folder is replaced as a whole
///   RagIndex again = RagIndex::load("docs.index");
///
///   IndexEmbedder minilm = sentence_encoder_index_embedder(dir);   // llm/rag/sentence_encoder_embedder.hpp
///   RagIndex dense = RagIndex::build(documents, {}, minilm);
///   RagIndex::load("minilm.index", minilm);    // refused when the model's files differ from the recorded ones
///
/// The folder holds
///   manifest.json    format name and version, the options, the embedder (name, model identity, dimension),
///                    counts, per file its size and FNV-1a 64, and its own FNV-1a 64 (manifest_fnv1a64)
///   documents.json   the documents (id, source, text, metadata)
///   chunks.json      per chunk [document number, start, end, heading]; the text is the document's slice
///   graph.hnsw       the HNSW graph with its vectors (HnswIndex::save, checksummed)
/// The dense side reads what the chunker gives the embedder, TextChunker::embedding_text: the chunk's text,
/// after "key: value" lines of the metadata keys named in options.chunking.metadata_in_budget (none by
/// default, and then exactly the chunk's text). Queries are embedded as they are, without such lines; BM25
/// indexes the chunk's text alone.
/// BM25's postings and the hashing embedder's idf are functions of the chunks and the options, and are
/// rebuilt on load (deterministically, in milliseconds per thousand chunks) rather than stored twice.
/// Every byte read is checked: a manifest whose content differs from its own checksum, a file whose size or
/// checksum differs from the manifest, offsets outside a document, an empty chunk, a graph of another size
/// or dimension: FormatError naming the file, never a crash. What load allocates is bounded by the files:
/// the chunk count is checked against the graph before any chunk's text is copied, and a document's chunks
/// may sum to at most what its chunking can give (each byte in at most overlap + 1 chunks; for fixed windows
/// without metadata in the budget, ⌈size / (size − overlap)⌉). An index without chunks (build() accepts
/// documents that give none) loads without fitting the hashing embedder and answers every query with nothing.
///
/// Saving writes a sibling folder, fsyncs every file and the folder, and then swaps it in with one
/// rename (renameat2's RENAME_EXCHANGE when the target exists), so a reader sees the old index or the new
/// one, never a mix.

#include <fcntl.h>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/io/atomic_file.hpp"
#include "aimastery/io/json.hpp"
#include "aimastery/llm/rag/bm25.hpp"
#include "aimastery/llm/rag/dense_retriever.hpp"
#include "aimastery/llm/rag/document.hpp"
#include "aimastery/llm/rag/fusion.hpp"
#include "aimastery/llm/rag/hashing_tfidf_embedder.hpp"
#include "aimastery/llm/rag/hnsw_index.hpp"
#include "aimastery/llm/rag/index_embedder.hpp"
#include "aimastery/llm/rag/mmr.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"
#include "aimastery/llm/rag/text_chunker.hpp"

namespace aimastery {

enum class RetrievalMode { bm25, dense, hybrid };

/// How RagIndex::retrieve searches.
struct RetrieveOptions {
  RetrievalMode mode = RetrievalMode::hybrid;
  /// The dense side by exact search (one product with every chunk vector) instead of the HNSW graph.
  bool exact = false;
  /// When set, the mode's list, fetched to max(k, fusion_depth), is reranked by maximal marginal relevance
  /// with this λ (llm/rag/mmr.hpp) over the query's and the chunks' dense vectors.
  std::optional<double> mmr_lambda;
};

struct RagIndexOptions {
  /// Chunking in characters or words (token units need the tokenizer, which the index does not store). Its
  /// metadata_in_budget keys are read by the dense side before each chunk's text (embedding_text).
  TextChunkerOptions chunking = {
      .strategy = ChunkingStrategy::recursive, .unit = ChunkUnit::words, .size = 120, .overlap = 20};
  BM25Options bm25 = {};
  HashingTfidfOptions embedding = {};  ///< the built-in dense side (hashed TF-IDF), unless an IndexEmbedder is given
  HnswParams hnsw = {.M = 16, .ef_construction = 200, .ef = 64};
  Index fusion_depth = 50;  ///< hybrid: each list's depth before reciprocal rank fusion
};

template <std::same_as<float> T = float>
class BasicRagIndex {
 public:
  static constexpr std::string_view format_name = "aimastery-rag-index";
  /// Version 4 checksums the manifest itself; version 3 records the chunking's metadata_in_budget; version 2
  /// (the embedder recorded) and version 1 (hashing only) embed the bare chunk texts. All four are read.
  static constexpr int format_version = 4;
  /// The manifest's field holding its own checksum (format 4 on).
  static constexpr std::string_view manifest_checksum_key = "manifest_fnv1a64";
  /// Files larger than this are refused on load (a hostile manifest cannot make us allocate more).
  static constexpr std::uint64_t max_file_bytes = std::uint64_t{8} << 30;

  /// The value of manifest_checksum_key for a manifest: FNV-1a 64 (hex) of its compact dump (keys sorted)
  /// without that field, so an edit of any key or value changes it and a change of layout alone does not.
  /// Public for tools that edit a manifest on purpose.
  [[nodiscard]] static std::string manifest_checksum(JsonValue manifest) {
    manifest.erase(manifest_checksum_key);
    return detail::rag::hex64(detail::rag::fnv1a(manifest.dump()));
  }

  /// `progress(done, total)`, when given, is called as the chunks are embedded.
  using Progress = std::function<void(Index, Index)>;

  /// Chunks the documents and indexes the chunks, the dense side with the built-in hashing TF-IDF
  /// embedder. Document ids must be distinct.
  [[nodiscard]] static BasicRagIndex build(std::vector<Document> documents, RagIndexOptions options = {}) {
    return build_with(std::move(documents), std::move(options), std::nullopt, {});
  }

  /// As above, the dense side embedded by `embedder` (in blocks of 256 chunks), whose name, model identity
  /// and dimension the saved index records. The embedder must return one finite row of its dimension per
  /// text.
  [[nodiscard]] static BasicRagIndex build(std::vector<Document> documents, RagIndexOptions options,
                                           IndexEmbedder embedder, const Progress& progress = {}) {
    embedder.check("RagIndex::build");
    return build_with(std::move(documents), std::move(options), std::move(embedder), progress);
  }

  /// The embedder recorded in an index folder's manifest ("hashing" for the built-in one), without its
  /// embed function: what to re-create before load(folder, embedder). A bad manifest: FormatError.
  [[nodiscard]] static IndexEmbedder recorded_embedder(const std::string& folder) {
    const std::filesystem::path dir(folder);
    const auto bad = [&](const std::string& file, const std::string& problem) {
      return FormatError("RagIndex::load: '" + (dir / file).string() + "' " + problem);
    };
    const JsonValue manifest = parse_json(dir / "manifest.json", 1 << 20, bad);
    try {
      return embedder_from_manifest(manifest);
    } catch (const JsonShapeError& e) {
      throw bad("manifest.json", std::string("is malformed: ") + e.what());
    }
  }

  [[nodiscard]] const RagIndexOptions& options() const noexcept { return options_; }
  [[nodiscard]] const std::vector<Document>& documents() const noexcept { return documents_; }
  [[nodiscard]] const std::vector<Chunk>& chunks() const noexcept { return chunks_; }
  /// The dense side's name ("hashing" or the IndexEmbedder's), model identity and dimension.
  [[nodiscard]] std::string embedder_name() const { return external_ ? external_->name : "hashing"; }
  [[nodiscard]] Index dense_dimension() const noexcept {
    return external_ ? external_->dimension : options_.embedding.dimension;
  }

 private:
  static BasicRagIndex build_with(std::vector<Document> documents, RagIndexOptions options,
                                  std::optional<IndexEmbedder> embedder, const Progress& progress) {
    check_options(options, "RagIndex::build");
    const TextChunker chunker(options.chunking);
    std::vector<Chunk> chunks;
    std::vector<std::string> seen;
    for (const Document& d : documents) {
      seen.push_back(d.id);
      for (Chunk& c : chunker.split(d)) chunks.push_back(std::move(c));
    }
    std::ranges::sort(seen);
    const auto duplicate = std::ranges::adjacent_find(seen);
    require(duplicate == seen.end(), "RagIndex::build",
            [&] { return "two documents have the id " + *duplicate + ": ids must be distinct"; });
    const Index dimension = embedder ? embedder->dimension : options.embedding.dimension;
    auto graph = std::make_unique<HnswIndex<T>>(dimension, options.hnsw);
    BasicRagIndex index(std::move(options), std::move(documents), std::move(chunks), std::move(graph),
                        std::move(embedder));
    index.graph_->add(index.embed_chunks(progress));
    index.exact_.add(index.graph_->vectors());
    return index;
  }

 public:
  /// The k best chunks for the query: BM25, dense (HNSW, beam max(ef, k), or exact search), or hybrid
  /// (reciprocal rank fusion, k = 60, of the two lists fetched to max(k, fusion_depth)); optionally
  /// reranked by MMR (RetrieveOptions).
  [[nodiscard]] std::vector<RetrievalResult> retrieve(std::string_view query, Index k,
                                                      const RetrieveOptions& how) const {
    require(k >= 1, "RagIndex::retrieve", [&] { return "k must be at least 1, got " + std::to_string(k); });
    if (how.mmr_lambda)
      require(*how.mmr_lambda >= 0 && *how.mmr_lambda <= 1, "RagIndex::retrieve",
              [&] { return "mmr_lambda must be in [0, 1], got " + std::to_string(*how.mmr_lambda); });
    // An index without chunks finds nothing in any mode; its query is not embedded (the hashing embedder is
    // not fitted: its recorded dimension is not bounded by any vector in the files).
    if (chunks_.empty()) return {};
    const Index depth = std::max(k, options_.fusion_depth);
    const std::string q(query);
    std::optional<Matrix<T>> query_vector;  // the dense side's embedding of the query, made once
    const auto embedded = [&]() -> const Matrix<T>& {
      if (!query_vector) query_vector = embed_texts(std::span<const std::string>(&q, 1));
      return *query_vector;
    };
    const Index fetch = how.mmr_lambda ? depth : k;
    std::vector<RetrievalResult> list;
    switch (how.mode) {
      case RetrievalMode::bm25:
        list = bm25_.retrieve(query, fetch);
        break;
      case RetrievalMode::dense:
        list = dense(embedded(), fetch, how.exact);
        break;
      case RetrievalMode::hybrid:
      default:
        list = reciprocal_rank_fusion({bm25_.retrieve(query, depth), dense(embedded(), depth, how.exact)}, fetch);
        break;
    }
    if (!how.mmr_lambda || list.empty()) return list;
    Matrix<T> candidates(static_cast<Index>(list.size()), dense_dimension());
    for (std::size_t i = 0; i < list.size(); ++i)
      candidates.row(static_cast<Index>(i)) = exact_.vectors().row(chunk_position_.at(list[i].chunk.id()));
    const Vector<T> qv = embedded().row(0).transpose();
    std::vector<RetrievalResult> out;
    Index rank = 0;
    for (const Index i : maximal_marginal_relevance<T>(qv, candidates, k, *how.mmr_lambda)) {
      out.push_back(list[static_cast<std::size_t>(i)]);
      out.back().rank = ++rank;
    }
    return out;
  }

  [[nodiscard]] std::vector<RetrievalResult> retrieve(std::string_view query, Index k,
                                                      RetrievalMode mode = RetrievalMode::hybrid) const {
    RetrieveOptions how;
    how.mode = mode;
    return retrieve(query, k, how);
  }

  /// Writes the index to `folder`, replacing what is there atomically.
  void save(const std::string& folder) const {
    namespace fs = std::filesystem;
    const fs::path target = fs::absolute(folder).lexically_normal();
    const fs::path staging = detail::temporary_sibling(target);
    try {
      fs::create_directory(staging);
      JsonValue files = JsonValue::object();
      const auto write = [&](const std::string& name, const std::string& bytes) {
        write_new_file_durably(staging / name, bytes);
        files[name] = file_entry(bytes);
      };
      write("documents.json", documents_json().dump());
      write("chunks.json", chunks_json().dump());
      graph_->save((staging / "graph.hnsw").string());
      record_file(files, staging / "graph.hnsw");
      const JsonValue embedder = JsonValue::object({{"name", embedder_name()},
                                                    {"model", external_ ? external_->model : std::string()},
                                                    {"source", external_ ? external_->source : std::string()},
                                                    {"dimension", dense_dimension()}});
      JsonValue manifest = JsonValue::object({{"format", format_name},
                                              {"version", format_version},
                                              {"options", options_json(options_)},
                                              {"embedder", embedder},
                                              {"documents", documents_.size()},
                                              {"chunks", chunks_.size()},
                                              {"files", files}});
      manifest[manifest_checksum_key] = manifest_checksum(manifest);
      write_new_file_durably(staging / "manifest.json", manifest.dump(1));
      fsync_directory(staging);
      swap_in(staging, target);
    } catch (const std::system_error& e) {
      std::error_code ignored;
      fs::remove_all(staging, ignored);
      throw FormatError("RagIndex::save: " + std::string(e.what()));
    } catch (...) {
      std::error_code ignored;
      fs::remove_all(staging, ignored);
      throw;
    }
  }

  /// Reads an index written by save() with the built-in hashing embedder. Anything malformed, truncated or
  /// tampered: FormatError; an index built with another embedder: InvalidArgument naming it (load it with
  /// load(folder, embedder)).
  [[nodiscard]] static BasicRagIndex load(const std::string& folder) { return load_with(folder, std::nullopt); }

  /// Reads an index built with `embedder`: its name, model identity and dimension must be the recorded
  /// ones (InvalidArgument naming both when they differ), since queries must be embedded as the chunks were.
  [[nodiscard]] static BasicRagIndex load(const std::string& folder, IndexEmbedder embedder) {
    embedder.check("RagIndex::load");
    return load_with(folder, std::move(embedder));
  }

 private:
  static BasicRagIndex load_with(const std::string& folder, std::optional<IndexEmbedder> embedder) {
    namespace fs = std::filesystem;
    const fs::path dir(folder);
    const auto bad = [&](const std::string& file, const std::string& problem) {
      return FormatError("RagIndex::load: '" + (dir / file).string() + "' " + problem);
    };
    const JsonValue manifest = parse_json(dir / "manifest.json", 1 << 20, bad);
    try {
      if (manifest.at("format") != format_name) throw bad("manifest.json", "is not an aimastery RAG index");
      const JsonValue& recorded_version = manifest.at("version");
      // (An unsigned version beyond format_version is refused before get<std::int64_t> could not hold it.)
      const std::int64_t version =
          recorded_version.is_number_integer() &&
                  !(recorded_version.is_number_unsigned() && recorded_version.get<std::uint64_t>() > format_version)
              ? recorded_version.get<std::int64_t>()
              : 0;
      if (version < 1 || version > format_version)
        throw bad("manifest.json", "has format version " + recorded_version.dump() + ", this library reads 1 to " +
                                       std::to_string(format_version));
      check_manifest_checksum(manifest, version, bad);
      const IndexEmbedder recorded = embedder_from_manifest(manifest);
      check_embedder(folder, recorded, embedder);
      const JsonValue& files = manifest.at("files");
      for (const char* name : {"documents.json", "chunks.json", "graph.hnsw"})
        check_file(dir, name, files.at(name), bad);
      if (version < 3 && manifest.at("options").at("chunking").contains("metadata_in_budget"))
        throw bad("manifest.json", "has format version " + std::to_string(version) +
                                       " and chunking.metadata_in_budget, which only version 3 on records");
      RagIndexOptions options = options_from_json(manifest.at("options"), static_cast<int>(version));
      check_options(options, "RagIndex::load");
      // JSON that parses but has the wrong shape is named by its file.
      const auto in_file = [&](const char* name, auto&& read) {
        try {
          return read();
        } catch (const JsonShapeError& e) {
          throw bad(name, std::string("is malformed: ") + e.what());
        }
      };
      std::vector<Document> documents = in_file("documents.json", [&] {
        return documents_from_json(parse_json(dir / "documents.json", max_file_bytes, bad));
      });
      const JsonValue chunk_entries =
          in_file("chunks.json", [&] { return parse_json(dir / "chunks.json", max_file_bytes, bad); });
      const std::size_t chunk_count = in_file("chunks.json", [&] { return chunk_entries.elements().size(); });
      if (manifest.at("documents") != documents.size() || manifest.at("chunks") != chunk_count)
        throw bad("manifest.json", "counts do not match documents.json and chunks.json");
      // The graph (its memory bounded by its file) is checked against the chunk count before any chunk's text
      // is copied; with at least one vector it also bounds the dimension the hashing embedder is fitted on.
      // A prvalue initialises the index in place (HnswIndex is neither copied nor moved: it holds mutexes).
      std::unique_ptr<HnswIndex<T>> graph(new HnswIndex<T>(HnswIndex<T>::load((dir / "graph.hnsw").string())));
      const Index dimension = recorded.name == "hashing" ? options.embedding.dimension : recorded.dimension;
      if (graph->size() != static_cast<Index>(chunk_count) || graph->dimension() != dimension)
        throw bad("graph.hnsw", "holds " + std::to_string(graph->size()) + " vectors of dimension " +
                                    std::to_string(graph->dimension()) + " for " + std::to_string(chunk_count) +
                                    " chunks of dimension " + std::to_string(dimension));
      std::vector<Chunk> chunks = in_file("chunks.json", [&] {
        return chunks_from_json(chunk_entries, documents, options.chunking,
                                [&](const std::string& problem) { return bad("chunks.json", problem); });
      });
      BasicRagIndex index(std::move(options), std::move(documents), std::move(chunks), std::move(graph),
                          std::move(embedder));
      // (Eigen walks the columns even of 0 rows: an empty graph of the recorded dimension is not copied.)
      if (index.graph_->size() > 0) index.exact_.add(index.graph_->vectors());
      return index;
    } catch (const JsonShapeError& e) {
      throw bad("manifest.json", std::string("is malformed: ") + e.what());
    } catch (const EmbedderMismatch& e) {
      throw InvalidArgument(e.what());
    } catch (const InvalidArgument& e) {
      throw bad("manifest.json", std::string("holds invalid options: ") + e.what());
    }
  }

  // The embedder given to load() against the recorded one (thrown as InvalidArgument, not as a bad file).
  struct EmbedderMismatch : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  static void check_embedder(const std::string& folder, const IndexEmbedder& recorded,
                             const std::optional<IndexEmbedder>& given) {
    const std::string where = "RagIndex::load: '" + folder + "' was built with the embedder '" + recorded.name + "'";
    const std::string model = recorded.name == "hashing"
                                  ? std::string()
                                  : " (model " + recorded.model + ", dimension " + std::to_string(recorded.dimension) +
                                        ", read from " + recorded.source + ")";
    if (!given) {
      if (recorded.name != "hashing")
        throw EmbedderMismatch(where + model + ": load it with that embedder, RagIndex::load(folder, embedder)");
      return;
    }
    if (recorded.name != given->name) throw EmbedderMismatch(where + model + ", not with '" + given->name + "'");
    if (recorded.model != given->model)
      throw EmbedderMismatch(where + model + "; the embedder given has another model, " + given->model +
                             " (read from " + given->source + "): its vectors would not match the index's");
    if (recorded.dimension != given->dimension)
      throw EmbedderMismatch(where + model + "; the embedder given has dimension " + std::to_string(given->dimension));
  }

  static IndexEmbedder embedder_from_manifest(const JsonValue& manifest) {
    IndexEmbedder e;
    e.name = "hashing";
    if (!manifest.contains("embedder")) return e;  // format version 1
    const JsonValue& j = manifest.at("embedder");
    e.name = j.at("name").get<std::string>();
    e.model = j.at("model").get<std::string>();
    e.source = j.at("source").get<std::string>();
    e.dimension = j.at("dimension").get<Index>();
    return e;
  }

  BasicRagIndex(RagIndexOptions options, std::vector<Document> documents, std::vector<Chunk> chunks,
                std::unique_ptr<HnswIndex<T>> graph, std::optional<IndexEmbedder> external)
      : options_(std::move(options)),
        documents_(std::move(documents)),
        chunks_(std::move(chunks)),
        bm25_(options_.bm25),
        embedder_(options_.embedding),
        external_(std::move(external)),
        graph_(std::move(graph)),
        exact_(graph_->dimension()),
        chunker_(options_.chunking) {
    bm25_.add(chunks_);
    for (std::size_t i = 0; i < chunks_.size(); ++i) chunk_position_.emplace(chunks_[i].id(), static_cast<Index>(i));
    // Nothing to fit without chunks (retrieve answers nothing then): fitting allocates ~25 bytes per dimension,
    // which only the graph's vectors bound on load.
    if (external_ || chunks_.empty()) return;
    std::vector<std::string> texts;
    texts.reserve(chunks_.size());
    for (const Chunk& c : chunks_) texts.push_back(chunker_.embedding_text(c));
    embedder_.fit(texts);  // the idf of what the dense side reads
  }

  static void check_options(const RagIndexOptions& o, std::string_view where) {
    require(o.chunking.unit != ChunkUnit::tokens, where,
            "token chunking needs a tokenizer, which an index does not store: chunk in words or characters");
    require(o.fusion_depth >= 1, where,
            [&] { return "fusion_depth must be at least 1, got " + std::to_string(o.fusion_depth); });
    [[maybe_unused]] const TextChunker chunker(o.chunking);
    [[maybe_unused]] const BM25Retriever bm25(o.bm25);
    [[maybe_unused]] const HashingTfidfEmbedder<T> embedder(o.embedding);
    [[maybe_unused]] const HnswIndex<T> graph(o.embedding.dimension, o.hnsw);
  }

  // The dense side's embeddings of `texts`: the hashing embedder's, or the IndexEmbedder's, checked.
  [[nodiscard]] Matrix<T> embed_texts(std::span<const std::string> texts) const {
    if (!external_) return embedder_.embed(texts);
    Matrix<T> E = external_->embed(texts);
    require(E.rows() == static_cast<Index>(texts.size()) && E.cols() == external_->dimension && E.allFinite(),
            "RagIndex", [&] {
              return "the embedder '" + external_->name + "' returned " + shape_of(E) + " for " +
                     std::to_string(texts.size()) + " texts of dimension " + std::to_string(external_->dimension) +
                     " (or values that are not finite)";
            });
    return E;
  }

  [[nodiscard]] Matrix<T> embed_chunks(const Progress& progress) const {
    const auto n = static_cast<Index>(chunks_.size());
    Matrix<T> out(n, dense_dimension());
    constexpr Index block = 256;
    for (Index begin = 0; begin < n; begin += block) {
      const Index end = std::min(n, begin + block);
      std::vector<std::string> texts;
      for (Index i = begin; i < end; ++i)
        texts.push_back(chunker_.embedding_text(chunks_[static_cast<std::size_t>(i)]));
      out.middleRows(begin, end - begin) = embed_texts(texts);
      if (progress) progress(end, n);
    }
    return out;
  }

  [[nodiscard]] std::vector<RetrievalResult> dense(const Matrix<T>& Q, Index k, bool exact) const {
    std::vector<RetrievalResult> out;
    Index rank = 0;
    const auto hits = exact ? exact_.search(Q, k) : graph_->search(Q, k, std::max(k, options_.hnsw.ef));
    for (const ScoredIndex& h : hits.front())
      out.push_back(RetrievalResult::of(chunks_[static_cast<std::size_t>(h.index)], h.score, ++rank));
    return out;
  }

  // ------------------------------------------------------------------------------------- the files

  static JsonValue options_json(const RagIndexOptions& o) {
    const auto& c = o.chunking;
    using J = JsonValue;
    return J::object(
        {{"chunking", J::object({{"strategy", static_cast<int>(c.strategy)},
                                 {"unit", static_cast<int>(c.unit)},
                                 {"size", c.size},
                                 {"overlap", c.overlap},
                                 {"separators", c.separators},
                                 {"metadata_in_budget", c.metadata_in_budget}})},
         {"bm25", J::object({{"k1", o.bm25.k1}, {"b", o.bm25.b}, {"stopwords", o.bm25.tokenizer.remove_stopwords}})},
         {"embedding", J::object({{"dimension", o.embedding.dimension},
                                  {"alternate_sign", o.embedding.alternate_sign},
                                  {"sublinear_tf", o.embedding.sublinear_tf},
                                  {"stopwords", o.embedding.tokenizer.remove_stopwords}})},
         {"hnsw", J::object({{"M", o.hnsw.M},
                             {"ef_construction", o.hnsw.ef_construction},
                             {"ef", o.hnsw.ef},
                             {"seed", o.hnsw.seed}})},
         {"fusion_depth", o.fusion_depth}});
  }

  /// The options of a manifest of format `version` (metadata_in_budget from version 3 on; before it, none).
  static RagIndexOptions options_from_json(const JsonValue& j, int version) {
    RagIndexOptions o;
    const auto& c = j.at("chunking");
    const int strategy = c.at("strategy").get<int>(), unit = c.at("unit").get<int>();
    if (strategy < 0 || strategy > 3 || unit < 0 || unit > 2)
      throw InvalidArgument("RagIndex::load: unknown chunking strategy or unit");
    o.chunking.strategy = static_cast<ChunkingStrategy>(strategy);
    o.chunking.unit = static_cast<ChunkUnit>(unit);
    o.chunking.size = c.at("size").get<Index>();
    o.chunking.overlap = c.at("overlap").get<Index>();
    o.chunking.separators = c.at("separators").get<std::vector<std::string>>();
    if (version >= 3) o.chunking.metadata_in_budget = c.at("metadata_in_budget").get<std::vector<std::string>>();
    o.bm25.k1 = j.at("bm25").at("k1").get<double>();
    o.bm25.b = j.at("bm25").at("b").get<double>();
    o.bm25.tokenizer.remove_stopwords = j.at("bm25").at("stopwords").get<bool>();
    const auto& e = j.at("embedding");
    o.embedding.dimension = e.at("dimension").get<Index>();
    o.embedding.alternate_sign = e.at("alternate_sign").get<bool>();
    o.embedding.sublinear_tf = e.at("sublinear_tf").get<bool>();
    o.embedding.tokenizer.remove_stopwords = e.at("stopwords").get<bool>();
    const auto& h = j.at("hnsw");
    o.hnsw = {h.at("M").get<Index>(), h.at("ef_construction").get<Index>(), h.at("ef").get<Index>(),
              h.at("seed").get<std::uint64_t>()};
    o.fusion_depth = j.at("fusion_depth").get<Index>();
    return o;
  }

  [[nodiscard]] JsonValue documents_json() const {
    JsonValue out = JsonValue::array();
    for (const Document& d : documents_)
      out.push_back(
          JsonValue::object({{"id", d.id}, {"source", d.source}, {"text", d.text}, {"metadata", d.metadata}}));
    return out;
  }

  [[nodiscard]] JsonValue chunks_json() const {
    std::map<std::string_view, std::size_t> number;
    for (std::size_t i = 0; i < documents_.size(); ++i) number.emplace(documents_[i].id, i);
    JsonValue out = JsonValue::array();
    for (const Chunk& c : chunks_)
      out.push_back(JsonValue::array({number.at(c.document_id), c.start, c.end, c.heading}));
    return out;
  }

  static std::vector<Document> documents_from_json(const JsonValue& j) {
    std::vector<Document> out;
    for (const JsonValue& d : j.elements()) {
      Document doc;
      doc.id = d.at("id").get<std::string>();
      doc.source = d.at("source").get<std::string>();
      doc.text = d.at("text").get<std::string>();
      doc.metadata = d.at("metadata").get<Metadata>();
      out.push_back(std::move(doc));
    }
    return out;
  }

  // How many chunks of a real index can hold one byte of a document. Each chunk after the first opens with
  // at most the last `overlap` units of the chunk before it and ends at least one unit after it, so a unit
  // lies in at most overlap + 1 consecutive chunks; fixed windows of the whole `size` (no metadata in the
  // budget) start every size − overlap units, so a unit lies in at most ⌈size / (size − overlap)⌉ of them.
  // Whitespace between two units lies only in chunks that hold both.
  static std::uint64_t chunks_per_byte(const TextChunkerOptions& chunking) {
    const auto size = static_cast<std::uint64_t>(chunking.size);
    const auto overlap = static_cast<std::uint64_t>(chunking.overlap);  // 0 <= overlap < size (check_options)
    if (chunking.strategy == ChunkingStrategy::fixed && chunking.metadata_in_budget.empty())
      return (size - 1) / (size - overlap) + 1;
    return overlap + 1;
  }

  // The chunks of chunks.json, [document, start, end, heading] each. Every entry is checked before any text
  // is copied: its range lies in its document and is not empty, and the chunks of a document sum to at most
  // chunks_per_byte × its bytes (a chunk copies its range and its document's metadata, so C chunks naming
  // one large document would otherwise cost C × its size).
  template <class Bad>
  static std::vector<Chunk> chunks_from_json(const JsonValue& j, const std::vector<Document>& documents,
                                             const TextChunkerOptions& chunking, Bad&& bad) {
    struct Range {
      std::size_t document, start, end;
    };
    std::vector<Range> ranges;
    ranges.reserve(j.elements().size());
    const std::uint64_t per_byte = chunks_per_byte(chunking);
    constexpr std::uint64_t max_bytes = std::numeric_limits<std::uint64_t>::max();
    std::vector<std::uint64_t> covered(documents.size(), 0);  // bytes of each document's chunks so far
    for (const JsonValue& c : j.elements()) {
      if (!c.is_array() || c.size() != 4) throw bad("holds a chunk that is not [document, start, end, heading]");
      const auto d = c.at(0).get<std::size_t>();
      const auto start = c.at(1).get<std::size_t>(), end = c.at(2).get<std::size_t>();
      if (!c.at(3).is_string()) throw bad("holds a chunk whose heading is not a string");
      if (d >= documents.size())
        throw bad("names document " + std::to_string(d) + " of " + std::to_string(documents.size()));
      const Document& doc = documents[d];
      if (start > end || end > doc.text.size())
        throw bad("holds the range [" + std::to_string(start) + ", " + std::to_string(end) + ") outside document " +
                  doc.id + " of " + std::to_string(doc.text.size()) + " bytes");
      if (start == end)
        throw bad("holds the empty chunk [" + std::to_string(start) + ", " + std::to_string(end) + ") of document " +
                  doc.id + ": a chunk holds at least one unit");
      const std::uint64_t size = doc.text.size();
      const std::uint64_t allowed = size > max_bytes / per_byte ? max_bytes : size * per_byte;
      if (end - start > allowed - covered[d])
        throw bad("holds chunks of document " + doc.id + " whose texts sum to more than " + std::to_string(per_byte) +
                  " × its " + std::to_string(size) + " bytes: " + std::string(to_string(chunking.strategy)) +
                  " chunking of size " + std::to_string(chunking.size) + " and overlap " +
                  std::to_string(chunking.overlap) + " puts each byte in at most " + std::to_string(per_byte) +
                  " chunks");
      covered[d] += end - start;
      ranges.push_back({d, start, end});
    }
    std::vector<Chunk> out;
    out.reserve(ranges.size());
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      const auto [d, start, end] = ranges[i];
      const Document& doc = documents[d];
      std::string heading = j.elements()[i].at(3).get<std::string>();
      Chunk chunk{doc.id, start, end, doc.text.substr(start, end - start), std::move(heading), doc.metadata};
      if (!chunk.heading.empty()) chunk.metadata["heading"] = chunk.heading;
      out.push_back(std::move(chunk));
    }
    return out;
  }

  template <class Bad>
  static JsonValue parse_json(const std::filesystem::path& path, std::uint64_t max_bytes, Bad&& bad) {
    std::string bytes;
    try {
      bytes = read_file_bounded(path, max_bytes);
    } catch (const std::system_error& e) {
      throw bad(path.filename().string(), std::string("cannot be read: ") + e.what());
    }
    try {
      return JsonValue::parse(bytes, "JSON");
    } catch (const FormatError& e) {
      throw bad(path.filename().string(), std::string("is not valid JSON: ") + e.what());
    }
  }

  template <class Bad>
  static void check_file(const std::filesystem::path& dir, const std::string& name, const JsonValue& entry, Bad&& bad) {
    std::string bytes;
    try {
      bytes = read_file_bounded(dir / name, max_file_bytes);
    } catch (const std::system_error& e) {
      throw bad(name, std::string("cannot be read: ") + e.what());
    }
    if (bytes.size() != entry.at("bytes").get<std::uint64_t>())
      throw bad(name, "has " + std::to_string(bytes.size()) + " bytes, the manifest says " + entry.at("bytes").dump());
    if (detail::rag::hex64(detail::rag::fnv1a(bytes)) != entry.at("fnv1a64").get<std::string>())
      throw bad(name, "is corrupt: its checksum differs from the manifest's (tampered or damaged)");
  }

  // Format 4 on carries the checksum and it must match; the earlier formats have none.
  template <class Bad>
  static void check_manifest_checksum(const JsonValue& manifest, std::int64_t version, Bad&& bad) {
    const std::string key(manifest_checksum_key);
    if (version < 4) {
      if (manifest.contains(key))
        throw bad("manifest.json", "has format version " + std::to_string(version) + " and " + key +
                                       ", which only version 4 on records");
      return;
    }
    if (!manifest.contains(key)) throw bad("manifest.json", "has no " + key + " (its checksum)");
    if (manifest.at(key) != manifest_checksum(manifest))
      throw bad("manifest.json", "is corrupt: its content differs from its checksum (tampered or damaged)");
  }

  // Records a file written by someone else (HnswIndex::save) in the manifest's file list.
  static void record_file(JsonValue& files, const std::filesystem::path& path) {
    files[path.filename().string()] = file_entry(read_file_bounded(path, max_file_bytes));
  }

  // A file's entry in the manifest: its size and FNV-1a 64 checksum.
  static JsonValue file_entry(const std::string& bytes) {
    return JsonValue::object({{"bytes", bytes.size()}, {"fnv1a64", detail::rag::hex64(detail::rag::fnv1a(bytes))}});
  }

  // The staged folder replaces `target`: one rename when there is none, else an atomic exchange of the two
  // names (renameat2 RENAME_EXCHANGE) and the removal of the old folder, now at the staging name.
  static void swap_in(const std::filesystem::path& staging, const std::filesystem::path& target) {
    namespace fs = std::filesystem;
    if (!fs::exists(target)) {
      if (::rename(staging.c_str(), target.c_str()) != 0) detail::throw_errno("cannot rename onto", target);
    } else {
      if (!fs::is_directory(target) || !fs::exists(target / "manifest.json"))
        throw InvalidArgument("RagIndex::save: '" + target.string() +
                              "' exists and is not a RAG index folder: refusing to replace it");
      if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0)
        detail::throw_errno("cannot exchange the new index with", target);
      std::error_code ignored;
      fs::remove_all(staging, ignored);  // the old index
    }
    fsync_directory(target.parent_path());
  }

  RagIndexOptions options_;
  std::vector<Document> documents_;
  std::vector<Chunk> chunks_;
  BM25Retriever bm25_;
  HashingTfidfEmbedder<T> embedder_;                       // the dense side unless external_ (fitted only then,
                                                           // and only when there are chunks)
  std::optional<IndexEmbedder> external_;                  // the dense side when the index was built with one
  std::unique_ptr<HnswIndex<T>> graph_;                    // never null
  ExactDenseIndex<T> exact_;                               // the graph's vectors, for exact search and MMR
  TextChunker chunker_;                                    // options_.chunking: what the dense side reads of a chunk
  std::unordered_map<std::string, Index> chunk_position_;  // chunk id → position
};

/// The index. BasicRagIndex's parameter is the scalar type of the embeddings it stores, float; it is a
/// parameter so that the class is compiled where it is used, not in every file that includes this header
/// (with a parameter its members depend on, even their checks wait for the first use).
using RagIndex = BasicRagIndex<>;

}  // namespace aimastery
