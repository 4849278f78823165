#pragma once
/// \file
/// LoRALayer: the low-rank update of LoRA (Hu et al., 2021) as PEFT computes it. For a frozen weight
/// W (out × in), the adapted layer is W + ΔW with
///
///     ΔW = s · B A,    A (r × in),  B (out × r),  s = α / r   (rsLoRA: s = α / √r)
///
/// and only A and B are trained: r·(in + out) numbers instead of in·out. This layer computes the update's
/// contribution to a batch X (n × in), with dropout D on the LoRA input only (as PEFT's lora_dropout):
///
///     ΔY = s · D(X) Aᵀ Bᵀ                                     (n × out)
///
/// Initialisation as PEFT: A Kaiming-uniform with a = √5, i.e. U(−1/√in, 1/√in) (gain √(2/(1 + a²)) =
/// 1/√3 times √(3/in)), and B = 0, so ΔW = 0 and the wrapped layer starts exactly equal to its base.
///
/// Backward, with H = D(X) Aᵀ (n × r) and the upstream dΔY:
///     ∂L/∂B = s · dΔYᵀ H             ∂L/∂H = s · dΔY B
///     ∂L/∂A = (∂L/∂H)ᵀ D(X)          ∂L/∂X = D'(∂L/∂H · A)    (D' applies dropout's mask again)
///
/// Parameter names are PEFT's ("lora_A.weight", "lora_B.weight"), so a wrapped layer's list reads like
/// a PEFT model's state_dict.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "aimastery/core/linalg/matmul.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/detail/layer_checks.hpp"
#include "aimastery/ml/deep_learning/dropout.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

/// The hyper-parameters of one LoRA update (PEFT's LoraConfig: r, lora_alpha, lora_dropout, use_rslora).
struct LoRAOptions {
  Index r = 8;              ///< rank, 1 ≤ r ≤ min(in, out)
  double alpha = 8.0;       ///< α > 0; the scale is α/r (or α/√r with use_rslora)
  double dropout = 0.0;     ///< dropout probability on the LoRA input, in [0, 1)
  bool use_rslora = false;  ///< rank-stabilised scale α/√r (Kalajdzievski, 2023)
  std::uint64_t seed = 0;   ///< seed of A's initial values and of the dropout masks
};

namespace detail {

/// Checks PEFT's lora_dropout, the probability of dropping a unit of the LoRA input: [0, 1).
inline void check_lora_dropout(std::string_view where, double dropout) {
  require(std::isfinite(dropout) && dropout >= 0.0 && dropout < 1.0, where,
          [&] { return "lora_dropout must be in [0, 1), got " + std::to_string(dropout); });
}

/// Checks LoRA options against a base layer of `in` inputs and `out` outputs; the message names the
/// function, the option and the layer's shape.
inline void check_lora_options(std::string_view where, Index in, Index out, const LoRAOptions& options) {
  const Index largest = std::min(in, out);
  require(options.r >= 1 && options.r <= largest, where, [&] {
    return "rank r must be in [1, min(in, out)] = [1, " + std::to_string(largest) + "] for a " + std::to_string(in) +
           " -> " + std::to_string(out) + " layer, got " + std::to_string(options.r);
  });
  require(std::isfinite(options.alpha) && options.alpha > 0.0, where,
          [&] { return "alpha must be finite and > 0, got " + std::to_string(options.alpha); });
  check_lora_dropout(where, options.dropout);
}

/// s = α/r, or α/√r with rsLoRA.
inline double lora_scale(const LoRAOptions& options) {
  const double r = static_cast<double>(options.r);
  return options.alpha / (options.use_rslora ? std::sqrt(r) : r);
}

}  // namespace detail

template <Scalar T>
class LoRALayer : public Layer<T> {
 public:
  /// The update for a base layer of `in_features` inputs and `out_features` outputs.
  LoRALayer(Index in_features, Index out_features, const LoRAOptions& options = {})
      : in_(in_features), out_(out_features), options_(options), dropout_(checked(in_features, out_features, options)) {
    scale_ = static_cast<T>(detail::lora_scale(options));
    // Kaiming-uniform with a = √5: bound = √(2/(1 + 5)) · √(3/in) = 1/√in.
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    RandomEngine rng(options.seed);
    Matrix<T> A(options.r, in_features);
    for (Index i = 0; i < A.size(); ++i)
      A.data()[i] = static_cast<T>(bound * (2.0 * detail::uniform_open01(rng) - 1.0));
    A_ = Parameter<T>(std::move(A));
    B_ = Parameter<T>(Matrix<T>::Zero(out_features, options.r));
    dropout_.reseed(options.seed ^ 0x9e3779b97f4a7c15ull);
  }

  [[nodiscard]] std::string name() const override {
    return "LoRA(" + std::to_string(in_) + " -> " + std::to_string(out_) + ", r=" + std::to_string(options_.r) + ")";
  }

