#pragma once
// Conformance checks for every classical estimator, in the spirit of scikit-learn's estimator checks.
//
//   TEST_CASE_TEMPLATE("GaussianNBScratch conforms", T, float, double) {
//     aimastery::test::check_classifier_conformance([] { return aimastery::GaussianNBScratch<T>(); },
//                                                   "GaussianNBScratch");
//   }
//   aimastery::test::check_regressor_conformance([] { return LinearRegressionScratch<double>({.alpha = 1}); },
//                                                "LinearRegressionScratch");
//
// `make` returns a fresh, unfitted estimator (with a fixed seed if it has one). The scalar type T is
// deduced from the estimator (`Estimator<T, ...>`). What is checked:
//   fit returns a reference to the estimator itself; fitting twice (same object, and a second object from
//   `make`) gives identical results; predicting a batch equals predicting its parts; predict equals the
//   argmax of predict_proba and score equals the accuracy of predict (classifiers); a single class trains
//   and predicts that class; arbitrary labels ({-1, 7}) come back unchanged; NaN/Inf, empty input, X/y
//   length mismatch, a different feature count at predict time and predict before fit each raise the
//   right exception with a clear message; a refit that throws leaves every answer of the model unchanged
//   (check_failed_refit_keeps_model, which estimator tests also call with their own failing options); accuracy above
//   0.83 on three standardised Gaussian blobs (R² above 0.7 on a noisy smooth target for regressors).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "support.hpp"

