#pragma once
/// \file
/// Dense (fully connected) layer: Y = X Wᵀ + b with W of shape (out × in), as PyTorch's nn.Linear, so
/// weights exchange with PyTorch (and safetensors files written by it) without transposes.
///
/// Backpropagation, for a batch X (n × in) and upstream gradient dY = ∂L/∂Y (n × out):
///   ∂L/∂W = dYᵀ X        (out × in)
///   ∂L/∂b = 1ᵀ dY        (1 × out, the column sums of dY)
///   ∂L/∂X = dY W         (n × in)
/// The three products go through the library's GEMM (core/linalg/matmul.hpp), which reads the
/// transposed operands Wᵀ and dYᵀ in place and splits large products over the OpenMP threads.

#include <cmath>
#include <cstdint>
#include <string>

#include "aimastery/core/linalg/matmul.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/detail/layer_checks.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

/// How Dense draws its initial weights (biases start at zero).
///   glorot (Xavier): Var(W) = 2 / (in + out)   uniform on ±√(6 / (in + out)), or normal with that variance
///   he (Kaiming):    Var(W) = 2 / in           uniform on ±√(6 / in), or normal with that variance
/// He keeps the variance of ReLU activations constant through depth; Glorot keeps it for tanh/linear.
enum class Initializer {
  glorot_uniform,
  glorot_normal,
  he_uniform,
  he_normal,
  xavier_uniform = glorot_uniform,
  xavier_normal = glorot_normal,
  kaiming_uniform = he_uniform,
  kaiming_normal = he_normal,
};

struct DenseOptions {
  bool bias = true;
  Initializer initializer = Initializer::glorot_uniform;
  std::uint64_t seed = 0;
};

/// Fully connected layer Y = X Wᵀ + b. Parameters: "weight" (out × in) and, with a bias, "bias" (1 × out).
template <Scalar T>
class Dense : public Layer<T> {
 public:
  Dense(Index in_features, Index out_features, DenseOptions options = {})
      : in_(in_features), out_(out_features), has_bias_(options.bias) {
    require(in_features > 0 && out_features > 0, "Dense", [&] {
      return "in_features and out_features must be positive, got " + std::to_string(in_features) + " and " +
             std::to_string(out_features);
    });
    weight_ = Parameter<T>(initial_weights(options.initializer, options.seed));
    if (has_bias_) bias_ = Parameter<T>(Matrix<T>::Zero(1, out_));
    weight_shape_ = " (weight is " + shape_of(weight_.value) + ")";
  }

  [[nodiscard]] std::string name() const override {
    return "Dense(" + std::to_string(in_) + " -> " + std::to_string(out_) + (has_bias_ ? ")" : ", no bias)");
  }

  /// Y = X Wᵀ + b (the bias row is broadcast over the samples).
  Matrix<T> forward(const Matrix<T>& X) override {
    detail::check_layer_input("Dense::forward", *this, X, in_, weight_shape_);
    input_ = X;  // reuses the buffer when the batch shape repeats
    Matrix<T> Y(X.rows(), out_);
    if (X.rows() == 1)
      Y.row(0).noalias() = X.row(0) * weight_.value.transpose();  // one sample: a matrix-vector product
    else
      matrix_multiply_to(X, weight_.value.transpose(), Y);
    if (has_bias_) Y.rowwise() += bias_.value.row(0);
    return Y;
  }

  /// dW += dYᵀ X, db += 1ᵀ dY; returns dX = dY W.
  Matrix<T> backward(const Matrix<T>& grad_output) override {
    backward_parameters_only(grad_output);
    Matrix<T> grad_input(grad_output.rows(), in_);
    matrix_multiply_to(grad_output, weight_.value, grad_input);
    return grad_input;
  }

  /// dW += dYᵀ X, db += 1ᵀ dY, without the product for dX (a network's first layer needs no dX).
  void backward_parameters_only(const Matrix<T>& grad_output) override {
    detail::check_grad_output("Dense::backward", *this, grad_output, input_.size() > 0, input_.rows(), out_);
    matrix_multiply_add(grad_output.transpose(), input_, weight_.grad);
    if (has_bias_) bias_.grad.row(0) += grad_output.colwise().sum();
  }

  ParameterList<T> parameters() override {
    ParameterList<T> list{{"weight", &weight_, true}};
    if (has_bias_) list.push_back({"bias", &bias_, true});
    return list;
  }

  [[nodiscard]] Index output_features(Index input_features) const override {
    detail::check_feature_count("Dense::output_features", *this, input_features, in_);
    return out_;
  }

  [[nodiscard]] Index in_features() const noexcept { return in_; }
  [[nodiscard]] Index out_features() const noexcept { return out_; }
  [[nodiscard]] bool has_bias() const noexcept { return has_bias_; }
  /// W (out × in) and its gradient.
  Parameter<T>& weight() noexcept { return weight_; }
  const Parameter<T>& weight() const noexcept { return weight_; }
  /// b (1 × out) and its gradient; InvalidArgument when the layer was built without a bias.
  Parameter<T>& bias() {
    if (!has_bias_) detail::fail("Dense::bias", name() + " has no bias");
    return bias_;
  }
  const Parameter<T>& bias() const {
    if (!has_bias_) detail::fail("Dense::bias", name() + " has no bias");
    return bias_;
  }

 private:
  Matrix<T> initial_weights(Initializer initializer, std::uint64_t seed) const {
    const double fan_in = static_cast<double>(in_);
    const double fan_avg2 = static_cast<double>(in_ + out_);
    const bool glorot = initializer == Initializer::glorot_uniform || initializer == Initializer::glorot_normal;
    const double variance = glorot ? 2.0 / fan_avg2 : 2.0 / fan_in;
    const bool uniform = initializer == Initializer::glorot_uniform || initializer == Initializer::he_uniform;
    // Every draw from the library's one engine (core/probability/sampling.hpp), so a seed gives the
    // same weights with every standard library.
    RandomEngine rng(seed);
    Matrix<T> W(out_, in_);
    if (uniform) {
      // U(−a, a) = a (2U(0, 1) − 1) has variance a²/3, so a = √(3·Var).
      const double a = std::sqrt(3.0 * variance);
      for (Index i = 0; i < W.size(); ++i) W.data()[i] = static_cast<T>(a * (2.0 * detail::uniform_open01(rng) - 1.0));
    } else {
      const double sd = std::sqrt(variance);
      for (Index i = 0; i < W.size(); ++i) W.data()[i] = static_cast<T>(sd * detail::standard_normal(rng));
    }
    return W;
  }

  Index in_;
  Index out_;
  bool has_bias_;
  Parameter<T> weight_;
  Parameter<T> bias_;
  Matrix<T> input_;           // X of the last forward, for dW
  std::string weight_shape_;  // " (weight is out x in)", for messages
};

}  // namespace aimastery
