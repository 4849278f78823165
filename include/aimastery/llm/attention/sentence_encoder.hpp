#pragma once
/// \file
/// SentenceEncoder: a BERT-style transformer encoder with mean pooling and L2 normalisation, the
/// sentence-transformers model all-MiniLM-L6-v2 run from C++ with its published weights.
///
///   auto model = SentenceEncoder::load("build/models/all-MiniLM-L6-v2");   // tools/fetch_minilm.sh
///   Matrix<float> E = model.encode({"A man is eating food.", "Someone eats."});   // 2 × 384, unit rows
///   float cosine = E.row(0).dot(E.row(1));
///
/// SentenceEncoder is BasicSentenceEncoder<float>; BasicSentenceEncoder<double> runs the same weights in
/// double precision.
///
/// For a text tokenised as ids t₀ … t_{n−1} ([CLS] … [SEP], WordPieceTokenizer):
///
///   x_p = LayerNorm(word[t_p] + position[p] + token_type[0])              (eps 1e-12)
///   x   = TransformerBlock_l(x)   for l = 1 … 6, each BERT's post-norm layer:
///           h = LayerNorm(x + MHA(x)),  y = LayerNorm(h + W₂ GELU(W₁ h + b₁) + b₂)   (12 heads, GELU erf)
///   e   = (1/n) Σ_p x_p                    mean over the real tokens (the attention mask)
///   out = e / ‖e‖₂
///
/// The layers are the library's TransformerBlock (self-attention with a key-padding mask), loaded from
/// BERT's tensor names: query/key/value stack into MultiHeadAttention's in_proj_weight (3E × E), the
/// attention output dense is out_proj, intermediate/output dense are the FFN's linear1/linear2, and the
/// two LayerNorms are norm1/norm2.
///
/// Batching as sentence-transformers does: the texts are sorted by length (longest first) and cut into
/// batches of `batch_size`; the embeddings are returned in the input order. A batch runs packed, without
/// padding (packed_sequences.hpp): the layers' const `infer` path, every token row a real token. With
/// OpenMP, batches run in parallel (omp_get_max_threads() threads) on the one shared, read-only model;
/// encode is const, so concurrent calls from several threads are safe.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/io/file.hpp"
#include "aimastery/io/json.hpp"
#include "aimastery/io/safetensors_read.hpp"
#include "aimastery/io/safetensors_tensor.hpp"
#include "aimastery/llm/attention/layer_norm.hpp"
#include "aimastery/llm/attention/packed_sequences.hpp"
#include "aimastery/llm/attention/transformer_block.hpp"
#include "aimastery/llm/attention/wordpiece_tokenizer.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace aimastery {

/// The fields of a BERT config.json that the encoder uses.
struct BertConfig {
  Index vocab_size = 30522;
  Index hidden_size = 384;
  Index num_hidden_layers = 6;
  Index num_attention_heads = 12;
  Index intermediate_size = 1536;
  Index max_position_embeddings = 512;
  Index type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  /// Activation of the feed-forward block: "gelu" (erf form), "gelu_new"/"gelu_pytorch_tanh" (tanh form)
  /// or "relu".
  std::string hidden_act = "gelu";

