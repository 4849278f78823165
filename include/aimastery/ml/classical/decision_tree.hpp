#pragma once
/// \file
/// DecisionTreeScratch (classification, gini or entropy) and
/// DecisionTreeRegressorScratch (MSE).
///
/// A tree splits a node on the feature and threshold of largest information
/// gain
///     IG = I(parent) − Σ_j (n_j / n) I(child_j)
/// with I the gini impurity G = 1 − Σ p_k² or the entropy H = −Σ p_k log₂ p_k
/// (classification), or the variance of y (regression), and stops at pure
/// nodes, max_depth, or nodes too small to split. Thresholds lie midway between
/// observed values; x ≤ threshold goes left. The search is histogram based by
/// default (tree/tree_builder.hpp), exact on request. feature_importances() is
/// the total weighted impurity decrease per feature, normalised to sum to 1, as
/// scikit-learn's.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/classical/label_encoding.hpp"
#include "aimastery/ml/classical/metrics.hpp"
#include "aimastery/ml/classical/tree/criteria.hpp"
#include "aimastery/ml/classical/tree/tree_builder.hpp"
#include "aimastery/ml/classical/tree/tree_options.hpp"
#include "aimastery/ml/classical/validation.hpp"

namespace aimastery {

struct DecisionTreeParams {
  SplitCriterion criterion = SplitCriterion::gini;
  std::optional<Index> max_depth = std::nullopt;  ///< none: grow until pure or too small
  Index min_samples_split = 2;
  Index min_samples_leaf = 1;
  MaxFeatures max_features = MaxFeatures::all();
  std::uint64_t seed = 0;
  SplitSearch split_search = SplitSearch::histogram;
  int max_bins = 256;
};

struct DecisionTreeRegressorParams {
  std::optional<Index> max_depth = std::nullopt;
  Index min_samples_split = 2;
  Index min_samples_leaf = 1;
  MaxFeatures max_features = MaxFeatures::all();
  std::uint64_t seed = 0;
  SplitSearch split_search = SplitSearch::histogram;
  int max_bins = 256;
};

namespace detail {

template <class Params>
TreeSettings tree_settings(const Params& params, Index n_features, std::string_view where) {
  return {params.max_depth.value_or(0), params.min_samples_split, params.min_samples_leaf,
          params.max_features.resolve(n_features, where), params.split_search};
}

/// One tree grown on every row of X (weight 1) with `criterion`, and its
/// normalised importances: the fit of both single trees, the classifier's and
/// the regressor's.
template <Scalar T>
struct GrownTree {
  FittedTree<T> tree;
  Vector<T> importances;
};

template <Scalar T, class Criterion, class Params, class Derived>
GrownTree<T> grow_single_tree(const Eigen::MatrixBase<Derived>& X, const Criterion& criterion, const Params& params,
                              const TreeSettings& settings) {
  const TreeTrainingSet<T> training(X, params.split_search, params.max_bins);
  TreeBuilder<T, Criterion> builder(training.data(), criterion, settings);
  GrownTree<T> grown;
  grown.tree = builder.grow(std::vector<double>(static_cast<std::size_t>(X.rows()), 1.0), params.seed);
  grown.importances = normalised_importances(grown.tree.importances).template cast<T>();
  return grown;
}

/// Row-wise argmax (the first largest, i.e. the smallest class code on ties),
/// as numpy's argmax.
template <class Derived>
IndexVector argmax_rows(const Eigen::MatrixBase<Derived>& P) {
  IndexVector codes(P.rows());
  for (Index i = 0; i < P.rows(); ++i) P.row(i).maxCoeff(&codes(i));
  return codes;
}

}  // namespace detail

template <Scalar T>
class DecisionTreeScratch {
 public:
  using Params = DecisionTreeParams;

  explicit DecisionTreeScratch(Params params = {}) : params_(params) {
    detail::check_growth_options("DecisionTreeScratch", params_.max_depth, params_.min_samples_split,
                                 params_.min_samples_leaf, params_.max_bins);
  }

  template <class Derived>
  DecisionTreeScratch& fit(const Eigen::MatrixBase<Derived>& X, const Eigen::Ref<const IndexVector>& y) {
    constexpr const char* where = "DecisionTreeScratch::fit";
    check_fit_input(where, X, y);
    const detail::TreeSettings settings = detail::tree_settings(params_, X.cols(), where);
    // The new state is built aside and swapped in at the end: a fit that throws
    // leaves the model as it was.
    LabelEncoding encoding;
    const IndexVector codes = encoding.fit(y);
    const detail::ClassificationCriterion criterion{params_.criterion, encoding.n_classes(), codes.data()};
    detail::GrownTree<T> grown = detail::grow_single_tree<T>(X, criterion, params_, settings);
    encoding_.swap(encoding);
    tree_ = std::move(grown.tree);
    importances_.swap(grown.importances);
    n_features_ = X.cols();
    fitted_ = true;
    return *this;
  }

  /// n × K class proportions of the leaf each sample reaches, columns in
  /// classes() order.
  template <class Derived>
  [[nodiscard]] Matrix<T> predict_proba(const Eigen::MatrixBase<Derived>& X) const {
    check_predict_input("DecisionTreeScratch::predict_proba", fitted_, X, n_features_);
    return leaf_values(X);
  }

  template <class Derived>
  [[nodiscard]] IndexVector predict(const Eigen::MatrixBase<Derived>& X) const {
    check_predict_input("DecisionTreeScratch::predict", fitted_, X, n_features_);
    return encoding_.decode(detail::argmax_rows(leaf_values(X)));
  }

