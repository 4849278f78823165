#pragma once
/// \file
/// matrix_multiply(A, B): C = A·B, the white-box lesson of GEMM.
///
/// The definition is one line, C[i,j] = Σₖ A[i,k]·B[k,j], and the triple loop that implements it is
/// correct but slow (a few GFLOP/s): for every multiply-add it loads an element of B from memory, and
/// once the matrices no longer fit in cache it waits on DRAM. Fast GEMM does the same 2·m·n·k flops in
/// an order that keeps data close to the arithmetic units. This header does it the way BLIS and
/// GotoBLAS do, in portable C++:
///
///  1. Register blocking (the micro-kernel). An MR×NR tile of C lives in vector registers for the whole
///     k loop. At each k the kernel reads MR numbers of A (one column of the tile's rows) and NR numbers
///     of B (one row of the tile's columns) and performs the rank-1 update
///
///         C_tile += A[i0:i0+MR, k] · B[k, j0:j0+NR]        (MR·NR multiply-adds for MR+NR loads)
///
///     so arithmetic outnumbers memory traffic by MR·NR/(MR+NR). Each row of the tile is NR/P vector
///     registers (P = SIMD width in elements), each A element is broadcast to a register and fused
///     multiply-added into that row. The tile is as large as the register file allows:
///     with 32 vector registers (AVX-512) 14 rows × 2 vectors = 28 accumulators (+2 for B, 1 for A);
///     with 16 registers (AVX2, SSE, NEON) 6 rows × 2 vectors = 12 accumulators; a 4×4 tile of
///     scalars for types without a SIMD type (long double).
///
///  2. Packing. The kernel wants its MR numbers of A and its NR numbers of B contiguous and in k order,
///     whatever the layout of the inputs. So each block is copied once into "micro-panels":
///
///         A block (MC×KC)  →  MC/MR micro-panels, each MR×KC stored k-major: a[k·MR + i]
///         B panel (KC×NC)  →  NC/NR micro-panels, each KC×NR stored k-major: b[k·NR + j]
///
///     Edge panels are padded with zeros, so the kernel always runs a full MR×NR tile and only the
///     write-back of an edge tile looks at how many rows and columns are real.
///
///  3. Cache blocking. The loops around the kernel choose what stays in which cache:
///
///         for jc in 0..n step NC            B panel KC×NC          → L3
///           for pc in 0..k step KC          pack B[pc:pc+KC, jc:jc+NC]
///             for ic in 0..m step MC        pack A[ic:ic+MC, pc:pc+KC]   (A block MC×KC → L2)
///               for jr in 0..NC step NR     B micro-panel KC×NR    → L1/L2 (reused by every ir)
///                 for ir in 0..MC step MR   micro-kernel: C[ic+ir.., jc+jr..] += Ã_ir · B̃_jr
///
///     MC is chosen so the packed A block (MC·KC numbers) takes half of a 1 MiB L2, NC so the B panel
///     takes a share of L3. KC sets how often the C tile is loaded and stored (k/KC times): the
///     textbook sizes the KC×NR micro-panel of B to half of L1, but measured on an AVX-512 EPYC core
///     (32 KiB L1d, 1 MiB L2) a deeper KC = 512 is about 10% faster than KC = 128…192: the micro-panels
///     stream from L2 fast enough, and fewer C updates and packing passes win.
///
/// The micro-kernel is written with Eigen's packet primitives (pset1 = broadcast, ploadu = load,
/// pmadd = fused multiply-add), which compile to whatever vector instructions the user's compiler flags
/// allow (SSE2, AVX2+FMA, AVX-512, NEON, or plain scalars for long double). The library sets no -march;
/// build with -march=native (AIMASTERY_NATIVE) to get the wide registers.
///
/// Threads. With OpenMP (the build option AIMASTERY_OPENMP) a product of more than about a million
/// multiply-adds is split into as many bands of C as there are OpenMP threads: column bands (whole
/// NR-wide micro-panels of B) when C is wider than tall, row bands (whole MR-high micro-panels of A)
/// otherwise. Each thread runs the loops above on its own band with its own packing buffers. Every
/// entry of C is the same sequence of fused multiply-adds whichever band computes it, so the result
/// is bitwise the same for any thread count. Inside an enclosing parallel region it runs serially.
///
/// Inputs may be any dense Eigen expression of either storage order: blocks, maps with strides and
/// transposes (X·Wᵀ, dYᵀ·X) are read in place by the packers, other expressions are evaluated once.
/// matrix_multiply returns a row-major Matrix<T>; matrix_multiply_to writes C = A·B into a given matrix
/// and matrix_multiply_add adds C += A·B, neither allocating once the packing buffers exist. Shape
/// mismatch or an empty operand is an InvalidArgument.

