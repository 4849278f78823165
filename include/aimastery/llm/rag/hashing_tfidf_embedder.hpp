#pragma once
/// \file
/// HashingTfidfEmbedder: TF-IDF vectors in a fixed number of hashed dimensions: white-box, no weights,
/// the default EmbeddingModel. Its vectors equal scikit-learn's HashingVectorizer(analyzer = the
/// LexicalTokenizer, norm=None) followed by TfidfTransformer(norm="l2", smooth_idf=True).
///
///   HashingTfidfEmbedder<float> embedder({.dimension = 4096});
///   embedder.fit(chunk_texts);                 // document frequencies -> idf
///   Matrix<float> E = embedder.embed(texts);   // unit rows (a text without tokens gives a zero row)
///
/// For a text, every token t (LexicalTokenizer) adds to one dimension:
///   h = MurmurHash3_x86_32(utf8(t), seed 0) as a signed 32-bit integer
///   j = |h| mod dimension,  x[j] += sign,  sign = +1 if h >= 0 else −1 (alternate_sign; else +1)
/// so x holds (signed) term counts tf. With sublinear_tf, a count c > 0 becomes 1 + ln c. fit() counts, over
/// the n fitted texts, the texts in which some token lands in dimension j (df_j; as scikit-learn counts,
/// even when signed counts cancel to 0), and sets
///   idf_j = ln((1 + n) / (1 + df_j)) + 1
/// embed() returns v = x ⊙ idf scaled to unit Euclidean norm.
///
/// Hashing needs no vocabulary: unseen words still land in some dimension, and two words sharing a
/// dimension (a collision) are indistinguishable; alternate signs make collisions cancel in dot products
/// on average instead of adding up.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/embedding_model.hpp"
#include "aimastery/llm/rag/lexical_tokenizer.hpp"

