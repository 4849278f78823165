// LoRA on the sentence encoder's BERT layers (SentenceEncoderWithLoRA) and its PEFT adapter files.
// A tiny BERT built in memory covers the exactness, gradients, training and bad input; the "MiniLM:" cases
// (CTest label `model`) run all-MiniLM-L6-v2 from AIMASTERY_MINILM_DIR against PEFT's reference
// (tests/reference/gen_llm_lora_encoder.py); "PEFT peer:" writes an adapter that PEFT loads
// (peer_peft_minilm.py, label `peer`). With lora_dropout: gradients with fixed masks, evaluation as the
// folded path, and PEFT's training output with the library's masks (tests/reference/gen_llm_lora_dropout.py).
#include <aimastery/llm/fine_tuning/sentence_encoder_adapter.hpp>
#include <aimastery/llm/fine_tuning/sentence_encoder_with_lora.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/io/safetensors.hpp"
#include "aimastery/ml/deep_learning/adam.hpp"
#include "aimastery/ml/deep_learning/gradient_check.hpp"
#include "llm/bert_fixture.hpp"
#include "support.hpp"

using namespace aimastery;
using aimastery::test::minilm_dir;
using aimastery::test::test_seed;
using aimastery::test::tiny_bert;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> texts = {"the cat sat on the mat.", "cats", "the mat", "on the cat the the mat sat"};

/// Every B of the model drawn N(0, 0.5²) (a fresh update has B = 0 and changes nothing).
template <Scalar T>
void randomise_b(BasicSentenceEncoderWithLoRA<T>& model, std::uint64_t seed) {
  RandomEngine rng(seed);
  for (const auto& [name, _] : model.lora_modules()) {
    Matrix<T>& B = model.lora(name).B().value;
    for (Index i = 0; i < B.size(); ++i) B.data()[i] = static_cast<T>(0.5 * detail::standard_normal(rng));
  }
}

float max_abs_diff(const Matrix<float>& a, const Matrix<float>& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return (a - b).cwiseAbs().maxCoeff();
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) : path(fs::temp_directory_path() / ("aimastery_lora_encoder_" + name)) {
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
  [[nodiscard]] std::string str() const { return path.string(); }
};

}  // namespace

TEST_CASE("SentenceEncoderWithLoRA: fresh updates give the base encoder bit for bit; PEFT's names and counts") {
  const SentenceEncoder base = tiny_bert(test_seed(3));
  SentenceEncoderWithLoRA model(base, {.target_modules = {"query", "value"}, .options = {.r = 2, .alpha = 4}});
  const LoRAReport report = model.report();
  CHECK(report.wrapped ==
        std::vector<std::string>{"encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.value",
                                 "encoder.layer.1.attention.self.query", "encoder.layer.1.attention.self.value"});
  CHECK(report.trainable_parameters == 4 * 2 * (8 + 8));
  // Embeddings (12 + 16 + 2 words/positions/types + LayerNorm) and per layer: in_proj 3·64 + 24, out_proj
  // 64 + 8, FFN 16·8 + 16 + 8·16 + 8, two LayerNorms 4·8.
  CHECK(report.total_parameters == (12 + 16 + 2 + 2) * 8 + 2 * (216 + 72 + 280 + 32) + report.trainable_parameters);
  Index named = 0;
  for (const auto& p : model.parameters())
    if (p.trainable) {
      CHECK(p.name.find(".attention.self.") != std::string::npos);
      named += p.name == "encoder.layer.1.attention.self.value.lora_B.weight";
    }
  CHECK(named == 1);

  for (Index batch : {1, 4}) {
    CAPTURE(batch);
    // The same packed path and W₀ + 0 = W₀: equal, not close (the base batches one text at a time here too).
    CHECK(model.encode(texts, 1) == base.encode(texts, 1));
    // The training path (padded batch with a key mask) agrees to rounding.
    CHECK(max_abs_diff(model.forward(model.tokenize(texts)), base.encode(texts, batch)) <= 1e-6f);
  }
  CHECK(model.merge_and_unload().encode(texts, 1) == base.encode(texts, 1));
}

