#pragma once
/// \file
/// LinearRegressionScratch: least squares with an optional L2 (ridge) or L1 (lasso) penalty and an unpenalised
/// intercept (scikit-learn's LinearRegression, Ridge and Lasso in one estimator).
///
///   LinearRegressionScratch<double> ols;                                        // QR, no penalty
///   LinearRegressionScratch<double> ridge({.alpha = 1.0});                      // Ridge
///   LinearRegressionScratch<double> lasso({.penalty = Penalty::l1, .alpha = 0.1});  // Lasso, coordinate descent
///
/// Objectives (w the coefficients, b the intercept, n samples):
///   penalty l2:  ‖y − Xw − b‖² + α‖w‖²             (α = 0 is ordinary least squares; scikit-learn's Ridge)
///   penalty l1:  (1/2n)‖y − Xw − b‖² + α‖w‖₁        (scikit-learn's Lasso)
/// With fit_intercept the intercept is removed by centring: with x̄, ȳ the column means, the problem in w is the
/// same on X − x̄ and y − ȳ, and b = ȳ − x̄ᵀw; so b is never penalised.

#include <Eigen/Cholesky>
#include <Eigen/QR>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "aimastery/core/tensor.hpp"
#include "aimastery/detail/smooth_minimisation.hpp"
#include "aimastery/ml/classical/least_squares.hpp"
#include "aimastery/ml/classical/metrics.hpp"
#include "aimastery/ml/classical/validation.hpp"

namespace aimastery {

/// The penalty on the coefficients (never on the intercept).
enum class Penalty { l2, l1 };

/// How LinearRegressionScratch solves its problem.
enum class LinearSolver {
  automatic,           ///< l2: cholesky, or qr when XᵀX is ill-conditioned; l1: coordinate_descent
  qr,                  ///< l2: least squares by Householder QR (least_squares.hpp)
  cholesky,            ///< l2: normal equations (XᵀX + αI) w = Xᵀy through a Cholesky factorisation
  gradient_descent,    ///< l2: gradient descent; l1: proximal gradient (ISTA); fixed step 1/L
  coordinate_descent,  ///< l1 or l2: cyclic coordinate descent with exact coordinate minimisation
};

struct LinearRegressionParams {
  bool fit_intercept = true;
  Penalty penalty = Penalty::l2;
  /// Penalty strength α ≥ 0 (see the objectives above); 0 means no penalty.
  double alpha = 0.0;
  LinearSolver solver = LinearSolver::automatic;
  /// Iterative solvers: step of gradient descent (0: 1/L, L the Lipschitz constant of the gradient).
  double learning_rate = 0.0;
  /// Iterative solvers: at most this many passes (gradient steps or coordinate sweeps).
  int max_iter = 10000;
  /// Iterative solvers: stop when the largest coefficient change of a pass is ≤ tol·max(1, max|w|)
  /// (coordinate descent) or the largest entry of the (proximal) gradient is ≤ tol (gradient descent).
  double tol = 1e-8;
};

template <Scalar T>
class LinearRegressionScratch {
 public:
  using Params = LinearRegressionParams;

  explicit LinearRegressionScratch(Params params = {}) : params_(params) {
    constexpr std::string_view where = "LinearRegressionScratch";
    require(params_.alpha >= 0 && std::isfinite(params_.alpha), where,
            [&] { return "alpha must be finite and >= 0, got " + std::to_string(params_.alpha); });
    require(params_.max_iter >= 1, where,
            [&] { return "max_iter must be at least 1, got " + std::to_string(params_.max_iter); });
    require(params_.tol >= 0, where, [&] { return "tol must be >= 0, got " + std::to_string(params_.tol); });
    require(params_.learning_rate >= 0 && std::isfinite(params_.learning_rate), where,
            [&] { return "learning_rate must be finite and >= 0, got " + std::to_string(params_.learning_rate); });
    const LinearSolver solver = resolved_solver();
    require(!(params_.penalty == Penalty::l1 && (solver == LinearSolver::qr || solver == LinearSolver::cholesky)),
            where, "the l1 penalty has no closed form: use solver coordinate_descent or gradient_descent");
    require(params_.learning_rate == 0 || solver == LinearSolver::gradient_descent, where,
            "learning_rate applies only to solver gradient_descent");
  }

