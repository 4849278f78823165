#pragma once
/// \file
/// The inner product ⟨a, b⟩ = Σᵢ aᵢ bᵢ of two contiguous arrays of n scalars, the distance kernel of the
/// HNSW graph (hnsw_index.hpp), where it runs millions of times on short vectors (32 – 1024 entries), so
/// the call must cost no more than the arithmetic.
///
/// float, by the instruction set the translation unit is compiled for:
///   AVX-512: 16 lanes, two accumulators over 32 entries at a time (two independent fused multiply-add
///            chains hide the FMA latency), a masked load for the last n mod 16 entries, one reduction;
///   AVX2 + FMA: the same with 8 lanes and a scalar tail;
///   otherwise: four scalar accumulators.
/// double: Eigen's dot product (vectorised by Eigen for the same instruction sets).
/// The order of the additions differs between the paths, so results agree to rounding, not bitwise.

#include <Eigen/Core>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include "aimastery/core/tensor.hpp"

namespace aimastery::detail {

#if !defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
/// The sum of the 8 lanes: fold 256 → 128 → 64 → 32 bits.
inline float horizontal_sum(__m256 s) noexcept {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  return _mm_cvtss_f32(h);
}
#endif

/// ⟨a, b⟩ over n ≥ 0 floats.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12's own intrinsics headers, not this code
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
inline float dot_kernel(const float* a, const float* b, Index n) noexcept {
#if defined(__AVX512F__)
  __m512 s0 = _mm512_setzero_ps();
  __m512 s1 = _mm512_setzero_ps();
  Index i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  if (i + 16 <= n) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    i += 16;
  }
  if (i < n) {  // 1 … 15 entries left: load them under a mask (the lanes beyond n read as 0)
    const auto mask = static_cast<__mmask16>((1u << static_cast<unsigned>(n - i)) - 1u);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
#elif defined(__AVX2__) && defined(__FMA__)
  __m256 s0 = _mm256_setzero_ps();
  __m256 s1 = _mm256_setzero_ps();
  Index i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  if (i + 8 <= n) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    i += 8;
  }
  float sum = horizontal_sum(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
#else
  float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  Index i = 0;
  for (; i + 4 <= n; i += 4)
    for (Index j = 0; j < 4; ++j) s[j] += a[i + j] * b[i + j];
  for (; i < n; ++i) s[0] += a[i] * b[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
#endif
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// ⟨a, b⟩ over n ≥ 0 doubles.
inline double dot_kernel(const double* a, const double* b, Index n) noexcept {
  using V = Eigen::Matrix<double, Eigen::Dynamic, 1>;
  return Eigen::Map<const V>(a, n).dot(Eigen::Map<const V>(b, n));
}

}  // namespace aimastery::detail
