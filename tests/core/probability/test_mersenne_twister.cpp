// MersenneTwister64 against the C++ standard library's std::mt19937_64, the reference whose output
// sequence the standard fixes: every draw of several seeds, the standard's 10000th value, discard and
// equality.

#include <cstdint>
#include <random>

#include "aimastery/core/probability/mersenne_twister.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "support.hpp"

using aimastery::MersenneTwister64;

TEST_CASE("MersenneTwister64 draws what std::mt19937_64 draws") {
  for (const std::uint64_t seed : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{5489}, std::uint64_t{42},
                                   ~std::uint64_t{0}, std::uint64_t{0x0123456789abcdef}}) {
    CAPTURE(seed);
    std::mt19937_64 reference(seed);
    MersenneTwister64 ours(seed);
    int differing = 0;
    for (int i = 0; i < 50'000; ++i) differing += reference() != ours() ? 1 : 0;
    CHECK(differing == 0);
  }
  // [rand.predef]: the 10000th consecutive invocation of a default-constructed object produces this value.
  MersenneTwister64 standard;
  standard.discard(9999);
  CHECK(standard() == 9981545732273789042ULL);
  static_assert(std::is_same_v<aimastery::RandomEngine, MersenneTwister64>);
  static_assert(MersenneTwister64::min() == 0 && MersenneTwister64::max() == UINT64_MAX);
}

TEST_CASE("MersenneTwister64: reseeding, discard and equality") {
  MersenneTwister64 a(7), b(7);
  CHECK(a == b);
  (void)a();
  CHECK_FALSE(a == b);
  b.discard(1);
  CHECK(a == b);
  CHECK(a() == b());
  a.seed(7);
  MersenneTwister64 fresh(7);
  CHECK(a() == fresh());
  std::mt19937_64 reference;
  MersenneTwister64 defaulted;
  defaulted.seed();
  CHECK(defaulted() == reference());
  // A uniform random bit generator for the standard algorithms.
  static_assert(std::uniform_random_bit_generator<MersenneTwister64>);
}
