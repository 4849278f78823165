// Files written by an earlier version of the library (tests/reference/data/deployment_golden/: model
// files of several kinds and a model registry) still read, and writing back what was read gives the
// same bytes. The test case at the end writes those files again when AIMASTERY_DEPLOYMENT_GOLDEN_DIR is set.

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "aimastery/llm/attention.hpp"
#include "aimastery/ml/classical.hpp"
#include "aimastery/ml/deep_learning.hpp"
#include "aimastery/production/deployment/model_serializer.hpp"
#include "aimastery/production/deployment/model_version_manager.hpp"
#include "support.hpp"

using namespace aimastery;

namespace golden {

/// Training data from a formula (no random engine): 60 rows, 4 features, labels {-4, 2, 9}.
struct GoldenData {
  Matrix<double> X;
  IndexVector labels;
};

inline GoldenData make_golden_data() {
  GoldenData d;
  d.X.resize(60, 4);
  d.labels.resize(60);
  for (Index i = 0; i < 60; ++i) {
    for (Index j = 0; j < 4; ++j) d.X(i, j) = std::sin(0.37 * static_cast<double>((i + 1) * (j + 2)));
    const double s = d.X(i, 0) + 0.5 * d.X(i, 1) - d.X(i, 2) * d.X(i, 3);
    d.labels(i) = s < -0.3 ? -4 : (s < 0.3 ? 2 : 9);
  }
  return d;
}

/// Metadata with every kind of JSON value and the numbers whose text is easiest to get wrong.
constexpr const char* rich_metadata = R"({
  "hyper": {"lr": 0.001, "eps": 1e-08, "float_eps": 9.999999747378752e-06, "sum": 0.30000000000000004,
            "big": 1e+300, "e15": 1e+15, "million": 1000000.0, "third": 0.3333333333333333, "zero": 0.0,
            "negative_zero": -0.0, "n": -3, "u": 18446744073709551615, "i": -9223372036854775808},
  "text": "na\u00efve \"quoted\"\n\ttab \u0001 \u2713 \ud83d\ude00 / \\",
  "list": [1, 2.5, null, true, false, [], {}, [[]], {"a": {"b": [1]}}],
  "": "empty name"
})";

inline const std::filesystem::path golden_dir = std::filesystem::path(AIMASTERY_REFERENCE_DIR) / "deployment_golden";

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), {}};
}

