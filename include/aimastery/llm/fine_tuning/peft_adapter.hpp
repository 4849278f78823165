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
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/io/file.hpp"
#include "aimastery/io/json.hpp"
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
template <class = void>
JsonValue json_number_of(double x) {
  if (std::abs(x) < 1e15 && x == std::floor(x)) return static_cast<std::int64_t>(x);
  return x;
}

/// The value of `pattern` (an object of positive numbers) for `module` under PEFT's rule (the key equals
/// the name or is a dotted suffix of it), or `fallback`.
template <class = void>
double pattern_value(const JsonValue& pattern, const std::string& module, double fallback) {
  for (const JsonMember& member : pattern.members())
    if (lora_target_matches(module, member.name)) return member.value.get<double>();
  return fallback;
}

/// The adapter's configuration as this reader needs it. (It and the functions here are templates so that
/// they are compiled where an adapter is read or written, not in every file that includes this header.)
template <class Json = JsonValue>
struct PeftLoRAConfig {
  std::vector<std::string> target_modules;
  Index r = 8;
  double alpha = 8.0;
  double dropout = 0.0;
  bool use_rslora = false;
  Json rank_pattern = Json::object();
  Json alpha_pattern = Json::object();
};

/// Reads adapter_config.json (at most 1 MiB), checking the kind of every field it uses.
template <class = void>
PeftLoRAConfig<> read_peft_config(const std::string& path) {
  const auto error = [&](const std::string& problem) {
    return FormatError("load_lora_adapter: " + path + ": " + problem);
  };
  const JsonValue j = JsonValue::parse(read_small_file(path, "load_lora_adapter", std::uint64_t(1) << 20),
                                       "load_lora_adapter: " + path + ": is not valid JSON");
  if (!j.is_object()) throw error("is not a JSON object");
  // A field of the wrong kind is named with what it should be.
  const auto number = [&](const char* name, double fallback) {
    const JsonValue* value = j.find(name);
    if (value == nullptr || value->is_null()) return fallback;
    if (!value->is_number()) throw error(std::string("malformed configuration: ") + name + " must be a number");
    return value->get<double>();
  };
  const auto flag = [&](const char* name) {
    const JsonValue* value = j.find(name);
    if (value == nullptr || value->is_null()) return false;
    if (!value->is_boolean()) throw error(std::string("malformed configuration: ") + name + " must be true or false");
    return value->get<bool>();
  };
  PeftLoRAConfig<> c;
  if (const JsonValue* type = j.find("peft_type"); type != nullptr && *type != "LORA")
    throw error("peft_type is " + type->dump() + ", this reader reads LORA adapters");
  const JsonValue* r = j.find("r");
  if (r == nullptr || !r->is_number_integer() || (!r->is_number_unsigned() && r->get<std::int64_t>() < 1) ||
      (r->is_number_unsigned() && (r->get<std::uint64_t>() < 1 || r->get<std::uint64_t>() > (1U << 20))))
    throw error("\"r\" must be an integer >= 1 (and at most 2^20)");
  c.r = r->get<Index>();
  c.alpha = number("lora_alpha", c.alpha);
  c.dropout = number("lora_dropout", c.dropout);
  c.use_rslora = flag("use_rslora");
  if (!(std::isfinite(c.alpha) && c.alpha > 0.0)) throw error("lora_alpha must be > 0");
  if (!(std::isfinite(c.dropout) && c.dropout >= 0.0 && c.dropout < 1.0))
    throw error("lora_dropout must be in [0, 1), got " + j.at("lora_dropout").dump());
  if (flag("use_dora")) throw error("use_dora is true; DoRA adapters are not supported");
  if (flag("lora_bias")) throw error("lora_bias is true; trained LoRA biases are not supported");
  if (flag("fan_in_fan_out")) throw error("fan_in_fan_out is true (Conv1D layers); not supported");
  if (const JsonValue* bias = j.find("bias"); bias != nullptr && *bias != "none")
    throw error("bias is " + bias->dump() + ", only \"none\" is supported");
  const JsonValue* targets = j.find("target_modules");
  if (targets == nullptr) throw error("malformed configuration: target_modules is missing");
  if (targets->is_string()) {
    if (*targets != "all-linear")
      throw error("target_modules is the regular expression " + targets->dump() + "; only lists are supported");
    c.target_modules = {"all-linear"};
  } else {
    if (!targets->is_array()) throw error("malformed configuration: target_modules must be a list of names");
    for (const JsonValue& name : targets->elements()) {
      if (!name.is_string()) throw error("malformed configuration: target_modules must be a list of names");
      c.target_modules.push_back(name.as_string());
    }
  }
  for (const char* name : {"rank_pattern", "alpha_pattern"}) {
    const JsonValue* pattern = j.find(name);
    if (pattern == nullptr || pattern->is_null()) continue;
    if (!pattern->is_object()) throw error(std::string(name) + " is not an object");
    const bool ranks = std::string_view(name) == "rank_pattern";
    for (const JsonMember& member : pattern->members()) {
      const std::string& key = member.name;
      const JsonValue& value = member.value;
      if (ranks && !(value.is_number_integer() && value.get<double>() >= 1 && value.get<double>() <= (1U << 20)))
        throw error(std::string(name) + "[\"" + key + "\"] must be an integer in [1, 2^20]");
      if (!value.is_number() || !(value.get<double>() > 0.0) || !std::isfinite(value.get<double>()))
        throw error(std::string(name) + "[\"" + key + "\"] must be a positive number");
    }
    (ranks ? c.rank_pattern : c.alpha_pattern) = *pattern;
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
  JsonValue targets = JsonValue::array(), ranks = JsonValue::object(), alphas = JsonValue::object();
  for (const auto& [name, lora] : modules) {
    file.add(peft_key(name, 'A'), lora->A().value);
    file.add(peft_key(name, 'B'), lora->B().value);
    targets.push_back(name);
    if (lora->rank() != first.r) ranks[name] = lora->rank();
    if (lora->options().alpha != first.alpha) alphas[name] = json_number_of(lora->options().alpha);
  }
  file.metadata["format"] = "pt";
  const JsonValue config = JsonValue::object({
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
  });
  if (const std::string problem = make_directories(directory); !problem.empty())
    throw FormatError(where + ": cannot create '" + directory + "': " + problem);
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
  const auto config = detail::read_peft_config(config_path);
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
