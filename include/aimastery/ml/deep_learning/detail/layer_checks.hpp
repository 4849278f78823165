#pragma once
/// \file
/// The argument checks shared by the layers and losses. They build their message only when the check
/// fails, so a forward or backward that passes costs a comparison and no allocation.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery::detail {

/// Whether every entry of x is finite. A number is NaN or infinite exactly when all bits of its
/// exponent are set, so the test is an OR of integer comparisons, which the compiler vectorises
/// (Eigen's allFinite computes x − x and compares it with itself, several times slower).
template <Scalar T>
[[nodiscard]] bool all_finite(const Matrix<T>& x) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  if constexpr (!std::numeric_limits<T>::is_iec559 || (sizeof(T) != 4 && sizeof(T) != 8)) {
    return x.allFinite();
  } else {
    constexpr Bits exponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
    const T* data = x.data();
    const Index n = x.size();
    constexpr Index chunk = 4096;
    for (Index start = 0; start < n; start += chunk) {
      const Index end = std::min(n, start + chunk);
      bool bad = false;
      for (Index i = start; i < end; ++i) bad |= (std::bit_cast<Bits>(data[i]) & exponent) == exponent;
      if (bad) return false;
    }
    return true;
  }
}

/// Throws InvalidArgument("<where>: <message>").
[[noreturn]] inline void fail(std::string_view where, const std::string& message) {
  throw InvalidArgument(std::string(where) + ": " + message);
}

/// forward's input: non-empty, with the number of features the layer takes (`features` < 0: any).
template <Scalar T>
void check_layer_input(std::string_view where, const Layer<T>& layer, const Matrix<T>& X, Index features,
                       std::string_view suffix = {}) {
  if (features >= 0 && X.cols() != features)
    fail(where, "input is " + shape_of(X) + " but " + layer.name() + " takes " + std::to_string(features) +
                    " features" + std::string(suffix));
  if (X.size() == 0) fail(where, "input is empty (" + shape_of(X) + ")");
}

/// backward's upstream gradient: after a forward, of the shape (rows × cols) that forward produced.
template <Scalar T>
void check_grad_output(std::string_view where, const Layer<T>& layer, const Matrix<T>& grad_output, bool forward_done,
                       Index rows, Index cols) {
  if (!forward_done) fail(where, "called before forward on " + layer.name());
  if (grad_output.rows() != rows || grad_output.cols() != cols)
    fail(where, "grad_output is " + shape_of(grad_output) + " but " + layer.name() + " produced " +
                    std::to_string(rows) + "x" + std::to_string(cols));
}

/// output_features's argument: exactly `features` (`features` < 0: any positive number).
template <Scalar T>
void check_feature_count(std::string_view where, const Layer<T>& layer, Index input_features, Index features) {
  if (features >= 0 && input_features != features)
    fail(where,
         layer.name() + " takes " + std::to_string(features) + " features, got " + std::to_string(input_features));
  if (input_features <= 0)
    fail(where, layer.name() + " needs a positive number of features, got " + std::to_string(input_features));
}

}  // namespace aimastery::detail
