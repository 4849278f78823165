// Statistical tests and their special functions against SciPy 1.10 (tests/reference/gen_monitoring.py).
#include <array>
#include <cmath>
#include <forward_list>
#include <list>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/special/gamma.hpp"
#include "aimastery/core/special/kolmogorov.hpp"
#include "aimastery/production/monitoring.hpp"
#include "support.hpp"

using namespace aimastery;
using aimastery::test::close;
using aimastery::test::json_number;
using aimastery::test::load_reference;

// What the tests accept as a sample: Eigen vectors and sized ranges of numbers (categories: integers or
// strings); not a range without a size, not a range of ranges, not a scalar.
static_assert(NumericSample<std::vector<double>> && NumericSample<std::span<const float>> &&
              NumericSample<std::array<int, 3>> && NumericSample<std::list<double>> && NumericSample<Eigen::VectorXd> &&
              NumericSample<Eigen::ArrayXi>);
static_assert(!NumericSample<std::forward_list<double>> && !NumericSample<std::vector<std::vector<double>>> &&
              !NumericSample<double> && !NumericSample<std::vector<std::string>>);
static_assert(CategoricalSample<std::vector<int>> && CategoricalSample<std::vector<std::string>> &&
              CategoricalSample<std::span<const std::string>> && CategoricalSample<Eigen::VectorXi>);
static_assert(!CategoricalSample<std::vector<double>> && !CategoricalSample<Eigen::VectorXd> &&
              !CategoricalSample<std::forward_list<int>> && !CategoricalSample<int>);

namespace {

constexpr double rel = aimastery::test::Tolerance<double>::reference;  // 1e-10

/// value = k / scale, exactly as the generator's a / scale.
std::vector<double> scaled(const nlohmann::json& ints, double scale) {
  std::vector<double> out;
  out.reserve(ints.size());
  for (const auto& k : ints) out.push_back(static_cast<double>(k.get<long long>()) / scale);
  return out;
}

std::vector<double> doubles(const nlohmann::json& j) {
  std::vector<double> out;
  for (const auto& v : j) out.push_back(json_number<double>(v));
  return out;
}

KsMethod ks_method(const std::string& name) {
  if (name == "exact") return KsMethod::exact;
  if (name == "asymp") return KsMethod::asymptotic;
  return KsMethod::automatic;
}

}  // namespace

TEST_CASE("regularized incomplete gamma equals scipy.special.gammainc / gammaincc") {
  const auto ref = load_reference("monitoring_special.json");
  for (const auto& c : ref["gamma"]) {
    const double a = c["a"], x = c["x"];
    INFO("a = " << a << ", x = " << x);
    CHECK(close(regularized_gamma_p(a, x), json_number<double>(c["p"]), rel, 1e-300));
    CHECK(close(regularized_gamma_q(a, x), json_number<double>(c["q"]), rel, 1e-300));
  }
  // Closed forms: P(1, x) = 1 − e^{−x}; Q(½, x) = erfc(√x); chi2_sf(x, 2) = e^{−x/2}.
  CHECK(close(regularized_gamma_p(1.0, 0.7), -std::expm1(-0.7), 1e-14));
  CHECK(close(regularized_gamma_q(0.5, 3.0), std::erfc(std::sqrt(3.0)), 1e-13));
  CHECK(close(chi2_sf(5.0, 2.0), std::exp(-2.5), 1e-14));
  CHECK(regularized_gamma_q(2.0, 0.0) == 1.0);
  CHECK(close(regularized_gamma_p(2.0f, 1.5f), static_cast<float>(1.0 - 2.5 * std::exp(-1.5)), 1e-6f));  // float
  CHECK(close(chi2_sf(3.0f, 2.0f), std::exp(-1.5f), 1e-6f));
  CHECK(chi2_sf(-1.0, 3.0) == 1.0);
  CHECK_THROWS_NAMING(regularized_gamma_p(0.0, 1.0), InvalidArgument, "must be positive");
  CHECK_THROWS_NAMING(regularized_gamma_q(1.0, -1.0), InvalidArgument, "must be >= 0");
  CHECK_THROWS_NAMING(chi2_sf(1.0, 0.0), InvalidArgument, "dof");
  CHECK_THROWS_NAMING(chi2_sf(std::nan(""), 1.0), InvalidArgument, "NaN");
}

