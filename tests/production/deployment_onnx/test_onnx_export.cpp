// ONNX export: the protobuf wire format byte for byte on small cases, bad inputs, and the files the
// onnxruntime peer (peer_onnxruntime_check.py) checks: onnx.checker accepts them and onnxruntime's
// outputs equal our predictions to 1e-5.

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "aimastery/ml/classical.hpp"
#include "aimastery/ml/deep_learning.hpp"
#include "aimastery/production/deployment/onnx_export.hpp"
#include "support.hpp"

using namespace aimastery;

namespace {

std::string hex(const std::string& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xf]);
  }
  return out;
}

nlohmann::json rows(const Matrix<float>& m) {
  nlohmann::json out = nlohmann::json::array();
  for (Index i = 0; i < m.rows(); ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (Index j = 0; j < m.cols(); ++j) row.push_back(m(i, j));
    out.push_back(row);
  }
  return out;
}

nlohmann::json values(const auto& v) {
  nlohmann::json out = nlohmann::json::array();
  for (Index i = 0; i < v.size(); ++i) out.push_back(v(i));
  return out;
}

struct Data {
  Matrix<float> X, X_test;
  IndexVector labels;
  Vector<float> targets;
};

Data make_data(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Data d{test::random_matrix<float>(200, 5, rng), test::random_matrix<float>(64, 5, rng), IndexVector(200),
         Vector<float>(200)};
  for (Index i = 0; i < 200; ++i) {
    const float s = d.X(i, 0) - 0.7f * d.X(i, 1) + d.X(i, 2) * d.X(i, 3);
    d.labels(i) = s < -0.3f ? 3 : (s < 0.25f ? 5 : 11);
    d.targets(i) = 2.0f * s + 0.3f * d.X(i, 4);
  }
  return d;
}

}  // namespace

TEST_CASE("the protobuf writer writes the wire format") {
  ProtoWriter w;
  w.varint_field(1, 150);  // the protobuf documentation's example: 08 96 01
  CHECK(hex(w.bytes()) == "089601");
  ProtoWriter n;
  n.int64_field(2, -1);  // two's complement: ten bytes
  CHECK(hex(n.bytes()) == "10ffffffffffffffffff01");
  ProtoWriter s;
  s.bytes_field(2, "testing");  // 12 07 74 65 73 74 69 6e 67
  CHECK(hex(s.bytes()) == "120774657374696e67");
  ProtoWriter f;
  f.float_field(2, 1.0f);  // wire type 5: 15 00 00 80 3f
  CHECK(hex(f.bytes()) == "150000803f");
  ProtoWriter p;
  const std::vector<std::int64_t> packed{3, 270, 86942};  // 22 06 03 8e 02 9e a7 05
  p.packed_int64s(4, packed);
  CHECK(hex(p.bytes()) == "2206038e029ea705");
}

