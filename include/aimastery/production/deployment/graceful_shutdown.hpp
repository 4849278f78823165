#pragma once
/// \file
/// GracefulShutdown: SIGTERM/SIGINT handling for a service that must finish what it accepted.
///
///   1. The signal handler does only async-signal-safe work: it increments a lock-free atomic counter,
///      stores the signal number, and writes one byte to a self-pipe (write(2) is on the POSIX list of
///      async-signal-safe functions; errno is saved and restored). Nothing else.
///   2. From that instant `accepting()` is false (it reads the counter): readiness turns false and
///      try_begin_work() refuses new work, before any other thread has even woken up.
///   3. A watcher thread blocked on the pipe wakes up outside the handler and notifies the threads
///      waiting in wait_for_shutdown(). On a second signal it calls _exit(2) at once, with the code
///      128 + signal number (143 for SIGTERM, 130 for SIGINT, as a shell reports a death by that
///      signal) unless GracefulShutdownOptions::forced_exit_code says otherwise: no hooks, no drain.
///   4. shutdown() drains: it waits until the work in flight (WorkGuard objects alive) reaches zero or
///      the drain deadline passes, then runs the shutdown hooks in reverse order of registration (what
///      was set up last is torn down first), each hook's exception caught and reported.
/// Signals are per process: one GracefulShutdown with handlers installed may exist at a time; the
/// destructor restores the previous handlers.

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

namespace detail {

/// The state the signal handler touches: lock-free atomics only.
struct ShutdownSignals {
  static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free atomic int");
  static inline std::atomic<int> count{0};        ///< signals received since installation
  static inline std::atomic<int> last_signal{0};  ///< the latest one's number
  static inline std::atomic<int> pipe_write{-1};  ///< the self-pipe's write end
  static inline std::atomic<bool> installed{false};
};

/// The handler: an atomic increment, an atomic store, one write(2). Async-signal-safe.
inline void shutdown_signal_handler(int signal_number) {
  const int saved_errno = errno;
  ShutdownSignals::last_signal.store(signal_number);
  ShutdownSignals::count.fetch_add(1);
  const char byte = static_cast<char>(signal_number);
  const int fd = ShutdownSignals::pipe_write.load();
  if (fd >= 0 && ::write(fd, &byte, 1) < 0) {
    // EAGAIN: the pipe is full, so it already holds a wake-up for the watcher.
  }
  errno = saved_errno;
}

}  // namespace detail

struct GracefulShutdownOptions {
  std::chrono::milliseconds drain_timeout{30000};      ///< how long shutdown() waits for work in flight
  std::optional<int> forced_exit_code = std::nullopt;  ///< on a second signal; default 128 + signal
  bool install_signal_handlers = true;                 ///< false: only request_shutdown() (tests, embedding)
};

/// What shutdown() did.
struct ShutdownReport {
  int signal = 0;                      ///< the signal that started it (0: request_shutdown())
  bool drained = false;                ///< all work in flight finished before the deadline
  std::size_t abandoned = 0;           ///< work still in flight at the deadline
  double drain_seconds = 0;            ///< time spent draining
  std::vector<std::string> hooks_run;  ///< in the order they ran
  std::vector<std::string> hook_errors;
};

/// The shutdown sequence (use it as GracefulShutdown). A class template only so that a translation unit
/// that includes it without using it does not compile its members (the watcher thread, the hooks).
template <class Tag = void>
class BasicGracefulShutdown {
 public:
  /// Work admitted by try_begin_work(): the drain waits for it until the guard is destroyed.
  class WorkGuard {
   public:
    WorkGuard(WorkGuard&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    WorkGuard& operator=(WorkGuard&& other) noexcept {
      if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
      }
      return *this;
    }
    WorkGuard(const WorkGuard&) = delete;
    WorkGuard& operator=(const WorkGuard&) = delete;
    ~WorkGuard() { release(); }

   private:
    friend class BasicGracefulShutdown;
    explicit WorkGuard(BasicGracefulShutdown* owner) noexcept : owner_(owner) {}
    void release() noexcept {
      if (owner_) std::exchange(owner_, nullptr)->end_work();
    }
    BasicGracefulShutdown* owner_;
  };

