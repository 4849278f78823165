#include <cmath>
#include <limits>
#include <numbers>

#include "aimastery/core/probability/information.hpp"
#include "support.hpp"

using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Vector;
using aimastery::test::close;
using aimastery::test::json_number;
using aimastery::test::json_vector;

TEST_CASE_TEMPLATE("entropy, cross_entropy and kl_divergence equal SciPy in every base", T, float, double) {
  const auto ref = aimastery::test::load_reference("core_probability.json")["information"];
  const T rel = std::is_same_v<T, double> ? T(1e-12) : T(1e-4);
  const T abs = std::is_same_v<T, double> ? T(1e-15) : T(1e-6);
  for (const auto& c : ref) {
    const Vector<T> p = json_vector<T>(c["p"]), q = json_vector<T>(c["q"]);
    // float: the rounded inputs may miss Σ = 1 by more than float's tolerance only if K is large; renormalise.
    const Vector<T> pn = p / p.sum(), qn = q / q.sum();
    for (const auto& key_and_base :
         {std::pair{"e", std::numbers::e_v<T>}, std::pair{"2", T(2)}, std::pair{"10", T(10)}}) {
      const auto& [key, base] = key_and_base;
      const char* const base_name = key;  // a structured binding: clang 14's lambdas cannot capture it
      INFO("K = " << p.size() << ", base " << base_name);
      CHECK(close(aimastery::entropy(pn, base), json_number<T>(c[std::string("entropy_") + key]), rel, abs));
      CHECK(close(aimastery::kl_divergence(pn, qn, base), json_number<T>(c[std::string("kl_") + key]), rel, abs));
      CHECK(close(aimastery::cross_entropy(pn, qn, base), json_number<T>(c[std::string("cross_entropy_") + key]), rel,
                  abs));
    }
  }
}

TEST_CASE_TEMPLATE("information measures: the identities that tie them together", T, float, double) {
  std::mt19937_64 rng(aimastery::test::test_seed());
  std::uniform_real_distribution<double> u(0.01, 1.0);
  for (int trial = 0; trial < 50; ++trial) {
    const Index k = 2 + static_cast<Index>(rng() % 20);
    Vector<T> p(k), q(k);
    for (Index i = 0; i < k; ++i) {
      p(i) = static_cast<T>(u(rng));
      q(i) = static_cast<T>(u(rng));
    }
    p /= p.sum();
    q /= q.sum();
    // H(p, p) = H(p) exactly (same terms); D(p‖p) = 0; H(p, q) = H(p) + D(p‖q); D ≥ 0 (Gibbs).
    CHECK(aimastery::cross_entropy(p, p) == aimastery::entropy(p));
    CHECK(aimastery::kl_divergence(p, p) == T(0));
    CHECK(aimastery::cross_entropy(p, q) ==
          doctest::Approx(aimastery::entropy(p) + aimastery::kl_divergence(p, q)).epsilon(1e-4));
    CHECK(aimastery::kl_divergence(p, q) >= T(0));
    // The uniform distribution has the largest entropy, log K.
    CHECK(aimastery::entropy(p) <= std::log(static_cast<T>(k)) + T(1e-5));
  }
}

TEST_CASE("information measures: 0 log 0 = 0 and q = 0 where p > 0 gives +inf") {
  Vector<double> p(3), q(3);
  p << 0.5, 0.5, 0.0;
  q << 0.5, 0.0, 0.5;
  CHECK(aimastery::entropy(p, 2.0) == doctest::Approx(1.0));
  CHECK(aimastery::kl_divergence(p, q) == std::numeric_limits<double>::infinity());
  CHECK(aimastery::cross_entropy(p, q) == std::numeric_limits<double>::infinity());
  CHECK(aimastery::kl_divergence(q, q) == 0.0);
}

TEST_CASE("information measures reject invalid probabilities, lengths and bases") {
  Vector<double> p(2), q(3), bad(2);
  p << 0.3, 0.7;
  q << 0.2, 0.3, 0.5;
  bad << 0.3, 0.3;
  CHECK_THROWS_NAMING(aimastery::entropy(bad), InvalidArgument, "entropy: p sums to 0.6");
  CHECK_THROWS_NAMING(aimastery::kl_divergence(p, q), InvalidArgument, "kl_divergence: p has 2 elements but q has 3");
  CHECK_THROWS_NAMING(aimastery::cross_entropy(p, q), InvalidArgument, "cross_entropy: p has 2 elements but q has 3");
  CHECK_THROWS_NAMING(aimastery::cross_entropy(p, bad), InvalidArgument, "q sums to 0.6");
  CHECK_THROWS_NAMING(aimastery::entropy(p, 1.0), InvalidArgument, "base must be finite, > 0 and != 1");
  CHECK_THROWS_NAMING(aimastery::kl_divergence(p, p, -2.0), InvalidArgument, "base");
  CHECK_THROWS_NAMING(aimastery::entropy(Vector<double>()), InvalidArgument, "entropy: p is empty");
  bad << std::numeric_limits<double>::quiet_NaN(), 1.0;
  CHECK_THROWS_NAMING(aimastery::entropy(bad), InvalidArgument, "p[0] = nan is not a probability");
  bad << -0.5, 1.5;
  CHECK_THROWS_NAMING(aimastery::kl_divergence(bad, p), InvalidArgument, "p[0] = -0.5");
}
