#include <random>
#include <string>

#include "aimastery/llm/attention/multi_head_attention.hpp"
#include "aimastery/ml/deep_learning/sgd.hpp"
#include "attention_support.hpp"

using aimastery::AttentionMask;
using aimastery::BoolMatrix;
using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::MultiHeadAttention;
using aimastery::Tensor;
namespace test = aimastery::test;

TEST_CASE_TEMPLATE("MultiHeadAttention equals nn.MultiheadAttention: self and cross, per-batch padding and masks", T,
                   float, double) {
  const auto reference = test::load_reference("llm_attention_mha.json");
  for (const auto& [name, c] : reference.items()) {
    const auto& case_name = name;  // a structured binding: clang 14's lambdas cannot capture it
    CAPTURE(case_name);
    MultiHeadAttention<T> mha(8, 2);
    test::load_parameters(mha.parameters(), c["params"]);
    AttentionMask<T> mask;
    const bool causal = c["causal"].template get<bool>();
    if (c.contains("allowed") && !causal) mask = test::json_boolean_mask<T>(c["allowed"]);
    if (c.contains("key_padding")) mask.with_key_padding(test::json_bool_matrix(c["key_padding"]));
    const Tensor<T> G = test::json_tensor<T>(c["g"]);
    if (c["self"].template get<bool>()) {
      const Tensor<T> X = test::json_tensor<T>(c["x"]);
      test::check_tensor_parity(mha.forward(X, mask, causal), c["y"], "Y");
      test::check_tensor_parity(mha.backward(G).sum(), c["dx"], "dX");
    } else {
      const Tensor<T> q = test::json_tensor<T>(c["query"]), k = test::json_tensor<T>(c["key"]),
                      v = test::json_tensor<T>(c["value"]);
      test::check_tensor_parity(mha.forward(q, k, v, mask), c["y"], "Y");
      const auto grads = mha.backward(G);
      test::check_tensor_parity(grads.query, c["dquery"], "dquery");
      test::check_tensor_parity(grads.key, c["dkey"], "dkey");
      test::check_tensor_parity(grads.value, c["dvalue"], "dvalue");
    }
    for (const auto& p : mha.parameters())
      test::check_parameter(*p.parameter, c["params"][p.name], c["grads"][p.name], p.name);
  }
}

TEST_CASE("MultiHeadAttention: PyTorch's parameter layout and names, central differences, training") {
  MultiHeadAttention<double> mha(6, 3, {.seed = 4});
  const auto params = mha.parameters();
  REQUIRE(params.size() == 4);
  CHECK(params[0].name == "in_proj_weight");
  CHECK(params[0].parameter->value.rows() == 18);
  CHECK(params[0].parameter->value.cols() == 6);
  CHECK(params[1].name == "in_proj_bias");
  CHECK(params[1].parameter->value.cols() == 18);
  CHECK(params[2].name == "out_proj.weight");
  CHECK(params[3].name == "out_proj.bias");
  CHECK(mha.head_dim() == 2);

  std::mt19937_64 rng(test::test_seed());
  BoolMatrix keep = BoolMatrix::Constant(2, 5, true);
  keep(1, 4) = keep(1, 3) = false;
  const auto mask = AttentionMask<double>().with_keys_allowed(keep);
  for (auto& p : params)
    p.parameter->value = test::random_matrix<double>(p.parameter->value.rows(), p.parameter->value.cols(), rng);
  const Tensor<double> X = test::random_tensor<double>({2, 5, 6}, rng);
  const auto self = test::check_sequence_gradients([&](const Tensor<double>& x) { return mha.forward(x, mask, true); },
                                                   [&](const Tensor<double>& g) { return mha.backward(g).sum(); },
                                                   mha.parameters(), X, 7);
  CAPTURE(self.worst_variable);
  CHECK(self.passed(1e-6));

  // Cross-attention: the gradient of each of query, key and value.
  const Tensor<double> K = test::random_tensor<double>({2, 5, 6}, rng);
  const Tensor<double> Q = test::random_tensor<double>({2, 3, 6}, rng);
  for (int which = 0; which < 3; ++which) {
    CAPTURE(which);
    const auto result = test::check_sequence_gradients(
        [&](const Tensor<double>& x) {
          if (which == 0) return mha.forward(x, K, K, mask);
          if (which == 1) return mha.forward(Q, x, K, mask);
          return mha.forward(Q, K, x, mask);
        },
        [&](const Tensor<double>& g) {
          const auto grads = mha.backward(g);
          return which == 0 ? grads.query : which == 1 ? grads.key : grads.value;
        },
        mha.parameters(), which == 0 ? Q : K, 9);
    CAPTURE(result.worst_variable);
    CHECK(result.passed(1e-6));
  }

  // Trains with the library's optimisers: SGD fits the output of a teacher layer with other weights.
  MultiHeadAttention<double> net(6, 2, {.seed = 1});
  MultiHeadAttention<double> teacher(6, 2, {.seed = 2});
  const Tensor<double> target = teacher.forward(X);
  aimastery::SGD<double> sgd({.learning_rate = 0.5});
  double first = 0.0, last = 0.0;
  for (int step = 0; step < 300; ++step) {
    for (auto& p : net.parameters()) p.parameter->zero_grad();
    Tensor<double> diff = net.forward(X);
    diff.matrix() -= target.matrix();
    last = diff.matrix().squaredNorm();
    if (step == 0) first = last;
    diff.matrix() *= 2.0 / static_cast<double>(diff.size());
    (void)net.backward(diff).sum();
    sgd.step(net.parameters());
  }
  CAPTURE(first);
  CHECK(last < 0.2 * first);
}

