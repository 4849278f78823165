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
/// This header is the container and its training loop. Saving and loading (safetensors, and with it
/// the JSON parser) live beside it in neural_network_io.hpp, which <aimastery/ml/deep_learning.hpp>
/// includes: net.save and net.load need that header.
///
/// One training step on a batch (X_b, y_b), for layers f₁ … f_L and loss ℓ:
///   forward   A₀ = X_b,  A_l = f_l(A_{l−1}),  L = ℓ(A_L, y_b)
///   backward  G_L = ∂L/∂A_L (the loss's backward),  G_{l−1} = f_lᵀ(G_l), each layer adding its ∂L/∂θ_l
///   update    θ ← optimiser(θ, ∂L/∂θ) over the one parameter list (gradients zeroed before backward)
/// Labels are class codes 0..K−1 (CrossEntropyLoss: K output columns; BinaryCrossEntropyLoss: one column).

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/detail/layer_checks.hpp"
#include "aimastery/ml/deep_learning/gradient_clipping.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"
#include "aimastery/ml/deep_learning/losses.hpp"
#include "aimastery/ml/deep_learning/optimizer.hpp"
#include "aimastery/ml/deep_learning/schedules.hpp"
#include "aimastery/ml/deep_learning/training.hpp"

namespace aimastery {

namespace detail {
/// Saving and loading as safetensors, defined in ml/deep_learning/neural_network_io.hpp.
template <Scalar T>
struct NetworkSafetensors;
}  // namespace detail

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
    ParameterList<T> parameters = parameters_;
    append_parameters(parameters, layers_.size(), *layer);
    layers_.reserve(layers_.size() + 1);
    // Nothing below throws: the network changes only once everything is built.
    layers_.push_back(std::move(layer));
    parameters_.swap(parameters);
    input_features_ = -1;
    return *this;
  }
  /// Puts `layer` in place of layer i and returns the old one (how LoRA wraps a Dense). The network is
  /// built again at the next forward. A throw (null layer, index out of range) changes nothing.
  std::unique_ptr<Layer<T>> replace(std::size_t i, std::unique_ptr<Layer<T>> layer) {
    require(layer != nullptr, "NeuralNetwork::replace", "layer is null");
    require(i < layers_.size(), "NeuralNetwork::replace", [&] {
      return "index " + std::to_string(i) + " out of range for " + std::to_string(layers_.size()) + " layers";
    });
    ParameterList<T> parameters;
    for (std::size_t k = 0; k < layers_.size(); ++k) append_parameters(parameters, k, k == i ? *layer : *layers_[k]);
    layers_[i].swap(layer);
    parameters_.swap(parameters);
    input_features_ = -1;
    return layer;
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
  /// a mismatch names both layers and both sizes (and leaves the network as it was). Called by the
  /// first forward when not called before.
  NeuralNetwork& build(Index input_features) {
    require(!layers_.empty(), "NeuralNetwork::build", "the network has no layers (call add first)");
    require(input_features > 0, "NeuralNetwork::build",
            [&] { return "input_features must be positive, got " + std::to_string(input_features); });
    std::vector<Index> output_features;
    output_features.reserve(layers_.size());
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
      output_features.push_back(features);
    }
    output_features_.swap(output_features);
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
    require(i < layers_.size(), "NeuralNetwork::layer", [&] {
      return "index " + std::to_string(i) + " out of range for " + std::to_string(layers_.size()) + " layers";
    });
    return *layers_[i];
  }
  [[nodiscard]] const Layer<T>& layer(std::size_t i) const { return const_cast<NeuralNetwork&>(*this).layer(i); }
  [[nodiscard]] bool has_loss() const noexcept { return loss_ != nullptr; }
  [[nodiscard]] Loss<T>& loss() {
    require(loss_ != nullptr, "NeuralNetwork::loss", "no loss set (call set_loss)");
    return *loss_;
  }
  [[nodiscard]] const Loss<T>& loss() const { return const_cast<NeuralNetwork&>(*this).loss(); }
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
    std::string out;
    const auto pad = [](std::string s, std::size_t width) {
      if (s.size() < width) s.append(width - s.size(), ' ');
      return s;
    };
    out += pad("#", 4) + pad("Layer", 34) + pad("Output shape", 16) + "Parameters\n";
    Index total = 0, trainable = 0;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      Index count = 0;
      for (const auto& p : layers_[i]->parameters()) {
        count += p.parameter->value.size();
        if (p.trainable) trainable += p.parameter->value.size();
      }
      total += count;
      const std::string shape = built() ? "(n, " + std::to_string(output_features_[i]) + ")" : "(n, ?)";
      out += pad(std::to_string(i), 4) + pad(layers_[i]->name(), 34) + pad(shape, 16) + std::to_string(count) + '\n';
    }
    out += "Total parameters: " + std::to_string(total) + " (trainable " + std::to_string(trainable) + ", buffers " +
           std::to_string(total - trainable) + ")";
    if (built()) out += "; input (n, " + std::to_string(input_features_) + ")";
    return out + '\n';
  }

  /// The layers' names, comma-separated (for messages and file metadata).
  [[nodiscard]] std::string layer_names() const {
    std::string s;
    for (std::size_t i = 0; i < layers_.size(); ++i) s += (i ? ", " : "") + layers_[i]->name();
    return s;
  }

  // ---------------------------------------------------------------------------------- computing
  /// The network's output for X in the current mode (building the network on first use). X must be
  /// finite: NaN or infinity is an InvalidArgument (it would only come out as a NaN prediction).
  Matrix<T> forward(const Matrix<T>& X) {
    check_input("NeuralNetwork::forward", X, true);
    return forward_layers(X);
  }
  /// Backpropagates ∂L/∂output through every layer (accumulating parameter gradients); returns ∂L/∂X.
  Matrix<T> backward(const Matrix<T>& grad_output) {
    require(built(), "NeuralNetwork::backward", "called before forward");
    Matrix<T> grad = layers_.back()->backward(grad_output);
    for (std::size_t i = layers_.size() - 1; i-- > 0;) grad = layers_[i]->backward(grad);
    return grad;
  }
  /// Backpropagates ∂L/∂output as backward does, without ∂L/∂X (the first layer computes its parameter
  /// gradients only), and calls after_layer(i) as soon as layer i has accumulated its ∂L/∂θ_i, for
  /// i = size() − 1 down to 0: the caller may use layer i's gradients (start sending them, say) while the
  /// layers before it still run. A plain callable, inlined: an empty one costs nothing.
  template <class AfterLayer>
  void backward_each_layer(const Matrix<T>& grad_output, AfterLayer&& after_layer) {
    require(built(), "NeuralNetwork::backward_each_layer", "called before forward");
    const std::size_t last = layers_.size() - 1;
    Matrix<T> grad;
    for (std::size_t i = last; i > 0; --i) {
      grad = layers_[i]->backward(i == last ? grad_output : grad);
      after_layer(i);
    }
    layers_.front()->backward_parameters_only(last == 0 ? grad_output : grad);
    after_layer(std::size_t{0});
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
  /// A fit that throws (bad options or data, a loss that turns NaN in some epoch) leaves the parameters,
  /// the buffers and the optimiser (its state and learning rate) as they were before the call; only the
  /// random generators of Dropout layers have moved on.
  History<T> fit(const Matrix<T>& X, const IndexVector& labels, const FitOptions<T>& options = {}) {
    return fit_split(X, labels, options);
  }
  History<T> fit(const Matrix<T>& X, const Matrix<T>& targets, const FitOptions<T>& options = {}) {
    return fit_split(X, targets, options);
  }
  /// Trains on (X, labels) validating on (X_val, labels_val) after each epoch.
  History<T> fit(const Matrix<T>& X, const IndexVector& labels, const Matrix<T>& X_val, const IndexVector& labels_val,
                 const FitOptions<T>& options = {}) {
    check_data("NeuralNetwork::fit", X, labels, "");
    check_data("NeuralNetwork::fit", X_val, labels_val, "validation ");
    return fit_guarded(X, labels, &X_val, &labels_val, options);
  }
  History<T> fit(const Matrix<T>& X, const Matrix<T>& targets, const Matrix<T>& X_val, const Matrix<T>& targets_val,
                 const FitOptions<T>& options = {}) {
    check_data("NeuralNetwork::fit", X, targets, "");
    check_data("NeuralNetwork::fit", X_val, targets_val, "validation ");
    return fit_guarded(X, targets, &X_val, &targets_val, options);
  }

  /// The network's output in evaluation mode (regression values, or logits for classification losses).
  /// NaN or infinity in X is an InvalidArgument.
  [[nodiscard]] Matrix<T> predict(const Matrix<T>& X) {
    const ModeGuard guard(*this);
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
  /// Writes every parameter and buffer to a safetensors file under its dotted name, in PyTorch's shapes.
  /// Defined in ml/deep_learning/neural_network_io.hpp (included by <aimastery/ml/deep_learning.hpp>);
  /// without that header this does not compile ("incomplete type NetworkSafetensors").
  template <class Io = detail::NetworkSafetensors<T>>
  void save(const std::string& path) const {
    Io::save(*this, path);
  }
  /// Reads the parameters and buffers of this (already assembled) network from a safetensors file;
  /// see neural_network_io.hpp. A file that does not fit changes nothing.
  template <class Io = detail::NetworkSafetensors<T>>
  void load(const std::string& path) {
    Io::load(*this, path);
  }

 private:
  friend struct detail::NetworkSafetensors<T>;

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

  static void append_parameters(ParameterList<T>& list, std::size_t index, Layer<T>& layer) {
    for (auto& p : layer.parameters()) list.push_back({std::to_string(index) + "." + p.name, p.parameter, p.trainable});
  }

  Matrix<T> forward_layers(const Matrix<T>& X) {
    Matrix<T> activation = layers_.front()->forward(X);
    for (std::size_t i = 1; i < layers_.size(); ++i) activation = layers_[i]->forward(activation);
    return activation;
  }

  // Checks run on every forward: no message is built unless one fails. `finite`: also scan X for NaN
  // and infinity (the training loop's batches come from data checked once, as a whole).
  void check_input(std::string_view where, const Matrix<T>& X, bool finite) {
    require(!layers_.empty(), where, "the network has no layers (call add first)");
    require(X.rows() > 0 && X.cols() > 0, where, [&] { return "X is empty (" + shape_of(X) + ")"; });
    if (!built()) build(X.cols());
    require(X.cols() == input_features_, where, [&] {
      return "X has " + std::to_string(X.cols()) + " features, the network was built for " +
             std::to_string(input_features_) + " (layer 0 " + layers_.front()->name() + ")";
    });
    if (finite && !detail::all_finite(X)) fail(where, "X contains NaN or infinity");
  }

  void check_data(std::string_view where, const Matrix<T>& X, const IndexVector& labels, std::string_view what) {
    require(X.rows() > 0, where, [&] { return std::string(what) + "X is empty (" + shape_of(X) + ")"; });
    require(labels.size() == X.rows(), where, [&] {
      return std::string(what) + "X has " + std::to_string(X.rows()) + " samples (rows) but " + std::string(what) +
             "labels has " + std::to_string(labels.size());
    });
    if (!detail::all_finite(X)) fail(where, std::string(what) + "X contains NaN or infinity");
  }
  void check_data(std::string_view where, const Matrix<T>& X, const Matrix<T>& targets, std::string_view what) {
    require(X.rows() > 0, where, [&] { return std::string(what) + "X is empty (" + shape_of(X) + ")"; });
    require(targets.rows() == X.rows(), where, [&] {
      return std::string(what) + "X has " + std::to_string(X.rows()) + " samples (rows) but " + std::string(what) +
             "targets has " + std::to_string(targets.rows()) + " (" + shape_of(targets) + ")";
    });
    if (!detail::all_finite(X)) fail(where, std::string(what) + "X contains NaN or infinity");
    if (!detail::all_finite(targets)) fail(where, std::string(what) + "targets contains NaN or infinity");
  }

  void require_ready(std::string_view where) const {
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
    Index correct = 0;
    if (output.cols() == 1) return (classes_of(output).array() == labels.array()).count();
    for (Index i = 0; i < output.rows(); ++i) {
      Index best = 0;
      output.row(i).maxCoeff(&best);
      correct += best == labels(i) ? 1 : 0;
    }
    return correct;
  }
  [[nodiscard]] std::optional<T> accuracy_of(const Matrix<T>& output, const IndexVector& labels) const {
    return static_cast<T>(correct_count(output, labels)) / static_cast<T>(labels.size());
  }
  [[nodiscard]] std::optional<T> accuracy_of(const Matrix<T>&, const Matrix<T>&) const { return std::nullopt; }

  /// forward, loss, zero_grad, backward, clip, step. The first layer's backward skips ∂L/∂X, which no
  /// one needs. Messages are built only on failure: a step allocates only the matrices the layers
  /// return (one per layer forward and one per layer backward after the first) and the loss gradient.
  template <class Target>
  T train_step(const Matrix<T>& X, const Target& y, const char* method, Matrix<T>* output_out = nullptr,
               T clip_norm = T(0), Index epoch = -1, Index batch = -1) {
    if (!ready()) require_ready(std::string("NeuralNetwork::") + method);
    if (!training_) train(true);
    check_input("NeuralNetwork::forward", X, false);  // X was checked for NaN by the caller
    Matrix<T> output = forward_layers(X);
    const T value = loss_->forward(output, y);
    if (!std::isfinite(value)) [[unlikely]]
      throw InvalidArgument(
          std::string("NeuralNetwork::") + method + ": the loss became " + (std::isnan(value) ? "NaN" : "infinite") +
          (epoch >= 0 ? " at epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch) : "") +
          " (learning rate " + std::to_string(optimizer_->learning_rate()) +
          "; a smaller learning rate, gradient clipping or standardised inputs may help)");
    zero_grad();
    backward_each_layer(loss_->backward(), [](std::size_t) {});
    if (clip_norm > T(0)) clip_grad_norm(parameters_, clip_norm);
    optimizer_->step(parameters_);
    if (output_out) *output_out = std::move(output);
    return value;
  }
  [[nodiscard]] bool ready() const noexcept { return !layers_.empty() && loss_ && optimizer_; }

  template <class Target>
  History<T> fit_split(const Matrix<T>& X, const Target& y, const FitOptions<T>& options) {
    constexpr std::string_view where = "NeuralNetwork::fit";
    check_data(where, X, y, "");
    require(options.validation_split >= 0.0 && options.validation_split < 1.0, where,
            [&] { return "validation_split must be in [0, 1), got " + std::to_string(options.validation_split); });
    const Index held_out = static_cast<Index>(std::floor(options.validation_split * static_cast<double>(X.rows())));
    if (held_out == 0)
      return fit_guarded(X, y, static_cast<const Matrix<T>*>(nullptr), static_cast<const Target*>(nullptr), options);
    const Index kept = X.rows() - held_out;
    require(kept > 0, where, [&] {
      return "validation_split " + std::to_string(options.validation_split) + " leaves no training sample";
    });
    const Matrix<T> X_train = X.topRows(kept), X_val = X.bottomRows(held_out);
    const Target y_train = y.topRows(kept), y_val = y.bottomRows(held_out);
    return fit_guarded(X_train, y_train, &X_val, &y_val, options);
  }

  /// fit_loop with the strong guarantee: the parameters, buffers, optimiser, mode and build are kept
  /// aside and put back when the loop throws.
  template <class Target>
  History<T> fit_guarded(const Matrix<T>& X, const Target& y, const Matrix<T>* X_val, const Target* y_val,
                         const FitOptions<T>& options) {
    require_ready("NeuralNetwork::fit");
    std::vector<Matrix<T>> values;
    values.reserve(parameters_.size());
    for (const auto& p : parameters_) values.push_back(p.parameter->value);
    std::unique_ptr<Optimizer<T>> optimizer = optimizer_->clone();
    const bool was_training = training_;
    const Index input_features = input_features_;
    const std::vector<Index> output_features = output_features_;
    try {
      return fit_loop(X, y, X_val, y_val, options);
    } catch (...) {
      for (std::size_t k = 0; k < parameters_.size(); ++k) parameters_[k].parameter->value.swap(values[k]);
      optimizer_.swap(optimizer);
      train(was_training);
      input_features_ = input_features;
      output_features_ = output_features;
      throw;
    }
  }

  template <class Target>
  History<T> fit_loop(const Matrix<T>& X, const Target& y, const Matrix<T>* X_val, const Target* y_val,
                      const FitOptions<T>& options) {
    constexpr std::string_view where = "NeuralNetwork::fit";  // X, y (and validation data) checked by fit
    require(options.epochs >= 1, where, [&] { return "epochs must be >= 1, got " + std::to_string(options.epochs); });
    require(options.batch_size >= 1, where,
            [&] { return "batch_size must be >= 1, got " + std::to_string(options.batch_size); });
    require(options.patience >= 0, where,
            [&] { return "patience must be >= 0, got " + std::to_string(options.patience); });
    require(options.clip_norm >= T(0), where,
            [&] { return "clip_norm must be >= 0, got " + std::to_string(options.clip_norm); });
    check_input(where, X, false);
    if (X_val) check_input(where, *X_val, false);
    constexpr bool with_labels = std::is_same_v<Target, IndexVector>;

    const Index n = X.rows();
    const Index batch = std::min(options.batch_size, n);
    std::vector<Index> order(static_cast<std::size_t>(n));
    for (Index i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    RandomEngine rng(options.seed);
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
      if (options.shuffle) detail::shuffle_indices(order, rng);
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
