#pragma once
/// \file
/// Positional information for attention, which by itself is blind to order:
///
/// - **Sinusoidal** (Vaswani et al. 2017), a fixed table added to the token features:
///     PE(p, 2i) = sin(p / base^{2i/E}),   PE(p, 2i+1) = cos(p / base^{2i/E}),   base = 10000
///   (each pair of features is a rotation at its own frequency, so PE(p + k) is a linear function of PE(p)).
/// - **Learned** position embeddings (BERT, GPT-2): a trainable table W (positions × E), row p added to the
///   token at position p; ∂L/∂W_p = Σ_batch ∂L/∂y at position p. Parameter "weight", as nn.Embedding.
/// - **Rotary** (RoPE, Su et al. 2021), applied to queries and keys instead of the features: feature pair
///   (a, b) of the token at position p is rotated by the angle p·θᵢ, θᵢ = base^{−2i/d}:
///     a' = a cos pθᵢ − b sin pθᵢ,   b' = b cos pθᵢ + a sin pθᵢ
///   so q'ᵀk' depends on the positions only through their difference. Pairs are (i, i + d/2) by default
///   (the "rotate_half" layout of GPT-NeoX and LLaMA in Hugging Face) or (2i, 2i+1) with `interleaved`
///   (RoFormer, GPT-J). The backward of a rotation is the rotation by the opposite angle.
///
/// Sequences are rank-3 tensors (batch, sequence, E); rotary embeddings also take rank-4 (batch, heads,
/// sequence, head_dim). `offset` is the position of the first token (for caches of earlier tokens).

#include <cmath>
#include <cstdint>
#include <string>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/attention/detail/sequence.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

/// The (positions × dim) sinusoidal table PE(p, 2i) = sin(p/base^{2i/dim}), PE(p, 2i+1) = cos(...).
template <Scalar T>
Matrix<T> sinusoidal_positional_encoding(Index positions, Index dim, double base = 10000.0) {
  require(positions > 0 && dim > 0, "sinusoidal_positional_encoding", [&] {
    return "positions and dim must be positive, got " + std::to_string(positions) + " and " + std::to_string(dim);
  });
  require(std::isfinite(base) && base > 0.0, "sinusoidal_positional_encoding", "base must be positive and finite");
  Matrix<T> pe(positions, dim);
  for (Index i = 0; 2 * i < dim; ++i) {
    const double frequency = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(dim));
    for (Index p = 0; p < positions; ++p) {
      const double angle = static_cast<double>(p) * frequency;
      pe(p, 2 * i) = static_cast<T>(std::sin(angle));
      if (2 * i + 1 < dim) pe(p, 2 * i + 1) = static_cast<T>(std::cos(angle));
    }
  }
  return pe;
}

namespace detail {
/// x (batch, sequence, E) → x + table rows [offset, offset + sequence).
template <Scalar T>
Tensor<T> add_positions(std::string_view where, const Tensor<T>& x, const Matrix<T>& table, Index offset) {
  check_sequence(where, "input", x, table.cols());
  const Index B = x.dim(0), L = x.dim(1);
  require(offset >= 0 && offset + L <= table.rows(), where, [&] {
    return "positions " + std::to_string(offset) + ".." + std::to_string(offset + L - 1) + " exceed the table of " +
           std::to_string(table.rows()) + " positions";
  });
  Tensor<T> y = x;
  for (Index b = 0; b < B; ++b) y.slice_matrix(b) += table.middleRows(offset, L);
  return y;
}
}  // namespace detail

/// Adds the fixed sinusoidal table to (batch, sequence, E) inputs; no parameters, backward is identity.
template <Scalar T>
class SinusoidalPositionalEncoding {
 public:
  SinusoidalPositionalEncoding(Index max_length, Index d_model, double base = 10000.0)
      : table_(sinusoidal_positional_encoding<T>(max_length, d_model, base)) {}
  Tensor<T> forward(const Tensor<T>& x, Index offset = 0) const {
    return detail::add_positions("SinusoidalPositionalEncoding::forward", x, table_, offset);
  }
  /// ∂(x + PE)/∂x = I.
  Tensor<T> backward(const Tensor<T>& grad_output) const { return grad_output; }
  [[nodiscard]] const Matrix<T>& table() const noexcept { return table_; }

 private:
  Matrix<T> table_;
};

