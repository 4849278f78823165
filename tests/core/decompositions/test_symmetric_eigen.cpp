#include "aimastery/core/linalg/symmetric_eigen.hpp"

#include <limits>
#include <string>

#include "support.hpp"

using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::Vector;
namespace test = aimastery::test;

namespace {

/// A V = V Λ and VᵀV = I to a few n·ε·‖A‖, values descending.
template <class T>
void check_eigen_identities(const Matrix<T>& A, const aimastery::EigenResult<T>& eig) {
  const Index n = A.rows();
  const double eps = std::numeric_limits<T>::epsilon();
  const double norm = std::max(1.0, static_cast<double>(A.cwiseAbs().maxCoeff()));
  REQUIRE(eig.converged);
  REQUIRE(eig.values.size() == n);
  REQUIRE(eig.vectors.rows() == n);
  REQUIRE(eig.vectors.cols() == n);
  const Matrix<T> residual = A * eig.vectors - eig.vectors * eig.values.asDiagonal();
  CHECK(residual.cwiseAbs().maxCoeff() <= 20.0 * static_cast<double>(n) * eps * norm);
  const Matrix<T> gram = eig.vectors.transpose() * eig.vectors - Matrix<T>::Identity(n, n);
  CHECK(gram.cwiseAbs().maxCoeff() <= 20.0 * static_cast<double>(n) * eps);
  for (Index i = 1; i < n; ++i) CHECK(eig.values(i - 1) >= eig.values(i));
}

}  // namespace

TEST_CASE_TEMPLATE("eigendecomposition equals numpy.linalg.eigh (sizes 1-200, repeated and clustered spectra)", T,
                   float, double) {
  const auto ref = test::load_reference("core_decompositions.json");
  for (const auto& c : ref["eigh"]) {
    const std::string name = c["name"];
    CAPTURE(name);
    const Matrix<T> A = test::json_matrix<T>(c["A"]);
    const Vector<double> expected = test::json_vector<double>(c["values"]);
    const auto eig = aimastery::eigendecomposition(A);
    check_eigen_identities(A, eig);
    // Eigenvalues: to 1e-10 (double) or 1e-4 (float) relative to the spectral radius.
    const double radius = std::max(expected.cwiseAbs().maxCoeff(), 1e-300);
    const double value_error = (eig.values.template cast<double>() - expected).cwiseAbs().maxCoeff() / radius;
    CHECK(value_error <= test::Tolerance<T>::reference);
    if (!c.contains("vectors")) continue;
    // Eigenvectors up to sign; a vector is determined to about ε‖A‖ / gap.
    const Matrix<double> V = test::json_matrix<double>(c["vectors"]);
    const Index n = A.rows();
    for (Index j = 0; j < n; ++j) {
      double gap = std::numeric_limits<double>::infinity();
      if (j > 0) gap = std::min(gap, expected(j - 1) - expected(j));
      if (j + 1 < n) gap = std::min(gap, expected(j) - expected(j + 1));
      const double tolerance = 100.0 * std::numeric_limits<T>::epsilon() * radius / gap + test::Tolerance<T>::tight;
      const Vector<double> ours = eig.vectors.col(j).template cast<double>();
      const double sign = ours.dot(V.col(j)) < 0 ? -1.0 : 1.0;
      CAPTURE(j);
      CHECK((sign * ours - V.col(j)).cwiseAbs().maxCoeff() <= tolerance);
    }
  }
}

TEST_CASE_TEMPLATE("eigendecomposition: seeded random symmetric matrices satisfy A V = V diag(values)", T, float,
                   double) {
  std::mt19937_64 rng(test::test_seed());
  for (Index n : {1, 2, 3, 7, 33, 90}) {
    CAPTURE(n);
    const Matrix<T> G = test::random_matrix<T>(n, n, rng);
    const Matrix<T> A = G + G.transpose();
    check_eigen_identities(A, aimastery::eigendecomposition(A));
    // Scaling: huge and tiny matrices neither overflow nor underflow.
    const T big = std::numeric_limits<T>::max() / T(1e3 * static_cast<double>(n));
    const auto scaled = aimastery::eigendecomposition(Matrix<T>(A * big));
    CHECK(scaled.values.allFinite());
    CHECK(scaled.vectors.allFinite());
  }
}

