#pragma once
/// \file
/// Growing one tree, depth first, shared by the single trees and the forests.
///
/// The samples of a node are a contiguous range of one index array; a split partitions the range in place,
/// so no node allocates. At each node the features are drawn in random order (Fisher–Yates) until
/// `max_features` features that are not constant in the node have been searched, as scikit-learn does;
/// the best split is the first with the largest proxy gain (criteria.hpp).
///
/// Histogram search: a node's histogram holds, per feature and bin, the statistics of its samples.
///   - When every feature is searched (a single tree), the histograms of all features are kept: the smaller
///     child's is built from its samples and the larger child's is parent − smaller (the subtraction trick),
///     so each level costs O(n·d/2) and bins.
///   - When a few features are drawn (forests), only their histograms are built, in one pass over the node.
/// Exact search: the samples are sorted once per feature (TreeTrainingSet); a tree keeps, per feature, its
/// samples in that order, and a split partitions every feature's range stably, so each node finds its
/// values already sorted and tries every midpoint between consecutive distinct values in one pass.
///
/// Every statistic the growth decides on (a node's, a histogram's) passes through `Reduce` once built from
/// the builder's samples: nothing for one process (LocalStatistics); with the rows sharded over several
/// processes, a sum over them (distributed/sharded_trees.hpp), so that every process decides as one process
/// holding all the rows would. The decisions use only such statistics and the shared feature draws.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/classical/tree/binning.hpp"
#include "aimastery/ml/classical/tree/tree_options.hpp"

namespace aimastery::detail {

/// A fitted tree: internal nodes send x[feature] ≤ threshold left; a leaf (feature < 0) keeps its value
/// (class proportions or a mean) at values[left ..].
template <Scalar T>
struct FittedTree {
  struct Node {
    T threshold = T(0);
    std::int32_t feature = -1;
    std::int32_t left = 0;  ///< a leaf: offset of its value
    std::int32_t right = 0;
  };
  std::vector<Node> nodes;
  std::vector<T> values;
  std::vector<double> importances;  ///< Σ over the nodes splitting on a feature of w·I − w_L·I_L − w_R·I_R
  Index depth = 0;
  Index n_leaves = 0;

  /// The value of the leaf sample x (a pointer to n_features values) falls in.
  [[nodiscard]] const T* leaf_value(const T* x) const noexcept {
    std::size_t i = 0;
    while (nodes[i].feature >= 0) {
      const Node& node = nodes[i];
      i = static_cast<std::size_t>(x[node.feature] <= node.threshold ? node.left : node.right);
    }
    return values.data() + nodes[i].left;
  }
};

/// The training data a tree grows on: binned codes (histogram search) or the values (exact search).
template <Scalar T>
struct TreeData {
  const BinnedFeatures<T>* bins = nullptr;  ///< histogram search
  const Matrix<T>* X = nullptr;             ///< exact search
  const Index* presorted = nullptr;         ///< exact search: per feature, the samples by increasing value
  Index n_samples = 0;
  Index n_features = 0;
};

/// Owns what TreeData points to: the binned features (histogram search) or a copy of X (exact search).
template <Scalar T>
class TreeTrainingSet {
 public:
  template <class Derived>
  TreeTrainingSet(const Eigen::MatrixBase<Derived>& X, SplitSearch search, int max_bins) {
    const bool exact = search == SplitSearch::exact;
    if (exact) {
      // Presorted once: for each feature, the sample indices by increasing value (ties by index).
      X_ = X.template cast<T>();
      const Index n = X.rows();
      presorted_.resize(static_cast<std::size_t>(n * X.cols()));
      for (Index f = 0; f < X.cols(); ++f) {
        const auto order = presorted_.begin() + f * n;
        std::iota(order, order + n, Index(0));
        std::stable_sort(order, order + n, [&](Index a, Index b) { return X_(a, f) < X_(b, f); });
      }
    } else {
      bins_ = BinnedFeatures<T>(X, max_bins);
    }
    data_ = {exact ? nullptr : &bins_, exact ? &X_ : nullptr, exact ? presorted_.data() : nullptr, X.rows(), X.cols()};
  }
  TreeTrainingSet(const TreeTrainingSet&) = delete;
  TreeTrainingSet& operator=(const TreeTrainingSet&) = delete;