TEST_CASE("SentenceEncoderWithLoRA: target names as PEFT matches them; one module; every projection") {
  const SentenceEncoder base = tiny_bert(test_seed(4));
  CHECK(SentenceEncoderWithLoRA(base, {.target_modules = {"dense"}, .options = {.r = 2}}).report().wrapped.size() == 6);
  CHECK(SentenceEncoderWithLoRA(base, {.target_modules = {"output.dense"}, .options = {.r = 2}}).report().wrapped ==
        std::vector<std::string>{"encoder.layer.0.attention.output.dense", "encoder.layer.0.output.dense",
                                 "encoder.layer.1.attention.output.dense", "encoder.layer.1.output.dense"});
  SentenceEncoderWithLoRA one(base, {.target_modules = {"layer.1.attention.self.key"}, .options = {.r = 2}});
  CHECK(one.report().wrapped == std::vector<std::string>{"encoder.layer.1.attention.self.key"});
  CHECK(one.encode(texts, 1) == base.encode(texts, 1));
  SentenceEncoderWithLoRA all(base, {.target_modules = {"all-linear"}, .options = {.r = 2}});
  CHECK(all.report().wrapped.size() == 12);
  // LoRA on the FFN: A of intermediate.dense is r × 8, of output.dense r × 16.
  CHECK(all.lora("encoder.layer.0.intermediate.dense").A().value.cols() == 8);
  CHECK(all.lora("encoder.layer.0.output.dense").A().value.cols() == 16);
}

TEST_CASE_TEMPLATE("SentenceEncoderWithLoRA: gradients of A and B equal central differences (tiny BERT)", T, float,
                   double) {
  // float: the step and tolerance float's 7 digits allow; double: a tight check of the same derivation.
  constexpr bool is_float = std::is_same_v<T, float>;
  const std::uint64_t seed = test_seed(5);
  const BasicSentenceEncoder<T> base = tiny_bert<T>(seed);
  for (const char* target : {"query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"}) {
    CAPTURE(std::string(target));
    LoRAConfig config;
    config.target_modules = {target};
    config.options.r = 2;
    config.options.alpha = 3;
    BasicSentenceEncoderWithLoRA<T> model(base, config);
    randomise_b(model, seed + 1);
    const auto ids = model.tokenize(texts);  // lengths 9, 4, 4, 10: padding in the batch
    Matrix<T> G(4, 8);
    RandomEngine rng(seed + 2);
    for (Index i = 0; i < G.size(); ++i) G.data()[i] = static_cast<T>(2.0 * detail::uniform_open01(rng) - 1.0);
    ParameterList<T> variables;
    for (const auto& p : model.parameters())
      if (p.trainable) {
        p.parameter->zero_grad();
        variables.push_back(p);
      }
    (void)model.forward(ids);
    model.backward(G);
    const auto objective = [&] { return static_cast<double>((model.forward(ids).array() * G.array()).sum()); };
    GradientCheckOptions check;
    check.step = is_float ? 1e-2 : 1e-6;
    check.floor = is_float ? 1e-2 : 1e-4;  // central differences in double carry about 1e-10 of rounding
    const GradientCheckResult r = gradient_check<T>(objective, variables, check);
    INFO(r.worst_variable, " ", r.analytic, " vs ", r.numeric);
    CHECK(r.passed(is_float ? 2e-2 : 1e-5));
    for (const auto& p : model.parameters())
      if (!p.trainable) CHECK(p.parameter->grad.isZero(0));
  }
}

