// Vector operations and matrix basics against NumPy / SciPy / scikit-learn (tests/reference/gen_core_basics.py),
// closed-form facts, special values and bad inputs.
#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "aimastery/core/linalg/matrix_basics.hpp"
#include "aimastery/core/linalg/vector_ops.hpp"
#include "support.hpp"

using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::RowVector;
using aimastery::Vector;
namespace at = aimastery::test;

TEST_CASE_TEMPLATE("vector operations equal NumPy, SciPy and scikit-learn on random vectors", T, float, double) {
  const auto ref = at::load_reference("core_vectors.json");
  // Inputs are rounded to T, so errors are measured against the scale of the inputs: |dot| error
  // against ||a||·||b||, distance errors against ||a|| + ||b||.
  const double tol = at::Tolerance<T>::reference;
  for (const auto& c : ref["cases"]) {
    CAPTURE(c["name"].get<std::string>());
    const Vector<T> a = at::json_vector<T>(c["a"]);
    const Vector<T> b = at::json_vector<T>(c["b"]);
    const double na = c["norm_a"].get<double>();
    const double nb = at::json_vector<double>(c["b"]).norm();

    CHECK(std::abs(aimastery::dot_product(a, b) - c["dot"].get<double>()) <= tol * na * nb);
    CHECK(at::close<double>(aimastery::magnitude(a), na, tol));
    const Vector<T> unit = aimastery::normalize(a);
    CHECK(at::max_relative_error(unit, at::json_vector<double>(c["normalized_a"])) <= tol);
    const T cosine = aimastery::cosine_similarity(a, b);
    CHECK(std::abs(cosine - c["cosine"].get<double>()) <= tol);
    CHECK(std::abs(cosine - c["scipy_cosine_similarity"].get<double>()) <= tol);
    CHECK(std::abs(aimastery::euclidean_distance(a, b) - c["euclidean"].get<double>()) <= tol * (na + nb));
    CHECK(std::abs(aimastery::manhattan_distance(a, b) - c["manhattan"].get<double>()) <=
          tol * (a.cwiseAbs().sum() + b.cwiseAbs().sum()));
  }
}

TEST_CASE_TEMPLATE("seed formulas: a·b = ||a||·||b||·cos θ, ||v̂|| = 1, d(a, b) = ||a − b||", T, float, double) {
  std::mt19937_64 rng(at::test_seed());
  const T tol = at::Tolerance<T>::reference;
  for (Index n : {1, 2, 5, 31, 257}) {
    CAPTURE(n);
    const Vector<T> a = at::random_matrix<T>(n, 1, rng);
    const Vector<T> b = at::random_matrix<T>(n, 1, rng);
    const T dot = aimastery::dot_product(a, b);
    const T law = aimastery::magnitude(a) * aimastery::magnitude(b) * aimastery::cosine_similarity(a, b);
    CHECK(std::abs(dot - law) <= tol * aimastery::magnitude(a) * aimastery::magnitude(b));
    CHECK(std::abs(aimastery::magnitude(aimastery::normalize(a)) - T(1)) <= tol);
    CHECK(std::abs(aimastery::dot_product(a, a) - aimastery::magnitude(a) * aimastery::magnitude(a)) <=
          tol * a.squaredNorm());
    const Vector<T> diff = a - b;
    CHECK(at::close(aimastery::euclidean_distance(a, b), aimastery::magnitude(diff), tol));
    CHECK(at::close(aimastery::manhattan_distance(a, b), diff.cwiseAbs().sum(), tol));
    // Symmetry, and d(a, a) = 0.
    CHECK(aimastery::euclidean_distance(a, b) == aimastery::euclidean_distance(b, a));
    CHECK(aimastery::manhattan_distance(a, a) == T(0));
    const T cosine = aimastery::cosine_similarity(a, b);
    CHECK(cosine >= T(-1));
    CHECK(cosine <= T(1));
  }
}