  [[nodiscard]] const TreeData<T>& data() const noexcept { return data_; }

 private:
  BinnedFeatures<T> bins_;
  Matrix<T> X_;
  std::vector<Index> presorted_;
  TreeData<T> data_;
};

/// Importances normalised to sum to 1 (all zero when no split was made), as scikit-learn.
template <class = void>
Eigen::VectorXd normalised_importances(const std::vector<double>& raw) {
  Eigen::VectorXd v = Eigen::Map<const Eigen::VectorXd>(raw.data(), static_cast<Index>(raw.size()));
  const double total = v.sum();
  if (total > 0) v /= total;
  return v;
}

/// The statistics of the builder's samples are those of the whole training set: nothing to add.
struct LocalStatistics {
  static constexpr bool sharded = false;
  void operator()(std::span<double>) const noexcept {}
};

/// Grows trees; one builder per thread, reused from tree to tree so its buffers are allocated once.
template <Scalar T, class Criterion, class Reduce = LocalStatistics>
class TreeBuilder {
 public:
  TreeBuilder(const TreeData<T>& data, const Criterion& criterion, const TreeSettings& settings, Reduce reduce = {})
      : data_(data), criterion_(criterion), settings_(settings), width_(criterion.width()), reduce_(reduce) {
    features_.resize(static_cast<std::size_t>(data.n_features));
    const bool histogram = settings.split_search == SplitSearch::histogram;
    keep_all_histograms_ = histogram && settings.max_features >= data.n_features;
    if (histogram) {
      batch_.assign(static_cast<std::size_t>(data.n_features * 256 * width_), 0.0);
      batch_bits_.assign(static_cast<std::size_t>(data.n_features * 4), 0);
    }
    left_.resize(static_cast<std::size_t>(width_));
    right_.resize(static_cast<std::size_t>(width_));
    best_left_.resize(static_cast<std::size_t>(width_));
    node_stats_.resize(static_cast<std::size_t>(width_));
  }

  /// A tree on the samples of positive weight (weights: one per training sample), drawing features with
  /// a generator seeded by `seed`.
  FittedTree<T> grow(const std::vector<double>& weights, std::uint64_t seed) {
    weights_ = weights.data();
    rng_.seed(seed);
    FittedTree<T> tree;
    tree.importances.assign(static_cast<std::size_t>(data_.n_features), 0.0);
    samples_.clear();
    for (Index i = 0; i < data_.n_samples; ++i)
      if (weights_[i] > 0) samples_.push_back(i);
    if (settings_.split_search == SplitSearch::exact) {
      // This tree's samples in each feature's order; every node is then the same range [begin, end) of
      // each feature's segment, kept so by stable partitions.
      const Index n = data_.n_samples, m = static_cast<Index>(samples_.size());
      sorted_.resize(static_cast<std::size_t>(m * data_.n_features));
      for (Index f = 0; f < data_.n_features; ++f) {
        Index* out = sorted_.data() + f * m;
        for (const Index* s = data_.presorted + f * n; s != data_.presorted + (f + 1) * n; ++s)
          if (weights_[*s] > 0) *out++ = *s;
      }
      goes_left_.assign(static_cast<std::size_t>(n), 0);
    }
    stack_.clear();
    stack_stats_.clear();
    free_slots_.clear();
    for (std::size_t s = 0; s < slots_.size(); ++s) free_slots_.push_back(static_cast<int>(s));

    std::vector<double> root(static_cast<std::size_t>(width_), 0.0);
    for (Index s : samples_) criterion_.add(root.data(), s, weights_[s]);
    reduce_(std::span<double>(root));
    int root_slot = -1;
    if (keep_all_histograms_ && !is_leaf(0, root.data(), criterion_.impurity(root.data()))) {
      root_slot = acquire_slot();
      build_all_features(root_slot, 0, static_cast<Index>(samples_.size()));
    }
    push({0, static_cast<Index>(samples_.size()), 0, -1, false, root_slot}, root.data());

    while (!stack_.empty()) {
      const Pending node = stack_.back();
      std::copy_n(stack_stats_.end() - width_, width_, node_stats_.begin());
      stack_.pop_back();
      stack_stats_.resize(stack_stats_.size() - static_cast<std::size_t>(width_));
      grow_node(tree, node);
    }
    return tree;
  }

