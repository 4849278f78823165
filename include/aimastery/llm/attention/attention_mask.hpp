#pragma once
/// \file
/// AttentionMask: which keys each query may attend to, for scores of shape (batch, heads, queries, keys).
///
/// Three ingredients, all optional, combined by the attention functions:
///   - a **boolean mask** with PyTorch `scaled_dot_product_attention`'s meaning: **true = may attend**,
///     false = masked out (the score becomes −∞). Note: this is the OPPOSITE of nn.MultiheadAttention's
///     `attn_mask` and `key_padding_mask`, where true means "ignore". aimastery uses the SDPA meaning
///     everywhere, MultiHeadAttention included; `with_key_padding` takes the PyTorch MHA meaning for
///     convenience and says so in its name;
///   - an **additive float mask**, added to the scaled scores (−∞ entries mask, 0 entries leave alone);
///   - a **key mask per batch element** (batch × keys): `with_keys_allowed(keep)` with keep(b, j) = true
///     for real tokens (Hugging Face's `attention_mask` = 1), or `with_key_padding(pad)` with pad(b, j) =
///     true for padding (PyTorch's `key_padding_mask`).
///
/// A boolean or additive mask has rank 2 to 4 and broadcasts NumPy-style against (batch, heads, queries,
/// keys): its shape is padded with leading 1s to rank 4 and every axis must be 1 or equal to the scores'
/// axis. So (queries, keys) applies to every batch element and head, (batch, 1, queries, keys) per batch
/// element, (batch, heads, queries, keys) per head. (PyTorch MHA's 3-D (batch·heads, queries, keys) mask
/// is the 4-D one reshaped.)
///
/// A query row whose keys are all masked attends to nothing: its output and its attention weights are
/// zero (never NaN), and no gradient flows through it.

#include <Eigen/Core>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// A row-major array of booleans, e.g. (queries × keys) or (batch × keys).
using BoolMatrix = Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <Scalar T>
class AttentionMask {
 public:
  enum class Kind { none, boolean, additive };
  using Shape4 = std::array<Index, 4>;

  /// No mask: every query attends to every key.
  AttentionMask() = default;

  /// Boolean (queries × keys) mask, true = may attend.
  static AttentionMask boolean(const BoolMatrix& allowed) {
    std::vector<std::uint8_t> data(static_cast<std::size_t>(allowed.size()));
    for (Index i = 0; i < allowed.size(); ++i) data[static_cast<std::size_t>(i)] = allowed.data()[i] ? 1 : 0;
    AttentionMask m;
    m.kind_ = Kind::boolean;
    m.shape_ = padded("AttentionMask::boolean", {allowed.rows(), allowed.cols()});
    m.allowed_ = std::move(data);
    return m;
  }
  /// Boolean mask of rank 2 to 4 (row-major `allowed`), true = may attend; broadcast as described above.
  static AttentionMask boolean(const std::vector<Index>& shape, const std::vector<bool>& allowed) {
    AttentionMask m;
    m.shape_ = padded("AttentionMask::boolean", shape);
    require(static_cast<Index>(allowed.size()) == count(m.shape_), "AttentionMask::boolean", [&] {
      return "shape " + Tensor<T>::shape_string(shape) + " needs " + std::to_string(count(m.shape_)) + " values, got " +
             std::to_string(allowed.size());
    });
    m.kind_ = Kind::boolean;
    m.allowed_.assign(allowed.begin(), allowed.end());
    return m;
  }
  /// Additive (queries × keys) mask, added to the scaled scores; −∞ masks an entry.
  static AttentionMask additive(const Matrix<T>& bias) { return additive(Tensor<T>::from_matrix(bias)); }
  /// Additive mask of rank 2 to 4, broadcast as described above. NaN and +∞ are rejected.
  static AttentionMask additive(Tensor<T> bias) {
    AttentionMask m;
    m.shape_ = padded("AttentionMask::additive", bias.shape());
    for (Index i = 0; i < bias.size(); ++i) {
      const T v = bias.data()[i];
      if (std::isnan(v) || v == std::numeric_limits<T>::infinity())
        fail("AttentionMask::additive", "the mask contains NaN or +infinity (use -infinity to mask an entry)");
    }
    m.kind_ = Kind::additive;
    m.bias_ = std::move(bias);
    return m;
  }

