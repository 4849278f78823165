#pragma once
/// \file
/// LoRA adapters on disk as PEFT writes them (`model.save_pretrained(dir)`), so an adapter trained here
/// loads in Python with `PeftModel.from_pretrained(base, dir)` and one trained by PEFT loads here:
///
///   dir/adapter_model.safetensors   "base_model.model.<module>.lora_A.weight" (r × in),
///                                   "base_model.model.<module>.lora_B.weight" (out × r)
///   dir/adapter_config.json         {"peft_type": "LORA", "r", "lora_alpha", "target_modules",
///                                    "lora_dropout", "use_rslora", "rank_pattern", "alpha_pattern", ...}
///
///   save_lora_adapter(net, "adapter");   // after apply_lora and training
///   load_lora_adapter(other, "adapter"); // other: the same base network, with or without LoRA applied
///
/// Module names are a NeuralNetwork's layer indices, which is what PyTorch names the layers of an
/// nn.Sequential. A rank or α that differs from the first module's is written to rank_pattern /
/// alpha_pattern under the module's name, as PEFT does.
///
/// Loading checks everything before the network changes: a missing or malformed file, a truncated
/// safetensors file, a tensor whose shape does not fit the base layer (an adapter for another model),
/// a tensor no module takes, or a feature this reader does not implement (DoRA, fan_in_fan_out, bias
/// training, regular-expression targets) is a FormatError naming the file and the problem, and then the
/// network is as it was.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/io/file.hpp"
#include "aimastery/io/safetensors_read.hpp"
#include "aimastery/io/safetensors_write.hpp"
#include "aimastery/llm/fine_tuning/apply_lora.hpp"
#include "aimastery/ml/deep_learning/detail/layer_checks.hpp"

