#pragma once
/// \file
/// scaled_dot_product_attention(Q, K, V, mask, options): Attention(Q, K, V) = softmax(QKᵀ·s + M) V over
/// rank-4 tensors (batch, heads, sequence, head_dim), and its backward.
///
/// For one (batch, head) pair with queries Q (n × d), keys K (m × d), values V (m × d_v):
///   S = s·Q Kᵀ              (n × m scores; s = 1/√d unless `scale` is given)
///   S ← S + M               (additive mask; −∞ where a boolean/key/causal mask forbids attention)
///   P = softmax_rows(S)     Pᵢⱼ = exp(Sᵢⱼ − mᵢ) / ℓᵢ,  mᵢ = maxⱼ Sᵢⱼ,  ℓᵢ = Σⱼ exp(Sᵢⱼ − mᵢ)
///   O = (P ⊙ D) V           D the inverted-dropout mask (1 in evaluation), O is n × d_v
/// A row with every key masked (mᵢ = −∞) has P = 0 and O = 0: never NaN.
///
/// **Masks**: see attention_mask.hpp. Boolean masks have PyTorch SDPA's meaning: **true = may attend**.
/// `causal` forbids key j for query i when j > i (PyTorch's is_causal, aligned top-left).
///
/// **One algorithm, two tile sizes.** Both paths run the online ("flash") softmax over key tiles
/// (Milakov & Gimelshein 2018; Dao et al. 2022). For each query row keep a running max m, a running sum ℓ
/// and an unnormalised output a; for every key tile with scores s₁..s_b:
///   m' = max(m, maxₖ sₖ)
///   ℓ' = e^{m − m'} ℓ + Σₖ e^{sₖ − m'}
///   a' = e^{m − m'} a + Σₖ e^{sₖ − m'} Dₖ vₖ
/// and at the end O = a/ℓ, logsumexp = m + log ℓ. Induction shows ℓ = Σ_{seen} e^{s − m} and
/// a = Σ_{seen} e^{s − m} D v for the current m, so the result equals the two-pass softmax exactly (in
/// exact arithmetic). The **plain** path uses one tile holding every key (the whole n × m score matrix;
/// that is what lets it return the attention weights); the **tiled** path uses tiles of block_queries ×
/// block_keys scores, so its extra memory is O(n) (m, ℓ, logsumexp) plus a constant tile, instead of
/// O(n·m). `automatic` picks tiled from `tiled_threshold` keys on, unless weights are requested.
///
/// **Backward** (dO given; dQ, dK, dV returned). With P recomputed tile by tile from the saved logsumexp
/// (Pᵢⱼ = exp(Sᵢⱼ − logsumexpᵢ)), P̃ = P ⊙ D the dropped probabilities:
///   dV = P̃ᵀ dO
///   dP = (dO Vᵀ) ⊙ D
///   dS = P ⊙ (dP − δ),  δᵢ = Σⱼ Pᵢⱼ dPᵢⱼ = dOᵢ · Oᵢ       (the softmax Jacobian, row by row)
///   dQ = s·dS K,  dK = s·dSᵀ Q
/// δᵢ = dOᵢ·Oᵢ because Oᵢ = Σⱼ P̃ᵢⱼ vⱼ, so no n × m matrix is kept between forward and backward.
///
/// **Dropout** (options.training and options.dropout > 0): each probability is kept with chance 1 − p and
/// scaled by 1/(1 − p). The mask of query row r (r = (b·heads + h)·n + i) is drawn, key by key in order,
/// from the library's engine (core/probability/sampling.hpp) seeded with a mix of (seed, r): the same
/// seed gives the same masks on both paths, in forward and backward, whatever the thread count.
///
/// Products go through the library's GEMM (matrix_multiply). With OpenMP, (batch, head, query tile)
/// tasks run in parallel in forward, (batch, head) pairs in backward.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/linalg/matmul.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/attention/attention_mask.hpp"

