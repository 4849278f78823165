#pragma once
/// \file
/// The histogram bins of a feature matrix whose rows are sharded across ranks: exactly the bins one process
/// builds over all the rows (ml/classical/tree/binning.hpp), and this rank's rows coded with them.
///
/// Equal-frequency bins are a function of the sorted column, which is a function of its distinct values
/// and their counts (its runs) alone — not of the order of the rows nor of how they are split. So, per
/// feature, each rank sorts its column and run-length encodes it, the runs of all ranks are gathered on
/// every rank (MPI_Allgatherv of the values and of the counts), and the runs of equal values merged:
/// the result is the runs of the whole column, and `equal_frequency_bins` gives the single process's
/// edges. A value of a shard lies in the same bin as in one process, so the codes are the same too.
///
/// Cost: per feature, O(n_r log n_r) to sort the shard, and sizeof(T) + 8 bytes per distinct value of each
/// shard received by every rank, then O(u log p) to merge the u runs received from the p ranks. A feature with few
/// distinct values (categories, integers, the ≤ 256 values binning exists for) costs almost nothing; a continuous
/// feature (every value distinct) costs about one copy of the column on every rank, once per fit — what
/// exactness demands, since the equal-frequency edges are order statistics of the whole column.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/distributed/communicator.hpp"
#include "aimastery/ml/classical/tree/binning.hpp"

namespace aimastery::detail {

/// The runs of one feature's column over every rank (collective), from this rank's sorted column.
template <Scalar T>
ValueRuns<T> sharded_value_runs(const Communicator& comm, const std::vector<T>& sorted) {
  ValueRuns<T> mine;
  mine.assign_sorted(sorted);
  std::vector<std::int64_t> counts(mine.counts.begin(), mine.counts.end());
  std::vector<int> lengths;
  const std::vector<T> values = comm.allgather(std::span<const T>(mine.values), &lengths);
  const std::vector<std::int64_t> all_counts = comm.allgather(std::span<const std::int64_t>(counts));
  // Each rank's runs are ascending: merging the p sorted segments (pairwise, O(u log p)) puts equal values
  // side by side.
  std::vector<std::pair<T, std::int64_t>> runs(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) runs[i] = {values[i], all_counts[i]};
  const auto by_value = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::vector<std::size_t> bounds{0};
  for (int length : lengths) bounds.push_back(bounds.back() + static_cast<std::size_t>(length));
  for (std::size_t width = 1; width + 1 < bounds.size(); width *= 2)
    for (std::size_t lo = 0; lo + width + 1 < bounds.size(); lo += 2 * width) {
      const std::size_t hi = std::min(lo + 2 * width, bounds.size() - 1);
      std::inplace_merge(runs.begin() + static_cast<std::ptrdiff_t>(bounds[lo]),
                         runs.begin() + static_cast<std::ptrdiff_t>(bounds[lo + width]),
                         runs.begin() + static_cast<std::ptrdiff_t>(bounds[hi]), by_value);
    }
  ValueRuns<T> merged;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (i == 0 || runs[i].first != runs[i - 1].first) {
      merged.values.push_back(runs[i].first);
      merged.counts.push_back(0);
    }
    merged.counts.back() += static_cast<Index>(runs[i].second);
  }
  return merged;
}

/// This rank's rows X coded with the bins of the rows of all ranks (collective: every rank passes its
/// shard, with the same number of columns and the same max_bins; a shard may have no rows).
template <Scalar T, class Derived>
BinnedFeatures<T> sharded_binned_features(const Communicator& comm, const Eigen::MatrixBase<Derived>& X, int max_bins) {
  std::vector<BinEdges<T>> edges(static_cast<std::size_t>(X.cols()));
  std::vector<T> column(static_cast<std::size_t>(X.rows()));
  for (Index f = 0; f < X.cols(); ++f) {
    for (Index i = 0; i < X.rows(); ++i) column[static_cast<std::size_t>(i)] = static_cast<T>(X(i, f));
    std::sort(column.begin(), column.end());
    edges[static_cast<std::size_t>(f)] =
        equal_frequency_bins(sharded_value_runs(comm, column), static_cast<Index>(max_bins));
  }
  return BinnedFeatures<T>(X, std::move(edges));
}

}  // namespace aimastery::detail
