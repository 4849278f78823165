#pragma once
/// \file
/// Writing the safetensors format (layout in safetensors_read.hpp), as the reference writer does: the
/// header lists the tensors in name order with their dtype, shape and data_offsets, plus the string
/// "__metadata__", padded with spaces to a multiple of 8 bytes so that the buffer is aligned.
///
///   Safetensors file;
///   file.add("0.weight", W);
///   file.metadata["format"] = "pt";
///   write_safetensors("model.safetensors", file);

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/io/safetensors_tensor.hpp"

namespace aimastery {

/// The file's bytes: header and buffer. A tensor whose bytes do not match its dtype × shape, or an
/// invalid name (empty, "__metadata__", not UTF-8): InvalidArgument.
inline std::vector<unsigned char> serialize_safetensors(const Safetensors& file) {
  nlohmann::json header = nlohmann::json::object();
  std::uint64_t offset = 0;
  for (const auto& named : file.tensors) {
    const std::string& name = named.first;  // plain references: the messages below capture them
    const SafetensorsTensor& tensor = named.second;
    require(!name.empty() && name != "__metadata__", "write_safetensors",
            [&] { return "invalid tensor name '" + name + "'"; });
    require(std::none_of(tensor.shape.begin(), tensor.shape.end(), [](Index d) { return d < 0; }), "write_safetensors",
            [&] { return "tensor '" + name + "' has a negative dimension " + detail::shape_string(tensor.shape); });
    const std::optional<std::size_t> expected = detail::shape_bytes(tensor.shape, tensor.dtype);
    require(expected == tensor.bytes.size(), "write_safetensors", [&] {
      return "tensor '" + name + "' has " + std::to_string(tensor.bytes.size()) + " bytes, its dtype and shape " +
             (expected ? "need " + std::to_string(*expected) : std::string("overflow"));
    });
    nlohmann::json shape = nlohmann::json::array();
    for (Index d : tensor.shape) shape.push_back(static_cast<std::uint64_t>(d));
    header[name] = {{"dtype", std::string(to_string(tensor.dtype))},
                    {"shape", shape},
                    {"data_offsets", {offset, offset + tensor.bytes.size()}}};
    offset += tensor.bytes.size();
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::type_error&) {  // JSON strings are UTF-8
    fail("write_safetensors", "a tensor name or a metadata key or value is not valid UTF-8");
  }
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
