// linear_regression, logistic_regression and gaussian_nb in the `aimastery` tool.
#include <aimastery/ml/classical/gaussian_nb.hpp>
#include <aimastery/ml/classical/linear_regression.hpp>
#include <aimastery/ml/classical/logistic_regression.hpp>

#include "models.hpp"

namespace {

using aimastery::LinearSolver;
using aimastery::LogisticSolver;
using aimastery::Penalty;

const cli::Registration linear_regression(
    "linear_regression", cli::Task::regression,
    "least squares with optional ridge (penalty=l2, alpha) or lasso (penalty=l1) penalty",
    [](cli::ParamReader& p, std::uint64_t) {
      aimastery::LinearRegressionParams params;
      p.read("fit_intercept", params.fit_intercept);
      p.read_choice("penalty", params.penalty, {{"l2", Penalty::l2}, {"l1", Penalty::l1}});
      p.read("alpha", params.alpha);
      p.read_choice("solver", params.solver,
                    {{"auto", LinearSolver::automatic},
                     {"qr", LinearSolver::qr},
                     {"cholesky", LinearSolver::cholesky},
                     {"gradient_descent", LinearSolver::gradient_descent},
                     {"coordinate_descent", LinearSolver::coordinate_descent}});
      p.read("learning_rate", params.learning_rate);
      p.read("max_iter", params.max_iter);
      p.read("tol", params.tol);
      p.finish();
      return cli::factory<cli::RegressorAdapter<aimastery::LinearRegressionScratch<double>>>(params);
    });

const cli::Registration logistic_regression(
    "logistic_regression", cli::Task::classification,
    "binary or multinomial logistic regression with an L2 penalty 1/C", [](cli::ParamReader& p, std::uint64_t) {
      aimastery::LogisticRegressionParams params;
      p.read("C", params.C);
      p.read("fit_intercept", params.fit_intercept);
      p.read_choice("solver", params.solver,
                    {{"lbfgs", LogisticSolver::lbfgs}, {"gradient_descent", LogisticSolver::gradient_descent}});
      p.read("max_iter", params.max_iter);
      p.read("tol", params.tol);
      p.read("learning_rate", params.learning_rate);
      p.read("memory", params.memory);
      p.finish();
      return cli::factory<cli::ClassifierAdapter<aimastery::LogisticRegressionScratch<double>>>(params);
    });

const cli::Registration gaussian_nb("gaussian_nb", cli::Task::classification, "Gaussian naive Bayes",
                                    [](cli::ParamReader& p, std::uint64_t) {
                                      aimastery::GaussianNBParams params;
                                      p.read("priors", params.priors);
                                      p.read("var_smoothing", params.var_smoothing);
                                      p.finish();
                                      return cli::factory<cli::ClassifierAdapter<aimastery::GaussianNBScratch<double>>>(
                                          params);
                                    });

}  // namespace
