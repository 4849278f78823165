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
/// Products go through the library's GEMM: the forward on its packers and micro-kernel directly (keys and
/// values packed once per head, see "The forward's products" below), the backward through matrix_multiply.
/// With OpenMP the forward shares the (batch, head) pairs among the threads when they divide evenly (a
/// thread packs a pair's keys and values and runs all its query tiles), otherwise (batch, head, query
/// tile) tasks after packing every pair; the backward runs (batch, head) pairs in parallel.

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
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

/// Scores tile (rows × cols, queries i0.., keys j0..; score (r, c) at s[r·rs + c·cs]) ← + mask, with −∞
/// where attention is forbidden.
template <Scalar T>
void apply_mask(T* s, Index rows, Index cols, Index rs, Index cs, const typename AttentionMask<T>::Slice& mask,
                Index i0, Index j0, bool causal) {
  constexpr T minus_inf = -std::numeric_limits<T>::infinity();
  for (Index r = 0; r < rows; ++r) {
    T* row = s + r * rs;
    if (mask.bias) {
      const T* bias = mask.bias + (i0 + r) * mask.row_stride + j0 * mask.col_stride;
      for (Index c = 0; c < cols; ++c) row[c * cs] += bias[c * mask.col_stride];
    }
    if (mask.allowed) {
      const std::uint8_t* ok = mask.allowed + (i0 + r) * mask.row_stride + j0 * mask.col_stride;
      for (Index c = 0; c < cols; ++c)
        if (!ok[c * mask.col_stride]) row[c * cs] = minus_inf;
    }
    if (mask.keys)
      for (Index c = 0; c < cols; ++c)
        if (!mask.keys[j0 + c]) row[c * cs] = minus_inf;
    if (causal)  // keys j > i are forbidden
      for (Index c = std::max<Index>(0, i0 + r - j0 + 1); c < cols; ++c) row[c * cs] = minus_inf;
  }
}

/// Multiplies row r of the probabilities tile by its dropout mask (0 or 1/(1 − p)), drawing `cols`
/// numbers from that row's engine.
template <Scalar T>
void drop_row(T* p, Index cols, RandomEngine& rng, std::uint64_t threshold, T keep_scale) {
  for (Index c = 0; c < cols; ++c) p[c] = rng() >= threshold ? p[c] * keep_scale : T(0);
}

inline std::uint64_t dropout_threshold(double p) { return static_cast<std::uint64_t>(std::ldexp(p, 64)); }

/// No NaN or infinity among x[0, n): x·0 is 0 for every finite x and NaN otherwise, so one vectorised sum
/// decides.
template <Scalar T>
bool all_finite(const T* x, Index n) {
  return (Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(x, n) * T(0)).sum() == T(0);
}

/// Which inputs of a forward hold NaN or ∞. The forward checks each (batch, head) pair's keys and values,
/// and each query tile, just before packing them (the packer then reads them from cache), and throws
/// after its parallel loop.
struct NonFiniteInputs {
  std::atomic<bool> query{false}, key{false}, value{false};
};

/// s·Kᵀ of one (batch, head) pair, (head_dim × keys) row-major: the scale is applied once here instead
/// of on every score, and the GEMM then reads the keys of a tile contiguously.
template <Scalar T>
Matrix<T> scaled_keys_transposed(const T* k, Index keys, Index head_dim, double scale) {
  return static_cast<T>(scale) * Eigen::Map<const Matrix<T>>(k, keys, head_dim).transpose();
}

// ---------------------------------------------------------------------------------------------
// The forward's products, on the GEMM's own parts (core/linalg/matmul.hpp: packers and micro-kernel).
// Every query tile multiplies by the same keys and values, so calling matrix_multiply per tile would
// pack K and V again for every tile. Instead the forward works with transposed scores, Sᵀ = (s·K) Qᵀ
// (keys × queries):
//   - s·K and Vᵀ of each (batch, head) pair are packed once as A micro-panels (MR rows, k-major);
//   - each query tile's Qᵀ is packed once as B micro-panels (NR queries);
//   - the micro-kernel writes Sᵀ straight in B-panel layout (panel p = queries p·NR.., a cols × NR
//     row-major block), which is what the product Oᵀ += Vᵀ P̃ᵀ reads as its B operand: the
//     probabilities are never repacked, and the softmax runs down the columns of a panel, NR queries
//     at a time in vector registers.
// ---------------------------------------------------------------------------------------------