TEST_CASE("SentenceEncoderWithLoRA with lora_dropout: gradients with the masks held fixed equal central differences") {
  // PEFT's training path y = W₀x + b + s·B A·D(x) in every projection of both layers (tiny BERT, double).
  const std::uint64_t seed = test_seed(11);
  const BasicSentenceEncoder<double> base = tiny_bert<double>(seed);
  LoRAConfig config;
  config.target_modules = {"all-linear"};
  config.options.r = 2;
  config.options.alpha = 3;
  config.options.dropout = 0.3;
  BasicSentenceEncoderWithLoRA<double> model(base, config);
  randomise_b(model, seed + 1);
  const auto ids = model.tokenize(texts);
  Matrix<double> G(4, 8);
  RandomEngine rng(seed + 2);
  for (Index i = 0; i < G.size(); ++i) G.data()[i] = 2.0 * detail::uniform_open01(rng) - 1.0;
  const auto fix_masks = [&] {
    std::uint64_t k = seed + 100;
    for (const auto& [name, _] : model.lora_modules()) model.lora(name).reseed(k++);
  };
  ParameterList<double> variables;
  for (const auto& p : model.parameters())
    if (p.trainable) {
      p.parameter->zero_grad();
      variables.push_back(p);
    }
  fix_masks();
  const Matrix<double> e = model.forward(ids);
  model.backward(G);
  // The masks act (the output is not the folded one) and are the ones the layers report.
  const Matrix<double>& mask = model.lora("encoder.layer.1.output.dense").dropout_mask();
  std::size_t longest = 0;
  for (const auto& sequence : ids) longest = std::max(longest, sequence.size());
  CHECK(mask.rows() == 4 * static_cast<Index>(longest));  // the padded batch: 4 sequences of the longest length
  CHECK(mask.cols() == 16);
  CHECK((mask.array() == 0.0).count() > 0);
  BasicSentenceEncoderWithLoRA<double> evaluated = model;
  evaluated.eval();
  CHECK((evaluated.forward(ids) - e).cwiseAbs().maxCoeff() > 1e-3);
  const auto objective = [&] {
    fix_masks();
    return (model.forward(ids).array() * G.array()).sum();
  };
  GradientCheckOptions check;
  check.floor = 1e-4;
  const GradientCheckResult r = gradient_check<double>(objective, variables, check);
  INFO(r.worst_variable, " ", r.analytic, " vs ", r.numeric);
  CHECK(r.passed(1e-5));
  for (const auto& p : model.parameters())
    if (!p.trainable) CHECK(p.parameter->grad.isZero(0));
}

TEST_CASE("SentenceEncoderWithLoRA with lora_dropout: evaluation is the folded path; a throwing call draws no mask") {
  const std::uint64_t seed = test_seed(12);
  const SentenceEncoder base = tiny_bert(seed);
  const auto make = [&](double dropout) {
    SentenceEncoderWithLoRA m(base, {.target_modules = {"query", "value", "dense"},
                                     .options = {.r = 2, .alpha = 4, .dropout = dropout, .seed = seed}});
    randomise_b(m, seed + 1);
    return m;
  };
  SentenceEncoderWithLoRA dropped = make(0.2), folded = make(0.0), twin = make(0.2);
  const auto ids = dropped.tokenize(texts);
  const Matrix<float> reference = folded.forward(ids);  // dropout 0: folded in training too
  const Matrix<float> first = dropped.forward(ids);
  CHECK(max_abs_diff(first, reference) > 1e-3f);
  CHECK(twin.forward(ids) == first);  // the same seeds draw the same masks
  // A call that throws leaves the model as it was: the next forward draws the masks it would have drawn.
  CHECK_THROWS_NAMING(dropped.forward(std::vector<std::vector<std::int32_t>>{{2, 99, 3}}), InvalidArgument,
                      "token id 99");
  CHECK_THROWS_NAMING(dropped.backward(Matrix<float>::Zero(2, 8)), InvalidArgument, "grad_embeddings is 2x8");
  CHECK(dropped.forward(ids) == twin.forward(ids));
  dropped.eval();
  folded.eval();
  CHECK(dropped.forward(ids) == folded.forward(ids));
  CHECK(dropped.forward(ids) == reference);
  CHECK(dropped.encode(texts, 1) == folded.encode(texts, 1));  // inference never drops
  dropped.train();
  CHECK(max_abs_diff(dropped.forward(ids), reference) > 1e-3f);
}

