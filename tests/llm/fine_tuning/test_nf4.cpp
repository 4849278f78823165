// NF4 quantisation against bitsandbytes (tests/reference/gen_llm_nf4.py): packed bytes, absmax values,
// dequantised values and double-quantisation statistics bit for bit.
#include <bit>
#include <cstring>
#include <sstream>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/io/safetensors.hpp"
#include "aimastery/llm/fine_tuning/nf4.hpp"
#include "support.hpp"

using namespace aimastery;
using aimastery::test::test_seed;

namespace {

const Safetensors& reference() {
  static const Safetensors file = read_safetensors(std::string(AIMASTERY_REFERENCE_DIR) + "/llm_nf4.safetensors");
  return file;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  std::stringstream list(reference().metadata.at("cases"));
  for (std::string name; std::getline(list, name, ',');) names.push_back(name);
  return names;
}

/// A tensor's values as T (integers and float32 are exact through double).
template <class T>
std::vector<T> values(const std::string& name) {
  const auto wide = reference().at(name).values<double>();
  return std::vector<T>(wide.begin(), wide.end());
}

/// Equal bit for bit (so −0 ≠ +0 and every ulp counts).
bool same_bits(float a, float b) { return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b); }

}  // namespace

TEST_CASE("the 8-bit dynamic map is bitsandbytes' create_dynamic_map(signed=True)") {
  const auto expected = values<float>("dynamic_map");
  REQUIRE(expected.size() == 256);
  for (std::size_t k = 0; k < 256; ++k) CHECK(same_bits(dynamic_map()[k], expected[k]));
}

TEST_CASE("quantize_nf4 and dequantize_nf4 are bit-identical to bitsandbytes") {
  const auto names = case_names();
  REQUIRE(names.size() >= 10);
  for (const auto& name : names) {
    CAPTURE(name);
    const auto& input = reference().at(name + ".input");
    REQUIRE(input.shape.size() == 2);
    const auto x = input.values<float>();
    const Matrix<float> W = Eigen::Map<const Matrix<float>>(x.data(), input.shape[0], input.shape[1]);
    const bool dq = reference().contains(name + ".absmax_codes");
    const NF4Tensor q = quantize_nf4(
        W, {.blocksize = static_cast<Index>(values<std::int64_t>(name + ".blocksize")[0]), .double_quant = dq});

    const auto packed = values<std::uint8_t>(name + ".packed");
    REQUIRE(q.packed.size() == packed.size());
    std::size_t packed_mismatches = 0;
    for (std::size_t j = 0; j < packed.size(); ++j) packed_mismatches += q.packed[j] != packed[j];
    CHECK(packed_mismatches == 0);

    NF4Tensor q_at_reference_offset = q;
    if (dq) {
      // μ is summed in double here and in PyTorch's vectorised float order there: equal to 1 ulp.
      const float offset = values<float>(name + ".absmax_offset")[0];
      CHECK(std::abs(q.absmax_offset - offset) <= std::abs(offset) * std::numeric_limits<float>::epsilon());
      // Given bitsandbytes' μ, every statistic is bit-identical.
      q_at_reference_offset = quantize_nf4(W, {.blocksize = q.blocksize});
      detail::double_quantize_statistics(q_at_reference_offset, offset, 256);
      const auto codes = values<std::uint8_t>(name + ".absmax_codes");
      const auto scales = values<float>(name + ".absmax_scales");
      REQUIRE(q_at_reference_offset.absmax_codes.size() == codes.size());
      REQUIRE(q_at_reference_offset.absmax_scales.size() == scales.size());
      for (std::size_t b = 0; b < codes.size(); ++b) CHECK(q_at_reference_offset.absmax_codes[b] == codes[b]);
      for (std::size_t b = 0; b < scales.size(); ++b)
        CHECK(same_bits(q_at_reference_offset.absmax_scales[b], scales[b]));
    }
    const auto absmax = values<float>(name + ".absmax");
    REQUIRE(q_at_reference_offset.absmax.size() == absmax.size());
    for (std::size_t b = 0; b < absmax.size(); ++b) CHECK(same_bits(q_at_reference_offset.absmax[b], absmax[b]));

    const Matrix<float> restored = dequantize_nf4(q_at_reference_offset);
    const auto expected = values<float>(name + ".dequantized");
    REQUIRE(restored.size() == static_cast<Index>(expected.size()));
    std::size_t value_mismatches = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) value_mismatches += !same_bits(restored.data()[i], expected[i]);
    CHECK(value_mismatches == 0);
  }
}

