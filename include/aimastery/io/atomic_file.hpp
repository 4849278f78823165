#pragma once
/// \file
/// Crash-safe file replacement on POSIX file systems, and the small I/O helpers around it.
///
/// write_file_atomically(path, bytes) makes `path` hold either its old content or the new one, whatever
/// moment the process (or the machine) dies at:
///   1. write the bytes to a temporary file in the same folder (same file system, so step 3 is a rename),
///   2. fsync the temporary file: its data and size are on disk before any name points at them,
///   3. rename(2) it over `path`: POSIX makes the switch of the name atomic (a reader opens the old inode
///      or the new one, never a mix),
///   4. fsync the folder: the new directory entry itself is durable (otherwise a power cut may bring back
///      the old name after the call returned).
/// A crash before 3 leaves an orphan temporary file (named `.<name>.tmp-<pid>-<n>`), never a torn `path`.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "aimastery/core/errors.hpp"

namespace aimastery {

namespace detail {

/// Throws std::system_error for the current errno: "<what> '<path>': <strerror>".
[[noreturn]] inline void throw_errno(const std::string& what, const std::filesystem::path& path) {
  const int code = errno;
  throw std::system_error(code, std::generic_category(), what + " '" + path.string() + "'");
}

/// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

/// write(2) all of `data`, retrying on EINTR and short writes.
inline void write_all(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write", path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

/// fsync(2), retrying on EINTR.
inline void fsync_fd(int fd, const std::filesystem::path& path) {
  while (::fsync(fd) != 0)
    if (errno != EINTR) throw_errno("cannot fsync", path);
}

/// A name for a temporary sibling of `path` that no other writer (thread or process) picks.
inline std::filesystem::path temporary_sibling(const std::filesystem::path& path) {
  static std::atomic<std::uint64_t> counter{0};
  return path.parent_path() / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                               std::to_string(counter.fetch_add(1)));
}

}  // namespace detail

/// fsync of a folder, so that the entries created, renamed or removed in it are durable.
inline void fsync_directory(const std::filesystem::path& directory) {
  detail::UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) detail::throw_errno("cannot open folder", directory);
  detail::fsync_fd(fd.get(), directory);
}

/// Writes `bytes` into a new file `path` (which must not exist) and fsyncs it; the folder is not synced.
inline void write_new_file_durably(const std::filesystem::path& path, std::string_view bytes) {
  detail::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) detail::throw_errno("cannot create", path);
  detail::write_all(fd.get(), bytes, path);
  detail::fsync_fd(fd.get(), path);
}

/// Replaces `path` by a file holding `bytes`, atomically and durably (the four steps above). On an
/// exception `path` is unchanged and the temporary file is removed.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path temporary = detail::temporary_sibling(path);
  try {
    write_new_file_durably(temporary, bytes);
    if (::rename(temporary.c_str(), path.c_str()) != 0) detail::throw_errno("cannot rename onto", path);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw;
  }
  fsync_directory(path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path());
}

/// The whole content of a regular file of at most `max_bytes` bytes. A missing file is a
/// std::system_error; a file that is not regular or is larger than `max_bytes` is a FormatError
/// naming the file (nothing is allocated before the size is known to be acceptable).
inline std::string read_file_bounded(const std::filesystem::path& path, std::uint64_t max_bytes) {
  detail::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) detail::throw_errno("cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) detail::throw_errno("cannot stat", path);
  if (!S_ISREG(st.st_mode)) throw FormatError("'" + path.string() + "' is not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    throw FormatError("'" + path.string() + "' has " + std::to_string(st.st_size) + " bytes, more than the limit of " +
                      std::to_string(max_bytes));
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      detail::throw_errno("cannot read", path);
    }
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

}  // namespace aimastery
