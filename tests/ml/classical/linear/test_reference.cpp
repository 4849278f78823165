// The linear models and naive Bayes against scikit-learn 1.2.1 (tests/reference/gen_classical_linear.py).
#include <iomanip>
#include "aimastery/io/csv.hpp"
#include "aimastery/ml/classical/gaussian_nb.hpp"
#include "aimastery/ml/classical/linear_regression.hpp"
#include "aimastery/ml/classical/logistic_regression.hpp"
#include "aimastery/ml/classical/preprocessing.hpp"

#include "support.hpp"

using namespace aimastery;
using aimastery::test::data_path;
using aimastery::test::json_matrix;
using aimastery::test::json_vector;
using aimastery::test::load_reference;
using aimastery::test::max_relative_error;

namespace {

CsvDataset<double> dataset(const std::string& name) { return read_csv<double>(data_path(name + ".csv")); }

IndexVector json_indices(const nlohmann::json& j) {
  IndexVector v(static_cast<Index>(j.size()));
  for (Index i = 0; i < v.size(); ++i) v(i) = j[static_cast<std::size_t>(i)].get<Index>();
  return v;
}

}  // namespace

TEST_CASE("GaussianNBScratch: predict_proba equals scikit-learn's to 1e-9") {
  const auto ref = load_reference("classical_gaussian_nb.json");
  for (const std::string name : {"iris", "wine", "breast_cancer", "digits"}) {
    CAPTURE(name);
    const auto data = dataset(name);
    GaussianNBScratch<double> nb;
    nb.fit(data.X, data.labels());
    const auto& r = ref[name];
    const IndexVector rows = json_indices(r["rows"]);
    const Matrix<double> X = data.X(rows, Eigen::all);
    const Matrix<double> proba = nb.predict_proba(X);
    const Matrix<double> expected = json_matrix<double>(r["proba"]);
    CHECK((proba - expected).cwiseAbs().maxCoeff() <= 1e-9);
    CHECK(nb.predict(X) == json_indices(r["predict"]));
    CHECK(max_relative_error(nb.theta(), json_matrix<double>(r["theta"])) <= 1e-12);
    CHECK(max_relative_error(nb.var(), json_matrix<double>(r["var"])) <= 1e-10);
    CHECK(max_relative_error(nb.class_prior(), json_vector<double>(r["class_prior"])) <= 1e-15);
    CHECK(nb.epsilon() == doctest::Approx(r["epsilon"].get<double>()).epsilon(1e-12));
  }
  SUBCASE("given priors and var_smoothing") {
    const auto data = dataset("iris");
    GaussianNBScratch<double> nb({.priors = {0.5, 0.3, 0.2}, .var_smoothing = 1e-3});
    nb.fit(data.X, data.labels());
    const Matrix<double> expected = json_matrix<double>(ref["iris_priors"]["proba"]);
    CHECK((nb.predict_proba(data.X) - expected).cwiseAbs().maxCoeff() <= 1e-9);
  }
}

TEST_CASE("GaussianNBScratch: far outliers keep finite, normalised probabilities") {
  const auto data = dataset("iris");
  GaussianNBScratch<double> nb;
  nb.fit(data.X, data.labels());
  Matrix<double> far = Matrix<double>::Constant(2, 4, 1e4);
  far.row(1).setConstant(-1e4);
  const Matrix<double> proba = nb.predict_proba(far);
  CHECK(proba.allFinite());
  CHECK((proba.rowwise().sum().array() - 1.0).abs().maxCoeff() <= 1e-12);
  CHECK(nb.predict_log_proba(far).allFinite());
}

TEST_CASE("GaussianNBScratch: bad parameters and inputs") {
  CHECK_THROWS_NAMING(GaussianNBScratch<double>({.var_smoothing = -1}), InvalidArgument, "var_smoothing");
  const auto data = dataset("iris");
  GaussianNBScratch<double> wrong_count({.priors = {0.5, 0.5}});
  CHECK_THROWS_NAMING(wrong_count.fit(data.X, data.labels()), InvalidArgument, "priors has 2 entries");
  GaussianNBScratch<double> wrong_sum({.priors = {0.5, 0.5, 0.5}});
  CHECK_THROWS_NAMING(wrong_sum.fit(data.X, data.labels()), InvalidArgument, "sum to 1");
  GaussianNBScratch<double> negative({.priors = {1.5, -0.25, -0.25}});
  CHECK_THROWS_NAMING(negative.fit(data.X, data.labels()), InvalidArgument, ">= 0");
  GaussianNBScratch<double> unfitted;
  CHECK_THROWS_NAMING(static_cast<void>(unfitted.joint_log_likelihood(data.X)), NotFittedError, "joint_log_likelihood");
  CHECK_THROWS_NAMING(static_cast<void>(unfitted.predict_log_proba(data.X)), NotFittedError, "not fitted");
}

