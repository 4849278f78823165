#pragma once
/// \file
/// TransformerBlock: one transformer encoder layer, PyTorch's nn.TransformerEncoderLayer (batch_first):
///
///   post-norm (default, as PyTorch and BERT):
///     h = LayerNorm₁(x + dropout₁(MHA(x)))
///     y = LayerNorm₂(h + dropout₂(FFN(h)))
///   pre-norm (norm_first):
///     h = x + dropout₁(MHA(LayerNorm₁(x)))
///     y = h + dropout₂(FFN(LayerNorm₂(h)))
///
/// Parameter names are nn.TransformerEncoderLayer's state_dict keys: "self_attn.in_proj_weight",
/// "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias", "linear1.weight",
/// "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight",
/// "norm2.bias".
///
/// Backward runs the same steps in reverse; a residual connection r = a + f(a) passes its gradient on
/// both branches: ∂L/∂a = ∂L/∂r + f'(a)ᵀ ∂L/∂r.

#include <cstdint>
#include <string>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/attention/attention_mask.hpp"
#include "aimastery/llm/attention/detail/sequence.hpp"
#include "aimastery/llm/attention/feed_forward_network.hpp"
#include "aimastery/llm/attention/layer_norm.hpp"
#include "aimastery/llm/attention/multi_head_attention.hpp"
#include "aimastery/llm/attention/packed_sequences.hpp"
#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/dropout.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

struct TransformerBlockOptions {
  Index dim_feedforward = 2048;
  /// Dropout after attention, inside the FFN, after the FFN, and on the attention probabilities.
  double dropout = 0.1;
  /// relu, gelu (erf) or gelu_tanh.
  ActivationKind activation = ActivationKind::relu;
  double layer_norm_eps = 1e-5;
  /// Pre-norm (true) or post-norm (false, PyTorch's default).
  bool norm_first = false;
  bool bias = true;
  std::uint64_t seed = 0;
  /// How the attention tiles (see scaled_dot_product_attention.hpp).
  AttentionAlgorithm algorithm = AttentionAlgorithm::automatic;
};

template <Scalar T>
class TransformerBlock {
 public:
  TransformerBlock(Index d_model, Index nhead, TransformerBlockOptions options = {})
      : options_(options),
        self_attn_(
            d_model, nhead,
            {.dropout = options.dropout, .bias = options.bias, .seed = options.seed, .algorithm = options.algorithm}),
        ffn_(d_model, options.dim_feedforward,
             {.activation = options.activation,
              .dropout = options.dropout,
              .bias = options.bias,
              .seed = options.seed + 2}),
        norm1_(d_model, {.eps = options.layer_norm_eps}),
        norm2_(d_model, {.eps = options.layer_norm_eps}),
        dropout1_(options.dropout, options.seed + 3),
        dropout2_(options.dropout, options.seed + 4) {}

  [[nodiscard]] std::string name() const {
    return "TransformerBlock(d_model=" + std::to_string(d_model()) +
           ", nhead=" + std::to_string(self_attn_.num_heads()) +
           ", dim_feedforward=" + std::to_string(ffn_.dim_feedforward()) +
           (options_.norm_first ? ", norm_first)" : ")");
  }
  [[nodiscard]] Index d_model() const noexcept { return self_attn_.embed_dim(); }
  [[nodiscard]] bool norm_first() const noexcept { return options_.norm_first; }

  void train(bool on = true) {
    training_ = on;
    self_attn_.train(on);
    ffn_.train(on);
    norm1_.train(on);
    norm2_.train(on);
    dropout1_.train(on);
    dropout2_.train(on);
  }
  void eval() { train(false); }
  [[nodiscard]] bool training() const noexcept { return training_; }

  /// x (batch, sequence, d_model) → (batch, sequence, d_model). The mask (true = may attend; key padding
  /// via with_keys_allowed / with_key_padding) and `causal` go to the self-attention.
  Tensor<T> forward(const Tensor<T>& x, const AttentionMask<T>& mask = {}, bool causal = false) {
    detail::check_sequence("TransformerBlock::forward", "input", x, d_model());
    const Index B = x.dim(0), L = x.dim(1);
    Tensor<T> y;
    if (options_.norm_first) {
      // h = x + dropout₁(MHA(LN₁(x)));  y = h + dropout₂(FFN(LN₂(h)))
      Tensor<T> h = x;
      h.matrix() += dropout1_.forward(self_attn_.forward(norm1_.forward(x), mask, causal).matrix());
      y = h;
      y.matrix() += dropout2_.forward(ffn_.forward(norm2_.forward(h)).matrix());
    } else {
      // h = LN₁(x + dropout₁(MHA(x)));  y = LN₂(h + dropout₂(FFN(h)))
      Tensor<T> r1 = x;
      r1.matrix() += dropout1_.forward(self_attn_.forward(x, mask, causal).matrix());
      const Tensor<T> h = norm1_.forward(r1);
      Tensor<T> r2 = h;
      r2.matrix() += dropout2_.forward(ffn_.forward(h).matrix());
      y = norm2_.forward(r2);
    }
    batch_ = B;
    length_ = L;
    return y;
  }

