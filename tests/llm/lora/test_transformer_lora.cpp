// LoRA on a TransformerBlock's projections (the query/key/value slices of the stacked in_proj_weight,
// out_proj, linear1, linear2): identity at the start, gradients equal central differences, training
// moves only A and B, and the frozen weights come back bit for bit.
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/llm/attention/transformer_block.hpp"
#include "aimastery/llm/fine_tuning/transformer_block_with_lora.hpp"
#include "aimastery/ml/deep_learning/adam.hpp"
#include "aimastery/ml/deep_learning/gradient_check.hpp"
#include "support.hpp"

using namespace aimastery;
using aimastery::test::test_seed;

namespace {

template <class T>
Tensor<T> uniform_tensor(typename Tensor<T>::Shape shape, std::uint64_t seed) {
  RandomEngine rng(seed);
  Tensor<T> t(shape);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(2.0 * detail::uniform_open01(rng) - 1.0);
  return t;
}

template <class T>
TransformerBlock<T> block(std::uint64_t seed) {
  return TransformerBlock<T>(8, 2, {.dim_feedforward = 12, .dropout = 0.0, .seed = seed});
}

}  // namespace

TEST_CASE_TEMPLATE("TransformerBlockWithLoRA starts equal to its block and freezes it", T, float, double) {
  const std::uint64_t seed = test_seed(3);
  TransformerBlock<T> plain = block<T>(seed);
  TransformerBlockWithLoRA<T> adapted(block<T>(seed), {.target_modules = {"query", "value"}, .options = {.r = 2}});
  CHECK(adapted.targets() == std::vector<std::string>{"self_attn.query", "self_attn.value"});
  const Tensor<T> x = uniform_tensor<T>({2, 5, 8}, seed + 1);
  const Tensor<T> expected = plain.forward(x);
  const Tensor<T> got = adapted.forward(x);
  CHECK(got.matrix() == expected.matrix());
  const ParameterList<T> p = adapted.parameters();
  Index trainable = 0, frozen = 0;
  for (const auto& e : p) (e.trainable ? trainable : frozen) += e.parameter->value.size();
  CHECK(trainable == 2 * 2 * (8 + 8));
  CHECK(frozen == 3 * 64 + 24 + 64 + 8 + 12 * 8 + 12 + 8 * 12 + 8 + 4 * 8);
  CHECK(p.back().name == "self_attn.value.lora_B.weight");
}

TEST_CASE("TransformerBlockWithLoRA: the LoRA gradients equal central differences (double)") {
  const std::uint64_t seed = test_seed(5);
  for (const char* target : {"self_attn.query", "self_attn.key", "self_attn.value", "out_proj", "linear1", "linear2"}) {
    CAPTURE(target);
    TransformerBlockWithLoRA<double> adapted(block<double>(seed),
                                             {.target_modules = {target}, .options = {.r = 2, .alpha = 3.0}});
    const std::string name = adapted.targets().front();
    LoRALayer<double>& lora = adapted.lora(name);
    RandomEngine rng(seed + 7);
    for (Index i = 0; i < lora.B().value.size(); ++i) lora.B().value.data()[i] = detail::standard_normal(rng);
    const Tensor<double> x = uniform_tensor<double>({2, 4, 8}, seed + 1);
    const Tensor<double> G = uniform_tensor<double>({2, 4, 8}, seed + 2);
    ParameterList<double> variables;
    for (const auto& e : adapted.parameters())
      if (e.trainable) {
        e.parameter->zero_grad();
        variables.push_back(e);
      }
    (void)adapted.forward(x, {}, true);
    (void)adapted.backward(G);
    const auto objective = [&] { return (adapted.forward(x, {}, true).matrix().array() * G.matrix().array()).sum(); };
    const GradientCheckResult r = gradient_check<double>(objective, variables);
    INFO(r.worst_variable, " ", r.analytic, " vs ", r.numeric);
    CHECK(r.passed(1e-6));
    for (const auto& e : adapted.parameters())
      if (!e.trainable) CHECK(e.parameter->grad.isZero(0));
  }
}

TEST_CASE("TransformerBlockWithLoRA trains A and B only; the block's weights come back bit for bit") {
  const std::uint64_t seed = test_seed(9);
  TransformerBlock<double> original = block<double>(seed);
  TransformerBlockWithLoRA<double> adapted(block<double>(seed),
                                           {.target_modules = {"all-linear"}, .options = {.r = 2, .alpha = 4.0}});
  CHECK(adapted.targets().size() == 6);
  const Tensor<double> x = uniform_tensor<double>({3, 4, 8}, seed + 1);
  const Tensor<double> y = uniform_tensor<double>({3, 4, 8}, seed + 2);
  Adam<double> adam(AdamOptions<double>{.learning_rate = 0.01});
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    const Tensor<double> out = adapted.forward(x);
    Tensor<double> grad(out.shape());
    grad.matrix() = (out.matrix() - y.matrix()) * (2.0 / static_cast<double>(out.size()));
    const double loss = (out.matrix() - y.matrix()).squaredNorm() / static_cast<double>(out.size());
    (step == 0 ? first : last) = loss;
    adam.zero_grad(adapted.parameters());
    (void)adapted.backward(grad);
    adam.step(adapted.parameters());
  }
  CHECK(last < first);
  const Matrix<double> W0 = original.self_attn().in_proj_weight().value;
  CHECK(adapted.base_weight("self_attn.key") == W0.middleRows(8, 8));
  TransformerBlock<double> back = std::move(adapted).release_base();
  const ParameterList<double> a = back.parameters(), b = original.parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    CAPTURE(a[k].name);
    CHECK(a[k].parameter->value == b[k].parameter->value);
  }
}

TEST_CASE("TransformerBlockWithLoRA: bad input, and the caller's block as it was") {
  TransformerBlock<float> b = block<float>(1);
  const Matrix<float> W = b.self_attn().in_proj_weight().value;
  CHECK_THROWS_NAMING(TransformerBlockWithLoRA<float>(std::move(b), {.target_modules = {"q_proj"}}), InvalidArgument,
                      "target module 'q_proj' matches no projection; the block's are: self_attn.query, self_attn.key");
  CHECK_THROWS_NAMING(TransformerBlockWithLoRA<float>(std::move(b), {.target_modules = {"value"}, .options = {.r = 9}}),
                      InvalidArgument,
                      "target self_attn.value (8 -> 8): LoRALayer: rank r must be in [1, min(in, out)]");
  CHECK_THROWS_NAMING(
      TransformerBlockWithLoRA<float>(std::move(b), {.target_modules = {"value"}, .options = {.r = 2, .dropout = 0.1}}),
      InvalidArgument, "lora_dropout must be 0 on a TransformerBlock");
  CHECK_THROWS_NAMING(
      TransformerBlockWithLoRA<float>(std::move(b), {.target_modules = {"value"}, .options = {.r = 2, .alpha = 0.0}}),
      InvalidArgument, "alpha must be finite and > 0");
  CHECK(b.self_attn().in_proj_weight().value == W);  // not taken over
  TransformerBlockWithLoRA<float> adapted(std::move(b), {.target_modules = {"value"}, .options = {.r = 2}});
  CHECK_THROWS_NAMING(adapted.lora("self_attn.query"), InvalidArgument, "no LoRA update on 'self_attn.query'");
}
