#pragma once
/// \file
/// The argument checks shared by the layers and losses. They build their message only when the check
/// fails, so a forward or backward that passes costs a comparison and no allocation.

#include <string>
#include <string_view>

#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery::detail {

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
