#pragma once
/// \file
/// Inverted dropout: in training each unit is kept with probability 1 − p and scaled by 1/(1 − p), so
/// the expected activation is unchanged and evaluation is the identity (nothing to rescale at inference).
///
///   training:   Y = X ⊙ M,  Mᵢⱼ = [uᵢⱼ ≥ p] / (1 − p),  uᵢⱼ ~ U(0, 1) from the layer's seeded generator
///               (the library's one engine, core/probability/sampling.hpp: the same masks everywhere)
///   evaluation: Y = X
///   backward:   dX = dY ⊙ M  (the mask of the last forward), dX = dY in evaluation

#include <cmath>
#include <cstdint>
#include <string>

#include "aimastery/core/number_text.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/detail/layer_checks.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

template <Scalar T>
class Dropout : public Layer<T> {
 public:
  /// `rate` p ∈ [0, 1) is the probability of dropping a unit.
  explicit Dropout(double rate, std::uint64_t seed = 0) : rate_(rate), rng_(seed) {
    if (!(std::isfinite(rate) && rate >= 0.0 && rate < 1.0)) {
      throw InvalidArgument("Dropout: rate must be in [0, 1), got " + detail::number_text(rate));
    }
  }

  [[nodiscard]] std::string name() const override { return "Dropout(rate=" + detail::number_text(rate_) + ")"; }
  [[nodiscard]] double rate() const noexcept { return rate_; }
  /// Restarts the mask generator (two layers with the same seed draw the same masks).
  void reseed(std::uint64_t seed) { rng_.seed(seed); }
  /// The mask of the last training forward (0 or 1/(1 − p) per entry); empty before one.
  [[nodiscard]] const Matrix<T>& mask() const noexcept { return mask_; }

  Matrix<T> forward(const Matrix<T>& X) override {
    detail::check_layer_input("Dropout::forward", *this, X, -1);
    masked_ = this->training() && rate_ > 0.0;
    rows_ = X.rows();
    cols_ = X.cols();
    if (!masked_) return X;
    const T scale = static_cast<T>(1.0 / (1.0 - rate_));
    mask_.resize(X.rows(), X.cols());
    T* m = mask_.data();
    for (Index i = 0; i < mask_.size(); ++i) m[i] = detail::uniform_open01(rng_) >= rate_ ? scale : T(0);
    return (X.array() * mask_.array()).matrix();
  }

  Matrix<T> backward(const Matrix<T>& grad_output) override {
    detail::check_grad_output("Dropout::backward", *this, grad_output, rows_ >= 0, rows_, cols_);
    if (!masked_) return grad_output;
    return (grad_output.array() * mask_.array()).matrix();
  }

  /// Dropout keeps the number of features.
  [[nodiscard]] Index output_features(Index input_features) const override {
    detail::check_feature_count("Dropout::output_features", *this, input_features, -1);
    return input_features;
  }

 private:
  double rate_;
  RandomEngine rng_;
  Matrix<T> mask_;
  bool masked_ = false;  // whether the last forward applied a mask
  Index rows_ = -1;
  Index cols_ = 0;
};

}  // namespace aimastery
