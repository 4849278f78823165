// Decision trees and random forests fitted on rows sharded over 2 and 4 ranks against the single-process fit
// on all the rows (computed on every rank, in the same test): the same nodes, thresholds, leaf values,
// importances and predictions, compared with ==.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "aimastery/ml/classical/decision_tree.hpp"
#include "aimastery/ml/classical/random_forest.hpp"
#include "distributed/mpi_support.hpp"
#include "support.hpp"

using namespace aimastery;

namespace {

/// The rows [lo, hi) of n that this rank holds: balanced shares, or (`lopsided`) nothing on rank 0, the
/// first sixth on rank 1 and the rest on the last rank (the ranks between hold nothing).
BatchShare rows_of(Index n, const Communicator& comm, bool lopsided) {
  if (!lopsided) return batch_share(n, comm.rank(), comm.size());
  const Index sixth = n / 6;
  if (comm.rank() == 0) return {0, 0};
  if (comm.rank() == comm.size() - 1) return {comm.size() == 2 ? 0 : sixth, n};
  return comm.rank() == 1 ? BatchShare{0, sixth} : BatchShare{sixth, sixth};
}

/// Seeded data with ties: a continuous column (more distinct values than a small max_bins), columns of a
/// few integer values, a duplicated block of rows, and labels {-3, 4, 9} from a noisy rule (label 9 only
/// in the last rows, so some shards never see it).
struct Data {
  Matrix<double> X;
  IndexVector labels;
  Vector<double> targets;  ///< a continuous target
  Vector<double> counts;   ///< an integer-valued target (its sums are exact)
};

Data make_data(Index n, std::uint64_t seed) {
  RandomEngine rng(seed);
  Data d;
  d.X.resize(n, 6);
  d.labels.resize(n);
  d.targets.resize(n);
  d.counts.resize(n);
  for (Index i = 0; i < n; ++i) {
    d.X(i, 0) = detail::standard_normal(rng);
    d.X(i, 1) = static_cast<double>(detail::uniform_below(rng, 5));
    d.X(i, 2) = static_cast<double>(detail::uniform_below(rng, 3)) - 1.0;
    d.X(i, 3) = std::round(4 * detail::standard_normal(rng)) / 4;
    d.X(i, 4) = detail::standard_normal(rng);
    d.X(i, 5) = 7.0;  // constant: never split on
  }
  d.X.middleRows(n / 2, 20) = d.X.topRows(20);  // duplicated rows
  for (Index i = 0; i < n; ++i) {
    const double s = d.X(i, 0) + 0.5 * d.X(i, 1) - d.X(i, 2) + 0.3 * detail::standard_normal(rng);
    d.labels(i) = s > 1.5 ? 4 : -3;
    if (i > 4 * n / 5 && d.X(i, 4) > 0.5) d.labels(i) = 9;
    d.targets(i) = std::sin(d.X(i, 0)) + 0.1 * d.X(i, 1) * d.X(i, 3) + 0.05 * detail::standard_normal(rng);
    d.counts(i) = static_cast<double>(detail::uniform_below(rng, 4)) + d.X(i, 1);
  }
  return d;
}

/// The same nodes (features, thresholds, children), leaf values and importances: equal, or with
/// `tolerance` > 0 equal to that relative to the largest.
template <class T>
void check_same_tree(const detail::FittedTree<T>& got, const detail::FittedTree<T>& expected, double tolerance = 0) {
  REQUIRE(got.nodes.size() == expected.nodes.size());
  for (std::size_t i = 0; i < got.nodes.size(); ++i) {
    CAPTURE(i);
    CHECK(got.nodes[i].feature == expected.nodes[i].feature);
    CHECK(got.nodes[i].threshold == expected.nodes[i].threshold);
    CHECK(got.nodes[i].left == expected.nodes[i].left);
    CHECK(got.nodes[i].right == expected.nodes[i].right);
  }
  const auto close = [&](const auto& a, const auto& b) {
    if (tolerance == 0 || a.size() != b.size()) return a == b;
    double gap = 0, scale = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      gap = std::max(gap, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
      scale = std::max(scale, std::abs(static_cast<double>(b[i])));
    }
    return gap <= tolerance * scale;
  };
  CHECK(close(got.values, expected.values));
  CHECK(close(got.importances, expected.importances));
  CHECK(got.depth == expected.depth);
  CHECK(got.n_leaves == expected.n_leaves);
}

template <class T>
Matrix<T> rows(const Matrix<double>& X, const BatchShare& share) {
  return X.middleRows(share.lo, share.hi - share.lo).template cast<T>();
}

}  // namespace

