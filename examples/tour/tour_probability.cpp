// Tour section: core.probability on the iris data.
#include <aimastery/core/probability.hpp>
#include <aimastery/io/csv.hpp>

#include <cstdio>

#include "tour.hpp"

AIMASTERY_TOUR_SECTION(20, "core.probability: distributions and information") {
  using namespace aimastery;
  const auto iris = read_csv<double>(data_dir + "/iris.csv");

  // Fit a Gaussian to the petal length of each species by maximum likelihood.
  const auto labels = iris.labels();
  std::printf("petal length per species, Gaussian fitted by maximum likelihood:\n");
  for (Index species = 0; species < 3; ++species) {
    Vector<double> lengths((labels.array() == species).count());
    for (Index i = 0, j = 0; i < iris.X.rows(); ++i)
      if (labels(i) == species) lengths(j++) = iris.X(i, 2);
    const auto g = Gaussian<double>::fit(lengths);
    std::printf("  species %ld: mean %.3f cm, std %.3f cm, P(length > 5 cm) = %.4f, 95%% quantile %.3f cm\n",
                static_cast<long>(species), g.mean(), g.std(), 1.0 - g.cdf(5.0), g.ppf(0.95));
  }

  // Information: the class distribution of iris is uniform, so its entropy is log2(3) bits.
  Vector<double> uniform = Vector<double>::Constant(3, 1.0 / 3.0), skewed(3);
  skewed << 0.7, 0.2, 0.1;
  std::printf("entropy of the iris classes: %.4f bits (log2 3 = 1.5850)\n", entropy(uniform, 2.0));
  std::printf("a skewed guess [0.7, 0.2, 0.1]: cross entropy %.4f bits = entropy %.4f + KL %.4f\n",
              cross_entropy(uniform, skewed, 2.0), entropy(uniform, 2.0), kl_divergence(uniform, skewed, 2.0));

  // Seeded sampling: the same seed gives the same draws on every platform.
  const Categorical<double> c(skewed);
  const auto draws = c.sample(10000, /*seed=*/7);
  std::printf("10000 categorical draws with seed 7: shares %.3f %.3f %.3f\n",
              static_cast<double>((draws.array() == 0).count()) / 1e4,
              static_cast<double>((draws.array() == 1).count()) / 1e4,
              static_cast<double>((draws.array() == 2).count()) / 1e4);
}
