#pragma once
// Shared helpers of the deep-learning layer and loss tests: the PyTorch parity tolerance and the
// gradient-check tolerance.

#include <string>
#include <type_traits>

#include "support.hpp"

namespace aimastery::test {

/// Central-difference gradient checks are run in double and must agree to 1e-6.
constexpr double gradient_tolerance = 1e-6;

/// Our result against PyTorch's, as a relative error of the whole array.
template <class T, class A>
void check_parity(const Eigen::MatrixBase<A>& ours, const nlohmann::json& expected, const std::string& what) {
  const Matrix<double> reference = json_matrix<double>(expected);
  INFO(what << ": ours " << ours.rows() << "x" << ours.cols() << ", PyTorch " << reference.rows() << "x"
            << reference.cols());
  REQUIRE(ours.rows() == reference.rows());
  REQUIRE(ours.cols() == reference.cols());
  CHECK(max_relative_error(ours.template cast<double>(), reference) <= parity_tolerance<T>());
}

}  // namespace aimastery::test
