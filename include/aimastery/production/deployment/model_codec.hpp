#pragma once
/// \file
/// ModelCodec<Model>: how one kind of model turns into tensors and JSON and back. The model headers
/// declare `template <class> friend struct ModelCodec;` so that a codec may read and restore their fitted
/// state; each codec (classical_codecs.hpp, network_codec.hpp) specialises
///
///   template <Scalar T> struct ModelCodec<LinearRegressionScratch<T>> {
///     static constexpr std::string_view kind = "LinearRegressionScratch";
///     static void save(const Model& m, ModelWriter& out);       // tensors, hyper-parameters, state
///     static Model load(const ModelReader& in);                 // a new model, every field checked
///   };
///
/// ModelWriter collects the tensors and the JSON; ModelReader hands them back checked: a missing tensor,
/// a wrong shape or dtype, a non-finite value, a missing or mistyped JSON field is a FormatError naming
/// the file and the field, never an out-of-range read.

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/io/json.hpp"
#include "aimastery/io/safetensors_tensor.hpp"

namespace aimastery {

template <class Model>
struct ModelCodec;

/// "float32" or "float64".
template <Scalar T>
constexpr std::string_view scalar_name() {
  return std::is_same_v<T, float> ? "float32" : "float64";
}

/// The tensors and JSON fields a codec writes.
class ModelWriter {
 public:
  Safetensors tensors;
  JsonValue hyper_parameters = JsonValue::object();
  JsonValue state = JsonValue::object();

  /// A matrix as a rank-2 tensor in its own precision.
  template <class Derived>
  void matrix(const std::string& name, const Eigen::MatrixBase<Derived>& m) {
    tensors.add(name, m);
  }
  /// A vector (any Eigen vector or std::vector<T>) as a rank-1 tensor.
  template <class Derived>
  void vector(const std::string& name, const Eigen::MatrixBase<Derived>& v) {
    using S = typename Derived::Scalar;
    const Vector<S> copy = v.reshaped();
    tensors.add(name, std::vector<Index>{copy.size()}, copy.data(),
                std::is_same_v<S, float> ? SafetensorsDtype::F32 : SafetensorsDtype::F64);
  }
  template <Scalar S>
  void vector(const std::string& name, const std::vector<S>& v) {
    tensors.add(name, std::vector<Index>{static_cast<Index>(v.size())}, v.data(),
                std::is_same_v<S, float> ? SafetensorsDtype::F32 : SafetensorsDtype::F64);
  }
  /// Integers (labels, node indices) as an I64 tensor.
  template <class Range>
  void integers(const std::string& name, const Range& values) {
    SafetensorsTensor t{SafetensorsDtype::I64, {static_cast<Index>(std::size(values))}, {}};
    t.bytes.resize(8 * std::size(values));
    std::size_t i = 0;
    for (const auto v : values)
      detail::store_little_endian(t.bytes.data() + 8 * i++, static_cast<std::uint64_t>(static_cast<std::int64_t>(v)),
                                  8);
    tensors.tensors[name] = std::move(t);
  }
};

/// A JSON number, or "inf" / "-inf" / "nan" for the values JSON cannot hold (C = ∞ in logistic regression).
inline JsonValue json_double(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return x;
}

/// The tensors and JSON fields a codec reads, each checked. Every failure: FormatError
/// "ModelSerializer::load: <file>: <problem>".
class ModelReader {
 public:
  ModelReader(const Safetensors& tensors, const JsonValue& hyper_parameters, const JsonValue& state, std::string source)
      : tensors_(tensors), hyper_(hyper_parameters), state_(state), source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& problem) const {
    throw FormatError("ModelSerializer::load: " + source_ + ": " + problem);
  }
  [[nodiscard]] const std::string& source() const noexcept { return source_; }
  [[nodiscard]] const JsonValue& hyper_parameters() const noexcept { return hyper_; }
  [[nodiscard]] const JsonValue& state() const noexcept { return state_; }
  [[nodiscard]] const Safetensors& tensors() const noexcept { return tensors_; }

