#pragma once
/// \file
/// QLoRA (Dettmers et al., 2023): a Dense layer whose frozen weight is stored in NF4 (nf4.hpp, 4.127 bits a
/// parameter with double quantisation at block 64) with a LoRA update in float on top:
///
///     Y = X Ŵᵀ + b + s · D(X) Aᵀ Bᵀ        Ŵ = dequantize_nf4(quantize_nf4(W)),  b frozen
///
/// Ŵ never exists as a whole float matrix: the products run over panels of P output rows (P·in ≈ 16K
/// floats, 64 KB, so a panel stays in L2), each dequantised just before its product and then discarded:
///
///     Y[:, o:o+P] = X Ŵ[o:o+P, :]ᵀ           ∂L/∂X = Σ_panels dY[:, o:o+P] Ŵ[o:o+P, :]
///
/// Only A and B learn; the packed codes and block scales are never written after construction, so the
/// base stays bit-identical through training.
///
///   NeuralNetwork<float> net = ...;
///   apply_qlora(net, {.target_modules = {"all-linear"}, .options = {.r = 64, .alpha = 16}});

#include <algorithm>
#include <concepts>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/linalg/matmul.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/fine_tuning/apply_lora.hpp"
#include "aimastery/llm/fine_tuning/lora_layer.hpp"
#include "aimastery/llm/fine_tuning/nf4.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/detail/layer_checks.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

/// NF4 with double quantisation at block 64, QLoRA's storage.
inline constexpr NF4Options qlora_nf4_options{.blocksize = 64, .double_quant = true};

/// (A class template only so that it is compiled where it is used; NF4Linear names it.)
template <class Unused = void>
class BasicNF4Linear : public Layer<float>, public LoRAAdapted<float> {
 public:
  /// Quantises `base`'s weight to NF4 (keeping its bias in float) and puts a LoRA update on top.
  explicit BasicNF4Linear(const Dense<float>& base, const LoRAOptions& lora = {},
                          const NF4Options& nf4 = qlora_nf4_options)
      : BasicNF4Linear(base, LoRALayer<float>(base.in_features(), base.out_features(), lora), nf4) {}
  /// With an update built beforehand for base's shape.
  BasicNF4Linear(const Dense<float>& base, LoRALayer<float> lora, const NF4Options& nf4 = qlora_nf4_options)
      : lora_(std::move(lora)), weight_(quantize_nf4(base.weight().value, nf4)), has_bias_(base.has_bias()) {
    require(lora_.in_features() == base.in_features() && lora_.out_features() == base.out_features(), "NF4Linear",
            [&] { return lora_.name() + " does not fit " + base.name(); });
    if (has_bias_) bias_ = Parameter<float>(base.bias().value);
    panel_rows_ = std::clamp<Index>(16384 / in_features(), 1, out_features());
  }

  [[nodiscard]] std::string name() const override {
    return "NF4Linear(" + std::to_string(in_features()) + " -> " + std::to_string(out_features()) +
           ", r=" + std::to_string(lora_.rank()) + ")";
  }

  /// Y = X Ŵᵀ + b + s · D(X) Aᵀ Bᵀ, Ŵ dequantised one panel of rows at a time.
  Matrix<float> forward(const Matrix<float>& X) override {
    detail::check_layer_input("NF4Linear::forward", *this, X, in_features());
    Matrix<float> Y(X.rows(), out_features());
    Matrix<float> part;
    for (Index o = 0; o < out_features(); o += panel_rows_) {
      const Index rows = std::min(panel_rows_, out_features() - o);
      dequantize_panel(o, rows);
      matrix_multiply_to(X, panel_.topRows(rows).transpose(), part);
      Y.middleCols(o, rows) = part;
    }
    if (has_bias_) Y.rowwise() += bias_.value.row(0);
    lora_.train(this->training());
    Y += lora_.forward(X);
    return Y;
  }

