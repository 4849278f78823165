#pragma once
/// \file
/// ModelCodec specialisations for the llm.attention layers: LayerNorm, MultiHeadAttention and
/// TransformerBlock. Sizes and options go to JSON; the parameters to tensors under the names of
/// PyTorch's state_dict ("self_attn.in_proj_weight", "linear1.weight", "norm1.weight" ...), each in the
/// shape the layer holds it. On load the sizes are checked against the tensors' shapes before the layer
/// is built, so a hostile size never allocates more than the file holds; every parameter is then read
/// and checked aside and swapped in.

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/io/json.hpp"
#include "aimastery/llm/attention/layer_norm.hpp"
#include "aimastery/llm/attention/multi_head_attention.hpp"
#include "aimastery/llm/attention/transformer_block.hpp"
#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/production/deployment/model_codec.hpp"

namespace aimastery {
namespace detail {

inline constexpr std::int64_t max_width = std::numeric_limits<std::int32_t>::max();

template <Scalar T>
void save_parameters(ModelWriter& out, const ParameterList<T>& parameters) {
  for (const auto& p : parameters) out.matrix(p.name, p.parameter->value);
}

/// Every parameter from its tensor (exactly its shape, finite), read aside, then swapped in; a tensor
/// that is no parameter is a FormatError.
template <Scalar T>
void load_parameters(const ModelReader& in, const ParameterList<T>& parameters) {
  std::vector<Matrix<T>> values;
  std::set<std::string> names;
  for (const auto& p : parameters) {
    values.push_back(in.matrix<T>(p.name, p.parameter->value.rows(), p.parameter->value.cols()));
    names.insert(p.name);
  }
  for (const auto& [name, _] : in.tensors().tensors)
    if (!names.count(name)) in.fail("tensor '" + name + "' is no parameter of the layer");
  for (std::size_t k = 0; k < parameters.size(); ++k) parameters[k].parameter->value.swap(values[k]);
}

/// A size from JSON that must equal axis `axis` of tensor `name` (when that tensor exists).
template <class Reader>
Index checked_size(const Reader& in, const JsonValue& object, std::string_view key, const std::string& tensor,
                   std::size_t axis, Index multiple = 1) {
  const Index size = in.integer(object, key, 1, max_width);
  if (in.has(tensor) && in.dim(tensor, axis) != multiple * size)
    in.fail("field '" + std::string(key) + "' = " + std::to_string(size) + " does not match tensor '" + tensor + "'");
  return size;
}

}  // namespace detail

template <Scalar T>
struct ModelCodec<LayerNorm<T>> {
  using Model = LayerNorm<T>;
  static constexpr std::string_view kind = "LayerNorm";

  static void save(const Model& m, ModelWriter& out) {
    out.hyper_parameters = JsonValue::object(
        {{"features", m.features()}, {"eps", m.eps()}, {"elementwise_affine", m.elementwise_affine()}});
    detail::save_parameters(out, const_cast<Model&>(m).parameters());  // values are only read
  }
  static Model load(const ModelReader& in) {
    const auto& h = in.hyper_parameters();
    const bool affine = in.boolean(h, "elementwise_affine");
    // An affine layer's size is that of its weight tensor (the file bounds what it allocates); a
    // non-affine one holds no tensor and allocates nothing in proportion to `features`.
    const Index features = detail::checked_size(in, h, "features", "weight", 1);
    if (affine && !in.has("weight")) in.fail("tensor 'weight' is missing");
    Model m(features, {.eps = in.number(h, "eps"), .elementwise_affine = affine});
    detail::load_parameters(in, m.parameters());
    return m;
  }
};

template <Scalar T>
struct ModelCodec<MultiHeadAttention<T>> {
  using Model = MultiHeadAttention<T>;
  static constexpr std::string_view kind = "MultiHeadAttention";