  /// Reads config.json (at most 1 MiB); a missing file, invalid JSON or a field of the wrong type or
  /// range: FormatError. (A template with a defaulted, unused parameter, called as an ordinary function, so
  /// that the JSON parser is instantiated where a configuration is read, not in every file that includes
  /// this header.)
  template <class = void>
  static BertConfig from_file(const std::string& path) {
    const JsonValue j = JsonValue::parse(detail::read_small_file(path, "BertConfig::from_file", 1 << 20),
                                         "BertConfig::from_file: '" + path + "' is not valid JSON");
    if (!j.is_object()) throw FormatError("BertConfig::from_file: '" + path + "' is not a JSON object");
    BertConfig c;
    const auto integer = [&](const char* key, Index& field, Index low, Index high) {
      const JsonValue* value = j.find(key);
      if (value == nullptr) return;
      // (An unsigned integer above `high` is tested first: get<std::int64_t>() of it may not fit.)
      if (!value->is_number_integer() ||
          (value->is_number_unsigned() && value->get<std::uint64_t>() > static_cast<std::uint64_t>(high)) ||
          value->get<std::int64_t>() < low || value->get<std::int64_t>() > high)
        throw FormatError("BertConfig::from_file: '" + path + "': " + key + " must be an integer in [" +
                          std::to_string(low) + ", " + std::to_string(high) + "]");
      field = value->get<Index>();
    };
    integer("vocab_size", c.vocab_size, 1, 10'000'000);
    integer("hidden_size", c.hidden_size, 1, 65536);
    integer("num_hidden_layers", c.num_hidden_layers, 1, 1024);
    integer("num_attention_heads", c.num_attention_heads, 1, 1024);
    integer("intermediate_size", c.intermediate_size, 1, 1 << 20);
    integer("max_position_embeddings", c.max_position_embeddings, 2, 1 << 20);
    integer("type_vocab_size", c.type_vocab_size, 1, 1024);
    if (const JsonValue* eps = j.find("layer_norm_eps")) {
      if (!eps->is_number() || !(eps->get<double>() > 0.0))
        throw FormatError("BertConfig::from_file: '" + path + "': layer_norm_eps must be a positive number");
      c.layer_norm_eps = eps->get<double>();
    }
    if (const JsonValue* act = j.find("hidden_act")) {
      if (!act->is_string()) throw FormatError("BertConfig::from_file: '" + path + "': hidden_act must be a string");
      c.hidden_act = act->as_string();
    }
    (void)c.activation(path);  // an unknown activation fails here
    if (c.hidden_size % c.num_attention_heads != 0)
      throw FormatError("BertConfig::from_file: '" + path + "': hidden_size " + std::to_string(c.hidden_size) +
                        " is not divisible by num_attention_heads " + std::to_string(c.num_attention_heads));
    return c;
  }

  [[nodiscard]] ActivationKind activation(const std::string& source = "config") const {
    if (hidden_act == "gelu") return ActivationKind::gelu;
    if (hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh") return ActivationKind::gelu_tanh;
    if (hidden_act == "relu") return ActivationKind::relu;
    throw FormatError("BertConfig: '" + source + "': unsupported hidden_act '" + hidden_act + "'");
  }
};

struct SentenceEncoderOptions {
  /// Tokens per text, [CLS] and [SEP] included (sentence-transformers' max_seq_length: 256).
  Index max_seq_length = 256;
};

/// The encoder in scalar type T: float (SentenceEncoder, the model's own precision) or double (the weights
/// widened; for gradient checks and reference computations).
template <Scalar T>
class BasicSentenceEncoder {
 public:
  /// Loads a sentence-transformers BERT folder: config.json, vocab.txt and model.safetensors (read with
  /// the library's own safetensors reader). Every tensor the configuration calls for must be present with
  /// exactly its shape; otherwise a FormatError names the tensor. `embeddings.position_ids` (int64) and
  /// `pooler.*` may be present and are not used; any other tensor is refused as unexpected.
  static BasicSentenceEncoder load(const std::string& directory, SentenceEncoderOptions options = {}) {
    const std::string where = "SentenceEncoder::load";
    const auto file = [&](const char* name) { return directory + "/" + name; };
    if (!detail::is_directory_path(directory))
      throw FormatError(where + ": '" + directory +
                        "' is not a directory (fetch all-MiniLM-L6-v2 with tools/fetch_minilm.sh or the CMake target "
                        "aimastery_fetch_minilm)");
    for (const char* needed : {"config.json", "vocab.txt", "model.safetensors"})
      if (!detail::is_regular_file_path(file(needed))) throw FormatError(where + ": '" + file(needed) + "' is missing");
    const BertConfig config = BertConfig::from_file(file("config.json"));
    if (options.max_seq_length < 2 || options.max_seq_length > config.max_position_embeddings)
      throw InvalidArgument(
          where + ": max_seq_length " + std::to_string(options.max_seq_length) +
          " must be in [2, max_position_embeddings = " + std::to_string(config.max_position_embeddings) + "]");
    WordPieceOptions tokenizer_options;
    tokenizer_options.max_length = options.max_seq_length;
    WordPieceTokenizer tokenizer = WordPieceTokenizer::from_file(file("vocab.txt"), tokenizer_options);
    if (tokenizer.vocab_size() != config.vocab_size)
      throw FormatError(where + ": '" + file("vocab.txt") + "' has " + std::to_string(tokenizer.vocab_size()) +
                        " tokens, config.json says vocab_size " + std::to_string(config.vocab_size));
    const Safetensors weights = read_safetensors(file("model.safetensors"));
    return BasicSentenceEncoder(config, std::move(tokenizer), weights, options);
  }

