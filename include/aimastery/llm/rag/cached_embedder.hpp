#pragma once
/// \file
/// CachedEmbedder: any EmbeddingModel behind an EmbeddingCache (production/caching), itself an
/// EmbeddingModel, so retrievers, MMR and the bi-encoder scorer use it unchanged.
///
///   auto backend = std::make_shared<LRUCacheBackend>(LRUCacheBackend::Options{.capacity = 100'000});
///   EmbeddingCache<float> cache(backend, {.model_id = "all-MiniLM-L6-v2"});
///   CachedEmbedder cached(encoder_embedder, cache);
///   Matrix<float> E = cached.embed(texts);   // only the texts not seen before reach the model
///
/// A batch is looked up in the cache at once; the texts it misses (each once, duplicates included) go to
/// the model in one call, and their embeddings are stored under the model's id. The model and the cache
/// are held by reference. A cached vector of another dimension than the model's (two models sharing one
/// model_id) is a FormatError, never a silently wrong matrix.

#include <span>
#include <string>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/embedding_model.hpp"
#include "aimastery/production/caching/embedding_cache.hpp"

namespace aimastery {

template <EmbeddingModel Model>
class CachedEmbedder {
 public:
  using Scalar = typename Model::Scalar;

  CachedEmbedder(Model& model, EmbeddingCache<Scalar>& cache) : model_(&model), cache_(&cache) {}

  [[nodiscard]] Index dimension() const { return static_cast<Index>(model_->dimension()); }

  /// One row per text, as model.embed(texts) gives.
  [[nodiscard]] Matrix<Scalar> embed(std::span<const std::string> texts) {
    if (texts.empty()) return Matrix<Scalar>(0, dimension());
    Matrix<Scalar> E =
        cache_->get_or_compute(texts, [this](std::span<const std::string> missing) { return model_->embed(missing); });
    if (E.cols() != dimension())
      throw FormatError("CachedEmbedder::embed: the cache holds embeddings of dimension " + std::to_string(E.cols()) +
                        ", the model's is " + std::to_string(dimension()) + " (do two models share the model_id '" +
                        cache_->options().model_id + "'?)");
    return E;
  }

  [[nodiscard]] Model& model() const noexcept { return *model_; }
  [[nodiscard]] EmbeddingCache<Scalar>& cache() const noexcept { return *cache_; }

 private:
  Model* model_;
  EmbeddingCache<Scalar>* cache_;
};

}  // namespace aimastery
