#pragma once
/// \file
/// HttpServer: HTTP/1.1 keep-alive connections on a TCP listener, served by a fixed pool of worker threads,
/// for a handler that maps a request (http_request.hpp) to a response (http_response.hpp).
///
/// Scheduling. A worker stays with a connection while no other connection waits for one: it waits in
/// poll() for the client's next bytes, so a request on a kept-alive connection costs three system calls
/// (poll, recv, send of the whole response) and no hand-over between threads. When a connection is queued
/// and every worker is on a connection of its own, a worker waiting for its client (an idle connection, a
/// request arriving slowly, an answer, a refusal or a "100 Continue" the client is slow to take: no write
/// blocks) parks that connection with the poller
/// (epoll, on run()'s thread) and takes the queued one; a parked connection is queued again when its
/// client sends something or has room for more of its answer. So idle and slow clients hold no worker
/// while others wait, and up to max_connections (default 10000) connections stay open with `threads`
/// workers. Pipelined requests already in the buffer are answered without a recv. A request's head is
/// parsed when it is complete and once more when its body is in, not on every recv of the body in between.
/// A worker's buffer is reused; it grows as a request's bytes arrive, to at most max_head_bytes +
/// max_body_bytes, and shrinks back between requests; a parked connection keeps only the bytes it has
/// received and the part of an answer not yet sent.
///
/// Limits and timeouts. A connection idle (no byte of a request) for keep_alive_seconds is closed; a
/// request whose bytes take longer than read_timeout_seconds to arrive (a slow or stalled client) is
/// answered 408 and closed; a connection is closed after keep_alive_max_requests requests. A response
/// the client takes no byte of for read_timeout_seconds is abandoned. Refused requests (http_request.hpp)
/// get {"error": ...} with their status and the connection is closed. A closing connection stops
/// writing first and drops what the client still sends (the rest of a refused body: up to
/// max_discard_bytes, within the read timeout) until the client closes, so that the client, maybe still
/// writing, reads the answer instead of a reset. A connection over max_connections is answered 503 and
/// closed, and so is a connection with a request to read when max_queued connections already wait for a
/// worker (no bound by default): under overload, clients learn at once that they should retry elsewhere
/// instead of waiting without bound. A request that waited for a worker longer than max_queue_wait (no
/// bound by default) is answered 503 and closed without calling the handler: its client has likely given
/// up, and answering it late would only delay the requests behind it. load() counts the connections, the
/// queue and these refusals, by reason. When accepting fails for want of descriptors, the listener rests
/// 100 ms. The bytes held for all connections beyond 16 KiB each (requests as they arrive, answers parked
/// unsent) are at most max_buffered_bytes (1 GiB): a request whose buffer would go over is answered 503
/// and closed, a parked answer that would is abandoned, so that clients sending large bodies slowly on
/// many connections cannot make the server hold max_connections × max_body_bytes.
///
/// Queueing is not the client's delay: a connection that waited for a worker past its deadline still has
/// the bytes that came meanwhile read before it is judged idle or slow.
///
/// Express paths. GET and HEAD requests for one of express_paths (health probes, metrics) are answered
/// by one more worker of their own, ahead of the queue, so that a probe answers in milliseconds while
/// every worker is busy with slow requests (a load balancer or Kubernetes would otherwise take the busy
/// server for a dead one). When a connection would wait for a worker, the poller reads its request's first
/// bytes without taking them (MSG_PEEK) and queues it for the express worker when they name an express
/// path; a new connection whose request has not come yet is parked until it has. The express worker
/// never waits for a client: a connection with nothing more to read is parked again at once, and one whose
/// next request (pipelined) is not for an express path goes to the workers' queue.
///
/// stop() closes the listener, closes every connection that is not answering a request (waiting for
/// one, or reading one), and lets each connection answering a request finish that response first; run()
/// returns once every worker has ended. Connections parked, or accepted but not yet taken by a worker, are
/// closed.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
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

/// The most workers an HttpServer takes: idle clients hold none, so more only help handlers that block;
/// a mistyped count fails with a message rather than when thread creation runs out.
inline constexpr std::size_t max_http_threads = 4096;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;                         ///< 0: a free port chosen by the system
  std::size_t threads = 8;              ///< workers, 1 to max_http_threads
  std::size_t max_connections = 10000;  ///< open at once; one more is answered 503 and closed
  /// Connections waiting for a worker (a request of theirs to read); one more is answered 503 and closed.
  /// 0: no bound but max_connections.
  std::size_t max_queued = 0;
  /// The longest a request waits for a worker: one that waited longer is answered 503 (the connection
  /// closes) without calling the handler. 0: no bound.
  std::chrono::milliseconds max_queue_wait{0};
  /// Bytes held for all connections beyond 16 KiB each: requests as they arrive, and answers parked
  /// unsent. A request that would go over is answered 503; a parked answer that would is abandoned.
  std::size_t max_buffered_bytes = std::size_t(1) << 30;
  HttpLimits limits = {};
  std::size_t keep_alive_max_requests = 10000;
  int keep_alive_seconds = 5;
  int read_timeout_seconds = 5;
  std::size_t max_discard_bytes = 64u << 20;
  int listen_backlog = 1024;
  /// Paths of GET and HEAD requests answered by a worker of their own, ahead of the queue: health probes and
  /// metrics, which must answer while every worker is busy with slow requests. Their handling must not block.
  std::vector<std::string> express_paths = {};
};

