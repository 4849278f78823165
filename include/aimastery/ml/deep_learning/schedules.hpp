#pragma once
/// \file
/// Learning-rate schedules at the granularity of epochs, with the learning rates of PyTorch's
/// torch.optim.lr_scheduler: StepLR, ExponentialLR, CosineAnnealingLR, and a linear warm-up (LinearLR)
/// optionally followed by another schedule (SequentialLR).
///
/// A schedule maps (base learning rate η₀, epoch e = 0, 1, ...) to the learning rate of epoch e:
///   StepSchedule({.step_size = 30, .gamma = 0.1}).learning_rate(0.1, 45) == 0.01
/// `apply(optimizer, η₀, epoch)` sets it on an optimiser; NeuralNetwork::fit calls it before each epoch.

#include <cmath>
#include <memory>
#include <numbers>
#include <string>

#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/optimizer.hpp"

namespace aimastery {

template <Scalar T>
class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  /// The learning rate of `epoch` (0-based) for a base learning rate `base`.
  [[nodiscard]] virtual T learning_rate(T base, Index epoch) const = 0;
  [[nodiscard]] virtual std::string name() const = 0;

  /// Sets the learning rate of `epoch` on the optimiser.
  void apply(Optimizer<T>& optimizer, T base, Index epoch) const {
    if (epoch < 0) [[unlikely]]
      fail(name() + "::apply", "epoch must be >= 0, got " + std::to_string(epoch));
    optimizer.set_learning_rate(learning_rate(base, epoch));
  }

 protected:
  void check_epoch(Index epoch) const {
    if (epoch < 0) [[unlikely]]
      fail(name() + "::learning_rate", "epoch must be >= 0, got " + std::to_string(epoch));
  }
};

template <Scalar T>
struct StepScheduleOptions {
  Index step_size = 10;  ///< epochs between decays
  T gamma = T(0.1);      ///< factor per decay
};

/// η_e = η₀ γ^⌊e / step_size⌋   (StepLR)
template <Scalar T>
class StepSchedule : public LearningRateSchedule<T> {
 public:
  explicit StepSchedule(StepScheduleOptions<T> options = {}) : options_(options) {
    require(options.step_size >= 1, "StepSchedule",
            [&] { return "step_size must be >= 1, got " + std::to_string(options.step_size); });
    require(std::isfinite(options.gamma) && options.gamma > T(0), "StepSchedule",
            [&] { return "gamma must be finite and > 0, got " + std::to_string(options.gamma); });
  }
  [[nodiscard]] T learning_rate(T base, Index epoch) const override {
    this->check_epoch(epoch);
    return base * std::pow(options_.gamma, static_cast<T>(epoch / options_.step_size));
  }
  [[nodiscard]] std::string name() const override { return "StepSchedule"; }

 private:
  StepScheduleOptions<T> options_;
};

/// η_e = η₀ γ^e   (ExponentialLR)
template <Scalar T>
class ExponentialSchedule : public LearningRateSchedule<T> {
 public:
  explicit ExponentialSchedule(T gamma) : gamma_(gamma) {
    require(std::isfinite(gamma) && gamma > T(0), "ExponentialSchedule",
            [&] { return "gamma must be finite and > 0, got " + std::to_string(gamma); });
  }
  [[nodiscard]] T learning_rate(T base, Index epoch) const override {
    this->check_epoch(epoch);
    return base * std::pow(gamma_, static_cast<T>(epoch));
  }
  [[nodiscard]] std::string name() const override { return "ExponentialSchedule"; }

 private:
  T gamma_;
};

template <Scalar T>
struct CosineScheduleOptions {
  Index T_max = 100;  ///< epochs of one half cosine period
  T eta_min = T(0);   ///< the learning rate reached at epoch T_max
};

/// η_e = η_min + (η₀ − η_min) (1 + cos(π e / T_max)) / 2   (CosineAnnealingLR; past T_max the cosine
/// continues, rising again, as PyTorch's does)
template <Scalar T>
class CosineAnnealingSchedule : public LearningRateSchedule<T> {
 public:
  explicit CosineAnnealingSchedule(CosineScheduleOptions<T> options = {}) : options_(options) {
    require(options.T_max >= 1, "CosineAnnealingSchedule",
            [&] { return "T_max must be >= 1, got " + std::to_string(options.T_max); });
    require(std::isfinite(options.eta_min) && options.eta_min >= T(0), "CosineAnnealingSchedule",
            [&] { return "eta_min must be finite and >= 0, got " + std::to_string(options.eta_min); });
  }
  [[nodiscard]] T learning_rate(T base, Index epoch) const override {
    this->check_epoch(epoch);
    const T phase = std::numbers::pi_v<T> * static_cast<T>(epoch) / static_cast<T>(options_.T_max);
    return options_.eta_min + (base - options_.eta_min) * (T(1) + std::cos(phase)) / T(2);
  }
  [[nodiscard]] std::string name() const override { return "CosineAnnealingSchedule"; }

 private:
  CosineScheduleOptions<T> options_;
};

template <Scalar T>
struct WarmupScheduleOptions {
  Index warmup_epochs = 5;  ///< epochs of linear ramp
  T start_factor = T(0.1);  ///< the ramp starts at start_factor · η₀ and reaches η₀ at warmup_epochs
};

/// η_e = η₀ (f₀ + (1 − f₀) e / W) for e < W (LinearLR with end_factor 1, total_iters W); from epoch W on,
/// η₀ (no `then`) or then(η₀, e − W): the following schedule restarts its own epoch count at W, as
/// SequentialLR([LinearLR, then], milestones=[W]) does.
template <Scalar T>
class LinearWarmupSchedule : public LearningRateSchedule<T> {
 public:
  explicit LinearWarmupSchedule(WarmupScheduleOptions<T> options = {},
                                std::shared_ptr<const LearningRateSchedule<T>> then = nullptr)
      : options_(options), then_(std::move(then)) {
    require(options.warmup_epochs >= 1, "LinearWarmupSchedule",
            [&] { return "warmup_epochs must be >= 1, got " + std::to_string(options.warmup_epochs); });
    require(options.start_factor > T(0) && options.start_factor <= T(1), "LinearWarmupSchedule",
            [&] { return "start_factor must be in (0, 1], got " + std::to_string(options.start_factor); });
  }
  [[nodiscard]] T learning_rate(T base, Index epoch) const override {
    this->check_epoch(epoch);
    const Index W = options_.warmup_epochs;
    if (epoch < W) {
      const T f0 = options_.start_factor;
      return base * (f0 + (T(1) - f0) * static_cast<T>(epoch) / static_cast<T>(W));
    }
    return then_ ? then_->learning_rate(base, epoch - W) : base;
  }
  [[nodiscard]] std::string name() const override { return "LinearWarmupSchedule"; }

 private:
  WarmupScheduleOptions<T> options_;
  std::shared_ptr<const LearningRateSchedule<T>> then_;
};

}  // namespace aimastery
