#pragma once
/// \file
/// RandomForestScratch (classification) and RandomForestRegressorScratch.
///
/// Bagging: tree t grows on a bootstrap sample of the n training rows (n draws
/// with replacement; a row drawn c times weighs c), and every split looks at
/// `max_features` features drawn afresh. Averaging B trees of variance σ² and
/// pairwise correlation ρ leaves variance ρσ² + (1 − ρ)σ²/B: the feature draws
/// lower ρ, the bootstrap and the averaging the rest. The forest predicts the
/// mean of the trees' class proportions (or values). The rows a tree never drew
/// are its out-of-bag rows; predicting each row with the trees that did not see
/// it gives the out-of-bag score, a free estimate of the test accuracy (R²).
///
/// Trees grow in parallel (OpenMP). Tree t draws its bootstrap and its features
/// from generators seeded by (seed, t) only, so the same seed gives the same
/// forest whatever the number of threads.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/classical/decision_tree.hpp"
#include "aimastery/ml/classical/label_encoding.hpp"
#include "aimastery/ml/classical/metrics.hpp"
#include "aimastery/ml/classical/tree/criteria.hpp"
#include "aimastery/ml/classical/tree/tree_builder.hpp"
#include "aimastery/ml/classical/tree/tree_options.hpp"
#include "aimastery/ml/classical/validation.hpp"

