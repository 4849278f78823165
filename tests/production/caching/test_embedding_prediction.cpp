// Content hashing, the vector encoding, EmbeddingCache and PredictionCache on the in-process backend.

#include <atomic>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "aimastery/production/caching/cache_backend.hpp"
#include "aimastery/production/caching/content_hash.hpp"
#include "aimastery/production/caching/embedding_cache.hpp"
#include "aimastery/production/caching/prediction_cache.hpp"
#include "aimastery/production/caching/value_codec.hpp"
#include "support.hpp"

using namespace aimastery;
using namespace std::chrono_literals;

namespace {

/// A deterministic toy embedding: dimension 4, from the text's length and characters.
Vector<float> toy_embedding(const std::string& text) {
  Vector<float> v(4);
  float sum = 0;
  for (char ch : text) sum += static_cast<float>(static_cast<unsigned char>(ch));
  v << static_cast<float>(text.size()), sum, sum / 100.0f, text.empty() ? 0.0f : static_cast<float>(text[0]);
  return v;
}

/// A batch embedding function that records every batch it is called with.
struct RecordingEmbedder {
  std::vector<std::vector<std::string>> calls;
  Matrix<float> operator()(const std::vector<std::string>& texts) {
    calls.push_back(texts);
    Matrix<float> out(static_cast<Index>(texts.size()), 4);
    for (std::size_t i = 0; i < texts.size(); ++i) out.row(static_cast<Index>(i)) = toy_embedding(texts[i]).transpose();
    return out;
  }
};

}  // namespace

TEST_CASE("content_hash: 128 bits, equal for equal bytes, different for different bytes") {
  CHECK(content_hash("hello") == content_hash(std::string("hello")));
  CHECK_FALSE(content_hash("hello") == content_hash("hellp"));
  CHECK(content_hash("hello").hex().size() == 32);
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(content_hash("text " + std::to_string(i)).hex());
  CHECK(seen.size() == 10000);
  // The parts of a key are length-prefixed, so moving a separator changes the key.
  std::string a, b;
  detail::append_key_part(a, "x:y");
  detail::append_key_part(a, "z");
  detail::append_key_part(b, "x");
  detail::append_key_part(b, "y:z");
  CHECK(a != b);
}

TEST_CASE_TEMPLATE("encode_vector / decode_vector: round trip, and a wrong type or size is a FormatError", T, float,
                   double) {
  Vector<T> v(5);
  v << T(1), T(-2.5), T(3e-7), T(0), T(1e6);
  const std::string bytes = encode_vector(v);
  CHECK(bytes.size() == 16 + 5 * sizeof(T));
  CHECK(decode_vector<T>(bytes) == v);
  CHECK(decode_vector<T>(encode_vector(Vector<T>(0))).size() == 0);
  using Other = std::conditional_t<std::is_same_v<T, float>, double, float>;
  CHECK_THROWS_NAMING(decode_vector<Other>(bytes), FormatError, "holds scalars of type");
  CHECK_THROWS_NAMING(decode_vector<T>(bytes.substr(0, bytes.size() - 1)), FormatError, "payload bytes");
  CHECK_THROWS_NAMING(decode_vector<T>("plain text"), FormatError, "not an encoded vector");
  std::string huge = bytes;
  huge[15] = '\x7f';  // a count of ~2^63 elements must not allocate
  CHECK_THROWS_NAMING(decode_vector<T>(huge), FormatError, "the header says");
}

