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

/// Whether `path` names a directory (false when it does not exist or cannot be reached).
inline bool is_directory_path(const std::string& path) noexcept {
  struct stat status {};
  return ::stat(path.c_str(), &status) == 0 && S_ISDIR(status.st_mode);
}

/// Whether `path` names a regular file (false when it does not exist or cannot be reached).
inline bool is_regular_file_path(const std::string& path) noexcept {
  struct stat status {};
  return ::stat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode);
}

/// Creates the directory `path` and its missing parents (as `mkdir -p`); an empty string when it exists
/// now as a directory, otherwise the reason it could not be created.
inline std::string make_directories(const std::string& path) {
  // Each prefix that ends before a '/', then the whole path, created when it is not a directory yet.
  for (std::size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
    const std::string prefix = path.substr(0, end);
    if (!prefix.empty() && !is_directory_path(prefix) && ::mkdir(prefix.c_str(), 0777) != 0) {
      const int error = errno;
      if (!(error == EEXIST && is_directory_path(prefix))) return "'" + prefix + "': " + std::strerror(error);
    }
    if (end == std::string::npos) return {};
  }
}

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
