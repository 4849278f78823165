#pragma once
/// \file
/// ModelCodec<NeuralNetwork<T>>: a network's architecture in JSON and its parameters and buffers as the
/// tensors neural_network_io.hpp writes ("0.weight" out × in, "0.bias", "1.running_mean" ... PyTorch's
/// names and shapes, so the file also loads into torch with load_state_dict).
///
///   hyper_parameters = {"layers": [{"type": "Dense", "in_features": 4, "out_features": 8, "bias": true},
///                                  {"type": "Activation", "kind": "relu", "negative_slope": 0.01},
///                                  {"type": "BatchNormalization", "features": 8, "eps": 1e-5, "momentum": 0.1},
///                                  {"type": "Dropout", "rate": 0.2}, ...],
///                       "loss": {"type": "CrossEntropyLoss", "reduction": "mean", "label_smoothing": 0} | null}
///   state = {"input_features": 4 | null}
///
/// The optimiser and its moments are not saved: a loaded network predicts (and can be trained again after
/// set_optimizer). A layer of another type (LoRA, attention) cannot be saved: InvalidArgument naming it.
/// On load each layer's sizes are checked against its tensors' shapes before the layer is built, so a
/// hostile size never allocates more than the file holds.

#include <memory>
#include <string>

#include "aimastery/core/tensor.hpp"
#include "aimastery/io/json.hpp"
#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/batch_normalization.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/dropout.hpp"
#include "aimastery/ml/deep_learning/losses.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"
#include "aimastery/ml/deep_learning/neural_network_io.hpp"
#include "aimastery/production/deployment/model_codec.hpp"

namespace aimastery {

template <Scalar T>
struct ModelCodec<NeuralNetwork<T>> {
  using Model = NeuralNetwork<T>;
  static constexpr std::string_view kind = "NeuralNetwork";

  static void save(const Model& net, ModelWriter& out) {
    constexpr std::string_view where = "ModelSerializer::save";
    JsonValue layers = JsonValue::array();
    for (std::size_t i = 0; i < net.size(); ++i) {
      const Layer<T>& layer = net.layer(i);
      if (const auto* d = dynamic_cast<const Dense<T>*>(&layer)) {
        layers.push_back(JsonValue::object({{"type", "Dense"},
                                            {"in_features", d->in_features()},
                                            {"out_features", d->out_features()},
                                            {"bias", d->has_bias()}}));
      } else if (const auto* a = dynamic_cast<const Activation<T>*>(&layer)) {
        layers.push_back(JsonValue::object({{"type", "Activation"},
                                            {"kind", std::string(to_string(a->kind()))},
                                            {"negative_slope", static_cast<double>(a->negative_slope())}}));
      } else if (const auto* b = dynamic_cast<const BatchNormalization<T>*>(&layer)) {
        layers.push_back(JsonValue::object({{"type", "BatchNormalization"},
                                            {"features", b->features()},
                                            {"eps", static_cast<double>(b->eps())},
                                            {"momentum", static_cast<double>(b->momentum())}}));
      } else if (const auto* r = dynamic_cast<const Dropout<T>*>(&layer)) {
        layers.push_back(JsonValue::object({{"type", "Dropout"}, {"rate", r->rate()}}));
      } else {
        fail(where, "layer " + std::to_string(i) + " " + layer.name() +
                        " cannot be saved (Dense, Activation, BatchNormalization and Dropout can)");
      }
    }
    out.hyper_parameters["layers"] = std::move(layers);
    out.hyper_parameters["loss"] = net.has_loss() ? loss_json(net.loss()) : JsonValue();
    out.state["input_features"] = net.built() ? JsonValue(net.input_features()) : JsonValue();
    Safetensors tensors = detail::NetworkSafetensors<T>::tensors(net, where);
    out.tensors.tensors = std::move(tensors.tensors);
  }

