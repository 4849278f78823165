#include "aimastery/llm/attention/scaled_dot_product_attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "attention_support.hpp"

using aimastery::AttentionAlgorithm;
using aimastery::AttentionMask;
using aimastery::AttentionOptions;
using aimastery::BoolMatrix;
using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::Parameter;
using aimastery::ParameterList;
using aimastery::Tensor;
namespace test = aimastery::test;

namespace {

/// The mask and options a reference case describes.
template <class T>
AttentionMask<T> case_mask(const nlohmann::json& c) {
  if (c.contains("keys_allowed"))
    return AttentionMask<T>().with_keys_allowed(test::json_bool_matrix(c["keys_allowed"]));
  if (!c.contains("mask_kind")) return {};
  if (c["mask_kind"] == "boolean") return test::json_boolean_mask<T>(c["mask"]);
  return AttentionMask<T>::additive(test::json_tensor<T>(c["mask"]));
}

AttentionOptions case_options(const nlohmann::json& c, AttentionAlgorithm algorithm) {
  AttentionOptions o;
  o.causal = c["causal"].get<bool>() || c.value("cpp_causal", false);
  if (!c["scale"].is_string()) o.scale = c["scale"].get<double>();
  o.algorithm = algorithm;
  o.block_queries = 2;  // several tiles even on these small cases
  o.block_keys = 3;
  return o;
}

}  // namespace

TEST_CASE_TEMPLATE("scaled_dot_product_attention equals PyTorch: output, weights, dQ, dK, dV for every mask kind", T,
                   float, double) {
  const auto reference = test::load_reference("llm_attention_sdpa.json");
  for (const auto& [name, c] : reference.items()) {
    for (AttentionAlgorithm algorithm : {AttentionAlgorithm::plain, AttentionAlgorithm::tiled}) {
      const bool tiled = algorithm == AttentionAlgorithm::tiled;
      const auto& case_name = name;  // a structured binding: clang 14's lambdas cannot capture it
      CAPTURE(case_name);
      CAPTURE(tiled);
      const Tensor<T> Q = test::json_tensor<T>(c["q"]), K = test::json_tensor<T>(c["k"]),
                      V = test::json_tensor<T>(c["v"]);
      const AttentionMask<T> mask = case_mask<T>(c);
      AttentionOptions options = case_options(c, algorithm);
      options.return_weights = !tiled;
      const auto out = aimastery::scaled_dot_product_attention(Q, K, V, mask, options);
      test::check_tensor_parity(out.output, c["o"], "output");
      if (!tiled) test::check_tensor_parity(out.weights, c["weights"], "weights");
      const auto grads =
          aimastery::scaled_dot_product_attention_backward(test::json_tensor<T>(c["g"]), Q, K, V, out, mask, options);
      test::check_tensor_parity(grads.query, c["dq"], "dQ");
      test::check_tensor_parity(grads.key, c["dk"], "dK");
      test::check_tensor_parity(grads.value, c["dv"], "dV");
    }
  }
}

