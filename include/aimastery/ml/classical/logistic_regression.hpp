#pragma once
/// \file
/// LogisticRegressionScratch: binary (sigmoid) and multinomial (softmax) logistic regression with an L2 penalty
/// of strength 1/C on the weights (not the intercept), as scikit-learn's LogisticRegression.
///
///   LogisticRegressionScratch<double> lr({.C = 1.0, .solver = LogisticSolver::lbfgs});
///   lr.fit(X, y);                        // any integer labels
///   Matrix<double> p = lr.predict_proba(X_test);
///
/// Objective (n samples, K classes, W the weights, b the intercepts):
///   F(W, b) = (1/n) Σᵢ ℓᵢ + ‖W‖² / (2Cn)
///   binary (K = 2, one weight vector w, yᵢ ∈ {0, 1}, zᵢ = wᵀxᵢ + b):  ℓᵢ = log(1 + e^{zᵢ}) − yᵢ zᵢ
///   multinomial (K > 2, zᵢ = W xᵢ + b ∈ ℝᴷ):                           ℓᵢ = log Σ_c e^{z_ic} − z_{i,yᵢ}
/// (scikit-learn's objective C·Σᵢ ℓᵢ + ½‖W‖² divided by Cn: the same minimiser.) Gradients:
///   ∇_W F = (1/n) (P − Y)ᵀ X + W / (Cn),   ∇_b F = (1/n) Σᵢ (pᵢ − yᵢ)
/// with P the predicted probabilities (sigmoid or softmax) and Y the one-hot labels.

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "aimastery/core/linalg/activations.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/detail/smooth_minimisation.hpp"
#include "aimastery/ml/classical/label_encoding.hpp"
#include "aimastery/ml/classical/metrics.hpp"
#include "aimastery/ml/classical/validation.hpp"

namespace aimastery {

/// How LogisticRegressionScratch minimises its objective.
enum class LogisticSolver {
  lbfgs,             ///< limited-memory BFGS with an Armijo line search (fast; the default)
  gradient_descent,  ///< fixed step 1/L (the lesson; slow on ill-conditioned data)
};

struct LogisticRegressionParams {
  /// Inverse L2 strength (scikit-learn's C); infinity means no penalty.
  double C = 1.0;
  bool fit_intercept = true;
  LogisticSolver solver = LogisticSolver::lbfgs;
  /// At most this many iterations (L-BFGS steps or gradient steps).
  int max_iter = 1000;
  /// Stop when the largest entry of ∇F is ≤ tol (scipy's `gtol`, as scikit-learn uses it).
  double tol = 1e-4;
  /// gradient_descent only: the step (0: 1/L with L a bound on the Lipschitz constant of ∇F).
  double learning_rate = 0.0;
  /// lbfgs only: number of stored curvature pairs.
  int memory = 10;
};

template <Scalar T>
class LogisticRegressionScratch {
 public:
  using Params = LogisticRegressionParams;

  explicit LogisticRegressionScratch(Params params = {}) : params_(params) {
    constexpr std::string_view where = "LogisticRegressionScratch";
    require(params_.C > 0 && !std::isnan(params_.C), where,
            [&] { return "C must be > 0, got " + std::to_string(params_.C); });
    require(params_.max_iter >= 1, where,
            [&] { return "max_iter must be at least 1, got " + std::to_string(params_.max_iter); });
    require(params_.tol >= 0, where, [&] { return "tol must be >= 0, got " + std::to_string(params_.tol); });
    require(params_.memory >= 1, where,
            [&] { return "memory must be at least 1, got " + std::to_string(params_.memory); });
    require(params_.learning_rate >= 0 && std::isfinite(params_.learning_rate), where,
            [&] { return "learning_rate must be finite and >= 0, got " + std::to_string(params_.learning_rate); });
    require(params_.learning_rate == 0 || params_.solver == LogisticSolver::gradient_descent, where,
            "learning_rate applies only to solver gradient_descent");
  }

