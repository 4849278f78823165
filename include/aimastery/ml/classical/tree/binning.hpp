#pragma once
/// \file
/// Features binned once for histogram split search. Each feature's sorted distinct values are grouped into
/// at most `max_bins` bins of about equal frequency; a sample keeps only its bin code (one byte). A bin b
/// spans the observed values [low_b, high_b]; a split after bin b sends x ≤ (high_b + low_{b'})/2 left, b'
/// being the next bin that holds samples of the node: the midpoint between observed values, as an exact
/// search places it. With at most max_bins distinct values every bin is one value (low_b = high_b) and the
/// histogram search finds exactly the splits of the exact search.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery::detail {

template <Scalar T>
class BinnedFeatures {
 public:
  BinnedFeatures() = default;

  template <class Derived>
  BinnedFeatures(const Eigen::MatrixBase<Derived>& X, int max_bins)
      : n_samples_(X.rows()), n_features_(X.cols()), codes_(static_cast<std::size_t>(X.rows() * X.cols())) {
    offsets_.assign(static_cast<std::size_t>(n_features_) + 1, 0);
    low_.resize(static_cast<std::size_t>(n_features_));
    high_.resize(static_cast<std::size_t>(n_features_));
    std::vector<T> column(static_cast<std::size_t>(n_samples_));
    for (Index f = 0; f < n_features_; ++f) {
      for (Index i = 0; i < n_samples_; ++i) column[static_cast<std::size_t>(i)] = static_cast<T>(X(i, f));
      std::sort(column.begin(), column.end());
      make_bins(column, static_cast<Index>(max_bins), low_[static_cast<std::size_t>(f)],
                high_[static_cast<std::size_t>(f)]);
      offsets_[static_cast<std::size_t>(f) + 1] = offsets_[static_cast<std::size_t>(f)] + n_bins(f);
      const auto& high = high_[static_cast<std::size_t>(f)];
      // code(x) = the first bin whose upper value is ≥ x.
      for (Index i = 0; i < n_samples_; ++i) {
        const T x = static_cast<T>(X(i, f));
        const auto bin = std::lower_bound(high.begin(), high.end(), x) - high.begin();
        codes_[static_cast<std::size_t>(i * n_features_ + f)] = static_cast<std::uint8_t>(bin);
      }
    }
  }

  [[nodiscard]] Index n_samples() const noexcept { return n_samples_; }
  [[nodiscard]] Index n_features() const noexcept { return n_features_; }
  [[nodiscard]] Index n_bins(Index feature) const noexcept {
    return static_cast<Index>(high_[static_cast<std::size_t>(feature)].size());
  }
  /// Σ_{g < feature} n_bins(g): where a feature's bins start in a histogram of all features.
  [[nodiscard]] Index bin_offset(Index feature) const noexcept { return offsets_[static_cast<std::size_t>(feature)]; }
  [[nodiscard]] Index total_bins() const noexcept { return offsets_.back(); }
  /// The codes of one sample, one byte per feature (row-major: a sample's codes share a cache line).
  [[nodiscard]] const std::uint8_t* codes_of(Index sample) const noexcept {
    return codes_.data() + sample * n_features_;
  }

  /// The threshold between bin `left` and a later bin `right` of `feature`: midway between the largest
  /// value of the one and the smallest of the other (the lower value when rounding reaches the upper).
  [[nodiscard]] T threshold(Index feature, Index left, Index right) const {
    const T a = high_[static_cast<std::size_t>(feature)][static_cast<std::size_t>(left)];
    const T b = low_[static_cast<std::size_t>(feature)][static_cast<std::size_t>(right)];
    const T mid = a / T(2) + b / T(2);
    return mid >= b ? a : mid;
  }

 private:
  /// Equal-frequency bins over the sorted column: one bin per distinct value when there are at most
  /// max_bins of them, otherwise a bin closes once it holds its share n / max_bins of the samples.
  static void make_bins(const std::vector<T>& sorted, Index max_bins, std::vector<T>& low, std::vector<T>& high) {
    low.clear();
    high.clear();
    const Index n = static_cast<Index>(sorted.size());
    Index distinct = 0;
    for (Index i = 0; i < n; ++i)
      if (i == 0 || sorted[static_cast<std::size_t>(i)] != sorted[static_cast<std::size_t>(i - 1)]) ++distinct;
    if (distinct <= max_bins) {
      for (Index i = 0; i < n; ++i) {
        const T v = sorted[static_cast<std::size_t>(i)];
        if (i == 0 || v != sorted[static_cast<std::size_t>(i - 1)]) {
          low.push_back(v);
          high.push_back(v);
        }
      }
      return;
    }
    Index i = 0;
    while (i < n) {
      const Index bin = static_cast<Index>(low.size());
      const T first = sorted[static_cast<std::size_t>(i)];
      // The last bin takes everything left; any other closes at its quantile, on a change of value.
      const Index quota = bin + 1 >= max_bins ? n : (bin + 1) * n / max_bins;
      Index j = i + 1;
      while (j < n && (j < quota || sorted[static_cast<std::size_t>(j)] == sorted[static_cast<std::size_t>(j - 1)]))
        ++j;
      low.push_back(first);
      high.push_back(sorted[static_cast<std::size_t>(j - 1)]);
      i = j;
    }
  }

  Index n_samples_ = 0;
  Index n_features_ = 0;
  std::vector<std::uint8_t> codes_;
  std::vector<Index> offsets_;
  std::vector<std::vector<T>> low_, high_;
};

}  // namespace aimastery::detail