TEST_CASE("SentenceEncoderWithLoRA with lora_dropout: PEFT's training output with the masks the library draws") {
  // tests/reference/gen_llm_lora_dropout.py: PEFT on a tiny BertModel with lora_dropout 0.25 in training mode,
  // its nn.Dropout modules replaced by the masks this library draws for the same layers (aimastery_random.py).
  const std::string data = std::string(AIMASTERY_REFERENCE_DIR) + "/llm_lora_dropout";
  SentenceEncoderOptions options;
  options.max_seq_length = 16;
  const SentenceEncoder base = SentenceEncoder::load(data + "/model", options);
  SentenceEncoderWithLoRA model = load_lora_adapter(base, data + "/adapter");
  CHECK(model.report().wrapped.size() == 2 * 5);
  for (const auto& [name, lora] : model.lora_modules()) CHECK(lora->options().dropout == 0.25);
  const Safetensors ref = read_safetensors(data + "/reference.safetensors");
  const Matrix<float> input_ids = ref.matrix<float>("input_ids"), mask = ref.matrix<float>("attention_mask");
  std::vector<std::vector<std::int32_t>> ids(static_cast<std::size_t>(input_ids.rows()));
  for (Index b = 0; b < input_ids.rows(); ++b)
    for (Index p = 0; p < input_ids.cols(); ++p)
      if (mask(b, p) == 1.0f) ids[static_cast<std::size_t>(b)].push_back(static_cast<std::int32_t>(input_ids(b, p)));
  model.train();
  const Matrix<float> e = model.forward(ids);
  // The same masks: the library's engine and its Python port agree.
  CHECK(model.lora("encoder.layer.0.attention.self.query").dropout_mask() == ref.matrix<float>("query_mask_layer0"));
  const Matrix<float> expected = ref.matrix<float>("embeddings");
  CHECK(max_abs_diff(e, expected) <= 1e-5f);
  const std::vector<float> hidden = ref.at("last_hidden_state").values<float>();
  const Tensor<float>& ours = model.last_hidden_state();
  REQUIRE(ours.dim(1) == input_ids.cols());
  float worst = 0;
  for (Index b = 0; b < input_ids.rows(); ++b)
    for (Index p = 0; p < static_cast<Index>(ids[static_cast<std::size_t>(b)].size()); ++p)
      for (Index j = 0; j < 8; ++j)
        worst = std::max(worst, std::abs(ours.matrix()(b * ours.dim(1) + p, j) -
                                         hidden[static_cast<std::size_t>((b * input_ids.cols() + p) * 8 + j)]));
  CHECK(worst <= 1e-5f);
  // The dropout matters, and evaluation is the folded path without it.
  model.eval();
  CHECK(max_abs_diff(model.forward(ids), expected) > 1e-3f);
}

TEST_CASE("SentenceEncoderWithLoRA: training moves A and B only; merge_and_unload gives its outputs") {
  const std::uint64_t seed = test_seed(6);
  const SentenceEncoder base = tiny_bert(seed);
  const Matrix<float> before = base.encode(texts, 1);
  SentenceEncoderWithLoRA model(base, {.target_modules = {"query", "value", "dense"}, .options = {.r = 2, .alpha = 4}});
  // The frozen parameters outside the reparametrised weights (which hold W₀ + s·B A while training).
  const auto reparametrised = [](const std::string& name) {
    for (const char* w : {"in_proj_weight", "out_proj.weight", "linear1.weight", "linear2.weight"})
      if (name.ends_with(w)) return true;
    return false;
  };
  std::vector<std::pair<std::string, Matrix<float>>> frozen;
  for (const auto& p : model.parameters())
    if (!p.trainable && !reparametrised(p.name)) frozen.emplace_back(p.name, p.parameter->value);
  // Fit the embeddings to random unit targets Y: L = Σ_b ‖e_b − y_b‖², ∂L/∂e = 2(e − Y).
  const auto ids = model.tokenize(texts);
  RandomEngine rng(seed + 1);
  Matrix<float> Y(4, 8);
  for (Index i = 0; i < Y.size(); ++i) Y.data()[i] = static_cast<float>(detail::standard_normal(rng));
  Y.rowwise().normalize();
  Adam<float> adam(AdamOptions<float>{.learning_rate = 0.05f});
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    const Matrix<float> e = model.forward(ids);
    (step == 0 ? first : last) = (e - Y).squaredNorm();
    adam.zero_grad(model.parameters());
    model.backward(2.0f * (e - Y));
    adam.step(model.parameters());
  }
  INFO("loss ", first, " -> ", last);
  CHECK(last < 0.75 * first);
  std::size_t k = 0;
  for (const auto& p : model.parameters())
    if (!p.trainable && !reparametrised(p.name)) {
      CHECK(p.name == frozen[k].first);
      CHECK(p.parameter->value == frozen[k++].second);
    }
  CHECK(base.encode(texts, 1) == before);
  const Matrix<float> trained = model.encode(texts, 1);
  CHECK(max_abs_diff(trained, before) > 1e-2f);
  CHECK(max_abs_diff(model.forward(ids), trained) <= 1e-5f);
  CHECK(max_abs_diff(model.merge_and_unload().encode(texts, 1), trained) <= 1e-5f);
  // W₀ kept exactly: with every B back at 0 the model is the base encoder again, bit for bit.
  for (const auto& [name, _] : model.lora_modules()) model.lora(name).B().value.setZero();
  CHECK(model.encode(texts, 1) == before);
}