namespace aimastery {

namespace detail {

inline std::string peft_key(const std::string& module, char matrix) {
  return "base_model.model." + module + ".lora_" + matrix + ".weight";
}

/// A JSON number written as an integer when it is one (PEFT's lora_alpha is an int in most configs).
inline nlohmann::json json_number_of(double x) {
  if (std::abs(x) < 1e15 && x == std::floor(x)) return static_cast<std::int64_t>(x);
  return x;
}

/// The value of `pattern` for `module` under PEFT's rule (the key equals the name or is a dotted suffix
/// of it), or `fallback`.
inline double pattern_value(const nlohmann::json& pattern, const std::string& module, double fallback) {
  for (const auto& item : pattern.items())
    if (lora_target_matches(module, item.key())) return item.value().get<double>();
  return fallback;
}

/// The adapter's configuration as this reader needs it.
struct PeftLoRAConfig {
  std::vector<std::string> target_modules;
  Index r = 8;
  double alpha = 8.0;
  double dropout = 0.0;
  bool use_rslora = false;
  nlohmann::json rank_pattern = nlohmann::json::object();
  nlohmann::json alpha_pattern = nlohmann::json::object();
};

/// (A template only so that the JSON parser is instantiated where an adapter is read, not in every file
/// that includes this header.)
template <class Json = nlohmann::json>
PeftLoRAConfig read_peft_config(const std::string& path) {
  const auto error = [&](const std::string& problem) {
    return FormatError("load_lora_adapter: " + path + ": " + problem);
  };
  InputFile file = open_input_file(path, "load_lora_adapter");
  if (file.size > (std::uint64_t(1) << 20)) throw error("is " + std::to_string(file.size) + " bytes (at most 1 MB)");
  std::string text(static_cast<std::size_t>(file.size), '\0');
  file.stream.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (!file.stream) throw error("cannot read it");
  nlohmann::json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw error("is not a JSON object");
  PeftLoRAConfig c;
  try {
    if (j.contains("peft_type") && j["peft_type"] != "LORA")
      throw error("peft_type is " + j["peft_type"].dump() + ", this reader reads LORA adapters");
    if (!j.contains("r") || !j["r"].is_number_integer() || j["r"].get<std::int64_t>() < 1)
      throw error("\"r\" must be an integer >= 1");
    c.r = static_cast<Index>(j["r"].get<std::int64_t>());
    if (j.contains("lora_alpha")) c.alpha = j["lora_alpha"].get<double>();
    if (j.contains("lora_dropout") && !j["lora_dropout"].is_null()) c.dropout = j["lora_dropout"].get<double>();
    if (j.contains("use_rslora")) c.use_rslora = j["use_rslora"].get<bool>();
    if (!(std::isfinite(c.alpha) && c.alpha > 0.0)) throw error("lora_alpha must be > 0");
    if (!(std::isfinite(c.dropout) && c.dropout >= 0.0 && c.dropout < 1.0))
      throw error("lora_dropout must be in [0, 1), got " + j["lora_dropout"].dump());
    if (j.value("use_dora", false)) throw error("use_dora is true; DoRA adapters are not supported");
    if (j.value("lora_bias", false)) throw error("lora_bias is true; trained LoRA biases are not supported");
    if (j.value("fan_in_fan_out", false)) throw error("fan_in_fan_out is true (Conv1D layers); not supported");
    if (j.contains("bias") && j["bias"] != "none")
      throw error("bias is " + j["bias"].dump() + ", only \"none\" is supported");
    const nlohmann::json& targets = j.at("target_modules");
    if (targets.is_string()) {
      if (targets != "all-linear")
        throw error("target_modules is the regular expression " + targets.dump() + "; only lists are supported");
      c.target_modules = {"all-linear"};
    } else {
      c.target_modules = targets.get<std::vector<std::string>>();
    }
    for (const char* name : {"rank_pattern", "alpha_pattern"}) {
      if (!j.contains(name) || j[name].is_null()) continue;
      if (!j[name].is_object()) throw error(std::string(name) + " is not an object");
      for (const auto& item : j[name].items())
        if (!item.value().is_number() || !(item.value().get<double>() > 0.0))
          throw error(std::string(name) + "[\"" + item.key() + "\"] must be a positive number");
      (std::string(name) == "rank_pattern" ? c.rank_pattern : c.alpha_pattern) = j[name];
    }
  } catch (const nlohmann::json::exception& e) {
    throw error(std::string("malformed configuration (") + e.what() + ")");
  }
  return c;
}

/// A tensor of the adapter file as a (rows × cols) matrix, checked: FormatError naming it otherwise.
template <Scalar T>
Matrix<T> adapter_tensor(const Safetensors& file, const std::string& path, const std::string& key, Index rows,
                         Index cols, const std::string& layer) {
  const auto error = [&](const std::string& problem) {
    return FormatError("load_lora_adapter: " + path + ": tensor '" + key + "' " + problem);
  };
  if (!file.contains(key)) throw error("is missing (layer " + layer + ")");
  const SafetensorsTensor& t = file.at(key);
  if (t.dtype != SafetensorsDtype::F64 && t.dtype != SafetensorsDtype::F32 && t.dtype != SafetensorsDtype::F16 &&
      t.dtype != SafetensorsDtype::BF16)
    throw error("has dtype " + std::string(to_string(t.dtype)) + ", a floating dtype is needed");
  if (t.shape.size() != 2 || t.shape[0] != rows || t.shape[1] != cols)
    throw error("has shape " + detail::shape_string(t.shape) + " but layer " + layer + " needs (" +
                std::to_string(rows) + ", " + std::to_string(cols) + ")");
  const std::vector<T> v = t.values<T>();
  Matrix<T> m = Eigen::Map<const Matrix<T>>(v.data(), rows, cols);
  if (!all_finite(m)) throw error("contains NaN or infinity");
  return m;
}

}  // namespace detail

namespace detail {

/// Writes PEFT's adapter_model.safetensors and adapter_config.json for the updates of the named modules
/// (in order; `where` names the caller in messages). A rank or α that differs from the first module's goes
/// to rank_pattern / alpha_pattern under the module's name, as PEFT does.
template <Scalar T>
void write_peft_adapter(const std::vector<std::pair<std::string, const LoRALayer<T>*>>& modules,
                        const std::string& directory, const std::string& where) {
  const LoRAOptions& first = modules.front().second->options();
  Safetensors file;
  nlohmann::json targets = nlohmann::json::array(), ranks = nlohmann::json::object(), alphas = nlohmann::json::object();
  for (const auto& [name, lora] : modules) {
    file.add(peft_key(name, 'A'), lora->A().value);
    file.add(peft_key(name, 'B'), lora->B().value);
    targets.push_back(name);
    if (lora->rank() != first.r) ranks[name] = lora->rank();
    if (lora->options().alpha != first.alpha) alphas[name] = json_number_of(lora->options().alpha);
  }
  file.metadata["format"] = "pt";
  const nlohmann::json config = {
      {"peft_type", "LORA"},
      {"task_type", nullptr},
      {"base_model_name_or_path", nullptr},
      {"inference_mode", true},
      {"r", first.r},
      {"lora_alpha", json_number_of(first.alpha)},
      {"lora_dropout", first.dropout},
      {"use_rslora", first.use_rslora},
      {"target_modules", targets},
      {"rank_pattern", ranks},
      {"alpha_pattern", alphas},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"init_lora_weights", true},
      {"modules_to_save", nullptr},
      {"layers_to_transform", nullptr},
      {"layers_pattern", nullptr},
      {"use_dora", false},
      {"revision", nullptr},
  };
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) throw FormatError(where + ": cannot create '" + directory + "': " + ec.message());
  write_safetensors(directory + "/adapter_model.safetensors", file);
  const std::string config_path = directory + "/adapter_config.json";
  std::ofstream out(config_path, std::ios::trunc);
  out << config.dump(2) << '\n';
  if (!out) throw FormatError(where + ": cannot write '" + config_path + "'");
}

}  // namespace detail

