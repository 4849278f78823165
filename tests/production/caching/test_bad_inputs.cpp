// Bad inputs of the caching API not covered beside their features, and the rule that a call that throws
// leaves its object as it was (same entries, same order, same weight).

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "aimastery/production/caching.hpp"
#include "support.hpp"

using namespace aimastery;
using namespace std::chrono_literals;

TEST_CASE("LRUCache: refused calls leave entries, order and weight as they were") {
  LRUCache<int, std::string> cache(
      {.capacity = 3, .max_weight = 100, .weigher = [](const int&, const std::string& v) { return v.size(); }});
  cache.put(1, "a");
  cache.put(2, "bb");
  const auto keys = cache.keys();
  CHECK_THROWS_NAMING(cache.put(3, "ccc", -1ns), InvalidArgument, "LRUCache::put: ttl must be zero");
  CHECK_THROWS_NAMING(cache.get_or_compute(
                          3, [] { return std::string("c"); }, -1ns),
                      InvalidArgument, "LRUCache::get_or_compute: ttl");
  CHECK_THROWS_AS(cache.get_or_compute(3, []() -> std::string { throw std::runtime_error("down"); }),
                  std::runtime_error);
  CHECK(cache.keys() == keys);
  CHECK(cache.size() == 2);
  CHECK(cache.weight() == 3);
  CHECK_FALSE(cache.contains(3));
}

TEST_CASE("LRUCache: a capacity beyond the 32-bit node index is refused, naming the limit") {
  CHECK_THROWS_NAMING((LRUCache<int, int>({.capacity = std::size_t(1) << 33})), InvalidArgument, "exceeds the limit");
}

TEST_CASE("LRUCacheBackend: bad options name the cache; a negative ttl stores none of the batch") {
  CHECK_THROWS_NAMING(LRUCacheBackend({.capacity = 4}, 0), InvalidArgument, "shards must be at least 1");
  LRUCacheBackend backend({.capacity = 16}, 2);
  const std::vector<std::pair<std::string, std::string>> items{{"a", "1"}, {"b", "2"}};
  CHECK_THROWS_NAMING(backend.set_many(items, -1ms), InvalidArgument, "LRUCacheBackend::set_many: ttl");
  CHECK(backend.cache().size() == 0);
  backend.set_many(items, 0ms);
  CHECK(backend.cache().size() == 2);
}

TEST_CASE("EmbeddingCache: a refused batch stores nothing") {
  auto backend = std::make_shared<LRUCacheBackend>();
  EmbeddingCache<float> cache(backend, {.model_id = "m"});
  const std::vector<std::string> texts{"a", "b", "c"};
  CHECK_THROWS_NAMING(cache.set_batch(texts, Matrix<float>::Zero(2, 4)), InvalidArgument, "3 texts but 2");
  CHECK(backend->cache().size() == 0);
  CHECK_THROWS_AS(
      cache.get_or_compute(
          texts, [](const std::vector<std::string>&) -> Matrix<float> { throw std::runtime_error("model down"); }),
      std::runtime_error);
  CHECK(backend->cache().size() == 0);
}

TEST_CASE("PredictionCache: an empty model version is refused for every call, naming the call") {
  auto backend = std::make_shared<LRUCacheBackend>();
  PredictionCache<double> cache(backend);
  const Vector<double> x = Vector<double>::Ones(3);
  CHECK_THROWS_NAMING(cache.set("", x, x), InvalidArgument, "model_version is empty");
  CHECK_THROWS_NAMING(cache.get_or_compute("", x, [](const auto& f) { return Vector<double>(f); }), InvalidArgument,
                      "model_version is empty");
  CHECK(backend->cache().size() == 0);
}

TEST_CASE("decode_vector: an empty value is not a vector") {
  CHECK_THROWS_NAMING(decode_vector<double>(""), FormatError, "0 bytes without the AIMv header");
}
