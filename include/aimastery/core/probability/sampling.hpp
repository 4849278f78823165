#pragma once
/// \file
/// Seeded random variates written here, so a seed gives the same samples on every platform:
/// std::mt19937_64's output sequence is fixed by the C++ standard, the distributions of <random> are not.
/// The engine is MersenneTwister64 (mersenne_twister.hpp), whose draws are std::mt19937_64's.
/// Every random draw of the library goes through these: uniform reals in (0, 1), standard normals, uniform
/// integers below n, and one Fisher–Yates shuffle.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>

#include "aimastery/core/probability/mersenne_twister.hpp"

namespace aimastery {

/// The engine every sampler in aimastery uses.
using RandomEngine = MersenneTwister64;

namespace detail {

/// U ~ Uniform(0, 1): the top 53 bits of one draw, shifted by half a step so 0 and 1 never occur.
inline double uniform_open01(RandomEngine& rng) { return (double(rng() >> 11) + 0.5) * 0x1.0p-53; }

/// Z ~ N(0, 1) by Box–Muller: for U₁, U₂ ~ U(0, 1), Z = √(−2 ln U₁) cos(2π U₂).
/// (The sine partner is dropped so that each call is a pure function of two draws.)
inline double standard_normal(RandomEngine& rng) {
  const double u1 = uniform_open01(rng);
  const double u2 = uniform_open01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

/// The high and low 64 bits of the 128-bit product a·b (portable: four 32-bit partial products).
struct Product128 {
  std::uint64_t high, low;
};
inline Product128 multiply_128(std::uint64_t a, std::uint64_t b) noexcept {
  const std::uint64_t a_lo = a & 0xFFFFFFFFu, a_hi = a >> 32, b_lo = b & 0xFFFFFFFFu, b_hi = b >> 32;
  const std::uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi, hi_hi = a_hi * b_hi;
  const std::uint64_t middle = (lo_lo >> 32) + (hi_lo & 0xFFFFFFFFu) + lo_hi;
  return {hi_hi + (hi_lo >> 32) + (middle >> 32), (middle << 32) | (lo_lo & 0xFFFFFFFFu)};
}

/// K ~ Uniform{0, …, n − 1} for n ≥ 1, exactly uniform (Lemire's multiply-and-reject, 2019): for a 64-bit
/// draw x, the high word of x·n is ⌊x·n / 2⁶⁴⌋ ∈ [0, n). Each value is hit by ⌊2⁶⁴/n⌋ or ⌈2⁶⁴/n⌉ draws;
/// rejecting the draws whose low word falls below t = 2⁶⁴ mod n leaves exactly ⌊2⁶⁴/n⌋ per value. The
/// remainder (a division) is computed only when the low word is below n, which is rare for small n.
inline std::uint64_t uniform_below(RandomEngine& rng, std::uint64_t n) {
  Product128 m = multiply_128(rng(), n);
  if (m.low < n) {
    const std::uint64_t t = (0 - n) % n;  // 2⁶⁴ mod n
    while (m.low < t) m = multiply_128(rng(), n);
  }
  return m.high;
}

/// Fisher–Yates, the one shuffle of the library: for i = 0, 1, …, count − 1, swap element i with an element
/// drawn uniformly from positions i … n − 1. Afterwards the first `count` elements are a uniform random
/// sample of the n, in uniformly random order (count = n − 1 or n shuffles the whole range); a later call on
/// [first + count, last) continues the same draw.
template <class RandomIt>
void partial_shuffle(RandomIt first, RandomIt last, std::ptrdiff_t count, RandomEngine& rng) {
  const std::ptrdiff_t n = last - first;
  for (std::ptrdiff_t i = 0; i < count && i + 1 < n; ++i) {
    const auto j = i + static_cast<std::ptrdiff_t>(uniform_below(rng, static_cast<std::uint64_t>(n - i)));
    std::iter_swap(first + i, first + j);
  }
}

/// Every order of [first, last) equally likely (Fisher–Yates).
template <class RandomIt>
void shuffle(RandomIt first, RandomIt last, RandomEngine& rng) {
  partial_shuffle(first, last, last - first, rng);
}

}  // namespace detail
}  // namespace aimastery
