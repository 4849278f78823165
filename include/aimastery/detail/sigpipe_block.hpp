#pragma once
/// \file
/// SigpipeBlock: while it lives, a write on the calling thread to a socket whose peer has closed fails with
/// EPIPE instead of raising SIGPIPE, whose default action ends the process. For writes through a library
/// that sends without MSG_NOSIGNAL (cpp-httplib's client before 0.12 on Linux): a server that closes a
/// kept-alive connection while the client reuses it would otherwise kill the client's process.
///
/// The signal is blocked in the calling thread only, and the process's handlers are not touched. A SIGPIPE
/// raised meanwhile stays pending while blocked; it is taken (sigtimedwait with no wait) before the thread's
/// previous mask comes back, so it is never delivered. One that was pending before is left alone.
#include <pthread.h>

#include <cerrno>
#include <csignal>
#include <ctime>

namespace aimastery::detail {

class SigpipeBlock {
 public:
  SigpipeBlock() noexcept {
    sigemptyset(&sigpipe_);
    sigaddset(&sigpipe_, SIGPIPE);
    blocked_ = pthread_sigmask(SIG_BLOCK, &sigpipe_, &previous_) == 0;
    // Only a SIGPIPE that was blocked already can be pending now, and it is not this block's to take.
    sigset_t pending;
    already_pending_ = blocked_ && sigismember(&previous_, SIGPIPE) == 1 && sigpending(&pending) == 0 &&
                       sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeBlock() {
    if (!blocked_) return;
    const int saved_errno = errno;  // the caller may still read the errno of its failed write
    sigset_t pending;
    if (!already_pending_ && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      const timespec no_wait{0, 0};
      while (sigtimedwait(&sigpipe_, nullptr, &no_wait) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
    errno = saved_errno;
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t sigpipe_{}, previous_{};
  bool blocked_ = false, already_pending_ = false;
};

}  // namespace aimastery::detail
