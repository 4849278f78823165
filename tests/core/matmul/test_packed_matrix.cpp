// PackedMatrix: products with a right operand packed once are bitwise those of matrix_multiply, over
// whole matrices and column ranges, on shapes that straddle the register tile and the depth block.
#include <random>
#include <string>
#include <vector>

#include "aimastery/core/linalg/matmul.hpp"
#include "aimastery/core/linalg/packed_matrix.hpp"
#include "support.hpp"

using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::PackedMatrix;
namespace at = aimastery::test;

TEST_CASE_TEMPLATE("a packed right operand gives matrix_multiply's product, bitwise", T, float, double, long double) {
  std::mt19937_64 rng(at::test_seed());
  constexpr Index width = PackedMatrix<T>::panel_width;
  struct Shape {
    Index m, k, n;
  };
  // Depths below, at and above KC = 512 (two depth slices), row counts above MC, ragged last panels.
  for (const Shape s : {Shape{1, 1, 1}, Shape{13, 21, 100}, Shape{112, 21, 1000}, Shape{300, 37, 3 * width + 5},
                        Shape{29, 512, 2 * width}, Shape{17, 700, 5 * width - 1}}) {
    CAPTURE(s.m);
    CAPTURE(s.k);
    CAPTURE(s.n);
    const Matrix<T> A = at::random_matrix<T>(s.m, s.k, rng);
    const Matrix<T> B = at::random_matrix<T>(s.k, s.n, rng);
    const PackedMatrix<T> packed(B);
    REQUIRE(packed.rows() == s.k);
    REQUIRE(packed.cols() == s.n);

    Matrix<T> C(1, 1);  // resized
    aimastery::matrix_multiply_to(A, packed, C);
    CHECK(C == aimastery::matrix_multiply(A, B));

    // Every range of whole panels from each panel start, and one column.
    for (Index first = 0; first < s.n; first += width) {
      CAPTURE(first);
      const Index count = s.n - first;
      aimastery::matrix_multiply_to(A, packed, first, count, C);
      REQUIRE(C.cols() == count);
      CHECK(C == aimastery::matrix_multiply(A, B.middleCols(first, count)));
      aimastery::matrix_multiply_to(A, packed, first, 1, C);
      CHECK(C == aimastery::matrix_multiply(A, B.middleCols(first, 1)));
    }
  }
}

TEST_CASE_TEMPLATE("a matrix packed block by block gives the products of the matrix packed whole", T, float, double) {
  std::mt19937_64 rng(at::test_seed());
  constexpr Index width = PackedMatrix<T>::panel_width;
  const Index k = 23, n = 7 * width + 3;  // a ragged last panel
  const Matrix<T> A = at::random_matrix<T>(40, k, rng);
  const Matrix<T> B = at::random_matrix<T>(k, n, rng);
  const PackedMatrix<T> whole(B);
  const Matrix<T> expected = aimastery::matrix_multiply(A, B);
  // Blocks of one, two and three panels, and one block of everything; the last block is ragged.
  for (const Index block : {width, 2 * width, 3 * width, n}) {
    CAPTURE(block);
    PackedMatrix<T> packed(k, n);
    for (Index first = 0; first < n; first += block)
      packed.pack_columns(first, B.middleCols(first, std::min(block, n - first)));
    Matrix<T> C;
    aimastery::matrix_multiply_to(A, packed, C);
    CHECK(C == expected);
    for (Index first = 0; first < n; first += width) {
      Matrix<T> from_whole, from_blocks;
      aimastery::matrix_multiply_to(A, whole, first, n - first, from_whole);
      aimastery::matrix_multiply_to(A, packed, first, n - first, from_blocks);
      CHECK(from_blocks == from_whole);
    }
  }
  // Columns not packed yet are zeros: their products are zero.
  PackedMatrix<T> half(k, n);
  half.pack_columns(0, B.leftCols(2 * width));
  Matrix<T> C;
  aimastery::matrix_multiply_to(A, half, C);
  CHECK(C.leftCols(2 * width) == expected.leftCols(2 * width));
  CHECK(C.rightCols(n - 2 * width).isZero(0));
}

TEST_CASE("a packed operand takes column-major, strided and expression inputs, and the product is written in place") {
  std::mt19937_64 rng(at::test_seed());
  const Matrix<double> A = at::random_matrix<double>(20, 30, rng);
  const Matrix<double> Bt = at::random_matrix<double>(50, 30, rng);
  const Eigen::MatrixXd B_col_major = Bt.transpose();
  const Matrix<double> expected = aimastery::matrix_multiply(A, Bt.transpose());
  Matrix<double> C;
  aimastery::matrix_multiply_to(A, PackedMatrix<double>(Bt.transpose()), C);  // read through a transpose
  CHECK(C == expected);
  aimastery::matrix_multiply_to(A, PackedMatrix<double>(2.0 * Bt.transpose()), C);  // an expression, evaluated
  CHECK(C == 2.0 * expected);                                                       // (doubling is exact)
  const PackedMatrix<double> packed(B_col_major);
  aimastery::matrix_multiply_to(Eigen::MatrixXd(A), packed, C);  // a column-major A
  CHECK(C == expected);
  const double* storage = C.data();
  aimastery::matrix_multiply_to(A, packed, C);  // same shape: no new storage
  CHECK(C.data() == storage);
}

