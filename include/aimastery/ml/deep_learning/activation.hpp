#pragma once
/// \file
/// Activation layer: an element-wise (or, for softmax, row-wise) function with no parameters.
/// The forward functions are those of core/linalg/activations.hpp; this header adds their derivatives.
///
/// Backpropagation, with Y = f(X) and upstream gradient dY:
///   identity     dX = dY
///   relu         dX = dY ⊙ [X > 0]
///   leaky_relu   dX = dY ⊙ ([X > 0] + α [X ≤ 0])
///   sigmoid      dX = dY ⊙ Y (1 − Y)
///   tanh         dX = dY ⊙ (1 − Y²)
///   gelu (erf)   dX = dY ⊙ (Φ(X) + X φ(X)),   Φ, φ the standard normal cdf and pdf
///   gelu (tanh)  with u = c (x + 0.044715 x³), t = tanh u, c = √(2/π):
///                dX = dY ⊙ (½(1 + t) + ½ x (1 − t²) c (1 + 3·0.044715 x²))
///   softmax      row-wise Jacobian ∂yᵢ/∂xⱼ = yᵢ(δᵢⱼ − yⱼ), so its vector product is
///                dX = Y ⊙ (dY − rowsum(dY ⊙ Y))  (correct standalone, not only fused with a loss)

#include <cmath>
#include <numbers>
#include <string>
#include <string_view>
#include <type_traits>

#include "aimastery/core/linalg/activations.hpp"
#include "aimastery/core/number_text.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/detail/layer_checks.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

enum class ActivationKind { identity, relu, leaky_relu, sigmoid, tanh, softmax, gelu, gelu_tanh };

/// The activation's name as written in configurations: "identity", "relu", "leaky_relu", "sigmoid",
/// "tanh", "softmax", "gelu" (erf form), "gelu_tanh".
inline std::string_view to_string(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::identity:
      return "identity";
    case ActivationKind::relu:
      return "relu";
    case ActivationKind::leaky_relu:
      return "leaky_relu";
    case ActivationKind::sigmoid:
      return "sigmoid";
    case ActivationKind::tanh:
      return "tanh";
    case ActivationKind::softmax:
      return "softmax";
    case ActivationKind::gelu:
      return "gelu";
    case ActivationKind::gelu_tanh:
      return "gelu_tanh";
  }
  return "unknown";
}

/// Parses a name of to_string(ActivationKind) ("linear" is accepted for identity).
inline ActivationKind activation_kind_from_string(std::string_view name) {
  for (ActivationKind k :
       {ActivationKind::identity, ActivationKind::relu, ActivationKind::leaky_relu, ActivationKind::sigmoid,
        ActivationKind::tanh, ActivationKind::softmax, ActivationKind::gelu, ActivationKind::gelu_tanh})
    if (to_string(k) == name) return k;
  if (name == "linear") return ActivationKind::identity;
  throw InvalidArgument("Activation: unknown activation \"" + std::string(name) +
                        "\" (expected identity, relu, leaky_relu, sigmoid, tanh, softmax, gelu or gelu_tanh)");
}

template <Scalar T>
class Activation : public Layer<T> {
 public:
  /// `negative_slope` (α) is used by leaky_relu only; PyTorch's default is 0.01.
  explicit Activation(ActivationKind kind, T negative_slope = T(0.01)) : kind_(kind), slope_(negative_slope) {
    require(std::isfinite(negative_slope), "Activation", "negative_slope must be finite");
  }
  explicit Activation(std::string_view kind, T negative_slope = T(0.01))
      : Activation(activation_kind_from_string(kind), negative_slope) {}

  [[nodiscard]] std::string name() const override {
    std::string out = "Activation(" + std::string(to_string(kind_));
    if (kind_ == ActivationKind::leaky_relu) out += ", negative_slope=" + detail::number_text(slope_);
    return out + ")";
  }

  [[nodiscard]] ActivationKind kind() const noexcept { return kind_; }
  [[nodiscard]] T negative_slope() const noexcept { return slope_; }

  Matrix<T> forward(const Matrix<T>& X) override {
    detail::check_layer_input("Activation::forward", *this, X, -1);
    Matrix<T> Y = apply(X);
    // What backward needs: the output where the derivative is a function of it, else the input.
    if (derivative_from_output())
      cache_ = Y;
    else
      cache_ = X;
    return Y;
  }

