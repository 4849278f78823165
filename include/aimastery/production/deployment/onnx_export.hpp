#pragma once
/// \file
/// ONNX export (onnx_writer.hpp) of the models other runtimes should serve: NeuralNetwork (opset 17),
/// the linear models and the tree ensembles (ONNX-ML opset 3). Graphs are float32, the type ONNX
/// runtimes execute everywhere: a double model is exported with its parameters rounded to float.
///
///   export_onnx(net, "mlp.onnx");            // input "X" (N × d), output "Y"
///   export_onnx(forest, "forest.onnx");       // outputs "label" (N, int64) and "probabilities" (N × K)
///
///   NeuralNetwork      Dense → Gemm(X, W, b, transB = 1); Activation → Relu, LeakyRelu(alpha), Sigmoid,
///                      Tanh, Softmax(axis = 1), Identity; BatchNormalization → BatchNormalization
///                      (inference: running statistics, epsilon); Dropout → nothing (identity at inference)
///   LinearRegression   LinearRegressor (coefficients, intercepts): Y = X wᵀ + b, N × 1
///   LogisticRegression LinearClassifier with post_transform SOFTMAX; two classes as the rows [0; w] and
///                      [0; b], so that softmax([0, z]) = [1 − σ(z), σ(z)], our probabilities
///   trees, forests     TreeEnsembleClassifier / Regressor: nodes BRANCH_LEQ (x ≤ threshold goes to the
///                      true branch, our left child), each leaf's class proportions (or value) weighted
///                      1/B for a forest of B trees and summed: the forest's mean
///
/// A layer, activation or model without an ONNX form (GELU, LoRA, an unfitted model): InvalidArgument.

#include <cstdint>
#include <string>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/classical/decision_tree.hpp"
#include "aimastery/ml/classical/linear_regression.hpp"
#include "aimastery/ml/classical/logistic_regression.hpp"
#include "aimastery/ml/classical/random_forest.hpp"
#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/batch_normalization.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/dropout.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"
#include "aimastery/production/deployment/model_file.hpp"
#include "aimastery/production/deployment/onnx_writer.hpp"