TEST_CASE_TEMPLATE("tiled (online softmax) path equals the plain path, forward and backward", T, float, double) {
  std::mt19937_64 rng(test::test_seed());
  struct Case {
    Index B, H, Lq, Lk, D, Dv;
    bool causal;
    bool padded;
  };
  // Value widths below, at and above the micro-kernel's panels (14 rows, a short last panel: 15, 29, 64,
  // 65), head_dim 64, and (batch × heads) counts that do and do not divide among two threads.
  for (const Case& k : {Case{2, 2, 37, 53, 16, 8, false, false}, Case{1, 3, 64, 64, 8, 8, true, false},
                        Case{2, 1, 41, 29, 4, 6, false, true}, Case{2, 2, 50, 50, 8, 8, true, true},
                        Case{1, 1, 9, 15, 5, 15, false, false}, Case{1, 3, 33, 70, 8, 65, true, false},
                        Case{3, 1, 17, 40, 6, 29, false, true}, Case{2, 2, 20, 300, 64, 64, false, true}}) {
    CAPTURE(k.Lq);
    CAPTURE(k.Lk);
    CAPTURE(k.causal);
    CAPTURE(k.Dv);
    const Tensor<T> Q = test::random_tensor<T>({k.B, k.H, k.Lq, k.D}, rng, 2.0);
    const Tensor<T> K = test::random_tensor<T>({k.B, k.H, k.Lk, k.D}, rng, 2.0);
    const Tensor<T> V = test::random_tensor<T>({k.B, k.H, k.Lk, k.Dv}, rng);
    const Tensor<T> G = test::random_tensor<T>({k.B, k.H, k.Lq, k.Dv}, rng);
    AttentionMask<T> mask;
    if (k.padded) {
      BoolMatrix keep = BoolMatrix::Constant(k.B, k.Lk, true);
      keep.row(1).tail(k.Lk / 3).setConstant(false);
      mask.with_keys_allowed(keep);
    }
    AttentionOptions plain{.causal = k.causal, .algorithm = AttentionAlgorithm::plain};
    AttentionOptions tiled = plain;
    tiled.algorithm = AttentionAlgorithm::tiled;
    tiled.block_queries = 7;
    tiled.block_keys = 11;
    const auto a = aimastery::scaled_dot_product_attention(Q, K, V, mask, plain);
    const auto b = aimastery::scaled_dot_product_attention(Q, K, V, mask, tiled);
    const auto as_double = [](const Tensor<T>& t) {
      Tensor<double> d(t.shape());
      d.matrix() = t.matrix().template cast<double>();
      return d;
    };
    CHECK(test::tensor_error(b.output, as_double(a.output)) <= test::path_tolerance<T>());
    CHECK(test::tensor_error(b.logsumexp, as_double(a.logsumexp)) <= test::path_tolerance<T>());
    const auto ga = aimastery::scaled_dot_product_attention_backward(G, Q, K, V, a, mask, plain);
    const auto gb = aimastery::scaled_dot_product_attention_backward(G, Q, K, V, b, mask, tiled);
    CHECK(test::tensor_error(gb.query, as_double(ga.query)) <= test::path_tolerance<T>());
    CHECK(test::tensor_error(gb.key, as_double(ga.key)) <= test::path_tolerance<T>());
    CHECK(test::tensor_error(gb.value, as_double(ga.value)) <= test::path_tolerance<T>());
  }
}

TEST_CASE("automatic picks the tiled path from tiled_threshold keys on, and it agrees with plain") {
  std::mt19937_64 rng(test::test_seed());
  const Tensor<double> Q = test::random_tensor<double>({1, 2, 40, 8}, rng);
  const Tensor<double> K = test::random_tensor<double>({1, 2, 40, 8}, rng);
  const auto automatic = aimastery::scaled_dot_product_attention(
      Q, K, K, {}, {.tiled_threshold = 16, .block_queries = 8, .block_keys = 8});
  const auto plain = aimastery::scaled_dot_product_attention(Q, K, K, {}, {.algorithm = AttentionAlgorithm::plain});
  CHECK(test::tensor_error(automatic.output, plain.output) <= 1e-12);
  // Weights requested: automatic stays plain and returns them.
  const auto with_weights =
      aimastery::scaled_dot_product_attention(Q, K, K, {}, {.return_weights = true, .tiled_threshold = 16});
  REQUIRE(with_weights.weights.shape() == Tensor<double>::Shape{1, 2, 40, 40});
  CHECK(with_weights.weights.matrix().rowwise().sum().isApproxToConstant(1.0, 1e-12));
}