TEST_CASE("MultiHeadAttention: attention weights on request, dropout only in training, bad input") {
  std::mt19937_64 rng(test::test_seed());
  MultiHeadAttention<double> mha(4, 2, {.need_weights = true});
  const Tensor<double> X = test::random_tensor<double>({3, 5, 4}, rng);
  mha.forward(X);
  REQUIRE(mha.attention_weights().shape() == Tensor<double>::Shape{3, 2, 5, 5});
  CHECK(mha.attention_weights().matrix().rowwise().sum().isApproxToConstant(1.0, 1e-12));

  MultiHeadAttention<double> dropped(4, 2, {.dropout = 0.5, .seed = 2});
  const Tensor<double> a = dropped.forward(X);
  const Tensor<double> b = dropped.forward(X);
  CHECK(test::tensor_error(a, b) > 1e-3);  // a new mask each training step
  dropped.eval();
  CHECK(test::tensor_error(dropped.forward(X), dropped.forward(X)) == 0.0);

  CHECK_THROWS_NAMING(MultiHeadAttention<double>(10, 3), InvalidArgument,
                      "embed_dim 10 is not divisible by num_heads 3");
  CHECK_THROWS_NAMING(mha.forward(Tensor<double>({3, 5, 6}, 0.0)), InvalidArgument,
                      "query has shape (3, 5, 6) but the layer takes 4 features");
  CHECK_THROWS_NAMING(mha.forward(Tensor<double>({5, 4}, 0.0)), InvalidArgument, "must have rank 3");
  CHECK_THROWS_NAMING(mha.forward(X, Tensor<double>({3, 6, 4}, 0.0), Tensor<double>({3, 7, 4}, 0.0)), InvalidArgument,
                      "key is (3, 6, 4), value is (3, 7, 4)");
  CHECK_THROWS_NAMING(mha.forward(X, AttentionMask<double>().with_key_padding(BoolMatrix::Constant(2, 5, false))),
                      InvalidArgument, "key mask is 2x5");
  CHECK_THROWS_NAMING(mha.forward(X, AttentionMask<double>::boolean(BoolMatrix::Constant(5, 4, true))), InvalidArgument,
                      "does not broadcast");
  Tensor<double> bad = X;
  bad(0, 0, 0) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_NAMING(mha.forward(bad), InvalidArgument, "query contains NaN or infinity");
  CHECK_THROWS_NAMING(mha.backward(Tensor<double>({3, 4, 4}, 0.0)), InvalidArgument, "grad_output is (3, 4, 4)");
  CHECK_THROWS_NAMING(MultiHeadAttention<double>(4, 2).attention_weights(), InvalidArgument, "need_weights");
}
