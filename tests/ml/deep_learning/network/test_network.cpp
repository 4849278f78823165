// NeuralNetwork: building, shape errors, PyTorch parity (weights from a PyTorch safetensors file, full
// training steps), fit options, save/load, and bad inputs.

#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/batch_normalization.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/dropout.hpp"
#include "aimastery/ml/deep_learning/losses.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"
#include "aimastery/ml/deep_learning/neural_network_io.hpp"
#include "aimastery/ml/deep_learning/optimizers.hpp"
#include "support.hpp"
#include "temporary_path.hpp"

using namespace aimastery;
using aimastery::test::temporary_path;
namespace test = aimastery::test;

namespace {

template <class T>
NeuralNetwork<T> mlp_4_8_3() {
  NeuralNetwork<T> net;
  net.template add<Dense<T>>(4, 8).template add<Activation<T>>(ActivationKind::relu).template add<Dense<T>>(8, 3);
  net.template set_loss<CrossEntropyLoss<T>>();
  return net;
}

/// Two well separated Gaussian blobs per class in 2-D.
template <class T>
void blobs(Index n, std::mt19937_64& rng, Matrix<T>& X, IndexVector& y) {
  std::normal_distribution<double> noise(0.0, 0.3);
  X.resize(n, 2);
  y.resize(n);
  for (Index i = 0; i < n; ++i) {
    y(i) = i % 3;
    X(i, 0) = static_cast<T>(2.0 * static_cast<double>(y(i)) + noise(rng));
    X(i, 1) = static_cast<T>((y(i) == 1 ? 2.0 : -1.0) + noise(rng));
  }
}

/// The identity, until it has run `forwards_left` forwards: then it throws (a stand-in for any
/// failure in the middle of training).
template <class T>
struct FailAfter : Layer<T> {
  long forwards_left = 1000000;
  std::string name() const override { return "FailAfter"; }
  Matrix<T> forward(const Matrix<T>& X) override {
    if (--forwards_left < 0) throw InvalidArgument("FailAfter: on purpose");
    return X;
  }
  Matrix<T> backward(const Matrix<T>& grad_output) override { return grad_output; }
  Index output_features(Index input_features) const override { return input_features; }
};

}  // namespace

TEST_CASE_TEMPLATE("a PyTorch MLP saved with safetensors.torch loads and gives PyTorch's outputs", T, float, double) {
  const auto ref = test::load_reference("dl_mlp.json");
  auto net = mlp_4_8_3<T>();
  net.load(std::string(AIMASTERY_REFERENCE_DIR) + "/dl_mlp_4_8_3.safetensors");
  const Matrix<T> X = test::json_matrix<T>(ref.at("X"));
  CHECK(test::max_relative_error(net.predict(X), test::json_matrix<double>(ref.at("logits"))) <
        test::parity_tolerance<T>());
  CHECK(test::max_relative_error(net.predict_proba(X), test::json_matrix<double>(ref.at("probabilities"))) <
        test::parity_tolerance<T>());
}

