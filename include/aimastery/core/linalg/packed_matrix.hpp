#pragma once
/// \file
/// PackedMatrix: the right operand of many products, packed once.
///
/// matrix_multiply copies every block of B into micro-panels before the micro-kernel reads it
/// (core/linalg/matmul.hpp, step 2). When one B meets many A, as the stored training rows of a nearest-
/// neighbour search meet block after block of queries, that copy is repeated for every product; for a
/// shallow B (a few dozen rows) it costs about a fifth of the product's time. A PackedMatrix does the copy
/// once (as BLAS's packed GEMM, cblas_?gemm_pack, does):
///
///   B (k×n)  →  ceil(n/NR) micro-panels, panel p = columns p·NR .. p·NR+NR−1 over the whole depth,
///               stored k-major: panels[p·NR·k + kk·NR + j]; missing columns are zeros.
///
/// A depth slice kk ∈ [pc, pc+kc) of panel p is then the contiguous run starting at p·NR·k + pc·NR, which
/// is exactly what the micro-kernel reads, so a product with any range of whole micro-panels runs the
/// loops of matrix_multiply without packing B:
///
///   matrix_multiply_to(A, packed, C)                      C = A·B
///   matrix_multiply_to(A, packed, first, count, C)        C = A·B[:, first : first+count]
///
/// A B that is computed rather than stored can be packed a block of columns at a time, so that it is never
/// held whole: PackedMatrix<T> packed(k, n); packed.pack_columns(first, block) for each block.
///
/// `first` must be a multiple of PackedMatrix<T>::panel_width (NR: 4 to 32 columns, from the vector width
/// the compiler targets). The entries are the same fused multiply-adds in the same order as
/// matrix_multiply's, so the results are bitwise equal. A product runs on the calling thread: the caller
/// that owns a packed matrix shares it read-only between its own threads.

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/linalg/matmul.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// B (k×n) packed once into micro-panels, for many products A·B (see the top of this header).
template <Scalar T>
class PackedMatrix {
 public:
  /// Columns per micro-panel: a column range of a product must start at a multiple of it.
  static constexpr Index panel_width = detail::gemm::Blocking<T>::NR;

  PackedMatrix() = default;

  /// Packs B (any dense Eigen expression of scalar T; InvalidArgument when it is empty).
  template <class Derived>
  explicit PackedMatrix(const Eigen::MatrixBase<Derived>& B) {
    check_not_empty("PackedMatrix", "B", B);
    PackedMatrix packed(B.rows(), B.cols());
    packed.pack_columns(0, B);
    *this = std::move(packed);
  }

  /// A rows × cols matrix of zeros, to be filled block by block with pack_columns: a B that is computed
  /// (as KNN's [−2x, ‖x‖²] columns) is then packed without ever being held whole. InvalidArgument unless
  /// both are at least 1.
  PackedMatrix(Index rows, Index cols) {
    require(rows >= 1 && cols >= 1, "PackedMatrix", [&] {
      return "a packed matrix needs at least one row and one column, got " + std::to_string(rows) + "x" +
             std::to_string(cols);
    });
    panels_.assign(static_cast<std::size_t>((cols + panel_width - 1) / panel_width * panel_width * rows), T(0));
    rows_ = rows;
    cols_ = cols;
  }

  /// Packs `block` (rows() × m, any dense expression of scalar T) as columns first .. first+m−1. `first`
  /// is a multiple of panel_width, and a block whose width is not one ends at the last column, so that
  /// every block fills whole micro-panels. Blocks that cover every column once give the same panels as
  /// packing B whole. InvalidArgument otherwise, with nothing written.
  template <class Derived>
  void pack_columns(Index first, const Eigen::MatrixBase<Derived>& block) {
    static_assert(std::is_same_v<typename Derived::Scalar, T>, "PackedMatrix: B must have the scalar type T");
    constexpr std::string_view where = "PackedMatrix::pack_columns";
    check_not_empty(where, "the block", block);
    const Index width = block.cols();
    require(block.rows() == rows_, where, [&] {
      return "the block has " + std::to_string(block.rows()) + " rows, the packed matrix " + std::to_string(rows_);
    });
    require(first >= 0 && first <= cols_ - width, where, [&] {
      return std::to_string(width) + " columns from column " + std::to_string(first) + " leave the packed matrix's " +
             std::to_string(cols_);
    });
    require(first % panel_width == 0, where, [&] {
      return "the first column " + std::to_string(first) + " is not a multiple of the panel width " +
             std::to_string(panel_width);
    });
    require(width % panel_width == 0 || first + width == cols_, where, [&] {
      return "a block of " + std::to_string(width) + " columns, not a multiple of the panel width " +
             std::to_string(panel_width) + ", must end at the last column (" + std::to_string(cols_) + ")";
    });
    detail::gemm::with_view(block, [&](const detail::gemm::StridedView<T>& b) {
      detail::gemm::pack_b<T, panel_width>(b, 0, 0, rows_, width, panels_.data() + first * rows_);
    });
  }

