// libFuzzer target for the model file reader (aimastery/production/deployment/model_serializer.hpp).
//
// Any input, loaded as every model kind, must either give a model or raise FormatError; anything else
// (another exception, a crash, a sanitizer report, a hang, a large allocation) is a finding. Random bytes
// rarely get past the content digest, so every input that parses as safetensors is also re-signed (its
// digest recomputed) and loaded again: that reaches the structural checks of every codec (shapes, label
// order, tree structure, layer sizes) with arbitrary tensors and JSON.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "aimastery/io/json.hpp"
#include "aimastery/production/deployment/model_serializer.hpp"

namespace {

template <class... Models>
void load_as_every_kind(std::span<const unsigned char> bytes) {
  (
      [&] {
        try {
          static_cast<void>(aimastery::ModelSerializer::deserialize<Models>(bytes, "fuzz"));
        } catch (const aimastery::FormatError&) {
        }
      }(),
      ...);
}

void load_all(std::span<const unsigned char> bytes) {
  using namespace aimastery;
  load_as_every_kind<LinearRegressionScratch<double>, LogisticRegressionScratch<double>, GaussianNBScratch<double>,
                     StandardScaler<double>, KNNScratch<double>, KNNRegressorScratch<double>,
                     DecisionTreeScratch<double>, DecisionTreeRegressorScratch<double>, RandomForestScratch<double>,
                     RandomForestRegressorScratch<double>, NeuralNetwork<double>, DecisionTreeScratch<float>,
                     NeuralNetwork<float>>(bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const unsigned char> bytes(data, size);
  load_all(bytes);
  aimastery::Safetensors file;
  try {
    file = aimastery::parse_safetensors(bytes, "fuzz");
  } catch (const aimastery::FormatError&) {
    return 0;
  }
  const auto document = file.metadata.find("aimastery.model");
  if (document == file.metadata.end()) return 0;
  aimastery::JsonValue parsed;
  try {
    parsed = aimastery::JsonValue::parse(document->second);
  } catch (const aimastery::FormatError&) {
    return 0;
  }
  if (!parsed.is_object()) return 0;
  // Each kind sees the document with its own kind and scalar, so that the codecs, not the kind check, decide.
  for (const char* kind :
       {"LinearRegressionScratch", "LogisticRegressionScratch", "GaussianNBScratch", "StandardScaler", "KNNScratch",
        "KNNRegressorScratch", "DecisionTreeScratch", "DecisionTreeRegressorScratch", "RandomForestScratch",
        "RandomForestRegressorScratch", "NeuralNetwork"}) {
    aimastery::JsonValue d = parsed;
    d["kind"] = kind;
    d["scalar"] = "float64";
    std::vector<unsigned char> signed_bytes;
    try {
      signed_bytes = aimastery::detail::serialize_model_file(file, d);
    } catch (const aimastery::InvalidArgument&) {  // a name or value the writer refuses (not UTF-8)
      return 0;
    }
    load_all(signed_bytes);
  }
  return 0;
}
