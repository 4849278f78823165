#pragma once
/// \file
/// NeuralNetwork: a Sequential stack of layers with a loss and an optimiser, trained by mini-batch
/// gradient descent.
///
///   NeuralNetwork<float> net;
///   net.add<Dense<float>>(64, 100, DenseOptions{.initializer = Initializer::he_uniform, .seed = 1})
///      .add<Activation<float>>(ActivationKind::relu)
///      .add<Dense<float>>(100, 10, DenseOptions{.seed = 2});
///   net.set_loss<CrossEntropyLoss<float>>().set_optimizer<Adam<float>>(AdamOptions<float>{.learning_rate = 1e-3f});
///   History<float> h = net.fit(X, labels, {.epochs = 30, .batch_size = 32, .validation_split = 0.1});
///   IndexVector classes = net.predict_classes(X_test);
///   net.save("digits.safetensors");            // "0.weight", "0.bias", "2.weight", ... as PyTorch names them
///
/// One training step on a batch (X_b, y_b), for layers f₁ … f_L and loss ℓ:
///   forward   A₀ = X_b,  A_l = f_l(A_{l−1}),  L = ℓ(A_L, y_b)
///   backward  G_L = ∂L/∂A_L (the loss's backward),  G_{l−1} = f_lᵀ(G_l), each layer adding its ∂L/∂θ_l
///   update    θ ← optimiser(θ, ∂L/∂θ) over the one parameter list (gradients zeroed before backward)
/// Labels are class codes 0..K−1 (CrossEntropyLoss: K output columns; BinaryCrossEntropyLoss: one column).

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/io/safetensors.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/gradient_clipping.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"
#include "aimastery/ml/deep_learning/losses.hpp"
#include "aimastery/ml/deep_learning/optimizer.hpp"
#include "aimastery/ml/deep_learning/schedules.hpp"

