#pragma once
/// \file
/// MultiHeadAttention with PyTorch nn.MultiheadAttention's parameter layout (batch_first), so its
/// state_dict loads without reshuffling:
///   "in_proj_weight"  (3E × E)  W_q, W_k, W_v stacked by rows
///   "in_proj_bias"    (1 × 3E)  b_q, b_k, b_v
///   "out_proj.weight" (E × E),  "out_proj.bias" (1 × E)
///
/// For query X_q (B × n × E), key X_k and value X_v (B × m × E), h heads of size d = E/h:
///   Q = X_q W_qᵀ + b_q,  K = X_k W_kᵀ + b_k,  V = X_v W_vᵀ + b_v      (one GEMM each, all tokens at once)
///   head_i = softmax(Q_i K_iᵀ/√d + mask) V_i                          (scaled_dot_product_attention)
///   Y = concat(head_1 … head_h) W_oᵀ + b_o
/// Q_i is the i-th block of d columns of Q, seen as a (B, h, n, d) tensor.
///
/// Backward: out_proj's backward gives d concat; scaled_dot_product_attention_backward gives dQ, dK, dV per
/// head; then ∂L/∂W_q += dQᵀ X_q (likewise k, v), ∂L/∂b_q += 1ᵀ dQ, and ∂L/∂X_q = dQ W_q.
///
/// Masks are AttentionMask objects with the SDPA meaning (**true = may attend**), which is the opposite
/// of nn.MultiheadAttention's boolean attn_mask; a PyTorch key_padding_mask (true = padding) is passed as
/// `AttentionMask<T>().with_key_padding(pad)`. They broadcast per batch element and per head (see
/// attention_mask.hpp). Query, key and value must all have E features (PyTorch's kdim = vdim = E).
///
/// Side paths (set_side_paths): a layer S added beside a projection, P = X Wᵀ + b + S(X), with
/// ∂L/∂X = dP W + S'(dP) in backward (S accumulates its own gradients). LoRA's unmerged training path
/// (y = W x + b + s·B A·dropout(x), fine_tuning/transformer_block_with_lora.hpp) uses them.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include "aimastery/core/linalg/matmul.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/attention/attention_mask.hpp"
#include "aimastery/llm/attention/detail/linear.hpp"
#include "aimastery/llm/attention/detail/sequence.hpp"
#include "aimastery/llm/attention/packed_sequences.hpp"
#include "aimastery/llm/attention/scaled_dot_product_attention.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

struct MultiHeadAttentionOptions {
  /// Dropout on the attention probabilities (training only).
  double dropout = 0.0;
  bool bias = true;
  /// Keep the per-head attention weights of each forward (attention_weights()); forces the plain path.
  bool need_weights = false;
  /// Seed of the initial weights and of the dropout masks.
  std::uint64_t seed = 0;
  /// How scaled_dot_product_attention tiles (see scaled_dot_product_attention.hpp).
  AttentionAlgorithm algorithm = AttentionAlgorithm::automatic;
  Index tiled_threshold = 256;
};

template <Scalar T>
class MultiHeadAttention {
 public:
  MultiHeadAttention(Index embed_dim, Index num_heads, MultiHeadAttentionOptions options = {})
      : embed_dim_(embed_dim), num_heads_(num_heads), options_(options) {
    require(embed_dim > 0 && num_heads > 0, "MultiHeadAttention", [&] {
      return "embed_dim and num_heads must be positive, got " + std::to_string(embed_dim) + " and " +
             std::to_string(num_heads);
    });
    require(embed_dim % num_heads == 0, "MultiHeadAttention", [&] {
      return "embed_dim " + std::to_string(embed_dim) + " is not divisible by num_heads " + std::to_string(num_heads);
    });
    require(std::isfinite(options.dropout) && options.dropout >= 0.0 && options.dropout < 1.0, "MultiHeadAttention",
            [&] { return "dropout must be in [0, 1), got " + std::to_string(options.dropout); });
    RandomEngine rng(options.seed);
    // As PyTorch: Xavier-uniform in_proj_weight (fan_in E, fan_out 3E), zero biases, out_proj as nn.Linear.
    const double bound = std::sqrt(6.0 / static_cast<double>(embed_dim + 3 * embed_dim));
    in_proj_weight_ = Parameter<T>(detail::uniform_matrix<T>(3 * embed_dim, embed_dim, bound, rng));
    if (options.bias) in_proj_bias_ = Parameter<T>(Matrix<T>::Zero(1, 3 * embed_dim));
    out_proj_ = detail::Linear<T>(embed_dim, embed_dim, options.bias, rng);
    if (options.bias) out_proj_.bias.value.setZero();
  }

