#include "aimastery/core/linalg/pca.hpp"

#include <limits>
#include <string>

#include "aimastery/io/csv.hpp"
#include "support.hpp"

using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::NotFittedError;
using aimastery::PCA;
using aimastery::Vector;
namespace test = aimastery::test;

namespace {

template <class T>
Matrix<T> load_features(const std::string& file) {
  return aimastery::read_csv<T>(test::data_path(file)).X;
}

/// Float data of digits/iris reach the float results to about 1e-4 of the largest value.
template <class T>
double pca_tolerance() {
  return std::is_same_v<T, double> ? 1e-8 : 2e-4;
}

}  // namespace

TEST_CASE_TEMPLATE(
    "PCA equals scikit-learn (>= 1.5 sign convention) on iris and digits (ratios, variances, signed components, "
    "transform)",
    T, float, double) {
  const auto ref = test::load_reference("core_pca.json");
  for (const auto& c : ref["cases"]) {
    const std::string name = c["name"];
    CAPTURE(name);
    const Matrix<T> X = load_features<T>(c["dataset"].get<std::string>());
    aimastery::PCAOptions options;
    if (c["n_components"].get<Index>() > 0) options.n_components = c["n_components"].get<Index>();
    options.whiten = c["whiten"].get<bool>();
    PCA<T> pca(options);
    pca.fit(X);
    const double tol = pca_tolerance<T>();

    const Vector<double> ratio = test::json_vector<double>(c["explained_variance_ratio"]);
    REQUIRE(pca.explained_variance_ratio().size() == ratio.size());
    // The ratios to 1e-8 (absolute; they sum to 1).
    CHECK((pca.explained_variance_ratio().template cast<double>() - ratio).cwiseAbs().maxCoeff() <= tol);
    CHECK(test::max_relative_error(pca.explained_variance(), test::json_vector<double>(c["explained_variance"])) <=
          tol);
    CHECK(test::max_relative_error(pca.singular_values(), test::json_vector<double>(c["singular_values"])) <= tol);
    CHECK(test::max_relative_error(pca.mean(), test::json_vector<double>(c["mean"])) <= tol);

    // Components with their signs (svd_flip, v-based), for the leading, well-separated ones.
    const Matrix<double> components = test::json_matrix<double>(c["components"]);
    const Index shown = components.rows();
    const Matrix<double> ours = pca.components().topRows(shown).template cast<double>();
    CHECK((ours - components).cwiseAbs().maxCoeff() <= 10 * tol);

    // transform of a few rows (every component when they were all kept above 20, else all).
    const Matrix<double> expected = test::json_matrix<double>(c["transform"]);
    Matrix<T> rows(expected.rows(), X.cols());
    for (Index i = 0; i < expected.rows(); ++i)
      rows.row(i) = X.row(c["rows"][static_cast<std::size_t>(i)].get<Index>());
    const Matrix<double> projected = pca.transform(rows).template cast<double>();
    REQUIRE(projected.cols() == expected.cols());
    CHECK(test::max_relative_error(projected.leftCols(shown), expected.leftCols(shown)) <= 10 * tol);
  }
}

