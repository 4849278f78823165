#pragma once
/// \file
/// The options of RedisCache (and of its connections and pool), and the reply of RedisCache::ttl.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace aimastery {

/// Options of RedisCache. Every time limit is finite, so that no call can hang.
struct RedisCacheOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int database = 0;
  /// AUTH password; empty = no AUTH. With `username` (Redis 6 ACL) AUTH username password.
  std::string password{};
  std::string username{};
  /// Prepended to every key, e.g. "app:".
  std::string key_prefix{};
  /// TTL of a value set without one; zero = no expiry.
  std::chrono::milliseconds default_ttl{0};
  /// Longest time to open a TCP connection.
  std::chrono::milliseconds connect_timeout{500};
  /// Longest time for one command: from sending it to its whole reply, however the reply trickles in.
  std::chrono::milliseconds command_timeout{500};
  /// Connections (each one in use by one thread at a time), connected on first use.
  std::size_t pool_size = 4;
  /// Longest wait for a free connection before ConnectionError.
  std::chrono::milliseconds pool_wait_timeout{2000};
  /// Longest time of one erase_prefix (a walk over the key space with SCAN, many commands).
  std::chrono::milliseconds erase_prefix_timeout{30000};
  /// How long a call waiting for a reply first keeps trying to read it without blocking, before it
  /// sleeps in poll(); zero sleeps at once. A thread that sleeps is woken by the reply, and the wake-up
  /// costs tens of microseconds on a virtual machine: for a server on the same host, whose replies come
  /// back within that time, spinning keeps the core and takes the reply as it arrives (measured on
  /// loopback: a GET's median 55 µs sleeping, 21 µs spinning). At most command_timeout; the call's
  /// deadline bounds the spin too.
  std::chrono::microseconds busy_poll{50};
  /// Spin only while it pays: after a spin that found nothing, the next waits of that connection sleep at
  /// once, 1, 2, 4, … up to 1024 of them after successive misses, until a spin finds its reply again; and no
  /// wait spins while more threads of the process wait for a reply than half the processors. A server
  /// farther away than busy_poll then costs about one spin per 1024 waits instead of busy_poll of CPU time
  /// on every wait, and many threads on few cores do not take the cores from the server. false: every
  /// wait spins first.
  bool adaptive_busy_poll = true;
  /// Retry a write (SET, DEL) once on a reconnected connection, as reads are. Both are idempotent.
  bool retry_writes = true;
};

/// The remaining lifetime of a key: `exists` is false for a missing key; `remaining` is empty for a key
/// without expiry.
struct RedisKeyTtl {
  bool exists = false;
  std::optional<std::chrono::milliseconds> remaining;
};

}  // namespace aimastery
