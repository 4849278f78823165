#pragma once
/// \file
/// NumPy's default quantile (method 'linear') of sorted data, shared by psi() and PerformanceMonitor:
///   h = (n − 1)·q,  i = ⌊h⌋,  t = h − i,  Q(q) = x_i + t (x_{i+1} − x_i)
/// written as x_{i+1} − (1 − t)(x_{i+1} − x_i) when t ≥ ½, as numpy's _lerp, so results agree bit for bit.

#include <algorithm>
#include <cmath>
#include <vector>

namespace aimastery::detail {

/// q in [0, 1]; `sorted` non-empty and increasing.
inline double quantile_sorted(const std::vector<double>& sorted, double q) {
  const double h = static_cast<double>(sorted.size() - 1) * q;
  const double lo = std::floor(h);
  const auto i = static_cast<std::size_t>(lo);
  const std::size_t j = std::min(i + 1, sorted.size() - 1);
  const double t = h - lo, a = sorted[i], b = sorted[j];
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

}  // namespace aimastery::detail
