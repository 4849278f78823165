#pragma once
/// \file
/// The standard normal distribution's special functions, written here:
///   ndtr(x)  = Φ(x) = ½ erfc(−x/√2)                       (cumulative distribution)
///   ndtri(p) = Φ⁻¹(p)                                     (quantile; Wichura's AS 241, PPND16)
/// Both are accurate to about 1e-15 relative in double, in the tails too.

#include <cmath>
#include <limits>
#include <numbers>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// Φ(x) = ½ erfc(−x/√2). erfc keeps full relative accuracy in the lower tail, where 1 − Φ(−x) would
/// cancel to zero.
template <Scalar T>
T ndtr(T x) {
  return T(0.5) * std::erfc(-x / std::numbers::sqrt2_v<T>);
}

/// Φ⁻¹(p) for p ∈ [0, 1]: −∞ at 0, +∞ at 1; p outside [0, 1] or NaN is an InvalidArgument.
///
/// Wichura (1988), Algorithm AS 241 "The percentage points of the normal distribution", PPND16:
/// with q = p − ½, a rational function R₁(r) of r = 0.180625 − q² gives x = q·R₁ in the centre
/// (|q| ≤ 0.425); in the tails r = √(−log min(p, 1 − p)) and x = ±R₂(r − 1.6) for r ≤ 5,
/// ±R₃(r − 5) beyond. The three rational approximations have relative error below 1e-16.
template <Scalar T>
T ndtri(T p) {
  if (!(p >= T(0) && p <= T(1)))
    throw InvalidArgument("ndtri: p = " + std::to_string(p) + " is not a probability in [0, 1]");
  if (p == T(0)) return -std::numeric_limits<T>::infinity();
  if (p == T(1)) return std::numeric_limits<T>::infinity();
  using W = double;  // the coefficients carry 16 digits; evaluate in double, round once to T
  const W q = W(p) - 0.5;
  if (std::abs(q) <= 0.425) {
    const W r = 0.180625 - q * q;
    const W num = (((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r +
                       45921.953931549871457) *
                          r +
                      13731.693765509461125) *
                         r +
                     1971.5909503065514427) *
                        r +
                    133.14166789178437745) *
                       r +
                   3.387132872796366608);
    const W den = (((((((5226.495278852545925 * r + 28729.085735721942674) * r + 39307.89580009271061) * r +
                       21213.794301586595867) *
                          r +
                      5394.1960214247511077) *
                         r +
                     687.1870074920579083) *
                        r +
                    42.313330701600911252) *
                       r +
                   1.0);
    return static_cast<T>(q * num / den);
  }
  // Tails: work with the smaller of p and 1 − p (1 − p is exact for p > ½ in binary floating point).
  W r = q < 0 ? W(p) : 1.0 - W(p);
  r = std::sqrt(-std::log(r));
  W x;
  if (r <= 5.0) {
    r -= 1.6;
    x = (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r + 0.24178072517745061177) * r +
             1.27045825245236838258) *
                r +
            3.64784832476320460504) *
               r +
           5.7694972214606914055) *
              r +
          4.6303378461565452959) *
             r +
         1.42343711074968357734) /
        (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r +
             0.14810397642748007459) *
                r +
            0.68976733498510000455) *
               r +
           1.6763848301838038494) *
              r +
          2.05319162663775882187) *
             r +
         1.0);
  } else {
    r -= 5.0;
    x = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r +
             0.026532189526576123093) *
                r +
            0.29656057182850489123) *
               r +
           1.7848265399172913358) *
              r +
          5.4637849111641143699) *
             r +
         6.6579046435011037772) /
        (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r +
             7.868691311456132591e-4) *
                r +
            0.0148753612908506148525) *
               r +
           0.13692988092273580531) *
              r +
          0.59983220655588793769) *
             r +
         1.0);
  }
  return static_cast<T>(q < 0 ? -x : x);
}

}  // namespace aimastery