TEST_CASE_TEMPLATE("full training steps (forward, cross-entropy, backward, SGD or Adam) equal PyTorch's", T, float,
                   double) {
  const auto ref = test::load_reference("dl_mlp.json");
  const Matrix<T> X = test::json_matrix<T>(ref.at("X"));
  IndexVector labels(static_cast<Index>(ref.at("labels").size()));
  for (Index i = 0; i < labels.size(); ++i) labels(i) = ref.at("labels")[static_cast<std::size_t>(i)].get<Index>();
  for (const std::string name : {"SGD", "Adam"}) {
    CAPTURE(name);
    const auto& steps = ref.at("training").at(name);
    auto net = mlp_4_8_3<T>();
    net.load(std::string(AIMASTERY_REFERENCE_DIR) + "/dl_mlp_4_8_3.safetensors");
    if (name == "SGD")
      net.template set_optimizer<SGD<T>>(SGDOptions<T>{.learning_rate = T(0.1), .momentum = T(0.9)});
    else
      net.template set_optimizer<Adam<T>>(AdamOptions<T>{.learning_rate = T(0.01)});
    for (std::size_t s = 0; s < steps.at("losses").size(); ++s) {
      CAPTURE(s);
      const T loss = net.train_on_batch(X, labels);
      CHECK(test::close(loss, test::json_number<T>(steps.at("losses")[s]), T(test::parity_tolerance<T>())));
      for (const auto& p : net.parameters()) {
        CAPTURE(p.name);
        CHECK(test::max_relative_error(
                  p.parameter->grad,
                  test::json_matrix<double>(steps.at("gradients")[s].at(p.name).is_array() &&
                                                    steps.at("gradients")[s].at(p.name)[0].is_array()
                                                ? steps.at("gradients")[s].at(p.name)
                                                : nlohmann::json::array({steps.at("gradients")[s].at(p.name)}))) <
              test::parity_tolerance<T>());
        const auto& after = steps.at("parameters")[s].at(p.name);
        CHECK(test::max_relative_error(
                  p.parameter->value,
                  test::json_matrix<double>(after[0].is_array() ? after : nlohmann::json::array({after}))) <
              test::parity_tolerance<T>());
      }
    }
  }
}

TEST_CASE("parameters() names every parameter '<layer>.<name>' and summary() lists shapes and counts") {
  NeuralNetwork<double> net;
  net.add<Dense<double>>(64, 100).add<Activation<double>>("relu").add<Dropout<double>>(0.2).add<Dense<double>>(100, 10);
  const auto& params = net.parameters();
  REQUIRE(params.size() == 4);
  CHECK(params[0].name == "0.weight");
  CHECK(params[1].name == "0.bias");
  CHECK(params[2].name == "3.weight");
  CHECK(params[3].name == "3.bias");
  CHECK(net.parameter_count() == 64 * 100 + 100 + 100 * 10 + 10);
  net.build(64);
  const std::string s = net.summary();
  CAPTURE(s);
  CHECK(s.find("Dense(64 -> 100)") != std::string::npos);
  CHECK(s.find("(n, 100)") != std::string::npos);
  CHECK(s.find("6500") != std::string::npos);
  CHECK(s.find("(n, 10)") != std::string::npos);
  CHECK(s.find("Total parameters: 7510") != std::string::npos);
  CHECK(net.output_features() == 10);
}

TEST_CASE_TEMPLATE("backward_each_layer: backward's gradients, layer i's complete when after_layer(i) runs", T, float,
                   double) {
  NeuralNetwork<T> net;
  net.template add<Dense<T>>(4, 6, DenseOptions{.seed = 1})
      .template add<Activation<T>>(ActivationKind::tanh)
      .template add<Dense<T>>(6, 5, DenseOptions{.seed = 2})
      .template add<Activation<T>>(ActivationKind::relu)
      .template add<Dense<T>>(5, 3, DenseOptions{.seed = 3});
  net.template set_loss<CrossEntropyLoss<T>>();
  std::mt19937 gen(5);
  std::normal_distribution<double> normal;
  Matrix<T> X(7, 4);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = static_cast<T>(normal(gen));
  IndexVector y(7);
  y << 0, 1, 2, 0, 1, 2, 0;
  const auto grads = [&] {
    std::vector<Matrix<T>> g;
    for (const auto& p : net.parameters()) g.push_back(p.parameter->grad);
    return g;
  };
  (void)net.loss().forward(net.forward(X), y);
  net.zero_grad();
  (void)net.backward(net.loss().backward());
  const std::vector<Matrix<T>> expected = grads();

  (void)net.loss().forward(net.forward(X), y);
  net.zero_grad();
  std::vector<std::size_t> order;
  // parameters(): 0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias; the first parameter of layer i or
  // of a later layer:
  const std::size_t first_from[] = {0, 2, 2, 4, 4};
  net.backward_each_layer(net.loss().backward(), [&](std::size_t i) {
    order.push_back(i);
    const std::vector<Matrix<T>> now = grads();
    for (std::size_t k = 0; k < now.size(); ++k) {
      CAPTURE(i);
      CAPTURE(k);
      if (k >= first_from[i])
        CHECK(now[k] == expected[k]);  // this layer's and the later layers' gradients are complete
      else
        CHECK(now[k].isZero(T(0)));  // the earlier layers have not run yet
    }
  });
  CHECK(order == std::vector<std::size_t>{4, 3, 2, 1, 0});
  CHECK(grads() == expected);

  NeuralNetwork<T> one;
  one.template add<Dense<T>>(4, 3, DenseOptions{.seed = 1});
  one.template set_loss<CrossEntropyLoss<T>>();
  (void)one.loss().forward(one.forward(X), y);
  order.clear();
  one.backward_each_layer(one.loss().backward(), [&](std::size_t i) { order.push_back(i); });
  CHECK(order == std::vector<std::size_t>{0});
  CHECK_FALSE(one.parameters()[0].parameter->grad.isZero(T(0)));
}