namespace aimastery::test {

/// Thresholds of the conformance checks (the defaults are the issue's).
struct ConformanceOptions {
  double min_blob_accuracy = 0.83;  ///< held-out accuracy on three standardised Gaussian blobs
  double min_r2 = 0.7;              ///< held-out R² on the smooth regression problem
};

namespace conformance_detail {

/// The scalar type of `Estimator<T, ...>`, looking through wrappers such as `StandardScaled<Estimator<T>>`.
template <class E>
struct scalar_of;
template <template <class...> class E, class T, class... Rest>
struct scalar_of<E<T, Rest...>> {
  using type = typename std::conditional_t<std::is_floating_point_v<T>, std::type_identity<T>, scalar_of<T>>::type;
};
template <class E>
using scalar_of_t = typename scalar_of<std::remove_cvref_t<E>>::type;

/// A labelled sample: X (n x d) and integer labels.
template <class T>
struct Blobs {
  Matrix<T> X;
  IndexVector y;
};

/// Columns scaled to mean 0 and standard deviation 1.
template <class T>
Matrix<T> standardised(const Matrix<T>& X) {
  Matrix<T> Z = X;
  for (Index j = 0; j < Z.cols(); ++j) {
    const T mean = Z.col(j).mean();
    Z.col(j).array() -= mean;
    const T sd = std::sqrt(Z.col(j).squaredNorm() / static_cast<T>(Z.rows()));
    if (sd > T(0)) Z.col(j) /= sd;
  }
  return Z;
}

/// `n_per_class` points around each of `labels.size()` centres drawn in [-4, 4]^d, unit spread,
/// shuffled, then standardised.
template <class T>
Blobs<T> gaussian_blobs(Index n_per_class, Index n_features, const std::vector<Index>& labels, std::uint64_t seed) {
  RandomEngine rng(seed);  // the library's portable draws: the same data with every standard library
  const auto noise = [&] { return detail::standard_normal(rng); };
  const Index k = static_cast<Index>(labels.size());
  Matrix<double> centres(k, n_features);
  for (Index i = 0; i < centres.size(); ++i) centres.data()[i] = -4.0 + 8.0 * detail::uniform_open01(rng);
  const Index n = n_per_class * k;
  Matrix<T> X(n, n_features);
  IndexVector y(n);
  std::vector<Index> order(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  detail::shuffle(order.begin(), order.end(), rng);
  for (Index i = 0; i < n; ++i) {
    const Index row = order[static_cast<std::size_t>(i)];
    const Index c = i % k;
    for (Index j = 0; j < n_features; ++j) X(row, j) = static_cast<T>(centres(c, j) + noise());
    y(row) = labels[static_cast<std::size_t>(c)];
  }
  return {standardised(X), y};
}

/// y = sin(x0) + x1 − 0.5·x2² + noise(0.1) on x uniform in [-2, 2]^3.
template <class T>
std::pair<Matrix<T>, Vector<T>> smooth_regression(Index n, std::uint64_t seed) {
  RandomEngine rng(seed);
  Matrix<T> X(n, 3);
  Vector<T> y(n);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < 3; ++j) X(i, j) = static_cast<T>(-2.0 + 4.0 * detail::uniform_open01(rng));
    const double x0 = static_cast<double>(X(i, 0)), x1 = static_cast<double>(X(i, 1)),
                 x2 = static_cast<double>(X(i, 2));
    y(i) = static_cast<T>(std::sin(x0) + x1 - 0.5 * x2 * x2 + 0.1 * detail::standard_normal(rng));
  }
  return {X, y};
}

template <class A, class B>
bool equal_exactly(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<B>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() && (a.derived() == b.derived());
}

/// Rows of `whole` agree with the stacked `top` and `bottom` to a few ulps of accumulated rounding (a batch
/// of another size may take another GEMM path).
template <class T>
bool rows_agree(const Matrix<T>& whole, const Matrix<T>& top, const Matrix<T>& bottom) {
  if (whole.rows() != top.rows() + bottom.rows() || whole.cols() != top.cols() || whole.cols() != bottom.cols())
    return false;
  Matrix<T> stacked(whole.rows(), whole.cols());
  stacked << top, bottom;
  const T scale = std::max(T(1), whole.cwiseAbs().maxCoeff());
  return (whole - stacked).cwiseAbs().maxCoeff() <= T(100) * std::numeric_limits<T>::epsilon() * scale;
}

/// The input checks shared by classifiers and regressors: `y_like` builds a target of n entries.
template <class Make, class YLike>
void check_input_errors(Make& make, const std::string& name, const YLike& y_like) {
  using Estimator = std::remove_cvref_t<decltype(make())>;
  using T = scalar_of_t<Estimator>;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T inf = std::numeric_limits<T>::infinity();
  const auto blobs = gaussian_blobs<T>(10, 3, {0, 1}, 11);
  const auto y = y_like(blobs);

  SUBCASE("predict before fit is a NotFittedError") {
    Estimator fresh = make();
    CHECK_THROWS_NAMING(static_cast<void>(fresh.predict(blobs.X)), NotFittedError, "not fitted");
    CHECK_THROWS_NAMING(static_cast<void>(fresh.predict(blobs.X)), NotFittedError, name.c_str());
    CHECK_THROWS_NAMING(static_cast<void>(fresh.score(blobs.X, y)), NotFittedError, "not fitted");
  }
  SUBCASE("NaN and infinity in X are refused") {
    Matrix<T> X = blobs.X;
    X(3, 1) = nan;
    Estimator est = make();
    CHECK_THROWS_NAMING(static_cast<void>(est.fit(X, y)), InvalidArgument, "NaN or infinity");
    CHECK_THROWS_NAMING(static_cast<void>(est.fit(X, y)), InvalidArgument, name.c_str());
    X(3, 1) = inf;
    CHECK_THROWS_NAMING(static_cast<void>(est.fit(X, y)), InvalidArgument, "NaN or infinity");
    X(3, 1) = -inf;
    CHECK_THROWS_NAMING(static_cast<void>(est.fit(X, y)), InvalidArgument, "NaN or infinity");
    est.fit(blobs.X, y);
    Matrix<T> Xp = blobs.X;
    Xp(0, 0) = nan;
    CHECK_THROWS_NAMING(static_cast<void>(est.predict(Xp)), InvalidArgument, "NaN or infinity");
    Xp(0, 0) = inf;
    CHECK_THROWS_NAMING(static_cast<void>(est.predict(Xp)), InvalidArgument, "NaN or infinity");
  }
  SUBCASE("empty input is refused") {
    Estimator est = make();
    const Matrix<T> empty(0, 3);
    const auto y_empty = y.head(0).eval();
    CHECK_THROWS_NAMING(static_cast<void>(est.fit(empty, y_empty)), InvalidArgument, "empty");
    CHECK_THROWS_NAMING(static_cast<void>(est.fit(Matrix<T>(5, 0), y.head(5).eval())), InvalidArgument, "empty");
    est.fit(blobs.X, y);
    CHECK_THROWS_NAMING(static_cast<void>(est.predict(empty)), InvalidArgument, "empty");
  }
  SUBCASE("X and y of different lengths are refused") {
    Estimator est = make();
    const auto y_short = y.head(y.size() - 1).eval();
    CHECK_THROWS_NAMING(static_cast<void>(est.fit(blobs.X, y_short)), InvalidArgument, "samples");
    CHECK_THROWS_NAMING(static_cast<void>(est.fit(blobs.X, y_short)), InvalidArgument, name.c_str());
  }
  SUBCASE("a different feature count at predict time is refused") {
    Estimator est = make();
    est.fit(blobs.X, y);
    const Matrix<T> wider = Matrix<T>::Zero(4, 5);
    CHECK_THROWS_NAMING(static_cast<void>(est.predict(wider)), InvalidArgument,
                        "X has 5 features, the model was fitted on 3");
    CHECK_THROWS_NAMING(static_cast<void>(est.score(wider, y.head(4).eval())), InvalidArgument, "5 features");
  }
}

/// What a fitted model answers on `X`: predict (as doubles), and for classifiers predict_proba and classes().
template <class Estimator, class T>
struct Answers {
  Matrix<double> predicted, proba;
  IndexVector classes;

