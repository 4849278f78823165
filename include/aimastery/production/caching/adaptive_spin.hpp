#pragma once
/// \file
/// When a wait for a reply should spin before it sleeps: AdaptiveSpin learns it from how the last spins of
/// a connection went, ReplyWaiters forbids it while too many threads wait at once.
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
///
/// ReplyWaiters counts the threads of the process that are waiting for a reply, and a wait spins only
/// while at most half the processors' worth of threads are waiting: with more, the spinners would take the
/// cores from the threads, and the local server, that produce the replies (measured: 4 threads on 2
/// cores, each spinning, halve the throughput).

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace aimastery::detail {

class ReplyWaiters {
 public:
  explicit ReplyWaiters(unsigned capacity) noexcept : capacity_(std::max(capacity, 1u)) {}

  /// The waiters of this process; spinning is allowed while at most half its online processors' worth
  /// (at least one) are waiting.
  static ReplyWaiters& process() noexcept {
    static ReplyWaiters waiters(static_cast<unsigned>(std::max(::sysconf(_SC_NPROCESSORS_ONLN), 1L) / 2));
    return waiters;
  }

  /// Counts the calling thread among `waiters` while it lives (nothing when `waiters` is null: a wait
  /// that never spins need not be counted).
  class Scope {
   public:
    explicit Scope(ReplyWaiters* waiters) noexcept : waiters_(waiters) {
      if (waiters_) waiters_->count_.fetch_add(1, std::memory_order_relaxed);
    }
    ~Scope() {
      if (waiters_) waiters_->count_.fetch_sub(1, std::memory_order_relaxed);
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    ReplyWaiters* waiters_;
  };

  [[nodiscard]] unsigned capacity() const noexcept { return capacity_; }
  /// Whether few enough threads are waiting for one of them to spin.
  [[nodiscard]] bool few() const noexcept { return count_.load(std::memory_order_relaxed) <= capacity_; }

 private:
  const unsigned capacity_;
  std::atomic<unsigned> count_{0};
};

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
