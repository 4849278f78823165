#pragma once
/// \file
/// The optimiser interface: an optimiser walks a network's ParameterList (trainable entries only) and
/// updates each parameter's value from its gradient. No layer updates itself.
///
///   SGD<double> sgd({.learning_rate = 0.1, .momentum = 0.9});
///   loss.backward(...); network.backward(...);   // gradients accumulate in parameter.grad
///   sgd.step(network.parameters());              // θ ← update(θ, ∂L/∂θ, state)
///   sgd.zero_grad(network.parameters());         // ∂L/∂θ ← 0
///
/// Per-parameter state (momentum buffers, moment estimates) is keyed by the parameter's address, so
/// the same optimiser can be stepped with a freshly built ParameterList of the same network.

#include <string>
#include <string_view>
#include <unordered_map>

#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

template <Scalar T>
class Optimizer {
 public:
  virtual ~Optimizer() = default;

  /// One update of every trainable parameter of the list from its current gradient.
  void step(const ParameterList<T>& parameters) {
    ++steps_;
    for (const auto& entry : parameters) {
      require(entry.parameter != nullptr, name() + "::step", "parameter '" + entry.name + "' is null");
      if (!entry.trainable) continue;
      Parameter<T>& p = *entry.parameter;
      require(p.grad.rows() == p.value.rows() && p.grad.cols() == p.value.cols(), name() + "::step",
              "parameter '" + entry.name + "' has value " + shape_of(p.value) + " but gradient " + shape_of(p.grad));
      update(p);
    }
  }

  /// Sets every gradient of the list (trainable or not) to zero.
  void zero_grad(const ParameterList<T>& parameters) const {
    for (const auto& entry : parameters)
      if (entry.parameter != nullptr) entry.parameter->zero_grad();
  }

  [[nodiscard]] T learning_rate() const noexcept { return learning_rate_; }
  /// Changes the learning rate for the following steps (what a schedule does each epoch).
  void set_learning_rate(T learning_rate) {
    check_learning_rate(name() + "::set_learning_rate", learning_rate);
    learning_rate_ = learning_rate;
  }
  /// The number of step() calls so far.
  [[nodiscard]] Index steps() const noexcept { return steps_; }
  /// Forgets all per-parameter state (momentum, moments) and the step count.
  virtual void reset() { steps_ = 0; }
  /// "SGD", "Adam", "AdamW", "RMSprop".
  [[nodiscard]] virtual std::string name() const = 0;

 protected:
  explicit Optimizer(T learning_rate) : learning_rate_(learning_rate) {}

  /// Updates one trainable parameter in place from its gradient and state.
  virtual void update(Parameter<T>& parameter) = 0;

  static void check_learning_rate(const std::string& where, T learning_rate) {
    require(std::isfinite(learning_rate) && learning_rate >= T(0), where,
            "learning_rate must be finite and >= 0, got " + std::to_string(learning_rate));
  }
  static void check_in_unit_interval(const std::string& where, std::string_view option, T value) {
    require(value >= T(0) && value < T(1), where,
            std::string(option) + " must be in [0, 1), got " + std::to_string(value));
  }
  static void check_non_negative(const std::string& where, std::string_view option, T value) {
    require(std::isfinite(value) && value >= T(0), where,
            std::string(option) + " must be finite and >= 0, got " + std::to_string(value));
  }

  /// Per-parameter state, created zero-filled with the parameter's shape on its first step.
  template <class State>
  static State& state_of(std::unordered_map<const Parameter<T>*, State>& states, const Parameter<T>& p) {
    auto [it, inserted] = states.try_emplace(&p);
    if (inserted) it->second.initialize(p.value.rows(), p.value.cols());
    return it->second;
  }

  T learning_rate_;
  Index steps_ = 0;
};

}  // namespace aimastery
