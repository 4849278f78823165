#pragma once
/// \file
/// RMSprop with smoothing α, ε, momentum, centring and L2 weight decay, as torch.optim.RMSprop.

#include <memory>
#include <string>
#include <string_view>

#include "aimastery/ml/deep_learning/optimizer.hpp"

namespace aimastery {

template <Scalar T>
struct RMSpropOptions {
  T learning_rate = T(0.01);
  T alpha = T(0.99);  ///< smoothing of the squared-gradient average, in [0, 1)
  T eps = T(1e-8);
  T weight_decay = T(0);  ///< L2 added to the gradient
  T momentum = T(0);      ///< in [0, 1)
  bool centered = false;  ///< divide by an estimate of the gradient's variance instead of its second moment
};

/// With g = ∇θ L + λθ:
///   s_t = α s_{t−1} + (1 − α) g²              (centred: ḡ_t = α ḡ_{t−1} + (1 − α) g,  s̃_t = s_t − ḡ_t²)
///   a   = √s_t + ε   (centred: √s̃_t + ε)
///   θ  ← θ − η g / a,   or with momentum μ:  b_t = μ b_{t−1} + g / a,  θ ← θ − η b_t
template <Scalar T>
class RMSprop : public Optimizer<T> {
 public:
  explicit RMSprop(RMSpropOptions<T> options = {}) : Optimizer<T>(options.learning_rate), options_(options) {
    constexpr std::string_view where = "RMSprop";
    this->check_learning_rate(where, options.learning_rate);
    this->check_in_unit_interval(where, "alpha", options.alpha);
    this->check_non_negative(where, "eps", options.eps);
    this->check_non_negative(where, "weight_decay", options.weight_decay);
    this->check_in_unit_interval(where, "momentum", options.momentum);
  }

  [[nodiscard]] std::string name() const override { return "RMSprop"; }
  [[nodiscard]] std::unique_ptr<Optimizer<T>> clone() const override { return std::make_unique<RMSprop>(*this); }
  [[nodiscard]] const RMSpropOptions<T>& options() const noexcept { return options_; }
  void reset() override {
    Optimizer<T>::reset();
    states_.clear();
  }

 protected:
  void update(Parameter<T>& p) override {
    State& s = this->state_of(states_, p);
    const T a = options_.alpha;
    const T lambda = options_.weight_decay;
    if (lambda != T(0)) s.decayed_grad = (p.grad.array() + lambda * p.value.array()).matrix();
    const auto g = (lambda != T(0) ? s.decayed_grad : p.grad).array();
    s.square_average.array() = a * s.square_average.array() + (T(1) - a) * g.square();
    if (options_.centered) {
      if (s.grad_average.size() == 0) s.grad_average.setZero(p.value.rows(), p.value.cols());
      s.grad_average.array() = a * s.grad_average.array() + (T(1) - a) * g;
      s.denominator.array() = (s.square_average.array() - s.grad_average.array().square()).sqrt() + options_.eps;
    } else {
      s.denominator.array() = s.square_average.array().sqrt() + options_.eps;
    }
    if (options_.momentum > T(0)) {
      if (s.buffer.size() == 0) s.buffer.setZero(p.value.rows(), p.value.cols());
      s.buffer.array() = options_.momentum * s.buffer.array() + g / s.denominator.array();
      p.value.array() -= this->learning_rate_ * s.buffer.array();
    } else {
      p.value.array() -= this->learning_rate_ * g / s.denominator.array();
    }
  }

 private:
  struct State {
    Matrix<T> square_average, grad_average, buffer, denominator, decayed_grad;
    void initialize(Index rows, Index cols) {
      square_average.setZero(rows, cols);
      denominator.resize(rows, cols);
    }
  };
  RMSpropOptions<T> options_;
  typename Optimizer<T>::template StateMap<State> states_;
};

}  // namespace aimastery
