#pragma once
/// \file
/// The layer interface of aimastery's networks, and the one parameter list that optimisers,
/// serialisation, gradient checking and LoRA wrapping walk.
///
/// Convention (everywhere): a batch is a Matrix whose rows are samples (or tokens: a batch × sequence ×
/// features activation is flattened to (batch·sequence) × features). A layer maps X (n × d_in) to
/// Y (n × d_out). backward(dL/dY) returns dL/dX and *accumulates* (+=) dL/dθ into each parameter's
/// gradient, as PyTorch does; NeuralNetwork::zero_grad() clears them.

#include <memory>
#include <string>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// A learnable tensor and its gradient, always of the same shape (biases are 1 × n).
template <Scalar T>
struct Parameter {
  Matrix<T> value;
  Matrix<T> grad;

  Parameter() = default;
  explicit Parameter(Matrix<T> initial)
      : value(std::move(initial)), grad(Matrix<T>::Zero(value.rows(), value.cols())) {}
  void zero_grad() { grad.setZero(value.rows(), value.cols()); }
};

/// An entry of a parameter list: a stable, dotted name ("0.weight", "2.running_mean") and the parameter.
/// `trainable` is false for buffers such as running statistics (saved, never optimised).
template <Scalar T>
struct NamedParameter {
  std::string name;
  Parameter<T>* parameter;
  bool trainable = true;
};

template <Scalar T>
using ParameterList = std::vector<NamedParameter<T>>;

template <Scalar T>
class Layer {
 public:
  virtual ~Layer() = default;

  /// A short description with the shape, e.g. "Dense(64 -> 100)".
  [[nodiscard]] virtual std::string name() const = 0;
  /// Y = f(X). In training mode it keeps what backward needs.
  virtual Matrix<T> forward(const Matrix<T>& X) = 0;
  /// Given dL/dY of the last forward, accumulates dL/dθ and returns dL/dX.
  virtual Matrix<T> backward(const Matrix<T>& grad_output) = 0;
  /// backward when ∂L/∂X is not wanted (a network's first layer): accumulates dL/dθ only. Layers whose
  /// dX costs a product (Dense) skip it; the default calls backward and drops dX.
  virtual void backward_parameters_only(const Matrix<T>& grad_output) { (void)backward(grad_output); }
  /// The layer's parameters with names local to the layer ("weight", "bias"); empty by default.
  virtual ParameterList<T> parameters() { return {}; }
  /// The number of output features for `input_features` inputs; throws InvalidArgument naming the
  /// layer and both sizes when the layer cannot take that many.
  [[nodiscard]] virtual Index output_features(Index input_features) const = 0;

  void train(bool on = true) { training_ = on; }
  void eval() { training_ = false; }
  [[nodiscard]] bool training() const noexcept { return training_; }

 protected:
  bool training_ = true;
};

}  // namespace aimastery
