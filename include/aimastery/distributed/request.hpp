#pragma once
/// \file
/// Request: a non-blocking MPI operation in flight (an MPI_Request), completed exactly once.
///
///   std::vector<double> g = local_gradient();
///   aimastery::Request r = world.iallreduce_sum(std::span<double>(g));   // MPI_Iallreduce, returns at once
///   compute_something_else();                                             // g must not be touched meanwhile
///   r.test();                                                             // MPI_Test: lets MPI progress
///   r.wait();                                                             // g = Σ_ranks g
///
/// The buffer given to the operation belongs to MPI until the request completes: by wait(), by a test()
/// that returns true, or by the destructor, which waits (so a request that goes out of scope, e.g. during
/// an exception, never leaves MPI writing into freed memory). wait() and test() throw ConnectionError
/// naming the call when MPI reports an error; the destructor cannot throw and drops it.
///
/// Progress: MPI implementations without a progress thread (Open MPI's default) advance a non-blocking
/// collective only inside MPI calls; calling test() now and then, from the thread that started the
/// operation (MPI_THREAD_FUNNELED is enough), moves every pending operation on.

#include <mpi.h>

#include <utility>

#include "aimastery/distributed/mpi_error.hpp"

namespace aimastery {

class Request {
 public:
  /// A request with nothing in flight (done() is true).
  Request() = default;
  /// Takes ownership of `request`, as returned by a non-blocking MPI call.
  explicit Request(MPI_Request request) noexcept : request_(request) {}
  Request(Request&& other) noexcept : request_(std::exchange(other.request_, MPI_REQUEST_NULL)) {}
  Request& operator=(Request&& other) noexcept {
    if (this != &other) {
      finish();
      request_ = std::exchange(other.request_, MPI_REQUEST_NULL);
    }
    return *this;
  }
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request() { finish(); }

  /// True once the operation has completed (or when there was none).
  [[nodiscard]] bool done() const noexcept { return request_ == MPI_REQUEST_NULL; }

  /// Lets MPI progress (MPI_Test) and says whether the operation has completed; true from then on.
  bool test() {
    if (done()) return true;
    int flag = 0;
    const int code = MPI_Test(&request_, &flag, MPI_STATUS_IGNORE);
    if (code != MPI_SUCCESS) [[unlikely]] {
      request_ = MPI_REQUEST_NULL;  // a failed request is not waited for again
      detail::check_mpi(code, "MPI_Test");
    }
    return flag != 0;
  }

  /// Blocks until the operation has completed (MPI_Wait); nothing when it already has.
  void wait() {
    if (done()) return;
    const int code = MPI_Wait(&request_, MPI_STATUS_IGNORE);
    request_ = MPI_REQUEST_NULL;
    detail::check_mpi(code, "MPI_Wait");
  }

 private:
  void finish() noexcept {
    if (done()) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Wait(&request_, MPI_STATUS_IGNORE);
    request_ = MPI_REQUEST_NULL;
  }

  MPI_Request request_ = MPI_REQUEST_NULL;
};

}  // namespace aimastery