TEST_CASE("smirnov_sf and kstwo_sf equal scipy.special.smirnov and scipy.stats.kstwo.sf on every branch") {
  const auto ref = load_reference("monitoring_special.json");
  for (const auto& c : ref["smirnov"]) {
    const std::int64_t n = c["n"];
    const double d = c["d"];
    INFO("smirnov n = " << n << ", d = " << d);
    CHECK(close(smirnov_sf(n, d), json_number<double>(c["sf"]), rel, 1e-300));
  }
  for (const auto& c : ref["kstwo"]) {
    const std::int64_t n = c["n"];
    const double d = c["d"];
    INFO("kstwo n = " << n << ", d = " << d);
    CHECK(close(kstwo_sf(n, d), json_number<double>(c["sf"]), rel, 1e-300));
  }
  CHECK(kstwo_sf(10, 0.0) == 1.0);
  CHECK(kstwo_sf(10, 1.0) == 0.0);
  CHECK(close(kstwo_sf(1, 0.7), 2 * 0.3, 1e-15));  // n = 1: P[D ≥ d] = 2(1 − d) for d ≥ ½
  CHECK_THROWS_NAMING(kstwo_sf(0, 0.5), InvalidArgument, "n = 0");
  CHECK_THROWS_NAMING(kstwo_sf(5, std::nan("")), InvalidArgument, "NaN");
  CHECK_THROWS_NAMING(smirnov_sf(-1, 0.5), InvalidArgument, "must be positive");
  CHECK_THROWS_NAMING(ks_2samp_exact_sf(3, 0, 1), InvalidArgument, "positive");
}

TEST_CASE("ks_test equals scipy.stats.ks_2samp: exact, asymptotic and auto, with ties and unequal sizes") {
  const auto ref = load_reference("monitoring_ks.json");
  int checked = 0;
  for (const auto& c : ref) {
    const double scale = c["scale"];
    const auto a = scaled(c["a"], scale), b = scaled(c["b"], scale);
    for (const auto& r : c["results"]) {
      const std::string method = r["method"];
      INFO("n1 = " << a.size() << ", n2 = " << b.size() << ", scale " << scale << ", method " << method);
      const KsResult res = ks_test(a, b, ks_method(method));
      CHECK(close(res.statistic, json_number<double>(r["statistic"]), rel));
      CHECK(close(res.p_value, json_number<double>(r["pvalue"]), rel, 1e-300));
      CHECK(res.method == (r["used"] == "exact" ? KsMethod::exact : KsMethod::asymptotic));
      ++checked;
    }
  }
  CHECK(checked >= 80);
}

TEST_CASE("the SciPy figures quoted in REFERENCE.md") {
  const auto ref = load_reference("monitoring_reference_md.json");
  const auto a = doubles(ref["a"]), b = doubles(ref["b"]);
  const KsResult exact = ks_test(a, b);
  CHECK(close(exact.statistic, json_number<double>(ref["ks_statistic"]), rel));
  CHECK(close(exact.p_value, json_number<double>(ref["ks_exact_pvalue"]), rel));
  CHECK(close(ks_test(a, b, KsMethod::asymptotic).p_value, json_number<double>(ref["ks_asymp_pvalue"]), rel));
  Matrix<double> t22(2, 2);
  t22 << 10, 20, 30, 25;
  const auto yates = chi_square_test(t22);
  CHECK(close(yates.statistic, json_number<double>(ref["chi2_yates"][0]), rel));
  CHECK(close(yates.p_value, json_number<double>(ref["chi2_yates"][1]), rel));
  const auto plain = chi_square_test(t22, {.correction = false});
  CHECK(close(plain.statistic, json_number<double>(ref["chi2_plain"][0]), rel));
  CHECK(close(plain.p_value, json_number<double>(ref["chi2_plain"][1]), rel));
  Eigen::Matrix<Index, 2, 3> t23;
  t23 << 10, 20, 30, 15, 15, 40;
  const auto r23 = chi_square_test(t23);
  CHECK(close(r23.statistic, json_number<double>(ref["chi2_2x3"][0]), rel));
  CHECK(close(r23.p_value, json_number<double>(ref["chi2_2x3"][1]), rel));
  CHECK(r23.dof == 2);
  const auto gof = chi_square_goodness_of_fit(std::vector<int>{30, 50, 20}, std::vector<int>{40, 40, 20});
  CHECK(close(gof.statistic, json_number<double>(ref["chisquare"][0]), rel));
  CHECK(close(gof.p_value, json_number<double>(ref["chisquare"][1]), rel));
  const std::vector<double> p{.1, .4, .5}, q{.3, .3, .4};
  CHECK(close(jensen_shannon(p, q), json_number<double>(ref["js_e"]), rel));
  CHECK(close(jensen_shannon(p, q, 2.0), json_number<double>(ref["js_2"]), rel));
  CHECK(close(wasserstein_distance(a, b), json_number<double>(ref["wasserstein"]), rel));
}

