// SentenceEncoder on a tiny BERT folder built on the fly: loading, shapes and bad files. The comparison of
// all-MiniLM-L6-v2 with sentence-transformers is in tests/llm/minilm.
#include <aimastery/llm/attention/sentence_encoder.hpp>

#include <filesystem>
#include <fstream>

#include "llm/bert_fixture.hpp"
#include "support.hpp"

using namespace aimastery;
using TinyBert = aimastery::test::TinyBertFolder;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("SentenceEncoder: a tiny BERT loads, and its embeddings are unit vectors independent of the batching") {
  TinyBert tiny("ok");
  tiny.write();
  SentenceEncoder model = SentenceEncoder::load(tiny.dir.string(), {.max_seq_length = 8});
  CHECK(model.dimension() == 8);
  const std::vector<std::string> texts = {"the cat sat on the mat.", "cats", "", "the the the the the the the the"};
  const Matrix<float> a = model.encode(texts, 4);
  const Matrix<float> b = model.encode(texts, 1);
  REQUIRE(a.rows() == 4);
  for (Index i = 0; i < a.rows(); ++i) CHECK(a.row(i).norm() == doctest::Approx(1.0f).epsilon(1e-5));
  CHECK((a - b).cwiseAbs().maxCoeff() <= 1e-5f);
  CHECK(model.encode(std::vector<std::string>{}).rows() == 0);
  std::vector<Index> seen;
  model.encode(texts, 3, [&](Index done, Index total) {
    CHECK(total == 4);
    seen.push_back(done);
  });
  // One call per batch (of 3 and of 1 texts), with the running count: the batches may finish in either
  // order on several threads, so the first count is 3 or 1, and the last is always 4.
  REQUIRE(seen.size() == 2);
  CHECK((seen[0] == 3 || seen[0] == 1));
  CHECK(seen[1] == 4);
  CHECK_THROWS_NAMING(model.encode(texts, 0), InvalidArgument, "batch_size must be positive");
}

TEST_CASE("SentenceEncoder: missing folder and files") {
  CHECK_THROWS_NAMING(SentenceEncoder::load("/nonexistent/minilm"), FormatError, "aimastery_fetch_minilm");
  TinyBert tiny("missing");
  tiny.write();
  fs::remove(tiny.dir / "vocab.txt");
  CHECK_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string()), FormatError, "vocab.txt' is missing");
  tiny.write();
  fs::remove(tiny.dir / "model.safetensors");
  CHECK_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string()), FormatError, "model.safetensors' is missing");
  tiny.write();
  std::ofstream(tiny.dir / "config.json") << "{\"hidden_size\": 8, ";
  CHECK_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string()), FormatError, "not valid JSON");
  std::ofstream(tiny.dir / "config.json") << "{\"hidden_size\": 8, \"num_attention_heads\": 3}";
  CHECK_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string()), FormatError, "not divisible");
  std::ofstream(tiny.dir / "config.json") << "{\"hidden_act\": \"swish\"}";
  CHECK_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string()), FormatError, "swish");
}

TEST_CASE("BertConfig::from_file: each field's kind and range, duplicates, size and path named") {
  TinyBert tiny("config_fields");
  tiny.write();
  const std::string path = (tiny.dir / "config.json").string();
  const auto config_of = [&](const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
    return aimastery::BertConfig::from_file(path);
  };
  const auto c = config_of(R"({"hidden_size": 8, "num_attention_heads": 2, "layer_norm_eps": 1e-5,
                              "hidden_act": "gelu_new", "architectures": ["BertModel"], "other": {"x": null}})");
  CHECK(c.hidden_size == 8);
  CHECK(c.num_attention_heads == 2);
  CHECK(c.layer_norm_eps == 1e-5);
  CHECK(c.activation() == aimastery::ActivationKind::gelu_tanh);
  CHECK(c.vocab_size == 30522);  // absent: the default
  for (const std::string bad : {"0", "-1", "65537", "8.0", "\"8\"", "18446744073709551615", "1e30"}) {
    CAPTURE(bad);
    CHECK_THROWS_NAMING(config_of("{\"hidden_size\": " + bad + "}"), FormatError,
                        "hidden_size must be an integer in [1, 65536]");
  }
  CHECK_THROWS_NAMING(config_of(R"({"layer_norm_eps": 0})"), FormatError, "layer_norm_eps must be a positive number");
  CHECK_THROWS_NAMING(config_of(R"({"layer_norm_eps": "1e-5"})"), FormatError, "layer_norm_eps must be a positive");
  CHECK_THROWS_NAMING(config_of(R"({"hidden_act": 1})"), FormatError, "hidden_act must be a string");
  CHECK_THROWS_NAMING(config_of(R"([1, 2])"), FormatError, "is not a JSON object");
  CHECK_THROWS_NAMING(config_of(R"({"hidden_size": 8, "hidden_size": 16})"), FormatError,
                      "the name \"hidden_size\" appears twice");
  CHECK_THROWS_NAMING(config_of("{\"hidden_act\": \"gelu\xff\"}"), FormatError, "invalid UTF-8");
  CHECK_THROWS_NAMING(config_of("{\"pad\": \"" + std::string(1 << 20, 'x') + "\"}"), FormatError,
                      "more than the limit of 1048576");
  CHECK_THROWS_NAMING(aimastery::BertConfig::from_file(tiny.dir.string()), FormatError, "is a directory");
}

TEST_CASE("SentenceEncoder: a tensor of the wrong shape, a missing or unexpected tensor, a truncated vocabulary") {
  {
    TinyBert tiny("shape");
    std::vector<float> wrong(8 * 7, 0.5f);
    tiny.tensors.add("encoder.layer.1.attention.self.key.weight", {8, 7}, wrong.data(), SafetensorsDtype::F32);
    tiny.write();
    CHECK_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string(), {.max_seq_length = 8}), FormatError,
                        "tensor 'encoder.layer.1.attention.self.key.weight' has shape (8, 7), the configuration "
                        "needs (8, 8)");
  }
  {
    TinyBert tiny("missing_tensor");
    tiny.tensors.tensors.erase("encoder.layer.0.output.LayerNorm.bias");
    tiny.write();
    CHECK_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string(), {.max_seq_length = 8}), FormatError,
                        "tensor 'encoder.layer.0.output.LayerNorm.bias' is missing");
  }
  {
    TinyBert tiny("unexpected");
    std::vector<float> extra(8, 0.0f);
    tiny.tensors.add("encoder.layer.2.output.dense.bias", {8}, extra.data(), SafetensorsDtype::F32);
    tiny.write();
    CHECK_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string(), {.max_seq_length = 8}), FormatError,
                        "unexpected tensor 'encoder.layer.2.output.dense.bias'");
  }
  {
    TinyBert tiny("vocab");
    tiny.vocab.resize(10);
    tiny.write();
    CHECK_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string(), {.max_seq_length = 8}), FormatError,
                        "config.json says vocab_size 12");
  }
  {
    TinyBert tiny("broken_file");
    tiny.write();
    const std::string bytes = read_text(tiny.dir / "model.safetensors");
    std::ofstream(tiny.dir / "model.safetensors", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    CHECK_THROWS_AS(SentenceEncoder::load(tiny.dir.string(), {.max_seq_length = 8}), FormatError);
  }
  {
    TinyBert tiny("seq");
    tiny.write();
    CHECK_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string(), {.max_seq_length = 17}), InvalidArgument,
                        "max_seq_length 17");
  }
}
