#pragma once
/// \file
/// Losses: MSELoss, CrossEntropyLoss (from logits), BinaryCrossEntropyLoss (from logits or probabilities).
///
/// The loss interface (Loss<T>), shared by every loss so that a network holds any of them:
///
///   T forward(const Matrix<T>& prediction, const Matrix<T>& target)   target of the prediction's shape
///   T forward(const Matrix<T>& prediction, const IndexVector& labels) one class code per row (0..K−1)
///   (any other Eigen object is accepted too: integer scalars as labels, a Vector<T> as an n × 1 target)
///       return the loss (a scalar: mean or sum over the batch, see Reduction) and keep what backward needs;
///       a loss that cannot take one of the two target kinds throws InvalidArgument saying so
///       (`takes_labels()` / `takes_matrix_targets()` tell in advance).
///   Matrix<T> backward() const
///       ∂L/∂prediction of the last forward, of the prediction's shape, already scaled by the reduction
///       (so with Reduction::mean it is the gradient of the batch mean): feed it to the last layer's backward.
///   Matrix<T> probabilities(const Matrix<T>& output) const
///       the network output turned into what predict_proba reports: softmax of CrossEntropyLoss's
///       logits, sigmoid of BinaryCrossEntropyLoss's logits, the output itself otherwise.
///
/// Predictions are rows of a batch (n × k); a loss is a function of the whole batch.

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>

#include "aimastery/core/linalg/activations.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/detail/layer_checks.hpp"