TEST_CASE_TEMPLATE("a query whose keys are all masked gives zeros, never NaN, and no gradient", T, float, double) {
  std::mt19937_64 rng(test::test_seed());
  const Tensor<T> Q = test::random_tensor<T>({1, 2, 4, 3}, rng);
  const Tensor<T> K = test::random_tensor<T>({1, 2, 5, 3}, rng);
  const Tensor<T> V = test::random_tensor<T>({1, 2, 5, 3}, rng);
  const Tensor<T> G = test::random_tensor<T>({1, 2, 4, 3}, rng);
  BoolMatrix allowed = BoolMatrix::Constant(4, 5, true);
  allowed.row(2).setConstant(false);  // query 2 attends nothing
  Matrix<T> additive = Matrix<T>::Zero(4, 5);
  additive.row(1).setConstant(-std::numeric_limits<T>::infinity());  // query 1 attends nothing
  for (AttentionAlgorithm algorithm : {AttentionAlgorithm::plain, AttentionAlgorithm::tiled}) {
    for (const AttentionMask<T>& mask : {AttentionMask<T>::boolean(allowed), AttentionMask<T>::additive(additive)}) {
      const Index row = mask.kind() == AttentionMask<T>::Kind::boolean ? 2 : 1;
      const AttentionOptions options{.return_weights = algorithm == AttentionAlgorithm::plain,
                                     .algorithm = algorithm,
                                     .block_queries = 2,
                                     .block_keys = 2};
      const auto out = aimastery::scaled_dot_product_attention(Q, K, V, mask, options);
      CHECK(out.output.matrix().allFinite());
      for (Index h = 0; h < 2; ++h)
        for (Index d = 0; d < 3; ++d) CHECK(out.output(0, h, row, d) == T(0));
      if (options.return_weights) {
        CHECK(out.weights.matrix().allFinite());
        for (Index j = 0; j < 5; ++j) CHECK(out.weights(0, 0, row, j) == T(0));
      }
      const auto grads = aimastery::scaled_dot_product_attention_backward(G, Q, K, V, out, mask, options);
      CHECK(grads.query.matrix().allFinite());
      CHECK(grads.key.matrix().allFinite());
      CHECK(grads.value.matrix().allFinite());
      for (Index d = 0; d < 3; ++d) CHECK(grads.query(0, 0, row, d) == T(0));
    }
  }
  // Key padding that removes every key of one batch element.
  const Tensor<T> Q2 = test::random_tensor<T>({2, 1, 3, 4}, rng);
  BoolMatrix keep = BoolMatrix::Constant(2, 3, true);
  keep.row(1).setConstant(false);
  const auto out = aimastery::scaled_dot_product_attention(Q2, Q2, Q2, AttentionMask<T>().with_keys_allowed(keep));
  CHECK(out.output.slice_matrix(1).isZero());
  CHECK(out.output.slice_matrix(0).cwiseAbs().maxCoeff() > T(0));
}

TEST_CASE("attention passes the central-difference gradient check with every mask kind, plain and tiled") {
  std::mt19937_64 rng(test::test_seed());
  const Index B = 2, H = 2, Lq = 5, Lk = 6, D = 3, Dv = 2;
  Parameter<double> q(test::random_matrix<double>(B * H * Lq, D, rng));
  Parameter<double> k(test::random_matrix<double>(B * H * Lk, D, rng));
  Parameter<double> v(test::random_matrix<double>(B * H * Lk, Dv, rng));
  const Matrix<double> G = test::random_matrix<double>(B * H * Lq, Dv, rng);
  BoolMatrix allowed = BoolMatrix::Constant(Lq, Lk, true);
  allowed(1, 2) = allowed(3, 0) = allowed(4, 5) = false;
  allowed.row(2).setConstant(false);
  BoolMatrix keep = BoolMatrix::Constant(B, Lk, true);
  keep(1, 5) = keep(1, 4) = false;
  const Matrix<double> additive = test::random_matrix<double>(Lq, Lk, rng);
  const auto tensor = [](const Matrix<double>& m, Index rows, Index cols) {
    Tensor<double> t({2, 2, rows, cols});
    t.matrix() = m;
    return t;
  };
  for (AttentionAlgorithm algorithm : {AttentionAlgorithm::plain, AttentionAlgorithm::tiled}) {
    for (int kind = 0; kind < 4; ++kind) {
      CAPTURE(kind);
      AttentionMask<double> mask;
      if (kind == 1) mask = AttentionMask<double>::boolean(allowed);
      if (kind == 2) mask = AttentionMask<double>::additive(additive);
      if (kind == 3) mask.with_keys_allowed(keep);
      const AttentionOptions options{
          .causal = kind == 3, .scale = 0.7, .algorithm = algorithm, .block_queries = 2, .block_keys = 4};
      const auto out = aimastery::scaled_dot_product_attention(tensor(q.value, Lq, D), tensor(k.value, Lk, D),
                                                               tensor(v.value, Lk, Dv), mask, options);
      const auto grads = aimastery::scaled_dot_product_attention_backward(tensor(G, Lq, Dv), tensor(q.value, Lq, D),
                                                                          tensor(k.value, Lk, D),
                                                                          tensor(v.value, Lk, Dv), out, mask, options);
      q.grad = grads.query.matrix();
      k.grad = grads.key.matrix();
      v.grad = grads.value.matrix();
      const auto objective = [&] {
        const auto o = aimastery::scaled_dot_product_attention(tensor(q.value, Lq, D), tensor(k.value, Lk, D),
                                                               tensor(v.value, Lk, Dv), mask, options);
        return (o.output.matrix().array() * G.array()).sum();
      };
      const ParameterList<double> variables{{"Q", &q, true}, {"K", &k, true}, {"V", &v, true}};
      const auto result = aimastery::gradient_check<double>(objective, variables);
      CAPTURE(result.worst_variable);
      CHECK(result.passed(1e-6));
    }
  }
}