#include <Eigen/Core>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {
namespace detail::gemm {

template <class T>
using Packet = typename Eigen::internal::packet_traits<T>::type;

/// Elements per vector register for T under the current compiler flags (1 when T has no SIMD type).
template <class T>
inline constexpr int packet_size = Eigen::internal::unpacket_traits<Packet<T>>::size;

/// Blocking parameters for scalar type T, derived from the vector width and register count the
/// compiler targets.
template <class T>
struct Blocking {
  static constexpr int vector_registers = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS;
  static constexpr bool has_simd = packet_size<T> > 1;
  /// Vector registers per row of the C tile (a 4×4 scalar tile when T has no SIMD type).
  static constexpr int NV = has_simd ? 2 : 4;
  /// Rows of the C tile (broadcast A elements): fill the register file, keep NV + 1 registers for the
  /// B row and the broadcast A element: 14·2 + 3 = 31 of 32, or 6·2 + 3 = 15 of 16.
  static constexpr int MR = !has_simd ? 4 : (vector_registers >= 32 ? 14 : (vector_registers >= 16 ? 6 : 4));
  /// Columns of the C tile.
  static constexpr int NR = NV * packet_size<T>;
  /// Depth of a panel (the number of rank-1 updates per C tile visit); see the note at the top.
  static constexpr int KC = 512;
  /// Rows of the packed A block: MC×KC numbers about 512 KiB, under L2 (a multiple of MR).
  static constexpr int MC = std::max<int>(MR, static_cast<int>((512 * 1024) / (KC * sizeof(T))) / MR * MR);
  /// Columns of the packed B panel (a multiple of NR), sized for a share of L3.
  static constexpr int NC = std::max<int>(NR, static_cast<int>((8 * 1024 * 1024) / (KC * sizeof(T))) / NR * NR);
};

/// A strided read-only view: element (i, j) is data[i·row_stride + j·col_stride]. Lets the packers read
/// row-major, column-major and strided blocks without copying them first.
template <class T>
struct StridedView {
  const T* data;
  Index rows;
  Index cols;
  Index row_stride;
  Index col_stride;
  [[nodiscard]] const T& operator()(Index i, Index j) const { return data[i * row_stride + j * col_stride]; }
};

/// Packs one micro-panel: `width` (≤ R) lines of depth kc, line u's k-th number at src[u·us + k·ks],
/// into dst[k·R + u] (k-major), the lines u = width … R−1 zero-filled. When the lines are contiguous
/// in k (ks = 1: the rows of a row-major A, or of W read as Wᵀ) it copies 16 k at a time from every
/// line, so each cache line of the source is read once; otherwise it reads across the lines at each k.
template <class T, int R>
void pack_panel(const T* src, Index us, Index ks, Index width, Index kc, T* dst) {
  if (ks == 1 && us != 1) {
    constexpr Index chunk = 16;
    for (Index k0 = 0; k0 < kc; k0 += chunk) {
      const Index depth = std::min<Index>(chunk, kc - k0);
      for (Index u = 0; u < width; ++u) {
        const T* line = src + u * us + k0;
        T* out = dst + k0 * R + u;
        for (Index k = 0; k < depth; ++k) out[k * R] = line[k];
      }
      for (Index u = width; u < R; ++u)
        for (Index k = 0; k < depth; ++k) dst[(k0 + k) * R + u] = T(0);
    }
    return;
  }
  for (Index k = 0; k < kc; ++k) {
    T* out = dst + k * R;
    const T* at = src + k * ks;
    if (us == 1) {
      for (Index u = 0; u < width; ++u) out[u] = at[u];
    } else {
      for (Index u = 0; u < width; ++u) out[u] = at[u * us];
    }
    for (Index u = width; u < R; ++u) out[u] = T(0);
  }
}

/// Packs A[row0 : row0+mc, col0 : col0+kc] into ceil(mc/MR) micro-panels: panel p holds rows
/// p·MR .. p·MR+MR−1 stored k-major (packed[p·MR·kc + k·MR + i]); missing rows are zeros.
template <class T, int MR>
void pack_a(const StridedView<T>& a, Index row0, Index col0, Index mc, Index kc, T* packed) {
  for (Index p = 0; p < mc; p += MR) {
    pack_panel<T, MR>(&a(row0 + p, col0), a.row_stride, a.col_stride, std::min<Index>(MR, mc - p), kc, packed);
    packed += MR * kc;
  }
}

/// Packs B[row0 : row0+kc, col0 : col0+nc] into ceil(nc/NR) micro-panels: panel p holds columns
/// p·NR .. p·NR+NR−1 stored k-major (packed[p·NR·kc + k·NR + j]); missing columns are zeros.
template <class T, int NR>
void pack_b(const StridedView<T>& b, Index row0, Index col0, Index kc, Index nc, T* packed) {
  for (Index p = 0; p < nc; p += NR) {
    pack_panel<T, NR>(&b(row0, col0 + p), b.col_stride, b.row_stride, std::min<Index>(NR, nc - p), kc, packed);
    packed += NR * kc;
  }
}

/// The micro-kernel: C_tile (MR×NR, at c with row stride ldc) += Ã·B̃ over kc rank-1 updates, where
/// Ã is one packed A micro-panel (MR numbers per k) and B̃ one packed B micro-panel (NR numbers per k).
///
///   acc[i][v] holds C_tile[i, v·P : v·P+P] in a vector register;
///   for each k:  b[v] = B̃[k, v·P : v·P+P];  for each i:  acc[i][v] += broadcast(Ã[k, i]) · b[v].
///
/// With `overwrite` (the first k panel) the tile is stored instead of added, so C needs no zeroing.
/// Only the first `rows` × `cols` entries of the tile are real (edge tiles); the rest are not written.
template <class T, int MR, int NV>
void micro_kernel(Index kc, const T* __restrict a, const T* __restrict b, T* __restrict c, Index ldc, Index rows,
                  Index cols, bool overwrite) {
  using P = Packet<T>;
  constexpr int width = packet_size<T>;
  constexpr int NR = NV * width;
  namespace pk = Eigen::internal;

  P acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = pk::pset1<P>(T(0));

  for (Index k = 0; k < kc; ++k) {
    P b_row[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b_row[v] = pk::ploadu<P>(b + k * NR + v * width);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const P a_ik = pk::pset1<P>(a[k * MR + i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = pk::pmadd(a_ik, b_row[v], acc[i][v]);
    }
  }

  if (rows == MR && cols == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        T* dst = c + i * ldc + v * width;
        pk::pstoreu(dst, overwrite ? acc[i][v] : pk::padd(pk::ploadu<P>(dst), acc[i][v]));
      }
    return;
  }
  // Edge tile: spill the accumulators and add only the real part.
  alignas(64) T tile[MR * NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) pk::pstoreu(tile + i * NR + v * width, acc[i][v]);
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) c[i * ldc + j] = (overwrite ? T(0) : c[i * ldc + j]) + tile[i * NR + j];
}

/// Reusable packing buffers (one pair per thread and scalar type, grown on demand up to KC·MC + KC·NC
/// numbers, about 8.5 MiB) so that repeated products do not pay for allocation and page faults.
template <class T>
struct PackBuffers {
  std::vector<T, Eigen::aligned_allocator<T>> a;
  std::vector<T, Eigen::aligned_allocator<T>> b;
  static PackBuffers& local() {
    thread_local PackBuffers buffers;
    return buffers;
  }
};

/// The loops below the packing of a B panel: C[:, 0 : nc] (+)= A[:, pc : pc+kc] · B̃, where B̃ holds
/// ceil(nc/NR) packed micro-panels of depth kc, micro-panel p at b_packed + p·panel_stride (NR·kc when
/// the panel was just packed; more when the micro-panels are slices of a deeper packed matrix).
/// A is packed block by block into a_packed (room for MC·KC numbers).
template <class T>
void multiply_packed_panel(const StridedView<T>& A, Index pc, Index kc, const T* b_packed, Index panel_stride, Index nc,
                           T* c, Index ldc, bool overwrite, T* a_packed) {
  using Bk = Blocking<T>;
  constexpr int MR = Bk::MR, NR = Bk::NR, NV = Bk::NV;
  for (Index ic = 0; ic < A.rows; ic += Bk::MC) {
    const Index mc = std::min<Index>(Bk::MC, A.rows - ic);
    pack_a<T, MR>(A, ic, pc, mc, kc, a_packed);
    for (Index jr = 0; jr < nc; jr += NR) {
      const T* b_panel = b_packed + (jr / NR) * panel_stride;
      const Index cols = std::min<Index>(NR, nc - jr);
      for (Index ir = 0; ir < mc; ir += MR) {
        const T* a_panel = a_packed + (ir / MR) * MR * kc;
        const Index rows = std::min<Index>(MR, mc - ir);
        micro_kernel<T, MR, NV>(kc, a_panel, b_panel, c + (ic + ir) * ldc + jr, ldc, rows, cols, overwrite);
      }
    }
  }
}

/// C (m×n, row-major, row stride ldc) = A (m×k) · B (k×n), or C += A·B with `accumulate`, on one
/// thread, blocked as described at the top of the file.
template <class T>
void gemm_serial(const StridedView<T>& A, const StridedView<T>& B, T* c, Index ldc, bool accumulate) {
  using Bk = Blocking<T>;
  constexpr int MR = Bk::MR, NR = Bk::NR;
  const Index m = A.rows, k = A.cols, n = B.cols;
  const auto round_up = [](Index x, Index step) { return (x + step - 1) / step * step; };

  const Index kc_max = std::min<Index>(Bk::KC, k);
  const Index mc_max = std::min<Index>(Bk::MC, round_up(m, MR));
  const Index nc_max = std::min<Index>(Bk::NC, round_up(n, NR));
  auto& buffers = PackBuffers<T>::local();
  const auto reserve = [](auto& buffer, Index size) {
    if (buffer.size() < static_cast<std::size_t>(size)) buffer.resize(static_cast<std::size_t>(size));
  };
  reserve(buffers.a, mc_max * kc_max);
  reserve(buffers.b, nc_max * kc_max);
  T* a_packed = buffers.a.data();
  T* b_packed = buffers.b.data();

  for (Index jc = 0; jc < n; jc += Bk::NC) {
    const Index nc = std::min<Index>(Bk::NC, n - jc);
    for (Index pc = 0; pc < k; pc += Bk::KC) {
      const Index kc = std::min<Index>(Bk::KC, k - pc);
      pack_b<T, NR>(B, pc, jc, kc, nc, b_packed);
      multiply_packed_panel(A, pc, kc, b_packed, NR * kc, nc, c + jc, ldc, pc == 0 && !accumulate, a_packed);
    }
  }
}

/// Products below this many multiply-adds run on one thread: the fork and join of a parallel region
/// (a few microseconds) would cost more than the second core saves.
inline constexpr double parallel_above = 1.0e6;

/// C = A·B or C += A·B, split into bands of C over the OpenMP threads (see the note at the top).
template <class T>
void gemm(const StridedView<T>& A, const StridedView<T>& B, T* c, Index ldc, bool accumulate) {
  const Index m = A.rows, n = B.cols;
  int threads = 1;
#if defined(_OPENMP)
  const Index k = A.cols;
  if (static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) > parallel_above && !omp_in_parallel())
    threads = omp_get_max_threads();
#endif
  using Bk = Blocking<T>;
  const bool by_columns = n >= m;
  const Index step = by_columns ? Bk::NR : Bk::MR;  // bands are whole micro-panels
  const Index extent = by_columns ? n : m;
  const Index panels = (extent + step - 1) / step;
  const Index bands = std::min<Index>(threads, panels);
  if (bands <= 1) {
    gemm_serial(A, B, c, ldc, accumulate);
    return;
  }
  const Index band = (panels + bands - 1) / bands * step;  // elements per band
#if defined(_OPENMP)
#pragma omp parallel for num_threads(static_cast <int>(bands)) schedule(static, 1)
#endif
  for (Index t = 0; t < bands; ++t) {
    const Index start = t * band;
    const Index size = std::min<Index>(band, extent - start);
    if (size <= 0) continue;
    if (by_columns) {
      const StridedView<T> b_band{B.data + start * B.col_stride, B.rows, size, B.row_stride, B.col_stride};
      gemm_serial(A, b_band, c + start, ldc, accumulate);
    } else {
      const StridedView<T> a_band{A.data + start * A.row_stride, size, A.cols, A.row_stride, A.col_stride};
      gemm_serial(a_band, B, c + start * ldc, ldc, accumulate);
    }
  }
}

