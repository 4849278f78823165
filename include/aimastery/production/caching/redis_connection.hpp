#pragma once
/// \file
/// One connection to a Redis server, in which every exchange (a command and its whole reply) ends by a
/// deadline, whatever the server does.
///
/// hiredis's blocking I/O bounds each read() on its own (SO_RCVTIMEO): a server that sends one byte just
/// inside every timeout holds a call for ever. Here the socket is non-blocking and every wait is a poll()
/// for the time left until the exchange's deadline. hiredis only parses the replies (redisReader); the
/// commands are framed here in RESP, into a buffer that is reused from call to call:
///
///   *<argc>\r\n   then, for each argument,   $<length>\r\n<bytes>\r\n
///
/// Writes use send(..., MSG_NOSIGNAL): writing to a socket the server has closed fails with EPIPE instead
/// of raising SIGPIPE, so the process's signal handling is never touched. Nagle's algorithm is off
/// (TCP_NODELAY): a command is one small write that must leave at once.

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/production/caching/adaptive_spin.hpp"
#include "aimastery/production/caching/redis_options.hpp"

#if !defined(HIREDIS_MAJOR)
#error "aimastery/production/caching/redis_connection.hpp needs hiredis (link aimastery::redis)"
#endif

namespace aimastery::detail {

using RedisClock = std::chrono::steady_clock;
using RedisDeadline = RedisClock::time_point;

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

struct RedisReaderDeleter {
  void operator()(redisReader* reader) const noexcept { redisReaderFree(reader); }
};

/// The most elements an array reply may announce, checked before hiredis allocates room for them: what the
/// command can return (MGET: one per key), and at least 65,536 (a SCAN page asks for 1,000). Without it a
/// hostile "*2147483647\r\n" (13 bytes) makes hiredis allocate 2^31 slots and walk them all when the
/// reply is freed (seconds per such header).
struct RedisReplyLimit {
  std::size_t max_elements = 65536;
  long long refused = -1;  // the count of an array refused in this exchange, for the message
};

/// hiredis's own reply functions, as its reader is created with.
inline const redisReplyObjectFunctions& redis_default_reply_functions() {
  static const redisReplyObjectFunctions functions = [] {
    const std::unique_ptr<redisReader, RedisReaderDeleter> probe(redisReaderCreate());
    if (!probe) throw std::bad_alloc();
    return *probe->fn;
  }();
  return functions;
}

/// createArray with the RedisReplyLimit of the reader (its privdata): a larger array is refused, which
/// stops the reader with an error. `Count` is int in hiredis 0.14, size_t from 1.0.
template <class Count>
void* redis_bounded_array(const redisReadTask* task, Count elements) {
  auto* limit = static_cast<RedisReplyLimit*>(task->privdata);
  bool too_many = limit != nullptr && static_cast<unsigned long long>(elements) > limit->max_elements;
  if constexpr (std::is_signed_v<Count>) too_many = too_many || elements < 0;
  if (too_many) {
    limit->refused = static_cast<long long>(elements);
    return nullptr;
  }
  return redis_default_reply_functions().createArray(task, elements);
}

template <class Function>
struct RedisArrayCount;
template <class Result, class Task, class Count>
struct RedisArrayCount<Result (*)(Task, Count)> {
  using type = Count;
};

/// The reply functions of every RedisConnection's reader: hiredis's, with the array size bounded.
inline redisReplyObjectFunctions* redis_bounded_reply_functions() {
  static redisReplyObjectFunctions functions = [] {
    redisReplyObjectFunctions bounded = redis_default_reply_functions();
    bounded.createArray = &redis_bounded_array<typename RedisArrayCount<decltype(bounded.createArray)>::type>;
    return bounded;
  }();
  return &functions;
}

/// What poll() may wait for `deadline`: the time left in whole milliseconds, rounded up (a wait never
/// ends just before the deadline only to wait again for 0 ms), 0 once it has passed.
inline int redis_poll_milliseconds(RedisDeadline deadline) {
  const auto left = deadline - RedisClock::now();
  if (left <= RedisClock::duration::zero()) return 0;
  return static_cast<int>(std::min<long long>(std::chrono::ceil<std::chrono::milliseconds>(left).count(), INT_MAX));
}

/// One connection: opened lazily, reopened after any failure, used by one thread at a time.
class RedisConnection {
 public:
  explicit RedisConnection(const RedisCacheOptions& options) : options_(&options) {}
  ~RedisConnection() { close(); }
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  /// Whether the connection must be (re)opened before use: never opened, or its last exchange failed.
  [[nodiscard]] bool broken() const noexcept { return fd_ < 0 || !ready_; }