  // ------------------------------------------------------------------------------------------ JSON
  [[nodiscard]] const JsonValue& field(const JsonValue& object, std::string_view key) const {
    const JsonValue* found = object.find(key);
    if (found == nullptr) fail("field '" + std::string(key) + "' is missing");
    return *found;
  }
  [[nodiscard]] bool boolean(const JsonValue& object, std::string_view key) const {
    const auto& v = field(object, key);
    if (!v.is_boolean()) fail("field '" + std::string(key) + "' is not a boolean");
    return v.get<bool>();
  }
  [[nodiscard]] double number(const JsonValue& object, std::string_view key) const {
    const auto& v = field(object, key);
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
      const std::string& s = v.as_string();
      if (s == "inf") return std::numeric_limits<double>::infinity();
      if (s == "-inf") return -std::numeric_limits<double>::infinity();
      if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    }
    fail("field '" + std::string(key) + "' is not a number");
  }
  /// An integer in [low, high].
  [[nodiscard]] std::int64_t integer(const JsonValue& object, std::string_view key, std::int64_t low,
                                     std::int64_t high) const {
    const auto& v = field(object, key);
    if (!v.is_number_integer()) fail("field '" + std::string(key) + "' is not an integer");
    if (v.is_number_unsigned() &&
        v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail("field '" + std::string(key) + "' is out of range");
    const auto x = v.get<std::int64_t>();
    if (x < low || x > high)
      fail("field '" + std::string(key) + "' = " + std::to_string(x) + " is outside [" + std::to_string(low) + ", " +
           std::to_string(high) + "]");
    return x;
  }
  [[nodiscard]] std::uint64_t unsigned_integer(const JsonValue& object, std::string_view key) const {
    const auto& v = field(object, key);
    if (!v.is_number_unsigned()) fail("field '" + std::string(key) + "' is not a non-negative integer");
    return v.get<std::uint64_t>();
  }
  [[nodiscard]] std::string text(const JsonValue& object, std::string_view key) const {
    const auto& v = field(object, key);
    if (!v.is_string()) fail("field '" + std::string(key) + "' is not a string");
    return v.as_string();
  }
  /// One of `names` (an enumeration written by name); returns its position.
  [[nodiscard]] std::size_t choice(const JsonValue& object, std::string_view key,
                                   std::initializer_list<std::string_view> names) const {
    const std::string value = text(object, key);
    std::size_t i = 0;
    for (std::string_view name : names) {
      if (name == value) return i;
      ++i;
    }
    fail("field '" + std::string(key) + "' has an unknown value '" + value + "'");
  }

  // --------------------------------------------------------------------------------------- tensors
  [[nodiscard]] bool has(const std::string& name) const { return tensors_.contains(name); }
  /// The tensor `name`, of the given shape (−1: any size on that axis) and a floating dtype, all finite.
  template <Scalar T>
  [[nodiscard]] std::vector<T> floats(const std::string& name, const std::vector<Index>& shape) const {
    const SafetensorsTensor& t = tensor(name, shape);
    if (t.dtype != SafetensorsDtype::F64 && t.dtype != SafetensorsDtype::F32)
      fail("tensor '" + name + "' has dtype " + std::string(to_string(t.dtype)) + ", expected F32 or F64");
    std::vector<T> v = t.values<T>();
    for (const T x : v)
      if (!std::isfinite(x)) fail("tensor '" + name + "' contains NaN or infinity");
    return v;
  }
  template <Scalar T>
  [[nodiscard]] Matrix<T> matrix(const std::string& name, Index rows, Index cols) const {
    const std::vector<T> v = floats<T>(name, {rows, cols});
    const SafetensorsTensor& t = tensors_.at(name);
    return Eigen::Map<const Matrix<T>>(v.data(), t.shape[0], t.shape[1]);
  }
  template <Scalar T>
  [[nodiscard]] Vector<T> vector(const std::string& name, Index size) const {
    const std::vector<T> v = floats<T>(name, {size});
    return Eigen::Map<const Vector<T>>(v.data(), static_cast<Index>(v.size()));
  }
  /// An I64 tensor of `size` entries (−1: any), each in [low, high].
  [[nodiscard]] std::vector<std::int64_t> integers(const std::string& name, Index size, std::int64_t low,
                                                   std::int64_t high) const {
    const SafetensorsTensor& t = tensor(name, {size});
    if (t.dtype != SafetensorsDtype::I64)
      fail("tensor '" + name + "' has dtype " + std::string(to_string(t.dtype)) + ", expected I64");
    std::vector<std::int64_t> v(t.bytes.size() / 8);
    for (std::size_t i = 0; i < v.size(); ++i) {
      v[i] = static_cast<std::int64_t>(detail::load_little_endian(t.bytes.data() + 8 * i, 8));
      if (v[i] < low || v[i] > high)
        fail("tensor '" + name + "' entry " + std::to_string(i) + " = " + std::to_string(v[i]) + " is outside [" +
             std::to_string(low) + ", " + std::to_string(high) + "]");
    }
    return v;
  }
  /// The size of axis `axis` of tensor `name` (which must exist with rank > axis).
  [[nodiscard]] Index dim(const std::string& name, std::size_t axis) const {
    if (!tensors_.contains(name)) fail("tensor '" + name + "' is missing");
    const SafetensorsTensor& t = tensors_.at(name);
    if (t.shape.size() <= axis) fail("tensor '" + name + "' has rank " + std::to_string(t.shape.size()));
    return t.shape[axis];
  }

 private:
  const SafetensorsTensor& tensor(const std::string& name, const std::vector<Index>& shape) const {
    if (!tensors_.contains(name)) fail("tensor '" + name + "' is missing");
    const SafetensorsTensor& t = tensors_.at(name);
    bool same = t.shape.size() == shape.size();
    for (std::size_t k = 0; same && k < shape.size(); ++k) same = shape[k] < 0 || shape[k] == t.shape[k];
    if (!same) {
      std::string expected = "(";
      for (std::size_t k = 0; k < shape.size(); ++k)
        expected += (k ? ", " : "") + (shape[k] < 0 ? std::string("any") : std::to_string(shape[k]));
      fail("tensor '" + name + "' has shape " + detail::shape_string(t.shape) + ", expected " + expected + ")");
    }
    return t;
  }

  const Safetensors& tensors_;
  const JsonValue& hyper_;
  const JsonValue& state_;
  std::string source_;
};

}  // namespace aimastery