  static void save(const Model& m, ModelWriter& out) {
    const auto& o = m.options_;
    out.hyper_parameters = JsonValue::object({{"embed_dim", m.embed_dim()},
                                              {"num_heads", m.num_heads()},
                                              {"dropout", o.dropout},
                                              {"bias", o.bias},
                                              {"need_weights", o.need_weights},
                                              {"seed", o.seed},
                                              {"algorithm", static_cast<int>(o.algorithm)},
                                              {"tiled_threshold", o.tiled_threshold}});
    detail::save_parameters(out, const_cast<Model&>(m).parameters());
  }
  static Model load(const ModelReader& in) {
    const auto& h = in.hyper_parameters();
    if (!in.has("in_proj_weight")) in.fail("tensor 'in_proj_weight' is missing");
    const Index embed = detail::checked_size(in, h, "embed_dim", "in_proj_weight", 1);
    static_cast<void>(detail::checked_size(in, h, "embed_dim", "in_proj_weight", 0, 3));
    MultiHeadAttentionOptions o;
    o.dropout = in.number(h, "dropout");
    o.bias = in.boolean(h, "bias");
    o.need_weights = in.boolean(h, "need_weights");
    o.seed = in.unsigned_integer(h, "seed");
    o.algorithm = static_cast<AttentionAlgorithm>(in.integer(h, "algorithm", 0, 2));
    o.tiled_threshold = in.integer(h, "tiled_threshold", 0, std::numeric_limits<std::int64_t>::max());
    Model m(embed, in.integer(h, "num_heads", 1, detail::max_width), o);
    detail::load_parameters(in, m.parameters());
    return m;
  }
};

template <Scalar T>
struct ModelCodec<TransformerBlock<T>> {
  using Model = TransformerBlock<T>;
  static constexpr std::string_view kind = "TransformerBlock";

  static void save(const Model& m, ModelWriter& out) {
    const auto& o = m.options_;
    out.hyper_parameters = JsonValue::object({{"d_model", m.d_model()},
                                              {"nhead", m.self_attn_.num_heads()},
                                              {"dim_feedforward", o.dim_feedforward},
                                              {"dropout", o.dropout},
                                              {"activation", std::string(to_string(o.activation))},
                                              {"layer_norm_eps", o.layer_norm_eps},
                                              {"norm_first", o.norm_first},
                                              {"bias", o.bias},
                                              {"seed", o.seed},
                                              {"algorithm", static_cast<int>(o.algorithm)}});
    detail::save_parameters(out, const_cast<Model&>(m).parameters());
  }
  static Model load(const ModelReader& in) {
    const auto& h = in.hyper_parameters();
    for (const char* name : {"self_attn.in_proj_weight", "linear1.weight"})
      if (!in.has(name)) in.fail("tensor '" + std::string(name) + "' is missing");
    const Index d_model = detail::checked_size(in, h, "d_model", "self_attn.in_proj_weight", 1);
    static_cast<void>(detail::checked_size(in, h, "d_model", "self_attn.in_proj_weight", 0, 3));
    static_cast<void>(detail::checked_size(in, h, "d_model", "linear1.weight", 1));
    TransformerBlockOptions o;
    o.dim_feedforward = detail::checked_size(in, h, "dim_feedforward", "linear1.weight", 0);
    o.dropout = in.number(h, "dropout");
    o.activation = activation_kind_from_string(in.text(h, "activation"));
    o.layer_norm_eps = in.number(h, "layer_norm_eps");
    o.norm_first = in.boolean(h, "norm_first");
    o.bias = in.boolean(h, "bias");
    o.seed = in.unsigned_integer(h, "seed");
    o.algorithm = static_cast<AttentionAlgorithm>(in.integer(h, "algorithm", 0, 2));
    Model m(d_model, in.integer(h, "nhead", 1, detail::max_width), o);
    detail::load_parameters(in, m.parameters());
    return m;
  }
};

}  // namespace aimastery