  /// Accumulates ∂L/∂A, ∂L/∂B; returns ∂L/∂X = Σ_panels dY[:, o:o+P] Ŵ[o:o+P, :] + the LoRA path's.
  Matrix<float> backward(const Matrix<float>& grad_output) override {
    Matrix<float> grad_input = lora_.backward(grad_output);  // checks grad_output's shape first
    for (Index o = 0; o < out_features(); o += panel_rows_) {
      const Index rows = std::min(panel_rows_, out_features() - o);
      dequantize_panel(o, rows);
      matrix_multiply_add(grad_output.middleCols(o, rows), panel_.topRows(rows), grad_input);
    }
    return grad_input;
  }
  void backward_parameters_only(const Matrix<float>& grad_output) override {
    lora_.backward_parameters_only(grad_output);
  }

  /// The frozen bias ("base_layer.bias") and A, B; the NF4 weight is not a float parameter (see weight()).
  ParameterList<float> parameters() override {
    ParameterList<float> list;
    if (has_bias_) list.push_back({"base_layer.bias", &bias_, false});
    for (auto& p : lora_.parameters()) list.push_back(p);
    return list;
  }

  [[nodiscard]] Index output_features(Index input_features) const override {
    detail::check_feature_count("NF4Linear::output_features", *this, input_features, in_features());
    return out_features();
  }

  [[nodiscard]] Index in_features() const noexcept { return lora_.in_features(); }
  [[nodiscard]] Index out_features() const noexcept { return lora_.out_features(); }
  /// The frozen NF4 weight (its bits_per_parameter() is the weight's memory).
  [[nodiscard]] const NF4Tensor& weight() const noexcept { return weight_; }
  [[nodiscard]] LoRALayer<float>& lora() noexcept override { return lora_; }
  [[nodiscard]] const LoRALayer<float>& lora() const noexcept override { return lora_; }
  /// An NF4 weight cannot hold ΔW exactly, so the update is never merged into it.
  [[nodiscard]] bool merged() const noexcept override { return false; }

 private:
  // panel_ rows [0, rows) ← Ŵ rows [o, o + rows).
  void dequantize_panel(Index o, Index rows) {
    if (panel_.rows() != panel_rows_ || panel_.cols() != in_features()) panel_.resize(panel_rows_, in_features());
    dequantize_nf4_range(weight_, o * in_features(), rows * in_features(), panel_.data());
  }

  LoRALayer<float> lora_;
  NF4Tensor weight_;
  bool has_bias_;
  Parameter<float> bias_;
  Index panel_rows_ = 1;
  Matrix<float> panel_;  // one panel of dequantised rows, reused
};

using NF4Linear = BasicNF4Linear<>;

/// apply_lora with the selected Dense layers' weights stored in NF4 (NF4Linear): QLoRA. The same
/// targets, checks, seeds and report as apply_lora; a throw leaves the network unchanged. (A template
/// only so that it is compiled where it is called.)
template <std::same_as<float> T>
LoRAReport apply_qlora(NeuralNetwork<T>& net, const LoRAConfig& config, const NF4Options& nf4 = qlora_nf4_options) {
  constexpr std::string_view where = "apply_qlora";
  const std::vector<std::size_t> targets = lora_targets(net, config.target_modules, where);
  std::vector<std::unique_ptr<Layer<float>>> wrappers;
  wrappers.reserve(targets.size());
  for (std::size_t k = 0; k < targets.size(); ++k) {
    const auto& dense = static_cast<const Dense<float>&>(net.layer(targets[k]));
    LoRAOptions options = config.options;
    options.seed += k;
    try {
      wrappers.push_back(std::make_unique<NF4Linear>(dense, options, nf4));
    } catch (const InvalidArgument& e) {
      detail::fail(where, "layer " + std::to_string(targets[k]) + " " + dense.name() + ": " + e.what());
    }
  }
  std::vector<std::string> wrapped;
  for (std::size_t k = 0; k < targets.size(); ++k) wrapped.push_back(std::to_string(targets[k]));
  for (std::size_t k = 0; k < targets.size(); ++k) (void)net.replace(targets[k], std::move(wrappers[k]));
  LoRAReport report = detail::lora_report(net, std::move(wrapped));
  // The NF4 weights are not float parameters of the list, but they are the model's parameters.
  for (std::size_t i = 0; i < net.size(); ++i)
    if (const auto* q = dynamic_cast<const NF4Linear*>(&net.layer(i))) report.total_parameters += q->weight().size();
  return report;
}

}  // namespace aimastery