namespace aimastery {

struct RandomForestParams {
  Index n_estimators = 100;
  SplitCriterion criterion = SplitCriterion::gini;
  std::optional<Index> max_depth = std::nullopt;
  Index min_samples_split = 2;
  Index min_samples_leaf = 1;
  MaxFeatures max_features = MaxFeatures::sqrt();
  bool bootstrap = true;
  bool oob_score = false;  ///< compute oob_score() after fit (needs bootstrap)
  std::uint64_t seed = 0;
  SplitSearch split_search = SplitSearch::histogram;
  int max_bins = 256;
};

struct RandomForestRegressorParams {
  Index n_estimators = 100;
  std::optional<Index> max_depth = std::nullopt;
  Index min_samples_split = 2;
  Index min_samples_leaf = 1;
  MaxFeatures max_features = MaxFeatures::all();  ///< scikit-learn's regressor default (1.0)
  bool bootstrap = true;
  bool oob_score = false;
  std::uint64_t seed = 0;
  SplitSearch split_search = SplitSearch::histogram;
  int max_bins = 256;
};

namespace detail {

/// Tree t's sample weights for the rows [offset, offset + weights.size()) of
/// a training set of n rows: bootstrap counts (n draws in [0, n) from the
/// generator of (seed, t), those falling in the range counted), or all ones.
/// A shard of the rows thus gets the weights its rows have in the whole set.
inline void forest_weights(std::uint64_t seed, Index tree, bool bootstrap, std::vector<double>& weights,
                           std::uint64_t n, std::uint64_t offset) {
  if (!bootstrap) {
    std::fill(weights.begin(), weights.end(), 1.0);
    return;
  }
  std::fill(weights.begin(), weights.end(), 0.0);
  RandomEngine rng(derive_seed(seed, static_cast<std::uint64_t>(2 * tree)));
  const std::uint64_t size = weights.size();
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t row = uniform_below(rng, n) - offset;  // wraps above size when below offset
    if (row < size) weights[static_cast<std::size_t>(row)] += 1.0;
  }
}

/// Tree t's sample weights over the whole training set (weights.size() rows).
inline void forest_weights(std::uint64_t seed, Index tree, bool bootstrap, std::vector<double>& weights) {
  forest_weights(seed, tree, bootstrap, weights, weights.size(), 0);
}

template <class Params>
void check_forest_options(std::string_view where, const Params& params) {
  check_growth_options(where, params.max_depth, params.min_samples_split, params.min_samples_leaf, params.max_bins);
  require(params.n_estimators >= 1, where,
          [&] { return "n_estimators must be at least 1, got " + std::to_string(params.n_estimators); });
  require(!params.oob_score || params.bootstrap, where, "oob_score needs bootstrap = true");
}

/// Grows n_estimators trees, in parallel over trees.
template <Scalar T, class Criterion>
std::vector<FittedTree<T>> grow_forest(const TreeData<T>& data, const Criterion& criterion,
                                       const TreeSettings& settings, Index n_estimators, bool bootstrap,
                                       std::uint64_t seed) {
  std::vector<FittedTree<T>> trees(static_cast<std::size_t>(n_estimators));
#ifdef _OPENMP
#pragma omp parallel
#endif
  {
    TreeBuilder<T, Criterion> builder(data, criterion, settings);
    std::vector<double> weights(static_cast<std::size_t>(data.n_samples));
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (Index t = 0; t < n_estimators; ++t) {
      forest_weights(seed, t, bootstrap, weights);
      trees[static_cast<std::size_t>(t)] =
          builder.grow(weights, derive_seed(seed, static_cast<std::uint64_t>(2 * t + 1)));
    }
  }
  return trees;
}

/// The trees of a forest on X and their importances: what both forests' fits
/// share.
template <Scalar T>
struct GrownForest {
  std::vector<FittedTree<T>> trees;
  Vector<T> importances;
};

template <Scalar T, class Criterion, class Params, class Derived>
GrownForest<T> grow_forest_on(const Eigen::MatrixBase<Derived>& X, const Criterion& criterion, const Params& params,
                              const TreeSettings& settings) {
  GrownForest<T> grown;
  {
    const TreeTrainingSet<T> training(X, params.split_search,
                                      params.max_bins);  // freed before the importances
    grown.trees =
        grow_forest<T>(training.data(), criterion, settings, params.n_estimators, params.bootstrap, params.seed);
  }
  grown.importances = forest_importances(grown.trees, X.cols());
  return grown;
}

/// The mean of the trees' leaf values for every row of X: n × value_size.
template <Scalar T>
Matrix<T> forest_mean(const std::vector<FittedTree<T>>& trees, const Matrix<T>& X, Index value_size) {
  Matrix<T> out = Matrix<T>::Zero(X.rows(), value_size);
  const Index n = X.rows();
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (Index i = 0; i < n; ++i) {
    auto row = out.row(i);
    for (const auto& tree : trees) row += Eigen::Map<const RowVector<T>>(tree.leaf_value(X.row(i).data()), value_size);
    row /= static_cast<T>(trees.size());
  }
  return out;
}

/// Out-of-bag mean of the trees' values: row i averages the trees whose
/// bootstrap missed i; rows no tree missed are flagged in `has_prediction`.
/// X holds the rows [offset, offset + X.rows()) of a training set of n rows.
template <Scalar T>
Matrix<T> out_of_bag_mean(const std::vector<FittedTree<T>>& trees, const Matrix<T>& X, Index value_size,
                          std::uint64_t seed, std::vector<char>& has_prediction, std::uint64_t n,
                          std::uint64_t offset) {
  const Index rows = X.rows();
  Matrix<T> sum = Matrix<T>::Zero(rows, value_size);
  std::vector<Index> votes(static_cast<std::size_t>(rows), 0);
  std::vector<double> weights(static_cast<std::size_t>(rows));
  for (Index t = 0; t < static_cast<Index>(trees.size()); ++t) {
    forest_weights(seed, t, true, weights, n, offset);
    const auto& tree = trees[static_cast<std::size_t>(t)];
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (Index i = 0; i < rows; ++i) {
      if (weights[static_cast<std::size_t>(i)] > 0) continue;
      sum.row(i) += Eigen::Map<const RowVector<T>>(tree.leaf_value(X.row(i).data()), value_size);
      ++votes[static_cast<std::size_t>(i)];
    }
  }
  has_prediction.assign(static_cast<std::size_t>(rows), 0);
  for (Index i = 0; i < rows; ++i)
    if (votes[static_cast<std::size_t>(i)] > 0) {
      sum.row(i) /= static_cast<T>(votes[static_cast<std::size_t>(i)]);
      has_prediction[static_cast<std::size_t>(i)] = 1;
    }
  return sum;
}

/// scikit-learn's forest importances: the mean of the normalised importances of
/// the trees that split, normalised again.
template <Scalar T>
Vector<T> forest_importances(const std::vector<FittedTree<T>>& trees, Index n_features) {
  Eigen::VectorXd total = Eigen::VectorXd::Zero(n_features);
  for (const auto& tree : trees)
    if (tree.nodes.size() > 1) total += normalised_importances(tree.importances);
  const double sum = total.sum();
  if (sum > 0) total /= sum;
  return total.cast<T>();
}

}  // namespace detail

template <Scalar T>
class RandomForestScratch {
 public:
  using Params = RandomForestParams;

  explicit RandomForestScratch(Params params = {}) : params_(params) {
    detail::check_forest_options("RandomForestScratch", params_);
  }

