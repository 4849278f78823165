#pragma once
/// \file
/// PackedSequences: sequences of different lengths stored back to back, without padding, for inference.
///
///   tokens (Σᵢ nᵢ × E):  rows [offsets[i], offsets[i+1]) are the nᵢ tokens of sequence i
///
/// A padded batch (batch, longest, E) with a key-padding mask computes every padding row and then masks
/// it away; packed, the per-token layers (projections, feed-forward, LayerNorm) run one GEMM over real
/// tokens only, and attention runs sequence by sequence. This is the form of PyTorch's nested tensors in
/// the evaluation fast path of nn.TransformerEncoderLayer. The layers' `infer` methods take it: they are
/// const, keep nothing for backward, and equal `forward` on the padded batch (with the key-padding mask)
/// at every real token.

#include <span>
#include <string>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

template <Scalar T>
struct PackedSequences {
  Matrix<T> tokens;            // (Σ lengths) × features
  std::vector<Index> offsets;  // count() + 1 entries, offsets[0] = 0, offsets.back() = tokens.rows()

  [[nodiscard]] Index count() const noexcept { return offsets.empty() ? 0 : static_cast<Index>(offsets.size()) - 1; }
  [[nodiscard]] Index length(Index i) const {
    return offsets[static_cast<std::size_t>(i + 1)] - offsets[static_cast<std::size_t>(i)];
  }
  [[nodiscard]] Index begin(Index i) const { return offsets[static_cast<std::size_t>(i)]; }

  /// Packs the first lengths[b] tokens of each batch element of a (batch, sequence, E) tensor.
  static PackedSequences from_padded(const Tensor<T>& x, std::span<const Index> lengths) {
    constexpr std::string_view where = "PackedSequences::from_padded";
    require(x.rank() == 3, where,
            [&] { return "x must have rank 3, got shape " + Tensor<T>::shape_string(x.shape()); });
    require(static_cast<Index>(lengths.size()) == x.dim(0), where,
            [&] { return std::to_string(lengths.size()) + " lengths for a batch of " + std::to_string(x.dim(0)); });
    PackedSequences p;
    p.offsets.assign(1, 0);
    for (const Index n : lengths) {
      require(n >= 1 && n <= x.dim(1), where,
              [&] { return "a length of " + std::to_string(n) + " is outside [1, " + std::to_string(x.dim(1)) + "]"; });
      p.offsets.push_back(p.offsets.back() + n);
    }
    p.tokens.resize(p.offsets.back(), x.dim(2));
    for (Index b = 0; b < x.dim(0); ++b)
      p.tokens.middleRows(p.begin(b), p.length(b)) = x.slice_matrix(b).topRows(p.length(b));
    return p;
  }

  /// Checks that the offsets describe `tokens` and that every sequence has `features` columns.
  void check(std::string_view where, Index features) const {
    require(!offsets.empty() && offsets.front() == 0 && offsets.back() == tokens.rows(), where,
            [&] { return "offsets must start at 0 and end at the " + std::to_string(tokens.rows()) + " token rows"; });
    for (std::size_t i = 1; i < offsets.size(); ++i)
      require(offsets[i] > offsets[i - 1], where, "every packed sequence must have at least one token");
    require(tokens.cols() == features, where, [&] {
      return "tokens have " + std::to_string(tokens.cols()) + " features but the layer takes " +
             std::to_string(features);
    });
  }
};

}  // namespace aimastery
