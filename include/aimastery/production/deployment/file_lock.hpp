#pragma once
/// \file
/// FileLock: an exclusive advisory lock between processes (and between threads holding different
/// FileLock objects), held for the lifetime of the object.
///
/// flock(2) on a lock file: the kernel grants LOCK_EX to one open file description at a time and releases
/// it when the descriptor is closed, including when the holder is killed (SIGKILL): a crashed writer never
/// leaves a stale lock behind, unlike lock files created with O_EXCL. A waiter polls LOCK_NB with a
/// backoff (0.5 ms doubling up to 20 ms) so that the wait has a deadline.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

#include "aimastery/io/atomic_file.hpp"

namespace aimastery {

/// Another writer held the lock for longer than the caller was willing to wait.
struct LockTimeoutError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class FileLock {
 public:
  /// Opens (creating if needed) `path` and waits at most `timeout` for the exclusive lock; a zero
  /// timeout tries once. Throws LockTimeoutError naming the file and the wait when the lock stays taken.
  FileLock(const std::filesystem::path& path, std::chrono::milliseconds timeout) : path_(path) {
    fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (fd_.get() < 0) detail::throw_errno("FileLock: cannot open lock file", path);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::microseconds(500);
    while (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EINTR) continue;
      if (errno != EWOULDBLOCK) detail::throw_errno("FileLock: cannot lock", path);
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline)
        throw LockTimeoutError("FileLock: '" + path.string() + "' is locked by another writer; gave up after " +
                               std::to_string(timeout.count()) + " ms");
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
      pause = std::min(pause * 2, std::chrono::microseconds(20000));
    }
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() = default;  // closing the descriptor releases the lock

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
  detail::UniqueFd fd_;
};

}  // namespace aimastery
