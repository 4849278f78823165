// The aimastery side of benchmarks/peers/tasks_classical_linear.py: linear models and naive Bayes on the same CSV
// data scikit-learn gets. Every task: TASK data.csv repeat → {"seconds": best fit time, ...quality fields}.
#include <aimastery/io/csv.hpp>
#include <aimastery/ml/classical/gaussian_nb.hpp>
#include <aimastery/ml/classical/linear_regression.hpp>
#include <aimastery/ml/classical/logistic_regression.hpp>

#include "classical_timing.hpp"
#include "peer_common.hpp"

namespace {

using namespace aimastery;
using peers::Args;

int repeat_of(const Args& a) { return a.size() > 1 ? std::stoi(a[1]) : 3; }

nlohmann::json logistic(const Args& a) {
  const auto data = read_csv<double>(a.at(0));
  const IndexVector y = data.labels();
  LogisticRegressionScratch<double> model({.C = 1.0});
  const double seconds = peers::best_seconds(repeat_of(a), [&] { model.fit(data.X, y); });
  return {{"seconds", seconds},
          {"loss", model.loss()},
          {"iterations", model.iterations()},
          {"accuracy", model.score(data.X, y)}};
}

nlohmann::json linear(const Args& a, LinearSolver solver) {
  const auto data = read_csv<double>(a.at(0));
  LinearRegressionScratch<double> model({.solver = solver});
  const auto timing = peers::best_timing(repeat_of(a), [&] { model.fit(data.X, data.y); });
  std::vector<double> coef(model.coefficients().data(), model.coefficients().data() + model.coefficients().size());
  return {{"seconds", timing.seconds},         {"cpu_seconds", timing.cpu_seconds},
          {"r2", model.score(data.X, data.y)}, {"coef", coef},
          {"iterations", model.iterations()},  {"converged", model.converged()}};
}

nlohmann::json naive_bayes_fit(const Args& a) {
  const auto data = read_csv<double>(a.at(0));
  const IndexVector y = data.labels();
  GaussianNBScratch<double> model;
  const double seconds = peers::best_seconds(repeat_of(a), [&] { model.fit(data.X, y); });
  return {{"seconds", seconds}, {"accuracy", model.score(data.X, y)}};
}

nlohmann::json naive_bayes_predict_proba(const Args& a) {
  const auto data = read_csv<double>(a.at(0));
  GaussianNBScratch<double> model;
  model.fit(data.X, data.labels());
  Matrix<double> proba;
  const double seconds = peers::best_seconds(repeat_of(a), [&] { proba = model.predict_proba(data.X); });
  return {{"seconds", seconds}, {"proba_sum", proba.sum()}};
}

}  // namespace

int main(int argc, char** argv) {
  return peers::run_task(
      argc, argv,
      {{"logistic_regression", logistic},
       {"linear_regression_qr", [](const Args& a) { return linear(a, LinearSolver::qr); }},
       {"linear_regression_auto", [](const Args& a) { return linear(a, LinearSolver::automatic); }},
       {"linear_regression_cholesky", [](const Args& a) { return linear(a, LinearSolver::cholesky); }},
       {"linear_regression_gradient_descent", [](const Args& a) { return linear(a, LinearSolver::gradient_descent); }},
       {"linear_regression_coordinate_descent",
        [](const Args& a) { return linear(a, LinearSolver::coordinate_descent); }},
       {"gaussian_nb_fit", naive_bayes_fit},
       {"gaussian_nb_predict_proba", naive_bayes_predict_proba}});
}
