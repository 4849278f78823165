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
/// the same optimiser can be stepped with a freshly built ParameterList of the same network. The state
/// remembers the shape it was made for: a parameter whose shape differs from its state's (a new
/// parameter at an address an old one used) starts with fresh state, never reads the old one.
///
/// step() checks the whole list before it changes anything, and builds no message unless a check
/// fails (a step allocates nothing once every state exists).

#include <cmath>
#include <memory>
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

  /// One update of every trainable parameter of the list from its current gradient. Throws
  /// InvalidArgument, before any parameter or state changes, when an entry is null or a trainable
  /// parameter's gradient and value differ in shape.
  void step(const ParameterList<T>& parameters) {
    for (const auto& entry : parameters) {
      if (entry.parameter == nullptr) [[unlikely]]
        fail(name() + "::step", "parameter '" + entry.name + "' is null");
      const Parameter<T>& p = *entry.parameter;
      if (entry.trainable && (p.grad.rows() != p.value.rows() || p.grad.cols() != p.value.cols())) [[unlikely]]
        fail(name() + "::step",
             "parameter '" + entry.name + "' has value " + shape_of(p.value) + " but gradient " + shape_of(p.grad));
    }
    ++steps_;
    for (const auto& entry : parameters)
      if (entry.trainable) update(*entry.parameter);
  }

  /// Sets every gradient of the list (trainable or not) to zero.
  void zero_grad(const ParameterList<T>& parameters) const {
    for (const auto& entry : parameters)
      if (entry.parameter != nullptr) entry.parameter->zero_grad();
  }

  [[nodiscard]] T learning_rate() const noexcept { return learning_rate_; }
  /// Changes the learning rate for the following steps (what a schedule does each epoch).
  void set_learning_rate(T learning_rate) {
    if (!valid_learning_rate(learning_rate)) [[unlikely]]
      fail(name() + "::set_learning_rate", learning_rate_message(learning_rate));
    learning_rate_ = learning_rate;
  }
  /// The number of step() calls so far.
  [[nodiscard]] Index steps() const noexcept { return steps_; }
  /// Forgets all per-parameter state (momentum, moments) and the step count.
  virtual void reset() { steps_ = 0; }
  /// "SGD", "Adam", "AdamW", "RMSprop".
  [[nodiscard]] virtual std::string name() const = 0;
  /// A copy with the same options, learning rate, step count and per-parameter state (what
  /// NeuralNetwork::fit keeps aside to put back when training fails).
  [[nodiscard]] virtual std::unique_ptr<Optimizer> clone() const = 0;

 protected:
  explicit Optimizer(T learning_rate) : learning_rate_(learning_rate) {}

  /// Updates one trainable parameter in place from its gradient and state.
  virtual void update(Parameter<T>& parameter) = 0;

  static bool valid_learning_rate(T learning_rate) { return std::isfinite(learning_rate) && learning_rate >= T(0); }
  static std::string learning_rate_message(T learning_rate) {
    return "learning_rate must be finite and >= 0, got " + std::to_string(learning_rate);
  }
  static void check_learning_rate(std::string_view where, T learning_rate) {
    require(valid_learning_rate(learning_rate), where, [&] { return learning_rate_message(learning_rate); });
  }
  static void check_in_unit_interval(std::string_view where, std::string_view option, T value) {
    require(value >= T(0) && value < T(1), where,
            [&] { return std::string(option) + " must be in [0, 1), got " + std::to_string(value); });
  }
  static void check_non_negative(std::string_view where, std::string_view option, T value) {
    require(std::isfinite(value) && value >= T(0), where,
            [&] { return std::string(option) + " must be finite and >= 0, got " + std::to_string(value); });
  }

  /// The state of one parameter and the shape it was made for.
  template <class State>
  struct Slot {
    Index rows = -1;
    Index cols = -1;
    State state;
  };
  template <class State>
  using StateMap = std::unordered_map<const Parameter<T>*, Slot<State>>;

  /// Per-parameter state, created zero-filled with the parameter's shape on its first step, and made
  /// afresh when the parameter at that address no longer has the shape the state was made for.
  template <class State>
  static State& state_of(StateMap<State>& states, const Parameter<T>& p) {
    auto [it, inserted] = states.try_emplace(&p);
    Slot<State>& slot = it->second;
    if (inserted || slot.rows != p.value.rows() || slot.cols != p.value.cols()) {
      State fresh;
      fresh.initialize(p.value.rows(), p.value.cols());
      slot.state = std::move(fresh);
      slot.rows = p.value.rows();
      slot.cols = p.value.cols();
    }
    return slot.state;
  }

  T learning_rate_;
  Index steps_ = 0;
};

}  // namespace aimastery