TEST_CASE("bad inputs to the ONNX export") {
  NeuralNetwork<float> empty;
  CHECK_THROWS_WITH_AS(static_cast<void>(to_onnx(empty)), doctest::Contains("no layers"), InvalidArgument);
  NeuralNetwork<float> gelu;
  gelu.add<Dense<float>>(3, 4).add<Activation<float>>(ActivationKind::gelu);
  CHECK_THROWS_WITH_AS(static_cast<void>(to_onnx(gelu)), doctest::Contains("not built"), InvalidArgument);
  CHECK_THROWS_WITH_AS(static_cast<void>(to_onnx(gelu, 3)), doctest::Contains("has no ONNX operator"), InvalidArgument);
  CHECK_THROWS_AS(static_cast<void>(to_onnx(gelu, 5)), InvalidArgument);  // 5 inputs into Dense(3 -> 4)
  CHECK_THROWS_WITH_AS(static_cast<void>(to_onnx(LinearRegressionScratch<float>())), doctest::Contains("not fitted"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(static_cast<void>(to_onnx(LogisticRegressionScratch<float>())), doctest::Contains("not fitted"),
                       InvalidArgument);
  CHECK_THROWS_AS(static_cast<void>(to_onnx(RandomForestScratch<float>())), NotFittedError);
  CHECK_THROWS_AS(static_cast<void>(to_onnx(RandomForestRegressorScratch<float>())), NotFittedError);
  CHECK_THROWS_AS(static_cast<void>(to_onnx(DecisionTreeScratch<float>())), NotFittedError);
  NeuralNetwork<float> ok;
  ok.add<Dense<float>>(3, 2);
  CHECK_THROWS_WITH_AS(export_onnx(ok, "/nonexistent/dir/x.onnx", Index(3)), doctest::Contains("cannot create"),
                       FormatError);
}

TEST_CASE("writes ONNX files for the onnxruntime peer") {
  const char* env = std::getenv("AIMASTERY_ONNX_PEER_DIR");
  const std::filesystem::path dir =
      env ? std::filesystem::path(env)
          : std::filesystem::temp_directory_path() / ("aimastery_onnx_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::uint64_t seed = test::test_seed();
  const Data data = make_data(seed);
  const Matrix<float>& Xt = data.X_test;
  nlohmann::json manifest = nlohmann::json::array();
  const auto add = [&](const std::string& file, const std::string& bytes, nlohmann::json outputs) {
    std::ofstream((dir / file).string(), std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    CHECK(bytes.size() > 20);
    manifest.push_back({{"file", file}, {"X", rows(Xt)}, {"outputs", std::move(outputs)}});
  };

  // Networks: every exported operator, and one ending in a softmax.
  NeuralNetwork<float> mlp;
  mlp.add<Dense<float>>(5, 16, DenseOptions{.seed = seed})
      .add<BatchNormalization<float>>(16)
      .add<Activation<float>>(ActivationKind::relu)
      .add<Dropout<float>>(0.2, seed)
      .add<Dense<float>>(16, 12, DenseOptions{.seed = seed + 1})
      .add<Activation<float>>(ActivationKind::tanh)
      .add<Dense<float>>(12, 8, DenseOptions{.bias = false, .seed = seed + 2})
      .add<Activation<float>>(ActivationKind::leaky_relu, 0.1f)
      .add<Dense<float>>(8, 6, DenseOptions{.seed = seed + 3})
      .add<Activation<float>>(ActivationKind::sigmoid)
      .add<Dense<float>>(6, 3, DenseOptions{.seed = seed + 4})
      .add<Activation<float>>(ActivationKind::softmax);
  mlp.set_loss<MSELoss<float>>().set_optimizer<Adam<float>>();
  Matrix<float> onehot = Matrix<float>::Zero(200, 3);
  for (Index i = 0; i < 200; ++i) onehot(i, data.labels(i) == 3 ? 0 : (data.labels(i) == 5 ? 1 : 2)) = 1;
  mlp.fit(data.X, onehot, {.epochs = 3, .batch_size = 32});  // moves the BatchNormalization running statistics
  add("mlp.onnx", to_onnx(mlp), {{"Y", rows(mlp.predict(Xt))}});
  NeuralNetwork<float> identity;
  identity.add<Dense<float>>(5, 4, DenseOptions{.seed = seed}).add<Activation<float>>(ActivationKind::identity);
  add("dense_identity.onnx", to_onnx(identity, 5), {{"Y", rows(identity.predict(Xt))}});

  LinearRegressionScratch<float> linear({.alpha = 0.1});
  linear.fit(data.X, data.targets);
  add("linear_regression.onnx", to_onnx(linear), {{"Y", rows(linear.predict(Xt))}});

  LogisticRegressionScratch<float> multinomial;
  multinomial.fit(data.X, data.labels);
  add("logistic_multinomial.onnx", to_onnx(multinomial),
      {{"label", values(multinomial.predict(Xt))}, {"probabilities", rows(multinomial.predict_proba(Xt))}});
  IndexVector binary = data.labels.unaryExpr([](Index v) { return v == 11 ? Index(7) : Index(-2); });
  LogisticRegressionScratch<float> two;
  two.fit(data.X, binary);
  add("logistic_binary.onnx", to_onnx(two),
      {{"label", values(two.predict(Xt))}, {"probabilities", rows(two.predict_proba(Xt))}});

  DecisionTreeScratch<float> tree({.max_depth = 6});
  tree.fit(data.X, data.labels);
  add("decision_tree.onnx", to_onnx(tree),
      {{"label", values(tree.predict(Xt))}, {"probabilities", rows(tree.predict_proba(Xt))}});
  DecisionTreeRegressorScratch<float> tree_r({.max_depth = 7, .split_search = SplitSearch::exact});
  tree_r.fit(data.X, data.targets);
  add("decision_tree_regressor.onnx", to_onnx(tree_r), {{"Y", rows(tree_r.predict(Xt))}});
  RandomForestScratch<float> forest({.n_estimators = 25, .seed = seed});
  forest.fit(data.X, data.labels);
  add("random_forest.onnx", to_onnx(forest),
      {{"label", values(forest.predict(Xt))}, {"probabilities", rows(forest.predict_proba(Xt))}});
  RandomForestRegressorScratch<float> forest_r({.n_estimators = 20, .max_depth = 8, .seed = seed});
  forest_r.fit(data.X, data.targets);
  add("random_forest_regressor.onnx", to_onnx(forest_r), {{"Y", rows(forest_r.predict(Xt))}});

  std::ofstream((dir / "expected.json").string()) << nlohmann::json({{"seed", seed}, {"models", manifest}}).dump();
  MESSAGE("wrote " << manifest.size() << " ONNX files and expected.json to " << dir.string());
  CHECK(manifest.size() == 9);
}