  /// ΔY = s · D(X) Aᵀ Bᵀ.
  Matrix<T> forward(const Matrix<T>& X) override {
    detail::check_layer_input("LoRALayer::forward", *this, X, in_);
    dropout_.train(this->training());
    input_ = options_.dropout > 0.0 ? dropout_.forward(X) : X;
    matrix_multiply_to(input_, A_.value.transpose(), hidden_);
    Matrix<T> Y(X.rows(), out_);
    matrix_multiply_to(hidden_, B_.value.transpose(), Y);
    Y *= scale_;
    return Y;
  }

  /// dB += s dΔYᵀ H, dA += (s dΔY B)ᵀ D(X); returns D'(s dΔY B A).
  Matrix<T> backward(const Matrix<T>& grad_output) override {
    const Matrix<T> grad_hidden = accumulate(grad_output, "LoRALayer::backward");
    Matrix<T> grad_input(grad_output.rows(), in_);
    matrix_multiply_to(grad_hidden, A_.value, grad_input);
    return options_.dropout > 0.0 ? dropout_.backward(grad_input) : grad_input;
  }
  void backward_parameters_only(const Matrix<T>& grad_output) override {
    (void)accumulate(grad_output, "LoRALayer::backward");
  }

  ParameterList<T> parameters() override { return {{"lora_A.weight", &A_, true}, {"lora_B.weight", &B_, true}}; }

  [[nodiscard]] Index output_features(Index input_features) const override {
    detail::check_feature_count("LoRALayer::output_features", *this, input_features, in_);
    return out_;
  }

  /// ΔW = s · B A (out × in), what merge adds to the base weight.
  [[nodiscard]] Matrix<T> delta_weight() const {
    Matrix<T> delta = matrix_multiply(B_.value, A_.value);
    delta *= scale_;
    return delta;
  }

  [[nodiscard]] Index in_features() const noexcept { return in_; }
  [[nodiscard]] Index out_features() const noexcept { return out_; }
  [[nodiscard]] Index rank() const noexcept { return options_.r; }
  [[nodiscard]] T scale() const noexcept { return scale_; }
  [[nodiscard]] const LoRAOptions& options() const noexcept { return options_; }
  /// Restarts the dropout mask generator (a gradient check keeps the mask fixed this way).
  void reseed(std::uint64_t seed) { dropout_.reseed(seed); }
  /// The dropout mask D of the last training forward (n × in, each entry 0 or 1/(1 − p)), which its
  /// backward applies again; empty before one, and never drawn with dropout 0.
  [[nodiscard]] const Matrix<T>& dropout_mask() const noexcept { return dropout_.mask(); }
  /// A (r × in) and B (out × r), with their gradients.
  Parameter<T>& A() noexcept { return A_; }
  Parameter<T>& B() noexcept { return B_; }
  const Parameter<T>& A() const noexcept { return A_; }
  const Parameter<T>& B() const noexcept { return B_; }

 private:
  // Validates before any member is built; returns the dropout rate for the member Dropout.
  static double checked(Index in, Index out, const LoRAOptions& options) {
    require(in > 0 && out > 0, "LoRALayer", [&] {
      return "in_features and out_features must be positive, got " + std::to_string(in) + " and " + std::to_string(out);
    });
    detail::check_lora_options("LoRALayer", in, out, options);
    return options.dropout;
  }

  // The parameter gradients of a backward; returns ∂L/∂H = s · dΔY B.
  Matrix<T> accumulate(const Matrix<T>& grad_output, std::string_view where) {
    detail::check_grad_output(where, *this, grad_output, hidden_.size() > 0, hidden_.rows(), out_);
    Matrix<T> scaled = grad_output * scale_;
    matrix_multiply_add(scaled.transpose(), hidden_, B_.grad);
    Matrix<T> grad_hidden(grad_output.rows(), options_.r);
    matrix_multiply_to(scaled, B_.value, grad_hidden);
    matrix_multiply_add(grad_hidden.transpose(), input_, A_.grad);
    return grad_hidden;
  }

  Index in_;
  Index out_;
  LoRAOptions options_;
  Dropout<T> dropout_;
  T scale_ = T(1);
  Parameter<T> A_;
  Parameter<T> B_;
  Matrix<T> input_;   // D(X) of the last forward
  Matrix<T> hidden_;  // H = D(X) Aᵀ of the last forward
};

/// A layer made of a frozen base and a LoRA update on top (LinearWithLoRA, NF4Linear): the view that
/// apply_lora's report and the PEFT adapter reader and writer take of it.
template <Scalar T>
class LoRAAdapted {
 public:
  virtual ~LoRAAdapted() = default;
  [[nodiscard]] virtual LoRALayer<T>& lora() noexcept = 0;
  [[nodiscard]] virtual const LoRALayer<T>& lora() const noexcept = 0;
  /// Whether the update is folded into the base weight (then A and B must not change).
  [[nodiscard]] virtual bool merged() const noexcept = 0;
};

}  // namespace aimastery