TEST_CASE("LinearRegressionScratch: coefficients equal scikit-learn's on diabetes") {
  const auto ref = load_reference("classical_linear_regression.json");
  const auto data = dataset("diabetes");
  auto check = [&](const LinearRegressionScratch<double>& model, const nlohmann::json& r, double tolerance) {
    CHECK(max_relative_error(model.coefficients(), json_vector<double>(r["coef"])) <= tolerance);
    CHECK(model.intercept() == doctest::Approx(r["intercept"].get<double>()).epsilon(tolerance).scale(1.0));
  };
  SUBCASE("ordinary least squares, every closed form and the iterative solvers") {
    for (auto solver : {LinearSolver::automatic, LinearSolver::qr, LinearSolver::cholesky}) {
      LinearRegressionScratch<double> ols({.solver = solver});
      ols.fit(data.X, data.y);
      check(ols, ref["ols"], 1e-8);
      CHECK(ols.score(data.X, data.y) == doctest::Approx(ref["ols"]["r2"].get<double>()).epsilon(1e-10));
    }
    LinearRegressionScratch<double> cd({.solver = LinearSolver::coordinate_descent, .max_iter = 200000, .tol = 1e-14});
    cd.fit(data.X, data.y);
    CHECK(cd.converged());
    check(cd, ref["ols"], 1e-6);
  }
  SUBCASE("without intercept") {
    LinearRegressionScratch<double> ols({.fit_intercept = false});
    ols.fit(data.X, data.y);
    check(ols, ref["ols_no_intercept"], 1e-8);
    CHECK(ols.intercept() == 0.0);
  }
  SUBCASE("ridge, intercept unpenalised") {
    for (auto solver :
         {LinearSolver::qr, LinearSolver::cholesky, LinearSolver::coordinate_descent, LinearSolver::gradient_descent}) {
      INFO("solver " << static_cast<int>(solver));
      LinearRegressionScratch<double> ridge({.alpha = 1.0, .solver = solver, .max_iter = 200000, .tol = 1e-13});
      ridge.fit(data.X, data.y);
      CHECK(ridge.converged());
      check(ridge, ref["ridge_alpha_1"], 1e-8);
    }
  }
  SUBCASE("lasso by coordinate descent and by proximal gradient") {
    for (auto solver : {LinearSolver::coordinate_descent, LinearSolver::gradient_descent}) {
      INFO("solver " << static_cast<int>(solver));
      LinearRegressionScratch<double> lasso(
          {.penalty = Penalty::l1, .alpha = 0.1, .solver = solver, .max_iter = 500000, .tol = 1e-12});
      lasso.fit(data.X, data.y);
      CHECK(lasso.converged());
      check(lasso, ref["lasso_alpha_0.1"], 1e-7);
    }
    LinearRegressionScratch<double> lasso(
        {.fit_intercept = false, .penalty = Penalty::l1, .alpha = 0.05, .max_iter = 500000, .tol = 1e-14});
    lasso.fit(data.X, data.y);
    check(lasso, ref["lasso_alpha_0.05_no_intercept"], 1e-7);
  }
}

TEST_CASE_TEMPLATE("LinearRegressionScratch: gradient descent reaches the closed form", T, float, double) {
  std::mt19937_64 rng(aimastery::test::test_seed());
  const Matrix<T> X = aimastery::test::random_matrix<T>(200, 5, rng);
  Vector<T> w(5);
  w << T(1), T(-2), T(0.5), T(0), T(3);
  const Vector<T> y = (X * w).array() + T(0.7) + T(0.01) * aimastery::test::random_matrix<T>(200, 1, rng).array();
  LinearRegressionScratch<T> exact;
  exact.fit(X, y);
  LinearRegressionScratch<T> descent({.solver = LinearSolver::gradient_descent, .max_iter = 100000, .tol = 1e-9});
  descent.fit(X, y);
  CHECK(descent.converged());
  CHECK(descent.iterations() > 1);
  CHECK(max_relative_error(descent.coefficients(), exact.coefficients()) <=
        100 * aimastery::test::Tolerance<T>::reference);
  CHECK(max_relative_error(exact.coefficients(), w) <= T(0.02));
  SUBCASE("a learning rate far above 2/L diverges and says so") {
    LinearRegressionScratch<T> wild(
        {.solver = LinearSolver::gradient_descent, .learning_rate = 100.0, .max_iter = 2000});
    wild.fit(X, y);
    CHECK_FALSE(wild.converged());
  }
}

TEST_CASE("LinearRegressionScratch: collinear columns get the minimum-norm solution") {
  Matrix<double> X(6, 3);
  X << 1, 2, 2, 2, 1, 1, 3, 0, 0, 4, 5, 5, 5, 3, 3, 6, 1, 1;  // column 2 = column 1
  Vector<double> y(6);
  y << 1, 2, 3, 4, 5, 7;
  for (auto solver : {LinearSolver::qr, LinearSolver::cholesky}) {
    LinearRegressionScratch<double> ols({.solver = solver});
    ols.fit(X, y);
    CHECK(ols.coefficients()(1) == doctest::Approx(ols.coefficients()(2)));
    CHECK(ols.coefficients().allFinite());
  }
}

