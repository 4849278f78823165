// LoRALayer, LinearWithLoRA, AdapterLayer and apply_lora: PEFT's initialisation and scale, gradients by
// central differences, exact merge/unmerge, a frozen base under the optimisers, and bad input.
#include <set>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/llm/fine_tuning/adapter_layer.hpp"
#include "aimastery/llm/fine_tuning/apply_lora.hpp"
#include "aimastery/llm/fine_tuning/linear_with_lora.hpp"
#include "aimastery/llm/fine_tuning/lora_layer.hpp"
#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/adam.hpp"
#include "aimastery/ml/deep_learning/gradient_check.hpp"
#include "aimastery/ml/deep_learning/losses.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"
#include "aimastery/ml/deep_learning/sgd.hpp"
#include "support.hpp"

using namespace aimastery;
using aimastery::test::test_seed;
using aimastery::test::Tolerance;

namespace {

template <class T>
Matrix<T> uniform(Index rows, Index cols, std::uint64_t seed) {
  RandomEngine rng(seed);
  Matrix<T> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(2.0 * detail::uniform_open01(rng) - 1.0);
  return m;
}

/// 6 -> 16 -> ReLU -> 12 -> Tanh -> 3, as the reference model of gen_llm_lora.py.
template <class T>
NeuralNetwork<T> small_mlp(std::uint64_t seed) {
  NeuralNetwork<T> net;
  net.template add<Dense<T>>(6, 16, DenseOptions{.seed = seed})
      .template add<Activation<T>>(ActivationKind::relu)
      .template add<Dense<T>>(16, 12, DenseOptions{.seed = seed + 1})
      .template add<Activation<T>>(ActivationKind::tanh)
      .template add<Dense<T>>(12, 3, DenseOptions{.seed = seed + 2});
  return net;
}

template <class T>
std::vector<std::string> names_of(const NeuralNetwork<T>& net) {
  std::vector<std::string> names;
  for (const auto& p : net.parameters()) names.push_back(p.name + (p.trainable ? "" : " (frozen)"));
  return names;
}

}  // namespace

TEST_CASE_TEMPLATE("LoRALayer: A is U(-1/sqrt(in), 1/sqrt(in)), B is zero, the scale is alpha/r or alpha/sqrt(r)", T,
                   float, double) {
  const std::uint64_t seed = test_seed(5);
  LoRALayer<T> lora(400, 30, {.r = 8, .alpha = 16.0, .seed = seed});
  const double bound = 1.0 / std::sqrt(400.0);
  CHECK(lora.A().value.rows() == 8);
  CHECK(lora.A().value.cols() == 400);
  CHECK(static_cast<double>(lora.A().value.cwiseAbs().maxCoeff()) <= bound);
  // A uniform on ±b has variance b²/3: 3200 draws estimate it within a few percent.
  const double variance = static_cast<double>(lora.A().value.array().square().mean());
  CHECK(variance == doctest::Approx(bound * bound / 3.0).epsilon(0.1));
  CHECK(lora.B().value.rows() == 30);
  CHECK(lora.B().value.cols() == 8);
  CHECK(lora.B().value.isZero(0));
  CHECK(lora.scale() == T(2));
  const LoRALayer<T> rs(400, 30, {.r = 4, .alpha = 16.0, .use_rslora = true});
  CHECK(rs.scale() == T(8));  // 16/√4
  // The same seed, the same A; another seed, another A.
  CHECK(LoRALayer<T>(400, 30, {.r = 8, .alpha = 16.0, .seed = seed}).A().value == lora.A().value);
  CHECK(LoRALayer<T>(400, 30, {.r = 8, .alpha = 16.0, .seed = seed + 1}).A().value != lora.A().value);
}

