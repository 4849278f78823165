#pragma once
/// \file
/// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay, with
/// exactly torch.optim.SGD's update rule.

#include <memory>
#include <string>
#include <string_view>

#include "aimastery/ml/deep_learning/optimizer.hpp"

namespace aimastery {

template <Scalar T>
struct SGDOptions {
  T learning_rate = T(0.01);
  T momentum = T(0);      ///< μ in [0, 1)
  T dampening = T(0);     ///< τ in [0, 1); must be 0 with Nesterov
  bool nesterov = false;  ///< needs momentum > 0
  T weight_decay = T(0);  ///< λ >= 0, L2 penalty added to the gradient
};

/// With g = ∇θ L + λθ, and the buffer b created as b₁ = g on the first step:
///   b_t = μ b_{t−1} + (1 − τ) g
///   d   = g + μ b_t   (Nesterov)   or   d = b_t   (classical momentum)   or   d = g   (μ = 0)
///   θ  ← θ − η d
template <Scalar T>
class SGD : public Optimizer<T> {
 public:
  explicit SGD(SGDOptions<T> options = {}) : Optimizer<T>(options.learning_rate), options_(options) {
    constexpr std::string_view where = "SGD";
    this->check_learning_rate(where, options.learning_rate);
    this->check_in_unit_interval(where, "momentum", options.momentum);
    this->check_in_unit_interval(where, "dampening", options.dampening);
    this->check_non_negative(where, "weight_decay", options.weight_decay);
    require(!options.nesterov || (options.momentum > T(0) && options.dampening == T(0)), where, [&] {
      return "nesterov needs momentum > 0 and dampening 0, got momentum " + std::to_string(options.momentum) +
             " and dampening " + std::to_string(options.dampening);
    });
  }

  [[nodiscard]] std::string name() const override { return "SGD"; }
  [[nodiscard]] std::unique_ptr<Optimizer<T>> clone() const override { return std::make_unique<SGD>(*this); }
  [[nodiscard]] const SGDOptions<T>& options() const noexcept { return options_; }
  void reset() override {
    Optimizer<T>::reset();
    states_.clear();
  }

 protected:
  void update(Parameter<T>& p) override {
    auto theta = p.value.array();
    const T lambda = options_.weight_decay;
    const T mu = options_.momentum;
    const T eta = this->learning_rate_;
    if (mu == T(0)) {
      if (lambda == T(0))
        theta -= eta * p.grad.array();
      else
        theta -= eta * (p.grad.array() + lambda * theta);
      return;
    }
    State& s = this->state_of(states_, p);
    auto buffer = s.buffer.array();
    if (!s.started) {
      buffer = p.grad.array() + lambda * theta;
      s.started = true;
    } else {
      buffer = mu * buffer + (T(1) - options_.dampening) * (p.grad.array() + lambda * theta);
    }
    if (options_.nesterov)
      theta -= eta * (p.grad.array() + lambda * theta + mu * buffer);
    else
      theta -= eta * buffer;
  }

 private:
  struct State {
    Matrix<T> buffer;
    bool started = false;
    void initialize(Index rows, Index cols) { buffer.setZero(rows, cols); }
  };
  SGDOptions<T> options_;
  typename Optimizer<T>::template StateMap<State> states_;
};

}  // namespace aimastery
