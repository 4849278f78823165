#pragma once
/// \file
/// The one tensor vocabulary of aimastery.
///
///   Matrix<T>     row-major dynamic matrix; samples are rows (as in NumPy and scikit-learn)
///   Vector<T>     dynamic column vector
///   RowVector<T>  dynamic row vector
///   Tensor<T>     rank-N contiguous row-major array (batch x heads x sequence x features ...) whose
///                 arithmetic is done through Eigen::Map views, never a second tensor library
///
/// and the shape checks every public function uses, so that every message reads the same way:
///   "<function>: <what was wrong>", with both shapes where there are two.

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"

namespace aimastery {

using Index = Eigen::Index;

/// The scalar types aimastery is instantiated for: float and double (long double compiles too).
template <class T>
concept Scalar = std::floating_point<T>;

template <Scalar T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <Scalar T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <Scalar T>
using RowVector = Eigen::Matrix<T, 1, Eigen::Dynamic>;
/// Integer labels (classes may be any integers; estimators keep them in `classes()`).
using IndexVector = Eigen::Matrix<Index, Eigen::Dynamic, 1>;

template <Scalar T>
using MatrixRef = Eigen::Ref<const Matrix<T>>;
template <Scalar T>
using VectorRef = Eigen::Ref<const Vector<T>>;

/// A rank-N, contiguous, row-major array. Element (i0, ..., ik) lives at sum_j i_j * stride_j with
/// stride_{k} = 1 and stride_{j} = stride_{j+1} * shape_{j+1}.
template <Scalar T>
class Tensor {
 public:
  using Shape = std::vector<Index>;

  Tensor() = default;
  explicit Tensor(Shape shape, T fill = T(0)) : shape_(std::move(shape)) { data_.assign(checked_size(shape_), fill); }
  Tensor(std::initializer_list<Index> shape, T fill = T(0)) : Tensor(Shape(shape), fill) {}

  /// A rank-2 tensor holding a copy of a matrix.
  static Tensor from_matrix(const Eigen::Ref<const Matrix<T>>& m) {
    Tensor t({m.rows(), m.cols()});
    t.matrix(m.rows(), m.cols()) = m;
    return t;
  }

  [[nodiscard]] const Shape& shape() const noexcept { return shape_; }
  [[nodiscard]] Index rank() const noexcept { return static_cast<Index>(shape_.size()); }
  [[nodiscard]] Index dim(Index axis) const {
    if (axis < 0 || axis >= rank())
      throw InvalidArgument("Tensor::dim: axis " + std::to_string(axis) + " out of range for a rank-" +
                            std::to_string(rank()) + " tensor");
    return shape_[static_cast<std::size_t>(axis)];
  }
  [[nodiscard]] Index size() const noexcept { return static_cast<Index>(data_.size()); }
  [[nodiscard]] bool empty() const noexcept { return data_.empty(); }
  [[nodiscard]] T* data() noexcept { return data_.data(); }
  [[nodiscard]] const T* data() const noexcept { return data_.data(); }

  /// Element access with one index per axis (bounds checked when asserts are enabled).
  template <class... I>
  T& operator()(I... idx) {
    return data_[offset({static_cast<Index>(idx)...})];
  }
  template <class... I>
  const T& operator()(I... idx) const {
    return data_[offset({static_cast<Index>(idx)...})];
  }

  /// Same data, another shape of equal size.
  Tensor& reshape(Shape shape) {
    if (checked_size(shape) != data_.size())
      throw InvalidArgument("Tensor::reshape: cannot view " + shape_string(shape_) + " as " + shape_string(shape));
    shape_ = std::move(shape);
    return *this;
  }

  /// The whole buffer seen as a rows x cols row-major matrix (rows * cols == size()).
  Eigen::Map<Matrix<T>> matrix(Index rows, Index cols) {
    check_view(rows, cols);
    return Eigen::Map<Matrix<T>>(data_.data(), rows, cols);
  }
  Eigen::Map<const Matrix<T>> matrix(Index rows, Index cols) const {
    check_view(rows, cols);
    return Eigen::Map<const Matrix<T>>(data_.data(), rows, cols);
  }
  /// Leading axes flattened into rows, the last axis as columns: (d0*...*d{k-1}) x dk.
  Eigen::Map<Matrix<T>> matrix() { return matrix(size() / std::max<Index>(last_dim(), 1), last_dim()); }
  Eigen::Map<const Matrix<T>> matrix() const { return matrix(size() / std::max<Index>(last_dim(), 1), last_dim()); }
  /// The i-th block along axis 0 seen as a matrix of its trailing axes flattened as in matrix().
  Eigen::Map<Matrix<T>> slice_matrix(Index i) {
    auto [rows, cols, start] = slice_geometry(i);
    return Eigen::Map<Matrix<T>>(data_.data() + start, rows, cols);
  }
  Eigen::Map<const Matrix<T>> slice_matrix(Index i) const {
    auto [rows, cols, start] = slice_geometry(i);
    return Eigen::Map<const Matrix<T>>(data_.data() + start, rows, cols);
  }

  static std::string shape_string(const Shape& s) {
    std::string out = "(";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + ")";
  }

