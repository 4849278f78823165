#pragma once
/// \file
/// The LoRA adapter of a SentenceEncoderWithLoRA on disk as PEFT writes it for Hugging Face's BertModel
/// (`PeftModel.from_pretrained(BertModel.from_pretrained(minilm_dir), dir)` loads it, and an adapter that
/// PEFT trained on that BertModel loads here):
///
///   dir/adapter_model.safetensors   "base_model.model.encoder.layer.0.attention.self.query.lora_A.weight" (r × in),
///                                   "base_model.model.encoder.layer.0.attention.self.query.lora_B.weight" (out × r),
///                                   ...
///   dir/adapter_config.json         {"peft_type": "LORA", "r", "lora_alpha", "target_modules", ...}
///
///   save_lora_adapter(model, "adapter");                       // target_modules: the full module names
///   SentenceEncoderWithLoRA again = load_lora_adapter(base, "adapter");
///
/// Loading builds the wrapped encoder from the adapter's configuration (its target_modules matched against
/// the encoder's modules, see sentence_encoder_with_lora.hpp) and fills every A and B from the file. PEFT's
/// tensors for BertModel's pooler ("base_model.model.pooler.dense...", which "dense" or "all-linear" also
/// wrap there) are skipped: the mean-pooled embedding never uses the pooler. lora_dropout round-trips: it
/// is written from the updates' options and read back into them (a value outside [0, 1) is a FormatError).
/// A missing or malformed file, a tensor of the wrong shape
/// (an adapter for another model), a tensor no module takes, a per-module rank or α (rank_pattern,
/// alpha_pattern) or a feature the reader does not implement: FormatError naming the file and the problem.

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/io/safetensors_read.hpp"
#include "aimastery/llm/attention/sentence_encoder.hpp"
#include "aimastery/llm/fine_tuning/apply_lora.hpp"
#include "aimastery/llm/fine_tuning/peft_adapter.hpp"
#include "aimastery/llm/fine_tuning/sentence_encoder_with_lora.hpp"

namespace aimastery {

/// Writes the updates of `model` to `directory` (created if needed) as PEFT's adapter files, the modules
/// named as in BertModel. FormatError when a file cannot be written.
template <Scalar T>
void save_lora_adapter(const BasicSentenceEncoderWithLoRA<T>& model, const std::string& directory) {
  detail::write_peft_adapter(model.lora_modules(), directory, "save_lora_adapter");
}

/// The encoder `base` with the PEFT adapter in `directory` on it (see the top of this header). `base` is
/// not changed; a throw leaves nothing behind.
template <Scalar T>
BasicSentenceEncoderWithLoRA<T> load_lora_adapter(const BasicSentenceEncoder<T>& base, const std::string& directory) {
  const std::string config_path = directory + "/adapter_config.json";
  const std::string weights_path = directory + "/adapter_model.safetensors";
  const auto config = detail::read_peft_config(config_path);
  if (!config.rank_pattern.empty() || !config.alpha_pattern.empty())
    throw FormatError("load_lora_adapter: " + config_path +
                      ": rank_pattern / alpha_pattern are set; the encoder takes one rank and alpha for every module");
  const Safetensors file = read_safetensors(weights_path);

  LoRAConfig lora_config;
  lora_config.options.r = config.r;
  lora_config.options.alpha = config.alpha;
  lora_config.options.dropout = config.dropout;
  lora_config.options.use_rslora = config.use_rslora;
  for (const std::string& target : config.target_modules)
    if (target != "pooler.dense") lora_config.target_modules.push_back(target);
  if (lora_config.target_modules.empty())
    throw FormatError("load_lora_adapter: " + config_path + ": target_modules names no module of the encoder");
  std::optional<BasicSentenceEncoderWithLoRA<T>> model;
  try {
    model.emplace(base, lora_config);
  } catch (const InvalidArgument& e) {
    throw FormatError(std::string(e.what()) + " (the adapter " + config_path + " is for another model)");
  }

  // Every tensor read and checked aside, against the modules' shapes.
  const auto modules = model->lora_modules();
  std::vector<Matrix<T>> As, Bs;
  std::set<std::string> used;
  for (const auto& [name, lora] : modules) {
    const Index in = lora->in_features(), out = lora->out_features(), r = lora->rank();
    const std::string layer = name + " (" + std::to_string(in) + " -> " + std::to_string(out) + ")";
    As.push_back(detail::adapter_tensor<T>(file, weights_path, detail::peft_key(name, 'A'), r, in, layer));
    Bs.push_back(detail::adapter_tensor<T>(file, weights_path, detail::peft_key(name, 'B'), out, r, layer));
    used.insert(detail::peft_key(name, 'A'));
    used.insert(detail::peft_key(name, 'B'));
  }
  for (const auto& [key, _] : file.tensors)
    if (!used.count(key) && !key.starts_with("base_model.model.pooler."))
      throw FormatError("load_lora_adapter: " + weights_path + ": tensor '" + key +
                        "' matches no LoRA module of the encoder (" +
                        BasicSentenceEncoderWithLoRA<T>::module_names(static_cast<Index>(base.layers().size())) + ")");
  for (std::size_t k = 0; k < modules.size(); ++k) {
    LoRALayer<T>& lora = model->lora(modules[k].first);
    lora.A().value.swap(As[k]);
    lora.B().value.swap(Bs[k]);
  }
  return std::move(*model);
}

}  // namespace aimastery
