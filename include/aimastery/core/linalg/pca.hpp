#pragma once
/// \file
/// PCA: principal component analysis from the eigendecomposition of the sample covariance.

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <type_traits>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/linalg/covariance.hpp"
#include "aimastery/core/linalg/symmetric_eigen.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

struct PCAOptions {
  /// Components kept, 1 ≤ k ≤ min(n_samples, n_features); unset keeps min(n_samples, n_features).
  std::optional<Index> n_components = std::nullopt;
  /// Scale each projected coordinate to unit variance (divide by √explained_variance).
  bool whiten = false;
  /// Bound on the eigensolver's implicit QR sweeps (eigendecomposition's max_iterations); unset is its
  /// default, 30·n_features. When it runs out, fit keeps the approximation and converged() is false.
  std::optional<Index> max_eigen_iterations = std::nullopt;
};

/// Principal component analysis (as scikit-learn's PCA with svd_solver="full"):
///   1. centre:         X_c = X − 1μᵀ,  μ the column means;
///   2. covariance:     Σ = X_cᵀ X_c / (n − 1)   (the seed writes 1/n; scikit-learn's explained
///                      variance uses n − 1, and so does this class; the directions are the same);
///   3. eigendecompose: Σ = V Λ Vᵀ with λ₁ ≥ λ₂ ≥ … (the library's own eigendecomposition);
///   4. project:        X_new = X_c V[:, :k]   (divided by √λⱼ per column when whitening).
/// explained_variance = λ₁..λ_k, explained_variance_ratio = λⱼ / trace(Σ), singular values of X_c
/// sⱼ = √((n − 1) λⱼ). Signs are deterministic and equal scikit-learn's (≥ 1.5) svd_flip with
/// u_based_decision=False: in each component vⱼ the entry of largest magnitude (the first one on
/// ties) is made positive. (scikit-learn ≤ 1.4 made the largest score X_c vⱼ positive instead.)
/// Negative rounding noise in λ is clamped to 0; a whitened coordinate of a zero-variance
/// component is 0.
template <Scalar T>
class PCA {
 public:
  explicit PCA(PCAOptions options = {}) : options_(options) {}

  /// Learns the mean, the components and their variances from X (samples as rows). Returns *this.
  ///
  /// Throws InvalidArgument for empty X, NaN/infinity, fewer than 2 samples, a bad n_components, and
  /// for X whose mean or covariance overflows T (values near √max of T: rescale X first). A call that
  /// throws leaves the model exactly as it was: the new state is built aside and swapped in at the end.
  /// An eigensolver that runs out of sweeps (`PCAOptions::max_eigen_iterations`) does not throw: the
  /// fit keeps the current approximation and reports it through converged() = false.
  PCA& fit(const MatrixRef<T>& X) {
    constexpr const char* where = "PCA::fit";
    check_not_empty(where, "X", X);
    check_finite(where, "X", X);
    const Index n = X.rows();
    const Index d = X.cols();
    require(n >= 2, where, [&] { return "needs at least 2 samples, got " + std::to_string(n); });
    const Index max_components = std::min(n, d);
    const Index k = options_.n_components.value_or(max_components);
    require(k >= 1 && k <= max_components, where, [&] {
      return "n_components = " + std::to_string(k) +
             " must be between 1 and min(n_samples, n_features) = " + std::to_string(max_components) +
             " for X of shape " + shape_of(X);
    });
    if (options_.max_eigen_iterations)
      require(*options_.max_eigen_iterations >= 1, where, [&] {
        return "max_eigen_iterations must be at least 1, got " + std::to_string(*options_.max_eigen_iterations);
      });

    Vector<T> mean = X.colwise().mean().transpose();
    const Matrix<T> centred = X.rowwise() - mean.transpose();
    Matrix<T> covariance = detail::scatter_matrix(centred);
    // Finite X can still overflow here: the column sums, the centred values or the sums of squares
    // (|x| beyond about √max of T). The trace of the scatter matrix bounds every (n − 1) λⱼ.
    if (!mean.allFinite() || !covariance.allFinite() || !std::isfinite(covariance.trace()))
      fail(where, "the covariance of X overflows " + std::string(std::is_same_v<T, float> ? "float" : "double") +
                      " (max|X| = " + std::to_string(static_cast<double>(X.cwiseAbs().maxCoeff())) +
                      "); rescale X, e.g. divide it by its largest magnitude");
    covariance /= static_cast<T>(n - 1);
    const EigenResult<T> eig = eigendecomposition(covariance, options_.max_eigen_iterations);

    Matrix<T> components = eig.vectors.leftCols(k).transpose();
    // svd_flip (v-based): the largest-magnitude entry of each component is positive.
    for (Index j = 0; j < k; ++j) {
      Index argmax = 0;
      components.row(j).cwiseAbs().maxCoeff(&argmax);
      if (components(j, argmax) < T(0)) components.row(j) *= T(-1);
    }
    Vector<T> explained_variance = eig.values.head(k).cwiseMax(T(0));
    const T total_variance = covariance.trace();
    Vector<T> explained_variance_ratio =
        total_variance > T(0) ? Vector<T>(explained_variance / total_variance) : Vector<T>(Vector<T>::Zero(k));
    Vector<T> singular_values = (explained_variance * static_cast<T>(n - 1)).cwiseSqrt();

    // Nothing below throws: swap the new state in.
    mean_.swap(mean);
    components_.swap(components);
    explained_variance_.swap(explained_variance);
    explained_variance_ratio_.swap(explained_variance_ratio);
    singular_values_.swap(singular_values);
    converged_ = eig.converged;
    n_samples_ = n;
    return *this;
  }