 private:
  struct Pending {
    Index begin, end, depth;
    Index parent;
    bool is_left;
    int slot;  ///< histogram slot (all-features mode), −1 when none
  };
  struct Split {
    Index feature = -1;
    Index left_bin = 0;   ///< histogram: samples with code ≤ left_bin go left
    Index right_bin = 0;  ///< histogram: the first occupied bin on the right
    T threshold = T(0);   ///< exact search (histogram search: set once the best split is known)
    double proxy = -std::numeric_limits<double>::infinity();
  };

  void push(const Pending& node, const double* stats) {
    stack_.push_back(node);
    stack_stats_.insert(stack_stats_.end(), stats, stats + width_);
  }

  [[nodiscard]] bool is_leaf(Index depth, const double* stats, double impurity) const {
    const Index n = static_cast<Index>(stats[criterion_.count_slot()]);
    return (settings_.max_depth > 0 && depth >= settings_.max_depth) || n < settings_.min_samples_split ||
           n < 2 * settings_.min_samples_leaf || impurity <= 1e-15;
  }

  void grow_node(FittedTree<T>& tree, const Pending& node) {
    const auto id = static_cast<std::int32_t>(tree.nodes.size());
    tree.nodes.emplace_back();
    if (node.parent >= 0) {
      auto& parent = tree.nodes[static_cast<std::size_t>(node.parent)];
      (node.is_left ? parent.left : parent.right) = id;
    }
    tree.depth = std::max(tree.depth, node.depth);
    const double* stats = node_stats_.data();
    const double impurity = criterion_.impurity(stats);
    Split split;
    if (!is_leaf(node.depth, stats, impurity)) split = find_split(node);
    if (split.feature < 0) {
      make_leaf(tree, id, stats);
      if (node.slot >= 0) free_slots_.push_back(node.slot);
      return;
    }
    // Children statistics: left from the search, right = node − left.
    for (Index j = 0; j < width_; ++j)
      right_[static_cast<std::size_t>(j)] = stats[j] - best_left_[static_cast<std::size_t>(j)];
    const Index mid = partition(node, split);
    auto& record = tree.nodes[static_cast<std::size_t>(id)];
    record.feature = static_cast<std::int32_t>(split.feature);
    record.threshold = split.threshold;
    const double w = stats[criterion_.weight_slot()];
    const double w_left = best_left_[static_cast<std::size_t>(criterion_.weight_slot())];
    const double w_right = right_[static_cast<std::size_t>(criterion_.weight_slot())];
    const double impurity_left = criterion_.impurity(best_left_.data());
    const double impurity_right = criterion_.impurity(right_.data());
    tree.importances[static_cast<std::size_t>(split.feature)] +=
        w * impurity - w_left * impurity_left - w_right * impurity_right;

    const Index depth = node.depth + 1;
    const bool left_grows = !is_leaf(depth, best_left_.data(), impurity_left);
    const bool right_grows = !is_leaf(depth, right_.data(), impurity_right);
    int left_slot = -1, right_slot = -1;
    if (keep_all_histograms_) {
      // The subtraction trick: build the smaller child, derive the larger as parent − smaller (sizes from
      // the children's statistics: the same choice on every shard).
      const Index count = criterion_.count_slot();
      const bool left_smaller = best_left_[static_cast<std::size_t>(count)] <= right_[static_cast<std::size_t>(count)];
      const bool small_grows = left_smaller ? left_grows : right_grows;
      const bool large_grows = left_smaller ? right_grows : left_grows;
      const Index small_begin = left_smaller ? node.begin : mid, small_end = left_smaller ? mid : node.end;
      int small_slot = -1, large_slot = -1;
      if (large_grows) {
        small_slot = acquire_slot();
        build_all_features(small_slot, small_begin, small_end);
        double* parent = slots_[static_cast<std::size_t>(node.slot)].data();
        const double* small = slots_[static_cast<std::size_t>(small_slot)].data();
        const std::size_t size = slots_[static_cast<std::size_t>(node.slot)].size();
        for (std::size_t j = 0; j < size; ++j) parent[j] -= small[j];
        large_slot = node.slot;
        if (!small_grows) {
          free_slots_.push_back(small_slot);
          small_slot = -1;
        }
      } else if (small_grows) {
        small_slot = node.slot;
        build_all_features(small_slot, small_begin, small_end);
      } else {
        free_slots_.push_back(node.slot);
      }
      left_slot = left_smaller ? small_slot : large_slot;
      right_slot = left_smaller ? large_slot : small_slot;
    }
    // Right pushed first: the left child is grown first.
    push({mid, node.end, depth, id, false, right_slot}, right_.data());
    push({node.begin, mid, depth, id, true, left_slot}, best_left_.data());
  }

