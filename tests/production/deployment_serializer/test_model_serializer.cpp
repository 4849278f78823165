// ModelSerializer: every model kind saved and loaded predicts bit for bit as before (float and double,
// seeded random data), the provenance is recorded, a changed byte anywhere is a FormatError naming the
// file, hostile files never crash, and a failed load leaves the model unchanged.

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "aimastery/llm/attention.hpp"
#include "aimastery/ml/classical.hpp"
#include "aimastery/ml/deep_learning.hpp"
#include "aimastery/production/deployment/model_serializer.hpp"
#include "support.hpp"

using namespace aimastery;

namespace {

std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("aimastery_serializer_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

template <class T>
struct Data {
  Matrix<T> X, X_test;
  IndexVector labels;  // three classes with labels {-4, 2, 9}
  Vector<T> targets;
};

template <class T>
Data<T> make_data(std::uint64_t seed, Index n = 120, Index d = 4) {
  std::mt19937_64 rng(seed);
  Data<T> data;
  data.X = test::random_matrix<T>(n, d, rng);
  data.X_test = test::random_matrix<T>(50, d, rng);
  data.labels.resize(n);
  data.targets.resize(n);
  for (Index i = 0; i < n; ++i) {
    const T s = data.X(i, 0) + T(0.5) * data.X(i, 1) - data.X(i, 2) * data.X(i, 3);
    data.labels(i) = s < T(-0.3) ? -4 : (s < T(0.3) ? 2 : 9);
    data.targets(i) = T(3) * s + T(0.1) * data.X(i, 2);
  }
  return data;
}

/// Saves `model`, loads it back as a new model and returns it.
template <class Model>
Model round_trip(const Model& model, const std::string& name, const SaveOptions& options = {}) {
  const std::string path = temp_path(name);
  ModelSerializer::save(model, path, options);
  return ModelSerializer::load<Model>(path);
}

template <class A, class B>
void check_identical(const A& a, const B& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  CHECK((a.array() == b.array()).all());
}

}  // namespace

TEST_CASE_TEMPLATE("every classical model predicts identically after save and load", T, float, double) {
  const std::uint64_t seed = test::test_seed();
  const Data<T> data = make_data<T>(seed);
  const auto& X = data.X;
  const auto& Xt = data.X_test;

  SUBCASE("linear regression (ols, ridge, lasso)") {
    for (auto params : {LinearRegressionParams{}, LinearRegressionParams{.alpha = 0.5},
                        LinearRegressionParams{.fit_intercept = false, .penalty = Penalty::l1, .alpha = 0.01}}) {
      LinearRegressionScratch<T> m(params);
      m.fit(X, data.targets);
      const auto back = round_trip(m, "linear.safetensors");
      check_identical(back.predict(Xt), m.predict(Xt));
      CHECK(back.params().alpha == params.alpha);
      CHECK(back.iterations() == m.iterations());
      CHECK(back.converged() == m.converged());
    }
  }
  SUBCASE("logistic regression (binary, multinomial, no penalty)") {
    IndexVector binary = data.labels.unaryExpr([](Index v) { return v == 9 ? Index(1) : Index(-1); });
    LogisticRegressionScratch<T> two;
    two.fit(X, binary);
    auto back2 = round_trip(two, "logistic2.safetensors");
    check_identical(back2.predict_proba(Xt), two.predict_proba(Xt));
    check_identical(back2.predict(Xt), two.predict(Xt));
    LogisticRegressionScratch<T> many({.C = std::numeric_limits<double>::infinity(), .max_iter = 50});
    many.fit(X, data.labels);
    auto back = round_trip(many, "logistic3.safetensors");
    check_identical(back.predict_proba(Xt), many.predict_proba(Xt));
    check_identical(back.classes(), many.classes());
    CHECK(std::isinf(back.params().C));
    CHECK(back.loss() == many.loss());
  }
  SUBCASE("Gaussian naive Bayes") {
    GaussianNBScratch<T> m({.priors = {0.2, 0.3, 0.5}});
    m.fit(X, data.labels);
    auto back = round_trip(m, "nb.safetensors");
    check_identical(back.predict_proba(Xt), m.predict_proba(Xt));
    check_identical(back.predict(Xt), m.predict(Xt));
    CHECK(back.params().priors == m.params().priors);
  }
  SUBCASE("standard scaler") {
    StandardScaler<T> m({.with_mean = true, .with_std = true});
    m.fit(X);
    auto back = round_trip(m, "scaler.safetensors");
    check_identical(back.transform(Xt), m.transform(Xt));
    check_identical(back.inverse_transform(Xt), m.inverse_transform(Xt));
  }
  SUBCASE("k nearest neighbours, every metric and weighting") {
    for (auto metric : {DistanceMetric::euclidean, DistanceMetric::manhattan, DistanceMetric::cosine})
      for (auto weights : {NeighborWeights::uniform, NeighborWeights::distance}) {
        KNNScratch<T> c({.k = 7, .metric = metric, .weights = weights});
        c.fit(X, data.labels);
        auto back = round_trip(c, "knn.safetensors");
        check_identical(back.predict_proba(Xt), c.predict_proba(Xt));
        check_identical(back.predict(Xt), c.predict(Xt));
        KNNRegressorScratch<T> r({.k = 3, .metric = metric, .weights = weights});
        r.fit(X, data.targets);
        auto back_r = round_trip(r, "knnr.safetensors");
        check_identical(back_r.predict(Xt), r.predict(Xt));
        check_identical(back_r.kneighbors(Xt).indices, r.kneighbors(Xt).indices);
      }
  }
  SUBCASE("decision trees") {
    DecisionTreeScratch<T> c({.criterion = SplitCriterion::entropy, .max_depth = 6, .max_features = 3, .seed = 5});
    c.fit(X, data.labels);
    auto back = round_trip(c, "tree.safetensors");
    check_identical(back.predict_proba(Xt), c.predict_proba(Xt));
    check_identical(back.feature_importances(), c.feature_importances());
    CHECK(back.depth() == c.depth());
    CHECK(back.n_leaves() == c.n_leaves());
    DecisionTreeRegressorScratch<T> r({.split_search = SplitSearch::exact});
    r.fit(X, data.targets);
    auto back_r = round_trip(r, "treer.safetensors");
    check_identical(back_r.predict(Xt), r.predict(Xt));
    check_identical(back_r.predict(X), r.predict(X));
  }
  SUBCASE("random forests") {
    RandomForestScratch<T> c({.n_estimators = 12, .max_features = 0.5, .oob_score = true, .seed = 3});
    c.fit(X, data.labels);
    auto back = round_trip(c, "forest.safetensors");
    check_identical(back.predict_proba(Xt), c.predict_proba(Xt));
    check_identical(back.predict(Xt), c.predict(Xt));
    CHECK(back.oob_score() == c.oob_score());
    check_identical(back.oob_decision_function(), c.oob_decision_function());
    RandomForestRegressorScratch<T> r({.n_estimators = 9, .max_depth = 5, .seed = 11});
    r.fit(X, data.targets);
    auto back_r = round_trip(r, "forestr.safetensors");
    check_identical(back_r.predict(Xt), r.predict(Xt));
  }
  SUBCASE("an unfitted model keeps its hyper-parameters and stays unfitted") {
    RandomForestRegressorScratch<T> r({.n_estimators = 4, .max_features = "sqrt", .seed = 9});
    auto back = round_trip(r, "unfitted.safetensors");
    CHECK(back.params().n_estimators == 4);
    CHECK(back.params().max_features.kind() == MaxFeatures::Kind::sqrt);
    CHECK_THROWS_AS(static_cast<void>(back.predict(Xt)), NotFittedError);
  }
}

TEST_CASE_TEMPLATE("a neural network predicts identically after save and load", T, float, double) {
  const std::uint64_t seed = test::test_seed();
  const Data<T> data = make_data<T>(seed);
  NeuralNetwork<T> net;
  net.template add<Dense<T>>(4, 16, DenseOptions{.seed = seed})
      .template add<BatchNormalization<T>>(16, BatchNormalizationOptions{.eps = 1e-3, .momentum = 0.2})
      .template add<Activation<T>>(ActivationKind::leaky_relu, T(0.05))
      .template add<Dropout<T>>(0.1, seed)
      .template add<Dense<T>>(16, 8, DenseOptions{.seed = seed + 1})
      .template add<Activation<T>>(ActivationKind::tanh)
      .template add<Dense<T>>(8, 3, DenseOptions{.bias = false, .seed = seed + 2});
  net.template set_loss<CrossEntropyLoss<T>>().template set_optimizer<Adam<T>>();
  IndexVector codes =
      data.labels.unaryExpr([](Index v) { return v == -4 ? Index(0) : (v == 2 ? Index(1) : Index(2)); });
  net.fit(data.X, codes, {.epochs = 3, .batch_size = 16});
  const std::string path = temp_path("net.safetensors");
  ModelSerializer::save(net, path, {.metrics = {{"accuracy", 0.5}}});
  auto back = ModelSerializer::load<NeuralNetwork<T>>(path);
  CHECK(back.layer_names() == net.layer_names());
  check_identical(back.predict(data.X_test), net.predict(data.X_test));
  check_identical(back.predict_proba(data.X_test), net.predict_proba(data.X_test));
  // The tensors are PyTorch's state_dict: the plain network reader loads them into the same architecture.
  NeuralNetwork<T> plain;
  plain.template add<Dense<T>>(4, 16)
      .template add<BatchNormalization<T>>(16)
      .template add<Activation<T>>(ActivationKind::relu)
      .template add<Dropout<T>>(0.1)
      .template add<Dense<T>>(16, 8)
      .template add<Activation<T>>(ActivationKind::tanh)
      .template add<Dense<T>>(8, 3, DenseOptions{.bias = false});
  plain.load(path);
}

TEST_CASE_TEMPLATE("the attention layers give the same outputs after save and load", T, float, double) {
  std::mt19937_64 rng(test::test_seed());
  Tensor<T> x({2, 5, 8});
  x.matrix() = test::random_matrix<T>(10, 8, rng);
  // Every parameter moved away from its seeded initial value: only the file can give it back.
  const auto perturb = [&](ParameterList<T> parameters) {
    for (auto& p : parameters)
      p.parameter->value += test::random_matrix<T>(p.parameter->value.rows(), p.parameter->value.cols(), rng);
  };
  TransformerBlock<T> block(8, 2,
                            {.dim_feedforward = 16,
                             .dropout = 0.1,
                             .activation = ActivationKind::gelu,
                             .layer_norm_eps = 1e-4,
                             .norm_first = true,
                             .seed = 3});
  perturb(block.parameters());
  block.eval();
  auto block_back = round_trip(block, "block.safetensors");
  block_back.eval();
  check_identical(block_back.forward(x).matrix(), block.forward(x).matrix());
  CHECK(block_back.name() == block.name());

  MultiHeadAttention<T> mha(8, 4, {.bias = false, .seed = 4});
  perturb(mha.parameters());
  mha.eval();
  auto mha_back = round_trip(mha, "mha.safetensors");
  mha_back.eval();
  check_identical(mha_back.forward(x).matrix(), mha.forward(x).matrix());

  LayerNorm<T> norm(8, {.eps = 1e-3});
  perturb(norm.parameters());
  auto norm_back = round_trip(norm, "norm.safetensors");
  check_identical(norm_back.forward(x.matrix()), norm.forward(x.matrix()));
  CHECK(norm_back.eps() == norm.eps());

  // A block whose nhead does not divide d_model, or whose sizes disagree with its tensors, is refused.
  ModelWriter out;
  ModelCodec<TransformerBlock<T>>::save(block, out);
  for (const auto& change : {std::pair<const char*, int>{"nhead", 3}, {"d_model", 16}, {"dim_feedforward", 1000000}}) {
    const char* const key = change.first;
    JsonValue h = out.hyper_parameters;
    h[key] = change.second;
    const JsonValue document = JsonValue::object({{"format_version", 1},
                                                  {"library_version", "0.1.0"},
                                                  {"created", "x"},
                                                  {"kind", "TransformerBlock"},
                                                  {"scalar", scalar_name<T>()},
                                                  {"hyper_parameters", h},
                                                  {"state", JsonValue::object()},
                                                  {"metrics", JsonValue::object()}});
    CAPTURE(key);
    CHECK_THROWS_AS(static_cast<void>(ModelSerializer::deserialize<TransformerBlock<T>>(
                        detail::serialize_model_file(out.tensors, document), "block")),
                    FormatError);
  }
}

TEST_CASE_TEMPLATE("a LayerNorm without elementwise_affine holds no parameters, whatever its features", T, float,
                   double) {
  // A LayerNorm model file with elementwise_affine false has no tensor to bound `features`: the layer
  // must not allocate γ and β (PyTorch's are None), or a file of a few hundred bytes asks for gigabytes.
  const auto file_of = [](std::int64_t features, bool affine, const Safetensors& tensors = {}) {
    const JsonValue document =
        JsonValue::object({{"format_version", 1},
                           {"library_version", "0.1.0"},
                           {"created", "x"},
                           {"kind", "LayerNorm"},
                           {"scalar", scalar_name<T>()},
                           {"hyper_parameters",
                            JsonValue::object({{"features", features}, {"eps", 1e-5}, {"elementwise_affine", affine}})},
                           {"state", JsonValue::object()},
                           {"metrics", JsonValue::object()}});
    return detail::serialize_model_file(tensors, document);
  };
  const std::vector<unsigned char> bytes = file_of(Index{1} << 20, false);
  CHECK(bytes.size() < 1024);
  LayerNorm<T> wide = ModelSerializer::deserialize<LayerNorm<T>>(bytes, "wide");
  CHECK(wide.features() == Index{1} << 20);
  CHECK_FALSE(wide.elementwise_affine());
  // 2^20 features would be 4 · 2^20 scalars of γ, β and their gradients: none are allocated.
  REQUIRE(wide.weight().value.size() == 0);
  REQUIRE(wide.bias().grad.size() == 0);
  CHECK(wide.parameters().empty());
  // The largest features the format allows costs nothing either.
  const LayerNorm<T> widest = ModelSerializer::deserialize<LayerNorm<T>>(file_of(detail::max_width, false), "widest");
  CHECK(widest.features() == detail::max_width);

  // A non-affine layer still normalises, saves without tensors and loads back the same.
  std::mt19937_64 rng(test::test_seed());
  const Matrix<T> X = test::random_matrix<T>(4, 6, rng);
  LayerNorm<T> plain(6, {.eps = 1e-3, .elementwise_affine = false});
  ModelWriter out;
  ModelCodec<LayerNorm<T>>::save(plain, out);
  CHECK(out.tensors.tensors.empty());
  auto back = round_trip(plain, "plain_norm.safetensors");
  CHECK_FALSE(back.elementwise_affine());
  check_identical(back.forward(X), plain.forward(X));

  // An affine layer's size is its weight's: missing, or disagreeing with `features`, is refused.
  CHECK_THROWS_NAMING(ModelSerializer::deserialize<LayerNorm<T>>(file_of(detail::max_width, true), "affine"),
                      FormatError, "tensor 'weight' is missing");
  Safetensors weight;
  weight.add("weight", Matrix<T>::Ones(1, 6));
  weight.add("bias", Matrix<T>::Zero(1, 6));
  CHECK_THROWS_NAMING(ModelSerializer::deserialize<LayerNorm<T>>(file_of(detail::max_width, true, weight), "affine"),
                      FormatError, "does not match tensor 'weight'");
  // A non-affine file with tensors: they are no parameters of the layer.
  CHECK_THROWS_NAMING(ModelSerializer::deserialize<LayerNorm<T>>(file_of(6, false, weight), "plain"), FormatError,
                      "is no parameter of the layer");
}

TEST_CASE("the provenance is recorded in the file") {
  const Data<double> data = make_data<double>(7);
  RandomForestScratch<double> rf({.n_estimators = 5, .seed = 1});
  rf.fit(data.X, data.labels);
  const std::string digest = training_data_sha256(data.X, data.labels);
  CHECK(digest.size() == 64);
  CHECK(digest == training_data_sha256(Matrix<double>(data.X), IndexVector(data.labels)));
  Matrix<double> changed = data.X;
  changed(3, 1) += 1e-12;
  CHECK(training_data_sha256(changed, data.labels) != digest);
  const std::string path = temp_path("provenance.safetensors");
  ModelSerializer::save(rf, path,
                        {.training_data_sha256 = digest, .metrics = {{"accuracy", rf.score(data.X, data.labels)}}});
  const ModelProvenance p = read_model_provenance(path);
  CHECK(p.format_version == 1);
  CHECK(p.library_version == std::string(library_version));
  CHECK(p.kind == "RandomForestScratch");
  CHECK(p.scalar == "float64");
  CHECK(p.created.size() == 20);
  CHECK(p.created.back() == 'Z');
  CHECK(p.hyper_parameters.at("n_estimators") == 5);
  CHECK(p.hyper_parameters.at("criterion") == "gini");
  CHECK(p.training_data_sha256 == digest);
  CHECK(p.metrics.at("accuracy") == rf.score(data.X, data.labels));
  CHECK(p.sha256.size() == 64);
  // The file is a safetensors file other tools read.
  const Safetensors file = read_safetensors(path);
  CHECK(file.metadata.at("format") == "aimastery");
  CHECK(file.contains("tree.threshold"));
}

TEST_CASE("a changed byte anywhere in a model file is a FormatError naming the file") {
  const Data<double> data = make_data<double>(11, 20, 4);
  LinearRegressionScratch<double> m;
  m.fit(data.X, data.targets);
  const std::vector<unsigned char> bytes = ModelSerializer::serialize(m);
  REQUIRE(bytes.size() < 4000);
  const auto back = ModelSerializer::deserialize<LinearRegressionScratch<double>>(bytes, "small.model");
  check_identical(back.predict(data.X_test), m.predict(data.X_test));
  for (std::size_t i = 0; i < bytes.size(); ++i)
    for (const int mask : {0x01, 0x80, 0xff}) {
      std::vector<unsigned char> damaged = bytes;
      damaged[i] = static_cast<unsigned char>(damaged[i] ^ mask);
      CAPTURE(i);
      try {
        static_cast<void>(ModelSerializer::deserialize<LinearRegressionScratch<double>>(damaged, "small.model"));
        FAIL("no error for a changed byte");
      } catch (const FormatError& e) {
        CHECK(std::string(e.what()).find("small.model") != std::string::npos);
      }
    }
  // Every truncation too.
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    CAPTURE(n);
    CHECK_THROWS_AS(static_cast<void>(ModelSerializer::deserialize<LinearRegressionScratch<double>>(
                        std::span<const unsigned char>(bytes).first(n), "small.model")),
                    FormatError);
  }
  // A digest mismatch says so.
  std::vector<unsigned char> damaged = bytes;
  damaged.back() ^= 1;
  try {
    static_cast<void>(ModelSerializer::deserialize<LinearRegressionScratch<double>>(damaged, "small.model"));
  } catch (const FormatError& e) {
    CHECK(std::string(e.what()).find("digest mismatch") != std::string::npos);
  }
}

