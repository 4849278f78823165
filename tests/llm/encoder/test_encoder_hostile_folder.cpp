// SentenceEncoder::load on hostile model folders: the sizes in config.json are believed only as far as the
// tensors of model.safetensors bear them out, so a folder of a few hundred bytes cannot make the loader
// build (allocate and randomly fill) the network its config.json describes.
#include <aimastery/llm/attention/sentence_encoder.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "llm/bert_fixture.hpp"
#include "support.hpp"

using namespace aimastery;
using TinyBert = aimastery::test::TinyBertFolder;

using test::peak_resident_bytes;

TEST_CASE("SentenceEncoder: a config.json with large sizes and no tensors fails before the network is built") {
  // hidden 1024, FFN 4096, 2 layers: the network is ~50 M floats, ~190 MB with its gradient buffers. The
  // file holds no tensor, so the load must fail naming the first one, having allocated (and touched)
  // nothing of that size: the peak memory grows by far less than the network would take.
  TinyBert tiny("hostile_sizes");
  tiny.config.hidden_size = 1024;
  tiny.config.intermediate_size = 4096;
  tiny.config.num_hidden_layers = 2;
  tiny.tensors = Safetensors{};
  tiny.write();
  const std::int64_t before = peak_resident_bytes(/*reset_first=*/true);
  REQUIRE_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string(), {.max_seq_length = 8}), FormatError,
                        "tensor 'embeddings.word_embeddings.weight' is missing");
  const std::int64_t grown = peak_resident_bytes() - before;
  MESSAGE("peak resident memory grew by " << grown / 1024 << " KiB");
  REQUIRE(grown < 32 * 1024 * 1024);

  // The auditor's folder: the config limits' worth of layers, each a few GB; refused as fast.
  tiny.config.hidden_size = 4096;
  tiny.config.num_attention_heads = 1;
  tiny.config.intermediate_size = 1 << 20;
  tiny.config.num_hidden_layers = 1024;
  tiny.write();
  CHECK_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string(), {.max_seq_length = 8}), FormatError,
                      "tensor 'embeddings.word_embeddings.weight' is missing");
}

TEST_CASE("SentenceEncoder: a layer's tensor missing or misshapen under large sizes is named before building") {
  // The embeddings' tensors present for hidden 1024 (12 + 16 + 2 rows: small), but layer 0's query weight
  // misshapen, then missing: FormatError naming it, before the ~190 MB of layers are built.
  TinyBert tiny("hostile_layer");
  tiny.config.hidden_size = 1024;
  tiny.config.intermediate_size = 4096;
  tiny.config.num_hidden_layers = 2;
  BertConfig embeddings_only = tiny.config;
  embeddings_only.num_hidden_layers = 0;
  tiny.tensors = test::tiny_bert_tensors(embeddings_only, 3);
  std::vector<float> wrong(8, 0.5f);
  tiny.tensors.add("encoder.layer.0.attention.self.query.weight", {2, 4}, wrong.data(), SafetensorsDtype::F32);
  tiny.write();
  const std::int64_t before = peak_resident_bytes(/*reset_first=*/true);
  CHECK_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string(), {.max_seq_length = 8}), FormatError,
                      "tensor 'encoder.layer.0.attention.self.query.weight' has shape (2, 4), the configuration "
                      "needs (1024, 1024)");
  tiny.tensors.tensors.erase("encoder.layer.0.attention.self.query.weight");
  tiny.write();
  CHECK_THROWS_NAMING(SentenceEncoder::load(tiny.dir.string(), {.max_seq_length = 8}), FormatError,
                      "tensor 'encoder.layer.0.attention.self.query.weight' is missing");
  CHECK(peak_resident_bytes() - before < 32 * 1024 * 1024);
}

TEST_CASE("SentenceEncoder: in-memory tensors whose bytes do not hold their shape are refused by name") {
  const BertConfig config = test::tiny_bert_config();
  Safetensors tensors = test::tiny_bert_tensors(config, 5);
  tensors.tensors.at("encoder.layer.1.output.dense.weight").bytes.clear();
  CHECK_THROWS_NAMING(SentenceEncoder(config, WordPieceTokenizer(test::tiny_bert_vocab()), tensors), FormatError,
                      "tensor 'encoder.layer.1.output.dense.weight' holds 0 bytes, its dtype and shape need 512");
}
