#pragma once
/// \file
/// What the monitoring tests accept as a sample: any Eigen vector or array (float, double or integer
/// entries) or any contiguous range of numbers (std::vector<double>, std::span<const float>, ...).
/// Internally every statistic is computed in double, whatever the input precision.

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// An Eigen dense object with arithmetic entries.
template <class S>
concept EigenNumericSample = std::derived_from<S, Eigen::DenseBase<S>> && std::is_arithmetic_v<typename S::Scalar>;

/// A numeric sample: an Eigen vector/array or a sized range of arithmetic values.
template <class S>
concept NumericSample = EigenNumericSample<S> ||
    (std::ranges::sized_range<S> && !EigenNumericSample<S> && std::is_arithmetic_v<std::ranges::range_value_t<S>>);

namespace detail {

/// The sample's values as doubles (a copy), checked: not empty, no NaN or infinity.
template <NumericSample S>
std::vector<double> sample_values(const S& sample, std::string_view where, std::string_view name) {
  std::vector<double> out;
  if constexpr (EigenNumericSample<S>) {
    out.resize(static_cast<std::size_t>(sample.size()));
    const auto evaluated = sample.eval();
    for (Index i = 0; i < evaluated.size(); ++i)
      out[static_cast<std::size_t>(i)] = static_cast<double>(evaluated.data()[i]);
  } else {
    out.reserve(std::ranges::size(sample));
    for (const auto& v : sample) out.push_back(static_cast<double>(v));
  }
  require(!out.empty(), where, [&] { return std::string(name) + " is empty"; });
  require(std::all_of(out.begin(), out.end(), [](double v) { return std::isfinite(v); }), where,
          [&] { return std::string(name) + " contains NaN or infinity"; });
  return out;
}

}  // namespace detail
}  // namespace aimastery