/// A strided view of an Eigen object with direct access to its storage.
template <class Derived>
StridedView<typename Derived::Scalar> strided_view(const Eigen::MatrixBase<Derived>& x) {
  const Derived& d = x.derived();
  const Index row_stride = Derived::IsRowMajor ? d.outerStride() : d.innerStride();
  const Index col_stride = Derived::IsRowMajor ? d.innerStride() : d.outerStride();
  return {d.data(), d.rows(), d.cols(), row_stride, col_stride};
}

/// Calls f with a strided view of x: directly for objects with storage (matrices, maps, blocks), after
/// evaluating into a temporary for other expressions.
template <class Derived, class F>
decltype(auto) with_view(const Eigen::MatrixBase<Derived>& x, F&& f) {
  if constexpr (static_cast<bool>(Derived::Flags & Eigen::DirectAccessBit)) {
    return f(strided_view(x));
  } else {
    const Matrix<typename Derived::Scalar> evaluated = x;
    return f(strided_view(evaluated));
  }
}

}  // namespace detail::gemm

namespace detail::gemm {

/// The checks shared by the entry points; messages are built only when a check fails.
template <class DerivedA, class DerivedB>
void check_operands(std::string_view where, const Eigen::MatrixBase<DerivedA>& A,
                    const Eigen::MatrixBase<DerivedB>& B) {
  using T = typename DerivedA::Scalar;
  static_assert(Scalar<T>, "matrix_multiply: the scalar type must be a floating-point type");
  static_assert(std::is_same_v<T, typename DerivedB::Scalar>,
                "matrix_multiply: A and B must have the same scalar type (use .template cast<T>())");
  check_not_empty(where, "A", A);
  check_not_empty(where, "B", B);
  require(A.cols() == B.rows(), where, [&] {
    return "inner dimensions differ: A is " + shape_of(A) + " and B is " + shape_of(B) +
           " (A.cols() must equal B.rows())";
  });
}

/// C (already m×n) = A·B or += A·B.
template <class DerivedA, class DerivedB>
void multiply_into(const Eigen::MatrixBase<DerivedA>& A, const Eigen::MatrixBase<DerivedB>& B,
                   Matrix<typename DerivedA::Scalar>& C, bool accumulate) {
  using T = typename DerivedA::Scalar;
  with_view(A, [&](const StridedView<T>& a) {
    with_view(B, [&](const StridedView<T>& b) { gemm(a, b, C.data(), C.cols(), accumulate); });
  });
}

}  // namespace detail::gemm

