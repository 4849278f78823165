#pragma once
/// \file
/// HttpServer: HTTP/1.1 keep-alive connections on a TCP listener, each served by one worker thread of a
/// fixed pool, for a handler that maps a request (http_request.hpp) to a response (http_response.hpp).
///
/// A request costs two system calls on a kept-alive connection: one recv (blocking, the socket's receive
/// timeout bounding the wait) and one send of the whole response. Pipelined requests already in the buffer
/// are answered without a recv. A request's head is parsed when it is complete and once more when its
/// body is in, not on every recv of the body in between. The per-connection buffer is reused; it grows as a request's
/// bytes arrive, to at most max_head_bytes + max_body_bytes, and shrinks back between requests.
///
/// Limits and timeouts. A connection idle (no byte of a request) for keep_alive_seconds is closed; a
/// request whose bytes take longer than read_timeout_seconds to arrive (a slow or stalled client) is
/// answered 408 and closed; a connection is closed after keep_alive_max_requests requests. A response
/// the client does not read for read_timeout_seconds is abandoned. Refused requests (http_request.hpp)
/// get {"error": ...} with their status and the connection is closed. A closing connection stops
/// writing first and drops what the client still sends (the rest of a refused body: up to
/// max_discard_bytes, within the read timeout) until the client closes, so that the client, maybe still
/// writing, reads the answer instead of a reset.
///
/// stop() closes the listener, closes every connection that is not answering a request (waiting for
/// one, or reading one), and lets each connection answering a request finish that response first; run()
/// returns once every worker has ended. Connections accepted but not yet taken by a worker are closed.

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/production/serving/http_request.hpp"
#include "aimastery/production/serving/http_response.hpp"

namespace aimastery {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  ///< 0: a free port chosen by the system
  std::size_t threads = 8;
  HttpLimits limits = {};
  std::size_t keep_alive_max_requests = 10000;
  int keep_alive_seconds = 5;
  int read_timeout_seconds = 5;
  std::size_t max_discard_bytes = 64u << 20;
  int listen_backlog = 1024;
};

/// Called on a worker thread for every complete request; it fills the response (cleared before).
using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