TEST_CASE_TEMPLATE("closed-form values and the [-1, 1] range of the cosine", T, float, double) {
  Vector<T> a(2), b(2);
  a << T(3), T(4);
  b << T(-4), T(3);
  CHECK(aimastery::magnitude(a) == T(5));
  CHECK(aimastery::dot_product(a, b) == T(0));
  CHECK(aimastery::cosine_similarity(a, b) == T(0));
  CHECK(aimastery::manhattan_distance(a, b) == T(8));
  CHECK(aimastery::euclidean_distance(a, b) == doctest::Approx(std::sqrt(50.0)));
  const Vector<T> unit = aimastery::normalize(a);
  CHECK(unit(0) == doctest::Approx(0.6));
  CHECK(unit(1) == doctest::Approx(0.8));
  // Parallel and antiparallel vectors give exactly ±1 (rounding never leaves the range).
  const Vector<T> c = a * T(7.3);
  CHECK(aimastery::cosine_similarity(a, c) == doctest::Approx(1.0));
  CHECK(aimastery::cosine_similarity(a, c) <= T(1));
  CHECK(aimastery::cosine_similarity(a, Vector<T>(-c)) >= T(-1));
}

TEST_CASE_TEMPLATE("row vectors, column vectors, blocks and maps mix", T, float, double) {
  Vector<T> col(3);
  col << T(1), T(2), T(3);
  RowVector<T> row(3);
  row << T(4), T(5), T(6);
  CHECK(aimastery::dot_product(col, row) == T(32));
  CHECK(aimastery::manhattan_distance(row, col) == T(9));
  Matrix<T> m(2, 3);
  m << T(1), T(2), T(3), T(4), T(5), T(6);
  CHECK(aimastery::dot_product(m.row(0), m.row(1)) == T(32));
  CHECK(aimastery::dot_product(m.col(0), m.col(2)) == T(3 + 24));
  const RowVector<T> unit = aimastery::normalize(row);
  CHECK(unit.rows() == 1);
  CHECK(unit.cols() == 3);
}

TEST_CASE("no overflow or underflow for very large and very small entries") {
  const auto ref = at::load_reference("core_vectors_extreme.json");
  const Vector<double> big_a = at::json_vector<double>(ref["big_a"]);
  const Vector<double> big_b = at::json_vector<double>(ref["big_b"]);
  const Vector<double> tiny_a = at::json_vector<double>(ref["tiny_a"]);
  const double tol = at::Tolerance<double>::tight;
  // The plain formula overflows here: Σ vᵢ² = inf.
  REQUIRE(std::isinf(big_a.squaredNorm()));
  REQUIRE(tiny_a.squaredNorm() == 0.0);
  CHECK(at::close(aimastery::magnitude(big_a), ref["big_norm_a"].get<double>(), tol));
  CHECK(at::close(aimastery::magnitude(tiny_a), ref["tiny_norm_a"].get<double>(), tol));
  CHECK(at::close(aimastery::euclidean_distance(big_a, big_b), ref["big_euclidean"].get<double>(), tol));
  CHECK(std::abs(aimastery::cosine_similarity(big_a, big_b) - ref["big_cosine"].get<double>()) <= tol);
  CHECK(std::abs(aimastery::magnitude(aimastery::normalize(big_a)) - 1.0) <= tol);
  CHECK(std::abs(aimastery::magnitude(aimastery::normalize(tiny_a)) - 1.0) <= tol);
  // float: 1e30² overflows a float.
  Vector<float> f(2);
  f << 3e30f, 4e30f;
  CHECK(aimastery::magnitude(f) == doctest::Approx(5e30));
}