  template <class Derived>
  RandomForestScratch& fit(const Eigen::MatrixBase<Derived>& X, const Eigen::Ref<const IndexVector>& y) {
    constexpr const char* where = "RandomForestScratch::fit";
    check_fit_input(where, X, y);
    const detail::TreeSettings settings = detail::tree_settings(params_, X.cols(), where);
    // The new state is built aside and swapped in at the end: a fit that throws
    // leaves the model as it was.
    LabelEncoding encoding;
    const IndexVector codes = encoding.fit(y);
    const detail::ClassificationCriterion criterion{params_.criterion, encoding.n_classes(), codes.data()};
    detail::GrownForest<T> grown = detail::grow_forest_on<T>(X, criterion, params_, settings);
    const auto& trees = grown.trees;
    Matrix<T> oob_proba;
    double oob_score = 0.0;
    if (params_.oob_score) {
      std::vector<char> has_prediction;
      oob_proba = detail::out_of_bag_mean(trees, Matrix<T>(X.template cast<T>()), encoding.n_classes(), params_.seed,
                                          has_prediction, static_cast<std::uint64_t>(X.rows()), 0);
      Index correct = 0, counted = 0;
      for (Index i = 0; i < X.rows(); ++i) {
        if (!has_prediction[static_cast<std::size_t>(i)]) continue;
        Index best = 0;
        oob_proba.row(i).maxCoeff(&best);
        correct += best == codes(i) ? 1 : 0;
        ++counted;
      }
      oob_score = counted ? static_cast<double>(correct) / static_cast<double>(counted) : 0.0;
    }
    encoding_.swap(encoding);
    trees_.swap(grown.trees);
    importances_.swap(grown.importances);
    oob_proba_.swap(oob_proba);
    oob_score_ = oob_score;
    n_features_ = X.cols();
    fitted_ = true;
    return *this;
  }

  /// n × K mean of the trees' class proportions, columns in classes() order.
  template <class Derived>
  [[nodiscard]] Matrix<T> predict_proba(const Eigen::MatrixBase<Derived>& X) const {
    check_predict_input("RandomForestScratch::predict_proba", fitted_, X, n_features_);
    return detail::forest_mean(trees_, Matrix<T>(X.template cast<T>()), encoding_.n_classes());
  }

  template <class Derived>
  [[nodiscard]] IndexVector predict(const Eigen::MatrixBase<Derived>& X) const {
    check_predict_input("RandomForestScratch::predict", fitted_, X, n_features_);
    return encoding_.decode(
        detail::argmax_rows(detail::forest_mean(trees_, Matrix<T>(X.template cast<T>()), encoding_.n_classes())));
  }

  template <class Derived>
  [[nodiscard]] double score(const Eigen::MatrixBase<Derived>& X, const Eigen::Ref<const IndexVector>& y) const {
    check_predict_input("RandomForestScratch::score", fitted_, X, n_features_);
    check_samples_match("RandomForestScratch::score", X, y);
    return accuracy_score(y, predict(X));
  }

  [[nodiscard]] const IndexVector& classes() const {
    require_fitted("classes");
    return encoding_.classes();
  }
  [[nodiscard]] const Vector<T>& feature_importances() const {
    require_fitted("feature_importances");
    return importances_;
  }
  /// Out-of-bag accuracy (fit with oob_score = true).
  [[nodiscard]] double oob_score() const {
    require_fitted("oob_score");
    require(params_.oob_score, "RandomForestScratch::oob_score", "the forest was fitted with oob_score = false");
    return oob_score_;
  }
  /// Out-of-bag class proportions (rows no tree left out are zero).
  [[nodiscard]] const Matrix<T>& oob_decision_function() const {
    static_cast<void>(oob_score());
    return oob_proba_;
  }
  [[nodiscard]] Index n_trees() const noexcept { return static_cast<Index>(trees_.size()); }
  [[nodiscard]] const detail::FittedTree<T>& tree(Index t) const { return trees_.at(static_cast<std::size_t>(t)); }
  [[nodiscard]] const Params& params() const noexcept { return params_; }

 private:
  void require_fitted(const char* accessor) const {
    if (!fitted_)
      throw NotFittedError(std::string("RandomForestScratch::") + accessor +
                           ": the model is not fitted; call fit first");
  }

  template <class>
  friend struct ModelCodec;  // reads and restores the fitted state (production/deployment)
  template <class>
  friend struct ShardedFit;  // installs a fit over rows sharded across processes (distributed/)

