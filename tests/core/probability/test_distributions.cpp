#include <algorithm>
#include <cmath>
#include <limits>

#include "aimastery/core/probability.hpp"
#include "support.hpp"

using aimastery::Bernoulli;
using aimastery::Categorical;
using aimastery::Gaussian;
using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Vector;
using aimastery::test::close;
using aimastery::test::json_number;
using aimastery::test::json_vector;
using aimastery::test::Tolerance;

namespace {

/// One-sample Kolmogorov–Smirnov statistic D = sup |F_n(x) − F(x)| of samples against a cdf.
template <class T, class Cdf>
double ks_statistic(Vector<T> x, Cdf cdf) {
  std::sort(x.data(), x.data() + x.size());
  const double n = static_cast<double>(x.size());
  double d = 0;
  for (Index i = 0; i < x.size(); ++i) {
    const double f = static_cast<double>(cdf(x(i)));
    d = std::max({d, (static_cast<double>(i) + 1) / n - f, f - static_cast<double>(i) / n});
  }
  return d;
}

// Critical value of D at α = 0.001 for large n: √(−½ ln(α/2)) / √n ≈ 1.949 / √n.
double ks_critical(Index n) { return 1.949 / std::sqrt(static_cast<double>(n)); }

}  // namespace

TEST_CASE_TEMPLATE("Gaussian pdf, log_pdf, cdf and entropy equal scipy.stats.norm", T, float, double) {
  const auto ref = aimastery::test::load_reference("core_probability.json");
  const T rel = std::is_same_v<T, double> ? T(1e-12) : T(2e-4);
  for (const auto& g : ref["gaussian"]) {
    const Gaussian<T> d(json_number<T>(g["mean"]), json_number<T>(g["std"]));
    const auto x = json_vector<double>(g["x"]);
    CHECK(close(d.entropy(), json_number<T>(g["entropy"]), rel));
    for (Index i = 0; i < x.size(); ++i) {
      const T xi = static_cast<T>(x(i));
      const double pdf = g["pdf"][static_cast<std::size_t>(i)], cdf = g["cdf"][static_cast<std::size_t>(i)];
      const double log_pdf = g["log_pdf"][static_cast<std::size_t>(i)];
      if constexpr (std::is_same_v<T, double>) {
        INFO("mean=" << d.mean() << " std=" << d.std() << " x=" << xi);
        CHECK(close(d.pdf(xi), pdf, 1e-12, 1e-300));
        CHECK(close(d.log_pdf(xi), log_pdf, 1e-12));
        CHECK(close(d.cdf(xi), cdf, 1e-12, 1e-300));
      } else if (pdf > 1e-30 && cdf > 1e-30) {
        // float: the point itself is rounded to float, so compare at the rounded point's z within float
        // rounding; the z-scores of the rounded points differ from double's by up to |x|·2⁻²⁴/σ.
        const double z = (static_cast<double>(xi) - static_cast<double>(d.mean())) / static_cast<double>(d.std());
        if (std::abs(z) < 8) {
          const Gaussian<double> exact(d.mean(), d.std());
          CHECK(close<double>(d.pdf(xi), exact.pdf(static_cast<double>(xi)), 1e-4, 1e-30));
          CHECK(close<double>(d.cdf(xi), exact.cdf(static_cast<double>(xi)), 1e-4, 1e-30));
        }
      }
    }
  }
}