namespace aimastery {

namespace detail {

/// Eigen splits a matrix product over OpenMP threads once it has about 50 000 multiply-adds, but a
/// network's per-batch products are small and many: below `serial_below` multiply-adds per forward pass
/// the fork/join costs more than it saves (on a busy machine, far more). For its scope this sets the
/// calling thread's OpenMP thread count to 1 (an OpenMP setting of that thread only) and restores it.
class SerialSmallProducts {
 public:
  static constexpr double serial_below = 4.0e6;
  explicit SerialSmallProducts([[maybe_unused]] double multiply_adds) {
#if defined(_OPENMP)
    if (multiply_adds < serial_below && omp_get_max_threads() > 1) {
      previous_ = omp_get_max_threads();
      omp_set_num_threads(1);
    }
#endif
  }
  ~SerialSmallProducts() {
#if defined(_OPENMP)
    if (previous_ > 0) omp_set_num_threads(previous_);
#endif
  }
  SerialSmallProducts(const SerialSmallProducts&) = delete;
  SerialSmallProducts& operator=(const SerialSmallProducts&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace detail

/// What NeuralNetwork::fit reports after each epoch (to its `on_epoch_end` callback).
template <Scalar T>
struct EpochLog {
  Index epoch;                ///< 0-based
  T loss;                     ///< mean training loss over the epoch's batches (weighted by batch size)
  std::optional<T> accuracy;  ///< training accuracy (label targets only)
  std::optional<T> val_loss;  ///< with validation data
  std::optional<T> val_accuracy;
  T learning_rate;
};

template <Scalar T>
struct FitOptions {
  Index epochs = 10;
  Index batch_size = 32;
  bool shuffle = true;
  std::uint64_t seed = 0;  ///< the shuffling order (layers keep their own seeds)
  /// Fraction in [0, 1) of the samples held out for validation: the last ⌊n·split⌋ rows, before
  /// shuffling (as Keras does). Ignored when validation data are passed to fit.
  double validation_split = 0.0;
  /// Early stopping: stop after `patience` epochs without the monitored loss (validation loss when
  /// there is validation data, otherwise training loss) improving by more than `min_delta`. 0: never.
  Index patience = 0;
  T min_delta = T(0);
  /// With early stopping: put back the parameters of the best epoch when training ends.
  bool restore_best_weights = true;
  /// A learning-rate schedule applied before each epoch to the optimiser's initial learning rate.
  std::shared_ptr<const LearningRateSchedule<T>> schedule = nullptr;
  /// > 0: gradients clipped to this global 2-norm before each step (clip_grad_norm).
  T clip_norm = T(0);
  /// Called after every epoch (for printing a learning curve: the library itself never prints).
  std::function<void(const EpochLog<T>&)> on_epoch_end = nullptr;
};

/// Per-epoch values of a fit; the accuracy vectors are filled for label targets, the validation
/// vectors with validation data.
template <Scalar T>
struct History {
  std::vector<T> loss, accuracy, val_loss, val_accuracy, learning_rate;
  Index best_epoch = -1;  ///< the epoch of the lowest monitored loss
  bool stopped_early = false;
  [[nodiscard]] Index epochs() const noexcept { return static_cast<Index>(loss.size()); }
};

/// Loss and (for label targets) accuracy of a network on a data set.
template <Scalar T>
struct Evaluation {
  T loss;
  std::optional<T> accuracy;
};

template <Scalar T>
class NeuralNetwork {
 public:
  NeuralNetwork() = default;
  NeuralNetwork(NeuralNetwork&&) noexcept = default;
  NeuralNetwork& operator=(NeuralNetwork&&) noexcept = default;

  // ---------------------------------------------------------------------------------- building
  /// Appends a layer. Its shape is checked against the previous layer's when the network is built.
  NeuralNetwork& add(std::unique_ptr<Layer<T>> layer) {
    require(layer != nullptr, "NeuralNetwork::add", "layer is null");
    layers_.push_back(std::move(layer));
    input_features_ = -1;
    refresh_parameters();
    return *this;
  }
  /// Constructs a layer in place: net.add<Dense<float>>(64, 100).
  template <class L, class... Args>
  NeuralNetwork& add(Args&&... args) {
    return add(std::make_unique<L>(std::forward<Args>(args)...));
  }

  NeuralNetwork& set_loss(std::unique_ptr<Loss<T>> loss) {
    require(loss != nullptr, "NeuralNetwork::set_loss", "loss is null");
    loss_ = std::move(loss);
    return *this;
  }
  template <class L, class... Args>
  NeuralNetwork& set_loss(Args&&... args) {
    return set_loss(std::make_unique<L>(std::forward<Args>(args)...));
  }
  NeuralNetwork& set_optimizer(std::unique_ptr<Optimizer<T>> optimizer) {
    require(optimizer != nullptr, "NeuralNetwork::set_optimizer", "optimizer is null");
    optimizer_ = std::move(optimizer);
    return *this;
  }
  template <class O, class... Args>
  NeuralNetwork& set_optimizer(Args&&... args) {
    return set_optimizer(std::make_unique<O>(std::forward<Args>(args)...));
  }

  /// Checks that every layer takes its predecessor's output for inputs of `input_features` columns;
  /// a mismatch names both layers and both sizes. Called by the first forward when not called before.
  NeuralNetwork& build(Index input_features) {
    require(!layers_.empty(), "NeuralNetwork::build", "the network has no layers (call add first)");
    require(input_features > 0, "NeuralNetwork::build",
            "input_features must be positive, got " + std::to_string(input_features));
    output_features_.clear();
    Index features = input_features;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      try {
        features = layers_[i]->output_features(features);
      } catch (const InvalidArgument& e) {
        const std::string from = i == 0 ? "the input (" + std::to_string(input_features) + " features)"
                                        : "layer " + std::to_string(i - 1) + " " + layers_[i - 1]->name() +
                                              ", which outputs " + std::to_string(features) + " features";
        throw InvalidArgument("NeuralNetwork::build: layer " + std::to_string(i) + " " + layers_[i]->name() +
                              " cannot take " + from + " (" + e.what() + ")");
      }
      output_features_.push_back(features);
    }
    input_features_ = input_features;
    return *this;
  }

  [[nodiscard]] bool built() const noexcept { return input_features_ > 0; }
  [[nodiscard]] Index input_features() const noexcept { return input_features_; }
  [[nodiscard]] Index output_features() const {
    require(built(), "NeuralNetwork::output_features", "the network is not built (call build or forward)");
    return output_features_.back();
  }
  [[nodiscard]] std::size_t size() const noexcept { return layers_.size(); }
  [[nodiscard]] Layer<T>& layer(std::size_t i) {
    require(i < layers_.size(), "NeuralNetwork::layer",
            "index " + std::to_string(i) + " out of range for " + std::to_string(layers_.size()) + " layers");
    return *layers_[i];
  }
  [[nodiscard]] bool has_loss() const noexcept { return loss_ != nullptr; }
  [[nodiscard]] Loss<T>& loss() {
    require(loss_ != nullptr, "NeuralNetwork::loss", "no loss set (call set_loss)");
    return *loss_;
  }
  [[nodiscard]] Optimizer<T>& optimizer() {
    require(optimizer_ != nullptr, "NeuralNetwork::optimizer", "no optimizer set (call set_optimizer)");
    return *optimizer_;
  }

  /// Every parameter and buffer of every layer, named "<layer index>.<local name>" ("0.weight").
  [[nodiscard]] const ParameterList<T>& parameters() const noexcept { return parameters_; }
  /// The number of scalar parameters (trainable only, or with the buffers).
  [[nodiscard]] Index parameter_count(bool trainable_only = true) const {
    Index n = 0;
    for (const auto& p : parameters_)
      if (p.trainable || !trainable_only) n += p.parameter->value.size();
    return n;
  }
  void zero_grad() {
    for (const auto& p : parameters_) p.parameter->zero_grad();
  }

  /// Training mode (dropout active, batch statistics) or evaluation mode, for every layer.
  void train(bool on = true) {
    training_ = on;
    for (auto& l : layers_) l->train(on);
  }
  void eval() { train(false); }
  [[nodiscard]] bool training() const noexcept { return training_; }

  /// A table of the layers with their output shapes and parameter counts.
  [[nodiscard]] std::string summary() const {
    std::ostringstream out;
    const auto pad = [](std::string s, std::size_t width) {
      if (s.size() < width) s.append(width - s.size(), ' ');
      return s;
    };
    out << pad("#", 4) << pad("Layer", 34) << pad("Output shape", 16) << "Parameters\n";
    Index total = 0, trainable = 0;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      Index count = 0;
      for (const auto& p : layers_[i]->parameters()) {
        count += p.parameter->value.size();
        if (p.trainable) trainable += p.parameter->value.size();
      }
      total += count;
      const std::string shape = built() ? "(n, " + std::to_string(output_features_[i]) + ")" : "(n, ?)";
      out << pad(std::to_string(i), 4) << pad(layers_[i]->name(), 34) << pad(shape, 16) << count << '\n';
    }
    out << "Total parameters: " << total << " (trainable " << trainable << ", buffers " << total - trainable << ")";
    if (built()) out << "; input (n, " << input_features_ << ")";
    out << '\n';
    return out.str();
  }

