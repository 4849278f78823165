#include "aimastery/core/tensor.hpp"

#include "support.hpp"

using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::Tensor;
using aimastery::Vector;

TEST_CASE_TEMPLATE("Tensor is contiguous and row-major, with matrix views of its axes", T, float, double) {
  Tensor<T> t({2, 3, 4});
  CHECK(t.rank() == 3);
  CHECK(t.size() == 24);
  CHECK(t.dim(1) == 3);
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 3; ++j)
      for (Index k = 0; k < 4; ++k) t(i, j, k) = static_cast<T>(100 * i + 10 * j + k);
  // Row-major: the last index is contiguous.
  CHECK(t.data()[1] == T(1));
  CHECK(t.data()[4] == T(10));
  CHECK(t.data()[12] == T(100));
  // (2·3) × 4 view: rows are the (i, j) pairs.
  const auto m = t.matrix();
  CHECK(m.rows() == 6);
  CHECK(m.cols() == 4);
  CHECK(m(4, 2) == T(112));
  // The second block along axis 0 as a 3 × 4 matrix, writable in place.
  auto s = t.slice_matrix(1);
  CHECK(s(2, 3) == T(123));
  s(0, 0) = T(-1);
  CHECK(t(1, 0, 0) == T(-1));
  t.reshape({4, 6});
  CHECK(t(2, 0) == T(-1));
  CHECK(Tensor<T>::shape_string(t.shape()) == "(4, 6)");
}

TEST_CASE("Tensor::from_matrix copies a matrix") {
  Matrix<double> m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  const auto t = Tensor<double>::from_matrix(m);
  CHECK(t.shape() == Tensor<double>::Shape{2, 3});
  CHECK(t(1, 2) == 6.0);
  CHECK(t.matrix(3, 2)(2, 1) == 6.0);
}

TEST_CASE("Tensor rejects impossible shapes and views") {
  Tensor<double> t({2, 3});
  CHECK_THROWS_NAMING(t.reshape({4, 2}), InvalidArgument, "Tensor::reshape: cannot view (2, 3) as (4, 2)");
  CHECK_THROWS_NAMING(t.matrix(5, 1), InvalidArgument, "Tensor::matrix: cannot view (2, 3) as 5x1");
  CHECK_THROWS_NAMING(t.slice_matrix(2), InvalidArgument, "index 2 out of range for axis 0");
  CHECK_THROWS_NAMING(Tensor<double>({3}).slice_matrix(0), InvalidArgument, "needs rank >= 2");
  CHECK_THROWS_NAMING(t.dim(2), InvalidArgument, "Tensor::dim: axis 2 out of range for a rank-2 tensor");
  CHECK_THROWS_NAMING(Tensor<double>({2, -1}), InvalidArgument, "negative dimension in shape (2, -1)");
}

TEST_CASE("shape checks name the function, the objects and both shapes") {
  Matrix<double> a(2, 3), b(3, 3), empty(0, 3);
  a.setZero();
  b.setZero();
  Vector<double> y(4);
  y.setZero();
  CHECK_THROWS_NAMING(aimastery::check_square("f", "A", a), InvalidArgument, "f: A must be square, got 2x3");
  CHECK_NOTHROW(aimastery::check_square("f", "B", b));
  CHECK_THROWS_NAMING(aimastery::check_not_empty("f", "X", empty), InvalidArgument, "f: X is empty (0x3)");
  CHECK_THROWS_NAMING(aimastery::check_same_shape("f", "A", a, "B", b), InvalidArgument, "f: A is 2x3 but B is 3x3");
  CHECK_THROWS_NAMING(aimastery::check_same_size("f", "A", a, "y", y), InvalidArgument, "A has 6 elements but y has 4");
  CHECK_THROWS_NAMING(aimastery::check_samples_match("g", a, y), InvalidArgument,
                      "g: X has 2 samples (rows) but y has 4");
  CHECK_THROWS_NAMING(aimastery::check_features("g", a, 4), InvalidArgument,
                      "X has 3 features, the model was fitted on 4");
  a(1, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_NAMING(aimastery::check_finite("h", "X", a), InvalidArgument, "h: X contains NaN or infinity");
  CHECK_THROWS_NAMING(aimastery::require(false, "k", "went wrong"), InvalidArgument, "k: went wrong");
  CHECK_NOTHROW(aimastery::require(true, "k", "fine"));
}