  /// Opens the connection when broken: TCP connect (by connect_timeout), then AUTH and SELECT when
  /// configured, all by `deadline`. Throws ConnectionError.
  void ensure(std::string_view where, RedisDeadline deadline) {
    if (!broken()) return;
    open(where, std::min(deadline, RedisClock::now() + options_->connect_timeout));
    if (!options_->password.empty()) {
      std::vector<std::string_view> auth{"AUTH"};
      if (!options_->username.empty()) auth.push_back(options_->username);
      auth.push_back(options_->password);
      expect_ok(command(auth, where, deadline), where, "AUTH");
    }
    if (options_->database != 0) {
      const std::string db = std::to_string(options_->database);
      expect_ok(command({"SELECT", db}, where, deadline), where, "SELECT " + db);
    }
    ready_ = true;
  }

  /// Sends one command and reads its reply (which may be an error reply) by the earlier of `deadline`
  /// and command_timeout from now. A failed exchange closes the connection and throws ConnectionError.
  RedisReplyPtr command(std::span<const std::string_view> argv, std::string_view where, RedisDeadline deadline) {
    out_.clear();
    append_command(argv);
    limit_replies_to(argv.size());
    const RedisDeadline until = exchange_deadline(deadline);
    send_all(where, until);
    return read_reply(where, until);
  }
  RedisReplyPtr command(std::initializer_list<std::string_view> argv, std::string_view where, RedisDeadline deadline) {
    return command(std::span<const std::string_view>(argv.begin(), argv.size()), where, deadline);
  }

  /// Sends every command, then reads every reply: one round trip (and one command_timeout) for the batch.
  std::vector<RedisReplyPtr> pipeline(const std::vector<std::vector<std::string_view>>& commands,
                                      std::string_view where, RedisDeadline deadline) {
    out_.clear();
    std::size_t most_arguments = 0;
    for (const auto& argv : commands) {
      append_command(argv);
      most_arguments = std::max(most_arguments, argv.size());
    }
    limit_replies_to(most_arguments);
    const RedisDeadline until = exchange_deadline(deadline);
    send_all(where, until);
    std::vector<RedisReplyPtr> replies;
    replies.reserve(commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i) replies.push_back(read_reply(where, until));
    return replies;
  }

  /// "host:port", for messages.
  [[nodiscard]] std::string address() const { return options_->host + ":" + std::to_string(options_->port); }

 private:
  struct Address {
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family = AF_UNSPEC;
  };

  RedisDeadline exchange_deadline(RedisDeadline deadline) const {
    return std::min(deadline, RedisClock::now() + options_->command_timeout);
  }

  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ready_ = false;
    reader_.reset();
  }

