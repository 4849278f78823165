#pragma once
/// \file
/// Reader and writer of the safetensors format (https://github.com/huggingface/safetensors), the weights
/// format PyTorch, NumPy and the Hugging Face tools read and write:
///
///   bytes 0..7       N, the header length, unsigned 64-bit little endian
///   bytes 8..8+N     a JSON object {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...,
///                    optionally "__metadata__": {"<key>": "<string value>"}}, possibly padded with spaces
///   the rest         the byte buffer; tensor <name> is bytes [b, e) of it, row-major, little endian
///
///   Safetensors file;
///   file.add("0.weight", W);                     // a Matrix<float> is stored as F32, Matrix<double> as F64
///   file.metadata["format"] = "pt";
///   write_safetensors("model.safetensors", file);
///   auto back = read_safetensors("model.safetensors");
///   Matrix<double> W2 = back.matrix<double>("0.weight");   // any floating dtype converts to T
///
/// Every length in a file is hostile: the reader checks N against the real file size (and caps it at
/// 100 MB, as the reference implementation does), parses the header as strict JSON (duplicate names
/// refused), checks each dtype and shape (no overflow in the element count), each tensor's offsets against
/// the buffer and against dtype × shape, and that the tensors tile the buffer exactly (no overlap, no
/// hole, as the specification requires). Anything else is a FormatError; nothing is allocated beyond the
/// size of the file.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <string>
#include <string_view>
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

/// "a: b" with a and b both for the error messages of a named tensor.
inline std::string tensor_where(std::string_view source, std::string_view name) {
  return "read_safetensors: " + std::string(source) + ": tensor '" + std::string(name) + "'";
}

}  // namespace detail

/// The name of a dtype as the format spells it ("F32").
inline std::string_view to_string(SafetensorsDtype dtype) { return detail::dtype_info(dtype).name; }

/// One tensor of a file: its dtype, shape and raw little-endian bytes.
struct SafetensorsTensor {
  SafetensorsDtype dtype = SafetensorsDtype::F32;
  std::vector<Index> shape;
  std::vector<unsigned char> bytes;

  [[nodiscard]] Index elements() const {
    Index n = 1;
    for (Index d : shape) n *= d;
    return n;
  }