TEST_CASE("SentenceEncoderWithLoRA: bad input names the problem and leaves nothing behind") {
  const SentenceEncoder base = tiny_bert(test_seed(7));
  using M = SentenceEncoderWithLoRA;
  CHECK_THROWS_NAMING(M(base, {.target_modules = {}}), InvalidArgument, "target_modules is empty");
  CHECK_THROWS_NAMING(M(base, {.target_modules = {"query", "qeury"}}), InvalidArgument,
                      "'qeury' matches no module; the encoder's are encoder.layer.N.{attention.self.query, "
                      "attention.self.key, attention.self.value, attention.output.dense, intermediate.dense, "
                      "output.dense} for N = 0 to 1");
  CHECK_THROWS_NAMING(M(base, {.target_modules = {"pooler.dense"}}), InvalidArgument, "matches no module");
  CHECK_THROWS_NAMING(M(base, {.target_modules = {"query"}, .options = {.r = 9}}), InvalidArgument,
                      "layer 0: TransformerBlockWithLoRA: target self_attn.query (8 -> 8)");
  CHECK_THROWS_NAMING(M(base, {.target_modules = {"query"}, .options = {.alpha = 0}}), InvalidArgument,
                      "alpha must be finite and > 0");
  CHECK_THROWS_NAMING(M(base, {.target_modules = {"query"}, .options = {.dropout = 1.0}}), InvalidArgument,
                      "SentenceEncoderWithLoRA: lora_dropout must be in [0, 1), got 1.0");
  CHECK_THROWS_NAMING(M(base, {.target_modules = {"query"}, .options = {.dropout = -0.5}}), InvalidArgument,
                      "lora_dropout must be in [0, 1), got -0.5");
  CHECK_THROWS_NAMING(M(base, {.target_modules = {"query"}, .options = {.dropout = std::nan("")}}), InvalidArgument,
                      "lora_dropout must be in [0, 1)");
  M model(base, {.target_modules = {"query"}, .options = {.r = 2}});
  CHECK_THROWS_NAMING(model.backward(Matrix<float>::Zero(1, 8)), InvalidArgument, "called before forward");
  CHECK_THROWS_NAMING(model.forward(std::vector<std::vector<std::int32_t>>{}), InvalidArgument, "the batch is empty");
  CHECK_THROWS_NAMING(model.forward(std::vector<std::vector<std::int32_t>>{{2, 12, 3}}), InvalidArgument,
                      "token id 12 is outside the vocabulary [0, 12)");
  CHECK_THROWS_NAMING(model.forward(std::vector<std::vector<std::int32_t>>{{}}), InvalidArgument,
                      "a sequence has 0 tokens");
  (void)model.forward(model.tokenize(texts));
  CHECK_THROWS_NAMING(model.backward(Matrix<float>::Zero(3, 8)), InvalidArgument,
                      "grad_embeddings is 3x8 but the forward produced 4x8");
  CHECK_THROWS_NAMING(model.lora("encoder.layer.0.attention.self.key"), InvalidArgument, "no LoRA update on");
  CHECK_THROWS_NAMING(model.encode(texts, 0), InvalidArgument, "batch_size must be positive");
}

