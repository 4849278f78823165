#pragma once
/// \file
/// The tensors of a safetensors file (https://github.com/huggingface/safetensors) in memory: their
/// dtypes, shapes and little-endian bytes, and the conversions to Matrix<T> and Tensor<T>. This header
/// needs no JSON: code that only builds or inspects tensors includes it alone, and the reader
/// (safetensors_read.hpp) and the writer (safetensors_write.hpp) add the file format.
///
///   Safetensors file;
///   file.add("0.weight", W);                     // a Matrix<float> is stored as F32, Matrix<double> as F64
///   file.metadata["format"] = "pt";
///   Matrix<double> W2 = file.matrix<double>("0.weight");   // any floating dtype converts to T

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// The element types of the format. Floating types convert to any T on reading; integer types and
/// BOOL are read (validated and converted to T) but never written.
enum class SafetensorsDtype { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

namespace detail {

struct SafetensorsDtypeInfo {
  SafetensorsDtype dtype;
  std::string_view name;
  std::size_t bytes;
};

inline constexpr SafetensorsDtypeInfo safetensors_dtypes[] = {
    {SafetensorsDtype::F64, "F64", 8},   {SafetensorsDtype::F32, "F32", 4}, {SafetensorsDtype::F16, "F16", 2},
    {SafetensorsDtype::BF16, "BF16", 2}, {SafetensorsDtype::I64, "I64", 8}, {SafetensorsDtype::I32, "I32", 4},
    {SafetensorsDtype::I16, "I16", 2},   {SafetensorsDtype::I8, "I8", 1},   {SafetensorsDtype::U8, "U8", 1},
    {SafetensorsDtype::BOOL, "BOOL", 1}};

inline const SafetensorsDtypeInfo& dtype_info(SafetensorsDtype dtype) {
  for (const auto& info : safetensors_dtypes)
    if (info.dtype == dtype) return info;
  throw InvalidArgument("safetensors: unknown dtype enumerator");
}

/// The number of elements of `shape`, or nothing when a dimension is negative or the product
/// overflows Index (checked before each multiplication; a zero dimension makes the product 0).
inline std::optional<Index> shape_elements(const std::vector<Index>& shape) {
  if (std::any_of(shape.begin(), shape.end(), [](Index d) { return d < 0; })) return std::nullopt;
  if (std::find(shape.begin(), shape.end(), Index(0)) != shape.end()) return Index(0);
  Index n = 1;
  for (Index d : shape) {
    if (n > std::numeric_limits<Index>::max() / d) return std::nullopt;
    n *= d;
  }
  return n;
}

/// The bytes that `shape` holds in `dtype`, or nothing when that overflows (or a dimension is negative).
inline std::optional<std::size_t> shape_bytes(const std::vector<Index>& shape, SafetensorsDtype dtype) {
  const std::optional<Index> n = shape_elements(shape);
  const std::size_t width = dtype_info(dtype).bytes;
  if (!n || static_cast<std::uint64_t>(*n) > std::numeric_limits<std::size_t>::max() / width) return std::nullopt;
  return static_cast<std::size_t>(*n) * width;
}

/// "(2, 3)": a shape for messages.
inline std::string shape_string(const std::vector<Index>& shape) {
  std::string s = "(";
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (k) s += ", ";
    s += std::to_string(shape[k]);
  }
  return s + ")";
}

/// Reads an unsigned little-endian integer of `n` bytes.
inline std::uint64_t load_little_endian(const unsigned char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

inline void store_little_endian(unsigned char* p, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

/// IEEE half (1 sign, 5 exponent, 10 mantissa bits) to float, subnormals, infinities and NaN included.
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    std::uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

}  // namespace detail

/// The name of a dtype as the format spells it ("F32").
inline std::string_view to_string(SafetensorsDtype dtype) { return detail::dtype_info(dtype).name; }

/// One tensor of a file: its dtype, shape and raw little-endian bytes.
struct SafetensorsTensor {
  SafetensorsDtype dtype = SafetensorsDtype::F32;
  std::vector<Index> shape;
  std::vector<unsigned char> bytes;

  /// The product of the shape. A negative dimension or a product beyond Index: InvalidArgument.
  [[nodiscard]] Index elements() const {
    const std::optional<Index> n = detail::shape_elements(shape);
    if (!n)
      throw InvalidArgument("SafetensorsTensor::elements: shape " + detail::shape_string(shape) +
                            " has a negative dimension or more elements than an Index holds");
    return *n;
  }

  /// The values converted to T in row-major order. Bytes that do not match dtype × shape: InvalidArgument.
  template <Scalar T>
  [[nodiscard]] std::vector<T> values() const {
    const std::optional<std::size_t> expected = detail::shape_bytes(shape, dtype);
    if (!expected || *expected != bytes.size())
      throw InvalidArgument("SafetensorsTensor::values: " + std::to_string(bytes.size()) + " bytes, dtype " +
                            std::string(to_string(dtype)) + " and shape " + detail::shape_string(shape) +
                            (expected ? " need " + std::to_string(*expected) : std::string(" overflow")));
    const std::size_t width = detail::dtype_info(dtype).bytes;
    const std::size_t n = bytes.size() / width;
    std::vector<T> out(n);
    const unsigned char* p = bytes.data();
    for (std::size_t i = 0; i < n; ++i, p += width) {
      const std::uint64_t raw = detail::load_little_endian(p, width);
      switch (dtype) {
        case SafetensorsDtype::F64:
          out[i] = static_cast<T>(std::bit_cast<double>(raw));
          break;
        case SafetensorsDtype::F32:
          out[i] = static_cast<T>(std::bit_cast<float>(static_cast<std::uint32_t>(raw)));
          break;
        case SafetensorsDtype::F16:
          out[i] = static_cast<T>(detail::half_to_float(static_cast<std::uint16_t>(raw)));
          break;
        case SafetensorsDtype::BF16:
          out[i] = static_cast<T>(std::bit_cast<float>(static_cast<std::uint32_t>(raw << 16)));
          break;
        case SafetensorsDtype::I64:
          out[i] = static_cast<T>(static_cast<std::int64_t>(raw));
          break;
        case SafetensorsDtype::I32:
          out[i] = static_cast<T>(static_cast<std::int32_t>(static_cast<std::uint32_t>(raw)));
          break;
        case SafetensorsDtype::I16:
          out[i] = static_cast<T>(static_cast<std::int16_t>(static_cast<std::uint16_t>(raw)));
          break;
        case SafetensorsDtype::I8:
          out[i] = static_cast<T>(static_cast<std::int8_t>(static_cast<std::uint8_t>(raw)));
          break;
        case SafetensorsDtype::U8:
        case SafetensorsDtype::BOOL:
          out[i] = static_cast<T>(raw);
          break;
      }
    }
    return out;
  }
};

/// The contents of a safetensors file: named tensors and the string metadata.
struct Safetensors {
  std::map<std::string, SafetensorsTensor> tensors;
  std::map<std::string, std::string> metadata;

  [[nodiscard]] bool contains(const std::string& name) const { return tensors.count(name) != 0; }

  [[nodiscard]] const SafetensorsTensor& at(const std::string& name) const {
    const auto it = tensors.find(name);
    if (it == tensors.end()) throw InvalidArgument("Safetensors::at: no tensor named '" + name + "'");
    return it->second;
  }

  /// Stores a matrix as a 2-D tensor (rows × cols) in dtype F64 or F32 (default: T's own).
  template <class Derived>
  void add(const std::string& name, const Eigen::MatrixBase<Derived>& m) {
    using T = typename Derived::Scalar;
    add(name, {m.rows(), m.cols()}, Matrix<T>(m).data(),
        std::is_same_v<T, float> ? SafetensorsDtype::F32 : SafetensorsDtype::F64);
  }
  /// Stores a Tensor with its shape.
  template <Scalar T>
  void add(const std::string& name, const Tensor<T>& t) {
    add(name, t.shape(), t.data(), std::is_same_v<T, float> ? SafetensorsDtype::F32 : SafetensorsDtype::F64);
  }
  /// Stores `shape`'s product of values from `data` converted to dtype F64 or F32.
  template <Scalar T>
  void add(const std::string& name, const std::vector<Index>& shape, const T* data, SafetensorsDtype dtype) {
    require(!name.empty() && name != "__metadata__", "Safetensors::add",
            [&] { return "invalid tensor name '" + name + "'"; });
    require(dtype == SafetensorsDtype::F64 || dtype == SafetensorsDtype::F32, "Safetensors::add", [&] {
      return "tensor '" + name + "': only F64 and F32 are written, got " + std::string(to_string(dtype));
    });
    require(std::none_of(shape.begin(), shape.end(), [](Index d) { return d < 0; }), "Safetensors::add",
            [&] { return "tensor '" + name + "' has a negative dimension " + detail::shape_string(shape); });
    const std::optional<std::size_t> byte_count = detail::shape_bytes(shape, dtype);
    require(byte_count.has_value(), "Safetensors::add",
            [&] { return "tensor '" + name + "': shape " + detail::shape_string(shape) + " overflows"; });
    SafetensorsTensor tensor{dtype, shape, std::vector<unsigned char>(*byte_count)};
    const std::size_t width = detail::dtype_info(dtype).bytes;
    const std::size_t n = *byte_count / width;
    unsigned char* out = tensor.bytes.data();
    for (std::size_t i = 0; i < n; ++i, out += width) {
      if (dtype == SafetensorsDtype::F64)
        detail::store_little_endian(out, std::bit_cast<std::uint64_t>(static_cast<double>(data[i])), 8);
      else
        detail::store_little_endian(out, std::bit_cast<std::uint32_t>(static_cast<float>(data[i])), 4);
    }
    tensors[name] = std::move(tensor);
  }

  /// A 2-D tensor (or a 1-D one, as a single row; a 0-D one as 1 × 1) as a Matrix<T>.
  template <Scalar T>
  [[nodiscard]] Matrix<T> matrix(const std::string& name) const {
    const SafetensorsTensor& t = at(name);
    require(t.shape.size() <= 2, "Safetensors::matrix", [&] {
      return "tensor '" + name + "' has rank " + std::to_string(t.shape.size()) + ", a matrix needs rank <= 2";
    });
    const std::vector<T> v = t.values<T>();  // checks the bytes against the shape
    const Index rows = t.shape.size() == 2 ? t.shape[0] : 1;
    const Index cols = t.shape.empty() ? 1 : t.shape.back();
    return Eigen::Map<const Matrix<T>>(v.data(), rows, cols);
  }
  /// Any tensor as a Tensor<T> of its shape.
  template <Scalar T>
  [[nodiscard]] Tensor<T> tensor(const std::string& name) const {
    const SafetensorsTensor& t = at(name);
    const std::vector<T> v = t.values<T>();  // checks the bytes against the shape
    Tensor<T> out(t.shape);
    std::copy(v.begin(), v.end(), out.data());
    return out;
  }
};

}  // namespace aimastery
