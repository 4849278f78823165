#include "aimastery/core/linalg/covariance.hpp"

#include <string>

#include "support.hpp"

using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
namespace test = aimastery::test;

TEST_CASE_TEMPLATE("covariance_matrix equals numpy.cov(X, rowvar=False, ddof)", T, float, double) {
  const auto ref = test::load_reference("core_decompositions.json");
  for (const auto& c : ref["covariance"]) {
    const std::string name = c["name"];
    CAPTURE(name);
    const Matrix<T> X = test::json_matrix<T>(c["X"]);
    const Matrix<double> expected = test::json_matrix<double>(c["cov"]);
    const Matrix<T> cov = aimastery::covariance_matrix(X, c["ddof"].get<Index>());
    CHECK(test::max_relative_error(cov, expected) <= test::Tolerance<T>::reference);
    CHECK(cov == cov.transpose());
  }
}

TEST_CASE("covariance_matrix: defaults to ddof = 1 and is shift invariant") {
  Matrix<double> X(3, 2);
  X << 1, 2, 2, 4, 3, 9;
  // Column 0: mean 2, squared deviations 1 + 0 + 1 = 2, / (3 − 1) = 1.
  const Matrix<double> cov = aimastery::covariance_matrix(X);
  CHECK(cov(0, 0) == doctest::Approx(1.0));
  CHECK(aimastery::covariance_matrix(X, 0)(0, 0) == doctest::Approx(2.0 / 3.0));
  const Matrix<double> shifted = X.array() + 1e6;
  CHECK(test::max_relative_error(aimastery::covariance_matrix(shifted), cov) <= 1e-9);
}

TEST_CASE_TEMPLATE("covariance_matrix rejects bad input", T, float, double) {
  CHECK_THROWS_NAMING(aimastery::covariance_matrix(Matrix<T>(0, 3)), InvalidArgument, "covariance_matrix: X is empty");
  CHECK_THROWS_NAMING(aimastery::covariance_matrix(Matrix<T>::Ones(1, 3)), InvalidArgument,
                      "n_samples - ddof must be positive, got n_samples = 1 and ddof = 1");
  CHECK_THROWS_NAMING(aimastery::covariance_matrix(Matrix<T>::Ones(4, 3), 4), InvalidArgument, "ddof = 4");
}
