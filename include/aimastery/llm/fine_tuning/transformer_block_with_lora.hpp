#pragma once
/// \file
/// TransformerBlockWithLoRA: LoRA on the projections of a TransformerBlock — the query, key and value
/// slices of the self-attention's stacked in_proj_weight (3E × E, PyTorch's layout), its out_proj, and
/// the feed-forward network's linear1 and linear2. The block is frozen; only the updates learn.
///
///   TransformerBlockWithLoRA<float> block(TransformerBlock<float>(384, 12), {.target_modules = {"query", "value"},
///                                                                           .options = {.r = 8, .alpha = 16}});
///
/// Two paths compute the same update. Folded (lora_dropout = 0, or evaluation): a reparametrisation of
/// the frozen weight (as torch.nn.utils.parametrize does); the block computes with
///
///     W_eff = W₀ + s · B A          (for a target's rows of its weight; W₀ is kept aside, exactly)
///
/// rebuilt from W₀ before every forward, so A and B may change between steps. With G = ∂L/∂W_eff, which
/// the block's own backward accumulates in the weight's gradient,
///
///     ∂L/∂B = s · G Aᵀ          ∂L/∂A = s · Bᵀ G
///
/// This is exactly the LoRA forward and gradient of LinearWithLoRA for the same A and B, at the cost of
/// a product B A and two r-sized products per target on top of the block.
///
/// Unfolded (lora_dropout p > 0 in training, PEFT's semantics): dropout acts on the LoRA input only,
///
///     y = W₀ x + b + s · B A · D(x)          D(x) = x ⊙ M,  M_ij = [u_ij ≥ p] / (1 − p)
///
/// which no weight can fold. The block then computes with W₀ and each target's LoRALayer runs beside its
/// projection (the side paths of MultiHeadAttention and FeedForwardNetwork): the LoRALayer draws M from
/// its own seeded generator (the library's engine, as LinearWithLoRA's), keeps it for backward
/// (LoRALayer::dropout_mask) and accumulates ∂L/∂B = s · dYᵀ (D(x) Aᵀ) and ∂L/∂A = s · (dY B)ᵀ D(x).
/// Evaluation (eval()) draws no mask and takes the folded path again.
///
/// release_base() hands the block back with W₀ in its weights, bit for bit.
///
/// Parameter names: the block's (all frozen) and "<target>.lora_A.weight", "<target>.lora_B.weight",
/// with targets named "self_attn.query", "self_attn.key", "self_attn.value", "self_attn.out_proj",
/// "linear1", "linear2".

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/linalg/matmul.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/attention/packed_sequences.hpp"
#include "aimastery/llm/attention/transformer_block.hpp"
#include "aimastery/llm/fine_tuning/apply_lora.hpp"
#include "aimastery/llm/fine_tuning/lora_layer.hpp"

namespace aimastery {

template <Scalar T>
class TransformerBlockWithLoRA {
 public:
  /// Takes over `block` and puts LoRA updates on the projections that config.target_modules names (PEFT's
  /// rule: equal, or a dotted suffix: "query", "self_attn.value", "out_proj", "linear1"; "all-linear" for
  /// all six). InvalidArgument for a target that matches nothing (listing the projections), a rank outside
  /// [1, min(in, out)], α ≤ 0 or a lora_dropout outside [0, 1).
  TransformerBlockWithLoRA(TransformerBlock<T>&& block, const LoRAConfig& config)
      : targets_(make_targets(block, config)), block_(std::move(block)) {}

  [[nodiscard]] std::string name() const {
    std::string s = "TransformerBlockWithLoRA(" + block_.name() + "; ";
    for (std::size_t k = 0; k < targets_.size(); ++k) s += (k ? ", " : "") + targets_[k].site.name;
    return s + ")";
  }

  void train(bool on = true) {
    block_.train(on);
    for (auto& t : targets_) t.lora.train(on);
  }
  void eval() { train(false); }
  [[nodiscard]] bool training() const noexcept { return block_.training(); }
  /// Whether a forward now takes the unfolded path (training with lora_dropout > 0, see the top).
  [[nodiscard]] bool unfolded() const noexcept {
    return block_.training() && !targets_.empty() && targets_.front().lora.options().dropout > 0.0;
  }

