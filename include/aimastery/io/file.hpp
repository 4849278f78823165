#pragma once
/// \file
/// Opening an input file for the readers (CSV, safetensors): the path must name a regular file, whose
/// real size is known before a single byte is allocated for it. A missing path, a directory or a device
/// is a FormatError naming the path, never a giant allocation from a nonsensical size.
///
/// POSIX stat() answers both questions (what the path is, how large it is) from a small C header;
/// <filesystem> would do the same at several times the compile cost of every reader's user.

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

#include "aimastery/core/errors.hpp"

namespace aimastery::detail {

/// An open regular file and its size in bytes.
struct InputFile {
  std::ifstream stream;
  std::uint64_t size = 0;
};

/// Opens `path` for binary reading. `where` names the calling reader in messages ("read_csv").
inline InputFile open_input_file(const std::string& path, std::string_view where) {
  const auto error = [&](std::string_view problem) {
    return FormatError(std::string(where) + ": '" + path + "' " + std::string(problem));
  };
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) throw error("cannot open: " + std::string(std::strerror(errno)));
  if (S_ISDIR(status.st_mode)) throw error("is a directory, not a file");
  if (!S_ISREG(status.st_mode)) throw error("is not a regular file");
  InputFile file{std::ifstream(path, std::ios::binary), static_cast<std::uint64_t>(status.st_size)};
  if (!file.stream) throw error("cannot open: " + std::string(std::strerror(errno)));
  return file;
}

/// The whole of a regular file of at most `max_bytes` bytes (a configuration, a manifest); a larger one
/// is a FormatError naming the limit, refused before anything is allocated for it.
inline std::string read_small_file(const std::string& path, std::string_view where, std::uint64_t max_bytes) {
  InputFile file = open_input_file(path, where);
  if (file.size > max_bytes)
    throw FormatError(std::string(where) + ": '" + path + "' has " + std::to_string(file.size) +
                      " bytes, more than the limit of " + std::to_string(max_bytes));
  std::string text(static_cast<std::size_t>(file.size), '\0');
  file.stream.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(file.stream.gcount()));
  return text;
}

}  // namespace aimastery::detail
