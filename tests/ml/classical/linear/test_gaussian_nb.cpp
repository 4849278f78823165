#include "aimastery/ml/classical/gaussian_nb.hpp"

#include "ml/classical/conformance.hpp"
#include "support.hpp"

using aimastery::GaussianNBScratch;
using aimastery::IndexVector;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::Vector;

TEST_CASE_TEMPLATE("GaussianNBScratch conforms to the estimator contract", T, float, double) {
  aimastery::test::check_classifier_conformance([] { return GaussianNBScratch<T>(); }, "GaussianNBScratch");
}
