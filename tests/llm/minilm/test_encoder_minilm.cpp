// SentenceEncoder on all-MiniLM-L6-v2 (AIMASTERY_MINILM_DIR): its embeddings equal sentence-transformers'
// encode of the same sentences (tests/reference/gen_llm_encoder.py), token counts included.
#include <aimastery/io/safetensors.hpp>
#include <aimastery/llm/attention/sentence_encoder.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "llm/bert_fixture.hpp"
#include "support.hpp"

using namespace aimastery;
using aimastery::test::minilm_dir;

TEST_CASE("MiniLM: embeddings equal sentence-transformers' encode (cosine >= 0.99999, max abs diff <= 1e-5)") {
  const std::string dir = minilm_dir();
  SentenceEncoder model = SentenceEncoder::load(dir);
  CHECK(model.dimension() == 384);
  const auto texts = test::load_reference("llm_encoder_sentences.json").get<std::vector<std::string>>();
  const Safetensors ref =
      read_safetensors(std::string(AIMASTERY_REFERENCE_DIR) + "/llm_encoder_embeddings.safetensors");
  const Matrix<float> expected = ref.matrix<float>("embeddings");
  const std::vector<double> lengths = ref.at("lengths").values<double>();
  REQUIRE(texts.size() >= 200);
  REQUIRE(expected.rows() == static_cast<Index>(texts.size()));
  for (std::size_t i = 0; i < texts.size(); ++i)
    CHECK(static_cast<double>(model.tokenizer().encode(texts[i]).size()) == lengths[i]);

  const Matrix<float> got = model.encode(texts, 32);
  REQUIRE(got.rows() == expected.rows());
  REQUIRE(got.cols() == expected.cols());
  double worst_cosine = 1.0, worst_diff = 0.0;
  for (Index i = 0; i < got.rows(); ++i) {
    const double cosine = got.row(i).cast<double>().dot(expected.row(i).cast<double>()) /
                          (got.row(i).cast<double>().norm() * expected.row(i).cast<double>().norm());
    const double diff = (got.row(i) - expected.row(i)).cwiseAbs().maxCoeff();
    CAPTURE(texts[static_cast<std::size_t>(i)]);
    CHECK(cosine >= 0.99999);
    CHECK(diff <= 1e-5);
    worst_cosine = std::min(worst_cosine, cosine);
    worst_diff = std::max(worst_diff, diff);
  }
  MESSAGE("worst cosine " << worst_cosine << ", worst max abs diff " << worst_diff << " over " << got.rows()
                          << " sentences");
  // The batch size changes only the padding, not the embeddings.
  const std::vector<std::string> few(texts.begin(), texts.begin() + 40);
  const Matrix<float> one_at_a_time = model.encode(few, 1);
  CHECK((one_at_a_time - got.topRows(40)).cwiseAbs().maxCoeff() <= 1e-5f);
}

TEST_CASE("MiniLM: similar sentences are closer than unrelated ones") {
  SentenceEncoder model = SentenceEncoder::load(minilm_dir());
  const Matrix<float> E =
      model.encode({"A man is eating food.", "A man is eating a piece of bread.", "The stock market fell sharply."});
  CHECK(E.row(0).dot(E.row(1)) > 0.6f);
  CHECK(E.row(0).dot(E.row(2)) < 0.2f);
  for (Index i = 0; i < E.rows(); ++i) CHECK(E.row(i).norm() == doctest::Approx(1.0f).epsilon(1e-5));
}