TEST_CASE("shape mismatches are caught when the network is built, naming both layers and sizes") {
  NeuralNetwork<double> net;
  net.add<Dense<double>>(4, 8).add<Activation<double>>("relu").add<Dense<double>>(16, 3);
  CHECK_THROWS_NAMING(
      net.build(4), InvalidArgument,
      "NeuralNetwork::build: layer 2 Dense(16 -> 3) cannot take layer 1 Activation(relu), which outputs 8 features");
  CHECK_THROWS_NAMING(net.forward(Matrix<double>::Ones(2, 4)), InvalidArgument, "layer 2 Dense(16 -> 3)");
  NeuralNetwork<double> first;
  first.add<Dense<double>>(4, 8);
  CHECK_THROWS_NAMING(first.forward(Matrix<double>::Ones(2, 5)), InvalidArgument,
                      "layer 0 Dense(4 -> 8) cannot take the input (5 features)");
  first.build(4);
  CHECK_THROWS_NAMING(first.predict(Matrix<double>::Ones(2, 3)), InvalidArgument,
                      "X has 3 features, the network was built for 4");
}

TEST_CASE("a loss that turns NaN stops training with an error naming the epoch and the batch") {
  std::mt19937_64 rng(test::test_seed());
  Matrix<double> X;
  IndexVector y;
  blobs(60, rng, X, y);
  NeuralNetwork<double> net;
  net.add<Dense<double>>(2, 16, DenseOptions{.seed = 1})
      .add<Activation<double>>("relu")
      .add<Dense<double>>(16, 3, DenseOptions{.seed = 2});
  net.set_loss<MSELoss<double>>().set_optimizer<SGD<double>>(SGDOptions<double>{.learning_rate = 1e6});
  Matrix<double> targets = Matrix<double>::Zero(60, 3);
  for (Index i = 0; i < 60; ++i) targets(i, y(i)) = 1;
  CHECK_THROWS_NAMING(net.fit(X * 1e3, targets, {.epochs = 50, .batch_size = 10}), InvalidArgument,
                      "NeuralNetwork::fit: the loss became");
  try {
    net.fit(X * 1e3, targets, {.epochs = 50, .batch_size = 10});
  } catch (const InvalidArgument& e) {
    CHECK(std::string(e.what()).find(" at epoch ") != std::string::npos);
    CHECK(std::string(e.what()).find(", batch ") != std::string::npos);
  }
}