/// C = A·B, C[i,j] = Σₖ A[i,k]·B[k,j], computed by the blocked, packed, register-tiled algorithm
/// described at the top of this header. Equal to Eigen's A*B within floating-point rounding (the sums
/// are accumulated in a different order). Throws InvalidArgument when A.cols() ≠ B.rows() or when
/// either operand is empty.
template <class DerivedA, class DerivedB>
Matrix<typename DerivedA::Scalar> matrix_multiply(const Eigen::MatrixBase<DerivedA>& A,
                                                  const Eigen::MatrixBase<DerivedB>& B) {
  detail::gemm::check_operands("matrix_multiply", A, B);
  Matrix<typename DerivedA::Scalar> C(A.rows(), B.cols());  // every entry is written by the first k panel
  detail::gemm::multiply_into(A, B, C, false);
  return C;
}

/// C = A·B into C, resized to A.rows() × B.cols() when it has another shape (no allocation when it
/// already has that shape). C must not alias A or B.
template <class DerivedA, class DerivedB>
void matrix_multiply_to(const Eigen::MatrixBase<DerivedA>& A, const Eigen::MatrixBase<DerivedB>& B,
                        Matrix<typename DerivedA::Scalar>& C) {
  detail::gemm::check_operands("matrix_multiply_to", A, B);
  if (C.rows() != A.rows() || C.cols() != B.cols()) C.resize(A.rows(), B.cols());
  detail::gemm::multiply_into(A, B, C, false);
}

/// C += A·B (a gradient accumulated as PyTorch does). C must be A.rows() × B.cols() and not alias A or B.
template <class DerivedA, class DerivedB>
void matrix_multiply_add(const Eigen::MatrixBase<DerivedA>& A, const Eigen::MatrixBase<DerivedB>& B,
                         Matrix<typename DerivedA::Scalar>& C) {
  constexpr std::string_view where = "matrix_multiply_add";
  detail::gemm::check_operands(where, A, B);
  require(C.rows() == A.rows() && C.cols() == B.cols(), where, [&] {
    return "C is " + shape_of(C) + " but A is " + shape_of(A) + " and B is " + shape_of(B) + " (C must be " +
           std::to_string(A.rows()) + "x" + std::to_string(B.cols()) + ")";
  });
  detail::gemm::multiply_into(A, B, C, true);
}

}  // namespace aimastery
