#pragma once
/// \file
/// The Open Inference Protocol (KServe v2) inference request and response, as JSON.
///
///   POST /v2/models/forest/infer
///   {"id": "42",
///    "inputs":  [{"name": "input", "shape": [2, 4], "datatype": "FP64",
///                 "data": [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]}],        flat, or nested [[...], [...]]
///    "outputs": [{"name": "predict"}]}                                      optional: which outputs to return
///
///   {"model_name": "forest", "model_version": "3", "id": "42",
///    "outputs": [{"name": "predict", "shape": [2], "datatype": "INT64", "data": [0, 2]}]}
///
/// A tensor's data holds prod(shape) elements in row-major order, of its datatype: BOOL, UINT8..UINT64,
/// INT8..INT64, FP16, FP32, FP64 (numbers; BYTES, strings, is refused here). The binary tensor extension
/// (what tritonclient sends by default) is read too: the body starts with `header_length` bytes of JSON,
/// and each input whose "parameters" hold "binary_data_size": k takes the next k bytes, little-endian.
///
/// Validation is strict and happens before any model runs: malformed JSON, a missing or mistyped field,
/// an unknown datatype, a value that does not fit its datatype (1.5 or 300 in a UINT8), a data count that
/// is not prod(shape), a negative dimension: InferenceError 400 naming the input and the problem. A tensor
/// of more than `max_elements` elements: 413. Numbers are read into doubles (exact for every integer
/// datatype up to 2⁵³, which is also the limit checked for INT64/UINT64).

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/production/serving/inference_error.hpp"

namespace aimastery {

/// One tensor of a request or a response: name, shape, datatype and the values in row-major order.
struct InferTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::string datatype = "FP64";
  std::vector<double> data;

  /// prod(shape).
  [[nodiscard]] std::int64_t elements() const {
    std::int64_t n = 1;
    for (const auto d : shape) n *= d;
    return n;
  }
};

struct InferRequest {
  std::string id;                         ///< echoed in the response; may be empty
  std::vector<InferTensor> inputs;        ///< at least one
  std::vector<std::string> outputs = {};  ///< requested output names; empty = every output
  nlohmann::json parameters = nullptr;    ///< the request's "parameters" object, if any
};

struct InferResponse {
  std::string model_name;
  std::string model_version;
  std::string id;
  std::vector<InferTensor> outputs;
};

struct InferCodecLimits {
  std::int64_t max_elements = std::int64_t(1) << 24;  ///< per tensor (16 Mi values)
  std::size_t max_inputs = 64;
};