TEST_CASE_TEMPLATE("fit: history, validation data or split, seeds, schedules and early stopping", T, float, double) {
  std::mt19937_64 rng(test::test_seed());
  Matrix<T> X, X_val;
  IndexVector y, y_val;
  blobs(150, rng, X, y);
  blobs(60, rng, X_val, y_val);
  const auto make = [] {
    NeuralNetwork<T> net;
    net.template add<Dense<T>>(2, 16, DenseOptions{.initializer = Initializer::he_uniform, .seed = 3})
        .template add<Activation<T>>(ActivationKind::relu)
        .template add<Dense<T>>(16, 3, DenseOptions{.seed = 4});
    net.template set_loss<CrossEntropyLoss<T>>().template set_optimizer<Adam<T>>(
        AdamOptions<T>{.learning_rate = T(0.02)});
    return net;
  };
  Index callbacks = 0;
  auto net = make();
  const auto h = net.fit(X, y, X_val, y_val,
                         {.epochs = 30, .batch_size = 16, .seed = 5, .on_epoch_end = [&](const EpochLog<T>& log) {
                            CHECK(log.epoch == callbacks);
                            CHECK(log.val_loss.has_value());
                            ++callbacks;
                          }});
  CHECK(callbacks == 30);
  CHECK(h.epochs() == 30);
  CHECK(h.val_loss.size() == 30);
  CHECK(h.val_accuracy.size() == 30);
  CHECK(h.accuracy.size() == 30);
  CHECK(h.loss.back() < h.loss.front() / 4);
  CHECK(h.val_accuracy.back() >= T(0.95));
  CHECK(net.evaluate(X_val, y_val).accuracy.value() == h.val_accuracy.back());
  CHECK((net.predict_classes(X_val).array() == y_val.array()).count() >= 57);
  const Matrix<T> proba = net.predict_proba(X_val);
  CHECK((proba.rowwise().sum().array() - T(1)).abs().maxCoeff() < T(1e-5));

  // The same seed gives the same training; another seed another order.
  auto same = make();
  const auto h2 = same.fit(X, y, X_val, y_val, {.epochs = 30, .batch_size = 16, .seed = 5});
  CHECK(h2.loss == h.loss);
  auto other = make();
  CHECK(other.fit(X, y, X_val, y_val, {.epochs = 30, .batch_size = 16, .seed = 6}).loss != h.loss);

  // validation_split holds out the last rows.
  auto split = make();
  const auto hs = split.fit(X, y, {.epochs = 3, .validation_split = 0.2});
  CHECK(hs.val_loss.size() == 3);

  // A schedule sets the learning rate of each epoch; the history records it.
  auto scheduled = make();
  const auto hc = scheduled.fit(
      X, y, {.epochs = 4, .schedule = std::make_shared<ExponentialSchedule<T>>(T(0.5)), .clip_norm = T(1)});
  REQUIRE(hc.learning_rate.size() == 4);
  CHECK(hc.learning_rate[3] == doctest::Approx(0.02 * 0.125));

  // Early stopping on a validation loss that cannot improve (labels are noise): stops, restores the best.
  IndexVector noise(y_val.size());
  for (Index i = 0; i < noise.size(); ++i) noise(i) = static_cast<Index>(rng() % 3);
  auto stopping = make();
  const auto he = stopping.fit(X, y, X_val, noise, {.epochs = 200, .patience = 3});
  CHECK(he.stopped_early);
  CHECK(he.epochs() == he.best_epoch + 4);
  CHECK(stopping.evaluate(X_val, noise).loss == doctest::Approx(he.val_loss[static_cast<std::size_t>(he.best_epoch)]));

  // Without shuffling, regression targets (MSE) and no accuracy.
  NeuralNetwork<T> reg;
  reg.template add<Dense<T>>(2, 1, DenseOptions{.seed = 1});
  reg.template set_loss<MSELoss<T>>().template set_optimizer<SGD<T>>(SGDOptions<T>{.learning_rate = T(0.1)});
  Matrix<T> target = (X.col(0) * T(2) - X.col(1)).eval();
  const auto hr = reg.fit(X, target, {.epochs = 100, .batch_size = 150, .shuffle = false});
  CHECK(hr.accuracy.empty());
  CHECK(hr.loss.back() < T(1e-3));
  CHECK(reg.evaluate(X, target).loss < T(1e-3));
  CHECK(!reg.evaluate(X, target).accuracy.has_value());
}