  // ---------------------------------------------------------------------------------- computing
  /// The network's output for X in the current mode (building the network on first use).
  Matrix<T> forward(const Matrix<T>& X) {
    check_input("NeuralNetwork::forward", X);
    Matrix<T> activation = layers_.front()->forward(X);
    for (std::size_t i = 1; i < layers_.size(); ++i) activation = layers_[i]->forward(activation);
    return activation;
  }
  /// Backpropagates ∂L/∂output through every layer (accumulating parameter gradients); returns ∂L/∂X.
  Matrix<T> backward(const Matrix<T>& grad_output) {
    require(built(), "NeuralNetwork::backward", "called before forward");
    Matrix<T> grad = layers_.back()->backward(grad_output);
    for (std::size_t i = layers_.size() - 1; i-- > 0;) grad = layers_[i]->backward(grad);
    return grad;
  }

  /// One optimisation step on one batch: forward, loss, zeroed gradients, backward, (clip), step.
  /// Returns the batch loss (before the step).
  /// A loss that is NaN or infinite throws InvalidArgument before any parameter changes.
  T train_on_batch(const Matrix<T>& X, const IndexVector& labels) {
    check_data("NeuralNetwork::train_on_batch", X, labels, "");
    return train_step(X, labels, "train_on_batch");
  }
  T train_on_batch(const Matrix<T>& X, const Matrix<T>& targets) {
    check_data("NeuralNetwork::train_on_batch", X, targets, "");
    return train_step(X, targets, "train_on_batch");
  }

