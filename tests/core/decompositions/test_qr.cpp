#include "aimastery/core/linalg/qr.hpp"

#include <limits>
#include <string>
#include <vector>

#include "support.hpp"

using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::Vector;
namespace test = aimastery::test;

namespace {

template <class T>
double unit_roundoff_bound(Index m, Index n) {
  return 50.0 * static_cast<double>(std::max(m, n)) * std::numeric_limits<T>::epsilon();
}

/// QᵀQ = I, Q R = A, R upper triangular with the documented shapes.
template <class T>
void check_qr(const Matrix<T>& A, const aimastery::QRResult<T>& qr) {
  const Index m = A.rows();
  const Index n = A.cols();
  const Index k = std::min(m, n);
  REQUIRE(qr.Q.rows() == m);
  REQUIRE(qr.Q.cols() == k);
  REQUIRE(qr.R.rows() == k);
  REQUIRE(qr.R.cols() == n);
  const double bound = unit_roundoff_bound<T>(m, n);
  const Matrix<T> gram = qr.Q.transpose() * qr.Q - Matrix<T>::Identity(k, k);
  CHECK(gram.cwiseAbs().maxCoeff() <= bound);
  const double scale = std::max(1e-300, static_cast<double>(A.cwiseAbs().maxCoeff()));
  const Matrix<T> product = qr.Q * qr.R;
  CHECK((product - A).cwiseAbs().maxCoeff() <= bound * scale);
  for (Index i = 0; i < k; ++i)
    for (Index j = 0; j < std::min(i, n); ++j) CHECK(qr.R(i, j) == T(0));
  for (Index j = 0; j < k; ++j) CHECK(qr.R(j, j) >= T(0));
}

}  // namespace

TEST_CASE_TEMPLATE("qr_decomposition: Q orthonormal and QR = A on random, ill-conditioned and rank-deficient input", T,
                   float, double) {
  const auto ref = test::load_reference("core_decompositions.json");
  for (const auto& c : ref["qr"]) {
    const std::string name = c["name"];
    CAPTURE(name);
    const Matrix<T> A = test::json_matrix<T>(c["A"]);
    const auto qr = aimastery::qr_decomposition(A);
    check_qr(A, qr);
    if constexpr (std::is_same_v<T, double>) {
      // The rank equals numpy.linalg.matrix_rank; for full column rank |diag R| equals numpy's.
      CHECK(qr.rank == c["rank"].get<Index>());
      if (c.contains("abs_diag_R")) {
        const Vector<double> expected = test::json_vector<double>(c["abs_diag_R"]);
        const double scale = A.cwiseAbs().maxCoeff();
        CHECK((qr.R.diagonal() - expected).cwiseAbs().maxCoeff() <= test::Tolerance<double>::reference * scale);
      }
    }
  }
}

TEST_CASE_TEMPLATE("qr_decomposition on seeded random shapes", T, float, double) {
  std::mt19937_64 rng(test::test_seed());
  for (const auto& shape :
       std::vector<std::pair<Index, Index>>{{1, 1}, {1, 4}, {4, 1}, {7, 3}, {3, 7}, {30, 30}, {60, 17}}) {
    const Index m = shape.first, n = shape.second;
    CAPTURE(m);
    CAPTURE(n);
    const Matrix<T> A = test::random_matrix<T>(m, n, rng);
    check_qr(A, aimastery::qr_decomposition(A));
  }
}

TEST_CASE("qr_decomposition: closed form of a 2x2") {
  // [[3, 1], [4, 2]]: q1 = (3, 4)/5, R = [[5, 11/5], [0, 2/5]].
  Matrix<double> A(2, 2);
  A << 3, 1, 4, 2;
  const auto qr = aimastery::qr_decomposition(A);
  CHECK(qr.R(0, 0) == doctest::Approx(5.0));
  CHECK(qr.R(0, 1) == doctest::Approx(2.2));
  CHECK(qr.R(1, 1) == doctest::Approx(0.4));
  CHECK(qr.Q(0, 0) == doctest::Approx(0.6));
  CHECK(qr.rank == 2);
}

