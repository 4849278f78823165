// LoRA on a TransformerBlock's projections (the query/key/value slices of the stacked in_proj_weight,
// out_proj, linear1, linear2): identity at the start, gradients equal central differences, training
// moves only A and B, the frozen weights come back bit for bit; with lora_dropout, PEFT's unfolded path
// y = W₀x + b + s·B A·D(x) (its formula with the reported masks, its mean, its gradients).
#include <Eigen/LU>

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
      TransformerBlockWithLoRA<float>(std::move(b), {.target_modules = {"value"}, .options = {.r = 2, .dropout = 1.0}}),
      InvalidArgument, "TransformerBlockWithLoRA: lora_dropout must be in [0, 1), got 1.0");
  CHECK_THROWS_NAMING(TransformerBlockWithLoRA<float>(
                          std::move(b), {.target_modules = {"value"}, .options = {.r = 2, .dropout = -0.1}}),
                      InvalidArgument, "lora_dropout must be in [0, 1), got -0.1");
  CHECK_THROWS_NAMING(
      TransformerBlockWithLoRA<float>(std::move(b), {.target_modules = {"value"}, .options = {.r = 2, .alpha = 0.0}}),
      InvalidArgument, "alpha must be finite and > 0");
  CHECK(b.self_attn().in_proj_weight().value == W);  // not taken over
  TransformerBlockWithLoRA<float> adapted(std::move(b), {.target_modules = {"value"}, .options = {.r = 2}});
  CHECK_THROWS_NAMING(adapted.lora("self_attn.query"), InvalidArgument, "no LoRA update on 'self_attn.query'");
}

// lora_dropout > 0: PEFT's y = W₀x + b + s·B A·D(x), dropout on the LoRA input only, in training only.
namespace {

/// Every B of the block's updates drawn N(0, 1) (a fresh update has B = 0: dropout would change nothing).
void randomise_b(TransformerBlockWithLoRA<double>& adapted, std::uint64_t seed) {
  RandomEngine rng(seed);
  for (const std::string& name : adapted.targets()) {
    Matrix<double>& B = adapted.lora(name).B().value;
    for (Index i = 0; i < B.size(); ++i) B.data()[i] = detail::standard_normal(rng);
  }
}

const Matrix<double>& parameter(TransformerBlock<double>& b, const std::string& name) {
  for (const auto& p : b.parameters())
    if (p.name == name) return p.parameter->value;
  FAIL("no parameter " << name);
  throw;
}

}  // namespace

TEST_CASE("TransformerBlockWithLoRA with lora_dropout: training output is PEFT's formula with the reported masks") {
  const std::uint64_t seed = test_seed(21);
  const double p = 0.4;
  TransformerBlock<double> plain = block<double>(seed);
  plain.eval();
  TransformerBlockWithLoRA<double> adapted(
      block<double>(seed), {.target_modules = {"query", "linear2"}, .options = {.r = 2, .alpha = 3.0, .dropout = p}});
  randomise_b(adapted, seed + 1);
  REQUIRE(adapted.unfolded());
  const Tensor<double> x = uniform_tensor<double>({2, 5, 8}, seed + 2);
  const Tensor<double> y = adapted.forward(x);

  const LoRALayer<double>& q = adapted.lora("self_attn.query");
  const LoRALayer<double>& l2 = adapted.lora("linear2");
  const Matrix<double>& Mq = q.dropout_mask();
  const Matrix<double>& M2 = l2.dropout_mask();
  REQUIRE(Mq.rows() == 10);
  REQUIRE(Mq.cols() == 8);
  REQUIRE(M2.rows() == 10);
  REQUIRE(M2.cols() == 12);
  for (const Matrix<double>* M : {&Mq, &M2})
    for (Index i = 0; i < M->size(); ++i) CHECK((M->data()[i] == 0.0 || M->data()[i] == 1.0 / (1.0 - p)));
  CHECK(Mq.isZero(0) == false);
  CHECK((Mq.array() == 0.0).count() > 0);  // 80 draws at p = 0.4: some dropped

  // The reference, from the plain block's parts. Query: Q = X W_qᵀ + b_q + s (X ⊙ M) Aᵀ Bᵀ, which is the
  // plain projection of X' = X + Δ W_q⁻ᵀ, Δ = s (X ⊙ M) Aᵀ Bᵀ.
  const Matrix<double> X = x.matrix();
  const Matrix<double> delta_q =
      q.scale() * (X.array() * Mq.array()).matrix() * q.A().value.transpose() * q.B().value.transpose();
  const Matrix<double> Wq = parameter(plain, "self_attn.in_proj_weight").topRows(8);
  Tensor<double> x_query({2, 5, 8});
  x_query.matrix() = X + Wq.partialPivLu().solve(delta_q.transpose()).transpose();
  // Post-norm: h = LN₁(x + MHA(x', x, x)); FFN(h) = W₂ z + b₂ + s (z ⊙ M₂) A₂ᵀ B₂ᵀ, z = relu(W₁ h + b₁);
  // y = LN₂(h + FFN(h)).
  Tensor<double> r1 = x;
  r1.matrix() += plain.self_attn().forward(x_query, x, x).matrix();
  const Tensor<double> h = plain.norm1().forward(r1);
  Matrix<double> z = h.matrix() * parameter(plain, "linear1.weight").transpose();
  z.rowwise() += parameter(plain, "linear1.bias").row(0);
  z = z.cwiseMax(0.0);
  Tensor<double> r2 = h;
  r2.matrix() += plain.feed_forward().forward(h).matrix() +
                 l2.scale() * (z.array() * M2.array()).matrix() * l2.A().value.transpose() * l2.B().value.transpose();
  const Tensor<double> expected = plain.norm2().forward(r2);
  CHECK((y.matrix() - expected.matrix()).cwiseAbs().maxCoeff() <= 1e-12);

  // A second forward draws fresh masks; reseeding a layer's generator replays its masks.
  const Matrix<double> first_mask = Mq;
  (void)adapted.forward(x);
  CHECK(adapted.lora("self_attn.query").dropout_mask() != first_mask);
}