/// Writes the LoRA updates of `net` (after apply_lora) to `directory` (created if needed) as PEFT's
/// adapter_model.safetensors and adapter_config.json. InvalidArgument when the network has no LoRA
/// layer; FormatError when a file cannot be written.
template <Scalar T>
void save_lora_adapter(NeuralNetwork<T>& net, const std::string& directory) {
  const std::vector<LoRAModule<T>> modules = lora_modules(net);
  require(!modules.empty(), "save_lora_adapter", "the network has no LoRA layer (call apply_lora first)");
  std::vector<std::pair<std::string, const LoRALayer<T>*>> updates;
  for (const auto& m : modules) updates.emplace_back(m.name, &m.layer->lora());
  detail::write_peft_adapter(updates, directory, "save_lora_adapter");
}

/// Reads a PEFT LoRA adapter from `directory` into `net`, the base network it was trained on. Without
/// LoRA layers the network is wrapped as the adapter's configuration says (apply_lora); with them, the
/// adapter must cover the same modules with the same ranks and only A and B are replaced. Any
/// mismatch is a FormatError and leaves the network unchanged (see the top of this header).
template <Scalar T>
void load_lora_adapter(NeuralNetwork<T>& net, const std::string& directory) {
  const std::string config_path = directory + "/adapter_config.json";
  const std::string weights_path = directory + "/adapter_model.safetensors";
  const detail::PeftLoRAConfig config = detail::read_peft_config(config_path);
  const Safetensors file = read_safetensors(weights_path);
  const auto error = [&](const std::string& problem) {
    return FormatError("load_lora_adapter: " + weights_path + ": " + problem);
  };

  std::vector<LoRAModule<T>> existing = lora_modules(net);
  const bool fresh = existing.empty();
  for (const auto& m : existing)
    require(!m.layer->merged(), "load_lora_adapter",
            [&] { return "layer " + m.name + " is merged (unmerge before loading an adapter)"; });
  std::vector<std::size_t> targets;
  std::vector<std::string> names;
  if (fresh) {
    try {
      targets = lora_targets(net, config.target_modules, "load_lora_adapter");
    } catch (const InvalidArgument& e) {
      throw FormatError(std::string(e.what()) + " (the adapter " + config_path + " is for another model)");
    }
    for (std::size_t i : targets) names.push_back(std::to_string(i));
  } else {
    for (const auto& m : existing) names.push_back(m.name);
  }

  // Every tensor read and checked aside, against the base layers' shapes.
  std::vector<LoRALayer<T>> updates;
  std::vector<Matrix<T>> As, Bs;
  std::set<std::string> used;
  for (std::size_t k = 0; k < names.size(); ++k) {
    const std::string& name = names[k];
    Index in = 0, out = 0;
    if (fresh) {
      const auto& dense = static_cast<const Dense<T>&>(net.layer(targets[k]));
      in = dense.in_features();
      out = dense.out_features();
    } else {
      in = existing[k].layer->lora().in_features();
      out = existing[k].layer->lora().out_features();
    }
    const auto r = static_cast<Index>(detail::pattern_value(config.rank_pattern, name, static_cast<double>(config.r)));
    const double alpha = detail::pattern_value(config.alpha_pattern, name, config.alpha);
    const std::string layer = name + " (" + std::to_string(in) + " -> " + std::to_string(out) + ")";
    As.push_back(detail::adapter_tensor<T>(file, weights_path, detail::peft_key(name, 'A'), r, in, layer));
    Bs.push_back(detail::adapter_tensor<T>(file, weights_path, detail::peft_key(name, 'B'), out, r, layer));
    used.insert(detail::peft_key(name, 'A'));
    used.insert(detail::peft_key(name, 'B'));
    const LoRAOptions options{r, alpha, config.dropout, config.use_rslora, static_cast<std::uint64_t>(k)};
    if (fresh) {
      try {
        updates.emplace_back(in, out, options);
      } catch (const InvalidArgument& e) {
        throw error("layer " + layer + ": " + e.what());
      }
    } else {
      const LoRALayer<T>& current = existing[k].layer->lora();
      if (current.rank() != r || current.scale() != static_cast<T>(detail::lora_scale(options))) {
        std::ostringstream message;
        message << "layer " << layer << " has LoRA rank " << current.rank() << " (scale " << current.scale()
                << "), the adapter's is rank " << r << " (alpha " << alpha << ")";
        throw error(message.str());
      }
    }
  }
  for (const auto& [key, _] : file.tensors)
    if (!used.count(key))
      throw error("tensor '" + key + "' matches no LoRA module of the network (" + detail::module_list(net) + ")");

  // Nothing below throws for what was checked above.
  if (fresh) {
    for (std::size_t k = 0; k < updates.size(); ++k) {
      updates[k].A().value.swap(As[k]);
      updates[k].B().value.swap(Bs[k]);
    }
    (void)detail::wrap_with_lora(net, targets, updates);
  } else {
    for (std::size_t k = 0; k < existing.size(); ++k) {
      existing[k].layer->lora().A().value.swap(As[k]);
      existing[k].layer->lora().B().value.swap(Bs[k]);
    }
  }
}

}  // namespace aimastery