TEST_CASE("bad inputs and hostile files") {
  const Data<double> data = make_data<double>(13, 30, 4);
  DecisionTreeScratch<double> tree;
  tree.fit(data.X, data.labels);
  const std::string path = temp_path("tree_bad.safetensors");
  ModelSerializer::save(tree, path);

  SUBCASE("another kind or scalar type") {
    try {
      static_cast<void>(ModelSerializer::load<RandomForestScratch<double>>(path));
      FAIL("no error");
    } catch (const FormatError& e) {
      CHECK(std::string(e.what()).find("DecisionTreeScratch") != std::string::npos);
      CHECK(std::string(e.what()).find(path) != std::string::npos);
    }
    CHECK_THROWS_AS(static_cast<void>(ModelSerializer::load<DecisionTreeScratch<float>>(path)), FormatError);
  }
  SUBCASE("a failed load leaves the model unchanged") {
    DecisionTreeScratch<double> other({.max_depth = 2});
    other.fit(data.X, data.labels);
    const Matrix<double> before = other.predict_proba(data.X_test);
    std::vector<unsigned char> bytes = ModelSerializer::serialize(tree);
    bytes[bytes.size() / 2] ^= 0x10;
    const std::string damaged = temp_path("damaged.safetensors");
    std::ofstream(damaged, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    CHECK_THROWS_AS(ModelSerializer::load(damaged, other), FormatError);
    check_identical(other.predict_proba(data.X_test), before);
    CHECK(other.params().max_depth == 2);
    ModelSerializer::load(path, other);
    check_identical(other.predict_proba(data.X_test), tree.predict_proba(data.X_test));
  }
  SUBCASE("missing file, directory, not a model file") {
    CHECK_THROWS_WITH_AS(static_cast<void>(ModelSerializer::load<DecisionTreeScratch<double>>(temp_path("none"))),
                         doctest::Contains("cannot open"), FormatError);
    CHECK_THROWS_AS(static_cast<void>(ModelSerializer::load<DecisionTreeScratch<double>>(
                        std::filesystem::temp_directory_path().string())),
                    FormatError);
    Safetensors plain;
    plain.add("w", Matrix<double>::Ones(2, 2));
    write_safetensors(temp_path("plain.safetensors"), plain);
    CHECK_THROWS_WITH_AS(
        static_cast<void>(ModelSerializer::load<DecisionTreeScratch<double>>(temp_path("plain.safetensors"))),
        doctest::Contains("not an aimastery model file"), FormatError);
  }
  SUBCASE("a structurally hostile tree with a valid digest is refused") {
    // Rewrite the tree so that a node points back to the root (a cycle), then re-sign the file: the
    // digest matches, so only the structural checks stand between the file and an endless walk.
    Safetensors file = read_safetensors(path);
    auto& left = file.tensors.at("tree.left");
    REQUIRE(file.tensors.at("tree.feature").bytes[0] != 0xff);  // the root splits
    left.bytes[0] = 0;                                          // the root's left child: the root itself
    for (int b = 1; b < 8; ++b) left.bytes[static_cast<std::size_t>(b)] = 0;
    const JsonValue document = JsonValue::parse(file.metadata.at("aimastery.model"));
    const std::vector<unsigned char> resigned = detail::serialize_model_file(file, document);
    CHECK_THROWS_WITH_AS(
        static_cast<void>(ModelSerializer::deserialize<DecisionTreeScratch<double>>(resigned, "cycle")),
        doctest::Contains("does not come after it"), FormatError);
  }
  SUBCASE("a document that is not JSON, re-signed, is a FormatError naming the file and the byte") {
    std::vector<unsigned char> bytes = ModelSerializer::serialize(tree);
    const std::string text(bytes.begin(), bytes.end());
    const std::string key = "\\\"created\\\":";  // the document is an escaped string in the header: \"created\":
    const std::size_t at = text.find(key);
    REQUIRE(at != std::string::npos);
    bytes[at + key.size() - 1] = ' ';  // "created" "2026-...": the colon is missing
    const std::size_t position = detail::digest_position(bytes, 8 + detail::load_little_endian(bytes.data(), 8));
    const std::string digest = detail::content_digest(bytes, position);
    std::copy(digest.begin(), digest.end(), bytes.begin() + static_cast<std::ptrdiff_t>(position));
    CHECK_THROWS_WITH_AS(
        static_cast<void>(ModelSerializer::deserialize<DecisionTreeScratch<double>>(bytes, "broken.model")),
        doctest::Contains("ModelSerializer::load: broken.model: aimastery.model is not valid JSON (byte"), FormatError);
  }
  SUBCASE("hostile sizes in the JSON never allocate") {
    NeuralNetwork<double> net;
    net.add<Dense<double>>(3, 2);
    ModelWriter out;
    ModelCodec<NeuralNetwork<double>>::save(net, out);
    JsonValue::Array layers = out.hyper_parameters.at("layers").elements();
    layers[0]["in_features"] = 2000000000;
    out.hyper_parameters["layers"] = JsonValue::array(std::move(layers));
    const JsonValue document = JsonValue::object({{"format_version", 1},
                                                  {"library_version", "0.1.0"},
                                                  {"created", "x"},
                                                  {"kind", "NeuralNetwork"},
                                                  {"scalar", "float64"},
                                                  {"hyper_parameters", out.hyper_parameters},
                                                  {"state", out.state},
                                                  {"metrics", JsonValue::object()}});
    const std::vector<unsigned char> bytes = detail::serialize_model_file(out.tensors, document);
    CHECK_THROWS_WITH_AS(static_cast<void>(ModelSerializer::deserialize<NeuralNetwork<double>>(bytes, "huge")),
                         doctest::Contains("another shape"), FormatError);
  }
  SUBCASE("bad save options and models that cannot be saved") {
    CHECK_THROWS_WITH_AS(static_cast<void>(ModelSerializer::serialize(tree, {.metrics = {{"loss", std::nan("")}}})),
                         doctest::Contains("metric 'loss' is not finite"), InvalidArgument);
    CHECK_THROWS_WITH_AS(static_cast<void>(ModelSerializer::serialize(tree, {.training_data_sha256 = "abc"})),
                         doctest::Contains("training_data_sha256"), InvalidArgument);
    NeuralNetwork<double> empty;
    CHECK_THROWS_WITH_AS(static_cast<void>(ModelSerializer::serialize(empty)), doctest::Contains("no layers"),
                         InvalidArgument);
    CHECK_THROWS_WITH_AS(ModelSerializer::save(tree, temp_path("no/such/dir/x")), doctest::Contains("cannot create"),
                         FormatError);
  }
}
