#pragma once
/// \file
/// Activation functions and the log-sum-exp family, numerically stable for large inputs.
///
/// Shape rule: a column vector is one distribution; a matrix is a batch with one distribution per row
/// (samples are rows). Element-wise functions keep the shape of their input. Every function returns an
/// evaluated object (never an expression). NaN propagates as in NumPy; -inf is a valid input to the
/// softmax family (a masked entry gets probability 0) and a row of only -inf gives NaN, as in PyTorch.
/// An empty input is an InvalidArgument.

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string_view>
#include <type_traits>

#include "aimastery/core/tensor.hpp"

namespace aimastery {
namespace detail {

/// log Σ exp(x_i) = m + log Σ exp(x_i − m) with m = max_i x_i, so no exp overflows.
template <class Derived>
typename Derived::Scalar log_sum_exp_of(const Eigen::DenseBase<Derived>& x) {
  using T = typename Derived::Scalar;
  const T m = x.maxCoeff();
  if (!std::isfinite(m)) return m;  // +inf dominates, all -inf gives -inf, NaN propagates
  return m + std::log((x.derived().array() - m).exp().sum());
}

/// Applies `row_op(in_row, out_row)` to every row (matrix) or to the whole vector (column vector).
template <class Derived, class RowOp>
typename Derived::PlainObject per_distribution(std::string_view where, const Eigen::MatrixBase<Derived>& x,
                                               RowOp row_op) {
  check_not_empty(where, "x", x);
  typename Derived::PlainObject out(x.rows(), x.cols());
  if constexpr (Derived::ColsAtCompileTime == 1) {
    row_op(x.derived(), out);
  } else {
    for (Index r = 0; r < x.rows(); ++r) {
      auto out_row = out.row(r);
      row_op(x.row(r), out_row);
    }
  }
  return out;
}

}  // namespace detail

/// log Σᵢ exp(xᵢ) over a whole vector (or all elements of a matrix), computed without overflow.
template <class Derived>
typename Derived::Scalar log_sum_exp(const Eigen::MatrixBase<Derived>& x) {
  check_not_empty("log_sum_exp", "x", x);
  return detail::log_sum_exp_of(x);
}

/// Row-wise log-sum-exp of a matrix: one value per row.
template <class Derived>
Vector<typename Derived::Scalar> log_sum_exp_rows(const Eigen::MatrixBase<Derived>& x) {
  check_not_empty("log_sum_exp_rows", "x", x);
  Vector<typename Derived::Scalar> out(x.rows());
  for (Index r = 0; r < x.rows(); ++r) out(r) = detail::log_sum_exp_of(x.row(r));
  return out;
}

/// softmax(x)ᵢ = exp(xᵢ − m) / Σⱼ exp(xⱼ − m), m = maxⱼ xⱼ (shifting by m changes nothing but overflow).
template <class Derived>
typename Derived::PlainObject softmax(const Eigen::MatrixBase<Derived>& x) {
  return detail::per_distribution("softmax", x, [](const auto& in, auto& out) {
    const auto m = in.maxCoeff();
    out = (in.array() - m).exp().matrix();
    out /= out.sum();
  });
}

/// log softmax(x)ᵢ = xᵢ − log Σⱼ exp(xⱼ): exact for very negative entries where log(softmax) underflows.
template <class Derived>
typename Derived::PlainObject log_softmax(const Eigen::MatrixBase<Derived>& x) {
  return detail::per_distribution(
      "log_softmax", x, [](const auto& in, auto& out) { out = (in.array() - detail::log_sum_exp_of(in)).matrix(); });
}

/// σ(x) = 1 / (1 + e^{−x}), evaluated as e^{x} / (1 + e^{x}) for x < 0 so that neither branch overflows.
template <class Derived>
typename Derived::PlainObject sigmoid(const Eigen::MatrixBase<Derived>& x) {
  using T = typename Derived::Scalar;
  check_not_empty("sigmoid", "x", x);
  const auto e = (-x.array().abs()).exp().eval();  // e^{−|x|} ∈ (0, 1]
  return (x.array() >= T(0)).select(T(1) / (T(1) + e), e / (T(1) + e)).matrix();
}

/// relu(x) = max(0, x).
template <class Derived>
typename Derived::PlainObject relu(const Eigen::MatrixBase<Derived>& x) {
  using T = typename Derived::Scalar;
  check_not_empty("relu", "x", x);
  return x.array().max(T(0)).matrix();
}

/// tanh(x) = (e^{x} − e^{−x}) / (e^{x} + e^{−x}), element-wise.
template <class Derived>
typename Derived::PlainObject tanh(const Eigen::MatrixBase<Derived>& x) {
  check_not_empty("tanh", "x", x);
  return x.array().tanh().matrix();
}

namespace detail {

/// Up to 256 floats: a chunk that stays in L1 between the passes of the functions below.
using FloatChunk = Eigen::Array<float, Eigen::Dynamic, 1, 0, 256, 1>;

/// erf(x) ≈ x·P(x²)/Q(x²), P of degree 6 and Q of degree 4, with x clamped to [−4, 4] (|erf(x)| rounds
/// to 1 in float beyond 3.92): the rational minimax fit of Eigen's and XLA's float erf, within a few ulp
/// of std::erf (tests/core/activations checks 5e-7 absolute). Branch-free array arithmetic, so it runs in
/// SIMD registers where std::erf is one scalar call per entry. These float kernels are templates (on the
/// chunk type) so that they are compiled only in the programs that call them.
template <class Chunk = FloatChunk>
Chunk erf_rational(const Chunk& z) {
  const Chunk x = z.max(-4.0f).min(4.0f);
  const Chunk x2 = x * x;
  Chunk p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p - 2.10102402082508e-06f;
  p = x2 * p - 5.69250639462346e-05f;
  p = x2 * p - 7.34990630326855e-04f;
  p = x2 * p - 2.95459980854025e-03f;
  p = x2 * p - 1.60960333262415e-02f;
  Chunk q = x2 * -1.45660718464996e-05f - 2.13374055278905e-04f;
  q = x2 * q - 1.68282697438203e-03f;
  q = x2 * q - 7.37332916720468e-03f;
  q = x2 * q - 1.42647390514189e-02f;
  return x * p / q;
}

/// data[i] ← f(data[i]) for n floats, one Chunk (a FloatChunk) at a time.
template <class Chunk, class F>
void transform_chunks(typename Chunk::Scalar* data, Index n, F f) {
  using Column = Eigen::Array<typename Chunk::Scalar, Eigen::Dynamic, 1>;
  for (Index i0 = 0; i0 < n; i0 += Chunk::MaxRowsAtCompileTime) {
    Eigen::Map<Column> v(data + i0, std::min<Index>(Chunk::MaxRowsAtCompileTime, n - i0));
    v = f(Chunk(v));
  }
}

/// erf(x) in place for n floats.
template <class Chunk = FloatChunk>
void erf_in_place(float* data, Index n) {
  transform_chunks<Chunk>(data, n, [](const Chunk& x) -> Chunk { return erf_rational<Chunk>(x); });
}

/// gelu(x) = ½x(1 + erf(x/√2)) in place.
template <class Chunk = FloatChunk>
void gelu_in_place(float* data, Index n) {
  transform_chunks<Chunk>(data, n, [](const Chunk& x) -> Chunk {
    return 0.5f * x * (1.0f + erf_rational<Chunk>(x * (1.0f / std::numbers::sqrt2_v<float>)));
  });
}

}  // namespace detail

/// How gelu is evaluated: exactly through erf, or by the tanh approximation of Hendrycks & Gimpel.
enum class GeluApproximation { none, tanh };

/// gelu(x) = x·Φ(x) = ½x(1 + erf(x/√2)); the tanh form is ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
template <class Derived>
typename Derived::PlainObject gelu(const Eigen::MatrixBase<Derived>& x,
                                   GeluApproximation approximation = GeluApproximation::none) {
  using T = typename Derived::Scalar;
  check_not_empty("gelu", "x", x);
  if (approximation == GeluApproximation::tanh) {
    const T c = std::sqrt(T(2) / std::numbers::pi_v<T>);
    const auto a = x.array();
    return (T(0.5) * a * (T(1) + (c * (a + T(0.044715) * a.cube())).tanh())).matrix();
  }
  if constexpr (std::is_same_v<T, float>) {
    typename Derived::PlainObject y = x;  // contiguous storage for the vectorised pass
    detail::gelu_in_place(y.data(), y.size());
    return y;
  } else {
    return x.unaryExpr([](T v) { return T(0.5) * v * (T(1) + std::erf(v / std::numbers::sqrt2_v<T>)); });
  }
}

}  // namespace aimastery