TEST_CASE("TransformerBlockWithLoRA with lora_dropout: evaluation, and dropout 0, take the folded path exactly") {
  const std::uint64_t seed = test_seed(22);
  const Tensor<double> x = uniform_tensor<double>({2, 4, 8}, seed + 2);
  TransformerBlockWithLoRA<double> dropped(block<double>(seed),
                                           {.target_modules = {"all-linear"}, .options = {.r = 2, .dropout = 0.3}});
  TransformerBlockWithLoRA<double> folded(block<double>(seed),
                                          {.target_modules = {"all-linear"}, .options = {.r = 2, .dropout = 0.0}});
  randomise_b(dropped, seed + 1);
  randomise_b(folded, seed + 1);
  CHECK_FALSE(folded.unfolded());  // dropout 0: folded in training too
  const Tensor<double> training_folded = folded.forward(x);
  CHECK((dropped.forward(x).matrix() - training_folded.matrix()).cwiseAbs().maxCoeff() > 1e-3);  // masks act
  dropped.eval();
  folded.eval();
  CHECK_FALSE(dropped.unfolded());
  CHECK(dropped.forward(x).matrix() == folded.forward(x).matrix());
  CHECK(dropped.forward(x).matrix() == training_folded.matrix());
  // The unfolded path with no unit dropped is the folded path, to rounding: p tiny, masks of ones·1/(1−p).
  TransformerBlockWithLoRA<double> tiny(block<double>(seed),
                                        {.target_modules = {"all-linear"}, .options = {.r = 2, .dropout = 1e-300}});
  randomise_b(tiny, seed + 1);
  REQUIRE(tiny.unfolded());
  CHECK((tiny.forward(x).matrix() - training_folded.matrix()).cwiseAbs().maxCoeff() <= 1e-12);
}

