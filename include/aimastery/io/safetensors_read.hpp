#pragma once
/// \file
/// Reading the safetensors format (https://github.com/huggingface/safetensors), the weights format
/// PyTorch, NumPy and the Hugging Face tools read and write:
///
///   bytes 0..7       N, the header length, unsigned 64-bit little endian
///   bytes 8..8+N     a JSON object {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...,
///                    optionally "__metadata__": {"<key>": "<string value>"}}, possibly padded with spaces
///   the rest         the byte buffer; tensor <name> is bytes [b, e) of it, row-major, little endian
///
///   Safetensors file = read_safetensors("model.safetensors");
///   Matrix<float> W = file.matrix<float>("0.weight");
///
/// Every length in a file is hostile. The reader opens only a regular file, reads the 8-byte length
/// first and checks N against the real file size (and caps it at 100 MB, as the reference
/// implementation does), parses the header as strict JSON (json_reader.hpp; duplicate names refused), checks each dtype
/// and shape (no overflow in the element count), each tensor's offsets against the buffer and against
/// dtype × shape, that the tensors tile the buffer exactly (no overlap, no hole, as the specification
/// requires), and that BOOL bytes are 0 or 1; only then does it allocate and read the tensors' bytes.
/// Anything else is a FormatError naming the source; nothing is allocated beyond the size of the file.
///
/// The functions are templates with a defaulted parameter, called as ordinary functions, so that their
/// code is compiled only in the files that call them.

#include <algorithm>
#include <cstdint>
#include <istream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/io/file.hpp"
#include "aimastery/io/json_reader.hpp"
#include "aimastery/io/safetensors_tensor.hpp"

