#pragma once
/// \file
/// AdaptiveSpin: whether a wait should spin before it sleeps, learnt from how the last spins went.
///
/// Spinning on a read (RedisCacheOptions::busy_poll) pays when the reply comes within the spin, as a
/// server on the same host answers, and wastes the whole spin when it comes later, as one across a
/// network does. The rule, as adaptive halt-polling and adaptive mutexes learn theirs:
///
///   a spin that found its reply           the next wait spins too
///   the m-th spin in a row found nothing  the next 2^(m−1) waits sleep at once (at most max_skip),
///                                         then one spins again to try
///
/// A server that answers within the spin keeps every wait spinning; one that never does costs about one
/// spin per max_skip waits, after the first few.

#include <algorithm>
#include <cstdint>

namespace aimastery::detail {

class AdaptiveSpin {
 public:
  /// The most waits that sleep at once between two spins.
  static constexpr std::uint32_t max_skip = 1024;

  /// Whether this wait should spin (it counts down the waits still to skip).
  [[nodiscard]] bool should_spin() noexcept {
    if (skip_left_ == 0) return true;
    --skip_left_;
    return false;
  }

  /// What the spin of this wait found: its reply (`found`) or nothing before it gave up.
  void record(bool found) noexcept {
    if (found) {
      skip_after_miss_ = 0;
      return;
    }
    skip_after_miss_ = std::min(skip_after_miss_ == 0 ? 1 : 2 * skip_after_miss_, max_skip);
    skip_left_ = skip_after_miss_;
  }

 private:
  std::uint32_t skip_after_miss_ = 0;  // waits skipped after the latest miss: 0, then 1, 2, 4, … max_skip
  std::uint32_t skip_left_ = 0;
};

}  // namespace aimastery::detail