/// What an HttpServer holds now, and the requests it has refused so far by reason (each answered 503).
struct HttpServerLoad {
  std::size_t connections = 0;            ///< open
  std::size_t queued = 0;                 ///< waiting for a worker
  std::uint64_t refused_connections = 0;  ///< beyond max_connections
  std::uint64_t refused_queue_full = 0;   ///< beyond max_queued
  std::uint64_t refused_queue_wait = 0;   ///< waited for a worker longer than max_queue_wait
  std::uint64_t refused_buffer_full = 0;  ///< its bytes would have gone over max_buffered_bytes
};

/// Called on a worker thread for every complete request; it fills the response (cleared before).
using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

class HttpServer {
 public:
  /// Binds and listens (connections queue from then on); throws ConnectionError when it cannot.
  HttpServer(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {
    if (options_.threads < 1 || options_.threads > max_http_threads)
      throw InvalidArgument("HttpServer: threads must be between 1 and " + std::to_string(max_http_threads) + ", got " +
                            std::to_string(options_.threads));
    if (options_.keep_alive_seconds < 1 || options_.read_timeout_seconds < 1)
      throw InvalidArgument("HttpServer: keep_alive_seconds and read_timeout_seconds must be >= 1");
    if (options_.keep_alive_max_requests < 1) throw InvalidArgument("HttpServer: keep_alive_max_requests must be >= 1");
    if (options_.max_connections < 1) throw InvalidArgument("HttpServer: max_connections must be >= 1");
    if (options_.max_buffered_bytes < 1) throw InvalidArgument("HttpServer: max_buffered_bytes must be >= 1");
    if (options_.max_queue_wait.count() < 0)
      throw InvalidArgument("HttpServer: max_queue_wait must be >= 0 ms (0: no bound), got " +
                            std::to_string(options_.max_queue_wait.count()) + " ms");
    if (!handler_) throw InvalidArgument("HttpServer: the handler is empty");
    for (const std::string& path : options_.express_paths) {
      if (!path.starts_with('/') || path.size() > express_path_max || path.find_first_of(" ?#") != std::string::npos ||
          !http_field_value_valid(path))
        throw InvalidArgument(
            "HttpServer: an express path must begin with '/', hold no space, '?', '#' or control "
            "character and have at most " +
            std::to_string(express_path_max) + " bytes, got \"" + path.substr(0, 80) + "\"");
      express_peek_bytes_ = std::max(express_peek_bytes_, path.size() + 6);  // "HEAD " + path + ' ' or '?'
    }
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
    poller_ = ::epoll_create1(EPOLL_CLOEXEC);
    stop_event_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    waiting_event_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (poller_ < 0 || stop_event_ < 0 || waiting_event_ < 0 || ::fcntl(listener_, F_SETFL, O_NONBLOCK) != 0 ||
        !watch(listener_, &listener_, EPOLLIN, false) || !watch(stop_event_, &stop_event_, EPOLLIN, false)) {
      const int failure = errno;
      close_descriptors();
      throw ConnectionError("HttpServer: cannot set up the poller for " + where + ": " + std::strerror(failure));
    }
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
    close_descriptors();
  }

  [[nodiscard]] int port() const noexcept { return port_; }
  /// True once run() has begun (also when it returned at once because stop() came first).
  [[nodiscard]] bool started() const noexcept { return started_.load(); }
  /// True while run() accepts connections.
  [[nodiscard]] bool running() const noexcept { return running_.load(); }
  /// The open connections, the queue for the workers and the refusals so far (for metrics).
  [[nodiscard]] HttpServerLoad load() const {
    HttpServerLoad l;
    {
      std::lock_guard lock(mutex_);
      l.connections = connections_.size();
      l.queued = pending_.size;
    }
    l.refused_connections = refused_connections_.load(std::memory_order_relaxed);
    l.refused_queue_full = refused_queue_full_.load(std::memory_order_relaxed);
    l.refused_queue_wait = refused_queue_wait_.load(std::memory_order_relaxed);
    l.refused_buffer_full = refused_buffer_full_.load(std::memory_order_relaxed);
    return l;
  }

  /// Accepts and serves on the calling thread (the poller) and the workers until stop(); returns once all
  /// ended.
  void run() {
    std::lock_guard run_lock(run_mutex_);
    started_.store(true);
    if (stopping_.load()) return;
    std::vector<std::thread> workers;
    for (std::size_t i = 0; i < options_.threads; ++i) workers.emplace_back([this] { work(false); });
    if (express()) workers.emplace_back([this] { work(true); });
    running_.store(true);
    poll_connections();
    wake_.notify_all();
    express_wake_.notify_all();
    for (auto& w : workers) w.join();
    std::lock_guard lock(mutex_);
    for (const Connection& c : connections_) ::close(c.fd);  // parked or queued: no worker has them
    connections_.clear();
    pending_ = {};
    express_pending_ = {};
    running_.store(false);
  }

  /// Stops accepting, closes the connections not answering a request; the others end after their answer.
  void stop() {
    std::lock_guard lock(mutex_);
    if (stopping_.exchange(true)) return;
    ::shutdown(listener_, SHUT_RDWR);
    for (Connection& c : connections_) {
      int expected = idle;
      if (c.state.compare_exchange_strong(expected, closing)) ::shutdown(c.fd, SHUT_RDWR);
    }
    signal(stop_event_);  // wakes the poller
    wake_.notify_all();
    express_wake_.notify_all();
  }

 private:
  using Clock = std::chrono::steady_clock;
  enum : int { idle = 0, answering = 1, closing = 2 };

  /// Where the requests of a connection stand; kept with the connection while it is parked.
  struct Progress {
    std::size_t have = 0;            // bytes of requests in the buffer
    std::size_t expected_bytes = 0;  // the request's size once its head is parsed, else a bound
    // Once a head is parsed, the request's total size: nothing is parsed again until that many bytes are
    // in (each parse reads the whole head, up to max_head_bytes, so parsing after every recv of a body
    // sent a byte at a time would cost head × body). 0 while the head is incomplete.
    std::size_t awaited_bytes = 0;
    // While the head is incomplete, the bytes already searched for the empty line that ends it: only the
    // new ones are searched after a recv (from 3 bytes back, where "\r\n\r\n" may straddle two reads), so a
    // head sent a byte at a time costs its length, not its length squared.
    std::size_t head_searched = 0;
    std::size_t served = 0;    // requests answered
    std::size_t reserved = 0;  // bytes of buffered_bytes_ its request buffer holds (its size beyond initial_buffer)
    bool continue_sent = false;
    Clock::time_point last_activity, request_start;
  };
  /// What a connection is sending: an answer to a request, the interim "100 Continue" (the request's
  /// body follows), or a refusal (the connection closes after it).
  enum class Outgoing : unsigned char { answer, interim, refusal };
  struct Connection {
    explicit Connection(int socket) : fd(socket) {}
    int fd;
    std::atomic<int> state{idle};
    std::list<Connection>::iterator self;  // its place in connections_
    Progress progress;
    std::string buffer;                    // while parked: the bytes of requests received (swapped with a worker's)
    std::string out;                       // while parked: an answer the client has not taken in full (idem)
    std::size_t out_sent = 0;              // bytes of the answer sent
    bool close_after_out = false;          // the answer ends the connection
    Outgoing outgoing = Outgoing::answer;  // what the bytes in `out` (or the worker's) are
    bool parked = false;                   // waiting in the poller (under mutex_)
    bool in_poller = false;                // registered with the epoll instance
    bool timed_out = false;                // its request did not arrive in time while parked: a worker answers 408
    Clock::time_point parked_until;        // while parked: when its wait ends
    Connection* next_queued = nullptr;     // the one after it in the workers' queue
    std::size_t out_reserved = 0;          // bytes of buffered_bytes_ its parked answer holds
    Clock::time_point queued_at{};         // when it joined the workers' queue (with max_queue_wait)
  };
  /// A first-in first-out queue linked through Connection::next_queued.
  struct ConnectionQueue {
    Connection *first = nullptr, *last = nullptr;
    std::size_t size = 0;
    [[nodiscard]] bool empty() const noexcept { return first == nullptr; }
    void push(Connection& c) noexcept {
      c.next_queued = nullptr;
      (last ? last->next_queued : first) = &c;
      last = &c;
      ++size;
    }
    Connection* pop() noexcept {
      Connection* c = std::exchange(first, first->next_queued);
      if (!first) last = nullptr;
      --size;
      return c;
    }
  };
  /// A worker's buffers, reused from request to request.
  struct Scratch {
    std::string buffer, out;
    HttpRequest request;
    HttpResponse response;
    bool express = false;  // the express worker's: it never waits for a client, it parks the connection
  };
  enum class Served { closed, parked };  // parked: the poller or another worker has the connection
  enum class Wait { ready, expired, parked, dropped };
  enum class Woken { connection, waiting, deadline };
  enum class Flushed { done, parked, failed };

  void close_descriptors() noexcept {
    for (const int fd : {listener_, poller_, stop_event_, waiting_event_})
      if (fd >= 0) ::close(fd);
  }
  static void signal(int event) noexcept {
    const std::uint64_t one = 1;
    (void)!::write(event, &one, sizeof one);
  }
  static void clear(int event) noexcept {
    std::uint64_t count = 0;
    (void)!::read(event, &count, sizeof count);
  }
  /// Registers `fd` with the poller (or changes what it waits for); false when the kernel refuses.
  bool watch(int fd, void* source, std::uint32_t events, bool registered) noexcept {
    epoll_event event{};
    event.events = events;
    event.data.ptr = source;
    return ::epoll_ctl(poller_, registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event) == 0;
  }
  /// When the wait for a client's bytes ends: idle, keep_alive_seconds after the last activity; with a
  /// request begun, read_timeout_seconds after its first byte.
  [[nodiscard]] Clock::time_point bytes_deadline(const Progress& p) const {
    return p.have == 0 ? p.last_activity + std::chrono::seconds(options_.keep_alive_seconds)
                       : p.request_start + std::chrono::seconds(options_.read_timeout_seconds);
  }

  // The byte budget (max_buffered_bytes) shared by all connections: a request buffer holds its size beyond
  // initial_buffer (Progress::reserved), a parked answer its size (Connection::out_reserved). A worker's own
  // buffers between connections are not counted: they are at most `threads` of each.
  bool reserve(std::size_t bytes) noexcept {
    if (buffered_bytes_.fetch_add(bytes) + bytes <= options_.max_buffered_bytes) return true;
    buffered_bytes_.fetch_sub(bytes);
    return false;
  }
  void release(std::size_t& reserved) noexcept { buffered_bytes_.fetch_sub(std::exchange(reserved, 0)); }
  void release_all(Connection& c) noexcept {
    release(c.progress.reserved);
    release(c.out_reserved);
  }
  /// Reserves what a request buffer of `size` bytes holds beyond initial_buffer; false when over budget.
  bool reserve_request_buffer(Progress& p, std::size_t size) noexcept {
    const std::size_t wanted = size > initial_buffer ? size - initial_buffer : 0;
    if (wanted <= p.reserved) return true;
    if (!reserve(wanted - p.reserved)) return false;
    p.reserved = wanted;
    return true;
  }

  // The queue of connections for the workers (under mutex_), linked through the connections themselves so
  // that queuing never allocates. A connection queued while every worker is on a connection of its own
  // makes waiting_event_ readable: a worker waiting for its client's next bytes then parks that connection
  // and takes the queued one (wait_for).
  void enqueue(Connection& c) noexcept {
    if (options_.max_queue_wait.count() > 0) c.queued_at = Clock::now();
    pending_.push(c);
    wake_.notify_one();
    if (pending_.size > idle_workers_ && !waiting_signaled_) {
      signal(waiting_event_);
      waiting_signaled_ = true;
    }
  }
  [[nodiscard]] bool express() const noexcept { return !options_.express_paths.empty(); }

  /// True when `head`, the first bytes of a request, is a GET or HEAD of one of express_paths.
  [[nodiscard]] bool is_express(std::string_view head) const noexcept {
    std::string_view target;
    if (head.starts_with("GET "))
      target = head.substr(4);
    else if (head.starts_with("HEAD "))
      target = head.substr(5);
    else
      return false;
    const std::size_t end = target.find_first_of(" ?");
    if (end == std::string_view::npos) return false;  // the path may go on: not known yet
    target = target.substr(0, end);
    return std::ranges::find(options_.express_paths, target) != options_.express_paths.end();
  }

  // The poller's hand-over of a connection (under mutex_). One that would wait for a worker goes to the
  // express worker when its request is for one of express_paths: the first bytes are read with MSG_PEEK
  // (or are those it holds) and stay for the parser. A new connection whose request has not come yet while
  // no worker is free is parked until it has, so that its request decides where it waits.
  void dispatch(Connection& c, bool accepted) {
    if (express() && !c.timed_out && c.out.empty() && pending_.size >= idle_workers_) {
      std::array<char, express_path_max + 6> peeked{};
      std::string_view head;
      if (c.progress.have > 0) {
        head = std::string_view(c.buffer.data(), std::min(c.progress.have, express_peek_bytes_));
      } else {
        const ssize_t n = ::recv(c.fd, peeked.data(), express_peek_bytes_, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0) head = std::string_view(peeked.data(), static_cast<std::size_t>(n));
      }
      if (is_express(head)) {
        express_pending_.push(c);
        express_wake_.notify_one();
        return;
      }
      if (accepted && head.empty() && watch(c.fd, &c, EPOLLIN | EPOLLONESHOT, c.in_poller)) {
        c.in_poller = true;
        c.parked_until = bytes_deadline(c.progress);
        c.parked = true;
        return;
      }
    }
    // A connection in the middle of an answer is never refused: the 503 would land inside that answer.
    if (options_.max_queued > 0 && c.out.empty() && pending_.size >= options_.max_queued) {
      refused_queue_full_.fetch_add(1, std::memory_order_relaxed);
      release_all(c);
      refuse_from_poller(c.fd, "the server is busy: " + std::to_string(pending_.size) +
                                   " requests already wait for a worker; retry later");
      connections_.erase(c.self);
      return;
    }
    enqueue(c);
  }

  Connection* take_queued() noexcept {
    Connection* c = pending_.pop();
    if (pending_.empty() && waiting_signaled_) {
      clear(waiting_event_);
      waiting_signaled_ = false;
    }
    return c;
  }

  // The poller, on run()'s thread: a new connection, or a parked one whose client sent something, has
  // room for more of its answer or closed, is queued for the workers; a parked connection past its
  // deadline is closed (idle, or its answer not taken) or queued to be answered 408 (a request begun). When accept4
  // fails for want of descriptors or memory, accepting pauses for 100 ms instead of failing again at once.
  void poll_connections() {
    constexpr auto tick = std::chrono::milliseconds(100);
    std::array<epoll_event, 64> events{};
    auto next_sweep = Clock::now() + tick;
    auto resume_accepting = Clock::time_point::max();  // while accepting rests
    while (!stopping_.load()) {
      const int n =
          ::epoll_wait(poller_, events.data(), static_cast<int>(events.size()), static_cast<int>(tick.count()));
      for (int i = 0; i < n; ++i) {
        void* const source = events[static_cast<std::size_t>(i)].data.ptr;
        if (source == &stop_event_) continue;
        if (source == &listener_) {
          if (!accept_connections()) {
            resume_accepting = Clock::now() + tick;
            watch(listener_, &listener_, 0, true);
          }
          continue;
        }
        std::lock_guard lock(mutex_);
        auto& c = *static_cast<Connection*>(source);
        if (!c.parked) continue;
        c.parked = false;
        dispatch(c, false);
      }
      const auto now = Clock::now();
      if (now >= resume_accepting) {
        resume_accepting = Clock::time_point::max();
        watch(listener_, &listener_, EPOLLIN, true);
      }
      if (now >= next_sweep) {
        end_expired(now);
        next_sweep = now + tick;
      }
    }
  }

  /// Accepts every connection waiting; false when the process is out of descriptors or memory.
  bool accept_connections() {
    for (;;) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::unique_lock lock(mutex_);
      if (stopping_.load()) {
        ::close(fd);
        return true;
      }
      if (connections_.size() >= options_.max_connections) {
        lock.unlock();
        refuse_over_limit(fd);
        continue;
      }
      try {
        connections_.emplace_back(fd);
      } catch (const std::bad_alloc&) {  // out of memory: the connection is dropped and accepting rests
        ::close(fd);
        return false;
      }
      Connection& c = connections_.back();
      c.self = std::prev(connections_.end());
      c.progress.last_activity = c.progress.request_start = Clock::now();
      dispatch(c, true);
    }
  }