TEST_CASE("chi_square_test equals scipy.stats.chi2_contingency, chisquare and the 2xK table of two samples") {
  const auto ref = load_reference("monitoring_tests.json");
  for (const auto& c : ref["chi2_tables"]) {
    const Matrix<double> table = aimastery::test::json_matrix<double>(c["table"]);
    const bool correction = c["correction"];
    INFO("table " << table.rows() << "x" << table.cols() << ", correction " << correction);
    const auto res = chi_square_test(table, {.correction = correction});
    CHECK(close(res.statistic, json_number<double>(c["statistic"]), rel));
    CHECK(close(res.p_value, json_number<double>(c["pvalue"]), rel, 1e-300));
    CHECK(res.dof == c["dof"].get<Index>());
    CHECK(aimastery::test::max_relative_error(res.expected, aimastery::test::json_matrix<double>(c["expected"])) <
          1e-14);
  }
  for (const auto& c : ref["chisquare"]) {
    const auto res = chi_square_goodness_of_fit(doubles(c["observed"]), doubles(c["expected"]));
    CHECK(close(res.statistic, json_number<double>(c["statistic"]), rel));
    CHECK(close(res.p_value, json_number<double>(c["pvalue"]), rel, 1e-300));
  }
  for (const auto& c : ref["categorical"]) {
    const auto a = c["a"].get<std::vector<int>>(), b = c["b"].get<std::vector<int>>();
    const auto res = chi_square_test(a, b);
    CHECK(close(res.statistic, json_number<double>(c["statistic"]), rel));
    CHECK(close(res.p_value, json_number<double>(c["pvalue"]), rel));
    CHECK(res.dof == c["dof"].get<Index>());
    // The same categories as strings and as an Eigen integer vector give the same table.
    std::vector<std::string> sa, sb;
    for (int v : a) sa.push_back("c" + std::to_string(v + 100));
    for (int v : b) sb.push_back("c" + std::to_string(v + 100));
    CHECK(close(chi_square_test(sa, sb).statistic, res.statistic, 1e-13));
    IndexVector ea(static_cast<Index>(a.size()));
    for (std::size_t i = 0; i < a.size(); ++i) ea(static_cast<Index>(i)) = a[i];
    CHECK(close(chi_square_test(ea, b).statistic, res.statistic, 1e-13));
  }
  // One category everywhere: dof 0, χ² = 0, p = 1 (as SciPy).
  const auto one = chi_square_test(std::vector<int>{4, 4, 4}, std::vector<int>{4, 4});
  CHECK(one.statistic == 0.0);
  CHECK(one.p_value == 1.0);
}

