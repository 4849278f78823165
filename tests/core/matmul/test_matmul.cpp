// matrix_multiply against the readable reference (the triple loop below), against Eigen's product and
// against NumPy, on sizes that are and are not multiples of the register tile and the cache blocks.
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "aimastery/core/linalg/matmul.hpp"
#include "support.hpp"

using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
namespace at = aimastery::test;

namespace {

/// The definition, C[i,j] = Σₖ A[i,k]·B[k,j], accumulated in long double so that it is the more
/// accurate of the two sides.
template <class T>
Matrix<T> triple_loop(const Matrix<T>& A, const Matrix<T>& B) {
  Matrix<T> C(A.rows(), B.cols());
  for (Index i = 0; i < A.rows(); ++i)
    for (Index j = 0; j < B.cols(); ++j) {
      long double sum = 0;
      for (Index k = 0; k < A.cols(); ++k) sum += static_cast<long double>(A(i, k)) * B(k, j);
      C(i, j) = static_cast<T>(sum);
    }
  return C;
}

/// Largest |C − R|[i,j] / (Σₖ |A[i,k]|·|B[k,j]|): the error of each entry against the scale of its sum,
/// which is what floating-point summation bounds (γₖ·(|A||B|)[i,j]), so cancellation cannot fail it.
template <class T>
double entrywise_error(const Matrix<T>& C, const Matrix<T>& R, const Matrix<T>& A, const Matrix<T>& B) {
  const Matrix<double> scale = A.template cast<double>().cwiseAbs() * B.template cast<double>().cwiseAbs();
  double worst = 0;
  for (Index i = 0; i < C.rows(); ++i)
    for (Index j = 0; j < C.cols(); ++j) {
      const double err = std::abs(static_cast<double>(C(i, j)) - static_cast<double>(R(i, j)));
      worst = std::max(worst, err / std::max(scale(i, j), std::numeric_limits<double>::min()));
    }
  return worst;
}

/// Sum-order tolerance: k·ε of T (the bound of recursive summation), at least the named tolerance.
template <class T>
double product_tolerance(Index k) {
  return std::max<double>(at::Tolerance<T>::tight, 2.0 * static_cast<double>(k) * std::numeric_limits<T>::epsilon());
}

struct Shape {
  Index m, k, n;
};

// Square, odd, tall and wide shapes, shapes straddling the tile sizes (MR = 4, 6 or 14 rows; NR = 2 to
// 32 columns) and the cache blocks (KC in the hundreds), and degenerate vectors.
const std::vector<Shape> shapes = {
    {1, 1, 1},       {7, 7, 7},       {13, 17, 19},  {300, 1, 5},  {1, 300, 1},    {5, 1, 300},   {1, 64, 33},
    {14, 8, 32},     {15, 9, 33},     {28, 16, 64},  {29, 31, 65}, {6, 300, 16},   {97, 513, 31}, {64, 64, 64},
    {100, 100, 100}, {129, 257, 130}, {200, 3, 200}, {3, 200, 3},  {250, 700, 45},
};

}  // namespace

TEST_CASE_TEMPLATE("matrix_multiply equals the triple loop and Eigen's product", T, float, double) {
  std::mt19937_64 rng(at::test_seed());
  for (const auto& s : shapes) {
    CAPTURE(s.m);
    CAPTURE(s.k);
    CAPTURE(s.n);
    const Matrix<T> A = at::random_matrix<T>(s.m, s.k, rng);
    const Matrix<T> B = at::random_matrix<T>(s.k, s.n, rng);
    const Matrix<T> C = aimastery::matrix_multiply(A, B);
    REQUIRE(C.rows() == s.m);
    REQUIRE(C.cols() == s.n);
    const double tol = product_tolerance<T>(s.k);
    CHECK(entrywise_error(C, triple_loop(A, B), A, B) <= tol);
    const Matrix<T> eigen = A * B;
    CHECK(entrywise_error(C, eigen, A, B) <= 2 * tol);
  }
}

TEST_CASE("matrix_multiply equals numpy's A @ B") {
  const auto ref = at::load_reference("core_matrices.json");
  const Matrix<double> A = at::json_matrix<double>(ref["gemm"]["A"]);
  const Matrix<double> B = at::json_matrix<double>(ref["gemm"]["B"]);
  const Matrix<double> C = aimastery::matrix_multiply(A, B);
  CHECK(entrywise_error(C, at::json_matrix<double>(ref["gemm"]["C"]), A, B) <= product_tolerance<double>(A.cols()));
  const Matrix<float> Cf = aimastery::matrix_multiply(A.cast<float>(), B.cast<float>());
  CHECK(at::max_relative_error(Cf, at::json_matrix<double>(ref["gemm"]["C"])) <= at::Tolerance<float>::reference);
}

