#pragma once
// Shared helpers of the llm.attention tests: tensors and masks from the PyTorch reference files, parity
// checks with the named tolerances, and the central-difference check of sequence layers.

#include <functional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/attention/attention_mask.hpp"
#include "aimastery/ml/deep_learning/gradient_check.hpp"
#include "support.hpp"

namespace aimastery::test {

/// Plain path against tiled path: 1e-12 in double, 1e-5 in float.
template <class T>
constexpr double path_tolerance() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}

/// {"shape": [...], "data": [...]} → Tensor<T>.
template <class T>
Tensor<T> json_tensor(const nlohmann::json& j) {
  typename Tensor<T>::Shape shape;
  for (const auto& d : j["shape"]) shape.push_back(d.get<Index>());
  Tensor<T> t(shape);
  const auto& data = j["data"];
  REQUIRE(static_cast<Index>(data.size()) == t.size());
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = json_number<T>(data[static_cast<std::size_t>(i)]);
  return t;
}

/// {"shape": [r, c], "data": [...]} (booleans) → BoolMatrix.
inline BoolMatrix json_bool_matrix(const nlohmann::json& j) {
  const Index rows = j["shape"][0].get<Index>(), cols = j["shape"][1].get<Index>();
  BoolMatrix m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = j["data"][static_cast<std::size_t>(i)].get<bool>();
  return m;
}

/// A boolean mask of any rank from {"shape", "data"}.
template <class T>
AttentionMask<T> json_boolean_mask(const nlohmann::json& j) {
  std::vector<Index> shape;
  for (const auto& d : j["shape"]) shape.push_back(d.get<Index>());
  std::vector<bool> data;
  for (const auto& v : j["data"]) data.push_back(v.get<bool>());
  return AttentionMask<T>::boolean(shape, data);
}

/// Largest |ours − reference| over max |reference| (relative error of the whole tensor).
template <class T>
double tensor_error(const Tensor<T>& ours, const Tensor<double>& reference) {
  REQUIRE(ours.shape() == reference.shape());
  const auto a = ours.matrix().template cast<double>();
  const auto b = reference.matrix();
  const double scale = std::max(b.cwiseAbs().maxCoeff(), 1e-300);
  return (a - b).cwiseAbs().maxCoeff() / scale;
}

template <class T>
void check_tensor_parity(const Tensor<T>& ours, const nlohmann::json& expected, const std::string& what) {
  const Tensor<double> reference = json_tensor<double>(expected);
  INFO(what << ": ours " << Tensor<T>::shape_string(ours.shape()) << ", PyTorch "
            << Tensor<double>::shape_string(reference.shape()));
  REQUIRE(ours.shape() == reference.shape());
  CHECK(tensor_error(ours, reference) <= parity_tolerance<T>());
}

/// A parameter's value and gradient against the reference (biases: PyTorch (n) vs ours 1 × n).
template <class T>
void check_parameter(const Parameter<T>& p, const nlohmann::json& value, const nlohmann::json& grad,
                     const std::string& name) {
  const Tensor<double> v = json_tensor<double>(value);
  const Tensor<double> g = json_tensor<double>(grad);
  INFO(name << ": ours " << shape_of(p.value) << ", PyTorch " << Tensor<double>::shape_string(v.shape()));
  REQUIRE(p.value.size() == v.size());
  const Eigen::Map<const Matrix<double>> gm(g.data(), p.grad.rows(), p.grad.cols());
  CHECK(max_relative_error(p.grad.template cast<double>(), gm) <= parity_tolerance<T>());
}

/// Loads PyTorch's parameters (by state_dict name) into a parameter list; every name must be found.
template <class T>
void load_parameters(const ParameterList<T>& list, const nlohmann::json& params) {
  REQUIRE(list.size() == params.size());
  for (const auto& entry : list) {
    INFO("parameter " << entry.name);
    REQUIRE(params.contains(entry.name));
    const Tensor<T> t = json_tensor<T>(params[entry.name]);
    REQUIRE(t.size() == entry.parameter->value.size());
    entry.parameter->value =
        Eigen::Map<const Matrix<T>>(t.data(), entry.parameter->value.rows(), entry.parameter->value.cols());
    entry.parameter->zero_grad();
  }
}

template <class T>
Tensor<T> random_tensor(typename Tensor<T>::Shape shape, std::mt19937_64& rng, double scale = 1.0) {
  Tensor<T> t(std::move(shape));
  std::uniform_real_distribution<double> u(-scale, scale);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(u(rng));
  return t;
}

/// Central differences of f = Σ G ⊙ forward(x) against backward(G), for the input x and every trainable
/// parameter of `params` (whose gradients are reset first). forward and backward are the layer's.
inline GradientCheckResult check_sequence_gradients(
    const std::function<Tensor<double>(const Tensor<double>&)>& forward,
    const std::function<Tensor<double>(const Tensor<double>&)>& backward, ParameterList<double> params,
    const Tensor<double>& x, std::uint64_t seed) {
  for (auto& p : params) p.parameter->zero_grad();
  const Tensor<double> y = forward(x);
  std::mt19937_64 rng(seed);
  const Tensor<double> G = random_tensor<double>(y.shape(), rng);
  const Tensor<double> dx = backward(G);
  Parameter<double> input(Matrix<double>(x.matrix()));
  input.grad = dx.matrix();
  params.insert(params.begin(), NamedParameter<double>{"input", &input, true});
  Tensor<double> probe = x;
  const auto objective = [&] {
    probe.matrix() = input.value;
    return (G.matrix().array() * forward(probe).matrix().array()).sum();
  };
  return gradient_check<double>(objective, params, {.step = 1e-6});
}

}  // namespace aimastery::test
