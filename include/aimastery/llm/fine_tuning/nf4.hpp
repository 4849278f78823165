#pragma once
/// \file
/// NF4, the 4-bit NormalFloat of QLoRA (Dettmers et al., 2023), exactly as bitsandbytes computes it.
///
/// NF4's 16 code values are quantiles of N(0, 1) rescaled to [−1, 1], with an exact zero: each code is
/// equally likely for normally distributed weights, which is what trained weights look like. A tensor is
/// flattened (row-major) and cut into blocks of `blocksize` values; each block keeps its absmax
///
///     a_b = max_{i ∈ b} |wᵢ|,
///
/// and every value the index of the code nearest to wᵢ / a_b. "Nearest" is decided by the 15 midpoints
/// m_k = (c_k + c_{k+1}) / 2 between neighbouring codes: the code is the number of midpoints strictly below
/// the normalised value, so a value exactly on a midpoint takes the lower code (bitsandbytes' rule).
/// Two codes share a byte, the first element in the high nibble; an odd count pads the last low nibble
/// with the code of 0. Dequantisation is ŵᵢ = c[qᵢ] · a_b.
///
/// Double quantisation (bitsandbytes' `compress_statistics`, QLoRA §3) stores the absmax values themselves
/// in 8 bits: their mean μ is subtracted and a_b − μ quantised blockwise (256 a block) with the dynamic map
/// (dynamic_map.hpp). Memory per parameter: 4 + 32/blocksize bits, or 4 + 8/blocksize + 32/(256·blocksize)
/// with double quantisation (4.127 bits at blocksize 64).
///
/// Bit-identical to `bitsandbytes.functional.quantize_4bit(x, blocksize, quant_type='nf4')` on float32
/// input (tests/reference/gen_llm_nf4.py), including its arithmetic: a full block is scaled by the float
/// reciprocal 1/a_b, the partial last block divided by a_b, and an all-zero block stores absmax 0 (its
/// values quantise to the zero code).
///
/// The functions are templates with a defaulted parameter, called as ordinary functions, so that their
/// code is compiled only in the files that call them.

#include <Eigen/Core>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/fine_tuning/dynamic_map.hpp"

namespace aimastery {

/// The 16 NF4 code values, ascending.
inline constexpr std::array<float, 16> nf4_code_values = {-1.0f,
                                                          -0.6961928009986877f,
                                                          -0.5250730514526367f,
                                                          -0.39491748809814453f,
                                                          -0.28444138169288635f,
                                                          -0.18477343022823334f,
                                                          -0.09105003625154495f,
                                                          0.0f,
                                                          0.07958029955625534f,
                                                          0.16093020141124725f,
                                                          0.24611230194568634f,
                                                          0.33791524171829224f,
                                                          0.44070982933044434f,
                                                          0.5626170039176941f,
                                                          0.7229568362236023f,
                                                          1.0f};

struct NF4Options {
  Index blocksize = 64;              ///< values per absmax: a power of two from 32 to 4096 (bitsandbytes' sizes)
  bool double_quant = false;         ///< store the absmax values in 8 bits (compress_statistics)
  Index statistics_blocksize = 256;  ///< absmax values per 8-bit block when double_quant is on
};

/// A matrix stored in NF4: the packed codes and the per-block scales.
struct NF4Tensor {
  Index rows = 0;
  Index cols = 0;
  Index blocksize = 64;
  std::vector<std::uint8_t> packed;  ///< ⌈rows·cols / 2⌉ bytes, element 2j in the high nibble of byte j
  /// One absmax a block. With double quantisation these are the dequantised statistics
  /// (map[code]·scale + offset, as bitsandbytes restores them), kept for fast dequantisation; the
  /// stored form is the three members below.
  std::vector<float> absmax;
  bool double_quantized = false;
  Index statistics_blocksize = 256;
  float absmax_offset = 0.0f;              ///< μ, the mean of the absmax values
  std::vector<std::uint8_t> absmax_codes;  ///< 8-bit dynamic-map code of a_b − μ, one a block
  std::vector<float> absmax_scales;        ///< absmax of each block of statistics

  Index size() const { return rows * cols; }
  Index blocks() const { return static_cast<Index>(absmax.size()); }

