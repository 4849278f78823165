#include <random>
#include <string>
#include <vector>

#include "aimastery/llm/attention/packed_sequences.hpp"
#include "aimastery/llm/attention/transformer_block.hpp"
#include "attention_support.hpp"

using aimastery::ActivationKind;
using aimastery::AttentionMask;
using aimastery::BoolMatrix;
using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::PackedSequences;
using aimastery::Tensor;
using aimastery::TransformerBlock;
namespace test = aimastery::test;

namespace {

// Lengths with the longest first, a middle one and a single token.
const std::vector<Index> lengths{7, 4, 1};

BoolMatrix keep_mask(Index length) {
  BoolMatrix keep = BoolMatrix::Constant(static_cast<Index>(lengths.size()), length, false);
  for (std::size_t b = 0; b < lengths.size(); ++b) keep.row(static_cast<Index>(b)).head(lengths[b]).setConstant(true);
  return keep;
}

// The real-token rows of a padded (batch, sequence, E) output, packed.
template <class T>
Matrix<T> real_rows(const Tensor<T>& padded) {
  return PackedSequences<T>::from_padded(padded, lengths).tokens;
}

template <class T>
double relative_difference(const Matrix<T>& a, const Matrix<T>& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return static_cast<double>((a - b).cwiseAbs().maxCoeff() / std::max(b.cwiseAbs().maxCoeff(), T(1e-30)));
}

}  // namespace

TEST_CASE_TEMPLATE("infer on packed sequences equals forward on the padded batch with its key-padding mask", T, float,
                   double) {
  std::mt19937_64 rng(test::test_seed());
  const Index E = 12, L = 7;
  const Tensor<T> x = test::random_tensor<T>({3, L, E}, rng);
  const auto packed = PackedSequences<T>::from_padded(x, lengths);
  const auto mask = AttentionMask<T>().with_keys_allowed(keep_mask(L));
  for (const bool norm_first : {false, true})
    for (const auto activation : {ActivationKind::gelu, ActivationKind::relu, ActivationKind::gelu_tanh})
      for (const bool causal : {false, true}) {
        CAPTURE(norm_first);
        CAPTURE(causal);
        TransformerBlock<T> block(E, 3,
                                  {.dim_feedforward = 20,
                                   .dropout = 0.1,
                                   .activation = activation,
                                   .layer_norm_eps = 1e-12,
                                   .norm_first = norm_first,
                                   .seed = 5});
        block.eval();
        const Matrix<T> expected = real_rows(block.forward(x, mask, causal));
        CHECK(relative_difference<T>(block.infer(packed, causal), expected) <= test::path_tolerance<T>());
        // The attention and the feed-forward block on their own.
        CHECK(relative_difference<T>(block.self_attn().infer(packed, causal),
                                     real_rows(block.self_attn().forward(x, mask, causal))) <=
              test::path_tolerance<T>());
        CHECK(relative_difference<T>(block.feed_forward().infer(packed.tokens),
                                     real_rows(block.feed_forward().forward(x))) <= test::path_tolerance<T>());
      }
}

TEST_CASE("infer keeps nothing: a later backward still uses the last forward; LayerNorm::infer_in_place") {
  std::mt19937_64 rng(test::test_seed());
  TransformerBlock<double> block(6, 2, {.dim_feedforward = 8, .dropout = 0.0});
  const Tensor<double> x = test::random_tensor<double>({3, 7, 6}, rng);
  const Tensor<double> g = test::random_tensor<double>({3, 7, 6}, rng);
  (void)block.forward(x);
  const Tensor<double> dx_before = block.backward(g);
  (void)block.infer(PackedSequences<double>::from_padded(test::random_tensor<double>({3, 7, 6}, rng), lengths));
  for (auto& p : block.parameters()) p.parameter->zero_grad();
  const Tensor<double> dx_after = block.backward(g);
  CHECK(dx_after.matrix() == dx_before.matrix());

  aimastery::LayerNorm<double> norm(6, {.eps = 1e-12});
  norm.weight().value.setRandom();
  norm.bias().value.setRandom();
  Matrix<double> rows = x.matrix();
  norm.infer_in_place(rows);
  CHECK(relative_difference<double>(rows, norm.forward(x).matrix()) <= 1e-14);
}

TEST_CASE("PackedSequences and infer: bad input names the problem") {
  std::mt19937_64 rng(test::test_seed());
  const Tensor<double> x = test::random_tensor<double>({2, 3, 4}, rng);
  CHECK_THROWS_NAMING(PackedSequences<double>::from_padded(x, std::vector<Index>{3}), InvalidArgument,
                      "1 lengths for a batch of 2");
  CHECK_THROWS_NAMING(PackedSequences<double>::from_padded(x, std::vector<Index>{3, 4}), InvalidArgument,
                      "a length of 4 is outside [1, 3]");
  CHECK_THROWS_NAMING(PackedSequences<double>::from_padded(x, std::vector<Index>{0, 2}), InvalidArgument,
                      "a length of 0 is outside [1, 3]");

  TransformerBlock<double> block(4, 2, {.dim_feedforward = 8});
  auto packed = PackedSequences<double>::from_padded(x, std::vector<Index>{3, 2});
  CHECK_NOTHROW((void)block.infer(packed));
  auto wrong_end = packed;
  wrong_end.offsets.back() = 4;
  CHECK_THROWS_NAMING((void)block.infer(wrong_end), InvalidArgument, "end at the 5 token rows");
  auto empty_sequence = packed;
  empty_sequence.offsets = {0, 0, 5};
  CHECK_THROWS_NAMING((void)block.infer(empty_sequence), InvalidArgument, "at least one token");
  TransformerBlock<double> wider(6, 2, {.dim_feedforward = 8});
  CHECK_THROWS_NAMING((void)wider.infer(packed), InvalidArgument, "tokens have 4 features but the layer takes 6");
  CHECK_THROWS_NAMING((void)wider.feed_forward().infer(packed.tokens), InvalidArgument, "X has 4 columns");
  Matrix<double> rows = packed.tokens;
  CHECK_THROWS_NAMING(wider.norm1().infer_in_place(rows), InvalidArgument, "X has 4 columns");
}