TEST_CASE_TEMPLATE("zero vectors: magnitude 0, normalize and cosine_similarity throw", T, float, double) {
  const Vector<T> zero = Vector<T>::Zero(4);
  const Vector<T> ones = Vector<T>::Ones(4);
  CHECK(aimastery::magnitude(zero) == T(0));
  CHECK(aimastery::dot_product(zero, ones) == T(0));
  CHECK(aimastery::euclidean_distance(zero, ones) == T(2));
  CHECK_THROWS_NAMING(aimastery::normalize(zero), InvalidArgument, "normalize: zero vector has no direction");
  CHECK_THROWS_NAMING(aimastery::cosine_similarity(zero, ones), InvalidArgument,
                      "cosine_similarity: v1 is a zero vector, which has no direction");
  CHECK_THROWS_NAMING(aimastery::cosine_similarity(ones, zero), InvalidArgument,
                      "cosine_similarity: v2 is a zero vector");
}

TEST_CASE_TEMPLATE("NaN and infinity: propagated by norms and distances, rejected where direction matters", T, float,
                   double) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T inf = std::numeric_limits<T>::infinity();
  Vector<T> with_nan(3), with_inf(3), finite(3);
  with_nan << T(1), nan, T(2);
  with_inf << T(1), -inf, T(2);
  finite << T(1), T(2), T(3);
  CHECK(std::isnan(aimastery::dot_product(with_nan, finite)));
  CHECK(std::isnan(aimastery::magnitude(with_nan)));
  CHECK(aimastery::magnitude(with_inf) == inf);
  CHECK(std::isnan(aimastery::euclidean_distance(with_nan, finite)));
  CHECK(aimastery::euclidean_distance(with_inf, finite) == inf);
  CHECK(aimastery::manhattan_distance(with_inf, finite) == inf);
  CHECK(std::isnan(aimastery::manhattan_distance(with_nan, finite)));
  CHECK_THROWS_NAMING(aimastery::normalize(with_nan), InvalidArgument, "normalize: v contains NaN or infinity");
  CHECK_THROWS_NAMING(aimastery::normalize(with_inf), InvalidArgument, "normalize: v contains NaN or infinity");
  CHECK_THROWS_NAMING(aimastery::cosine_similarity(with_nan, finite), InvalidArgument,
                      "cosine_similarity: v1 contains NaN or infinity");
  CHECK_THROWS_NAMING(aimastery::cosine_similarity(finite, with_inf), InvalidArgument,
                      "cosine_similarity: v2 contains NaN or infinity");
}

TEST_CASE_TEMPLATE("bad input to the vector operations names the function and both sizes", T, float, double) {
  const Vector<T> three = Vector<T>::Ones(3);
  const Vector<T> four = Vector<T>::Ones(4);
  const Vector<T> empty(0);
  const Matrix<T> matrix = Matrix<T>::Ones(2, 3);
  CHECK_THROWS_NAMING(aimastery::dot_product(three, four), InvalidArgument,
                      "dot_product: v1 has 3 elements but v2 has 4");
  CHECK_THROWS_NAMING(aimastery::cosine_similarity(three, four), InvalidArgument,
                      "cosine_similarity: v1 has 3 elements but v2 has 4");
  CHECK_THROWS_NAMING(aimastery::euclidean_distance(four, three), InvalidArgument,
                      "euclidean_distance: v1 has 4 elements but v2 has 3");
  CHECK_THROWS_NAMING(aimastery::manhattan_distance(three, four), InvalidArgument,
                      "manhattan_distance: v1 has 3 elements but v2 has 4");
  CHECK_THROWS_NAMING(aimastery::dot_product(empty, empty), InvalidArgument, "dot_product: v1 is empty (0x1)");
  CHECK_THROWS_NAMING(aimastery::magnitude(empty), InvalidArgument, "magnitude: v is empty");
  CHECK_THROWS_NAMING(aimastery::normalize(empty), InvalidArgument, "normalize: v is empty");
  CHECK_THROWS_NAMING(aimastery::cosine_similarity(three, empty), InvalidArgument, "cosine_similarity: v2 is empty");
  CHECK_THROWS_NAMING(aimastery::euclidean_distance(empty, three), InvalidArgument, "euclidean_distance: v1 is empty");
  CHECK_THROWS_NAMING(aimastery::manhattan_distance(empty, three), InvalidArgument, "manhattan_distance: v1 is empty");
  CHECK_THROWS_NAMING(aimastery::magnitude(matrix), InvalidArgument,
                      "magnitude: v must be a vector (one row or one column), got a 2x3 matrix");
  CHECK_THROWS_NAMING(aimastery::dot_product(matrix, matrix), InvalidArgument, "dot_product: v1 must be a vector");
  CHECK_THROWS_NAMING(aimastery::normalize(matrix), InvalidArgument, "normalize: v must be a vector");
}