  /// The block's forward with the updates: W_eff = W₀ + s·B A in every target's rows (folded), or W₀ with
  /// s·B A·D(x) beside each target (unfolded).
  Tensor<T> forward(const Tensor<T>& x, const AttentionMask<T>& mask = {}, bool causal = false) {
    const bool unfold = unfolded();
    if (!unfold) {
      write_effective_weights();
      Tensor<T> y = block_.forward(x, mask, causal);
      unfolded_forward_ = false;
      return y;
    }
    write_base_weights();
    const SidePaths sides(*this);
    Tensor<T> y = block_.forward(x, mask, causal);
    unfolded_forward_ = true;
    return y;
  }

  /// The block's inference over packed sequences (TransformerBlock::infer) with W_eff = W₀ + s·B A (no
  /// dropout: the folded path, whatever the mode).
  [[nodiscard]] Matrix<T> infer(const PackedSequences<T>& x, bool causal = false) {
    write_effective_weights();
    return block_.infer(x, causal);
  }

  /// The block's backward for the last forward; accumulates ∂L/∂A and ∂L/∂B of every target (folded:
  /// from G = ∂L/∂W_eff; unfolded: through each LoRALayer and its dropout mask) and returns ∂L/∂x. The
  /// frozen parameters' gradients are left at zero.
  Tensor<T> backward(const Tensor<T>& grad_output) {
    for (auto& p : block_.parameters()) p.parameter->zero_grad();
    if (unfolded_forward_) {
      const SidePaths sides(*this);
      Tensor<T> grad_input = block_.backward(grad_output);
      for (auto& p : block_.parameters()) p.parameter->zero_grad();
      return grad_input;
    }
    Tensor<T> grad_input = block_.backward(grad_output);
    for (auto& t : targets_) {
      const Matrix<T> G = gradient(t.site).middleRows(t.site.offset, t.site.rows);
      const T s = t.lora.scale();
      Matrix<T> sG = G * s;
      matrix_multiply_add(sG, t.lora.A().value.transpose(), t.lora.B().grad);  // s G Aᵀ
      matrix_multiply_add(t.lora.B().value.transpose(), sG, t.lora.A().grad);  // s Bᵀ G
    }
    for (auto& p : block_.parameters()) p.parameter->zero_grad();
    return grad_input;
  }

  /// The block's parameters (frozen) and each target's lora_A / lora_B (trainable).
  ParameterList<T> parameters() {
    ParameterList<T> list;
    for (auto& p : block_.parameters()) list.push_back({p.name, p.parameter, false});
    for (auto& t : targets_)
      for (auto& p : t.lora.parameters()) list.push_back({t.site.name + "." + p.name, p.parameter, true});
    return list;
  }

  /// Puts W₀ back into the block's weights (bit for bit) and returns the block, leaving this object empty.
  [[nodiscard]] TransformerBlock<T> release_base() && {
    for (auto& t : targets_) weight(t.site).middleRows(t.site.offset, t.site.rows) = t.base;
    targets_.clear();
    return std::move(block_);
  }
  /// The block with the updates folded in (merge_and_unload).
  [[nodiscard]] TransformerBlock<T> merge_and_unload() && {
    for (auto& t : targets_) weight(t.site).middleRows(t.site.offset, t.site.rows) = t.base + t.lora.delta_weight();
    targets_.clear();
    return std::move(block_);
  }

  /// The update of a target ("self_attn.query", ...); InvalidArgument when it has none.
  LoRALayer<T>& lora(const std::string& target) {
    for (auto& t : targets_)
      if (t.site.name == target) return t.lora;
    detail::fail("TransformerBlockWithLoRA::lora", "no LoRA update on '" + target + "'");
  }
  const LoRALayer<T>& lora(const std::string& target) const {
    for (const auto& t : targets_)
      if (t.site.name == target) return t.lora;
    detail::fail("TransformerBlockWithLoRA::lora", "no LoRA update on '" + target + "'");
  }
  /// W₀ of a target's rows, the frozen base.
  const Matrix<T>& base_weight(const std::string& target) {
    for (auto& t : targets_)
      if (t.site.name == target) return t.base;
    detail::fail("TransformerBlockWithLoRA::base_weight", "no LoRA update on '" + target + "'");
  }
  [[nodiscard]] std::vector<std::string> targets() const {
    std::vector<std::string> names;
    for (const auto& t : targets_) names.push_back(t.site.name);
    return names;
  }
  TransformerBlock<T>& block() noexcept { return block_; }

