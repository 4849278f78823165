#include "aimastery/ml/classical/gaussian_nb.hpp"

#include "ml/classical/conformance.hpp"
#include "support.hpp"

using aimastery::GaussianNBScratch;
using aimastery::Index;
using aimastery::IndexVector;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::Vector;

TEST_CASE_TEMPLATE("GaussianNBScratch conforms to the estimator contract", T, float, double) {
  aimastery::test::check_classifier_conformance([] { return GaussianNBScratch<T>(); }, "GaussianNBScratch");
}

TEST_CASE_TEMPLATE("a refit refused for its priors leaves GaussianNBScratch as it was", T, float, double) {
  // The reported case: priors for 3 classes, refitted on 4 labels, used to keep the new labels with the old
  // means and variances (predict then answered with the new labels).
  const auto four = aimastery::test::conformance_detail::gaussian_blobs<T>(10, 3, {-4, 9, 12, 30}, 5);
  const auto two = aimastery::test::conformance_detail::gaussian_blobs<T>(10, 3, {5, 6}, 6);
  aimastery::test::check_failed_refit_keeps_model(
      [] {
        return GaussianNBScratch<T>({.priors = {0.2, 0.3, 0.5}});
      },
      "priors has 3 entries but y has", [&](auto& nb) { nb.fit(four.X, four.y); },
      [&](auto& nb) { nb.fit(two.X, two.y); });
}

TEST_CASE_TEMPLATE("GaussianNBScratch: constant features and a single row give the priors, never NaN", T, float,
                   double) {
  // Every feature constant: max Var(X_j) = 0 made ε = 0 and every variance 0 (log 0, 0/0: NaN, as
  // scikit-learn). The classes then share one likelihood, and the posterior is the prior, for any x.
  const Matrix<T> X = Matrix<T>::Constant(4, 2, T(3));
  const IndexVector y = (IndexVector(4) << 0, 1, 1, 1).finished();
  GaussianNBScratch<T> nb;
  nb.fit(X, y);
  const Matrix<T> probe = (Matrix<double>(3, 2) << 3, 3, 3.5, -1, 1e3, 2).finished().template cast<T>();
  const Matrix<T> proba = nb.predict_proba(probe);
  REQUIRE(proba.allFinite());
  for (Index i = 0; i < probe.rows(); ++i) {
    CHECK(static_cast<double>(proba(i, 0)) == doctest::Approx(0.25));
    CHECK(static_cast<double>(proba(i, 1)) == doctest::Approx(0.75));
  }
  CHECK((nb.predict(probe).array() == 1).all());
  CHECK(nb.epsilon() == T(0));

  GaussianNBScratch<T> one;
  one.fit(Matrix<T>((Matrix<T>(1, 3) << 1, -2, 5).finished()), IndexVector::Constant(1, 7));
  CHECK(one.predict(Matrix<T>::Constant(1, 3, T(40)))(0) == 7);
  const Matrix<T> p1 = one.predict_proba(Matrix<T>::Zero(2, 3));
  CHECK(p1.allFinite());
  CHECK((p1.array() == T(1)).all());

  // One row per class: the features vary overall, so ε > 0 and scikit-learn's answer is defined (and
  // equal: var = ε = 1e-9 · 4, each point its own class).
  GaussianNBScratch<T> two_classes_one_row_each;
  two_classes_one_row_each.fit(Matrix<T>((Matrix<T>(2, 1) << 0, 4).finished()),
                               IndexVector((IndexVector(2) << 5, 6).finished()));
  const Matrix<T> p2 =
      two_classes_one_row_each.predict_proba(Matrix<T>((Matrix<T>(2, 1) << T(0.5), T(3.9)).finished()));
  CHECK(p2.allFinite());
  CHECK(static_cast<double>(two_classes_one_row_each.var()(0, 0)) == doctest::Approx(4e-9));
  CHECK(static_cast<double>(p2(0, 0)) == doctest::Approx(1.0));
  CHECK(static_cast<double>(p2(1, 1)) == doctest::Approx(1.0));
  CHECK(two_classes_one_row_each.predict(Matrix<T>((Matrix<T>(2, 1) << T(0.5), T(3.9)).finished())) ==
        (IndexVector(2) << 5, 6).finished());

  // Without smoothing a constant feature has no normal density: a clear error rather than NaN.
  GaussianNBScratch<T> unsmoothed({.var_smoothing = 0.0});
  const Matrix<T> Xc = (Matrix<T>(4, 2) << 1, 2, 1, 3, 0, 4, 5, 4).finished();
  CHECK_THROWS_NAMING(unsmoothed.fit(Xc, y), InvalidArgument,
                      "GaussianNBScratch::fit: feature 0 is constant in class 0 and var_smoothing is 0");
}