TEST_CASE("eigendecomposition: closed forms and special matrices") {
  // 2x2 [[2, 1], [1, 2]]: eigenvalues 3 and 1, eigenvectors (1, 1)/√2 and (1, −1)/√2.
  Matrix<double> A(2, 2);
  A << 2, 1, 1, 2;
  const auto eig = aimastery::eigendecomposition(A);
  CHECK(eig.values(0) == doctest::Approx(3.0).epsilon(1e-15));
  CHECK(eig.values(1) == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(std::abs(eig.vectors(0, 0)) == doctest::Approx(std::sqrt(0.5)).epsilon(1e-15));
  CHECK(eig.vectors(0, 0) * eig.vectors(1, 0) > 0);
  CHECK(eig.vectors(0, 1) * eig.vectors(1, 1) < 0);
  // Zero matrix: all eigenvalues 0, identity vectors, no iterations.
  const auto zero = aimastery::eigendecomposition(Matrix<double>::Zero(4, 4));
  CHECK(zero.values.isZero());
  CHECK(zero.vectors.isIdentity());
  CHECK(zero.converged);
  // Diagonal input: already converged, values sorted descending.
  Matrix<double> D = Matrix<double>::Zero(3, 3);
  D.diagonal() << -1, 5, 2;
  const auto diag = aimastery::eigendecomposition(D);
  CHECK(diag.values(0) == 5.0);
  CHECK(diag.values(1) == 2.0);
  CHECK(diag.values(2) == -1.0);
  CHECK(diag.iterations == 0);
  // A rounding-level asymmetry is accepted (the symmetric part is decomposed).
  Matrix<double> nearly = A;
  nearly(0, 1) += 1e-14;
  CHECK(aimastery::eigendecomposition(nearly).values(0) == doctest::Approx(3.0));
}

TEST_CASE("eigendecomposition reports non-convergence instead of hiding it") {
  std::mt19937_64 rng(test::test_seed());
  const Matrix<double> G = test::random_matrix<double>(40, 40, rng);
  const Matrix<double> A = G + G.transpose();
  const auto limited = aimastery::eigendecomposition(A, 3);
  CHECK_FALSE(limited.converged);
  CHECK(limited.iterations == 3);
  CHECK(limited.values.allFinite());
  const auto full = aimastery::eigendecomposition(A);
  CHECK(full.converged);
  CHECK(full.iterations > 3);
}

TEST_CASE_TEMPLATE("eigendecomposition rejects bad input", T, float, double) {
  CHECK_THROWS_NAMING(aimastery::eigendecomposition(Matrix<T>(0, 0)), InvalidArgument, "A is empty");
  CHECK_THROWS_NAMING(aimastery::eigendecomposition(Matrix<T>::Zero(2, 3)), InvalidArgument, "must be square, got 2x3");
  Matrix<T> nonsym(2, 2);
  nonsym << 1, 2, 3, 4;
  CHECK_THROWS_NAMING(aimastery::eigendecomposition(nonsym), InvalidArgument, "A must be symmetric");
  Matrix<T> with_nan = Matrix<T>::Identity(3, 3);
  with_nan(1, 1) = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_NAMING(aimastery::eigendecomposition(with_nan), InvalidArgument, "NaN or infinity");
  Matrix<T> with_inf = Matrix<T>::Identity(3, 3);
  with_inf(0, 0) = std::numeric_limits<T>::infinity();
  CHECK_THROWS_NAMING(aimastery::eigendecomposition(with_inf), InvalidArgument, "eigendecomposition: A contains");
  CHECK_THROWS_NAMING(aimastery::eigendecomposition(Matrix<T>::Identity(3, 3), 0), InvalidArgument,
                      "max_iterations must be at least 1");
}
