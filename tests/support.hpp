#pragma once
// Shared test support: named tolerances, the printed and overridable seed, reference-data loading and
// the check that an exception has the right type and a message naming the problem, the peak resident memory.

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "aimastery/core/tensor.hpp"

namespace aimastery::test {

/// Named tolerances per precision (as ggml names them): `tight` for results that should agree to a
/// few ulps of accumulated rounding, `loose` for iterative algorithms and long reductions.
template <class T>
struct Tolerance;
template <>
struct Tolerance<double> {
  static constexpr double tight = 1e-12;
  static constexpr double reference = 1e-10;
  static constexpr double loose = 1e-8;
};
template <>
struct Tolerance<float> {
  static constexpr float tight = 1e-5f;
  static constexpr float reference = 1e-4f;
  static constexpr float loose = 1e-3f;
};

/// PyTorch parity: 1e-6 relative in double, 1e-4 in float (inputs cast from the float64 reference).
template <class T>
constexpr double parity_tolerance() {
  return std::is_same_v<T, float> ? 1e-4 : 1e-6;
}

/// The seed of a randomised test: AIMASTERY_TEST_SEED when set, otherwise `fallback`. Printed with the
/// test's output so that a failure can be replayed.
inline std::uint64_t test_seed(std::uint64_t fallback = 20260101) {
  std::uint64_t seed = fallback;
  if (const char* env = std::getenv("AIMASTERY_TEST_SEED")) seed = std::strtoull(env, nullptr, 10);
  MESSAGE("seed = " << seed << " (override with AIMASTERY_TEST_SEED)");
  return seed;
}

/// A matrix with entries drawn uniformly from [-1, 1).
template <class T>
Matrix<T> random_matrix(Index rows, Index cols, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Matrix<T> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(u(rng));
  return m;
}

/// Reads tests/reference/data/<name> (written by tests/reference/make_reference.py).
inline nlohmann::json load_reference(const std::string& name) {
  std::string path = AIMASTERY_REFERENCE_DIR;
  path.append("/").append(name);
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing reference file " + path + " (run tests/reference/make_reference.py)");
  return nlohmann::json::parse(in);
}

/// Path of a bundled dataset in data/.
inline std::string data_path(const std::string& file) { return std::string(AIMASTERY_DATA_DIR) + "/" + file; }

/// The process's peak resident memory in bytes (Linux: VmHWM of /proc/self/status; 0 where it is not
/// reported). With `reset_first`, the peak is first lowered to the current resident size ("5" written to
/// /proc/self/clear_refs), so that the growth from this call to the next measures what ran in between,
/// whatever earlier tests reached.
inline std::int64_t peak_resident_bytes(bool reset_first = false) {
  if (reset_first) std::ofstream("/proc/self/clear_refs") << "5";
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // kB
  return 0;
}

/// JSON number or the strings "inf", "-inf", "nan" (JSON has no literals for them).
template <class T>
T json_number(const nlohmann::json& j) {
  if (j.is_string()) {
    const auto s = j.get<std::string>();
    if (s == "inf") return std::numeric_limits<T>::infinity();
    if (s == "-inf") return -std::numeric_limits<T>::infinity();
    if (s == "nan") return std::numeric_limits<T>::quiet_NaN();
    throw std::runtime_error("json_number: unexpected string " + s);
  }
  return static_cast<T>(j.get<double>());
}

/// A JSON array of rows → Matrix<T>.
template <class T>
Matrix<T> json_matrix(const nlohmann::json& j) {
  const Index rows = static_cast<Index>(j.size());
  const Index cols = rows ? static_cast<Index>(j[0].size()) : 0;
  Matrix<T> m(rows, cols);
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < cols; ++c)
      m(r, c) = json_number<T>(j[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)]);
  return m;
}

/// A JSON array → Vector<T>.
template <class T>
Vector<T> json_vector(const nlohmann::json& j) {
  Vector<T> v(static_cast<Index>(j.size()));
  for (Index i = 0; i < v.size(); ++i) v(i) = json_number<T>(j[static_cast<std::size_t>(i)]);
  return v;
}

/// |a − b| ≤ rel·max(|a|, |b|) + abs, with equal infinities and two NaNs counted as equal.
template <class T>
bool close(T a, T b, T rel, T abs = T(0)) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(a - b) <= rel * std::max(std::abs(a), std::abs(b)) + abs;
}

/// Largest |a − b| / max(|b|_max, tiny) over two equally shaped objects (a relative error of the whole).
template <class A, class B>
double max_relative_error(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<B>& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  const double scale = std::max(b.template cast<double>().cwiseAbs().maxCoeff(), 1e-300);
  return (a.template cast<double>() - b.template cast<double>()).cwiseAbs().maxCoeff() / scale;
}

}  // namespace aimastery::test

/// The expression throws `type` (or a subclass) and its message contains `substring`.
#define CHECK_THROWS_NAMING(expr, type, substring) \
  CHECK_THROWS_WITH_AS(static_cast<void>(expr), doctest::Contains(substring), type)
#define REQUIRE_THROWS_NAMING(expr, type, substring) \
  REQUIRE_THROWS_WITH_AS(static_cast<void>(expr), doctest::Contains(substring), type)