TEST_CASE_TEMPLATE("transpose and trace equal NumPy", T, float, double) {
  const auto ref = at::load_reference("core_matrices.json");
  for (const auto& c : ref["matrices"]) {
    const Matrix<T> A = at::json_matrix<T>(c["A"]);
    CAPTURE(aimastery::shape_of(A));
    const Matrix<T> At = aimastery::transpose(A);
    // Transposition moves numbers without arithmetic: exact.
    CHECK(At == at::json_matrix<T>(c["transpose"]));
    if (!c["trace"].is_null()) {
      CHECK(std::abs(aimastery::trace(A) - c["trace"].get<double>()) <=
            at::Tolerance<T>::reference * A.cwiseAbs().sum());
    }
  }
  // Transposing a block and a column-major matrix gives the same row-major result.
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> col_major(2, 3);
  col_major << T(1), T(2), T(3), T(4), T(5), T(6);
  const Matrix<T> t = aimastery::transpose(col_major);
  CHECK(t.rows() == 3);
  CHECK(t(2, 1) == T(6));
  CHECK(aimastery::transpose(col_major.block(0, 1, 2, 2))(1, 0) == T(3));
}

TEST_CASE_TEMPLATE("identity_matrix is the neutral element and tr(I) = n", T, float, double) {
  for (Index n : {1, 2, 5, 17}) {
    const Matrix<T> I = aimastery::identity_matrix<T>(n);
    CHECK(I.rows() == n);
    CHECK(I.cols() == n);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < n; ++j) CHECK(I(i, j) == (i == j ? T(1) : T(0)));
    CHECK(aimastery::trace(I) == T(n));
  }
  CHECK(aimastery::identity_matrix(3).cols() == 3);  // double by default
  static_assert(std::is_same_v<decltype(aimastery::identity_matrix(3)), Matrix<double>>);
}

TEST_CASE("trace of a product is invariant under cycling: tr(AB) = tr(BA)") {
  std::mt19937_64 rng(at::test_seed());
  const Matrix<double> A = at::random_matrix<double>(4, 6, rng);
  const Matrix<double> B = at::random_matrix<double>(6, 4, rng);
  const Matrix<double> AB = A * B;
  const Matrix<double> BA = B * A;
  CHECK(aimastery::trace(AB) == doctest::Approx(aimastery::trace(BA)).epsilon(1e-12));
}

TEST_CASE("bad input to the matrix basics") {
  const Matrix<double> empty(0, 3);
  const Matrix<double> wide = Matrix<double>::Ones(2, 3);
  CHECK_THROWS_NAMING(aimastery::transpose(empty), InvalidArgument, "transpose: A is empty (0x3)");
  CHECK_THROWS_NAMING(aimastery::trace(wide), InvalidArgument, "trace: A must be square, got 2x3");
  CHECK_THROWS_NAMING(aimastery::trace(empty), InvalidArgument, "trace: A is empty");
  CHECK_THROWS_NAMING(aimastery::identity_matrix(0), InvalidArgument, "identity_matrix: n must be at least 1, got 0");
  CHECK_THROWS_NAMING(aimastery::identity_matrix<float>(-2), InvalidArgument,
                      "identity_matrix: n must be at least 1, got -2");
}