  static Answers of(const Estimator& est, const Matrix<T>& X) {
    Answers a;
    a.predicted = est.predict(X).template cast<double>();
    if constexpr (requires { est.predict_proba(X); }) a.proba = est.predict_proba(X).template cast<double>();
    if constexpr (requires { est.classes(); }) a.classes = est.classes();
    return a;
  }
  bool operator==(const Answers& other) const {
    return equal_exactly(predicted, other.predicted) && equal_exactly(proba, other.proba) &&
           classes.size() == other.classes.size() && classes == other.classes;
  }
};

/// Fits `make()` on (X, y), then for each refit (a callable taking the estimator that must throw
/// InvalidArgument naming `name`) checks that every answer on X is exactly what it was before.
template <class Make, class TX, class TY, class... Refits>
void check_refits_leave_model_unchanged(Make& make, const std::string& name, const Matrix<TX>& X, const TY& y,
                                        Refits&&... failing_refits) {
  using Estimator = std::remove_cvref_t<decltype(make())>;
  using A = Answers<Estimator, TX>;
  Estimator est = make();
  est.fit(X, y);
  const A before = A::of(est, X);
  Index attempt = 0;
  const auto check_one = [&](auto&& refit) {
    CAPTURE(attempt);
    CHECK_THROWS_NAMING(refit(est), InvalidArgument, name.c_str());
    CHECK(A::of(est, X) == before);
    ++attempt;
  };
  (check_one(failing_refits), ...);
}

}  // namespace conformance_detail