TEST_CASE("SentenceEncoderWithLoRA adapter files: PEFT's names, a round trip, and bad files") {
  const std::uint64_t seed = test_seed(8);
  const SentenceEncoder base = tiny_bert(seed);
  SentenceEncoderWithLoRA model(base, {.target_modules = {"query", "output.dense"}, .options = {.r = 2, .alpha = 6}});
  randomise_b(model, seed + 1);
  TempDir dir("roundtrip");
  save_lora_adapter(model, dir.str());
  const Safetensors file = read_safetensors(dir.str() + "/adapter_model.safetensors");
  CHECK(file.tensors.size() == 12);
  CHECK(file.at("base_model.model.encoder.layer.1.output.dense.lora_A.weight").shape == std::vector<Index>{2, 16});
  CHECK(file.at("base_model.model.encoder.layer.0.attention.self.query.lora_B.weight").shape ==
        std::vector<Index>{8, 2});
  std::ifstream config_in(dir.path / "adapter_config.json");
  const nlohmann::json config = nlohmann::json::parse(config_in);
  CHECK(config["r"] == 2);
  CHECK(config["lora_alpha"] == 6);
  CHECK(config["target_modules"].size() == 6);
  CHECK(config["target_modules"][0] == "encoder.layer.0.attention.self.query");
  CHECK(config["lora_dropout"] == 0.0);

  SentenceEncoderWithLoRA again = load_lora_adapter(base, dir.str());
  CHECK(again.report().wrapped == model.report().wrapped);
  CHECK(again.encode(texts, 1) == model.encode(texts, 1));

  // An adapter for another shape (FFN 12 instead of 16), naming the tensor and both shapes.
  CHECK_THROWS_NAMING(load_lora_adapter(tiny_bert(seed, 12), dir.str()), FormatError,
                      "'base_model.model.encoder.layer.0.output.dense.lora_A.weight' has shape (2, 16) but layer "
                      "encoder.layer.0.output.dense (12 -> 8) needs (2, 12)");
  // A tensor that no module takes; PEFT's pooler tensors are skipped.
  Safetensors extra = file;
  extra.add("base_model.model.pooler.dense.lora_A.weight", Matrix<float>::Ones(2, 8));
  write_safetensors(dir.str() + "/adapter_model.safetensors", extra);
  CHECK(load_lora_adapter(base, dir.str()).encode(texts, 1) == model.encode(texts, 1));
  extra.add("base_model.model.encoder.layer.0.attention.self.key.lora_A.weight", Matrix<float>::Ones(2, 8));
  write_safetensors(dir.str() + "/adapter_model.safetensors", extra);
  CHECK_THROWS_NAMING(load_lora_adapter(base, dir.str()), FormatError,
                      "tensor 'base_model.model.encoder.layer.0.attention.self.key.lora_A.weight' matches no LoRA "
                      "module");
  // Truncated weights, a target for another model, per-module ranks.
  save_lora_adapter(model, dir.str());
  const auto size = fs::file_size(dir.path / "adapter_model.safetensors");
  fs::resize_file(dir.path / "adapter_model.safetensors", size - 10);
  CHECK_THROWS_AS(load_lora_adapter(base, dir.str()), FormatError);
  save_lora_adapter(model, dir.str());
  nlohmann::json edited = config;
  edited["target_modules"] = {"c_attn"};
  std::ofstream(dir.path / "adapter_config.json") << edited.dump();
  CHECK_THROWS_NAMING(load_lora_adapter(base, dir.str()), FormatError, "is for another model");
  edited["target_modules"] = {"query"};
  edited["rank_pattern"] = {{"query", 4}};
  std::ofstream(dir.path / "adapter_config.json") << edited.dump();
  CHECK_THROWS_NAMING(load_lora_adapter(base, dir.str()), FormatError, "rank_pattern / alpha_pattern are set");
  CHECK_THROWS_AS(load_lora_adapter(base, (dir.path / "missing").string()), FormatError);
}

