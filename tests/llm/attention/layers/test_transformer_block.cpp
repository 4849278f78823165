#include <random>
#include <string>

#include "aimastery/llm/attention/transformer_block.hpp"
#include "aimastery/ml/deep_learning/adam.hpp"
#include "attention_support.hpp"

using aimastery::ActivationKind;
using aimastery::AttentionMask;
using aimastery::BoolMatrix;
using aimastery::InvalidArgument;
using aimastery::Tensor;
using aimastery::TransformerBlock;
namespace test = aimastery::test;

TEST_CASE_TEMPLATE("TransformerBlock equals nn.TransformerEncoderLayer (post-norm, norm_first, BERT eps) with padding",
                   T, float, double) {
  const auto reference = test::load_reference("llm_attention_encoder.json");
  for (const auto& [name, c] : reference.items()) {
    const auto& case_name = name;  // a structured binding: clang 14's lambdas cannot capture it
    CAPTURE(case_name);
    TransformerBlock<T> block(
        8, c["nhead"].template get<aimastery::Index>(),
        {.dim_feedforward = c["dim_feedforward"].template get<aimastery::Index>(),
         .dropout = 0.0,
         .activation = aimastery::activation_kind_from_string(c["activation"].template get<std::string>()),
         .layer_norm_eps = c["eps"].template get<double>(),
         .norm_first = c["norm_first"].template get<bool>()});
    test::load_parameters(block.parameters(), c["params"]);
    const auto mask = AttentionMask<T>().with_key_padding(test::json_bool_matrix(c["key_padding"]));
    test::check_tensor_parity(block.forward(test::json_tensor<T>(c["x"]), mask), c["y"], "Y");
    test::check_tensor_parity(block.backward(test::json_tensor<T>(c["g"])), c["dx"], "dX");
    for (const auto& p : block.parameters())
      test::check_parameter(*p.parameter, c["params"][p.name], c["grads"][p.name], p.name);
  }
}

TEST_CASE("TransformerBlock: state_dict names, central differences in both norm orders, training, bad input") {
  TransformerBlock<double> block(6, 2, {.dim_feedforward = 10, .dropout = 0.0});
  const auto params = block.parameters();
  const std::vector<std::string> names{"self_attn.in_proj_weight",
                                       "self_attn.in_proj_bias",
                                       "self_attn.out_proj.weight",
                                       "self_attn.out_proj.bias",
                                       "linear1.weight",
                                       "linear1.bias",
                                       "linear2.weight",
                                       "linear2.bias",
                                       "norm1.weight",
                                       "norm1.bias",
                                       "norm2.weight",
                                       "norm2.bias"};
  REQUIRE(params.size() == names.size());
  for (std::size_t i = 0; i < names.size(); ++i) CHECK(params[i].name == names[i]);

  std::mt19937_64 rng(test::test_seed());
  BoolMatrix keep = BoolMatrix::Constant(2, 4, true);
  keep(0, 3) = false;
  const auto mask = AttentionMask<double>().with_keys_allowed(keep);
  const Tensor<double> X = test::random_tensor<double>({2, 4, 6}, rng);
  for (bool norm_first : {false, true}) {
    CAPTURE(norm_first);
    TransformerBlock<double> b(6, 3,
                               {.dim_feedforward = 8,
                                .dropout = 0.0,
                                .activation = ActivationKind::gelu,
                                .norm_first = norm_first,
                                .seed = 3});
    const auto result =
        test::check_sequence_gradients([&](const Tensor<double>& x) { return b.forward(x, mask); },
                                       [&](const Tensor<double>& g) { return b.backward(g); }, b.parameters(), X, 5);
    CAPTURE(result.worst_variable);
    CHECK(result.passed(1e-6));
  }

  // Dropout: different outputs in training, none in evaluation.
  TransformerBlock<double> dropping(6, 2, {.dim_feedforward = 10, .dropout = 0.3, .seed = 9});
  CHECK(test::tensor_error(dropping.forward(X), dropping.forward(X)) > 1e-4);
  dropping.eval();
  CHECK(test::tensor_error(dropping.forward(X), dropping.forward(X)) == 0.0);

  // Trains with Adam.
  TransformerBlock<double> net(6, 2, {.dim_feedforward = 12, .dropout = 0.0, .seed = 1});
  const Tensor<double> target = test::random_tensor<double>({2, 4, 6}, rng);
  aimastery::Adam<double> adam({.learning_rate = 0.01});
  double first = 0.0, last = 0.0;
  for (int step = 0; step < 200; ++step) {
    for (auto& p : net.parameters()) p.parameter->zero_grad();
    Tensor<double> diff = net.forward(X);
    diff.matrix() -= target.matrix();
    last = diff.matrix().squaredNorm();
    if (step == 0) first = last;
    diff.matrix() *= 2.0 / static_cast<double>(diff.size());
    net.backward(diff);
    adam.step(net.parameters());
  }
  CHECK(last < 0.5 * first);

  CHECK_THROWS_NAMING(TransformerBlock<double>(6, 4), InvalidArgument, "embed_dim 6 is not divisible by num_heads 4");
  CHECK_THROWS_NAMING(block.forward(Tensor<double>({2, 4, 5}, 0.0)), InvalidArgument,
                      "input has shape (2, 4, 5) but the layer takes 6 features");
  CHECK_THROWS_NAMING(block.backward(Tensor<double>({2, 4, 6}, 0.0)), InvalidArgument, "called before forward");
}