namespace aimastery {
namespace detail {

template <class Derived>
std::vector<float> float_values(const Eigen::MatrixBase<Derived>& m) {
  const Matrix<float> rows = m.template cast<float>();
  return {rows.data(), rows.data() + rows.size()};
}

/// The attributes of a TreeEnsembleClassifier (n_classes > 0) or TreeEnsembleRegressor (n_classes = 0)
/// over `trees`, each leaf value weighted by `weight`.
template <Scalar T>
OnnxNode tree_ensemble(const std::vector<const FittedTree<T>*>& trees, const IndexVector* classes, T weight) {
  const bool classifier = classes != nullptr;
  const Index k = classifier ? classes->size() : 1;
  std::vector<std::int64_t> tree_ids, node_ids, feature_ids, true_ids, false_ids, leaf_tree, leaf_node, leaf_target;
  std::vector<float> thresholds, leaf_weights;
  std::vector<std::string> modes;
  for (std::size_t t = 0; t < trees.size(); ++t) {
    const FittedTree<T>& tree = *trees[t];
    for (std::size_t i = 0; i < tree.nodes.size(); ++i) {
      const auto& node = tree.nodes[i];
      const bool leaf = node.feature < 0;
      tree_ids.push_back(static_cast<std::int64_t>(t));
      node_ids.push_back(static_cast<std::int64_t>(i));
      feature_ids.push_back(leaf ? 0 : node.feature);
      modes.emplace_back(leaf ? "LEAF" : "BRANCH_LEQ");
      thresholds.push_back(leaf ? 0.0f : static_cast<float>(node.threshold));
      true_ids.push_back(leaf ? 0 : node.left);
      false_ids.push_back(leaf ? 0 : node.right);
      if (!leaf) continue;
      for (Index c = 0; c < k; ++c) {
        leaf_tree.push_back(static_cast<std::int64_t>(t));
        leaf_node.push_back(static_cast<std::int64_t>(i));
        leaf_target.push_back(c);
        leaf_weights.push_back(static_cast<float>(weight * tree.values[static_cast<std::size_t>(node.left + c)]));
      }
    }
  }
  OnnxNode node(classifier ? "TreeEnsembleClassifier" : "TreeEnsembleRegressor", {"X"},
                classifier ? std::vector<std::string>{"label", "probabilities"} : std::vector<std::string>{"Y"},
                "ai.onnx.ml");
  node.attribute("nodes_treeids", std::span<const std::int64_t>(tree_ids))
      .attribute("nodes_nodeids", std::span<const std::int64_t>(node_ids))
      .attribute("nodes_featureids", std::span<const std::int64_t>(feature_ids))
      .attribute("nodes_modes", modes)
      .attribute("nodes_values", std::span<const float>(thresholds))
      .attribute("nodes_truenodeids", std::span<const std::int64_t>(true_ids))
      .attribute("nodes_falsenodeids", std::span<const std::int64_t>(false_ids))
      .attribute("post_transform", std::string_view("NONE"));
  if (classifier) {
    const std::vector<std::int64_t> labels(classes->data(), classes->data() + classes->size());
    node.attribute("class_treeids", std::span<const std::int64_t>(leaf_tree))
        .attribute("class_nodeids", std::span<const std::int64_t>(leaf_node))
        .attribute("class_ids", std::span<const std::int64_t>(leaf_target))
        .attribute("class_weights", std::span<const float>(leaf_weights))
        .attribute("classlabels_int64s", std::span<const std::int64_t>(labels));
  } else {
    node.attribute("n_targets", std::int64_t{1})
        .attribute("aggregate_function", std::string_view("SUM"))
        .attribute("target_treeids", std::span<const std::int64_t>(leaf_tree))
        .attribute("target_nodeids", std::span<const std::int64_t>(leaf_node))
        .attribute("target_ids", std::span<const std::int64_t>(leaf_target))
        .attribute("target_weights", std::span<const float>(leaf_weights));
  }
  return node;
}

template <Scalar T>
std::string tree_model(const std::vector<const FittedTree<T>*>& trees, const IndexVector* classes, Index n_features,
                       const char* name) {
  OnnxGraph graph(name);
  graph.input("X", OnnxType::float32, {-1, n_features});
  graph.node(tree_ensemble(trees, classes, T(1) / static_cast<T>(trees.size())));
  if (classes) {
    graph.output("label", OnnxType::int64, {-1});
    graph.output("probabilities", OnnxType::float32, {-1, classes->size()});
  } else {
    graph.output("Y", OnnxType::float32, {-1, 1});
  }
  return graph.model(library_version, true);
}

}  // namespace detail

/// The ONNX bytes of a network (layers Dense, Activation, BatchNormalization, Dropout).
template <Scalar T>
std::string to_onnx(const NeuralNetwork<T>& net, Index input_features = 0) {
  constexpr std::string_view where = "to_onnx";
  require(net.size() > 0, where, "the network has no layers");
  if (input_features == 0) input_features = net.input_features();
  require(input_features > 0, where, "the network is not built: pass input_features (or call build/forward first)");
  // Check the shapes through the layers (a mismatch names both layers) before writing anything.
  Index features = input_features;
  for (std::size_t i = 0; i < net.size(); ++i) features = net.layer(i).output_features(features);
  OnnxGraph graph("aimastery.NeuralNetwork");
  graph.input("X", OnnxType::float32, {-1, input_features});
  std::string current = "X";
  for (std::size_t i = 0; i < net.size(); ++i) {
    const Layer<T>& layer = net.layer(i);
    const std::string p = std::to_string(i) + ".";
    const std::string out = i + 1 == net.size() ? "Y" : "h" + std::to_string(i);
    auto& mutable_layer = const_cast<Layer<T>&>(layer);  // parameters() hands out the (unchanged) values
    const auto parameter = [&](const std::string& name) -> const Matrix<T>& {
      for (const auto& q : mutable_layer.parameters())
        if (q.name == name) return q.parameter->value;
      fail(where, "layer " + std::to_string(i) + " has no parameter " + name);
    };
    if (const auto* d = dynamic_cast<const Dense<T>*>(&layer)) {
      const Matrix<T>& W = parameter("weight");
      graph.initializer(p + "weight", {W.rows(), W.cols()}, detail::float_values(W));
      std::vector<std::string> inputs{current, p + "weight"};
      if (d->has_bias()) {
        const Matrix<T>& b = parameter("bias");
        graph.initializer(p + "bias", {b.cols()}, detail::float_values(b));
        inputs.push_back(p + "bias");
      }
      graph.node(OnnxNode("Gemm", inputs, {out}).attribute("transB", std::int64_t{1}));
    } else if (const auto* a = dynamic_cast<const Activation<T>*>(&layer)) {
      switch (a->kind()) {
        case ActivationKind::identity:
          graph.node(OnnxNode("Identity", {current}, {out}));
          break;
        case ActivationKind::relu:
          graph.node(OnnxNode("Relu", {current}, {out}));
          break;
        case ActivationKind::leaky_relu:
          graph.node(
              OnnxNode("LeakyRelu", {current}, {out}).attribute("alpha", static_cast<float>(a->negative_slope())));
          break;
        case ActivationKind::sigmoid:
          graph.node(OnnxNode("Sigmoid", {current}, {out}));
          break;
        case ActivationKind::tanh:
          graph.node(OnnxNode("Tanh", {current}, {out}));
          break;
        case ActivationKind::softmax:
          graph.node(OnnxNode("Softmax", {current}, {out}).attribute("axis", std::int64_t{1}));
          break;
        default:
          fail(where, "layer " + std::to_string(i) + " " + layer.name() + " has no ONNX operator at opset 17");
      }
    } else if (const auto* b = dynamic_cast<const BatchNormalization<T>*>(&layer)) {
      for (const char* name : {"weight", "bias", "running_mean", "running_var"}) {
        const Matrix<T>& v = parameter(name);
        graph.initializer(p + name, {v.cols()}, detail::float_values(v));
      }
      graph.node(OnnxNode("BatchNormalization",
                          {current, p + "weight", p + "bias", p + "running_mean", p + "running_var"}, {out})
                     .attribute("epsilon", static_cast<float>(b->eps())));
    } else if (dynamic_cast<const Dropout<T>*>(&layer)) {
      graph.node(OnnxNode("Identity", {current}, {out}));
    } else {
      fail(where, "layer " + std::to_string(i) + " " + layer.name() + " has no ONNX export");
    }
    current = out;
  }
  graph.output("Y", OnnxType::float32, {-1, features});
  return graph.model(library_version, false);
}

/// LinearRegressor: output "Y" (N × 1).
template <Scalar T>
std::string to_onnx(const LinearRegressionScratch<T>& m) {
  require(m.fitted(), "to_onnx", "the LinearRegressionScratch is not fitted");
  OnnxGraph graph("aimastery.LinearRegressionScratch");
  graph.input("X", OnnxType::float32, {-1, m.n_features()});
  const std::vector<float> coefficients = detail::float_values(m.coefficients());
  const std::vector<float> intercept{static_cast<float>(m.intercept())};
  graph.node(OnnxNode("LinearRegressor", {"X"}, {"Y"}, "ai.onnx.ml")
                 .attribute("coefficients", std::span<const float>(coefficients))
                 .attribute("intercepts", std::span<const float>(intercept))
                 .attribute("targets", std::int64_t{1}));
  graph.output("Y", OnnxType::float32, {-1, 1});
  return graph.model(library_version, true);
}

/// LinearClassifier: outputs "label" (N) and "probabilities" (N × K).
template <Scalar T>
std::string to_onnx(const LogisticRegressionScratch<T>& m) {
  require(m.fitted(), "to_onnx", "the LogisticRegressionScratch is not fitted");
  const IndexVector& classes = m.classes();
  require(classes.size() >= 2, "to_onnx", "a classifier fitted on one class has no ONNX form");
  Matrix<T> W = m.coefficients();
  Vector<T> b = m.intercept();
  if (classes.size() == 2) {  // rows [0; w]: softmax([0, z]) = [1 − σ(z), σ(z)]
    W = Matrix<T>::Zero(2, m.n_features());
    W.row(1) = m.coefficients().row(0);
    b = Vector<T>::Zero(2);
    b(1) = m.intercept()(0);
  }
  const std::vector<float> coefficients = detail::float_values(W), intercepts = detail::float_values(b);
  const std::vector<std::int64_t> labels(classes.data(), classes.data() + classes.size());
  OnnxGraph graph("aimastery.LogisticRegressionScratch");
  graph.input("X", OnnxType::float32, {-1, m.n_features()});
  graph.node(OnnxNode("LinearClassifier", {"X"}, {"label", "probabilities"}, "ai.onnx.ml")
                 .attribute("coefficients", std::span<const float>(coefficients))
                 .attribute("intercepts", std::span<const float>(intercepts))
                 .attribute("classlabels_ints", std::span<const std::int64_t>(labels))
                 .attribute("post_transform", std::string_view("SOFTMAX")));
  graph.output("label", OnnxType::int64, {-1});
  graph.output("probabilities", OnnxType::float32, {-1, classes.size()});
  return graph.model(library_version, true);
}

template <Scalar T>
std::string to_onnx(const DecisionTreeScratch<T>& m) {
  return detail::tree_model<T>({&m.tree()}, &m.classes(), m.feature_importances().size(),
                               "aimastery.DecisionTreeScratch");
}
template <Scalar T>
std::string to_onnx(const DecisionTreeRegressorScratch<T>& m) {
  return detail::tree_model<T>({&m.tree()}, nullptr, m.feature_importances().size(),
                               "aimastery.DecisionTreeRegressorScratch");
}
template <Scalar T>
std::string to_onnx(const RandomForestScratch<T>& m) {
  std::vector<const detail::FittedTree<T>*> trees;
  for (Index t = 0; t < m.n_trees(); ++t) trees.push_back(&m.tree(t));
  return detail::tree_model<T>(trees, &m.classes(), m.feature_importances().size(), "aimastery.RandomForestScratch");
}
template <Scalar T>
std::string to_onnx(const RandomForestRegressorScratch<T>& m) {
  const Index d = m.feature_importances().size();  // throws NotFittedError first when unfitted
  std::vector<const detail::FittedTree<T>*> trees;
  for (Index t = 0; t < m.n_trees(); ++t) trees.push_back(&m.tree(t));
  return detail::tree_model<T>(trees, nullptr, d, "aimastery.RandomForestRegressorScratch");
}

/// Writes to_onnx(model) to `path` atomically. Cannot write: FormatError naming the path.
template <class Model, class... Args>
void export_onnx(const Model& model, const std::string& path, Args... args) {
  const std::string bytes = to_onnx(model, args...);
  detail::write_file_atomically(
      path, std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()),
      "export_onnx");
}

}  // namespace aimastery
