#pragma once
/// \file
/// FrequencySketch: the approximate access counter behind LRUCache's TinyLFU admission (Einziger, Friedman
/// and Manes, "TinyLFU: A Highly Efficient Cache Admission Policy", 2017).
///
/// Count-min sketch: d = 4 rows of w counters; an access of x adds 1 to counter[i][h_i(x)] in every row,
/// and the estimate is min_i counter[i][h_i(x)], never below the true count; with w = e/ε and
/// d = ln(1/δ) it exceeds the true count by more than ε·N with probability at most δ (N = accesses).
/// Counters saturate at 15 (4 bits of information: TinyLFU only needs to rank frequencies).
/// Doorkeeper: a Bloom filter in front of the sketch; the first access of x in a period only sets its bits,
/// later ones go to the sketch, and estimate(x) = sketch(x) + doorkeeper(x), so the many keys seen once
/// cost no counters.
/// Aging: after 10·capacity recorded accesses every counter is halved and the doorkeeper cleared, so the
/// sketch follows the recent frequency rather than all of history.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace aimastery::detail {

class FrequencySketch {
 public:
  explicit FrequencySketch(std::size_t capacity)
      : width_(std::bit_ceil(std::max<std::size_t>(capacity, 16))),
        counters_(depth * width_, 0),
        doorkeeper_(std::max<std::size_t>(width_ * 8 / 64, 1), 0),
        sample_size_(10 * std::max<std::size_t>(capacity, 16)) {}

  /// Records one access of the key with (well mixed) hash `h`.
  void record(std::uint64_t h) {
    if (doorkeeper_test_and_set(h)) {  // not the first access in this period
      for (std::size_t row = 0; row < depth; ++row) {
        std::uint8_t& c = counters_[row * width_ + index(h, row)];
        if (c < max_count) ++c;
      }
    }
    if (++additions_ >= sample_size_) age();
  }

  /// The estimated number of recent accesses of the key with hash `h`.
  [[nodiscard]] unsigned estimate(std::uint64_t h) const {
    unsigned lowest = max_count;
    for (std::size_t row = 0; row < depth; ++row)
      lowest = std::min<unsigned>(lowest, counters_[row * width_ + index(h, row)]);
    return lowest + (doorkeeper_contains(h) ? 1u : 0u);
  }

 private:
  static constexpr std::size_t depth = 4;
  static constexpr std::uint8_t max_count = 15;

  // Row i uses h1 + i·h2 (Kirsch–Mitzenmacher double hashing: as good as d independent hashes here).
  std::size_t index(std::uint64_t h, std::size_t row) const {
    const std::uint64_t h1 = h >> 32, h2 = (h & 0xffffffffULL) | 1;
    return static_cast<std::size_t>((h1 + row * h2) & (width_ - 1));
  }

  std::size_t doorkeeper_bit(std::uint64_t h, unsigned probe) const {
    const std::uint64_t mixed = (h >> 17) + probe * ((h >> 40) | 1);
    return static_cast<std::size_t>(mixed % (doorkeeper_.size() * 64));
  }
  bool doorkeeper_contains(std::uint64_t h) const {
    for (unsigned probe = 0; probe < 2; ++probe) {
      const std::size_t bit = doorkeeper_bit(h, probe);
      if (!(doorkeeper_[bit / 64] >> (bit % 64) & 1)) return false;
    }
    return true;
  }
  // Returns whether every bit was already set, and sets them.
  bool doorkeeper_test_and_set(std::uint64_t h) {
    bool all = true;
    for (unsigned probe = 0; probe < 2; ++probe) {
      const std::size_t bit = doorkeeper_bit(h, probe);
      const std::uint64_t mask = std::uint64_t{1} << (bit % 64);
      all = all && (doorkeeper_[bit / 64] & mask);
      doorkeeper_[bit / 64] |= mask;
    }
    return all;
  }

  void age() {
    for (auto& c : counters_) c = static_cast<std::uint8_t>(c / 2);
    std::fill(doorkeeper_.begin(), doorkeeper_.end(), 0);
    additions_ = 0;
  }

  std::size_t width_;
  std::vector<std::uint8_t> counters_;
  std::vector<std::uint64_t> doorkeeper_;
  std::size_t sample_size_;
  std::size_t additions_ = 0;
};

}  // namespace aimastery::detail
