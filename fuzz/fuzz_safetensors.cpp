// libFuzzer target for the safetensors reader (aimastery/io/safetensors_read.hpp).
//
// Any input must either parse into tensors whose bytes match their dtype and shape or raise
// FormatError; anything else (another exception, a crash, a sanitizer report, a hang, a large
// allocation) is a finding. Each input is parsed from memory and read as a stream (the header-first
// path of read_safetensors), which must agree; what parses must convert to values, re-serialise and
// parse back the same.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <sstream>
#include <string>

#include "aimastery/io/safetensors_read.hpp"
#include "aimastery/io/safetensors_write.hpp"

namespace {

std::optional<aimastery::Safetensors> parse(std::span<const unsigned char> bytes) {
  try {
    return aimastery::parse_safetensors(bytes, "fuzz");
  } catch (const aimastery::FormatError&) {
    return std::nullopt;
  }
}

std::optional<aimastery::Safetensors> read(const std::string& bytes) {
  try {
    std::istringstream in(bytes);
    return aimastery::detail::read_safetensors_stream(in, bytes.size(), "fuzz");
  } catch (const aimastery::FormatError&) {
    return std::nullopt;
  }
}

bool same(const aimastery::Safetensors& a, const aimastery::Safetensors& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (const auto& [name, t] : a.tensors) {
    if (!b.contains(name)) return false;
    const auto& u = b.at(name);
    if (t.dtype != u.dtype || t.shape != u.shape || t.bytes != u.bytes) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const unsigned char> bytes(data, size);
  const auto from_memory = parse(bytes);
  const auto from_file = read(std::string(reinterpret_cast<const char*>(data), size));
  if (from_memory.has_value() != from_file.has_value()) std::abort();
  if (!from_memory) return 0;
  if (!same(*from_memory, *from_file)) std::abort();

  for (const auto& [name, t] : from_memory->tensors) {
    const auto values = t.values<double>();
    if (static_cast<aimastery::Index>(values.size()) != t.elements()) std::abort();
    if (t.shape.size() <= 2 && from_memory->matrix<float>(name).size() != t.elements()) std::abort();
    if (from_memory->tensor<double>(name).size() != t.elements()) std::abort();
  }
  const auto again = parse(aimastery::serialize_safetensors(*from_memory));
  if (!again || !same(*from_memory, *again)) std::abort();
  return 0;
}