  [[nodiscard]] std::string name() const {
    return "MultiHeadAttention(embed_dim=" + std::to_string(embed_dim_) + ", num_heads=" + std::to_string(num_heads_) +
           ")";
  }
  [[nodiscard]] Index embed_dim() const noexcept { return embed_dim_; }
  [[nodiscard]] Index num_heads() const noexcept { return num_heads_; }
  [[nodiscard]] Index head_dim() const noexcept { return embed_dim_ / num_heads_; }

  void train(bool on = true) noexcept { training_ = on; }
  void eval() noexcept { training_ = false; }
  [[nodiscard]] bool training() const noexcept { return training_; }

  /// Self-attention: query = key = value = x (batch, sequence, E).
  Tensor<T> forward(const Tensor<T>& x, const AttentionMask<T>& mask = {}, bool causal = false) {
    return forward(x, x, x, mask, causal);
  }
  /// Attention of query (B, n, E) over key and value (B, m, E); returns (B, n, E). `causal` forbids key
  /// j > i for query i.
  Tensor<T> forward(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value,
                    const AttentionMask<T>& mask = {}, bool causal = false) {
    constexpr std::string_view where = "MultiHeadAttention::forward";
    detail::check_sequence(where, "query", query, embed_dim_);
    detail::check_sequence(where, "key", key, embed_dim_);
    detail::check_sequence(where, "value", value, embed_dim_);
    if (query.dim(0) != key.dim(0) || key.dim(0) != value.dim(0) || key.dim(1) != value.dim(1))
      fail(where, "query is " + Tensor<T>::shape_string(query.shape()) + ", key is " +
                      Tensor<T>::shape_string(key.shape()) + ", value is " + Tensor<T>::shape_string(value.shape()) +
                      " (batch must agree, and key and value must have the same length)");
    detail::check_finite_sequence(where, "query", query);
    detail::check_finite_sequence(where, "key", key);
    detail::check_finite_sequence(where, "value", value);
    const Index B = query.dim(0), n = query.dim(1), m = key.dim(1);
    mask.check(where, B, num_heads_, n, m);

    AttentionOptions opts;
    opts.causal = causal;
    opts.dropout = options_.dropout;
    opts.training = training_;
    opts.seed = detail::attention::mix_seed(options_.seed, forward_count_);
    opts.return_weights = options_.need_weights;
    opts.algorithm = options_.algorithm;
    opts.tiled_threshold = options_.tiled_threshold;
    if (training_ && options_.dropout > 0.0) ++forward_count_;

    const auto Xq = query.matrix(), Xk = key.matrix(), Xv = value.matrix();
    Cache c;
    c.batch = B;
    c.q = split_heads(project_with_side(Xq, 0), B, n);
    c.k = split_heads(project_with_side(Xk, 1), B, m);
    c.v = split_heads(project_with_side(Xv, 2), B, m);
    c.attention = scaled_dot_product_attention(c.q, c.k, c.v, mask, opts);
    c.concat = merge_heads(c.attention.output);
    Matrix<T> projected = out_proj_.forward(c.concat);
    if (side_[3]) projected += side_[3]->forward(c.concat);
    Tensor<T> y = detail::sequence_from<T>(projected, B, n);
    c.query = Xq;
    c.key = Xk;
    c.value = Xv;
    c.mask = mask;
    c.options = opts;
    if (options_.need_weights) weights_ = c.attention.weights;
    cache_ = std::move(c);
    return y;
  }

