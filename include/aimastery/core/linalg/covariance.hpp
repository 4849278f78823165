#pragma once
/// \file
/// covariance_matrix: the sample covariance of data with samples as rows, as numpy.cov(X, rowvar=False).

#include <Eigen/Core>

#include <string>

#include "aimastery/core/tensor.hpp"

namespace aimastery {
namespace detail {

/// The scatter matrix S = X_cᵀ X_c of already centred data (d x d, exactly symmetric: only the lower
/// triangle is computed, as a rank-n update, and mirrored).
template <class Derived>
Matrix<typename Derived::Scalar> scatter_matrix(const Eigen::MatrixBase<Derived>& centred) {
  using T = typename Derived::Scalar;
  const Index d = centred.cols();
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor> lower =
      Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>::Zero(d, d);
  lower.template selfadjointView<Eigen::Lower>().rankUpdate(centred.transpose());
  Matrix<T> full = lower.template selfadjointView<Eigen::Lower>();
  return full;
}

}  // namespace detail

/// Sample covariance of X (n samples as rows, d features as columns):
///   μ = (1/n) Σᵢ xᵢ,   Σ = (X − 1μᵀ)ᵀ (X − 1μᵀ) / (n − ddof).
/// ddof = 1 (the default, as numpy.cov) gives the unbiased estimate; ddof = 0 the maximum-likelihood
/// one, (1/n) X_cᵀ X_c, the form the seed writes for PCA. Requires n − ddof > 0. NaN and infinity
/// propagate into the result, as in NumPy.
template <class Derived>
Matrix<typename Derived::Scalar> covariance_matrix(const Eigen::MatrixBase<Derived>& X, Index ddof = 1) {
  using T = typename Derived::Scalar;
  static_assert(Scalar<T>, "covariance_matrix: X must hold float or double");
  constexpr const char* where = "covariance_matrix";
  check_not_empty(where, "X", X);
  const Index n = X.rows();
  require(n - ddof > 0, where, [&] {
    return "n_samples - ddof must be positive, got n_samples = " + std::to_string(n) +
           " and ddof = " + std::to_string(ddof);
  });
  const RowVector<T> mean = X.colwise().mean();
  const Matrix<T> centred = X.rowwise() - mean;
  Matrix<T> cov = detail::scatter_matrix(centred);
  cov /= static_cast<T>(n - ddof);
  return cov;
}

}  // namespace aimastery