/// Numbers left uninitialised (every entry is written before it is read), grown on demand and reused by
/// the next (batch, head) pair or query tile of the same thread.
template <Scalar T>
class Workspace {
 public:
  /// At least n numbers; the contents are not kept when the buffer grows.
  [[nodiscard]] T* get(Index n) {
    if (n > capacity_) {
      storage_.reset(new T[static_cast<std::size_t>(n)]);
      capacity_ = n;
    }
    return storage_.get();
  }
  [[nodiscard]] const T* data() const noexcept { return storage_.get(); }

 private:
  std::unique_ptr<T[]> storage_;
  Index capacity_ = 0;
};

/// Calls f(std::integral_constant<int, R>{}) with R the rows of the micro-kernel that multiplies a panel
/// of `width` ≤ MR value features: MR for a full panel, otherwise the smallest of 4 and 8 that holds it.
/// head_dim 64 on the 14-row kernel then runs 14 + 14 + 14 + 14 + 8 rows instead of 5·14 = 70.
template <Scalar T, class F>
void with_panel_rows(Index width, F&& f) {
  constexpr int MR = aimastery::detail::gemm::Blocking<T>::MR;
  if constexpr (MR > 8) {
    if (width <= 4) return f(std::integral_constant<int, 4>{});
    if (width <= 8) return f(std::integral_constant<int, 8>{});
  } else if constexpr (MR > 4) {
    if (width <= 4) return f(std::integral_constant<int, 4>{});
  }
  f(std::integral_constant<int, MR>{});
}

/// s·K and Vᵀ of one (batch, head) pair as GEMM A micro-panels (k-major):
///   keys:   ceil(m/MR) panels of MR keys × head_dim
///   values: panels of MR value features × m keys, the last one of with_panel_rows(width) rows; the panel
///           of features u0.. starts at u0·m and its keys j0.. at j0·rows.
template <Scalar T>
struct PackedKeysValues {
  Workspace<T> keys;
  Workspace<T> values;
};

template <Scalar T>
void pack_keys_values(const Geometry& g, const T* k, const T* v, PackedKeysValues<T>& into, NonFiniteInputs& bad) {
  namespace gemm = aimastery::detail::gemm;
  constexpr Index MR = gemm::Blocking<T>::MR;
  if (!all_finite(k, g.keys * g.head_dim)) bad.key = true;
  if (!all_finite(v, g.keys * g.value_dim)) bad.value = true;
  const Eigen::Map<const Matrix<T>> K(k, g.keys, g.head_dim);
  const Eigen::Map<const Matrix<T>> V(v, g.keys, g.value_dim);
  const Index key_numbers = (g.keys + MR - 1) / MR * MR * g.head_dim;
  T* keys = into.keys.get(key_numbers);
  gemm::pack_a<T, MR>(gemm::strided_view(K), 0, 0, g.keys, g.head_dim, keys);
  Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(keys, key_numbers) *= static_cast<T>(g.scale);  // s·K
  T* values = into.values.get((g.value_dim + MR - 1) / MR * MR * g.keys);
  const auto Vt = gemm::strided_view(V.transpose());
  for (Index u0 = 0; u0 < g.value_dim; u0 += MR) {
    const Index width = std::min(MR, g.value_dim - u0);
    with_panel_rows<T>(width, [&](auto rows) {
      gemm::pack_panel<T, rows.value>(&Vt(u0, 0), Vt.row_stride, Vt.col_stride, width, g.keys, values + u0 * g.keys);
    });
  }
}

/// What one thread's query tiles work in (sizes in forward_rows).
template <Scalar T>
struct TileBuffers {
  Workspace<T> queries;  // Qᵀ of the tile, B micro-panels
  Workspace<T> scores;   // Sᵀ of the tile, B micro-panel layout
  Workspace<T> output;   // Oᵀ of the tile, unnormalised
  Eigen::Array<T, 1, Eigen::Dynamic> max, sum;
};