TEST_CASE_TEMPLATE("LinearWithLoRA starts equal to its base, freezes it and names its parameters as PEFT", T, float,
                   double) {
  Dense<T> dense(7, 5, DenseOptions{.seed = 3});
  dense.bias().value = uniform<T>(1, 5, 4);
  const Matrix<T> X = uniform<T>(9, 7, 6);
  Dense<T> reference = dense;
  const Matrix<T> expected = reference.forward(X);
  LinearWithLoRA<T> layer(dense, {.r = 3, .alpha = 6.0, .seed = 1});
  CHECK(layer.forward(X) == expected);  // B = 0: exactly the base
  const ParameterList<T> p = layer.parameters();
  REQUIRE(p.size() == 4);
  CHECK(p[0].name == "base_layer.weight");
  CHECK_FALSE(p[0].trainable);
  CHECK(p[1].name == "base_layer.bias");
  CHECK_FALSE(p[1].trainable);
  CHECK(p[2].name == "lora_A.weight");
  CHECK(p[2].trainable);
  CHECK(p[3].name == "lora_B.weight");
  CHECK(p[3].trainable);
  CHECK(layer.name() == "LinearWithLoRA(7 -> 5, r=3)");
  // With B ≠ 0 the output is the base plus s·X Aᵀ Bᵀ.
  layer.lora().B().value = uniform<T>(5, 3, 8);
  const Matrix<T> delta = (X * layer.lora().A().value.transpose() * layer.lora().B().value.transpose()) * T(2);
  CHECK(test::max_relative_error(layer.forward(X), Matrix<T>(expected + delta)) <= Tolerance<T>::tight);
}

TEST_CASE("LinearWithLoRA, LoRALayer and AdapterLayer: gradients equal central differences (double)") {
  const std::uint64_t seed = test_seed(17);
  const Matrix<double> X = uniform<double>(6, 5, seed);
  SUBCASE("LinearWithLoRA, no dropout") {
    LinearWithLoRA<double> layer(Dense<double>(5, 4, DenseOptions{.seed = seed}), {.r = 2, .alpha = 3.0, .seed = seed});
    layer.lora().B().value = uniform<double>(4, 2, seed + 1);
    const GradientCheckResult r = gradient_check(layer, X);
    INFO(r.worst_variable, " ", r.analytic, " vs ", r.numeric);
    CHECK(r.passed(1e-7));
    CHECK(layer.base().weight().grad.isZero(0));  // frozen: no gradient accumulated
  }
  SUBCASE("LinearWithLoRA with dropout 0.3 and rsLoRA (the mask held fixed)") {
    LinearWithLoRA<double> layer(Dense<double>(5, 4, DenseOptions{.seed = seed}),
                                 {.r = 3, .alpha = 2.0, .dropout = 0.3, .use_rslora = true, .seed = seed});
    layer.lora().B().value = uniform<double>(4, 3, seed + 2);
    const GradientCheckResult r = gradient_check(layer, X, {.before_forward = [&] { layer.lora().reseed(99); }});
    INFO(r.worst_variable, " ", r.analytic, " vs ", r.numeric);
    CHECK(r.passed(1e-7));
    // Dropout acts on the LoRA path only: fresh masks in training, none in evaluation.
    layer.train();
    CHECK(layer.forward(X) != layer.forward(X));
    layer.lora().B().value.setZero();
    CHECK(layer.forward(X) == layer.forward(X));  // with B = 0 the masks change nothing: the base has none
    layer.lora().B().value = uniform<double>(4, 3, seed + 2);
    layer.eval();
    CHECK(layer.forward(X) == layer.forward(X));
  }
  SUBCASE("AdapterLayer (gelu), with a non-zero up-projection") {
    AdapterLayer<double> adapter(5, {.bottleneck = 2, .activation = ActivationKind::gelu, .seed = seed});
    adapter.up().weight().value = uniform<double>(5, 2, seed + 3);
    adapter.up().bias().value = uniform<double>(1, 5, seed + 4);
    const GradientCheckResult r = gradient_check(adapter, X);
    INFO(r.worst_variable, " ", r.analytic, " vs ", r.numeric);
    CHECK(r.passed(1e-7));
  }
}

