#pragma once
/// \file
/// fit_sharded: decision trees and random forests (classifiers and regressors) on training rows sharded
/// across ranks, as distributed gradient-boosting libraries grow them. The training set is the shards in
/// rank order; every rank ends with the whole model.
///
///   RandomForestScratch<double> forest({.n_estimators = 100, .seed = 7});
///   fit_sharded(world, forest, my_X, my_y);      // collective; each rank passes its rows
///   IndexVector labels = forest.predict(X_new);  // local: every rank holds the same forest
///
/// 1. Agreement, before any work: the shards' own checks (rows of X and y, finite values) through
///    check_on_all_ranks, then the number of features and every option (seed included) through
///    check_same_on_all_ranks. A throw leaves the model unchanged on every rank.
/// 2. Global state: the bins of all the rows (distributed/sharded_binning.hpp), the classes of all the
///    labels (the union of each shard's), where the shard starts (offset) and the total rows n.
/// 3. Growth: the single process's TreeBuilder, with every statistic it decides on — a node's, and each
///    histogram (per feature and bin: class weights, weight, count; or Σwy, Σwy², weight, count) — summed
///    over the ranks by one MPI_Allreduce as soon as it is built from the shard's rows. Every rank thus
///    sees the statistics one process computes over all the rows, draws the same features (the same
///    generator, seeded alike), picks the same split, and partitions its own rows by it.
/// 4. Forests: tree t's bootstrap is the single process's n draws in [0, n) from the generator of
///    (seed, t), drawn on every rank, each rank keeping those in [offset, offset + n_r): the same
///    multiset of rows. Trees grow one after the other on each rank (the ranks are the parallelism).
///
/// Identity. Classification statistics are sums of integer weights (bootstrap counts or 1): exact in
/// double in any order, so every statistic, proxy gain, threshold, leaf proportion and importance equals
/// the single process's bit for bit, and so does the model (tested with `==`). Regression sums Σwy and
/// Σwy² are added in another order (per shard, then across ranks): they agree to rounding (~1e-16
/// relative), so leaf values agree to rounding; the splits are the same (gains within 1e-12 relative are
/// ties, criteria.hpp) unless two different partitions' gains lie within rounding of that margin, or a
/// node's variance within rounding of the purity threshold; exact when the sums are (e.g. integer targets
/// with Σwy² < 2⁵³).
///
/// Supported: histogram split search only (exact search needs every column globally sorted); the out-of-bag
/// score is the single process's (oob_decision_function holds this rank's rows).

#include <bit>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/distributed/agreement.hpp"
#include "aimastery/distributed/communicator.hpp"
#include "aimastery/distributed/sharded_binning.hpp"
#include "aimastery/ml/classical/decision_tree.hpp"
#include "aimastery/ml/classical/label_encoding.hpp"
#include "aimastery/ml/classical/metrics.hpp"
#include "aimastery/ml/classical/random_forest.hpp"
#include "aimastery/ml/classical/tree/criteria.hpp"
#include "aimastery/ml/classical/tree/tree_builder.hpp"
#include "aimastery/ml/classical/tree/tree_options.hpp"
#include "aimastery/ml/classical/validation.hpp"

