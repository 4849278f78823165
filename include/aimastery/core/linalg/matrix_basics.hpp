#pragma once
/// \file
/// Matrix basics of the seed: transpose, identity_matrix, trace.
///
/// Results are evaluated row-major Matrix<T> (never Eigen expressions). An empty matrix is an
/// InvalidArgument, as everywhere in aimastery; trace needs a square matrix.

#include <Eigen/Core>

#include <string>
#include <string_view>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// Aᵀ: B[i,j] = A[j,i], an n×m matrix for an m×n A.
template <class Derived>
Matrix<typename Derived::Scalar> transpose(const Eigen::MatrixBase<Derived>& A) {
  static_assert(Scalar<typename Derived::Scalar>, "transpose: the scalar type must be floating point");
  check_not_empty("transpose", "A", A);
  return A.transpose();
}

/// Iₙ: I[i,i] = 1 and I[i,j] = 0 for i ≠ j, the neutral element of matrix multiplication.
/// T defaults to double: identity_matrix(3), identity_matrix<float>(3). Throws for n < 1.
template <Scalar T = double>
Matrix<T> identity_matrix(Index n) {
  require(n >= 1, "identity_matrix", [&] { return "n must be at least 1, got " + std::to_string(n); });
  return Matrix<T>::Identity(n, n);
}

/// tr(A) = Σᵢ A[i,i], the sum of the diagonal of a square matrix (= the sum of its eigenvalues).
template <class Derived>
typename Derived::Scalar trace(const Eigen::MatrixBase<Derived>& A) {
  static_assert(Scalar<typename Derived::Scalar>, "trace: the scalar type must be floating point");
  check_not_empty("trace", "A", A);
  check_square("trace", "A", A);
  return A.diagonal().sum();
}

}  // namespace aimastery