  /// Builds the encoder from a configuration, a tokenizer and BERT-named tensors (see load()).
  BasicSentenceEncoder(const BertConfig& config, WordPieceTokenizer tokenizer, const Safetensors& weights,
                       SentenceEncoderOptions options = {})
      : config_(config), options_(options), tokenizer_(std::move(tokenizer)) {
    // Every tensor is checked (name, shape, dtype, byte count) before the network is built: the network's
    // size is then the size of the tensors at hand, so a config.json with large sizes and a file without
    // those tensors fails here instead of allocating what the config.json claims.
    check_tensors(config, weights);
    const Index E = config.hidden_size;
    Model model(config);
    const auto take = [&](const std::string& name) { return weights.template matrix<T>(name); };
    model.word_embeddings = take("embeddings.word_embeddings.weight");
    model.position_embeddings = take("embeddings.position_embeddings.weight");
    model.token_type_embeddings = take("embeddings.token_type_embeddings.weight");
    model.embedding_norm.weight().value = take("embeddings.LayerNorm.weight");
    model.embedding_norm.bias().value = take("embeddings.LayerNorm.bias");
    for (Index l = 0; l < config.num_hidden_layers; ++l) {
      const std::string p = layer_prefix(l);
      TransformerBlock<T>& block = model.blocks[static_cast<std::size_t>(l)];
      MultiHeadAttention<T>& mha = block.self_attn();
      const char* parts[3] = {"query", "key", "value"};
      for (Index part = 0; part < 3; ++part) {
        const std::string q = p + "attention.self." + parts[part] + ".";
        mha.in_proj_weight().value.middleRows(part * E, E) = take(q + "weight");
        mha.in_proj_bias().value.middleCols(part * E, E) = take(q + "bias");
      }
      mha.out_proj_weight().value = take(p + "attention.output.dense.weight");
      mha.out_proj_bias().value = take(p + "attention.output.dense.bias");
      block.norm1().weight().value = take(p + "attention.output.LayerNorm.weight");
      block.norm1().bias().value = take(p + "attention.output.LayerNorm.bias");
      ParameterList<T> ffn = block.feed_forward().parameters();
      const auto set = [&](const std::string& name, Matrix<T> value) {
        for (auto& entry : ffn)
          if (entry.name == name) entry.parameter->value = std::move(value);
      };
      set("linear1.weight", take(p + "intermediate.dense.weight"));
      set("linear1.bias", take(p + "intermediate.dense.bias"));
      set("linear2.weight", take(p + "output.dense.weight"));
      set("linear2.bias", take(p + "output.dense.bias"));
      block.norm2().weight().value = take(p + "output.LayerNorm.weight");
      block.norm2().bias().value = take(p + "output.LayerNorm.bias");
    }
    model_ = std::make_shared<const Model>(std::move(model));
  }

  [[nodiscard]] const BertConfig& config() const noexcept { return config_; }
  [[nodiscard]] const WordPieceTokenizer& tokenizer() const noexcept { return tokenizer_; }
  /// Width of an embedding (hidden_size: 384 for MiniLM).
  [[nodiscard]] Index dimension() const noexcept { return config_.hidden_size; }