  static Model load(const ModelReader& in) {
    const auto& h = in.hyper_parameters();
    const JsonValue& layers = in.field(h, "layers");
    if (!layers.is_array() || layers.empty()) in.fail("field 'layers' is not a non-empty array");
    Model net;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const JsonValue& l = layers.at(i);
      if (!l.is_object()) in.fail("layer " + std::to_string(i) + " is not an object");
      const std::string prefix = std::to_string(i) + ".";
      switch (in.choice(l, "type", {"Dense", "Activation", "BatchNormalization", "Dropout"})) {
        case 0: {
          const Index n_in = in.integer(l, "in_features", 1, std::numeric_limits<std::int32_t>::max());
          const Index n_out = in.integer(l, "out_features", 1, std::numeric_limits<std::int32_t>::max());
          // The sizes must be those of the file's tensor before anything of that size is allocated.
          if (in.dim(prefix + "weight", 0) != n_out || in.dim(prefix + "weight", 1) != n_in)
            in.fail("layer " + std::to_string(i) + " is Dense(" + std::to_string(n_in) + " -> " +
                    std::to_string(n_out) + ") but tensor '" + prefix + "weight' has another shape");
          net.template add<Dense<T>>(n_in, n_out, DenseOptions{.bias = in.boolean(l, "bias")});
          break;
        }
        case 1:
          net.template add<Activation<T>>(activation_kind_from_string(in.text(l, "kind")),
                                          static_cast<T>(in.number(l, "negative_slope")));
          break;
        case 2: {
          const Index features = in.integer(l, "features", 1, std::numeric_limits<std::int32_t>::max());
          if (in.dim(prefix + "weight", 0) != features)
            in.fail("layer " + std::to_string(i) + " is BatchNormalization(" + std::to_string(features) +
                    ") but tensor '" + prefix + "weight' has another shape");
          net.template add<BatchNormalization<T>>(
              features, BatchNormalizationOptions{.eps = in.number(l, "eps"), .momentum = in.number(l, "momentum")});
          break;
        }
        default:
          net.template add<Dropout<T>>(in.number(l, "rate"));
      }
    }
    const JsonValue& loss = in.field(h, "loss");
    if (!loss.is_null()) {
      if (!loss.is_object()) in.fail("field 'loss' is neither an object nor null");
      const auto reduction = in.choice(loss, "reduction", {"mean", "sum"}) == 0 ? Reduction::mean : Reduction::sum;
      switch (in.choice(loss, "type", {"MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss"})) {
        case 0:
          net.template set_loss<MSELoss<T>>(reduction);
          break;
        case 1:
          net.template set_loss<CrossEntropyLoss<T>>(
              CrossEntropyOptions{.reduction = reduction, .label_smoothing = in.number(loss, "label_smoothing")});
          break;
        default:
          net.template set_loss<BinaryCrossEntropyLoss<T>>(
              BinaryCrossEntropyOptions{.from_logits = in.boolean(loss, "from_logits"), .reduction = reduction});
      }
    }
    detail::NetworkSafetensors<T>::assign(net, tensors_of(in), "ModelSerializer::load: " + in.source());
    const JsonValue& input = in.field(in.state(), "input_features");
    if (!input.is_null())
      net.build(in.integer(in.state(), "input_features", 1, std::numeric_limits<std::int32_t>::max()));
    return net;
  }

 private:
  static JsonValue loss_json(const Loss<T>& loss) {
    if (const auto* m = dynamic_cast<const MSELoss<T>*>(&loss))
      return JsonValue::object({{"type", "MSELoss"}, {"reduction", reduction_name(m->reduction())}});
    if (const auto* c = dynamic_cast<const CrossEntropyLoss<T>*>(&loss))
      return JsonValue::object({{"type", "CrossEntropyLoss"},
                                {"reduction", reduction_name(c->options().reduction)},
                                {"label_smoothing", c->options().label_smoothing}});
    if (const auto* b = dynamic_cast<const BinaryCrossEntropyLoss<T>*>(&loss))
      return JsonValue::object({{"type", "BinaryCrossEntropyLoss"},
                                {"reduction", reduction_name(b->options().reduction)},
                                {"from_logits", b->options().from_logits}});
    fail("ModelSerializer::save", "loss " + loss.name() + " cannot be saved");
  }
  static const char* reduction_name(Reduction r) { return r == Reduction::mean ? "mean" : "sum"; }
  static const Safetensors& tensors_of(const ModelReader& in) { return in.tensors(); }
};

}  // namespace aimastery
