#pragma once
// Real redis-server processes for the tests: a private server this test program starts, kills, pauses and
// restarts (the fault tests), and the shared server of the CTest fixture (its port read from the file named
// by AIMASTERY_REDIS_PORT_FILE), or a private one when the program runs outside ctest.

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace aimastery::test {

/// A loopback port nobody listened on a moment ago (bound with port 0, then released).
inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("free_loopback_port: socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("free_loopback_port: bind failed");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

/// Whether a Redis server answers PING on 127.0.0.1:port within 200 ms.
inline bool redis_answers(int port) {
  const timeval tv{0, 200000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  bool ok = false;
  if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK) {
    auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
    ok = reply && reply->type == REDIS_REPLY_STATUS;
    if (reply) freeReplyObject(reply);
  }
  if (c) redisFree(c);
  return ok;
}

/// A redis-server child process on a free loopback port, without persistence.
class RedisTestServer {
 public:
  RedisTestServer() : port_(free_loopback_port()) { start(); }
  ~RedisTestServer() { kill(); }
  RedisTestServer(const RedisTestServer&) = delete;
  RedisTestServer& operator=(const RedisTestServer&) = delete;

  [[nodiscard]] int port() const { return port_; }

  /// Starts the server (again, on the same port) and waits until it answers.
  void start() {
    if (pid_ > 0) return;
    const char* server = std::getenv("AIMASTERY_REDIS_SERVER");
    std::vector<std::string> args{server ? server : "redis-server",
                                  "--bind",
                                  "127.0.0.1",
                                  "--port",
                                  std::to_string(port_),
                                  "--save",
                                  "",
                                  "--appendonly",
                                  "no",
                                  "--dir",
                                  "/tmp",
                                  "--loglevel",
                                  "warning"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    const int rc = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      throw std::runtime_error("RedisTestServer: cannot start " + args[0] + " (apt-get install redis-server)");
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!redis_answers(port_)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("RedisTestServer: redis-server exited at start (port " + std::to_string(port_) + ")");
      }
      if (std::chrono::steady_clock::now() > deadline) {
        kill();
        throw std::runtime_error("RedisTestServer: redis-server did not answer within 10 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  /// SIGKILL: the server vanishes at once, as in a crash.
  void kill() {
    if (pid_ <= 0) return;
    resume();
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  /// SIGSTOP: the server accepts connections (in the kernel) but never answers, as a hung server.
  void pause() {
    if (pid_ > 0 && !paused_) {
      ::kill(pid_, SIGSTOP);
      paused_ = true;
    }
  }
  void resume() {
    if (pid_ > 0 && paused_) {
      ::kill(pid_, SIGCONT);
      paused_ = false;
    }
  }

 private:
  int port_;
  pid_t pid_ = -1;
  bool paused_ = false;
};

/// The port of the server shared by the redis tests: the CTest fixture's, or else a private one started
/// on first use and stopped at exit.
inline int shared_redis_port() {
  if (const char* file = std::getenv("AIMASTERY_REDIS_PORT_FILE")) {
    std::ifstream in(file);
    int port = 0;
    if (!(in >> port) || port <= 0)
      throw std::runtime_error(std::string("shared_redis_port: no port in ") + file + " (did the fixture start?)");
    return port;
  }
  static RedisTestServer server;
  return server.port();
}

/// A key prefix unique to this process and `name`, so that tests never see each other's keys.
inline std::string unique_prefix(const std::string& name) {
  return "aimastery-test:" + std::to_string(::getpid()) + ":" + name + ":";
}

}  // namespace aimastery::test