namespace aimastery {

namespace detail::rag {

/// MurmurHash3_x86_32 (Austin Appleby's public-domain reference), little-endian blocks.
inline std::uint32_t murmur3_32(std::string_view key, std::uint32_t seed = 0) noexcept {
  const auto rotl = [](std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  constexpr std::uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
  const auto* p = reinterpret_cast<const unsigned char*>(key.data());
  const std::size_t n = key.size();
  std::uint32_t h = seed;
  for (std::size_t i = 0; i + 4 <= n; i += 4) {
    std::uint32_t k = std::uint32_t(p[i]) | std::uint32_t(p[i + 1]) << 8 | std::uint32_t(p[i + 2]) << 16 |
                      std::uint32_t(p[i + 3]) << 24;
    k = rotl(k * c1, 15) * c2;
    h = rotl(h ^ k, 13) * 5 + 0xe6546b64;
  }
  const std::size_t tail = n & ~std::size_t{3};
  std::uint32_t k = 0;
  switch (n & 3) {
    case 3:
      k ^= std::uint32_t(p[tail + 2]) << 16;
      [[fallthrough]];
    case 2:
      k ^= std::uint32_t(p[tail + 1]) << 8;
      [[fallthrough]];
    case 1:
      k ^= p[tail];
      h ^= rotl(k * c1, 15) * c2;
  }
  h ^= static_cast<std::uint32_t>(n);
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

}  // namespace detail::rag

struct HashingTfidfOptions {
  Index dimension = 4096;      ///< hashed dimensions (scikit-learn's n_features)
  bool alternate_sign = true;  ///< sign of each token from its hash
  bool sublinear_tf = false;   ///< tf -> 1 + ln tf (only without alternate_sign: counts must be >= 0)
  LexicalTokenizerOptions tokenizer = {};
};

template <Scalar T = float>
class HashingTfidfEmbedder {
 public:
  using Scalar = T;

  explicit HashingTfidfEmbedder(HashingTfidfOptions options = {}) : options_(options), tokenizer_(options.tokenizer) {
    constexpr std::string_view where = "HashingTfidfEmbedder";
    require(options_.dimension >= 1 && options_.dimension <= (Index{1} << 30), where,
            [&] { return "dimension must be in [1, 2^30], got " + std::to_string(options_.dimension); });
    require(!(options_.sublinear_tf && options_.alternate_sign), where,
            "sublinear_tf needs alternate_sign = false (the log of a negative count is undefined)");
  }

  [[nodiscard]] Index dimension() const noexcept { return options_.dimension; }
  [[nodiscard]] const HashingTfidfOptions& options() const noexcept { return options_; }
  [[nodiscard]] bool fitted() const noexcept { return idf_.size() != 0; }
  /// idf_j of every dimension (NotFittedError before fit).
  [[nodiscard]] const Vector<double>& idf() const {
    if (!fitted()) throw NotFittedError("HashingTfidfEmbedder::idf: call fit() first");
    return idf_;
  }

  /// The dimension and sign of a token.
  [[nodiscard]] std::pair<Index, int> bucket(std::string_view token) const {
    const auto h = static_cast<std::int32_t>(detail::rag::murmur3_32(token));
    const auto n = static_cast<std::int64_t>(options_.dimension);
    const std::int64_t magnitude = h == INT32_MIN ? (std::int64_t{1} << 31) : std::abs(static_cast<std::int64_t>(h));
    return {static_cast<Index>(magnitude % n), options_.alternate_sign && h < 0 ? -1 : 1};
  }

  /// Learns the idf of every dimension from a corpus (replacing any earlier fit).
  HashingTfidfEmbedder& fit(std::span<const std::string> texts) {
    Vector<double> df = Vector<double>::Zero(options_.dimension);
    Scratch s(options_.dimension);
    for (const std::string& text : texts) {
      counts(text, s);
      for (const Index j : s.touched) df[j] += 1;
      s.clear();
    }
    // Smoothed idf, as scikit-learn's TfidfTransformer: idf_j = ln((1 + n) / (1 + df_j)) + 1.
    const double n = static_cast<double>(texts.size());
    Vector<double> idf(options_.dimension);
    for (Index j = 0; j < options_.dimension; ++j) idf[j] = std::log((1.0 + n) / (1.0 + df[j])) + 1.0;
    idf_ = std::move(idf);
    return *this;
  }

  /// Unit TF-IDF rows, one per text (NotFittedError before fit).
  [[nodiscard]] Matrix<T> embed(std::span<const std::string> texts) const {
    if (!fitted()) throw NotFittedError("HashingTfidfEmbedder::embed: call fit() first");
    Matrix<T> out = Matrix<T>::Zero(static_cast<Index>(texts.size()), options_.dimension);
    Scratch s(options_.dimension);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      counts(texts[i], s);
      double norm2 = 0;
      for (const Index j : s.touched) {
        double& v = s[j];
        if (options_.sublinear_tf && v > 0) v = 1.0 + std::log(v);
        v *= idf_[j];
        norm2 += v * v;
      }
      const double scale = norm2 > 0 ? 1.0 / std::sqrt(norm2) : 0.0;
      for (const Index j : s.touched) out(static_cast<Index>(i), j) = static_cast<T>(s[j] * scale);
      s.clear();
    }
    return out;
  }

 private:
  /// A dense count vector that is cleared by visiting only the dimensions a text touched.
  struct Scratch {
    std::vector<double> x;
    std::vector<unsigned char> seen;
    std::vector<Index> touched;
    explicit Scratch(Index n) : x(static_cast<std::size_t>(n), 0.0), seen(static_cast<std::size_t>(n), 0) {}
    double& operator[](Index j) { return x[static_cast<std::size_t>(j)]; }
    void clear() {
      for (const Index j : touched) x[static_cast<std::size_t>(j)] = 0, seen[static_cast<std::size_t>(j)] = 0;
      touched.clear();
    }
  };

  /// Signed counts of a text's tokens into s.
  void counts(std::string_view text, Scratch& s) const {
    tokenizer_.for_each_token(text, [&](std::string_view token) {
      const auto [j, sign] = bucket(token);
      if (!s.seen[static_cast<std::size_t>(j)]) {
        s.seen[static_cast<std::size_t>(j)] = 1;
        s.touched.push_back(j);
      }
      s[j] += sign;
    });
  }

  HashingTfidfOptions options_;
  LexicalTokenizer tokenizer_;
  Vector<double> idf_;
};

static_assert(EmbeddingModel<HashingTfidfEmbedder<float>>);

}  // namespace aimastery
