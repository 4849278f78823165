#pragma once
/// \file
/// LinearWithLoRA: a Dense layer with a LoRA update (PEFT's lora.Linear). The base weight W and bias b
/// are frozen (listed with trainable = false, so the optimisers skip them); only A and B learn:
///
///     Y = X Wᵀ + b + s · D(X) Aᵀ Bᵀ            (lora_layer.hpp)
///
///   LinearWithLoRA<float> layer(Dense<float>(768, 768), {.r = 8, .alpha = 16});
///   layer.merge();     // W ← W + s·B A: inference at the base layer's cost, same outputs
///   layer.unmerge();   // W ← W − s·B A: back to the frozen W (to rounding, ~1e-16 relative in double)
///
/// Backward: ∂L/∂X = dY W + (the LoRA path's ∂L/∂X); the frozen W and b get no gradient, which saves
/// the out × in product dYᵀ X of a full fine-tune.
///
/// Parameter names follow a PEFT model's state_dict: "base_layer.weight", "base_layer.bias",
/// "lora_A.weight", "lora_B.weight".

#include <string>
#include <utility>

#include "aimastery/core/linalg/matmul.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/fine_tuning/lora_layer.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/detail/layer_checks.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

template <Scalar T>
class LinearWithLoRA : public Layer<T>, public LoRAAdapted<T> {
 public:
  /// Wraps `base` (taken over) with a LoRA update of the given options; InvalidArgument for a rank
  /// outside [1, min(in, out)], α ≤ 0 or a dropout outside [0, 1).
  explicit LinearWithLoRA(Dense<T> base, const LoRAOptions& options = {})
      : lora_(base.in_features(), base.out_features(), options), base_(std::move(base)) {
    weight_shape_ = " (weight is " + shape_of(base_.weight().value) + ")";
  }
  /// Wraps `base` with an update built beforehand for its shape; InvalidArgument naming both shapes
  /// when they differ.
  LinearWithLoRA(Dense<T> base, LoRALayer<T> lora) : lora_(std::move(lora)), base_(std::move(base)) {
    require(lora_.in_features() == base_.in_features() && lora_.out_features() == base_.out_features(),
            "LinearWithLoRA", [&] { return lora_.name() + " does not fit " + base_.name(); });
    weight_shape_ = " (weight is " + shape_of(base_.weight().value) + ")";
  }

  [[nodiscard]] std::string name() const override {
    return "LinearWithLoRA(" + std::to_string(in_features()) + " -> " + std::to_string(out_features()) +
           ", r=" + std::to_string(lora_.rank()) + (merged_ ? ", merged)" : ")");
  }

  /// Y = X Wᵀ + b + s · D(X) Aᵀ Bᵀ (merged: Y = X Wᵀ + b, W holding ΔW).
  Matrix<T> forward(const Matrix<T>& X) override {
    detail::check_layer_input("LinearWithLoRA::forward", *this, X, in_features(), weight_shape_);
    Matrix<T> Y(X.rows(), out_features());
    matrix_multiply_to(X, base_.weight().value.transpose(), Y);
    if (base_.has_bias()) Y.rowwise() += base_.bias().value.row(0);
    forward_done_ = !merged_;
    if (merged_) return Y;
    lora_.train(this->training());
    Y += lora_.forward(X);
    return Y;
  }

  /// Accumulates ∂L/∂A and ∂L/∂B; returns ∂L/∂X = dY W + the LoRA path's. Not while merged (the
  /// update is inside W then: unmerge before training).
  Matrix<T> backward(const Matrix<T>& grad_output) override {
    check_backward();
    Matrix<T> grad_input = lora_.backward(grad_output);  // checks grad_output's shape first
    matrix_multiply_add(grad_output, base_.weight().value, grad_input);
    return grad_input;
  }
  void backward_parameters_only(const Matrix<T>& grad_output) override {
    check_backward();
    lora_.backward_parameters_only(grad_output);
  }

  ParameterList<T> parameters() override {
    ParameterList<T> list{{"base_layer.weight", &base_.weight(), false}};
    if (base_.has_bias()) list.push_back({"base_layer.bias", &base_.bias(), false});
    for (auto& p : lora_.parameters()) list.push_back(p);
    return list;
  }

  [[nodiscard]] Index output_features(Index input_features) const override {
    detail::check_feature_count("LinearWithLoRA::output_features", *this, input_features, in_features());
    return out_features();
  }

  /// Folds the update into the base weight: W ← W + s·B A. InvalidArgument when already merged.
  void merge() {
    require(!merged_, "LinearWithLoRA::merge", "the layer is already merged (unmerge first)");
    base_.weight().value += lora_.delta_weight();
    merged_ = true;
  }
  /// Takes the update back out: W ← W − s·B A. InvalidArgument when not merged.
  void unmerge() {
    require(merged_, "LinearWithLoRA::unmerge", "the layer is not merged");
    base_.weight().value -= lora_.delta_weight();
    merged_ = false;
  }
  [[nodiscard]] bool merged() const noexcept override { return merged_; }

  /// The base layer with the update folded in (PEFT's merge_and_unload), leaving this layer empty.
  [[nodiscard]] Dense<T> merge_and_unload() && {
    if (!merged_) merge();
    merged_ = false;
    return std::move(base_);
  }

  [[nodiscard]] Index in_features() const noexcept { return lora_.in_features(); }
  [[nodiscard]] Index out_features() const noexcept { return lora_.out_features(); }
  [[nodiscard]] LoRALayer<T>& lora() noexcept override { return lora_; }
  [[nodiscard]] const LoRALayer<T>& lora() const noexcept override { return lora_; }
  [[nodiscard]] Dense<T>& base() noexcept { return base_; }
  [[nodiscard]] const Dense<T>& base() const noexcept { return base_; }

 private:
  // grad_output's shape is checked by the LoRA layer against the last forward.
  void check_backward() const {
    require(!merged_, "LinearWithLoRA::backward", "the layer is merged (unmerge before training)");
    require(forward_done_, "LinearWithLoRA::backward", "called before forward (or after a forward while merged)");
  }

  LoRALayer<T> lora_;  // built first: it validates the options against the base's shape
  Dense<T> base_;
  bool merged_ = false;
  bool forward_done_ = false;
  std::string weight_shape_;
};

}  // namespace aimastery
