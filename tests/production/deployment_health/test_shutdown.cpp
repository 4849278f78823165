// GracefulShutdown for real: a forked child process installs the handlers, the test sends it SIGTERM or
// SIGINT with kill(2), and reads what the child did, in order, through a pipe; exit codes come from
// waitpid. Plus the same sequence in-process without signals (request_shutdown).
//
// The forked tests are the test suite "signals", run by ctest in a process of their own: a process that
// forks should have no other threads at that moment (ThreadSanitizer refuses threads started after a
// multi-threaded fork), and the health checks of the other suite leave detached threads behind.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "aimastery/production/deployment/graceful_shutdown.hpp"
#include "aimastery/production/deployment/health_checker.hpp"
#include "support.hpp"

using namespace aimastery;
using namespace std::chrono_literals;

namespace {

/// One line down the pipe (write(2) directly: the child must not depend on buffered streams).
void say(int fd, const std::string& line) {
  const std::string text = line + "\n";
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) ::_exit(90);
}

struct Child {
  pid_t pid = -1;
  int from_child = -1;
  std::string buffer;

  /// The next line the child wrote ("" at end of file).
  std::string next_line() {
    for (;;) {
      const auto newline = buffer.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer.substr(0, newline);
        buffer.erase(0, newline + 1);
        return line;
      }
      char chunk[256];
      const ssize_t n = ::read(from_child, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return "";
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
  }
  /// Every remaining line, until the child closes the pipe (exits).
  std::vector<std::string> rest() {
    std::vector<std::string> lines;
    for (std::string line; !(line = next_line()).empty();) lines.push_back(line);
    return lines;
  }
  /// Raw waitpid status.
  int wait() {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::close(from_child);
    return status;
  }
};

/// Forks; the child runs `body(fd)` and exits with its result (or 99 on an exception).
Child spawn(const std::function<int(int)>& body) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    int code = 99;
    try {
      code = body(fds[1]);
    } catch (...) {
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  return {pid, fds[0], {}};
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1000 - WTERMSIG(status); }

}  // namespace

TEST_SUITE_BEGIN("signals");

TEST_CASE("GracefulShutdown: SIGTERM stops admission at once, drains in-flight work, runs hooks in reverse") {
  Child child = spawn([](int out) {
    GracefulShutdown shutdown({.drain_timeout = 10s});
    HealthChecker health;
    health.set_readiness_gate([&] { return shutdown.accepting(); }, "shutting down");
    for (const char* name : {"close-listener", "flush-metrics", "close-registry"})
      shutdown.add_hook(name, [out, name] { say(out, std::string("hook:") + name); });
    std::atomic<bool> begun{false};
    std::thread worker([&] {
      auto guard = shutdown.try_begin_work();
      if (!guard) ::_exit(80);
      begun = true;
      std::this_thread::sleep_for(300ms);  // a request that takes a while
      say(out, "work-done");
    });
    while (!begun) std::this_thread::sleep_for(1ms);
    say(out, std::string("ready:") + to_string(health.readiness().status));
    shutdown.wait_for_shutdown();
    say(out, "signal:" + std::to_string(shutdown.signal()));
    say(out, std::string("readiness:") + to_string(health.readiness().status));
    say(out, shutdown.try_begin_work() ? "admitted" : "refused");
    const ShutdownReport report = shutdown.shutdown();
    say(out, "drained:" + std::to_string(report.drained) + " abandoned:" + std::to_string(report.abandoned));
    worker.join();
    return report.drained ? 0 : 1;
  });
  CHECK(child.next_line() == "ready:pass");
  REQUIRE(::kill(child.pid, SIGTERM) == 0);
  const std::vector<std::string> lines = child.rest();
  const int status = child.wait();
  CHECK(exit_code(status) == 0);
  const std::vector<std::string> expected{"signal:15",           "readiness:fail",       "refused",
                                          "work-done",           "hook:close-registry",  "hook:flush-metrics",
                                          "hook:close-listener", "drained:1 abandoned:0"};
  CHECK(lines == expected);
}