TEST_CASE("dequantize_nf4_range agrees with the whole-matrix dequantisation at any offset") {
  RandomEngine rng(test_seed(7));
  Matrix<float> W(5, 77);
  for (Index i = 0; i < W.size(); ++i) W.data()[i] = static_cast<float>(detail::standard_normal(rng));
  const NF4Tensor q = quantize_nf4(W, {.blocksize = 32});
  const Matrix<float> all = dequantize_nf4(q);
  for (Index first : {0, 1, 31, 32, 33, 100, 384}) {
    for (Index count : {0, 1, 2, 3, 31, 64, 1}) {
      if (first + count > q.size()) continue;
      std::vector<float> part(static_cast<std::size_t>(count));
      dequantize_nf4_range(q, first, count, part.data());
      for (Index i = 0; i < count; ++i) CHECK(same_bits(part[static_cast<std::size_t>(i)], all.data()[first + i]));
    }
  }
}

TEST_CASE("NF4 of 1024 x 1024 standard normal values at block 64: mean absolute error and memory") {
  RandomEngine rng(20261201);
  Matrix<float> W(1024, 1024);
  for (Index i = 0; i < W.size(); ++i) W.data()[i] = static_cast<float>(detail::standard_normal(rng));
  const NF4Tensor q = quantize_nf4(W, {.blocksize = 64});
  const double mae = (dequantize_nf4(q) - W).cwiseAbs().cast<double>().mean();
  // The same draws went through bitsandbytes in the generator: the error is the same, not merely close.
  const double bitsandbytes_mae = values<double>("randn_1024_mae")[0];
  MESSAGE("mean absolute error " << mae << ", bitsandbytes on the same values " << bitsandbytes_mae
                                 << " (bitsandbytes publishes 0.072798 on torch.randn)");
  CHECK(mae == doctest::Approx(bitsandbytes_mae).epsilon(1e-7));
  CHECK(mae < 0.0729);
  CHECK(q.bits_per_parameter() == doctest::Approx(4.5).epsilon(1e-6));
  const NF4Tensor dq = quantize_nf4(W, {.blocksize = 64, .double_quant = true});
  MESSAGE("bits per parameter with double quantisation: " << dq.bits_per_parameter());
  CHECK(dq.bits_per_parameter() < 4.13);
  CHECK(dq.bits_per_parameter() > 4.12);
}

TEST_CASE("quantize_nf4 refuses what it cannot represent") {
  Matrix<float> W = Matrix<float>::Ones(2, 64);
  CHECK_THROWS_NAMING(quantize_nf4(Matrix<float>(0, 3)), InvalidArgument, "empty");
  W(1, 5) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_NAMING(quantize_nf4(W), InvalidArgument, "NaN");
  W(1, 5) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_NAMING(quantize_nf4(W), InvalidArgument, "infinity");
  W(1, 5) = 1.0f;
  for (Index bad : {0, 16, 48, 8192, -64})
    CHECK_THROWS_NAMING(quantize_nf4(W, {.blocksize = bad}), InvalidArgument, "blocksize");
  // Values too large for float are refused rather than silently becoming infinity.
  Matrix<double> huge = Matrix<double>::Ones(1, 64) * 1e300;
  CHECK_THROWS_NAMING(quantize_nf4(huge), InvalidArgument, "infinity");
}
