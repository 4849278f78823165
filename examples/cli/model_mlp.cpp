// mlp: a NeuralNetwork (Dense + ReLU [+ Dropout] ... + Dense, cross-entropy) in the `aimastery` tool.
#include <aimastery/ml/deep_learning/activation.hpp>
#include <aimastery/ml/deep_learning/dense.hpp>
#include <aimastery/ml/deep_learning/dropout.hpp>
#include <aimastery/ml/deep_learning/losses.hpp>
#include <aimastery/ml/deep_learning/neural_network.hpp>
#include <aimastery/ml/deep_learning/optimizers.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "models.hpp"

namespace {

using aimastery::Index;
using aimastery::IndexVector;
using aimastery::Matrix;
using aimastery::Vector;

enum class OptimizerChoice { adam, adamw, sgd, rmsprop };

struct MlpParams {
  std::vector<Index> hidden{100};
  Index epochs = 50;
  double learning_rate = 1e-3;
  Index batch_size = 32;
  OptimizerChoice optimizer = OptimizerChoice::adam;
  double dropout = 0.0;
  std::uint64_t seed = 0;
};

/// Standardises the inputs with the training data's statistics, encodes the labels 0..K−1, and trains
/// an MLP with the given hidden layer sizes.
class MlpClassifier : public cli::Model {
 public:
  explicit MlpClassifier(const MlpParams& params) : params_(params) {
    if (params.hidden.empty()) throw cli::UsageError("parameter hidden of model mlp needs at least one layer size");
    for (Index h : params.hidden)
      if (h < 1)
        throw cli::UsageError("parameter hidden of model mlp: layer sizes must be >= 1, got " + std::to_string(h));
    if (params.epochs < 1) throw cli::UsageError("parameter epochs of model mlp must be >= 1");
    if (params.batch_size < 1) throw cli::UsageError("parameter batch_size of model mlp must be >= 1");
    if (!(params.learning_rate > 0)) throw cli::UsageError("parameter learning_rate of model mlp must be > 0");
    if (!(params.dropout >= 0 && params.dropout < 1))
      throw cli::UsageError("parameter dropout of model mlp must be in [0, 1)");
  }

  void fit(const Matrix<double>& X, const Vector<double>& y) override {
    const IndexVector labels = cli::to_labels(y);
    classes_.assign(labels.data(), labels.data() + labels.size());
    std::sort(classes_.begin(), classes_.end());
    classes_.erase(std::unique(classes_.begin(), classes_.end()), classes_.end());
    IndexVector codes(labels.size());
    for (Index i = 0; i < labels.size(); ++i)
      codes(i) = std::lower_bound(classes_.begin(), classes_.end(), labels(i)) - classes_.begin();

    mean_ = X.colwise().mean();
    scale_ = ((X.rowwise() - mean_).array().square().colwise().mean()).sqrt();
    scale_ = (scale_.array() > 1e-12).select(scale_, 1.0);

    using namespace aimastery;
    net_ = NeuralNetwork<double>();
    Index in = X.cols();
    std::uint64_t seed = params_.seed;
    for (Index h : params_.hidden) {
      net_.add<Dense<double>>(in, h, DenseOptions{.initializer = Initializer::he_uniform, .seed = seed++});
      net_.add<Activation<double>>(ActivationKind::relu);
      if (params_.dropout > 0) net_.add<Dropout<double>>(params_.dropout, seed++);
      in = h;
    }
    net_.add<Dense<double>>(in, std::max<Index>(static_cast<Index>(classes_.size()), 2), DenseOptions{.seed = seed++});
    net_.set_loss<CrossEntropyLoss<double>>();
    const double lr = params_.learning_rate;
    switch (params_.optimizer) {
      case OptimizerChoice::adam:
        net_.set_optimizer<Adam<double>>(AdamOptions<double>{.learning_rate = lr});
        break;
      case OptimizerChoice::adamw:
        net_.set_optimizer<AdamW<double>>(AdamWOptions<double>{.learning_rate = lr, .weight_decay = 0.01});
        break;
      case OptimizerChoice::sgd:
        net_.set_optimizer<SGD<double>>(SGDOptions<double>{.learning_rate = lr, .momentum = 0.9});
        break;
      case OptimizerChoice::rmsprop:
        net_.set_optimizer<RMSprop<double>>(RMSpropOptions<double>{.learning_rate = lr});
        break;
    }
    net_.fit(standardise(X), codes, {.epochs = params_.epochs, .batch_size = params_.batch_size, .seed = seed});
  }

  [[nodiscard]] Vector<double> predict(const Matrix<double>& X) const override {
    const IndexVector codes = net_.predict_classes(standardise(X));
    Vector<double> out(codes.size());
    for (Index i = 0; i < codes.size(); ++i) out(i) = static_cast<double>(classes_[static_cast<std::size_t>(codes(i))]);
    return out;
  }

 private:
  [[nodiscard]] Matrix<double> standardise(const Matrix<double>& X) const {
    return (X.rowwise() - mean_).array().rowwise() / scale_.array();
  }

  MlpParams params_;
  std::vector<Index> classes_;
  aimastery::RowVector<double> mean_, scale_;
  mutable aimastery::NeuralNetwork<double> net_;  // predict runs forward passes (evaluation mode)
};

const cli::Registration mlp("mlp", cli::Task::classification,
                            "multi-layer perceptron (ReLU hidden layers, cross-entropy) on standardised inputs",
                            [](cli::ParamReader& p, std::uint64_t seed) {
                              MlpParams params;
                              params.seed = seed;
                              if (const auto hidden = p.take_raw("hidden")) {
                                std::vector<double> sizes;
                                cli::ParamReader list(p.model(), {{"hidden", *hidden}});
                                list.read("hidden", sizes);
                                params.hidden.clear();
                                for (double s : sizes) {
                                  if (s != std::floor(s) || s < 1)
                                    throw cli::UsageError(
                                        "parameter hidden of model mlp must be layer sizes such as 128,64, got '" +
                                        *hidden + "'");
                                  params.hidden.push_back(static_cast<Index>(s));
                                }
                              }
                              p.read("epochs", params.epochs);
                              p.read("learning_rate", params.learning_rate);
                              p.read("batch_size", params.batch_size);
                              p.read_choice("optimizer", params.optimizer,
                                            {{"adam", OptimizerChoice::adam},
                                             {"adamw", OptimizerChoice::adamw},
                                             {"sgd", OptimizerChoice::sgd},
                                             {"rmsprop", OptimizerChoice::rmsprop}});
                              p.read("dropout", params.dropout);
                              Index explicit_seed = -1;
                              p.read("seed", explicit_seed);
                              if (explicit_seed >= 0) params.seed = static_cast<std::uint64_t>(explicit_seed);
                              p.finish();
                              return cli::factory<MlpClassifier>(params);
                            });

}  // namespace
