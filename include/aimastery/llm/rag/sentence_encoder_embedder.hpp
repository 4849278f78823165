#pragma once
/// \file
/// SentenceEncoderEmbedder: the MiniLM SentenceEncoder of llm.attention seen as an EmbeddingModel.
///
///   SentenceEncoderEmbedder minilm(SentenceEncoder::load(dir));
///   DenseRetriever<SentenceEncoderEmbedder> dense(std::move(minilm));
///
/// Embeddings are the encoder's: mean-pooled, unit norm, float, in batches of `batch_size` texts.

#include <span>
#include <string>
#include <utility>

#include "aimastery/llm/attention/sentence_encoder.hpp"
#include "aimastery/llm/rag/embedding_model.hpp"

namespace aimastery {

class SentenceEncoderEmbedder {
 public:
  using Scalar = float;

  explicit SentenceEncoderEmbedder(SentenceEncoder encoder, Index batch_size = 32)
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

static_assert(EmbeddingModel<SentenceEncoderEmbedder>);

}  // namespace aimastery
