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
///
/// Reading. The body is read once by the strict pull reader of io/json_reader.hpp (RFC 8259: well-formed
/// UTF-8, no name twice in an object, nesting at most 256 deep, no number beyond a double's range). A
/// tensor's "data" goes straight into its vector of doubles, with no document in between; the small fields
/// are kept as they are read (strings, JsonValue for "shape" and "parameters"), and the checks then run
/// in a fixed order, so a request has one answer whatever the order of its keys. The leaves of "data"
/// are checked against the datatype once it is known: what is kept of them is where the first leaf of
/// each kind that some datatype refuses stands (a string, object or null; a boolean; a number with a
/// fraction), and the values; the text of the leaf named in a message is read again.
///
/// The codec's functions are templates with a defaulted parameter (called as plain functions), so that a
/// file that includes this header without calling them does not compile them.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/io/json.hpp"
#include "aimastery/io/json_reader.hpp"
#include "aimastery/io/json_scan.hpp"
#include "aimastery/io/json_string.hpp"
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
  JsonValue parameters = nullptr;         ///< the request's "parameters" object, if any
};

struct InferResponse {
  std::string model_name;
  std::string model_version;
  std::string id;
  std::vector<InferTensor> outputs;
};

struct InferCodecLimits {
  std::int64_t max_elements = std::int64_t(1) << 24;  ///< per tensor (16 Mi values)
  std::size_t max_inputs = 64;                        ///< tensors in a request
  std::size_t max_outputs = 64;                       ///< tensors in a response
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

/// [low, high]: the JSON numbers a datatype holds. An integer type: its range, capped at ±2⁵³ (the integers
/// a double holds exactly). A floating type: the numbers that round to a finite value of it, below
/// max + ulp(max)/2 in magnitude (that midpoint rounds to even, which is infinity): 2¹²⁸ − 2¹⁰³ for FP32,
/// 65520 for FP16.
template <class = void>
void datatype_range(const InferDatatype& t, double& low, double& high) {
  constexpr double exact = 9007199254740992.0;  // 2^53
  if (t.boolean) {
    low = 0, high = 1;
    return;
  }
  if (!t.integer) {
    const double midpoint = t.bytes == 4   ? std::ldexp(1.0, 128) - std::ldexp(1.0, 103)
                            : t.bytes == 2 ? 65520.0
                                           : std::numeric_limits<double>::infinity();
    high = std::nextafter(midpoint, 0.0);
    low = -high;
    return;
  }
  const int bits = 8 * t.bytes;
  high = t.is_signed ? std::ldexp(1.0, bits - 1) - 1 : std::ldexp(1.0, bits) - 1;
  low = t.is_signed ? -std::ldexp(1.0, bits - 1) : 0;
  high = std::min(high, exact);
  low = std::max(low, -exact);
}

[[noreturn]] inline void bad_request(const std::string& message) { throw InferenceError(400, message); }

/// Where the leaves of a tensor's "data" array (its numbers, flat or nested) that some datatype refuses
/// first stand, in the order read; `none` when there is no such leaf.
struct InferDataLeaves {
  static constexpr std::size_t none = std::size_t(-1);
  std::vector<double> values;      ///< the first `max_values` leaves: numbers, booleans as 1/0, others NaN
  std::size_t count = 0;           ///< leaves in all
  std::size_t first_other = none;  ///< a string, object or null: never a number
  std::size_t first_boolean = none;
  std::size_t first_fraction = none;  ///< a number with a fraction or exponent whose value is not an integer
  std::size_t too_deep = none;        ///< leaves before the first array nested more than 32 levels down
  std::size_t begin = 0, end = 0;     ///< the array's bytes in the text
};

/// The nesting limit of a request's JSON, as JsonValue::parse's.
constexpr int infer_max_depth = JsonValue::default_max_depth;

/// A number as JsonValue keeps it: `integer` for text without fraction or exponent that int64 or uint64
/// holds, and its value as a double (JsonValue::get<double>() of the same text).
template <class = void>
double json_number_value(const JsonReader::Number& number, const JsonReader& in, bool& integer) {
  integer = true;
  if (number.value) return static_cast<double>(*number.value);
  const std::string_view text = number.text;
  if (text.find_first_of(".eE") == std::string_view::npos) {
    std::int64_t n = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (error == std::errc() && end == text.data() + text.size()) return static_cast<double>(n);
  }
  integer = false;
  return json_number_to_double(text, in);
}

/// Reads a "data" array at `in` into `d`, keeping at most `max_values` values (the others are counted).
template <class = void>
void read_infer_leaves(JsonReader& in, InferDataLeaves& d, std::size_t max_values, int depth, int depth_left) {
  if (depth_left <= 0) in.syntax_error("nesting deeper than the limit");
  in.read_array([&](std::size_t) {
    double x = std::numeric_limits<double>::quiet_NaN();
    switch (in.peek()) {
      case JsonReader::Kind::array:
        if (depth + 1 > 32 && d.too_deep == InferDataLeaves::none) d.too_deep = d.count;
        read_infer_leaves(in, d, max_values, depth + 1, depth_left - 1);
        return;
      case JsonReader::Kind::number: {
        bool integer = false;
        x = json_number_value(in.read_number(), in, integer);
        if (!integer && std::floor(x) != x && d.first_fraction == InferDataLeaves::none) d.first_fraction = d.count;
        break;
      }
      case JsonReader::Kind::literal:
        if (const std::optional<bool> b = in.read_literal()) {
          x = *b ? 1 : 0;
          if (d.first_boolean == InferDataLeaves::none) d.first_boolean = d.count;
        } else if (d.first_other == InferDataLeaves::none) {  // null
          d.first_other = d.count;
        }
        break;
      default:  // a string or an object
        if (d.first_other == InferDataLeaves::none) d.first_other = d.count;
        skip_json_value(in, depth_left - 1);
    }
    if (d.count < max_values) d.values.push_back(x);
    ++d.count;
  });
}

/// The leaf `index` of the "data" array `d` of `text`, as a JsonValue (for a message).
template <class = void>
JsonValue infer_leaf(std::string_view text, const InferDataLeaves& d, std::size_t index) {
  const std::string_view data = text.substr(d.begin, d.end - d.begin);
  JsonReader in(data, "data");
  std::size_t seen = 0;
  JsonValue found;
  const auto walk = [&](const auto& self) -> void {
    in.read_array([&](std::size_t) {
      if (in.peek() == JsonReader::Kind::array && seen <= index) return self(self);
      if (seen++ == index) {
        found = read_small_json(in, data, infer_max_depth);
        return;
      }
      skip_json_value(in, infer_max_depth);
    });
  };
  walk(walk);
  return found;
}

/// The values of a tensor's data read into `d`, checked against the datatype as the protocol asks: at the
/// first leaf that breaks a rule, in order, the error of that rule (arrays nested deeper than 32 levels,
/// more than `max_elements` values: 413, a leaf that is not a number, a fraction in an integer datatype, a
/// value outside the datatype's range).
template <class = void>
std::vector<double> take_tensor_values(InferDataLeaves&& d, const InferDatatype& type, const std::string& input,
                                       std::int64_t max_elements, std::string_view text) {
  constexpr std::size_t none = InferDataLeaves::none;
  const auto max = static_cast<std::size_t>(max_elements);
  const std::size_t overflow = d.count > max ? max : none;
  const std::size_t not_a_number = std::min(d.first_other, type.boolean ? none : d.first_boolean);
  const std::size_t fraction = type.integer ? d.first_fraction : none;
  std::size_t out_of_range = none;
  {
    double low = 0, high = 0;
    datatype_range(type, low, high);
    for (std::size_t i = 0; i < d.values.size(); ++i)
      if (!(d.values[i] >= low && d.values[i] <= high)) {
        out_of_range = i;
        break;
      }
  }
  const std::size_t first = std::min({d.too_deep, overflow, not_a_number, fraction, out_of_range});
  if (first == none) return std::move(d.values);
  const std::string where = "input '" + input + "': ";
  if (first == d.too_deep) bad_request(where + "data is nested deeper than 32 levels");
  if (first == overflow) throw InferenceError(413, where + "more than " + std::to_string(max_elements) + " values");
  const std::string value = infer_leaf(text, d, first).dump();
  if (first == not_a_number)
    bad_request(where + "value " + value.substr(0, 40) + " is not a number (datatype " + std::string(type.name) + ")");
  if (first == fraction)
    bad_request(where + "value " + value + " is not an integer, as datatype " + std::string(type.name) + " needs");
  bad_request(where + "value " + value + " is outside the range of " + std::string(type.name));
}

/// IEEE half precision to double.
template <class = void>
double half_to_double(std::uint16_t h) {
  const int exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa ? std::numeric_limits<double>::quiet_NaN() : sign * HUGE_VAL;
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

/// The little-endian values of the binary tensor extension.
template <class = void>
void read_binary_values(std::string_view bytes, const InferDatatype& type, const std::string& input,
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
  /// A JSON number, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, as JsonValue reads it: an integer
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
template <class = void>
std::optional<InferRequest> parse_infer_request_fast(std::string_view body, const InferCodecLimits& limits) {
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
                // A dimension beyond the element limit (int64's largest rounds up to 2^63 as a double, past
                // int64) is left to the general reader, which names it.
                if (!c.number(x, integer) || !integer || x < 0 || x > static_cast<double>(limits.max_elements))
                  return std::nullopt;
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
        double low = 0, high = 0;
        datatype_range(*find_infer_datatype(t.datatype), low, high);
        for (const double v : t.data)
          if (!(v >= low && v <= high)) return std::nullopt;
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

/// A string member as read: absent, present but not a string, or its text.
struct JsonStringField {
  bool present = false, is_string = false;
  std::string text;
};

/// One element of a body's tensor array ("inputs" of a request, "outputs" of a response) as read.
struct RawInferTensor {
  bool object = false;
  JsonStringField name, datatype;
  std::optional<JsonValue> shape, parameters;
  bool has_data = false, data_array = false;
  InferDataLeaves data;
};

/// A request or response body as read, before any check but the grammar's.
struct RawInferBody {
  bool object = false;
  JsonStringField id, model_name, model_version;
  std::optional<JsonValue> parameters;
  bool has_tensors = false, tensors_array = false;
  std::size_t tensor_count = 0;                     ///< the elements of the tensor array
  std::vector<RawInferTensor> tensors;              ///< the first `max_tensors` of them
  bool has_outputs = false, outputs_array = false;  ///< a request's "outputs": the names it asks for
  bool output_without_name = false;                 ///< some element is not an object with a "name" string
  std::vector<std::string> outputs;                 ///< their names, while every element has one
};

template <class = void>
void read_string_field(JsonReader& in, JsonStringField& field, int depth_left) {
  field.present = true;
  if (in.peek() == JsonReader::Kind::string) {
    field.is_string = true;
    field.text = in.read_string();
  } else {
    skip_json_value(in, depth_left);
  }
}

template <class = void>
void read_raw_tensor(JsonReader& in, std::string_view text, RawInferTensor& t, std::size_t max_values, int depth_left) {
  if (in.peek() != JsonReader::Kind::object) return skip_json_value(in, depth_left);
  if (depth_left <= 0) in.syntax_error("nesting deeper than the limit");
  t.object = true;
  read_unique_members(in, [&](const std::string& name) {
    if (name == "name") {
      read_string_field(in, t.name, depth_left - 1);
    } else if (name == "datatype") {
      read_string_field(in, t.datatype, depth_left - 1);
    } else if (name == "shape") {
      t.shape = read_small_json(in, text, depth_left - 1);
    } else if (name == "parameters") {
      t.parameters = read_small_json(in, text, depth_left - 1);
    } else if (name == "data") {
      t.has_data = true;
      if (in.peek() != JsonReader::Kind::array) return skip_json_value(in, depth_left - 1);
      t.data_array = true;
      t.data.begin = in.position();
      read_infer_leaves(in, t.data, max_values, 0, depth_left - 1);
      t.data.end = in.position();
    } else {
      skip_json_value(in, depth_left - 1);
    }
  });
}

/// Reads a body whose tensors are under `tensors_key`; a request (`request`) also has "outputs", the names
/// it asks for. Text that breaks the grammar: 400 "malformed JSON (byte k: problem)". Only the first
/// `max_tensors` tensors are kept (a RawInferTensor is ~240 bytes: kept for each "0," of an 8 MB body, a
/// GB); the others are read as strictly, so that a syntax error after them is still the answer, and counted.
template <class = void>
RawInferBody read_raw_infer_body(std::string_view text, std::string_view tensors_key, bool request,
                                 std::size_t max_values, std::size_t max_tensors = SIZE_MAX) {
  RawInferBody body;
  JsonReader in(text, "malformed JSON");
  try {
    constexpr int depth = infer_max_depth;
    if (in.peek() != JsonReader::Kind::object) {
      skip_json_value(in, depth);
    } else {
      body.object = true;
      read_unique_members(in, [&](const std::string& name) {
        if (name == "id") {
          read_string_field(in, body.id, depth - 1);
        } else if (name == "model_name" && !request) {
          read_string_field(in, body.model_name, depth - 1);
        } else if (name == "model_version" && !request) {
          read_string_field(in, body.model_version, depth - 1);
        } else if (name == "parameters") {
          body.parameters = read_small_json(in, text, depth - 1);
        } else if (name == tensors_key) {
          body.has_tensors = true;
          if (in.peek() != JsonReader::Kind::array) return skip_json_value(in, depth - 1);
          body.tensors_array = true;
          in.read_array([&](std::size_t) {
            ++body.tensor_count;
            if (body.tensors.size() < max_tensors)
              return read_raw_tensor(in, text, body.tensors.emplace_back(), max_values, depth - 2);
            RawInferTensor dropped;  // past the limit: checked, not kept (nor its values)
            read_raw_tensor(in, text, dropped, 0, depth - 2);
          });
        } else if (name == "outputs" && request) {
          body.has_outputs = true;
          if (in.peek() != JsonReader::Kind::array) return skip_json_value(in, depth - 1);
          body.outputs_array = true;
          // The names only, while every element has one: an element without one is refused anyway.
          in.read_array([&](std::size_t) {
            JsonStringField output;
            if (in.peek() == JsonReader::Kind::object) {
              read_unique_members(in, [&](const std::string& member) {
                if (member == "name")
                  read_string_field(in, output, depth - 3);
                else
                  skip_json_value(in, depth - 3);
              });
            } else {
              skip_json_value(in, depth - 2);
            }
            body.output_without_name = body.output_without_name || !output.is_string;
            if (body.output_without_name)
              body.outputs.clear();
            else
              body.outputs.push_back(std::move(output.text));
          });
        } else {
          skip_json_value(in, depth - 1);
        }
      });
    }
    in.expect_end();
  } catch (const FormatError& e) {
    bad_request(e.what());
  }
  return body;
}

/// A dimension of a shape: a non-negative integer that int64 holds, else -1.
template <class = void>
std::int64_t infer_dimension(const JsonValue& d) {
  if (d.is_number_unsigned()) {
    const auto u = d.get<std::uint64_t>();
    return u <= std::uint64_t(std::numeric_limits<std::int64_t>::max()) ? static_cast<std::int64_t>(u) : -1;
  }
  if (!d.is_number_integer()) return -1;
  const auto i = d.get<std::int64_t>();
  return i < 0 ? -1 : i;
}

/// The general parser of parse_infer_request (every form of the protocol, and its errors).
template <class = void>
InferRequest parse_infer_request_general(std::string_view body, std::optional<std::size_t> header_length,
                                         const InferCodecLimits& limits) {
  if (header_length && *header_length > body.size())
    bad_request("Inference-Header-Content-Length " + std::to_string(*header_length) + " exceeds the body's " +
                std::to_string(body.size()) + " bytes");
  const std::string_view json_text = header_length ? body.substr(0, *header_length) : body;
  std::string_view binary = header_length ? body.substr(*header_length) : std::string_view{};

  // At most max_inputs inputs are kept: a longer array is refused below, by its count.
  RawInferBody j = read_raw_infer_body(json_text, "inputs", true, static_cast<std::size_t>(limits.max_elements) + 1,
                                       limits.max_inputs);
  if (!j.object) bad_request("the request must be a JSON object");
  InferRequest request;
  if (j.id.present) {
    if (!j.id.is_string) bad_request("'id' must be a string");
    request.id = std::move(j.id.text);
  }
  if (j.parameters) {
    if (!j.parameters->is_object()) bad_request("'parameters' must be an object");
    request.parameters = std::move(*j.parameters);
  }
  if (!j.tensors_array || j.tensor_count == 0) bad_request("'inputs' must be a non-empty array of tensors");
  if (j.tensor_count > limits.max_inputs)
    bad_request("too many inputs: " + std::to_string(j.tensor_count) + " > " + std::to_string(limits.max_inputs));

  for (RawInferTensor& in : j.tensors) {
    if (!in.object) bad_request("every input must be an object");
    InferTensor t;
    if (!in.name.is_string) bad_request("an input has no 'name' string");
    t.name = std::move(in.name.text);
    if (!in.datatype.is_string) bad_request("input '" + t.name + "' has no 'datatype' string");
    t.datatype = std::move(in.datatype.text);
    const detail::InferDatatype* type = detail::find_infer_datatype(t.datatype);
    if (type == nullptr)
      bad_request("input '" + t.name + "': datatype '" + t.datatype +
                  (t.datatype == "BYTES" ? "' is not numeric; this model takes numbers"
                                         : "' is unknown (BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64)"));
    if (!in.shape || !in.shape->is_array()) bad_request("input '" + t.name + "' has no 'shape' array");
    std::int64_t elements = 1;
    for (const JsonValue& d : in.shape->elements()) {
      const std::int64_t size = infer_dimension(d);
      if (size < 0)
        bad_request("input '" + t.name + "': shape " + in.shape->dump() + " must hold non-negative integers");
      if (size > 0 && elements > limits.max_elements / size)
        throw InferenceError(413, "input '" + t.name + "': shape " + in.shape->dump() + " has more than " +
                                      std::to_string(limits.max_elements) + " elements");
      elements *= size;
      t.shape.push_back(size);
    }
    std::optional<std::size_t> binary_size;
    if (in.parameters) {
      if (!in.parameters->is_object()) bad_request("input '" + t.name + "': 'parameters' must be an object");
      if (const JsonValue* b = in.parameters->find("binary_data_size")) {
        if (!b->is_number_unsigned()) bad_request("input '" + t.name + "': binary_data_size must be unsigned");
        binary_size = b->get<std::size_t>();
      }
    }
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
      if (!in.data_array) bad_request("input '" + t.name + "' has no 'data' array");
      const std::size_t count = in.data.count;
      t.data = take_tensor_values(std::move(in.data), *type, t.name, limits.max_elements, json_text);
      if (static_cast<std::int64_t>(count) != elements)
        bad_request("input '" + t.name + "': shape " + in.shape->dump() + " needs " + std::to_string(elements) +
                    " values, data holds " + std::to_string(count));
    }
    request.inputs.push_back(std::move(t));
  }
  if (header_length && !binary.empty())
    bad_request(std::to_string(binary.size()) + " bytes of binary data are not claimed by any input");

  if (j.has_outputs) {
    if (!j.outputs_array) bad_request("'outputs' must be an array");
    if (j.output_without_name) bad_request("every requested output needs a 'name' string");
    request.outputs = std::move(j.outputs);
  }
  return request;
}

}  // namespace detail

/// Parses an inference request. `header_length`: the Inference-Header-Content-Length of the binary
/// extension (the JSON is body[0, header_length), the tensors' bytes follow), or nothing for pure JSON.
/// The common JSON request is read by a direct parser (detail::parse_infer_request_fast); everything else,
/// errors included, by detail::parse_infer_request_general.
template <class = void>
InferRequest parse_infer_request(std::string_view body, std::optional<std::size_t> header_length = std::nullopt,
                                 const InferCodecLimits& limits = {}) {
  if (!header_length)
    if (std::optional<InferRequest> request = detail::parse_infer_request_fast(body, limits))
      return std::move(*request);
  return detail::parse_infer_request_general(body, header_length, limits);
}

namespace detail {

/// The shortest text that reads back as the same value: std::to_chars in the tensor's precision. A
/// negative zero of a floating-point tensor is "-0.0": "-0" is an integer to JSON readers (Python's json,
/// this parser), which read it as +0.
template <class = void>
void append_number(std::string& out, double x, std::string_view datatype) {
  if (!std::isfinite(x)) {
    out += "null";  // JSON has no NaN or infinity
    return;
  }
  const bool floating = datatype == "FP32" || datatype == "FP64" || datatype == "FP16";
  if (floating && x == 0 && std::signbit(x)) {
    out += "-0.0";
    return;
  }
  char buffer[32];
  std::to_chars_result r{};
  // FP32 as the float it is (shortest digits), unless x is beyond a float's range, where the cast would be
  // undefined: then the double itself, so that the text reads back to x.
  if (datatype == "FP32" && std::abs(x) <= std::numeric_limits<float>::max())
    r = std::to_chars(buffer, buffer + sizeof buffer, static_cast<float>(x));
  else if (floating)
    r = std::to_chars(buffer, buffer + sizeof buffer, x);
  else if (x >= 0x1p63)  // UINT64 above int64's range (the parser keeps integers within their type's range)
    r = std::to_chars(buffer, buffer + sizeof buffer, static_cast<std::uint64_t>(std::min(x, 0x1p64 - 2048)));
  else
    r = std::to_chars(buffer, buffer + sizeof buffer, static_cast<std::int64_t>(std::max(x, -0x1p63)));
  out.append(buffer, r.ptr);
}

/// Appends `s` as a JSON string; InvalidArgument when it is not UTF-8.
template <class = void>
void append_infer_string(std::string& out, std::string_view s) {
  if (!append_json_string(out, s)) throw InvalidArgument("to_json_text: a name or id is not valid UTF-8");
}

template <class = void>
void append_tensor(std::string& out, const InferTensor& t) {
  out += "{\"name\":";
  append_infer_string(out, t.name);
  out += ",\"shape\":[";
  for (std::size_t k = 0; k < t.shape.size(); ++k) {
    if (k) out += ',';
    out += std::to_string(t.shape[k]);
  }
  out.append("],\"datatype\":\"").append(t.datatype).append("\",\"data\":[");
  for (std::size_t i = 0; i < t.data.size(); ++i) {
    if (i) out += ',';
    append_number(out, t.data[i], t.datatype);
  }
  out += "]}";
}

}  // namespace detail

/// The response as JSON text (written directly: the data arrays are the bulk of it).
template <class = void>
std::string to_json_text(const InferResponse& r) {
  std::string out = "{\"model_name\":";
  detail::append_infer_string(out, r.model_name);
  out += ",\"model_version\":";
  detail::append_infer_string(out, r.model_version);
  if (!r.id.empty()) {
    out += ",\"id\":";
    detail::append_infer_string(out, r.id);
  }
  out += ",\"outputs\":[";
  for (std::size_t k = 0; k < r.outputs.size(); ++k) {
    if (k) out += ',';
    detail::append_tensor(out, r.outputs[k]);
  }
  out += "]}";
  return out;
}

/// A request as JSON text (clients and tests).
template <class = void>
std::string to_json_text(const InferRequest& r) {
  std::string out = "{";
  if (!r.id.empty()) {
    out += "\"id\":";
    detail::append_infer_string(out, r.id);
    out += ",";
  }
  out += "\"inputs\":[";
  for (std::size_t k = 0; k < r.inputs.size(); ++k) {
    if (k) out += ',';
    detail::append_tensor(out, r.inputs[k]);
  }
  out += "]";
  if (!r.outputs.empty()) {
    out += ",\"outputs\":[";
    for (std::size_t k = 0; k < r.outputs.size(); ++k) {
      out += k ? ",{\"name\":" : "{\"name\":";
      detail::append_infer_string(out, r.outputs[k]);
      out += "}";
    }
    out += "]";
  }
  return out + "}";
}

/// Reads a response (clients and tests); malformed: InferenceError 400, as are more than
/// `limits.max_outputs` outputs or more than `limits.max_elements` values in one (at most max_outputs of
/// them are read into memory: a body of many small outputs is refused by their count).
template <class = void>
InferResponse parse_infer_response(std::string_view body, const InferCodecLimits& limits = {}) {
  using detail::bad_request;
  const std::int64_t max_elements = limits.max_elements;
  detail::RawInferBody j = detail::read_raw_infer_body(body, "outputs", false,
                                                       static_cast<std::size_t>(max_elements) + 1, limits.max_outputs);
  if (!j.object || !j.tensors_array) bad_request("a response needs an 'outputs' array");
  if (j.tensor_count > limits.max_outputs)
    bad_request("too many outputs: " + std::to_string(j.tensor_count) + " > " + std::to_string(limits.max_outputs));
  InferResponse r;
  for (auto [field, out] : {std::pair{&j.model_name, &r.model_name}, std::pair{&j.model_version, &r.model_version},
                            std::pair{&j.id, &r.id}}) {
    if (field->present && !field->is_string) bad_request("a response's model_name, model_version and id are strings");
    *out = std::move(field->text);
  }
  for (detail::RawInferTensor& o : j.tensors) {
    InferTensor t;
    if (!o.object) bad_request("every output must be an object");
    if (o.name.present && !o.name.is_string) bad_request("every output's 'name' must be a string");
    t.name = std::move(o.name.text);
    t.datatype = o.datatype.is_string ? std::move(o.datatype.text) : std::string();
    const detail::InferDatatype* type = detail::find_infer_datatype(t.datatype);
    if (type == nullptr) bad_request("output '" + t.name + "': unknown datatype '" + t.datatype + "'");
    if (!o.shape || !o.shape->is_array()) bad_request("output '" + t.name + "' has no shape");
    std::int64_t elements = 1;
    for (const JsonValue& d : o.shape->elements()) {
      const std::int64_t size = detail::infer_dimension(d);
      if (size < 0 || (size > 0 && elements > max_elements / size)) bad_request("output '" + t.name + "': bad shape");
      elements *= size;
      t.shape.push_back(size);
    }
    if (!o.data_array) bad_request("output '" + t.name + "' has no data");
    const std::size_t count = o.data.count;
    t.data = detail::take_tensor_values(std::move(o.data), *type, t.name, max_elements, body);
    if (static_cast<std::int64_t>(count) != t.elements())
      bad_request("output '" + t.name + "': data does not match its shape");
    r.outputs.push_back(std::move(t));
  }
  return r;
}

}  // namespace aimastery
