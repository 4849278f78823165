#pragma once
/// \file
/// ServedModel: any model file of ModelSerializer behind one interface, "rows of features in, rows of
/// outputs out", which is all a server needs to know about it.
///
///   ServedModel m = load_served_model("models/forest/versions/3/model.safetensors");
///   Matrix<double> Y = m.predict(X);          // n × m.output_columns(): [label, P(class 1), ..., P(class K)]
///
/// Type erasure: the concrete model (RandomForestScratch<float>, NeuralNetwork<double>, ...) lives in a
/// shared_ptr captured by a std::function, so a server holds models of different kinds and precisions
/// in one map. Inputs and outputs cross that boundary as double (a float model casts its inputs down
/// and its outputs up, as the protocol's FP32 datatype then does).
///
/// The outputs, as the protocol's named tensors, are consecutive column ranges of the matrix:
///   classifiers  "predict" INT64 (the label, classes()[argmax_k P(k | x)]) and "predict_proba" (n × K)
///   regressors   "predict" (n values)
///   networks     "output" (n × outputs: regression values or logits)
/// Networks are not const when predicting (evaluation mode is switched on around the forward pass), so
/// their predictions are serialised by a mutex; the classical models predict concurrently.

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/classical/decision_tree.hpp"
#include "aimastery/ml/classical/gaussian_nb.hpp"
#include "aimastery/ml/classical/knn.hpp"
#include "aimastery/ml/classical/linear_regression.hpp"
#include "aimastery/ml/classical/logistic_regression.hpp"
#include "aimastery/ml/classical/random_forest.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"
#include "aimastery/production/deployment/model_serializer.hpp"

namespace aimastery {

/// One named output tensor: columns [first, first + columns) of the prediction matrix.
struct ServedOutput {
  std::string name;
  std::string datatype;  ///< "INT64", "FP32" or "FP64"
  Index first = 0, columns = 1;
  bool vector = true;  ///< one column returned with shape [n] rather than [n, 1]
};

class ServedModel {
 public:
  using Predict = std::function<Matrix<double>(const Matrix<double>&)>;

  ServedModel(std::string kind, std::string scalar, Index n_features, std::vector<ServedOutput> outputs,
              Predict predict)
      : kind_(std::move(kind)),
        scalar_(std::move(scalar)),
        n_features_(n_features),
        outputs_(std::move(outputs)),
        predict_(std::move(predict)) {}

  [[nodiscard]] const std::string& kind() const noexcept { return kind_; }
  /// "float32" or "float64".
  [[nodiscard]] const std::string& scalar() const noexcept { return scalar_; }
  /// The protocol datatype of the features: FP32 or FP64.
  [[nodiscard]] std::string input_datatype() const { return scalar_ == "float32" ? "FP32" : "FP64"; }
  /// Columns of X the model was fitted on.
  [[nodiscard]] Index n_features() const noexcept { return n_features_; }
  [[nodiscard]] const std::vector<ServedOutput>& outputs() const noexcept { return outputs_; }
  [[nodiscard]] Index output_columns() const noexcept {
    return outputs_.empty() ? 0 : outputs_.back().first + outputs_.back().columns;
  }

  /// n × output_columns() for the n rows of X (n × n_features()). Thread-safe.
  [[nodiscard]] Matrix<double> predict(const Matrix<double>& X) const {
    require(X.cols() == n_features_, "ServedModel::predict", [&] {
      return "X has " + std::to_string(X.cols()) + " features, the " + kind_ + " was fitted on " +
             std::to_string(n_features_);
    });
    return predict_(X);
  }