namespace detail {

/// The datatypes of the protocol that hold numbers: bytes per element, and the range of an integer type.
struct InferDatatype {
  std::string_view name;
  int bytes;
  bool integer, is_signed, boolean;
};

inline const InferDatatype* find_infer_datatype(std::string_view name) {
  static constexpr InferDatatype types[] = {
      {"BOOL", 1, true, false, true},    {"UINT8", 1, true, false, false},  {"UINT16", 2, true, false, false},
      {"UINT32", 4, true, false, false}, {"UINT64", 8, true, false, false}, {"INT8", 1, true, true, false},
      {"INT16", 2, true, true, false},   {"INT32", 4, true, true, false},   {"INT64", 8, true, true, false},
      {"FP16", 2, false, true, false},   {"FP32", 4, false, true, false},   {"FP64", 8, false, true, false}};
  for (const auto& t : types)
    if (t.name == name) return &t;
  return nullptr;
}

/// [low, high] of an integer datatype, capped at ±2⁵³ (the integers a double holds exactly).
inline void integer_range(const InferDatatype& t, double& low, double& high) {
  constexpr double exact = 9007199254740992.0;  // 2^53
  if (t.boolean) {
    low = 0, high = 1;
    return;
  }
  const int bits = 8 * t.bytes;
  high = t.is_signed ? std::ldexp(1.0, bits - 1) - 1 : std::ldexp(1.0, bits) - 1;
  low = t.is_signed ? -std::ldexp(1.0, bits - 1) : 0;
  high = std::min(high, exact);
  low = std::max(low, -exact);
}

[[noreturn]] inline void bad_request(const std::string& message) { throw InferenceError(400, message); }

/// Appends the numbers of a flat or nested JSON array to `out`, each checked against the datatype.
inline void read_tensor_values(const nlohmann::json& data, const InferDatatype& type, const std::string& input,
                               std::int64_t max_elements, std::vector<double>& out, int depth = 0) {
  if (depth > 32) bad_request("input '" + input + "': data is nested deeper than 32 levels");
  double low = 0, high = 0;
  if (type.integer) integer_range(type, low, high);
  for (const auto& v : data) {
    if (v.is_array()) {
      read_tensor_values(v, type, input, max_elements, out, depth + 1);
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
    if (type.integer && !(x >= low && x <= high))
      bad_request("input '" + input + "': value " + v.dump() + " is outside the range of " + std::string(type.name));
    if (!type.integer && !std::isfinite(x)) bad_request("input '" + input + "': value is not finite");
    out.push_back(x);
  }
}

/// IEEE half precision to double.
inline double half_to_double(std::uint16_t h) {
  const int exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa ? std::numeric_limits<double>::quiet_NaN() : sign * HUGE_VAL;
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

/// The little-endian values of the binary tensor extension.
inline void read_binary_values(std::string_view bytes, const InferDatatype& type, const std::string& input,
                               std::vector<double>& out) {
  const std::size_t n = bytes.size() / static_cast<std::size_t>(type.bytes);
  out.resize(n);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (std::size_t i = 0; i < n; ++i, p += type.bytes) {
    std::uint64_t u = 0;
    for (int b = type.bytes - 1; b >= 0; --b) u = (u << 8) | p[b];
    double x = 0;
    if (type.name == "FP64") {
      std::memcpy(&x, &u, 8);
    } else if (type.name == "FP32") {
      float f;
      const auto u32 = static_cast<std::uint32_t>(u);
      std::memcpy(&f, &u32, 4);
      x = f;
    } else if (type.name == "FP16") {
      x = half_to_double(static_cast<std::uint16_t>(u));
    } else if (type.is_signed) {
      const int shift = 64 - 8 * type.bytes;  // sign-extend
      x = static_cast<double>(static_cast<std::int64_t>(u << shift) >> shift);
    } else {
      x = static_cast<double>(u);
    }
    if (!type.integer && !std::isfinite(x)) bad_request("input '" + input + "': value is not finite");
    if (type.boolean && x > 1) bad_request("input '" + input + "': a BOOL byte is not 0 or 1");
    out[i] = x;
  }
}

/// A cursor over the JSON of the common request, for parse_infer_request_fast. Each reader returns false
/// on anything it does not handle, and the caller then gives the whole body to the general parser.
class FastJsonCursor {
 public:
  explicit FastJsonCursor(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  /// Consumes `c` (after white space) when it is next.
  bool eat(char c) {
    skip_space();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  [[nodiscard]] bool at_end() {
    skip_space();
    return p_ == end_;
  }
  /// A string of printable ASCII without escapes (its text is its value).
  bool string(std::string_view& out) {
    if (!eat('"')) return false;
    const char* begin = p_;
    while (p_ < end_ && *p_ != '"') {
      const auto c = static_cast<unsigned char>(*p_);
      if (c < 0x20 || c > 0x7E || c == '\\') return false;
      ++p_;
    }
    if (p_ == end_) return false;
    out = std::string_view(begin, static_cast<std::size_t>(p_ - begin));
    ++p_;
    return true;
  }
  /// A JSON number, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, as nlohmann::json reads it: an integer
  /// (no fraction, no exponent) as a 64-bit integer converted to double, anything else correctly rounded.
  bool number(double& x, bool& integer) {
    skip_space();
    const char* begin = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ == end_ || !digit(*p_)) return false;
    if (*p_ == '0')
      ++p_;
    else
      while (p_ < end_ && digit(*p_)) ++p_;
    integer = true;
    if (p_ < end_ && *p_ == '.') {
      integer = false;
      ++p_;
      if (p_ == end_ || !digit(*p_)) return false;
      while (p_ < end_ && digit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !digit(*p_)) return false;
      while (p_ < end_ && digit(*p_)) ++p_;
    }
    if (integer) {
      std::int64_t i = 0;
      const auto r = std::from_chars(begin, p_, i);
      if (r.ec != std::errc() || r.ptr != p_) return false;  // beyond int64: the general parser's business
      x = static_cast<double>(i);
      return true;
    }
    const auto r = std::from_chars(begin, p_, x);
    return r.ec == std::errc() && r.ptr == p_;
  }

 private:
  static bool digit(char c) { return c >= '0' && c <= '9'; }
  const char* p_;
  const char* end_;
};

/// The common inference request read in one pass without building a JSON document:
///   {"id": "...", "inputs": [{"name": ..., "shape": [...], "datatype": "FP32" | "FP64", "data": [flat]}, ...],
///    "outputs": [{"name": ...}, ...]}
/// keys in any order, each once, strings of printable ASCII without escapes, finite numbers. Anything else
/// (another key or datatype, escapes, nested data, a value the request cannot hold) returns nothing: the
/// general parser then reads the body and gives its result or its error, so both paths agree.
inline std::optional<InferRequest> parse_infer_request_fast(std::string_view body, const InferCodecLimits& limits) {
  FastJsonCursor c(body);
  InferRequest request;
  bool seen_id = false, seen_inputs = false, seen_outputs = false;
  std::string_view key, text;
  double x = 0;
  bool integer = false;
  if (!c.eat('{')) return std::nullopt;
  do {
    if (!c.string(key) || !c.eat(':')) return std::nullopt;
    if (key == "id" && !seen_id) {
      seen_id = true;
      if (!c.string(text)) return std::nullopt;
      request.id = text;
    } else if (key == "inputs" && !seen_inputs) {
      seen_inputs = true;
      if (!c.eat('[') || c.eat(']')) return std::nullopt;
      do {
        if (request.inputs.size() == limits.max_inputs) return std::nullopt;
        InferTensor t;
        bool seen_name = false, seen_shape = false, seen_datatype = false, seen_data = false;
        std::int64_t elements = 1;
        if (!c.eat('{')) return std::nullopt;
        do {
          if (!c.string(key) || !c.eat(':')) return std::nullopt;
          if (key == "name" && !seen_name) {
            seen_name = true;
            if (!c.string(text)) return std::nullopt;
            t.name = text;
          } else if (key == "datatype" && !seen_datatype) {
            seen_datatype = true;
            if (!c.string(text) || (text != "FP32" && text != "FP64")) return std::nullopt;
            t.datatype = text;
          } else if (key == "shape" && !seen_shape) {
            seen_shape = true;
            if (!c.eat('[')) return std::nullopt;
            if (!c.eat(']')) {
              do {
                if (!c.number(x, integer) || !integer || x < 0) return std::nullopt;
                const auto size = static_cast<std::int64_t>(x);
                if (size > 0 && elements > limits.max_elements / size) return std::nullopt;
                elements *= size;
                t.shape.push_back(size);
              } while (c.eat(','));
              if (!c.eat(']')) return std::nullopt;
            }
          } else if (key == "data" && !seen_data) {
            seen_data = true;
            if (!c.eat('[')) return std::nullopt;
            if (!c.eat(']')) {
              do {
                if (static_cast<std::int64_t>(t.data.size()) >= limits.max_elements) return std::nullopt;
                if (!c.number(x, integer) || !std::isfinite(x)) return std::nullopt;
                t.data.push_back(x);
              } while (c.eat(','));
              if (!c.eat(']')) return std::nullopt;
            }
          } else {
            return std::nullopt;
          }
        } while (c.eat(','));
        if (!c.eat('}') || !(seen_name && seen_shape && seen_datatype && seen_data)) return std::nullopt;
        if (static_cast<std::int64_t>(t.data.size()) != elements) return std::nullopt;
        request.inputs.push_back(std::move(t));
      } while (c.eat(','));
      if (!c.eat(']')) return std::nullopt;
    } else if (key == "outputs" && !seen_outputs) {
      seen_outputs = true;
      if (!c.eat('[')) return std::nullopt;
      if (!c.eat(']')) {
        do {
          if (!c.eat('{') || !c.string(key) || key != "name" || !c.eat(':') || !c.string(text) || !c.eat('}'))
            return std::nullopt;
          request.outputs.emplace_back(text);
        } while (c.eat(','));
        if (!c.eat(']')) return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
  } while (c.eat(','));
  if (!c.eat('}') || !c.at_end() || !seen_inputs) return std::nullopt;
  return request;
}

/// The general parser of parse_infer_request (every form of the protocol, and its errors).
inline InferRequest parse_infer_request_general(std::string_view body, std::optional<std::size_t> header_length,
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
    request.parameters = *it;
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
      detail::read_tensor_values(*data, *type, t.name, limits.max_elements, t.data);
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

}  // namespace detail

/// Parses an inference request. `header_length`: the Inference-Header-Content-Length of the binary
/// extension (the JSON is body[0, header_length), the tensors' bytes follow), or nothing for pure JSON.
/// The common JSON request is read by a direct parser (detail::parse_infer_request_fast); everything else,
/// errors included, by nlohmann::json.
inline InferRequest parse_infer_request(std::string_view body, std::optional<std::size_t> header_length = std::nullopt,
                                        const InferCodecLimits& limits = {}) {
  if (!header_length)
    if (std::optional<InferRequest> request = detail::parse_infer_request_fast(body, limits))
      return std::move(*request);
  return detail::parse_infer_request_general(body, header_length, limits);
}

namespace detail {

/// The shortest text that reads back as the same value: std::to_chars in the tensor's precision.
inline void append_number(std::string& out, double x, std::string_view datatype) {
  if (!std::isfinite(x)) {
    out += "null";  // JSON has no NaN or infinity
    return;
  }
  char buffer[32];
  std::to_chars_result r{};
  if (datatype == "FP32")
    r = std::to_chars(buffer, buffer + sizeof buffer, static_cast<float>(x));
  else if (datatype == "FP64" || datatype == "FP16")
    r = std::to_chars(buffer, buffer + sizeof buffer, x);
  else
    r = std::to_chars(buffer, buffer + sizeof buffer, static_cast<std::int64_t>(x));
  out.append(buffer, r.ptr);
}

inline void append_tensor(std::string& out, const InferTensor& t) {
  out += "{\"name\":" + nlohmann::json(t.name).dump() + ",\"shape\":[";
  for (std::size_t k = 0; k < t.shape.size(); ++k) out += (k ? "," : "") + std::to_string(t.shape[k]);
  out += "],\"datatype\":\"" + t.datatype + "\",\"data\":[";
  for (std::size_t i = 0; i < t.data.size(); ++i) {
    if (i) out += ',';
    append_number(out, t.data[i], t.datatype);
  }
  out += "]}";
}

}  // namespace detail

/// The response as JSON text (written directly: the data arrays are the bulk of it).
inline std::string to_json_text(const InferResponse& r) {
  std::string out = "{\"model_name\":" + nlohmann::json(r.model_name).dump() +
                    ",\"model_version\":" + nlohmann::json(r.model_version).dump();
  if (!r.id.empty()) out += ",\"id\":" + nlohmann::json(r.id).dump();
  out += ",\"outputs\":[";
  for (std::size_t k = 0; k < r.outputs.size(); ++k) {
    if (k) out += ',';
    detail::append_tensor(out, r.outputs[k]);
  }
  out += "]}";
  return out;
}

/// A request as JSON text (clients and tests).
inline std::string to_json_text(const InferRequest& r) {
  std::string out = "{";
  if (!r.id.empty()) out += "\"id\":" + nlohmann::json(r.id).dump() + ",";
  out += "\"inputs\":[";
  for (std::size_t k = 0; k < r.inputs.size(); ++k) {
    if (k) out += ',';
    detail::append_tensor(out, r.inputs[k]);
  }
  out += "]";
  if (!r.outputs.empty()) {
    out += ",\"outputs\":[";
    for (std::size_t k = 0; k < r.outputs.size(); ++k)
      out += std::string(k ? "," : "") + "{\"name\":" + nlohmann::json(r.outputs[k]).dump() + "}";
    out += "]";
  }
  return out + "}";
}

/// Reads a response (clients and tests); malformed: InferenceError 400.
inline InferResponse parse_infer_response(std::string_view body) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    detail::bad_request(std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("outputs") || !j["outputs"].is_array())
    detail::bad_request("a response needs an 'outputs' array");
  InferResponse r;
  r.model_name = j.value("model_name", "");
  r.model_version = j.value("model_version", "");
  r.id = j.value("id", "");
  for (const auto& o : j["outputs"]) {
    InferTensor t;
    if (!o.is_object()) detail::bad_request("every output must be an object");
    t.name = o.value("name", "");
    t.datatype = o.value("datatype", "");
    const detail::InferDatatype* type = detail::find_infer_datatype(t.datatype);
    if (type == nullptr) detail::bad_request("output '" + t.name + "': unknown datatype '" + t.datatype + "'");
    if (!o.contains("shape") || !o["shape"].is_array()) detail::bad_request("output '" + t.name + "' has no shape");
    for (const auto& d : o["shape"]) {
      if (!d.is_number_integer() || d.get<std::int64_t>() < 0)
        detail::bad_request("output '" + t.name + "': bad shape");
      t.shape.push_back(d.get<std::int64_t>());
    }
    if (!o.contains("data") || !o["data"].is_array()) detail::bad_request("output '" + t.name + "' has no data");
    detail::read_tensor_values(o["data"], *type, t.name, InferCodecLimits{}.max_elements, t.data);
    if (static_cast<std::int64_t>(t.data.size()) != t.elements())
      detail::bad_request("output '" + t.name + "': data does not match its shape");
    r.outputs.push_back(std::move(t));
  }
  return r;
}

}  // namespace aimastery