TEST_CASE_TEMPLATE("save writes PyTorch-shaped tensors with architecture metadata; load restores predictions", T, float,
                   double) {
  std::mt19937_64 rng(test::test_seed());
  auto net = mlp_4_8_3<T>();
  const Matrix<T> X = test::random_matrix<T>(5, 4, rng);
  const Matrix<T> before = net.predict(X);
  const std::string path = temporary_path("network.safetensors");
  net.save(path);
  const auto file = read_safetensors(path);
  CHECK(file.at("0.weight").shape == std::vector<Index>{8, 4});
  CHECK(file.at("0.bias").shape == std::vector<Index>{8});  // a vector, as torch's Linear.bias
  CHECK(file.at("2.weight").shape == std::vector<Index>{3, 8});
  CHECK(file.metadata.at("aimastery.layers") == "Dense(4 -> 8), Activation(relu), Dense(8 -> 3)");
  CHECK(file.metadata.at("format") == "pt");

  NeuralNetwork<T> other;
  other.template add<Dense<T>>(4, 8, DenseOptions{.seed = 99})
      .template add<Activation<T>>(ActivationKind::relu)
      .template add<Dense<T>>(8, 3, DenseOptions{.seed = 98});
  CHECK(other.predict(X) != before);
  other.load(path);
  CHECK(other.predict(X) == before);

  // Files that do not fit the network: nothing changes.
  NeuralNetwork<T> wrong;
  wrong.template add<Dense<T>>(4, 9);
  const Matrix<T> wrong_before = wrong.predict(X);
  CHECK_THROWS_NAMING(wrong.load(path), FormatError, "tensor '0.weight' has shape (8, 4), the network's is 9x4");
  CHECK(wrong.predict(X) == wrong_before);
  NeuralNetwork<T> shorter;
  shorter.template add<Dense<T>>(4, 8);
  CHECK_THROWS_NAMING(shorter.load(path), FormatError, "tensor '2.bias' matches no parameter");
  NeuralNetwork<T> longer;
  longer.template add<Dense<T>>(4, 8)
      .template add<Activation<T>>(ActivationKind::relu)
      .template add<Dense<T>>(8, 3)
      .template add<Dense<T>>(3, 3);
  CHECK_THROWS_NAMING(longer.load(path), FormatError, "no tensor '3.weight'");
  std::filesystem::remove(path);
  CHECK_THROWS_NAMING(other.load(path), FormatError, "cannot open");
  NeuralNetwork<T> empty;
  CHECK_THROWS_NAMING(empty.load(path), InvalidArgument, "NeuralNetwork::load: the network has no layers");
  CHECK_THROWS_NAMING(empty.save(path), InvalidArgument, "NeuralNetwork::save: the network has no layers");
}