TEST_CASE("sharded_binned_features: the single process's bins and codes, whatever the shards") {
  Communicator world = Communicator::world();
  Data data = make_data(700, 10);
  data.X.col(1).head(350).setConstant(2.0);  // one value over half the rows: a run spanning many quotas
  for (bool lopsided : {false, true})
    for (int max_bins : {256, 64, 7, 2}) {
      CAPTURE(lopsided);
      CAPTURE(max_bins);
      const detail::BinnedFeatures<double> single(data.X, max_bins);
      const BatchShare mine = rows_of(data.X.rows(), world, lopsided);
      const detail::BinnedFeatures<double> sharded =
          detail::sharded_binned_features<double>(world, rows<double>(data.X, mine), max_bins);
      REQUIRE(sharded.n_samples() == mine.hi - mine.lo);
      for (Index f = 0; f < data.X.cols(); ++f) {
        CAPTURE(f);
        REQUIRE(sharded.n_bins(f) == single.n_bins(f));
        for (Index b = 0; b + 1 < single.n_bins(f); ++b)
          CHECK(sharded.threshold(f, b, b + 1) == single.threshold(f, b, b + 1));
      }
      for (Index i = 0; i < sharded.n_samples(); ++i)
        for (Index f = 0; f < data.X.cols(); ++f) CHECK(sharded.codes_of(i)[f] == single.codes_of(mine.lo + i)[f]);
    }
}

TEST_CASE_TEMPLATE("fit_sharded(DecisionTreeScratch) grows the single-process tree", T, float, double) {
  Communicator world = Communicator::world();
  const Data data = make_data(300, 11);
  const Matrix<T> X = data.X.cast<T>();
  struct Case {
    int max_bins;
    std::uint64_t seed;
    MaxFeatures features;
    SplitCriterion criterion;
  };
  const std::vector<Case> cases = {{256, 0, MaxFeatures::all(), SplitCriterion::gini},
                                   {16, 5, MaxFeatures::all(), SplitCriterion::entropy},
                                   {256, 5, MaxFeatures::sqrt(), SplitCriterion::gini},
                                   {16, 0, MaxFeatures(2), SplitCriterion::entropy},
                                   {32, 7, MaxFeatures(0.5), SplitCriterion::gini}};
  for (bool lopsided : {false, true})
    for (const Case& c : cases) {
      CAPTURE(lopsided);
      CAPTURE(c.max_bins);
      CAPTURE(c.seed);
      CAPTURE(static_cast<int>(c.features.kind()));
      DecisionTreeParams params;
      params.criterion = c.criterion;
      params.max_features = c.features;
      params.seed = c.seed;
      params.max_bins = c.max_bins;
      params.min_samples_leaf = c.seed == 0 ? 1 : 3;
      DecisionTreeScratch<T> single(params);
      single.fit(X, data.labels);
      const BatchShare mine = rows_of(X.rows(), world, lopsided);
      DecisionTreeScratch<T> sharded(params);
      fit_sharded(world, sharded, rows<T>(data.X, mine), IndexVector(data.labels.segment(mine.lo, mine.hi - mine.lo)));
      CHECK(sharded.classes() == single.classes());
      check_same_tree(sharded.tree(), single.tree());
      CHECK(sharded.feature_importances() == single.feature_importances());
      CHECK(sharded.predict_proba(X) == single.predict_proba(X));
    }
}

TEST_CASE_TEMPLATE("fit_sharded(RandomForestScratch) grows the single-process forest", T, float, double) {
  Communicator world = Communicator::world();
  const Data data = make_data(200, 12);
  const Matrix<T> X = data.X.cast<T>();
  struct Case {
    bool bootstrap;
    std::uint64_t seed;
    MaxFeatures features;
  };
  const std::vector<Case> cases = {{true, 1, MaxFeatures::sqrt()},
                                   {true, 9, MaxFeatures(0.5)},
                                   {false, 9, MaxFeatures::sqrt()},
                                   {true, 9, MaxFeatures::all()}};
  for (bool lopsided : {false, true})
    for (const Case& c : cases) {
      CAPTURE(lopsided);
      CAPTURE(c.bootstrap);
      CAPTURE(c.seed);
      CAPTURE(static_cast<int>(c.features.kind()));
      RandomForestParams params;
      params.n_estimators = 4;
      params.max_features = c.features;
      params.bootstrap = c.bootstrap;
      params.oob_score = c.bootstrap;
      params.seed = c.seed;
      params.max_bins = c.seed == 1 ? 256 : 32;
      params.max_depth = c.seed == 1 ? std::optional<Index>() : std::optional<Index>(5);
      RandomForestScratch<T> single(params);
      single.fit(X, data.labels);
      const BatchShare mine = rows_of(X.rows(), world, lopsided);
      RandomForestScratch<T> sharded(params);
      fit_sharded(world, sharded, rows<T>(data.X, mine), IndexVector(data.labels.segment(mine.lo, mine.hi - mine.lo)));
      REQUIRE(sharded.n_trees() == single.n_trees());
      for (Index t = 0; t < single.n_trees(); ++t) {
        CAPTURE(t);
        check_same_tree(sharded.tree(t), single.tree(t));
      }
      CHECK(sharded.classes() == single.classes());
      CHECK(sharded.feature_importances() == single.feature_importances());
      CHECK(sharded.predict_proba(X) == single.predict_proba(X));
      CHECK(sharded.predict(X) == single.predict(X));
      if (c.bootstrap) {
        CHECK(sharded.oob_score() == single.oob_score());
        CHECK(sharded.oob_decision_function() == single.oob_decision_function().middleRows(mine.lo, mine.hi - mine.lo));
      }
    }
}