TEST_CASE("attention dropout: training only, seeded, the same on both paths, expectation preserved, exact gradient") {
  std::mt19937_64 rng(test::test_seed());
  const Tensor<double> Q = test::random_tensor<double>({2, 2, 9, 4}, rng);
  const Tensor<double> K = test::random_tensor<double>({2, 2, 13, 4}, rng);
  const Tensor<double> V = test::random_tensor<double>({2, 2, 13, 3}, rng);
  AttentionOptions plain{.dropout = 0.3, .training = true, .seed = 42, .algorithm = AttentionAlgorithm::plain};
  AttentionOptions tiled = plain;
  tiled.algorithm = AttentionAlgorithm::tiled;
  tiled.block_queries = 4;
  tiled.block_keys = 5;
  const auto a = aimastery::scaled_dot_product_attention(Q, K, V, {}, plain);
  const auto b = aimastery::scaled_dot_product_attention(Q, K, V, {}, tiled);
  const auto again = aimastery::scaled_dot_product_attention(Q, K, V, {}, plain);
  CHECK(test::tensor_error(b.output, a.output) <= 1e-12);
  CHECK(test::tensor_error(again.output, a.output) == 0.0);
  AttentionOptions other = plain;
  other.seed = 43;
  CHECK(test::tensor_error(aimastery::scaled_dot_product_attention(Q, K, V, {}, other).output, a.output) > 1e-3);
  // Evaluation: no dropout, whatever the probability.
  AttentionOptions evaluation = plain;
  evaluation.training = false;
  const auto e = aimastery::scaled_dot_product_attention(Q, K, V, {}, evaluation);
  const auto none = aimastery::scaled_dot_product_attention(Q, K, V);
  CHECK(test::tensor_error(e.output, none.output) == 0.0);
  // The mean over many seeds approaches the undropped output (inverted dropout keeps the expectation).
  Tensor<double> mean(none.output.shape());
  const int draws = 400;
  for (int s = 0; s < draws; ++s) {
    AttentionOptions o = plain;
    o.seed = static_cast<std::uint64_t>(1000 + s);
    mean.matrix() += aimastery::scaled_dot_product_attention(Q, K, V, {}, o).output.matrix() / draws;
  }
  CHECK(test::tensor_error(mean, none.output) < 0.1);
  // The gradient with a fixed dropout mask (same seed in every forward) passes central differences.
  Parameter<double> q(Matrix<double>(Q.matrix())), k(Matrix<double>(K.matrix())), v(Matrix<double>(V.matrix()));
  const Tensor<double> G = test::random_tensor<double>(a.output.shape(), rng);
  const auto grads = aimastery::scaled_dot_product_attention_backward(G, Q, K, V, b, {}, tiled);
  q.grad = grads.query.matrix();
  k.grad = grads.key.matrix();
  v.grad = grads.value.matrix();
  Tensor<double> q2 = Q, k2 = K, v2 = V;
  const auto objective = [&] {
    q2.matrix() = q.value;
    k2.matrix() = k.value;
    v2.matrix() = v.value;
    return (aimastery::scaled_dot_product_attention(q2, k2, v2, {}, tiled).output.matrix().array() * G.matrix().array())
        .sum();
  };
  const auto result =
      aimastery::gradient_check<double>(objective, ParameterList<double>{{"Q", &q}, {"K", &k}, {"V", &v}});
  CAPTURE(result.worst_variable);
  CHECK(result.passed(1e-6));
}

