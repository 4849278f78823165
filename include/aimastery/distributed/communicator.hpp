#pragma once
/// \file
/// Communicator: a group of MPI processes (ranks 0 … size−1) and the collective operations the library's
/// distributed algorithms use, on contiguous buffers (std::span), throwing instead of aborting.
///
///   aimastery::Environment mpi(argc, argv);
///   aimastery::Communicator world = aimastery::Communicator::world();
///   std::vector<double> g = local_gradient();
///   world.allreduce_sum(std::span<double>(g));                 // g ← Σ_ranks g      (MPI_Allreduce)
///   world.broadcast(std::span<double>(w), 0);                  // w ← rank 0's w     (MPI_Bcast)
///   std::vector<double> all = world.gather(std::span<const double>(mine), 0);   // rank order, sizes may differ
///   aimastery::Request r = world.iallreduce_sum(std::span<double>(h));   // started; r.wait() completes it
///
/// A Communicator owns a duplicate of the MPI communicator it is made from (MPI_Comm_dup): the library's
/// messages never mix with the caller's, and the duplicate's error handler is MPI_ERRORS_RETURN, so a
/// failed call throws ConnectionError naming the call (distributed/mpi_error.hpp) instead of aborting the
/// whole job. Collective operations must be called by every rank of the communicator in the same order
/// (MPI's rule); the library's functions taking a Communicator are collective in this sense.
/// Buffers are counted in MPI's `int`: a buffer of more than 2³¹ − 1 elements is an InvalidArgument.

#include <mpi.h>

#include <climits>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/distributed/mpi_error.hpp"
#include "aimastery/distributed/request.hpp"

namespace aimastery {

/// The element types the collectives carry.
template <class T>
concept MpiElement = std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int> ||
    std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t> || std::is_same_v<T, char>;

namespace detail {

template <MpiElement T>
MPI_Datatype mpi_datatype() {
  if constexpr (std::is_same_v<T, float>)
    return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, double>)
    return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, int>)
    return MPI_INT;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return MPI_INT64_T;
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return MPI_UINT64_T;
  else
    return MPI_CHAR;
}

/// A buffer length as MPI's int count.
inline int mpi_count(std::size_t n, std::string_view where) {
  if (n > static_cast<std::size_t>(INT_MAX)) [[unlikely]]
    fail(where, "buffer of " + std::to_string(n) + " elements exceeds MPI's count limit of " + std::to_string(INT_MAX));
  return static_cast<int>(n);
}

}  // namespace detail

class Communicator {
 public:
  /// A duplicate of MPI_COMM_WORLD: every process of the job.
  [[nodiscard]] static Communicator world() { return Communicator(MPI_COMM_WORLD); }

