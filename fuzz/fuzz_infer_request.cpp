// libFuzzer target for the Open Inference Protocol (KServe v2) codec and the OpenAI embeddings request
// (aimastery/production/serving/inference_protocol.hpp, embeddings_protocol.hpp).
//
// Any bytes must give a request or an InferenceError with status 400 or 413, never another exception. The
// bytes before a first NUL, when there is one, are the JSON of the binary tensor extension and the rest its
// tensor bytes. The shorter path for the common request, when it answers, gives what the general parser
// gives; an accepted request holds prod(shape) values per input, and its JSON text reads back to the same
// names, shapes and (FP64) values. A crash, a sanitizer report, a hang or a large allocation is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include "aimastery/production/serving/embeddings_protocol.hpp"
#include "aimastery/production/serving/inference_protocol.hpp"

namespace {

/// Runs `parse`; false when it refused with 400 or 413, and aborts on anything else it throws.
template <class Parse>
bool accepted(Parse&& parse) {
  try {
    parse();
    return true;
  } catch (const aimastery::InferenceError& e) {
    if (e.status != 400 && e.status != 413) std::abort();
    return false;
  }
}

bool same(const aimastery::InferRequest& a, const aimastery::InferRequest& b, bool values) {
  if (a.id != b.id || a.outputs != b.outputs || a.inputs.size() != b.inputs.size()) return false;
  for (std::size_t k = 0; k < a.inputs.size(); ++k) {
    const auto &x = a.inputs[k], &y = b.inputs[k];
    if (x.name != y.name || x.datatype != y.datatype || x.shape != y.shape || x.data.size() != y.data.size())
      return false;
    if (values && !x.data.empty() && std::memcmp(x.data.data(), y.data.data(), x.data.size() * sizeof(double)) != 0)
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aimastery;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  InferCodecLimits limits;
  limits.max_elements = 1024;
  limits.max_inputs = 4;
  limits.max_outputs = 4;
  const std::size_t nul = body.find('\0');
  const std::optional<std::size_t> header_length =
      nul == std::string_view::npos ? std::nullopt : std::optional<std::size_t>(nul);

  InferRequest request;
  if (accepted([&] { request = parse_infer_request(body, header_length, limits); })) {
    for (const InferTensor& t : request.inputs)
      if (t.elements() != static_cast<std::int64_t>(t.data.size())) std::abort();
    if (!header_length) {
      if (const std::optional<InferRequest> fast = detail::parse_infer_request_fast(body, limits))
        if (!same(*fast, detail::parse_infer_request_general(body, std::nullopt, limits), true)) std::abort();
      bool fp64 = true;
      for (const InferTensor& t : request.inputs) fp64 = fp64 && t.datatype == "FP64";
      InferRequest back;
      if (!accepted([&] { back = parse_infer_request(to_json_text(request), std::nullopt, limits); }) ||
          !same(request, back, fp64))
        std::abort();
    }
  }
  (void)accepted([&] { (void)parse_infer_response(body, limits); });
  (void)accepted([&] { (void)parse_embeddings_request(body); });
  return 0;
}