  template <class DX>
  LinearRegressionScratch& fit(const Eigen::MatrixBase<DX>& X, const Eigen::Ref<const Vector<T>>& y) {
    constexpr std::string_view where = "LinearRegressionScratch::fit";
    check_fit_input(where, X, y);
    const Index n = X.rows(), d = X.cols();
    RowVector<T> x_mean = RowVector<T>::Zero(d);
    T y_mean = T(0);
    if (params_.fit_intercept) {
      x_mean = X.colwise().mean();
      y_mean = y.mean();
    }
    const Matrix<T> Xc = X.rowwise() - x_mean;
    const Vector<T> yc = y.array() - y_mean;
    const T alpha = static_cast<T>(params_.alpha);
    // The new state is built aside and swapped in at the end: a fit that throws leaves the model as it was.
    Solution solution;
    switch (resolved_solver()) {
      case LinearSolver::qr:
        solution.w = solve_qr(Xc, yc, alpha);
        break;
      case LinearSolver::cholesky:
        solution.w = solve_cholesky(Xc, yc, alpha, false).value();
        break;
      case LinearSolver::gradient_descent:
      case LinearSolver::coordinate_descent:
        solution = solve_iteratively(Xc, yc, alpha, n);
        break;
      case LinearSolver::automatic: {
        // The normal equations are fast (n·d² / 2 flops) but square the condition number; when XᵀX is
        // ill-conditioned the QR route keeps the accuracy.
        auto fast = solve_cholesky(Xc, yc, alpha, true);
        solution.w = fast ? std::move(*fast) : solve_qr(Xc, yc, alpha);
        break;
      }
    }
    intercept_ = params_.fit_intercept ? y_mean - x_mean.dot(solution.w) : T(0);
    coefficients_.swap(solution.w);
    iterations_ = solution.iterations;
    converged_ = solution.converged;
    n_features_ = d;
    fitted_ = true;
    return *this;
  }

  /// ŷ = Xw + b.
  template <class DX>
  [[nodiscard]] Vector<T> predict(const Eigen::MatrixBase<DX>& X) const {
    check_predict_input("LinearRegressionScratch::predict", fitted_, X, n_features_);
    return (X * coefficients_).array() + intercept_;
  }

  /// R² of predict(X) against y.
  template <class DX>
  [[nodiscard]] T score(const Eigen::MatrixBase<DX>& X, const Eigen::Ref<const Vector<T>>& y) const {
    check_predict_input("LinearRegressionScratch::score", fitted_, X, n_features_);
    check_samples_match("LinearRegressionScratch::score", X, y);
    return r2_score(y, predict(X));
  }

  [[nodiscard]] const Vector<T>& coefficients() const noexcept { return coefficients_; }
  [[nodiscard]] T intercept() const noexcept { return intercept_; }
  [[nodiscard]] const Params& params() const noexcept { return params_; }
  [[nodiscard]] bool fitted() const noexcept { return fitted_; }
  [[nodiscard]] Index n_features() const noexcept { return n_features_; }
  /// Passes made by an iterative solver (0 for qr and cholesky).
  [[nodiscard]] Index iterations() const noexcept { return iterations_; }
  /// Whether an iterative solver met its tolerance within max_iter (always true for qr and cholesky).
  [[nodiscard]] bool converged() const noexcept { return converged_; }

 private:
  /// What a solver returns: the coefficients, and for the iterative ones the passes made and convergence.
  struct Solution {
    Vector<T> w;
    Index iterations = 0;
    bool converged = true;
  };

  [[nodiscard]] LinearSolver resolved_solver() const {
    if (params_.solver != LinearSolver::automatic || params_.penalty == Penalty::l2) return params_.solver;
    return LinearSolver::coordinate_descent;
  }