  [[nodiscard]] Index rows() const noexcept { return rows_; }
  [[nodiscard]] Index cols() const noexcept { return cols_; }
  [[nodiscard]] bool empty() const noexcept { return cols_ == 0; }

  /// The first number of micro-panel p (columns p·NR .. p·NR+NR−1), depth slice from row pc.
  [[nodiscard]] const T* panel(Index p, Index pc) const noexcept {
    return panels_.data() + p * panel_width * rows_ + pc * panel_width;
  }

 private:
  Index rows_ = 0;
  Index cols_ = 0;
  std::vector<T, Eigen::aligned_allocator<T>> panels_;
};

/// C = A · B[:, first : first+count] with B packed once (see the top of this header); C is resized to
/// A.rows() × count when it has another shape. InvalidArgument when A is empty, when A.cols() ≠ B.rows(),
/// when the range leaves B or is empty, or when `first` is not a multiple of the panel width.
template <class DerivedA, Scalar T>
void matrix_multiply_to(const Eigen::MatrixBase<DerivedA>& A, const PackedMatrix<T>& B, Index first, Index count,
                        Matrix<T>& C) {
  constexpr std::string_view where = "matrix_multiply_to";
  static_assert(std::is_same_v<typename DerivedA::Scalar, T>,
                "matrix_multiply_to: A and B must have the same scalar type (use .template cast<T>())");
  check_not_empty(where, "A", A);
  require(!B.empty(), where, "the packed B is empty");
  require(A.cols() == B.rows(), where, [&] {
    return "inner dimensions differ: A is " + shape_of(A) + " and the packed B is " + std::to_string(B.rows()) + "x" +
           std::to_string(B.cols()) + " (A.cols() must equal B.rows())";
  });
  require(count >= 1, where, [&] { return "the column count must be at least 1, got " + std::to_string(count); });
  require(first >= 0 && first <= B.cols() - count, where, [&] {
    return std::to_string(count) + " columns from column " + std::to_string(first) + " leave the packed B's " +
           std::to_string(B.cols());
  });
  require(first % PackedMatrix<T>::panel_width == 0, where, [&] {
    return "the first column " + std::to_string(first) + " is not a multiple of the panel width " +
           std::to_string(PackedMatrix<T>::panel_width);
  });
  using Bk = detail::gemm::Blocking<T>;
  if (C.rows() != A.rows() || C.cols() != count) C.resize(A.rows(), count);
  auto& buffers = detail::gemm::PackBuffers<T>::local();
  const auto a_size = static_cast<std::size_t>(Bk::MC * Bk::KC);
  if (buffers.a.size() < a_size) buffers.a.resize(a_size);
  detail::gemm::with_view(A, [&](const detail::gemm::StridedView<T>& a) {
    const Index panel_stride = Bk::NR * B.rows();  // from one micro-panel to the next over the whole depth
    for (Index pc = 0; pc < B.rows(); pc += Bk::KC) {
      const Index kc = std::min<Index>(Bk::KC, B.rows() - pc);
      detail::gemm::multiply_packed_panel(a, pc, kc, B.panel(first / Bk::NR, pc), panel_stride, count, C.data(),
                                          C.cols(), pc == 0, buffers.a.data());
    }
  });
}

/// C = A · B with B packed once.
template <class DerivedA, Scalar T>
void matrix_multiply_to(const Eigen::MatrixBase<DerivedA>& A, const PackedMatrix<T>& B, Matrix<T>& C) {
  matrix_multiply_to(A, B, 0, B.cols(), C);
}

}  // namespace aimastery
