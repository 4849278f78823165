#pragma once
// Loopback TCP servers that misbehave as a broken or hostile peer of RedisCache would: one that trickles its
// reply a byte at a time, one that accepts and never answers, one that speaks HTTP, one whose SCAN cursor
// never returns to 0. Each runs in threads of the test program and stops with the object.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace aimastery::test {

class FakeRedisServer {
 public:
  enum class Behaviour {
    trickle,       ///< replies one byte every 100 ms (well inside any per-read timeout), never finishing
    silent,        ///< reads commands, never replies
    http,          ///< replies with an HTTP 400 and closes
    wrong_pong,    ///< replies +OK to everything
    endless_scan,  ///< SCAN always returns cursor 7 and no keys
    huge_array,    ///< replies with the header of an array of 2^31 - 1 elements, then nothing
  };

  /// `prompt_pongs`: the first that many PINGs (over all connections) get a prompt +PONG, so that a
  /// RedisCache can be constructed before the misbehaviour starts.
  explicit FakeRedisServer(Behaviour behaviour, int prompt_pongs = 0)
      : behaviour_(behaviour), prompt_pongs_(prompt_pongs) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 16) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      throw std::runtime_error("FakeRedisServer: cannot listen on loopback");
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~FakeRedisServer() {
    stop_ = true;
    acceptor_.join();
    for (auto& worker : workers_) worker.join();
    ::close(listen_fd_);
  }
  FakeRedisServer(const FakeRedisServer&) = delete;
  FakeRedisServer& operator=(const FakeRedisServer&) = delete;

  [[nodiscard]] int port() const { return port_; }
  /// Connections accepted so far.
  [[nodiscard]] int connections() const { return connections_; }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      ++connections_;
      workers_.emplace_back([this, fd] {
        serve(fd);
        ::close(fd);
      });
    }
  }

  // Waits for the next chunk of a command (a command from RedisCache arrives in one chunk on loopback);
  // false when the client closed or the server stops.
  bool next_command(int fd, std::string& command) const {
    char buffer[4096];
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return false;
      command.assign(buffer, static_cast<std::size_t>(n));
      return true;
    }
    return false;
  }

  bool reply(int fd, std::string_view bytes) const {
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }

  void trickle(int fd) const {
    const std::string bytes = "$100000\r\n" + std::string(1000, 'x');
    for (const char byte : bytes) {
      if (!reply(fd, std::string_view(&byte, 1))) return;
      for (int slice = 0; slice < 5 && !stop_; ++slice) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (stop_) return;
    }
  }

  void serve(int fd) {
    std::string command;
    while (next_command(fd, command)) {
      if (command.find("PING") != std::string::npos && prompt_pongs_.fetch_sub(1) > 0) {
        if (!reply(fd, "+PONG\r\n")) return;
        continue;
      }
      switch (behaviour_) {
        case Behaviour::trickle:
          trickle(fd);
          return;
        case Behaviour::silent:
          break;
        case Behaviour::http:
          reply(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
          return;
        case Behaviour::wrong_pong:
          if (!reply(fd, "+OK\r\n")) return;
          break;
        case Behaviour::huge_array:
          if (!reply(fd, "*2147483647\r\n")) return;
          break;
        case Behaviour::endless_scan:
          if (!reply(fd, command.find("SCAN") != std::string::npos ? "*2\r\n$1\r\n7\r\n*0\r\n" : "-ERR unknown\r\n"))
            return;
          break;
      }
    }
  }

  Behaviour behaviour_;
  std::atomic<int> prompt_pongs_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

}  // namespace aimastery::test
