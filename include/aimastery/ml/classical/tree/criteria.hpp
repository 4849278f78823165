#pragma once
/// \file
/// What a tree node (or one histogram bin) knows about its samples, and how good a split is.
///
/// Statistics are a short row of doubles, `width()` of them, that add up: the statistics of a node are the
/// sum of those of its bins, and of its two children (so a sibling's histogram is parent − child).
///   classification: [w_0, ..., w_{K−1}, w, n]  weighted class counts, their sum, and the sample count
///   regression:     [Σ w y, Σ w y², w, n]
///
/// A split of a node of weight w into children of weights w_L + w_R = w gains
///     Δ = w·I(node) − w_L·I(L) − w_R·I(R)                       (information gain, times w)
/// Since w·I(node) is fixed, the search maximises the cheaper proxy −w_L·I(L) − w_R·I(R), up to constants:
///   gini     I = 1 − Σ p_k²                  proxy per child  Σ_k w_k² / w
///   entropy  I = −Σ p_k log₂ p_k              proxy per child  Σ_k w_k ln w_k − w ln w
///   MSE      I = Σ w y²/w − (Σ w y / w)²      proxy per child  (Σ w y)² / w

#include <cmath>

#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/classical/tree/tree_options.hpp"

namespace aimastery::detail {

struct ClassificationCriterion {
  SplitCriterion criterion = SplitCriterion::gini;
  Index n_classes = 0;
  const Index* codes = nullptr;  ///< class code 0..K-1 of every training sample

  [[nodiscard]] Index width() const noexcept { return n_classes + 2; }
  [[nodiscard]] Index weight_slot() const noexcept { return n_classes; }
  [[nodiscard]] Index count_slot() const noexcept { return n_classes + 1; }
  [[nodiscard]] Index value_size() const noexcept { return n_classes; }

  void add(double* stats, Index sample, double weight) const noexcept {
    stats[codes[sample]] += weight;
    stats[n_classes] += weight;
    stats[n_classes + 1] += 1.0;
  }

  [[nodiscard]] double proxy(const double* stats) const noexcept {
    const double w = stats[n_classes];
    double sum = 0;
    if (criterion == SplitCriterion::gini) {
      for (Index k = 0; k < n_classes; ++k) sum += stats[k] * stats[k];
      return sum / w;
    }
    for (Index k = 0; k < n_classes; ++k)
      if (stats[k] > 0) sum += stats[k] * std::log(stats[k]);
    return sum - w * std::log(w);
  }

  /// Whether a split of proxy gain `proxy` beats the best so far. Class weights are sums of integer
  /// weights, exact in any order: the larger gain wins, an exact tie keeps the first found.
  [[nodiscard]] static bool improves(double proxy, double best) noexcept { return proxy > best; }

  [[nodiscard]] double impurity(const double* stats) const noexcept {
    const double w = stats[n_classes];
    double sum = 0;
    for (Index k = 0; k < n_classes; ++k) {
      const double p = stats[k] / w;
      if (criterion == SplitCriterion::gini)
        sum += p * p;
      else if (p > 0)
        sum -= p * std::log2(p);
    }
    return criterion == SplitCriterion::gini ? 1.0 - sum : sum;
  }

  /// A leaf predicts the class proportions p_k = w_k / w.
  template <class T>
  void leaf_value(const double* stats, T* out) const noexcept {
    for (Index k = 0; k < n_classes; ++k) out[k] = static_cast<T>(stats[k] / stats[n_classes]);
  }
};

template <Scalar T>
struct RegressionCriterion {
  const T* targets = nullptr;

  [[nodiscard]] static constexpr Index width() noexcept { return 4; }
  [[nodiscard]] static constexpr Index weight_slot() noexcept { return 2; }
  [[nodiscard]] static constexpr Index count_slot() noexcept { return 3; }
  [[nodiscard]] static constexpr Index value_size() noexcept { return 1; }

  void add(double* stats, Index sample, double weight) const noexcept {
    const double y = static_cast<double>(targets[sample]);
    stats[0] += weight * y;
    stats[1] += weight * y * y;
    stats[2] += weight;
    stats[3] += 1.0;
  }
  [[nodiscard]] static double proxy(const double* stats) noexcept { return stats[0] * stats[0] / stats[2]; }
  /// Whether a split of proxy gain `proxy` beats the best so far. Σwy is rounded, and depends on the order
  /// of the additions (another order in a tree grown on sharded rows): two splits making the same partition
  /// of the samples, whose gains are equal, may differ in the last bits. Gains within 1e-12 relative are
  /// therefore ties, kept by the first split found.
  [[nodiscard]] static bool improves(double proxy, double best) noexcept {
    return std::isinf(best) ? proxy > best : proxy > best + 1e-12 * std::abs(best);
  }
  [[nodiscard]] static double impurity(const double* stats) noexcept {
    const double mean = stats[0] / stats[2];
    return std::max(stats[1] / stats[2] - mean * mean, 0.0);
  }
  /// A leaf predicts the weighted mean Σ w y / w.
  template <class U>
  static void leaf_value(const double* stats, U* out) noexcept {
    out[0] = static_cast<U>(stats[0] / stats[2]);
  }
};

}  // namespace aimastery::detail