  /// Trains on (X, labels) or (X, targets), holding out options.validation_split for validation.
  History<T> fit(const Matrix<T>& X, const IndexVector& labels, const FitOptions<T>& options = {}) {
    return fit_split(X, labels, options);
  }
  History<T> fit(const Matrix<T>& X, const Matrix<T>& targets, const FitOptions<T>& options = {}) {
    return fit_split(X, targets, options);
  }
  /// Trains on (X, labels) validating on (X_val, labels_val) after each epoch.
  History<T> fit(const Matrix<T>& X, const IndexVector& labels, const Matrix<T>& X_val, const IndexVector& labels_val,
                 const FitOptions<T>& options = {}) {
    check_data("NeuralNetwork::fit", X_val, labels_val, "validation ");
    return fit_loop(X, labels, &X_val, &labels_val, options);
  }
  History<T> fit(const Matrix<T>& X, const Matrix<T>& targets, const Matrix<T>& X_val, const Matrix<T>& targets_val,
                 const FitOptions<T>& options = {}) {
    check_data("NeuralNetwork::fit", X_val, targets_val, "validation ");
    return fit_loop(X, targets, &X_val, &targets_val, options);
  }

  /// The network's output in evaluation mode (regression values, or logits for classification losses).
  [[nodiscard]] Matrix<T> predict(const Matrix<T>& X) {
    const ModeGuard guard(*this);
    const detail::SerialSmallProducts serial_if_small(static_cast<double>(X.rows()) *
                                                      static_cast<double>(parameter_count()));
    return forward(X);
  }
  /// The output as probabilities: softmax (CrossEntropyLoss) or sigmoid (BinaryCrossEntropyLoss from logits).
  [[nodiscard]] Matrix<T> predict_proba(const Matrix<T>& X) {
    require(loss_ != nullptr, "NeuralNetwork::predict_proba", "no loss set (it decides what a probability is)");
    return loss_->probabilities(predict(X));
  }
  /// Class codes: the arg-max column, or for a single output column, probability ≥ 1/2.
  [[nodiscard]] IndexVector predict_classes(const Matrix<T>& X) { return classes_of(predict(X)); }

  /// Loss (the loss's reduction) and accuracy on (X, labels), in evaluation mode.
  [[nodiscard]] Evaluation<T> evaluate(const Matrix<T>& X, const IndexVector& labels) {
    check_data("NeuralNetwork::evaluate", X, labels, "");
    const Matrix<T> output = predict(X);
    return {loss().forward(output, labels), accuracy_of(output, labels)};
  }
  [[nodiscard]] Evaluation<T> evaluate(const Matrix<T>& X, const Matrix<T>& targets) {
    check_data("NeuralNetwork::evaluate", X, targets, "");
    const Matrix<T> output = predict(X);
    return {loss().forward(output, targets), std::nullopt};
  }

  // ---------------------------------------------------------------------------------- files
  /// Writes every parameter and buffer to a safetensors file under its dotted name, in PyTorch's
  /// shapes (a Dense weight out × in, vectors such as biases one-dimensional), so that
  /// torch.nn.Module.load_state_dict(safetensors.torch.load_file(path)) loads it into the same
  /// architecture. The metadata records the layers ("aimastery.layers").
  void save(const std::string& path) const {
    require(!layers_.empty(), "NeuralNetwork::save", "the network has no layers");
    Safetensors file;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const bool dense = dynamic_cast<const Dense<T>*>(layers_[i].get()) != nullptr;
      for (const auto& p : layers_[i]->parameters()) {
        const Matrix<T>& v = p.parameter->value;
        const bool vector = v.rows() == 1 && !(dense && p.name == "weight");
        file.add(std::to_string(i) + "." + p.name,
                 vector ? std::vector<Index>{v.cols()} : std::vector<Index>{v.rows(), v.cols()}, v.data(),
                 std::is_same_v<T, float> ? SafetensorsDtype::F32 : SafetensorsDtype::F64);
      }
    }
    file.metadata["format"] = "pt";
    file.metadata["aimastery.layers"] = layer_names();
    write_safetensors(path, file);
  }

