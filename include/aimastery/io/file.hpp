#pragma once
/// \file
/// Opening an input file for the readers (CSV, safetensors): the path must name a regular file, whose
/// real size is known before a single byte is allocated for it. A missing path, a directory or a device
/// is a FormatError naming the path, never a giant allocation from a nonsensical size.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "aimastery/core/errors.hpp"

namespace aimastery::detail {

/// An open regular file and its size in bytes.
struct InputFile {
  std::ifstream stream;
  std::uint64_t size = 0;
};

/// Opens `path` for binary reading. `where` names the calling reader in messages ("read_csv").
inline InputFile open_input_file(const std::string& path, std::string_view where) {
  const auto fail = [&](std::string_view problem) {
    throw FormatError(std::string(where) + ": '" + path + "' " + std::string(problem));
  };
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) fail("cannot open: no such file");
  if (std::filesystem::is_directory(status)) fail("is a directory, not a file");
  if (!std::filesystem::is_regular_file(status)) fail("is not a regular file");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) fail("cannot determine the file size");
  InputFile file{std::ifstream(path, std::ios::binary), static_cast<std::uint64_t>(size)};
  if (!file.stream) fail("cannot open: permission denied or unreadable");
  return file;
}

}  // namespace aimastery::detail
