#pragma once
/// \file
/// SentenceEncoderWithLoRA: LoRA on the projections of a SentenceEncoder's BERT layers (all-MiniLM-L6-v2),
/// with PEFT's module names, so that the encoder can be fine-tuned here and its adapter loaded by PEFT onto
/// Hugging Face's BertModel (and back: sentence_encoder_adapter.hpp).
///
///   SentenceEncoder base = SentenceEncoder::load("build/models/all-MiniLM-L6-v2");
///   SentenceEncoderWithLoRA model(base, {.target_modules = {"query", "value"}, .options = {.r = 8, .alpha = 16}});
///   model.report().trainable_percent();          // 0.33 %: 73,728 of 22,639,104 parameters
///   Matrix<float> e = model.forward(ids);        // B × 384 unit rows, kept for backward
///   model.backward(dL_de);                       // accumulates ∂L/∂A, ∂L/∂B only
///   adam.step(model.parameters());               // the frozen weights are skipped (trainable = false)
///
/// Module names are Hugging Face BertModel's, layer by layer (l = 0 … L−1):
///
///   encoder.layer.l.attention.self.query     encoder.layer.l.attention.output.dense
///   encoder.layer.l.attention.self.key       encoder.layer.l.intermediate.dense
///   encoder.layer.l.attention.self.value     encoder.layer.l.output.dense
///
/// and a target selects a module as PEFT's list rule does: equal, or a dotted suffix ("query", "value",
/// "dense" = the three dense layers, "output.dense" = attention.output.dense and output.dense,
/// "layer.0.attention.self.query" = one module); "all-linear" takes all six of every layer. (In PEFT,
/// "dense" and "all-linear" also wrap BertModel's pooler.dense, which the mean-pooled sentence embedding
/// never uses; an adapter's pooler tensors are ignored when loading.) Each layer is a
/// TransformerBlockWithLoRA: with lora_dropout = 0, or in evaluation (eval()), the update is folded into
/// the frozen weight (W_eff = W₀ + s·B A); with lora_dropout p > 0 in training it runs beside each
/// projection as PEFT computes it, y = W₀ x + b + s·B A·D(x), with D the dropout of the LoRA input only
/// (see transformer_block_with_lora.hpp). Layer l draws its A matrices, and seeds its dropout masks, from
/// options.seed + 6l, options.seed + 6l + 1, ... in the order of the table above.
///
/// Training forward (for a batch of token id sequences, padded to the longest, L tokens):
///
///   X⁰ = the encoder's embeddings (frozen)            X^l = Layer_l(X^{l−1}; key mask of the real tokens)
///   m_b = (1/n_b) Σ_{p < n_b} X^L_{b,p}               e_b = m_b / ‖m_b‖₂
///
/// Backward from G = ∂L/∂e (B × E), for the normalisation and the mean:
///
///   ∂L/∂m_b = (G_b − e_b (e_b · G_b)) / ‖m_b‖₂        ∂L/∂X^L_{b,p} = ∂L/∂m_b / n_b  (p < n_b; 0 on padding)
///
/// then through the layers from the last down to the lowest one that carries LoRA (nothing below it learns).
///
/// encode() runs the packed inference path of SentenceEncoder::encode with W_eff in the layers: with fresh
/// updates (B = 0, so W_eff = W₀ exactly) it returns the base encoder's embeddings bit for bit.
/// merge_and_unload() gives a plain SentenceEncoder with ΔW folded in.

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/attention/attention_mask.hpp"
#include "aimastery/llm/attention/packed_sequences.hpp"
#include "aimastery/llm/attention/sentence_encoder.hpp"
#include "aimastery/llm/attention/transformer_block.hpp"
#include "aimastery/llm/fine_tuning/apply_lora.hpp"
#include "aimastery/llm/fine_tuning/lora_layer.hpp"
#include "aimastery/llm/fine_tuning/transformer_block_with_lora.hpp"