TEST_CASE_TEMPLATE("PCA: reconstruction, whitening and fit_transform properties", T, float, double) {
  const Matrix<T> X = load_features<T>("iris.csv");
  PCA<T> full;
  const Matrix<T> Y = full.fit_transform(X);
  CHECK(full.n_components() == 4);
  CHECK(test::max_relative_error(full.inverse_transform(Y), X) <= test::Tolerance<T>::reference);
  CHECK(test::max_relative_error(Y, full.transform(X)) <= test::Tolerance<T>::reference);
  CHECK(full.explained_variance_ratio().sum() == doctest::Approx(1.0).epsilon(test::Tolerance<T>::reference));
  // Scores are uncorrelated with the explained variances on the diagonal.
  const Matrix<T> score_cov = (Y.transpose() * Y) / T(X.rows() - 1);
  CHECK(test::max_relative_error(score_cov, Matrix<T>(full.explained_variance().asDiagonal())) <=
        test::Tolerance<T>::reference);

  PCA<T> white({.n_components = 2, .whiten = true});
  const Matrix<T> W = white.fit_transform(X);
  const Matrix<T> white_cov = (W.transpose() * W) / T(X.rows() - 1);
  CHECK(test::max_relative_error(white_cov, Matrix<T>::Identity(2, 2)) <= test::Tolerance<T>::reference);
  // Whitened round trip through two components equals the unwhitened one.
  PCA<T> plain({.n_components = 2});
  plain.fit(X);
  CHECK(test::max_relative_error(white.inverse_transform(W), plain.inverse_transform(plain.transform(X))) <=
        test::Tolerance<T>::reference);
  // A constant feature: zero variance, no NaN.
  Matrix<T> with_constant = X;
  with_constant.col(3).setConstant(T(2));
  PCA<T> constant({.whiten = true});
  const Matrix<T> Wc = constant.fit_transform(with_constant);
  CHECK(Wc.allFinite());
  CHECK(constant.explained_variance()(3) >= T(0));
}

TEST_CASE("PCA: fit returns *this and the options are kept") {
  const Matrix<double> X = load_features<double>("iris.csv");
  PCA<double> pca({.n_components = 3});
  CHECK(&pca.fit(X) == &pca);
  CHECK(pca.options().n_components == 3);
  CHECK(pca.components().rows() == 3);
  CHECK(pca.components().cols() == 4);
  CHECK(pca.is_fitted());
}

TEST_CASE_TEMPLATE("PCA rejects bad input", T, float, double) {
  const Matrix<T> X = load_features<T>("iris.csv");
  PCA<T> unfitted;
  CHECK_THROWS_NAMING((void)unfitted.transform(X), NotFittedError, "PCA::transform: this PCA is not fitted");
  CHECK_THROWS_NAMING((void)unfitted.inverse_transform(X), NotFittedError, "PCA::inverse_transform");
  CHECK_THROWS_NAMING((void)unfitted.components(), NotFittedError, "PCA::components");
  CHECK_THROWS_NAMING((void)unfitted.explained_variance(), NotFittedError, "PCA::explained_variance");
  CHECK_THROWS_NAMING((void)unfitted.explained_variance_ratio(), NotFittedError, "PCA::explained_variance_ratio");
  CHECK_THROWS_NAMING((void)unfitted.singular_values(), NotFittedError, "PCA::singular_values");
  CHECK_THROWS_NAMING((void)unfitted.mean(), NotFittedError, "PCA::mean");

  CHECK_THROWS_NAMING(PCA<T>({.n_components = 0}).fit(X), InvalidArgument,
                      "n_components = 0 must be between 1 and min(n_samples, n_features) = 4");
  CHECK_THROWS_NAMING(PCA<T>({.n_components = 5}).fit(X), InvalidArgument, "n_components = 5");
  CHECK_THROWS_NAMING(PCA<T>({.n_components = 4}).fit(X.topRows(3)), InvalidArgument, "min(n_samples, n_features) = 3");
  CHECK_THROWS_NAMING(PCA<T>().fit(Matrix<T>(0, 4)), InvalidArgument, "PCA::fit: X is empty");
  CHECK_THROWS_NAMING(PCA<T>().fit(X.topRows(1)), InvalidArgument, "needs at least 2 samples, got 1");
  Matrix<T> with_nan = X;
  with_nan(3, 2) = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_NAMING(PCA<T>().fit(with_nan), InvalidArgument, "PCA::fit: X contains NaN or infinity");

  PCA<T> pca({.n_components = 2});
  pca.fit(X);
  CHECK_THROWS_NAMING((void)pca.transform(X.leftCols(3)), InvalidArgument,
                      "PCA::transform: X has 3 features, the model was fitted on 4");
  CHECK_THROWS_NAMING((void)pca.transform(with_nan), InvalidArgument, "PCA::transform: X contains NaN");
  CHECK_THROWS_NAMING((void)pca.inverse_transform(Matrix<T>::Zero(2, 3)), InvalidArgument,
                      "PCA::inverse_transform: Y has 3 columns, the model has 2 components");
}