  explicit BasicGracefulShutdown(GracefulShutdownOptions options = {}) : options_(std::move(options)) {
    static constexpr const char* where = "GracefulShutdown";
    require(options_.drain_timeout.count() >= 0, where, "drain_timeout must be >= 0");
    if (!options_.install_signal_handlers) return;
    require(!detail::ShutdownSignals::installed.exchange(true), where,
            "another GracefulShutdown already handles SIGTERM and SIGINT in this process");
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      detail::ShutdownSignals::installed.store(false);
      throw std::system_error(errno, std::generic_category(), "GracefulShutdown: cannot create the self-pipe");
    }
    ::fcntl(fds[1], F_SETFL, O_NONBLOCK);  // the handler must never block
    read_fd_ = fds[0];
    detail::ShutdownSignals::count.store(0);
    detail::ShutdownSignals::last_signal.store(0);
    detail::ShutdownSignals::pipe_write.store(fds[1]);
    watcher_ = std::thread([this] { watch(); });
    struct sigaction action {};
    action.sa_handler = &detail::shutdown_signal_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGTERM, &action, &previous_term_);
    ::sigaction(SIGINT, &action, &previous_int_);
  }

  BasicGracefulShutdown(const BasicGracefulShutdown&) = delete;
  BasicGracefulShutdown& operator=(const BasicGracefulShutdown&) = delete;

  ~BasicGracefulShutdown() {
    if (!options_.install_signal_handlers) return;
    ::sigaction(SIGTERM, &previous_term_, nullptr);
    ::sigaction(SIGINT, &previous_int_, nullptr);
    const int write_fd = detail::ShutdownSignals::pipe_write.exchange(-1);
    ::close(write_fd);  // the watcher reads end-of-file and returns
    watcher_.join();
    ::close(read_fd_);
    detail::ShutdownSignals::installed.store(false);
  }

  /// False from the moment a signal arrived (or request_shutdown() was called): refuse new work and
  /// report not ready. Cheap enough for every request (one atomic load, one relaxed flag).
  [[nodiscard]] bool accepting() const noexcept { return !shutting_down(); }
  [[nodiscard]] bool shutting_down() const noexcept {
    return requested_.load() || (options_.install_signal_handlers && detail::ShutdownSignals::count.load() > 0);
  }

  /// The signal that started the shutdown (0 when none did).
  [[nodiscard]] int signal() const noexcept {
    return options_.install_signal_handlers ? detail::ShutdownSignals::last_signal.load() : 0;
  }

  /// Starts the shutdown from ordinary code (same effect as the first signal).
  void request_shutdown() {
    requested_.store(true);
    std::lock_guard lock(mutex_);
    changed_.notify_all();
  }

  /// Blocks until the shutdown is requested; false when `timeout` passed first.
  bool wait_for_shutdown(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return shutting_down(); });
  }
  void wait_for_shutdown() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return shutting_down(); });
  }

  /// Admits one unit of work, or refuses (nothing) once shutting down.
  ///
  /// The check and the increment happen under the mutex that drain() reads the count under, so any
  /// work admitted before the drain started is counted, and any attempt after it sees the flag.
  [[nodiscard]] std::optional<WorkGuard> try_begin_work() {
    std::lock_guard lock(mutex_);
    if (shutting_down()) return std::nullopt;
    ++in_flight_;
    return WorkGuard(this);
  }

  [[nodiscard]] std::size_t in_flight() const {
    std::lock_guard lock(mutex_);
    return in_flight_;
  }

  /// Registers a hook run by shutdown() (reverse order of registration).
  void add_hook(std::string name, std::function<void()> hook) {
    require(static_cast<bool>(hook), "GracefulShutdown::add_hook", [&] { return "hook \"" + name + "\" is empty"; });
    std::lock_guard lock(mutex_);
    hooks_.emplace_back(std::move(name), std::move(hook));
  }

  /// Stops admitting work, waits up to `timeout` for the work in flight, and returns how it went.
  ShutdownReport drain(std::chrono::milliseconds timeout) {
    request_shutdown();
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    ShutdownReport report;
    report.signal = signal();
    report.drained = changed_.wait_until(lock, start + timeout, [&] { return in_flight_ == 0; });
    report.abandoned = in_flight_;
    report.drain_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
  }

  /// The whole sequence: drain (options.drain_timeout), then the hooks in reverse order, once.
  ShutdownReport shutdown() {
    ShutdownReport report = drain(options_.drain_timeout);
    std::vector<std::pair<std::string, std::function<void()>>> hooks;
    {
      std::lock_guard lock(mutex_);
      hooks.swap(hooks_);  // a second shutdown() runs nothing again
    }
    for (auto it = hooks.rbegin(); it != hooks.rend(); ++it) {
      try {
        it->second();
      } catch (const std::exception& e) {
        report.hook_errors.push_back(it->first + ": " + e.what());
      } catch (...) {
        report.hook_errors.push_back(it->first + ": a non-standard exception");
      }
      report.hooks_run.push_back(it->first);
    }
    return report;
  }

 private:
  void end_work() noexcept {
    std::lock_guard lock(mutex_);
    // Only a drain waits for the count, and it starts after the flag is set: before that, waking the
    // threads that wait for the shutdown (at each idle moment of a server) would be a futile context switch.
    if (--in_flight_ == 0 && shutting_down()) changed_.notify_all();
  }

  /// The watcher thread: everything the handler must not do.
  void watch() {
    char byte;
    for (;;) {
      const ssize_t n = ::read(read_fd_, &byte, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // the write end was closed: the object is being destroyed
      if (detail::ShutdownSignals::count.load() >= 2)
        ::_exit(options_.forced_exit_code.value_or(128 + detail::ShutdownSignals::last_signal.load()));
      std::lock_guard lock(mutex_);
      changed_.notify_all();
    }
  }

  GracefulShutdownOptions options_;
  std::atomic<bool> requested_{false};
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t in_flight_ = 0;
  std::vector<std::pair<std::string, std::function<void()>>> hooks_;
  int read_fd_ = -1;
  std::thread watcher_;
  struct sigaction previous_term_ {};
  struct sigaction previous_int_ {};
};

using GracefulShutdown = BasicGracefulShutdown<>;

}  // namespace aimastery
