// libFuzzer target for HttpServer's connection loop (aimastery/production/serving/http_server.hpp): buffers,
// pipelining, 100-continue, refusals and their draining, parking, the express worker and the queue's bounds.
//
// A server runs in this process on 127.0.0.1 with one worker, one express path (/health), max_queued 1,
// max_queue_wait 1 ms and small limits; its handler answers "<method> <target> <body size>" (a HEAD: its Content-Type
// says so, since the answer has no body), after 1 ms for /slow. The input is a list of records
// [selector][length][bytes]: the bytes go to connection (selector % 3) in one send, so the input chooses both what each
// of three connections sends and where its stream is cut. Then every connection ends its writing and reads until the
// server closes it. What it reads must be HTTP/1.1 responses one after another (status line, Content-Length, that many
// bytes of body; "100 Continue" without a body), with a documented status, no more answers than the connection sent
// requests could hold, and nothing after a refusal. Last, a new connection must still be answered. A crash, a sanitizer
// report, an abort on one of these checks or a hang (no close within 5 s) is a finding.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "aimastery/production/serving/http_server.hpp"

namespace {

aimastery::HttpServer* start_server() {
  using namespace aimastery;
  HttpServerOptions options;
  options.threads = 1;
  options.express_paths = {"/health"};
  options.max_queued = 1;
  options.max_queue_wait = std::chrono::milliseconds(1);  // a request behind /slow may wait longer
  options.limits.max_head_bytes = 1024;
  options.limits.max_fields = 16;
  options.limits.max_body_bytes = 1024;
  options.keep_alive_seconds = 2;
  options.read_timeout_seconds = 2;
  options.max_discard_bytes = 8192;
  // Never destroyed: it serves every input of the run.
  auto* server = new HttpServer(options, [](const HttpRequest& req, HttpResponse& res) {
    if (req.path == "/slow") std::this_thread::sleep_for(std::chrono::milliseconds(1));
    res.content_type = req.method == "HEAD" ? "text/head" : "text/plain";  // a HEAD's answer has no body
    res.body = std::string(req.method) + " " + std::string(req.target) + " " + std::to_string(req.body.size());
  });
  std::thread([server] { server->run(); }).detach();
  while (!server->running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return server;
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) std::abort();
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Interrupted (libFuzzer's timer signal), the connection goes on: it is complete when it is writable.
  int failure = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
  if (failure == EINTR) {
    pollfd writable{fd, POLLOUT, 0};
    while (::poll(&writable, 1, 5000) < 0 && errno == EINTR) {
    }
    socklen_t length = sizeof failure;
    if (writable.revents == 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length) != 0) failure = ETIMEDOUT;
  }
  if (failure != 0) {
    std::fprintf(stderr, "fuzz_http_server: cannot connect: %s\n", std::strerror(failure));
    std::abort();
  }
  return fd;
}

/// Sends `bytes` (again after an interruption by libFuzzer's timer signal); returns how many were sent.
std::size_t send_all(int fd, std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

/// Everything the server sends until it closes; a connection still open after 5 s is a hang.
std::string read_to_close(int fd) {
  std::string all;
  std::array<char, 4096> chunk{};
  for (;;) {
    const ssize_t n = ::recv(fd, chunk.data(), chunk.size(), 0);
    if (n > 0) {
      all.append(chunk.data(), static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) std::abort();  // not closed within 5 s
    return all;                                                            // closed (or reset)
  }
}

bool documented(int status) {
  switch (status) {
    case 100:
    case 200:
    case 400:
    case 408:
    case 413:
    case 417:
    case 431:
    case 501:
    case 503:
    case 505:
      return true;
    default:
      return false;
  }
}

/// Checks a connection's answers: HTTP/1.1 responses back to back, each framed by its Content-Length, at
/// most `sent_bytes / 16` of them (a request is at least 16 bytes: "X / HTTP/1.1\r\n\r\n"), none after a refusal.
void check_answers(std::string_view answers, std::size_t sent_bytes) {
  std::size_t count = 0;
  bool refused = false;
  while (!answers.empty()) {
    if (refused) std::abort();  // a byte after a refusal
    if (!answers.starts_with("HTTP/1.1 ") || answers.size() < 13) std::abort();
    const int status = std::atoi(std::string(answers.substr(9, 3)).c_str());
    if (!documented(status) || answers[12] != ' ') std::abort();
    const std::size_t head_end = answers.find("\r\n\r\n");
    if (head_end == std::string_view::npos) std::abort();
    const std::string_view head = answers.substr(0, head_end + 4);
    std::size_t body = 0;
    if (status != 100) {
      const std::size_t at = head.find("\r\nContent-Length: ");
      if (at == std::string_view::npos) std::abort();
      body = static_cast<std::size_t>(std::strtoull(std::string(head.substr(at + 18, 20)).c_str(), nullptr, 10));
      if (head.find("\r\nContent-Type: text/head\r\n") != std::string_view::npos) body = 0;
      ++count;
    }
    if (answers.size() < head.size() + body) std::abort();  // a response cut short
    answers.remove_prefix(head.size() + body);
    refused = status >= 400;
  }
  if (count > sent_bytes / 16 + 1) std::abort();  // +1: a 408 or 503 may answer bytes that are no request
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static aimastery::HttpServer* server = start_server();
  const int port = server->port();
  std::array<int, 3> fds{connect_to(port), connect_to(port), connect_to(port)};
  std::array<std::size_t, 3> sent{};
  std::size_t at = 0;
  while (at + 2 <= size) {
    const std::size_t connection = data[at] % 3, length = std::min<std::size_t>(data[at + 1], size - at - 2);
    // A connection the server has refused and closed fails to send: that is expected, not a finding.
    sent[connection] += send_all(fds[connection], {reinterpret_cast<const char*>(data) + at + 2, length});
    at += 2 + length;
  }
  for (const int fd : fds) ::shutdown(fd, SHUT_WR);
  for (std::size_t i = 0; i < fds.size(); ++i) {
    check_answers(read_to_close(fds[i]), sent[i]);
    ::close(fds[i]);
  }
  // Still serving.
  const int fresh = connect_to(port);
  const std::string_view probe = "GET /still-serving HTTP/1.1\r\nConnection: close\r\n\r\n";
  if (send_all(fresh, probe) != probe.size()) std::abort();
  const std::string answer = read_to_close(fresh);
  ::close(fresh);
  // 200, or 503 when the queue was full of connections still being closed.
  if (!answer.starts_with("HTTP/1.1 200 ") && !answer.starts_with("HTTP/1.1 503 ")) std::abort();
  return 0;
}