TEST_CASE_TEMPLATE("gram_schmidt: orthonormal basis, rank and dependent columns reported", T, float, double) {
  const auto ref = test::load_reference("core_decompositions.json");
  for (const auto& c : ref["qr"]) {
    const std::string name = c["name"];
    CAPTURE(name);
    const Matrix<T> A = test::json_matrix<T>(c["A"]);
    const auto gs = aimastery::gram_schmidt(A);
    REQUIRE(gs.Q.rows() == A.rows());
    REQUIRE(gs.Q.cols() == gs.rank);
    CHECK(gs.rank + static_cast<Index>(gs.dependent_columns.size()) == A.cols());
    const double bound = unit_roundoff_bound<T>(A.rows(), A.cols());
    if (gs.rank > 0) {
      const Matrix<T> gram = gs.Q.transpose() * gs.Q - Matrix<T>::Identity(gs.rank, gs.rank);
      CHECK(gram.cwiseAbs().maxCoeff() <= bound);
      // Every column of A lies in the span of Q: A = Q Qᵀ A.
      const Matrix<T> projected = gs.Q * (gs.Q.transpose() * A);
      CHECK((projected - A).cwiseAbs().maxCoeff() <= bound * A.cwiseAbs().maxCoeff());
    }
    if constexpr (std::is_same_v<T, double>) CHECK(gs.rank == c["rank"].get<Index>());
  }
}

TEST_CASE("gram_schmidt names the dependent columns") {
  Matrix<double> A(4, 4);
  A << 1, 2, 0, 3,  //
      0, 0, 0, 1,   //
      1, 2, 0, 0,   //
      0, 0, 0, 2;
  const auto gs = aimastery::gram_schmidt(A);
  CHECK(gs.rank == 2);
  CHECK(gs.dependent_columns == std::vector<Index>{1, 2});
  // Column 0 normalised: (1, 0, 1, 0)/√2.
  CHECK(gs.Q(0, 0) == doctest::Approx(std::sqrt(0.5)));
  // A looser tolerance declares a nearly dependent column dependent.
  Matrix<double> B(3, 2);
  B << 1, 1, 0, 1e-9, 0, 0;
  CHECK(aimastery::gram_schmidt(B).rank == 2);
  CHECK(aimastery::gram_schmidt(B, 1e-6).rank == 1);
  // More vectors than dimensions: at most m independent ones.
  std::mt19937_64 rng(test::test_seed());
  const auto wide = aimastery::gram_schmidt(test::random_matrix<double>(3, 6, rng));
  CHECK(wide.rank == 3);
  CHECK(wide.dependent_columns == std::vector<Index>{3, 4, 5});
}

TEST_CASE_TEMPLATE("gram_schmidt and qr_decomposition reject bad input", T, float, double) {
  CHECK_THROWS_NAMING(aimastery::gram_schmidt(Matrix<T>(0, 3)), InvalidArgument, "gram_schmidt: A is empty");
  CHECK_THROWS_NAMING(aimastery::qr_decomposition(Matrix<T>(3, 0)), InvalidArgument, "qr_decomposition: A is empty");
  Matrix<T> with_nan = Matrix<T>::Identity(3, 3);
  with_nan(2, 0) = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_NAMING(aimastery::gram_schmidt(with_nan), InvalidArgument, "NaN or infinity");
  CHECK_THROWS_NAMING(aimastery::qr_decomposition(with_nan), InvalidArgument, "NaN or infinity");
  CHECK_THROWS_NAMING(aimastery::gram_schmidt(Matrix<T>::Identity(2, 2), T(-1)), InvalidArgument,
                      "tolerance must be non-negative");
  CHECK_THROWS_NAMING(aimastery::qr_decomposition(Matrix<T>::Identity(2, 2), T(-1)), InvalidArgument,
                      "tolerance must be non-negative");
}