 private:
  std::string kind_, scalar_;
  Index n_features_;
  std::vector<ServedOutput> outputs_;
  Predict predict_;
};

namespace detail {

template <Scalar T>
constexpr const char* float_datatype() {
  return std::is_same_v<T, float> ? "FP32" : "FP64";
}

/// A classifier: [label, probabilities...], the label the class of the largest probability.
template <class Model>
ServedModel served_classifier(std::string kind, Model model, Index n_features) {
  using T = typename model_scalar<Model>::type;
  auto m = std::make_shared<const Model>(std::move(model));
  const Index K = static_cast<Index>(m->classes().size());
  std::vector<ServedOutput> outputs{{"predict", "INT64", 0, 1, true},
                                    {"predict_proba", float_datatype<T>(), 1, K, false}};
  auto predict = [m, K](const Matrix<double>& X) {
    const Matrix<T> P = m->predict_proba(X.cast<T>());
    Matrix<double> Y(X.rows(), 1 + K);
    const IndexVector& classes = m->classes();
    for (Index i = 0; i < X.rows(); ++i) {
      Index best = 0;
      P.row(i).maxCoeff(&best);
      Y(i, 0) = static_cast<double>(classes(best));
    }
    Y.rightCols(K) = P.template cast<double>();
    return Y;
  };
  return ServedModel(std::move(kind), std::string(scalar_name<T>()), n_features, std::move(outputs), predict);
}

/// A regressor: one value per row.
template <class Model>
ServedModel served_regressor(std::string kind, Model model, Index n_features) {
  using T = typename model_scalar<Model>::type;
  auto m = std::make_shared<const Model>(std::move(model));
  auto predict = [m](const Matrix<double>& X) -> Matrix<double> {
    const Vector<T> y = m->predict(X.cast<T>());
    return y.template cast<double>();
  };
  return ServedModel(std::move(kind), std::string(scalar_name<T>()), n_features,
                     {{"predict", float_datatype<T>(), 0, 1, true}}, predict);
}

/// A network: its output layer, predictions serialised (NeuralNetwork::predict is not const).
template <Scalar T>
ServedModel served_network(NeuralNetwork<T> network) {
  require(network.built(), "load_served_model", "the network file holds an unbuilt network");
  const Index n_features = network.input_features(), outputs = network.output_features();
  struct Guarded {
    NeuralNetwork<T> net;
    std::mutex mutex;
  };
  auto g = std::make_shared<Guarded>();
  g->net = std::move(network);
  auto predict = [g](const Matrix<double>& X) -> Matrix<double> {
    const Matrix<T> input = X.cast<T>();
    std::lock_guard lock(g->mutex);
    return g->net.predict(input).template cast<double>();
  };
  return ServedModel("NeuralNetwork", std::string(scalar_name<T>()), n_features,
                     {{"output", float_datatype<T>(), 0, outputs, false}}, predict);
}

}  // namespace detail

/// The model in a ModelSerializer file, ready to serve. A file that is damaged or of a kind that cannot
/// be served: FormatError naming the file. Served kinds: LinearRegressionScratch, LogisticRegressionScratch,
/// GaussianNBScratch, KNNScratch, KNNRegressorScratch, DecisionTreeScratch, DecisionTreeRegressorScratch,
/// RandomForestScratch, RandomForestRegressorScratch and NeuralNetwork in float64; RandomForestScratch,
/// RandomForestRegressorScratch, LinearRegressionScratch, LogisticRegressionScratch and NeuralNetwork in
/// float32 (the kinds usually kept in single precision; each instantiation costs compile time).
///
/// The files are read with `Serializer` (ModelSerializer). The function is a template so that the loaders
/// and predictions of all these kinds are compiled only in a program that calls it, not in every file that
/// includes this header; ModelHost and InferenceServer pass the parameter on for the same reason.
template <class Serializer = ModelSerializer>
ServedModel load_served_model(const std::filesystem::path& file) {
  const std::string path = file.string();
  const detail::ModelFileContents contents = detail::read_model_file(path, "load_served_model");
  const auto& document = contents.document;
  const std::string kind = document.at("kind").get<std::string>();
  const std::string scalar = document.at("scalar").get<std::string>();
  Index n_features = 0;
  if (document.contains("state") && document.at("state").is_object() && document.at("state").contains("n_features")) {
    const auto& n = document.at("state").at("n_features");
    if (n.is_number_integer()) n_features = n.get<Index>();
  }
  auto load = [&]<class Model>(std::type_identity<Model>) { return Serializer::template load<Model>(path); };
  const bool f64 = scalar == "float64";
  if (f64 && kind == "LinearRegressionScratch")
    return detail::served_regressor(kind, load(std::type_identity<LinearRegressionScratch<double>>{}), n_features);
  if (f64 && kind == "LogisticRegressionScratch")
    return detail::served_classifier(kind, load(std::type_identity<LogisticRegressionScratch<double>>{}), n_features);
  if (f64 && kind == "GaussianNBScratch")
    return detail::served_classifier(kind, load(std::type_identity<GaussianNBScratch<double>>{}), n_features);
  if (f64 && kind == "KNNScratch")
    return detail::served_classifier(kind, load(std::type_identity<KNNScratch<double>>{}), n_features);
  if (f64 && kind == "KNNRegressorScratch")
    return detail::served_regressor(kind, load(std::type_identity<KNNRegressorScratch<double>>{}), n_features);
  if (f64 && kind == "DecisionTreeScratch")
    return detail::served_classifier(kind, load(std::type_identity<DecisionTreeScratch<double>>{}), n_features);
  if (f64 && kind == "DecisionTreeRegressorScratch")
    return detail::served_regressor(kind, load(std::type_identity<DecisionTreeRegressorScratch<double>>{}), n_features);
  if (f64 && kind == "RandomForestScratch")
    return detail::served_classifier(kind, load(std::type_identity<RandomForestScratch<double>>{}), n_features);
  if (f64 && kind == "RandomForestRegressorScratch")
    return detail::served_regressor(kind, load(std::type_identity<RandomForestRegressorScratch<double>>{}), n_features);
  if (f64 && kind == "NeuralNetwork") return detail::served_network(load(std::type_identity<NeuralNetwork<double>>{}));
  if (!f64 && kind == "RandomForestScratch")
    return detail::served_classifier(kind, load(std::type_identity<RandomForestScratch<float>>{}), n_features);
  if (!f64 && kind == "RandomForestRegressorScratch")
    return detail::served_regressor(kind, load(std::type_identity<RandomForestRegressorScratch<float>>{}), n_features);
  if (!f64 && kind == "LinearRegressionScratch")
    return detail::served_regressor(kind, load(std::type_identity<LinearRegressionScratch<float>>{}), n_features);
  if (!f64 && kind == "LogisticRegressionScratch")
    return detail::served_classifier(kind, load(std::type_identity<LogisticRegressionScratch<float>>{}), n_features);
  if (!f64 && kind == "NeuralNetwork") return detail::served_network(load(std::type_identity<NeuralNetwork<float>>{}));
  throw FormatError("load_served_model: " + path + ": a " + kind + " of " + scalar + " cannot be served");
}

}  // namespace aimastery