TEST_CASE("NeuralNetwork: bad inputs name the problem") {
  NeuralNetwork<double> net;
  const Matrix<double> X = Matrix<double>::Ones(4, 2);
  IndexVector y(4);
  y << 0, 1, 0, 1;
  CHECK_THROWS_NAMING(net.forward(X), InvalidArgument, "NeuralNetwork::forward: the network has no layers");
  CHECK_THROWS_NAMING(net.build(2), InvalidArgument, "NeuralNetwork::build: the network has no layers");
  CHECK_THROWS_NAMING(net.add(nullptr), InvalidArgument, "NeuralNetwork::add: layer is null");
  CHECK_THROWS_NAMING(net.set_loss(nullptr), InvalidArgument, "NeuralNetwork::set_loss: loss is null");
  CHECK_THROWS_NAMING(net.set_optimizer(nullptr), InvalidArgument, "NeuralNetwork::set_optimizer: optimizer is null");
  CHECK_THROWS_NAMING(net.output_features(), InvalidArgument, "not built");
  CHECK_THROWS_NAMING(net.layer(0), InvalidArgument, "NeuralNetwork::layer: index 0 out of range");
  CHECK_THROWS_NAMING(net.loss(), InvalidArgument, "no loss set");
  CHECK_THROWS_NAMING(net.optimizer(), InvalidArgument, "no optimizer set");
  CHECK_THROWS_NAMING(net.backward(X), InvalidArgument, "NeuralNetwork::backward: called before forward");
  CHECK_THROWS_NAMING(net.backward_each_layer(X, [](std::size_t) {}), InvalidArgument,
                      "NeuralNetwork::backward_each_layer: called before forward");
  net.add<Dense<double>>(2, 2);
  CHECK_THROWS_NAMING(net.build(0), InvalidArgument, "input_features must be positive");
  CHECK_THROWS_NAMING(net.fit(X, y), InvalidArgument, "NeuralNetwork::fit: no loss set");
  CHECK_THROWS_NAMING(net.predict_proba(X), InvalidArgument, "NeuralNetwork::predict_proba: no loss set");
  net.set_loss<CrossEntropyLoss<double>>();
  CHECK_THROWS_NAMING(net.fit(X, y), InvalidArgument, "NeuralNetwork::fit: no optimizer set");
  net.set_optimizer<SGD<double>>();
  CHECK_THROWS_NAMING(net.fit(X, IndexVector(3)), InvalidArgument, "X has 4 samples (rows) but labels has 3");
  CHECK_THROWS_NAMING(net.fit(Matrix<double>(0, 2), IndexVector(0)), InvalidArgument, "X is empty");
  Matrix<double> bad = X;
  bad(1, 1) = NAN;
  CHECK_THROWS_NAMING(net.fit(bad, y), InvalidArgument, "X contains NaN or infinity");
  CHECK_THROWS_NAMING(net.fit(X, y, {.epochs = 0}), InvalidArgument, "epochs must be >= 1");
  CHECK_THROWS_NAMING(net.fit(X, y, {.batch_size = 0}), InvalidArgument, "batch_size must be >= 1");
  CHECK_THROWS_NAMING(net.fit(X, y, {.validation_split = 1.0}), InvalidArgument, "validation_split must be in [0, 1)");
  CHECK_THROWS_NAMING(net.fit(X, y, {.patience = -1}), InvalidArgument, "patience must be >= 0");
  CHECK_THROWS_NAMING(net.fit(X, y, {.clip_norm = -1}), InvalidArgument, "clip_norm must be >= 0");
  CHECK_THROWS_NAMING(net.fit(X, y, Matrix<double>::Ones(2, 2), IndexVector(3)), InvalidArgument,
                      "validation X has 2 samples (rows) but validation labels has 3");
  CHECK_THROWS_NAMING(net.fit(X, y, Matrix<double>::Ones(2, 3), IndexVector::Zero(2)), InvalidArgument,
                      "X has 3 features, the network was built for 2");
  IndexVector out_of_range = y;
  out_of_range(2) = 5;
  CHECK_THROWS_NAMING(net.fit(X, out_of_range), InvalidArgument, "label 5");
  CHECK_THROWS_NAMING(net.train_on_batch(X, IndexVector(2)), InvalidArgument,
                      "NeuralNetwork::train_on_batch: X has 4 samples");
  CHECK_THROWS_NAMING(net.evaluate(X, IndexVector(1)), InvalidArgument, "NeuralNetwork::evaluate: X has 4 samples");
  CHECK_THROWS_NAMING(net.evaluate(X, Matrix<double>(Matrix<double>::Ones(3, 2))), InvalidArgument, "targets has 3");
  CHECK_THROWS_NAMING(net.predict(Matrix<double>(0, 2)), InvalidArgument, "NeuralNetwork::forward: X is empty");
  // Every fit above failed, so the network is as it was before them: not built yet.
  CHECK_FALSE(net.built());
  CHECK_THROWS_NAMING(net.predict_classes(Matrix<double>::Ones(1, 5)), InvalidArgument,
                      "Dense(2 -> 2) cannot take the input (5 features)");
  net.build(2);
  CHECK_THROWS_NAMING(net.predict_classes(Matrix<double>::Ones(1, 5)), InvalidArgument, "X has 5 features");
}

