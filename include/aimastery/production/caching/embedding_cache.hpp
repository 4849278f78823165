#pragma once
/// \file
/// EmbeddingCache: embeddings of texts cached under a content hash, so that a text is embedded once per
/// model however often it comes back.
///
///   key(text) = parts(namespace, model_id) + hex(XXH3-128(text))
///
/// where parts() length-prefixes each part (see content_hash.hpp). Values are the embeddings encoded with
/// their scalar type and length (value_codec.hpp), in any CacheBackend: LRUCacheBackend in this process or
/// RedisCacheBackend shared by many processes.

#include <Eigen/Core>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/production/caching/cache_backend.hpp"
#include "aimastery/production/caching/content_hash.hpp"
#include "aimastery/production/caching/value_codec.hpp"

namespace aimastery {

struct EmbeddingCacheOptions {
  /// The first part of every key (several caches can share one backend).
  std::string key_namespace = "embedding";
  /// The embedding model (required: embeddings of different models must never share keys).
  std::string model_id{};
  /// Lifetime of a stored embedding; zero = never expires.
  std::chrono::milliseconds ttl{0};
  /// In get_or_compute, a backend that fails (ConnectionError) is treated as empty and the write-back is
  /// skipped: the embeddings are computed and returned, and stats().backend_errors counts the failure.
  /// With false the ConnectionError propagates. get/set/get_batch/set_batch always propagate it.
  bool compute_when_backend_fails = true;
};

template <Scalar T = float>
class EmbeddingCache {
 public:
  EmbeddingCache(std::shared_ptr<CacheBackend> backend, EmbeddingCacheOptions options)
      : backend_(std::move(backend)), options_(std::move(options)) {
    if (!backend_) throw InvalidArgument("EmbeddingCache: the backend is null");
    if (options_.model_id.empty())
      throw InvalidArgument("EmbeddingCache: model_id is empty (embeddings of different models must not share keys)");
    if (options_.ttl.count() < 0)
      throw InvalidArgument("EmbeddingCache: ttl must be zero (never expire) or positive, got " +
                            std::to_string(options_.ttl.count()) + " ms");
    detail::append_key_part(prefix_, options_.key_namespace);
    detail::append_key_part(prefix_, options_.model_id);
  }

  /// The backend key of `text`.
  [[nodiscard]] std::string key(std::string_view text) const { return prefix_ + content_hash(text).hex(); }

  /// The cached embedding of `text`, or nothing.
  std::optional<Vector<T>> get(std::string_view text) {
    const std::string k = key(text);
    return std::move(get_batch_by_keys(std::span<const std::string>(&k, 1)).front());
  }

  template <class Derived>
  void set(std::string_view text, const Eigen::MatrixBase<Derived>& embedding) {
    const std::pair<std::string, std::string> item{key(text), encode_vector(Vector<T>(embedding.derived()))};
    backend_->set_many(std::span(&item, 1), options_.ttl);
  }

  /// The cached embeddings of `texts`, in order (one backend round trip).
  std::vector<std::optional<Vector<T>>> get_batch(std::span<const std::string> texts) {
    std::vector<std::string> keys;
    keys.reserve(texts.size());
    for (const auto& text : texts) keys.push_back(key(text));
    return get_batch_by_keys(keys);
  }

  /// Stores row i of `embeddings` as the embedding of texts[i] (one backend round trip).
  template <class Derived>
  void set_batch(std::span<const std::string> texts, const Eigen::MatrixBase<Derived>& embeddings) {
    if (static_cast<Index>(texts.size()) != embeddings.rows())
      throw InvalidArgument("EmbeddingCache::set_batch: " + std::to_string(texts.size()) + " texts but " +
                            std::to_string(embeddings.rows()) + " embedding rows");
    std::vector<std::pair<std::string, std::string>> items;
    items.reserve(texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i)
      items.emplace_back(key(texts[i]), encode_vector(Vector<T>(embeddings.row(static_cast<Index>(i)).transpose())));
    backend_->set_many(items, options_.ttl);
  }

