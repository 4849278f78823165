// Tour section: caching embeddings and predictions (production.caching).

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "aimastery/io/csv.hpp"
#include "aimastery/production/caching.hpp"
#include "tour.hpp"

namespace {

/// A toy deterministic embedding (8 numbers from the text's characters), standing in for a model call.
aimastery::Matrix<float> toy_embed(const std::vector<std::string>& texts) {
  aimastery::Matrix<float> out = aimastery::Matrix<float>::Zero(static_cast<Eigen::Index>(texts.size()), 8);
  for (std::size_t i = 0; i < texts.size(); ++i)
    for (std::size_t c = 0; c < texts[i].size(); ++c)
      out(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(c % 8)) += static_cast<float>(texts[i][c]) / 128.0f;
  return out;
}

/// Redis on 127.0.0.1:6379 when a server answers, else the in-process LRU.
std::shared_ptr<aimastery::CacheBackend> pick_backend(const std::string& prefix, std::string& description) {
#if defined(AIMASTERY_HAVE_REDIS)
  try {
    auto redis = std::make_shared<aimastery::RedisCache>(
        aimastery::RedisCacheOptions{.key_prefix = prefix, .connect_timeout = std::chrono::milliseconds(100)});
    description = "Redis at 127.0.0.1:6379";
    return std::make_shared<aimastery::RedisCacheBackend>(redis);
  } catch (const aimastery::ConnectionError&) {
  }
#endif
  (void)prefix;
  description = "in-process LRU (no Redis server reachable)";
  return std::make_shared<aimastery::LRUCacheBackend>(aimastery::LRUCacheBackend::Options{.capacity = 4096});
}

}  // namespace

AIMASTERY_TOUR_SECTION(50, "production: caching embeddings and predictions") {
  using namespace aimastery;
  std::string description;
  const std::string prefix = "aimastery-tour:" + std::to_string(::getpid()) + ":";
  auto backend = pick_backend(prefix, description);
  std::cout << "backend: " << description << "\n";

  // Embeddings: 10 batches of 30 queries drawn (Zipf-like) from 60 distinct questions.
  EmbeddingCache<float> embeddings(backend, {.model_id = "toy-embed-8", .ttl = std::chrono::minutes(10)});
  std::mt19937_64 rng(7);
  std::discrete_distribution<int> question({60, 30, 20, 15, 12, 10, 9, 8, 7, 6, 5, 5, 4, 4, 4, 3, 3, 3, 3, 3,
                                            2,  2,  2,  2,  2,  2,  2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                            1,  1,  1,  1,  1,  1,  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  int model_calls = 0;
  std::size_t texts_embedded = 0;
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<std::string> texts;
    for (int i = 0; i < 30; ++i) texts.push_back("how do I fix error " + std::to_string(question(rng)) + "?");
    embeddings.get_or_compute(texts, [&](const std::vector<std::string>& missing) {
      ++model_calls;
      texts_embedded += missing.size();
      return toy_embed(missing);
    });
  }
  const auto es = embeddings.stats();
  std::printf("embeddings: 300 texts in 10 batches -> %d model calls, %zu texts embedded, hit rate %.1f%%\n",
              model_calls, texts_embedded, 100.0 * es.hit_rate());

  // Predictions: a nearest-class-mean model on iris, 600 requests for 150 flowers, then a new version.
  const auto iris = read_csv<double>(data_dir + "/iris.csv", {.target = "target"});
  Matrix<double> means = Matrix<double>::Zero(3, iris.X.cols());
  Vector<double> counts = Vector<double>::Zero(3);
  for (Index i = 0; i < iris.X.rows(); ++i) {
    means.row(static_cast<Index>(iris.y(i))) += iris.X.row(i);
    counts(static_cast<Index>(iris.y(i))) += 1;
  }
  for (Index c = 0; c < 3; ++c) means.row(c) /= counts(c);
  int predictions_computed = 0;
  auto model = [&](const Vector<double>& x) {
    ++predictions_computed;
    Index best = 0;
    (means.rowwise() - x.transpose()).rowwise().squaredNorm().minCoeff(&best);
    return Vector<double>::Constant(1, static_cast<double>(best));
  };
  PredictionCache<double> predictions(backend, {.ttl = std::chrono::minutes(10)});
  std::uniform_int_distribution<Index> flower(0, iris.X.rows() - 1);
  int correct = 0;
  for (int r = 0; r < 600; ++r) {
    const Index i = flower(rng);
    const Vector<double> x = iris.X.row(i).transpose();
    correct += predictions.get_or_compute("ncm-v1", x, model)(0) == iris.y(i) ? 1 : 0;
  }
  std::printf("predictions v1: 600 requests -> %d model calls, hit rate %.1f%%, accuracy %.3f\n", predictions_computed,
              100.0 * predictions.stats().hit_rate(), correct / 600.0);
  const std::size_t dropped = predictions.invalidate("ncm-v1");
  predictions.reset_stats();
  predictions_computed = 0;
  for (int r = 0; r < 300; ++r)
    predictions.get_or_compute("ncm-v2", Vector<double>(iris.X.row(flower(rng)).transpose()), model);
  std::printf("invalidate(ncm-v1) removed %zu entries; v2: 300 requests -> %d model calls, hit rate %.1f%%\n", dropped,
              predictions_computed, 100.0 * predictions.stats().hit_rate());

  // The in-process LRU itself: a loop one longer than the capacity never hits (LRU's worst case).
  LRUCache<int, int> lru({.capacity = 100});
  for (int pass = 0; pass < 5; ++pass)
    for (int k = 0; k <= 100; ++k)
      if (!lru.get(k)) lru.put(k, k);
  std::printf("LRUCache(capacity 100), loop over 101 keys x5: hits %llu, evictions %llu\n",
              static_cast<unsigned long long>(lru.stats().hits),
              static_cast<unsigned long long>(lru.stats().evictions));
  predictions.invalidate("ncm-v2");
  backend->erase_prefix("");
}