  void make_leaf(FittedTree<T>& tree, std::int32_t id, const double* stats) {
    auto& record = tree.nodes[static_cast<std::size_t>(id)];
    record.feature = -1;
    record.left = static_cast<std::int32_t>(tree.values.size());
    tree.values.resize(tree.values.size() + static_cast<std::size_t>(criterion_.value_size()));
    criterion_.leaf_value(stats, tree.values.data() + record.left);
    ++tree.n_leaves;
  }

  /// Draws features until max_features non-constant ones have been searched (or none is left).
  Split find_split(const Pending& node) {
    Split best;
    const Index d = data_.n_features;
    for (Index f = 0; f < d; ++f) features_[static_cast<std::size_t>(f)] = f;
    Index drawn = 0, searched = 0;
    while (drawn < d && searched < settings_.max_features) {
      // Draw a batch of the features still wanted (Fisher–Yates), then search each.
      const Index batch = std::min(settings_.max_features - searched, d - drawn);
      partial_shuffle(features_.begin() + drawn, features_.end(), batch, rng_);
      const Index* batch_features = features_.data() + drawn;
      if (settings_.split_search == SplitSearch::exact) {
        for (Index j = 0; j < batch; ++j) searched += search_exact(node, batch_features[j], best) ? 1 : 0;
      } else if (keep_all_histograms_) {
        double* hist = slots_[static_cast<std::size_t>(node.slot)].data();
        for (Index j = 0; j < batch; ++j) {
          const Index f = batch_features[j];
          searched += search_histogram(hist + data_.bins->bin_offset(f) * width_, f, best) ? 1 : 0;
        }
      } else {
        build_batch(node, batch_features, batch);
        for (Index j = 0; j < batch; ++j)
          searched +=
              search_histogram(batch_.data() + j * 256 * width_, batch_features[j], best, batch_bits_.data() + j * 4)
                  ? 1
                  : 0;
      }
      drawn += batch;
    }
    if (best.feature >= 0 && settings_.split_search == SplitSearch::histogram)
      best.threshold = data_.bins->threshold(best.feature, best.left_bin, best.right_bin);
    return best;
  }

  /// Considers the split whose left child has statistics left_ (node statistics in node_stats_).
  void consider(Index feature, Index left_bin, Index right_bin, T threshold, Split& best) {
    const Index n_left = static_cast<Index>(left_[static_cast<std::size_t>(criterion_.count_slot())]);
    const Index n_right = static_cast<Index>(node_stats_[static_cast<std::size_t>(criterion_.count_slot())]) - n_left;
    if (n_left < settings_.min_samples_leaf || n_right < settings_.min_samples_leaf) return;
    for (Index j = 0; j < width_; ++j)
      right_[static_cast<std::size_t>(j)] =
          node_stats_[static_cast<std::size_t>(j)] - left_[static_cast<std::size_t>(j)];
    const double proxy = criterion_.proxy(left_.data()) + criterion_.proxy(right_.data());
    if (criterion_.improves(proxy, best.proxy)) {
      best = {feature, left_bin, right_bin, threshold, proxy};
      best_left_ = left_;
    }
  }