  /// Minimum-norm least squares (the answer of numpy.linalg.lstsq) for a rank-deficient system.
  static Vector<T> minimum_norm_solution(const Matrix<T>& A, const Vector<T>& b) {
    return Eigen::CompleteOrthogonalDecomposition<Matrix<T>>(A).solve(b);
  }

  // Ridge as least squares on the augmented system  [X; √α I] w ≈ [y; 0]  (its normal equations are
  // (XᵀX + αI) w = Xᵀy), solved by Householder QR (least_squares.hpp): R w = Qᵀb by back substitution, never
  // an inverse. A column with |R_jj| ≤ 10·max(n, d)·ε·‖A‖_F (numpy's rank rule) makes A rank deficient: the
  // minimum-norm solution is returned then.
  static Vector<T> solve_qr(const Matrix<T>& Xc, const Vector<T>& yc, T alpha) {
    const Index n = Xc.rows(), d = Xc.cols();
    const Index rows = alpha > T(0) ? n + d : n;
    if (rows < d) return minimum_norm_solution(Xc, yc);
    detail::StreamingHouseholderQR<T> qr(d);
    qr.add_rows(Xc, yc);
    if (alpha > T(0)) qr.add_rows(std::sqrt(alpha) * Matrix<T>::Identity(d, d), Vector<T>::Zero(d));
    const T tolerance =
        T(10) * static_cast<T>(std::max(rows, d)) * std::numeric_limits<T>::epsilon() * qr.frobenius_norm();
    if ((qr.R().diagonal().cwiseAbs().array() <= tolerance).any()) {
      if (alpha == T(0)) return minimum_norm_solution(Xc, yc);
      Matrix<T> A(n + d, d);
      A << Xc, std::sqrt(alpha) * Matrix<T>::Identity(d, d);
      Vector<T> b = Vector<T>::Zero(n + d);
      b.head(n) = yc;
      return minimum_norm_solution(A, b);
    }
    return qr.R().template triangularView<Eigen::Upper>().solve(qr.z());
  }

  // (XᵀX + αI) w = Xᵀy with XᵀX + αI = LLᵀ: two triangular solves. With `only_if_well_conditioned`, gives up
  // (nullopt) when κ(XᵀX + αI) ≳ (max Lᵢᵢ / min Lᵢᵢ)² exceeds 1/√ε, where the normal equations lose too many digits.
  static std::optional<Vector<T>> solve_cholesky(const Matrix<T>& Xc, const Vector<T>& yc, T alpha,
                                                 bool only_if_well_conditioned) {
    const Index d = Xc.cols();
    Matrix<T> gram = Matrix<T>::Zero(d, d);
    gram.template selfadjointView<Eigen::Lower>().rankUpdate(Xc.transpose());
    gram = gram.template selfadjointView<Eigen::Lower>();
    gram.diagonal().array() += alpha;
    const Vector<T> rhs = Xc.transpose() * yc;
    const Eigen::LLT<Matrix<T>> llt(gram);
    const Vector<T> diagonal = llt.matrixLLT().diagonal();
    const bool factored = llt.info() == Eigen::Success && diagonal.minCoeff() > T(0);
    if (only_if_well_conditioned) {
      const T ratio = factored ? diagonal.maxCoeff() / diagonal.minCoeff() : T(0);
      if (!factored || ratio * ratio > T(1) / std::sqrt(std::numeric_limits<T>::epsilon())) return std::nullopt;
    }
    if (factored) {
      Vector<T> w = llt.solve(rhs);
      if (w.allFinite()) return w;
    }
    return minimum_norm_solution(Xc, yc);  // singular XᵀX (α = 0 and dependent columns)
  }