TEST_CASE("chi_square bad inputs name the problem") {
  Matrix<double> zero_row(2, 2);
  zero_row << 0, 0, 3, 4;
  CHECK_THROWS_NAMING(chi_square_test(zero_row), InvalidArgument, "row 0 or column 0 of observed sums to zero");
  Matrix<double> zero_col(2, 2);
  zero_col << 1, 0, 3, 0;
  CHECK_THROWS_NAMING(chi_square_test(zero_col), InvalidArgument, "expected count at (0, 1) is zero");
  Matrix<double> negative(2, 2);
  negative << 1, -2, 3, 4;
  CHECK_THROWS_NAMING(chi_square_test(negative), InvalidArgument, "negative counts");
  Matrix<double> nan_table(2, 2);
  nan_table << 1, std::nan(""), 3, 4;
  CHECK_THROWS_NAMING(chi_square_test(nan_table), InvalidArgument, "NaN");
  CHECK_THROWS_NAMING(chi_square_test(Matrix<double>(0, 2)), InvalidArgument, "observed is empty");
  const std::vector<double> o{1, 2, 3}, e{2, 2, 2}, e2{2, 4}, ez{6, 0, 0}, ebig{1, 1, 100};
  CHECK_THROWS_NAMING(chi_square_goodness_of_fit(o, e2), InvalidArgument,
                      "observed has 3 categories but expected has 2");
  CHECK_THROWS_NAMING(chi_square_goodness_of_fit(o, ez), InvalidArgument, "zero or negative");
  CHECK_THROWS_NAMING(chi_square_goodness_of_fit(o, ebig), InvalidArgument, "must agree");
  CHECK_THROWS_NAMING(chi_square_goodness_of_fit(std::vector<double>{-1, 7}, std::vector<double>{3, 3}),
                      InvalidArgument, "negative");
  CHECK_THROWS_NAMING(chi_square_test(std::vector<int>{}, std::vector<int>{1}), InvalidArgument, "reference is empty");
  CHECK_THROWS_NAMING(chi_square_test(std::vector<std::string>{"a"}, std::vector<std::string>{}), InvalidArgument,
                      "current is empty");
}

TEST_CASE("wasserstein_distance and jensen_shannon equal SciPy") {
  const auto ref = load_reference("monitoring_tests.json");
  for (const auto& c : ref["wasserstein"]) {
    const double scale = c["scale"];
    const auto a = scaled(c["a"], scale), b = scaled(c["b"], scale);
    INFO("n1 = " << a.size() << ", n2 = " << b.size());
    const double got =
        c.contains("wa") ? wasserstein_distance(a, b, doubles(c["wa"]), doubles(c["wb"])) : wasserstein_distance(a, b);
    CHECK(close(got, json_number<double>(c["distance"]), rel));
  }
  for (const auto& c : ref["jensen_shannon"]) {
    const auto p = doubles(c["p"]), q = doubles(c["q"]);
    const double base = c["base"];
    const double got = base > 0 ? jensen_shannon(p, q, base) : jensen_shannon(p, q);
    CHECK(close(got, json_number<double>(c["distance"]), rel, 1e-15));
  }
  // Properties: W(u, u) = 0; W(u, u + c) = |c|; JS(p, p) = 0, JS symmetric.
  std::mt19937_64 rng(aimastery::test::test_seed());
  std::normal_distribution<double> normal;
  Vector<double> u(300);
  for (Index i = 0; i < u.size(); ++i) u(i) = normal(rng);
  CHECK(wasserstein_distance(u, u) == 0.0);
  CHECK(close(wasserstein_distance(u, (u.array() + 0.75).matrix()), 0.75, 1e-12));
  Vector<float> uf = u.cast<float>();
  CHECK(close(wasserstein_distance(uf, uf), 0.0, 0.0));
  const std::vector<double> p{1, 2, 3}, q{3, 1, 1};
  CHECK(jensen_shannon(p, p) == 0.0);
  CHECK(jensen_shannon(p, q) == jensen_shannon(q, p));

  const std::vector<double> empty, bad{1.0, std::nan("")}, neg{-1.0, 2.0};
  CHECK_THROWS_NAMING(wasserstein_distance(empty, p), InvalidArgument, "u is empty");
  CHECK_THROWS_NAMING(wasserstein_distance(p, bad), InvalidArgument, "v contains NaN");
  CHECK_THROWS_NAMING(wasserstein_distance(p, q, {1.0, 2.0}), InvalidArgument, "u has 3 values but 2 weights");
  CHECK_THROWS_NAMING(wasserstein_distance(p, q, {1.0, -2.0, 1.0}), InvalidArgument, "non-negative");
  CHECK_THROWS_NAMING(wasserstein_distance(p, q, {}, {0.0, 0.0, 0.0}), InvalidArgument, "v weights sum to zero");
  CHECK_THROWS_NAMING(jensen_shannon(p, std::vector<double>{1, 2}), InvalidArgument, "p has 3 elements but q has 2");
  CHECK_THROWS_NAMING(jensen_shannon(neg, neg), InvalidArgument, "p has negative entries");
  CHECK_THROWS_NAMING(jensen_shannon(p, std::vector<double>{0, 0, 0}), InvalidArgument, "q sums to zero");
  CHECK_THROWS_NAMING(jensen_shannon(p, q, 1.0), InvalidArgument, "base");
  CHECK_THROWS_NAMING(jensen_shannon(bad, bad), InvalidArgument, "p contains NaN");
}