  /// Embeds every text: row i of the result is the unit-norm embedding of texts[i]. `progress(done,
  /// total)` (optional) is called after each batch, from one thread at a time.
  Matrix<T> encode(std::span<const std::string> texts, Index batch_size = 32,
                   const std::function<void(Index, Index)>& progress = {}) const {
    require(batch_size > 0, "SentenceEncoder::encode",
            [&] { return "batch_size must be positive, got " + std::to_string(batch_size); });
    const auto n = static_cast<Index>(texts.size());
    Matrix<T> out(n, dimension());
    if (n == 0) return out;
    // Tokenise everything once; sort by length, longest first (sentence-transformers sorts by text length;
    // the token count is the quantity that decides the padding).
    std::vector<std::vector<std::int32_t>> ids(texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) tokenizer_.encode_into(texts[i], ids[i]);
    std::vector<Index> order(texts.size());
    std::iota(order.begin(), order.end(), Index{0});
    std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) {
      return ids[static_cast<std::size_t>(a)].size() > ids[static_cast<std::size_t>(b)].size();
    });
    const Index batches = (n + batch_size - 1) / batch_size;
#if defined(_OPENMP)
    const int threads = static_cast<int>(std::min<Index>(omp_get_max_threads(), batches));
#endif
    Index done = 0;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic) num_threads(threads) if (threads > 1)
