#include "aimastery/ml/classical/logistic_regression.hpp"

#include "ml/classical/conformance.hpp"
#include "support.hpp"

using aimastery::LogisticRegressionScratch;
using aimastery::LogisticSolver;

TEST_CASE_TEMPLATE("LogisticRegressionScratch conforms to the estimator contract", T, float, double) {
  using aimastery::test::check_classifier_conformance;
  SUBCASE("lbfgs") {
    check_classifier_conformance([] { return LogisticRegressionScratch<T>(); }, "LogisticRegressionScratch");
  }
  SUBCASE("gradient descent") {
    check_classifier_conformance(
        [] { return LogisticRegressionScratch<T>({.solver = LogisticSolver::gradient_descent, .max_iter = 300}); },
        "LogisticRegressionScratch");
  }
}