/// Forward of query rows [i0, i0 + rows) of one (batch, head) pair (see the file comment); `kv` holds
/// s·K and Vᵀ of the pair, packed.
template <Scalar T>
void forward_rows(const Geometry& g, Index bh, Index i0, Index rows, const T* q, const PackedKeysValues<T>& kv, T* o,
                  T* lse, T* weights, const typename AttentionMask<T>::Slice& mask, TileBuffers<T>& buffers,
                  NonFiniteInputs& bad) {
  namespace gemm = aimastery::detail::gemm;
  constexpr int MR = gemm::Blocking<T>::MR, NR = gemm::Blocking<T>::NR, NV = gemm::Blocking<T>::NV;
  using Row = Eigen::Array<T, 1, NR>;  // NR queries side by side
  constexpr T minus_inf = -std::numeric_limits<T>::infinity();
  const Index panels = (rows + NR - 1) / NR;
  const Index width = panels * NR;  // queries, padded to whole panels
  const Index max_cols = std::min(g.block_keys, g.keys);

  // Qᵀ of the tile as B panels: panel p holds queries i0 + p·NR .. (b[p·NR·d + k·NR + j]); padded
  // queries are zeros, so their scores are finite (0) and every lane of the softmax stays a number.
  T* qt = buffers.queries.get(width * g.head_dim);
  if (!all_finite(q + i0 * g.head_dim, rows * g.head_dim)) bad.query = true;
  const Eigen::Map<const Matrix<T>> Qb(q + i0 * g.head_dim, rows, g.head_dim);
  gemm::pack_b<T, NR>(gemm::strided_view(Qb.transpose()), 0, 0, g.head_dim, rows, qt);
  T* st = buffers.scores.get(width * max_cols);
  // Oᵀ (value_dim × width, row-major), unnormalised; the first key tile writes it, the later ones add.
  T* acc = buffers.output.get(g.value_dim * width);
  auto& m = buffers.max;
  auto& l = buffers.sum;
  m.setConstant(width, minus_inf);
  l.setZero(width);
  const bool masked = mask.bias || mask.allowed || mask.keys || g.causal;

  std::vector<RandomEngine> engines;
  const bool drop = g.dropout > 0.0;
  const auto threshold = dropout_threshold(g.dropout);
  const T keep_scale = static_cast<T>(1.0 / (1.0 - g.dropout));
  if (drop)
    for (Index r = 0; r < rows; ++r)
      engines.emplace_back(mix_seed(g.seed, static_cast<std::uint64_t>(bh * g.queries + i0 + r)));

  for (Index j0 = 0; j0 < g.keys; j0 += g.block_keys) {
    if (g.causal && j0 > i0 + rows - 1) break;  // every later key is in the future of every row
    const Index cols = std::min(g.block_keys, g.keys - j0);
    const bool first = j0 == 0;
    for (Index p = 0; p < panels; ++p) {
      T* panel = st + p * NR * cols;  // Sᵀ for queries p·NR.., a cols × NR row-major block
      const Index real = std::min<Index>(NR, rows - p * NR);
      // Sᵀ = (s·K[j0 : j0 + cols]) Qᵀ (j0 is a multiple of MR: the tile starts on a key panel), padded
      // query columns included.
      for (Index ir = 0; ir < cols; ir += MR)
        gemm::micro_kernel<T, MR, NV>(g.head_dim, kv.keys.data() + (j0 + ir) * g.head_dim, qt + p * NR * g.head_dim,
                                      panel + ir * NR, NR, std::min<Index>(MR, cols - ir), NR, true);
      apply_mask<T>(panel, real, cols, 1, NR, mask, i0 + p * NR, j0, g.causal);

      // Online softmax down the columns, NR queries at a time (see the file comment).
      Eigen::Map<Row> m_p(m.data() + p * NR), l_p(l.data() + p * NR);
      Row tile_max = Eigen::Map<const Row>(panel);
      for (Index c = 1; c < cols; ++c) tile_max = tile_max.max(Eigen::Map<const Row>(panel + c * NR));
      const Row m_new = m_p.max(tile_max);
      const Row shift = (m_new == minus_inf).select(Row::Zero(), m_new);  // a row with no key yet: exp(−∞) = 0
      const Row alpha = (m_p - shift).exp();                              // 0 when m was −∞
      Row sum = Row::Zero();
      for (Index c = 0; c < cols; ++c) {
        Eigen::Map<Row> s(panel + c * NR);
        if (masked) {  // exactly 0 for a forbidden key (a vectorised exp clamps −∞ to a tiny number)
          const Row before = s;
          s = (s - shift).exp();
          for (int jj = 0; jj < NR; ++jj)
            if (before[jj] == minus_inf) s[jj] = T(0);
        } else {
          s = (s - shift).exp();
        }
        sum += s;
      }
      l_p = alpha * l_p + sum;
      m_p = m_new;
      if (!first && (alpha != T(1)).any())
        for (Index u = 0; u < g.value_dim; ++u) Eigen::Map<Row>(acc + u * width + p * NR) *= alpha;
      for (Index jj = 0; jj < real; ++jj) {
        const Index r = p * NR + jj;
        if (weights)
          for (Index c = 0; c < cols; ++c) weights[(i0 + r) * g.keys + j0 + c] = panel[c * NR + jj];
        if (drop) {
          RandomEngine& rng = engines[static_cast<std::size_t>(r)];
          for (Index c = 0; c < cols; ++c)
            panel[c * NR + jj] = rng() >= threshold ? panel[c * NR + jj] * keep_scale : T(0);
        }
      }
    }
    // Oᵀ (+)= Vᵀ[:, j0 : j0 + cols] P̃ᵀ, P̃ᵀ read in place from the panels.
    for (Index p = 0; p < panels; ++p)
      for (Index u0 = 0; u0 < g.value_dim; u0 += MR) {
        const Index features = std::min<Index>(MR, g.value_dim - u0);
        with_panel_rows<T>(features, [&](auto panel_rows) {
          constexpr int R = decltype(panel_rows)::value;
          gemm::micro_kernel<T, R, NV>(cols, kv.values.data() + u0 * g.keys + j0 * R, st + p * NR * cols,
                                       acc + u0 * width + p * NR, width, features, NR, first);
        });
      }
  }
  // O = accᵀ, normalised (rows × value_dim).
  const Eigen::Map<const Matrix<T>> A(acc, g.value_dim, width);
  Eigen::Map<Matrix<T>> Ob(o + i0 * g.value_dim, rows, g.value_dim);
  for (Index r = 0; r < rows; ++r) {
    if (l[r] == T(0)) {  // fully masked row: zeros, never NaN
      Ob.row(r).setZero();
      lse[i0 + r] = minus_inf;
      if (weights) Eigen::Map<RowVector<T>>(weights + (i0 + r) * g.keys, g.keys).setZero();
      continue;
    }
    const T inv = T(1) / l[r];
    Ob.row(r) = A.col(r).transpose() * inv;
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
  const bool masked = mask.bias || mask.allowed || mask.keys || g.causal;
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
      apply_mask<T>(P.data(), rows, cols, cols, 1, mask, i0, j0, g.causal);
      for (Index r = 0; r < rows; ++r) {
        const T L = lse[i0 + r];
        if (L == minus_inf) {
          P.row(r).setZero();
          continue;
        }
        // Pᵢⱼ = exp(Sᵢⱼ − logsumexpᵢ); exactly 0 where forbidden (the vectorised exp would clamp −∞ to a
        // tiny number, so masked tiles take the scalar exp).
        if (masked) {
          T* p = P.data() + r * cols;
          for (Index c = 0; c < cols; ++c) p[c] = p[c] == minus_inf ? T(0) : std::exp(p[c] - L);
        } else {
          P.row(r).array() = (P.row(r).array() - L).exp();
        }
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

template <Scalar T>
void check_finite_tensor(std::string_view where, std::string_view name, const Tensor<T>& x) {
  if (!all_finite(x.data(), x.size())) fail(where, std::string(name) + " contains NaN or infinity");
}

/// Validates the shapes and options of an attention call (not the values: see NonFiniteInputs) and fixes
/// its geometry.
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
  // Tiles of whole GEMM micro-panels: queries in panels of NR, keys in panels of MR (see forward_rows).
  constexpr Index MR = detail::gemm::Blocking<T>::MR, NR = detail::gemm::Blocking<T>::NR;
  g.block_queries = tiled ? std::min(std::max(options.block_queries / NR * NR, NR), g.queries) : g.queries;
  g.block_keys = tiled ? std::min((options.block_keys + MR - 1) / MR * MR, g.keys) : g.keys;
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
  constexpr std::string_view where = "scaled_dot_product_attention";
  const Geometry g = geometry(where, Q, K, V, mask, options);
  AttentionOutput<T> out;
  out.output = Tensor<T>({g.batch, g.heads, g.queries, g.value_dim});
  out.logsumexp = Tensor<T>({g.batch, g.heads, g.queries});
  if (options.return_weights) out.weights = Tensor<T>({g.batch, g.heads, g.queries, g.keys});

  const Index pairs = g.batch * g.heads;
  const Index tiles = (g.queries + g.block_queries - 1) / g.block_queries;
  NonFiniteInputs bad;
  const auto run_tile = [&](Index bh, Index tile, const PackedKeysValues<T>& kv, TileBuffers<T>& buffers) {
    const Index i0 = tile * g.block_queries;
    forward_rows<T>(g, bh, i0, std::min(g.block_queries, g.queries - i0), Q.data() + bh * g.queries * g.head_dim, kv,
                    out.output.data() + bh * g.queries * g.value_dim, out.logsumexp.data() + bh * g.queries,
                    options.return_weights ? out.weights.data() + bh * g.queries * g.keys : nullptr,
                    mask.slice(bh / g.heads, bh % g.heads), buffers, bad);
  };
  Index threads = 1;
#if defined(_OPENMP)
  if (!omp_in_parallel()) threads = omp_get_max_threads();
#endif
  if (pairs % threads == 0) {
    // The pairs share out evenly: each thread packs s·K and Vᵀ of its pair into its own buffers (still in
    // its cache when the query tiles read them) and runs every query tile of the pair. One parallel
    // region, no barrier between packing and products.
#if defined(_OPENMP)
#pragma omp parallel if (threads > 1)
#endif
    {
      PackedKeysValues<T> kv;
      TileBuffers<T> buffers;
#if defined(_OPENMP)
#pragma omp for schedule(dynamic)
#endif
      for (Index bh = 0; bh < pairs; ++bh) {
        pack_keys_values(g, K.data() + bh * g.keys * g.head_dim, V.data() + bh * g.keys * g.value_dim, kv, bad);
        for (Index tile = 0; tile < tiles; ++tile) run_tile(bh, tile, kv, buffers);
      }
    }
  } else {
    // Otherwise (fewer pairs than threads, or an uneven share) every pair is packed first and the
    // (pair, query tile) tasks share the threads. O(sequence) memory, like K and V themselves.
    std::vector<PackedKeysValues<T>> packed(static_cast<std::size_t>(pairs));
#if defined(_OPENMP)
#pragma omp parallel for if (pairs > 1)
#endif
    for (Index bh = 0; bh < pairs; ++bh)
      pack_keys_values(g, K.data() + bh * g.keys * g.head_dim, V.data() + bh * g.keys * g.value_dim,
                       packed[static_cast<std::size_t>(bh)], bad);
#if defined(_OPENMP)
#pragma omp parallel
#endif
    {
      TileBuffers<T> buffers;
#if defined(_OPENMP)
#pragma omp for schedule(dynamic)
#endif
      for (Index task = 0; task < pairs * tiles; ++task)
        run_tile(task / tiles, task % tiles, packed[static_cast<std::size_t>(task / tiles)], buffers);
    }
  }
  if (bad.query) fail(where, "query contains NaN or infinity");
  if (bad.key) fail(where, "key contains NaN or infinity");
  if (bad.value) fail(where, "value contains NaN or infinity");
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
  check_finite_tensor(where, "query", Q);
  check_finite_tensor(where, "key", K);
  check_finite_tensor(where, "value", V);
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
