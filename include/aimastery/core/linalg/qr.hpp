#pragma once
/// \file
/// gram_schmidt and qr_decomposition: orthonormal bases by modified Gram–Schmidt with
/// re-orthogonalisation ("twice is enough", Giraud, Langou & Rozložník 2005).

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// The result of gram_schmidt: an orthonormal basis of the span of A's columns.
template <Scalar T>
struct GramSchmidtResult {
  Matrix<T> Q;                           ///< m x rank, orthonormal columns (QᵀQ = I)
  Index rank = 0;                        ///< number of independent columns found
  std::vector<Index> dependent_columns;  ///< columns of A (0-based) that added nothing new
};

/// The result of qr_decomposition: A = Q R.
template <Scalar T>
struct QRResult {
  Matrix<T> Q;     ///< m x k with k = min(m, n), orthonormal columns (QᵀQ = I)
  Matrix<T> R;     ///< k x n, upper triangular (upper trapezoidal when n > m)
  Index rank = 0;  ///< columns of A found independent; R(j, j) = 0 for the others
};

namespace detail {

/// Storage of a basis under construction: column-major, so each basis vector is contiguous.
template <Scalar T>
using BasisMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

/// Modified Gram–Schmidt of v against the first `count` columns of q, repeated ("twice is enough"):
///   for i = 0..count−1:  rᵢ = qᵢᵀ v,  v ← v − rᵢ qᵢ
/// One pass leaves v orthogonal to the qᵢ only up to ε·κ; a second pass restores orthogonality to
/// working precision. A third pass runs only when the second one still removed more than half of
/// v's norm (the Kahan–Parlett test). The coefficients of all passes are summed into `coefficients`.
template <Scalar T>
void orthogonalize_twice(const BasisMatrix<T>& q, Index count, Eigen::Ref<Vector<T>> v,
                         Eigen::Ref<Vector<T>> coefficients) {
  coefficients.head(count).setZero();
  T previous = v.norm();
  for (int pass = 0; pass < 3; ++pass) {
    for (Index i = 0; i < count; ++i) {
      const T r = q.col(i).dot(v);
      v -= r * q.col(i);
      coefficients(i) += r;
    }
    const T now = v.norm();
    if (pass >= 1 && now >= T(0.5) * previous) break;
    previous = now;
  }
}

/// The default threshold of "numerically dependent": 10 · max(m, n) · ε, relative to ‖A‖_F. It is
/// numpy.linalg.matrix_rank's rule (σ_max · max(m, n) · ε) applied to Gram–Schmidt residuals, with
/// headroom for the rounding that a nearly dependent earlier column leaves in later residuals.
template <Scalar T>
T default_rank_tolerance(Index rows, Index cols) {
  return T(10) * static_cast<T>(std::max(rows, cols)) * std::numeric_limits<T>::epsilon();
}

template <class Derived>
void check_gram_schmidt_input(const char* where, const Eigen::MatrixBase<Derived>& A,
                              std::optional<typename Derived::Scalar> tolerance) {
  check_not_empty(where, "A", A);
  check_finite(where, "A", A);
  if (tolerance)
    require(*tolerance >= 0, where,
            [&] { return "tolerance must be non-negative, got " + std::to_string(*tolerance); });
}

}  // namespace detail