 private:
  struct Site {
    std::string name;       // "self_attn.query"
    std::string parameter;  // the block's parameter holding it
    Index offset;           // first row
    Index rows;             // out
    Index in;
    std::size_t slot;  // 0…5: query, key, value, out_proj, linear1, linear2
  };
  struct Target {
    Site site;
    LoRALayer<T> lora;
    Matrix<T> base;  // W₀, the frozen rows
  };

  /// Puts every target's LoRALayer beside its projection for one call, and takes them away after it
  /// (also when the call throws): the block never keeps pointers into this object.
  class SidePaths {
   public:
    explicit SidePaths(TransformerBlockWithLoRA& owner) : block_(owner.block_) {
      std::array<Layer<T>*, 6> side = {};
      for (auto& t : owner.targets_) side[t.site.slot] = &t.lora;
      block_.self_attn().set_side_paths(side[0], side[1], side[2], side[3]);
      block_.feed_forward().set_side_paths(side[4], side[5]);
    }
    SidePaths(const SidePaths&) = delete;
    SidePaths& operator=(const SidePaths&) = delete;
    ~SidePaths() {
      block_.self_attn().set_side_paths(nullptr, nullptr, nullptr, nullptr);
      block_.feed_forward().set_side_paths(nullptr, nullptr);
    }

   private:
    TransformerBlock<T>& block_;
  };

  // Every check and every allocation before the block is taken over: a throw leaves the caller's block.
  static std::vector<Target> make_targets(TransformerBlock<T>& block, const LoRAConfig& config) {
    std::vector<Target> targets;
    constexpr std::string_view where = "TransformerBlockWithLoRA";
    detail::check_lora_dropout(where, config.options.dropout);
    require(!config.target_modules.empty(), where, "target_modules is empty");
    const Index E = block.d_model();
    const Index F = block.feed_forward().dim_feedforward();
    const std::array<Site, 6> sites = {{{"self_attn.query", "self_attn.in_proj_weight", 0, E, E, 0},
                                        {"self_attn.key", "self_attn.in_proj_weight", E, E, E, 1},
                                        {"self_attn.value", "self_attn.in_proj_weight", 2 * E, E, E, 2},
                                        {"self_attn.out_proj", "self_attn.out_proj.weight", 0, E, E, 3},
                                        {"linear1", "linear1.weight", 0, F, E, 4},
                                        {"linear2", "linear2.weight", 0, E, F, 5}}};
    std::vector<bool> selected(sites.size(), false);
    for (const std::string& target : config.target_modules) {
      bool any = false;
      for (std::size_t k = 0; k < sites.size(); ++k)
        if (target == "all-linear" || detail::lora_target_matches(sites[k].name, target)) selected[k] = any = true;
      if (!any)
        detail::fail(where, "target module '" + target +
                                "' matches no projection; the block's are: self_attn.query, self_attn.key, "
                                "self_attn.value, self_attn.out_proj, linear1, linear2");
    }
    std::uint64_t seed = config.options.seed;
    for (std::size_t k = 0; k < sites.size(); ++k) {
      if (!selected[k]) continue;
      LoRAOptions options = config.options;
      options.seed = seed++;
      const Site& s = sites[k];
      try {
        targets.push_back({s, LoRALayer<T>(s.in, s.rows, options), Matrix<T>()});
      } catch (const InvalidArgument& e) {
        detail::fail(where, "target " + s.name + " (" + std::to_string(s.in) + " -> " + std::to_string(s.rows) +
                                "): " + e.what());
      }
    }
    for (auto& t : targets) t.base = parameter(block, t.site).value.middleRows(t.site.offset, t.site.rows);
    return targets;
  }

  static Parameter<T>& parameter(TransformerBlock<T>& block, const Site& site) {
    for (auto& p : block.parameters())
      if (p.name == site.parameter) return *p.parameter;
    detail::fail("TransformerBlockWithLoRA", "the block has no parameter '" + site.parameter + "'");
  }
  void write_effective_weights() {
    for (auto& t : targets_) weight(t.site).middleRows(t.site.offset, t.site.rows) = t.base + t.lora.delta_weight();
  }
  void write_base_weights() {
    for (auto& t : targets_) weight(t.site).middleRows(t.site.offset, t.site.rows) = t.base;
  }
  Matrix<T>& weight(const Site& site) { return parameter(block_, site).value; }
  Matrix<T>& gradient(const Site& site) { return parameter(block_, site).grad; }

  std::vector<Target> targets_;  // built first, from the block before it is taken over
  TransformerBlock<T> block_;
  bool unfolded_forward_ = false;  // the path of the last forward
};

}  // namespace aimastery