 private:
  static std::size_t checked_size(const Shape& s) {
    std::size_t n = 1;
    for (Index d : s) {
      if (d < 0) throw InvalidArgument("Tensor: negative dimension in shape " + shape_string(s));
      n *= static_cast<std::size_t>(d);
    }
    return n;
  }
  Index last_dim() const { return shape_.empty() ? 1 : shape_.back(); }
  void check_view(Index rows, Index cols) const {
    if (rows < 0 || cols < 0 || rows * cols != size())
      throw InvalidArgument("Tensor::matrix: cannot view " + shape_string(shape_) + " as " + std::to_string(rows) +
                            "x" + std::to_string(cols));
  }
  struct SliceGeometry {
    Index rows, cols, start;
  };
  SliceGeometry slice_geometry(Index i) const {
    if (rank() < 2) throw InvalidArgument("Tensor::slice_matrix: needs rank >= 2, tensor is " + shape_string(shape_));
    if (i < 0 || i >= shape_[0])
      throw InvalidArgument("Tensor::slice_matrix: index " + std::to_string(i) + " out of range for axis 0 of " +
                            shape_string(shape_));
    const Index block = size() / shape_[0];
    const Index cols = shape_.back();
    return {cols ? block / cols : 0, cols, i * block};
  }
  std::size_t offset(std::initializer_list<Index> idx) const {
    AIMASTERY_ASSERT(static_cast<Index>(idx.size()) == rank());
    std::size_t off = 0;
    std::size_t axis = 0;
    for (Index i : idx) {
      AIMASTERY_ASSERT(i >= 0 && i < shape_[axis]);
      off = off * static_cast<std::size_t>(shape_[axis]) + static_cast<std::size_t>(i);
      ++axis;
    }
    return off;
  }

  Shape shape_;
  std::vector<T> data_;
};

// ---------------------------------------------------------------------------------------------
// Shape checks. `where` is the public function's name as the user wrote it ("PCA::fit").
// ---------------------------------------------------------------------------------------------

/// "3x4": the shape of any Eigen object, for messages.
template <class Derived>
std::string shape_of(const Eigen::EigenBase<Derived>& x) {
  return std::to_string(x.rows()) + "x" + std::to_string(x.cols());
}

/// Throws InvalidArgument("<where>: <message>").
[[noreturn]] inline void fail(std::string_view where, std::string_view message) {
  throw InvalidArgument(std::string(where) + ": " + std::string(message));
}

/// Throws InvalidArgument("<where>: <message>") when `condition` is false. The message is a literal
/// (nothing is built on the success path); a message that needs numbers or names is passed as a
/// callable that builds it only when the check fails:
///
///     require(k <= n, "KNN::fit", [&] { return "k = " + std::to_string(k) + " exceeds n"; });
inline void require(bool condition, std::string_view where, const char* message) {
  if (!condition) fail(where, message);
}

/// A message built before the check (allocates on the success path): being replaced by the lazy form.
[[deprecated("build the message only on failure: pass a callable, e.g. [&] { return ...; }")]] inline void require(
    bool condition, std::string_view where, const std::string& message) {
  if (!condition) fail(where, message);
}

/// The lazy form: `message()` runs only when `condition` is false.
template <std::invocable MessageBuilder>
void require(bool condition, std::string_view where, MessageBuilder&& message) {
  if (!condition) [[unlikely]]
    fail(where, std::string(std::forward<MessageBuilder>(message)()));
}

template <class Derived>
void check_not_empty(std::string_view where, std::string_view name, const Eigen::EigenBase<Derived>& x) {
  if (x.size() == 0) fail(where, std::string(name) + " is empty (" + shape_of(x) + ")");
}

template <class Derived>
void check_square(std::string_view where, std::string_view name, const Eigen::EigenBase<Derived>& x) {
  if (x.rows() != x.cols()) fail(where, std::string(name) + " must be square, got " + shape_of(x));
}

/// No NaN or infinity anywhere in x.
template <class Derived>
void check_finite(std::string_view where, std::string_view name, const Eigen::DenseBase<Derived>& x) {
  if (!x.derived().allFinite()) fail(where, std::string(name) + " contains NaN or infinity");
}

/// Two vectors (or any two objects) of the same number of elements.
template <class A, class B>
void check_same_size(std::string_view where, std::string_view name_a, const Eigen::EigenBase<A>& a,
                     std::string_view name_b, const Eigen::EigenBase<B>& b) {
  if (a.size() != b.size())
    fail(where, std::string(name_a) + " has " + std::to_string(a.size()) + " elements but " + std::string(name_b) +
                    " has " + std::to_string(b.size()));
}

/// Two objects of the same shape.
template <class A, class B>
void check_same_shape(std::string_view where, std::string_view name_a, const Eigen::EigenBase<A>& a,
                      std::string_view name_b, const Eigen::EigenBase<B>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols())
    fail(where, std::string(name_a) + " is " + shape_of(a) + " but " + std::string(name_b) + " is " + shape_of(b));
}

/// Samples as rows: X (n x d) and y (n) agree on n.
template <class A, class B>
void check_samples_match(std::string_view where, const Eigen::EigenBase<A>& X, const Eigen::EigenBase<B>& y) {
  if (X.rows() != y.size())
    fail(where, "X has " + std::to_string(X.rows()) + " samples (rows) but y has " + std::to_string(y.size()));
}

/// X has the number of features (columns) the model was fitted on.
template <class A>
void check_features(std::string_view where, const Eigen::EigenBase<A>& X, Index fitted_features) {
  if (X.cols() != fitted_features)
    fail(where,
         "X has " + std::to_string(X.cols()) + " features, the model was fitted on " + std::to_string(fitted_features));
}

}  // namespace aimastery