TEST_CASE("merge and unmerge: the same outputs, and W restored to 1e-12 (double)") {
  const std::uint64_t seed = test_seed(23);
  LinearWithLoRA<double> layer(Dense<double>(12, 10, DenseOptions{.seed = seed}), {.r = 4, .alpha = 8.0, .seed = seed});
  layer.lora().B().value = uniform<double>(10, 4, seed + 1);
  const Matrix<double> W = layer.base().weight().value;
  const Matrix<double> X = uniform<double>(7, 12, seed + 2);
  const Matrix<double> before = layer.forward(X);
  layer.merge();
  CHECK(layer.merged());
  CHECK(layer.name() == "LinearWithLoRA(12 -> 10, r=4, merged)");
  CHECK((layer.base().weight().value - (W + layer.lora().delta_weight())).cwiseAbs().maxCoeff() == 0.0);
  CHECK(test::max_relative_error(layer.forward(X), before) <= 1e-12);
  CHECK_THROWS_NAMING(layer.merge(), InvalidArgument, "already merged");
  CHECK_THROWS_NAMING(layer.backward(Matrix<double>::Ones(7, 10)), InvalidArgument, "merged");
  layer.unmerge();
  CHECK((layer.base().weight().value - W).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK(test::max_relative_error(layer.forward(X), before) <= 1e-12);
  CHECK_THROWS_NAMING(layer.unmerge(), InvalidArgument, "not merged");
  // merge_and_unload: a plain Dense with ΔW folded in.
  LinearWithLoRA<double> copy = layer;
  Dense<double> merged = std::move(copy).merge_and_unload();
  CHECK(test::max_relative_error(merged.forward(X), before) <= 1e-12);
}

TEST_CASE("AdapterLayer starts as the identity and learns through its bottleneck") {
  AdapterLayer<float> adapter(8, {.bottleneck = 3, .seed = 2});
  const Matrix<float> X = uniform<float>(4, 8, 1);
  CHECK(adapter.forward(X) == X);
  CHECK(adapter.name() == "AdapterLayer(8 -> 3 -> 8)");
  const ParameterList<float> p = adapter.parameters();
  REQUIRE(p.size() == 4);
  CHECK(p[0].name == "adapter_down.weight");
  CHECK(p[3].name == "adapter_up.bias");
  CHECK(adapter.up().weight().value.isZero(0));
  CHECK_FALSE(adapter.down().weight().value.isZero(0));
  CHECK_THROWS_NAMING(AdapterLayer<float>(8, {.bottleneck = 0}), InvalidArgument,
                      "bottleneck must be in [1, features]");
  CHECK_THROWS_NAMING(AdapterLayer<float>(8, {.bottleneck = 9}), InvalidArgument, "got 9");
  CHECK_THROWS_NAMING(adapter.forward(Matrix<float>::Ones(2, 7)), InvalidArgument, "takes 8 features");
}

TEST_CASE_TEMPLATE("apply_lora wraps the targets, reports the counts, and the optimisers leave the base untouched", T,
                   float, double) {
  NeuralNetwork<T> net = small_mlp<T>(31);
  const Matrix<T> X = uniform<T>(20, 6, 2);
  const Matrix<T> Y = uniform<T>(20, 3, 3);
  const Matrix<T> before = net.predict(X);
  const LoRAReport report = apply_lora(net, {.target_modules = {"0", "4"}, .options = {.r = 2, .alpha = 4.0}});
  CHECK(report.wrapped == std::vector<std::string>{"0", "4"});
  // base 6·16+16 + 16·12+12 + 12·3+3 = 355; LoRA 2·(6+16) + 2·(12+3) = 74
  CHECK(report.trainable_parameters == 74 + 16 * 12 + 12);  // layer 2 is not wrapped: still trainable
  CHECK(report.total_parameters == 355 + 74);
  CHECK(report.trainable_percent() == doctest::Approx(100.0 * 278 / 429));
  CHECK(net.layer(0).name() == "LinearWithLoRA(6 -> 16, r=2)");
  CHECK(net.predict(X) == before);  // B = 0
  const std::vector<std::string> names = names_of(net);
  CHECK(names.front() == "0.base_layer.weight (frozen)");
  CHECK(std::find(names.begin(), names.end(), "4.lora_B.weight") != names.end());

  // Freeze everything but the LoRA parameters, then train: the frozen tensors stay bit-identical.
  apply_lora(net, {.target_modules = {"2"}, .options = {.r = 2, .alpha = 4.0}});
  CHECK(net.parameter_count(true) == 2 * 74 - 2 * (6 + 16) - 2 * (12 + 3) + 2 * (16 + 12));
  std::vector<Matrix<T>> frozen, trainable;
  for (const auto& p : net.parameters()) (p.trainable ? trainable : frozen).push_back(p.parameter->value);
  net.template set_loss<MSELoss<T>>().template set_optimizer<Adam<T>>(AdamOptions<T>{.learning_rate = T(0.01)});
  const History<T> history = net.fit(X, Y, {.epochs = 30, .batch_size = 5, .seed = 4});
  CHECK(history.loss.back() < history.loss.front());
  std::size_t f = 0, t = 0;
  for (const auto& p : net.parameters()) {
    if (p.trainable)
      CHECK(p.parameter->value != trainable[t++]);
    else
      CHECK(p.parameter->value == frozen[f++]);
  }
  // merge_and_unload gives a plain network with the same outputs.
  const Matrix<T> adapted = net.predict(X);
  CHECK(merge_and_unload(net) == std::vector<std::string>{"0", "2", "4"});
  CHECK(net.layer(2).name() == "Dense(16 -> 12)");
  CHECK(test::max_relative_error(net.predict(X), adapted) <= Tolerance<T>::reference);
}

TEST_CASE("apply_lora's bad input: clear messages, and the network as it was") {
  NeuralNetwork<double> net = small_mlp<double>(7);
  const std::vector<std::string> names = names_of(net);
  const Matrix<double> X = uniform<double>(3, 6, 1);
  const Matrix<double> out = net.predict(X);
  const auto unchanged = [&] {
    CHECK(names_of(net) == names);
    CHECK(net.predict(X) == out);
  };
  CHECK_THROWS_NAMING(apply_lora(net, {.target_modules = {"query"}}), InvalidArgument,
                      "target module 'query' matches no layer; the network's modules are: 0 Dense(6 -> 16), 1 "
                      "Activation(relu), 2 Dense(16 -> 12)");
  unchanged();
  CHECK_THROWS_NAMING(apply_lora(net, {.target_modules = {"0", "value"}}), InvalidArgument, "'value' matches no layer");
  unchanged();
  CHECK_THROWS_NAMING(apply_lora(net, {}), InvalidArgument, "target_modules is empty");
  CHECK_THROWS_NAMING(apply_lora(net, {.target_modules = {"1"}}), InvalidArgument,
                      "Activation(relu), which is not a Dense");
  CHECK_THROWS_NAMING(apply_lora(net, {.target_modules = {"0"}, .options = {.r = 0}}), InvalidArgument,
                      "rank r must be in [1, min(in, out)] = [1, 6] for a 6 -> 16 layer, got 0");
  // r = 4 fits layers 0 and 2 but not layer 4 (12 -> 3): nothing is wrapped.
  CHECK_THROWS_NAMING(apply_lora(net, {.target_modules = {"all-linear"}, .options = {.r = 4}}), InvalidArgument,
                      "layer 4 Dense(12 -> 3)");
  unchanged();
  CHECK_THROWS_NAMING(apply_lora(net, {.target_modules = {"0"}, .options = {.r = 2, .alpha = 0.0}}), InvalidArgument,
                      "alpha must be finite and > 0, got 0");
  CHECK_THROWS_NAMING(apply_lora(net, {.target_modules = {"0"}, .options = {.r = 2, .alpha = -2.0}}), InvalidArgument,
                      "alpha");
  CHECK_THROWS_NAMING(apply_lora(net, {.target_modules = {"0"}, .options = {.r = 2, .dropout = 1.0}}), InvalidArgument,
                      "dropout must be in [0, 1)");
  unchanged();
  // Wrapping a layer twice: it is not a Dense any more.
  apply_lora(net, {.target_modules = {"0"}, .options = {.r = 2}});
  const std::vector<std::string> wrapped = names_of(net);
  CHECK_THROWS_NAMING(apply_lora(net, {.target_modules = {"0"}, .options = {.r = 2}}), InvalidArgument,
                      "(it already has LoRA)");
  CHECK(names_of(net) == wrapped);
  // The layer classes themselves.
  CHECK_THROWS_NAMING(LoRALayer<double>(5, 3, {.r = 4}), InvalidArgument,
                      "LoRALayer: rank r must be in [1, min(in, out)] = [1, 3]");
  CHECK_THROWS_NAMING(LinearWithLoRA<double>(Dense<double>(5, 3), {.r = 0}), InvalidArgument, "got 0");
  CHECK_THROWS_NAMING(LinearWithLoRA<double>(Dense<double>(5, 3), LoRALayer<double>(4, 3, {.r = 2})), InvalidArgument,
                      "LoRA(4 -> 3, r=2) does not fit Dense(5 -> 3)");
  LinearWithLoRA<double> layer(Dense<double>(5, 3), {.r = 2});
  CHECK_THROWS_NAMING(layer.forward(Matrix<double>::Ones(2, 4)), InvalidArgument, "takes 5 features");
  CHECK_THROWS_NAMING(layer.backward(Matrix<double>::Ones(2, 3)), InvalidArgument, "called before forward");
  (void)layer.forward(Matrix<double>::Ones(2, 5));
  CHECK_THROWS_NAMING(layer.backward(Matrix<double>::Ones(2, 4)), InvalidArgument, "grad_output is 2x4");
}