/// A failed refit leaves the model exactly as it was (validate, build aside, swap): fits `make()` on the
/// conformance data (classifiers: three blobs of 4 features, labels 0, 1, 2; regressors: the smooth problem of
/// 3 features), then checks after each `failing_refit(estimator)`, a fit that must throw InvalidArgument
/// whose message contains `message` (the class name, or the problem), that predict (and predict_proba and
/// classes()) answer exactly as before. The classifier and
/// regressor suites run it with the refits every estimator refuses (NaN, infinity, mismatched lengths, empty
/// X); estimator tests add the failures of their own options (max_features, priors, k ...).
template <class Make, class... Refits>
void check_failed_refit_keeps_model(Make make, const std::string& message, Refits&&... failing_refits) {
  using Estimator = std::remove_cvref_t<decltype(make())>;
  using T = conformance_detail::scalar_of_t<Estimator>;
  const std::string& name = message;
  if constexpr (requires(const Estimator& e, const Matrix<T>& m) { e.predict_proba(m); }) {
    const auto train = conformance_detail::gaussian_blobs<T>(60, 4, {0, 1, 2}, 20260101);
    conformance_detail::check_refits_leave_model_unchanged(make, name, train.X, train.y,
                                                           std::forward<Refits>(failing_refits)...);
  } else {
    const auto [X, y] = conformance_detail::smooth_regression<T>(300, 20260101);
    conformance_detail::check_refits_leave_model_unchanged(make, name, X, y, std::forward<Refits>(failing_refits)...);
  }
}

namespace conformance_detail {

/// The refits every estimator refuses, on data unlike the conformance data (other labels, other sizes), so
/// a fit that changed anything before throwing would answer differently: NaN and infinity in X, X and y of
/// different lengths, and an empty X. `y_like` turns labels into the estimator's targets.
template <class Make, class YLike>
void check_common_failed_refits(Make& make, const std::string& name, const YLike& y_like) {
  using Estimator = std::remove_cvref_t<decltype(make())>;
  using T = scalar_of_t<Estimator>;
  const auto other = gaussian_blobs<T>(15, 3, {-4, 9, 12, 30}, 5);
  const auto y = y_like(other);
  Matrix<T> with_nan = other.X, with_inf = other.X;
  with_nan(7, 2) = std::numeric_limits<T>::quiet_NaN();
  with_inf(0, 0) = std::numeric_limits<T>::infinity();
  check_failed_refit_keeps_model(
      make, name, [&](Estimator& e) { e.fit(with_nan, y); }, [&](Estimator& e) { e.fit(with_inf, y); },
      [&](Estimator& e) { e.fit(other.X, y.head(y.size() - 1).eval()); },
      [&](Estimator& e) { e.fit(Matrix<T>(0, 3), y.head(0).eval()); });
}

}  // namespace conformance_detail