TEST_CASE("ndtri and Gaussian::ppf equal scipy.special.ndtri to 1e-12, tails included") {
  const auto ref = aimastery::test::load_reference("core_probability.json")["ppf"];
  const auto p = json_vector<double>(ref["p"]);
  const Gaussian<double> d(2.0, 3.0);
  for (Index i = 0; i < p.size(); ++i) {
    INFO("p = " << p(i));
    CHECK(close(aimastery::ndtri(p(i)), json_number<double>(ref["ndtri"][static_cast<std::size_t>(i)]), 1e-12, 1e-300));
    CHECK(close(d.ppf(p(i)), json_number<double>(ref["ppf"][static_cast<std::size_t>(i)]), 1e-12, 1e-14));
  }
  CHECK(aimastery::ndtri(0.0) == -std::numeric_limits<double>::infinity());
  CHECK(aimastery::ndtri(1.0) == std::numeric_limits<double>::infinity());
  // Round trip Φ(Φ⁻¹(p)) = p, float included.
  for (float q : {1e-30f, 1e-6f, 0.2f, 0.5f, 0.8f, 0.999f})
    CHECK(close<float>(aimastery::ndtr(aimastery::ndtri(q)), q, 1e-5f));
}

TEST_CASE("Gaussian::fit is the maximum-likelihood estimate of scipy.stats.norm.fit") {
  const auto ref = aimastery::test::load_reference("core_probability.json")["fit"];
  const auto g = Gaussian<double>::fit(json_vector<double>(ref["data"]));
  CHECK(close(g.mean(), json_number<double>(ref["mean"]), 1e-12));
  CHECK(close(g.std(), json_number<double>(ref["std"]), 1e-12));
  CHECK(g.variance() == doctest::Approx(g.std() * g.std()));
}

TEST_CASE_TEMPLATE("Gaussian samples pass a KS test against the cdf and are reproducible", T, float, double) {
  const auto seed = aimastery::test::test_seed();
  const Gaussian<T> d(T(-1.5), T(2.5));
  const Vector<T> x = d.sample(20000, seed);
  CHECK(ks_statistic(x, [&](T v) { return d.cdf(v); }) < ks_critical(x.size()));
  CHECK(x == d.sample(20000, seed));
  CHECK(x != d.sample(20000, seed + 1));
  // The sample moments are within 4 standard errors of the truth.
  CHECK(std::abs(double(x.mean()) + 1.5) < 4 * 2.5 / std::sqrt(20000.0));
  // A shifted distribution is detected: D is far above the critical value.
  CHECK(ks_statistic(x, [](T v) { return Gaussian<T>(T(-1.0), T(2.5)).cdf(v); }) > 3 * ks_critical(x.size()));
}

TEST_CASE("Bernoulli pmf, log_pmf and entropy equal scipy.stats.bernoulli") {
  const auto ref = aimastery::test::load_reference("core_probability.json")["bernoulli"];
  for (const auto& b : ref) {
    const Bernoulli<double> d(json_number<double>(b["p"]));
    INFO("p = " << d.p());
    for (Index k = 0; k < 2; ++k) {
      CHECK(close(d.pmf(k), json_number<double>(b["pmf"][static_cast<std::size_t>(k)]), 1e-12));
      CHECK(close(d.log_pmf(k), json_number<double>(b["log_pmf"][static_cast<std::size_t>(k)]), 1e-12));
    }
    CHECK(close(d.entropy(), json_number<double>(b["entropy"]), 1e-12, 1e-300));
    CHECK(d.pmf(2) == 0.0);
    CHECK(d.log_pmf(-1) == -std::numeric_limits<double>::infinity());
  }
}

TEST_CASE_TEMPLATE("Bernoulli and Categorical samples follow their probabilities", T, float, double) {
  const auto seed = aimastery::test::test_seed();
  const Index n = 40000;
  const auto b = Bernoulli<T>(T(0.3)).sample(n, seed);
  const double share = static_cast<double>(b.sum()) / n;
  CHECK(std::abs(share - 0.3) < 4 * std::sqrt(0.3 * 0.7 / n));
  CHECK(b == Bernoulli<T>(T(0.3)).sample(n, seed));

  Vector<T> p(4);
  p << T(0.1), T(0.0), T(0.6), T(0.3);
  const Categorical<T> c(p);
  const auto x = c.sample(n, seed);
  // Pearson's statistic over the three possible categories: χ²(2) exceeds 13.8 with probability 0.001.
  double chi2 = 0;
  for (Index k = 0; k < 4; ++k) {
    const double count = static_cast<double>((x.array() == k).count());
    if (p(k) == T(0)) {
      CHECK(count == 0);
      continue;
    }
    const double expected = n * static_cast<double>(p(k));
    chi2 += (count - expected) * (count - expected) / expected;
  }
  CHECK(chi2 < 13.8);
  CHECK(x == c.sample(n, seed));
}

