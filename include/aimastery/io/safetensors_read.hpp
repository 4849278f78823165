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
/// implementation does), parses the header as strict JSON (duplicate names refused), checks each dtype
/// and shape (no overflow in the element count), each tensor's offsets against the buffer and against
/// dtype × shape, that the tensors tile the buffer exactly (no overlap, no hole, as the specification
/// requires), and that BOOL bytes are 0 or 1; only then does it allocate and read the tensors' bytes.
/// Anything else is a FormatError naming the source; nothing is allocated beyond the size of the file.

#include <algorithm>
#include <cstdint>
#include <istream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/io/file.hpp"
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
inline std::uint64_t safetensors_header_length(std::span<const unsigned char> first8, std::uint64_t total,
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

/// Parses and validates the JSON header against a buffer of `buffer_size` bytes.
inline SafetensorsHeader parse_safetensors_header(std::span<const unsigned char> header_bytes,
                                                  std::uint64_t buffer_size, std::string_view source) {
  const auto fail = [&](const std::string& message) { return safetensors_error(source, message); };
  if (header_bytes.empty() || header_bytes[0] != '{') throw fail("the header does not start with '{'");

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

  SafetensorsHeader out;
  for (const auto& item : header.items()) {
    const std::string& name = item.key();  // plain references: the messages below capture them
    const nlohmann::json& entry = item.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) throw fail("__metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) throw fail("__metadata__ value of '" + key + "' is not a string");
        out.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    const auto tensor_fail = [&](const std::string& problem) { return fail("tensor '" + name + "' " + problem); };
    if (!entry.is_object()) throw tensor_fail("is not an object");
    for (const auto& [key, _] : entry.items())
      if (key != "dtype" && key != "shape" && key != "data_offsets")
        throw tensor_fail("has an unknown field '" + key + "'");
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) throw tensor_fail("has no dtype string");
    if (!entry.contains("shape") || !entry["shape"].is_array()) throw tensor_fail("has no shape array");
    if (!entry.contains("data_offsets") || !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2)
      throw tensor_fail("has no data_offsets [begin, end]");
    const std::string& dtype_name = entry["dtype"].get_ref<const std::string&>();
    const SafetensorsDtypeInfo* info = nullptr;
    for (const auto& candidate : safetensors_dtypes)
      if (candidate.name == dtype_name) info = &candidate;
    if (info == nullptr) throw tensor_fail("has an unsupported dtype '" + dtype_name + "'");

    // The element count, never overflowing: it saturates once a partial product exceeds the buffer.
    SafetensorsEntry tensor{name, info->dtype, {}, 0, 0};
    constexpr std::uint64_t too_many = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t elements = 1;
    bool empty = false;
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned()) throw tensor_fail("has a shape entry that is not a non-negative integer");
      const std::uint64_t dim = d.get<std::uint64_t>();
      if (dim > static_cast<std::uint64_t>(std::numeric_limits<Index>::max()))
        throw tensor_fail("has a dimension too large (" + std::to_string(dim) + ")");
      tensor.shape.push_back(static_cast<Index>(dim));
      if (dim == 0) empty = true;
      if (empty || elements == too_many) continue;
      elements = dim > buffer_size / elements ? too_many : elements * dim;  // elements >= 1 here
    }
    if (empty) elements = 0;
    const auto& offsets = entry["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      throw tensor_fail("has data_offsets that are not non-negative integers");
    tensor.begin = offsets[0].get<std::uint64_t>();
    tensor.end = offsets[1].get<std::uint64_t>();
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
  }

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
inline void check_safetensors_bools(const SafetensorsEntry& entry, const std::vector<unsigned char>& bytes,
                                    std::string_view source) {
  if (entry.dtype != SafetensorsDtype::BOOL) return;
  const auto bad = std::find_if(bytes.begin(), bytes.end(), [](unsigned char b) { return b > 1; });
  if (bad != bytes.end())
    throw safetensors_error(source, "tensor '" + entry.name + "' (BOOL) holds the byte " + std::to_string(int(*bad)) +
                                        " at element " + std::to_string(bad - bytes.begin()) + ", a bool is 0 or 1");
}

}  // namespace detail

/// Parses a whole safetensors file held in memory. `source` names it in error messages.
inline Safetensors parse_safetensors(std::span<const unsigned char> bytes, std::string_view source = "<memory>") {
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
inline Safetensors read_safetensors_stream(std::istream& in, std::uint64_t size, std::string_view source) {
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
inline Safetensors read_safetensors(const std::string& path) {
  detail::InputFile file = detail::open_input_file(path, "read_safetensors");
  return detail::read_safetensors_stream(file.stream, file.size, path);
}

}  // namespace aimastery
