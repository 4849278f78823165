#pragma once
/// \file
/// Batch normalisation over the samples (rows) of a batch, per feature (column), as PyTorch's BatchNorm1d.
///
/// Training, for a batch of n rows:
///   μ = (1/n) Σᵢ xᵢ,   σ² = (1/n) Σᵢ (xᵢ − μ)²   (biased variance, used to normalise)
///   x̂ᵢ = (xᵢ − μ) / √(σ² + ε),   yᵢ = γ ⊙ x̂ᵢ + β
///   running_mean ← (1 − m) running_mean + m μ
///   running_var  ← (1 − m) running_var  + m σ² n/(n − 1)   (the unbiased variance), m = momentum = 0.1
/// Evaluation: x̂ = (x − running_mean) / √(running_var + ε).
///
/// Backward in training goes through μ and σ² (they depend on every row). With s = 1/√(σ² + ε) and
/// dx̂ = dY ⊙ γ:
///   dγ = Σᵢ dYᵢ ⊙ x̂ᵢ,   dβ = Σᵢ dYᵢ
///   dxᵢ = (s/n) ⊙ (n dx̂ᵢ − Σⱼ dx̂ⱼ − x̂ᵢ ⊙ Σⱼ dx̂ⱼ ⊙ x̂ⱼ)
/// (from dσ² = Σ dx̂ (x − μ)·(−½)s³ and dμ = −s Σ dx̂ − dσ²·(2/n)Σ(x − μ), the last sum being zero).
/// In evaluation the statistics are constants: dx = dY ⊙ γ ⊙ s.
///
/// Parameters: "weight" (γ, 1 × d, starts at 1), "bias" (β, 1 × d, starts at 0), and the non-trainable
/// buffers "running_mean" (starts at 0) and "running_var" (starts at 1), listed so that they are saved.

#include <cmath>
#include <string>

#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/detail/layer_checks.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

struct BatchNormalizationOptions {
  double eps = 1e-5;
  /// m in running ← (1 − m) running + m batch (PyTorch's meaning), in [0, 1].
  double momentum = 0.1;
};

template <Scalar T>
class BatchNormalization : public Layer<T> {
 public:
  explicit BatchNormalization(Index features, BatchNormalizationOptions options = {})
      : features_(features), eps_(static_cast<T>(options.eps)), momentum_(static_cast<T>(options.momentum)) {
    require(features > 0, "BatchNormalization",
            [&] { return "features must be positive, got " + std::to_string(features); });
    require(std::isfinite(options.eps) && options.eps > 0.0, "BatchNormalization",
            [&] { return "eps must be positive, got " + std::to_string(options.eps); });
    require(options.momentum >= 0.0 && options.momentum <= 1.0, "BatchNormalization",
            [&] { return "momentum must be in [0, 1], got " + std::to_string(options.momentum); });
    gamma_ = Parameter<T>(Matrix<T>::Ones(1, features));
    beta_ = Parameter<T>(Matrix<T>::Zero(1, features));
    running_mean_ = Parameter<T>(Matrix<T>::Zero(1, features));
    running_var_ = Parameter<T>(Matrix<T>::Ones(1, features));
  }

  [[nodiscard]] std::string name() const override { return "BatchNormalization(" + std::to_string(features_) + ")"; }

  Matrix<T> forward(const Matrix<T>& X) override {
    const char* where = "BatchNormalization::forward";
    detail::check_layer_input(where, *this, X, features_);
    batch_statistics_ = this->training();
    const Index n = X.rows();
    if (batch_statistics_) {
      if (n < 2) detail::fail(where, "training needs more than one sample per feature, got input " + shape_of(X));
      const RowVector<T> mean = X.colwise().mean();
      normalized_ = X.rowwise() - mean;  // x − μ, normalised in place below
      const RowVector<T> variance = normalized_.colwise().squaredNorm() / static_cast<T>(n);
      inv_std_ = (variance.array() + eps_).rsqrt().matrix();
      running_mean_.value = (T(1) - momentum_) * running_mean_.value + momentum_ * mean;
      running_var_.value =
          (T(1) - momentum_) * running_var_.value + (momentum_ * static_cast<T>(n) / static_cast<T>(n - 1)) * variance;
      normalized_.array().rowwise() *= inv_std_.array();
    } else {
      inv_std_ = (running_var_.value.array() + eps_).rsqrt().matrix();
      normalized_ = X.rowwise() - running_mean_.value.row(0);
      normalized_.array().rowwise() *= inv_std_.array();
    }
    Matrix<T> Y(n, features_);
    Y.array() = (normalized_.array().rowwise() * gamma_.value.row(0).array()).rowwise() + beta_.value.row(0).array();
    return Y;
  }

  Matrix<T> backward(const Matrix<T>& grad_output) override {
    detail::check_grad_output("BatchNormalization::backward", *this, grad_output, normalized_.size() > 0,
                              normalized_.rows(), features_);
    const Index n = grad_output.rows();
    beta_.grad.row(0) += grad_output.colwise().sum();
    const RowVector<T> dy_xhat = (grad_output.array() * normalized_.array()).colwise().sum().matrix();
    gamma_.grad.row(0) += dy_xhat;
    // dx̂ = dY ⊙ γ, so Σ dx̂ = γ ⊙ Σ dY and Σ dx̂ ⊙ x̂ = γ ⊙ dγ_batch.
    const RowVector<T> scale = (gamma_.value.row(0).array() * inv_std_.array()).matrix();  // γ s
    Matrix<T> grad_input(n, features_);
    if (!batch_statistics_) {
      grad_input.array() = grad_output.array().rowwise() * scale.array();
      return grad_input;
    }
    const T inv_n = T(1) / static_cast<T>(n);
    const RowVector<T> mean_dy = grad_output.colwise().sum() * inv_n;
    const RowVector<T> mean_dy_xhat = dy_xhat * inv_n;
    // dx = γ s (dY − mean(dY) − x̂ ⊙ mean(dY ⊙ x̂))
    grad_input.array() =
        ((grad_output.array().rowwise() - mean_dy.array()) - normalized_.array().rowwise() * mean_dy_xhat.array())
            .rowwise() *
        scale.array();
    return grad_input;
  }

  ParameterList<T> parameters() override {
    return {{"weight", &gamma_, true},
            {"bias", &beta_, true},
            {"running_mean", &running_mean_, false},
            {"running_var", &running_var_, false}};
  }

  [[nodiscard]] Index output_features(Index input_features) const override {
    detail::check_feature_count("BatchNormalization::output_features", *this, input_features, features_);
    return features_;
  }

  [[nodiscard]] Index features() const noexcept { return features_; }
  [[nodiscard]] T eps() const noexcept { return eps_; }
  [[nodiscard]] T momentum() const noexcept { return momentum_; }
  Parameter<T>& weight() noexcept { return gamma_; }
  Parameter<T>& bias() noexcept { return beta_; }
  [[nodiscard]] const Matrix<T>& running_mean() const noexcept { return running_mean_.value; }
  [[nodiscard]] const Matrix<T>& running_var() const noexcept { return running_var_.value; }

 private:
  Index features_;
  T eps_;
  T momentum_;
  Parameter<T> gamma_;
  Parameter<T> beta_;
  Parameter<T> running_mean_;
  Parameter<T> running_var_;
  Matrix<T> normalized_;          // x̂ of the last forward
  RowVector<T> inv_std_;          // s = 1/√(σ² + ε) (batch or running variance)
  bool batch_statistics_ = true;  // whether the last forward normalised with batch statistics
};

}  // namespace aimastery
