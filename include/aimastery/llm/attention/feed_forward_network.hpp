#pragma once
/// \file
/// FeedForwardNetwork: the position-wise feed-forward block of a transformer, applied to every token:
///
///   FFN(x) = W₂ · dropout(f(W₁ x + b₁)) + b₂,   f = relu, gelu (erf) or gelu (tanh approximation)
///
/// with W₁ (hidden × E), W₂ (E × hidden). Parameters "linear1.weight", "linear1.bias", "linear2.weight",
/// "linear2.bias": the names nn.TransformerEncoderLayer gives them in its state_dict. Products through the
/// library's GEMM; the activation and dropout are ml/deep_learning's Activation and Dropout layers, so
/// their backward is theirs:
///   dH = dY W₂ (through dropout's mask), dZ = dH ⊙ f'(Z), dX = dZ W₁.
///
/// It is a Layer on (tokens × E) matrices and takes a (batch, sequence, E) tensor as a
/// (batch·sequence) × E matrix view.
///
/// Side paths (set_side_paths), as MultiHeadAttention's: a layer S beside linear1 or linear2 adds S(X) to
/// its output and S'(dY) to its input's gradient (LoRA's unmerged training path).

#include <array>
#include <cstdint>
#include <string>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/attention/detail/linear.hpp"
#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/detail/layer_checks.hpp"
#include "aimastery/ml/deep_learning/dropout.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

struct FeedForwardOptions {
  /// relu, gelu (erf form) or gelu_tanh.
  ActivationKind activation = ActivationKind::relu;
  /// Dropout probability between the two linear maps (training only).
  double dropout = 0.0;
  bool bias = true;
  /// Seed of the initial weights and of the dropout masks.
  std::uint64_t seed = 0;
};

template <Scalar T>
class FeedForwardNetwork : public Layer<T> {
 public:
  FeedForwardNetwork(Index d_model, Index dim_feedforward, FeedForwardOptions options = {})
      : activation_(checked_activation(options.activation)), dropout_(options.dropout, options.seed + 1) {
    require(d_model > 0 && dim_feedforward > 0, "FeedForwardNetwork", [&] {
      return "d_model and dim_feedforward must be positive, got " + std::to_string(d_model) + " and " +
             std::to_string(dim_feedforward);
    });
    RandomEngine rng(options.seed);
    linear1_ = detail::Linear<T>(d_model, dim_feedforward, options.bias, rng);
    linear2_ = detail::Linear<T>(dim_feedforward, d_model, options.bias, rng);
  }

  [[nodiscard]] std::string name() const override {
    return "FeedForwardNetwork(" + std::to_string(d_model()) + " -> " + std::to_string(dim_feedforward()) + " -> " +
           std::to_string(d_model()) + ", " + std::string(to_string(activation_.kind())) + ")";
  }
  [[nodiscard]] Index d_model() const noexcept { return linear1_.in(); }
  [[nodiscard]] Index dim_feedforward() const noexcept { return linear1_.out(); }

  Matrix<T> forward(const Matrix<T>& X) override {
    detail::check_layer_input("FeedForwardNetwork::forward", *this, X, d_model());
    return run(X);
  }
  /// (batch, sequence, E) → (batch, sequence, E).
  Tensor<T> forward(const Tensor<T>& X) {
    require(X.rank() >= 1 && X.size() > 0 && X.shape().back() == d_model(), "FeedForwardNetwork::forward", [&] {
      return "input has shape " + Tensor<T>::shape_string(X.shape()) + " but " + name() + " takes " +
             std::to_string(d_model()) + " features on its last axis";
    });
    Tensor<T> Y(X.shape());
    Y.matrix() = run(X.matrix());
    return Y;
  }

