#pragma once
/// \file
/// Least squares min_w ‖A w − b‖ by Householder QR, for tall A (n ≫ d), streamed over blocks of rows.
///
/// Householder QR reduces M = [A | b] (n × (d+1)) to upper-triangular form by reflections
/// H_j = I − τ_j v_j v_jᵀ, each chosen to zero column j below the diagonal. Q = H_1 ⋯ H_{d+1} is never
/// formed: the reflections act on b as on the columns of A, so the triangle that results,
///     R̃ = [ R  z ]      (R d × d upper triangular, z = the first d entries of Qᵀb,
///         [ 0  ρ ]       |ρ| = the residual norm ‖A w − b‖),
/// gives w by one back substitution, R w = z. Unlike the normal equations (κ(AᵀA) = κ(A)²) and classical
/// Gram–Schmidt (Q loses orthogonality as κ(A) grows), this is backward stable.
///
/// Streaming (the idea of TSQR): the R̃ of a stack of rows is the R̃ of the stack [R̃ of the rows so far;
/// the next block], because orthogonal transformations preserve the least-squares problem. So the rows are
/// taken a block at a time (a few hundred rows of d+1 columns, which stay in cache) and folded into the
/// (d+1) × (d+1) triangle. For the stacked matrix the reflection of column j touches only row j of the
/// triangle and the block's rows:
///     α = R̃_jj, x = block column j;  β = −sign(α) √(α² + ‖x‖²);  v = [1; x / (α − β)];  τ = (β − α) / β
///     then every later column c: s = τ (R̃_jc + vᵀ block_c);  R̃_jc −= s;  block_c −= s v
/// (LAPACK's dlarfg/dlarf). Cost: 2 n (d+1)² flops, every one on data in cache.

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>

#include "aimastery/core/tensor.hpp"

namespace aimastery::detail {

/// The triangle R̃ of [A | b] (see above), accumulated block of rows by block of rows.
template <Scalar T>
class StreamingHouseholderQR {
 public:
  explicit StreamingHouseholderQR(Index n_features)
      : d_(n_features), R_(Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>::Zero(n_features + 1, n_features + 1)) {}

  /// Folds rows [A_rows | b_rows] into the triangle.
  template <class DA, class DB>
  void add_rows(const Eigen::MatrixBase<DA>& A_rows, const Eigen::MatrixBase<DB>& b_rows) {
    for (Index start = 0; start < A_rows.rows(); start += block_rows) {
      const Index m = std::min(block_rows, A_rows.rows() - start);
      block_.resize(m, d_ + 1);  // column-major: each column contiguous for the dots and updates below
      block_.leftCols(d_) = A_rows.middleRows(start, m);
      block_.col(d_) = b_rows.segment(start, m);
      squared_norm_ += block_.leftCols(d_).squaredNorm();
      fold_block();
    }
  }

  /// R (d × d, upper triangular) and z = (Qᵀb)[0, d).
  [[nodiscard]] auto R() const { return R_.topLeftCorner(d_, d_); }
  [[nodiscard]] auto z() const { return R_.col(d_).head(d_); }
  /// ‖A‖_F of every row added.
  [[nodiscard]] T frobenius_norm() const { return std::sqrt(squared_norm_); }

 private:
  static constexpr Index block_rows = 256;

  void fold_block() {
    auto& W = block_;
    for (Index j = 0; j <= d_; ++j) {
      auto x = W.col(j);
      const T sigma = x.squaredNorm();
      if (sigma == T(0)) continue;  // column j of the block is already zero: H_j = I
      const T alpha = R_(j, j);
      const T beta = -std::copysign(std::sqrt(alpha * alpha + sigma), alpha);
      const T tau = (beta - alpha) / beta;
      x /= (alpha - beta);  // the tail of v (its head is 1, at row j of the triangle)
      R_(j, j) = beta;
      for (Index c = j + 1; c <= d_; ++c) {
        const T s = tau * (R_(j, c) + x.dot(W.col(c)));
        R_(j, c) -= s;
        W.col(c) -= s * x;
      }
    }
  }

  Index d_;
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> R_;      ///< R̃, (d+1) × (d+1)
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> block_;  ///< the block being folded in
  T squared_norm_ = T(0);
};

}  // namespace aimastery::detail