  /// A connection the poller refuses (beyond max_connections or max_queued): 503 if the socket takes it at
  /// once, then closed, after dropping the bytes the client has sent (closing with unread bytes would reset
  /// the connection, and the client could lose the answer).
  static void refuse_from_poller(int fd, std::string_view message) {
    std::string out;
    write_refusal(out, 503, message);
    (void)!::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(fd, SHUT_WR);
    std::array<char, 4096> dropped{};
    for (int i = 0; i < 16 && ::recv(fd, dropped.data(), dropped.size(), MSG_DONTWAIT) > 0; ++i) {
    }
    ::close(fd);
  }
  void refuse_over_limit(int fd) {
    refused_connections_.fetch_add(1, std::memory_order_relaxed);
    refuse_from_poller(
        fd, "too many connections (max_connections " + std::to_string(options_.max_connections) + "); retry later");
  }

  /// Parked connections past their deadline: an idle one, or one whose client did not take its answer, is
  /// closed; one with a request begun is queued for a worker to answer 408.
  void end_expired(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      Connection& c = *it;
      if (!c.parked || now < c.parked_until) {
        ++it;
        continue;
      }
      c.parked = false;
      if (c.progress.have == 0 || !c.out.empty()) {
        release_all(c);
        ::close(c.fd);  // also leaves the epoll set
        it = connections_.erase(it);
        continue;
      }
      watch(c.fd, &c, 0, true);  // no event may queue it a second time
      c.timed_out = true;
      enqueue(c);
      ++it;
    }
  }

  /// A worker: the `threads` regular ones take the workers' queue, the express one the express queue.
  void work(bool express_worker) {
    Scratch scratch;
    scratch.express = express_worker;
    const ConnectionQueue& queue = express_worker ? express_pending_ : pending_;
    std::condition_variable& wake = express_worker ? express_wake_ : wake_;
    Connection* next = nullptr;
    for (;;) {
      if (!next) {
        std::unique_lock lock(mutex_);
        if (!express_worker) ++idle_workers_;
        wake.wait(lock, [&] { return stopping_.load() || !queue.empty(); });
        if (!express_worker) --idle_workers_;
        if (stopping_.load()) return;
        next = express_worker ? express_pending_.pop() : take_queued();
      }
      Connection& c = *std::exchange(next, nullptr);
      Served served = Served::closed;
      try {
        served = serve(c, scratch, next);
      } catch (...) {  // out of memory for a buffer or an answer: this connection ends, the worker goes on
        served = Served::closed;
      }
      if (served == Served::closed) {
        release_all(c);
        std::lock_guard lock(mutex_);
        ::close(c.fd);
        connections_.erase(c.self);
      }
    }
  }

  // One poll() on a connection and on waiting_event_, until `deadline`: what woke first. Past the deadline
  // it still polls once without waiting: bytes that came while the connection waited for a worker came in
  // time. A failing poll counts as the connection being ready (the recv or send that follows tells what
  // is wrong).
  Woken poll_until(int fd, short event, Clock::time_point deadline) const {
    for (;;) {
      const auto left =
          std::max<long long>(0, std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count());
      std::array<pollfd, 2> fds{pollfd{fd, event, 0}, pollfd{waiting_event_, POLLIN, 0}};
      const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left, 60000)));
      if (ready < 0 && errno != EINTR) return Woken::connection;
      if (ready > 0) return fds[0].revents != 0 ? Woken::connection : Woken::waiting;
      if (ready == 0 && left == 0) return Woken::deadline;
    }
  }

  // Waits until the connection is ready for `event` (POLLIN: the client's next bytes; POLLOUT: room for
  // more of an answer) or `deadline` passes. While it waits, a worker keeps its connection unless another
  // connection is queued with no worker free: then it parks this one with the poller, with what it holds
  // (bytes received, an answer not sent in full), and takes that one (`next`), so idle clients, slow
  // senders and clients that do not read their answers cannot hold every worker.
  // The express worker does not wait: the connection is ready now, past its deadline, or parked.
  Wait wait_for(Connection& c, Scratch& s, short event, Clock::time_point deadline, Connection*& next) {
    for (;;) {
      std::unique_lock lock(mutex_, std::defer_lock);
      if (s.express) {
        pollfd fd{c.fd, event, 0};
        if (::poll(&fd, 1, 0) != 0) return Wait::ready;  // a failing poll too: the recv or send tells
        if (Clock::now() >= deadline) return Wait::expired;
        lock.lock();
      } else {
        const Woken woken = poll_until(c.fd, event, deadline);
        if (woken == Woken::deadline) return Wait::expired;
        if (woken == Woken::connection) return Wait::ready;
        // Another connection waits for a worker.
        lock.lock();
        if (pending_.empty()) {  // another worker took it
          if (waiting_signaled_) {
            clear(waiting_event_);
            waiting_signaled_ = false;
          }
          continue;
        }
        next = take_queued();
      }
      if (stopping_.load()) return Wait::dropped;
      // A parked answer counts against the byte budget; over it, the answer is abandoned.
      if (event == POLLOUT && !reserve(s.out.size())) return Wait::dropped;
      if (event == POLLOUT) c.out_reserved = s.out.size();
      const std::uint32_t wanted = (event == POLLIN ? EPOLLIN : EPOLLOUT) | EPOLLONESHOT;
      if (!watch(c.fd, &c, wanted, c.in_poller)) return Wait::dropped;  // the kernel's limit (work() releases)
      c.in_poller = true;
      if (c.progress.have > 0)
        c.buffer.swap(s.buffer);  // with its reservation
      else
        release(c.progress.reserved);  // the buffer stays with this worker
      if (event == POLLOUT) c.out.swap(s.out);
      c.parked_until = deadline;
      c.parked = true;  // from here on the poller has it
      return Wait::parked;
    }
  }

  // The express worker gives a connection whose next request is not for an express path to the workers'
  // queue, with the bytes received.
  Served hand_over(Connection& c, Scratch& s) {
    std::lock_guard lock(mutex_);
    if (stopping_.load()) return Served::closed;
    c.buffer.swap(s.buffer);  // with its reservation
    enqueue(c);
    return Served::parked;
  }

  // Sends the rest of the answer in s.out (from c.out_sent) without blocking; when the client does not
  // take it, waits for room (wait_for), at most read_timeout_seconds without progress.
  Flushed flush(Connection& c, Scratch& s, Connection*& next) {
    const auto patience = std::chrono::seconds(options_.read_timeout_seconds);
    auto deadline = Clock::now() + patience;
    while (c.out_sent < s.out.size()) {
      const ssize_t n = ::send(c.fd, s.out.data() + c.out_sent, s.out.size() - c.out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        c.out_sent += static_cast<std::size_t>(n);
        deadline = Clock::now() + patience;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        switch (wait_for(c, s, POLLOUT, deadline, next)) {
          case Wait::ready:
            continue;
          case Wait::parked:
            return Flushed::parked;
          case Wait::expired:
          case Wait::dropped:
            return Flushed::failed;
        }
      } else {
        return Flushed::failed;
      }
    }
    return Flushed::done;
  }

  void shrink_request_buffer(std::string& buffer, Progress& p) {
    buffer.resize(initial_buffer);
    buffer.shrink_to_fit();
    release(p.reserved);
  }

  /// {"error": message} with `status`: a failed handler's answer (500), or a refusal's. A 503 is a refusal
  /// under load: it asks the client to retry in a second (Retry-After), as HTTP clients with retries honour.
  static HttpResponse error_response(int status, std::string_view message) {
    HttpResponse r;
    r.status = status;
    if (status == 503) r.retry_after_seconds = 1;
    r.content_type = "application/json";
    r.body = http_error_json(message);
    return r;
  }

  /// A refusal's bytes in `out`: its error_response, and the connection closes.
  static void write_refusal(std::string& out, int status, std::string_view message) {
    out.clear();
    append_http_response(out, error_response(status, message), false, false);
  }

  /// Ends a connection whose last response is sent: no more writes, then the client's remaining bytes
  /// (the rest of a refused body, pipelined requests) are read and dropped until it closes, up to
  /// max_discard_bytes or the read timeout, or until another connection is queued with no worker free.
  /// Closing with unread bytes would send a reset, and the client could lose the response before reading
  /// it. stop() may cut this wait (the connection is idle). The express worker drops only what has come.
  Served close_gently(int fd, Scratch& s) {
    std::string& buffer = s.buffer;
    ::shutdown(fd, SHUT_WR);
    const auto deadline = Clock::now() + std::chrono::seconds(s.express ? 0 : options_.read_timeout_seconds);
    if (buffer.size() < 65536) buffer.resize(65536);
    std::size_t budget = options_.max_discard_bytes;
    while (budget > 0) {
      // A deadline, or another connection waiting: that one gets this worker.
      if (poll_until(fd, POLLIN, deadline) != Woken::connection) break;
      const ssize_t got = ::recv(fd, buffer.data(), std::min(budget, buffer.size()), MSG_DONTWAIT);
      if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (got <= 0) break;
      budget -= static_cast<std::size_t>(got);
    }
    return Served::closed;
  }

  // Serves the requests of one connection until it closes, or until it is parked (wait_for: `next` is
  // then the connection to serve instead).
  Served serve(Connection& c, Scratch& s, Connection*& next) {
    const int fd = c.fd;
    if (stopping_.load()) return Served::closed;  // stop() may have run before this connection was listed
    Progress& p = c.progress;
    std::string& buffer = s.buffer;
    if (p.have > 0) {  // bytes received before the connection was parked
      buffer.swap(c.buffer);
      c.buffer = std::string();
    } else if (buffer.size() > initial_buffer) {  // a large request of an earlier connection: not this one's
      shrink_request_buffer(buffer, p);
    }
    bool sending = !c.out.empty();  // parked in the middle of an answer
    if (sending) {
      s.out.swap(c.out);
      c.out = std::string();
      release(c.out_reserved);
    }
    // Every write goes through flush (sending): a client that does not read cannot hold the worker, not
    // even for the interim answer or a refusal.
    const auto refuse = [&](int status, std::string_view message) {
      write_refusal(s.out, status, message);
      c.out_sent = 0;
      c.outgoing = Outgoing::refusal;
      sending = true;
    };
    if (std::exchange(c.timed_out, false)) refuse(408, "the request did not arrive within the read timeout");
    // Past max_queue_wait in the workers' queue, a request is refused unanswered (never in mid-answer). A
    // connection queued because its client closed it holds no request: it just closes.
    if (const Clock::time_point queued_at = std::exchange(c.queued_at, Clock::time_point{});
        !sending && queued_at != Clock::time_point{}) {
      const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - queued_at);
      char first_byte = 0;
      if (waited > options_.max_queue_wait && (p.have > 0 || ::recv(fd, &first_byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0)) {
        refused_queue_wait_.fetch_add(1, std::memory_order_relaxed);
        refuse(503, "the request waited " + std::to_string(waited.count()) +
                        " ms for a worker, longer than max_queue_wait (" +
                        std::to_string(options_.max_queue_wait.count()) + " ms); retry later");
      }
    }
    const HttpLimits& limits = options_.limits;
    if (buffer.size() < initial_buffer) buffer.resize(initial_buffer);
    if (p.expected_bytes == 0) p.expected_bytes = limits.max_head_bytes + 1;  // the request's size when known
    for (;;) {
      if (std::exchange(sending, false)) {  // an answer in s.out: send it, then the next request
        switch (flush(c, s, next)) {
          case Flushed::parked:
            return Served::parked;
          case Flushed::failed:
            return Served::closed;
          case Flushed::done:
            break;
        }
        switch (std::exchange(c.outgoing, Outgoing::answer)) {
          case Outgoing::refusal:
            return close_gently(fd, s);
          case Outgoing::interim:
            continue;  // the request's body follows
          case Outgoing::answer:
            break;
        }
        int expected = answering;
        if (!c.state.compare_exchange_strong(expected, idle)) return Served::closed;
        if (stopping_.load()) return Served::closed;  // stop() ran while this request was answered
        if (c.close_after_out) return close_gently(fd, s);
        p.last_activity = p.request_start = Clock::now();
        continue;
      }
      bool parse = p.have > 0 && p.have >= p.awaited_bytes;
      if (parse && p.awaited_bytes == 0 && p.have <= limits.max_head_bytes) {  // beyond it, the parser refuses
        const std::size_t from = p.head_searched < 3 ? 0 : p.head_searched - 3;
        parse = std::string_view(buffer.data() + from, p.have - from).find("\r\n\r\n") != std::string_view::npos;
        p.head_searched = p.have;
      }
      if (parse) {
        // While a body arrives only its bytes are counted; once it is in, the head is parsed once more so
        // that the request's views point into the buffer as it now is (resizing it may have moved it).
        const HttpParseResult parsed = parse_http_request(std::string_view(buffer.data(), p.have), limits, s.request);
        if (parsed.state == HttpParseState::refused) {
          refuse(parsed.status, parsed.message);
          continue;
        }
        if (parsed.state == HttpParseState::complete) {
          // A request behind a probe on the same connection (pipelined) is not the express worker's.
          if (s.express && !is_express(std::string_view(buffer.data(), p.have))) {
            p.awaited_bytes = parsed.total_bytes;  // complete: the worker parses it at once
            return hand_over(c, s);
          }
          int expected = idle;
          if (!c.state.compare_exchange_strong(expected, answering)) return Served::closed;  // stop() closed it
          ++p.served;
          const bool keep_alive =
              s.request.keep_alive && p.served < options_.keep_alive_max_requests && !stopping_.load();
          s.response.clear();
          try {
            handler_(s.request, s.response);
            if (!http_field_value_valid(s.response.content_type))
              s.response = error_response(500, "the handler's Content-Type holds a control character");
          } catch (const std::exception& e) {
            s.response = error_response(500, e.what());
          } catch (...) {
            s.response = error_response(500, "the handler threw an exception that is not a std::exception");
          }
          s.out.clear();
          append_http_response(s.out, s.response, keep_alive, s.request.method == "HEAD");
          c.out_sent = 0;
          c.close_after_out = !keep_alive;
          sending = true;
          // The next request, if pipelined, is already in the buffer.
          std::memmove(buffer.data(), buffer.data() + parsed.total_bytes, p.have - parsed.total_bytes);
          p.have -= parsed.total_bytes;
          p.awaited_bytes = p.head_searched = 0;
          p.expected_bytes = limits.max_head_bytes + 1;
          p.continue_sent = false;
          p.last_activity = p.request_start = Clock::now();
          continue;
        }
        p.expected_bytes = parsed.head_complete ? parsed.total_bytes : limits.max_head_bytes + 1;
        p.awaited_bytes = parsed.head_complete ? parsed.total_bytes : 0;
        if (parsed.head_complete && s.request.expect_continue && !p.continue_sent) {
          p.continue_sent = true;
          s.out.assign("HTTP/1.1 100 Continue\r\n\r\n");
          c.out_sent = 0;
          c.outgoing = Outgoing::interim;
          sending = true;
          continue;
        }
      } else if (p.have == 0 && buffer.size() > initial_buffer) {  // between requests: give back what a body took
        shrink_request_buffer(buffer, p);
      }
      switch (wait_for(c, s, POLLIN, bytes_deadline(p), next)) {
        case Wait::parked:
          return Served::parked;
        case Wait::dropped:
          return Served::closed;
        case Wait::expired:
          if (p.have == 0) return Served::closed;  // idle for keep_alive_seconds
          refuse(408, "the request did not arrive within the read timeout");
          continue;
        case Wait::ready:
          break;
      }
      // The buffer doubles as bytes arrive, up to the request's announced size: a Content-Length alone
      // does not make it allocate the whole body.
      if (p.have == buffer.size()) {
        const std::size_t grown = std::max(p.have + 1, std::min(buffer.size() * 2, p.expected_bytes));
        if (!reserve_request_buffer(p, grown)) {
          refused_buffer_full_.fetch_add(1, std::memory_order_relaxed);
          refuse(503, "the server holds its limit of request bytes (max_buffered_bytes " +
                          std::to_string(options_.max_buffered_bytes) + "); retry later");
          continue;
        }
        buffer.resize(grown);
      }
      const ssize_t n = ::recv(fd, buffer.data() + p.have, buffer.size() - p.have, MSG_DONTWAIT);
      if (n == 0) return Served::closed;  // the client closed (or stop() shut the socket down)
      if (n < 0) {
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return Served::closed;
        continue;
      }
      const auto now = Clock::now();
      if (p.have == 0) p.request_start = now;
      p.have += static_cast<std::size_t>(n);
      p.last_activity = now;
    }
  }

  static constexpr std::size_t initial_buffer = 16384;
  static constexpr std::size_t express_path_max = 256;
  HttpServerOptions options_;
  HttpHandler handler_;
  int listener_ = -1;
  int port_ = 0;
  int poller_ = -1;         // epoll: the listener, stop_event_ and the parked connections
  int stop_event_ = -1;     // eventfd: stop() wakes the poller
  int waiting_event_ = -1;  // eventfd: readable while a queued connection waits with no worker free
  std::atomic<bool> stopping_{false}, running_{false}, started_{false};
  mutable std::mutex mutex_;  // pending_, connections_, idle_workers_, waiting_signaled_, the parked flags
  std::condition_variable wake_;
  ConnectionQueue pending_;
  ConnectionQueue express_pending_;  // for the express worker (express_paths)
  std::condition_variable express_wake_;
  std::size_t express_peek_bytes_ = 0;  // enough of a request's first bytes to match any express path
  std::list<Connection> connections_;
  std::size_t idle_workers_ = 0;                // workers waiting for a queued connection
  std::atomic<std::size_t> buffered_bytes_{0};  // of max_buffered_bytes (reserve, release)
  std::atomic<std::uint64_t> refused_connections_{0}, refused_queue_full_{0}, refused_queue_wait_{0},
      refused_buffer_full_{0};  // load()
  bool waiting_signaled_ = false;
  std::mutex run_mutex_;
};

}  // namespace aimastery
