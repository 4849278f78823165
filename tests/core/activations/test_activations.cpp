#include "aimastery/core/linalg/activations.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "support.hpp"

using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::Vector;

TEST_CASE_TEMPLATE("softmax and log_softmax are row-wise and stable for large inputs", T, float, double) {
  Matrix<T> x(3, 3);
  x << 1, 2, 3, 1000, 1000, 1000, -1000, 0, 1000;
  const Matrix<T> p = aimastery::softmax(x);
  const Matrix<T> lp = aimastery::log_softmax(x);
  CHECK(p.allFinite());
  for (int r = 0; r < 3; ++r) CHECK(p.row(r).sum() == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(p(1, 2) == doctest::Approx(1.0 / 3.0));
  CHECK(p(2, 2) == doctest::Approx(1.0));
  // log_softmax keeps the information that softmax underflows to 0.
  CHECK(lp(2, 0) == doctest::Approx(-2000.0));
  // Reference: scipy.special.softmax([1, 2, 3]).
  CHECK(p(0, 0) == doctest::Approx(0.09003057317038046));
  CHECK(p(0, 2) == doctest::Approx(0.6652409557748219));
}

TEST_CASE_TEMPLATE("log_sum_exp and masked entries", T, float, double) {
  const T inf = std::numeric_limits<T>::infinity();
  Vector<T> v(3);
  v << T(1000), T(1000), -inf;
  CHECK(aimastery::log_sum_exp(v) == doctest::Approx(1000.0 + std::log(2.0)));
  const Vector<T> p = aimastery::softmax(v);
  CHECK(p(2) == T(0));
  Vector<T> all_masked = Vector<T>::Constant(2, -inf);
  CHECK(aimastery::log_sum_exp(all_masked) == -inf);
}

TEST_CASE_TEMPLATE("sigmoid is stable for |x| large", T, float, double) {
  Vector<T> x(5);
  x << T(-1000), T(-30), T(0), T(30), T(1000);
  const Vector<T> s = aimastery::sigmoid(x);
  CHECK(s.allFinite());
  CHECK(s(0) >= T(0));
  CHECK(s(0) < T(1e-30));
  CHECK(s(2) == T(0.5));
  CHECK(s(4) == T(1));
  CHECK(s(1) == doctest::Approx(9.357622968839299e-14).epsilon(1e-5));
}

TEST_CASE("relu, tanh and gelu against reference values") {
  Vector<double> x(3);
  x << -1.5, 0.0, 2.0;
  CHECK(aimastery::relu(x)(0) == 0.0);
  CHECK(aimastery::relu(x)(2) == 2.0);
  CHECK(aimastery::tanh(x)(2) == doctest::Approx(std::tanh(2.0)));
  // torch.nn.functional.gelu(torch.tensor([-1.5, 2.0], dtype=torch.float64)) and approximate='tanh'
  const Vector<double> g = aimastery::gelu(x);
  CHECK(g(0) == doctest::Approx(-0.10021080190328704).epsilon(1e-12));
  CHECK(g(2) == doctest::Approx(1.9544997361036416).epsilon(1e-12));
  const Vector<double> gt = aimastery::gelu(x, aimastery::GeluApproximation::tanh);
  CHECK(gt(0) == doctest::Approx(-0.10042842301976707).epsilon(1e-12));
  CHECK(gt(2) == doctest::Approx(1.954597694087775).epsilon(1e-12));
}

TEST_CASE("activations reject empty input") {
  Matrix<double> empty(0, 3);
  CHECK_THROWS_NAMING(aimastery::softmax(empty), InvalidArgument, "softmax: x is empty");
  CHECK_THROWS_NAMING(aimastery::log_softmax(empty), InvalidArgument, "log_softmax: x is empty");
  CHECK_THROWS_NAMING(aimastery::log_sum_exp(empty), InvalidArgument, "log_sum_exp: x is empty");
  CHECK_THROWS_NAMING(aimastery::sigmoid(empty), InvalidArgument, "sigmoid: x is empty");
  CHECK_THROWS_NAMING(aimastery::relu(empty), InvalidArgument, "relu: x is empty");
  CHECK_THROWS_NAMING(aimastery::tanh(empty), InvalidArgument, "tanh: x is empty");
  CHECK_THROWS_NAMING(aimastery::gelu(empty), InvalidArgument, "gelu: x is empty");
}

TEST_CASE("float gelu: the vectorised rational erf is within 5e-7 of std::erf; NaN and infinities as the formula") {
  // Every float step of 1e-4 over [-6, 6], in one call of several chunks with a partial last one.
  std::vector<float> x;
  for (int i = -60000; i <= 60000; ++i) x.push_back(static_cast<float>(i) * 1e-4f);
  std::vector<float> erf_values = x;
  aimastery::detail::erf_in_place(erf_values.data(), static_cast<aimastery::Index>(erf_values.size()));
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(erf_values[i]) - std::erf(static_cast<double>(x[i]))));
  CHECK(worst <= 5e-7);
  // gelu(x) = ½x(1 + erf(x/√2)) against the double formula: an erf error δ becomes ½|x|·δ, so the bound
  // is ½|x|·5e-7 absolute (at most 1.5e-6 on [−6, 6]) plus float rounding relative to |gelu|.
  const Eigen::Map<const Vector<float>> xs(x.data(), static_cast<aimastery::Index>(x.size()));
  const Vector<float> g = aimastery::gelu(xs);
  double worst_gelu = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = x[i], exact = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    const double bound = 0.5 * std::abs(v) * 5e-7 + 2e-7 * std::abs(exact) + 1e-12;
    worst_gelu = std::max(worst_gelu, std::abs(g(static_cast<aimastery::Index>(i)) - exact) / bound);
  }
  CHECK(worst_gelu <= 1.0);
  Vector<float> special(3);
  special << std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
      -std::numeric_limits<float>::infinity();
  const Vector<float> gs = aimastery::gelu(special);
  CHECK(std::isnan(gs(0)));
  CHECK(gs(1) == std::numeric_limits<float>::infinity());
  CHECK(std::isnan(gs(2)));  // −∞·½(1 + erf(−∞)) = −∞·0, as the formula in double (PyTorch: NaN for ±∞)
}
