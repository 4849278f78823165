#pragma once
/// \file
/// GaussianNBScratch: naive Bayes with one normal distribution per class and feature (scikit-learn's
/// GaussianNB).
///
///   GaussianNBScratch<double> nb;                  // priors from the class frequencies
///   nb.fit(X, y);
///   Matrix<double> p = nb.predict_proba(X_test);   // columns in nb.classes() order

#include <cmath>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "aimastery/core/linalg/activations.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/classical/label_encoding.hpp"
#include "aimastery/ml/classical/metrics.hpp"
#include "aimastery/ml/classical/validation.hpp"

namespace aimastery {

struct GaussianNBParams {
  /// Class prior probabilities in classes() order; empty means the class frequencies of the training data.
  std::vector<double> priors = {};
  /// ε = var_smoothing · max_j Var(X_j) is added to every variance, so a constant feature cannot divide by 0.
  /// When every feature is constant (one row, say), max_j Var(X_j) = 0: the features cannot tell the classes
  /// apart, every class has the same likelihood, and p(c | x) = π_c (scikit-learn divides 0 by 0: NaN).
  double var_smoothing = 1e-9;
};

template <Scalar T>
class GaussianNBScratch {
 public:
  using Params = GaussianNBParams;

  explicit GaussianNBScratch(Params params = {}) : params_(std::move(params)) {
    require(params_.var_smoothing >= 0 && std::isfinite(params_.var_smoothing), "GaussianNBScratch",
            [&] { return "var_smoothing must be finite and >= 0, got " + std::to_string(params_.var_smoothing); });
  }

  /// Fits one mean θ_cj and one variance σ²_cj + ε per class c and feature j (maximum likelihood, ddof 0),
  /// and the priors π_c = n_c / n unless given.
  template <class DX>
  GaussianNBScratch& fit(const Eigen::MatrixBase<DX>& X, const Eigen::Ref<const IndexVector>& y) {
    constexpr std::string_view where = "GaussianNBScratch::fit";
    check_fit_input(where, X, y);
    // The new state is built aside and swapped in at the end: a fit that throws leaves the model as it was.
    LabelEncoding encoding;
    const IndexVector codes = encoding.fit(y);
    const Index k = encoding.n_classes(), n = X.rows(), d = X.cols();
    check_priors(where, k);

    // ε = var_smoothing · max_j (1/n) Σᵢ (x_ij − x̄_j)²
    const RowVector<T> overall_mean = X.colwise().mean();
    const T largest_variance =
        ((X.rowwise() - overall_mean).array().square().colwise().sum() / static_cast<T>(n)).maxCoeff();
    const T epsilon = static_cast<T>(params_.var_smoothing) * largest_variance;
    const bool uninformative = !(largest_variance > T(0));  // every feature constant: the priors decide

    // θ_c = mean of the rows of class c; σ²_c = mean of (x − θ_c)² over those rows (two passes, as NumPy).
    Vector<T> class_count = Vector<T>::Zero(k);
    Matrix<T> theta = Matrix<T>::Zero(k, d);
    Matrix<T> var = Matrix<T>::Zero(k, d);
    for (Index i = 0; i < n; ++i) {
      class_count(codes(i)) += T(1);
      theta.row(codes(i)) += X.row(i);
    }
    theta.array().colwise() /= class_count.array();
    for (Index i = 0; i < n; ++i) var.row(codes(i)).array() += (X.row(i) - theta.row(codes(i))).array().square();
    var.array().colwise() /= class_count.array();
    var.array() += epsilon;
    // Otherwise only var_smoothing = 0 leaves a zero variance, and a zero variance has no normal density.
    if (!uninformative && !(var.array() > T(0)).all()) {
      Index c = 0, j = 0;
      static_cast<void>((var.array() > T(0)).template cast<int>().minCoeff(&c, &j));
      fail(where, "feature " + std::to_string(j) + " is constant in class " + std::to_string(encoding.classes()(c)) +
                      " and var_smoothing is 0: its variance is 0");
    }

    Vector<T> class_prior =
        params_.priors.empty()
            ? Vector<T>(class_count / static_cast<T>(n))
            : Vector<T>(Eigen::Map<const Vector<double>>(params_.priors.data(), k).template cast<T>());
    encoding_ = std::move(encoding);
    theta_ = std::move(theta);
    var_ = std::move(var);
    class_count_ = std::move(class_count);
    class_prior_ = std::move(class_prior);
    epsilon_ = epsilon;
    uninformative_ = uninformative;
    n_features_ = d;
    fitted_ = true;
    return *this;
  }

  /// log p(c) + log p(x | c) = log π_c − ½ Σ_j log(2π σ²_cj) − ½ Σ_j (x_j − θ_cj)² / σ²_cj, one column per class.
  template <class DX>
  [[nodiscard]] Matrix<T> joint_log_likelihood(const Eigen::MatrixBase<DX>& X) const {
    check_predict_input("GaussianNBScratch::joint_log_likelihood", fitted_, X, n_features_);
    return joint_log_likelihood_unchecked(X);
  }

