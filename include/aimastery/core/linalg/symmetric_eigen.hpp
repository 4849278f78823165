#pragma once
/// \file
/// eigendecomposition: all eigenvalues and eigenvectors of a real symmetric matrix, A = V Λ Vᵀ.
///
/// Two classical steps (Golub & Van Loan, "Matrix Computations", §8.3):
///   1. Householder tridiagonalisation  Qᵀ A Q = T  (T symmetric tridiagonal, Q orthogonal);
///   2. implicit symmetric QR with the Wilkinson shift on T until every off-diagonal entry of T is
///      negligible: then T = diag(λ) and V = Q G₁ G₂ ⋯, the Givens rotations of each sweep applied to
///      Q together (row chunk by row chunk) once the sweep has computed them.

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// The result of eigendecomposition: A = V diag(values) Vᵀ.
template <Scalar T>
struct EigenResult {
  Vector<T> values;   ///< eigenvalues, descending
  Matrix<T> vectors;  ///< orthonormal eigenvectors as columns, vectors.col(i) belongs to values(i)
  bool converged = false;
  Index iterations = 0;  ///< implicit QR sweeps performed
};

namespace detail {

/// Working storage of the eigensolver: column-major, so that the Householder vectors and the
/// eigenvector columns turned by each Givens rotation are contiguous.
template <Scalar T>
using EigenWorkMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

/// Householder tridiagonalisation of the symmetric matrix held in the lower triangle of `work` (n x n).
///
/// Step k annihilates A(k+2:n, k) with the reflector H_k = I − τ_k v vᵀ (v₀ = 1) acting on rows and
/// columns k+1..n−1:  x = A(k+1:n, k),  α = −sign(x₀)‖x‖,  v = (x − α e₁)/(x₀ − α),  τ = (α − x₀)/α,
/// so that H_k x = α e₁. The trailing block is updated as a symmetric rank-2 change,
///   p = τ A₂₂ v,  w = p − (τ/2)(pᵀv) v,  A₂₂ ← A₂₂ − v wᵀ − w vᵀ,
/// reading and writing only its lower triangle. The vectors v stay below the subdiagonal of `work`,
/// τ_k in `tau`; on return `diagonal` and `offdiagonal` hold T.
template <Scalar T>
void householder_tridiagonalize(EigenWorkMatrix<T>& work, Vector<T>& diagonal, Vector<T>& offdiagonal, Vector<T>& tau) {
  const Index n = work.rows();
  diagonal.resize(n);
  offdiagonal.setZero(std::max<Index>(n - 1, 0));
  tau.setZero(std::max<Index>(n - 2, 0));
  Vector<T> p(n);
  for (Index k = 0; k + 2 < n; ++k) {
    const Index m = n - k - 1;
    auto x = work.col(k).segment(k + 1, m);
    const T x0 = x(0);
    const T tail_norm2 = x.tail(m - 1).squaredNorm();
    diagonal(k) = work(k, k);
    if (tail_norm2 == T(0)) {  // already tridiagonal in this column: H_k = I
      offdiagonal(k) = x0;
      tau(k) = T(0);
      continue;
    }
    const T norm = std::sqrt(x0 * x0 + tail_norm2);
    const T alpha = x0 > T(0) ? -norm : norm;
    tau(k) = (alpha - x0) / alpha;
    x.tail(m - 1) /= (x0 - alpha);
    x(0) = T(1);
    offdiagonal(k) = alpha;

    auto trailing = work.bottomRightCorner(m, m);
    auto pk = p.head(m);
    pk.noalias() = tau(k) * (trailing.template selfadjointView<Eigen::Lower>() * x);
    pk -= (T(0.5) * tau(k) * pk.dot(x)) * x;
    trailing.template selfadjointView<Eigen::Lower>().rankUpdate(x, pk, T(-1));
  }
  if (n >= 2) {
    diagonal(n - 2) = work(n - 2, n - 2);
    offdiagonal(n - 2) = work(n - 1, n - 2);
  }
  if (n >= 1) diagonal(n - 1) = work(n - 1, n - 1);
}

/// Q = H₀ H₁ ⋯ H_{n−3}, accumulated backwards in blocks of `nb` reflectors with the compact WY form
/// (Schreiber & Van Loan): a block H_k ⋯ H_{k+nb−1} equals I − V T Vᵀ, V = [v_k … v_{k+nb−1}] (unit
/// lower trapezoidal), T upper triangular with
///   T(j, j) = τ_j,   T(0:j, j) = −τ_j T(0:j, 0:j) V(:, 0:j)ᵀ v_j.
/// Applying it to the part of Q it touches (rows and columns k+1..n−1; the rest is still the identity,
/// since later blocks act further down) is three matrix products:
///   W = Vᵀ Q₂₂,  W ← T W,  Q₂₂ ← Q₂₂ − V W.
template <Scalar T>
EigenWorkMatrix<T> form_householder_q(const EigenWorkMatrix<T>& reflectors, const Vector<T>& tau) {
  const Index n = reflectors.rows();
  const Index count = std::max<Index>(n - 2, 0);  // reflectors H_0 … H_{n−3}
  EigenWorkMatrix<T> q = EigenWorkMatrix<T>::Identity(n, n);
  constexpr Index nb = 32;
  EigenWorkMatrix<T> v_block;
  EigenWorkMatrix<T> t_block;
  EigenWorkMatrix<T> w;
  for (Index end = count; end > 0; end -= std::min(nb, end)) {
    const Index k0 = end - std::min(nb, end);
    const Index b = end - k0;
    const Index m = n - k0 - 1;
    // V: column j is v_{k0+j}, which starts (with its 1) at row k0+j+1, i.e. local row j.
    v_block.setZero(m, b);
    for (Index j = 0; j < b; ++j) v_block.col(j).tail(m - j) = reflectors.col(k0 + j).segment(k0 + j + 1, m - j);
    t_block.setZero(b, b);
    for (Index j = 0; j < b; ++j) {
      const T tj = tau(k0 + j);
      t_block(j, j) = tj;
      if (j == 0 || tj == T(0)) continue;
      const Vector<T> y = v_block.leftCols(j).transpose() * v_block.col(j);
      const Vector<T> ty = t_block.topLeftCorner(j, j).template triangularView<Eigen::Upper>() * y;
      t_block.col(j).head(j) = -tj * ty;
    }
    auto q22 = q.bottomRightCorner(m, m);
    w.noalias() = v_block.transpose() * q22;
    w = t_block.template triangularView<Eigen::Upper>() * w;
    q22.noalias() -= v_block * w;
  }
  return q;
}

/// r = √(x² + z²) for a rotation. The matrix is scaled to max|A| = 1, so x² + z² cannot overflow;
/// std::hypot (several times slower) is used only where the squares could underflow.
template <Scalar T>
T rotation_length(T x, T z) {
  const T sum = x * x + z * z;
  return sum >= std::numeric_limits<T>::min() / std::numeric_limits<T>::epsilon() ? std::sqrt(sum) : std::hypot(x, z);
}

/// One implicit symmetric QR step with the Wilkinson shift on the unreduced block lo..hi of the
/// tridiagonal (d, e), where e(i) = T(i+1, i).
///
/// Shift μ = the eigenvalue of the trailing 2x2 block closer to d_hi:
///   δ = (d_{hi−1} − d_hi)/2,  μ = d_hi − e²_{hi−1} / (δ + sign(δ) √(δ² + e²_{hi−1})).
/// The first rotation is the one that would zero e_lo in T − μI; the bulge it creates below the
/// subdiagonal is chased down by further rotations. With G = [c s; −s c] in the plane (k, k+1),
/// chosen so that Gᵀ(x, z)ᵀ = (r, 0)ᵀ (c = x/r, s = −z/r), the 2x2 block (a, b; b, δ') becomes
///   a' = a c² − 2bcs + δ' s²,  δ'' = a s² + 2bcs + δ' c²,  b' = (a − δ') cs + b (c² − s²).
/// The rotations G_lo, …, G_{hi−1} are stored in (cosines, sines) for apply_rotation_sequence;
/// returns how many there are (fewer than hi − lo only if the chase met an exact zero).
template <Scalar T>
Index implicit_qr_step(Vector<T>& d, Vector<T>& e, Index lo, Index hi, Vector<T>& cosines, Vector<T>& sines) {
  const T delta = (d(hi - 1) - d(hi)) / T(2);
  const T eh = e(hi - 1);
  T mu = d(hi);
  if (delta == T(0)) {
    mu -= std::abs(eh);
  } else {
    const T root = std::hypot(delta, eh);
    mu -= eh * (eh / (delta + (delta > T(0) ? root : -root)));
  }
  T x = d(lo) - mu;
  T z = e(lo);
  Index count = 0;
  for (Index k = lo; k < hi; ++k) {
    const T r = rotation_length(x, z);
    if (r == T(0)) break;
    const T inverse_r = T(1) / r;
    const T c = x * inverse_r;
    const T s = -z * inverse_r;
    if (k > lo) e(k - 1) = r;  // c·e_{k−1} − s·z: the bulge z is annihilated
    const T a = d(k);
    const T b = e(k);
    const T dn = d(k + 1);
    const T cs = c * s;
    d(k) = a * c * c - T(2) * b * cs + dn * s * s;
    d(k + 1) = a * s * s + T(2) * b * cs + dn * c * c;
    e(k) = (a - dn) * cs + b * (c * c - s * s);
    if (k + 1 < hi) {
      z = -s * e(k + 1);
      e(k + 1) *= c;
    }
    x = e(k);
    cosines(count) = c;
    sines(count) = s;
    ++count;
  }
  return count;
}

/// V ← V G_lo G_{lo+1} ⋯ G_{lo+count−1}: rotation j turns the columns (lo + j, lo + j + 1) of V,
///   v_k ← c v_k − s v_{k+1},   v_{k+1} ← s v_k + c v_{k+1}.
/// Applied one rotation at a time, every column would be read and written twice per sweep. Here a
/// chunk of rows goes through the whole sequence at once: the running column ("carry", v_k after
/// the rotations before it) stays in registers, so each entry of V is read and written once per
/// sweep, and the chunk's rows are independent chains that the processor overlaps.
template <Scalar T>
void apply_rotation_sequence(EigenWorkMatrix<T>& v, Index lo, Index count, const Vector<T>& cosines,
                             const Vector<T>& sines) {
  if (count == 0) return;
  constexpr Index chunk = 64;
  using Chunk = Eigen::Array<T, chunk, 1>;
  const Index n = v.rows();
  const Index full = n - n % chunk;
  for (Index i0 = 0; i0 < full; i0 += chunk) {
    Chunk carry = Eigen::Map<const Chunk>(&v(i0, lo));
    for (Index j = 0; j < count; ++j) {
      const T c = cosines(j);
      const T s = sines(j);
      const Chunk next = Eigen::Map<const Chunk>(&v(i0, lo + j + 1));
      // c·next and s·next do not depend on the carry: the carry's chain is one multiply-add long.
      const Chunk c_next = c * next;
      const Chunk s_next = s * next;
      Eigen::Map<Chunk>(&v(i0, lo + j)) = c * carry - s_next;
      carry = s * carry + c_next;
    }
    Eigen::Map<Chunk>(&v(i0, lo + count)) = carry;
  }
  for (Index i = full; i < n; ++i) {  // the last n mod 64 rows
    T carry = v(i, lo);
    for (Index j = 0; j < count; ++j) {
      const T next = v(i, lo + j + 1);
      v(i, lo + j) = cosines(j) * carry - sines(j) * next;
      carry = sines(j) * carry + cosines(j) * next;
    }
    v(i, lo + count) = carry;
  }
}

/// |e_i| negligible beside its neighbours on the diagonal (or below the smallest normal number).
template <Scalar T>
bool negligible_offdiagonal(T e, T d0, T d1) {
  const T eps = std::numeric_limits<T>::epsilon();
  return std::abs(e) <= eps * (std::abs(d0) + std::abs(d1)) || std::abs(e) <= std::numeric_limits<T>::min();
}

}  // namespace detail

