#pragma once
/// \file
/// Environment: MPI's lifetime as an object. The constructor initialises MPI (MPI_Init_thread, asking for
/// MPI_THREAD_FUNNELED: only the thread that made the Environment calls MPI) unless it already is; the
/// destructor finalises it, only if this object initialised it.
///
///   int main(int argc, char** argv) {
///     aimastery::Environment mpi(argc, argv);
///     aimastery::Communicator world = aimastery::Communicator::world();
///     ...
///   }   // MPI_Finalize
///
/// One Environment per process; make every Communicator inside its lifetime (a Communicator outliving it
/// is a programming error: its destructor then skips MPI_Comm_free, which MPI no longer allows).

#include <mpi.h>

#include "aimastery/distributed/mpi_error.hpp"

namespace aimastery {

class Environment {
 public:
  Environment() : Environment(nullptr, nullptr) {}
  Environment(int& argc, char**& argv) : Environment(&argc, &argv) {}
  ~Environment() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owner_ && !finalized) MPI_Finalize();
  }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  /// The thread support MPI granted (MPI_THREAD_SINGLE … MPI_THREAD_MULTIPLE).
  [[nodiscard]] int thread_level() const noexcept { return thread_level_; }
  /// True when this object called MPI_Init_thread (and will call MPI_Finalize).
  [[nodiscard]] bool owner() const noexcept { return owner_; }
  /// True between MPI_Init and MPI_Finalize.
  [[nodiscard]] static bool active() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized && !finalized;
  }

 private:
  Environment(int* argc, char*** argv) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (finalized) throw InvalidArgument("Environment: MPI was already finalized and cannot start again");
    if (initialized) {
      MPI_Query_thread(&thread_level_);
      return;
    }
    detail::check_mpi(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &thread_level_), "MPI_Init_thread");
    owner_ = true;
  }

  bool owner_ = false;
  int thread_level_ = MPI_THREAD_SINGLE;
};

}  // namespace aimastery