  /// Reads the parameters and buffers of this (already assembled) network from a safetensors file,
  /// such as one written by save() or by safetensors.torch.save_file(model.state_dict()). Any floating
  /// dtype converts; a vector of n values fills a 1 × n parameter. A missing name, a shape that differs
  /// or a tensor the network does not have (PyTorch's "num_batches_tracked" excepted) is a FormatError,
  /// and then no parameter has changed.
  void load(const std::string& path) {
    require(!layers_.empty(), "NeuralNetwork::load", "the network has no layers (add them first, then load)");
    const Safetensors file = read_safetensors(path);
    const std::string where = "NeuralNetwork::load: " + path;
    std::vector<Matrix<T>> values;
    std::set<std::string> used;
    for (const auto& p : parameters_) {
      if (!file.contains(p.name))
        throw FormatError(where + ": no tensor '" + p.name + "' (the network's layers: " + layer_names() + ")");
      const SafetensorsTensor& t = file.at(p.name);
      const Matrix<T>& current = p.parameter->value;
      const bool same = (t.shape.size() == 2 && t.shape[0] == current.rows() && t.shape[1] == current.cols()) ||
                        (t.shape.size() == 1 && current.rows() == 1 && t.shape[0] == current.cols()) ||
                        (t.shape.empty() && current.size() == 1);
      if (!same) {
        std::string shape = "(";
        for (std::size_t k = 0; k < t.shape.size(); ++k) shape += (k ? ", " : "") + std::to_string(t.shape[k]);
        throw FormatError(where + ": tensor '" + p.name + "' has shape " + shape + "), the network's is " +
                          shape_of(current));
      }
      if (t.dtype != SafetensorsDtype::F64 && t.dtype != SafetensorsDtype::F32 && t.dtype != SafetensorsDtype::F16 &&
          t.dtype != SafetensorsDtype::BF16)
        throw FormatError(where + ": tensor '" + p.name + "' has dtype " + std::string(to_string(t.dtype)) +
                          ", a parameter needs a floating dtype");
      const std::vector<T> flat = t.values<T>();
      values.emplace_back(Eigen::Map<const Matrix<T>>(flat.data(), current.rows(), current.cols()));
      used.insert(p.name);
    }
    for (const auto& [name, _] : file.tensors)
      if (!used.count(name) && !name.ends_with("num_batches_tracked"))
        throw FormatError(where + ": tensor '" + name + "' matches no parameter of the network (" + layer_names() +
                          ")");
    for (std::size_t k = 0; k < parameters_.size(); ++k) parameters_[k].parameter->value = values[k];
  }

 private:
  // Switches to evaluation mode for a scope, then back.
  struct ModeGuard {
    NeuralNetwork& net;
    bool was_training;
    explicit ModeGuard(NeuralNetwork& n) : net(n), was_training(n.training_) {
      if (was_training) net.train(false);
    }
    ~ModeGuard() {
      if (was_training) net.train(true);
    }
    ModeGuard(const ModeGuard&) = delete;
    ModeGuard& operator=(const ModeGuard&) = delete;
  };

  void refresh_parameters() {
    parameters_.clear();
    for (std::size_t i = 0; i < layers_.size(); ++i)
      for (auto& p : layers_[i]->parameters())
        parameters_.push_back({std::to_string(i) + "." + p.name, p.parameter, p.trainable});
  }

  [[nodiscard]] std::string layer_names() const {
    std::string s;
    for (std::size_t i = 0; i < layers_.size(); ++i) s += (i ? ", " : "") + layers_[i]->name();
    return s;
  }

  void check_input(const std::string& where, const Matrix<T>& X) {
    require(!layers_.empty(), where, "the network has no layers (call add first)");
    require(X.rows() > 0 && X.cols() > 0, where, "X is empty (" + shape_of(X) + ")");
    if (!built()) build(X.cols());
    require(X.cols() == input_features_, where,
            "X has " + std::to_string(X.cols()) + " features, the network was built for " +
                std::to_string(input_features_) + " (layer 0 " + layers_.front()->name() + ")");
  }

  void check_data(const std::string& where, const Matrix<T>& X, const IndexVector& labels, const std::string& what) {
    require(X.rows() > 0, where, what + "X is empty (" + shape_of(X) + ")");
    require(labels.size() == X.rows(), where,
            what + "X has " + std::to_string(X.rows()) + " samples (rows) but " + what + "labels has " +
                std::to_string(labels.size()));
    check_finite(where, what + "X", X);
  }
  void check_data(const std::string& where, const Matrix<T>& X, const Matrix<T>& targets, const std::string& what) {
    require(X.rows() > 0, where, what + "X is empty (" + shape_of(X) + ")");
    require(targets.rows() == X.rows(), where,
            what + "X has " + std::to_string(X.rows()) + " samples (rows) but " + what + "targets has " +
                std::to_string(targets.rows()) + " (" + shape_of(targets) + ")");
    check_finite(where, what + "X", X);
    check_finite(where, what + "targets", targets);
  }

