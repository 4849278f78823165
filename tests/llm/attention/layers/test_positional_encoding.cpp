#include <random>

#include "aimastery/llm/attention/positional_encoding.hpp"
#include "attention_support.hpp"

using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::LearnedPositionalEmbedding;
using aimastery::Matrix;
using aimastery::RotaryPositionalEmbedding;
using aimastery::SinusoidalPositionalEncoding;
using aimastery::Tensor;
namespace test = aimastery::test;

TEST_CASE_TEMPLATE("sinusoidal table equals the PyTorch tutorial's; RoPE equals its PyTorch form (both layouts)", T,
                   float, double) {
  const auto reference = test::load_reference("llm_attention_positional.json");
  const auto& s = reference["sinusoidal"];
  const Matrix<T> table = aimastery::sinusoidal_positional_encoding<T>(s["positions"].template get<Index>(),
                                                                       s["dim"].template get<Index>());
  test::check_tensor_parity(Tensor<T>::from_matrix(table), s["table"], "PE");
  for (const char* layout : {"rotate_half", "interleaved"}) {
    CAPTURE(layout);
    const auto& c = reference[layout];
    const Tensor<T> X = test::json_tensor<T>(c["x"]);
    RotaryPositionalEmbedding<T> rope(
        X.dim(3), {.base = c["base"].template get<double>(), .interleaved = std::string(layout) == "interleaved"});
    const Index offset = c["offset"].template get<Index>();
    test::check_tensor_parity(rope.forward(X, offset), c["y"], "Y");
    test::check_tensor_parity(rope.backward(test::json_tensor<T>(c["g"]), offset), c["dx"], "dX");
  }
}

TEST_CASE("positional encodings: relative positions under RoPE, gradients, learned table, bad input") {
  std::mt19937_64 rng(test::test_seed());
  // RoPE: q'·k' depends only on the distance between the positions.
  RotaryPositionalEmbedding<double> rope(8);
  const Tensor<double> q = test::random_tensor<double>({1, 1, 1, 8}, rng);
  const Tensor<double> k = test::random_tensor<double>({1, 1, 1, 8}, rng);
  const auto dot = [&](Index pq, Index pk) {
    return rope.forward(q, pq).matrix().row(0).dot(rope.forward(k, pk).matrix().row(0));
  };
  CHECK(std::abs(dot(3, 1) - dot(10, 8)) < 1e-12);
  CHECK(std::abs(dot(3, 1) - dot(3, 2)) > 1e-6);
  const Tensor<double> X = test::random_tensor<double>({2, 3, 4, 8}, rng);
  const auto result =
      test::check_sequence_gradients([&](const Tensor<double>& x) { return rope.forward(x, 2); },
                                     [&](const Tensor<double>& g) { return rope.backward(g, 2); }, {}, X, 3);
  CHECK(result.passed(1e-6));

  // Learned: adds rows offset.., accumulates their gradient over the batch.
  LearnedPositionalEmbedding<double> learned(10, 4, 5);
  REQUIRE(learned.parameters().size() == 1);
  CHECK(learned.parameters()[0].name == "weight");
  const Tensor<double> S = test::random_tensor<double>({2, 3, 4}, rng);
  const auto lr = test::check_sequence_gradients([&](const Tensor<double>& x) { return learned.forward(x, 4); },
                                                 [&](const Tensor<double>& g) { return learned.backward(g); },
                                                 learned.parameters(), S, 3);
  CAPTURE(lr.worst_variable);
  CHECK(lr.passed(1e-6));
  const Tensor<double> Y = learned.forward(S, 4);
  CHECK((Y.slice_matrix(1) - S.slice_matrix(1) - learned.weight().value.middleRows(4, 3)).cwiseAbs().maxCoeff() <
        1e-15);

  SinusoidalPositionalEncoding<double> sinusoidal(16, 4);
  const Tensor<double> Z = sinusoidal.forward(S, 2);
  CHECK((Z.slice_matrix(0) - S.slice_matrix(0) - sinusoidal.table().middleRows(2, 3)).cwiseAbs().maxCoeff() < 1e-15);

  CHECK_THROWS_NAMING(RotaryPositionalEmbedding<double>(7), InvalidArgument,
                      "head_dim must be positive and even, got 7");
  CHECK_THROWS_NAMING(rope.forward(Tensor<double>({2, 3, 6}, 0.0)), InvalidArgument, "input has shape (2, 3, 6)");
  CHECK_THROWS_NAMING(learned.forward(S, 8), InvalidArgument, "positions 8..10 exceed the table of 10 positions");
  CHECK_THROWS_NAMING(sinusoidal.forward(Tensor<double>({2, 3, 5}, 0.0)), InvalidArgument,
                      "has shape (2, 3, 5) but the layer takes 4 features");
}
