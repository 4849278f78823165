#pragma once
/// \file
/// apply_lora: PEFT's get_peft_model for a NeuralNetwork. Every Dense layer whose module name matches
/// `target_modules` is replaced by a LinearWithLoRA around it (its weights frozen), and the network's
/// parameter list then holds the frozen base and the new A, B:
///
///   NeuralNetwork<float> net = ...;                     // layers 0 Dense, 1 Activation, 2 Dense
///   LoRAReport report = apply_lora(net, {.target_modules = {"0", "2"}, .options = {.r = 4, .alpha = 8}});
///   report.trainable_parameters, report.total_parameters   // what PEFT's print_trainable_parameters shows
///   net.fit(...);                                          // the optimiser steps A and B only
///   merge_and_unload(net);                                 // back to plain Dense layers, ΔW folded in
///
/// Module names are what PyTorch calls the layers of an nn.Sequential: "0", "1", "2", ... Matching is
/// PEFT's rule for a list: a name matches a target when it equals it or ends with "." + target.
/// "all-linear" selects every Dense layer (PEFT accepts it for transformers models only, and there
/// leaves out the output layer). The i-th wrapped layer (in network order) draws A with seed
/// options.seed + i.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/fine_tuning/linear_with_lora.hpp"
#include "aimastery/llm/fine_tuning/lora_layer.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"