TEST_CASE("SentenceEncoderWithLoRA adapter files: lora_dropout round-trips; a bad one is a FormatError") {
  const std::uint64_t seed = test_seed(13);
  const SentenceEncoder base = tiny_bert(seed);
  SentenceEncoderWithLoRA model(base, {.target_modules = {"value"}, .options = {.r = 2, .dropout = 0.125}});
  randomise_b(model, seed + 1);
  TempDir dir("dropout");
  save_lora_adapter(model, dir.str());
  nlohmann::json config = nlohmann::json::parse(std::ifstream(dir.path / "adapter_config.json"));
  CHECK(config["lora_dropout"] == 0.125);
  SentenceEncoderWithLoRA again = load_lora_adapter(base, dir.str());
  for (const auto& [name, lora] : again.lora_modules()) CHECK(lora->options().dropout == 0.125);
  model.eval();
  again.eval();
  CHECK(again.forward(again.tokenize(texts)) == model.forward(model.tokenize(texts)));
  for (const double bad : {1.0, -0.25}) {
    config["lora_dropout"] = bad;
    std::ofstream(dir.path / "adapter_config.json") << config.dump();
    CHECK_THROWS_NAMING(load_lora_adapter(base, dir.str()), FormatError,
                        "adapter_config.json: lora_dropout must be in [0, 1)");
  }
  config["lora_dropout"] = nullptr;  // PEFT's default when absent: 0
  std::ofstream(dir.path / "adapter_config.json") << config.dump();
  const SentenceEncoderWithLoRA defaulted = load_lora_adapter(base, dir.str());
  for (const auto& [name, lora] : defaulted.lora_modules()) CHECK(lora->options().dropout == 0.0);
}

TEST_CASE("MiniLM: LoRA on query and value starts equal to the encoder; 0.33 % of the parameters train") {
  const SentenceEncoder base = SentenceEncoder::load(minilm_dir());
  SentenceEncoderWithLoRA model(base, {.target_modules = {"query", "value"}, .options = {.r = 8, .alpha = 16}});
  const LoRAReport report = model.report();
  CHECK(report.wrapped.size() == 12);
  CHECK(report.trainable_parameters == 12 * 8 * (384 + 384));
  // PEFT's print_trainable_parameters on the BertModel says 22 713 216 + 73 728, its pooler (147 840) included.
  CHECK(report.total_parameters == 22'713'216 - 147'840 + 73'728);
  MESSAGE("trainable " << report.trainable_parameters << " of " << report.total_parameters << " ("
                       << report.trainable_percent() << " %)");
  const std::vector<std::string> sentences = {"A man is eating food.", "LoRA trains a low-rank update.", "Hi"};
  CHECK(model.encode(sentences, 1) == base.encode(sentences, 1));
  CHECK(max_abs_diff(model.forward(model.tokenize(sentences)), base.encode(sentences, 1)) <= 1e-5f);
}

TEST_CASE("MiniLM: an adapter trained by PEFT loads and gives PEFT's token and sentence embeddings (1e-5)") {
  const SentenceEncoder base = SentenceEncoder::load(minilm_dir());
  const std::string data = std::string(AIMASTERY_REFERENCE_DIR) + "/llm_lora_encoder";
  SentenceEncoderWithLoRA model = load_lora_adapter(base, data + "/peft_adapter");
  CHECK(model.report().wrapped.size() == 6 * 5);  // query, value and the three dense layers; the pooler skipped
  const Safetensors ref = read_safetensors(data + "/reference.safetensors");
  std::ifstream json(data + "/reference.json");
  const std::vector<std::string> sentences = nlohmann::json::parse(json).at("texts").get<std::vector<std::string>>();
  REQUIRE(sentences.size() == 4);
  const auto ids = model.tokenize(sentences);
  const SafetensorsTensor& input_ids = ref.at("input_ids");
  const std::vector<double> expected_ids = input_ids.values<double>();
  const std::vector<double> mask = ref.at("attention_mask").values<double>();
  const Index L = input_ids.shape[1];
  for (std::size_t b = 0; b < ids.size(); ++b) {
    Index n = 0;
    for (Index p = 0; p < L; ++p) n += mask[b * static_cast<std::size_t>(L) + static_cast<std::size_t>(p)] == 1.0;
    REQUIRE(static_cast<Index>(ids[b].size()) == n);
    for (Index p = 0; p < n; ++p)
      CHECK(ids[b][static_cast<std::size_t>(p)] ==
            expected_ids[b * static_cast<std::size_t>(L) + static_cast<std::size_t>(p)]);
  }
  const Matrix<float> embeddings = ref.matrix<float>("embeddings");
  CHECK(max_abs_diff(model.forward(ids), embeddings) <= 1e-5f);
  CHECK(max_abs_diff(model.encode(sentences), embeddings) <= 1e-5f);
  CHECK(max_abs_diff(base.encode(sentences), embeddings) > 1e-2f);  // the adapter matters
  // Token states: ours are padded to our longest sequence, PEFT's to its own; compare the real tokens.
  const std::vector<float> hidden = ref.at("last_hidden_state").values<float>();
  const Tensor<float>& ours = model.last_hidden_state();
  float worst = 0;
  for (Index b = 0; b < 4; ++b)
    for (Index p = 0; p < static_cast<Index>(ids[static_cast<std::size_t>(b)].size()); ++p)
      for (Index j = 0; j < 384; ++j)
        worst = std::max(worst, std::abs(ours.matrix()(b * ours.dim(1) + p, j) -
                                         hidden[static_cast<std::size_t>((b * L + p) * 384 + j)]));
  MESSAGE("largest token-state difference from PEFT: " << worst);
  CHECK(worst <= 1e-5f);
}

