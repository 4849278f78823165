// CachedEmbedder: the model sees each text once however often it comes back, the rows equal the model's,
// partial hits send only the missing texts, an empty batch is 0 × dimension, and a cache shared by two
// models of different dimensions under one model_id is a FormatError.
#include <aimastery/llm/rag/cached_embedder.hpp>
#include <aimastery/llm/rag/hashing_tfidf_embedder.hpp>
#include <aimastery/production/caching/cache_backend.hpp>

#include "support.hpp"

using namespace aimastery;

namespace {

// The hashing embedder, counting the texts it is asked to embed.
struct CountingEmbedder {
  using Scalar = float;
  HashingTfidfEmbedder<float> inner;
  std::vector<std::string> seen;
  explicit CountingEmbedder(Index dimension) : inner({.dimension = dimension}) {}
  [[nodiscard]] Index dimension() const { return inner.dimension(); }
  Matrix<float> embed(std::span<const std::string> texts) {
    seen.insert(seen.end(), texts.begin(), texts.end());
    return inner.embed(texts);
  }
};

}  // namespace

static_assert(EmbeddingModel<CachedEmbedder<CountingEmbedder>>);

TEST_CASE("CachedEmbedder: each text reaches the model once and the rows equal the model's") {
  const std::vector<std::string> texts = {"bm25 ranks by term frequency", "dense vectors by cosine",
                                          "bm25 ranks by term frequency", "fusion merges rankings"};
  CountingEmbedder model(64);
  model.inner.fit(texts);
  EmbeddingCache<float> cache(std::make_shared<LRUCacheBackend>(), {.model_id = "hashing-64"});
  CachedEmbedder cached(model, cache);
  CHECK(cached.dimension() == 64);

  const Matrix<float> first = cached.embed(texts);
  CHECK(model.seen.size() == 3);  // the duplicate is embedded once
  const Matrix<float> direct = model.inner.embed(texts);
  CHECK(first == direct);

  model.seen.clear();
  const Matrix<float> again = cached.embed(texts);
  CHECK(model.seen.empty());
  CHECK(again == direct);
  CHECK(cache.stats().hits >= texts.size());

  const std::vector<std::string> mixed = {"fusion merges rankings", "a passage not seen before"};
  const Matrix<float> partial = cached.embed(mixed);
  CHECK(model.seen == std::vector<std::string>{"a passage not seen before"});
  CHECK(partial == model.inner.embed(mixed));

  const Matrix<float> none = cached.embed(std::span<const std::string>{});
  CHECK(none.rows() == 0);
  CHECK(none.cols() == 64);
}

TEST_CASE("CachedEmbedder: embeddings of another dimension under the same model_id are a FormatError") {
  const std::vector<std::string> texts = {"one text", "another text"};
  auto backend = std::make_shared<LRUCacheBackend>();
  CountingEmbedder small(16), large(32);
  small.inner.fit(texts);
  large.inner.fit(texts);
  EmbeddingCache<float> cache(backend, {.model_id = "shared-id"});
  CachedEmbedder cached_small(small, cache);
  CachedEmbedder cached_large(large, cache);
  static_cast<void>(cached_small.embed(texts));
  CHECK_THROWS_NAMING(static_cast<void>(cached_large.embed(texts)), FormatError,
                      "the cache holds embeddings of dimension 16, the model's is 32");
  CHECK(large.seen.empty());
}