  /// The values converted to T in row-major order.
  template <Scalar T>
  [[nodiscard]] std::vector<T> values() const {
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
    require(!name.empty() && name != "__metadata__", "Safetensors::add", "invalid tensor name '" + name + "'");
    require(dtype == SafetensorsDtype::F64 || dtype == SafetensorsDtype::F32, "Safetensors::add",
            "tensor '" + name + "': only F64 and F32 are written, got " + std::string(to_string(dtype)));
    Index n = 1;
    for (Index d : shape) {
      require(d >= 0, "Safetensors::add", "tensor '" + name + "' has a negative dimension");
      n *= d;
    }
    SafetensorsTensor tensor{dtype, shape, {}};
    const std::size_t width = detail::dtype_info(dtype).bytes;
    tensor.bytes.resize(static_cast<std::size_t>(n) * width);
    unsigned char* out = tensor.bytes.data();
    for (Index i = 0; i < n; ++i, out += width) {
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
    require(t.shape.size() <= 2, "Safetensors::matrix",
            "tensor '" + name + "' has rank " + std::to_string(t.shape.size()) + ", a matrix needs rank <= 2");
    const Index rows = t.shape.size() == 2 ? t.shape[0] : 1;
    const Index cols = t.shape.empty() ? 1 : t.shape.back();
    const std::vector<T> v = t.values<T>();
    return Eigen::Map<const Matrix<T>>(v.data(), rows, cols);
  }
  /// Any tensor as a Tensor<T> of its shape.
  template <Scalar T>
  [[nodiscard]] Tensor<T> tensor(const std::string& name) const {
    const SafetensorsTensor& t = at(name);
    Tensor<T> out(t.shape);
    const std::vector<T> v = t.values<T>();
    std::copy(v.begin(), v.end(), out.data());
    return out;
  }
};

/// Parses a whole safetensors file held in memory. `source` names it in error messages.
inline Safetensors parse_safetensors(std::span<const unsigned char> bytes, std::string_view source = "<memory>") {
  const std::string where = "read_safetensors: " + std::string(source);
  auto fail = [&](const std::string& message) -> FormatError { return FormatError(where + ": " + message); };
  constexpr std::uint64_t max_header = 100'000'000;
  if (bytes.size() < 8)
    throw fail("truncated: " + std::to_string(bytes.size()) + " bytes, the header length alone needs 8");
  const std::uint64_t header_length = detail::load_little_endian(bytes.data(), 8);
  if (header_length > bytes.size() - 8)
    throw fail("header length " + std::to_string(header_length) + " exceeds the " + std::to_string(bytes.size() - 8) +
               " bytes after it");
  if (header_length > max_header) throw fail("header length " + std::to_string(header_length) + " exceeds 100 MB");
  if (header_length < 2)
    throw fail("header length " + std::to_string(header_length) + " is too short for a JSON object");
  const auto header_bytes = bytes.subspan(8, static_cast<std::size_t>(header_length));
  if (header_bytes[0] != '{') throw fail("the header does not start with '{'");
  const std::span<const unsigned char> buffer = bytes.subspan(8 + static_cast<std::size_t>(header_length));

  // Strict JSON, refusing a name given twice within one object.
  std::vector<std::set<std::string>> keys_per_depth;
  std::string duplicate;
  const nlohmann::json::parser_callback_t refuse_duplicates = [&](int depth, nlohmann::json::parse_event_t event,
                                                                  nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    const auto level = static_cast<std::size_t>(depth);
    if (event == E::object_start) {
      if (keys_per_depth.size() <= level) keys_per_depth.resize(level + 1);
      keys_per_depth[level].clear();
    } else if (event == E::key && level >= 1 && level <= keys_per_depth.size()) {
      if (!keys_per_depth[level - 1].insert(parsed.get<std::string>()).second && duplicate.empty())
        duplicate = parsed.get<std::string>();
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_bytes.begin(), header_bytes.end(), refuse_duplicates);
  } catch (const nlohmann::json::exception& e) {
    throw fail(std::string("the header is not valid JSON (") + e.what() + ")");
  }
  if (!duplicate.empty()) throw fail("the header names '" + duplicate + "' twice");
  if (!header.is_object()) throw fail("the header is not a JSON object");

  Safetensors out;
  struct Claim {
    std::uint64_t begin, end;
    std::string name;
  };
  std::vector<Claim> claims;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw fail("__metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) throw fail("__metadata__ value of '" + key + "' is not a string");
        out.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string tensor_where = "tensor '" + name + "'";
    if (!entry.is_object()) throw fail(tensor_where + " is not an object");
    for (const auto& [key, _] : entry.items())
      if (key != "dtype" && key != "shape" && key != "data_offsets")
        throw fail(tensor_where + " has an unknown field '" + key + "'");
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) throw fail(tensor_where + " has no dtype string");
    if (!entry.contains("shape") || !entry["shape"].is_array()) throw fail(tensor_where + " has no shape array");
    if (!entry.contains("data_offsets") || !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2)
      throw fail(tensor_where + " has no data_offsets [begin, end]");
    const std::string dtype_name = entry["dtype"].get<std::string>();
    const detail::SafetensorsDtypeInfo* info = nullptr;
    for (const auto& candidate : detail::safetensors_dtypes)
      if (candidate.name == dtype_name) info = &candidate;
    if (info == nullptr) throw fail(tensor_where + " has an unsupported dtype '" + dtype_name + "'");

    // The element count, never overflowing: every partial product stays <= the buffer size.
    SafetensorsTensor tensor;
    tensor.dtype = info->dtype;
    std::uint64_t elements = 1;
    bool empty = false;
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned()) throw fail(tensor_where + " has a shape entry that is not a non-negative integer");
      const std::uint64_t dim = d.get<std::uint64_t>();
      if (dim > static_cast<std::uint64_t>(std::numeric_limits<Index>::max()))
        throw fail(tensor_where + " has a dimension too large (" + std::to_string(dim) + ")");
      tensor.shape.push_back(static_cast<Index>(dim));
      if (dim == 0) empty = true;
      if (!empty && dim > buffer.size() / std::max<std::uint64_t>(elements, 1)) {
        // elements·dim > buffer size: it cannot fit (unless a later dimension is 0).
        elements = std::numeric_limits<std::uint64_t>::max();
      } else if (!empty && elements != std::numeric_limits<std::uint64_t>::max()) {
        elements *= dim;
      }
    }
    if (empty) elements = 0;
    const auto& offsets = entry["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      throw fail(tensor_where + " has data_offsets that are not non-negative integers");
    const std::uint64_t begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
    if (begin > end)
      throw fail(tensor_where + " has data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                 "] in the wrong order");
    if (end > buffer.size())
      throw fail(tensor_where + " ends at byte " + std::to_string(end) + " beyond the " +
                 std::to_string(buffer.size()) + "-byte buffer");
    if (elements == std::numeric_limits<std::uint64_t>::max() || elements * info->bytes != end - begin)
      throw fail(tensor_where + " claims " + std::to_string(end - begin) + " bytes, its dtype " + dtype_name +
                 " and shape need " +
                 (elements == std::numeric_limits<std::uint64_t>::max() ? std::string("more than the buffer")
                                                                        : std::to_string(elements * info->bytes)));
    tensor.bytes.assign(buffer.begin() + static_cast<std::ptrdiff_t>(begin),
                        buffer.begin() + static_cast<std::ptrdiff_t>(end));
    claims.push_back({begin, end, name});
    out.tensors.emplace(name, std::move(tensor));
  }

  // The tensors must tile the buffer: sorted by offsets, each starts where the previous ends.
  std::sort(claims.begin(), claims.end(),
            [](const Claim& a, const Claim& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  std::uint64_t position = 0;
  for (const Claim& c : claims) {
    if (c.begin < position) throw fail("tensor '" + c.name + "' overlaps the previous tensor's bytes");
    if (c.begin > position)
      throw fail("a hole in the buffer before tensor '" + c.name + "' (bytes " + std::to_string(position) + " to " +
                 std::to_string(c.begin) + ")");
    position = c.end;
  }
  if (position != buffer.size())
    throw fail("the buffer has " + std::to_string(buffer.size() - position) + " bytes after the last tensor");
  return out;
}

/// Reads and validates a safetensors file. Missing file, short read or a malformed file: FormatError.
inline Safetensors read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw FormatError("read_safetensors: cannot open '" + path + "'");
  const std::streamoff size = in.tellg();
  if (size < 0) throw FormatError("read_safetensors: cannot determine the size of '" + path + "'");
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw FormatError("read_safetensors: cannot read '" + path + "'");
  return parse_safetensors(bytes, path);
}