  /// log p(c | x) = jll_c − log Σ_c' exp(jll_c'), normalised with log-sum-exp so far outliers do not underflow.
  template <class DX>
  [[nodiscard]] Matrix<T> predict_log_proba(const Eigen::MatrixBase<DX>& X) const {
    check_predict_input("GaussianNBScratch::predict_log_proba", fitted_, X, n_features_);
    return normalised_log_proba(joint_log_likelihood_unchecked(X));
  }

  /// p(c | x), one row per sample, columns in classes() order.
  template <class DX>
  [[nodiscard]] Matrix<T> predict_proba(const Eigen::MatrixBase<DX>& X) const {
    check_predict_input("GaussianNBScratch::predict_proba", fitted_, X, n_features_);
    return normalised_log_proba(joint_log_likelihood_unchecked(X)).array().exp().matrix();
  }

  /// argmax_c of the joint log-likelihood, as the original labels.
  template <class DX>
  [[nodiscard]] IndexVector predict(const Eigen::MatrixBase<DX>& X) const {
    check_predict_input("GaussianNBScratch::predict", fitted_, X, n_features_);
    const Matrix<T> jll = joint_log_likelihood_unchecked(X);
    IndexVector codes(jll.rows());
    for (Index i = 0; i < jll.rows(); ++i) jll.row(i).maxCoeff(&codes(i));
    return encoding_.decode(codes);
  }

  /// Accuracy of predict(X) against y.
  template <class DX>
  [[nodiscard]] double score(const Eigen::MatrixBase<DX>& X, const Eigen::Ref<const IndexVector>& y) const {
    check_predict_input("GaussianNBScratch::score", fitted_, X, n_features_);
    check_samples_match("GaussianNBScratch::score", X, y);
    return accuracy_score(y, predict(X));
  }

  [[nodiscard]] const IndexVector& classes() const noexcept { return encoding_.classes(); }
  [[nodiscard]] const Params& params() const noexcept { return params_; }
  [[nodiscard]] bool fitted() const noexcept { return fitted_; }
  [[nodiscard]] Index n_features() const noexcept { return n_features_; }
  /// Per-class feature means θ (classes x features).
  [[nodiscard]] const Matrix<T>& theta() const noexcept { return theta_; }
  /// Per-class feature variances σ² + ε (classes x features).
  [[nodiscard]] const Matrix<T>& var() const noexcept { return var_; }
  [[nodiscard]] const Vector<T>& class_prior() const noexcept { return class_prior_; }
  [[nodiscard]] const Vector<T>& class_count() const noexcept { return class_count_; }
  [[nodiscard]] T epsilon() const noexcept { return epsilon_; }

 private:
  /// Given priors: one per class, finite, ≥ 0, summing to 1.
  void check_priors(std::string_view where, Index n_classes) const {
    if (params_.priors.empty()) return;
    require(static_cast<Index>(params_.priors.size()) == n_classes, where, [&] {
      return "priors has " + std::to_string(params_.priors.size()) + " entries but y has " + std::to_string(n_classes) +
             " classes";
    });
    double total = 0;
    for (double p : params_.priors) {
      require(p >= 0 && std::isfinite(p), where, "priors must be finite and >= 0");
      total += p;
    }
    require(std::abs(total - 1.0) <= 1e-8, where,
            [&] { return "priors must sum to 1, they sum to " + std::to_string(total); });
  }

  template <class DX>
  Matrix<T> joint_log_likelihood_unchecked(const Eigen::MatrixBase<DX>& X) const {
    const Index k = theta_.rows();
    Matrix<T> jll(X.rows(), k);
    if (uninformative_) {  // the likelihood is the same for every class: only log π_c differs
      for (Index c = 0; c < k; ++c) jll.col(c).setConstant(std::log(class_prior_(c)));
      return jll;
    }
    const T log_two_pi = std::log(T(2) * std::numbers::pi_v<T>);
    for (Index c = 0; c < k; ++c) {
      const T log_normaliser = T(-0.5) * (var_.row(c).array().log() + log_two_pi).sum();
      const RowVector<T> inv_var = var_.row(c).cwiseInverse();
      const Vector<T> mahalanobis =
          ((X.rowwise() - theta_.row(c)).array().square().rowwise() * inv_var.array()).rowwise().sum();
      jll.col(c) = (std::log(class_prior_(c)) + log_normaliser - T(0.5) * mahalanobis.array()).matrix();
    }
    return jll;
  }

  static Matrix<T> normalised_log_proba(const Matrix<T>& jll) {
    const Vector<T> log_evidence = log_sum_exp_rows(jll);
    return (jll.colwise() - log_evidence).eval();
  }

  template <class>
  friend struct ModelCodec;  // reads and restores the fitted state (production/deployment)

  Params params_;
  LabelEncoding encoding_;
  Matrix<T> theta_, var_;
  Vector<T> class_prior_, class_count_;
  T epsilon_ = T(0);
  bool uninformative_ = false;  ///< every training feature was constant
  Index n_features_ = 0;
  bool fitted_ = false;
};

}  // namespace aimastery
