#include "aimastery/core/linalg/power_iteration.hpp"

#include <limits>
#include <string>

#include "support.hpp"

using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::Vector;
namespace test = aimastery::test;

TEST_CASE_TEMPLATE("power_iteration finds a known dominant eigenvalue", T, float, double) {
  // diag(2, −5, 1): dominant λ = −5 with eigenvector ±e₁ (rate |2/5| per step).
  Matrix<T> D = Matrix<T>::Zero(3, 3);
  D.diagonal() << 2, -5, 1;
  const auto r = aimastery::power_iteration(D, 1000, test::Tolerance<T>::reference, 7);
  CHECK(r.converged);
  CHECK(r.eigenvalue == doctest::Approx(-5.0).epsilon(test::Tolerance<T>::reference));
  CHECK(std::abs(r.eigenvector(1)) == doctest::Approx(1.0).epsilon(test::Tolerance<T>::reference));
  CHECK(r.eigenvector.norm() == doctest::Approx(1.0));
  CHECK(r.iterations > 1);
  CHECK(r.iterations < 1000);
}

TEST_CASE("power_iteration on a non-symmetric positive matrix equals numpy's Perron root") {
  const auto ref = test::load_reference("core_decompositions.json");
  const auto& c = ref["power_iteration"][0];
  const Matrix<double> A = test::json_matrix<double>(c["A"]);
  const auto r = aimastery::power_iteration(A, 1000, 1e-12, 3);
  CHECK(r.converged);
  CHECK(r.eigenvalue == doctest::Approx(c["eigenvalue"].get<double>()).epsilon(1e-10));
  CHECK((A * r.eigenvector - r.eigenvalue * r.eigenvector).norm() <= 1e-10 * std::abs(r.eigenvalue));
}

TEST_CASE_TEMPLATE("power_iteration handles a zero product (zero and nilpotent matrices) without NaN", T, float,
                   double) {
  const auto zero = aimastery::power_iteration(Matrix<T>::Zero(3, 3));
  CHECK(zero.converged);
  CHECK(zero.eigenvalue == T(0));
  CHECK(zero.iterations == 1);
  CHECK(zero.eigenvector.allFinite());
  CHECK(zero.eigenvector.norm() == doctest::Approx(1.0));
  // Strictly upper triangular: N³ = 0, so at most three products reach A v = 0.
  Matrix<T> N(3, 3);
  N << 0, 1, 2, 0, 0, 3, 0, 0, 0;
  const auto nil = aimastery::power_iteration(N, 100, T(0), 11);
  CHECK(nil.converged);
  CHECK(nil.eigenvalue == T(0));
  CHECK(nil.iterations <= 3);
  CHECK(nil.eigenvector.allFinite());
  CHECK((N * nil.eigenvector).norm() == T(0));
}

TEST_CASE("power_iteration reports non-convergence and is reproducible by seed") {
  // A rotation by 90°: eigenvalues ±i, no real dominant eigenvector.
  Matrix<double> R(2, 2);
  R << 0, -1, 1, 0;
  const auto r = aimastery::power_iteration(R, 50);
  CHECK_FALSE(r.converged);
  CHECK(r.iterations == 50);
  CHECK(r.eigenvector.allFinite());
  std::mt19937_64 rng(test::test_seed());
  const Matrix<double> G = test::random_matrix<double>(20, 20, rng);
  const Matrix<double> S = G * G.transpose();
  const auto a = aimastery::power_iteration(S, 5000, 1e-12, 42);
  const auto b = aimastery::power_iteration(S, 5000, 1e-12, 42);
  CHECK(a.eigenvalue == b.eigenvalue);
  CHECK(a.iterations == b.iterations);
  CHECK(a.eigenvector == b.eigenvector);
  const auto c = aimastery::power_iteration(S, 5000, 1e-12, 43);
  CHECK(c.eigenvalue == doctest::Approx(a.eigenvalue).epsilon(1e-12));
}

TEST_CASE_TEMPLATE("power_iteration rejects bad input", T, float, double) {
  CHECK_THROWS_NAMING(aimastery::power_iteration(Matrix<T>(0, 0)), InvalidArgument, "power_iteration: A is empty");
  CHECK_THROWS_NAMING(aimastery::power_iteration(Matrix<T>::Zero(3, 2)), InvalidArgument, "must be square, got 3x2");
  Matrix<T> with_inf = Matrix<T>::Identity(2, 2);
  with_inf(0, 1) = std::numeric_limits<T>::infinity();
  CHECK_THROWS_NAMING(aimastery::power_iteration(with_inf), InvalidArgument, "NaN or infinity");
  CHECK_THROWS_NAMING(aimastery::power_iteration(Matrix<T>::Identity(2, 2), 0), InvalidArgument,
                      "num_iterations must be at least 1");
  CHECK_THROWS_NAMING(aimastery::power_iteration(Matrix<T>::Identity(2, 2), 10, T(-1)), InvalidArgument,
                      "tolerance must be non-negative");
}
