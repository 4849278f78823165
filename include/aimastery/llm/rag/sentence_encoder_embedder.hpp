#pragma once
/// \file
/// SentenceEncoderEmbedder: the MiniLM SentenceEncoder of llm.attention seen as an EmbeddingModel, and
/// sentence_encoder_index_embedder: the same encoder, identified by its files, as a RagIndex's dense side.
///
///   SentenceEncoderEmbedder minilm(SentenceEncoder::load(dir));
///   DenseRetriever<SentenceEncoderEmbedder> dense(std::move(minilm));
///   RagIndex index = RagIndex::build(documents, {}, sentence_encoder_index_embedder(dir));
///
/// Embeddings are the encoder's: mean-pooled, unit norm, float, in batches of `batch_size` texts.

#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/llm/attention/sentence_encoder.hpp"
#include "aimastery/llm/rag/embedding_model.hpp"
#include "aimastery/llm/rag/index_embedder.hpp"
#include "aimastery/production/caching/content_hash.hpp"

namespace aimastery {

template <class Unused = void>
class BasicSentenceEncoderEmbedder {
 public:
  using Scalar = float;

  explicit BasicSentenceEncoderEmbedder(SentenceEncoder encoder, Index batch_size = 32)
      : encoder_(std::move(encoder)), batch_size_(batch_size) {
    require(batch_size > 0, "SentenceEncoderEmbedder",
            [&] { return "batch_size must be positive, got " + std::to_string(batch_size); });
  }

  [[nodiscard]] Index dimension() const noexcept { return encoder_.dimension(); }
  Matrix<float> embed(std::span<const std::string> texts) { return encoder_.encode(texts, batch_size_); }
  [[nodiscard]] const SentenceEncoder& encoder() const noexcept { return encoder_; }

 private:
  SentenceEncoder encoder_;
  Index batch_size_;
};

/// (BasicSentenceEncoderEmbedder is a class template only so that it is compiled where it is used.)
using SentenceEncoderEmbedder = BasicSentenceEncoderEmbedder<>;

static_assert(EmbeddingModel<SentenceEncoderEmbedder>);

/// The identity of a sentence-transformers model folder: "xxh3-128:" and the XXH3-128 of the bytes of
/// config.json, vocab.txt and model.safetensors, each preceded by its name and size (so that moving bytes
/// from one file to the next changes it). Reads the files in 1 MiB blocks. A missing or unreadable file:
/// FormatError naming it.
template <class Unused = void>
std::string sentence_encoder_identity(const std::string& directory) {
  namespace fs = std::filesystem;
  XXH3_state_t* state = XXH3_createState();
  if (state == nullptr) throw std::bad_alloc();
  const std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> owned(state, XXH3_freeState);
  XXH3_128bits_reset(state);
  std::vector<char> block(std::size_t{1} << 20);
  for (const char* name : {"config.json", "vocab.txt", "model.safetensors"}) {
    const fs::path path = fs::path(directory) / name;
    std::error_code error;
    const std::uintmax_t size = fs::file_size(path, error);
    std::ifstream in(path, std::ios::binary);
    if (error || !in)
      throw FormatError("sentence_encoder_identity: '" + path.string() + "' is missing or cannot be read");
    std::string header;
    detail::append_key_part(header, name);
    detail::append_key_part(header, std::to_string(size));
    XXH3_128bits_update(state, header.data(), header.size());
    std::uintmax_t read = 0;
    while (in) {
      in.read(block.data(), static_cast<std::streamsize>(block.size()));
      const auto got = static_cast<std::size_t>(in.gcount());
      XXH3_128bits_update(state, block.data(), got);
      read += got;
    }
    if (read != size)
      throw FormatError("sentence_encoder_identity: '" + path.string() + "' changed size while it was read");
  }
  const XXH128_hash_t h = XXH3_128bits_digest(state);
  return "xxh3-128:" + ContentHash{h.high64, h.low64}.hex();
}

/// The SentenceEncoder in `directory` (SentenceEncoder::load) as the dense side of a RagIndex: name
/// "minilm", model = sentence_encoder_identity(directory) and the max_seq_length (it changes the embeddings
/// of long texts), source = the folder, dimension = the encoder's.
/// Its embed is the encoder's encode (thread-safe: the encoder is read-only).
template <class Unused = void>
IndexEmbedder sentence_encoder_index_embedder(const std::string& directory, Index batch_size = 32,
                                              SentenceEncoderOptions options = {}) {
  require(batch_size > 0, "sentence_encoder_index_embedder",
          [&] { return "batch_size must be positive, got " + std::to_string(batch_size); });
  auto encoder = std::make_shared<const SentenceEncoder>(SentenceEncoder::load(directory, options));
  IndexEmbedder out;
  out.name = "minilm";
  out.model = sentence_encoder_identity(directory) + " max_seq_length=" + std::to_string(options.max_seq_length);
  out.source = std::filesystem::absolute(directory).lexically_normal().string();
  out.dimension = encoder->dimension();
  out.embed = [encoder, batch_size](std::span<const std::string> texts) { return encoder->encode(texts, batch_size); };
  return out;
}

}  // namespace aimastery
