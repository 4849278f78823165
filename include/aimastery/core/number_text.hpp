#pragma once
/// \file
/// A number as text in printf's "%g" form (6 significant digits, the shortest of fixed and scientific):
/// what `std::ostream << x` writes with default flags, without including the stream headers.
///
///   number_text(0.01) == "0.01",  number_text(1e-7) == "1e-07",  number_text(NAN) == "nan"

#include <cstdio>
#include <string>

namespace aimastery::detail {

/// x as "%g" formats it (a float is widened to double first, as `std::ostream << x` does).
inline std::string number_text(double x) {
  char buffer[32];
  const int n = std::snprintf(buffer, sizeof buffer, "%g", x);
  return std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
}

/// x as "%Lg" formats it.
inline std::string number_text(long double x) {
  char buffer[64];
  const int n = std::snprintf(buffer, sizeof buffer, "%Lg", x);
  return std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
}

}  // namespace aimastery::detail