TEST_CASE("TransformerBlockWithLoRA with lora_dropout: the LoRA path's mean over masks is the undropped path") {
  // E[s (x ⊙ M) Aᵀ Bᵀ] = s x Aᵀ Bᵀ, M_ij ∈ {0, 1/(1−p)} kept with probability 1 − p. Per entry the
  // variance is s² Σ_j (x_j C_jk)² p/(1 − p), C = Aᵀ Bᵀ: the mean of N draws is within 5 standard errors.
  const std::uint64_t seed = test_seed(23);
  const double p = 0.3;
  TransformerBlockWithLoRA<double> adapted(block<double>(seed),
                                           {.target_modules = {"value"}, .options = {.r = 3, .dropout = p}});
  randomise_b(adapted, seed + 1);
  const Tensor<double> x = uniform_tensor<double>({1, 3, 8}, seed + 2);
  const LoRALayer<double>& v = adapted.lora("self_attn.value");
  const Matrix<double> X = x.matrix();
  const Matrix<double> C = v.A().value.transpose() * v.B().value.transpose();
  const int N = 4000;
  Matrix<double> sum = Matrix<double>::Zero(3, 8);
  Index dropped = 0;
  for (int n = 0; n < N; ++n) {
    (void)adapted.forward(x);
    const Matrix<double>& M = v.dropout_mask();
    sum += v.scale() * (X.array() * M.array()).matrix() * C;
    dropped += (M.array() == 0.0).count();
  }
  const Matrix<double> mean = sum / N;
  const Matrix<double> undropped = v.scale() * X * C;
  const Matrix<double> variance =
      v.scale() * v.scale() * p / (1.0 - p) * X.array().square().matrix() * C.array().square().matrix();
  const Matrix<double> z = ((mean - undropped).array() / (variance.array() / N).sqrt()).matrix();
  INFO("largest |z| ", z.cwiseAbs().maxCoeff());
  CHECK(z.cwiseAbs().maxCoeff() <= 5.0);
  // The dropped fraction: 24 N draws, standard error √(p(1−p)/(24 N)) ≈ 0.0015.
  CHECK(static_cast<double>(dropped) / (24.0 * N) == doctest::Approx(p).epsilon(0.03));
}

TEST_CASE("TransformerBlockWithLoRA with lora_dropout: gradients with the mask held fixed equal central differences") {
  const std::uint64_t seed = test_seed(24);
  TransformerBlockWithLoRA<double> adapted(
      block<double>(seed), {.target_modules = {"all-linear"}, .options = {.r = 2, .alpha = 3.0, .dropout = 0.35}});
  randomise_b(adapted, seed + 7);
  const Tensor<double> x = uniform_tensor<double>({2, 4, 8}, seed + 1);
  const Tensor<double> G = uniform_tensor<double>({2, 4, 8}, seed + 2);
  const auto fix_masks = [&] {
    std::uint64_t k = seed + 100;
    for (const std::string& name : adapted.targets()) adapted.lora(name).reseed(k++);
  };
  ParameterList<double> variables;
  for (const auto& e : adapted.parameters())
    if (e.trainable) {
      e.parameter->zero_grad();
      variables.push_back(e);
    }
  fix_masks();
  (void)adapted.forward(x);
  REQUIRE(adapted.unfolded());
  (void)adapted.backward(G);
  const auto objective = [&] {
    fix_masks();
    return (adapted.forward(x).matrix().array() * G.matrix().array()).sum();
  };
  const GradientCheckResult r = gradient_check<double>(objective, variables);
  INFO(r.worst_variable, " ", r.analytic, " vs ", r.numeric);
  CHECK(r.passed(1e-6));
  for (const auto& e : adapted.parameters())
    if (!e.trainable) CHECK(e.parameter->grad.isZero(0));
  // The frozen W₀ is what the unfolded path computes with: release_base gives the block back unchanged.
  TransformerBlock<double> original = block<double>(seed);
  TransformerBlock<double> back = std::move(adapted).release_base();
  CHECK(parameter(back, "self_attn.in_proj_weight") == parameter(original, "self_attn.in_proj_weight"));
  CHECK(parameter(back, "linear2.weight") == parameter(original, "linear2.weight"));
}

TEST_CASE("TransformerBlockWithLoRA with lora_dropout: a throwing forward draws no mask and leaves no side path") {
  const std::uint64_t seed = test_seed(25);
  const auto make = [&] {
    TransformerBlockWithLoRA<double> b(block<double>(seed),
                                       {.target_modules = {"query", "linear1"}, .options = {.r = 2, .dropout = 0.5}});
    randomise_b(b, seed + 1);
    return b;
  };
  TransformerBlockWithLoRA<double> a = make(), b = make();
  const Tensor<double> x = uniform_tensor<double>({2, 4, 8}, seed + 2);
  Tensor<double> bad = x;
  bad.data()[3] = std::nan("");
  CHECK(a.forward(x).matrix() == b.forward(x).matrix());  // same seeds, same masks
  CHECK_THROWS_NAMING(a.forward(bad), InvalidArgument, "NaN");
  CHECK_THROWS_NAMING(a.forward(uniform_tensor<double>({2, 4, 7}, seed)), InvalidArgument, "input");
  CHECK(a.forward(x).matrix() == b.forward(x).matrix());  // the failed calls drew nothing
  a.eval();
  b.eval();
  CHECK(a.forward(x).matrix() == b.forward(x).matrix());  // and left no side path behind
}