  /// Inference over packed sequences (packed_sequences.hpp): the same steps as forward without dropout,
  /// each sequence attending over its own tokens. Const, nothing kept for backward; returns the
  /// (Σ lengths) × d_model output tokens, in the order of x.tokens.
  [[nodiscard]] Matrix<T> infer(const PackedSequences<T>& x, bool causal = false) const {
    x.check("TransformerBlock::infer", d_model());
    if (options_.norm_first) {
      // h = x + MHA(LN₁(x));  y = h + FFN(LN₂(h))
      PackedSequences<T> normed{x.tokens, x.offsets};
      norm1_.infer_in_place(normed.tokens);
      Matrix<T> h = x.tokens + self_attn_.infer(normed, causal);
      Matrix<T> h_normed = h;
      norm2_.infer_in_place(h_normed);
      h += ffn_.infer(h_normed);
      return h;
    }
    // h = LN₁(x + MHA(x));  y = LN₂(h + FFN(h))
    Matrix<T> h = x.tokens + self_attn_.infer(x, causal);
    norm1_.infer_in_place(h);
    Matrix<T> y = h + ffn_.infer(h);
    norm2_.infer_in_place(y);
    return y;
  }

  /// Given dL/dy of the last forward, accumulates every parameter's gradient and returns dL/dx.
  Tensor<T> backward(const Tensor<T>& grad_output) {
    constexpr std::string_view where = "TransformerBlock::backward";
    require(batch_ > 0, where, "called before forward");
    require(grad_output.shape() == typename Tensor<T>::Shape{batch_, length_, d_model()}, where, [&] {
      return "grad_output is " + Tensor<T>::shape_string(grad_output.shape()) + " but the forward produced " +
             Tensor<T>::shape_string({batch_, length_, d_model()});
    });
    const auto seq = [&](const Matrix<T>& m) { return detail::sequence_from<T>(m, batch_, length_); };
    if (options_.norm_first) {
      // dh = dy + LN₂'ᵀ FFN'ᵀ dropout₂'ᵀ dy;  dx = dh + LN₁'ᵀ MHA'ᵀ dropout₁'ᵀ dh
      Tensor<T> dh = grad_output;
      dh.matrix() += norm2_.backward(ffn_.backward(seq(dropout2_.backward(grad_output.matrix())))).matrix();
      Tensor<T> dx = dh;
      dx.matrix() += norm1_.backward(self_attn_.backward(seq(dropout1_.backward(dh.matrix()))).sum()).matrix();
      return dx;
    }
    // dr₂ = LN₂'ᵀ dy;  dh = dr₂ + FFN'ᵀ dropout₂'ᵀ dr₂;  dr₁ = LN₁'ᵀ dh;  dx = dr₁ + MHA'ᵀ dropout₁'ᵀ dr₁
    const Tensor<T> dr2 = norm2_.backward(grad_output);
    Tensor<T> dh = dr2;
    dh.matrix() += ffn_.backward(seq(dropout2_.backward(dr2.matrix()))).matrix();
    const Tensor<T> dr1 = norm1_.backward(dh);
    Tensor<T> dx = dr1;
    dx.matrix() += self_attn_.backward(seq(dropout1_.backward(dr1.matrix()))).sum().matrix();
    return dx;
  }

  /// nn.TransformerEncoderLayer's state_dict names (see the file comment).
  ParameterList<T> parameters() {
    ParameterList<T> list;
    const auto add = [&](const std::string& prefix, ParameterList<T> part) {
      for (auto& p : part) list.push_back({prefix + p.name, p.parameter, p.trainable});
    };
    add("self_attn.", self_attn_.parameters());
    add("", ffn_.parameters());
    add("norm1.", norm1_.parameters());
    add("norm2.", norm2_.parameters());
    return list;
  }

  MultiHeadAttention<T>& self_attn() noexcept { return self_attn_; }
  FeedForwardNetwork<T>& feed_forward() noexcept { return ffn_; }
  LayerNorm<T>& norm1() noexcept { return norm1_; }
  LayerNorm<T>& norm2() noexcept { return norm2_; }

 private:
  template <class>
  friend struct ModelCodec;  // reads and restores the options (production/deployment)

  TransformerBlockOptions options_;
  bool training_ = true;
  MultiHeadAttention<T> self_attn_;
  FeedForwardNetwork<T> ffn_;
  LayerNorm<T> norm1_;
  LayerNorm<T> norm2_;
  Dropout<T> dropout1_;
  Dropout<T> dropout2_;
  Index batch_ = 0;
  Index length_ = 0;
};

}  // namespace aimastery