  /// Accuracy on (X, y).
  template <class Derived>
  [[nodiscard]] double score(const Eigen::MatrixBase<Derived>& X, const Eigen::Ref<const IndexVector>& y) const {
    check_predict_input("DecisionTreeScratch::score", fitted_, X, n_features_);
    check_samples_match("DecisionTreeScratch::score", X, y);
    return accuracy_score(y, encoding_.decode(detail::argmax_rows(leaf_values(X))));
  }

  [[nodiscard]] const IndexVector& classes() const { return fitted_state("classes").classes(); }
  [[nodiscard]] const Vector<T>& feature_importances() const {
    fitted_state("feature_importances");
    return importances_;
  }
  /// Depth of the deepest leaf (the root alone has depth 0) and number of
  /// leaves.
  [[nodiscard]] Index depth() const {
    fitted_state("depth");
    return tree_.depth;
  }
  [[nodiscard]] Index n_leaves() const {
    fitted_state("n_leaves");
    return tree_.n_leaves;
  }
  [[nodiscard]] const Params& params() const noexcept { return params_; }
  /// The fitted nodes (features, thresholds, children), for inspection.
  [[nodiscard]] const detail::FittedTree<T>& tree() const {
    fitted_state("tree");
    return tree_;
  }

 private:
  const LabelEncoding& fitted_state(const char* accessor) const {
    if (!fitted_)
      throw NotFittedError(std::string("DecisionTreeScratch::") + accessor +
                           ": the model is not fitted; call fit first");
    return encoding_;
  }
  template <class Derived>
  Matrix<T> leaf_values(const Eigen::MatrixBase<Derived>& X) const {
    const Matrix<T> Xc = X.template cast<T>();
    Matrix<T> P(Xc.rows(), encoding_.n_classes());
    for (Index i = 0; i < Xc.rows(); ++i)
      P.row(i) = Eigen::Map<const RowVector<T>>(tree_.leaf_value(Xc.row(i).data()), P.cols());
    return P;
  }

  template <class>
  friend struct ModelCodec;  // reads and restores the fitted state (production/deployment)
  template <class>
  friend struct ShardedFit;  // installs a fit over rows sharded across processes (distributed/)

  Params params_;
  LabelEncoding encoding_;
  detail::FittedTree<T> tree_;
  Vector<T> importances_;
  Index n_features_ = 0;
  bool fitted_ = false;
};

template <Scalar T>
class DecisionTreeRegressorScratch {
 public:
  using Params = DecisionTreeRegressorParams;

  explicit DecisionTreeRegressorScratch(Params params = {}) : params_(params) {
    detail::check_growth_options("DecisionTreeRegressorScratch", params_.max_depth, params_.min_samples_split,
                                 params_.min_samples_leaf, params_.max_bins);
  }

  template <class DX, class DY>
  DecisionTreeRegressorScratch& fit(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) {
    constexpr const char* where = "DecisionTreeRegressorScratch::fit";
    check_fit_input(where, X, y);
    const detail::TreeSettings settings = detail::tree_settings(params_, X.cols(), where);
    const Vector<T> targets = y.template cast<T>();
    const detail::RegressionCriterion<T> criterion{targets.data()};
    detail::GrownTree<T> grown = detail::grow_single_tree<T>(X, criterion, params_, settings);
    tree_ = std::move(grown.tree);  // built aside, swapped in: a fit that throws
                                    // leaves the model as it was
    importances_.swap(grown.importances);
    n_features_ = X.cols();
    fitted_ = true;
    return *this;
  }

  template <class Derived>
  [[nodiscard]] Vector<T> predict(const Eigen::MatrixBase<Derived>& X) const {
    check_predict_input("DecisionTreeRegressorScratch::predict", fitted_, X, n_features_);
    return leaf_means(X);
  }

  /// R² on (X, y).
  template <class DX, class DY>
  [[nodiscard]] T score(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) const {
    check_predict_input("DecisionTreeRegressorScratch::score", fitted_, X, n_features_);
    check_samples_match("DecisionTreeRegressorScratch::score", X, y);
    return r2_score(Vector<T>(y.template cast<T>()), leaf_means(X));
  }

  [[nodiscard]] const Vector<T>& feature_importances() const {
    if (!fitted_)
      throw NotFittedError(
          "DecisionTreeRegressorScratch::feature_importances: "
          "the model is not fitted; call fit first");
    return importances_;
  }
  [[nodiscard]] Index depth() const noexcept { return tree_.depth; }
  [[nodiscard]] Index n_leaves() const noexcept { return tree_.n_leaves; }
  [[nodiscard]] const Params& params() const noexcept { return params_; }
  /// The fitted nodes (features, thresholds, children), for inspection.
  [[nodiscard]] const detail::FittedTree<T>& tree() const noexcept { return tree_; }

 private:
  template <class Derived>
  Vector<T> leaf_means(const Eigen::MatrixBase<Derived>& X) const {
    const Matrix<T> Xc = X.template cast<T>();
    Vector<T> out(Xc.rows());
    for (Index i = 0; i < Xc.rows(); ++i) out(i) = *tree_.leaf_value(Xc.row(i).data());
    return out;
  }

  template <class>
  friend struct ModelCodec;  // reads and restores the fitted state (production/deployment)
  template <class>
  friend struct ShardedFit;  // installs a fit over rows sharded across processes (distributed/)

  Params params_;
  detail::FittedTree<T> tree_;
  Vector<T> importances_;
  Index n_features_ = 0;
  bool fitted_ = false;
};

}  // namespace aimastery