TEST_CASE("fit_sharded regressors: identical with exact sums, equal to rounding otherwise") {
  Communicator world = Communicator::world();
  const Data data = make_data(240, 13);
  for (bool lopsided : {false, true}) {
    CAPTURE(lopsided);
    const BatchShare mine = rows_of(data.X.rows(), world, lopsided);
    const Matrix<double> X_mine = rows<double>(data.X, mine);
    // Integer targets: every Σwy and Σwy² is exact in double, so the trees are the single process's.
    DecisionTreeRegressorParams tree_params;
    tree_params.max_features = MaxFeatures(3);
    tree_params.seed = 4;
    DecisionTreeRegressorScratch<double> single_tree(tree_params), sharded_tree(tree_params);
    single_tree.fit(data.X, data.counts);
    fit_sharded(world, sharded_tree, X_mine, Vector<double>(data.counts.segment(mine.lo, mine.hi - mine.lo)));
    check_same_tree(sharded_tree.tree(), single_tree.tree());
    CHECK(sharded_tree.predict(data.X) == single_tree.predict(data.X));

    RandomForestRegressorParams forest_params;
    forest_params.n_estimators = 3;
    forest_params.max_features = MaxFeatures(0.5);
    forest_params.oob_score = true;
    forest_params.seed = 8;
    RandomForestRegressorScratch<double> single(forest_params), sharded(forest_params);
    single.fit(data.X, data.counts);
    fit_sharded(world, sharded, X_mine, Vector<double>(data.counts.segment(mine.lo, mine.hi - mine.lo)));
    for (Index t = 0; t < single.n_trees(); ++t) check_same_tree(sharded.tree(t), single.tree(t));
    CHECK(sharded.predict(data.X) == single.predict(data.X));
    CHECK(sharded.oob_score() == single.oob_score());

    // Continuous targets: the sums are added in another order; the splits are the same (gains within
    // 1e-12 relative are ties), the leaf values and predictions agree to rounding.
    single.fit(data.X, data.targets);
    fit_sharded(world, sharded, X_mine, Vector<double>(data.targets.segment(mine.lo, mine.hi - mine.lo)));
    for (Index t = 0; t < single.n_trees(); ++t) check_same_tree(sharded.tree(t), single.tree(t), 1e-12);
    DecisionTreeRegressorScratch<double> single_all, sharded_all;  // every feature: the subtraction trick
    single_all.fit(data.X, data.targets);
    fit_sharded(world, sharded_all, X_mine, Vector<double>(data.targets.segment(mine.lo, mine.hi - mine.lo)));
    check_same_tree(sharded_all.tree(), single_all.tree(), 1e-12);
    const Vector<double> expected = single.predict(data.X), got = sharded.predict(data.X);
    CHECK((got - expected).cwiseAbs().maxCoeff() <= 1e-12 * expected.cwiseAbs().maxCoeff());
    CHECK(std::abs(sharded.oob_score() - single.oob_score()) <= 1e-12);
    // Every rank holds the same forest, bit for bit.
    CHECK(test::identical_on_all_ranks(world, std::vector<double>(got.data(), got.data() + got.size())));
  }
}

