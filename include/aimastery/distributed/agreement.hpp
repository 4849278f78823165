#pragma once
/// \file
/// Checks that every rank holds the same value of something (the number of features, a sample count,
/// a hash of replicated data) before any distributed work starts. One allreduce of (v, −v) with MPI_MAX
/// gives max v and −min v together; when they differ, every rank throws the same InvalidArgument, so no
/// rank is left waiting in a later collective for one that gave up.
///
///   check_same_features(world, "fit_data_parallel", X.cols());
///   // every rank: "fit_data_parallel: ranks disagree on the number of features: 4 to 5 (this rank: 5)"

#include <cstdint>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/distributed/communicator.hpp"

namespace aimastery {

/// The smallest and largest value of one integer over the ranks.
struct RankRange {
  std::int64_t min = 0;
  std::int64_t max = 0;
};

/// min and max of `value` over every rank (one MPI_Allreduce).
[[nodiscard]] inline RankRange range_over_ranks(const Communicator& comm, std::int64_t value) {
  std::int64_t both[2] = {value, -value};
  comm.allreduce_max(std::span<std::int64_t>(both, 2));
  return {-both[1], both[0]};
}

/// Throws InvalidArgument on every rank unless `value` is the same on every rank; the message names the
/// caller, `what`, the range and this rank's value.
inline void check_same_on_all_ranks(const Communicator& comm, std::string_view where, std::string_view what,
                                    std::int64_t value) {
  const RankRange r = range_over_ranks(comm, value);
  if (r.min != r.max) [[unlikely]]
    fail(where, "ranks disagree on " + std::string(what) + ": " + std::to_string(r.min) + " to " +
                    std::to_string(r.max) + " (rank " + std::to_string(comm.rank()) + ": " + std::to_string(value) +
                    ")");
}

/// Runs `checks` (local validation that throws InvalidArgument) on every rank, then agrees: when it threw
/// on some rank, every rank throws InvalidArgument with the message of the lowest such rank, prefixed by
/// that rank ("rank 1: fit_data_parallel: X contains NaN or infinity"). So a bad input seen by one rank
/// stops all of them before any work, instead of leaving the others blocked in the next collective.
/// Another exception (NotFittedError, std::bad_alloc …) is rethrown as it is on every rank that threw
/// one, and the ranks whose checks passed throw std::runtime_error("rank k: <its message>").
template <class Checks>
void check_on_all_ranks(const Communicator& comm, Checks&& checks) {
  std::string message;
  std::exception_ptr other;
  bool failed = false;
  try {
    checks();
  } catch (const InvalidArgument& e) {
    failed = true;
    message = e.what();
  } catch (const std::exception& e) {
    failed = true;
    message = e.what();
    other = std::current_exception();
  }
  int first = failed ? comm.rank() : comm.size();
  comm.allreduce_min(std::span<int>(&first, 1));
  if (first == comm.size()) return;
  int invalid_argument = failed && !other ? 1 : 0;
  comm.broadcast(std::span<int>(&invalid_argument, 1), first);
  comm.broadcast(message, first);
  message = "rank " + std::to_string(first) + ": " + message;
  if (invalid_argument) throw InvalidArgument(message);
  if (other) std::rethrow_exception(other);
  throw std::runtime_error(message);
}

/// The number of features (columns) must be the same on every rank.
inline void check_same_features(const Communicator& comm, std::string_view where, Index features) {
  check_same_on_all_ranks(comm, where, "the number of features", static_cast<std::int64_t>(features));
}

}  // namespace aimastery