TEST_CASE("psi equals its NumPy transcription, bin by bin") {
  const auto ref = load_reference("monitoring_tests.json");
  for (const auto& c : ref["psi"]) {
    const double scale = c["scale"];
    const auto a = scaled(c["a"], scale), b = scaled(c["b"], scale);
    PsiOptions options{.bins = c["bins"].get<int>(),
                       .floor = c["floor"].get<double>(),
                       .binning = c["binning"] == "uniform" ? PsiBinning::uniform : PsiBinning::quantile};
    INFO("n1 = " << a.size() << ", n2 = " << b.size() << ", bins " << options.bins);
    const PsiResult res = psi(a, b, options);
    CHECK(close(res.value, json_number<double>(c["value"]), rel, 1e-15));
    const auto contributions = doubles(c["contributions"]), edges = doubles(c["edges"]);
    REQUIRE(res.bins.size() == contributions.size());
    for (std::size_t k = 0; k < res.bins.size(); ++k) {
      CHECK(close(res.bins[k].contribution, contributions[k], rel, 1e-15));
      CHECK(close(res.bins[k].reference_share, json_number<double>(c["reference_share"][k]), 1e-15));
      CHECK(close(res.bins[k].current_share, json_number<double>(c["current_share"][k]), 1e-15));
      if (k + 1 < res.bins.size()) CHECK(close(res.bins[k].upper, edges[k], 1e-15));
    }
  }
  // Identical samples: PSI = 0; deciles hold a tenth each.
  std::vector<double> x(1000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i);
  const auto same = psi(x, x);
  CHECK(same.value == 0.0);
  REQUIRE(same.bins.size() == 10);
  CHECK(close(same.bins[3].reference_share, 0.1, 1e-15));

  const std::vector<double> empty, bad{1.0, INFINITY};
  CHECK_THROWS_NAMING(psi(empty, x), InvalidArgument, "reference is empty");
  CHECK_THROWS_NAMING(psi(x, bad), InvalidArgument, "current contains NaN or infinity");
  CHECK_THROWS_NAMING(psi(x, x, {.bins = 1}), InvalidArgument, "bins = 1");
  CHECK_THROWS_NAMING(psi(x, x, {.floor = 0.0}), InvalidArgument, "floor");
}

TEST_CASE("ks_test properties and bad inputs") {
  std::mt19937_64 rng(aimastery::test::test_seed());
  std::normal_distribution<double> normal;
  Vector<double> u(2000), v(1500);
  for (Index i = 0; i < u.size(); ++i) u(i) = normal(rng);
  for (Index i = 0; i < v.size(); ++i) v(i) = normal(rng) + 0.5;
  const KsResult same = ks_test(u, u);
  CHECK(same.statistic == 0.0);
  CHECK(same.p_value == 1.0);
  const KsResult shifted = ks_test(u, v);
  CHECK(shifted.p_value < 1e-20);
  CHECK(ks_test(v, u).statistic == shifted.statistic);  // symmetric
  // Radix-sorted and float input: the same statistic as doubles sorted with std::sort.
  const Vector<float> uf = u.cast<float>(), vf = v.cast<float>();
  std::vector<double> a(uf.data(), uf.data() + uf.size()), b(vf.data(), vf.data() + vf.size());
  CHECK(ks_test(uf, vf).statistic == ks_test(a, b).statistic);
  // Disjoint samples: D = 1.
  CHECK(ks_test(std::vector<double>{1, 2, 3}, std::vector<double>{4, 5}).statistic == 1.0);

  const std::vector<double> empty, nan_sample{0.0, std::nan("")};
  CHECK_THROWS_NAMING(ks_test(empty, a), InvalidArgument, "ks_test: reference is empty");
  CHECK_THROWS_NAMING(ks_test(a, empty), InvalidArgument, "ks_test: current is empty");
  CHECK_THROWS_NAMING(ks_test(a, nan_sample), InvalidArgument, "current contains NaN");
}