/// Runs every conformance check on the classifier that `make()` returns; `name` is its class name, which
/// every error message must contain.
template <class Make>
void check_classifier_conformance(Make make, const std::string& name, const ConformanceOptions& options = {}) {
  using Estimator = std::remove_cvref_t<decltype(make())>;
  using T = conformance_detail::scalar_of_t<Estimator>;
  using conformance_detail::equal_exactly;
  using conformance_detail::gaussian_blobs;
  INFO("estimator: " << name);

  const auto train = gaussian_blobs<T>(60, 4, {0, 1, 2}, 20260101);

  SUBCASE("fit returns the estimator itself") {
    Estimator est = make();
    auto& returned = est.fit(train.X, train.y);
    CHECK(static_cast<const void*>(&returned) == static_cast<const void*>(&est));
  }
  SUBCASE("fitting twice, or a second estimator with the same seed, gives identical results") {
    Estimator a = make();
    a.fit(train.X, train.y);
    const Matrix<T> p1 = a.predict_proba(train.X);
    const IndexVector l1 = a.predict(train.X);
    a.fit(train.X, train.y);
    CHECK(equal_exactly(a.predict_proba(train.X), p1));
    CHECK(equal_exactly(a.predict(train.X), l1));
    Estimator b = make();
    b.fit(train.X, train.y);
    CHECK(equal_exactly(b.predict_proba(train.X), p1));
    CHECK(equal_exactly(b.predict(train.X), l1));
  }
  SUBCASE("predicting a batch equals predicting its parts") {
    Estimator est = make();
    est.fit(train.X, train.y);
    const Index n = train.X.rows(), head = 37;
    const Matrix<T> top = train.X.topRows(head), bottom = train.X.bottomRows(n - head);
    const IndexVector whole = est.predict(train.X);
    IndexVector parts(n);
    parts << est.predict(top), est.predict(bottom);
    CHECK(equal_exactly(whole, parts));
    CHECK(conformance_detail::rows_agree<T>(est.predict_proba(train.X), est.predict_proba(top),
                                            est.predict_proba(bottom)));
    const Matrix<T> one_row = train.X.row(5);
    CHECK(est.predict(one_row)(0) == whole(5));
  }
  SUBCASE("predict is the argmax of predict_proba, and score its accuracy") {
    Estimator est = make();
    est.fit(train.X, train.y);
    const Matrix<T> proba = est.predict_proba(train.X);
    const IndexVector labels = est.predict(train.X);
    REQUIRE(proba.rows() == train.X.rows());
    REQUIRE(proba.cols() == est.classes().size());
    CHECK(proba.allFinite());
    CHECK((proba.array() >= T(0)).all());
    CHECK((proba.rowwise().sum().array() - T(1)).abs().maxCoeff() <= T(1e3) * std::numeric_limits<T>::epsilon());
    Index agree = 0;
    for (Index i = 0; i < proba.rows(); ++i) {
      Index best = 0;
      proba.row(i).maxCoeff(&best);
      CHECK(labels(i) == est.classes()(best));
      agree += labels(i) == train.y(i);
    }
    CHECK(static_cast<double>(est.score(train.X, train.y)) ==
          doctest::Approx(static_cast<double>(agree) / static_cast<double>(train.y.size())));
  }
  SUBCASE("a single class trains and predicts that class") {
    Estimator est = make();
    const IndexVector only(IndexVector::Constant(train.X.rows(), 3));
    est.fit(train.X, only);
    REQUIRE(est.classes().size() == 1);
    CHECK(est.classes()(0) == 3);
    CHECK((est.predict(train.X).array() == 3).all());
    const Matrix<T> proba = est.predict_proba(train.X);
    REQUIRE(proba.cols() == 1);
    CHECK((proba.array() == T(1)).all());
  }
  SUBCASE("arbitrary labels come back unchanged") {
    const auto odd = gaussian_blobs<T>(40, 3, {7, -1}, 99);
    Estimator est = make();
    est.fit(odd.X, odd.y);
    REQUIRE(est.classes().size() == 2);
    CHECK(est.classes()(0) == -1);
    CHECK(est.classes()(1) == 7);
    const IndexVector pred = est.predict(odd.X);
    CHECK(((pred.array() == -1) || (pred.array() == 7)).all());
    CHECK(static_cast<double>(est.score(odd.X, odd.y)) > 0.9);
  }
  SUBCASE("accuracy above the bar on three standardised Gaussian blobs (held out)") {
    // One draw of 240 points, split 180 / 60: the held-out part shares the training centres.
    const auto all = gaussian_blobs<T>(80, 4, {0, 1, 2}, 4242);
    const Index n_train = 180;
    Estimator est = make();
    est.fit(Matrix<T>(all.X.topRows(n_train)), IndexVector(all.y.head(n_train)));
    const double accuracy = static_cast<double>(est.score(Matrix<T>(all.X.bottomRows(all.X.rows() - n_train)),
                                                          IndexVector(all.y.tail(all.y.size() - n_train))));
    INFO("held-out accuracy " << accuracy);
    CHECK(accuracy > options.min_blob_accuracy);
  }
  SUBCASE("a refit that fails leaves the model unchanged") {
    conformance_detail::check_common_failed_refits(make, name, [](const auto& b) { return b.y; });
  }
  SUBCASE("bad inputs raise the right exception with a clear message") {
    conformance_detail::check_input_errors(make, name, [](const auto& b) { return b.y; });
    Estimator fresh = make();
    CHECK_THROWS_NAMING(static_cast<void>(fresh.predict_proba(train.X)), NotFittedError, "not fitted");
  }
}