namespace aimastery {

/// What apply_lora wraps and with which update (PEFT's LoraConfig).
struct LoRAConfig {
  std::vector<std::string> target_modules;  ///< module names or suffixes, or {"all-linear"}
  LoRAOptions options = {};
};

/// What apply_lora did: the wrapped modules and the parameter counts after it.
struct LoRAReport {
  std::vector<std::string> wrapped;
  Index trainable_parameters = 0;
  Index total_parameters = 0;
  [[nodiscard]] double trainable_percent() const {
    return total_parameters == 0
               ? 0.0
               : 100.0 * static_cast<double>(trainable_parameters) / static_cast<double>(total_parameters);
  }
};

/// One layer of a network that carries a LoRA update, with its module name.
template <Scalar T>
struct LoRAModule {
  std::string name;
  LoRAAdapted<T>* layer;
};

namespace detail {

/// PEFT's list rule: the name equals the target or ends with "." + target.
inline bool lora_target_matches(const std::string& name, const std::string& target) {
  return name == target ||
         (name.size() > target.size() && name.ends_with(target) && name[name.size() - target.size() - 1] == '.');
}

/// "0 Dense(4 -> 8), 1 Activation(relu), ..." for messages.
template <Scalar T>
std::string module_list(const NeuralNetwork<T>& net) {
  std::string s;
  for (std::size_t i = 0; i < net.size(); ++i) s += (i ? ", " : "") + std::to_string(i) + " " + net.layer(i).name();
  return s;
}

template <Scalar T>
LoRAReport lora_report(const NeuralNetwork<T>& net, std::vector<std::string> wrapped) {
  return {std::move(wrapped), net.parameter_count(true), net.parameter_count(false)};
}

/// Wraps layer targets[k] (a Dense) with updates[k]; the network changes only after every wrapper is
/// built (replace throws nothing for a valid index and layer). Returns the wrapped modules' names.
template <Scalar T>
std::vector<std::string> wrap_with_lora(NeuralNetwork<T>& net, const std::vector<std::size_t>& targets,
                                        std::vector<LoRALayer<T>>& updates) {
  std::vector<std::unique_ptr<Layer<T>>> wrappers;
  wrappers.reserve(targets.size());
  for (std::size_t k = 0; k < targets.size(); ++k) {
    const auto& dense = static_cast<const Dense<T>&>(net.layer(targets[k]));
    wrappers.push_back(std::make_unique<LinearWithLoRA<T>>(Dense<T>(dense), std::move(updates[k])));
  }
  std::vector<std::string> wrapped;
  wrapped.reserve(targets.size());
  for (std::size_t k = 0; k < targets.size(); ++k) wrapped.push_back(std::to_string(targets[k]));
  for (std::size_t k = 0; k < targets.size(); ++k) (void)net.replace(targets[k], std::move(wrappers[k]));
  return wrapped;
}

}  // namespace detail

/// The layers of `net` that carry a LoRA update (LinearWithLoRA, NF4Linear), in network order.
template <Scalar T>
std::vector<LoRAModule<T>> lora_modules(NeuralNetwork<T>& net) {
  std::vector<LoRAModule<T>> modules;
  for (std::size_t i = 0; i < net.size(); ++i)
    if (auto* adapted = dynamic_cast<LoRAAdapted<T>*>(&net.layer(i))) modules.push_back({std::to_string(i), adapted});
  return modules;
}

/// The indices of the layers that `target_modules` selects; InvalidArgument when a target matches no
/// layer (listing the layers), matches a layer that is not a Dense, or the list is empty.
template <Scalar T>
std::vector<std::size_t> lora_targets(const NeuralNetwork<T>& net, const std::vector<std::string>& target_modules,
                                      std::string_view where) {
  require(!target_modules.empty(), where,
          "target_modules is empty (name the layers, e.g. {\"0\", \"2\"}, or \"all-linear\")");
  require(net.size() > 0, where, "the network has no layers");
  std::vector<bool> selected(net.size(), false);
  for (const std::string& target : target_modules) {
    bool any = false;
    for (std::size_t i = 0; i < net.size(); ++i) {
      const bool dense = dynamic_cast<const Dense<T>*>(&net.layer(i)) != nullptr;
      const bool match = target == "all-linear" ? dense : detail::lora_target_matches(std::to_string(i), target);
      if (!match) continue;
      any = true;
      if (!dense)
        detail::fail(where, "target module '" + target + "' matches layer " + std::to_string(i) + " " +
                                net.layer(i).name() + ", which is not a Dense layer" +
                                (dynamic_cast<const LoRAAdapted<T>*>(&net.layer(i)) ? " (it already has LoRA)" : ""));
      selected[i] = true;
    }
    if (!any)
      detail::fail(where, "target module '" + target +
                              "' matches no layer; the network's modules are: " + detail::module_list(net));
  }
  std::vector<std::size_t> indices;
  for (std::size_t i = 0; i < selected.size(); ++i)
    if (selected[i]) indices.push_back(i);
  return indices;
}

/// Wraps the selected Dense layers of `net` in LinearWithLoRA (see the top of this header). Every
/// target and every layer's rank is checked before the network changes; a throw leaves it as it was.
template <Scalar T>
LoRAReport apply_lora(NeuralNetwork<T>& net, const LoRAConfig& config) {
  constexpr std::string_view where = "apply_lora";
  const std::vector<std::size_t> targets = lora_targets(net, config.target_modules, where);
  // Build every update aside (the allocations, and the rank checks against each layer's shape).
  std::vector<LoRALayer<T>> updates;
  updates.reserve(targets.size());
  for (std::size_t k = 0; k < targets.size(); ++k) {
    const auto& dense = static_cast<const Dense<T>&>(net.layer(targets[k]));
    LoRAOptions options = config.options;
    options.seed += k;
    try {
      updates.emplace_back(dense.in_features(), dense.out_features(), options);
    } catch (const InvalidArgument& e) {
      detail::fail(where, "layer " + std::to_string(targets[k]) + " " + dense.name() + ": " + e.what());
    }
  }
  std::vector<std::string> wrapped = detail::wrap_with_lora(net, targets, updates);
  return detail::lora_report(net, std::move(wrapped));
}

/// Replaces every LinearWithLoRA of `net` by its base Dense with the update merged in (PEFT's
/// merge_and_unload); returns the names of the layers unloaded.
template <Scalar T>
std::vector<std::string> merge_and_unload(NeuralNetwork<T>& net) {
  std::vector<std::string> unloaded;
  for (std::size_t i = 0; i < net.size(); ++i) {
    auto* wrapped = dynamic_cast<LinearWithLoRA<T>*>(&net.layer(i));
    if (!wrapped) continue;
    LinearWithLoRA<T> copy = *wrapped;
    (void)net.replace(i, std::make_unique<Dense<T>>(std::move(copy).merge_and_unload()));
    unloaded.push_back(std::to_string(i));
  }
  return unloaded;
}

}  // namespace aimastery
