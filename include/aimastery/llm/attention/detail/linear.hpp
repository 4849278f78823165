#pragma once
/// \file
/// The affine map of the attention layers, y = x Wᵀ + b with W (out × in) as PyTorch's nn.Linear, its
/// products through the library's GEMM and its backward:
///   ∂L/∂W += dYᵀ X,   ∂L/∂b += 1ᵀ dY,   ∂L/∂X = dY W.
/// Initialised as PyTorch's nn.Linear: W and b uniform on ±1/√in.

#include <cmath>
#include <cstdint>

#include "aimastery/core/linalg/matmul.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery::detail {

/// A matrix with entries uniform on (−bound, bound), drawn from `rng`.
template <Scalar T>
Matrix<T> uniform_matrix(Index rows, Index cols, double bound, RandomEngine& rng) {
  Matrix<T> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>((2.0 * uniform_open01(rng) - 1.0) * bound);
  return m;
}

template <Scalar T>
struct Linear {
  Parameter<T> weight;  // out × in
  Parameter<T> bias;    // 1 × out (empty without bias)
  bool has_bias = true;

  Linear() = default;
  Linear(Index in, Index out, bool with_bias, RandomEngine& rng) : has_bias(with_bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    weight = Parameter<T>(uniform_matrix<T>(out, in, bound, rng));
    if (has_bias) bias = Parameter<T>(uniform_matrix<T>(1, out, bound, rng));
  }
  [[nodiscard]] Index in() const noexcept { return weight.value.cols(); }
  [[nodiscard]] Index out() const noexcept { return weight.value.rows(); }

  /// Y = X Wᵀ + b.
  [[nodiscard]] Matrix<T> forward(const Eigen::Ref<const Matrix<T>>& X) const {
    Matrix<T> Y = matrix_multiply(X, weight.value.transpose());
    if (has_bias) Y.rowwise() += bias.value.row(0);
    return Y;
  }
  /// Accumulates ∂L/∂W and ∂L/∂b for the input X of the forward; returns ∂L/∂X.
  Matrix<T> backward(const Eigen::Ref<const Matrix<T>>& X, const Eigen::Ref<const Matrix<T>>& dY) {
    weight.grad.noalias() += matrix_multiply(dY.transpose(), X);
    if (has_bias) bias.grad.row(0) += dY.colwise().sum();
    return matrix_multiply(dY, weight.value);
  }
  /// Appends "<prefix>weight" and "<prefix>bias" to a parameter list.
  void append_parameters(ParameterList<T>& list, const std::string& prefix) {
    list.push_back({prefix + "weight", &weight, true});
    if (has_bias) list.push_back({prefix + "bias", &bias, true});
  }
};

}  // namespace aimastery::detail