TEST_CASE("GracefulShutdown: a second signal exits at once with 128 + the signal, skipping drain and hooks") {
  for (int second : {SIGTERM, SIGINT}) {
    CAPTURE(second);
    Child child = spawn([](int out) {
      GracefulShutdown shutdown({.drain_timeout = 60s});
      shutdown.add_hook("hook", [out] { say(out, "hook"); });
      std::thread([&shutdown] {
        auto guard = shutdown.try_begin_work();
        std::this_thread::sleep_for(600s);  // work that never finishes
      }).detach();
      while (shutdown.in_flight() == 0) std::this_thread::sleep_for(1ms);
      say(out, "ready");
      shutdown.wait_for_shutdown();
      say(out, "draining");
      shutdown.shutdown();  // blocks for 60 s unless the second signal ends the process
      say(out, "returned");
      return 0;
    });
    CHECK(child.next_line() == "ready");
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(::kill(child.pid, SIGTERM) == 0);
    CHECK(child.next_line() == "draining");
    REQUIRE(::kill(child.pid, second) == 0);
    const std::vector<std::string> lines = child.rest();
    const int status = child.wait();
    CHECK(exit_code(status) == 128 + second);
    CHECK(lines.empty());  // neither the hooks nor the rest of main ran
    CHECK(std::chrono::steady_clock::now() - start < 30s);
  }
}

TEST_CASE("GracefulShutdown: work still running at the drain deadline is abandoned, and the hooks still run") {
  Child child = spawn([](int out) {
    GracefulShutdown shutdown({.drain_timeout = 200ms});
    shutdown.add_hook("last", [out] { say(out, "hook:last"); });
    std::thread([&shutdown] {
      auto guard = shutdown.try_begin_work();
      std::this_thread::sleep_for(600s);
    }).detach();
    while (shutdown.in_flight() == 0) std::this_thread::sleep_for(1ms);
    say(out, "ready");
    shutdown.wait_for_shutdown();
    const ShutdownReport report = shutdown.shutdown();
    say(out, "drained:" + std::to_string(report.drained) + " abandoned:" + std::to_string(report.abandoned) +
                 " waited:" + std::to_string(report.drain_seconds >= 0.19));
    return report.drained ? 0 : 1;
  });
  CHECK(child.next_line() == "ready");
  REQUIRE(::kill(child.pid, SIGINT) == 0);
  const std::vector<std::string> lines = child.rest();
  CHECK(exit_code(child.wait()) == 1);
  CHECK(lines == std::vector<std::string>{"hook:last", "drained:0 abandoned:1 waited:1"});
}

TEST_SUITE_END();

TEST_CASE("GracefulShutdown without signals: request_shutdown, drain, hook errors, one run of the hooks") {
  GracefulShutdown shutdown({.drain_timeout = 5s, .install_signal_handlers = false});
  std::vector<std::string> order;
  shutdown.add_hook("a", [&] { order.push_back("a"); });
  shutdown.add_hook("b", [&] { throw std::runtime_error("broken"); });
  shutdown.add_hook("c", [&] { order.push_back("c"); });
  CHECK(shutdown.accepting());
  auto guard = shutdown.try_begin_work();
  REQUIRE(guard.has_value());
  CHECK(shutdown.in_flight() == 1);
  CHECK_FALSE(shutdown.wait_for_shutdown(10ms));
  shutdown.request_shutdown();
  CHECK(shutdown.wait_for_shutdown(10ms));
  CHECK_FALSE(shutdown.accepting());
  CHECK_FALSE(shutdown.try_begin_work().has_value());
  std::thread finisher([g = std::move(*guard)]() mutable {
    std::this_thread::sleep_for(50ms);
    auto done = std::move(g);  // released at the end of this scope
  });
  guard.reset();
  const ShutdownReport report = shutdown.shutdown();
  finisher.join();
  CHECK(report.drained);
  CHECK(report.signal == 0);
  CHECK(report.abandoned == 0);
  CHECK(report.hooks_run == std::vector<std::string>{"c", "b", "a"});
  CHECK(report.hook_errors == std::vector<std::string>{"b: broken"});
  CHECK(order == std::vector<std::string>{"c", "a"});
  CHECK(shutdown.shutdown().hooks_run.empty());
}

TEST_CASE("GracefulShutdown: bad inputs") {
  CHECK_THROWS_NAMING(GracefulShutdown({.drain_timeout = -1ms}), InvalidArgument, "drain_timeout must be >= 0");
  GracefulShutdown first;
  CHECK_THROWS_NAMING(GracefulShutdown(), InvalidArgument, "another GracefulShutdown already handles SIGTERM");
  CHECK_THROWS_NAMING(first.add_hook("h", {}), InvalidArgument, "hook \"h\" is empty");
  CHECK(first.accepting());
}
