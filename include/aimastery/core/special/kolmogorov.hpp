#pragma once
/// \file
/// Distributions of the Kolmogorov–Smirnov statistics, written here (ports of SciPy 1.10's algorithms):
///   smirnov_sf(n, d)    P[D⁺_n > d], the one-sided one-sample statistic (Smirnov 1944, Birnbaum–Tingey)
///   kstwo_sf(n, d)      P[D_n ≥ d], the two-sided one-sample statistic for finite n (scipy.stats.kstwo.sf),
///                       by Simard and L'Ecuyer's (2011) choice among Ruben–Gambino closed forms,
///                       Durbin's matrix (Marsaglia–Tsang–Wang), Pomeranz's recursion, Pelz–Good's
///                       expansion and 2·smirnov
///   ks_2samp_exact_sf(n1, n2, h)  P[D_{n1,n2} ≥ h/lcm(n1, n2)], the exact two-sample p-value
///                       (Hodges 1958; Viehmann 2021), as ks_2samp(method='exact')
/// Sums that SciPy evaluates in double-double run here in long double; the rest follow SciPy's order.
/// kstwo_sf, ks_2samp_exact_sf and the matrix and lattice loops behind them are templates with a defaulted
/// parameter, called as plain functions: their code is compiled only in the files that call them.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <numeric>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {
namespace detail {

inline double clip_probability(double p) { return std::clamp(p, 0.0, 1.0); }

/// One-sided Smirnov survival function (van Mulbregt 2018's arrangement of the Birnbaum–Tingey sum):
///   P[D⁺_n > d] = d · Σ_{v=0}^{⌊n(1−d)⌋} C(n, v) (d + v/n)^{v−1} (1 − d − v/n)^{n−v}
/// (the lower sum, all terms positive), or 1 − d · Σ_{v=⌈n(1−d)⌉}^{n} (same terms) when that upper
/// sum has at most three terms. Each term is exp of its logarithm in long double, so binomials of
/// n up to 10⁶ neither overflow nor lose digits.
inline double smirnov_sf_impl(std::int64_t n, double d) {
  using W = long double;
  if (!(n > 0 && d >= 0.0 && d <= 1.0)) return std::numeric_limits<double>::quiet_NaN();
  if (n == 1) return 1.0 - d;
  if (d == 0.0) return 1.0;
  if (d == 1.0) return 0.0;
  // n·d split exactly into floor and fraction (an FMA gives the rounding error of the product).
  const double nd_hi = static_cast<double>(n) * d;
  const double nd_lo = std::fma(static_cast<double>(n), d, -nd_hi);
  double nd_floor = std::floor(nd_hi);
  double alpha = (nd_hi - nd_floor) + nd_lo;
  if (alpha < 0) {
    nd_floor -= 1;
    alpha += 1;
  }
  if (alpha >= 1) {
    nd_floor += 1;
    alpha = 0;
  }
  const auto nxfl = static_cast<std::int64_t>(nd_floor);
  std::int64_t n1mxfl = n - nxfl - (alpha == 0 ? 0 : 1);
  std::int64_t n1mxceil = n - nxfl;
  if (alpha == 0) {
    n1mxfl -= 1;
    n1mxceil += 1;
  }
  if (nxfl == 0 || (nxfl == 1 && alpha == 0)) {  // d ≤ 1/n: P[D⁺ ≤ d] = d (1 + d)^{n−1}
    return clip_probability(1.0 - static_cast<double>(static_cast<W>(d) * std::pow(1 + static_cast<W>(d), W(n - 1))));
  }
  constexpr double min_log = -7.08396418532264106224E2;  // exp() of less underflows
  if (-2.0 * static_cast<double>(n) * d * d < min_log) return 0.0;
  if (nxfl >= n - 1) return clip_probability(static_cast<double>(std::pow(1 - static_cast<W>(d), W(n))));
  if (n > 1000000) {  // Smirnov's approximation p ≈ exp(−(6nd + 1)² / (18n)), as SciPy beyond 10⁶
    const double logp = -std::pow(6.0 * static_cast<double>(n) * d + 1, 2) / 18.0 / static_cast<double>(n);
    return clip_probability(logp < -std::numbers::ln2 ? std::exp(logp) : 1.0 - (-std::expm1(logp)));
  }
  const std::int64_t upper_terms = n - n1mxceil + 1;
  const bool use_upper =
      (upper_terms <= 1 && d < 0.5) || (n >= 10 && upper_terms <= 3 && d <= 0.5 / std::sqrt(static_cast<double>(n)));
  const W D = d, N = static_cast<W>(n);
  const W log_n_factorial = std::lgamma(N + 1);
  auto log_binomial = [&](std::int64_t v) {
    return log_n_factorial - std::lgamma(static_cast<W>(v) + 1) - std::lgamma(static_cast<W>(n - v) + 1);
  };
  // A_v = C(n, v) (1 − d − v/n)^{n−v} (d + v/n)^{v−1}, with its sign (the upper sum's bases are negative).
  // log C(n, v) is stepped by log((n − v)/(v + 1)) and recomputed from lgamma every 16 terms, so its
  // rounding error stays below 1e-12 even for n = 10⁶.
  auto term = [&](std::int64_t v, W log_binom) -> W {
    const W base_low = static_cast<W>(n - v) / N - D;
    const W base_high = static_cast<W>(v) / N + D;
    if (base_low == 0) return W(0);
    const W log_abs =
        log_binom + static_cast<W>(n - v) * std::log(std::abs(base_low)) + static_cast<W>(v - 1) * std::log(base_high);
    const bool negative = base_low < 0 && ((n - v) % 2 == 1);
    const W magnitude = std::exp(log_abs);
    return negative ? -magnitude : magnitude;
  };
  std::int64_t start = 0, step = 1, n_terms = n1mxfl + 1;
  if (use_upper) {
    start = n;
    step = -1;
    n_terms = n - n1mxceil + 1;
  }
  W sum = 0;
  const std::int64_t vmid = n / 2;
  W log_binom = 0;
  for (std::int64_t j = 0; j < n_terms; ++j) {
    const std::int64_t v = start + j * step;
    if (j % 16 == 0) {
      log_binom = log_binomial(v);
    } else {
      const std::int64_t previous = v - step;  // C(n, v) = C(n, v ∓ 1) · ratio
      log_binom += step > 0 ? std::log(static_cast<W>(n - previous) / static_cast<W>(previous + 1))
                            : std::log(static_cast<W>(previous) / static_cast<W>(n - previous + 1));
    }
    const W a = term(v, log_binom);
    if (std::isfinite(a)) sum += a;
    if (j == 0) continue;
    if (a != 0) {
      // SciPy's early exit: the remaining terms cannot move the sum by an ulp.
      if (4 * static_cast<W>(n_terms - j) * std::abs(a) <
              static_cast<W>(std::numeric_limits<double>::epsilon()) * sum &&
          j != n_terms - 1)
        break;
    } else if (j > vmid) {
      break;
    }
  }
  const double prob = static_cast<double>(D * sum);
  return clip_probability(use_upper ? 1.0 - prob : prob);
}

/// log(n! / n^n) by Stirling's series with n·log n removed up front (no cancellation).
inline double log_nfactorial_div_n_pow_n(double n) {
  static constexpr double stirling[] = {-2.955065359477124183e-2,  6.4102564102564102564e-3, -1.9175269175269175269e-3,
                                        8.4175084175084175084e-4,  -5.952380952380952381e-4, 7.9365079365079365079e-4,
                                        -2.7777777777777777778e-3, 8.3333333333333333333e-2};
  const double rn = 1.0 / n;
  const double z = rn / n;
  double poly = 0.0;
  for (double c : stirling) poly = poly * z + c;
  return std::log(n) / 2 - n + std::log(2 * std::numbers::pi) / 2 + rn * poly;
}

/// C = A·B for m×m row-major matrices: a plain i-k-j loop whose inner loop runs along rows of B and C
/// (contiguous, vectorised by the compiler). m = 2⌈nd⌉ − 1 stays small (below about 120) where
/// kstwo_sf uses Durbin's matrix, so no blocking is needed, and no GEMM is instantiated for includers.
template <class = void>
void durbin_square_product(const std::vector<double>& A, const std::vector<double>& B, std::vector<double>& C,
                           std::size_t m) {
  std::fill(C.begin(), C.end(), 0.0);
  for (std::size_t i = 0; i < m; ++i) {
    double* c = C.data() + i * m;
    for (std::size_t k = 0; k < m; ++k) {
      const double a = A[i * m + k];
      if (a == 0.0) continue;
      const double* b = B.data() + k * m;
      for (std::size_t j = 0; j < m; ++j) c[j] += a * b[j];
    }
  }
}

/// Durbin's matrix algorithm as Marsaglia, Tsang and Wang (2003) compute it: with d = (k − h)/n
/// (k a positive integer, 0 ≤ h < 1) and the m×m matrix H (m = 2k − 1) of
///   H_{ij} = 1/(i−j+1)! for i−j+1 ≥ 0, first column (1 − h^i)/i!, last row its reverse,
///   H_{m1} = (1 − 2h^m + max(0, 2h−1)^m)/m!,
/// P[D_n < d] = n!/n^n · (H^n)_{kk}. H^n by repeated squaring, rescaled by 2^128 to stay in range.
template <class = void>
double kolmogn_durbin_cdf(std::int64_t n, double d) {
  if (d >= 1.0) return 1.0;
  const double nd = static_cast<double>(n) * d;
  if (nd <= 0.5) return 0.0;
  const auto k = static_cast<std::size_t>(std::ceil(nd));
  const double h = static_cast<double>(k) - nd;
  const std::size_t m = 2 * k - 1;
  std::vector<double> v(m), w(m);
  double fac = 1.0;
  for (std::size_t j = 1; j <= m; ++j) {
    v[j - 1] = 1.0 - std::pow(h, static_cast<double>(j));
    w[j - 1] = fac;
    fac /= static_cast<double>(j);
    v[j - 1] *= fac;
  }
  const double tt =
      std::pow(std::max(2 * h - 1.0, 0.0), static_cast<double>(m)) - 2 * std::pow(h, static_cast<double>(m));
  v[m - 1] = (1.0 + tt) * fac;
  std::vector<double> H(m * m, 0.0);  // row-major: H[i * m + j]
  for (std::size_t j = 1; j < m; ++j)
    for (std::size_t i = j - 1; i < m; ++i) H[i * m + j] = w[i - j + 1];
  for (std::size_t i = 0; i < m; ++i) H[i * m] = v[i];
  for (std::size_t j = 0; j < m; ++j) H[(m - 1) * m + j] = v[m - 1 - j];

  const double two128 = std::ldexp(1.0, 128), two_m128 = std::ldexp(1.0, -128);
  std::vector<double> power(m * m, 0.0), scratch(m * m);
  for (std::size_t i = 0; i < m; ++i) power[i * m + i] = 1.0;
  std::int64_t nn = n;
  int exponent = 0, h_exponent = 0;
  while (nn > 0) {
    if (nn % 2) {
      durbin_square_product(power, H, scratch, m);
      power.swap(scratch);
      exponent += h_exponent;
    }
    durbin_square_product(H, H, scratch, m);
    H.swap(scratch);
    h_exponent *= 2;
    if (std::abs(H[(k - 1) * m + (k - 1)]) > two128) {
      for (double& x : H) x /= two128;
      h_exponent += 128;
    }
    nn /= 2;
  }
  double p = power[(k - 1) * m + (k - 1)];
  for (std::int64_t i = 1; i <= n; ++i) {  // times n!/n^n
    p = static_cast<double>(i) * p / static_cast<double>(n);
    if (std::abs(p) < two_m128) {
      p *= two128;
      exponent -= 128;
    }
  }
  if (exponent != 0) p = std::ldexp(p, exponent);
  return clip_probability(p);
}

/// Pomeranz's (1974) recursion for P[D_n ≤ d]: 2n + 1 convolutions of a short row with scaled
/// Poisson weights (g/n)^j/j!, (2g/n)^j/j!, ((1−2g)/n)^j/j!, where g = min(f, 1−f), f = frac(nd);
/// the answer is n! times the last entry. Rows are rescaled by 2^128 against underflow.
template <class = void>
double kolmogn_pomeranz_cdf(std::int64_t n, double d) {
  const double t = static_cast<double>(n) * d;
  const auto ll = static_cast<std::int64_t>(std::floor(t));
  const double f = t - static_cast<double>(ll);
  const double g = std::min(f, 1.0 - f);
  const int ceilf = f > 0 ? 1 : 0;
  const int roundf = f > 0.5 ? 1 : 0;
  const std::int64_t npwrs = 2 * (ll + 1);
  const auto np = static_cast<std::size_t>(npwrs);
  std::vector<double> gpower(np), twogpower(np), onem2gpower(np);
  gpower[0] = twogpower[0] = onem2gpower[0] = 1.0;
  const double nn = static_cast<double>(n);
  const double g_over_n = g / nn, two_g_over_n = 2 * g / nn, one_minus_two_g_over_n = (1 - 2 * g) / nn;
  for (std::size_t j = 1; j < np; ++j) {
    const double jj = static_cast<double>(j);
    gpower[j] = gpower[j - 1] * g_over_n / jj;
    twogpower[j] = twogpower[j - 1] * two_g_over_n / jj;
    onem2gpower[j] = onem2gpower[j - 1] * one_minus_two_g_over_n / jj;
  }
  auto interval = [&](std::int64_t i) {
    std::int64_t j1, j2;
    if (i == 0) {
      j1 = -ll - ceilf - 1;
      j2 = ll + ceilf - 1;
    } else {
      const std::int64_t half = (i + 1) / 2, odd = (i + 1) % 2;
      if (odd == 0) {
        if (half == n + 1) {
          j1 = n - ll - ceilf - 1;
          j2 = n + ll + ceilf - 1;
        } else {
          j1 = half - 1 - ll - roundf - 1;
          j2 = half + ll - 1 + ceilf - 1;
        }
      } else {
        j1 = half - 1 - ll - 1;
        j2 = half + ll + roundf - 1;
      }
    }
    return std::pair<std::int64_t, std::int64_t>{std::max<std::int64_t>(j1 + 2, 0), std::min(j2, n)};
  };
  std::vector<double> V0(np, 0.0), V1(np, 0.0);
  V1[0] = 1.0;
  std::int64_t V0s = 0, V1s = 0;
  int exponent = 0;
  const double two128 = std::ldexp(1.0, 128), two_m128 = std::ldexp(1.0, -128);
  auto [j1, j2] = interval(0);
  for (std::int64_t i = 1; i < 2 * n + 2; ++i) {
    const std::int64_t k1 = j1;
    std::swap(V0, V1);
    std::swap(V0s, V1s);
    std::fill(V1.begin(), V1.end(), 0.0);
    std::tie(j1, j2) = interval(i);
    const std::vector<double>& pwrs = (i == 1 || i == 2 * n + 1) ? gpower : (i % 2 ? twogpower : onem2gpower);
    const std::int64_t ln2 = j2 - k1 + 1;
    if (ln2 > 0) {
      // conv = convolve(V0[k1−V0s : k1−V0s+ln2], pwrs[:ln2]); keep conv[j1−k1 : j1−k1+(j2−j1+1)].
      const std::int64_t a_start = k1 - V0s;
      const std::int64_t a_len = std::max<std::int64_t>(0, std::min(ln2, npwrs - a_start));
      const std::int64_t b_len = std::min(ln2, npwrs);
      const std::int64_t conv_start = j1 - k1, conv_len = j2 - j1 + 1;
      double largest = 0.0;
      for (std::int64_t c = 0; c < conv_len; ++c) {
        const std::int64_t idx = conv_start + c;
        double s = 0.0;
        for (std::int64_t a = std::max<std::int64_t>(0, idx - b_len + 1); a <= std::min(idx, a_len - 1); ++a)
          s += V0[static_cast<std::size_t>(a_start + a)] * pwrs[static_cast<std::size_t>(idx - a)];
        V1[static_cast<std::size_t>(c)] = s;
        largest = std::max(largest, s);
      }
      if (largest > 0 && largest < two_m128) {
        for (auto& x : V1) x *= two128;
        exponent -= 128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  double answer = V1[static_cast<std::size_t>(n - V1s)];
  for (std::int64_t j = 1; j <= n; ++j) {  // times n!
    if (std::abs(answer) > two128) {
      answer *= two_m128;
      exponent += 128;
    }
    answer *= static_cast<double>(j);
  }
  if (exponent != 0) answer = std::ldexp(answer, exponent);
  return clip_probability(answer);
}

/// Pelz and Good's (1976) approximation P[D_n ≤ d] ≈ K₀(z) + K₁(z)/√n + K₂(z)/n + K₃(z)/n^{3/2},
/// z = d√n, with each K_i written through Jacobi theta functions in q = exp(−π²/(8z²)).
inline double kolmogn_pelz_good_cdf(std::int64_t n, double d) {
  constexpr double pi = std::numbers::pi;
  const double pi2 = pi * pi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double sqrt2pi = std::sqrt(2 * pi);
  if (d <= 0.0) return 0.0;
  if (d >= 1.0) return 1.0;
  const double z = std::sqrt(static_cast<double>(n)) * d;
  const double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
  const double qlog = -pi2 / 8 / z2;
  if (qlog < -708) return 0.0;
  double q = std::exp(qlog);
  const double k1a = -z2, k1b = pi2 / 4;
  const double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4, k2c = pi4 * (1 - 2 * z2) / 16;
  const double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
  const double k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * std::pow(z, 8);
  double K[4] = {0, 0, 0, 0};
  const auto maxk = static_cast<std::int64_t>(std::ceil(16 * z / pi));
  for (std::int64_t k = maxk; k > 0; --k) {  // Horner in q^8 over odd m = 2k − 1
    const double m = static_cast<double>(2 * k - 1);
    const double m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
    const double qpower = std::pow(q, static_cast<double>(8 * k));
    const double coeffs[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6};
    for (int i = 0; i < 4; ++i) K[i] = K[i] * qpower + coeffs[i];
  }
  const double scale[4] = {z, 6 * z4, 72 * std::pow(z, 7), 6480 * std::pow(z, 10)};
  for (int i = 0; i < 4; ++i) K[i] = K[i] * q * sqrt2pi / scale[i];
  q = std::exp(-pi2 / 2 / z2);
  const double sqrt3z = std::sqrt(3.0) * z;
  double k2extra = 0, k3extra = 0;
  for (std::int64_t k = maxk; k > 0; --k) {
    const double kk = static_cast<double>(k), k2 = kk * kk;
    const double qp = std::pow(q, k2);
    k2extra += k2 * qp;
    k3extra += (sqrt3z + pi * kk) * (sqrt3z - pi * kk) * k2 * qp;
  }
  K[2] += k2extra * (pi2 * sqrt2pi / (-36 * z3));
  K[3] += k3extra * (pi2 * sqrt2pi / (216 * z6));
  double total = 0;
  for (int i = 0; i < 4; ++i) total += K[i] / std::pow(static_cast<double>(n), i / 2.0);
  return total;
}

}  // namespace detail

/// P[D⁺_n > d] for the one-sided one-sample Kolmogorov–Smirnov statistic (scipy.special.smirnov).
inline double smirnov_sf(std::int64_t n, double d) {
  require(n > 0, "smirnov_sf", [&] { return "n = " + std::to_string(n) + " must be positive"; });
  require(!std::isnan(d), "smirnov_sf", "d is NaN");
  return detail::smirnov_sf_impl(n, std::clamp(d, 0.0, 1.0));
}

/// P[D_n ≥ d] for the two-sided one-sample Kolmogorov–Smirnov statistic with n samples, as
/// scipy.stats.kstwo.sf(d, n). Simard and L'Ecuyer's (2011) selection, with t = nd:
///   t ≤ ½ → 1;  t ≤ 1 → 1 − n!/nⁿ (2t − 1)ⁿ;  t ≥ n − 1 → 2(1 − d)ⁿ;  d ≥ ½ → 2·smirnov(n, d);
///   n ≤ 140: nd² ≤ 0.754693 → 1 − Durbin, ≤ 4 → 1 − Pomeranz, else 2·smirnov;
///   n > 140: nd² ≥ 370 → 0, ≥ 2.2 → 2·smirnov, else 1 − (Durbin if n ≤ 10⁵ and n d^{3/2} ≤ 1.4,
///   otherwise Pelz–Good).
template <class = void>
double kstwo_sf(std::int64_t n, double d) {
  require(n > 0, "kstwo_sf", [&] { return "n = " + std::to_string(n) + " must be positive"; });
  require(!std::isnan(d), "kstwo_sf", "d is NaN");
  using detail::clip_probability;
  if (d >= 1.0) return 0.0;
  if (d <= 0.0) return 1.0;
  const double nn = static_cast<double>(n);
  const double t = nn * d;
  if (t <= 1.0) {  // Ruben–Gambino: P[D_n ≤ d] = n!/nⁿ (2t − 1)ⁿ for 1/(2n) ≤ d ≤ 1/n
    if (t <= 0.5) return 1.0;
    double prob;
    if (n <= 140) {
      prob = 1.0;
      for (std::int64_t i = 1; i <= n; ++i) prob *= static_cast<double>(i) * (1.0 / nn) * (2 * t - 1);
    } else {
      prob = std::exp(detail::log_nfactorial_div_n_pow_n(nn) + nn * std::log(2 * t - 1));
    }
    return clip_probability(1.0 - prob);
  }
  if (t >= nn - 1) return clip_probability(2 * std::pow(1.0 - d, nn));  // Ruben–Gambino
  if (d >= 0.5) return clip_probability(2 * detail::smirnov_sf_impl(n, d));
  const double nd2 = t * d;
  if (n <= 140) {
    if (nd2 <= 0.754693) return clip_probability(1.0 - detail::kolmogn_durbin_cdf(n, d));
    if (nd2 <= 4) return clip_probability(1.0 - detail::kolmogn_pomeranz_cdf(n, d));
    return clip_probability(2 * detail::smirnov_sf_impl(n, d));
  }
  if (nd2 >= 370.0) return 0.0;
  if (nd2 >= 2.2) return clip_probability(2 * detail::smirnov_sf_impl(n, d));
  double cdf;
  if (nd2 >= 18.0)
    cdf = 1.0;
  else if (n <= 100000 && nn * std::pow(d, 1.5) <= 1.4)
    cdf = detail::kolmogn_durbin_cdf(n, d);
  else
    cdf = detail::kolmogn_pelz_good_cdf(n, d);
  return clip_probability(1.0 - clip_probability(cdf));
}

namespace detail {

/// P[D_{n,n} ≥ h/n] for equal sample sizes: 2 Σ_{k≥1} (−1)^{k+1} C(2n, n−kh)/C(2n, n), evaluated as
/// 2·A₁(1 − A₂(1 − A₃(···))) with A_k = ∏_{j<h} (n − kh − j)/(n + kh + j + 1), free of cancellation.
inline double ks_prob_outside_square(std::int64_t n, std::int64_t h) {
  double P = 0.0;
  for (std::int64_t k = n / h; k >= 0; --k) {
    double p1 = 1.0;
    for (std::int64_t j = 0; j < h; ++j)
      p1 = static_cast<double>(n - k * h - j) * p1 / static_cast<double>(n + k * h + j + 1);
    P = p1 * (1.0 - P);
  }
  return 2 * P;
}

inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

/// 1 − (lattice paths from (0,0) to (m,n) staying strictly inside |x/m − y/n| < h/lcm) / C(m+n, n),
/// by Hodges' inside method with Viehmann's recursion for the complement: one sliding column
/// A(x, ·), A(x, y) = (A(x−1, y)·x + A(x, y−1)·y)/(x + y), entries outside the band set to 1.
template <class = void>
double ks_outer_prob_inside_method(std::int64_t m, std::int64_t n, std::int64_t g, std::int64_t h) {
  if (m < n) std::swap(m, n);
  const std::int64_t mg = m / g, ng = n / g;
  std::int64_t minj = 0;
  std::int64_t maxj = std::min((h + mg - 1) / mg, n + 1);
  std::int64_t curlen = maxj - minj;
  const std::int64_t lenA = std::min(2 * maxj + 2, n + 1);
  std::vector<double> A(static_cast<std::size_t>(lenA), 1.0);
  std::fill(A.begin() + minj, A.begin() + maxj, 0.0);
  for (std::int64_t i = 1; i <= m; ++i) {
    const std::int64_t lastminj = minj, lastlen = curlen;
    minj = std::min(std::max<std::int64_t>(floor_div(ng * i - h, mg) + 1, 0), n);
    maxj = std::min(-floor_div(-(ng * i + h), mg), n + 1);
    if (maxj <= minj) return 1.0;
    double val = minj == 0 ? 0.0 : 1.0;
    const double di = static_cast<double>(i);
    for (std::int64_t jj = 0; jj < maxj - minj; ++jj) {
      const std::int64_t j = jj + minj;
      val = (A[static_cast<std::size_t>(jj + minj - lastminj)] * di + val * static_cast<double>(j)) /
            (di + static_cast<double>(j));
      A[static_cast<std::size_t>(jj)] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) std::fill(A.begin() + (maxj - minj), A.begin() + (maxj - minj + (lastlen - curlen)), 1.0);
  }
  return A[static_cast<std::size_t>(maxj - minj - 1)];
}

}  // namespace detail

/// Exact two-sided two-sample p-value P[D_{n1,n2} ≥ h/lcm(n1, n2)] (the statistic D = h/lcm), as
/// ks_2samp(method='exact'). Returns NaN when the recursion leaves [0, 1] (SciPy then falls back to
/// the asymptotic distribution).
template <class = void>
double ks_2samp_exact_sf(std::int64_t n1, std::int64_t n2, std::int64_t h) {
  require(n1 > 0 && n2 > 0, "ks_2samp_exact_sf", "sample sizes must be positive");
  require(h >= 0, "ks_2samp_exact_sf", "h must be >= 0");
  if (h == 0) return 1.0;
  const std::int64_t g = std::gcd(n1, n2);
  const double p = n1 == n2 ? detail::ks_prob_outside_square(n1, h) : detail::ks_outer_prob_inside_method(n1, n2, g, h);
  if (!(p >= 0.0 && p <= 1.0)) return std::numeric_limits<double>::quiet_NaN();
  return p;
}

}  // namespace aimastery