namespace aimastery {
namespace detail {

/// One tensor as the header describes it: where its bytes lie in the buffer.
struct SafetensorsEntry {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::F32;
  std::vector<Index> shape;
  std::uint64_t begin = 0, end = 0;
};

/// A validated header: the tensors sorted by their offsets, tiling the buffer exactly, and the metadata.
struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
};

/// The FormatError "read_safetensors: <source>: <message>".
inline FormatError safetensors_error(std::string_view source, const std::string& message) {
  return FormatError("read_safetensors: " + std::string(source) + ": " + message);
}

/// The header length N from the first 8 bytes, checked against the `total` size of the file.
template <class = void>
std::uint64_t safetensors_header_length(std::span<const unsigned char> first8, std::uint64_t total,
                                        std::string_view source) {
  constexpr std::uint64_t max_header = 100'000'000;
  if (total < 8)
    throw safetensors_error(source, "truncated: " + std::to_string(total) + " bytes, the header length alone needs 8");
  const std::uint64_t n = load_little_endian(first8.data(), 8);
  if (n > total - 8)
    throw safetensors_error(
        source, "header length " + std::to_string(n) + " exceeds the " + std::to_string(total - 8) + " bytes after it");
  if (n > max_header) throw safetensors_error(source, "header length " + std::to_string(n) + " exceeds 100 MB");
  if (n < 2) throw safetensors_error(source, "header length " + std::to_string(n) + " is too short for a JSON object");
  return n;
}

/// Parses and validates the JSON header against a buffer of `buffer_size` bytes. The header is read
/// with the strict JSON reader of json_reader.hpp, walking the one shape it may have: an object whose
/// members are tensors, objects with exactly "dtype" (a string), "shape" (non-negative integers) and
/// "data_offsets" (two non-negative integers), and the optional "__metadata__", an object of strings.
/// A name given twice in one object is refused, and so is an empty tensor name (write_safetensors refuses
/// it too). Nothing nests deeper than that: a deeper object or array
/// is refused at its first byte, so hostile nesting cannot recurse, and what is allocated is bounded by
/// the header's bytes (at most 100 MB).
template <class = void>
SafetensorsHeader parse_safetensors_header(std::span<const unsigned char> header_bytes, std::uint64_t buffer_size,
                                           std::string_view source) {
  const auto fail = [&](const std::string& message) { return safetensors_error(source, message); };
  if (header_bytes.empty() || header_bytes[0] != '{') throw fail("the header does not start with '{'");
  using Kind = JsonReader::Kind;
  JsonReader json(header_bytes, "read_safetensors: " + std::string(source) + ": the header is not valid JSON");
  const auto twice = [&](const std::string& name) { return fail("the header names '" + name + "' twice"); };

  // A tensor as written in the header, checked below in a fixed order once its object is read.
  struct Written {
    std::optional<std::string> dtype;
    std::optional<std::vector<std::uint64_t>> shape, offsets;
  };
  SafetensorsHeader out;
  std::set<std::string> names;
  json.read_object([&](const std::string& name) {
    if (!names.insert(name).second) throw twice(name);
    if (name == "__metadata__") {
      if (json.peek() != Kind::object) throw fail("__metadata__ is not an object");
      json.read_object([&](const std::string& key) {
        if (json.peek() != Kind::string)
          throw fail("__metadata__ value of '" + key + "' is not a string (it is " + std::string(json.describe_next()) +
                     ")");
        if (!out.metadata.emplace(key, json.read_string()).second) throw twice(key);
      });
      return;
    }
    // write_safetensors refuses an empty name, so a file read here can always be written back.
    if (name.empty()) throw fail("has a tensor with an empty name");
    const auto tensor_fail = [&](const std::string& problem) { return fail("tensor '" + name + "' " + problem); };
    if (json.peek() != Kind::object)
      throw tensor_fail("is not an object (it is " + std::string(json.describe_next()) + ")");
    Written written;
    // Non-negative integers: the array at the next value, at most `most` of them.
    const auto integers = [&](std::optional<std::vector<std::uint64_t>>& into, const std::string& not_array,
                              const std::string& not_integer, std::size_t most) {
      if (json.peek() != Kind::array) throw tensor_fail(not_array);
      into.emplace();
      json.read_array([&](std::size_t k) {
        if (k == most) throw tensor_fail(not_array);
        if (json.peek() != Kind::number)
          throw tensor_fail(not_integer + " (" + std::string(json.describe_next()) + ")");
        const JsonReader::Number number = json.read_number();
        if (!number.value)
          throw tensor_fail(not_integer + " (" + std::string(number.text) +
                            (number.text[0] != '-' && number.text.find_first_of(".eE") == std::string_view::npos
                                 ? ", more than 2^64 - 1)"
                                 : ")"));
        into->push_back(*number.value);
      });
    };
    json.read_object([&](const std::string& key) {
      if (key == "dtype") {
        if (written.dtype) throw twice(key);
        if (json.peek() != Kind::string) throw tensor_fail("has no dtype string");
        written.dtype = json.read_string();
      } else if (key == "shape") {
        if (written.shape) throw twice(key);
        integers(written.shape, "has no shape array", "has a shape entry that is not a non-negative integer",
                 std::numeric_limits<std::size_t>::max());
      } else if (key == "data_offsets") {
        if (written.offsets) throw twice(key);
        integers(written.offsets, "has no data_offsets [begin, end]",
                 "has data_offsets that are not non-negative integers", 2);
      } else {
        throw tensor_fail("has an unknown field '" + key + "'");
      }
    });
    if (!written.dtype) throw tensor_fail("has no dtype string");
    if (!written.shape) throw tensor_fail("has no shape array");
    if (!written.offsets || written.offsets->size() != 2) throw tensor_fail("has no data_offsets [begin, end]");
    const std::string& dtype_name = *written.dtype;
    const SafetensorsDtypeInfo* info = nullptr;
    for (const auto& candidate : safetensors_dtypes)
      if (candidate.name == dtype_name) info = &candidate;
    if (info == nullptr) throw tensor_fail("has an unsupported dtype '" + dtype_name + "'");

    // The element count, never overflowing: it saturates once a partial product exceeds the buffer.
    SafetensorsEntry tensor{name, info->dtype, {}, 0, 0};
    constexpr std::uint64_t too_many = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t elements = 1;
    bool empty = false;
    for (const std::uint64_t dim : *written.shape) {
      if (dim > static_cast<std::uint64_t>(std::numeric_limits<Index>::max()))
        throw tensor_fail("has a dimension too large (" + std::to_string(dim) + ")");
      tensor.shape.push_back(static_cast<Index>(dim));
      if (dim == 0) empty = true;
      if (empty || elements == too_many) continue;
      elements = dim > buffer_size / elements ? too_many : elements * dim;  // elements >= 1 here
    }
    if (empty) elements = 0;
    tensor.begin = (*written.offsets)[0];
    tensor.end = (*written.offsets)[1];
    if (tensor.begin > tensor.end)
      throw tensor_fail("has data_offsets [" + std::to_string(tensor.begin) + ", " + std::to_string(tensor.end) +
                        "] in the wrong order");
    if (tensor.end > buffer_size)
      throw tensor_fail("ends at byte " + std::to_string(tensor.end) + " beyond the " + std::to_string(buffer_size) +
                        "-byte buffer");
    // elements <= buffer_size here, so elements × width cannot overflow.
    if (elements == too_many || elements * info->bytes != tensor.end - tensor.begin)
      throw tensor_fail(
          "claims " + std::to_string(tensor.end - tensor.begin) + " bytes, its dtype " + dtype_name +
          " and shape need " +
          (elements == too_many ? std::string("more than the buffer") : std::to_string(elements * info->bytes)));
    out.entries.push_back(std::move(tensor));
  });
  json.expect_end();

  // The tensors must tile the buffer: sorted by offsets, each starts where the previous ends.
  std::sort(out.entries.begin(), out.entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t position = 0;
  for (const SafetensorsEntry& e : out.entries) {
    if (e.begin < position) throw fail("tensor '" + e.name + "' overlaps the previous tensor's bytes");
    if (e.begin > position)
      throw fail("a hole in the buffer before tensor '" + e.name + "' (bytes " + std::to_string(position) + " to " +
                 std::to_string(e.begin) + ")");
    position = e.end;
  }
  if (position != buffer_size)
    throw fail("the buffer has " + std::to_string(buffer_size - position) + " bytes after the last tensor");
  return out;
}

/// A BOOL element is one byte, 0 (false) or 1 (true), as NumPy and PyTorch write it.
template <class = void>
void check_safetensors_bools(const SafetensorsEntry& entry, const std::vector<unsigned char>& bytes,
                             std::string_view source) {
  if (entry.dtype != SafetensorsDtype::BOOL) return;
  const auto bad = std::find_if(bytes.begin(), bytes.end(), [](unsigned char b) { return b > 1; });
  if (bad != bytes.end())
    throw safetensors_error(source, "tensor '" + entry.name + "' (BOOL) holds the byte " + std::to_string(int(*bad)) +
                                        " at element " + std::to_string(bad - bytes.begin()) + ", a bool is 0 or 1");
}

}  // namespace detail

/// Parses a whole safetensors file held in memory. `source` names it in error messages.
template <class = void>
Safetensors parse_safetensors(std::span<const unsigned char> bytes, std::string_view source = "<memory>") {
  const std::uint64_t header_length =
      detail::safetensors_header_length(bytes.first(std::min<std::size_t>(8, bytes.size())), bytes.size(), source);
  const auto header_bytes = bytes.subspan(8, static_cast<std::size_t>(header_length));
  const std::span<const unsigned char> buffer = bytes.subspan(8 + static_cast<std::size_t>(header_length));
  detail::SafetensorsHeader header = detail::parse_safetensors_header(header_bytes, buffer.size(), source);
  Safetensors out;
  out.metadata = std::move(header.metadata);
  for (detail::SafetensorsEntry& entry : header.entries) {
    SafetensorsTensor tensor{entry.dtype,
                             std::move(entry.shape),
                             {buffer.begin() + static_cast<std::ptrdiff_t>(entry.begin),
                              buffer.begin() + static_cast<std::ptrdiff_t>(entry.end)}};
    detail::check_safetensors_bools(entry, tensor.bytes, source);
    out.tensors.emplace(std::move(entry.name), std::move(tensor));
  }
  return out;
}

namespace detail {

/// Reads a safetensors file of `size` bytes from `in`: the 8-byte length, then the header, which is
/// validated against `size`, and only then each tensor's bytes, in buffer order.
template <class = void>
Safetensors read_safetensors_stream(std::istream& in, std::uint64_t size, std::string_view source) {
  const auto read = [&](unsigned char* into, std::uint64_t n) {
    if (n > 0 && !in.read(reinterpret_cast<char*>(into), static_cast<std::streamsize>(n)))
      throw safetensors_error(source, "cannot read " + std::to_string(n) + " bytes: the file is shorter than its " +
                                          std::to_string(size) + " bytes (did it change while being read?)");
  };
  unsigned char first8[8] = {};
  read(first8, std::min<std::uint64_t>(8, size));
  const std::uint64_t header_length = safetensors_header_length(first8, size, source);
  std::vector<unsigned char> header_bytes(static_cast<std::size_t>(header_length));
  read(header_bytes.data(), header_length);
  SafetensorsHeader header = parse_safetensors_header(header_bytes, size - 8 - header_length, source);
  header_bytes = {};
  Safetensors out;
  out.metadata = std::move(header.metadata);
  // The entries tile the buffer in order, so the tensors are read one after the other.
  for (SafetensorsEntry& entry : header.entries) {
    SafetensorsTensor tensor{entry.dtype, std::move(entry.shape),
                             std::vector<unsigned char>(static_cast<std::size_t>(entry.end - entry.begin))};
    read(tensor.bytes.data(), entry.end - entry.begin);
    check_safetensors_bools(entry, tensor.bytes, source);
    out.tensors.emplace(std::move(entry.name), std::move(tensor));
  }
  return out;
}

}  // namespace detail

/// Reads and validates a safetensors file: the header first, then each tensor's bytes, allocated only
/// once the header has been checked against the real file size. A missing path, a directory, a short
/// read or a malformed file: FormatError naming the path.
template <class = void>
Safetensors read_safetensors(const std::string& path) {
  detail::InputFile file = detail::open_input_file(path, "read_safetensors");
  return detail::read_safetensors_stream(file.stream, file.size, path);
}

}  // namespace aimastery
