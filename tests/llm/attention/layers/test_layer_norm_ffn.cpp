#include <random>
#include <string>

#include "aimastery/llm/attention/feed_forward_network.hpp"
#include "aimastery/llm/attention/layer_norm.hpp"
#include "aimastery/ml/deep_learning/adam.hpp"
#include "attention_support.hpp"

using aimastery::ActivationKind;
using aimastery::FeedForwardNetwork;
using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::LayerNorm;
using aimastery::Matrix;
using aimastery::Tensor;
namespace test = aimastery::test;

TEST_CASE_TEMPLATE("LayerNorm equals torch.nn.LayerNorm (eps 1e-5 and BERT's 1e-12): output, dX, dγ, dβ", T, float,
                   double) {
  const auto reference = test::load_reference("llm_attention_layer_norm.json");
  for (const auto& [name, c] : reference.items()) {
    const auto& case_name = name;  // a structured binding: clang 14's lambdas cannot capture it
    CAPTURE(case_name);
    LayerNorm<T> ln(6, {.eps = c["eps"].template get<double>()});
    test::load_parameters(ln.parameters(), c["params"]);
    const Tensor<T> X = test::json_tensor<T>(c["x"]);
    test::check_tensor_parity(ln.forward(X), c["y"], "Y");
    test::check_tensor_parity(ln.backward(test::json_tensor<T>(c["g"])), c["dx"], "dX");
    for (const auto& p : ln.parameters())
      test::check_parameter(*p.parameter, c["params"][p.name], c["grads"][p.name], p.name);
  }
}

TEST_CASE("LayerNorm: names, the matrix (Layer) form, central differences, bad input") {
  LayerNorm<double> ln(5, {.eps = 1e-5});
  const auto params = ln.parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].name == "weight");
  CHECK(params[1].name == "bias");
  CHECK(ln.name() == "LayerNorm(5, eps=1e-05)");
  std::mt19937_64 rng(test::test_seed());
  ln.weight().value = test::random_matrix<double>(1, 5, rng);
  ln.bias().value = test::random_matrix<double>(1, 5, rng);
  const Matrix<double> X = 3.0 * test::random_matrix<double>(7, 5, rng);
  // Every row is normalised to mean 0 and (biased) variance 1 before γ and β.
  LayerNorm<double> plain(5, {.elementwise_affine = false});
  const Matrix<double> Y = plain.forward(X);
  CHECK(Y.rowwise().sum().cwiseAbs().maxCoeff() < 1e-12);
  CHECK((Y.rowwise().squaredNorm() / 5.0).array().isApproxToConstant(1.0, 1e-4));
  const auto result = aimastery::gradient_check(ln, X);
  CAPTURE(result.worst_variable);
  CHECK(result.passed(test::Tolerance<double>::loose * 100));
  CHECK(aimastery::gradient_check(plain, X).passed(1e-6));

  CHECK_THROWS_NAMING(LayerNorm<double>(0), InvalidArgument, "normalized_shape must be positive");
  CHECK_THROWS_NAMING(LayerNorm<double>(4, {.eps = 0.0}), InvalidArgument, "eps must be positive");
  CHECK_THROWS_NAMING(ln.forward(Tensor<double>({2, 3, 4}, 1.0)), InvalidArgument,
                      "input has shape (2, 3, 4) but LayerNorm(5, eps=1e-05) normalises a last axis of 5");
  Matrix<double> bad = X;
  bad(0, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_NAMING(ln.forward(bad), InvalidArgument, "NaN");
  ln.forward(X);
  CHECK_THROWS_NAMING(ln.backward(Tensor<double>({2, 5}, 1.0)), InvalidArgument, "grad_output has shape (2, 5)");
}

TEST_CASE_TEMPLATE("FeedForwardNetwork equals PyTorch (relu, gelu erf, gelu tanh): output, dX, every parameter", T,
                   float, double) {
  const auto reference = test::load_reference("llm_attention_ffn.json");
  for (const auto& [name, c] : reference.items()) {
    const auto& case_name = name;  // a structured binding: clang 14's lambdas cannot capture it
    CAPTURE(case_name);
    const ActivationKind kind = aimastery::activation_kind_from_string(name);
    FeedForwardNetwork<T> ffn(6, 10, {.activation = kind});
    test::load_parameters(ffn.parameters(), c["params"]);
    const Tensor<T> X = test::json_tensor<T>(c["x"]);
    test::check_tensor_parity(ffn.forward(X), c["y"], "Y");
    test::check_tensor_parity(ffn.backward(test::json_tensor<T>(c["g"])), c["dx"], "dX");
    for (const auto& p : ffn.parameters())
      test::check_parameter(*p.parameter, c["params"][p.name], c["grads"][p.name], p.name);
  }
}

TEST_CASE("FeedForwardNetwork: names, central differences (with a fixed dropout mask), training, bad input") {
  FeedForwardNetwork<double> ffn(4, 9, {.activation = ActivationKind::gelu, .dropout = 0.25, .seed = 3});
  const auto params = ffn.parameters();
  REQUIRE(params.size() == 4);
  CHECK(params[0].name == "linear1.weight");
  CHECK(params[0].parameter->value.rows() == 9);
  CHECK(params[1].name == "linear1.bias");
  CHECK(params[2].name == "linear2.weight");
  CHECK(params[3].name == "linear2.bias");
  std::mt19937_64 rng(test::test_seed());
  const Matrix<double> X = test::random_matrix<double>(6, 4, rng);
  const auto result = aimastery::gradient_check(ffn, X, {.before_forward = [&] { ffn.reseed(11); }});
  CAPTURE(result.worst_variable);
  CHECK(result.passed(1e-6));
  ffn.eval();
  CHECK(aimastery::gradient_check(ffn, X).passed(1e-6));

  // It trains with the library's optimisers: Adam fits a fixed target.
  FeedForwardNetwork<double> net(4, 16, {.seed = 5});
  const Matrix<double> target = test::random_matrix<double>(6, 4, rng);
  aimastery::Adam<double> adam({.learning_rate = 0.01});
  double first = 0.0, last = 0.0;
  for (int step = 0; step < 300; ++step) {
    for (auto& p : net.parameters()) p.parameter->zero_grad();
    const Matrix<double> diff = net.forward(X) - target;
    const double loss = diff.squaredNorm() / static_cast<double>(diff.size());
    if (step == 0) first = loss;
    last = loss;
    net.backward(2.0 * diff / static_cast<double>(diff.size()));
    adam.step(net.parameters());
  }
  CHECK(last < 0.1 * first);

  CHECK_THROWS_NAMING(FeedForwardNetwork<double>(4, 8, {.activation = ActivationKind::sigmoid}), InvalidArgument,
                      "activation must be relu, gelu or gelu_tanh");
  CHECK_THROWS_NAMING(FeedForwardNetwork<double>(0, 8), InvalidArgument, "must be positive");
  CHECK_THROWS_NAMING(ffn.forward(Tensor<double>({2, 3, 5}, 0.0)), InvalidArgument,
                      "input has shape (2, 3, 5) but FeedForwardNetwork(4 -> 9 -> 4, gelu) takes 4");
  CHECK_THROWS_NAMING(FeedForwardNetwork<double>(4, 8).backward(Matrix<double>::Zero(2, 4)), InvalidArgument,
                      "called before forward");
}