  Params params_;
  LabelEncoding encoding_;
  std::vector<detail::FittedTree<T>> trees_;
  Vector<T> importances_;
  Matrix<T> oob_proba_;
  double oob_score_ = 0.0;
  Index n_features_ = 0;
  bool fitted_ = false;
};

template <Scalar T>
class RandomForestRegressorScratch {
 public:
  using Params = RandomForestRegressorParams;

  explicit RandomForestRegressorScratch(Params params = {}) : params_(params) {
    detail::check_forest_options("RandomForestRegressorScratch", params_);
  }

  template <class DX, class DY>
  RandomForestRegressorScratch& fit(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) {
    constexpr const char* where = "RandomForestRegressorScratch::fit";
    check_fit_input(where, X, y);
    const detail::TreeSettings settings = detail::tree_settings(params_, X.cols(), where);
    // The new state is built aside and swapped in at the end: a fit that throws
    // leaves the model as it was.
    const Vector<T> targets = y.template cast<T>();
    const detail::RegressionCriterion<T> criterion{targets.data()};
    detail::GrownForest<T> grown = detail::grow_forest_on<T>(X, criterion, params_, settings);
    const auto& trees = grown.trees;
    T oob_score = T(0);
    if (params_.oob_score) {
      std::vector<char> has_prediction;
      const Matrix<T> oob = detail::out_of_bag_mean(trees, Matrix<T>(X.template cast<T>()), 1, params_.seed,
                                                    has_prediction, static_cast<std::uint64_t>(X.rows()), 0);
      std::vector<Index> rows;
      for (Index i = 0; i < X.rows(); ++i)
        if (has_prediction[static_cast<std::size_t>(i)]) rows.push_back(i);
      Vector<T> predicted(static_cast<Index>(rows.size())), actual(static_cast<Index>(rows.size()));
      for (std::size_t r = 0; r < rows.size(); ++r) {
        predicted(static_cast<Index>(r)) = oob(rows[r], 0);
        actual(static_cast<Index>(r)) = targets(rows[r]);
      }
      oob_score = rows.empty() ? T(0) : r2_score(actual, predicted);
    }
    trees_.swap(grown.trees);
    importances_.swap(grown.importances);
    oob_score_ = oob_score;
    n_features_ = X.cols();
    fitted_ = true;
    return *this;
  }

  template <class Derived>
  [[nodiscard]] Vector<T> predict(const Eigen::MatrixBase<Derived>& X) const {
    check_predict_input("RandomForestRegressorScratch::predict", fitted_, X, n_features_);
    return detail::forest_mean(trees_, Matrix<T>(X.template cast<T>()), 1).col(0);
  }

  /// R² on (X, y).
  template <class DX, class DY>
  [[nodiscard]] T score(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) const {
    check_predict_input("RandomForestRegressorScratch::score", fitted_, X, n_features_);
    check_samples_match("RandomForestRegressorScratch::score", X, y);
    return r2_score(Vector<T>(y.template cast<T>()), predict(X));
  }

  [[nodiscard]] const Vector<T>& feature_importances() const {
    require_fitted("feature_importances");
    return importances_;
  }
  /// Out-of-bag R² (fit with oob_score = true).
  [[nodiscard]] T oob_score() const {
    require_fitted("oob_score");
    require(params_.oob_score, "RandomForestRegressorScratch::oob_score",
            "the forest was fitted with oob_score = false");
    return oob_score_;
  }
  [[nodiscard]] Index n_trees() const noexcept { return static_cast<Index>(trees_.size()); }
  [[nodiscard]] const detail::FittedTree<T>& tree(Index t) const { return trees_.at(static_cast<std::size_t>(t)); }
  [[nodiscard]] const Params& params() const noexcept { return params_; }

 private:
  void require_fitted(const char* accessor) const {
    if (!fitted_)
      throw NotFittedError(std::string("RandomForestRegressorScratch::") + accessor +
                           ": the model is not fitted; call fit first");
  }

  template <class>
  friend struct ModelCodec;  // reads and restores the fitted state (production/deployment)
  template <class>
  friend struct ShardedFit;  // installs a fit over rows sharded across processes (distributed/)

  Params params_;
  std::vector<detail::FittedTree<T>> trees_;
  Vector<T> importances_;
  T oob_score_ = T(0);
  Index n_features_ = 0;
  bool fitted_ = false;
};

}  // namespace aimastery