TEST_CASE("EmbeddingCache: batch get_or_compute embeds each missing text once, duplicates included") {
  auto backend = std::make_shared<LRUCacheBackend>(LRUCacheBackend::Options{.capacity = 1000});
  EmbeddingCache<float> cache(backend, {.model_id = "toy-4"});
  RecordingEmbedder embed;
  const std::vector<std::string> first{"apple", "banana", "apple", "cherry", "banana"};
  const Matrix<float> e1 = cache.get_or_compute(first, std::ref(embed));
  REQUIRE(embed.calls.size() == 1);
  CHECK(embed.calls[0] == std::vector<std::string>{"apple", "banana", "cherry"});
  REQUIRE(e1.rows() == 5);
  for (Index i = 0; i < 5; ++i) CHECK(e1.row(i).transpose() == toy_embedding(first[static_cast<std::size_t>(i)]));
  CHECK(cache.stats().misses == 5);
  CHECK(cache.stats().hits == 0);

  const std::vector<std::string> second{"cherry", "date", "apple", "date"};
  const Matrix<float> e2 = cache.get_or_compute(second, std::ref(embed));
  REQUIRE(embed.calls.size() == 2);
  CHECK(embed.calls[1] == std::vector<std::string>{"date"});
  for (Index i = 0; i < 4; ++i) CHECK(e2.row(i).transpose() == toy_embedding(second[static_cast<std::size_t>(i)]));
  CHECK(cache.stats().hits == 2);
  CHECK(cache.stats().misses == 7);

  // All cached: the function is not called.
  cache.get_or_compute(second, std::ref(embed));
  CHECK(embed.calls.size() == 2);
  CHECK(cache.get_or_compute(std::vector<std::string>{}, std::ref(embed)).rows() == 0);
}

TEST_CASE("EmbeddingCache: get/set, batches, and keys that separate namespaces and models") {
  auto backend = std::make_shared<LRUCacheBackend>();
  EmbeddingCache<double> model_a(backend, {.model_id = "a"});
  EmbeddingCache<double> model_b(backend, {.model_id = "b"});
  EmbeddingCache<double> other_ns(backend, {.key_namespace = "other", .model_id = "a"});
  CHECK(model_a.key("x") != model_b.key("x"));
  CHECK(model_a.key("x") != other_ns.key("x"));
  CHECK(model_a.key("x") == EmbeddingCache<double>(backend, {.model_id = "a"}).key("x"));
  Vector<double> v(3);
  v << 1, 2, 3;
  model_a.set("x", v);
  CHECK(*model_a.get("x") == v);
  CHECK_FALSE(model_b.get("x").has_value());
  CHECK_FALSE(other_ns.get("x").has_value());
  const std::vector<std::string> texts{"p", "q"};
  Matrix<double> rows(2, 3);
  rows << 1, 2, 3, 4, 5, 6;
  model_b.set_batch(texts, rows);
  const auto got = model_b.get_batch(std::vector<std::string>{"q", "missing", "p"});
  REQUIRE(got.size() == 3);
  CHECK(got[0]->transpose() == rows.row(1));
  CHECK_FALSE(got[1].has_value());
  CHECK(got[2]->transpose() == rows.row(0));
  // A float cache reading a double entry under the same key is a FormatError, not garbage.
  EmbeddingCache<float> float_a(backend, {.model_id = "a"});
  CHECK_THROWS_NAMING(float_a.get("x"), FormatError, "holds scalars of type");
}

TEST_CASE("EmbeddingCache: an exception from the embedding function propagates and nothing is cached") {
  auto backend = std::make_shared<LRUCacheBackend>();
  EmbeddingCache<float> cache(backend, {.model_id = "m"});
  const std::vector<std::string> texts{"a", "b"};
  CHECK_THROWS_AS(cache.get_or_compute(texts,
                                       [](const std::vector<std::string>&) -> Matrix<float> {
                                         throw std::runtime_error("model unavailable");
                                       }),
                  std::runtime_error);
  CHECK_FALSE(cache.get("a").has_value());
}

