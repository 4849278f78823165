#pragma once
/// \file
/// Model selection: train_test_split (optionally stratified), KFold, StratifiedKFold and cross_val_score.
///
///   auto split = train_test_split(X, y, {.test_size = 0.2, .stratify = true, .seed = 7});
///   StratifiedKFold folds({.n_splits = 5, .shuffle = true, .seed = 0});
///   Vector<double> acc = cross_val_score([] { return GaussianNBScratch<double>(); }, X, y, folds.split(y));
///
/// Randomness comes from the library's engine (core/probability/sampling.hpp) seeded by `seed` and its one
/// Fisher–Yates shuffle, so a seed gives the same split on every platform. Without shuffling, the folds are exactly
/// scikit-learn's. The splitters' split() and their helpers are templates with a defaulted parameter (called as
/// plain functions) so that they are compiled only in the programs that call them.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// One split: row indices for training and for testing, each ascending.
struct Fold {
  IndexVector train;
  IndexVector test;
};

namespace detail {

template <class = void>
std::vector<Index> iota_indices(Index n) {
  std::vector<Index> v(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

template <class = void>
IndexVector to_index_vector(std::vector<Index> v, bool sort) {
  if (sort) std::sort(v.begin(), v.end());
  return Eigen::Map<const IndexVector>(v.data(), static_cast<Index>(v.size()));
}

/// Folds from a test-fold number per sample (train = every other sample).
template <class = void>
std::vector<Fold> folds_from_assignment(const std::vector<Index>& test_fold, Index n_splits) {
  std::vector<Fold> folds;
  for (Index f = 0; f < n_splits; ++f) {
    std::vector<Index> train, test;
    for (std::size_t i = 0; i < test_fold.size(); ++i)
      (test_fold[i] == f ? test : train).push_back(static_cast<Index>(i));
    folds.push_back({to_index_vector(std::move(train), false), to_index_vector(std::move(test), false)});
  }
  return folds;
}

inline void check_n_splits(std::string_view where, Index n_splits, Index n_samples) {
  require(n_splits >= 2, where, [&] { return "n_splits must be at least 2, got " + std::to_string(n_splits); });
  require(n_splits <= n_samples, where, [&] {
    return "n_splits = " + std::to_string(n_splits) + " is greater than the number of samples, " +
           std::to_string(n_samples);
  });
}

}  // namespace detail

struct KFoldParams {
  Index n_splits = 5;
  bool shuffle = false;
  std::uint64_t seed = 0;
};

/// K consecutive folds (of the shuffled order when shuffle): the first n mod K folds have ⌊n/K⌋ + 1 samples,
/// the others ⌊n/K⌋.
class KFold {
 public:
  explicit KFold(KFoldParams params = {}) : params_(params) {
    require(params_.n_splits >= 2, "KFold",
            [&] { return "n_splits must be at least 2, got " + std::to_string(params_.n_splits); });
  }

  template <class = void>
  [[nodiscard]] std::vector<Fold> split(Index n_samples) const {
    detail::check_n_splits("KFold::split", params_.n_splits, n_samples);
    std::vector<Index> order = detail::iota_indices(n_samples);
    if (params_.shuffle) {
      RandomEngine engine(params_.seed);
      detail::shuffle(order.begin(), order.end(), engine);
    }
    std::vector<Index> test_fold(static_cast<std::size_t>(n_samples));
    Index position = 0;
    for (Index f = 0; f < params_.n_splits; ++f) {
      const Index size = n_samples / params_.n_splits + (f < n_samples % params_.n_splits ? 1 : 0);
      for (Index i = 0; i < size; ++i)
        test_fold[static_cast<std::size_t>(order[static_cast<std::size_t>(position++)])] = f;
    }
    return detail::folds_from_assignment(test_fold, params_.n_splits);
  }

  [[nodiscard]] const KFoldParams& params() const noexcept { return params_; }

 private:
  KFoldParams params_;
};

/// K folds that each keep the class proportions of y (scikit-learn's StratifiedKFold). Classes are numbered in
/// order of first appearance; with the labels so encoded and sorted, fold f receives, of class c, as many
/// samples as c occurs among positions f, f+K, f+2K, … of the sorted list; within a class the samples go to
/// folds in index order (or in shuffled order when shuffle).
class StratifiedKFold {
 public:
  explicit StratifiedKFold(KFoldParams params = {}) : params_(params) {
    require(params_.n_splits >= 2, "StratifiedKFold",
            [&] { return "n_splits must be at least 2, got " + std::to_string(params_.n_splits); });
  }

  template <class = void>
  [[nodiscard]] std::vector<Fold> split(const Eigen::Ref<const IndexVector>& y) const {
    constexpr std::string_view where = "StratifiedKFold::split";
    const Index n = y.size(), k_folds = params_.n_splits;
    detail::check_n_splits(where, k_folds, n);
    // Encode by first appearance.
    std::vector<Index> first_seen;  // labels in order of first appearance
    std::vector<Index> encoded(static_cast<std::size_t>(n));
    for (Index i = 0; i < n; ++i) {
      auto it = std::find(first_seen.begin(), first_seen.end(), y(i));
      if (it == first_seen.end()) it = first_seen.insert(first_seen.end(), y(i));
      encoded[static_cast<std::size_t>(i)] = static_cast<Index>(it - first_seen.begin());
    }
    const Index n_classes = static_cast<Index>(first_seen.size());
    std::vector<Index> counts(static_cast<std::size_t>(n_classes), 0);
    for (Index c : encoded) ++counts[static_cast<std::size_t>(c)];
    require(*std::max_element(counts.begin(), counts.end()) >= k_folds, where, [&] {
      return "n_splits = " + std::to_string(k_folds) + " is greater than the number of members of every class";
    });
    std::vector<Index> sorted = encoded;
    std::sort(sorted.begin(), sorted.end());
    // allocation[f][c] = #{ positions p ≡ f (mod K) of the sorted codes with code c }
    std::vector<std::vector<Index>> allocation(static_cast<std::size_t>(k_folds),
                                               std::vector<Index>(static_cast<std::size_t>(n_classes), 0));
    for (Index p = 0; p < n; ++p)
      ++allocation[static_cast<std::size_t>(p % k_folds)]
                  [static_cast<std::size_t>(sorted[static_cast<std::size_t>(p)])];
    RandomEngine engine(params_.seed);
    std::vector<Index> test_fold(static_cast<std::size_t>(n));
    for (Index c = 0; c < n_classes; ++c) {
      std::vector<Index> folds_for_class;
      for (Index f = 0; f < k_folds; ++f)
        folds_for_class.insert(
            folds_for_class.end(),
            static_cast<std::size_t>(allocation[static_cast<std::size_t>(f)][static_cast<std::size_t>(c)]), f);
      if (params_.shuffle) detail::shuffle(folds_for_class.begin(), folds_for_class.end(), engine);
      std::size_t next = 0;
      for (Index i = 0; i < n; ++i)
        if (encoded[static_cast<std::size_t>(i)] == c) test_fold[static_cast<std::size_t>(i)] = folds_for_class[next++];
    }
    return detail::folds_from_assignment(test_fold, k_folds);
  }

  [[nodiscard]] const KFoldParams& params() const noexcept { return params_; }

 private:
  KFoldParams params_;
};

/// The rows `indices` of X (or entries of a vector), in that order.
template <class D>
[[nodiscard]] typename D::PlainObject take_rows(const Eigen::MatrixBase<D>& X, const IndexVector& indices) {
  require(indices.size() == 0 || (indices.minCoeff() >= 0 && indices.maxCoeff() < X.rows()), "take_rows",
          [&] { return "a row index lies outside 0.." + std::to_string(X.rows() - 1); });
  return X(indices, Eigen::all);
}

struct TrainTestSplitParams {
  /// Fraction of the samples held out, in (0, 1): ⌈test_size · n⌉ test samples (as scikit-learn).
  double test_size = 0.25;
  /// Keep the class proportions of y in both parts (needs integer labels).
  bool stratify = false;
  std::uint64_t seed = 0;
};

template <class MX, class MY>
struct TrainTestSplit {
  MX X_train, X_test;
  MY y_train, y_test;
  IndexVector train_indices, test_indices;
};

/// Splits (X, y) at random into a training and a test part. Stratified: class c gets round(n_c · n_test / n)
/// test samples (largest remainders first so they sum to n_test), drawn at random within the class.
template <class DX, class DY>
[[nodiscard]] TrainTestSplit<typename DX::PlainObject, typename DY::PlainObject> train_test_split(
    const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y, const TrainTestSplitParams& params = {}) {
  constexpr std::string_view where = "train_test_split";
  check_not_empty(where, "X", X);
  check_samples_match(where, X, y);
  require(params.test_size > 0 && params.test_size < 1, where,
          [&] { return "test_size must be in (0, 1), got " + std::to_string(params.test_size); });
  const Index n = X.rows();
  const Index n_test = static_cast<Index>(std::ceil(params.test_size * static_cast<double>(n)));
  require(n_test >= 1 && n_test < n, where, [&] {
    return "test_size = " + std::to_string(params.test_size) + " of " + std::to_string(n) +
           " samples leaves an empty part";
  });
  RandomEngine engine(params.seed);
  std::vector<Index> order = detail::iota_indices(n);
  detail::shuffle(order.begin(), order.end(), engine);
  std::vector<Index> test, train;
  if (!params.stratify) {
    test.assign(order.begin(), order.begin() + n_test);
    train.assign(order.begin() + n_test, order.end());
  } else {
    if constexpr (!std::is_integral_v<typename DY::Scalar>) {
      throw InvalidArgument(std::string(where) + ": stratify needs integer class labels in y");
    } else {
      std::vector<Index> labels(y.derived().data(), y.derived().data() + y.size());
      std::sort(labels.begin(), labels.end());
      labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
      const std::size_t k = labels.size();
      std::vector<std::vector<Index>> members(k);
      for (Index i : order)
        members[static_cast<std::size_t>(std::lower_bound(labels.begin(), labels.end(), y(i)) - labels.begin())]
            .push_back(i);
      std::vector<Index> quota(k);
      std::vector<std::pair<double, std::size_t>> remainders;
      Index assigned = 0;
      for (std::size_t c = 0; c < k; ++c) {
        const double exact =
            static_cast<double>(members[c].size()) * static_cast<double>(n_test) / static_cast<double>(n);
        quota[c] = static_cast<Index>(std::floor(exact));
        assigned += quota[c];
        remainders.push_back({exact - std::floor(exact), c});
      }
      std::stable_sort(remainders.begin(), remainders.end(), [](auto a, auto b) { return a.first > b.first; });
      for (std::size_t r = 0; assigned < n_test && r < remainders.size(); ++r) {
        const std::size_t c = remainders[r].second;
        if (quota[c] < static_cast<Index>(members[c].size())) {
          ++quota[c];
          ++assigned;
        }
      }
      for (std::size_t c = 0; c < k; ++c)
        for (std::size_t i = 0; i < members[c].size(); ++i)
          (static_cast<Index>(i) < quota[c] ? test : train).push_back(members[c][i]);
      detail::shuffle(test.begin(), test.end(), engine);
      detail::shuffle(train.begin(), train.end(), engine);
    }
  }
  TrainTestSplit<typename DX::PlainObject, typename DY::PlainObject> out;
  out.train_indices = detail::to_index_vector(std::move(train), false);
  out.test_indices = detail::to_index_vector(std::move(test), false);
  out.X_train = take_rows(X, out.train_indices);
  out.X_test = take_rows(X, out.test_indices);
  out.y_train = take_rows(y, out.train_indices);
  out.y_test = take_rows(y, out.test_indices);
  return out;
}

/// The checks of cross-validation, before any fit: X not empty, as many targets as rows, at least one fold,
/// and every fold non-empty with its row indices in range.
template <class DX, class DY>
void check_cross_validation(std::string_view where, const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y,
                            const std::vector<Fold>& folds) {
  check_not_empty(where, "X", X);
  check_samples_match(where, X, y);
  require(!folds.empty(), where, "no folds given");
  for (std::size_t f = 0; f < folds.size(); ++f) {
    const Fold& fold = folds[f];
    require(fold.train.size() > 0 && fold.test.size() > 0, where,
            [&] { return "fold " + std::to_string(f) + " is empty"; });
    const auto rows_in_range = [&](const IndexVector& rows) {
      return std::all_of(rows.data(), rows.data() + rows.size(), [&](Index i) { return i >= 0 && i < X.rows(); });
    };
    const bool in_range = rows_in_range(fold.train) && rows_in_range(fold.test);
    require(in_range, where, [&] {
      return "fold " + std::to_string(f) + " has a row index outside 0.." + std::to_string(X.rows() - 1);
    });
  }
}

/// The score of a fresh estimator `make()` fitted on each fold's training rows, on its test rows:
/// score_f = make().fit(X[train_f], y[train_f]).score(X[test_f], y[test_f]).
template <class Make, class DX, class DY>
[[nodiscard]] Vector<double> cross_val_score(Make&& make, const Eigen::MatrixBase<DX>& X,
                                             const Eigen::MatrixBase<DY>& y, const std::vector<Fold>& folds) {
  check_cross_validation("cross_val_score", X, y, folds);
  Vector<double> scores(static_cast<Index>(folds.size()));
  for (std::size_t f = 0; f < folds.size(); ++f) {
    const Fold& fold = folds[f];
    auto estimator = make();
    estimator.fit(take_rows(X, fold.train), take_rows(y, fold.train));
    scores(static_cast<Index>(f)) =
        static_cast<double>(estimator.score(take_rows(X, fold.test), take_rows(y, fold.test)));
  }
  return scores;
}

/// cross_val_score over `n_splits` folds: stratified for integer labels, plain KFold for real targets,
/// shuffled by `seed` when shuffle.
template <class Make, class DX, class DY>
[[nodiscard]] Vector<double> cross_val_score(Make&& make, const Eigen::MatrixBase<DX>& X,
                                             const Eigen::MatrixBase<DY>& y, const KFoldParams& params = {5, true, 0}) {
  check_samples_match("cross_val_score", X, y);
  if constexpr (std::is_integral_v<typename DY::Scalar>)
    return cross_val_score(make, X, y, StratifiedKFold(params).split(y));
  else
    return cross_val_score(make, X, y, KFold(params).split(y.size()));
}

}  // namespace aimastery