TEST_CASE_TEMPLATE("predict and load refuse NaN and infinity instead of returning NaN predictions", T, float, double) {
  std::mt19937_64 rng(test::test_seed());
  auto net = mlp_4_8_3<T>();
  Matrix<T> X = test::random_matrix<T>(3, 4, rng);
  const Matrix<T> before = net.predict(X);
  X(1, 2) = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_NAMING(net.predict(X), InvalidArgument, "NeuralNetwork::forward: X contains NaN or infinity");
  X(1, 2) = std::numeric_limits<T>::infinity();
  CHECK_THROWS_NAMING(net.predict_classes(X), InvalidArgument, "X contains NaN or infinity");
  CHECK(net.training());  // predict's evaluation mode was undone by the throw

  // A file with a NaN weight (written by PyTorch or by hand) is a FormatError naming the tensor, and
  // the network keeps its weights.
  const std::string path = temporary_path("nan_weights.safetensors");
  Safetensors file;
  const Matrix<T> weight = Matrix<T>::Constant(8, 4, T(0.5));
  Matrix<T> bad = weight;
  bad(3, 1) = std::numeric_limits<T>::quiet_NaN();
  const auto dtype = std::is_same_v<T, float> ? SafetensorsDtype::F32 : SafetensorsDtype::F64;
  const Matrix<T> bias = Matrix<T>::Zero(1, 8), w2 = Matrix<T>::Ones(3, 8), b2 = Matrix<T>::Zero(1, 3);
  file.add("0.weight", {8, 4}, bad.data(), dtype);
  file.add("0.bias", {8}, bias.data(), dtype);
  file.add("2.weight", {3, 8}, w2.data(), dtype);
  file.add("2.bias", {3}, b2.data(), dtype);
  write_safetensors(path, file);
  X(1, 2) = T(0);
  const Matrix<T> kept = net.predict(X);
  CHECK_THROWS_NAMING(net.load(path), FormatError, "tensor '0.weight' contains NaN or infinity");
  CHECK(net.predict(X) == kept);
  std::filesystem::remove(path);
}

TEST_CASE("clip_grad_norm with a NaN or infinite norm: an error by default, PyTorch's NaN or 0 on request") {
  Parameter<double> a(Matrix<double>::Zero(1, 3)), b(Matrix<double>::Zero(1, 2));
  const ParameterList<double> list{{"a", &a, true}, {"b", &b, true}};
  a.grad << 3.0, 4.0, 0.0;
  b.grad << std::nan(""), 1.0;
  // Before: std::min(1, NaN) is 1, so the gradients were silently left as they were.
  CHECK_THROWS_NAMING(clip_grad_norm(list, 1.0), InvalidArgument,
                      "clip_grad_norm: the total norm of the gradients is NaN");
  CHECK(a.grad(0, 0) == 3.0);  // unchanged by the throw
  CHECK(std::isnan(clip_grad_norm(list, 1.0, 2.0, false)));
  CHECK(a.grad.array().isNaN().all());  // torch: clip_coef NaN, every gradient NaN
  a.grad << 3.0, 4.0, 0.0;
  b.grad << std::numeric_limits<double>::infinity(), 1.0;
  CHECK_THROWS_NAMING(clip_grad_norm(list, 1.0, std::numeric_limits<double>::infinity()), InvalidArgument,
                      "is infinite");
  CHECK(std::isinf(clip_grad_norm(list, 1.0, 2.0, false)));
  CHECK(a.grad == Matrix<double>::Zero(1, 3));  // torch: clip_coef 0
  CHECK(std::isnan(b.grad(0, 0)));              // inf · 0
}