  /// Self-attention inference over packed sequences (packed_sequences.hpp): each sequence attends over its
  /// own tokens only, which is the padded forward with a key-padding mask, at every real token. Const, no
  /// dropout, nothing kept for backward; returns (Σ lengths) × E. With S = Σ lengths tokens:
  ///   [Q K V] = X W_inᵀ + b_in              one GEMM (S × 3E) for the three projections
  ///   Oₛ,ᵢ = softmax(s·Qₛ,ᵢ Kₛ,ᵢᵀ) Vₛ,ᵢ       per sequence s and head i, on strided views of [Q K V]
  ///   Y = [Oₛ,₁ … Oₛ,ₕ] W_oᵀ + b_o            one GEMM
  /// `causal` forbids key j > i inside each sequence.
  [[nodiscard]] Matrix<T> infer(const PackedSequences<T>& x, bool causal = false) const {
    x.check("MultiHeadAttention::infer", embed_dim_);
    namespace gemm = detail::gemm;
    const Index E = embed_dim_, d = head_dim(), S = x.tokens.rows();
    Matrix<T> qkv = matrix_multiply(x.tokens, in_proj_weight_.value.transpose());
    if (options_.bias) qkv.rowwise() += in_proj_bias_.value.row(0);
    const T scale = T(1) / std::sqrt(static_cast<T>(d));
    Matrix<T> concat(S, E);
    Matrix<T> scores;
    for (Index s = 0; s < x.count(); ++s) {
      const Index n = x.length(s);
      const T* rows = qkv.data() + x.begin(s) * 3 * E;  // row stride 3E: [q | k | v]
      scores.resize(n, n);
      for (Index i = 0; i < num_heads_; ++i) {
        const gemm::StridedView<T> q{rows + i * d, n, d, 3 * E, 1};
        const gemm::StridedView<T> k_transposed{rows + E + i * d, d, n, 1, 3 * E};
        const gemm::StridedView<T> v{rows + 2 * E + i * d, n, d, 3 * E, 1};
        gemm::gemm(q, k_transposed, scores.data(), n, false);
        // Row r: P = softmax(s·S) = exp(s·(S − max)) / Σ (s > 0, so max(s·S) = s·max(S)).
        for (Index r = 0; r < n; ++r) {
          const Index keys = causal ? r + 1 : n;
          auto p = scores.row(r).head(keys).array();
          p = ((p - p.maxCoeff()) * scale).exp();
          p /= p.sum();
          scores.row(r).tail(n - keys).setZero();
        }
        const gemm::StridedView<T> probabilities{scores.data(), n, n, n, 1};
        gemm::gemm(probabilities, v, concat.data() + x.begin(s) * E + i * d, E, false);
      }
    }
    return out_proj_.forward(concat);
  }

  /// Given dL/dY (B, n, E) of the last forward, accumulates every parameter's gradient and returns
  /// dL/dquery, dL/dkey, dL/dvalue (for self-attention the input's gradient is their sum()).
  AttentionGradients<T> backward(const Tensor<T>& grad_output) {
    constexpr std::string_view where = "MultiHeadAttention::backward";
    require(cache_.batch > 0, where, "called before forward");
    const Index B = cache_.batch, n = cache_.query.rows() / B, m = cache_.key.rows() / B;
    require(grad_output.shape() == typename Tensor<T>::Shape{B, n, embed_dim_}, where, [&] {
      return "grad_output is " + Tensor<T>::shape_string(grad_output.shape()) + " but the forward produced " +
             Tensor<T>::shape_string({B, n, embed_dim_});
    });
    Matrix<T> d_concat = out_proj_.backward(cache_.concat, grad_output.matrix());
    if (side_[3]) d_concat += side_[3]->backward(Matrix<T>(grad_output.matrix()));
    const Tensor<T> d_heads = split_heads(d_concat, B, n);
    const AttentionGradients<T> g = scaled_dot_product_attention_backward(
        d_heads, cache_.q, cache_.k, cache_.v, cache_.attention, cache_.mask, cache_.options);
    AttentionGradients<T> out;
    out.query = detail::sequence_from<T>(unproject(merge_heads(g.query), cache_.query, 0), B, n);
    out.key = detail::sequence_from<T>(unproject(merge_heads(g.key), cache_.key, 1), B, m);
    out.value = detail::sequence_from<T>(unproject(merge_heads(g.value), cache_.value, 2), B, m);
    return out;
  }

  ParameterList<T> parameters() {
    ParameterList<T> list{{"in_proj_weight", &in_proj_weight_, true}};
    if (options_.bias) list.push_back({"in_proj_bias", &in_proj_bias_, true});
    out_proj_.append_parameters(list, "out_proj.");
    return list;
  }

  /// Side layers beside the query, key, value and output projections (see the top of this file; null =
  /// none). Not owned: they must outlive the forward and the backward they serve. Set the same ones for
  /// a forward and its backward; the packed `infer` path ignores them.
  void set_side_paths(Layer<T>* query, Layer<T>* key, Layer<T>* value, Layer<T>* out_proj) noexcept {
    side_ = {query, key, value, out_proj};
  }

