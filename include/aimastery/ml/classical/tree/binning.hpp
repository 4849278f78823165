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
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery::detail {

/// The bins of one feature: bin b holds the values in [low[b], high[b]], ascending and disjoint.
template <Scalar T>
struct BinEdges {
  std::vector<T> low, high;
};

/// A sorted column run-length encoded: its distinct values, ascending, and how many times each occurs.
template <Scalar T>
struct ValueRuns {
  std::vector<T> values;
  std::vector<Index> counts;

  void assign_sorted(const std::vector<T>& sorted) {
    values.clear();
    counts.clear();
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      if (i == 0 || sorted[i] != sorted[i - 1]) {
        values.push_back(sorted[i]);
        counts.push_back(0);
      }
      ++counts.back();
    }
  }
};

/// Equal-frequency bins over a sorted column of n values (given as its runs): one bin per distinct value
/// when there are at most max_bins of them; otherwise bin b closes at the first change of value at or
/// after its quantile (b + 1)·n / max_bins, the last bin taking everything left. A bin therefore always
/// ends with a run, and depends only on the runs, not on how the column was split or ordered.
template <Scalar T>
BinEdges<T> equal_frequency_bins(const ValueRuns<T>& runs, Index max_bins) {
  BinEdges<T> edges;
  const Index distinct = static_cast<Index>(runs.values.size());
  if (distinct <= max_bins) {
    edges.low = runs.values;
    edges.high = runs.values;
    return edges;
  }
  Index n = 0;
  for (Index c : runs.counts) n += c;
  Index r = 0, end = 0;  // the next run, and the number of values in the closed bins
  while (r < distinct) {
    const Index bin = static_cast<Index>(edges.low.size());
    const Index quota = bin + 1 >= max_bins ? n : (bin + 1) * n / max_bins;
    edges.low.push_back(runs.values[static_cast<std::size_t>(r)]);
    end += runs.counts[static_cast<std::size_t>(r++)];
    while (r < distinct && end < quota) end += runs.counts[static_cast<std::size_t>(r++)];
    edges.high.push_back(runs.values[static_cast<std::size_t>(r - 1)]);
  }
  return edges;
}

template <Scalar T>
class BinnedFeatures {
 public:
  BinnedFeatures() = default;

  template <class Derived>
  BinnedFeatures(const Eigen::MatrixBase<Derived>& X, int max_bins) {
    std::vector<BinEdges<T>> edges(static_cast<std::size_t>(X.cols()));
    std::vector<T> column(static_cast<std::size_t>(X.rows()));
    ValueRuns<T> runs;
    for (Index f = 0; f < X.cols(); ++f) {
      for (Index i = 0; i < X.rows(); ++i) column[static_cast<std::size_t>(i)] = static_cast<T>(X(i, f));
      std::sort(column.begin(), column.end());
      runs.assign_sorted(column);
      edges[static_cast<std::size_t>(f)] = equal_frequency_bins(runs, static_cast<Index>(max_bins));
    }
    assign(X, std::move(edges));
  }

  /// X coded with given bins per feature (every value of X must lie in one of its feature's bins: the bins
  /// of a larger data set X is part of, as distributed training builds them).
  template <class Derived>
  BinnedFeatures(const Eigen::MatrixBase<Derived>& X, std::vector<BinEdges<T>> edges) {
    assign(X, std::move(edges));
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
  template <class Derived>
  void assign(const Eigen::MatrixBase<Derived>& X, std::vector<BinEdges<T>> edges) {
    n_samples_ = X.rows();
    n_features_ = X.cols();
    codes_.assign(static_cast<std::size_t>(X.rows() * X.cols()), 0);
    offsets_.assign(static_cast<std::size_t>(n_features_) + 1, 0);
    low_.resize(static_cast<std::size_t>(n_features_));
    high_.resize(static_cast<std::size_t>(n_features_));
    for (Index f = 0; f < n_features_; ++f) {
      low_[static_cast<std::size_t>(f)] = std::move(edges[static_cast<std::size_t>(f)].low);
      high_[static_cast<std::size_t>(f)] = std::move(edges[static_cast<std::size_t>(f)].high);
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

  Index n_samples_ = 0;
  Index n_features_ = 0;
  std::vector<std::uint8_t> codes_;
  std::vector<Index> offsets_;
  std::vector<std::vector<T>> low_, high_;
};

}  // namespace aimastery::detail
