#pragma once
/// \file
/// MT19937-64 (Matsumoto and Nishimura, 2000; Nishimura, ACM TOMACS 10(4), 2000): the 64-bit Mersenne
/// Twister with the parameters the C++ standard fixes for std::mt19937_64 ([rand.predef]), written out so
/// that the library's engine does not need <random> (whose distributions cost every file that includes it
/// a third of a second of compile time). The output sequence is the standard's: the 10000th draw of a
/// default-constructed engine is 9981545732273789042, and the tests compare every draw of several seeds with
/// std::mt19937_64.
///
/// State: n = 312 words x₀ … x₃₁₁. Seeding: x₀ = s, xᵢ = f · (xᵢ₋₁ ⊕ (xᵢ₋₁ ≫ 62)) + i mod 2⁶⁴, f = 6364136223846793005.
/// Twist (every n draws), for each i: y = (xᵢ ∧ upper 33 bits) ∨ (xᵢ₊₁ ∧ lower 31 bits),
///   xᵢ = xᵢ₊ₘ ⊕ (y ≫ 1) ⊕ (a if y is odd),  m = 156, a = 0xB5026F5AA96619E9 (indices mod n).
/// Tempering of the next word x: x ⊕= (x ≫ 29) ∧ 0x5555555555555555; x ⊕= (x ≪ 17) ∧ 0x71D67FFFEDA60000;
///   x ⊕= (x ≪ 37) ∧ 0xFFF7EEE000000000; x ⊕= x ≫ 43.

#include <array>
#include <cstddef>
#include <cstdint>

namespace aimastery {

class MersenneTwister64 {
 public:
  using result_type = std::uint64_t;
  static constexpr result_type default_seed = 5489u;

  MersenneTwister64() noexcept : MersenneTwister64(default_seed) {}
  explicit MersenneTwister64(result_type seed) noexcept { this->seed(seed); }

  void seed(result_type value = default_seed) noexcept {
    state_[0] = value;
    for (std::size_t i = 1; i < n; ++i)
      state_[i] = 6364136223846793005ULL * (state_[i - 1] ^ (state_[i - 1] >> 62)) + i;
    next_ = n;
  }

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return ~result_type{0}; }

  result_type operator()() noexcept {
    if (next_ >= n) twist();
    result_type x = state_[next_++];
    x ^= (x >> 29) & 0x5555555555555555ULL;
    x ^= (x << 17) & 0x71D67FFFEDA60000ULL;
    x ^= (x << 37) & 0xFFF7EEE000000000ULL;
    x ^= x >> 43;
    return x;
  }

  /// Advances the engine by `count` draws.
  void discard(unsigned long long count) noexcept {
    for (; count > 0; --count) (void)(*this)();
  }

  friend bool operator==(const MersenneTwister64& a, const MersenneTwister64& b) noexcept {
    // Equal states give equal sequences; compare the words not yet drawn, from the same position.
    return a.next_ == b.next_ && a.state_ == b.state_;
  }

 private:
  static constexpr std::size_t n = 312, m = 156;
  static constexpr result_type upper_mask = ~result_type{0} << 31, lower_mask = (result_type{1} << 31) - 1;

  // One step of the twist: x_i from y (the upper bits of x_i, the lower of x_{i+1}) and x_{i+m}.
  static result_type mixed(result_type upper_of, result_type lower_of, result_type far) noexcept {
    const result_type y = (upper_of & upper_mask) | (lower_of & lower_mask);
    return far ^ (y >> 1) ^ ((y & 1) != 0 ? 0xB5026F5AA96619E9ULL : 0);
  }

  // The indices mod n, split into the three runs where i + 1 and i + m do not wrap, i + m wraps, and
  // both wrap.
  void twist() noexcept {
    std::size_t i = 0;
    for (; i < n - m; ++i) state_[i] = mixed(state_[i], state_[i + 1], state_[i + m]);
    for (; i < n - 1; ++i) state_[i] = mixed(state_[i], state_[i + 1], state_[i + m - n]);
    state_[n - 1] = mixed(state_[n - 1], state_[0], state_[m - 1]);
    next_ = 0;
  }

  std::array<result_type, n> state_{};
  std::size_t next_ = n;
};

}  // namespace aimastery