TEST_CASE_TEMPLATE("closed-form products: identity, zeros, integers exactly", T, float, double) {
  std::mt19937_64 rng(at::test_seed());
  const Matrix<T> A = at::random_matrix<T>(23, 37, rng);
  // A·I = A and I·A = A exactly: every sum has a single non-zero term.
  CHECK(aimastery::matrix_multiply(A, Matrix<T>::Identity(37, 37)) == A);
  CHECK(aimastery::matrix_multiply(Matrix<T>::Identity(23, 23), A) == A);
  CHECK(aimastery::matrix_multiply(A, Matrix<T>::Zero(37, 5)).isZero(0));
  // Small integers: every partial sum is exact, so any summation order gives the triple loop's answer.
  std::uniform_int_distribution<int> digit(-9, 9);
  Matrix<T> P(41, 53), Q(53, 29);
  for (Index i = 0; i < P.size(); ++i) P.data()[i] = static_cast<T>(digit(rng));
  for (Index i = 0; i < Q.size(); ++i) Q.data()[i] = static_cast<T>(digit(rng));
  CHECK(aimastery::matrix_multiply(P, Q) == triple_loop(P, Q));
}

TEST_CASE_TEMPLATE("column-major inputs, blocks, transposes and expressions give the same product", T, float, double) {
  std::mt19937_64 rng(at::test_seed());
  const Matrix<T> A = at::random_matrix<T>(45, 61, rng);
  const Matrix<T> B = at::random_matrix<T>(61, 38, rng);
  const Matrix<T> expected = aimastery::matrix_multiply(A, B);
  const double tol = product_tolerance<T>(61);

  const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> A_col = A, B_col = B;
  CHECK(entrywise_error(aimastery::matrix_multiply(A_col, B_col), expected, A, B) <= tol);
  CHECK(entrywise_error(aimastery::matrix_multiply(A, B_col), expected, A, B) <= tol);
  // Transposed views (strided access, no copy) and a general expression (evaluated once).
  const Matrix<T> At = A.transpose();
  CHECK(entrywise_error(aimastery::matrix_multiply(At.transpose(), B), expected, A, B) <= tol);
  const Matrix<T> twice = aimastery::matrix_multiply(A + A, B);
  CHECK(entrywise_error(twice, Matrix<T>(2 * expected), A, B) <= 2 * tol);

  // Blocks of larger matrices: row and column strides that are not the block's width.
  const Matrix<T> big = at::random_matrix<T>(70, 90, rng);
  const auto blockA = big.block(3, 5, 31, 40);
  const auto blockB = big.block(20, 41, 40, 27);
  const Matrix<T> a_copy = blockA, b_copy = blockB;
  CHECK(entrywise_error(aimastery::matrix_multiply(blockA, blockB), triple_loop(a_copy, b_copy), a_copy, b_copy) <=
        product_tolerance<T>(40));
  const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> big_col = big;
  CHECK(entrywise_error(aimastery::matrix_multiply(big_col.block(3, 5, 31, 40), big_col.block(20, 41, 40, 27)),
                        triple_loop(a_copy, b_copy), a_copy, b_copy) <= product_tolerance<T>(40));
}

TEST_CASE("matrix_multiply works for long double (scalar micro-kernel)") {
  std::mt19937_64 rng(at::test_seed());
  const Matrix<long double> A = at::random_matrix<double>(19, 23, rng).cast<long double>();
  const Matrix<long double> B = at::random_matrix<double>(23, 11, rng).cast<long double>();
  const Matrix<long double> C = aimastery::matrix_multiply(A, B);
  const Matrix<long double> expected = A * B;
  CHECK(static_cast<double>((C - expected).cwiseAbs().maxCoeff()) <= 1e-15);
}

TEST_CASE_TEMPLATE("NaN and infinity propagate as in any product", T, float, double) {
  Matrix<T> A = Matrix<T>::Ones(9, 9);
  A(2, 4) = std::numeric_limits<T>::quiet_NaN();
  const Matrix<T> C = aimastery::matrix_multiply(A, Matrix<T>::Ones(9, 9));
  CHECK(std::isnan(C(2, 0)));
  CHECK(std::isnan(C(2, 8)));
  CHECK(C(3, 0) == T(9));
}

TEST_CASE_TEMPLATE("bad input to matrix_multiply names both shapes", T, float, double) {
  const Matrix<T> A(3, 4), B(5, 2), empty(0, 4), empty_cols(4, 0);
  CHECK_THROWS_NAMING(aimastery::matrix_multiply(A, B), InvalidArgument,
                      "matrix_multiply: inner dimensions differ: A is 3x4 and B is 5x2");
  CHECK_THROWS_NAMING(aimastery::matrix_multiply(empty, A.transpose()), InvalidArgument,
                      "matrix_multiply: A is empty (0x4)");
  CHECK_THROWS_NAMING(aimastery::matrix_multiply(A, empty_cols), InvalidArgument, "matrix_multiply: B is empty (4x0)");
}