  void require_ready(const std::string& where) const {
    require(!layers_.empty(), where, "the network has no layers (call add first)");
    require(loss_ != nullptr, where, "no loss set (call set_loss)");
    require(optimizer_ != nullptr, where, "no optimizer set (call set_optimizer)");
  }

  /// Class codes of an output: arg-max per row, or p ≥ 1/2 for a single column of probabilities.
  [[nodiscard]] IndexVector classes_of(const Matrix<T>& output) const {
    IndexVector out(output.rows());
    if (output.cols() == 1) {
      const Matrix<T> p = loss_ ? loss_->probabilities(output) : output;
      for (Index i = 0; i < p.rows(); ++i) out(i) = p(i, 0) >= T(0.5) ? 1 : 0;
    } else {
      for (Index i = 0; i < output.rows(); ++i) output.row(i).maxCoeff(&out(i));
    }
    return out;
  }
  [[nodiscard]] Index correct_count(const Matrix<T>& output, const IndexVector& labels) const {
    return (classes_of(output).array() == labels.array()).count();
  }
  [[nodiscard]] std::optional<T> accuracy_of(const Matrix<T>& output, const IndexVector& labels) const {
    return static_cast<T>(correct_count(output, labels)) / static_cast<T>(labels.size());
  }
  [[nodiscard]] std::optional<T> accuracy_of(const Matrix<T>&, const Matrix<T>&) const { return std::nullopt; }

