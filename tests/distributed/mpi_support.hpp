#pragma once
// Support for the MPI test programs: MPI lives for the whole program (one Environment, made before
// doctest's main runs), every test case takes the world communicator, and seeded random data comes from
// the library's engine.

#include <doctest/doctest.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/distributed.hpp"

namespace aimastery::test {

/// MPI_Init before main, MPI_Finalize after it.
inline Environment mpi_environment;

/// Seeded standard-normal data (the same on every rank for the same seed).
template <class T>
Matrix<T> normal_matrix(Index rows, Index cols, std::uint64_t seed) {
  RandomEngine rng(seed);
  Matrix<T> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(detail::standard_normal(rng));
  return m;
}

/// True when `values` is bit-for-bit the same on every rank (element-wise min and max over ranks agree).
template <class T>
bool identical_on_all_ranks(const Communicator& comm, std::vector<T> values) {
  std::vector<T> low = values, high = values;
  comm.allreduce_min(std::span<T>(low));
  comm.allreduce_max(std::span<T>(high));
  return low == high && low == values;
}

/// A message built at run time, for CHECK_THROWS_NAMING (doctest::Contains takes doctest's String).
inline doctest::String text(const std::string& s) { return doctest::String(s.c_str()); }

}  // namespace aimastery::test