/// A trainable (num_positions × E) table added to (batch, sequence, E) inputs. Parameter "weight",
/// initialised N(0, 1) as nn.Embedding.
template <Scalar T>
class LearnedPositionalEmbedding {
 public:
  LearnedPositionalEmbedding(Index num_positions, Index d_model, std::uint64_t seed = 0) {
    require(num_positions > 0 && d_model > 0, "LearnedPositionalEmbedding", [&] {
      return "num_positions and d_model must be positive, got " + std::to_string(num_positions) + " and " +
             std::to_string(d_model);
    });
    RandomEngine rng(seed);
    Matrix<T> w(num_positions, d_model);
    for (Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<T>(detail::standard_normal(rng));
    weight_ = Parameter<T>(std::move(w));
  }
  Tensor<T> forward(const Tensor<T>& x, Index offset = 0) {
    Tensor<T> y = detail::add_positions("LearnedPositionalEmbedding::forward", x, weight_.value, offset);
    batch_ = x.dim(0);
    length_ = x.dim(1);
    offset_ = offset;
    return y;
  }
  /// Accumulates ∂L/∂W_p = Σ_b ∂L/∂y_{b,p}; returns ∂L/∂x = ∂L/∂y.
  Tensor<T> backward(const Tensor<T>& grad_output) {
    require(batch_ > 0, "LearnedPositionalEmbedding::backward", "called before forward");
    require(grad_output.shape() == typename Tensor<T>::Shape{batch_, length_, weight_.value.cols()},
            "LearnedPositionalEmbedding::backward", [&] {
              return "grad_output is " + Tensor<T>::shape_string(grad_output.shape()) + " but the forward produced " +
                     Tensor<T>::shape_string({batch_, length_, weight_.value.cols()});
            });
    for (Index b = 0; b < batch_; ++b) weight_.grad.middleRows(offset_, length_) += grad_output.slice_matrix(b);
    return grad_output;
  }
  ParameterList<T> parameters() { return {{"weight", &weight_, true}}; }
  Parameter<T>& weight() noexcept { return weight_; }

 private:
  Parameter<T> weight_;
  Index batch_ = 0, length_ = 0, offset_ = 0;
};

struct RotaryOptions {
  double base = 10000.0;
  /// Pairs (2i, 2i+1) instead of (i, i + d/2).
  bool interleaved = false;
};

/// Rotary position embedding of queries or keys (see the file comment). No parameters.
template <Scalar T>
class RotaryPositionalEmbedding {
 public:
  explicit RotaryPositionalEmbedding(Index head_dim, RotaryOptions options = {}) : dim_(head_dim), options_(options) {
    require(head_dim > 0 && head_dim % 2 == 0, "RotaryPositionalEmbedding",
            [&] { return "head_dim must be positive and even, got " + std::to_string(head_dim); });
    require(std::isfinite(options.base) && options.base > 0.0, "RotaryPositionalEmbedding",
            "base must be positive and finite");
  }
  [[nodiscard]] Index head_dim() const noexcept { return dim_; }

  /// Rotates x of shape (..., sequence, head_dim) (rank 3 or 4); token l is at position offset + l.
  Tensor<T> forward(const Tensor<T>& x, Index offset = 0) const { return rotate("forward", x, offset, 1.0); }
  /// The gradient through forward: the inverse rotation of grad_output.
  Tensor<T> backward(const Tensor<T>& grad_output, Index offset = 0) const {
    return rotate("backward", grad_output, offset, -1.0);
  }

 private:
  Tensor<T> rotate(std::string_view what, const Tensor<T>& x, Index offset, double sign) const {
    const std::string where = "RotaryPositionalEmbedding::" + std::string(what);
    require((x.rank() == 3 || x.rank() == 4) && x.shape().back() == dim_ && x.size() > 0, where, [&] {
      return "input has shape " + Tensor<T>::shape_string(x.shape()) + ", expected (batch, [heads,] sequence, " +
             std::to_string(dim_) + ")";
    });
    require(offset >= 0, where, "offset must be non-negative");
    const Index L = x.dim(x.rank() - 2);
    const Index half = dim_ / 2;
    // cos and sin of p·θᵢ for every position and frequency, computed once per call.
    Matrix<T> c(L, half), s(L, half);
    for (Index i = 0; i < half; ++i) {
      const double theta = std::pow(options_.base, -2.0 * static_cast<double>(i) / static_cast<double>(dim_));
      for (Index l = 0; l < L; ++l) {
        const double angle = static_cast<double>(offset + l) * theta;
        c(l, i) = static_cast<T>(std::cos(angle));
        s(l, i) = static_cast<T>(sign * std::sin(angle));
      }
    }
    Tensor<T> y(x.shape());
    const Index rows = x.size() / dim_;
    const T* in = x.data();
    T* out = y.data();
    for (Index r = 0; r < rows; ++r) {
      const Index l = r % L;
      const T* a = in + r * dim_;
      T* b = out + r * dim_;
      for (Index i = 0; i < half; ++i) {
        const Index i1 = options_.interleaved ? 2 * i : i;
        const Index i2 = options_.interleaved ? 2 * i + 1 : i + half;
        b[i1] = a[i1] * c(l, i) - a[i2] * s(l, i);
        b[i2] = a[i2] * c(l, i) + a[i1] * s(l, i);
      }
    }
    return y;
  }

  Index dim_;
  RotaryOptions options_;
};

}  // namespace aimastery
