#pragma once
// Test fixtures for the BERT sentence encoder: a tiny BERT with seeded random weights (hidden 8, 2 heads,
// 2 layers, 16 positions, a 12-token vocabulary) in memory or as a model folder, and the all-MiniLM-L6-v2
// folder of the `minilm` CTest fixture.
#include <aimastery/llm/attention/sentence_encoder.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/io/safetensors.hpp"
#include "support.hpp"

namespace aimastery::test {

/// The all-MiniLM-L6-v2 folder (AIMASTERY_MINILM_DIR), or a failure naming the command that fetches it.
inline std::string minilm_dir() {
  const char* env = std::getenv("AIMASTERY_MINILM_DIR");
  const std::string dir = env ? env : "";
  if (dir.empty() || !std::filesystem::is_regular_file(std::filesystem::path(dir) / "model.safetensors"))
    FAIL("the all-MiniLM-L6-v2 model is missing (AIMASTERY_MINILM_DIR = '"
         << dir
         << "'): fetch it with `cmake --build <build dir> --target aimastery_fetch_minilm` "
            "or tools/fetch_minilm.sh <dir>");
  return dir;
}

/// The tiny BERT's configuration, with `ffn` units in each feed-forward layer.
inline BertConfig tiny_bert_config(Index ffn = 16) {
  BertConfig config;
  config.vocab_size = 12;
  config.hidden_size = 8;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 2;
  config.intermediate_size = ffn;
  config.max_position_embeddings = 16;
  config.type_vocab_size = 2;
  return config;
}

inline std::vector<std::string> tiny_bert_vocab() {
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", "."};
}

/// Every tensor of a BERT checkpoint with `config`'s shapes under BERT's names (the pooler included, which
/// the encoder accepts and does not use), each entry drawn N(0, 0.3²) from a generator seeded with `seed`.
inline Safetensors tiny_bert_tensors(const BertConfig& config, std::uint64_t seed) {
  RandomEngine rng(seed);
  Safetensors tensors;
  const auto add = [&](const std::string& name, std::vector<Index> shape) {
    Index count = 1;
    for (Index d : shape) count *= d;
    std::vector<float> v(static_cast<std::size_t>(count));
    for (auto& x : v) x = static_cast<float>(0.3 * detail::standard_normal(rng));
    tensors.add(name, shape, v.data(), SafetensorsDtype::F32);
  };
  const Index E = config.hidden_size, F = config.intermediate_size;
  add("embeddings.word_embeddings.weight", {config.vocab_size, E});
  add("embeddings.position_embeddings.weight", {config.max_position_embeddings, E});
  add("embeddings.token_type_embeddings.weight", {config.type_vocab_size, E});
  add("embeddings.LayerNorm.weight", {E});
  add("embeddings.LayerNorm.bias", {E});
  for (Index l = 0; l < config.num_hidden_layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* part : {"query", "key", "value"}) {
      add(p + "attention.self." + part + ".weight", {E, E});
      add(p + "attention.self." + part + ".bias", {E});
    }
    add(p + "attention.output.dense.weight", {E, E});
    add(p + "attention.output.dense.bias", {E});
    add(p + "attention.output.LayerNorm.weight", {E});
    add(p + "attention.output.LayerNorm.bias", {E});
    add(p + "intermediate.dense.weight", {F, E});
    add(p + "intermediate.dense.bias", {F});
    add(p + "output.dense.weight", {E, F});
    add(p + "output.dense.bias", {E});
    add(p + "output.LayerNorm.weight", {E});
    add(p + "output.LayerNorm.bias", {E});
  }
  add("pooler.dense.weight", {E, E});
  add("pooler.dense.bias", {E});
  return tensors;
}

/// The tiny BERT as an encoder in scalar type T, built in memory.
template <Scalar T = float>
BasicSentenceEncoder<T> tiny_bert(std::uint64_t seed, Index ffn = 16) {
  const BertConfig config = tiny_bert_config(ffn);
  WordPieceOptions options;
  options.max_length = 16;
  return BasicSentenceEncoder<T>(config, WordPieceTokenizer(tiny_bert_vocab(), options),
                                 tiny_bert_tensors(config, seed));
}

/// The tiny BERT as a model folder (config.json, vocab.txt, model.safetensors) in a temporary directory,
/// removed with the object; `tensors` may be edited before write().
struct TinyBertFolder {
  std::filesystem::path dir;
  BertConfig config = tiny_bert_config();
  std::vector<std::string> vocab = tiny_bert_vocab();
  Safetensors tensors;

  explicit TinyBertFolder(const std::string& name, std::uint64_t seed = 7)
      : dir(std::filesystem::temp_directory_path() / ("aimastery_tiny_bert_" + name)),
        tensors(tiny_bert_tensors(config, seed)) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  TinyBertFolder(const TinyBertFolder&) = delete;
  TinyBertFolder& operator=(const TinyBertFolder&) = delete;
  ~TinyBertFolder() { std::filesystem::remove_all(dir); }

  void write() const {
    nlohmann::json c;
    c["vocab_size"] = config.vocab_size;
    c["hidden_size"] = config.hidden_size;
    c["num_hidden_layers"] = config.num_hidden_layers;
    c["num_attention_heads"] = config.num_attention_heads;
    c["intermediate_size"] = config.intermediate_size;
    c["max_position_embeddings"] = config.max_position_embeddings;
    c["type_vocab_size"] = config.type_vocab_size;
    c["layer_norm_eps"] = 1e-12;
    c["hidden_act"] = "gelu";
    std::ofstream(dir / "config.json") << c.dump();
    std::ofstream v(dir / "vocab.txt");
    for (const auto& t : vocab) v << t << '\n';
    v.close();
    write_safetensors((dir / "model.safetensors").string(), tensors);
  }
};

}  // namespace aimastery::test