inline void spit(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string as_text(const std::vector<unsigned char>& bytes) { return {bytes.begin(), bytes.end()}; }

/// The golden model file `name` read and written back: by the file layer (its tensors and document as
/// read), and by the model's codec (the loaded model saved again under the file's provenance).
template <class Model>
void check_golden_model(const std::string& name) {
  CAPTURE(name);
  const std::filesystem::path path = golden_dir / name;
  const std::string bytes = slurp(path);
  const std::span<const unsigned char> image(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  const detail::ModelFileContents contents = detail::parse_model_file(image, name, "golden");
  CHECK(as_text(detail::serialize_model_file(contents.tensors, contents.document)) == bytes);

  const Model model = ModelSerializer::load<Model>(path.string());
  ModelWriter out;
  ModelCodec<Model>::save(model, out);
  JsonValue document = contents.document;
  document["hyper_parameters"] = out.hyper_parameters;
  document["state"] = out.state;
  CHECK(as_text(detail::serialize_model_file(out.tensors, document)) == bytes);

  const ModelProvenance p = read_model_provenance(path.string());
  CHECK(p.kind == ModelCodec<Model>::kind);
  CHECK(p.sha256 == contents.sha256);
  CHECK(p.hyper_parameters == contents.document.at("hyper_parameters"));
}

}  // namespace golden

using namespace golden;

TEST_CASE("model files written before read, and write back to the same bytes") {
  check_golden_model<LogisticRegressionScratch<double>>("logistic_regression.safetensors");
  check_golden_model<GaussianNBScratch<double>>("gaussian_nb.safetensors");
  check_golden_model<RandomForestScratch<float>>("random_forest.safetensors");
  check_golden_model<NeuralNetwork<float>>("neural_network.safetensors");
  check_golden_model<TransformerBlock<float>>("transformer_block.safetensors");

  const ModelProvenance p = read_model_provenance((golden_dir / "logistic_regression.safetensors").string());
  CHECK(p.hyper_parameters.at("C") == "inf");
  CHECK(p.metrics == std::map<std::string, double>{{"accuracy", 0.93}, {"loss", 0.1 + 0.2}, {"tiny", 1e-300}});
  CHECK(p.training_data_sha256 == training_data_sha256(make_golden_data().X, make_golden_data().labels));
  const auto logistic = ModelSerializer::load<LogisticRegressionScratch<double>>(
      (golden_dir / "logistic_regression.safetensors").string());
  CHECK(std::isinf(logistic.params().C));
}

TEST_CASE("a registry written before reads, and a write changes only what it changes") {
  const std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("aimastery_golden_registry_" + std::to_string(::getpid()));
  std::filesystem::remove_all(root);
  std::filesystem::copy(golden_dir / "registry", root, std::filesystem::copy_options::recursive);
  const std::string before = slurp(root / "registry.json");
  {
    ModelVersionManager registry(root);
    CHECK(registry.models() == std::vector<std::string>{"iris-forest", "net"});
    CHECK(registry.versions("iris-forest") == std::vector<std::int64_t>{1, 5});
    CHECK(registry.aliases("iris-forest") == std::map<std::string, std::int64_t>{{"challenger", 5}, {"champion", 1}});
    const std::vector<AliasEvent> history = registry.alias_history("iris-forest", "champion");
    REQUIRE(history.size() == 3);
    CHECK(history[2].action == "rollback");
    CHECK(history[2].previous == 5);
    CHECK(history[2].reason == "bad accuracy");
    const ModelVersion v1 = registry.get("iris-forest", 1);
    CHECK(v1.metadata == JsonValue::parse(rich_metadata));
    CHECK(v1.metadata.at("hyper").at("u").get<std::uint64_t>() == std::numeric_limits<std::uint64_t>::max());
    CHECK(std::signbit(v1.metadata.at("hyper").at("negative_zero").get<double>()));
    CHECK(v1.metrics == std::map<std::string, double>{{"accuracy", 0.93}, {"f1", 0.1 + 0.2}});
    CHECK(v1.tags.at("note") == "na\xc3\xafve \"q\"\n");
    CHECK(v1.description == "first \xe2\x9c\x93");
    CHECK(registry.get("iris-forest", "challenger").artifacts.size() == 2);
    CHECK(registry.model_metadata("iris-forest") ==
          JsonValue::object({{"canary", JsonValue::object({{"share", 0.25}, {"seed", 7}})}}));
    CHECK(registry.model_metadata("net").at("owner") == "someone");
    CHECK(registry.verify() == 4);
    const auto forest = ModelSerializer::load<RandomForestScratch<float>>((v1.folder / "model.safetensors").string());
    CHECK(forest.n_trees() == 3);

    // A tag set and removed again: registry.json is the file as it was but for its generation.
    const std::uint64_t generation = registry.generation();
    registry.set_tag("iris-forest", 1, "extra", "x");
    registry.remove_tag("iris-forest", 1, "extra");
    std::string expected = before;
    const std::string old_line = "\"generation\": " + std::to_string(generation) + ",";
    REQUIRE(expected.find(old_line) != std::string::npos);
    expected.replace(expected.find(old_line), old_line.size(),
                     "\"generation\": " + std::to_string(generation + 2) + ",");
    CHECK(slurp(root / "registry.json") == expected);
  }
  std::filesystem::remove_all(root);
}

TEST_CASE("writes the deployment golden files" *
          doctest::skip(std::getenv("AIMASTERY_DEPLOYMENT_GOLDEN_DIR") == nullptr)) {
  const std::filesystem::path dir = std::getenv("AIMASTERY_DEPLOYMENT_GOLDEN_DIR");
  std::filesystem::create_directories(dir);
  const GoldenData data = make_golden_data();
  const SaveOptions options{.training_data_sha256 = training_data_sha256(data.X, data.labels),
                            .metrics = {{"accuracy", 0.93}, {"loss", 0.1 + 0.2}, {"tiny", 1e-300}}};

  LogisticRegressionScratch<double> logistic({.C = std::numeric_limits<double>::infinity(), .max_iter = 50});
  logistic.fit(data.X, data.labels);
  ModelSerializer::save(logistic, (dir / "logistic_regression.safetensors").string(), options);

  GaussianNBScratch<double> nb({.priors = {0.2, 0.3, 0.5}});
  nb.fit(data.X, data.labels);
  ModelSerializer::save(nb, (dir / "gaussian_nb.safetensors").string(), options);

  const Matrix<float> Xf = data.X.cast<float>();
  RandomForestScratch<float> forest({.n_estimators = 3, .max_depth = 3, .seed = 5});
  forest.fit(Xf, data.labels);
  ModelSerializer::save(forest, (dir / "random_forest.safetensors").string());

  NeuralNetwork<float> net;
  net.add<Dense<float>>(4, 6, DenseOptions{.seed = 3})
      .add<BatchNormalization<float>>(6)
      .add<Activation<float>>(ActivationKind::leaky_relu, 0.1f)
      .add<Dropout<float>>(0.25)
      .add<Dense<float>>(6, 3, DenseOptions{.seed = 4});
  net.set_loss<CrossEntropyLoss<float>>(CrossEntropyOptions{.label_smoothing = 0.1});
  ModelSerializer::save(net, (dir / "neural_network.safetensors").string());

  TransformerBlock<float> block(8, 2, {.dim_feedforward = 16, .seed = 11});
  ModelSerializer::save(block, (dir / "transformer_block.safetensors").string());

  const std::filesystem::path root = dir / "registry";
  std::filesystem::remove_all(root);
  ModelVersionManager registry(root);
  registry.register_bytes("iris-forest", {{"model.safetensors", as_text(ModelSerializer::serialize(forest))}},
                          {.metrics = {{"accuracy", 0.93}, {"f1", 0.1 + 0.2}},
                           .tags = {{"owner", "ml-team"}, {"note", "na\xc3\xafve \"q\"\n"}},
                           .description = "first \xe2\x9c\x93",
                           .metadata = JsonValue::parse(rich_metadata)});
  registry.register_bytes("iris-forest", {{"model.safetensors", "v5"}, {"tokenizer/vocab.txt", "a\nb\n"}},
                          {.version = 5, .metadata = JsonValue::object({{"parent", 1}})});
  registry.register_bytes("net", {{"weights.bin", std::string("\0\1\2", 3)}});
  registry.set_alias("iris-forest", "champion", 1, "first");
  registry.set_alias("iris-forest", "champion", 5);
  registry.rollback("iris-forest", "champion", "bad accuracy");
  registry.update("iris-forest", {.aliases = {{"challenger", 5}},
                                  .metadata = {{"canary", JsonValue::object({{"share", 0.25}, {"seed", 7}})}},
                                  .reason = "canary start"});
  registry.set_model_metadata("net", "owner", "someone");
  MESSAGE("wrote the golden files to " << dir.string());
}
