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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/io/json_string.hpp"
#include "aimastery/io/safetensors_tensor.hpp"

namespace aimastery {

/// The file's bytes: header and buffer. A tensor whose bytes do not match its dtype × shape, or an
/// invalid name (empty, "__metadata__", not UTF-8): InvalidArgument.
///
/// The header is compact JSON, the bytes nlohmann::json's dump() gives: the members in name order
/// ("__metadata__" among the tensors' names, present only when there is metadata), each tensor as
/// {"data_offsets":[b,e],"dtype":"F32","shape":[2,3]}, strings escaped as json_string.hpp writes them.
inline std::vector<unsigned char> serialize_safetensors(const Safetensors& file) {
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
  }
  std::string text = "{";
  const auto string = [&](std::string_view s) {
    if (!detail::append_json_string(text, s))
      fail("write_safetensors", "a tensor name or a metadata key or value is not valid UTF-8");
  };
  const std::string_view metadata_key = "__metadata__";
  bool metadata_pending = !file.metadata.empty();
  const auto metadata = [&] {
    if (text.size() > 1) text += ',';
    string(metadata_key);
    text += ":{";
    for (const auto& [key, value] : file.metadata) {
      if (text.back() != '{') text += ',';
      string(key);
      text += ':';
      string(value);
    }
    text += '}';
    metadata_pending = false;
  };
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : file.tensors) {
    if (metadata_pending && metadata_key < name) metadata();
    if (text.size() > 1) text += ',';
    string(name);
    text += ":{\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + tensor.bytes.size()) +
            "],\"dtype\":\"" + std::string(to_string(tensor.dtype)) + "\",\"shape\":[";
    for (std::size_t k = 0; k < tensor.shape.size(); ++k) {
      if (k) text += ',';
      text += std::to_string(tensor.shape[k]);
    }
    text += "]}";
    offset += tensor.bytes.size();
  }
  if (metadata_pending) metadata();
  text += '}';
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