class HttpServer {
 public:
  /// Binds and listens (connections queue from then on); throws ConnectionError when it cannot.
  HttpServer(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {
    if (options_.threads < 1) throw InvalidArgument("HttpServer: threads must be >= 1");
    if (options_.keep_alive_seconds < 1 || options_.read_timeout_seconds < 1)
      throw InvalidArgument("HttpServer: keep_alive_seconds and read_timeout_seconds must be >= 1");
    if (options_.keep_alive_max_requests < 1) throw InvalidArgument("HttpServer: keep_alive_max_requests must be >= 1");
    if (!handler_) throw InvalidArgument("HttpServer: the handler is empty");
    const std::string where = options_.host + ":" + std::to_string(options_.port);
    if (options_.port < 0 || options_.port > 65535) throw ConnectionError("HttpServer: invalid port in " + where);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (::getaddrinfo(options_.host.c_str(), std::to_string(options_.port).c_str(), &hints, &found) != 0 || !found)
      throw ConnectionError("HttpServer: cannot resolve " + where);
    int error = 0;
    for (addrinfo* a = found; a && listener_ < 0; a = a->ai_next) {
      const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      const int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, options_.listen_backlog) == 0) {
        listener_ = fd;
      } else {
        error = errno;
        ::close(fd);
      }
    }
    ::freeaddrinfo(found);
    if (listener_ < 0) throw ConnectionError("HttpServer: cannot listen on " + where + ": " + std::strerror(error));
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &length);
    port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                        : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer() {
    stop();
    std::lock_guard lock(run_mutex_);  // a run() on another thread has returned
    ::close(listener_);
  }

  [[nodiscard]] int port() const noexcept { return port_; }
  /// True once run() has begun (also when it returned at once because stop() came first).
  [[nodiscard]] bool started() const noexcept { return started_.load(); }
  /// True while run() accepts connections.
  [[nodiscard]] bool running() const noexcept { return running_.load(); }

  /// Accepts and serves on the calling thread (and the workers) until stop(); returns once all ended.
  void run() {
    std::lock_guard run_lock(run_mutex_);
    started_.store(true);
    if (stopping_.load()) return;
    std::vector<std::thread> workers;
    for (std::size_t i = 0; i < options_.threads; ++i) workers.emplace_back([this] { work(); });
    running_.store(true);
    while (!stopping_.load()) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;  // EINTR, a connection reset before accept, or the listener shut down by stop()
      std::lock_guard lock(mutex_);
      if (stopping_.load()) {
        ::close(fd);
        break;
      }
      pending_.push_back(fd);
      wake_.notify_one();
    }
    {
      std::lock_guard lock(mutex_);
      for (const int fd : pending_) ::close(fd);
      pending_.clear();
    }
    wake_.notify_all();
    for (auto& w : workers) w.join();
    running_.store(false);
  }

  /// Stops accepting, closes the connections not answering a request; the others end after their answer.
  void stop() {
    std::lock_guard lock(mutex_);
    if (stopping_.exchange(true)) return;
    ::shutdown(listener_, SHUT_RDWR);  // wakes the accept
    for (Connection& c : connections_) {
      int expected = idle;
      if (c.state.compare_exchange_strong(expected, closing)) ::shutdown(c.fd, SHUT_RDWR);
    }
    wake_.notify_all();
  }

 private:
  using Clock = std::chrono::steady_clock;
  enum : int { idle = 0, answering = 1, closing = 2 };
  struct Connection {
    explicit Connection(int socket) : fd(socket) {}
    int fd;
    std::atomic<int> state{idle};
  };

  void work() {
    std::string buffer, out;
    HttpRequest request;
    HttpResponse response;
    for (;;) {
      std::list<Connection>::iterator it;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_.load() || !pending_.empty(); });
        if (stopping_.load()) return;
        const int fd = pending_.front();
        pending_.pop_front();
        it = connections_.emplace(connections_.end(), fd);
      }
      serve(*it, buffer, out, request, response);
      std::lock_guard lock(mutex_);
      ::close(it->fd);
      connections_.erase(it);
    }
  }

  /// Sends all of `bytes`; false when the client is gone or stopped reading for the send timeout.
  static bool send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  void send_refusal(int fd, std::string& out, int status, std::string_view message) {
    HttpResponse r;
    r.status = status;
    r.content_type = "application/json";
    r.body = http_error_json(message);
    out.clear();
    append_http_response(out, r, false, false);
    (void)send_all(fd, out);
  }

  /// Ends a connection whose last response is sent: no more writes, then the client's remaining bytes
  /// (the rest of a refused body, pipelined requests) are read and dropped until it closes, up to
  /// max_discard_bytes or the read timeout. Closing with unread bytes would send a reset, and the client
  /// could lose the response before reading it. stop() may cut this wait (the connection is idle).
  void close_gently(int fd, std::string& buffer) {
    ::shutdown(fd, SHUT_WR);
    const auto deadline = Clock::now() + std::chrono::seconds(options_.read_timeout_seconds);
    if (buffer.size() < 65536) buffer.resize(65536);
    std::size_t budget = options_.max_discard_bytes;
    while (budget > 0 && Clock::now() < deadline) {
      const ssize_t got = ::recv(fd, buffer.data(), std::min(budget, buffer.size()), 0);
      if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (got <= 0) return;
      budget -= static_cast<std::size_t>(got);
    }
  }

  void serve(Connection& c, std::string& buffer, std::string& out, HttpRequest& request, HttpResponse& response) {
    const int fd = c.fd;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // One receive timeout serves both waits (idle keep-alive, a request's bytes): the shorter of the two.
    timeval timeout{std::min(options_.keep_alive_seconds, options_.read_timeout_seconds), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    timeval send_timeout{options_.read_timeout_seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    if (stopping_.load()) return;  // stop() may have run before this connection was listed

    const HttpLimits& limits = options_.limits;
    if (buffer.size() < initial_buffer) buffer.resize(initial_buffer);
    std::size_t expected_bytes = limits.max_head_bytes + 1;  // the request's size when known, else a bound
    // Once a head is parsed, the request's total size: nothing is parsed again until that many bytes are
    // in (each parse reads the whole head, up to max_head_bytes, so parsing after every recv of a body
    // sent a byte at a time would cost head × body). 0 while the head is incomplete.
    std::size_t awaited_bytes = 0;
    // While the head is incomplete, the bytes already searched for the empty line that ends it: only the
    // new ones are searched after a recv (from 3 bytes back, where "\r\n\r\n" may straddle two reads), so a
    // head sent a byte at a time costs its length, not its length squared.
    std::size_t head_searched = 0;
    std::size_t have = 0, served = 0;
    bool continue_sent = false;
    auto last_activity = Clock::now(), request_start = last_activity;
    for (;;) {
      bool parse = have > 0 && have >= awaited_bytes;
      if (parse && awaited_bytes == 0 && have <= limits.max_head_bytes) {  // beyond it, the parser refuses
        const std::size_t from = head_searched < 3 ? 0 : head_searched - 3;
        parse = std::string_view(buffer.data() + from, have - from).find("\r\n\r\n") != std::string_view::npos;
        head_searched = have;
      }
      if (parse) {
        // While a body arrives only its bytes are counted; once it is in, the head is parsed once more so
        // that the request's views point into the buffer as it now is (resizing it may have moved it).
        const HttpParseResult parsed = parse_http_request(std::string_view(buffer.data(), have), limits, request);
        if (parsed.state == HttpParseState::refused) {
          send_refusal(fd, out, parsed.status, parsed.message);
          return close_gently(fd, buffer);
        }
        if (parsed.state == HttpParseState::complete) {
          int expected = idle;
          if (!c.state.compare_exchange_strong(expected, answering)) return;  // stop() closed it
          ++served;
          const bool keep_alive = request.keep_alive && served < options_.keep_alive_max_requests && !stopping_.load();
          response.clear();
          try {
            handler_(request, response);
          } catch (const std::exception& e) {
            response.clear();
            response.status = 500;
            response.content_type = "application/json";
            response.body = http_error_json(e.what());
          }
          out.clear();
          append_http_response(out, response, keep_alive, request.method == "HEAD");
          const bool sent = send_all(fd, out);
          expected = answering;
          if (!sent || !c.state.compare_exchange_strong(expected, idle)) return;
          if (stopping_.load()) return;  // stop() ran while this request was answered
          if (!keep_alive) return close_gently(fd, buffer);
          // The next request, if pipelined, is already in the buffer.
          std::memmove(buffer.data(), buffer.data() + parsed.total_bytes, have - parsed.total_bytes);
          have -= parsed.total_bytes;
          awaited_bytes = head_searched = 0;
          continue_sent = false;
          last_activity = request_start = Clock::now();
          continue;
        }
        if (parsed.head_complete && request.expect_continue && !continue_sent) {
          continue_sent = true;
          if (!send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n")) return;
        }
        expected_bytes = parsed.head_complete ? parsed.total_bytes : limits.max_head_bytes + 1;
        awaited_bytes = parsed.head_complete ? parsed.total_bytes : 0;
      } else if (have == 0 && buffer.size() > initial_buffer) {  // between requests: give back what a body took
        buffer.resize(initial_buffer);
        buffer.shrink_to_fit();
      }
      // The buffer doubles as bytes arrive, up to the request's announced size: a Content-Length alone
      // does not make it allocate the whole body.
      if (have == buffer.size()) buffer.resize(std::max(have + 1, std::min(buffer.size() * 2, expected_bytes)));
      const ssize_t n = ::recv(fd, buffer.data() + have, buffer.size() - have, 0);
      const auto now = Clock::now();
      if (n == 0) return;  // the client closed (or stop() shut the socket down)
      if (n < 0) {
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return;
        if (have == 0 && now - last_activity >= std::chrono::seconds(options_.keep_alive_seconds)) return;
      } else {
        if (have == 0) request_start = now;
        have += static_cast<std::size_t>(n);
        last_activity = now;
      }
      if (have > 0 && now - request_start >= std::chrono::seconds(options_.read_timeout_seconds)) {
        send_refusal(fd, out, 408, "the request did not arrive within the read timeout");
        return close_gently(fd, buffer);
      }
    }
  }

  static constexpr std::size_t initial_buffer = 16384;
  HttpServerOptions options_;
  HttpHandler handler_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false}, running_{false}, started_{false};
  std::mutex mutex_;  // pending_, connections_
  std::condition_variable wake_;
  std::deque<int> pending_;
  std::list<Connection> connections_;
  std::mutex run_mutex_;
};

}  // namespace aimastery
