#pragma once
/// \file
/// Content hashing and cache-key building for the caches: XXH3-128 of bytes (xxHash, header-only), and
/// keys made of length-prefixed parts so that no two different part lists give the same key.

#include <Eigen/Core>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if !__has_include(<xxhash.h>)
#error "aimastery's content hashing (EmbeddingCache, PredictionCache) needs xxHash: apt-get install libxxhash-dev"
#endif

// xxHash header-only (no link flag). With AVX-512 enabled, GCC 12 warns (-Wmaybe-uninitialized) inside its
// own AVX-512 intrinsics as xxHash inlines them; the AVX2 kernel compiles cleanly and is as fast for the
// short texts a cache hashes.
#if defined(__AVX512F__) && !defined(XXH_VECTOR)
#define XXH_VECTOR 2 /* XXH_AVX2 */
#define AIMASTERY_XXH_VECTOR_CHOSEN
#endif
#define XXH_INLINE_ALL
#include <xxhash.h>
#undef XXH_INLINE_ALL
#if defined(AIMASTERY_XXH_VECTOR_CHOSEN)
#undef XXH_VECTOR
#undef AIMASTERY_XXH_VECTOR_CHOSEN
#endif

namespace aimastery {

/// A 128-bit content hash. With 2^64 distinct contents the chance of any collision is about
/// n² / 2^129 ≈ 2^-1 only at n = 2^64 (the birthday bound), so for any realistic cache it is nil.
struct ContentHash {
  std::uint64_t high = 0;
  std::uint64_t low = 0;

  /// 32 lowercase hexadecimal digits, high half first.
  [[nodiscard]] std::string hex() const {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(32, '0');
    for (int i = 0; i < 16; ++i) {
      out[static_cast<std::size_t>(15 - i)] = digits[(high >> (4 * i)) & 0xf];
      out[static_cast<std::size_t>(31 - i)] = digits[(low >> (4 * i)) & 0xf];
    }
    return out;
  }
  friend bool operator==(const ContentHash&, const ContentHash&) = default;
};

/// XXH3-128 of the bytes of `data` (seed 0).
inline ContentHash content_hash(std::string_view data) {
  const XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  return {h.high64, h.low64};
}

/// XXH3-128 of the coefficients of a dense Eigen object, in its storage order. Equal values give equal
/// hashes; note that 0.0 and -0.0 (or two NaNs with different payloads) differ in their bytes.
template <class Derived>
ContentHash content_hash_of_values(const Eigen::DenseBase<Derived>& values) {
  using T = typename Derived::Scalar;
  const typename Derived::PlainObject plain = values.derived();
  return content_hash(std::string_view(reinterpret_cast<const char*>(plain.data()),
                                       static_cast<std::size_t>(plain.size()) * sizeof(T)));
}

namespace detail {

/// Appends "<length>:<part>:" so that a key's parts can be read back unambiguously: ("a:b", "c") and
/// ("a", "b:c") give different keys, and the key of a prefix of the parts is a prefix of the key.
inline void append_key_part(std::string& key, std::string_view part) {
  key += std::to_string(part.size());
  key += ':';
  key.append(part.data(), part.size());
  key += ':';
}

}  // namespace detail
}  // namespace aimastery