  Parameter<T>& in_proj_weight() noexcept { return in_proj_weight_; }
  Parameter<T>& in_proj_bias() noexcept { return in_proj_bias_; }
  Parameter<T>& out_proj_weight() noexcept { return out_proj_.weight; }
  Parameter<T>& out_proj_bias() noexcept { return out_proj_.bias; }

  /// Per-head attention weights (B, h, n, m) of the last forward, when need_weights was set (PyTorch
  /// averages them over heads by default; take the mean over axis 1 for that).
  [[nodiscard]] const Tensor<T>& attention_weights() const {
    require(options_.need_weights, "MultiHeadAttention::attention_weights",
            "the layer was built without need_weights = true");
    return weights_;
  }

 private:
  struct Cache {
    Index batch = 0;
    Matrix<T> query, key, value;  // inputs as (B·len) × E
    Tensor<T> q, k, v;            // projected, (B, h, len, d)
    AttentionOutput<T> attention;
    Matrix<T> concat;  // (B·n) × E, heads side by side
    AttentionMask<T> mask;
    AttentionOptions options;
  };

  /// X W_partᵀ + b_part, part 0/1/2 = q/k/v.
  Matrix<T> project(const Eigen::Ref<const Matrix<T>>& X, Index part) const {
    Matrix<T> P = matrix_multiply(X, in_proj_weight_.value.middleRows(part * embed_dim_, embed_dim_).transpose());
    if (options_.bias) P.rowwise() += in_proj_bias_.value.row(0).segment(part * embed_dim_, embed_dim_);
    return P;
  }
  /// project(X, part) + S(X) for the part's side path S.
  Matrix<T> project_with_side(const Eigen::Ref<const Matrix<T>>& X, Index part) {
    Matrix<T> P = project(X, part);
    if (Layer<T>* side = side_[static_cast<std::size_t>(part)]) P += side->forward(Matrix<T>(X));
    return P;
  }
  /// Accumulates the in_proj gradients of part `part` from dP (its projected gradient), and its side
  /// path's; returns dX.
  Matrix<T> unproject(const Matrix<T>& dP, const Matrix<T>& X, Index part) {
    in_proj_weight_.grad.middleRows(part * embed_dim_, embed_dim_).noalias() += matrix_multiply(dP.transpose(), X);
    if (options_.bias) in_proj_bias_.grad.row(0).segment(part * embed_dim_, embed_dim_) += dP.colwise().sum();
    Matrix<T> dX = matrix_multiply(dP, in_proj_weight_.value.middleRows(part * embed_dim_, embed_dim_));
    if (Layer<T>* side = side_[static_cast<std::size_t>(part)]) dX += side->backward(dP);
    return dX;
  }
  /// (B·len) × E → (B, h, len, d): head i is columns [i·d, (i+1)·d).
  Tensor<T> split_heads(const Matrix<T>& X, Index B, Index len) const {
    const Index h = num_heads_, d = head_dim();
    Tensor<T> t({B, h, len, d});
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < h; ++i)
        Eigen::Map<Matrix<T>>(t.data() + (b * h + i) * len * d, len, d) = X.block(b * len, i * d, len, d);
    return t;
  }
  /// (B, h, len, d) → (B·len) × E.
  Matrix<T> merge_heads(const Tensor<T>& t) const {
    const Index B = t.dim(0), h = t.dim(1), len = t.dim(2), d = t.dim(3);
    Matrix<T> X(B * len, h * d);
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < h; ++i)
        X.block(b * len, i * d, len, d) = Eigen::Map<const Matrix<T>>(t.data() + (b * h + i) * len * d, len, d);
    return X;
  }

  template <class>
  friend struct ModelCodec;  // reads and restores the options (production/deployment)

  Index embed_dim_;
  Index num_heads_;
  MultiHeadAttentionOptions options_;
  bool training_ = true;
  std::uint64_t forward_count_ = 0;
  Parameter<T> in_proj_weight_;
  Parameter<T> in_proj_bias_;
  detail::Linear<T> out_proj_;
  Tensor<T> weights_;
  Cache cache_;
  std::array<Layer<T>*, 4> side_ = {};  // beside q, k, v, out_proj (not owned)
};

}  // namespace aimastery