TEST_CASE_TEMPLATE("PCA: a refit that throws leaves the fitted model unchanged", T, float, double) {
  const Matrix<T> X = load_features<T>("iris.csv");
  PCA<T> pca({.n_components = 2});
  pca.fit(X);
  const Matrix<T> before = pca.transform(X);
  const Vector<T> mean_before = pca.mean();
  const Matrix<T> components_before = pca.components();

  // Finite data whose covariance overflows, with a different number of features: the old fit had
  // already replaced the mean (5 entries) when the eigendecomposition threw, so transform read 5
  // means for 4-feature rows.
  Matrix<T> huge = Matrix<T>::Zero(6, 5);
  huge.col(0) << T(1), T(-1), T(2), T(-2), T(3), T(-3);
  huge.col(0) *= std::numeric_limits<T>::max() / T(4);
  huge.col(1).setLinSpaced(T(0), T(1));
  CHECK_THROWS_NAMING(pca.fit(huge), InvalidArgument, "PCA::fit: the covariance of X overflows");
  // A refit refused by its option checks.
  PCA<T> five({.n_components = 5});
  five.fit(load_features<T>("digits.csv").leftCols(8));
  const Matrix<T> five_before = five.components();
  CHECK_THROWS_NAMING(five.fit(X), InvalidArgument, "n_components = 5");
  CHECK(five.components() == five_before);

  REQUIRE(pca.mean().size() == 4);
  CHECK(pca.mean() == mean_before);
  CHECK(pca.components() == components_before);
  CHECK(pca.transform(X) == before);
}

TEST_CASE_TEMPLATE("PCA: covariance overflow is named as such, not as an eigendecomposition error", T, float, double) {
  const T big = std::sqrt(std::numeric_limits<T>::max()) * T(4);
  // Centred values about ±big: each square overflows although every input is finite.
  Matrix<T> X(4, 2);
  X << big, T(1), -big, T(2), big, T(3), -big, T(5);
  CHECK_THROWS_NAMING(PCA<T>().fit(X), InvalidArgument, "PCA::fit: the covariance of X overflows");
  CHECK_THROWS_NAMING(PCA<T>().fit(X), InvalidArgument, "rescale X");
  // The column sum overflows (mean = inf) although every value is finite.
  Matrix<T> sums = Matrix<T>::Constant(3, 2, std::numeric_limits<T>::max() / T(2));
  sums(0, 1) = T(0);
  CHECK_THROWS_NAMING(PCA<T>().fit(sums), InvalidArgument, "the covariance of X overflows");
  // The same data scaled down fits, and its explained-variance ratios are scale-free.
  PCA<T> scaled;
  scaled.fit(X / big);
  CHECK(scaled.converged());
  CHECK(scaled.explained_variance_ratio().allFinite());
}

TEST_CASE_TEMPLATE("PCA: an eigensolver that runs out of sweeps is reported by converged()", T, float, double) {
  const Matrix<T> X = load_features<T>("digits.csv");
  PCA<T> full;
  full.fit(X);
  CHECK(full.converged());

  PCA<T> bounded({.max_eigen_iterations = 1});
  bounded.fit(X);
  CHECK_FALSE(bounded.converged());
  // The approximation is kept (finite, the right shapes), not thrown away.
  CHECK(bounded.components().rows() == full.components().rows());
  CHECK(bounded.explained_variance().allFinite());
  // A generous bound converges to the same variances.
  PCA<T> generous({.max_eigen_iterations = 100000});
  generous.fit(X);
  CHECK(generous.converged());
  CHECK(test::max_relative_error(generous.explained_variance(), full.explained_variance()) <=
        test::Tolerance<T>::reference);

  CHECK_THROWS_NAMING(PCA<T>({.max_eigen_iterations = 0}).fit(X), InvalidArgument,
                      "PCA::fit: max_eigen_iterations must be at least 1, got 0");
  CHECK_THROWS_NAMING((void)PCA<T>().converged(), NotFittedError, "PCA::converged");
}