  /// The embeddings of `texts` as the rows of a matrix. The texts not in the cache are embedded by one
  /// call `embed(missing)`, where `missing` holds each of them once (duplicates within the batch too)
  /// and `embed` returns one row per text; the results are stored and returned. `embed` is not called
  /// when every text is cached. Every embedding must have the same dimension.
  template <class Embed>
  Matrix<T> get_or_compute(std::span<const std::string> texts, Embed&& embed) {
    static constexpr const char* where = "EmbeddingCache::get_or_compute";
    // Unique keys, in order of first appearance; position[i] = index of texts[i] among them.
    std::vector<std::string> unique_keys;
    std::vector<std::size_t> position(texts.size());
    {
      std::unordered_map<std::string, std::size_t> seen;
      for (std::size_t i = 0; i < texts.size(); ++i) {
        std::string k = key(texts[i]);
        auto [it, inserted] = seen.emplace(std::move(k), unique_keys.size());
        if (inserted) unique_keys.push_back(it->first);
        position[i] = it->second;
      }
    }
    std::vector<std::optional<Vector<T>>> found(unique_keys.size());
    bool backend_ok = true;
    try {
      found = decode_all(backend_->get_many(unique_keys));
    } catch (const ConnectionError&) {
      if (!options_.compute_when_backend_fails) throw;
      backend_ok = false;
      stats_.backend_errors.fetch_add(1, std::memory_order_relaxed);
    }

    std::vector<std::string> missing_texts;
    std::vector<std::size_t> missing_unique;
    std::vector<char> queued(unique_keys.size(), 0);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const std::size_t u = position[i];
      if (found[u] || queued[u]) continue;
      queued[u] = 1;
      missing_unique.push_back(u);
      missing_texts.push_back(texts[i]);
    }
    std::size_t hit_count = 0;
    for (std::size_t i = 0; i < texts.size(); ++i) hit_count += found[position[i]] ? 1 : 0;
    stats_.hits.fetch_add(hit_count, std::memory_order_relaxed);
    stats_.misses.fetch_add(texts.size() - hit_count, std::memory_order_relaxed);

    if (!missing_texts.empty()) {
      const Matrix<T> computed = std::forward<Embed>(embed)(std::as_const(missing_texts));
      if (computed.rows() != static_cast<Index>(missing_texts.size()))
        throw InvalidArgument(std::string(where) + ": the embedding function returned " +
                              std::to_string(computed.rows()) + " rows for " + std::to_string(missing_texts.size()) +
                              " texts");
      std::vector<std::pair<std::string, std::string>> items;
      items.reserve(missing_texts.size());
      for (std::size_t m = 0; m < missing_texts.size(); ++m) {
        Vector<T> row = computed.row(static_cast<Index>(m)).transpose();
        items.emplace_back(unique_keys[missing_unique[m]], encode_vector(row));
        found[missing_unique[m]] = std::move(row);
      }
      if (backend_ok) {
        try {
          backend_->set_many(items, options_.ttl);
        } catch (const ConnectionError&) {
          if (!options_.compute_when_backend_fails) throw;
          stats_.backend_errors.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }

    if (texts.empty()) return Matrix<T>(0, 0);
    const Index dim = found[position[0]]->size();
    Matrix<T> out(static_cast<Index>(texts.size()), dim);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const Vector<T>& v = *found[position[i]];
      if (v.size() != dim)
        throw FormatError(std::string(where) + ": embeddings of different dimensions in one batch (" +
                          std::to_string(dim) + " and " + std::to_string(v.size()) +
                          "); is the cache shared by two models under one model_id?");
      out.row(static_cast<Index>(i)) = v.transpose();
    }
    return out;
  }

  [[nodiscard]] BackendCacheStats stats() const { return stats_.snapshot(); }
  void reset_stats() { stats_.reset(); }
  [[nodiscard]] const EmbeddingCacheOptions& options() const noexcept { return options_; }

 private:
  std::vector<std::optional<Vector<T>>> decode_all(const std::vector<std::optional<std::string>>& bytes) const {
    std::vector<std::optional<Vector<T>>> out(bytes.size());
    for (std::size_t i = 0; i < bytes.size(); ++i)
      if (bytes[i]) out[i] = decode_vector<T>(*bytes[i]);
    return out;
  }

  std::vector<std::optional<Vector<T>>> get_batch_by_keys(std::span<const std::string> keys) {
    auto out = decode_all(backend_->get_many(keys));
    std::size_t hit_count = 0;
    for (const auto& v : out) hit_count += v ? 1 : 0;
    stats_.hits.fetch_add(hit_count, std::memory_order_relaxed);
    stats_.misses.fetch_add(out.size() - hit_count, std::memory_order_relaxed);
    return out;
  }

  std::shared_ptr<CacheBackend> backend_;
  EmbeddingCacheOptions options_;
  std::string prefix_;
  detail::AtomicBackendCacheStats stats_;
};

}  // namespace aimastery