/// All eigenvalues (descending) and orthonormal eigenvectors (columns) of the symmetric matrix A.
///
/// A must be square, non-empty, finite and symmetric: max|A − Aᵀ| ≤ √ε · max|A| (ε the machine
/// epsilon of T); the symmetric part (A + Aᵀ)/2 is what is decomposed. `max_iterations` bounds the
/// number of implicit QR sweeps (default 30·n); when it runs out, `converged` is false and the result
/// holds the current approximation. A is scaled by 1/max|A| inside so that nothing overflows.
template <class Derived>
EigenResult<typename Derived::Scalar> eigendecomposition(const Eigen::MatrixBase<Derived>& A,
                                                         std::optional<Index> max_iterations = std::nullopt) {
  using T = typename Derived::Scalar;
  static_assert(Scalar<T>, "eigendecomposition: the matrix must hold float or double");
  constexpr const char* where = "eigendecomposition";
  check_not_empty(where, "A", A);
  check_square(where, "A", A);
  check_finite(where, "A", A);
  if (max_iterations)
    require(*max_iterations >= 1, where,
            [&] { return "max_iterations must be at least 1, got " + std::to_string(*max_iterations); });
  const Index n = A.rows();
  const T scale = A.cwiseAbs().maxCoeff();
  EigenResult<T> result;
  if (scale == T(0)) {  // the zero matrix: every vector is an eigenvector of 0
    result.values = Vector<T>::Zero(n);
    result.vectors = Matrix<T>::Identity(n, n);
    result.converged = true;
    return result;
  }
  // Work on A / max|A| (nothing overflows or underflows), the symmetric part (S + Sᵀ)/2 of it.
  // Only the lower triangle is used from here on: it receives (S(i,j) + S(j,i))/2 for S = A / max|A|.
  detail::EigenWorkMatrix<T> work = A / scale;
  T asymmetry = T(0);
  for (Index j = 0; j < n; ++j)
    for (Index i = j + 1; i < n; ++i) {
      const T upper = work(j, i);
      asymmetry = std::max(asymmetry, std::abs(work(i, j) - upper));
      work(i, j) = (work(i, j) + upper) * T(0.5);
    }
  require(asymmetry <= std::sqrt(std::numeric_limits<T>::epsilon()), where,
          [&] { return "A must be symmetric, max|A - A^T| / max|A| = " + std::to_string(asymmetry); });
  Vector<T> d;
  Vector<T> e;
  Vector<T> tau;
  detail::householder_tridiagonalize(work, d, e, tau);
  detail::EigenWorkMatrix<T> v = detail::form_householder_q(work, tau);

  // Deflate negligible off-diagonal entries and sweep the lowest unreduced block [lo, hi] until
  // T is diagonal. A sweep changes only e(lo..hi−1), so only those are tested again after it.
  const Index sweep_limit = max_iterations.value_or(30 * n);
  Index sweeps = 0;
  bool converged = true;
  Index hi = n - 1;
  Vector<T> cosines(std::max<Index>(n - 1, 1));
  Vector<T> sines(std::max<Index>(n - 1, 1));
  const auto deflate = [&](Index from, Index to) {
    for (Index i = from; i < to; ++i)
      if (detail::negligible_offdiagonal(e(i), d(i), d(i + 1))) e(i) = T(0);
  };
  deflate(0, hi);
  while (hi > 0) {
    while (hi > 0 && e(hi - 1) == T(0)) --hi;
    if (hi == 0) break;
    if (sweeps == sweep_limit) {
      converged = false;
      break;
    }
    Index lo = hi - 1;
    while (lo > 0 && e(lo - 1) != T(0)) --lo;
    const Index rotations = detail::implicit_qr_step(d, e, lo, hi, cosines, sines);
    detail::apply_rotation_sequence(v, lo, rotations, cosines, sines);
    ++sweeps;
    deflate(lo, hi);
  }

  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index(0));
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return d(a) > d(b); });
  result.values.resize(n);
  result.vectors.resize(n, n);
  for (Index j = 0; j < n; ++j) {
    const Index src = order[static_cast<std::size_t>(j)];
    result.values(j) = d(src) * scale;
    result.vectors.col(j) = v.col(src);
  }
  result.converged = converged;
  result.iterations = sweeps;
  return result;
}

}  // namespace aimastery