  /// Inference on a (tokens × E) matrix: W₂ f(W₁ X + b₁) + b₂ with no dropout. Const and keeps nothing
  /// for backward (the `infer` path of the transformer layers, packed_sequences.hpp).
  [[nodiscard]] Matrix<T> infer(const Eigen::Ref<const Matrix<T>>& X) const {
    require(X.cols() == d_model(), "FeedForwardNetwork::infer", [&] {
      return "X has " + std::to_string(X.cols()) + " columns but " + name() + " takes " + std::to_string(d_model());
    });
    Matrix<T> hidden = linear1_.forward(X);
    activation_.apply_in_place(hidden);
    return linear2_.forward(hidden);
  }

  Matrix<T> backward(const Matrix<T>& grad_output) override {
    detail::check_grad_output("FeedForwardNetwork::backward", *this, grad_output, input_.size() > 0, input_.rows(),
                              d_model());
    return propagate(grad_output);
  }
  Tensor<T> backward(const Tensor<T>& grad_output) {
    require(grad_output.size() == input_.size() && grad_output.shape().back() == d_model(),
            "FeedForwardNetwork::backward", [&] {
              return "grad_output has shape " + Tensor<T>::shape_string(grad_output.shape()) +
                     " but the forward produced " + std::to_string(input_.rows()) + " rows of " +
                     std::to_string(d_model());
            });
    Tensor<T> dX(grad_output.shape());
    dX.matrix() = propagate(grad_output.matrix());
    return dX;
  }

  ParameterList<T> parameters() override {
    ParameterList<T> list;
    linear1_.append_parameters(list, "linear1.");
    linear2_.append_parameters(list, "linear2.");
    return list;
  }

  [[nodiscard]] Index output_features(Index input_features) const override {
    detail::check_feature_count("FeedForwardNetwork::output_features", *this, input_features, d_model());
    return d_model();
  }

  /// Side layers beside linear1 and linear2 (null = none); not owned, set the same ones for a forward
  /// and its backward; `infer` ignores them.
  void set_side_paths(Layer<T>* linear1, Layer<T>* linear2) noexcept { side_ = {linear1, linear2}; }

  /// Restarts the dropout mask generator.
  void reseed(std::uint64_t seed) { dropout_.reseed(seed); }

 private:
  static ActivationKind checked_activation(ActivationKind kind) {
    if (kind != ActivationKind::relu && kind != ActivationKind::gelu && kind != ActivationKind::gelu_tanh)
      fail("FeedForwardNetwork", "activation must be relu, gelu or gelu_tanh, got " + std::string(to_string(kind)));
    return kind;
  }

  Matrix<T> run(const Eigen::Ref<const Matrix<T>>& X) {
    require(X.allFinite(), "FeedForwardNetwork::forward", "input contains NaN or infinity");
    activation_.train(this->training());
    dropout_.train(this->training());
    input_ = X;
    Matrix<T> Z = linear1_.forward(X);
    if (side_[0]) Z += side_[0]->forward(input_);
    hidden_ = dropout_.forward(activation_.forward(Z));
    Matrix<T> Y = linear2_.forward(hidden_);
    if (side_[1]) Y += side_[1]->forward(hidden_);
    return Y;
  }

  Matrix<T> propagate(const Eigen::Ref<const Matrix<T>>& dY) {
    Matrix<T> dH = linear2_.backward(hidden_, dY);
    if (side_[1]) dH += side_[1]->backward(Matrix<T>(dY));
    const Matrix<T> dZ = activation_.backward(dropout_.backward(dH));
    Matrix<T> dX = linear1_.backward(input_, dZ);
    if (side_[0]) dX += side_[0]->backward(dZ);
    return dX;
  }

  detail::Linear<T> linear1_;
  detail::Linear<T> linear2_;
  Activation<T> activation_;
  Dropout<T> dropout_;
  Matrix<T> input_;                     // X of the last forward
  Matrix<T> hidden_;                    // dropout(f(W₁X + b₁)) of the last forward
  std::array<Layer<T>*, 2> side_ = {};  // beside linear1, linear2 (not owned)
};

}  // namespace aimastery
