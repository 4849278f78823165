#pragma once
/// \file
/// Seeded random variates written here, so a seed gives the same samples on every platform:
/// std::mt19937_64's output sequence is fixed by the C++ standard, the distributions of <random> are not.

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

namespace aimastery {

/// The engine every sampler in aimastery uses.
using RandomEngine = std::mt19937_64;

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

}  // namespace detail
}  // namespace aimastery