  /// X_new = (X − 1μᵀ) Vₖ, divided column-wise by √explained_variance when whitening.
  [[nodiscard]] Matrix<T> transform(const MatrixRef<T>& X) const {
    constexpr const char* where = "PCA::transform";
    check_fitted(where);
    check_features(where, X, mean_.size());
    check_finite(where, "X", X);
    Matrix<T> projected = (X.rowwise() - mean_.transpose()) * components_.transpose();
    if (options_.whiten) projected = projected * whitening_scale().asDiagonal();
    return projected;
  }

  /// fit(X) followed by transform(X).
  Matrix<T> fit_transform(const MatrixRef<T>& X) { return fit(X).transform(X); }

  /// Back to feature space: X ≈ Y Vₖᵀ + 1μᵀ (Y multiplied by √explained_variance first when whitening).
  [[nodiscard]] Matrix<T> inverse_transform(const MatrixRef<T>& Y) const {
    constexpr const char* where = "PCA::inverse_transform";
    check_fitted(where);
    require(Y.cols() == components_.rows(), where, [&] {
      return "Y has " + std::to_string(Y.cols()) + " columns, the model has " + std::to_string(components_.rows()) +
             " components";
    });
    check_finite(where, "Y", Y);
    Matrix<T> restored = options_.whiten ? Matrix<T>(Y * explained_variance_.cwiseSqrt().asDiagonal() * components_)
                                         : Matrix<T>(Y * components_);
    restored.rowwise() += mean_.transpose();
    return restored;
  }

  /// Principal axes as rows (n_components x n_features), unit length, by decreasing variance.
  [[nodiscard]] const Matrix<T>& components() const { return fitted("PCA::components", components_); }
  /// Variance of the data along each component (ddof = 1): the eigenvalues of the covariance.
  [[nodiscard]] const Vector<T>& explained_variance() const {
    return fitted("PCA::explained_variance", explained_variance_);
  }
  /// Fraction of the total variance (trace of the covariance) along each component.
  [[nodiscard]] const Vector<T>& explained_variance_ratio() const {
    return fitted("PCA::explained_variance_ratio", explained_variance_ratio_);
  }
  /// Singular values of the centred data, sⱼ = √((n − 1) λⱼ).
  [[nodiscard]] const Vector<T>& singular_values() const { return fitted("PCA::singular_values", singular_values_); }
  /// Per-feature mean of the training data.
  [[nodiscard]] const Vector<T>& mean() const { return fitted("PCA::mean", mean_); }
  [[nodiscard]] Index n_components() const { return fitted("PCA::n_components", components_).rows(); }
  [[nodiscard]] const PCAOptions& options() const noexcept { return options_; }
  [[nodiscard]] bool is_fitted() const noexcept { return n_samples_ > 0; }
  /// Whether the last fit's eigendecomposition converged (false only when max_eigen_iterations ran
  /// out; the components are then an approximation). Check it after fitting with a sweep bound.
  [[nodiscard]] bool converged() const { return fitted("PCA::converged", converged_); }

 private:
  void check_fitted(const char* where) const {
    if (!is_fitted()) throw NotFittedError(std::string(where) + ": this PCA is not fitted yet; call fit first");
  }
  template <class Value>
  const Value& fitted(const char* where, const Value& value) const {
    check_fitted(where);
    return value;
  }
  /// 1/√λⱼ, or 0 for a component without variance.
  Vector<T> whitening_scale() const {
    return explained_variance_.unaryExpr([](T v) { return v > T(0) ? T(1) / std::sqrt(v) : T(0); });
  }

  PCAOptions options_;
  Vector<T> mean_;
  Matrix<T> components_;
  Vector<T> explained_variance_;
  Vector<T> explained_variance_ratio_;
  Vector<T> singular_values_;
  bool converged_ = false;
  Index n_samples_ = 0;
};

}  // namespace aimastery