TEST_CASE("LinearRegressionScratch: bad parameters") {
  CHECK_THROWS_NAMING(LinearRegressionScratch<double>({.alpha = -1}), InvalidArgument, "alpha must be");
  CHECK_THROWS_NAMING(LinearRegressionScratch<double>({.penalty = Penalty::l1, .solver = LinearSolver::qr}),
                      InvalidArgument, "l1 penalty has no closed form");
  CHECK_THROWS_NAMING(LinearRegressionScratch<double>({.penalty = Penalty::l1, .solver = LinearSolver::cholesky}),
                      InvalidArgument, "coordinate_descent");
  CHECK_THROWS_NAMING(LinearRegressionScratch<double>({.learning_rate = 0.1}), InvalidArgument,
                      "learning_rate applies only");
  CHECK_THROWS_NAMING(LinearRegressionScratch<double>({.max_iter = 0}), InvalidArgument, "max_iter");
  CHECK_THROWS_NAMING(LinearRegressionScratch<double>({.tol = -1}), InvalidArgument, "tol");
}

TEST_CASE("LogisticRegressionScratch: the objective and coefficients of scikit-learn's lbfgs") {
  const auto ref = load_reference("classical_logistic_regression.json");
  for (const std::string name : {"iris", "breast_cancer", "wine"}) {
    CAPTURE(name);
    const auto data = dataset(name);
    const auto& r = ref[name];
    StandardScaler<double> scaler;
    const Matrix<double> Z = scaler.fit_transform(data.X);
    const IndexVector y = data.labels();
    const double C = r["C"].get<double>();
    const double sklearn_default = r["objective_sklearn_default_tol"].get<double>();
    const double sklearn_tight = r["objective"].get<double>();
    // Default tolerance: the loss is within 1e-4 of scikit-learn's default run.
    LogisticRegressionScratch<double> lr({.C = C});
    lr.fit(Z, y);
    CHECK(lr.converged());
    CHECK(lr.objective(Z, y) == doctest::Approx(lr.loss()).epsilon(1e-12));
    CHECK(lr.loss() <= sklearn_default + 1e-4);
    // Tight tolerance: the same minimiser (scikit-learn stops at a relative decrease of 64ε, so its
    // coefficients carry about √(64ε) ≈ 1e-7 of relative noise amplified by the conditioning).
    LogisticRegressionScratch<double> tight({.C = C, .max_iter = 100000, .tol = 1e-10});
    tight.fit(Z, y);
    CHECK(tight.converged());
    CHECK(tight.loss() <= sklearn_tight + 1e-13);
    CHECK(tight.loss() == doctest::Approx(sklearn_tight).epsilon(1e-9));
    CHECK(max_relative_error(tight.coefficients(), json_matrix<double>(r["coef"])) <= 1e-3);
    CHECK(max_relative_error(tight.intercept(), json_vector<double>(r["intercept"])) <= 1e-3);
    // Gradient descent gets there too, slowly.
    LogisticRegressionScratch<double> gd(
        {.C = C, .solver = LogisticSolver::gradient_descent, .max_iter = 200000, .tol = 1e-6});
    gd.fit(Z, y);
    CHECK(gd.converged());
    CHECK(gd.loss() == doctest::Approx(sklearn_tight).epsilon(1e-6));
    MESSAGE(name << ": ours " << std::setprecision(17) << tight.loss() << " sklearn " << sklearn_tight
                 << " gd iterations " << gd.iterations() << " lbfgs iterations " << lr.iterations());
  }
}

TEST_CASE("LogisticRegressionScratch: no penalty separates separable data; bad parameters") {
  Matrix<double> X(4, 1);
  X << -2, -1, 1, 2;
  IndexVector y(4);
  y << 3, 3, 9, 9;
  LogisticRegressionScratch<double> lr({.C = std::numeric_limits<double>::infinity(), .max_iter = 200});
  lr.fit(X, y);
  CHECK(lr.score(X, y) == 1.0);
  CHECK(lr.coefficients()(0, 0) > 5.0);  // grows without a penalty
  CHECK_THROWS_NAMING(LogisticRegressionScratch<double>({.C = 0}), InvalidArgument, "C must be > 0");
  CHECK_THROWS_NAMING(LogisticRegressionScratch<double>({.learning_rate = 0.5}), InvalidArgument, "learning_rate");
  CHECK_THROWS_NAMING(LogisticRegressionScratch<double>({.max_iter = 0}), InvalidArgument, "max_iter");
  CHECK_THROWS_NAMING(LogisticRegressionScratch<double>({.memory = 0}), InvalidArgument, "memory");
  CHECK_THROWS_NAMING(LogisticRegressionScratch<double>({.tol = -1}), InvalidArgument, "tol");
  CHECK_THROWS_NAMING(static_cast<void>(LogisticRegressionScratch<double>().decision_function(X)), NotFittedError,
                      "decision_function");
  CHECK_THROWS_NAMING(static_cast<void>(lr.objective(X, IndexVector::Constant(4, 5))), InvalidArgument, "label 5");
}
