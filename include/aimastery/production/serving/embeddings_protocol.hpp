#pragma once
/// \file
/// The OpenAI embeddings request and response (POST /v1/embeddings), as the `openai` client sends them.
///
///   {"model": "all-MiniLM-L6-v2", "input": ["first text", "second"], "encoding_format": "float"}
///   {"object": "list", "model": "all-MiniLM-L6-v2",
///    "data": [{"object": "embedding", "index": 0, "embedding": [0.0123, ...]}, ...],
///    "usage": {"prompt_tokens": 9, "total_tokens": 9}}
///
/// `input` is one string or an array of strings (token-id arrays are refused: this server tokenizes
/// itself). With "encoding_format": "base64" (what the Python client asks for by default) each
/// embedding is the base64 text of its float32 values, little-endian, which the client decodes with
/// NumPy: 4/3 of the bytes instead of ~10 characters a number.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/io/json.hpp"
#include "aimastery/production/serving/inference_error.hpp"

namespace aimastery {

struct EmbeddingsRequest {
  std::string model;
  std::vector<std::string> input;
  bool base64 = false;
};

struct EmbeddingsLimits {
  std::size_t max_inputs = 2048;
  std::size_t max_input_bytes = 1 << 16;
};

/// Parses and checks a request; any problem is InferenceError 400 naming it. (These functions are templates
/// with a defaulted parameter, compiled only in the files that call them.)
template <class = void>
EmbeddingsRequest parse_embeddings_request(std::string_view body, const EmbeddingsLimits& limits = {}) {
  auto bad = [](const std::string& message) { throw InferenceError(400, message); };
  JsonValue j;
  try {
    j = JsonValue::parse(body, "malformed JSON");
  } catch (const FormatError& e) {
    bad(e.what());
  }
  if (!j.is_object()) bad("the request must be a JSON object");
  EmbeddingsRequest r;
  if (const JsonValue* m = j.find("model")) {
    if (!m->is_string()) bad("'model' must be a string");
    r.model = m->as_string();
  }
  const JsonValue* input = j.find("input");
  if (input == nullptr) bad("'input' is missing");
  if (input->is_string()) {
    r.input.push_back(input->as_string());
  } else if (input->is_array() && !input->empty()) {
    if (input->size() > limits.max_inputs)
      bad("'input' holds " + std::to_string(input->size()) + " texts, at most " + std::to_string(limits.max_inputs));
    for (const JsonValue& s : input->elements()) {
      if (!s.is_string()) bad("'input' must be a string or an array of strings (token ids are not accepted)");
      r.input.push_back(s.as_string());
    }
  } else {
    bad("'input' must be a string or a non-empty array of strings");
  }
  for (const auto& s : r.input)
    if (s.size() > limits.max_input_bytes)
      bad("an input text has " + std::to_string(s.size()) + " bytes, at most " +
          std::to_string(limits.max_input_bytes));
  if (const JsonValue* f = j.find("encoding_format"); f != nullptr && !f->is_null()) {
    if (!f->is_string() || (f->as_string() != "float" && f->as_string() != "base64"))
      bad("'encoding_format' must be \"float\" or \"base64\"");
    r.base64 = f->as_string() == "base64";
  }
  if (const JsonValue* d = j.find("dimensions"); d != nullptr && !d->is_null())
    bad("'dimensions' is not supported: the model's embeddings have a fixed size");
  return r;
}

/// RFC 4648 base64 of `bytes`.
template <class = void>
std::string base64_encode(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t(std::uint8_t(bytes[i])) << 16) |
                            (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8) | std::uint8_t(bytes[i + 2]);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t v = std::uint32_t(std::uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= std::uint32_t(std::uint8_t(bytes[i + 1])) << 8;
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

/// The response for the embeddings E (one row per input), `tokens` the number of tokens encoded.
template <class = void>
std::string embeddings_response(const EmbeddingsRequest& request, const Matrix<float>& E, std::size_t tokens) {
  JsonValue::Array data;
  data.reserve(static_cast<std::size_t>(E.rows()));
  for (Index i = 0; i < E.rows(); ++i) {
    JsonValue embedding;
    if (request.base64) {
      std::string bytes(static_cast<std::size_t>(E.cols()) * 4, '\0');
      for (Index k = 0; k < E.cols(); ++k) {
        std::uint32_t u;
        const float x = E(i, k);
        std::memcpy(&u, &x, 4);
        for (int b = 0; b < 4; ++b)
          bytes[static_cast<std::size_t>(4 * k + b)] = static_cast<char>((u >> (8 * b)) & 0xFF);
      }
      embedding = base64_encode(bytes);
    } else {
      JsonValue::Array values;
      values.reserve(static_cast<std::size_t>(E.cols()));
      for (Index k = 0; k < E.cols(); ++k) values.emplace_back(E(i, k));
      embedding = JsonValue::array(std::move(values));
    }
    data.push_back(JsonValue::object({{"object", "embedding"}, {"index", i}, {"embedding", std::move(embedding)}}));
  }
  return JsonValue::object({{"object", "list"},
                            {"model", request.model},
                            {"data", JsonValue::array(std::move(data))},
                            {"usage", JsonValue::object({{"prompt_tokens", tokens}, {"total_tokens", tokens}})}})
      .dump();
}

}  // namespace aimastery
