#pragma once
/// \file
/// Concept drift on a stream: DDM on a stream of errors (0/1) and Page–Hinkley on a stream of values,
/// with River's defaults and River's exact update rules (river.drift.binary.DDM, river.drift.PageHinkley).
///
/// DDM (Gama et al. 2004): after i observations with error rate p_i and s_i = √(p_i(1 − p_i)/i),
/// once i > warm_start remember (p_min, s_min) where p_i + s_i is smallest; then
///   p_i + s_i > p_min + 2·s_min → warning,   p_i + s_i > p_min + 3·s_min → drift (and reset next time).
/// Page–Hinkley (Page 1954), for an increase of the mean: with the running mean x̄_t,
///   m_t = max(0, α·m_{t−1} + (x_t − x̄_t − δ)),   drift when m_t ≥ λ after min_instances samples
/// (δ = 0.005, λ = 50, α = 0.9999, min_instances = 30), then reset.

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

struct DDMOptions {
  std::size_t warm_start = 30;
  double warning_threshold = 2.0;
  double drift_threshold = 3.0;
};

/// Drift Detection Method on a binary stream (1 = error).
class DDM {
 public:
  explicit DDM(DDMOptions options = {}) : options_(options) {
    require(options_.warning_threshold > 0 && options_.drift_threshold >= options_.warning_threshold, "DDM",
            "thresholds must satisfy 0 < warning_threshold <= drift_threshold");
    reset();
  }

  /// Adds one observation (true or 1 = error). Returns drift_detected().
  bool update(bool error) {
    if (drift_) reset();
    ++n_;
    mean_ += ((error ? 1.0 : 0.0) - mean_) / static_cast<double>(n_);
    const double p = mean_;
    const double s = std::sqrt(p * (1 - p) / static_cast<double>(n_));
    if (n_ > options_.warm_start) {
      if (p + s <= ps_min_) {
        p_min_ = p;
        s_min_ = s;
        ps_min_ = p_min_ + s_min_;
      }
      warning_ = p + s > p_min_ + options_.warning_threshold * s_min_;
      if (p + s > p_min_ + options_.drift_threshold * s_min_) {
        drift_ = true;
        warning_ = false;
      }
    }
    return drift_;
  }

  [[nodiscard]] bool drift_detected() const noexcept { return drift_; }
  [[nodiscard]] bool warning_detected() const noexcept { return warning_; }
  [[nodiscard]] double error_rate() const noexcept { return mean_; }
  [[nodiscard]] std::size_t count() const noexcept { return n_; }

  void reset() {
    drift_ = warning_ = false;
    n_ = 0;
    mean_ = 0;
    p_min_ = s_min_ = ps_min_ = std::numeric_limits<double>::infinity();
  }

 private:
  DDMOptions options_;
  bool drift_ = false, warning_ = false;
  std::size_t n_ = 0;
  double mean_ = 0, p_min_ = 0, s_min_ = 0, ps_min_ = 0;
};

struct PageHinkleyOptions {
  std::size_t min_instances = 30;
  double delta = 0.005;
  double threshold = 50;
  double alpha = 1 - 0.0001;
};

/// Page–Hinkley test for an increase in the mean of a stream.
class PageHinkley {
 public:
  explicit PageHinkley(PageHinkleyOptions options = {}) : options_(options) {
    require(options_.threshold > 0, "PageHinkley", "threshold must be positive");
    require(options_.alpha > 0 && options_.alpha <= 1, "PageHinkley", "alpha must be in (0, 1]");
    reset();
  }

  /// Adds one value (finite). Returns drift_detected().
  bool update(double x) {
    require(std::isfinite(x), "PageHinkley::update", "x is NaN or infinite");
    if (drift_) reset();
    mean_ += (x - mean_) / static_cast<double>(sample_count_);
    sum_ = std::max(0.0, options_.alpha * sum_ + (x - mean_ - options_.delta));
    ++sample_count_;
    drift_ = sample_count_ >= options_.min_instances && sum_ >= options_.threshold;
    return drift_;
  }

  [[nodiscard]] bool drift_detected() const noexcept { return drift_; }
  [[nodiscard]] double statistic() const noexcept { return sum_; }
  [[nodiscard]] double mean() const noexcept { return mean_; }

  void reset() {
    drift_ = false;
    sample_count_ = 1;
    mean_ = 0;
    sum_ = 0;
  }

 private:
  PageHinkleyOptions options_;
  bool drift_ = false;
  std::size_t sample_count_ = 1;
  double mean_ = 0, sum_ = 0;
};

}  // namespace aimastery