namespace aimastery {

/// Which tiling scaled_dot_product_attention uses (see the file comment).
enum class AttentionAlgorithm { automatic, plain, tiled };

struct AttentionOptions {
  /// Query i may not attend key j > i (top-left aligned, as PyTorch's is_causal).
  bool causal = false;
  /// The score scale s; 1/√head_dim when not given.
  std::optional<double> scale = std::nullopt;
  /// Attention dropout probability p ∈ [0, 1); applied only when `training` is true.
  double dropout = 0.0;
  bool training = false;
  /// Seed of the dropout masks.
  std::uint64_t seed = 0;
  /// Also return the attention weights P (batch, heads, queries, keys); forces the plain path.
  bool return_weights = false;
  AttentionAlgorithm algorithm = AttentionAlgorithm::automatic;
  /// `automatic` uses the tiled path when there are at least this many keys.
  Index tiled_threshold = 256;
  /// Tile of the tiled path: queries × keys scores at a time.
  Index block_queries = 128;
  Index block_keys = 512;
};

template <Scalar T>
struct AttentionOutput {
  /// (batch, heads, queries, value_dim).
  Tensor<T> output;
  /// (batch, heads, queries, keys) softmax probabilities before dropout; empty unless return_weights.
  Tensor<T> weights;
  /// (batch, heads, queries): log Σⱼ exp(Sᵢⱼ), −∞ for a fully masked row. What backward needs.
  Tensor<T> logsumexp;
};

/// Gradients of the loss with respect to the three inputs of attention.
template <Scalar T>
struct AttentionGradients {
  Tensor<T> query;
  Tensor<T> key;
  Tensor<T> value;
  /// query + key + value: the gradient of a self-attention input used for all three.
  [[nodiscard]] Tensor<T> sum() const {
    require(query.shape() == key.shape() && key.shape() == value.shape(), "AttentionGradients::sum", [&] {
      return "query, key and value gradients differ in shape: " + Tensor<T>::shape_string(query.shape()) + ", " +
             Tensor<T>::shape_string(key.shape()) + ", " + Tensor<T>::shape_string(value.shape());
    });
    Tensor<T> out = query;
    out.matrix() += key.matrix();
    out.matrix() += value.matrix();
    return out;
  }
};

namespace detail::attention {

/// Shapes of one attention call.
struct Geometry {
  Index batch, heads, queries, keys, head_dim, value_dim;
  Index block_queries, block_keys;
  double scale;
  bool causal;
  double dropout;  // effective probability (0 when not training)
  std::uint64_t seed;
};

inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t row) {
  // splitmix64 of (seed, row): decorrelates the seeds of neighbouring rows.
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (row + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// Scores tile S (rows × cols, queries i0.., keys j0..) ← S + mask, with −∞ where attention is forbidden.
template <Scalar T>
void apply_mask(Matrix<T>& S, const typename AttentionMask<T>::Slice& mask, Index i0, Index j0, bool causal) {
  constexpr T minus_inf = -std::numeric_limits<T>::infinity();
  const Index rows = S.rows(), cols = S.cols();
  if (mask.bias)
    for (Index r = 0; r < rows; ++r) {
      const T* bias = mask.bias + (i0 + r) * mask.row_stride + j0 * mask.col_stride;
      T* s = S.data() + r * cols;
      for (Index c = 0; c < cols; ++c) s[c] += bias[c * mask.col_stride];
    }
  if (mask.allowed)
    for (Index r = 0; r < rows; ++r) {
      const std::uint8_t* ok = mask.allowed + (i0 + r) * mask.row_stride + j0 * mask.col_stride;
      T* s = S.data() + r * cols;
      for (Index c = 0; c < cols; ++c)
        if (!ok[c * mask.col_stride]) s[c] = minus_inf;
    }
  if (mask.keys)
    for (Index c = 0; c < cols; ++c)
      if (!mask.keys[j0 + c]) S.col(c).setConstant(minus_inf);
  if (causal)
    for (Index r = 0; r < rows; ++r) {
      const Index first = std::max<Index>(0, i0 + r - j0 + 1);  // keys j > i are forbidden
      for (Index c = first; c < cols; ++c) S(r, c) = minus_inf;
    }
}

/// Multiplies row r of the probabilities tile by its dropout mask (0 or 1/(1 − p)), drawing `cols`
/// numbers from that row's engine.
template <Scalar T>
void drop_row(T* p, Index cols, RandomEngine& rng, std::uint64_t threshold, T keep_scale) {
  for (Index c = 0; c < cols; ++c) p[c] = rng() >= threshold ? p[c] * keep_scale : T(0);
}

inline std::uint64_t dropout_threshold(double p) { return static_cast<std::uint64_t>(std::ldexp(p, 64)); }

/// s·Kᵀ of one (batch, head) pair, (head_dim × keys) row-major: the scale is applied once here instead
/// of on every score, and the GEMM then reads the keys of a tile contiguously.
template <Scalar T>
Matrix<T> scaled_keys_transposed(const T* k, Index keys, Index head_dim, double scale) {
  return static_cast<T>(scale) * Eigen::Map<const Matrix<T>>(k, keys, head_dim).transpose();
}

// ---------------------------------------------------------------------------------------------
// The forward's products. Every query tile multiplies by the same keys and values, so instead of
// calling matrix_multiply per tile (which would pack K and V again for every tile) the forward packs
// s·Kᵀ and V once per (batch, head) pair into the GEMM's B micro-panels, packs each query tile once
// into A micro-panels, and calls the GEMM's micro-kernel (core/linalg/matmul.hpp) on them directly.
// ---------------------------------------------------------------------------------------------

/// A buffer of n numbers left uninitialised (every entry is written by a packer before it is read).
template <Scalar T>
struct PackBuffer {
  std::unique_ptr<T[]> storage;
  explicit PackBuffer(Index n = 0) : storage(n > 0 ? new T[static_cast<std::size_t>(n)] : nullptr) {}
  [[nodiscard]] T* data() noexcept { return storage.get(); }
  [[nodiscard]] const T* data() const noexcept { return storage.get(); }
};

/// s·Kᵀ and V of one (batch, head) pair packed as GEMM B micro-panels (NR columns each, k-major):
///   keys:   ceil(m/NR) panels of head_dim × NR   (panel p = keys p·NR .. p·NR+NR−1)
///   values: ceil(d_v/NR) panels of m × NR        (rows j0.. of a panel start at offset j0·NR)
template <Scalar T>
struct PackedKeysValues {
  PackBuffer<T> keys;
  PackBuffer<T> values;
};

template <Scalar T>
PackedKeysValues<T> pack_keys_values(const Geometry& g, const T* k, const T* v) {
  namespace gemm = aimastery::detail::gemm;
  constexpr Index NR = gemm::Blocking<T>::NR;
  const auto round_up = [](Index x) { return (x + NR - 1) / NR * NR; };
  const Eigen::Map<const Matrix<T>> K(k, g.keys, g.head_dim);
  const Eigen::Map<const Matrix<T>> V(v, g.keys, g.value_dim);
  PackedKeysValues<T> p;
  const Index key_numbers = round_up(g.keys) * g.head_dim;
  p.keys = PackBuffer<T>(key_numbers);
  gemm::pack_b<T, NR>(gemm::strided_view(K.transpose()), 0, 0, g.head_dim, g.keys, p.keys.data());
  Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(p.keys.data(), key_numbers) *= static_cast<T>(g.scale);  // s·Kᵀ
  p.values = PackBuffer<T>(round_up(g.value_dim) * g.keys);
  gemm::pack_b<T, NR>(gemm::strided_view(V), 0, 0, g.keys, g.value_dim, p.values.data());
  return p;
}

/// C (rows × n, row stride ldc) = or += Ã·B̃: Ã holds `rows` rows packed as A micro-panels of depth kc,
/// B̃ the B micro-panels of the n columns, starting at b, one every panel_stride numbers.
template <Scalar T>
void packed_product(const T* a, Index rows, Index kc, const T* b, Index panel_stride, Index n, T* c, Index ldc,
                    bool overwrite) {
  namespace gemm = aimastery::detail::gemm;
  constexpr int MR = gemm::Blocking<T>::MR, NR = gemm::Blocking<T>::NR, NV = gemm::Blocking<T>::NV;
  for (Index jr = 0; jr < n; jr += NR) {
    const T* b_panel = b + (jr / NR) * panel_stride;
    const Index cols = std::min<Index>(NR, n - jr);
    for (Index ir = 0; ir < rows; ir += MR)
      gemm::micro_kernel<T, MR, NV>(kc, a + (ir / MR) * MR * kc, b_panel, c + ir * ldc + jr, ldc,
                                    std::min<Index>(MR, rows - ir), cols, overwrite);
  }
}

/// Forward of query rows [i0, i0 + rows) of one (batch, head) pair (see the file comment); `kv` holds
/// s·Kᵀ and V of the pair, packed.
template <Scalar T>
void forward_rows(const Geometry& g, Index bh, Index i0, Index rows, const T* q, const PackedKeysValues<T>& kv, T* o,
                  T* lse, T* weights, const typename AttentionMask<T>::Slice& mask) {
  namespace gemm = aimastery::detail::gemm;
  constexpr Index MR = gemm::Blocking<T>::MR, NR = gemm::Blocking<T>::NR;
  constexpr T minus_inf = -std::numeric_limits<T>::infinity();
  const Eigen::Map<const Matrix<T>> Qb(q + i0 * g.head_dim, rows, g.head_dim);
  const Index padded_rows = (rows + MR - 1) / MR * MR;
  PackBuffer<T> q_packed(padded_rows * g.head_dim);
  gemm::pack_a<T, MR>(gemm::strided_view(Qb), 0, 0, rows, g.head_dim, q_packed.data());
  PackBuffer<T> p_packed(padded_rows * std::min(g.block_keys, g.keys));

  Vector<T> m = Vector<T>::Constant(rows, minus_inf);  // running max
  Vector<T> l = Vector<T>::Zero(rows);                 // running sum of exp(s − m)
  Matrix<T> acc = Matrix<T>::Zero(rows, g.value_dim);  // running unnormalised output

  std::vector<RandomEngine> engines;
  const bool drop = g.dropout > 0.0;
  const auto threshold = dropout_threshold(g.dropout);
  const T keep_scale = static_cast<T>(1.0 / (1.0 - g.dropout));
  if (drop)
    for (Index r = 0; r < rows; ++r)
      engines.emplace_back(mix_seed(g.seed, static_cast<std::uint64_t>(bh * g.queries + i0 + r)));

  Matrix<T> S;
  for (Index j0 = 0; j0 < g.keys; j0 += g.block_keys) {
    if (g.causal && j0 > i0 + rows - 1) break;  // every later key is in the future of every row
    const Index cols = std::min(g.block_keys, g.keys - j0);
    // S = s·Q Kᵀ for this tile (j0 is a multiple of NR: the tile starts on a panel).
    S.resize(rows, cols);
    packed_product(q_packed.data(), rows, g.head_dim, kv.keys.data() + (j0 / NR) * NR * g.head_dim, NR * g.head_dim,
                   cols, S.data(), cols, true);
    apply_mask<T>(S, mask, i0, j0, g.causal);
    for (Index r = 0; r < rows; ++r) {
      auto s = S.row(r).array();
      const T m_new = std::max(m[r], s.maxCoeff());
      if (m_new == minus_inf) {  // no key allowed so far: contributes nothing
        S.row(r).setZero();
        if (drop) engines[static_cast<std::size_t>(r)].discard(static_cast<unsigned long long>(cols));
        continue;
      }
      const T alpha = std::exp(m[r] - m_new);  // 0 when m was −∞
      s = (s - m_new).exp();
      l[r] = alpha * l[r] + s.sum();
      if (alpha != T(1)) acc.row(r) *= alpha;
      m[r] = m_new;
      if (weights) Eigen::Map<RowVector<T>>(weights + (i0 + r) * g.keys + j0, cols) = S.row(r);
      if (drop) drop_row(S.data() + r * cols, cols, engines[static_cast<std::size_t>(r)], threshold, keep_scale);
    }
    // acc += P̃ V[j0 : j0 + cols].
    gemm::pack_a<T, MR>(gemm::strided_view(S), 0, 0, rows, cols, p_packed.data());
    packed_product(p_packed.data(), rows, cols, kv.values.data() + j0 * NR, NR * g.keys, g.value_dim, acc.data(),
                   g.value_dim, false);
  }

  Eigen::Map<Matrix<T>> Ob(o + i0 * g.value_dim, rows, g.value_dim);
  for (Index r = 0; r < rows; ++r) {
    if (l[r] == T(0)) {  // fully masked row: zeros, never NaN
      Ob.row(r).setZero();
      lse[i0 + r] = minus_inf;
      if (weights) Eigen::Map<RowVector<T>>(weights + (i0 + r) * g.keys, g.keys).setZero();
      continue;
    }
    const T inv = T(1) / l[r];
    Ob.row(r) = acc.row(r) * inv;
    lse[i0 + r] = m[r] + std::log(l[r]);
    if (weights) Eigen::Map<RowVector<T>>(weights + (i0 + r) * g.keys, g.keys) *= inv;  // one tile: m is final
  }
}

/// Backward of one (batch, head) pair: query tiles outer, key tiles inner, so each row's dropout
/// stream is replayed in the forward's order; dK and dV accumulate over the query tiles.
template <Scalar T>
void backward_head(const Geometry& g, Index bh, const T* q, const T* k, const T* v, const T* o, const T* lse,
                   const T* dout, T* dq, T* dk, T* dv, const typename AttentionMask<T>::Slice& mask) {
  constexpr T minus_inf = -std::numeric_limits<T>::infinity();
  using ConstMap = Eigen::Map<const Matrix<T>>;
  const ConstMap Q(q, g.queries, g.head_dim), K(k, g.keys, g.head_dim), V(v, g.keys, g.value_dim);
  const ConstMap O(o, g.queries, g.value_dim), dO(dout, g.queries, g.value_dim);
  Eigen::Map<Matrix<T>> dQ(dq, g.queries, g.head_dim), dK(dk, g.keys, g.head_dim), dV(dv, g.keys, g.value_dim);
  // s·Kᵀ and Vᵀ, so that every tile's GEMM reads its keys and values contiguously.
  const Matrix<T> KT = scaled_keys_transposed(k, g.keys, g.head_dim, g.scale);
  const Matrix<T> VT = V.transpose();
  dK.setZero();
  dV.setZero();
  const T scale = static_cast<T>(g.scale);
  const bool drop = g.dropout > 0.0;
  const auto threshold = dropout_threshold(g.dropout);
  const T keep_scale = static_cast<T>(1.0 / (1.0 - g.dropout));

  for (Index i0 = 0; i0 < g.queries; i0 += g.block_queries) {
    const Index rows = std::min(g.block_queries, g.queries - i0);
    const auto Qb = Q.middleRows(i0, rows);
    const auto dOb = dO.middleRows(i0, rows);
    const Vector<T> delta = (dOb.array() * O.middleRows(i0, rows).array()).rowwise().sum();  // δᵢ = dOᵢ·Oᵢ
    Matrix<T> dQb = Matrix<T>::Zero(rows, g.head_dim);
    std::vector<RandomEngine> engines;
    if (drop)
      for (Index r = 0; r < rows; ++r)
        engines.emplace_back(mix_seed(g.seed, static_cast<std::uint64_t>(bh * g.queries + i0 + r)));

    for (Index j0 = 0; j0 < g.keys; j0 += g.block_keys) {
      if (g.causal && j0 > i0 + rows - 1) break;
      const Index cols = std::min(g.block_keys, g.keys - j0);
      const auto Kb = K.middleRows(j0, cols);
      Matrix<T> P = matrix_multiply(Qb, KT.middleCols(j0, cols));  // s·Q Kᵀ
      apply_mask<T>(P, mask, i0, j0, g.causal);
      for (Index r = 0; r < rows; ++r) {
        const T L = lse[i0 + r];
        if (L == minus_inf)
          P.row(r).setZero();
        else
          P.row(r).array() = (P.row(r).array() - L).exp();  // Pᵢⱼ = exp(Sᵢⱼ − logsumexpᵢ)
      }
      Matrix<T> dP = matrix_multiply(dOb, VT.middleCols(j0, cols));  // dO Vᵀ
      if (drop) {
        Matrix<T> Pd = P;
        for (Index r = 0; r < rows; ++r) {
          RandomEngine& rng = engines[static_cast<std::size_t>(r)];
          T* pd = Pd.data() + r * cols;
          T* dp = dP.data() + r * cols;
          for (Index c = 0; c < cols; ++c) {
            const T d = rng() >= threshold ? keep_scale : T(0);
            pd[c] *= d;
            dp[c] *= d;
          }
        }
        dV.middleRows(j0, cols).noalias() += matrix_multiply(Pd.transpose(), dOb);
      } else {
        dV.middleRows(j0, cols).noalias() += matrix_multiply(P.transpose(), dOb);
      }
      // dS = P ⊙ (dP − δ), in place in dP.
      dP.array() = P.array() * (dP.array().colwise() - delta.array());
      dQb.noalias() += matrix_multiply(dP, Kb);
      dK.middleRows(j0, cols).noalias() += matrix_multiply(dP.transpose(), Qb);
    }
    dQ.middleRows(i0, rows) = dQb * scale;
  }
  dK *= scale;
}

template <Scalar T>
void check_rank4(std::string_view where, std::string_view name, const Tensor<T>& x) {
  if (x.rank() != 4)
    fail(where, std::string(name) + " must have rank 4 (batch, heads, sequence, head_dim), got shape " +
                    Tensor<T>::shape_string(x.shape()));
  for (Index d : x.shape())
    if (d == 0) fail(where, std::string(name) + " is empty, shape " + Tensor<T>::shape_string(x.shape()));
}

/// No NaN or infinity in x: x·0 is 0 for every finite x and NaN otherwise, so one vectorised sum decides.
template <Scalar T>
void check_finite_tensor(std::string_view where, std::string_view name, const Tensor<T>& x) {
  const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> data(x.data(), x.size());
  if ((data * T(0)).sum() != T(0)) fail(where, std::string(name) + " contains NaN or infinity");
}

/// Validates the inputs and options of an attention call and fixes its geometry.
template <Scalar T>
Geometry geometry(std::string_view where, const Tensor<T>& Q, const Tensor<T>& K, const Tensor<T>& V,
                  const AttentionMask<T>& mask, const AttentionOptions& options) {
  check_rank4(where, "query", Q);
  check_rank4(where, "key", K);
  check_rank4(where, "value", V);
  const auto& q = Q.shape();
  const auto& k = K.shape();
  const auto& v = V.shape();
  const auto shapes = [&] {
    return "query is " + Tensor<T>::shape_string(q) + ", key is " + Tensor<T>::shape_string(k) + ", value is " +
           Tensor<T>::shape_string(v);
  };
  if (q[0] != k[0] || q[0] != v[0] || q[1] != k[1] || q[1] != v[1])
    fail(where, "batch and heads (axes 0 and 1) must agree: " + shapes());
  if (q[3] != k[3]) fail(where, "query and key head dimensions (axis 3) differ: " + shapes());
  if (k[2] != v[2]) fail(where, "key and value sequence lengths (axis 2) differ: " + shapes());
  check_finite_tensor(where, "query", Q);
  check_finite_tensor(where, "key", K);
  check_finite_tensor(where, "value", V);
  require(std::isfinite(options.dropout) && options.dropout >= 0.0 && options.dropout < 1.0, where,
          [&] { return "dropout must be in [0, 1), got " + std::to_string(options.dropout); });
  if (options.scale) require(std::isfinite(*options.scale), where, "scale must be finite");
  require(options.block_queries > 0 && options.block_keys > 0, where, "block sizes must be positive");
  require(options.tiled_threshold >= 0, where, "tiled_threshold must be non-negative");
  require(!(options.return_weights && options.algorithm == AttentionAlgorithm::tiled), where,
          "the tiled path does not form the attention weights; use plain or automatic with return_weights");
  mask.check(where, q[0], q[1], q[2], k[2]);

  Geometry g{};
  g.batch = q[0];
  g.heads = q[1];
  g.queries = q[2];
  g.keys = k[2];
  g.head_dim = q[3];
  g.value_dim = v[3];
  g.scale = options.scale ? *options.scale : 1.0 / std::sqrt(static_cast<double>(g.head_dim));
  g.causal = options.causal;
  g.dropout = options.training ? options.dropout : 0.0;
  g.seed = options.seed;
  const bool tiled =
      options.algorithm == AttentionAlgorithm::tiled || (options.algorithm == AttentionAlgorithm::automatic &&
                                                         !options.return_weights && g.keys >= options.tiled_threshold);
  // A query tile of whole micro-kernel row panels (MR rows) wastes no work on padded rows.
  constexpr Index MR = detail::gemm::Blocking<T>::MR;
  g.block_queries = tiled ? std::min(std::max(options.block_queries / MR * MR, MR), g.queries) : g.queries;
  // A key tile starts on a packed panel of the GEMM (NR keys): round the tile up to a multiple of NR.
  constexpr Index NR = detail::gemm::Blocking<T>::NR;
  g.block_keys = tiled ? std::min((options.block_keys + NR - 1) / NR * NR, g.keys) : g.keys;
  return g;
}

}  // namespace detail::attention

/// softmax(s·QKᵀ + mask) V over (batch, heads, sequence, head_dim) tensors; see the file comment.
/// Q is (B, H, n, d), K is (B, H, m, d), V is (B, H, m, d_v). Throws InvalidArgument naming the shapes on
/// any mismatch, on NaN/∞ inputs, and on a mask that does not broadcast to (B, H, n, m).
template <Scalar T>
AttentionOutput<T> scaled_dot_product_attention(const Tensor<T>& Q, const Tensor<T>& K, const Tensor<T>& V,
                                                const AttentionMask<T>& mask = {},
                                                const AttentionOptions& options = {}) {
  using namespace detail::attention;
  const Geometry g = geometry("scaled_dot_product_attention", Q, K, V, mask, options);
  AttentionOutput<T> out;
  out.output = Tensor<T>({g.batch, g.heads, g.queries, g.value_dim});
  out.logsumexp = Tensor<T>({g.batch, g.heads, g.queries});
  if (options.return_weights) out.weights = Tensor<T>({g.batch, g.heads, g.queries, g.keys});

  const Index pairs = g.batch * g.heads;
  const Index tiles = (g.queries + g.block_queries - 1) / g.block_queries;
  const Index tasks = pairs * tiles;
  // s·Kᵀ and V of every pair, packed once: O(sequence) memory, like K and V themselves.
  std::vector<PackedKeysValues<T>> packed(static_cast<std::size_t>(pairs));
#if defined(_OPENMP)
#pragma omp parallel for if (pairs > 1)
#endif
  for (Index bh = 0; bh < pairs; ++bh)
    packed[static_cast<std::size_t>(bh)] =
        pack_keys_values(g, K.data() + bh * g.keys * g.head_dim, V.data() + bh * g.keys * g.value_dim);
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic) if (tasks > 1)
#endif
  for (Index task = 0; task < tasks; ++task) {
    const Index bh = task / tiles;
    const Index i0 = (task % tiles) * g.block_queries;
    const Index rows = std::min(g.block_queries, g.queries - i0);
    forward_rows<T>(g, bh, i0, rows, Q.data() + bh * g.queries * g.head_dim, packed[static_cast<std::size_t>(bh)],
                    out.output.data() + bh * g.queries * g.value_dim, out.logsumexp.data() + bh * g.queries,
                    options.return_weights ? out.weights.data() + bh * g.queries * g.keys : nullptr,
                    mask.slice(bh / g.heads, bh % g.heads));
  }
  return out;
}

/// The backward of scaled_dot_product_attention: given dL/dO (the shape of forward.output) and the same
/// Q, K, V, mask and options as the forward that produced `forward`, returns dL/dQ, dL/dK, dL/dV.
template <Scalar T>
AttentionGradients<T> scaled_dot_product_attention_backward(const Tensor<T>& grad_output, const Tensor<T>& Q,
                                                            const Tensor<T>& K, const Tensor<T>& V,
                                                            const AttentionOutput<T>& forward,
                                                            const AttentionMask<T>& mask = {},
                                                            const AttentionOptions& options = {}) {
  using namespace detail::attention;
  constexpr std::string_view where = "scaled_dot_product_attention_backward";
  AttentionOptions opts = options;
  opts.return_weights = false;  // the weights are not needed: P is recomputed from logsumexp
  if (options.return_weights && opts.algorithm == AttentionAlgorithm::automatic)
    opts.algorithm = AttentionAlgorithm::plain;  // same tiling as the forward
  const Geometry g = geometry(where, Q, K, V, mask, opts);
  const typename Tensor<T>::Shape out_shape{g.batch, g.heads, g.queries, g.value_dim};
  require(forward.output.shape() == out_shape &&
              forward.logsumexp.shape() == typename Tensor<T>::Shape{g.batch, g.heads, g.queries},
          where, [&] {
            return "the forward result has output " + Tensor<T>::shape_string(forward.output.shape()) +
                   " and logsumexp " + Tensor<T>::shape_string(forward.logsumexp.shape()) + ", expected " +
                   Tensor<T>::shape_string(out_shape) + " from these inputs";
          });
  require(grad_output.shape() == out_shape, where, [&] {
    return "grad_output is " + Tensor<T>::shape_string(grad_output.shape()) + " but the output is " +
           Tensor<T>::shape_string(out_shape);
  });
  check_finite_tensor(where, "grad_output", grad_output);

  AttentionGradients<T> grads{Tensor<T>(Q.shape()), Tensor<T>(K.shape()), Tensor<T>(V.shape())};
  const Index pairs = g.batch * g.heads;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic) if (pairs > 1)
#endif
  for (Index bh = 0; bh < pairs; ++bh) {
    backward_head<T>(g, bh, Q.data() + bh * g.queries * g.head_dim, K.data() + bh * g.keys * g.head_dim,
                     V.data() + bh * g.keys * g.value_dim, forward.output.data() + bh * g.queries * g.value_dim,
                     forward.logsumexp.data() + bh * g.queries, grad_output.data() + bh * g.queries * g.value_dim,
                     grads.query.data() + bh * g.queries * g.head_dim, grads.key.data() + bh * g.keys * g.head_dim,
                     grads.value.data() + bh * g.keys * g.value_dim, mask.slice(bh / g.heads, bh % g.heads));
  }
  return grads;
}

}  // namespace aimastery
