#pragma once
// The general parser of inference requests as it was written on nlohmann::json before the library read
// JSON itself (inference_protocol.hpp at commit a9d30cd): the reference whose answers, status and message,
// the pull reader's are checked against in test_serving.cpp. It uses the library's datatype table, range
// and binary-extension helpers, which did not change.

#include <nlohmann/json.hpp>

#include "aimastery/production/serving/inference_protocol.hpp"

namespace aimastery::test {

using detail::bad_request;
using detail::datatype_range;
using detail::InferDatatype;

/// Appends the numbers of a flat or nested JSON array to `out`, each checked against the datatype.
inline void reference_tensor_values(const nlohmann::json& data, const InferDatatype& type, const std::string& input,
                                    std::int64_t max_elements, std::vector<double>& out, int depth = 0) {
  if (depth > 32) bad_request("input '" + input + "': data is nested deeper than 32 levels");
  double low = 0, high = 0;
  datatype_range(type, low, high);
  for (const auto& v : data) {
    if (v.is_array()) {
      reference_tensor_values(v, type, input, max_elements, out, depth + 1);
      continue;
    }
    if (static_cast<std::int64_t>(out.size()) >= max_elements)
      throw InferenceError(413, "input '" + input + "': more than " + std::to_string(max_elements) + " values");
    double x = 0;
    if (type.boolean && v.is_boolean()) {
      x = v.get<bool>() ? 1 : 0;
    } else if (v.is_number()) {
      x = v.get<double>();
      if (type.integer && !v.is_number_integer() && std::floor(x) != x)
        bad_request("input '" + input + "': value " + v.dump() + " is not an integer, as datatype " +
                    std::string(type.name) + " needs");
    } else {
      bad_request("input '" + input + "': value " + v.dump().substr(0, 40) + " is not a number (datatype " +
                  std::string(type.name) + ")");
    }
    if (!(x >= low && x <= high))
      bad_request("input '" + input + "': value " + v.dump() + " is outside the range of " + std::string(type.name));
    if (!type.integer && !std::isfinite(x)) bad_request("input '" + input + "': value is not finite");
    out.push_back(x);
  }
}

/// The request as the nlohmann::json parser read it; a JSON document is parsed whole first.
inline InferRequest reference_parse_infer_request(std::string_view body, std::optional<std::size_t> header_length,
                                                  const InferCodecLimits& limits) {
  if (header_length && *header_length > body.size())
    bad_request("Inference-Header-Content-Length " + std::to_string(*header_length) + " exceeds the body's " +
                std::to_string(body.size()) + " bytes");
  const std::string_view json_text = header_length ? body.substr(0, *header_length) : body;
  std::string_view binary = header_length ? body.substr(*header_length) : std::string_view{};

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    bad_request(std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) bad_request("the request must be a JSON object");
  InferRequest request;
  if (const auto it = j.find("id"); it != j.end()) {
    if (!it->is_string()) bad_request("'id' must be a string");
    request.id = it->get<std::string>();
  }
  if (const auto it = j.find("parameters"); it != j.end()) {
    if (!it->is_object()) bad_request("'parameters' must be an object");
    request.parameters = JsonValue::parse(it->dump());
  }
  const auto inputs = j.find("inputs");
  if (inputs == j.end() || !inputs->is_array() || inputs->empty())
    bad_request("'inputs' must be a non-empty array of tensors");
  if (inputs->size() > limits.max_inputs)
    bad_request("too many inputs: " + std::to_string(inputs->size()) + " > " + std::to_string(limits.max_inputs));

  for (const auto& in : *inputs) {
    if (!in.is_object()) bad_request("every input must be an object");
    InferTensor t;
    const auto name = in.find("name");
    if (name == in.end() || !name->is_string()) bad_request("an input has no 'name' string");
    t.name = name->get<std::string>();
    const auto datatype = in.find("datatype");
    if (datatype == in.end() || !datatype->is_string()) bad_request("input '" + t.name + "' has no 'datatype' string");
    t.datatype = datatype->get<std::string>();
    const detail::InferDatatype* type = detail::find_infer_datatype(t.datatype);
    if (type == nullptr)
      bad_request("input '" + t.name + "': datatype '" + t.datatype +
                  (t.datatype == "BYTES" ? "' is not numeric; this model takes numbers"
                                         : "' is unknown (BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64)"));
    const auto shape = in.find("shape");
    if (shape == in.end() || !shape->is_array()) bad_request("input '" + t.name + "' has no 'shape' array");
    std::int64_t elements = 1;
    for (const auto& d : *shape) {
      if (!d.is_number_integer() || d.get<std::int64_t>() < 0)
        bad_request("input '" + t.name + "': shape " + shape->dump() + " must hold non-negative integers");
      const std::int64_t size = d.get<std::int64_t>();
      if (size > 0 && elements > limits.max_elements / size)
        throw InferenceError(413, "input '" + t.name + "': shape " + shape->dump() + " has more than " +
                                      std::to_string(limits.max_elements) + " elements");
      elements *= size;
      t.shape.push_back(size);
    }
    std::optional<std::size_t> binary_size;
    if (const auto p = in.find("parameters"); p != in.end()) {
      if (!p->is_object()) bad_request("input '" + t.name + "': 'parameters' must be an object");
      if (const auto b = p->find("binary_data_size"); b != p->end()) {
        if (!b->is_number_unsigned()) bad_request("input '" + t.name + "': binary_data_size must be unsigned");
        binary_size = b->get<std::size_t>();
      }
    }
    const auto data = in.find("data");
    if (binary_size) {
      if (!header_length) bad_request("input '" + t.name + "' has binary_data_size but the request has no binary part");
      if (*binary_size > binary.size())
        bad_request("input '" + t.name + "': binary_data_size " + std::to_string(*binary_size) + " exceeds the " +
                    std::to_string(binary.size()) + " bytes left in the body");
      if (*binary_size != static_cast<std::size_t>(elements) * static_cast<std::size_t>(type->bytes))
        bad_request("input '" + t.name + "': binary_data_size " + std::to_string(*binary_size) + " is not " +
                    std::to_string(elements) + " elements of " + t.datatype);
      detail::read_binary_values(binary.substr(0, *binary_size), *type, t.name, t.data);
      binary.remove_prefix(*binary_size);
    } else {
      if (data == in.end() || !data->is_array()) bad_request("input '" + t.name + "' has no 'data' array");
      t.data.reserve(static_cast<std::size_t>(elements));
      reference_tensor_values(*data, *type, t.name, limits.max_elements, t.data);
      if (static_cast<std::int64_t>(t.data.size()) != elements)
        bad_request("input '" + t.name + "': shape " + shape->dump() + " needs " + std::to_string(elements) +
                    " values, data holds " + std::to_string(t.data.size()));
    }
    request.inputs.push_back(std::move(t));
  }
  if (header_length && !binary.empty())
    bad_request(std::to_string(binary.size()) + " bytes of binary data are not claimed by any input");

  if (const auto outputs = j.find("outputs"); outputs != j.end()) {
    if (!outputs->is_array()) bad_request("'outputs' must be an array");
    for (const auto& o : *outputs) {
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string())
        bad_request("every requested output needs a 'name' string");
      request.outputs.push_back(o["name"].get<std::string>());
    }
  }
  return request;
}

}  // namespace aimastery::test