/// Runs every conformance check on the regressor that `make()` returns (fit(X, Vector<T>), predict → Vector<T>,
/// score = R²).
template <class Make>
void check_regressor_conformance(Make make, const std::string& name, const ConformanceOptions& options = {}) {
  using Estimator = std::remove_cvref_t<decltype(make())>;
  using T = conformance_detail::scalar_of_t<Estimator>;
  using conformance_detail::equal_exactly;
  INFO("estimator: " << name);

  const auto [X, y] = conformance_detail::smooth_regression<T>(300, 20260101);

  SUBCASE("fit returns the estimator itself") {
    Estimator est = make();
    auto& returned = est.fit(X, y);
    CHECK(static_cast<const void*>(&returned) == static_cast<const void*>(&est));
  }
  SUBCASE("fitting twice, or a second estimator with the same seed, gives identical results") {
    Estimator a = make();
    a.fit(X, y);
    const Vector<T> p1 = a.predict(X);
    a.fit(X, y);
    CHECK(equal_exactly(a.predict(X), p1));
    Estimator b = make();
    b.fit(X, y);
    CHECK(equal_exactly(b.predict(X), p1));
  }
  SUBCASE("predicting a batch equals predicting its parts") {
    Estimator est = make();
    est.fit(X, y);
    const Index head = 113;
    const Matrix<T> top = X.topRows(head), bottom = X.bottomRows(X.rows() - head);
    const Matrix<T> whole = est.predict(X);
    Matrix<T> t = est.predict(top), b = est.predict(bottom);
    CHECK(conformance_detail::rows_agree<T>(whole, t, b));
  }
  SUBCASE("score is R² of predict, and above the bar held out") {
    Estimator est = make();
    const Index n_train = 220;
    est.fit(Matrix<T>(X.topRows(n_train)), Vector<T>(y.head(n_train)));
    const Matrix<T> X_test = X.bottomRows(X.rows() - n_train);
    const Vector<T> y_test = y.tail(y.size() - n_train);
    const Vector<T> pred = est.predict(X_test);
    const double ss_res = (pred - y_test).template cast<double>().squaredNorm();
    const double ss_tot = (y_test.array() - y_test.mean()).matrix().template cast<double>().squaredNorm();
    const double r2 = 1.0 - ss_res / ss_tot;
    CHECK(static_cast<double>(est.score(X_test, y_test)) == doctest::Approx(r2).epsilon(1e-4));
    INFO("held-out R² " << r2);
    CHECK(r2 > options.min_r2);
  }
  SUBCASE("NaN or infinity in y is refused") {
    Estimator est = make();
    Vector<T> bad = y;
    bad(7) = std::numeric_limits<T>::quiet_NaN();
    CHECK_THROWS_NAMING(static_cast<void>(est.fit(X, bad)), InvalidArgument, "y contains NaN or infinity");
    bad(7) = std::numeric_limits<T>::infinity();
    CHECK_THROWS_NAMING(static_cast<void>(est.fit(X, bad)), InvalidArgument, "y contains NaN or infinity");
  }
  SUBCASE("a refit that fails leaves the model unchanged") {
    conformance_detail::check_common_failed_refits(make, name,
                                                   [](const auto& b) { return b.y.template cast<T>().eval(); });
  }
  SUBCASE("bad inputs raise the right exception with a clear message") {
    conformance_detail::check_input_errors(make, name, [](const auto& b) { return b.y.template cast<T>().eval(); });
  }
}

}  // namespace aimastery::test