/// The file's bytes: header (tensors in name order, padded with spaces to a multiple of 8 bytes so the
/// buffer is aligned, as the reference writer does) and the buffer.
inline std::vector<unsigned char> serialize_safetensors(const Safetensors& file) {
  nlohmann::json header = nlohmann::json::object();
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : file.tensors) {
    require(!name.empty() && name != "__metadata__", "write_safetensors", "invalid tensor name '" + name + "'");
    std::uint64_t elements = 1;
    for (Index d : tensor.shape) {
      require(d >= 0, "write_safetensors", "tensor '" + name + "' has a negative dimension");
      elements *= static_cast<std::uint64_t>(d);
    }
    require(elements * detail::dtype_info(tensor.dtype).bytes == tensor.bytes.size(), "write_safetensors",
            "tensor '" + name + "' has " + std::to_string(tensor.bytes.size()) + " bytes, its dtype and shape need " +
                std::to_string(elements * detail::dtype_info(tensor.dtype).bytes));
    nlohmann::json shape = nlohmann::json::array();
    for (Index d : tensor.shape) shape.push_back(static_cast<std::uint64_t>(d));
    header[name] = {{"dtype", std::string(to_string(tensor.dtype))},
                    {"shape", shape},
                    {"data_offsets", {offset, offset + tensor.bytes.size()}}};
    offset += tensor.bytes.size();
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::vector<unsigned char> out(8 + text.size() + offset);
  detail::store_little_endian(out.data(), text.size(), 8);
  std::memcpy(out.data() + 8, text.data(), text.size());
  unsigned char* p = out.data() + 8 + text.size();
  for (const auto& [name, tensor] : file.tensors) {
    if (!tensor.bytes.empty()) std::memcpy(p, tensor.bytes.data(), tensor.bytes.size());
    p += tensor.bytes.size();
  }
  return out;
}

/// Writes `file` to `path` (replacing it). Cannot open or write: FormatError.
inline void write_safetensors(const std::string& path, const Safetensors& file) {
  const std::vector<unsigned char> bytes = serialize_safetensors(file);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw FormatError("write_safetensors: cannot open '" + path + "' for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw FormatError("write_safetensors: cannot write '" + path + "'");
}

}  // namespace aimastery