#endif
    for (Index b = 0; b < batches; ++b) {
      const Index begin = b * batch_size, end = std::min(n, begin + batch_size);
      std::vector<const std::vector<std::int32_t>*> batch;
      for (Index k = begin; k < end; ++k)
        batch.push_back(&ids[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])]);
      const Matrix<T> E = model_->embed(batch);
      for (Index k = begin; k < end; ++k) out.row(order[static_cast<std::size_t>(k)]) = E.row(k - begin);
      if (progress) {
#pragma omp critical(aimastery_sentence_encoder_progress)
        {
          done += end - begin;
          progress(done, n);
        }
      }
    }
    return out;
  }
  Matrix<T> encode(const std::vector<std::string>& texts, Index batch_size = 32,
                   const std::function<void(Index, Index)>& progress = {}) const {
    return encode(std::span<const std::string>(texts), batch_size, progress);
  }

  // The stages of encode, for code that runs the layers itself (LoRA fine-tuning: SentenceEncoderWithLoRA).

  /// The first layer's input for token id sequences (each from tokenizer().encode_into), packed back to back.
  [[nodiscard]] PackedSequences<T> inputs(const std::vector<const std::vector<std::int32_t>*>& batch) const {
    return model_->inputs(batch);
  }
  /// The transformer layers, in order (read-only; shared by copies of the encoder).
  [[nodiscard]] const std::vector<TransformerBlock<T>>& layers() const noexcept { return model_->blocks; }
  /// out_b = e_b / ‖e_b‖₂ with e_b the mean of sequence b's token rows: the pooling of encode.
  [[nodiscard]] static Matrix<T> mean_pool(const PackedSequences<T>& x) {
    Matrix<T> out(x.count(), x.tokens.cols());
    for (Index b = 0; b < x.count(); ++b) {
      const RowVector<T> e = x.tokens.middleRows(x.begin(b), x.length(b)).colwise().sum() / static_cast<T>(x.length(b));
      out.row(b) = e / std::max(e.norm(), T(1e-12));
    }
    return out;
  }
  /// This encoder with other layers in place of its own (e.g. with LoRA updates folded in): the same
  /// embeddings and tokenizer. InvalidArgument unless every layer has the shapes of the one it replaces.
  [[nodiscard]] BasicSentenceEncoder with_layers(std::vector<TransformerBlock<T>> layers) const {
    constexpr std::string_view where = "SentenceEncoder::with_layers";
    require(layers.size() == model_->blocks.size(), where, [&] {
      return "got " + std::to_string(layers.size()) + " layers, the encoder has " +
             std::to_string(model_->blocks.size());
    });
    Model model = *model_;
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const ParameterList<T> a = layers[l].parameters(), b = model.blocks[l].parameters();
      bool same = a.size() == b.size();
      for (std::size_t k = 0; same && k < a.size(); ++k)
        same = a[k].name == b[k].name && a[k].parameter->value.rows() == b[k].parameter->value.rows() &&
               a[k].parameter->value.cols() == b[k].parameter->value.cols();
      require(same, where, [&] { return "layer " + std::to_string(l) + " " + layers[l].name() + " has other shapes"; });
    }
    BasicSentenceEncoder copy = *this;
    model.blocks = std::move(layers);
    for (auto& block : model.blocks) block.eval();
    copy.model_ = std::make_shared<const Model>(std::move(model));
    return copy;
  }

 private:
  static std::string layer_prefix(Index layer) { return "encoder.layer." + std::to_string(layer) + "."; }

  /// Every tensor `config` calls for, under BERT's names, with the shape it needs.
  static std::vector<std::pair<std::string, std::vector<Index>>> expected_tensors(const BertConfig& config) {
    const Index E = config.hidden_size, F = config.intermediate_size;
    std::vector<std::pair<std::string, std::vector<Index>>> expected = {
        {"embeddings.word_embeddings.weight", {config.vocab_size, E}},
        {"embeddings.position_embeddings.weight", {config.max_position_embeddings, E}},
        {"embeddings.token_type_embeddings.weight", {config.type_vocab_size, E}},
        {"embeddings.LayerNorm.weight", {E}},
        {"embeddings.LayerNorm.bias", {E}}};
    for (Index l = 0; l < config.num_hidden_layers; ++l) {
      const std::string p = layer_prefix(l);
      for (const char* part : {"query", "key", "value"}) {
        expected.push_back({p + "attention.self." + part + ".weight", {E, E}});
        expected.push_back({p + "attention.self." + part + ".bias", {E}});
      }
      expected.push_back({p + "attention.output.dense.weight", {E, E}});
      expected.push_back({p + "attention.output.dense.bias", {E}});
      expected.push_back({p + "attention.output.LayerNorm.weight", {E}});
      expected.push_back({p + "attention.output.LayerNorm.bias", {E}});
      expected.push_back({p + "intermediate.dense.weight", {F, E}});
      expected.push_back({p + "intermediate.dense.bias", {F}});
      expected.push_back({p + "output.dense.weight", {E, F}});
      expected.push_back({p + "output.dense.bias", {E}});
      expected.push_back({p + "output.LayerNorm.weight", {E}});
      expected.push_back({p + "output.LayerNorm.bias", {E}});
    }
    return expected;
  }

  /// From the tensors' headers alone (no value is converted): every expected tensor present with the
  /// configuration's shape, a floating dtype and the bytes that shape needs; no tensor beyond them but
  /// `embeddings.position_ids` (I64, max_position_embeddings entries) and `pooler.*`. FormatError naming
  /// the tensor otherwise.
  static void check_tensors(const BertConfig& config, const Safetensors& weights) {
    std::vector<std::pair<std::string, std::vector<Index>>> expected = expected_tensors(config);
    for (const auto& [name, shape] : expected) {
      const auto found = weights.tensors.find(name);
      if (found == weights.tensors.end()) throw FormatError("SentenceEncoder: tensor '" + name + "' is missing");
      const SafetensorsTensor& t = found->second;
      if (t.shape != shape)
        throw FormatError("SentenceEncoder: tensor '" + name + "' has shape " + Tensor<T>::shape_string(t.shape) +
                          ", the configuration needs " + Tensor<T>::shape_string(shape));
      if (t.dtype != SafetensorsDtype::F32 && t.dtype != SafetensorsDtype::F16 && t.dtype != SafetensorsDtype::BF16 &&
          t.dtype != SafetensorsDtype::F64)
        throw FormatError("SentenceEncoder: tensor '" + name + "' has dtype " + std::string(to_string(t.dtype)) +
                          ", a floating type is needed");
      // (A Safetensors built in memory may claim a shape its bytes do not hold; a file read cannot.)
      const std::optional<std::size_t> bytes = detail::shape_bytes(t.shape, t.dtype);
      if (!bytes || *bytes != t.bytes.size())
        throw FormatError("SentenceEncoder: tensor '" + name + "' holds " + std::to_string(t.bytes.size()) +
                          " bytes, its dtype and shape need " + (bytes ? std::to_string(*bytes) : "more"));
    }
    std::sort(expected.begin(), expected.end());
    const auto is_expected = [&](const std::string& name) {
      const auto at = std::lower_bound(expected.begin(), expected.end(), name,
                                       [](const auto& entry, const std::string& key) { return entry.first < key; });
      return at != expected.end() && at->first == name;
    };
    for (const auto& [name, tensor] : weights.tensors) {
      if (is_expected(name)) continue;
      if (name == "embeddings.position_ids") {
        if (tensor.dtype != SafetensorsDtype::I64 || tensor.elements() != config.max_position_embeddings)
          throw FormatError("SentenceEncoder: tensor 'embeddings.position_ids' must be I64 with " +
                            std::to_string(config.max_position_embeddings) + " entries");
        continue;
      }
      if (name.rfind("pooler.", 0) == 0) continue;
      throw FormatError("SentenceEncoder: unexpected tensor '" + name + "' for a " +
                        std::to_string(config.num_hidden_layers) + "-layer BERT");
    }
  }

  /// The network: embeddings, the transformer blocks, and the pooling; read-only once loaded.
  struct Model {
    Matrix<T> word_embeddings;        // vocab × E
    Matrix<T> position_embeddings;    // max_position_embeddings × E
    Matrix<T> token_type_embeddings;  // types × E
    LayerNorm<T> embedding_norm;
    std::vector<TransformerBlock<T>> blocks;

    explicit Model(const BertConfig& c) : embedding_norm(c.hidden_size, norm_options(c)) {
      TransformerBlockOptions layer;
      layer.dim_feedforward = c.intermediate_size;
      layer.dropout = 0.0;
      layer.activation = c.activation();
      layer.layer_norm_eps = c.layer_norm_eps;
      layer.norm_first = false;
      for (Index l = 0; l < c.num_hidden_layers; ++l) {
        blocks.emplace_back(c.hidden_size, c.num_attention_heads, layer);
        blocks.back().eval();
      }
      embedding_norm.train(false);
    }

    static LayerNormOptions norm_options(const BertConfig& c) {
      LayerNormOptions options;
      options.eps = c.layer_norm_eps;
      return options;
    }

    /// The first layer's input for a batch of token id sequences, packed back to back (no padding):
    /// x_p = LayerNorm(word[t_p] + position[p] + token_type[0]).
    PackedSequences<T> inputs(const std::vector<const std::vector<std::int32_t>*>& batch) const {
      const auto B = static_cast<Index>(batch.size());
      const Index E = word_embeddings.cols();
      PackedSequences<T> x;
      x.offsets.assign(1, 0);
      for (const auto* ids : batch) x.offsets.push_back(x.offsets.back() + static_cast<Index>(ids->size()));
      x.tokens.resize(x.offsets.back(), E);
      for (Index b = 0; b < B; ++b) {
        const auto& ids = *batch[static_cast<std::size_t>(b)];
        for (Index p = 0; p < x.length(b); ++p)
          x.tokens.row(x.begin(b) + p) = word_embeddings.row(ids[static_cast<std::size_t>(p)]) +
                                         position_embeddings.row(p) + token_type_embeddings.row(0);
      }
      embedding_norm.infer_in_place(x.tokens);
      return x;
    }

    /// Unit-norm embeddings of a batch of token id sequences, packed back to back (no padding).
    Matrix<T> embed(const std::vector<const std::vector<std::int32_t>*>& batch) const {
      PackedSequences<T> x = inputs(batch);
      for (const auto& block : blocks) x.tokens = block.infer(x);
      return BasicSentenceEncoder::mean_pool(x);
    }
  };

  BertConfig config_;
  SentenceEncoderOptions options_;
  WordPieceTokenizer tokenizer_;
  std::shared_ptr<const Model> model_;  // read-only: shared by copies of the encoder and by the threads
};

/// all-MiniLM-L6-v2 and its kin in their own precision.
using SentenceEncoder = BasicSentenceEncoder<float>;

}  // namespace aimastery