TEST_CASE("radix sort orders negative, zero and positive doubles like std::sort") {
  std::mt19937_64 rng(aimastery::test::test_seed());
  std::uniform_real_distribution<double> uniform(-1e6, 1e6);
  std::vector<double> values(20000);
  for (auto& x : values) x = uniform(rng);
  values[5] = 0.0;
  values[6] = -0.0;
  values[7] = -1e-300;
  values[8] = 1e300;
  values[9] = values[10];
  std::vector<double> expected = values;
  std::sort(expected.begin(), expected.end());
  aimastery::detail::sort_values(values);
  CHECK(values == expected);
}

TEST_CASE("psi with uniform bins over a range beyond the largest double still separates the samples") {
  // max − min = 2e308 overflows: the edges used to become infinite, every value fell in one bin, PSI = 0.
  std::vector<double> reference(1000), current(1000);
  for (std::size_t i = 0; i < reference.size(); ++i) {
    const double t = static_cast<double>(i) / 999.0;  // 0 .. 1
    reference[i] = -1e308 + t * 1e308 + t * 1e308;    // evenly over [-1e308, 1e308]
    current[i] = 0.9e308 + t * 0.05e308;              // all in the top tenth
  }
  const PsiResult r = psi(reference, current, {.bins = 10, .binning = PsiBinning::uniform});
  REQUIRE(r.bins.size() == 10);
  for (const auto& bin : r.bins) CHECK(close(bin.reference_share, 0.1, 0.002));
  CHECK(r.bins.back().current_share == 1.0);
  CHECK(close(r.bins[5].upper, 0.2e308, 1e-12));
  // Nine empty bins at the floor 1e-4 against 0.1, one full bin at 1 against 0.1:
  const double expected = 9 * (1e-4 - 0.1) * std::log(1e-4 / 0.1) + (1.0 - 0.1) * std::log(1.0 / 0.1);
  CHECK(close(r.value, expected, 0.01));
}

TEST_CASE("chi-square tests with counts near the largest double: a correct result or a clear error, never NaN") {
  // (O − E)² overflowed and the statistic became NaN, reported as "chi2_sf: x is NaN".
  Matrix<double> huge(2, 2);
  huge << 1e300, 1, 1, 1e300;
  const ChiSquareResult r = chi_square_test(huge, {.correction = false});
  CHECK(std::isfinite(r.statistic));
  CHECK(close(r.statistic, 2e300, 1e-12));  // N·(ad − bc)²/(row and column products) ≈ N for this table
  CHECK(r.p_value == 0.0);
  Matrix<double> overflowing(2, 2);
  overflowing << 1e308, 1e308, 1e308, 1e308;
  CHECK_THROWS_NAMING(chi_square_test(overflowing), InvalidArgument,
                      "chi_square_test: observed sums to more than the largest double");
  CHECK_THROWS_NAMING(chi_square_goodness_of_fit(std::vector<double>{1e308, 1e308}, std::vector<double>{1e308, 1e308}),
                      InvalidArgument, "chi_square_goodness_of_fit: the counts sum to more than the largest double");
  CHECK_THROWS_NAMING(chi_square_goodness_of_fit(std::vector<double>{1.7e308, 1}, std::vector<double>{1, 1.7e308}),
                      InvalidArgument, "the chi-square statistic overflows double");
}
