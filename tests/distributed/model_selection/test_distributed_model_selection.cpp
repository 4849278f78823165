// Cross-validation and parameter search spread over 2 and 4 ranks against the single-process functions in
// the same program: every score equal (==), on every rank; bad inputs and data that differ between ranks
// throw on every rank, naming the problem and the rank.
#include <doctest/doctest.h>

#include <limits>
#include <stdexcept>
#include <vector>

#include <aimastery/distributed/distributed_model_selection.hpp>
#include <aimastery/ml/classical/gaussian_nb.hpp>
#include <aimastery/ml/classical/knn.hpp>
#include <aimastery/ml/classical/linear_regression.hpp>
#include <aimastery/ml/classical/random_forest.hpp>

#include "distributed/mpi_support.hpp"
#include "support.hpp"

using namespace aimastery;

namespace {

/// Three seeded classes in 4 features (overlapping, so the folds score differently).
struct Labelled {
  Matrix<double> X;
  IndexVector y;
};
Labelled three_classes(Index n, std::uint64_t seed) {
  Labelled d{test::normal_matrix<double>(n, 4, seed), IndexVector(n)};
  for (Index i = 0; i < n; ++i) {
    d.y(i) = i % 3;
    d.X(i, 0) += static_cast<double>(d.y(i));
    d.X(i, 1) -= 0.5 * static_cast<double>(d.y(i));
  }
  return d;
}

std::vector<double> as_vector(const Matrix<double>& m) { return {m.data(), m.data() + m.size()}; }

}  // namespace

TEST_CASE("cross_val_score over the ranks equals cross_val_score: seeded forests, naive Bayes, regression") {
  Communicator world = Communicator::world();
  const Labelled d = three_classes(150, 11);
  for (Index n_splits : {2, 3, 5, 7}) {  // fewer, as many and more folds than ranks
    CAPTURE(n_splits);
    const std::vector<Fold> folds = StratifiedKFold({.n_splits = n_splits, .shuffle = true, .seed = 3}).split(d.y);
    const auto forest = [] {
      RandomForestParams p;
      p.n_estimators = 5;
      p.max_depth = 4;
      p.seed = 9;
      return RandomForestScratch<double>(p);
    };
    const Vector<double> got = cross_val_score(world, forest, d.X, d.y, folds);
    CHECK(got == cross_val_score(forest, d.X, d.y, folds));
    const auto bayes = [] { return GaussianNBScratch<double>(); };
    CHECK(cross_val_score(world, bayes, d.X, d.y, folds) == cross_val_score(bayes, d.X, d.y, folds));
    CHECK(test::identical_on_all_ranks(world, std::vector<double>(got.data(), got.data() + got.size())));
  }
  const Vector<double> target = d.X.col(0) * 2.0 + d.X.col(2);
  const std::vector<Fold> folds = KFold({.n_splits = 5, .shuffle = true, .seed = 1}).split(d.X.rows());
  const auto linear = [] { return LinearRegressionScratch<double>(); };
  CHECK(cross_val_score(world, linear, d.X, target, folds) == cross_val_score(linear, d.X, target, folds));
}

TEST_CASE("cross_val_scores: candidates x folds spread over the ranks; row c is cross_val_score of candidate c") {
  Communicator world = Communicator::world();
  const Labelled d = three_classes(120, 12);
  const std::vector<Fold> folds = StratifiedKFold({.n_splits = 4, .shuffle = true, .seed = 5}).split(d.y);
  const std::vector<Index> ks = {1, 3, 5, 9, 15};
  const auto make = [&](Index c) { return KNNScratch<double>({.k = ks[static_cast<std::size_t>(c)]}); };
  const Matrix<double> scores = cross_val_scores(world, make, 5, d.X, d.y, folds);
  REQUIRE(scores.rows() == 5);
  REQUIRE(scores.cols() == 4);
  Index expected_best = 0;
  for (Index c = 0; c < 5; ++c) {
    const Vector<double> single = cross_val_score([&] { return make(c); }, d.X, d.y, folds);
    CHECK(Vector<double>(scores.row(c).transpose()) == single);
    if (single.mean() > scores.row(expected_best).mean()) expected_best = c;
  }
  CHECK(best_candidate(scores) == expected_best);
  CHECK(test::identical_on_all_ranks(world, as_vector(scores)));
}