  // The host's addresses, looked up once (name resolution is not bounded by the deadline; a numeric
  // address such as the default 127.0.0.1 needs no lookup).
  void resolve(std::string_view where) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(options_->port);
    if (const int rc = ::getaddrinfo(options_->host.c_str(), port.c_str(), &hints, &found); rc != 0)
      throw ConnectionError(std::string(where) + ": cannot resolve " + options_->host + ": " + ::gai_strerror(rc));
    for (const addrinfo* a = found; a; a = a->ai_next) {
      Address address;
      std::memcpy(&address.storage, a->ai_addr, std::min<std::size_t>(a->ai_addrlen, sizeof address.storage));
      address.length = static_cast<socklen_t>(a->ai_addrlen);
      address.family = a->ai_family;
      addresses_.push_back(address);
    }
    ::freeaddrinfo(found);
  }

  // A non-blocking TCP connection to the first address that accepts one by `deadline`.
  void open(std::string_view where, RedisDeadline deadline) {
    close();
    if (addresses_.empty()) resolve(where);
    std::string last_error = "no address";
    for (const Address& a : addresses_) {
      const int fd = ::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        last_error = std::strerror(errno);
        continue;
      }
      fd_ = fd;
      if (::connect(fd_, reinterpret_cast<const sockaddr*>(&a.storage), a.length) != 0 && errno != EINPROGRESS) {
        last_error = std::strerror(errno);
        close();
        continue;
      }
      if (!wait_for(POLLOUT, deadline)) {
        close();
        throw ConnectionError(std::string(where) + ": cannot connect to " + address() +
                              " within the connect timeout of " + std::to_string(options_->connect_timeout.count()) +
                              " ms");
      }
      int error = 0;
      socklen_t length = sizeof error;
      if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
      if (error != 0) {
        last_error = std::strerror(error);
        close();
        continue;
      }
      const int on = 1;
      ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      ::setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
      reader_.reset(redisReaderCreateWithFunctions(redis_bounded_reply_functions()));
      if (!reader_) {
        close();
        throw ConnectionError(std::string(where) + ": cannot allocate a reply reader");
      }
      return;
    }
    throw ConnectionError(std::string(where) + ": cannot connect to " + address() + ": " + last_error);
  }

  // Waits until the socket is ready for `events` (or has an error the next send/recv reports); false when
  // `deadline` passes first.
  bool wait_for(short events, RedisDeadline deadline) const {
    for (;;) {
      pollfd p{fd_, events, 0};
      const int timeout = redis_poll_milliseconds(deadline);
      const int rc = ::poll(&p, 1, timeout);
      if (rc > 0) return true;
      if (rc == 0 && timeout == 0) return false;
      if (rc < 0 && errno != EINTR) return true;  // the next send/recv reports the error
    }
  }

  // "<kind><n>\r\n", the digits written in place (no temporary string).
  void append_header(char kind, std::size_t n) {
    const std::size_t start = out_.size();
    out_.resize(start + 24);  // kind, up to 20 digits, CR LF
    char* w = out_.data() + start;
    *w++ = kind;
    w = std::to_chars(w, out_.data() + out_.size(), n).ptr;
    *w++ = '\r';
    *w++ = '\n';
    out_.resize(static_cast<std::size_t>(w - out_.data()));
  }

  void append_command(std::span<const std::string_view> argv) {
    append_header('*', argv.size());
    for (const std::string_view a : argv) {
      append_header('$', a.size());
      out_.append(a);
      out_.append("\r\n", 2);
    }
  }

  void send_all(std::string_view where, RedisDeadline until) {
    std::size_t sent = 0;
    while (sent < out_.size()) {
      const ssize_t n = ::send(fd_, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!wait_for(POLLOUT, until)) throw failure(where, timeout_message());
      } else {
        throw failure(where, "connection to " + address() + " failed: " + std::strerror(errno));
      }
    }
  }

  // A command of n arguments gets at most n array elements back (MGET), or a SCAN page.
  void limit_replies_to(std::size_t arguments) noexcept {
    reply_limit_ = {std::max<std::size_t>(arguments, RedisReplyLimit{}.max_elements), -1};
  }

  RedisReplyPtr read_reply(std::string_view where, RedisDeadline until) {
    reader_->privdata = &reply_limit_;  // read by redis_bounded_array (set here: this object may have moved)
    const bool adaptive = options_->adaptive_busy_poll && options_->busy_poll.count() > 0;
    const ReplyWaiters::Scope waiting(adaptive ? &ReplyWaiters::process() : nullptr);
    for (;;) {
      void* reply = nullptr;
      if (redisReaderGetReply(reader_.get(), &reply) != REDIS_OK) throw failure(where, protocol_message());
      if (reply) return RedisReplyPtr(static_cast<redisReply*>(reply));
      ssize_t n = 0;
      if (!receive_spinning(until, n)) {  // nothing came while spinning (or busy_poll is zero): sleep
        if (!wait_for(POLLIN, until)) throw failure(where, timeout_message());
        n = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
      }
      if (n > 0) {
        if (redisReaderFeed(reader_.get(), buffer_.data(), static_cast<std::size_t>(n)) != REDIS_OK)
          throw failure(where, protocol_message());
      } else if (n == 0) {
        throw failure(where, address() + " closed the connection");
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        throw failure(where, "connection to " + address() + " failed: " + std::strerror(errno));
      }
    }
  }

  // Tries to read without blocking, again and again, for up to busy_poll (never past `until`). True with
  // recv's result in `n` when it was anything but "nothing yet" (bytes, the end of the stream or an error);
  // false when nothing came, at once when busy_poll is zero or, with adaptive_busy_poll, when the recent
  // spins found nothing or more than half the processors' worth of threads are waiting (adaptive_spin.hpp).
  // The thread keeps its core meanwhile, so a reply that comes back within busy_poll costs no wake-up.
  bool receive_spinning(RedisDeadline until, ssize_t& n) {
    if (options_->busy_poll.count() == 0) return false;
    if (!options_->adaptive_busy_poll) return spin_until_reply(until, n);
    if (!ReplyWaiters::process().few() || !spin_.should_spin()) return false;
    const bool found = spin_until_reply(until, n);
    spin_.record(found);
    return found;
  }

  // The spin of receive_spinning: recv without blocking until something comes or busy_poll has passed.
  // Between two tries the thread yields its core to any thread that is ready to run: on an idle machine
  // sched_yield returns at once, and on a busy one the spin does not keep the server (or the threads of
  // other processes, which ReplyWaiters does not count) from the core whose reply it is waiting for.
  bool spin_until_reply(RedisDeadline until, ssize_t& n) {
    const RedisDeadline spin_until = std::min(until, RedisClock::now() + options_->busy_poll);
    do {
      n = ::recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
      if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return true;
      sched_yield();
    } while (RedisClock::now() < spin_until);
    return false;
  }

  std::string timeout_message() const {
    return "no complete reply from " + address() + " in time (command_timeout " +
           std::to_string(options_->command_timeout.count()) + " ms, within the call's deadline)";
  }
  std::string protocol_message() const {
    if (reply_limit_.refused >= 0)
      return address() + " sent an array reply of " + std::to_string(reply_limit_.refused) +
             " elements, more than the " + std::to_string(reply_limit_.max_elements) + " the command can return";
    return address() + " does not speak the Redis protocol (" + std::string(reader_->errstr) + ")";
  }

  // Closes the connection (reopened on next use) and returns the error to throw.
  ConnectionError failure(std::string_view where, const std::string& message) {
    ConnectionError error(std::string(where) + ": " + message);
    close();
    return error;
  }

  static void expect_ok(const RedisReplyPtr& reply, std::string_view where, const std::string& what) {
    if (reply->type == REDIS_REPLY_STATUS) return;
    const std::string message = reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len) : "no OK";
    throw ConnectionError(std::string(where) + ": " + what + " failed: " + message);
  }

  const RedisCacheOptions* options_;
  std::vector<Address> addresses_;
  int fd_ = -1;
  bool ready_ = false;
  std::unique_ptr<redisReader, RedisReaderDeleter> reader_;
  RedisReplyLimit reply_limit_;
  AdaptiveSpin spin_;               // whether a wait spins first (with adaptive_busy_poll)
  std::string out_;                 // the framed commands of the current exchange (capacity reused)
  std::array<char, 16384> buffer_;  // bytes read from the socket, fed to reader_
};

}  // namespace aimastery::detail
