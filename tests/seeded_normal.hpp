#pragma once
// Seeded standard-normal matrices, drawn as the reference generators draw them (tests/reference/gen_*.py):
// the library's engine and standard_normal, each draw rounded to float first, so that a float and a double
// matrix of one seed hold the same numbers.

#include <aimastery/core/probability/sampling.hpp>
#include <aimastery/core/tensor.hpp>

#include <cstdint>

namespace aimastery::test {

template <Scalar T>
Matrix<T> seeded_normal(std::uint64_t seed, Index rows, Index cols) {
  RandomEngine rng(seed);
  Matrix<T> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(static_cast<float>(detail::standard_normal(rng)));
  return m;
}

}  // namespace aimastery::test