namespace aimastery {

/// How per-element (MSE, BCE) or per-sample (cross-entropy) losses are combined: their mean or their sum.
enum class Reduction { mean, sum };

template <Scalar T>
class Loss {
 public:
  virtual ~Loss() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  /// The loss of `prediction` against a target of the same shape.
  virtual T forward(const Matrix<T>& prediction, const Matrix<T>& target) = 0;
  /// The loss of `prediction` (n × K) against n class codes in 0..K−1.
  virtual T forward(const Matrix<T>& prediction, const IndexVector& labels) {
    (void)prediction;
    (void)labels;
    throw InvalidArgument(name() + "::forward: takes a target matrix of the prediction's shape, not class labels");
  }
  /// Any other Eigen object as the target (a Vector<T> of regression targets, an expression): integer
  /// scalars are class labels, floating-point ones a target matrix of the prediction's shape.
  template <class Derived>
  T forward(const Matrix<T>& prediction, const Eigen::MatrixBase<Derived>& target) {
    if constexpr (std::is_integral_v<typename Derived::Scalar>)
      return forward(prediction, IndexVector(target.template cast<Index>()));
    else
      return forward(prediction, Matrix<T>(target.template cast<T>()));
  }
  /// ∂L/∂prediction of the last forward.
  [[nodiscard]] virtual Matrix<T> backward() const = 0;
  /// The output as probabilities (softmax or sigmoid of logits) or, for regression losses, unchanged.
  [[nodiscard]] virtual Matrix<T> probabilities(const Matrix<T>& output) const { return output; }
  [[nodiscard]] virtual bool takes_labels() const noexcept { return false; }
  [[nodiscard]] virtual bool takes_matrix_targets() const noexcept { return true; }
};

namespace detail {

inline std::string reduction_name(Reduction r) { return r == Reduction::mean ? "mean" : "sum"; }

template <Scalar T>
void check_prediction(std::string_view where, const Matrix<T>& prediction) {
  if (prediction.size() == 0) fail(where, "prediction is empty (" + shape_of(prediction) + ")");
}

template <Scalar T>
void check_matrix_target(std::string_view where, const Matrix<T>& prediction, const Matrix<T>& target) {
  check_prediction(where, prediction);
  if (prediction.rows() != target.rows() || prediction.cols() != target.cols())
    fail(where, "prediction is " + shape_of(prediction) + " but target is " + shape_of(target));
  if (!all_finite(target)) fail(where, "target contains NaN or infinity");
}

/// Labels: one per row of the prediction, each a class code in 0..classes−1.
template <Scalar T>
void check_labels(std::string_view where, const Matrix<T>& prediction, const IndexVector& labels, Index classes) {
  check_prediction(where, prediction);
  if (labels.size() != prediction.rows())
    fail(where, "prediction has " + std::to_string(prediction.rows()) + " rows (" + shape_of(prediction) +
                    ") but labels has " + std::to_string(labels.size()) + " entries");
  for (Index i = 0; i < labels.size(); ++i)
    if (labels(i) < 0 || labels(i) >= classes)
      fail(where, "label " + std::to_string(labels(i)) + " at row " + std::to_string(i) + " is out of range for " +
                      std::to_string(classes) + " classes (codes 0.." + std::to_string(classes - 1) + ")");
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------------
// MSELoss
// ---------------------------------------------------------------------------------------------------

/// L = (1/N) Σ (ŷ − y)² over all N = n·k elements (Reduction::mean), or Σ (ŷ − y)² (sum).
/// ∂L/∂ŷ = 2(ŷ − y)/N (mean), 2(ŷ − y) (sum).
template <Scalar T>
class MSELoss : public Loss<T> {
 public:
  explicit MSELoss(Reduction reduction = Reduction::mean) : reduction_(reduction) {}
  using Loss<T>::forward;

  [[nodiscard]] std::string name() const override { return "MSELoss"; }
  [[nodiscard]] Reduction reduction() const noexcept { return reduction_; }

  T forward(const Matrix<T>& prediction, const Matrix<T>& target) override {
    detail::check_matrix_target("MSELoss::forward", prediction, target);
    difference_.noalias() = prediction - target;
    const T total = difference_.squaredNorm();
    return reduction_ == Reduction::mean ? total / static_cast<T>(difference_.size()) : total;
  }

  [[nodiscard]] Matrix<T> backward() const override {
    if (difference_.size() == 0) detail::fail("MSELoss::backward", "called before forward");
    const T scale = reduction_ == Reduction::mean ? T(2) / static_cast<T>(difference_.size()) : T(2);
    return scale * difference_;
  }

 private:
  Reduction reduction_;
  Matrix<T> difference_;  // ŷ − y
};

// ---------------------------------------------------------------------------------------------------
// CrossEntropyLoss
// ---------------------------------------------------------------------------------------------------

struct CrossEntropyOptions {
  Reduction reduction = Reduction::mean;
  /// ε ∈ [0, 1]: the target becomes (1 − ε)·q + ε/K, as PyTorch's label_smoothing.
  double label_smoothing = 0.0;
};

/// Cross-entropy from logits Z (n × K), through the fused log-softmax log pᵢₖ = zᵢₖ − log Σⱼ e^{zᵢⱼ}
/// (never log(softmax), which underflows):
///   lᵢ = −Σₖ qᵢₖ log pᵢₖ,   L = (1/n) Σᵢ lᵢ (mean) or Σᵢ lᵢ (sum)
/// with q the one-hot labels or the given probability targets, smoothed as q ← (1 − ε) q + ε/K.
/// Gradient: ∂lᵢ/∂zᵢⱼ = pᵢⱼ (Σₖ qᵢₖ) − qᵢⱼ, which is softmax − one-hot for a one-hot (or any normalised) q;
/// divided by n for the mean.
template <Scalar T>
class CrossEntropyLoss : public Loss<T> {
 public:
  explicit CrossEntropyLoss(CrossEntropyOptions options = {}) : options_(options) {
    require(options.label_smoothing >= 0.0 && options.label_smoothing <= 1.0, "CrossEntropyLoss",
            [&] { return "label_smoothing must be in [0, 1], got " + std::to_string(options.label_smoothing); });
  }
  using Loss<T>::forward;

  [[nodiscard]] std::string name() const override { return "CrossEntropyLoss"; }
  [[nodiscard]] const CrossEntropyOptions& options() const noexcept { return options_; }
  [[nodiscard]] bool takes_labels() const noexcept override { return true; }

  /// Integer labels: lᵢ = −(1 − ε) log pᵢ,yᵢ − (ε/K) Σₖ log pᵢₖ.
  T forward(const Matrix<T>& logits, const IndexVector& labels) override {
    const Index classes = logits.cols();
    detail::check_labels("CrossEntropyLoss::forward", logits, labels, classes);
    compute_log_probabilities(logits);
    labels_ = labels;
    uses_labels_ = true;
    const T eps = static_cast<T>(options_.label_smoothing);
    T total = T(0);
    for (Index i = 0; i < labels.size(); ++i) total -= (T(1) - eps) * log_probabilities_(i, labels(i));
    if (eps > T(0)) total -= eps / static_cast<T>(classes) * log_probabilities_.sum();
    return reduce(total);
  }

  /// Probability targets Q (n × K): lᵢ = −Σₖ qᵢₖ log pᵢₖ with q smoothed.
  T forward(const Matrix<T>& logits, const Matrix<T>& target) override {
    detail::check_matrix_target("CrossEntropyLoss::forward", logits, target);
    compute_log_probabilities(logits);
    const T eps = static_cast<T>(options_.label_smoothing);
    targets_ = (T(1) - eps) * target.array() + eps / static_cast<T>(logits.cols());
    uses_labels_ = false;
    return reduce(-(targets_.array() * log_probabilities_.array()).sum());
  }

  [[nodiscard]] Matrix<T> backward() const override {
    if (log_probabilities_.size() == 0) detail::fail("CrossEntropyLoss::backward", "called before forward");
    const Index n = log_probabilities_.rows();
    const T scale = options_.reduction == Reduction::mean ? T(1) / static_cast<T>(n) : T(1);
    Matrix<T> grad(n, log_probabilities_.cols());
    if (uses_labels_) {
      // p − q with q = (1 − ε) onehot + ε/K (rows of q sum to 1)
      const T eps = static_cast<T>(options_.label_smoothing);
      grad.array() = log_probabilities_.array().exp() - eps / static_cast<T>(grad.cols());
      for (Index i = 0; i < n; ++i) grad(i, labels_(i)) -= T(1) - eps;
    } else {
      // p (Σₖ qₖ) − q, row by row
      const Vector<T> mass = targets_.rowwise().sum();
      grad.array() = log_probabilities_.array().exp().colwise() * mass.array() - targets_.array();
    }
    if (scale != T(1)) grad *= scale;
    return grad;
  }

  [[nodiscard]] Matrix<T> probabilities(const Matrix<T>& logits) const override { return softmax(logits); }

 private:
  void compute_log_probabilities(const Matrix<T>& logits) {
    log_probabilities_.resize(logits.rows(), logits.cols());
    for (Index i = 0; i < logits.rows(); ++i) {
      const T m = logits.row(i).maxCoeff();
      const T lse = m + std::log((logits.row(i).array() - m).exp().sum());
      log_probabilities_.row(i).array() = logits.row(i).array() - lse;
    }
  }
  T reduce(T total) const {
    return options_.reduction == Reduction::mean ? total / static_cast<T>(log_probabilities_.rows()) : total;
  }

  CrossEntropyOptions options_;
  Matrix<T> log_probabilities_;  // log softmax of the last logits
  Matrix<T> targets_;            // smoothed probability targets (matrix form)
  IndexVector labels_;           // labels (label form)
  bool uses_labels_ = true;
};

// ---------------------------------------------------------------------------------------------------
// BinaryCrossEntropyLoss
// ---------------------------------------------------------------------------------------------------

struct BinaryCrossEntropyOptions {
  /// true: predictions are logits z (stable, fused with the sigmoid); false: probabilities p ∈ [0, 1].
  bool from_logits = true;
  Reduction reduction = Reduction::mean;
};

/// Element-wise binary cross-entropy l = −[y log p + (1 − y) log(1 − p)], mean over all elements or sum.
///   from logits:        l = max(z, 0) − z y + log(1 + e^{−|z|})  (no overflow for any z),
///                       ∂l/∂z = σ(z) − y
///   from probabilities: each log clamped to ≥ −100 (as PyTorch's BCELoss), so p = 0 or 1 stays finite,
///                       ∂l/∂p = (p − y) / max(p (1 − p), 10⁻¹²)
/// Targets y ∈ [0, 1]; class labels (0 or 1) are accepted for a single-column prediction.
template <Scalar T>
class BinaryCrossEntropyLoss : public Loss<T> {
 public:
  explicit BinaryCrossEntropyLoss(BinaryCrossEntropyOptions options = {}) : options_(options) {}
  using Loss<T>::forward;

  [[nodiscard]] std::string name() const override { return "BinaryCrossEntropyLoss"; }
  [[nodiscard]] const BinaryCrossEntropyOptions& options() const noexcept { return options_; }
  [[nodiscard]] bool takes_labels() const noexcept override { return true; }

  T forward(const Matrix<T>& prediction, const Matrix<T>& target) override {
    constexpr std::string_view where = "BinaryCrossEntropyLoss::forward";
    detail::check_matrix_target(where, prediction, target);
    if (!((target.array() >= T(0)).all() && (target.array() <= T(1)).all()))
      detail::fail(where, "target must lie in [0, 1]");
    target_ = target;
    return forward_checked(prediction);
  }

  /// Labels 0 or 1, one per row of a single-column prediction (n × 1).
  T forward(const Matrix<T>& prediction, const IndexVector& labels) override {
    constexpr std::string_view where = "BinaryCrossEntropyLoss::forward";
    if (prediction.cols() != 1)
      detail::fail(where, "class labels need a single-column prediction (n x 1), got " + shape_of(prediction));
    detail::check_labels(where, prediction, labels, 2);
    target_ = labels.cast<T>();
    return forward_checked(prediction);
  }

  [[nodiscard]] Matrix<T> backward() const override {
    if (prediction_.size() == 0) detail::fail("BinaryCrossEntropyLoss::backward", "called before forward");
    const T scale = options_.reduction == Reduction::mean ? T(1) / static_cast<T>(prediction_.size()) : T(1);
    const auto y = target_.array();
    Matrix<T> grad(prediction_.rows(), prediction_.cols());
    if (options_.from_logits) {
      grad = sigmoid(prediction_);
      grad.array() = scale * (grad.array() - y);
    } else {
      const auto p = prediction_.array();
      grad.array() = scale * (p - y) / (p * (T(1) - p)).max(T(1e-12));
    }
    return grad;
  }

  [[nodiscard]] Matrix<T> probabilities(const Matrix<T>& output) const override {
    return options_.from_logits ? sigmoid(output) : output;
  }

 private:
  T forward_checked(const Matrix<T>& prediction) {
    const auto y = target_.array();
    const auto x = prediction.array();
    T total;
    if (options_.from_logits) {
      total = (x.max(T(0)) - x * y + (-x.abs()).exp().log1p()).sum();
    } else {
      if (!((x >= T(0)).all() && (x <= T(1)).all()))
        detail::fail("BinaryCrossEntropyLoss::forward",
                     "probabilities must lie in [0, 1] (use from_logits for logits)");
      const T floor = T(-100);
      total = -(y * x.log().max(floor) + (T(1) - y) * (T(1) - x).log().max(floor)).sum();
    }
    prediction_ = prediction;
    return options_.reduction == Reduction::mean ? total / static_cast<T>(prediction.size()) : total;
  }

  BinaryCrossEntropyOptions options_;
  Matrix<T> prediction_;  // z or p of the last forward
  Matrix<T> target_;
};

}  // namespace aimastery