TEST_CASE("bad input to a product with a packed operand names the problem") {
  const Matrix<double> A = Matrix<double>::Ones(3, 4), B = Matrix<double>::Ones(4, 40);
  const PackedMatrix<double> packed(B);
  constexpr Index width = PackedMatrix<double>::panel_width;
  Matrix<double> C = Matrix<double>::Constant(2, 2, 7.0);
  const Matrix<double> before = C;
  CHECK_THROWS_NAMING(PackedMatrix<double>(Matrix<double>(0, 3)), InvalidArgument, "PackedMatrix: B is empty (0x3)");
  CHECK_THROWS_NAMING(aimastery::matrix_multiply_to(A, PackedMatrix<double>(), C), InvalidArgument,
                      "matrix_multiply_to: the packed B is empty");
  CHECK_THROWS_NAMING(aimastery::matrix_multiply_to(Matrix<double>(0, 4), packed, C), InvalidArgument,
                      "matrix_multiply_to: A is empty (0x4)");
  CHECK_THROWS_NAMING(aimastery::matrix_multiply_to(Matrix<double>::Ones(3, 5), packed, C), InvalidArgument,
                      "matrix_multiply_to: inner dimensions differ: A is 3x5 and the packed B is 4x40");
  CHECK_THROWS_NAMING(aimastery::matrix_multiply_to(A, packed, 0, 0, C), InvalidArgument,
                      "matrix_multiply_to: the column count must be at least 1, got 0");
  CHECK_THROWS_NAMING(aimastery::matrix_multiply_to(A, packed, 0, 41, C), InvalidArgument,
                      "matrix_multiply_to: 41 columns from column 0 leave the packed B's 40");
  CHECK_THROWS_NAMING(aimastery::matrix_multiply_to(A, packed, -width, 8, C), InvalidArgument,
                      "leave the packed B's 40");
  CHECK_THROWS_NAMING(aimastery::matrix_multiply_to(A, packed, 1, 8, C), InvalidArgument,
                      "matrix_multiply_to: the first column 1 is not a multiple of the panel width");
  CHECK(C == before);  // a call that throws leaves C as it was
}

TEST_CASE("bad input to a block-by-block packing names the problem and writes nothing") {
  constexpr Index width = PackedMatrix<double>::panel_width;
  const Index n = 3 * width + 2;
  CHECK_THROWS_NAMING(PackedMatrix<double>(0, 5), InvalidArgument,
                      "PackedMatrix: a packed matrix needs at least one row and one column, got 0x5");
  CHECK_THROWS_NAMING(PackedMatrix<double>(4, -1), InvalidArgument, "got 4x-1");
  PackedMatrix<double> packed(4, n);
  const Matrix<double> block = Matrix<double>::Ones(4, width);
  CHECK_THROWS_NAMING(packed.pack_columns(0, Matrix<double>(4, 0)), InvalidArgument,
                      "PackedMatrix::pack_columns: the block is empty (4x0)");
  CHECK_THROWS_NAMING(packed.pack_columns(0, Matrix<double>::Ones(3, width)), InvalidArgument,
                      "PackedMatrix::pack_columns: the block has 3 rows, the packed matrix 4");
  const std::string past_the_end = "PackedMatrix::pack_columns: " + std::to_string(width) + " columns from column " +
                                   std::to_string(3 * width) + " leave the packed matrix's " + std::to_string(n);
  CHECK_THROWS_NAMING(packed.pack_columns(3 * width, block), InvalidArgument, past_the_end.c_str());
  CHECK_THROWS_NAMING(packed.pack_columns(-width, block), InvalidArgument, "leave the packed matrix's");
  CHECK_THROWS_NAMING(packed.pack_columns(1, block), InvalidArgument,
                      "PackedMatrix::pack_columns: the first column 1 is not a multiple of the panel width");
  const std::string ragged =
      "not a multiple of the panel width " + std::to_string(width) + ", must end at the last column";
  CHECK_THROWS_NAMING(packed.pack_columns(0, Matrix<double>::Ones(4, width + 1)), InvalidArgument, ragged.c_str());
  // Nothing was written: the product with a matrix of ones is still zero.
  Matrix<double> C;
  aimastery::matrix_multiply_to(Matrix<double>::Ones(2, 4), packed, C);
  CHECK(C.isZero(0));
  packed.pack_columns(3 * width, Matrix<double>::Ones(4, 2));  // a ragged block that ends at the last column
  aimastery::matrix_multiply_to(Matrix<double>::Ones(2, 4), packed, C);
  CHECK(C.rightCols(2).isApproxToConstant(4.0));
  CHECK(C.leftCols(3 * width).isZero(0));
}