  template <class DX>
  LogisticRegressionScratch& fit(const Eigen::MatrixBase<DX>& X, const Eigen::Ref<const IndexVector>& y) {
    constexpr std::string_view where = "LogisticRegressionScratch::fit";
    check_fit_input(where, X, y);
    const MatrixRef<T> Xr(X);
    // The new state is built aside and swapped in at the end: a fit that throws leaves the model as it was.
    LabelEncoding encoding;
    const IndexVector codes = encoding.fit(y);
    const Index k = encoding.n_classes(), d = X.cols();
    Matrix<T> coefficients;
    Vector<T> intercept;
    detail::MinimisationResult<T> result;
    if (k == 1) {  // one class: nothing to learn, every sample gets it with probability 1
      coefficients = Matrix<T>::Zero(1, d);
      intercept = Vector<T>::Zero(1);
      result.value = T(0);
      result.iterations = 0;
      result.converged = true;
    } else {
      const Index outputs = k == 2 ? 1 : k;
      const Index size = outputs * d + (params_.fit_intercept ? outputs : 0);
      auto objective = [&](const Vector<T>& theta, Vector<T>& gradient) {
        return evaluate(Xr, codes, outputs, theta, &gradient);
      };
      const T tol = static_cast<T>(params_.tol);
      if (params_.solver == LogisticSolver::lbfgs) {
        result = detail::lbfgs<T>(objective, Vector<T>::Zero(size), params_.memory, params_.max_iter, tol);
      } else {
        const T step =
            params_.learning_rate > 0 ? static_cast<T>(params_.learning_rate) : T(1) / lipschitz_bound(Xr, outputs);
        result = detail::gradient_descent<T>(objective, Vector<T>::Zero(size), step, params_.max_iter, tol);
      }
      coefficients = Eigen::Map<const Matrix<T>>(result.x.data(), outputs, d);
      intercept = params_.fit_intercept ? Vector<T>(result.x.tail(outputs)) : Vector<T>(Vector<T>::Zero(outputs));
    }
    encoding_ = std::move(encoding);
    coefficients_.swap(coefficients);
    intercept_.swap(intercept);
    iterations_ = result.iterations;
    converged_ = result.converged;
    loss_ = result.value;
    n_features_ = d;
    fitted_ = true;
    return *this;
  }

  /// Raw scores: z = Xwᵀ + b (n x 1 for two classes, n x K otherwise).
  template <class DX>
  [[nodiscard]] Matrix<T> decision_function(const Eigen::MatrixBase<DX>& X) const {
    check_predict_input("LogisticRegressionScratch::decision_function", fitted_, X, n_features_);
    return scores(X);
  }

  /// P(class | x): [1 − σ(z), σ(z)] for two classes, softmax(z) for more; columns in classes() order.
  template <class DX>
  [[nodiscard]] Matrix<T> predict_proba(const Eigen::MatrixBase<DX>& X) const {
    check_predict_input("LogisticRegressionScratch::predict_proba", fitted_, X, n_features_);
    return proba_unchecked(X);
  }

  /// The class of largest probability, as the original labels.
  template <class DX>
  [[nodiscard]] IndexVector predict(const Eigen::MatrixBase<DX>& X) const {
    check_predict_input("LogisticRegressionScratch::predict", fitted_, X, n_features_);
    const Matrix<T> proba = proba_unchecked(X);
    IndexVector codes(proba.rows());
    for (Index i = 0; i < proba.rows(); ++i) proba.row(i).maxCoeff(&codes(i));
    return encoding_.decode(codes);
  }

  /// Accuracy of predict(X) against y.
  template <class DX>
  [[nodiscard]] double score(const Eigen::MatrixBase<DX>& X, const Eigen::Ref<const IndexVector>& y) const {
    check_predict_input("LogisticRegressionScratch::score", fitted_, X, n_features_);
    check_samples_match("LogisticRegressionScratch::score", X, y);
    return accuracy_score(y, predict(X));
  }

