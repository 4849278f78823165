#include "aimastery/ml/classical/linear_regression.hpp"

#include "ml/classical/conformance.hpp"
#include "support.hpp"

using aimastery::LinearRegressionScratch;
using aimastery::LinearSolver;
using aimastery::Penalty;

TEST_CASE_TEMPLATE("LinearRegressionScratch conforms to the estimator contract", T, float, double) {
  using aimastery::test::check_regressor_conformance;
  SUBCASE("ordinary least squares (qr)") {
    check_regressor_conformance([] { return LinearRegressionScratch<T>(); }, "LinearRegressionScratch");
  }
  SUBCASE("ridge (cholesky)") {
    check_regressor_conformance(
        [] { return LinearRegressionScratch<T>({.alpha = 1.0, .solver = LinearSolver::cholesky}); },
        "LinearRegressionScratch");
  }
  SUBCASE("lasso (coordinate descent)") {
    check_regressor_conformance([] { return LinearRegressionScratch<T>({.penalty = Penalty::l1, .alpha = 0.01}); },
                                "LinearRegressionScratch");
  }
  SUBCASE("ridge (gradient descent)") {
    check_regressor_conformance(
        [] { return LinearRegressionScratch<T>({.alpha = 0.5, .solver = LinearSolver::gradient_descent}); },
        "LinearRegressionScratch");
  }
}