TEST_CASE_TEMPLATE("Categorical pmf, log_pmf and entropy", T, float, double) {
  Vector<T> p(3);
  p << T(0.1), T(0.4), T(0.5);
  const Categorical<T> c(p);
  CHECK(c.pmf(1) == T(0.4));
  CHECK(c.pmf(3) == T(0));
  CHECK(c.log_pmf(-1) == -std::numeric_limits<T>::infinity());
  CHECK(c.log_pmf(2) == doctest::Approx(std::log(0.5)));
  // The entropy of a categorical equals the information-theory entropy of its probabilities.
  CHECK(c.entropy() == doctest::Approx(aimastery::entropy(p)).epsilon(Tolerance<T>::tight * 10));
  CHECK(c.n_categories() == 3);
}

TEST_CASE("distributions reject invalid parameters with messages that name them") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_NAMING(Gaussian<double>(0.0, 0.0), InvalidArgument, "Gaussian: std must be finite and > 0");
  CHECK_THROWS_NAMING(Gaussian<double>(0.0, -1.0), InvalidArgument, "std must be finite and > 0");
  CHECK_THROWS_NAMING(Gaussian<double>(nan, 1.0), InvalidArgument, "mean must be finite");
  CHECK_THROWS_NAMING(Gaussian<double>().ppf(1.5), InvalidArgument, "Gaussian::ppf: p = 1.5");
  CHECK_THROWS_NAMING(Gaussian<double>().ppf(nan), InvalidArgument, "not a probability");
  CHECK_THROWS_NAMING(aimastery::ndtri(-0.1), InvalidArgument, "ndtri");
  CHECK_THROWS_NAMING(Gaussian<double>().sample(-1, 1u), InvalidArgument, "n must be >= 0");
  CHECK_THROWS_NAMING(Gaussian<double>::fit(Vector<double>()), InvalidArgument, "Gaussian::fit: samples is empty");
  CHECK_THROWS_NAMING(Gaussian<double>::fit(Vector<double>::Constant(1, 2.0)), InvalidArgument, "at least 2");
  CHECK_THROWS_NAMING(Gaussian<double>::fit(Vector<double>::Constant(5, 2.0)), InvalidArgument, "zero variance");
  Vector<double> with_nan(3);
  with_nan << 1.0, nan, 2.0;
  CHECK_THROWS_NAMING(Gaussian<double>::fit(with_nan), InvalidArgument, "NaN or infinity");
  CHECK_THROWS_NAMING(Bernoulli<double>(1.2), InvalidArgument, "Bernoulli: p = 1.2");
  CHECK_THROWS_NAMING(Bernoulli<double>(nan), InvalidArgument, "not a probability");
  CHECK_THROWS_NAMING(Bernoulli<double>(0.5).sample(-3, 1u), InvalidArgument, "n must be >= 0");
  Vector<double> bad(3);
  bad << 0.5, 0.6, -0.1;
  CHECK_THROWS_NAMING(Categorical<double>(bad), InvalidArgument, "probabilities[2] = -0.1");
  bad << 0.5, 0.6, 0.1;
  CHECK_THROWS_NAMING(Categorical<double>(bad), InvalidArgument, "probabilities sums to 1.2");
  CHECK_THROWS_NAMING(Categorical<double>(Vector<double>()), InvalidArgument, "probabilities is empty");
  bad << 0.5, nan, 0.5;
  CHECK_THROWS_NAMING(Categorical<double>(bad), InvalidArgument, "probabilities[1]");
}
