#pragma once
/// \file
/// ModelSerializer: every model of the library to one file and back, with its provenance.
///
///   RandomForestScratch<double> rf({.n_estimators = 50});
///   rf.fit(X, y);
///   ModelSerializer::save(rf, "forest.safetensors",
///                         {.training_data_sha256 = training_data_sha256(X, y), .metrics = {{"accuracy", 0.93}}});
///   auto back = ModelSerializer::load<RandomForestScratch<double>>("forest.safetensors");   // predicts as rf
///   ModelProvenance p = read_model_provenance("forest.safetensors");                       // who, when, what
///
/// The file (model_file.hpp) is a safetensors file: the fitted arrays as tensors, and in its metadata the
/// provenance (format and library version, creation time, model kind, scalar type, hyper-parameters,
/// training-data digest, metrics) and the model's structure as JSON, with a SHA-256 over every byte that
/// load checks. Saving is atomic (temporary file, rename). Loading builds the model aside and returns it;
/// load(path, model) replaces `model` only when everything has been read and checked.
///
/// Models: LinearRegressionScratch, LogisticRegressionScratch, GaussianNBScratch, StandardScaler,
/// KNNScratch, KNNRegressorScratch, DecisionTreeScratch, DecisionTreeRegressorScratch, RandomForestScratch,
/// RandomForestRegressorScratch (classical_codecs.hpp), NeuralNetwork (network_codec.hpp) and the
/// attention layers LayerNorm, MultiHeadAttention, TransformerBlock (attention_codecs.hpp), in float and
/// double. A file of another kind or scalar type is a FormatError naming both.

#include <cmath>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/io/json.hpp"
#include "aimastery/production/deployment/attention_codecs.hpp"
#include "aimastery/production/deployment/classical_codecs.hpp"
#include "aimastery/production/deployment/model_codec.hpp"
#include "aimastery/production/deployment/model_file.hpp"
#include "aimastery/production/deployment/network_codec.hpp"

namespace aimastery {

/// A model the serializer knows: a ModelCodec exists for it.
template <class Model>
concept SerializableModel = requires(const Model& m, ModelWriter& out, const ModelReader& in) {
  { ModelCodec<Model>::kind } -> std::convertible_to<std::string_view>;
  ModelCodec<Model>::save(m, out);
  { ModelCodec<Model>::load(in) } -> std::same_as<Model>;
};

namespace detail {
template <class Model>
struct model_scalar;
template <template <class> class M, Scalar T>
struct model_scalar<M<T>> {
  using type = T;
};
}  // namespace detail

struct ModelSerializer {
  /// The file image of `model` (what save writes). Bad options (a metric that is not finite, a training
  /// digest that is not 64 hex digits) or a model that cannot be saved: InvalidArgument.
  template <SerializableModel Model>
  static std::vector<unsigned char> serialize(const Model& model, const SaveOptions& options = {}) {
    constexpr std::string_view where = "ModelSerializer::save";
    for (const auto& metric : options.metrics) {
      const std::string& name = metric.first;  // a plain reference: the message lambda captures it
      require(std::isfinite(metric.second), where, [&] { return "metric '" + name + "' is not finite"; });
    }
    require(options.training_data_sha256.empty() ||
                (options.training_data_sha256.size() == 64 &&
                 options.training_data_sha256.find_first_not_of("0123456789abcdef") == std::string::npos),
            where, "training_data_sha256 must be 64 lower-case hex digits (use training_data_sha256(X, y))");
    ModelWriter out;
    ModelCodec<Model>::save(model, out);
    JsonValue metrics = JsonValue::object();
    for (const auto& [name, value] : options.metrics) metrics[name] = value;
    JsonValue document = JsonValue::object({{"format_version", model_format_version},
                                            {"library_version", library_version},
                                            {"created", detail::utc_now()},
                                            {"kind", ModelCodec<Model>::kind},
                                            {"scalar", scalar_name<typename detail::model_scalar<Model>::type>()},
                                            {"hyper_parameters", std::move(out.hyper_parameters)},
                                            {"state", std::move(out.state)},
                                            {"metrics", std::move(metrics)}});
    if (!options.training_data_sha256.empty()) document["training_data_sha256"] = options.training_data_sha256;
    return detail::serialize_model_file(std::move(out.tensors), document);
  }

  /// Writes `model` to `path` atomically. Cannot write: FormatError naming the path.
  template <SerializableModel Model>
  static void save(const Model& model, const std::string& path, const SaveOptions& options = {}) {
    detail::write_file_atomically(path, serialize(model, options), "ModelSerializer::save");
  }

  /// The model in a file image; `source` names it in messages.
  template <SerializableModel Model>
  static Model deserialize(std::span<const unsigned char> bytes, const std::string& source = "<memory>") {
    return decode<Model>(detail::parse_model_file(bytes, source, "ModelSerializer::load"), source);
  }

  /// The model in the file `path`. A missing, damaged (digest mismatch) or hostile file, or a file of
  /// another model kind or scalar type: FormatError naming the path and the problem.
  template <SerializableModel Model>
  static Model load(const std::string& path) {
    return decode<Model>(detail::read_model_file(path, "ModelSerializer::load"), path);
  }
  /// Replaces `model` by the one in `path`; on any error `model` is left as it was.
  template <SerializableModel Model>
  static void load(const std::string& path, Model& model) {
    Model loaded = load<Model>(path);
    model = std::move(loaded);
  }

 private:
  template <class Model>
  static Model decode(const detail::ModelFileContents& file, const std::string& source) {
    const JsonValue& d = file.document;
    const std::string &kind = d.at("kind").as_string(), &scalar = d.at("scalar").as_string();
    using T = typename detail::model_scalar<Model>::type;
    if (kind != ModelCodec<Model>::kind || scalar != scalar_name<T>())
      throw FormatError("ModelSerializer::load: " + source + ": the file holds a " + kind + " of " + scalar +
                        ", not a " + std::string(ModelCodec<Model>::kind) + " of " + std::string(scalar_name<T>()));
    const ModelReader reader(file.tensors, d.at("hyper_parameters"), d.at("state"), source);
    try {
      return ModelCodec<Model>::load(reader);
    } catch (const InvalidArgument& e) {  // a hyper-parameter the model's constructor refuses
      throw FormatError("ModelSerializer::load: " + source + ": " + e.what());
    } catch (const FormatError& e) {  // ModelReader's own failures name the file already
      const std::string_view message = e.what();
      if (message.starts_with("ModelSerializer::load: ")) throw;
      throw FormatError("ModelSerializer::load: " + source + ": " + e.what());
    }
  }
};

}  // namespace aimastery
