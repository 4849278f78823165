// KNNScratch and KNNRegressorScratch: conformance, scikit-learn's brute-force predictions (identical), neighbour
// order, and bad inputs.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "aimastery/io/csv.hpp"
#include "aimastery/ml/classical/knn.hpp"
#include "ml/classical/conformance.hpp"
#include "support.hpp"

using namespace aimastery;
using aimastery::test::load_reference;

namespace {

template <class M>
M rows_of(const M& A, const nlohmann::json& rows) {
  M out(static_cast<Index>(rows.size()), A.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Index>(i)) = A.row(rows[i].get<Index>());
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("KNNScratch conforms", T, float, double) {
  test::check_classifier_conformance([] { return KNNScratch<T>(); }, "KNNScratch");
  test::check_classifier_conformance(
      [] { return KNNScratch<T>({.k = 7, .metric = DistanceMetric::manhattan, .weights = NeighborWeights::distance}); },
      "KNNScratch");
}

TEST_CASE_TEMPLATE("KNNRegressorScratch conforms", T, float, double) {
  test::check_regressor_conformance([] { return KNNRegressorScratch<T>({.k = 4}); }, "KNNRegressorScratch");
  test::check_regressor_conformance([] { return KNNRegressorScratch<T>({.metric = DistanceMetric::cosine}); },
                                    "KNNRegressorScratch",
                                    {.min_r2 = 0.3});  // cosine ignores the scale of x: a weaker fit
}

TEST_CASE_TEMPLATE("a refit refused for k leaves KNN as it was", T, float, double) {
  const auto few = test::conformance_detail::gaussian_blobs<T>(2, 3, {-4, 9}, 5);  // 4 rows < k = 5
  test::check_failed_refit_keeps_model([] { return KNNScratch<T>(); }, "k = 5 exceeds the 4 training samples",
                                       [&](auto& knn) { knn.fit(few.X, few.y); });
  test::check_failed_refit_keeps_model([] { return KNNRegressorScratch<T>(); }, "k = 5 exceeds the 4",
                                       [&](auto& knn) { knn.fit(few.X, Vector<T>(few.y.template cast<T>())); });
}

TEST_CASE("KNNScratch predicts exactly as scikit-learn's brute force (iris, wine, digits; 3 metrics, 2 weights)") {
  const auto ref = load_reference("knn_classifier.json");
  for (const std::string name : {"iris", "wine", "digits"}) {
    const auto data = read_csv<double>(test::data_path(name + ".csv"), {.target = "target"});
    const IndexVector y = data.labels();
    const auto& split = ref[name];
    const Matrix<double> X_train = rows_of(data.X, split["train"]), X_test = rows_of(data.X, split["test"]);
    const IndexVector y_train = rows_of(y, split["train"]);
    for (const auto& c : split["cases"]) {
      const std::string metric = c["metric"].get<std::string>(), weights = c["weights"].get<std::string>();
      const Index k = c["k"].get<Index>();
      CAPTURE(name);
      CAPTURE(metric);
      CAPTURE(weights);
      CAPTURE(k);
      KNNScratch<double> knn(
          {.k = k, .metric = parse_distance_metric(metric), .weights = parse_neighbor_weights(weights)});
      knn.fit(X_train, y_train);
      const IndexVector expected = test::json_vector<double>(c["predict"]).cast<Index>();
      const IndexVector predicted = knn.predict(X_test);
      CHECK((predicted.array() != expected.array()).count() == 0);
      CHECK(test::max_relative_error(knn.predict_proba(X_test), test::json_matrix<double>(c["proba"])) <= 1e-9);
    }
  }
}

TEST_CASE_TEMPLATE("KNNRegressorScratch predicts as scikit-learn's brute force (diabetes)", T, float, double) {
  const auto ref = load_reference("knn_regressor.json");
  const auto data = read_csv<T>(test::data_path("diabetes.csv"), {.target = "target"});
  const Matrix<T> X_train = rows_of(data.X, ref["train"]), X_test = rows_of(data.X, ref["test"]);
  const Vector<T> y_train = rows_of(Matrix<T>(data.y), ref["train"]);
  for (const auto& c : ref["cases"]) {
    CAPTURE(c["metric"].get<std::string>());
    CAPTURE(c["weights"].get<std::string>());
    KNNRegressorScratch<T> knn({.k = c["k"].get<Index>(),
                                .metric = parse_distance_metric(c["metric"].get<std::string>()),
                                .weights = parse_neighbor_weights(c["weights"].get<std::string>())});
    knn.fit(X_train, y_train);
    CHECK(test::max_relative_error(knn.predict(X_test), test::json_vector<T>(c["predict"])) <=
          test::Tolerance<T>::reference);
  }
}

TEST_CASE_TEMPLATE("kneighbors: nearest first, equal distances by training index, distances exact", T, float, double) {
  std::mt19937_64 rng(test::test_seed());
  const Matrix<T> X = test::random_matrix<T>(300, 5, rng);
  const Matrix<T> Q = test::random_matrix<T>(70, 5, rng);
  for (const auto metric : {DistanceMetric::euclidean, DistanceMetric::manhattan, DistanceMetric::cosine}) {
    KNNRegressorScratch<T> knn({.k = 6, .metric = metric});
    knn.fit(X, Vector<T>::Zero(300));
    const KNeighbors<T> found = knn.kneighbors(Q);
    for (Index i = 0; i < Q.rows(); ++i) {
      // Brute force by the definition of each metric.
      std::vector<std::pair<double, Index>> all;
      for (Index j = 0; j < X.rows(); ++j) {
        const auto a = Q.row(i).template cast<double>(), b = X.row(j).template cast<double>();
        double d = 0;
        if (metric == DistanceMetric::euclidean) d = (a - b).norm();
        if (metric == DistanceMetric::manhattan) d = (a - b).cwiseAbs().sum();
        if (metric == DistanceMetric::cosine) d = 1 - a.dot(b) / (a.norm() * b.norm());
        all.emplace_back(d, j);
      }
      std::sort(all.begin(), all.end());
      for (Index j = 0; j < 6; ++j) {
        CHECK(found.indices(i, j) == all[static_cast<std::size_t>(j)].second);
        CHECK(static_cast<double>(found.distances(i, j)) ==
              doctest::Approx(all[static_cast<std::size_t>(j)].first).epsilon(1e-4).scale(1));
      }
    }
  }
  // Duplicated training rows tie: listed by index, and the k-th place goes to the row seen first.
  Matrix<T> D(4, 2);
  D << 1, 1, 0, 0, 1, 1, 1, 1;
  KNNScratch<T> knn({.k = 2});
  knn.fit(D, IndexVector((IndexVector(4) << 5, 6, 7, 8).finished()));
  const KNeighbors<T> found = knn.kneighbors(Matrix<T>((Matrix<T>(1, 2) << 1, 1).finished()));
  CHECK(found.indices(0, 0) == 0);
  CHECK(found.indices(0, 1) == 2);
  // A 1–1 vote goes to the smallest class (5 over 7).
  CHECK(knn.predict(Matrix<T>((Matrix<T>(1, 2) << 1, 1).finished()))(0) == 5);
}

TEST_CASE_TEMPLATE("KNN finds the right neighbours for entries near the largest and smallest finite values", T, float,
                   double) {
  // ‖q‖² + ‖x‖² − 2q·x overflowed to inf − inf for large entries: every distance NaN, and index 0 at distance
  // inf came back for every query. Tiny entries underflowed to distance 0 for every row.
  for (const T unit : {std::numeric_limits<T>::max() / T(4), T(1e-3) * std::sqrt(std::numeric_limits<T>::min())}) {
    CAPTURE(unit);
    const Matrix<T> X =
        (Matrix<double>(4, 2) << 0.1, 0, 0.2, 0, -0.1, 0.05, 0.15, -0.3).finished().template cast<T>() * unit;
    const Matrix<T> Q = (Matrix<double>(2, 2) << 0.19, 0, -0.09, 0.04).finished().template cast<T>() * unit;
    for (const auto metric : {DistanceMetric::euclidean, DistanceMetric::manhattan, DistanceMetric::cosine}) {
      CAPTURE(static_cast<int>(metric));
      KNNScratch<T> knn({.k = 2, .metric = metric});
      knn.fit(X, IndexVector((IndexVector(4) << 10, 11, 12, 13).finished()));
      const KNeighbors<T> found = knn.kneighbors(Q);
      REQUIRE(found.distances.allFinite());
      if (metric == DistanceMetric::cosine) {
        CHECK(found.indices(1, 0) == 2);
        continue;
      }
      CHECK(found.indices(0, 0) == 1);
      CHECK(found.indices(0, 1) == 0);
      CHECK(found.indices(1, 0) == 2);
      CHECK(static_cast<double>(found.distances(0, 0) / unit) == doctest::Approx(0.01).epsilon(1e-3));
      KNNScratch<T> nearest({.k = 1, .metric = metric});
      nearest.fit(X, IndexVector((IndexVector(4) << 10, 11, 12, 13).finished()));
      CHECK((nearest.predict(Q).array() == (IndexVector(2) << 11, 12).finished().array()).all());
    }
  }
}

TEST_CASE("KNN refuses bad options and inputs") {
  CHECK_THROWS_NAMING(KNNScratch<double>({.k = 0}), InvalidArgument, "KNNScratch: k must be at least 1");
  CHECK_THROWS_NAMING(KNNRegressorScratch<double>({.k = -1}), InvalidArgument, "KNNRegressorScratch: k");
  CHECK_THROWS_NAMING(parse_distance_metric("chebyshev"), InvalidArgument, "unknown metric 'chebyshev'");
  CHECK_THROWS_NAMING(parse_neighbor_weights("gaussian"), InvalidArgument, "unknown weights 'gaussian'");
  const Matrix<double> X = Matrix<double>::Random(4, 3);
  KNNScratch<double> knn({.k = 5});
  CHECK_THROWS_NAMING(knn.fit(X, IndexVector::Zero(4)), InvalidArgument,
                      "KNNScratch::fit: k = 5 exceeds the 4 training samples");
  KNNRegressorScratch<double> reg({.k = 5});
  CHECK_THROWS_NAMING(reg.fit(X, Vector<double>::Zero(4)), InvalidArgument, "k = 5 exceeds the 4");
  KNNScratch<double> unfitted;
  CHECK_THROWS_NAMING(static_cast<void>(unfitted.kneighbors(X)), NotFittedError, "KNNScratch::kneighbors");
  CHECK_THROWS_NAMING(static_cast<void>(unfitted.classes()), NotFittedError, "KNNScratch::classes");
  CHECK_THROWS_NAMING(static_cast<void>(reg.kneighbors(X)), NotFittedError, "KNNRegressorScratch::kneighbors");
  KNNScratch<double> fitted({.k = 2});
  fitted.fit(X, IndexVector::Zero(4));
  CHECK_THROWS_NAMING(static_cast<void>(fitted.kneighbors(Matrix<double>::Zero(2, 4))), InvalidArgument,
                      "KNNScratch::kneighbors: X has 4 features, the model was fitted on 3");
}
