#pragma once
/// \file
/// NeuralNetwork::save and NeuralNetwork::load: a network's parameters and buffers as a safetensors
/// file that PyTorch reads and writes. Kept apart from neural_network.hpp so that a program that only
/// builds and trains networks does not compile the safetensors reader and the JSON parser.
///
///   net.save("mlp.safetensors");   // "0.weight" (out × in), "0.bias" (out), ... as PyTorch names them
///   other.load("mlp.safetensors"); // into a network of the same architecture
///
/// In Python: model.load_state_dict(safetensors.torch.load_file("mlp.safetensors")), and
/// safetensors.torch.save_file(model.state_dict(), path) writes a file that load() reads.

#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/io/safetensors.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"

namespace aimastery::detail {

template <Scalar T>
struct NetworkSafetensors {
  /// Writes every parameter and buffer under its dotted name, in PyTorch's shapes (a Dense weight
  /// out × in, vectors such as biases one-dimensional). The metadata records the layers
  /// ("aimastery.layers").
  static void save(const NeuralNetwork<T>& net, const std::string& path) {
    write_safetensors(path, tensors(net, "NeuralNetwork::save"));
  }

  /// The parameters and buffers as safetensors, with the metadata of save(); `where` names the caller.
  static Safetensors tensors(const NeuralNetwork<T>& net, std::string_view where) {
    require(net.size() > 0, where, "the network has no layers");
    Safetensors file;
    for (std::size_t i = 0; i < net.size(); ++i) {
      Layer<T>& layer = *net.layers_[i];
      const bool dense = dynamic_cast<const Dense<T>*>(&layer) != nullptr;
      for (const auto& p : layer.parameters()) {
        const Matrix<T>& v = p.parameter->value;
        const bool vector = v.rows() == 1 && !(dense && p.name == "weight");
        file.add(std::to_string(i) + "." + p.name,
                 vector ? std::vector<Index>{v.cols()} : std::vector<Index>{v.rows(), v.cols()}, v.data(),
                 std::is_same_v<T, float> ? SafetensorsDtype::F32 : SafetensorsDtype::F64);
      }
    }
    file.metadata["format"] = "pt";
    file.metadata["aimastery.layers"] = net.layer_names();
    return file;
  }

  /// Reads every parameter and buffer of the (already assembled) network. Any floating dtype converts;
  /// a vector of n values fills a 1 × n parameter. A missing name, a shape that differs, a tensor the
  /// network does not have (PyTorch's "num_batches_tracked" excepted) or a value that is NaN or infinite
  /// is a FormatError naming the tensor, and then no parameter has changed: every tensor is read and
  /// checked aside first, then swapped in.
  static void load(NeuralNetwork<T>& net, const std::string& path) {
    require(net.size() > 0, "NeuralNetwork::load", "the network has no layers (add them first, then load)");
    assign(net, read_safetensors(path), "NeuralNetwork::load: " + path);
  }

  /// Sets the parameters and buffers from `file` as load() does; failures are FormatErrors starting
  /// with `where`, and leave the network unchanged.
  static void assign(NeuralNetwork<T>& net, const Safetensors& file, const std::string& where) {
    const ParameterList<T>& parameters = net.parameters();
    std::vector<Matrix<T>> values;
    values.reserve(parameters.size());
    std::set<std::string> used;
    for (const auto& p : parameters) {
      if (!file.contains(p.name))
        throw FormatError(where + ": no tensor '" + p.name + "' (the network's layers: " + net.layer_names() + ")");
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
      Matrix<T> value = Eigen::Map<const Matrix<T>>(flat.data(), current.rows(), current.cols());
      if (!detail::all_finite(value))
        throw FormatError(where + ": tensor '" + p.name +
                          "' contains NaN or infinity (a parameter must be finite; in float32 a float64 value "
                          "beyond 3.4e38 overflows)");
      values.push_back(std::move(value));
      used.insert(p.name);
    }
    for (const auto& [name, _] : file.tensors)
      if (!used.count(name) && !name.ends_with("num_batches_tracked"))
        throw FormatError(where + ": tensor '" + name + "' matches no parameter of the network (" + net.layer_names() +
                          ")");
    for (std::size_t k = 0; k < parameters.size(); ++k) parameters[k].parameter->value.swap(values[k]);
  }
};

}  // namespace aimastery::detail

namespace aimastery {

/// net.save(path) as a free function.
template <Scalar T>
void save_safetensors(const NeuralNetwork<T>& net, const std::string& path) {
  detail::NetworkSafetensors<T>::save(net, path);
}
/// net.load(path) as a free function.
template <Scalar T>
void load_safetensors(NeuralNetwork<T>& net, const std::string& path) {
  detail::NetworkSafetensors<T>::load(net, path);
}

}  // namespace aimastery