namespace aimastery {

namespace detail {

/// A BERT layer's projection: its Hugging Face module name (after "encoder.layer.l.") and the
/// TransformerBlockWithLoRA target that holds it.
struct BertProjection {
  std::string_view bert;
  std::string_view site;
};
inline constexpr std::array<BertProjection, 6> bert_projections = {{{"attention.self.query", "self_attn.query"},
                                                                    {"attention.self.key", "self_attn.key"},
                                                                    {"attention.self.value", "self_attn.value"},
                                                                    {"attention.output.dense", "self_attn.out_proj"},
                                                                    {"intermediate.dense", "linear1"},
                                                                    {"output.dense", "linear2"}}};

inline std::string bert_module_name(Index layer, std::string_view projection) {
  return "encoder.layer." + std::to_string(layer) + "." + std::string(projection);
}

}  // namespace detail

/// LoRA on a BasicSentenceEncoder<T>; SentenceEncoderWithLoRA is the float one (BasicSentenceEncoderWithLoRA
/// <double> serves gradient checks in double precision).
template <Scalar T>
class BasicSentenceEncoderWithLoRA {
 public:
  /// LoRA updates on the projections of `base` that config.target_modules names (see the top of this
  /// header). InvalidArgument for an empty list, a target that matches no module (the message lists the
  /// modules), a rank outside [1, min(in, out)] of a module, α ≤ 0 or a lora_dropout outside [0, 1). The
  /// base encoder is not changed (its layers are copied).
  BasicSentenceEncoderWithLoRA(BasicSentenceEncoder<T> base, const LoRAConfig& config)
      : layers_(make_layers(base, config)), base_(std::move(base)) {
    train();  // the base encoder's layers are in evaluation; forward is the training path
    for (std::size_t l = 0; l < layers_.size(); ++l)
      if (std::holds_alternative<Adapted>(layers_[l])) {
        lowest_adapted_ = static_cast<Index>(l);
        break;
      }
  }

  [[nodiscard]] const BasicSentenceEncoder<T>& base() const noexcept { return base_; }
  [[nodiscard]] const BertConfig& config() const noexcept { return base_.config(); }
  [[nodiscard]] Index dimension() const noexcept { return base_.dimension(); }

  /// The modules that carry an update, in layer order, with their updates.
  [[nodiscard]] std::vector<std::pair<std::string, const LoRALayer<T>*>> lora_modules() const {
    std::vector<std::pair<std::string, const LoRALayer<T>*>> modules;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const auto* adapted = std::get_if<Adapted>(&layers_[l]);
      if (!adapted) continue;
      for (const auto& projection : detail::bert_projections)
        for (const std::string& site : adapted->targets())
          if (site == projection.site)
            modules.emplace_back(detail::bert_module_name(static_cast<Index>(l), projection.bert),
                                 &adapted->lora(site));
    }
    return modules;
  }
  /// The update of a module ("encoder.layer.0.attention.self.query"); InvalidArgument when it has none.
  LoRALayer<T>& lora(const std::string& module) {
    for (std::size_t l = 0; l < layers_.size(); ++l)
      if (auto* adapted = std::get_if<Adapted>(&layers_[l]))
        for (const auto& projection : detail::bert_projections)
          if (module == detail::bert_module_name(static_cast<Index>(l), projection.bert))
            for (const std::string& site : adapted->targets())
              if (site == projection.site) return adapted->lora(site);
    detail::fail("SentenceEncoderWithLoRA::lora", "no LoRA update on '" + module + "'");
  }