  /// X ← f(X) without a copy where f allows it (relu, float gelu), else through apply.
  void apply_in_place(Matrix<T>& X) const {
    if (kind_ == ActivationKind::relu) {
      X = X.cwiseMax(T(0));
    } else if (kind_ == ActivationKind::gelu && std::is_same_v<T, float> && X.size() > 0) {
      if constexpr (std::is_same_v<T, float>) detail::gelu_in_place(X.data(), X.size());
    } else {
      X = apply(X);
    }
  }

  /// f(X) element-wise (row-wise for softmax), keeping nothing for backward: what forward computes, for
  /// inference paths. X must not be empty.
  [[nodiscard]] Matrix<T> apply(const Eigen::Ref<const Matrix<T>>& X) const {
    Matrix<T> Y;
    switch (kind_) {
      case ActivationKind::identity:
        Y = X;
        break;
      case ActivationKind::relu:
        Y = relu(X);
        break;
      case ActivationKind::leaky_relu:
        Y = (X.array() > T(0)).select(X.array(), slope_ * X.array()).matrix();
        break;
      case ActivationKind::sigmoid:
        Y = sigmoid(X);
        break;
      case ActivationKind::tanh:
        Y = aimastery::tanh(X);
        break;
      case ActivationKind::softmax:
        Y = softmax(X);
        break;
      case ActivationKind::gelu:
        Y = gelu(X, GeluApproximation::none);
        break;
      case ActivationKind::gelu_tanh:
        Y = gelu(X, GeluApproximation::tanh);
        break;
    }
    return Y;
  }

  Matrix<T> backward(const Matrix<T>& grad_output) override {
    detail::check_grad_output("Activation::backward", *this, grad_output, cache_.size() > 0, cache_.rows(),
                              cache_.cols());
    const auto dY = grad_output.array();
    const auto C = cache_.array();  // X or Y, see forward
    Matrix<T> dX(grad_output.rows(), grad_output.cols());
    switch (kind_) {
      case ActivationKind::identity:
        dX = grad_output;
        break;
      case ActivationKind::relu:
        dX.array() = (C > T(0)).select(dY, T(0));
        break;
      case ActivationKind::leaky_relu:
        dX.array() = (C > T(0)).select(dY, slope_ * dY);
        break;
      case ActivationKind::sigmoid:
        dX.array() = dY * C * (T(1) - C);
        break;
      case ActivationKind::tanh:
        dX.array() = dY * (T(1) - C.square());
        break;
      case ActivationKind::softmax: {
        // dX = Y ⊙ (dY − rowsum(dY ⊙ Y))
        const Vector<T> dot = (dY * C).rowwise().sum();
        dX.array() = C * (dY.colwise() - dot.array());
        break;
      }
      case ActivationKind::gelu: {
        // Φ(x) + x φ(x), Φ(x) = ½(1 + erf(x/√2)), φ(x) = e^{−x²/2} / √(2π)
        const T inv_sqrt2 = T(1) / std::numbers::sqrt2_v<T>;
        const T inv_sqrt_2pi = std::numbers::inv_sqrtpi_v<T> * inv_sqrt2;
        dX.array() = dY * C.unaryExpr([=](T x) {
          return T(0.5) * (T(1) + std::erf(x * inv_sqrt2)) + x * inv_sqrt_2pi * std::exp(T(-0.5) * x * x);
        });
        break;
      }
      case ActivationKind::gelu_tanh: {
        const T c = std::sqrt(T(2) / std::numbers::pi_v<T>);
        const T k = T(0.044715);
        dX.array() = dY * C.unaryExpr([=](T x) {
          const T t = std::tanh(c * (x + k * x * x * x));
          return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * c * (T(1) + T(3) * k * x * x);
        });
        break;
      }
    }
    return dX;
  }

  /// An activation keeps the number of features.
  [[nodiscard]] Index output_features(Index input_features) const override {
    detail::check_feature_count("Activation::output_features", *this, input_features, -1);
    return input_features;
  }

 private:
  [[nodiscard]] bool derivative_from_output() const noexcept {
    return kind_ == ActivationKind::sigmoid || kind_ == ActivationKind::tanh || kind_ == ActivationKind::softmax ||
           kind_ == ActivationKind::relu;
  }

  ActivationKind kind_;
  T slope_;
  Matrix<T> cache_;  // Y for relu/sigmoid/tanh/softmax (relu: Y > 0 ⇔ X > 0), X otherwise
};

}  // namespace aimastery