  // Both iterative solvers work on the scaled objective
  //   f(w) = (1/2n)‖y − Xw‖² + (λ₂/2)‖w‖² + λ₁‖w‖₁     (l2: λ₂ = α/n, λ₁ = 0;  l1: λ₁ = α, λ₂ = 0)
  // through the Gram matrix G = XᵀX/n and c = Xᵀy/n, so a pass costs d² instead of n·d:
  //   ∇ of the smooth part = G w − c + λ₂ w.
  Solution solve_iteratively(const Matrix<T>& Xc, const Vector<T>& yc, T alpha, Index n) const {
    const Index d = Xc.cols();
    const T inv_n = T(1) / static_cast<T>(n);
    Matrix<T> G = Matrix<T>::Zero(d, d);
    G.template selfadjointView<Eigen::Lower>().rankUpdate(Xc.transpose(), inv_n);
    G = G.template selfadjointView<Eigen::Lower>();
    const Vector<T> c = (Xc.transpose() * yc) * inv_n;
    const T l1 = params_.penalty == Penalty::l1 ? alpha : T(0);
    const T l2 = params_.penalty == Penalty::l2 ? alpha * inv_n : T(0);
    // A tolerance below the rounding level of T cannot be met: clamp it there.
    const T tol = std::max(static_cast<T>(params_.tol), T(16) * std::numeric_limits<T>::epsilon());
    Solution out{Vector<T>::Zero(d), 0, false};
    Vector<T>& w = out.w;
    Index& iterations = out.iterations;
    auto soft_threshold = [](T z, T t) { return z > t ? z - t : (z < -t ? z + t : T(0)); };

    if (resolved_solver() == LinearSolver::gradient_descent) {
      // w ← prox(w − η∇), prox = soft-thresholding at ηλ₁ (the identity when λ₁ = 0); η = 1/L,
      // L = λ_max(G) + λ₂. Stop when the gradient mapping (w − w_new)/η is small.
      const T lipschitz = detail::largest_eigenvalue_bound(G) + l2;
      if (lipschitz == T(0)) {
        out.converged = true;
        return out;
      }
      const T step = params_.learning_rate > 0 ? static_cast<T>(params_.learning_rate) : T(1) / lipschitz;
      Vector<T> next(d);
      for (iterations = 1; iterations <= params_.max_iter; ++iterations) {
        const Vector<T> gradient = G * w - c + l2 * w;
        for (Index j = 0; j < d; ++j) next(j) = soft_threshold(w(j) - step * gradient(j), step * l1);
        const T mapping = (w - next).cwiseAbs().maxCoeff() / step;
        w.swap(next);
        if (!w.allFinite()) break;  // a learning_rate above 2/L diverges: reported as not converged
        if (mapping <= tol) {
          out.converged = true;
          break;
        }
      }
      iterations = std::min<Index>(iterations, params_.max_iter);
      return out;
    }

    // Coordinate descent: minimising f exactly in w_j with the others fixed gives
    //   w_j = S(c_j − Σ_{k≠j} G_jk w_k, λ₁) / (G_jj + λ₂),   S(z, t) = sign(z)·max(|z| − t, 0).
    // q = G w is kept up to date so each coordinate costs d.
    Vector<T> q = Vector<T>::Zero(d);
    for (iterations = 1; iterations <= params_.max_iter; ++iterations) {
      T largest_change = 0, largest_weight = 0;
      for (Index j = 0; j < d; ++j) {
        const T curvature = G(j, j) + l2;
        const T old = w(j);
        const T updated = curvature > T(0) ? soft_threshold(c(j) - q(j) + G(j, j) * old, l1) / curvature : T(0);
        const T change = updated - old;
        if (change != T(0)) {
          q += change * G.col(j);
          w(j) = updated;
        }
        largest_change = std::max(largest_change, std::abs(change));
        largest_weight = std::max(largest_weight, std::abs(updated));
      }
      if (largest_change <= tol * std::max(T(1), largest_weight)) {
        out.converged = true;
        break;
      }
    }
    iterations = std::min<Index>(iterations, params_.max_iter);
    return out;
  }

  template <class>
  friend struct ModelCodec;  // reads and restores the fitted state (production/deployment)

  Params params_;
  Vector<T> coefficients_;
  T intercept_ = T(0);
  Index n_features_ = 0;
  Index iterations_ = 0;
  bool converged_ = false;
  bool fitted_ = false;
};

}  // namespace aimastery
