#pragma once
/// \file
/// LayerNorm over the last axis (the features of each token), as PyTorch's nn.LayerNorm(E):
///
///   μ = (1/E) Σₖ xₖ,   σ² = (1/E) Σₖ (xₖ − μ)²   (the biased variance),   r = 1/√(σ² + ε)
///   x̂ = (x − μ)·r,     y = γ ⊙ x̂ + β
///
/// ε is configurable: 1e-5 as PyTorch's default, 1e-12 as BERT. Parameters "weight" (γ) and "bias" (β),
/// 1 × E, PyTorch's state_dict names. Without elementwise_affine there are none (y = x̂, PyTorch's weight
/// and bias are None): γ and β stay empty, so such a layer holds no memory proportional to E.
///
/// Backward for one token (upstream dy): with g = dy ⊙ γ,
///   ∂L/∂β += dy,   ∂L/∂γ += dy ⊙ x̂
///   ∂L/∂x = r · (g − mean(g) − x̂ · mean(g ⊙ x̂))
/// derived from ∂x̂ⱼ/∂xₖ = r(δⱼₖ − 1/E − x̂ⱼ x̂ₖ/E): the mean removes the shift direction and the last term
/// the scale direction (docs/llm.md has the derivation).
///
/// A LayerNorm is a Layer (a (tokens × E) matrix in, the same out) and also takes a sequence tensor of any
/// rank whose last axis is E, seen as a (batch·sequence) × E matrix without copying.

#include <cmath>
#include <sstream>
#include <string>

#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/detail/layer_checks.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

struct LayerNormOptions {
  /// ε added to the variance.
  double eps = 1e-5;
  /// Learn γ and β (PyTorch's elementwise_affine).
  bool elementwise_affine = true;
};

template <Scalar T>
class LayerNorm : public Layer<T> {
 public:
  explicit LayerNorm(Index normalized_shape, LayerNormOptions options = {})
      : features_(normalized_shape), options_(options) {
    require(normalized_shape > 0, "LayerNorm",
            [&] { return "normalized_shape must be positive, got " + std::to_string(normalized_shape); });
    require(std::isfinite(options.eps) && options.eps > 0.0, "LayerNorm", "eps must be positive and finite");
    // γ = 1, β = 0 as PyTorch initialises them; only an affine layer has them (E comes from the caller or
    // a file, and a non-affine layer must not allocate in proportion to it).
    if (options.elementwise_affine) {
      weight_ = Parameter<T>(Matrix<T>::Ones(1, features_));
      bias_ = Parameter<T>(Matrix<T>::Zero(1, features_));
    }
  }

  [[nodiscard]] std::string name() const override {
    std::ostringstream out;
    out << "LayerNorm(" << features_ << ", eps=" << options_.eps << ")";
    return out.str();
  }
  [[nodiscard]] Index features() const noexcept { return features_; }
  [[nodiscard]] double eps() const noexcept { return options_.eps; }
  /// Whether the layer learns γ and β.
  [[nodiscard]] bool elementwise_affine() const noexcept { return options_.elementwise_affine; }
  /// γ (1 × E); empty (0 × 0) without elementwise_affine.
  Parameter<T>& weight() noexcept { return weight_; }
  /// β (1 × E); empty (0 × 0) without elementwise_affine.
  Parameter<T>& bias() noexcept { return bias_; }

  Matrix<T> forward(const Matrix<T>& X) override {
    detail::check_layer_input("LayerNorm::forward", *this, X, features_);
    Matrix<T> Y(X.rows(), X.cols());
    normalise(X, Y);
    return Y;
  }
  /// A tensor of any rank whose last axis has `features()` entries (e.g. batch × sequence × E).
  Tensor<T> forward(const Tensor<T>& X) {
    require(X.rank() >= 1 && X.size() > 0 && X.shape().back() == features_, "LayerNorm::forward", [&] {
      return "input has shape " + Tensor<T>::shape_string(X.shape()) + " but " + name() +
             " normalises a last axis of " + std::to_string(features_);
    });
    Tensor<T> Y(X.shape());
    auto out = Y.matrix();
    normalise(X.matrix(), out);
    return Y;
  }