TEST_CASE_TEMPLATE("matrix_multiply_to and matrix_multiply_add: X·Wᵀ and C += dYᵀ·X in place", T, float, double) {
  std::mt19937_64 rng(at::test_seed());
  // The shapes of a Dense layer's products (batch 37, 129 inputs, 70 outputs), odd on purpose.
  const Matrix<T> X = at::random_matrix<T>(37, 129, rng);
  const Matrix<T> W = at::random_matrix<T>(70, 129, rng);
  const Matrix<T> dY = at::random_matrix<T>(37, 70, rng);
  const Matrix<T> Wt = W.transpose(), dYt = dY.transpose();

  Matrix<T> Y(1, 1);  // resized by matrix_multiply_to
  aimastery::matrix_multiply_to(X, W.transpose(), Y);
  REQUIRE(Y.rows() == 37);
  REQUIRE(Y.cols() == 70);
  CHECK(entrywise_error(Y, triple_loop(X, Wt), X, Wt) <= product_tolerance<T>(129));
  const T* storage = Y.data();
  aimastery::matrix_multiply_to(X, W.transpose(), Y);  // same shape: written in place
  CHECK(Y.data() == storage);

  const Matrix<T> G0 = at::random_matrix<T>(70, 129, rng);
  Matrix<T> G = G0;
  aimastery::matrix_multiply_add(dY.transpose(), X, G);
  const Matrix<T> product = triple_loop(dYt, X);
  const Matrix<T> expected = G0 + product;
  // The error of each entry against the scale of the sum it came from plus the initial value.
  const Matrix<T> scale_a = dYt.cwiseAbs(), scale_b = X.cwiseAbs();
  double worst = 0;
  for (Index i = 0; i < G.rows(); ++i)
    for (Index j = 0; j < G.cols(); ++j) {
      const double scale = static_cast<double>((scale_a.row(i) * scale_b.col(j))(0, 0)) + std::abs(G0(i, j));
      worst = std::max(worst, std::abs(static_cast<double>(G(i, j) - expected(i, j))) / scale);
    }
  CHECK(worst <= product_tolerance<T>(37));

  // dX = dY·W into a preallocated matrix.
  Matrix<T> dX(37, 129);
  aimastery::matrix_multiply_to(dY, W, dX);
  CHECK(entrywise_error(dX, triple_loop(dY, W), dY, W) <= product_tolerance<T>(70));

  CHECK_THROWS_NAMING(aimastery::matrix_multiply_add(dY.transpose(), X, Y), InvalidArgument,
                      "matrix_multiply_add: C is 37x70 but A is 70x37 and B is 37x129 (C must be 70x129)");
  CHECK_THROWS_NAMING(aimastery::matrix_multiply_to(X, W, Y), InvalidArgument,
                      "matrix_multiply_to: inner dimensions differ: A is 37x129 and B is 70x129");
}

TEST_CASE_TEMPLATE("the product is bitwise the same for any number of threads", T, float, double) {
#if defined(_OPENMP)
  std::mt19937_64 rng(at::test_seed());
  const int saved = omp_get_max_threads();
  // Wide, tall and square shapes above the threading threshold, with ragged edges; transposed operands.
  for (const Shape s : {Shape{64, 300, 700}, Shape{700, 300, 64}, Shape{257, 513, 259}, Shape{128, 784, 10}}) {
    CAPTURE(s.m);
    CAPTURE(s.k);
    CAPTURE(s.n);
    const Matrix<T> A = at::random_matrix<T>(s.m, s.k, rng);
    const Matrix<T> Bt = at::random_matrix<T>(s.n, s.k, rng);
    omp_set_num_threads(1);
    const Matrix<T> one = aimastery::matrix_multiply(A, Bt.transpose());
    Matrix<T> acc_one = Matrix<T>::Ones(s.m, s.n);
    aimastery::matrix_multiply_add(A, Bt.transpose(), acc_one);
    for (int threads : {2, 3, 4}) {
      CAPTURE(threads);
      omp_set_num_threads(threads);
      CHECK(aimastery::matrix_multiply(A, Bt.transpose()) == one);
      Matrix<T> acc = Matrix<T>::Ones(s.m, s.n);
      aimastery::matrix_multiply_add(A, Bt.transpose(), acc);
      CHECK(acc == acc_one);
    }
    CHECK(entrywise_error(one, triple_loop(A, Matrix<T>(Bt.transpose())), A, Matrix<T>(Bt.transpose())) <=
          product_tolerance<T>(s.k));
  }
  omp_set_num_threads(saved);
#else
  MESSAGE("built without OpenMP: the product always runs on one thread");
#endif
}