TEST_CASE_TEMPLATE("a fit that throws leaves parameters, buffers and optimiser as they were", T, float, double) {
  std::mt19937_64 rng(test::test_seed());
  Matrix<T> X;
  IndexVector y;
  blobs<T>(60, rng, X, y);
  NeuralNetwork<T> net;
  net.template add<Dense<T>>(2, 8, DenseOptions{.seed = 1})
      .template add<BatchNormalization<T>>(8)
      .template add<Activation<T>>(ActivationKind::relu)
      .template add<FailAfter<T>>()
      .template add<Dense<T>>(8, 3, DenseOptions{.seed = 2});
  net.template set_loss<CrossEntropyLoss<T>>().template set_optimizer<Adam<T>>(
      AdamOptions<T>{.learning_rate = T(0.01)});
  net.fit(X, y, {.epochs = 2, .batch_size = 16, .seed = 3});
  const auto snapshot = [&] {
    std::vector<Matrix<T>> values;
    for (const auto& p : net.parameters()) values.push_back(p.parameter->value);
    return values;
  };
  const std::vector<Matrix<T>> before = snapshot();
  const Index steps = net.optimizer().steps();
  const T rate = net.optimizer().learning_rate();

  // A layer that fails in the middle of the third epoch (after 2 epochs of 4 batches and one more
  // step): everything the eight completed steps changed is put back.
  auto* failing = static_cast<FailAfter<T>*>(&net.layer(3));
  failing->forwards_left = 9;
  CHECK_THROWS_NAMING(net.fit(X, y, {.epochs = 5, .batch_size = 16}), InvalidArgument, "FailAfter: on purpose");
  CHECK(failing->forwards_left < 0);
  CHECK(snapshot() == before);
  CHECK(net.optimizer().steps() == steps);
  failing->forwards_left = 1000000;
  struct Exploding : LearningRateSchedule<T> {
    T learning_rate(T base, Index epoch) const override {
      return epoch < 2 ? base : std::numeric_limits<T>::quiet_NaN();
    }
    std::string name() const override { return "Exploding"; }
  };
  // A schedule that throws in the third epoch (a NaN learning rate is refused by the optimiser).
  CHECK_THROWS_NAMING(net.fit(X, y, {.epochs = 5, .batch_size = 16, .schedule = std::make_shared<Exploding>()}),
                      InvalidArgument, "learning_rate must be finite");
  const std::vector<Matrix<T>> after = snapshot();
  REQUIRE(after.size() == before.size());
  for (std::size_t k = 0; k < before.size(); ++k) {
    CAPTURE(net.parameters()[k].name);
    CHECK(after[k] == before[k]);  // running_mean and running_var included
  }
  CHECK(net.optimizer().steps() == steps);
  CHECK(net.optimizer().learning_rate() == rate);

  // The same holds for bad options found before training, and for a single step whose loss is NaN.
  CHECK_THROWS_NAMING(net.fit(X, y, {.batch_size = 0}), InvalidArgument, "batch_size must be >= 1");
  CHECK(snapshot() == before);
  // After the failed fits, training continues exactly as from the state before them.
  NeuralNetwork<T> twin;
  twin.template add<Dense<T>>(2, 8, DenseOptions{.seed = 1})
      .template add<BatchNormalization<T>>(8)
      .template add<Activation<T>>(ActivationKind::relu)
      .template add<FailAfter<T>>()
      .template add<Dense<T>>(8, 3, DenseOptions{.seed = 2});
  twin.template set_loss<CrossEntropyLoss<T>>().template set_optimizer<Adam<T>>(
      AdamOptions<T>{.learning_rate = T(0.01)});
  twin.fit(X, y, {.epochs = 2, .batch_size = 16, .seed = 3});
  const History<T> a = net.fit(X, y, {.epochs = 1, .batch_size = 16, .seed = 4});
  const History<T> b = twin.fit(X, y, {.epochs = 1, .batch_size = 16, .seed = 4});
  CHECK(a.loss == b.loss);
}