TEST_CASE("run_tasks_on_ranks: every task once, results by task index; a throwing task throws on every rank") {
  Communicator world = Communicator::world();
  std::vector<Index> ran;
  const std::vector<double> out = run_tasks_on_ranks(world, 11, [&](Index t) {
    ran.push_back(t);
    return 0.5 * static_cast<double>(t * t);
  });
  REQUIRE(out.size() == 11);
  for (Index t = 0; t < 11; ++t) CHECK(out[static_cast<std::size_t>(t)] == 0.5 * static_cast<double>(t * t));
  for (Index t : ran) CHECK(t % world.size() == world.rank());  // round-robin
  CHECK(static_cast<Index>(world.sum(static_cast<std::int64_t>(ran.size()))) == 11);
  CHECK(run_tasks_on_ranks(world, 0, [](Index) { return 1.0; }).empty());
  // Task 1 runs on rank 1 and fails: InvalidArgument there and, with its message, everywhere.
  CHECK_THROWS_NAMING(run_tasks_on_ranks(world, 4,
                                         [](Index t) {
                                           require(t != 1, "task", "task 1 refuses");
                                           return 1.0;
                                         }),
                      InvalidArgument, "rank 1: task: task 1 refuses");
  CHECK_THROWS_NAMING(run_tasks_on_ranks(world, world.rank() == 1 ? 3 : 4, [](Index) { return 1.0; }), InvalidArgument,
                      "ranks disagree on the number of tasks: 3 to 4");
  CHECK_THROWS_NAMING(run_tasks_on_ranks(world, -1, [](Index) { return 1.0; }), InvalidArgument,
                      "n_tasks must be non-negative, got -1");
}

TEST_CASE("distributed cross-validation: bad inputs and data that differ between ranks throw on every rank") {
  Communicator world = Communicator::world();
  const Labelled d = three_classes(30, 13);
  const std::vector<Fold> folds = StratifiedKFold({.n_splits = 3}).split(d.y);
  const auto bayes = [] { return GaussianNBScratch<double>(); };
  Matrix<double> changed = d.X;
  changed(4, 2) += 1;
  CHECK_THROWS_NAMING(cross_val_score(world, bayes, world.rank() == 1 ? changed : d.X, d.y, folds), InvalidArgument,
                      "cross_val_score: rank 1 differs from rank 0 in the hash of X");
  IndexVector other_y = d.y;
  other_y(0) = 2;
  CHECK_THROWS_NAMING(cross_val_score(world, bayes, d.X, world.rank() == world.size() - 1 ? other_y : d.y, folds),
                      InvalidArgument,
                      test::text("rank " + std::to_string(world.size() - 1) + " differs from rank 0 in the hash of y"));
  const std::vector<Fold> shuffled = StratifiedKFold({.n_splits = 3, .shuffle = true, .seed = 2}).split(d.y);
  CHECK_THROWS_NAMING(cross_val_score(world, bayes, d.X, d.y, world.rank() == 1 ? shuffled : folds), InvalidArgument,
                      "rank 1 differs from rank 0 in the folds");
  CHECK_THROWS_NAMING(
      cross_val_score(world, bayes, world.rank() == 1 ? Matrix<double>(d.X.leftCols(3)) : d.X, d.y, folds),
      InvalidArgument, "rank 1 differs from rank 0 in the number of features");
  CHECK_THROWS_NAMING(cross_val_score(world, bayes, d.X, d.y, std::vector<Fold>{}), InvalidArgument,
                      "cross_val_score: no folds given");
  std::vector<Fold> outside = folds;
  outside[1].test(0) = 30;
  CHECK_THROWS_NAMING(cross_val_score(world, bayes, d.X, d.y, world.rank() == 1 ? outside : folds), InvalidArgument,
                      "rank 1: cross_val_score: fold 1 has a row index outside 0..29");
  CHECK_THROWS_NAMING(cross_val_score(world, bayes, d.X, IndexVector(d.y.head(20)), folds), InvalidArgument,
                      "cross_val_score");
  const auto make = [](Index) { return GaussianNBScratch<double>(); };
  CHECK_THROWS_NAMING(cross_val_scores(world, make, 0, d.X, d.y, folds), InvalidArgument,
                      "n_candidates must be at least 1, got 0");
  CHECK_THROWS_NAMING(cross_val_scores(world, make, world.rank() == 1 ? 3 : 2, d.X, d.y, folds), InvalidArgument,
                      "cross_val_scores: rank 1 differs from rank 0 in the number of candidates");
  CHECK_THROWS_NAMING(best_candidate(Matrix<double>(0, 3)), InvalidArgument, "the score matrix is 0x3");
  Matrix<double> nan_scores(2, 2);
  nan_scores.setConstant(std::numeric_limits<double>::quiet_NaN());
  CHECK_THROWS_NAMING(best_candidate(nan_scores), InvalidArgument, "every candidate's mean score is NaN");
  nan_scores(1, 0) = nan_scores(1, 1) = 0.25;
  CHECK(best_candidate(nan_scores) == 1);
}
