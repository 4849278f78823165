#pragma once
/// \file
/// The Bernoulli distribution: P(X = 1) = p, P(X = 0) = 1 − p.
///   pmf(k) = pᵏ (1 − p)¹⁻ᵏ,  mean p,  variance p(1 − p),
///   H = −p ln p − (1 − p) ln(1 − p)   (with 0 ln 0 = 0).

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

template <Scalar T>
class Bernoulli {
 public:
  explicit Bernoulli(T p) : p_(p) {
    require(p >= T(0) && p <= T(1), "Bernoulli",
            [&] { return "p = " + std::to_string(p) + " is not a probability in [0, 1]"; });
  }

  [[nodiscard]] T p() const noexcept { return p_; }
  [[nodiscard]] T mean() const noexcept { return p_; }
  [[nodiscard]] T variance() const noexcept { return p_ * (T(1) - p_); }

  /// P(X = k) for k ∈ {0, 1}; any other k has probability 0.
  [[nodiscard]] T pmf(Index k) const { return k == 1 ? p_ : (k == 0 ? T(1) - p_ : T(0)); }
  /// ln P(X = k): −∞ for impossible outcomes; log1p keeps ln(1 − p) exact for small p.
  [[nodiscard]] T log_pmf(Index k) const {
    if (k == 1) return std::log(p_);
    if (k == 0) return std::log1p(-p_);
    return -std::numeric_limits<T>::infinity();
  }
  [[nodiscard]] T entropy() const {
    auto xlogx = [](T v) { return v > T(0) ? v * std::log(v) : T(0); };
    return -xlogx(p_) - xlogx(T(1) - p_);
  }

  /// n draws: 1 when U < p for U ~ U(0, 1).
  [[nodiscard]] IndexVector sample(Index n, RandomEngine& rng) const {
    require(n >= 0, "Bernoulli::sample", [&] { return "n must be >= 0, got " + std::to_string(n); });
    IndexVector out(n);
    for (Index i = 0; i < n; ++i) out(i) = detail::uniform_open01(rng) < double(p_) ? 1 : 0;
    return out;
  }
  [[nodiscard]] IndexVector sample(Index n, std::uint64_t seed) const {
    RandomEngine rng(seed);
    return sample(n, rng);
  }

 private:
  T p_;
};

}  // namespace aimastery