  /// Adds a per-batch key mask (batch × keys): keep(b, j) = true when key j of batch element b is a real
  /// token that may be attended (Hugging Face's attention_mask = 1).
  AttentionMask& with_keys_allowed(const BoolMatrix& keep) {
    return set_key_mask("AttentionMask::with_keys_allowed", keep, true);
  }
  /// Adds a per-batch key mask with PyTorch nn.MultiheadAttention's `key_padding_mask` meaning:
  /// pad(b, j) = true when key j of batch element b is padding and must be ignored.
  AttentionMask& with_key_padding(const BoolMatrix& pad) {
    return set_key_mask("AttentionMask::with_key_padding", pad, false);
  }

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  [[nodiscard]] bool has_key_mask() const noexcept { return !keys_.empty(); }
  [[nodiscard]] bool empty() const noexcept { return kind_ == Kind::none && keys_.empty(); }
  /// The shape of the boolean/additive part padded to rank 4 ({1, 1, 1, 1} when there is none).
  [[nodiscard]] const Shape4& shape() const noexcept { return shape_; }

  /// Throws InvalidArgument naming both shapes unless the mask broadcasts against scores of shape
  /// (batch, heads, queries, keys).
  void check(std::string_view where, Index batch, Index heads, Index queries, Index keys) const {
    const Shape4 scores{batch, heads, queries, keys};
    if (kind_ != Kind::none)
      for (std::size_t a = 0; a < 4; ++a)
        if (shape_[a] != 1 && shape_[a] != scores[a])
          fail(where, "attention mask of shape " + shape_text(shape_) + " does not broadcast to the scores' shape " +
                          shape_text(scores) + " (batch, heads, queries, keys)");
    if (has_key_mask() && (keys_rows_ != batch || keys_cols_ != keys))
      fail(where, "key mask is " + std::to_string(keys_rows_) + "x" + std::to_string(keys_cols_) +
                      " but the attention has batch " + std::to_string(batch) + " and " + std::to_string(keys) +
                      " keys (expected " + std::to_string(batch) + "x" + std::to_string(keys) + ")");
  }

  /// The mask for one (batch, head) pair, read at (query i, key j) with broadcasting resolved into strides.
  /// Used by the attention kernels; valid while the mask lives.
  struct Slice {
    const T* bias = nullptr;                // additive part, or null
    const std::uint8_t* allowed = nullptr;  // boolean part, or null
    const std::uint8_t* keys = nullptr;     // per-batch key mask (length keys), or null
    Index row_stride = 0;                   // queries axis stride (0 when broadcast)
    Index col_stride = 0;                   // keys axis stride (0 when broadcast)
  };
  [[nodiscard]] Slice slice(Index b, Index h) const {
    Slice s;
    if (kind_ != Kind::none) {
      const Index s3 = shape_[3] == 1 ? 0 : 1;
      const Index s2 = shape_[2] == 1 ? 0 : shape_[3];
      const Index s1 = shape_[1] == 1 ? 0 : shape_[2] * shape_[3];
      const Index s0 = shape_[0] == 1 ? 0 : shape_[1] * shape_[2] * shape_[3];
      const Index offset = b * s0 + h * s1;
      if (kind_ == Kind::additive)
        s.bias = bias_.data() + offset;
      else
        s.allowed = allowed_.data() + offset;
      s.row_stride = s2;
      s.col_stride = s3;
    }
    if (has_key_mask()) s.keys = keys_.data() + b * keys_cols_;
    return s;
  }

 private:
  // keys_(b, j) = 1 where mask(b, j) == allowed_value: the key may be attended.
  AttentionMask& set_key_mask(std::string_view where, const BoolMatrix& mask, bool allowed_value) {
    require(mask.size() > 0, where, "the key mask is empty");
    std::vector<std::uint8_t> keys(static_cast<std::size_t>(mask.size()));
    for (Index i = 0; i < mask.size(); ++i) keys[static_cast<std::size_t>(i)] = mask.data()[i] == allowed_value ? 1 : 0;
    keys_ = std::move(keys);
    keys_rows_ = mask.rows();
    keys_cols_ = mask.cols();
    return *this;
  }
  static Index count(const Shape4& s) { return s[0] * s[1] * s[2] * s[3]; }
  static std::string shape_text(const Shape4& s) { return Tensor<T>::shape_string({s[0], s[1], s[2], s[3]}); }
  static Shape4 padded(std::string_view where, const std::vector<Index>& shape) {
    if (shape.size() < 2 || shape.size() > 4)
      fail(where, "a mask has rank 2 to 4, got shape " + Tensor<T>::shape_string(shape));
    Shape4 out{1, 1, 1, 1};
    const std::size_t lead = 4 - shape.size();
    for (std::size_t a = 0; a < shape.size(); ++a) {
      if (shape[a] <= 0) fail(where, "a mask needs positive dimensions, got shape " + Tensor<T>::shape_string(shape));
      out[lead + a] = shape[a];
    }
    return out;
  }

  Kind kind_ = Kind::none;
  Shape4 shape_{1, 1, 1, 1};
  Tensor<T> bias_;
  std::vector<std::uint8_t> allowed_;
  std::vector<std::uint8_t> keys_;
  Index keys_rows_ = 0;
  Index keys_cols_ = 0;
};

}  // namespace aimastery