namespace aimastery {

/// Installs a fit computed by fit_sharded into a model (a friend of the tree and forest classes).
template <class Model>
struct ShardedFit;

namespace detail {

/// Sums statistics over the ranks: one MPI_Allreduce (MPI_SUM, in place).
struct SumOverRanks {
  static constexpr bool sharded = true;
  const Communicator* comm = nullptr;
  void operator()(std::span<double> stats) const { comm->allreduce_sum(stats); }
};

/// Where this rank's rows lie in the training set, and the tree settings, agreed by every rank.
struct ShardPlan {
  Index offset = 0;
  Index total = 0;
  TreeSettings settings;
};

/// The checks of every sharded fit (collective), in an order that leaves no rank waiting: the shard's own
/// inputs, then the agreement on the number of features and on every option, then the total rows.
template <class Params, class DX, class DY>
ShardPlan plan_sharded_fit(const Communicator& comm, std::string_view where, const Params& params,
                           const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) {
  check_on_all_ranks(comm, [&] {
    check_samples_match(where, X, y);
    check_finite(where, "X", X);
    if constexpr (std::is_floating_point_v<typename DY::Scalar>) check_finite(where, "y", y);
    require(params.split_search == SplitSearch::histogram, where,
            "only the histogram split search runs on sharded rows (the exact search needs every column sorted "
            "over all the rows)");
  });
  check_same_features(comm, where, X.cols());
  const auto same = [&](std::string_view what, std::int64_t value) {
    check_same_on_all_ranks(comm, where, what, value);
  };
  same("the seed", static_cast<std::int64_t>(params.seed));
  same("max_bins", params.max_bins);
  same("max_depth", params.max_depth.value_or(0));
  same("min_samples_split", params.min_samples_split);
  same("min_samples_leaf", params.min_samples_leaf);
  same("the kind of max_features", static_cast<std::int64_t>(params.max_features.kind()));
  same("the max_features count", params.max_features.count());
  same("the max_features fraction (bits)", std::bit_cast<std::int64_t>(params.max_features.fraction()));
  if constexpr (requires { params.criterion; }) same("the criterion", static_cast<std::int64_t>(params.criterion));
  if constexpr (requires { params.n_estimators; }) {
    same("n_estimators", params.n_estimators);
    same("bootstrap", params.bootstrap ? 1 : 0);
    same("oob_score", params.oob_score ? 1 : 0);
  }
  ShardPlan plan;
  plan.total = static_cast<Index>(comm.sum(static_cast<std::int64_t>(X.rows())));
  require(plan.total > 0, where, "X has no samples on any rank");
  plan.offset = static_cast<Index>(comm.exclusive_prefix_sum(static_cast<std::int64_t>(X.rows())));
  plan.settings = tree_settings(params, X.cols(), where);  // the same features and options everywhere
  return plan;
}

/// The classes of all the ranks' labels (the union, ascending) and this shard's labels as their codes.
inline IndexVector sharded_label_codes(const Communicator& comm, const Eigen::Ref<const IndexVector>& y,
                                       LabelEncoding& encoding) {
  LabelEncoding local;
  local.fit(y);
  std::vector<std::int64_t> mine(local.classes().data(), local.classes().data() + local.n_classes());
  const std::vector<std::int64_t> all = comm.allgather(std::span<const std::int64_t>(mine));
  IndexVector labels(static_cast<Index>(all.size()));
  for (std::size_t i = 0; i < all.size(); ++i) labels(static_cast<Index>(i)) = static_cast<Index>(all[i]);
  encoding.fit(labels);
  return encoding.encode(y, "fit_sharded");  // every label is a class: cannot throw
}

/// One tree on every row of every shard (weight 1), and its normalised importances.
template <Scalar T, class Criterion>
GrownTree<T> grow_sharded_tree(const Communicator& comm, const TreeData<T>& data, const Criterion& criterion,
                               const TreeSettings& settings, std::uint64_t seed) {
  TreeBuilder<T, Criterion, SumOverRanks> builder(data, criterion, settings, SumOverRanks{&comm});
  GrownTree<T> grown;
  grown.tree = builder.grow(std::vector<double>(static_cast<std::size_t>(data.n_samples), 1.0), seed);
  grown.importances = normalised_importances(grown.tree.importances).template cast<T>();
  return grown;
}

/// The forest's trees, one after the other, each on its bootstrap of the rows of all the shards.
template <Scalar T, class Criterion, class Params>
GrownForest<T> grow_sharded_forest(const Communicator& comm, const TreeData<T>& data, const Criterion& criterion,
                                   const ShardPlan& plan, const Params& params) {
  TreeBuilder<T, Criterion, SumOverRanks> builder(data, criterion, plan.settings, SumOverRanks{&comm});
  std::vector<double> weights(static_cast<std::size_t>(data.n_samples));
  GrownForest<T> grown;
  grown.trees.resize(static_cast<std::size_t>(params.n_estimators));
  for (Index t = 0; t < params.n_estimators; ++t) {
    forest_weights(params.seed, t, params.bootstrap, weights, static_cast<std::uint64_t>(plan.total),
                   static_cast<std::uint64_t>(plan.offset));
    grown.trees[static_cast<std::size_t>(t)] =
        builder.grow(weights, derive_seed(params.seed, static_cast<std::uint64_t>(2 * t + 1)));
  }
  grown.importances = forest_importances(grown.trees, data.n_features);
  return grown;
}

}  // namespace detail

template <Scalar T>
struct ShardedFit<DecisionTreeScratch<T>> {
  static void install(DecisionTreeScratch<T>& model, LabelEncoding& encoding, detail::GrownTree<T>& grown,
                      Index n_features) noexcept {
    model.encoding_.swap(encoding);
    model.tree_ = std::move(grown.tree);
    model.importances_.swap(grown.importances);
    model.n_features_ = n_features;
    model.fitted_ = true;
  }
};

template <Scalar T>
struct ShardedFit<DecisionTreeRegressorScratch<T>> {
  static void install(DecisionTreeRegressorScratch<T>& model, detail::GrownTree<T>& grown, Index n_features) noexcept {
    model.tree_ = std::move(grown.tree);
    model.importances_.swap(grown.importances);
    model.n_features_ = n_features;
    model.fitted_ = true;
  }
};

template <Scalar T>
struct ShardedFit<RandomForestScratch<T>> {
  static void install(RandomForestScratch<T>& model, LabelEncoding& encoding, detail::GrownForest<T>& grown,
                      Matrix<T>& oob_proba, double oob_score, Index n_features) noexcept {
    model.encoding_.swap(encoding);
    model.trees_.swap(grown.trees);
    model.importances_.swap(grown.importances);
    model.oob_proba_.swap(oob_proba);
    model.oob_score_ = oob_score;
    model.n_features_ = n_features;
    model.fitted_ = true;
  }
};

template <Scalar T>
struct ShardedFit<RandomForestRegressorScratch<T>> {
  static void install(RandomForestRegressorScratch<T>& model, detail::GrownForest<T>& grown, T oob_score,
                      Index n_features) noexcept {
    model.trees_.swap(grown.trees);
    model.importances_.swap(grown.importances);
    model.oob_score_ = oob_score;
    model.n_features_ = n_features;
    model.fitted_ = true;
  }
};

/// DecisionTreeScratch::fit on the rows of every rank (this rank's: X, y), in rank order. Collective; a
/// shard may be empty. Throws InvalidArgument on every rank (and leaves the tree unchanged) when a shard
/// is invalid, the ranks disagree on the number of features or an option, or no rank has a row.
template <Scalar T, class Derived>
DecisionTreeScratch<T>& fit_sharded(const Communicator& comm, DecisionTreeScratch<T>& model,
                                    const Eigen::MatrixBase<Derived>& X, const Eigen::Ref<const IndexVector>& y) {
  constexpr std::string_view where = "fit_sharded(DecisionTreeScratch)";
  const detail::ShardPlan plan = detail::plan_sharded_fit(comm, where, model.params(), X, y);
  LabelEncoding encoding;
  const IndexVector codes = detail::sharded_label_codes(comm, y, encoding);
  const detail::ClassificationCriterion criterion{model.params().criterion, encoding.n_classes(), codes.data()};
  const detail::BinnedFeatures<T> bins = detail::sharded_binned_features<T>(comm, X, model.params().max_bins);
  const detail::TreeData<T> data{&bins, nullptr, nullptr, X.rows(), X.cols()};
  detail::GrownTree<T> grown = detail::grow_sharded_tree(comm, data, criterion, plan.settings, model.params().seed);
  ShardedFit<DecisionTreeScratch<T>>::install(model, encoding, grown, X.cols());
  return model;
}

/// DecisionTreeRegressorScratch::fit on the rows of every rank, in rank order. Collective; as above.
template <Scalar T, class DX, class DY>
DecisionTreeRegressorScratch<T>& fit_sharded(const Communicator& comm, DecisionTreeRegressorScratch<T>& model,
                                             const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) {
  constexpr std::string_view where = "fit_sharded(DecisionTreeRegressorScratch)";
  const detail::ShardPlan plan = detail::plan_sharded_fit(comm, where, model.params(), X, y);
  const Vector<T> targets = y.template cast<T>();
  const detail::RegressionCriterion<T> criterion{targets.data()};
  const detail::BinnedFeatures<T> bins = detail::sharded_binned_features<T>(comm, X, model.params().max_bins);
  const detail::TreeData<T> data{&bins, nullptr, nullptr, X.rows(), X.cols()};
  detail::GrownTree<T> grown = detail::grow_sharded_tree(comm, data, criterion, plan.settings, model.params().seed);
  ShardedFit<DecisionTreeRegressorScratch<T>>::install(model, grown, X.cols());
  return model;
}

/// RandomForestScratch::fit on the rows of every rank, in rank order. Collective; as above. With
/// oob_score, oob_score() is the single process's and oob_decision_function() holds this rank's rows.
template <Scalar T, class Derived>
RandomForestScratch<T>& fit_sharded(const Communicator& comm, RandomForestScratch<T>& model,
                                    const Eigen::MatrixBase<Derived>& X, const Eigen::Ref<const IndexVector>& y) {
  constexpr std::string_view where = "fit_sharded(RandomForestScratch)";
  const auto& params = model.params();
  const detail::ShardPlan plan = detail::plan_sharded_fit(comm, where, params, X, y);
  LabelEncoding encoding;
  const IndexVector codes = detail::sharded_label_codes(comm, y, encoding);
  const detail::ClassificationCriterion criterion{params.criterion, encoding.n_classes(), codes.data()};
  detail::GrownForest<T> grown;
  {
    const detail::BinnedFeatures<T> bins = detail::sharded_binned_features<T>(comm, X, params.max_bins);
    const detail::TreeData<T> data{&bins, nullptr, nullptr, X.rows(), X.cols()};
    grown = detail::grow_sharded_forest<T>(comm, data, criterion, plan, params);
  }
  Matrix<T> oob_proba;
  double oob_score = 0.0;
  if (params.oob_score) {
    std::vector<char> has_prediction;
    oob_proba = detail::out_of_bag_mean(grown.trees, Matrix<T>(X.template cast<T>()), encoding.n_classes(), params.seed,
                                        has_prediction, static_cast<std::uint64_t>(plan.total),
                                        static_cast<std::uint64_t>(plan.offset));
    std::int64_t tally[2] = {0, 0};  // correct, counted
    for (Index i = 0; i < X.rows(); ++i) {
      if (!has_prediction[static_cast<std::size_t>(i)]) continue;
      Index best = 0;
      oob_proba.row(i).maxCoeff(&best);
      tally[0] += best == codes(i) ? 1 : 0;
      ++tally[1];
    }
    comm.allreduce_sum(std::span<std::int64_t>(tally, 2));
    oob_score = tally[1] ? static_cast<double>(tally[0]) / static_cast<double>(tally[1]) : 0.0;
  }
  ShardedFit<RandomForestScratch<T>>::install(model, encoding, grown, oob_proba, oob_score, X.cols());
  return model;
}

/// RandomForestRegressorScratch::fit on the rows of every rank, in rank order. Collective; as above. The
/// out-of-bag R² is computed on every rank over the gathered out-of-bag predictions, in row order.
template <Scalar T, class DX, class DY>
RandomForestRegressorScratch<T>& fit_sharded(const Communicator& comm, RandomForestRegressorScratch<T>& model,
                                             const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) {
  constexpr std::string_view where = "fit_sharded(RandomForestRegressorScratch)";
  const auto& params = model.params();
  const detail::ShardPlan plan = detail::plan_sharded_fit(comm, where, params, X, y);
  const Vector<T> targets = y.template cast<T>();
  const detail::RegressionCriterion<T> criterion{targets.data()};
  detail::GrownForest<T> grown;
  {
    const detail::BinnedFeatures<T> bins = detail::sharded_binned_features<T>(comm, X, params.max_bins);
    const detail::TreeData<T> data{&bins, nullptr, nullptr, X.rows(), X.cols()};
    grown = detail::grow_sharded_forest<T>(comm, data, criterion, plan, params);
  }
  T oob_score = T(0);
  if (params.oob_score) {
    std::vector<char> has_prediction;
    const Matrix<T> oob =
        detail::out_of_bag_mean(grown.trees, Matrix<T>(X.template cast<T>()), 1, params.seed, has_prediction,
                                static_cast<std::uint64_t>(plan.total), static_cast<std::uint64_t>(plan.offset));
    std::vector<T> predicted, actual;
    for (Index i = 0; i < X.rows(); ++i)
      if (has_prediction[static_cast<std::size_t>(i)]) {
        predicted.push_back(oob(i, 0));
        actual.push_back(targets(i));
      }
    const std::vector<T> all_predicted = comm.allgather(std::span<const T>(predicted));
    const std::vector<T> all_actual = comm.allgather(std::span<const T>(actual));
    const auto rows = static_cast<Index>(all_predicted.size());
    if (rows > 0)
      oob_score = r2_score(Vector<T>(Eigen::Map<const Vector<T>>(all_actual.data(), rows)),
                           Vector<T>(Eigen::Map<const Vector<T>>(all_predicted.data(), rows)));
  }
  ShardedFit<RandomForestRegressorScratch<T>>::install(model, grown, oob_score, X.cols());
  return model;
}

}  // namespace aimastery