  /// Scans the bins of one feature left to right; false when the feature is constant in the node. With
  /// `occupied_bins` (a 256-bit map of the bins holding samples) only those bins are visited, and they are
  /// zeroed after use, so a small node costs its samples rather than all the bins.
  bool search_histogram(double* hist, Index feature, Split& best, std::uint64_t* occupied_bins = nullptr) {
    std::fill(left_.begin(), left_.end(), 0.0);
    Index previous = -1;
    Index occupied = 0;
    const auto visit = [&](Index b) {
      const double* bin = hist + b * width_;
      if (previous >= 0) consider(feature, previous, b, T(0), best);
      for (Index j = 0; j < width_; ++j) left_[static_cast<std::size_t>(j)] += bin[j];
      previous = b;
      ++occupied;
    };
    if (occupied_bins) {
      for (Index word = 0; word < 4; ++word) {
        for (std::uint64_t bits = occupied_bins[word]; bits != 0; bits &= bits - 1) {
          const Index b = word * 64 + std::countr_zero(bits);
          visit(b);
          std::fill_n(hist + b * width_, width_, 0.0);
        }
        occupied_bins[word] = 0;
      }
    } else {
      const Index bins = data_.bins->n_bins(feature);
      const Index count = criterion_.count_slot();
      for (Index b = 0; b < bins; ++b)
        if (hist[b * width_ + count] != 0) visit(b);
    }
    return occupied >= 2;
  }

  /// Walks the node's samples in the feature's presorted order and tries every midpoint between
  /// consecutive distinct values; false when the feature is constant in the node.
  bool search_exact(const Pending& node, Index feature, Split& best) {
    const Matrix<T>& X = *data_.X;
    const Index* order = sorted_.data() + feature * static_cast<Index>(samples_.size());
    if (X(order[node.begin], feature) == X(order[node.end - 1], feature)) return false;
    std::fill(left_.begin(), left_.end(), 0.0);
    for (Index i = node.begin; i + 1 < node.end; ++i) {
      criterion_.add(left_.data(), order[i], weights_[order[i]]);
      const T a = X(order[i], feature), b = X(order[i + 1], feature);
      if (b <= a) continue;
      const T mid = a / T(2) + b / T(2);
      consider(feature, 0, 0, mid >= b ? a : mid, best);
    }
    return true;
  }

  /// Partitions the node's samples: those going left first. Returns where the right child starts.
  Index partition(const Pending& node, const Split& split) {
    auto first = samples_.begin() + node.begin, last = samples_.begin() + node.end;
    std::vector<Index>::iterator mid;
    if (settings_.split_search == SplitSearch::exact) {
      const Matrix<T>& X = *data_.X;
      mid = std::partition(first, last, [&](Index s) { return X(s, split.feature) <= split.threshold; });
      for (auto it = first; it != last; ++it) goes_left_[static_cast<std::size_t>(*it)] = it < mid ? 1 : 0;
      // Stable partition of every feature's segment, so each child stays sorted in every feature.
      const Index m = static_cast<Index>(samples_.size());
      for (Index f = 0; f < data_.n_features; ++f) {
        Index* segment = sorted_.data() + f * m;
        right_samples_.clear();
        Index write = node.begin;
        for (Index i = node.begin; i < node.end; ++i) {
          if (goes_left_[static_cast<std::size_t>(segment[i])])
            segment[write++] = segment[i];
          else
            right_samples_.push_back(segment[i]);
        }
        std::copy(right_samples_.begin(), right_samples_.end(), segment + write);
      }
    } else {
      const auto* bins = data_.bins;
      mid = std::partition(first, last, [&](Index s) { return bins->codes_of(s)[split.feature] <= split.left_bin; });
    }
    return static_cast<Index>(mid - samples_.begin());
  }