  /// Bytes of the stored form: the packed codes plus the statistics (32-bit absmax values, or 8-bit codes
  /// with their 32-bit scales and the offset).
  std::size_t storage_bytes() const {
    const std::size_t statistics =
        double_quantized ? absmax_codes.size() + 4 * absmax_scales.size() + 4 : 4 * absmax.size();
    return packed.size() + statistics;
  }
  double bits_per_parameter() const {
    return size() == 0 ? 0.0 : 8.0 * static_cast<double>(storage_bytes()) / static_cast<double>(size());
  }
};

namespace detail {

/// The code index of a normalised value x ∈ [−1, 1]: the number of midpoints strictly below x.
template <class = void>
std::uint8_t nf4_code_of(float x) {
  // Midpoints in float, as (c_k + c_{k+1}) / 2 rounds.
  static constexpr auto midpoints = [] {
    std::array<float, 15> m{};
    for (std::size_t k = 0; k < 15; ++k) m[k] = (nf4_code_values[k] + nf4_code_values[k + 1]) / 2.0f;
    return m;
  }();
  int code = 0;
  for (float m : midpoints) code += x > m ? 1 : 0;
  return static_cast<std::uint8_t>(code);
}

/// Double quantisation of q's absmax values around the offset μ: a_b − μ in 8 bits, blockwise, and the
/// absmax values replaced by their restored form map[code]·scale + μ (what dequantisation uses).
template <class = void>
void double_quantize_statistics(NF4Tensor& q, float offset, Index statistics_blocksize) {
  std::vector<float> centred(q.absmax.size());
  for (std::size_t b = 0; b < centred.size(); ++b) centred[b] = q.absmax[b] - offset;
  const auto stat_block = static_cast<std::size_t>(statistics_blocksize);
  q.double_quantized = true;
  q.statistics_blocksize = statistics_blocksize;
  q.absmax_offset = offset;
  q.absmax_codes.resize(centred.size());
  q.absmax_scales.resize((centred.size() + stat_block - 1) / stat_block);
  quantize_blockwise_8bit(centred, stat_block, q.absmax_codes, q.absmax_scales);
  dequantize_blockwise_8bit(q.absmax_codes, q.absmax_scales, stat_block, q.absmax);
  for (float& a : q.absmax) a += offset;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's own intrinsics headers, not this code
#endif
/// The 16-entry lookup done by vector permutes where the build targets AVX-512 or AVX2: each byte
/// expands to its two nibbles in order (high, low), and a permute selects the scaled codes. Returns the
/// number of bytes done; the caller finishes the rest.
template <class = void>
Index dequantize_nf4_pairs_simd([[maybe_unused]] const std::uint8_t* bytes, [[maybe_unused]] Index pairs,
                                [[maybe_unused]] const std::array<float, 16>& table, [[maybe_unused]] float* out) {
  Index j = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
  const __m512 codes = _mm512_loadu_ps(table.data());
  const __m128i low_nibble = _mm_set1_epi8(0x0F);
  for (; j + 16 <= pairs; j += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + j));
    const __m128i high = _mm_and_si128(_mm_srli_epi16(b, 4), low_nibble);
    const __m128i low = _mm_and_si128(b, low_nibble);
    _mm512_storeu_ps(out + 2 * j, _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(high, low)), codes));
    _mm512_storeu_ps(out + 2 * j + 16,
                     _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm_unpackhi_epi8(high, low)), codes));
  }
#elif defined(__AVX2__)
  const __m256 codes_low = _mm256_loadu_ps(table.data());
  const __m256 codes_high = _mm256_loadu_ps(table.data() + 8);
  const __m128i low_nibble = _mm_set1_epi8(0x0F);
  // Codes 0–7 from one permute, 8–15 from the other, chosen by bit 3 of the index.
  const auto lookup = [&](__m128i eight_indices) {
    const __m256i index = _mm256_cvtepu8_epi32(eight_indices);
    const __m256 upper = _mm256_castsi256_ps(_mm256_slli_epi32(index, 28));
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(codes_low, index), _mm256_permutevar8x32_ps(codes_high, index),
                            upper);
  };
  for (; j + 8 <= pairs; j += 8) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes + j));
    const __m128i high = _mm_and_si128(_mm_srli_epi16(b, 4), low_nibble);
    const __m128i low = _mm_and_si128(b, low_nibble);
    const __m128i ordered = _mm_unpacklo_epi8(high, low);  // 16 nibbles: high₀ low₀ high₁ low₁ …
    _mm256_storeu_ps(out + 2 * j, lookup(ordered));
    _mm256_storeu_ps(out + 2 * j + 8, lookup(_mm_srli_si128(ordered, 8)));
  }
#endif
  return j;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

template <class = void>
void check_nf4_blocksize(std::string_view where, Index blocksize) {
  const bool power_of_two = blocksize > 0 && (blocksize & (blocksize - 1)) == 0;
  require(power_of_two && blocksize >= 32 && blocksize <= 4096, where,
          [&] { return "blocksize must be a power of two from 32 to 4096, got " + std::to_string(blocksize); });
}

}  // namespace detail

