// libFuzzer target for the RAG index reader (RagIndex::load, aimastery/llm/rag/rag_index.hpp).
//
// An input is one byte that chooses a file of an index folder (manifest.json, documents.json,
// chunks.json, graph.hnsw) and that file's new content; the other files are those of a small valid index
// built at start-up. Random bytes would rarely get past the manifest's sizes and checksums, so when the
// chosen file is not the manifest, the manifest is re-signed with the new file's size and FNV-1a 64 and its
// own checksum; when it is the manifest and bit 2 of the selector is set, a new manifest that parses as
// JSON gets its own checksum recomputed; when it is the graph and that bit is set, the graph's trailing
// checksum is recomputed too. That reaches the structural checks (JSON shapes, options, offsets
// inside documents, the HNSW graph's layers and links, counts and dimensions). Loading must give an index or raise
// FormatError (or InvalidArgument for a manifest that names another embedder, load()'s documented answer); anything
// else is a finding.
//
// The seed corpus (fuzz/corpus/rag_index) is each file of that base index behind its selector byte:
//   AIMASTERY_FUZZ_WRITE_SEEDS=fuzz/corpus/rag_index build/fuzz/fuzz/fuzz_rag_index -runs=0

#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "aimastery/llm/rag/rag_index.hpp"

namespace {

namespace fs = std::filesystem;
constexpr std::array<const char*, 4> file_names = {"manifest.json", "documents.json", "chunks.json", "graph.hnsw"};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The manifest with its own checksum recomputed.
aimastery::JsonValue resealed(aimastery::JsonValue manifest) {
  const std::string checksum = aimastery::RagIndex::manifest_checksum(manifest);
  manifest[aimastery::RagIndex::manifest_checksum_key] = checksum;
  return manifest;
}

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// The files of a small valid index (three documents, word chunks, a metadata key in the chunk budget,
/// the hashing embedder) and a scratch
/// folder for the mutated copies, both made once.
struct Base {
  fs::path scratch;
  std::array<std::string, file_names.size()> files;

  Base() {
    using namespace aimastery;
    const fs::path root = fs::temp_directory_path() / ("aimastery_fuzz_rag_index_" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    std::vector<Document> documents = {
        Document::from_source("bm25.md", "# BM25\nBM25 scores a document by the idf of the query terms.\n",
                              {{"title", "Okapi BM25"}}),
        Document::from_source("hnsw.md", "HNSW is a layered graph; a search descends the layers greedily."),
        Document::from_source("naïve.txt", "Unicode text: naïve café, 東京, and an emoji 🙂 in a document.")};
    RagIndexOptions options;
    options.chunking.unit = ChunkUnit::words;
    options.chunking.size = 6;
    options.chunking.overlap = 2;
    options.chunking.metadata_in_budget = {"title"};
    options.embedding.dimension = 16;
    RagIndex::build(std::move(documents), options).save((root / "index").string());
    for (std::size_t i = 0; i < file_names.size(); ++i) files[i] = read_file(root / "index" / file_names[i]);
    if (const char* seeds = std::getenv("AIMASTERY_FUZZ_WRITE_SEEDS"))
      for (std::size_t i = 0; i < file_names.size(); ++i)
        write_file(fs::path(seeds) / (std::string("base_") + file_names[i]), char(i) + files[i]);
    scratch = root / "mutated";
    fs::create_directories(scratch);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Base base;
  if (size == 0) return 0;
  const std::size_t chosen = data[0] % file_names.size();
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  std::array<std::string, file_names.size()> files = base.files;
  files[chosen] = std::string(bytes);
  if (chosen == 3 && (data[0] & 4) != 0 && files[3].size() >= 8) {
    // The graph file ends with its own FNV-1a 64 of the bytes before it: recomputed, so that forged
    // headers (counts, dimensions, M) reach the graph's structural checks.
    const std::uint64_t hash = aimastery::detail::rag::fnv1a(std::string_view(files[3]).substr(0, files[3].size() - 8));
    std::memcpy(files[3].data() + files[3].size() - 8, &hash, 8);
  }
  if (chosen != 0) {
    aimastery::JsonValue manifest = aimastery::JsonValue::parse(files[0]);
    manifest["files"][file_names[chosen]] = aimastery::JsonValue::object(
        {{"bytes", files[chosen].size()},
         {"fnv1a64", aimastery::detail::rag::hex64(aimastery::detail::rag::fnv1a(files[chosen]))}});
    files[0] = resealed(std::move(manifest)).dump(1);
  } else if ((data[0] & 4) != 0) {
    try {
      aimastery::JsonValue manifest = aimastery::JsonValue::parse(bytes);
      if (manifest.is_object()) files[0] = resealed(std::move(manifest)).dump(1);
    } catch (const aimastery::FormatError&) {
      // Not JSON: the manifest stays as the input gave it.
    } catch (const aimastery::InvalidArgument&) {
      // A string that is not UTF-8 cannot be written back: likewise.
    }
  }
  for (std::size_t i = 0; i < file_names.size(); ++i) write_file(base.scratch / file_names[i], files[i]);
  try {
    static_cast<void>(aimastery::RagIndex::load(base.scratch.string()));
  } catch (const aimastery::FormatError&) {
  } catch (const aimastery::InvalidArgument& e) {
    if (std::string_view(e.what()).find("was built with the embedder") == std::string_view::npos) throw;
  }
  return 0;
}
