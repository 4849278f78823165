#pragma once
/// \file
/// EmbeddingModel: the one interface every text embedder of the RAG pipeline satisfies.
///
///   template <EmbeddingModel M> void index(M& model, std::span<const std::string> texts) {
///     Matrix<typename M::Scalar> E = model.embed(texts);   // one row per text, dimension() columns
///   }
///
/// A model has a scalar type, a fixed dimension, and embeds a batch of texts into a texts × dimension
/// matrix (row i for texts[i]). Built-ins: HashingTfidfEmbedder (white-box, no weights: the default) and
/// SentenceEncoderEmbedder (the MiniLM SentenceEncoder of llm.attention). A model's `embed` may be
/// non-const (a model may keep per-thread scratch), and must not depend on the batch's composition.

#include <concepts>
#include <span>
#include <string>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

template <class M>
concept EmbeddingModel = requires(M& model, const M& const_model, std::span<const std::string> texts) {
  typename M::Scalar;
  requires Scalar<typename M::Scalar>;
  { const_model.dimension() } -> std::convertible_to<Index>;
  { model.embed(texts) } -> std::same_as<Matrix<typename M::Scalar>>;
};

}  // namespace aimastery
