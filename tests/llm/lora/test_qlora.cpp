// QLoRA: NF4Linear (a frozen NF4 weight dequantised panel by panel inside the products, LoRA on top)
// against a float LinearWithLoRA on the dequantised weights; training moves only A and B and leaves the
// NF4 bytes bit-identical.
#include "aimastery/llm/fine_tuning/apply_lora.hpp"
#include "aimastery/llm/fine_tuning/linear_with_lora.hpp"
#include "aimastery/llm/fine_tuning/nf4_linear.hpp"
#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/losses.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"
#include "aimastery/ml/deep_learning/sgd.hpp"
#include "seeded_normal.hpp"
#include "support.hpp"

using namespace aimastery;
using aimastery::test::seeded_normal;
using aimastery::test::test_seed;

namespace {

/// The Dense layer with `base`'s weight replaced by its NF4 round trip.
Dense<float> dequantized(const Dense<float>& base, const NF4Options& options = qlora_nf4_options) {
  Dense<float> d = base;
  d.weight().value = dequantize_nf4(quantize_nf4(base.weight().value, options));
  return d;
}

}  // namespace

TEST_CASE("NF4Linear equals a float LoRA layer on the dequantised weight, forward and backward") {
  const std::uint64_t seed = test_seed(41);
  // 300 inputs: NF4 blocks of 64 straddle the rows, and 130 outputs make three panels (54, 54, 22 rows).
  Dense<float> base(300, 130, DenseOptions{.seed = seed});
  base.bias().value = seeded_normal<float>(seed + 1, 1, 130);
  const LoRAOptions options{.r = 8, .alpha = 16.0, .seed = seed};
  NF4Linear q(base, options);
  LinearWithLoRA<float> f(dequantized(base), options);
  const Matrix<float> B = seeded_normal<float>(seed + 2, 130, 8) * 0.1f;
  q.lora().B().value = B;
  f.lora().B().value = B;
  const Matrix<float> X = seeded_normal<float>(seed + 3, 17, 300);
  CHECK(test::max_relative_error(q.forward(X), f.forward(X)) <= 1e-5);
  const Matrix<float> G = seeded_normal<float>(seed + 4, 17, 130);
  CHECK(test::max_relative_error(q.backward(G), f.backward(G)) <= 1e-5);
  CHECK(test::max_relative_error(q.lora().A().grad, f.lora().A().grad) <= 1e-5);
  CHECK(test::max_relative_error(q.lora().B().grad, f.lora().B().grad) <= 1e-5);
  CHECK(q.name() == "NF4Linear(300 -> 130, r=8)");
  // The weight's memory: 4 bits + the double-quantised block statistics.
  MESSAGE("NF4 weight: " << q.weight().bits_per_parameter() << " bits per parameter");
  CHECK(q.weight().bits_per_parameter() >= 4.1);
  CHECK(q.weight().bits_per_parameter() <= 4.2);
  const ParameterList<float> p = q.parameters();
  REQUIRE(p.size() == 3);
  CHECK(p[0].name == "base_layer.bias");
  CHECK_FALSE(p[0].trainable);
}

TEST_CASE(
    "a QLoRA training step equals a float LoRA step on the dequantised weights; the NF4 base stays bit-identical") {
  const std::uint64_t seed = test_seed(43);
  const auto network = [&] {
    NeuralNetwork<float> net;
    net.add<Dense<float>>(96, 64, DenseOptions{.seed = seed})
        .add<Activation<float>>(ActivationKind::relu)
        .add<Dense<float>>(64, 10, DenseOptions{.seed = seed + 1});
    return net;
  };
  const LoRAConfig config{.target_modules = {"all-linear"}, .options = {.r = 4, .alpha = 8.0, .seed = 5}};
  NeuralNetwork<float> qlora = network();
  const LoRAReport report = apply_qlora(qlora, config);
  CHECK(report.wrapped == std::vector<std::string>{"0", "2"});
  CHECK(report.trainable_parameters == 4 * (96 + 64) + 4 * (64 + 10));
  CHECK(report.total_parameters == 96 * 64 + 64 + 64 * 10 + 10 + report.trainable_parameters);  // NF4 weights too
  // The float twin: the same layers with the NF4 round trip of their weights.
  NeuralNetwork<float> twin = network();
  for (std::size_t i : {0u, 2u}) {
    auto& dense = dynamic_cast<Dense<float>&>(twin.layer(i));
    dense.weight().value = dequantize_nf4(quantize_nf4(dense.weight().value, qlora_nf4_options));
  }
  apply_lora(twin, config);

  const auto& nf4 = dynamic_cast<NF4Linear&>(qlora.layer(0)).weight();
  const std::vector<std::uint8_t> packed = nf4.packed;
  const std::vector<std::uint8_t> codes = nf4.absmax_codes;
  const Matrix<float> X = seeded_normal<float>(seed + 2, 32, 96);
  IndexVector labels(32);
  for (Index i = 0; i < 32; ++i) labels(i) = i % 10;
  for (auto* net : {&qlora, &twin})
    net->set_loss<CrossEntropyLoss<float>>().set_optimizer<SGD<float>>(SGDOptions<float>{.learning_rate = 0.5f});
  for (int step = 0; step < 3; ++step) {
    const float a = qlora.train_on_batch(X, labels);
    const float b = twin.train_on_batch(X, labels);
    CAPTURE(step);
    CHECK(a == doctest::Approx(b).epsilon(1e-5));
  }
  for (std::size_t i : {0u, 2u}) {
    const auto& q = dynamic_cast<NF4Linear&>(qlora.layer(i)).lora();
    const auto& f = dynamic_cast<LinearWithLoRA<float>&>(twin.layer(i)).lora();
    CHECK(test::max_relative_error(q.A().value, f.A().value) <= 1e-5);
    CHECK(test::max_relative_error(q.B().value, f.B().value) <= 1e-5);
    CHECK_FALSE(q.B().value.isZero(0));  // it trained
  }
  CHECK(nf4.packed == packed);
  CHECK(nf4.absmax_codes == codes);
}

TEST_CASE("NF4Linear and apply_qlora: bad input") {
  NeuralNetwork<float> net;
  net.add<Dense<float>>(8, 4).add<Activation<float>>(ActivationKind::relu);
  CHECK_THROWS_NAMING(apply_qlora(net, {.target_modules = {"0"}, .options = {.r = 5}}), InvalidArgument,
                      "apply_qlora: layer 0 Dense(8 -> 4): LoRALayer: rank r must be in [1, min(in, out)] = [1, 4]");
  CHECK_THROWS_NAMING(apply_qlora(net, {.target_modules = {"fc1"}}), InvalidArgument,
                      "'fc1' matches no layer; the network's modules are: 0 Dense(8 -> 4), 1 Activation(relu)");
  CHECK(net.layer(0).name() == "Dense(8 -> 4)");
  NF4Linear layer(Dense<float>(8, 4), {.r = 2});
  CHECK_THROWS_NAMING(layer.forward(Matrix<float>::Ones(3, 9)), InvalidArgument, "takes 8 features");
  CHECK_THROWS_NAMING(layer.backward(Matrix<float>::Ones(3, 4)), InvalidArgument, "called before forward");
}