/// Orthonormalises the columns of A (m x n, each column one vector) by modified Gram–Schmidt with
/// re-orthogonalisation:
///   uⱼ = aⱼ − Σ_{i<j} (qᵢᵀ aⱼ) qᵢ   (twice),    qⱼ = uⱼ / ‖uⱼ‖.
/// A column whose residual satisfies ‖uⱼ‖ ≤ tolerance · ‖A‖_F lies (numerically) in the span of the
/// earlier ones: it is listed in `dependent_columns` and contributes no basis vector, so Q has `rank`
/// columns. Default tolerance: 10 · max(m, n) · ε.
template <class Derived>
GramSchmidtResult<typename Derived::Scalar> gram_schmidt(
    const Eigen::MatrixBase<Derived>& A, std::optional<typename Derived::Scalar> tolerance = std::nullopt) {
  using T = typename Derived::Scalar;
  static_assert(Scalar<T>, "gram_schmidt: A must hold float or double");
  detail::check_gram_schmidt_input("gram_schmidt", A, tolerance);
  const Index m = A.rows();
  const Index n = A.cols();
  const T threshold = tolerance.value_or(detail::default_rank_tolerance<T>(m, n)) * A.norm();

  detail::BasisMatrix<T> q(m, std::min(m, n));
  Vector<T> v(m);
  Vector<T> coefficients(std::min(m, n));
  GramSchmidtResult<T> result;
  for (Index j = 0; j < n; ++j) {
    v = A.col(j);
    detail::orthogonalize_twice<T>(q, result.rank, v, coefficients);
    const T norm = v.norm();
    if (result.rank == q.cols() || norm <= threshold || norm == T(0)) {
      result.dependent_columns.push_back(j);
      continue;
    }
    q.col(result.rank++) = v / norm;
  }
  result.Q = q.leftCols(result.rank);
  return result;
}

/// A = Q R by Gram–Schmidt (thin form): with k = min(m, n), Q is m x k with orthonormal columns and
/// R is k x n upper triangular (trapezoidal when n > m); R(i, j) = qᵢᵀ aⱼ and R(j, j) = ‖uⱼ‖.
/// Column j is processed as in gram_schmidt. When it is numerically dependent (see gram_schmidt for
/// the tolerance) R(j, j) = 0, and Q is completed with a unit vector orthogonal to all earlier ones
/// (the coordinate vector eᵢ least represented in the current Q, i.e. with the smallest row norm,
/// orthogonalised twice), so that Q stays orthonormal for rank-deficient and ill-conditioned A.
/// Once Q has m columns (m < n), the remaining columns only get their coefficients R(:, j) = Qᵀ aⱼ.
template <class Derived>
QRResult<typename Derived::Scalar> qr_decomposition(const Eigen::MatrixBase<Derived>& A,
                                                    std::optional<typename Derived::Scalar> tolerance = std::nullopt) {
  using T = typename Derived::Scalar;
  static_assert(Scalar<T>, "qr_decomposition: A must hold float or double");
  detail::check_gram_schmidt_input("qr_decomposition", A, tolerance);
  const Index m = A.rows();
  const Index n = A.cols();
  const Index k = std::min(m, n);
  const T threshold = tolerance.value_or(detail::default_rank_tolerance<T>(m, n)) * A.norm();

  detail::BasisMatrix<T> q(m, k);
  Matrix<T> r = Matrix<T>::Zero(k, n);
  Vector<T> v(m);
  Vector<T> coefficients(k);
  QRResult<T> result;
  for (Index j = 0; j < n; ++j) {
    const Index basis = std::min(j, k);  // columns of Q built so far
    v = A.col(j);
    detail::orthogonalize_twice<T>(q, basis, v, coefficients);
    r.col(j).head(basis) = coefficients.head(basis);
    if (j >= k) continue;  // Q is already square: a_j lies in its span
    const T norm = v.norm();
    if (norm > threshold && norm > T(0)) {
      r(j, j) = norm;
      q.col(j) = v / norm;
      ++result.rank;
      continue;
    }
    // Dependent column: R(j, j) = 0 and Q is completed with the coordinate direction that the
    // current basis represents least (its residual norm² is 1 − ‖Q(i, :)‖² ≥ 1 − j/m > 0).
    Index least = 0;
    if (j > 0) q.leftCols(j).rowwise().squaredNorm().minCoeff(&least);
    v = Vector<T>::Unit(m, least);
    detail::orthogonalize_twice<T>(q, j, v, coefficients);
    q.col(j) = v / v.norm();
  }
  result.Q = q;
  result.R = std::move(r);
  return result;
}

}  // namespace aimastery