TEST_CASE("PEFT peer: writes a trained MiniLM adapter and its outputs") {
  const char* env = std::getenv("AIMASTERY_LORA_ENCODER_PEER_DIR");
  if (!env) {
    MESSAGE("AIMASTERY_LORA_ENCODER_PEER_DIR is not set: nothing written");
    return;
  }
  const fs::path dir = env;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const SentenceEncoder base = SentenceEncoder::load(minilm_dir());
  SentenceEncoderWithLoRA model(
      base, {.target_modules = {"query", "key", "value", "dense"}, .options = {.r = 4, .alpha = 8}});
  const std::vector<std::string> train = {"A cat sits on the mat.", "The stock market fell sharply today.",
                                          "Kittens are playing in the garden.", "Interest rates rise again."};
  const auto train_ids = model.tokenize(train);
  Adam<float> adam(AdamOptions<float>{.learning_rate = 1e-2f});
  for (int step = 0; step < 4; ++step) {  // pull the two sentences about cats together, push the others apart
    const Matrix<float> e = model.forward(train_ids);
    Matrix<float> G = Matrix<float>::Zero(4, 384);
    G.row(0) = -e.row(2);
    G.row(2) = -e.row(0);
    G.row(1) = e.row(3);
    G.row(3) = e.row(1);
    adam.zero_grad(model.parameters());
    model.backward(G);
    adam.step(model.parameters());
  }
  save_lora_adapter(model, (dir / "adapter").string());
  const std::vector<std::string> sentences = {"A man is eating food.", "Someone is playing a guitar on stage.",
                                              "Fine-tuning with LoRA", "ok"};
  const auto ids = model.tokenize(sentences);
  const Matrix<float> embeddings = model.forward(ids);
  const Tensor<float>& hidden = model.last_hidden_state();
  Safetensors io;
  const Index B = hidden.dim(0), L = hidden.dim(1);
  // Token ids and the mask as F32 (exact below 2²⁴; the library writes floating tensors).
  std::vector<float> padded(static_cast<std::size_t>(B * L), 0.0f), mask(padded.size(), 0.0f);
  for (Index b = 0; b < B; ++b)
    for (std::size_t p = 0; p < ids[static_cast<std::size_t>(b)].size(); ++p) {
      padded[static_cast<std::size_t>(b * L) + p] = static_cast<float>(ids[static_cast<std::size_t>(b)][p]);
      mask[static_cast<std::size_t>(b * L) + p] = 1.0f;
    }
  io.add("input_ids", {B, L}, padded.data(), SafetensorsDtype::F32);
  io.add("attention_mask", {B, L}, mask.data(), SafetensorsDtype::F32);
  io.add("last_hidden_state", hidden);
  io.add("embeddings", embeddings);
  io.metadata["format"] = "pt";
  io.metadata["aimastery.trainable"] = std::to_string(model.report().trainable_parameters);
  write_safetensors((dir / "io.safetensors").string(), io);
  MESSAGE("wrote " << dir.string() << " (" << model.report().wrapped.size() << " modules)");
}