  int acquire_slot() {
    if (!free_slots_.empty()) {
      const int slot = free_slots_.back();
      free_slots_.pop_back();
      return slot;
    }
    slots_.emplace_back(static_cast<std::size_t>(data_.bins->total_bins() * width_));
    return static_cast<int>(slots_.size() - 1);
  }

  /// The histogram of every feature over samples_[begin, end).
  void build_all_features(int slot, Index begin, Index end) {
    auto& hist = slots_[static_cast<std::size_t>(slot)];
    std::fill(hist.begin(), hist.end(), 0.0);
    const auto* bins = data_.bins;
    const Index d = data_.n_features;
    for (Index i = begin; i < end; ++i) {
      const Index s = samples_[static_cast<std::size_t>(i)];
      const std::uint8_t* codes = bins->codes_of(s);
      const double w = weights_[s];
      for (Index f = 0; f < d; ++f) criterion_.add(hist.data() + (bins->bin_offset(f) + codes[f]) * width_, s, w);
    }
    reduce_(std::span<double>(hist));
  }

  /// The histograms of a batch of features over the node's samples, in one pass, with the map of occupied
  /// bins of each (batch_ is all zero between nodes: search_histogram clears what it used).
  void build_batch(const Pending& node, const Index* features, Index batch) {
    const auto* bins = data_.bins;
    for (Index i = node.begin; i < node.end; ++i) {
      const Index s = samples_[static_cast<std::size_t>(i)];
      const std::uint8_t* codes = bins->codes_of(s);
      const double w = weights_[s];
      for (Index j = 0; j < batch; ++j) {
        const unsigned code = codes[features[j]];
        criterion_.add(batch_.data() + (j * 256 + code) * width_, s, w);
        batch_bits_[static_cast<std::size_t>(j * 4 + (code >> 6))] |= std::uint64_t{1} << (code & 63u);
      }
    }
    if constexpr (Reduce::sharded) reduce_batch(features, batch);
  }

  /// Sums the batch's histograms over the shards (each feature's bins packed into one buffer, one
  /// reduction) and marks the bins occupied in any shard.
  void reduce_batch(const Index* features, Index batch) {
    const auto* bins = data_.bins;
    packed_.clear();
    for (Index j = 0; j < batch; ++j) {
      const double* hist = batch_.data() + j * 256 * width_;
      packed_.insert(packed_.end(), hist, hist + bins->n_bins(features[j]) * width_);
    }
    reduce_(std::span<double>(packed_));
    const Index count = criterion_.count_slot();
    const double* from = packed_.data();
    for (Index j = 0; j < batch; ++j) {
      double* hist = batch_.data() + j * 256 * width_;
      const Index n = bins->n_bins(features[j]);
      std::copy_n(from, n * width_, hist);
      from += n * width_;
      std::uint64_t* bits = batch_bits_.data() + j * 4;
      std::fill_n(bits, 4, 0);
      for (Index b = 0; b < n; ++b)
        if (hist[b * width_ + count] != 0) bits[b >> 6] |= std::uint64_t{1} << (b & 63);
    }
  }

  const TreeData<T>& data_;
  const Criterion& criterion_;
  const TreeSettings& settings_;
  const Index width_;
  Reduce reduce_;
  bool keep_all_histograms_ = false;
  const double* weights_ = nullptr;
  RandomEngine rng_;
  std::vector<Index> samples_;
  std::vector<Index> features_;
  std::vector<Pending> stack_;
  std::vector<double> stack_stats_;
  std::vector<std::vector<double>> slots_;
  std::vector<int> free_slots_;
  std::vector<double> batch_;
  std::vector<std::uint64_t> batch_bits_;
  std::vector<double> packed_;  ///< sharded: the batch's histograms, packed for the reduction
  std::vector<double> left_, right_, best_left_, node_stats_;
  std::vector<Index> sorted_;         ///< exact search: per feature, the tree's samples in value order
  std::vector<char> goes_left_;       ///< exact search: the side of each sample at the current split
  std::vector<Index> right_samples_;  ///< exact search: partition buffer
};

}  // namespace aimastery::detail
