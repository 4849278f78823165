#pragma once
/// \file
/// The categorical distribution over K outcomes 0..K−1: P(X = k) = p_k, Σ p_k = 1.
///   H = −Σ p_k ln p_k (0 ln 0 = 0).
/// Sampling inverts the cumulative sums: X = min{k : U < Σ_{j≤k} p_j}, a binary search per draw.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "aimastery/core/probability/probability_vector.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

template <Scalar T>
class Categorical {
 public:
  /// probabilities: finite, ≥ 0, summing to 1 (within a few hundred ulps), else InvalidArgument.
  template <class Derived>
  explicit Categorical(const Eigen::MatrixBase<Derived>& probabilities) : p_(probabilities) {
    detail::check_probability_vector("Categorical", "probabilities", p_);
    cumulative_.resize(static_cast<std::size_t>(p_.size()));
    double running = 0;
    for (Index k = 0; k < p_.size(); ++k) cumulative_[static_cast<std::size_t>(k)] = running += double(p_(k));
  }

  [[nodiscard]] const Vector<T>& probabilities() const noexcept { return p_; }
  [[nodiscard]] Index n_categories() const noexcept { return p_.size(); }

  /// P(X = k); 0 outside 0..K−1.
  [[nodiscard]] T pmf(Index k) const { return k >= 0 && k < p_.size() ? p_(k) : T(0); }
  [[nodiscard]] T log_pmf(Index k) const {
    const T v = pmf(k);
    return v > T(0) ? std::log(v) : -std::numeric_limits<T>::infinity();
  }
  [[nodiscard]] T entropy() const {
    T h = 0;
    for (Index k = 0; k < p_.size(); ++k)
      if (p_(k) > T(0)) h -= p_(k) * std::log(p_(k));
    return h;
  }

  [[nodiscard]] IndexVector sample(Index n, RandomEngine& rng) const {
    require(n >= 0, "Categorical::sample", [&] { return "n must be >= 0, got " + std::to_string(n); });
    IndexVector out(n);
    const double total = cumulative_.back();  // 1 up to rounding
    for (Index i = 0; i < n; ++i) {
      const double u = detail::uniform_open01(rng) * total;
      const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
      // Rounding can leave u ≥ the last sum; the last category with non-zero mass takes it.
      Index k = std::min<Index>(static_cast<Index>(it - cumulative_.begin()), p_.size() - 1);
      while (p_(k) == T(0) && k > 0) --k;
      out(i) = k;
    }
    return out;
  }
  [[nodiscard]] IndexVector sample(Index n, std::uint64_t seed) const {
    RandomEngine rng(seed);
    return sample(n, rng);
  }

 private:
  Vector<T> p_;
  std::vector<double> cumulative_;
};

}  // namespace aimastery