  template <class Target>
  T train_step(const Matrix<T>& X, const Target& y, const char* method, Matrix<T>* output_out = nullptr,
               T clip_norm = T(0), Index epoch = -1, Index batch = -1) {
    const std::string where = std::string("NeuralNetwork::") + method;
    require_ready(where);
    if (!training_) train(true);
    Matrix<T> output = forward(X);
    const T value = loss_->forward(output, y);
    if (!std::isfinite(value))
      throw InvalidArgument(
          where + ": the loss became " + (std::isnan(value) ? "NaN" : "infinite") +
          (epoch >= 0 ? " at epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch) : "") +
          " (learning rate " + std::to_string(optimizer_->learning_rate()) +
          "; a smaller learning rate, gradient clipping or standardised inputs may help)");
    zero_grad();
    backward(loss_->backward());
    if (clip_norm > T(0)) clip_grad_norm(parameters_, clip_norm);
    optimizer_->step(parameters_);
    if (output_out) *output_out = std::move(output);
    return value;
  }

  template <class Target>
  History<T> fit_split(const Matrix<T>& X, const Target& y, const FitOptions<T>& options) {
    const std::string where = "NeuralNetwork::fit";
    check_data(where, X, y, "");
    require(options.validation_split >= 0.0 && options.validation_split < 1.0, where,
            "validation_split must be in [0, 1), got " + std::to_string(options.validation_split));
    const Index held_out = static_cast<Index>(std::floor(options.validation_split * static_cast<double>(X.rows())));
    if (held_out == 0)
      return fit_loop(X, y, static_cast<const Matrix<T>*>(nullptr), static_cast<const Target*>(nullptr), options);
    const Index kept = X.rows() - held_out;
    require(kept > 0, where,
            "validation_split " + std::to_string(options.validation_split) + " leaves no training sample");
    const Matrix<T> X_train = X.topRows(kept), X_val = X.bottomRows(held_out);
    const Target y_train = y.topRows(kept), y_val = y.bottomRows(held_out);
    return fit_loop(X_train, y_train, &X_val, &y_val, options);
  }

  template <class Target>
  History<T> fit_loop(const Matrix<T>& X, const Target& y, const Matrix<T>* X_val, const Target* y_val,
                      const FitOptions<T>& options) {
    const std::string where = "NeuralNetwork::fit";
    require_ready(where);
    check_data(where, X, y, "");
    require(options.epochs >= 1, where, "epochs must be >= 1, got " + std::to_string(options.epochs));
    require(options.batch_size >= 1, where, "batch_size must be >= 1, got " + std::to_string(options.batch_size));
    require(options.patience >= 0, where, "patience must be >= 0, got " + std::to_string(options.patience));
    require(options.clip_norm >= T(0), where, "clip_norm must be >= 0, got " + std::to_string(options.clip_norm));
    check_input(where, X);
    if (X_val) check_input(where, *X_val);
    constexpr bool with_labels = std::is_same_v<Target, IndexVector>;

    const Index n = X.rows();
    const Index batch = std::min(options.batch_size, n);
    const detail::SerialSmallProducts serial_if_small(static_cast<double>(batch) *
                                                      static_cast<double>(parameter_count()));
    std::vector<Index> order(static_cast<std::size_t>(n));
    for (Index i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    std::mt19937_64 rng(options.seed);
    const T base_learning_rate = optimizer_->learning_rate();

    History<T> history;
    T best = std::numeric_limits<T>::infinity();
    Index since_best = 0;
    std::vector<Matrix<T>> best_values;
    Matrix<T> X_batch, output;
    Target y_batch;

    train(true);
    for (Index epoch = 0; epoch < options.epochs; ++epoch) {
      if (options.schedule) options.schedule->apply(*optimizer_, base_learning_rate, epoch);
      if (options.shuffle) shuffle(order, rng);
      T loss_sum = T(0);
      Index correct = 0;
      for (Index start = 0, b = 0; start < n; start += batch, ++b) {
        const Index rows = std::min(batch, n - start);
        const bool contiguous = !options.shuffle;
        if (contiguous) {
          X_batch = X.middleRows(start, rows);
          y_batch = y.middleRows(start, rows);
        } else {
          gather(X, y, order, start, rows, X_batch, y_batch);
        }
        const T value = train_step(X_batch, y_batch, "fit", &output, options.clip_norm, epoch, b);
        loss_sum += value * static_cast<T>(rows);
        if constexpr (with_labels) correct += correct_count(output, y_batch);
      }
      EpochLog<T> log{epoch,        loss_sum / static_cast<T>(n), std::nullopt, std::nullopt,
                      std::nullopt, optimizer_->learning_rate()};
      history.loss.push_back(log.loss);
      history.learning_rate.push_back(log.learning_rate);
      if constexpr (with_labels) {
        log.accuracy = static_cast<T>(correct) / static_cast<T>(n);
        history.accuracy.push_back(*log.accuracy);
      }
      if (X_val) {
        const Evaluation<T> e = evaluate(*X_val, *y_val);
        log.val_loss = e.loss;
        history.val_loss.push_back(e.loss);
        if (e.accuracy) {
          log.val_accuracy = e.accuracy;
          history.val_accuracy.push_back(*e.accuracy);
        }
      }
      if (options.on_epoch_end) options.on_epoch_end(log);

      const T monitored = log.val_loss ? *log.val_loss : log.loss;
      if (monitored < best - options.min_delta) {
        best = monitored;
        history.best_epoch = epoch;
        since_best = 0;
        if (options.patience > 0 && options.restore_best_weights) {
          best_values.clear();
          for (const auto& p : parameters_) best_values.push_back(p.parameter->value);
        }
      } else if (options.patience > 0 && ++since_best >= options.patience) {
        history.stopped_early = true;
        break;
      }
    }
    if (history.stopped_early && options.restore_best_weights && !best_values.empty())
      for (std::size_t k = 0; k < parameters_.size(); ++k) parameters_[k].parameter->value = best_values[k];
    return history;
  }

  /// Fisher–Yates with the library's own draw, so a seed gives the same order with every standard library.
  static void shuffle(std::vector<Index>& order, std::mt19937_64& rng) {
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[static_cast<std::size_t>(rng() % i)]);
  }

  template <class Target>
  static void gather(const Matrix<T>& X, const Target& y, const std::vector<Index>& order, Index start, Index rows,
                     Matrix<T>& X_batch, Target& y_batch) {
    X_batch.resize(rows, X.cols());
    y_batch.resize(rows, y.cols());
    for (Index r = 0; r < rows; ++r) {
      const Index source = order[static_cast<std::size_t>(start + r)];
      X_batch.row(r) = X.row(source);
      y_batch.row(r) = y.row(source);
    }
  }

  std::vector<std::unique_ptr<Layer<T>>> layers_;
  std::unique_ptr<Loss<T>> loss_;
  std::unique_ptr<Optimizer<T>> optimizer_;
  ParameterList<T> parameters_;
  Index input_features_ = -1;
  std::vector<Index> output_features_;
  bool training_ = true;
};

}  // namespace aimastery