  /// The objective F (see the top of this file) of the fitted model on (X, y).
  template <class DX>
  [[nodiscard]] T objective(const Eigen::MatrixBase<DX>& X, const Eigen::Ref<const IndexVector>& y) const {
    constexpr std::string_view where = "LogisticRegressionScratch::objective";
    check_predict_input(where, fitted_, X, n_features_);
    check_samples_match(where, X, y);
    const IndexVector codes = encoding_.encode(y, where);
    if (encoding_.n_classes() == 1) return T(0);
    const Index outputs = coefficients_.rows();
    Vector<T> theta(outputs * n_features_ + (params_.fit_intercept ? outputs : 0));
    theta.head(outputs * n_features_) = Eigen::Map<const Vector<T>>(coefficients_.data(), outputs * n_features_);
    if (params_.fit_intercept) theta.tail(outputs) = intercept_;
    return evaluate(MatrixRef<T>(X), codes, outputs, theta, nullptr);
  }

  [[nodiscard]] const IndexVector& classes() const noexcept { return encoding_.classes(); }
  [[nodiscard]] const Params& params() const noexcept { return params_; }
  [[nodiscard]] bool fitted() const noexcept { return fitted_; }
  [[nodiscard]] Index n_features() const noexcept { return n_features_; }
  /// Weights: 1 x d for two classes (the weights of classes()(1)), K x d otherwise (scikit-learn's coef_).
  [[nodiscard]] const Matrix<T>& coefficients() const noexcept { return coefficients_; }
  [[nodiscard]] const Vector<T>& intercept() const noexcept { return intercept_; }
  /// The objective F at the end of fit (on the training data).
  [[nodiscard]] T loss() const noexcept { return loss_; }
  [[nodiscard]] Index iterations() const noexcept { return iterations_; }
  [[nodiscard]] bool converged() const noexcept { return converged_; }

 private:
  static constexpr Index block_rows = 512;  // rows per pass: a block of X stays in cache for both products

  T inverse_cn(Index n) const {
    return std::isinf(params_.C) ? T(0) : T(1) / (static_cast<T>(params_.C) * static_cast<T>(n));
  }

  /// F(θ) and, when `gradient` is given, ∇F(θ); θ = [W row by row, b]. One pass over X in blocks: the
  /// block's scores Z = X_B Wᵀ + b are turned in place into the residuals P − Y, then ∇_W += (P − Y)ᵀ X_B.
  T evaluate(const MatrixRef<T>& X, const IndexVector& codes, Index outputs, const Vector<T>& theta,
             Vector<T>* gradient) const {
    const Index n = X.rows(), d = X.cols();
    const Eigen::Map<const Matrix<T>> W(theta.data(), outputs, d);
    const Vector<T> b = params_.fit_intercept ? Vector<T>(theta.tail(outputs)) : Vector<T>(Vector<T>::Zero(outputs));
    Matrix<T> grad_W = Matrix<T>::Zero(outputs, d);
    Vector<T> grad_b = Vector<T>::Zero(outputs);
    double total = 0;
    Matrix<T> Z;
    Vector<T> z;
    for (Index start = 0; start < n; start += block_rows) {
      const Index rows = std::min(block_rows, n - start);
      const auto Xb = X.middleRows(start, rows);
      if (outputs == 1) {
        // Matrix-vector products for the single weight vector (a GEMM with one column wastes its packing).
        // ℓ = log(1 + e^z) − y z = max(z, 0) + log(1 + e^{−|z|}) − y z;  σ(z) from the same e^{−|z|}.
        z.noalias() = Xb * W.row(0).transpose();
        for (Index i = 0; i < rows; ++i) {
          const T zi = z(i) + b(0);
          const T e = std::exp(-std::abs(zi));
          const T label = static_cast<T>(codes(start + i));
          total += static_cast<double>(std::max(zi, T(0)) + std::log1p(e) - label * zi);
          z(i) = (zi >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e)) - label;
        }
        if (gradient) {
          grad_W.row(0).noalias() += z.transpose() * Xb;
          grad_b(0) += z.sum();
        }
        continue;
      }
      Z.noalias() = Xb * W.transpose();
      Z.rowwise() += b.transpose();
      {
        // ℓ = log Σ_c e^{z_c} − z_y;  p = e^{z − log Σ e^z}.
        for (Index i = 0; i < rows; ++i) {
          auto row = Z.row(i);
          const T lse = detail::log_sum_exp_of(row);
          const Index label = codes(start + i);
          total += static_cast<double>(lse - row(label));
          row = (row.array() - lse).exp().matrix();
          row(label) -= T(1);
        }
      }
      if (gradient) {
        grad_W.noalias() += Z.transpose() * Xb;
        grad_b += Z.colwise().sum().transpose();
      }
    }
    const T inv_n = T(1) / static_cast<T>(n);
    const T penalty = inverse_cn(n);
    const T value = static_cast<T>(total) * inv_n + T(0.5) * penalty * W.squaredNorm();
    if (gradient) {
      gradient->resize(theta.size());
      Eigen::Map<Matrix<T>>(gradient->data(), outputs, d) = grad_W * inv_n + penalty * W;
      if (params_.fit_intercept) gradient->tail(outputs) = grad_b * inv_n;
    }
    return value;
  }

