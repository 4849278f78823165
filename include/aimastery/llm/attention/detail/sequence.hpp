#pragma once
/// \file
/// Checks and views shared by the sequence layers: a sequence batch is a rank-3 Tensor (batch × sequence
/// × features) and a per-token layer sees it as a (batch·sequence) × features matrix.

#include <string>
#include <string_view>

#include "aimastery/core/tensor.hpp"

namespace aimastery::detail {

/// x has rank 3, no empty axis, and (when features ≥ 0) that many features; a message names the shape.
template <Scalar T>
void check_sequence(std::string_view where, std::string_view name, const Tensor<T>& x, Index features) {
  if (x.rank() != 3)
    fail(where, std::string(name) + " must have rank 3 (batch, sequence, features), got shape " +
                    Tensor<T>::shape_string(x.shape()));
  if (x.size() == 0) fail(where, std::string(name) + " is empty, shape " + Tensor<T>::shape_string(x.shape()));
  if (features >= 0 && x.dim(2) != features)
    fail(where, std::string(name) + " has shape " + Tensor<T>::shape_string(x.shape()) + " but the layer takes " +
                    std::to_string(features) + " features (expected (batch, sequence, " + std::to_string(features) +
                    "))");
}

template <Scalar T>
void check_finite_sequence(std::string_view where, std::string_view name, const Tensor<T>& x) {
  if (!x.matrix().allFinite()) fail(where, std::string(name) + " contains NaN or infinity");
}

/// A rank-3 tensor of the given shape holding the rows of m.
template <Scalar T>
Tensor<T> sequence_from(const Matrix<T>& m, Index batch, Index length) {
  Tensor<T> t({batch, length, m.cols()});
  t.matrix(batch * length, m.cols()) = m;
  return t;
}

}  // namespace aimastery::detail