  /// The frozen layer weights ("encoder.layer.l." + the block's names) and every update's
  /// "<module>.lora_A.weight" / "<module>.lora_B.weight" (trainable). The embeddings are frozen and
  /// shared with the base encoder; they are counted in report() but not listed.
  ParameterList<T> parameters() {
    ParameterList<T> list;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const std::string prefix = "encoder.layer." + std::to_string(l) + ".";
      if (auto* plain = std::get_if<TransformerBlock<T>>(&layers_[l])) {
        for (auto& p : plain->parameters()) list.push_back({prefix + p.name, p.parameter, false});
        continue;
      }
      for (auto& p : std::get<Adapted>(layers_[l]).parameters()) {
        std::string name = prefix + p.name;
        for (const auto& projection : detail::bert_projections)
          if (p.name.starts_with(std::string(projection.site) + ".lora_"))
            name = prefix + std::string(projection.bert) + p.name.substr(projection.site.size());
        list.push_back({std::move(name), p.parameter, p.trainable});
      }
    }
    return list;
  }

  /// The wrapped modules and the parameter counts (embeddings included, as PEFT's
  /// print_trainable_parameters counts them; BertModel's pooler, which PEFT also counts, is not here).
  [[nodiscard]] LoRAReport report() {
    LoRAReport r;
    for (const auto& [name, lora] : lora_modules()) r.wrapped.push_back(name);
    const BertConfig& c = config();
    r.total_parameters = (c.vocab_size + c.max_position_embeddings + c.type_vocab_size + 2) * c.hidden_size;
    for (const auto& p : parameters()) {
      r.total_parameters += p.parameter->value.size();
      if (p.trainable) r.trainable_parameters += p.parameter->value.size();
    }
    return r;
  }

  /// Training mode (the mode of a new model): lora_dropout, when > 0, draws a mask on every forward.
  /// Evaluation: no mask, the folded path (encode() never draws one).
  void train(bool on = true) {
    for (auto& layer : layers_) std::visit([&](auto& block) { block.train(on); }, layer);
  }
  void eval() { train(false); }

  /// Unit-norm sentence embeddings (B × E) of token id sequences (tokenizer().encode_into), through the
  /// training path; keeps what backward needs. InvalidArgument for an empty batch or sequence, or an id
  /// outside the vocabulary.
  Matrix<T> forward(const std::vector<std::vector<std::int32_t>>& ids) {
    constexpr std::string_view where = "SentenceEncoderWithLoRA::forward";
    require(!ids.empty(), where, "the batch is empty");
    const auto B = static_cast<Index>(ids.size());
    std::vector<const std::vector<std::int32_t>*> batch;
    Index L = 0;
    for (const auto& sequence : ids) {
      require(!sequence.empty() && static_cast<Index>(sequence.size()) <= config().max_position_embeddings, where, [&] {
        return "a sequence has " + std::to_string(sequence.size()) + " tokens, must be in [1, " +
               std::to_string(config().max_position_embeddings) + "]";
      });
      for (const std::int32_t id : sequence)
        require(id >= 0 && id < config().vocab_size, where, [&] {
          return "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                 std::to_string(config().vocab_size) + ")";
        });
      L = std::max(L, static_cast<Index>(sequence.size()));
      batch.push_back(&sequence);
    }
    const PackedSequences<T> packed = base_.inputs(batch);
    const Index E = dimension();
    Tensor<T> x({B, L, E});
    x.matrix().setZero();
    BoolMatrix keep = BoolMatrix::Constant(B, L, false);
    lengths_.assign(ids.size(), 0);
    for (Index b = 0; b < B; ++b) {
      lengths_[static_cast<std::size_t>(b)] = packed.length(b);
      x.matrix().middleRows(b * L, packed.length(b)) = packed.tokens.middleRows(packed.begin(b), packed.length(b));
      keep.row(b).head(packed.length(b)).setConstant(true);
    }
    AttentionMask<T> mask;
    mask.with_keys_allowed(keep);
    for (auto& layer : layers_) x = std::visit([&](auto& block) { return block.forward(x, mask); }, layer);
    // m_b = mean of the real tokens, e_b = m_b / ‖m_b‖.
    pooled_.resize(B, E);
    norms_.resize(B);
    for (Index b = 0; b < B; ++b) {
      const Index n = lengths_[static_cast<std::size_t>(b)];
      const RowVector<T> m = x.matrix().middleRows(b * L, n).colwise().sum() / static_cast<T>(n);
      norms_(b) = std::max(m.norm(), T(1e-12));
      pooled_.row(b) = m / norms_(b);
    }
    hidden_ = std::move(x);
    return pooled_;
  }
  Matrix<T> forward(std::span<const std::string> texts) { return forward(tokenize(texts)); }

  /// The last layer's token states of the last forward (B × L × E, padded with the rows of padding
  /// positions, which the pooling ignores).
  [[nodiscard]] const Tensor<T>& last_hidden_state() const noexcept { return hidden_; }

  /// Given ∂L/∂e of the last forward (B × E), accumulates ∂L/∂A and ∂L/∂B of every update.
  void backward(const Matrix<T>& grad_embeddings) {
    constexpr std::string_view where = "SentenceEncoderWithLoRA::backward";
    require(hidden_.size() > 0, where, "called before forward");
    require(grad_embeddings.rows() == pooled_.rows() && grad_embeddings.cols() == pooled_.cols(), where, [&] {
      return "grad_embeddings is " + shape_of(grad_embeddings) + " but the forward produced " + shape_of(pooled_);
    });
    const Index B = hidden_.dim(0), L = hidden_.dim(1), E = hidden_.dim(2);
    Tensor<T> g({B, L, E});
    g.matrix().setZero();
    for (Index b = 0; b < B; ++b) {
      const Index n = lengths_[static_cast<std::size_t>(b)];
      const RowVector<T> e = pooled_.row(b), G = grad_embeddings.row(b);
      const RowVector<T> dm = (G - e * e.dot(G)) / norms_(b);  // ∂L/∂m_b
      g.matrix().middleRows(b * L, n).rowwise() = dm / static_cast<T>(n);
    }
    for (Index l = static_cast<Index>(layers_.size()) - 1; l >= lowest_adapted_; --l) {
      auto& layer = layers_[static_cast<std::size_t>(l)];
      g = std::visit([&](auto& block) { return block.backward(g); }, layer);
      if (auto* plain = std::get_if<TransformerBlock<T>>(&layer))  // frozen: its gradients are not kept
        for (auto& p : plain->parameters()) p.parameter->zero_grad();
    }
  }

  /// Token ids of texts, as the base encoder's tokenizer gives them ([CLS] … [SEP], at most max_seq_length).
  [[nodiscard]] std::vector<std::vector<std::int32_t>> tokenize(std::span<const std::string> texts) const {
    std::vector<std::vector<std::int32_t>> ids(texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) base_.tokenizer().encode_into(texts[i], ids[i]);
    return ids;
  }

  /// Unit-norm embeddings of texts through the base encoder's packed inference path with W_eff = W₀ + s·B A
  /// (the batches in input order). With every B = 0, bit for bit the base encoder's encode.
  Matrix<T> encode(std::span<const std::string> texts, Index batch_size = 32) {
    require(batch_size > 0, "SentenceEncoderWithLoRA::encode",
            [&] { return "batch_size must be positive, got " + std::to_string(batch_size); });
    const std::vector<std::vector<std::int32_t>> ids = tokenize(texts);
    const auto n = static_cast<Index>(ids.size());
    Matrix<T> out(n, dimension());
    for (Index begin = 0; begin < n; begin += batch_size) {
      const Index end = std::min(n, begin + batch_size);
      std::vector<const std::vector<std::int32_t>*> batch;
      for (Index k = begin; k < end; ++k) batch.push_back(&ids[static_cast<std::size_t>(k)]);
      PackedSequences<T> x = base_.inputs(batch);
      for (auto& layer : layers_) x.tokens = std::visit([&](auto& block) { return block.infer(x); }, layer);
      out.middleRows(begin, end - begin) = BasicSentenceEncoder<T>::mean_pool(x);
    }
    return out;
  }
  Matrix<T> encode(const std::vector<std::string>& texts, Index batch_size = 32) {
    return encode(std::span<const std::string>(texts), batch_size);
  }

  /// A plain SentenceEncoder with every ΔW = s·B A folded into its layer (PEFT's merge_and_unload); this
  /// object is unchanged.
  [[nodiscard]] BasicSentenceEncoder<T> merge_and_unload() const {
    std::vector<TransformerBlock<T>> blocks;
    blocks.reserve(layers_.size());
    for (const auto& layer : layers_) {
      if (const auto* plain = std::get_if<TransformerBlock<T>>(&layer)) {
        blocks.push_back(*plain);
      } else {
        Adapted copy = std::get<Adapted>(layer);
        blocks.push_back(std::move(copy).merge_and_unload());
      }
    }
    return base_.with_layers(std::move(blocks));
  }

  /// The names of every module that can carry an update, for messages.
  [[nodiscard]] static std::string module_names(Index layers) {
    std::string s = "encoder.layer.N.{";
    for (std::size_t k = 0; k < detail::bert_projections.size(); ++k)
      s += (k ? ", " : "") + std::string(detail::bert_projections[k].bert);
    return s + "} for N = 0 to " + std::to_string(layers - 1);
  }

 private:
  using Adapted = TransformerBlockWithLoRA<T>;
  using LayerSlot = std::variant<TransformerBlock<T>, Adapted>;

  // Every check and every copy before anything is kept: a throw leaves nothing behind.
  static std::vector<LayerSlot> make_layers(const BasicSentenceEncoder<T>& base, const LoRAConfig& config) {
    constexpr std::string_view where = "SentenceEncoderWithLoRA";
    require(!config.target_modules.empty(), where,
            "target_modules is empty (name the projections, e.g. {\"query\", \"value\"}, or \"all-linear\")");
    detail::check_lora_dropout(where, config.options.dropout);
    const auto layers = static_cast<Index>(base.layers().size());
    std::vector<std::vector<bool>> selected(static_cast<std::size_t>(layers),
                                            std::vector<bool>(detail::bert_projections.size(), false));
    for (const std::string& target : config.target_modules) {
      bool any = false;
      for (Index l = 0; l < layers; ++l)
        for (std::size_t k = 0; k < detail::bert_projections.size(); ++k)
          if (target == "all-linear" ||
              detail::lora_target_matches(detail::bert_module_name(l, detail::bert_projections[k].bert), target))
            selected[static_cast<std::size_t>(l)][k] = any = true;
      if (!any)
        detail::fail(where,
                     "target module '" + target + "' matches no module; the encoder's are " + module_names(layers));
    }
    std::vector<LayerSlot> slots;
    slots.reserve(static_cast<std::size_t>(layers));
    for (Index l = 0; l < layers; ++l) {
      const auto& chosen = selected[static_cast<std::size_t>(l)];
      TransformerBlock<T> block = base.layers()[static_cast<std::size_t>(l)];
      if (std::find(chosen.begin(), chosen.end(), true) == chosen.end()) {
        slots.emplace_back(std::move(block));
        continue;
      }
      LoRAConfig layer_config;
      layer_config.options = config.options;
      layer_config.options.seed = config.options.seed + 6 * static_cast<std::uint64_t>(l);
      for (std::size_t k = 0; k < chosen.size(); ++k)
        if (chosen[k]) layer_config.target_modules.emplace_back(detail::bert_projections[k].site);
      try {
        slots.emplace_back(std::in_place_type<Adapted>, std::move(block), layer_config);
      } catch (const InvalidArgument& e) {
        detail::fail(where, "layer " + std::to_string(l) + ": " + e.what());
      }
    }
    return slots;
  }

  std::vector<LayerSlot> layers_;
  BasicSentenceEncoder<T> base_;  // the embeddings, the tokenizer and the frozen layers (shared, read-only)
  Index lowest_adapted_ = 0;
  std::vector<Index> lengths_;  // of the last forward
  Matrix<T> pooled_;            // e (B × E)
  Vector<T> norms_;             // ‖m_b‖
  Tensor<T> hidden_;            // X^L (B × L × E)
};

using SentenceEncoderWithLoRA = BasicSentenceEncoderWithLoRA<float>;

}  // namespace aimastery
