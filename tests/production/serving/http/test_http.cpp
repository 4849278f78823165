// The HTTP/1.1 layer of the inference server: parse_http_request on valid, truncated, pipelined and hostile
// requests (each refusal with its status and message; seeded random mutations never crash it nor read
// outside the buffer), and HttpServer on 127.0.0.1 over raw sockets: keep-alive, pipelining, requests
// arriving byte by byte, 100-continue, HEAD, the limits and timeouts (431, 413 with the body discarded,
// 408 for a slow client, idle connections closed), a throwing handler (also with an exception that is not a
// std::exception) and one whose Content-Type would split the response, and stop() answering the request
// being handled while closing idle connections; more connections than workers (idle and slow clients
// parked while others are served, their requests kept; the deadlines of parked connections), the
// connection limit, the bound on the bytes held for all connections, and a process out of descriptors
// (and raise_descriptor_limit).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aimastery/production/serving/descriptor_limit.hpp"
#include "aimastery/production/serving/http_request.hpp"
#include "aimastery/production/serving/http_response.hpp"
#include "aimastery/production/serving/http_server.hpp"
#include "support.hpp"

using namespace aimastery;

namespace {

HttpParseResult parse(std::string_view text, HttpRequest& request, HttpLimits limits = {}) {
  return parse_http_request(text, limits, request);
}

void check_refused(std::string_view text, int status, std::string_view message, HttpLimits limits = {}) {
  HttpRequest request;
  const HttpParseResult r = parse(text, request, limits);
  CHECK_MESSAGE(r.state == HttpParseState::refused, text);
  CHECK_MESSAGE(r.status == status, text);
  CHECK_MESSAGE(std::string_view(r.message).find(message) != std::string_view::npos, text << " -> " << r.message);
}

/// A blocking client socket to 127.0.0.1:port with a 5 s receive timeout (a hang fails, it does not block).
class Client {
 public:
  explicit Client(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { ::close(fd_); }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  /// One response (head and Content-Length body); nullopt when the connection closed or timed out first.
  std::optional<std::string> response() {
    for (;;) {
      const std::size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t total = end + 4;
        const std::size_t at = buffer_.find("Content-Length: ");
        if (buffer_.rfind("HTTP/1.1 100 ", 0) != 0 && !last_head_ && at != std::string::npos && at < end)
          total += std::stoul(buffer_.substr(at + 16));
        if (buffer_.size() >= total) {
          std::string r = buffer_.substr(0, total);
          buffer_.erase(0, total);
          return r;
        }
      }
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  /// True when the server closed the connection (recv returns 0 or a reset) within the timeout.
  bool closed() {
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }
  void expect_head_only(bool on) { last_head_ = on; }

 private:
  int fd_;
  std::string buffer_;
  bool last_head_ = false;
};

using std::chrono::milliseconds;
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// The answer to `request` sent on a connection of its own.
std::string answer_on_new_connection(int port, std::string_view request) {
  Client c(port);
  REQUIRE(c.send(request));
  const auto r = c.response();
  REQUIRE(r);
  return *r;
}

int status_of(const std::string& response) { return std::stoi(response.substr(9, 3)); }
std::string body_of(const std::string& response) { return response.substr(response.find("\r\n\r\n") + 4); }

/// HttpServer on a background thread, answering "<method> <target> <body>" as text/plain.
struct EchoServer {
  explicit EchoServer(HttpServerOptions options = {}, HttpHandler handler = {})
      : server(
            std::move(options), handler ? std::move(handler) : [](const HttpRequest& req, HttpResponse& res) {
              res.content_type = "text/plain";
              res.body = std::string(req.method) + " " + std::string(req.target) + " " + std::string(req.body);
            }) {
    thread = std::thread([this] { server.run(); });
    while (!server.running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~EchoServer() {
    server.stop();
    thread.join();
  }
  HttpServer server;
  std::thread thread;
};

/// A server with one worker that the test keeps busy: the handler answers "<method> <target>", after `slow`
/// for /slow (counted in `entered`).
struct BusyWorkerServer {
  BusyWorkerServer(HttpServerOptions options, std::chrono::milliseconds slow)
      : echo(one_worker(std::move(options)), [this, slow](const HttpRequest& req, HttpResponse& res) {
          if (req.path == "/slow") {
            entered.fetch_add(1);
            std::this_thread::sleep_for(slow);
          }
          res.body = std::string(req.method) + " " + std::string(req.target);
        }) {}
  static HttpServerOptions one_worker(HttpServerOptions options) {
    options.threads = 1;
    return options;
  }
  [[nodiscard]] int port() const { return echo.server.port(); }
  /// Sends GET /slow on `client` and returns once the worker is in its handler.
  void occupy(Client& client) {
    const int before = entered.load();
    REQUIRE(client.send("GET /slow HTTP/1.1\r\n\r\n"));
    while (entered.load() == before) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::atomic<int> entered{0};
  EchoServer echo;
};

const std::string get_request = "GET /v2/health/ready?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
const std::string post_request =
    "POST /v2/models/m/infer HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"
    "{\"a\":1}";

}  // namespace

TEST_CASE("parse_http_request: request line, fields, body, keep-alive") {
  HttpRequest req;
  HttpParseResult r = parse(get_request, req);
  REQUIRE(r.state == HttpParseState::complete);
  CHECK(r.total_bytes == get_request.size());
  CHECK(req.method == "GET");
  CHECK(req.target == "/v2/health/ready?x=1");
  CHECK(req.path == "/v2/health/ready");
  CHECK(req.query == "x=1");
  CHECK(req.minor_version == 1);
  CHECK(req.keep_alive);
  REQUIRE(req.fields.size() == 2);
  CHECK(req.field("accept") == std::optional<std::string_view>("*/*"));
  CHECK(req.field("HOST") == std::optional<std::string_view>("a"));
  CHECK_FALSE(req.field("Content-Length").has_value());
  CHECK(req.body.empty());

  r = parse(post_request, req);
  REQUIRE(r.state == HttpParseState::complete);
  CHECK(req.content_length == 7);
  CHECK(req.body == "{\"a\":1}");
  CHECK(r.head_bytes + 7 == r.total_bytes);

  // Keep-alive: HTTP/1.1 unless "close", HTTP/1.0 only when asked for; values are lists, any case.
  REQUIRE(parse("GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n", req).state == HttpParseState::complete);
  CHECK_FALSE(req.keep_alive);
  REQUIRE(parse("GET / HTTP/1.0\r\n\r\n", req).state == HttpParseState::complete);
  CHECK(req.minor_version == 0);
  CHECK_FALSE(req.keep_alive);
  REQUIRE(parse("GET / HTTP/1.0\r\nconnection:keep-alive\r\n\r\n", req).state == HttpParseState::complete);
  CHECK(req.keep_alive);
  // Whitespace around a value is not part of it; the same Content-Length twice is accepted.
  REQUIRE(parse("POST / HTTP/1.1\r\nContent-Length: \t2 \r\ncontent-length: 2\r\nX:\r\n\r\nab", req).state ==
          HttpParseState::complete);
  CHECK(req.body == "ab");
  CHECK(req.field("x") == std::optional<std::string_view>(""));
  REQUIRE(parse("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", req).head_complete);
  CHECK(req.expect_continue);
}

TEST_CASE("parse_http_request: every prefix of a request is incomplete, pipelined requests are apart") {
  const std::string both = post_request + get_request;
  HttpRequest req;
  for (std::size_t n = 0; n < post_request.size(); ++n) {
    const HttpParseResult r = parse(std::string_view(post_request).substr(0, n), req);
    CHECK_MESSAGE(r.state == HttpParseState::incomplete, n);
    CHECK(r.head_complete == (n >= post_request.size() - 7));
  }
  const HttpParseResult first = parse(both, req);
  REQUIRE(first.state == HttpParseState::complete);
  CHECK(first.total_bytes == post_request.size());
  CHECK(req.body == "{\"a\":1}");  // the next request is not part of the body
  const HttpParseResult second = parse(std::string_view(both).substr(first.total_bytes), req);
  REQUIRE(second.state == HttpParseState::complete);
  CHECK(req.path == "/v2/health/ready");
}

TEST_CASE("parse_http_request: each malformed or oversized request is refused with its status") {
  check_refused("GET\r\n\r\n", 400, "request line");
  check_refused("GET  / HTTP/1.1\r\n\r\n", 400, "request line");
  check_refused(" GET / HTTP/1.1\r\n\r\n", 400, "request line");
  check_refused("G(T / HTTP/1.1\r\n\r\n", 400, "method");
  check_refused("GET /a\x01 HTTP/1.1\r\n\r\n", 400, "request target");
  check_refused("GET x HTTP/1.1\r\n\r\n", 400, "absolute path");
  check_refused("GET / HTTX/1.1\r\n\r\n", 400, "HTTP version");
  check_refused("GET / HTTP/1.1 \r\n\r\n", 400, "HTTP version");
  check_refused("GET / HTTP/2.0\r\n\r\n", 505, "HTTP/1.0 and HTTP/1.1");
  check_refused("GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare LF");
  check_refused("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400, "bare CR");
  check_refused("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "header name");
  check_refused("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400, "header");
  check_refused("GET / HTTP/1.1\r\n: a\r\n\r\n", 400, "header field");
  check_refused("GET / HTTP/1.1\r\nno colon\r\n\r\n", 400, "header field");
  check_refused(std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 27), 400, "control character");
  for (const char* length : {"-1", "1 2", "0x10", "+5", "", "99999999999999999999"})
    check_refused(std::string("POST / HTTP/1.1\r\nContent-Length: ") + length + "\r\n\r\n", 400, "Content-Length");
  check_refused("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", 400, "conflicting");
  check_refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501, "Transfer-Encoding");
  check_refused("POST / HTTP/1.1\r\nExpect: something\r\n\r\n", 417, "100-continue");

  HttpLimits small;
  small.max_head_bytes = 64;
  small.max_fields = 3;
  small.max_body_bytes = 10;
  check_refused("GET / HTTP/1.1\r\nX: " + std::string(100, 'a'), 431, "head exceeds", small);  // no end yet
  check_refused("GET / HTTP/1.1\r\nX: " + std::string(60, 'a') + "\r\n\r\n", 431, "head exceeds", small);
  check_refused("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431, "too many", small);
  HttpRequest req;
  const HttpParseResult big = parse("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", req, small);
  CHECK(big.state == HttpParseState::refused);
  CHECK(big.status == 413);
  CHECK(big.head_complete);  // the caller knows how much body to skip
  CHECK(big.total_bytes == big.head_bytes + 11);
  const HttpParseResult huge = parse("POST / HTTP/1.1\r\nContent-Length: 9999999999999999999\r\n\r\n", req);
  CHECK(huge.status == 413);
  CHECK(huge.total_bytes >= huge.head_bytes);  // no overflow
  CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", req, small).state == HttpParseState::complete);
}

TEST_CASE("parse_http_request: seeded random mutations give a consistent answer, never a crash") {
  std::mt19937_64 rng(20261202);
  const std::vector<std::string> seeds = {get_request, post_request, post_request + get_request,
                                          "POST /x HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc"};
  const std::string alphabet = "\r\n :/\t0123456789GETPOSTHTTP/1.Content-Length\x00\x7f\xff";
  HttpLimits limits;
  limits.max_head_bytes = 256;
  limits.max_body_bytes = 64;
  int complete = 0, refused = 0, incomplete = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string text = seeds[rng() % seeds.size()];
    const int edits = static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = rng() % text.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 4) {
        case 0:
          text[at] = c;
          break;
        case 1:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        case 2:
          text.erase(at, 1);
          break;
        default:
          text.resize(at);
          break;
      }
    }
    // The parser sees exactly the buffer's bytes (a copy with nothing after it: ASan catches a read past).
    const std::vector<char> bytes(text.begin(), text.end());
    HttpRequest req;
    const HttpParseResult r = parse_http_request(std::string_view(bytes.data(), bytes.size()), limits, req);
    switch (r.state) {
      case HttpParseState::complete:
        ++complete;
        CHECK(r.total_bytes <= bytes.size());
        CHECK(req.body.size() == req.content_length);
        CHECK(req.content_length <= limits.max_body_bytes);
        CHECK(r.head_bytes <= limits.max_head_bytes);
        CHECK(req.path.front() == '/');
        break;
      case HttpParseState::refused:
        ++refused;
        CHECK((r.status == 400 || r.status == 413 || r.status == 417 || r.status == 431 || r.status == 501 ||
               r.status == 505));
        CHECK(std::string_view(r.message).size() > 0);
        break;
      case HttpParseState::incomplete:
        ++incomplete;
        CHECK(bytes.size() <= limits.max_head_bytes + r.total_bytes);
        break;
    }
  }
  CHECK(complete > 1000);
  CHECK(refused > 1000);
  CHECK(incomplete > 1000);
}

TEST_CASE("append_http_response: one buffer, status line, fields and body") {
  HttpResponse r;
  r.status = 404;
  r.content_type = "application/json";
  r.body = http_error_json("no route \"x\"\n");
  std::string out;
  append_http_response(out, r, true, false);
  CHECK(out ==
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 32\r\nConnection: "
        "keep-alive\r\n\r\n{\"error\":\"no route \\\"x\\\"\\u000a\"}");
  out.clear();
  append_http_response(out, r, false, true);  // HEAD: the length of the GET's body, no body
  CHECK(out ==
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 32\r\nConnection: close\r\n\r\n");
  out.clear();
  r.status = 503;
  r.retry_after_seconds = 1;
  append_http_response(out, r, false, false);
  CHECK(out.starts_with(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 32\r\nRetry-After: "
      "1\r\nConnection: close\r\n\r\n{"));
  r.clear();
  CHECK(r.retry_after_seconds == 0);
}

TEST_CASE("HttpServer: keep-alive, pipelining, a request byte by byte, 100-continue, HEAD") {
  EchoServer s;
  Client c(s.server.port());
  for (int i = 0; i < 3; ++i) {  // one connection, several requests
    REQUIRE(c.send(post_request));
    const auto r = c.response();
    REQUIRE(r);
    CHECK(*r ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 31\r\nConnection: keep-alive\r\n\r\n"
          "POST /v2/models/m/infer {\"a\":1}");
  }
  REQUIRE(c.send(get_request + post_request + get_request));  // pipelined in one write
  for (const char* expected : {"GET /v2/health/ready?x=1 ", "POST /v2/models/m/infer {\"a\":1}", "GET /v2/health"}) {
    const auto r = c.response();
    REQUIRE(r);
    CHECK(body_of(*r).rfind(expected, 0) == 0);
  }
  // A body larger than the connection's first buffer, then a small request again on the same connection.
  const std::string large(300000, 'z');
  REQUIRE(c.send("POST /big HTTP/1.1\r\nContent-Length: 300000\r\n\r\n" + large));
  auto big = c.response();
  REQUIRE(big);
  CHECK(body_of(*big) == "POST /big " + large);
  for (const char byte : post_request) REQUIRE(c.send(std::string_view(&byte, 1)));
  auto r = c.response();
  REQUIRE(r);
  CHECK(body_of(*r) == "POST /v2/models/m/infer {\"a\":1}");

  REQUIRE(c.send("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
  r = c.response();
  REQUIRE(r);
  CHECK(*r == "HTTP/1.1 100 Continue\r\n\r\n");
  REQUIRE(c.send("hi"));
  r = c.response();
  REQUIRE(r);
  CHECK(body_of(*r) == "POST /e hi");

  c.expect_head_only(true);
  REQUIRE(c.send("HEAD /h HTTP/1.1\r\n\r\n"));
  r = c.response();
  REQUIRE(r);
  CHECK(r->find("Content-Length: 8\r\n") != std::string::npos);
  CHECK(body_of(*r).empty());
  c.expect_head_only(false);

  REQUIRE(c.send("GET /last HTTP/1.1\r\nConnection: close\r\n\r\n"));
  r = c.response();
  REQUIRE(r);
  CHECK(r->find("Connection: close\r\n") != std::string::npos);
  CHECK(c.closed());
}

TEST_CASE("HttpServer: a 16 KB head and body in 1-byte writes: head parsed twice, each byte searched once") {
  // The head is parsed when it is complete and once more when the body is in. Parsed again after every
  // recv instead (~35 us for a 16 KB head), a body arriving a byte at a time cost head x body of CPU: 35 s
  // for 1 MB; while the head arrives, only the bytes new since the last recv are searched for its end.
  // Here head and body come in 1-byte writes, each after a short pause so that the server receives most of
  // them apart: the answer must be the whole request, in a generous time; the worker's CPU time (printed)
  // was ~35 us a body write before, a few us now.
  HttpServerOptions options;
  options.threads = 1;  // the worker's CPU time is this connection's
  options.read_timeout_seconds = 60;
  std::atomic<std::int64_t> worker_cpu_ns{0};
  EchoServer s(options, [&](const HttpRequest& req, HttpResponse& res) {
    timespec cpu{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    worker_cpu_ns = std::int64_t(cpu.tv_sec) * 1'000'000'000 + cpu.tv_nsec;
    std::uint64_t sum = 0;
    for (const char c : req.body) sum = sum * 31 + static_cast<unsigned char>(c);
    res.content_type = "text/plain";
    res.body = std::to_string(req.fields.size()) + " " + std::string(req.field("X-F97").value_or("-")) + " " +
               std::to_string(req.body.size()) + " " + std::to_string(sum);
  });
  const std::size_t body_bytes = 8000;
  std::string head = "POST /v2/models/m/infer HTTP/1.1\r\nContent-Length: " + std::to_string(body_bytes) + "\r\n";
  for (int i = 0; i < 98; ++i)
    head += "X-F" + std::to_string(i) + ": " + std::string(150, static_cast<char>('a' + i % 26)) + "\r\n";
  head += "\r\n";
  REQUIRE(head.size() > 15000);
  REQUIRE(head.size() <= HttpLimits{}.max_head_bytes);
  std::string body(body_bytes, ' ');
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < body_bytes; ++i) {
    body[i] = static_cast<char>('a' + i % 26);
    sum = sum * 31 + static_cast<unsigned char>(body[i]);
  }

  const auto start = std::chrono::steady_clock::now();
  Client c(s.server.port());
  for (const char byte : head + body) {
    std::this_thread::sleep_for(std::chrono::microseconds(20));
    REQUIRE(c.send(std::string_view(&byte, 1)));
  }
  const auto r = c.response();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(r);
  CHECK(status_of(*r) == 200);
  CHECK(body_of(*r) ==
        "99 " + std::string(150, 'a' + 97 % 26) + " " + std::to_string(body_bytes) + " " + std::to_string(sum));
  MESSAGE("a " << head.size() << "-byte head and a " << body_bytes << "-byte body in 1-byte writes: " << seconds
               << " s, the worker's CPU " << static_cast<double>(worker_cpu_ns.load()) * 1e-6 << " ms");
  CHECK(seconds < 30);
}

TEST_CASE("HttpServer: hostile requests get their 4xx and a closed connection; the server keeps serving") {
  HttpServerOptions options;
  options.limits.max_head_bytes = 1024;
  options.limits.max_body_bytes = 1000;
  options.read_timeout_seconds = 1;
  options.keep_alive_seconds = 1;
  options.keep_alive_max_requests = 2;
  options.threads = 4;
  EchoServer s(options);
  const int port = s.server.port();
  auto refused = [&](const std::string& request, int status, std::string_view message) {
    Client c(port);
    REQUIRE(c.send(request));
    const auto r = c.response();
    REQUIRE_MESSAGE(r, request.substr(0, 40));
    CHECK(status_of(*r) == status);
    CHECK_MESSAGE(body_of(*r).find(message) != std::string::npos, *r);
    CHECK(r->find("Connection: close") != std::string::npos);
    CHECK(c.closed());
  };
  refused("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400, "invalid Content-Length");
  refused("BLAH\r\n\r\n", 400, "request line");
  refused("GET / HTTP/1.1\r\nX: " + std::string(5000, 'a'), 431, "head exceeds");  // never ends
  refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "Transfer-Encoding");
  // 413: the body is read and dropped, so the client still writing it reads the answer (no reset).
  refused("POST / HTTP/1.1\r\nContent-Length: 200000\r\n\r\n" + std::string(200000, 'x'), 413, "exceeds");
  // A slow client (slowloris): a head that never completes is answered 408 after the read timeout.
  {
    Client c(port);
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(c.send("GET / HTTP/1.1\r\n"));
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      c.send("X-Slow: 1\r\n");
    }
    const auto r = c.response();
    REQUIRE(r);
    CHECK(status_of(*r) == 408);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(4));
    CHECK(c.closed());
  }
  // An idle connection is closed after keep_alive_seconds; the last allowed request says "close".
  {
    Client c(port);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(c.closed());
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(900));
  }
  {
    Client c(port);  // pipelined: the third request is dropped after the second answer says "close"
    REQUIRE(c.send(get_request + get_request + get_request));
    const auto first = c.response(), second = c.response();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->find("Connection: keep-alive") != std::string::npos);
    CHECK(second->find("Connection: close") != std::string::npos);
    CHECK(c.closed());
  }
  {
    Client c(port);  // a refused request with more bytes behind it: the answer arrives, not a reset
    REQUIRE(c.send("GET / HTTP/9.9\r\n\r\n" + std::string(100000, 'y')));
    const auto r = c.response();
    REQUIRE(r);
    CHECK(status_of(*r) == 505);
  }
  CHECK(status_of(answer_on_new_connection(port, post_request)) == 200);
}

TEST_CASE("HttpServer: a throwing handler is a 500; stop() answers the request in hand and ends") {
  std::atomic<bool> entered{false};
  HttpServerOptions options;
  options.threads = 2;
  EchoServer s(options, [&](const HttpRequest& req, HttpResponse& res) {
    if (req.path == "/throw") throw std::runtime_error("broken \"model\"");
    if (req.path == "/throw-int") throw 42;
    if (req.path == "/quick") return;
    if (req.path == "/split") {  // a Content-Type that would end its field and add one of its own
      res.content_type = "text/plain\r\nSet-Cookie: session=stolen";
      res.body = "split";
      return;
    }
    entered.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    res.body = "slow";
  });
  {
    Client c(s.server.port());
    REQUIRE(c.send("GET /throw HTTP/1.1\r\n\r\n"));
    const auto r = c.response();
    REQUIRE(r);
    CHECK(status_of(*r) == 500);
    CHECK(body_of(*r) == "{\"error\":\"broken \\\"model\\\"\"}");
    // Not a std::exception: a 500 as well, and the worker goes on (the connection is kept).
    REQUIRE(c.send("GET /throw-int HTTP/1.1\r\n\r\n"));
    const auto thrown = c.response();
    REQUIRE(thrown);
    CHECK(status_of(*thrown) == 500);
    CHECK(body_of(*thrown) == "{\"error\":\"the handler threw an exception that is not a std::exception\"}");
    REQUIRE(c.send("GET /split HTTP/1.1\r\n\r\n"));
    const auto split = c.response();
    REQUIRE(split);
    CHECK(status_of(*split) == 500);
    CHECK(split->find("Set-Cookie") == std::string::npos);
    CHECK(body_of(*split) == "{\"error\":\"the handler's Content-Type holds a control character\"}");
    REQUIRE(c.send("GET /quick HTTP/1.1\r\n\r\n"));
    const auto after = c.response();
    REQUIRE(after);
    CHECK(status_of(*after) == 200);
  }
  Client idle(s.server.port()), busy(s.server.port());
  REQUIRE(busy.send("GET /slow HTTP/1.1\r\n\r\n"));
  while (!entered.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  s.server.stop();
  const auto r = busy.response();
  REQUIRE(r);
  CHECK(body_of(*r) == "slow");
  CHECK(busy.closed());
  CHECK(idle.closed());
}

TEST_CASE("HttpServer: run() after stop() returns at once; the port is refused after the destructor") {
  int port = 0;
  {
    HttpServer s({}, [](const HttpRequest&, HttpResponse&) {});
    port = s.port();
    s.stop();
    s.run();
    CHECK(s.started());
    CHECK_FALSE(s.running());
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0);
  ::close(fd);
}

TEST_CASE("HttpServer: bad options and a port in use are refused with a message") {
  auto handler = [](const HttpRequest&, HttpResponse&) {};
  auto message_of = [&](HttpServerOptions o, HttpHandler h) -> std::string {
    try {
      HttpServer s(std::move(o), std::move(h));
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  // Options refused with InvalidArgument, each with a message that names the option.
  const auto check_invalid = [&](const auto& set, std::string_view text) {
    HttpServerOptions options;
    set(options);
    CHECK_THROWS_AS(HttpServer(options, handler), InvalidArgument);
    CHECK_MESSAGE(message_of(options, handler).find(text) != std::string::npos, text);
  };
  check_invalid([](HttpServerOptions& o) { o.threads = 0; }, "threads must be between 1 and 4096, got 0");
  check_invalid([](HttpServerOptions& o) { o.threads = 100000; }, "threads must be between 1 and 4096, got 100000");
  check_invalid([](HttpServerOptions& o) { o.read_timeout_seconds = 0; }, "read_timeout_seconds");
  check_invalid([](HttpServerOptions& o) { o.max_connections = 0; }, "max_connections must be >= 1");
  check_invalid([](HttpServerOptions& o) { o.max_buffered_bytes = 0; }, "max_buffered_bytes must be >= 1");
  check_invalid([](HttpServerOptions& o) { o.max_queue_wait = milliseconds(-5); },
                "max_queue_wait must be >= 0 ms (0: no bound), got -5 ms");
  check_invalid([](HttpServerOptions& o) { o.express_paths = {"health"}; }, "an express path must begin with '/'");
  check_invalid([](HttpServerOptions& o) { o.express_paths = {"/live", "/a b"}; }, "got \"/a b\"");
  check_invalid([](HttpServerOptions& o) { o.express_paths = {"/metrics?x"}; }, "got \"/metrics?x\"");
  check_invalid([](HttpServerOptions& o) { o.express_paths = {"/a\r\nb"}; }, "control character");
  check_invalid(
      [](HttpServerOptions& o) {
        o.express_paths.emplace_back(257, 'p');
        o.express_paths.back().front() = '/';
      },
      "at most 256 bytes");
  CHECK(message_of({}, {}).find("handler is empty") != std::string::npos);
  HttpServerOptions port;
  port.port = 70000;
  CHECK_THROWS_AS(HttpServer(port, handler), ConnectionError);
  HttpServer first({}, handler);
  HttpServerOptions taken;
  taken.port = first.port();
  CHECK_THROWS_AS(HttpServer(taken, handler), ConnectionError);
  CHECK(message_of(taken, handler).find("cannot listen on 127.0.0.1:" + std::to_string(first.port())) !=
        std::string::npos);
  HttpServerOptions host;
  host.host = "no such host name.invalid";
  CHECK(message_of(host, handler).find("cannot resolve") != std::string::npos);
}

TEST_CASE("HttpServer: idle and slow clients do not hold the workers; parked connections keep their requests") {
  // Two workers, four clients that would each have held one for keep_alive_seconds or read_timeout_seconds
  // (5 s): two idle, one in the middle of a head, one in the middle of a body. Each worker waiting for
  // such a client's bytes parks its connection when another is queued, so twenty further clients are
  // answered at once, and the four finish their requests afterwards on the same connections.
  HttpServerOptions options;
  options.threads = 2;
  EchoServer s(options);
  const int port = s.server.port();
  Client idle_1(port), idle_2(port), slow_head(port), slow_body(port);
  REQUIRE(slow_head.send("POST /head HTTP/1.1\r\nContent-Length: 4\r\n"));
  REQUIRE(slow_body.send("POST /body HTTP/1.1\r\nContent-Length: 6\r\n\r\nabc"));
  std::this_thread::sleep_for(milliseconds(100));
  for (int i = 0; i < 20; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    Client c(port);
    REQUIRE(c.send(post_request));
    const auto r = c.response();
    REQUIRE_MESSAGE(r, "client " << i);
    CHECK(body_of(*r) == "POST /v2/models/m/infer {\"a\":1}");
    CHECK_MESSAGE(seconds_since(t0) < 1.0, "client " << i << " waited " << seconds_since(t0) << " s");
  }
  REQUIRE(slow_head.send("\r\nwxyz"));
  REQUIRE(slow_body.send("def"));
  REQUIRE(idle_1.send(get_request));
  REQUIRE(idle_2.send(post_request));
  const auto head = slow_head.response(), body = slow_body.response(), one = idle_1.response(), two = idle_2.response();
  REQUIRE(head);
  REQUIRE(body);
  REQUIRE(one);
  REQUIRE(two);
  CHECK(body_of(*head) == "POST /head wxyz");
  CHECK(body_of(*body) == "POST /body abcdef");
  CHECK(body_of(*one) == "GET /v2/health/ready?x=1 ");
  CHECK(body_of(*two) == "POST /v2/models/m/infer {\"a\":1}");
}

TEST_CASE("HttpServer: thirty-two kept-alive connections served in turn by two workers") {
  // One thread sends a request on each connection in turn and reads its answer before the next. With one
  // worker per open connection, the third connection's first answer would wait for the first two to close.
  HttpServerOptions options;
  options.threads = 2;
  EchoServer s(options);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 32; ++i) clients.push_back(std::make_unique<Client>(s.server.port()));
  const auto t0 = std::chrono::steady_clock::now();
  for (int round = 0; round < 5; ++round)
    for (std::size_t i = 0; i < clients.size(); ++i) {
      const std::string target = "/r" + std::to_string(round) + "c" + std::to_string(i);
      REQUIRE(clients[i]->send("GET " + target + " HTTP/1.1\r\n\r\n"));
      const auto r = clients[i]->response();
      REQUIRE_MESSAGE(r, target);
      CHECK(body_of(*r) == "GET " + target + " ");
    }
  MESSAGE("160 requests on 32 connections, 2 workers: " << seconds_since(t0) << " s");
  CHECK(seconds_since(t0) < 10.0);
}

TEST_CASE("HttpServer: sixteen client threads with random pauses on two workers: every answer right") {
  // Each client sends requests on its own connection, some in two pieces, pausing at random between
  // them: connections are parked and taken up again from many threads at once (the ThreadSanitizer build
  // runs this too).
  HttpServerOptions options;
  options.threads = 2;
  EchoServer s(options);
  const int port = s.server.port();
  std::atomic<int> answered{0}, wrong{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 16; ++t)
    clients.emplace_back([&, t] {
      std::mt19937 random(static_cast<std::uint32_t>(t));
      Client c(port);
      for (int i = 0; i < 25; ++i) {
        std::string body = "t";  // appended piece by piece: g++ 12 warns of a false overflow in "t" + ...
        body.append(std::to_string(t)).append("i").append(std::to_string(i));
        std::string request = "POST /p HTTP/1.1\r\nContent-Length: ";
        request.append(std::to_string(body.size())).append("\r\n\r\n").append(body);
        const std::size_t split = random() % request.size();
        if (!c.send(std::string_view(request).substr(0, split))) break;
        if (random() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(random() % 3000));
        if (!c.send(std::string_view(request).substr(split))) break;
        const auto r = c.response();
        if (!r) break;
        if (body_of(*r) == "POST /p " + body)
          ++answered;
        else
          ++wrong;
      }
    });
  for (auto& c : clients) c.join();
  CHECK(wrong.load() == 0);
  CHECK(answered.load() == 16 * 25);
}

TEST_CASE("HttpServer: a client that does not read its answers holds no worker, and gets them all later") {
  // 32 pipelined requests for 1 MiB each: more than the two sockets' buffers hold, so the answer stalls
  // until the client reads. The one worker parks that connection when another client comes; the first
  // client's answers all arrive, whole and in order, once it reads. A client that takes no byte for
  // read_timeout_seconds is dropped.
  const std::string big(1 << 20, 'b');
  auto handler = [&](const HttpRequest& req, HttpResponse& res) {
    res.content_type = "text/plain";
    res.body = req.path == "/big" ? big : "small " + std::string(req.target);
  };
  std::string requests;
  for (int i = 0; i < 32; ++i) requests += "GET /big HTTP/1.1\r\n\r\n";
  {
    HttpServerOptions options;
    options.threads = 1;
    EchoServer s(options, handler);
    Client slow_reader(s.server.port());
    REQUIRE(slow_reader.send(requests));
    std::this_thread::sleep_for(milliseconds(300));
    for (int i = 0; i < 3; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      Client other(s.server.port());
      REQUIRE(other.send("GET /small HTTP/1.1\r\n\r\n"));
      const auto r = other.response();
      REQUIRE(r);
      CHECK(body_of(*r) == "small /small");
      CHECK_MESSAGE(seconds_since(t0) < 1.0, "waited " << seconds_since(t0) << " s");
    }
    for (int i = 0; i < 32; ++i) {
      const auto r = slow_reader.response();
      REQUIRE_MESSAGE(r, "answer " << i);
      CHECK(body_of(*r) == big);
    }
    REQUIRE(slow_reader.send("GET /small HTTP/1.1\r\n\r\n"));  // and the connection goes on
    const auto r = slow_reader.response();
    REQUIRE(r);
    CHECK(body_of(*r) == "small /small");
  }
  HttpServerOptions options;
  options.threads = 1;
  options.read_timeout_seconds = 1;
  EchoServer s(options, handler);
  Client never_reads(s.server.port());
  REQUIRE(never_reads.send(requests));
  std::this_thread::sleep_for(milliseconds(300));
  Client other(s.server.port());  // the worker parks the stalled answer and serves this one
  REQUIRE(other.send("GET /small HTTP/1.1\r\n\r\n"));
  REQUIRE(other.response());
  std::this_thread::sleep_for(milliseconds(2500));
  int answers = 0;
  while (never_reads.response()) ++answers;
  CHECK(answers < 32);
  MESSAGE("a client that read nothing for 2.8 s got " << answers << " of 32 answers before its connection closed");
}

TEST_CASE("HttpServer: parked connections meet their deadlines; stop() closes the parked ones") {
  HttpServerOptions options;
  options.threads = 1;
  options.keep_alive_seconds = 1;
  options.read_timeout_seconds = 1;
  EchoServer s(options);
  const int port = s.server.port();
  const auto t0 = std::chrono::steady_clock::now();
  Client idle(port), slow(port);
  REQUIRE(slow.send("GET /never-ends HTTP/1.1\r\n"));
  std::this_thread::sleep_for(milliseconds(50));
  Client quick(port);  // the worker parks whichever of the two it is waiting on, and answers this one
  REQUIRE(quick.send(get_request));
  const auto answer = quick.response();
  REQUIRE(answer);
  CHECK(status_of(*answer) == 200);
  CHECK(seconds_since(t0) < 0.9);
  const auto refused = slow.response();  // the request begun: 408 after read_timeout_seconds
  REQUIRE(refused);
  CHECK(status_of(*refused) == 408);
  CHECK(seconds_since(t0) >= 0.9);
  CHECK(slow.closed());
  CHECK(idle.closed());  // idle: closed after keep_alive_seconds
  CHECK(seconds_since(t0) < 4.0);

  Client parked_1(port), parked_2(port);
  REQUIRE(parked_2.send("GET / HTTP/1.1\r\n"));
  std::this_thread::sleep_for(milliseconds(100));
  const auto t1 = std::chrono::steady_clock::now();
  s.server.stop();
  CHECK(parked_1.closed());
  CHECK(parked_2.closed());
  CHECK(seconds_since(t1) < 0.5);
}

TEST_CASE("HttpServer: a request that waited for a worker past the deadlines is answered, not taken for a slow one") {
  // One worker, busy for 1.6 s, longer than keep_alive_seconds and read_timeout_seconds (1 s). Meanwhile
  // one client sends its whole request at once, another in two parts 200 ms apart: both were on time, so
  // both are answered when the worker is free, not closed as idle nor refused 408.
  HttpServerOptions options;
  options.keep_alive_seconds = 1;
  options.read_timeout_seconds = 1;
  BusyWorkerServer s(options, milliseconds(1600));
  const int port = s.port();
  Client busy(port);
  s.occupy(busy);
  Client whole(port), in_parts(port);
  REQUIRE(whole.send("GET /whole HTTP/1.1\r\n\r\n"));
  REQUIRE(in_parts.send("GET /in-parts HTTP/1.1\r\n"));
  std::this_thread::sleep_for(milliseconds(200));
  REQUIRE(in_parts.send("\r\n"));
  const auto slow = busy.response(), first = whole.response(), second = in_parts.response();
  REQUIRE(slow);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(body_of(*slow) == "GET /slow");
  CHECK(status_of(*first) == 200);
  CHECK(body_of(*first) == "GET /whole");
  CHECK(status_of(*second) == 200);
  CHECK(body_of(*second) == "GET /in-parts");
  // A client that is slow after all still gets its 408.
  Client stalled(port);
  REQUIRE(stalled.send("GET /stalled HTTP/1.1\r\n"));
  const auto refused = stalled.response();
  REQUIRE(refused);
  CHECK(status_of(*refused) == 408);
}

TEST_CASE("HttpServer: express paths are answered while every worker is busy; other requests wait their turn") {
  HttpServerOptions options;
  options.express_paths = {"/health", "/metrics"};
  BusyWorkerServer s(options, milliseconds(1500));
  const int port = s.port();
  const auto t0 = std::chrono::steady_clock::now();
  Client busy(port), queued(port);
  s.occupy(busy);
  REQUIRE(queued.send("GET /slow HTTP/1.1\r\n\r\n"));  // waits for the worker: 3 s in all
  std::this_thread::sleep_for(milliseconds(50));

  // A probe, twice on one connection (the second after the connection was parked), a HEAD, a query.
  Client probe(port);
  for (const std::string target : {"/health", "/health?verbose=1"}) {
    const auto t = std::chrono::steady_clock::now();
    REQUIRE(probe.send("GET " + target + " HTTP/1.1\r\n\r\n"));
    const auto r = probe.response();
    REQUIRE(r);
    CHECK(status_of(*r) == 200);
    CHECK(body_of(*r) == "GET " + target);
    CHECK_MESSAGE(seconds_since(t) < 0.5, target << " took " << seconds_since(t) << " s");
  }
  Client head(port);
  head.expect_head_only(true);
  REQUIRE(head.send("HEAD /metrics HTTP/1.1\r\nConnection: close\r\n\r\n"));
  const auto h = head.response();
  REQUIRE(h);
  CHECK(status_of(*h) == 200);
  CHECK(head.closed());
  // A connection accepted before its request comes (while no worker is free) waits for it, then is express.
  Client late(port);
  std::this_thread::sleep_for(milliseconds(200));
  const auto t_late = std::chrono::steady_clock::now();
  REQUIRE(late.send("GET /metrics HTTP/1.1\r\n\r\n"));
  const auto l = late.response();
  REQUIRE(l);
  CHECK(body_of(*l) == "GET /metrics");
  CHECK(seconds_since(t_late) < 0.5);
  CHECK(seconds_since(t0) < 1.4);  // all of it while the worker was on the first /slow

  // Not express: another path that begins like one, and a POST to an express path. They wait for the worker.
  Client other(port), post(port);
  REQUIRE(other.send("GET /healthz HTTP/1.1\r\n\r\n"));
  REQUIRE(post.send("POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
  const auto o = other.response(), p = post.response();
  REQUIRE(o);
  REQUIRE(p);
  CHECK(body_of(*o) == "GET /healthz");
  CHECK(body_of(*p) == "POST /health");
  CHECK(s.entered.load() == 2);  // both came after the queued /slow
  CHECK(seconds_since(t0) >= 2.9);
  const auto q = queued.response();
  REQUIRE(q);
  CHECK(body_of(*q) == "GET /slow");
}

TEST_CASE("HttpServer: a slow request pipelined behind a probe goes to the workers, not to the express worker") {
  HttpServerOptions options;
  options.express_paths = {"/health"};
  BusyWorkerServer s(options, milliseconds(800));
  const int port = s.port();
  Client busy(port);
  s.occupy(busy);
  Client pipelined(port);
  REQUIRE(pipelined.send("GET /health HTTP/1.1\r\n\r\nGET /slow?second HTTP/1.1\r\n\r\n"));
  const auto probe_answer = pipelined.response();
  REQUIRE(probe_answer);
  CHECK(body_of(*probe_answer) == "GET /health");
  std::this_thread::sleep_for(milliseconds(50));
  const auto t = std::chrono::steady_clock::now();
  CHECK(status_of(answer_on_new_connection(port, "GET /health HTTP/1.1\r\n\r\n")) == 200);
  CHECK_MESSAGE(seconds_since(t) < 0.5, "the probe took " << seconds_since(t) << " s");
  const auto slow = pipelined.response();  // after the first /slow, from the regular worker
  REQUIRE(slow);
  CHECK(body_of(*slow) == "GET /slow?second");
  CHECK(s.entered.load() == 2);
  REQUIRE(busy.response());
}

TEST_CASE("HttpServer: beyond max_queued connections waiting for a worker, a request is answered 503 at once") {
  HttpServerOptions options;
  options.max_queued = 2;
  options.express_paths = {"/health"};
  BusyWorkerServer s(options, milliseconds(1000));
  const int port = s.port();
  Client busy(port);
  s.occupy(busy);
  Client first(port), second(port);  // the two that may wait
  REQUIRE(first.send("GET /first HTTP/1.1\r\n\r\n"));
  REQUIRE(second.send("GET /second HTTP/1.1\r\n\r\n"));
  std::this_thread::sleep_for(milliseconds(100));
  const auto t0 = std::chrono::steady_clock::now();
  Client third(port);
  REQUIRE(third.send("POST /third HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"));
  const auto refused = third.response();
  REQUIRE(refused);
  CHECK(status_of(*refused) == 503);
  CHECK(body_of(*refused) == "{\"error\":\"the server is busy: 2 requests already wait for a worker; retry later\"}");
  CHECK(refused->find("\r\nRetry-After: 1\r\n") != std::string::npos);
  CHECK(refused->find("Connection: close") != std::string::npos);
  CHECK(third.closed());
  CHECK(seconds_since(t0) < 0.5);
  CHECK(s.echo.server.load().refused_queue_full == 1);
  // A probe is not queued: it is answered while the queue is full.
  CHECK(status_of(answer_on_new_connection(port, "GET /health HTTP/1.1\r\n\r\n")) == 200);
  // The two that waited are answered; afterwards the queue takes requests again.
  const auto slow = busy.response(), one = first.response(), two = second.response();
  REQUIRE(slow);
  REQUIRE(one);
  REQUIRE(two);
  CHECK(body_of(*one) == "GET /first");
  CHECK(body_of(*two) == "GET /second");
  CHECK(status_of(answer_on_new_connection(port, get_request)) == 200);
}

TEST_CASE("HttpServer: a request that waited for a worker longer than max_queue_wait gets 503, not the handler") {
  HttpServerOptions options;
  options.max_queue_wait = milliseconds(300);
  options.express_paths = {"/health"};
  BusyWorkerServer s(options, milliseconds(1200));
  const int port = s.port();
  Client busy(port);
  s.occupy(busy);
  Client stale(port);
  REQUIRE(stale.send("GET /slow HTTP/1.1\r\n\r\n"));  // waits about 1.2 s behind the busy worker
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(s.echo.server.load().queued == 1);
  // A probe does not wait in that queue, and has no such bound.
  CHECK(status_of(answer_on_new_connection(port, "GET /health HTTP/1.1\r\n\r\n")) == 200);
  REQUIRE(busy.response());
  const auto refused = stale.response();
  REQUIRE(refused);
  CHECK(status_of(*refused) == 503);
  const std::string message = body_of(*refused);
  CHECK_MESSAGE(message.starts_with("{\"error\":\"the request waited "), message);
  CHECK_MESSAGE(message.ends_with(" ms for a worker, longer than max_queue_wait (300 ms); retry later\"}"), message);
  const long waited = std::stol(message.substr(message.find("waited ") + 7));
  CHECK(waited > 300);
  CHECK(waited < 5000);
  CHECK(refused->find("Connection: close") != std::string::npos);
  CHECK(refused->find("\r\nRetry-After: 1\r\n") != std::string::npos);
  CHECK(stale.closed());
  CHECK(s.entered.load() == 1);  // the handler never saw the stale request
  // A request that finds the worker free waits no time: answered, on a new connection and a kept-alive one.
  CHECK(status_of(answer_on_new_connection(port, get_request)) == 200);
  REQUIRE(busy.send(post_request));
  const auto again = busy.response();
  REQUIRE(again);
  CHECK(status_of(*again) == 200);
  const HttpServerLoad load = s.echo.server.load();
  CHECK(load.refused_queue_wait == 1);
  CHECK(load.refused_queue_full == 0);
  CHECK(load.queued == 0);
  CHECK(load.connections >= 1);  // busy, kept alive
}

TEST_CASE("HttpServer: a connection over max_connections is answered 503 and closed") {
  HttpServerOptions options;
  options.threads = 1;
  options.max_connections = 3;
  EchoServer s(options);
  const int port = s.server.port();
  std::vector<std::unique_ptr<Client>> open;
  for (int i = 0; i < 3; ++i) open.push_back(std::make_unique<Client>(port));
  std::this_thread::sleep_for(milliseconds(100));
  {
    Client over(port);
    const auto r = over.response();
    REQUIRE(r);
    CHECK(status_of(*r) == 503);
    CHECK(body_of(*r).find("too many connections (max_connections 3)") != std::string::npos);
    CHECK(over.closed());
  }
  CHECK(s.server.load().refused_connections == 1);
  for (auto& c : open) {  // the three are served
    REQUIRE(c->send(get_request));
    REQUIRE(c->response());
  }
  open.pop_back();  // one closes: a new connection is taken again
  std::this_thread::sleep_for(milliseconds(200));
  CHECK(status_of(answer_on_new_connection(port, post_request)) == 200);
}

TEST_CASE("HttpServer: the bytes held for all connections have a bound; a request beyond it gets 503") {
  // Budget 256 KiB beyond 16 KiB a connection. A holds 150 000 bytes of a 200 000-byte body (its buffer
  // grows to the request's size, about 180 KiB over the 16); B, sending the same, passes 64 KiB and is
  // refused when its buffer would double again. A finishes and is answered; then its bytes are given back,
  // and C sends a whole 200 000-byte body.
  HttpServerOptions options;
  options.threads = 1;
  options.max_buffered_bytes = 256 << 10;
  EchoServer s(options, [](const HttpRequest& req, HttpResponse& res) {
    res.content_type = "text/plain";
    res.body = std::to_string(req.body.size());
  });
  const int port = s.server.port();
  const std::string head = "POST /big HTTP/1.1\r\nContent-Length: 200000\r\n\r\n";
  Client a(port);
  REQUIRE(a.send(head + std::string(150000, 'a')));
  std::this_thread::sleep_for(milliseconds(200));
  {
    Client b(port);
    (void)b.send(head + std::string(150000, 'b'));  // the server may stop reading before the end
    const auto refused = b.response();
    REQUIRE(refused);
    CHECK(status_of(*refused) == 503);
    CHECK(body_of(*refused).find("the server holds its limit of request bytes (max_buffered_bytes 262144)") !=
          std::string::npos);
    CHECK(b.closed());
  }
  CHECK(s.server.load().refused_buffer_full == 1);
  REQUIRE(a.send(std::string(50000, 'a')));
  const auto answered = a.response();
  REQUIRE(answered);
  CHECK(status_of(*answered) == 200);
  CHECK(body_of(*answered) == "200000");
  Client c(port);
  REQUIRE(c.send(head + std::string(200000, 'c')));
  const auto r = c.response();
  REQUIRE(r);
  CHECK(body_of(*r) == "200000");
  REQUIRE(a.send(head + std::string(200000, 'a')));  // A again, after C: each alone fits
  const auto again = a.response();
  REQUIRE(again);
  CHECK(body_of(*again) == "200000");
}

TEST_CASE("HttpServer: out of descriptors, accepting rests instead of spinning, and resumes") {
  // The lowest free descriptor is the next one any call gets; with the limit just above it, the client's
  // socket takes it and the server's accept4 fails with EMFILE. Retrying accept4 at once would spin on a
  // core (the listener stays readable); the server rests 100 ms between tries.
  HttpServerOptions options;
  options.threads = 1;
  EchoServer s(options);
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  const int lowest_free = ::dup(0);
  REQUIRE(lowest_free >= 0);
  ::close(lowest_free);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(lowest_free) + 1;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  std::optional<Client> c;
  c.emplace(s.server.port());
  timespec cpu_0{}, cpu_1{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_0);
  std::this_thread::sleep_for(milliseconds(600));
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_1);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  const double cpu =
      static_cast<double>(cpu_1.tv_sec - cpu_0.tv_sec) + 1e-9 * static_cast<double>(cpu_1.tv_nsec - cpu_0.tv_nsec);
  MESSAGE("CPU time of the process in 0.6 s of EMFILE: " << cpu << " s");
  CHECK(cpu < 0.2);
  REQUIRE(c->send(get_request));
  const auto r = c->response();
  REQUIRE(r);
  CHECK(status_of(*r) == 200);
}

TEST_CASE("raise_descriptor_limit: raises the soft limit within the hard one, never lowers it") {
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  const bool hard_infinite = saved.rlim_max == RLIM_INFINITY;
  const std::size_t below_hard = hard_infinite ? 1000 : std::min<std::size_t>(saved.rlim_max, 1000);
  const std::size_t start = below_hard / 4, raised = below_hard / 2;
  rlimit low = saved;
  low.rlim_cur = start;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  const auto soft_now = [] {
    rlimit l{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &l) == 0);
    return static_cast<std::size_t>(l.rlim_cur);
  };
  DescriptorLimit limit = raise_descriptor_limit(raised);
  CHECK(limit.soft == raised);
  CHECK(soft_now() == raised);
  limit = raise_descriptor_limit(start);  // never lowered
  CHECK(limit.soft == raised);
  CHECK(soft_now() == raised);
  if (!hard_infinite) {
    const auto hard = static_cast<std::size_t>(saved.rlim_max);
    limit = raise_descriptor_limit(hard + 1000);  // the hard limit stands in the way
    CHECK(limit.hard == hard);
    CHECK(limit.soft == hard);
    CHECK(soft_now() == hard);
    limit = raise_descriptor_limit(static_cast<std::size_t>(-1));
    CHECK(limit.soft == hard);
  } else {
    limit = raise_descriptor_limit(static_cast<std::size_t>(-1));  // above fs.nr_open: refused, kept
    CHECK(limit.soft == raised);
  }
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
}
