#pragma once
/// \file
/// Vector operations of the seed: dot_product, magnitude, normalize, cosine_similarity,
/// euclidean_distance, manhattan_distance.
///
/// Arguments are any Eigen vectors (column or row, blocks and maps included); two-argument functions
/// need the same number of elements and the same scalar type. An empty vector, a matrix where a
/// vector is expected, or a length mismatch is an InvalidArgument naming the function and both sizes.
///
/// Special values:
///  - dot_product, magnitude and the distances propagate NaN and infinity as NumPy does (a NaN in
///    gives NaN out, an infinite entry gives an infinite norm).
///  - normalize and cosine_similarity are about direction, which a zero vector does not have and a
///    vector with NaN or infinity does not have reliably: both throw InvalidArgument
///    ("normalize: zero vector has no direction", "cosine_similarity: v2 is a zero vector, which has no
///    direction", "... contains NaN or infinity"). scikit-learn returns 0 for a zero vector instead;
///    here the caller decides what a zero vector means, rather than receiving a silent 0.
///  - magnitude, normalize, euclidean_distance and cosine_similarity scale by the largest |vᵢ| before
///    squaring, so vectors with entries near 1e200 (double) or 1e30 (float) neither overflow nor
///    underflow.

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>

#include "aimastery/core/tensor.hpp"

namespace aimastery {
namespace detail {

/// `v` is a non-empty vector (one row or one column).
template <class Derived>
void check_vector(std::string_view where, std::string_view name, const Eigen::MatrixBase<Derived>& v) {
  check_not_empty(where, name, v);
  require(v.rows() == 1 || v.cols() == 1, where, [&] {
    return std::string(name) + " must be a vector (one row or one column), got a " + shape_of(v) + " matrix";
  });
}

/// Two non-empty vectors with the same number of elements.
template <class A, class B>
void check_vector_pair(std::string_view where, const Eigen::MatrixBase<A>& v1, const Eigen::MatrixBase<B>& v2) {
  static_assert(std::is_same_v<typename A::Scalar, typename B::Scalar>,
                "aimastery vector operations: both vectors must have the same scalar type");
  static_assert(Scalar<typename A::Scalar>, "aimastery vector operations: the scalar type must be floating point");
  check_vector(where, "v1", v1);
  check_vector(where, "v2", v2);
  check_same_size(where, "v1", v1, "v2", v2);
}

/// ||v|| = s·√(Σ (vᵢ/s)²) with s = maxᵢ |vᵢ|: the same number as √(Σ vᵢ²), but no square overflows
/// (every |vᵢ/s| ≤ 1) and no small vector underflows to 0. Non-finite input falls back to the plain
/// formula, which gives NaN for NaN and +inf for infinities.
template <class Derived>
typename Derived::Scalar scaled_norm(const Eigen::MatrixBase<Derived>& v) {
  using T = typename Derived::Scalar;
  if (!v.allFinite()) return std::sqrt(v.squaredNorm());
  const T scale = v.cwiseAbs().maxCoeff();
  if (scale == T(0)) return T(0);
  return scale * std::sqrt((v / scale).squaredNorm());
}

/// Both vectors as columns (a row vector is viewed as its transpose), so that v1 - v2 is defined for
/// any mix of row and column vectors.
template <class Derived>
auto as_column(const Eigen::MatrixBase<Derived>& v) {
  return v.derived().reshaped();
}

}  // namespace detail

/// a · b = Σᵢ aᵢ·bᵢ (= ||a||·||b||·cos θ).
template <class A, class B>
typename A::Scalar dot_product(const Eigen::MatrixBase<A>& v1, const Eigen::MatrixBase<B>& v2) {
  detail::check_vector_pair("dot_product", v1, v2);
  return detail::as_column(v1).dot(detail::as_column(v2));
}

/// ||v|| = √(Σᵢ vᵢ²), the L2 (Euclidean) norm, computed without overflow (see detail::scaled_norm).
template <class Derived>
typename Derived::Scalar magnitude(const Eigen::MatrixBase<Derived>& v) {
  static_assert(Scalar<typename Derived::Scalar>, "magnitude: the scalar type must be floating point");
  detail::check_vector("magnitude", "v", v);
  return detail::scaled_norm(v);
}

/// v̂ = v / ||v||, the unit vector in the direction of v (same shape as v).
/// Throws InvalidArgument for a zero vector (no direction) and for NaN or infinity.
template <class Derived>
typename Derived::PlainObject normalize(const Eigen::MatrixBase<Derived>& v) {
  static_assert(Scalar<typename Derived::Scalar>, "normalize: the scalar type must be floating point");
  using T = typename Derived::Scalar;
  constexpr std::string_view where = "normalize";
  detail::check_vector(where, "v", v);
  check_finite(where, "v", v);
  const T scale = v.cwiseAbs().maxCoeff();
  require(scale > T(0), where, "zero vector has no direction");
  // v / ||v|| computed as w / ||w|| with w = v / max|vᵢ|, which is exact scaling and cannot overflow.
  const typename Derived::PlainObject w = v / scale;
  return w / w.norm();
}

/// cos θ = (a · b) / (||a||·||b||), in [−1, 1]: 1 same direction, 0 orthogonal, −1 opposite.
/// Both vectors are first scaled by their largest |entry| (which leaves the cosine unchanged and keeps
/// the products finite); the result is clamped to [−1, 1] against rounding. Throws InvalidArgument
/// when either vector is zero (no direction) or contains NaN or infinity.
template <class A, class B>
typename A::Scalar cosine_similarity(const Eigen::MatrixBase<A>& v1, const Eigen::MatrixBase<B>& v2) {
  using T = typename A::Scalar;
  constexpr std::string_view where = "cosine_similarity";
  detail::check_vector_pair(where, v1, v2);
  check_finite(where, "v1", v1);
  check_finite(where, "v2", v2);
  const T scale1 = v1.cwiseAbs().maxCoeff();
  const T scale2 = v2.cwiseAbs().maxCoeff();
  require(scale1 > T(0), where, "v1 is a zero vector, which has no direction");
  require(scale2 > T(0), where, "v2 is a zero vector, which has no direction");
  const Vector<T> a = detail::as_column(v1) / scale1;
  const Vector<T> b = detail::as_column(v2) / scale2;
  const T cosine = a.dot(b) / (a.norm() * b.norm());
  return std::clamp(cosine, T(-1), T(1));
}

/// d(a, b) = ||a − b||₂ = √(Σᵢ (aᵢ − bᵢ)²), computed without overflow.
template <class A, class B>
typename A::Scalar euclidean_distance(const Eigen::MatrixBase<A>& v1, const Eigen::MatrixBase<B>& v2) {
  detail::check_vector_pair("euclidean_distance", v1, v2);
  const Vector<typename A::Scalar> difference = detail::as_column(v1) - detail::as_column(v2);
  return detail::scaled_norm(difference);
}

/// d₁(a, b) = ||a − b||₁ = Σᵢ |aᵢ − bᵢ|.
template <class A, class B>
typename A::Scalar manhattan_distance(const Eigen::MatrixBase<A>& v1, const Eigen::MatrixBase<B>& v2) {
  detail::check_vector_pair("manhattan_distance", v1, v2);
  return (detail::as_column(v1) - detail::as_column(v2)).cwiseAbs().sum();
}

}  // namespace aimastery