TEST_CASE("EmbeddingCache: bad inputs") {
  auto backend = std::make_shared<LRUCacheBackend>();
  CHECK_THROWS_NAMING(EmbeddingCache<float>(nullptr, {.model_id = "m"}), InvalidArgument, "backend is null");
  CHECK_THROWS_NAMING(EmbeddingCache<float>(backend, {}), InvalidArgument, "model_id is empty");
  CHECK_THROWS_NAMING(EmbeddingCache<float>(backend, {.model_id = "m", .ttl = -1ms}), InvalidArgument, "ttl must be");
  EmbeddingCache<float> cache(backend, {.model_id = "m"});
  const std::vector<std::string> texts{"a", "b", "c"};
  CHECK_THROWS_NAMING(cache.set_batch(texts, Matrix<float>::Zero(2, 4)), InvalidArgument, "3 texts but 2");
  CHECK_THROWS_NAMING(cache.get_or_compute(texts, [](const std::vector<std::string>&) { return Matrix<float>(1, 4); }),
                      InvalidArgument, "returned 1 rows for 3 texts");
  cache.set("a", Vector<float>::Ones(3));
  CHECK_THROWS_NAMING(cache.get_or_compute(texts,
                                           [](const std::vector<std::string>& t) {
                                             return Matrix<float>::Zero(static_cast<Index>(t.size()), 5);
                                           }),
                      FormatError, "different dimensions");
}

TEST_CASE("PredictionCache: key by version and features, TTL, invalidation of one version only") {
  auto backend = std::make_shared<LRUCacheBackend>();
  PredictionCache<double> cache(backend);
  Vector<double> x(3), y(3);
  x << 1, 2, 3;
  y << 1, 2, 4;
  int calls = 0;
  auto model = [&](const Vector<double>& features) {
    ++calls;
    return Vector<double>(features * 2.0);
  };
  CHECK(cache.get_or_compute("v1", x, model) == x * 2.0);
  CHECK(cache.get_or_compute("v1", x, model) == x * 2.0);
  CHECK(calls == 1);
  cache.get_or_compute("v1", y, model);
  cache.get_or_compute("v1.1", x, model);
  cache.get_or_compute("v2", x, model);
  CHECK(calls == 4);
  CHECK(cache.key("v1", x) != cache.key("v1", y));
  CHECK(cache.key("v1", x) != cache.key("v2", x));
  CHECK(cache.stats().hits == 1);
  CHECK(cache.stats().misses == 4);

  CHECK(cache.invalidate("v1") == 2);  // not v1.1, not v2
  CHECK_FALSE(cache.get("v1", x).has_value());
  CHECK_FALSE(cache.get("v1", y).has_value());
  CHECK(cache.get("v1.1", x).has_value());
  CHECK(cache.get("v2", x).has_value());
  cache.set("v3", x, Vector<double>::Constant(1, 7.0));
  CHECK((*cache.get("v3", x))(0) == 7.0);
}

TEST_CASE("PredictionCache: TTL through the backend's clock") {
  CacheClock::time_point now{std::chrono::hours(1)};
  auto backend =
      std::make_shared<LRUCacheBackend>(LRUCacheBackend::Options{.capacity = 100, .clock = [&now] { return now; }}, 1);
  PredictionCache<float> cache(backend, {.ttl = 500ms});
  Vector<float> x = Vector<float>::Ones(2);
  cache.set("v1", x, x);
  now += 499ms;
  CHECK(cache.get("v1", x).has_value());
  now += 1ms;
  CHECK_FALSE(cache.get("v1", x).has_value());
}

TEST_CASE("PredictionCache: bad inputs") {
  auto backend = std::make_shared<LRUCacheBackend>();
  CHECK_THROWS_NAMING(PredictionCache<double>(nullptr), InvalidArgument, "backend is null");
  CHECK_THROWS_NAMING(PredictionCache<double>(backend, {.ttl = -1ms}), InvalidArgument, "ttl must be");
  PredictionCache<double> cache(backend);
  CHECK_THROWS_NAMING(cache.get("", Vector<double>::Ones(2)), InvalidArgument, "model_version is empty");
  CHECK_THROWS_NAMING(cache.invalidate(""), InvalidArgument, "PredictionCache::invalidate: model_version is empty");
}