/// Quantises W (any floating-point matrix; values are rounded to float first, as bitsandbytes works on
/// float32) to NF4. Throws InvalidArgument for an empty matrix, NaN or infinite values, or a bad blocksize.
template <class Derived>
NF4Tensor quantize_nf4(const Eigen::MatrixBase<Derived>& W, const NF4Options& options = {}) {
  constexpr std::string_view where = "quantize_nf4";
  check_not_empty(where, "W", W);
  detail::check_nf4_blocksize(where, options.blocksize);
  if (options.double_quant) require(options.statistics_blocksize >= 1, where, "statistics_blocksize must be positive");
  check_finite(where, "W", W);

  // Row-major float copy: the order in which bitsandbytes flattens a tensor.
  const Matrix<float> values = W.template cast<float>();
  require(values.allFinite(), where, "W has values beyond float's range (they would become infinity)");
  const auto* x = values.data();
  const Index n = values.size();
  const Index blocksize = options.blocksize;
  const Index full_blocks = n / blocksize;

  NF4Tensor q;
  q.rows = W.rows();
  q.cols = W.cols();
  q.blocksize = blocksize;
  q.absmax.resize(static_cast<std::size_t>((n + blocksize - 1) / blocksize));
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(n + (n & 1)), detail::nf4_code_of(0.0f));

  for (Index b = 0; b * blocksize < n; ++b) {
    const Index begin = b * blocksize;
    const Index end = std::min(n, begin + blocksize);
    float a = 0.0f;
    for (Index i = begin; i < end; ++i) a = std::max(a, std::abs(x[i]));
    // bitsandbytes clamps the divisor at 1e-38 (so a zero block quantises to the zero code); it stores the
    // unclamped absmax of a full block and the clamped one of the partial last block.
    const float divisor = std::max(a, 1e-38f);
    q.absmax[static_cast<std::size_t>(b)] = b < full_blocks ? a : divisor;
    if (b < full_blocks) {
      const float reciprocal = 1.0f / divisor;
      for (Index i = begin; i < end; ++i)
        codes[static_cast<std::size_t>(i)] = detail::nf4_code_of(std::clamp(x[i] * reciprocal, -1.0f, 1.0f));
    } else {
      for (Index i = begin; i < end; ++i)
        codes[static_cast<std::size_t>(i)] = detail::nf4_code_of(std::clamp(x[i] / divisor, -1.0f, 1.0f));
    }
  }

  q.packed.resize(codes.size() / 2);
  for (std::size_t j = 0; j < q.packed.size(); ++j)
    q.packed[j] = static_cast<std::uint8_t>(codes[2 * j] << 4 | codes[2 * j + 1]);

  if (options.double_quant) {
    // μ = the mean of the absmax values, summed in double and rounded once. (PyTorch sums float32 in a
    // vectorised order that depends on the CPU, so its μ may differ from this one in the last bit; given
    // the same μ, the statistics below are bit-identical to bitsandbytes'.)
    double sum = 0.0;
    for (float a : q.absmax) sum += a;
    detail::double_quantize_statistics(q, static_cast<float>(sum / static_cast<double>(q.absmax.size())),
                                       options.statistics_blocksize);
  }
  return q;
}

/// Writes the dequantised values of elements [first, first + count) of q (row-major order) to out:
/// ŵᵢ = c[qᵢ] · a_b. The building block of dequantize_nf4 and of products with an NF4 weight, which
/// dequantise a few rows at a time instead of the whole matrix.
template <class = void>
void dequantize_nf4_range(const NF4Tensor& q, Index first, Index count, float* out) {
  AIMASTERY_ASSERT(first >= 0 && count >= 0 && first + count <= q.size());
  Index i = first;
  const Index end = first + count;
  while (i < end) {
    // One block at a time: its 16 scaled codes form a small table, so each value is one lookup.
    const Index block = i / q.blocksize;
    const Index block_end = std::min(end, (block + 1) * q.blocksize);
    std::array<float, 16> table;
    const float a = q.absmax[static_cast<std::size_t>(block)];
    for (std::size_t k = 0; k < 16; ++k) table[k] = nf4_code_values[k] * a;
    // A leading odd element sits in a low nibble.
    if ((i & 1) != 0 && i < block_end) {
      *out++ = table[q.packed[static_cast<std::size_t>(i >> 1)] & 0x0F];
      ++i;
    }
    const std::uint8_t* bytes = q.packed.data() + (i >> 1);
    const Index pairs = (block_end - i) / 2;
    Index j = detail::dequantize_nf4_pairs_simd(bytes, pairs, table, out);
    for (; j < pairs; ++j) {
      out[2 * j] = table[bytes[j] >> 4];
      out[2 * j + 1] = table[bytes[j] & 0x0F];
    }
    out += 2 * pairs;
    i += 2 * pairs;
    if (i < block_end) {  // a trailing element in a high nibble
      *out++ = table[q.packed[static_cast<std::size_t>(i >> 1)] >> 4];
      ++i;
    }
  }
}

/// The whole matrix back in float: rows × cols. (A template only so that it is compiled where it is
/// called.)
template <class Unused = void>
Matrix<float> dequantize_nf4(const NF4Tensor& q) {
  Matrix<float> W(q.rows, q.cols);
  dequantize_nf4_range(q, 0, q.size(), W.data());
  return W;
}

}  // namespace aimastery
