#pragma once
/// \file
/// The Gaussian (normal) distribution N(μ, σ²).
///
///   f(x) = 1/√(2πσ²) · exp(−(x − μ)²/(2σ²))         pdf
///   F(x) = Φ((x − μ)/σ)                              cdf, Φ = ndtr
///   F⁻¹(p) = μ + σ Φ⁻¹(p)                            ppf, Φ⁻¹ = ndtri
///   H = ½ ln(2πe σ²)                                 entropy (nats): the largest of any density
///                                                    with that variance
/// Maximum likelihood from samples x₁..xₙ: μ̂ = mean, σ̂² = (1/n) Σ (xᵢ − μ̂)² (the biased variance).

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/special/normal.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

template <Scalar T>
class Gaussian {
 public:
  /// N(mean, std²); std must be finite and > 0, mean finite.
  explicit Gaussian(T mean = T(0), T std = T(1)) : mean_(mean), std_(std) {
    require(std::isfinite(mean), "Gaussian", [&] { return "mean must be finite, got " + std::to_string(mean); });
    require(std::isfinite(std) && std > T(0), "Gaussian",
            [&] { return "std must be finite and > 0, got " + std::to_string(std); });
  }

  /// The maximum-likelihood Gaussian of the samples (at least 2 values, finite, not all equal).
  template <class Derived>
  static Gaussian fit(const Eigen::MatrixBase<Derived>& samples) {
    check_not_empty("Gaussian::fit", "samples", samples);
    check_finite("Gaussian::fit", "samples", samples);
    require(samples.size() >= 2, "Gaussian::fit", "needs at least 2 samples, got 1");
    const T mu = samples.mean();
    const T var = (samples.array() - mu).square().mean();
    require(var > T(0), "Gaussian::fit", "samples have zero variance (all equal): no Gaussian fits them");
    return Gaussian(mu, std::sqrt(var));
  }

  [[nodiscard]] T mean() const noexcept { return mean_; }
  [[nodiscard]] T std() const noexcept { return std_; }
  [[nodiscard]] T variance() const noexcept { return std_ * std_; }
  [[nodiscard]] T entropy() const {
    return T(0.5) * std::log(T(2) * std::numbers::pi_v<T> * std::numbers::e_v<T> * variance());
  }

  /// log f(x) = −½ z² − ln σ − ½ ln 2π with z = (x − μ)/σ: finite far beyond where f underflows.
  [[nodiscard]] T log_pdf(T x) const {
    const T z = (x - mean_) / std_;
    return T(-0.5) * z * z - std::log(std_) - T(0.5) * std::log(T(2) * std::numbers::pi_v<T>);
  }
  [[nodiscard]] T pdf(T x) const {
    const T z = (x - mean_) / std_;
    return std::exp(T(-0.5) * z * z) / (std_ * std::sqrt(T(2) * std::numbers::pi_v<T>));
  }
  [[nodiscard]] T cdf(T x) const { return ndtr((x - mean_) / std_); }
  /// The quantile: p ∈ [0, 1] (−∞ at 0, +∞ at 1); otherwise InvalidArgument.
  [[nodiscard]] T ppf(T p) const {
    if (!(p >= T(0) && p <= T(1)))
      throw InvalidArgument("Gaussian::ppf: p = " + std::to_string(p) + " is not a probability in [0, 1]");
    return mean_ + std_ * ndtri(p);
  }

  /// The element-wise forms over a vector of points.
  template <class Derived>
  [[nodiscard]] Vector<T> pdf(const Eigen::MatrixBase<Derived>& x) const {
    return x.unaryExpr([this](T v) { return pdf(v); });
  }
  template <class Derived>
  [[nodiscard]] Vector<T> log_pdf(const Eigen::MatrixBase<Derived>& x) const {
    return x.unaryExpr([this](T v) { return log_pdf(v); });
  }
  template <class Derived>
  [[nodiscard]] Vector<T> cdf(const Eigen::MatrixBase<Derived>& x) const {
    return x.unaryExpr([this](T v) { return cdf(v); });
  }

  /// n samples μ + σZ, Z from Box–Muller on the given engine.
  [[nodiscard]] Vector<T> sample(Index n, RandomEngine& rng) const {
    require(n >= 0, "Gaussian::sample", [&] { return "n must be >= 0, got " + std::to_string(n); });
    Vector<T> out(n);
    for (Index i = 0; i < n; ++i) out(i) = mean_ + std_ * static_cast<T>(detail::standard_normal(rng));
    return out;
  }
  [[nodiscard]] Vector<T> sample(Index n, std::uint64_t seed) const {
    RandomEngine rng(seed);
    return sample(n, rng);
  }

 private:
  T mean_;
  T std_;
};

}  // namespace aimastery