TEST_CASE("fit_sharded: bad inputs throw on every rank, naming the problem, and leave the model unchanged") {
  Communicator world = Communicator::world();
  const Data data = make_data(120, 14);
  const BatchShare mine = rows_of(data.X.rows(), world, false);
  const Matrix<double> X = rows<double>(data.X, mine);
  const IndexVector y = data.labels.segment(mine.lo, mine.hi - mine.lo);
  RandomForestParams params;
  params.n_estimators = 3;
  params.seed = 3;
  RandomForestScratch<double> forest(params);
  // Not fitted, and a failed fit leaves it so.
  const Matrix<double> fewer = X.leftCols(world.rank() == 1 ? 5 : 6);
  CHECK_THROWS_NAMING(fit_sharded(world, forest, fewer, y), InvalidArgument,
                      "fit_sharded(RandomForestScratch): ranks disagree on the number of features: 5 to 6");
  CHECK_THROWS_AS(static_cast<void>(forest.classes()), NotFittedError);

  fit_sharded(world, forest, X, y);
  const Matrix<double> before = forest.predict_proba(data.X);
  const auto unchanged = [&] { CHECK(forest.predict_proba(data.X) == before); };
  CHECK_THROWS_NAMING(fit_sharded(world, forest, fewer, y), InvalidArgument, "the number of features: 5 to 6");
  unchanged();
  Matrix<double> bad = X;
  if (world.rank() == 1) bad(0, 2) = std::nan("");
  CHECK_THROWS_NAMING(fit_sharded(world, forest, bad, y), InvalidArgument,
                      "rank 1: fit_sharded(RandomForestScratch): X contains NaN or infinity");
  unchanged();
  const IndexVector shorter = y.head(world.rank() == world.size() - 1 ? y.size() - 1 : y.size());
  CHECK_THROWS_NAMING(
      fit_sharded(world, forest, X, shorter), InvalidArgument,
      test::text("rank " + std::to_string(world.size() - 1) + ": fit_sharded(RandomForestScratch): X has"));
  unchanged();
  RandomForestParams other = params;
  other.seed = world.rank() == 1 ? 4 : 3;
  RandomForestScratch<double> reseeded(other);
  CHECK_THROWS_NAMING(fit_sharded(world, reseeded, X, y), InvalidArgument, "ranks disagree on the seed: 3 to 4");
  other = params;
  other.max_features = world.rank() == 0 ? MaxFeatures(2) : MaxFeatures::sqrt();
  RandomForestScratch<double> refeatured(other);
  CHECK_THROWS_NAMING(fit_sharded(world, refeatured, X, y), InvalidArgument,
                      "ranks disagree on the kind of max_features");
  other = params;
  other.n_estimators = world.rank() == 0 ? 3 : 4;
  RandomForestScratch<double> more(other);
  CHECK_THROWS_NAMING(fit_sharded(world, more, X, y), InvalidArgument, "ranks disagree on n_estimators: 3 to 4");
  other = params;
  other.max_features = 9;
  RandomForestScratch<double> too_many(other);
  CHECK_THROWS_NAMING(fit_sharded(world, too_many, X, y), InvalidArgument, "max_features is 9 but X has 6 features");
  other = params;
  other.split_search = SplitSearch::exact;
  RandomForestScratch<double> exact(other);
  CHECK_THROWS_NAMING(fit_sharded(world, exact, X, y), InvalidArgument, "only the histogram split search");
  CHECK_THROWS_NAMING(fit_sharded(world, forest, Matrix<double>(0, 6), IndexVector(0)), InvalidArgument,
                      "fit_sharded(RandomForestScratch): X has no samples on any rank");
  unchanged();

  DecisionTreeScratch<double> tree;
  CHECK_THROWS_NAMING(fit_sharded(world, tree, fewer, y), InvalidArgument,
                      "fit_sharded(DecisionTreeScratch): ranks disagree on the number of features");
  DecisionTreeParams criteria;
  criteria.criterion = world.rank() == 0 ? SplitCriterion::gini : SplitCriterion::entropy;
  DecisionTreeScratch<double> mixed(criteria);
  CHECK_THROWS_NAMING(fit_sharded(world, mixed, X, y), InvalidArgument, "ranks disagree on the criterion");
  DecisionTreeRegressorScratch<double> regressor;
  Vector<double> targets = data.targets.segment(mine.lo, mine.hi - mine.lo);
  if (world.rank() == 0) targets(0) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_NAMING(fit_sharded(world, regressor, X, targets), InvalidArgument,
                      "rank 0: fit_sharded(DecisionTreeRegressorScratch): y contains NaN or infinity");
  RandomForestRegressorScratch<double> forest_regressor;
  const Vector<double> clean = data.targets.segment(mine.lo, mine.hi - mine.lo);
  CHECK_THROWS_NAMING(fit_sharded(world, forest_regressor, fewer, clean), InvalidArgument,
                      "fit_sharded(RandomForestRegressorScratch): ranks disagree on the number of features");
}