  /// Inference in place: every row of X becomes γ ⊙ x̂ + β. Const and keeps nothing for backward (the
  /// `infer` path of the transformer layers, packed_sequences.hpp); NaN propagates instead of throwing.
  void infer_in_place(Eigen::Ref<Matrix<T>> X) const {
    require(X.cols() == features_, "LayerNorm::infer_in_place", [&] {
      return "X has " + std::to_string(X.cols()) + " columns but " + name() + " takes " + std::to_string(features_);
    });
    const T inv_e = T(1) / static_cast<T>(features_);
    const T eps = static_cast<T>(options_.eps);
    for (Index i = 0; i < X.rows(); ++i) {
      auto x = X.row(i).array();
      const T mean = x.sum() * inv_e;
      x -= mean;
      const T r = T(1) / std::sqrt(x.square().sum() * inv_e + eps);
      if (options_.elementwise_affine)
        x = x * r * weight_.value.row(0).array() + bias_.value.row(0).array();
      else
        x *= r;
    }
  }

  Matrix<T> backward(const Matrix<T>& grad_output) override {
    detail::check_grad_output("LayerNorm::backward", *this, grad_output, normalized_.size() > 0, normalized_.rows(),
                              features_);
    Matrix<T> dX(grad_output.rows(), grad_output.cols());
    propagate(grad_output, dX);
    return dX;
  }
  Tensor<T> backward(const Tensor<T>& grad_output) {
    require(
        grad_output.size() == normalized_.size() && grad_output.rank() >= 1 && grad_output.shape().back() == features_,
        "LayerNorm::backward", [&] {
          return "grad_output has shape " + Tensor<T>::shape_string(grad_output.shape()) +
                 " but the forward produced " + std::to_string(normalized_.rows()) + " rows of " +
                 std::to_string(features_);
        });
    Tensor<T> dX(grad_output.shape());
    auto out = dX.matrix();
    propagate(grad_output.matrix(), out);
    return dX;
  }

  ParameterList<T> parameters() override {
    if (!options_.elementwise_affine) return {};
    return {{"weight", &weight_, true}, {"bias", &bias_, true}};
  }

  [[nodiscard]] Index output_features(Index input_features) const override {
    detail::check_feature_count("LayerNorm::output_features", *this, input_features, features_);
    return features_;
  }

 private:
  /// Y = γ ⊙ (X − μ)·r + β row by row; keeps x̂ and r for backward.
  void normalise(const Eigen::Ref<const Matrix<T>>& X, Eigen::Ref<Matrix<T>> Y) {
    require(X.allFinite(), "LayerNorm::forward", "input contains NaN or infinity");
    const Index n = X.rows();
    normalized_.resize(n, features_);
    inv_std_.resize(n);
    const T inv_e = T(1) / static_cast<T>(features_);
    const T eps = static_cast<T>(options_.eps);
    for (Index i = 0; i < n; ++i) {
      const T mean = X.row(i).sum() * inv_e;
      auto centred = normalized_.row(i);
      centred = X.row(i).array() - mean;
      const T variance = centred.squaredNorm() * inv_e;  // biased
      const T r = T(1) / std::sqrt(variance + eps);
      inv_std_[i] = r;
      centred *= r;
    }
    if (options_.elementwise_affine) {
      Y = normalized_.array().rowwise() * weight_.value.row(0).array();
      Y.rowwise() += bias_.value.row(0);
    } else {
      Y = normalized_;
    }
  }

  /// dX = r·(g − mean(g) − x̂·mean(g ⊙ x̂)), g = dY ⊙ γ; accumulates dγ, dβ.
  void propagate(const Eigen::Ref<const Matrix<T>>& dY, Eigen::Ref<Matrix<T>> dX) {
    const T inv_e = T(1) / static_cast<T>(features_);
    if (options_.elementwise_affine) {
      weight_.grad.row(0) += (dY.array() * normalized_.array()).colwise().sum().matrix();
      bias_.grad.row(0) += dY.colwise().sum();
    }
    RowVector<T> g(features_);
    for (Index i = 0; i < dY.rows(); ++i) {
      if (options_.elementwise_affine)
        g = dY.row(i).cwiseProduct(weight_.value.row(0));
      else
        g = dY.row(i);
      const T mean_g = g.sum() * inv_e;
      const T mean_gx = g.dot(normalized_.row(i)) * inv_e;
      dX.row(i) = inv_std_[i] * (g.array() - mean_g - normalized_.row(i).array() * mean_gx);
    }
  }

  Index features_;
  LayerNormOptions options_;
  Parameter<T> weight_;
  Parameter<T> bias_;
  Matrix<T> normalized_;  // x̂ of the last forward
  Vector<T> inv_std_;     // r of the last forward
};

}  // namespace aimastery
