#pragma once
/// \file
/// Adam (L2 weight decay added to the gradient, as torch.optim.Adam) and AdamW (decoupled weight decay,
/// as torch.optim.AdamW), with bias correction and optional AMSGrad.

#include <cmath>
#include <memory>
#include <string>
#include <string_view>

#include "aimastery/ml/deep_learning/optimizer.hpp"

namespace aimastery {

template <Scalar T>
struct AdamOptions {
  T learning_rate = T(0.001);
  T beta1 = T(0.9);
  T beta2 = T(0.999);
  T eps = T(1e-8);
  T weight_decay = T(0);  ///< λ, L2 added to the gradient
  bool amsgrad = false;
};

/// AdamW's options: those of Adam with torch.optim.AdamW's defaults, so that
/// AdamW({.learning_rate = 1e-3}) keeps the decoupled weight decay 0.01 as AdamW() does.
template <Scalar T>
struct AdamWOptions {
  T learning_rate = T(0.001);
  T beta1 = T(0.9);
  T beta2 = T(0.999);
  T eps = T(1e-8);
  T weight_decay = T(0.01);  ///< λ, decoupled: θ ← θ(1 − ηλ) before the Adam update
  bool amsgrad = false;
};

namespace detail {

/// The moment estimates of one parameter, and its own step count t.
template <Scalar T>
struct AdamState {
  Matrix<T> m, v, v_max;
  Index t = 0;
  void initialize(Index rows, Index cols) {
    m.setZero(rows, cols);
    v.setZero(rows, cols);
  }
};

/// Shared by Adam and AdamW. With g the gradient (Adam: plus λθ), at the parameter's step t:
///   m_t = β₁ m_{t−1} + (1 − β₁) g             v_t = β₂ v_{t−1} + (1 − β₂) g²
///   θ  ← θ − η/(1 − β₁ᵗ) · m_t / (√v_t / √(1 − β₂ᵗ) + ε)      (ε outside the square root)
/// AMSGrad uses max(v_max, v_t) in place of v_t.
template <Scalar T, class Options>
class AdamBase : public Optimizer<T> {
 public:
  [[nodiscard]] const Options& options() const noexcept { return options_; }
  void reset() override {
    Optimizer<T>::reset();
    states_.clear();
  }

 protected:
  AdamBase(std::string_view where, Options options) : Optimizer<T>(options.learning_rate), options_(options) {
    this->check_learning_rate(where, options.learning_rate);
    this->check_in_unit_interval(where, "beta1", options.beta1);
    this->check_in_unit_interval(where, "beta2", options.beta2);
    this->check_non_negative(where, "eps", options.eps);
    this->check_non_negative(where, "weight_decay", options.weight_decay);
  }

  void adam_update(Parameter<T>& p, T l2_decay) {
    AdamState<T>& s = this->state_of(states_, p);
    ++s.t;
    const T b1 = options_.beta1, b2 = options_.beta2;
    if (l2_decay == T(0)) {
      s.m.array() = b1 * s.m.array() + (T(1) - b1) * p.grad.array();
      s.v.array() = b2 * s.v.array() + (T(1) - b2) * p.grad.array().square();
    } else {
      const auto g = p.grad.array() + l2_decay * p.value.array();
      s.m.array() = b1 * s.m.array() + (T(1) - b1) * g;
      s.v.array() = b2 * s.v.array() + (T(1) - b2) * g.square();
    }
    const T t = static_cast<T>(s.t);
    const T step_size = this->learning_rate_ / (T(1) - std::pow(b1, t));
    const T correction2_sqrt = std::sqrt(T(1) - std::pow(b2, t));
    if (options_.amsgrad) {
      if (s.v_max.size() == 0) s.v_max.setZero(p.value.rows(), p.value.cols());
      s.v_max = s.v_max.cwiseMax(s.v);
      p.value.array() -= step_size * s.m.array() / (s.v_max.array().sqrt() / correction2_sqrt + options_.eps);
    } else {
      p.value.array() -= step_size * s.m.array() / (s.v.array().sqrt() / correction2_sqrt + options_.eps);
    }
  }

  Options options_;

 private:
  typename Optimizer<T>::template StateMap<AdamState<T>> states_;
};

}  // namespace detail

/// Adam with L2 weight decay: g = ∇θ L + λθ, then the Adam update above (torch.optim.Adam).
template <Scalar T>
class Adam : public detail::AdamBase<T, AdamOptions<T>> {
 public:
  explicit Adam(AdamOptions<T> options = {}) : detail::AdamBase<T, AdamOptions<T>>("Adam", options) {}
  [[nodiscard]] std::string name() const override { return "Adam"; }
  [[nodiscard]] std::unique_ptr<Optimizer<T>> clone() const override { return std::make_unique<Adam>(*this); }

 protected:
  void update(Parameter<T>& p) override { this->adam_update(p, this->options_.weight_decay); }
};

/// AdamW: decoupled weight decay θ ← θ (1 − ηλ) first, then the Adam update of the plain gradient
/// (torch.optim.AdamW, whose defaults AdamWOptions has: weight_decay 0.01).
template <Scalar T>
class AdamW : public detail::AdamBase<T, AdamWOptions<T>> {
 public:
  explicit AdamW(AdamWOptions<T> options = {}) : detail::AdamBase<T, AdamWOptions<T>>("AdamW", options) {}
  [[nodiscard]] std::string name() const override { return "AdamW"; }
  [[nodiscard]] std::unique_ptr<Optimizer<T>> clone() const override { return std::make_unique<AdamW>(*this); }

 protected:
  void update(Parameter<T>& p) override {
    if (this->options_.weight_decay != T(0)) p.value *= T(1) - this->learning_rate_ * this->options_.weight_decay;
    this->adam_update(p, T(0));
  }
};

}  // namespace aimastery