TEST_CASE("scaled_dot_product_attention rejects bad input with messages that name the problem") {
  const Tensor<double> Q({2, 3, 4, 5}, 0.1);
  const Tensor<double> K({2, 3, 6, 5}, 0.2);
  const Tensor<double> V({2, 3, 6, 7}, 0.3);
  using aimastery::scaled_dot_product_attention;
  CHECK_THROWS_NAMING(scaled_dot_product_attention(Tensor<double>({2, 3, 4}, 0.0), K, V), InvalidArgument,
                      "query must have rank 4");
  CHECK_THROWS_NAMING(scaled_dot_product_attention(Q, Tensor<double>({2, 3, 6, 4}, 0.0), V), InvalidArgument,
                      "head dimensions (axis 3) differ: query is (2, 3, 4, 5), key is (2, 3, 6, 4)");
  CHECK_THROWS_NAMING(scaled_dot_product_attention(Q, K, Tensor<double>({2, 3, 5, 7}, 0.0)), InvalidArgument,
                      "sequence lengths (axis 2) differ");
  CHECK_THROWS_NAMING(scaled_dot_product_attention(Q, Tensor<double>({1, 3, 6, 5}, 0.0), V), InvalidArgument,
                      "batch and heads");
  CHECK_THROWS_NAMING(
      scaled_dot_product_attention(Q, K, V, AttentionMask<double>::boolean(BoolMatrix::Constant(4, 5, true))),
      InvalidArgument, "mask of shape (1, 1, 4, 5) does not broadcast to the scores' shape (2, 3, 4, 6)");
  CHECK_THROWS_NAMING(scaled_dot_product_attention(
                          Q, K, V, AttentionMask<double>().with_keys_allowed(BoolMatrix::Constant(3, 6, true))),
                      InvalidArgument, "key mask is 3x6");
  Tensor<double> bad = Q;
  bad(1, 2, 3, 4) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_NAMING(scaled_dot_product_attention(bad, K, V), InvalidArgument, "query contains NaN");
  CHECK_THROWS_NAMING(scaled_dot_product_attention(Q, K, V, {}, {.dropout = 1.0}), InvalidArgument,
                      "dropout must be in [0, 1)");
  CHECK_THROWS_NAMING(
      scaled_dot_product_attention(Q, K, V, {}, {.return_weights = true, .algorithm = AttentionAlgorithm::tiled}),
      InvalidArgument, "does not form the attention weights");
  Matrix<double> nan_mask = Matrix<double>::Zero(4, 6);
  nan_mask(0, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_NAMING(AttentionMask<double>::additive(nan_mask), InvalidArgument, "NaN");
  CHECK_THROWS_NAMING(AttentionMask<double>::boolean({2, 2, 2, 2, 2}, std::vector<bool>(32, true)), InvalidArgument,
                      "rank 2 to 4");
  // An empty key mask is refused by the call that was given it, and a mask that refuses one keeps the key
  // mask it had.
  AttentionMask<double> keyed;
  keyed.with_key_padding(BoolMatrix::Constant(2, 6, false));
  CHECK_THROWS_NAMING(keyed.with_keys_allowed(BoolMatrix(0, 6)), InvalidArgument,
                      "AttentionMask::with_keys_allowed: the key mask is empty");
  CHECK_THROWS_NAMING(keyed.with_key_padding(BoolMatrix(2, 0)), InvalidArgument,
                      "AttentionMask::with_key_padding: the key mask is empty");
  CHECK(keyed.has_key_mask());
  CHECK_NOTHROW(keyed.check("check", 2, 3, 4, 6));
  const auto slice = keyed.slice(1, 0);
  REQUIRE(slice.keys != nullptr);
  CHECK(std::all_of(slice.keys, slice.keys + 6, [](std::uint8_t allowed) { return allowed == 1; }));
  CHECK_THROWS_NAMING(AttentionMask<double>::boolean({4, 6}, std::vector<bool>(5, true)), InvalidArgument,
                      "needs 24 values, got 5");
  const auto out = scaled_dot_product_attention(Q, K, V);
  CHECK_THROWS_NAMING(aimastery::scaled_dot_product_attention_backward(Tensor<double>({2, 3, 4, 6}, 0.0), Q, K, V, out),
                      InvalidArgument, "grad_output is (2, 3, 4, 6) but the output is (2, 3, 4, 7)");
}