  /// A duplicate of `comm` (MPI must be initialised: make an Environment first).
  explicit Communicator(MPI_Comm comm) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized)
      throw InvalidArgument("Communicator: MPI is not initialized (make an aimastery::Environment first)");
    if (comm == MPI_COMM_NULL) throw InvalidArgument("Communicator: the communicator is MPI_COMM_NULL");
    detail::check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
    const int code = MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    if (code == MPI_SUCCESS) {
      MPI_Comm_rank(comm_, &rank_);
      MPI_Comm_size(comm_, &size_);
      return;
    }
    MPI_Comm_free(&comm_);
    detail::check_mpi(code, "MPI_Comm_set_errhandler");
  }
  Communicator(Communicator&& other) noexcept
      : comm_(std::exchange(other.comm_, MPI_COMM_NULL)), rank_(other.rank_), size_(other.size_) {}
  Communicator& operator=(Communicator&& other) noexcept {
    if (this != &other) {
      release();
      comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
      rank_ = other.rank_;
      size_ = other.size_;
    }
    return *this;
  }
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  ~Communicator() { release(); }

  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] int size() const noexcept { return size_; }
  [[nodiscard]] bool is_root(int root = 0) const noexcept { return rank_ == root; }
  /// The MPI communicator (for calls the library does not wrap).
  [[nodiscard]] MPI_Comm native() const noexcept { return comm_; }

  /// Waits until every rank has called it (MPI_Barrier).
  void barrier() const {
    check_open("Communicator::barrier");
    detail::check_mpi(MPI_Barrier(comm_), "MPI_Barrier");
  }

  /// data ← Σ over ranks of data, element-wise, on every rank (MPI_Allreduce, MPI_SUM, in place). Every
  /// rank passes the same length. The sum's order of additions is MPI's: it may differ from a sequential
  /// sum in the last bits (float reassociation), but it is the same on every rank of one call.
  template <MpiElement T>
  void allreduce_sum(std::span<T> data) const {
    allreduce(data, MPI_SUM, "Communicator::allreduce_sum");
  }
  /// data ← element-wise minimum over ranks, on every rank.
  template <MpiElement T>
  void allreduce_min(std::span<T> data) const {
    allreduce(data, MPI_MIN, "Communicator::allreduce_min");
  }
  /// data ← element-wise maximum over ranks, on every rank.
  template <MpiElement T>
  void allreduce_max(std::span<T> data) const {
    allreduce(data, MPI_MAX, "Communicator::allreduce_max");
  }
  /// The non-blocking allreduce_sum (MPI_Iallreduce, MPI_SUM, in place): starts the sum and returns at
  /// once; `data` holds Σ over ranks once the returned Request completes (request.hpp), and must not be
  /// read, written or freed before. Every rank starts the same non-blocking collectives, with the same
  /// lengths, in the same order (MPI's rule); they may complete in any order. The order of additions is
  /// MPI's for the non-blocking call, which may differ from allreduce_sum's in the last bits; two calls
  /// with the same length on the same communicator add in the same order.
  template <MpiElement T>
  [[nodiscard]] Request iallreduce_sum(std::span<T> data) const {
    constexpr std::string_view where = "Communicator::iallreduce_sum";
    check_open(where);
    MPI_Request request = MPI_REQUEST_NULL;
    detail::check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data.data(), detail::mpi_count(data.size(), where),
                                     detail::mpi_datatype<T>(), MPI_SUM, comm_, &request),
                      "MPI_Iallreduce");
    return Request(request);
  }
  /// One value summed over ranks.
  template <MpiElement T>
  [[nodiscard]] T sum(T value) const {
    allreduce_sum(std::span<T>(&value, 1));
    return value;
  }

  /// data ← root's data on every rank (MPI_Bcast). Every rank passes the same length.
  template <MpiElement T>
  void broadcast(std::span<T> data, int root) const {
    constexpr std::string_view where = "Communicator::broadcast";
    check_root(where, root);
    detail::check_mpi(
        MPI_Bcast(data.data(), detail::mpi_count(data.size(), where), detail::mpi_datatype<T>(), root, comm_),
        "MPI_Bcast");
  }
  /// text ← root's text on every rank (its length first, then its bytes).
  void broadcast(std::string& text, int root) const {
    std::int64_t length = static_cast<std::int64_t>(text.size());
    broadcast(std::span<std::int64_t>(&length, 1), root);
    std::string received = rank_ == root ? std::move(text) : std::string(static_cast<std::size_t>(length), '\0');
    broadcast(std::span<char>(received.data(), received.size()), root);
    text = std::move(received);
  }

  /// Every rank's `local` concatenated in rank order on `root` (empty on the other ranks); the lengths
  /// may differ between ranks (MPI_Gather of the lengths, then MPI_Gatherv). `counts`, when given, gets
  /// each rank's length on root.
  template <MpiElement T>
  [[nodiscard]] std::vector<T> gather(std::span<const T> local, int root, std::vector<int>* counts = nullptr) const {
    constexpr std::string_view where = "Communicator::gather";
    check_root(where, root);
    int count = detail::mpi_count(local.size(), where);
    std::vector<int> all_counts(rank_ == root ? static_cast<std::size_t>(size_) : 0);
    detail::check_mpi(MPI_Gather(&count, 1, MPI_INT, all_counts.data(), 1, MPI_INT, root, comm_), "MPI_Gather");
    std::vector<int> displacements;
    std::vector<T> out;
    if (rank_ == root) {
      displacements = offsets_of(all_counts, where);
      out.resize(static_cast<std::size_t>(displacements.back()) + static_cast<std::size_t>(all_counts.back()));
    }
    detail::check_mpi(MPI_Gatherv(local.data(), count, detail::mpi_datatype<T>(), out.data(), all_counts.data(),
                                  displacements.data(), detail::mpi_datatype<T>(), root, comm_),
                      "MPI_Gatherv");
    if (counts) *counts = std::move(all_counts);
    return out;
  }
  /// Every rank's `local` concatenated in rank order, on every rank (MPI_Allgather of the lengths, then
  /// MPI_Allgatherv).
  template <MpiElement T>
  [[nodiscard]] std::vector<T> allgather(std::span<const T> local, std::vector<int>* counts = nullptr) const {
    constexpr std::string_view where = "Communicator::allgather";
    check_open(where);
    int count = detail::mpi_count(local.size(), where);
    std::vector<int> all_counts(static_cast<std::size_t>(size_));
    detail::check_mpi(MPI_Allgather(&count, 1, MPI_INT, all_counts.data(), 1, MPI_INT, comm_), "MPI_Allgather");
    const std::vector<int> displacements = offsets_of(all_counts, where);
    std::vector<T> out(static_cast<std::size_t>(displacements.back()) + static_cast<std::size_t>(all_counts.back()));
    detail::check_mpi(MPI_Allgatherv(local.data(), count, detail::mpi_datatype<T>(), out.data(), all_counts.data(),
                                     displacements.data(), detail::mpi_datatype<T>(), comm_),
                      "MPI_Allgatherv");
    if (counts) *counts = std::move(all_counts);
    return out;
  }

  /// Σ of `value` over the ranks before this one (0 on rank 0): where this rank's rows start in a
  /// collection sharded by rows in rank order (MPI_Exscan).
  [[nodiscard]] std::int64_t exclusive_prefix_sum(std::int64_t value) const {
    check_open("Communicator::exclusive_prefix_sum");
    std::int64_t out = 0;
    detail::check_mpi(MPI_Exscan(&value, &out, 1, MPI_INT64_T, MPI_SUM, comm_), "MPI_Exscan");
    return rank_ == 0 ? 0 : out;  // MPI leaves rank 0's result undefined
  }

 private:
  void release() noexcept {
    if (comm_ == MPI_COMM_NULL) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
    comm_ = MPI_COMM_NULL;
  }
  void check_open(std::string_view where) const {
    if (comm_ == MPI_COMM_NULL) [[unlikely]]
      fail(where, "the communicator was moved from");
  }
  void check_root(std::string_view where, int root) const {
    check_open(where);
    if (root < 0 || root >= size_) [[unlikely]]
      fail(where,
           "root " + std::to_string(root) + " is not a rank of this communicator (size " + std::to_string(size_) + ")");
  }
  template <MpiElement T>
  void allreduce(std::span<T> data, MPI_Op op, std::string_view where) const {
    check_open(where);
    detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, data.data(), detail::mpi_count(data.size(), where),
                                    detail::mpi_datatype<T>(), op, comm_),
                      "MPI_Allreduce");
  }
  /// Where each rank's block starts in the concatenation; the total must fit MPI's int.
  static std::vector<int> offsets_of(const std::vector<int>& counts, std::string_view where) {
    std::vector<int> offsets(counts.size());
    std::int64_t total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      offsets[r] = static_cast<int>(total);
      total += counts[r];
      if (total > INT_MAX) [[unlikely]]
        fail(where, "the gathered buffers hold more than " + std::to_string(INT_MAX) + " elements");
    }
    return offsets;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace aimastery
