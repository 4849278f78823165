// The one random engine (core/probability/sampling.hpp) and the classical estimators that draw from it: golden
// values written from the definitions by tests/reference/gen_classical_sampling.py (a seed gives these exact
// numbers with every standard library), and the uniformity of the integer draw and the shuffle.

#include <doctest/doctest.h>

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/ml/classical/decision_tree.hpp"
#include "aimastery/ml/classical/random_forest.hpp"
#include "support.hpp"

using namespace aimastery;
using aimastery::test::load_reference;

TEST_CASE("the engine, uniform_below and the shuffle give the golden values of their definitions") {
  const auto ref = load_reference("classical_sampling.json");
  RandomEngine raw(2026);
  for (const auto& value : ref["raw_2026"]) CHECK(raw() == std::stoull(value.get<std::string>()));

  RandomEngine rng(2026);  // the draws below continue one stream, bound after bound
  for (const auto& entry : ref["uniform_below_2026"]) {
    const std::uint64_t n = std::stoull(entry[0].get<std::string>());
    CAPTURE(n);
    for (const auto& expected : entry[1]) CHECK(detail::uniform_below(rng, n) == expected.get<std::uint64_t>());
  }

  std::vector<Index> ten(10);
  std::iota(ten.begin(), ten.end(), Index(0));
  RandomEngine seven(7);
  detail::shuffle(ten.begin(), ten.end(), seven);
  CHECK(ten == ref["shuffle_10_seed_7"].get<std::vector<Index>>());

  std::vector<Index> twenty(20);
  std::iota(twenty.begin(), twenty.end(), Index(0));
  RandomEngine eleven(11);
  detail::partial_shuffle(twenty.begin(), twenty.end(), 3, eleven);
  CHECK(std::vector<Index>(twenty.begin(), twenty.begin() + 3) ==
        ref["partial_shuffle_3_of_20_seed_11"].get<std::vector<Index>>());
}

TEST_CASE("multiply_128 equals the compiler's 128-bit product") {
#ifdef __SIZEOF_INT128__
  __extension__ typedef unsigned __int128 uint128;  // a GCC/Clang extension, only to check against
  RandomEngine rng(test::test_seed());
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t a = rng() >> (i % 64), b = rng() >> ((i / 64) % 64);
    const uint128 p = static_cast<uint128>(a) * b;
    const auto m = detail::multiply_128(a, b);
    REQUIRE(m.high == static_cast<std::uint64_t>(p >> 64));
    REQUIRE(m.low == static_cast<std::uint64_t>(p));
  }
#else
  MESSAGE("no unsigned __int128 on this compiler: checked by the golden values only");
#endif
}

TEST_CASE("uniform_below and the shuffle are uniform (chi-square)") {
  RandomEngine rng(test::test_seed());
  // 7 values, 70 000 draws: Pearson's statistic with 6 degrees of freedom, below its 0.9999 quantile 27.86.
  std::vector<double> counts(7, 0.0);
  for (int i = 0; i < 70000; ++i) counts[detail::uniform_below(rng, 7)] += 1;
  double chi2 = 0;
  for (double c : counts) chi2 += (c - 10000) * (c - 10000) / 10000;
  CHECK(chi2 < 27.86);
  // Each of the 24 orders of 4 elements, 48 000 shuffles: 23 degrees of freedom, 0.9999 quantile 55.0.
  std::vector<double> orders(24, 0.0);
  for (int i = 0; i < 48000; ++i) {
    std::vector<int> v{0, 1, 2, 3};
    detail::shuffle(v.begin(), v.end(), rng);
    int rank = 0;  // the order's index in lexicographic order (Lehmer code)
    for (int a = 0; a < 4; ++a) {
      int smaller_after = 0;
      for (int b = a + 1; b < 4; ++b) smaller_after += v[b] < v[a] ? 1 : 0;
      rank = rank * (4 - a) + smaller_after;
    }
    orders[static_cast<std::size_t>(rank)] += 1;
  }
  chi2 = 0;
  for (double c : orders) chi2 += (c - 2000) * (c - 2000) / 2000;
  CHECK(chi2 < 55.0);
}

TEST_CASE("trees and forests draw their features and bootstrap samples from the engine (golden values)") {
  const auto ref = load_reference("classical_sampling.json");
  // 12 rows, 8 features with distinct values in every column, labels alternating: every feature is
  // informative, so with max_features = 1 the root splits on the first feature drawn.
  Matrix<double> X(12, 8);
  IndexVector y(12);
  for (Index i = 0; i < 12; ++i) {
    for (Index j = 0; j < 8; ++j) X(i, j) = static_cast<double>((i * 7 + j * 5) % 12);
    y(i) = i % 2;
  }
  for (const auto& entry : ref["tree_root_feature_of_8_by_seed"]) {
    const auto seed = entry[0].get<std::uint64_t>();
    CAPTURE(seed);
    DecisionTreeScratch<double> tree({.max_features = 1, .seed = seed});
    tree.fit(X, y);
    CHECK(tree.tree().nodes[0].feature == entry[1].get<int>());
  }

  const auto bootstrap = ref["forest_seed_42_bootstrap_12"];
  const auto roots = ref["forest_seed_42_root_features_8"];
  std::vector<double> weights(12);
  for (Index t = 0; t < 4; ++t) {
    CAPTURE(t);
    detail::forest_weights(42, t, true, weights);
    const auto expected = bootstrap[static_cast<std::size_t>(t)].get<std::vector<int>>();
    for (std::size_t i = 0; i < 12; ++i) CHECK(weights[i] == static_cast<double>(expected[i]));
  }
  RandomForestScratch<double> forest({.n_estimators = 4, .max_features = 1, .seed = 42});
  forest.fit(X, y);
  for (Index t = 0; t < 4; ++t) {
    CAPTURE(t);
    CHECK(forest.tree(t).nodes[0].feature == roots[static_cast<std::size_t>(t)].get<int>());
  }
}