  /// L ≤ c·λ_max(X̃ᵀX̃)/n + 1/(Cn), X̃ = [X, 1] (with an intercept); c = ¼ for the sigmoid (σ' ≤ ¼), ½ for the
  /// softmax (‖diag(p) − ppᵀ‖ ≤ ½).
  T lipschitz_bound(const MatrixRef<T>& X, Index outputs) const {
    const Index n = X.rows(), d = X.cols();
    const Index extra = params_.fit_intercept ? 1 : 0;
    Matrix<T> gram(d + extra, d + extra);
    gram.topLeftCorner(d, d).noalias() = X.transpose() * X;
    if (extra) {
      const Vector<T> column_sums = X.colwise().sum().transpose();
      gram.topRightCorner(d, 1) = column_sums;
      gram.bottomLeftCorner(1, d) = column_sums.transpose();
      gram(d, d) = static_cast<T>(n);
    }
    const T curvature = outputs == 1 ? T(0.25) : T(0.5);
    const T bound = curvature * detail::largest_eigenvalue_bound(gram) / static_cast<T>(n) + inverse_cn(n);
    return bound > T(0) ? bound : T(1);
  }

  template <class DX>
  Matrix<T> scores(const Eigen::MatrixBase<DX>& X) const {
    Matrix<T> Z = X * coefficients_.transpose();
    Z.rowwise() += intercept_.transpose();
    return Z;
  }

  template <class DX>
  Matrix<T> proba_unchecked(const Eigen::MatrixBase<DX>& X) const {
    if (encoding_.n_classes() == 1) return Matrix<T>::Ones(X.rows(), 1);
    const Matrix<T> Z = scores(X);
    if (Z.cols() > 1) return softmax(Z);
    Matrix<T> proba(X.rows(), 2);
    proba.col(1) = sigmoid(Z.col(0));
    proba.col(0) = (T(1) - proba.col(1).array()).matrix();
    return proba;
  }

  template <class>
  friend struct ModelCodec;  // reads and restores the fitted state (production/deployment)

  Params params_;
  LabelEncoding encoding_;
  Matrix<T> coefficients_;
  Vector<T> intercept_;
  T loss_ = T(0);
  Index n_features_ = 0;
  Index iterations_ = 0;
  bool converged_ = false;
  bool fitted_ = false;
};

}  // namespace aimastery
