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
#include "aimastery/io/json_reader.hpp"
#include "aimastery/io/json_scan.hpp"
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

namespace detail {

/// The kind of a member's value as the checks need it: absent, null, a string (kept), or anything else.
struct EmbeddingsField {
  enum { absent, null, string, other } kind = absent;
  std::string text;
};

template <class = void>
void read_embeddings_field(JsonReader& in, EmbeddingsField& field, int depth_left) {
  const JsonReader::Kind kind = in.peek();
  if (kind == JsonReader::Kind::string) {
    field.kind = EmbeddingsField::string;
    field.text = in.read_string();
    return;
  }
  field.kind = EmbeddingsField::other;
  if (kind == JsonReader::Kind::literal) {
    if (!in.read_literal()) field.kind = EmbeddingsField::null;
    return;
  }
  skip_json_value(in, depth_left);
}

}  // namespace detail

/// Parses and checks a request; any problem is InferenceError 400 naming it. (These functions are templates
/// with a defaulted parameter, compiled only in the files that call them.)
///
/// The body is read once by the pull reader (io/json_reader.hpp), as strictly as JsonValue::parse, but
/// without a document: an "input" array keeps at most `max_inputs` strings and only counts the elements
/// past them (a document of {"input": [[], [], ...]} took ~40 times the body). The checks then run in a
/// fixed order, malformed JSON first, so a request has one answer whatever the order of its members.
template <class = void>
EmbeddingsRequest parse_embeddings_request(std::string_view body, const EmbeddingsLimits& limits = {}) {
  using detail::EmbeddingsField;
  using detail::JsonReader;
  auto bad = [](const std::string& message) { throw InferenceError(400, message); };

  // The members as read: "input" as a string, or an array (its count, its strings while there are at most
  // max_inputs and all are strings), or another kind.
  bool object = false;
  EmbeddingsField model, input_member, encoding_format, dimensions;
  bool input_array = false, input_not_string = false;
  std::size_t input_count = 0;
  std::vector<std::string> input_texts;
  JsonReader in(body, "malformed JSON");
  try {
    constexpr int depth = JsonValue::default_max_depth;
    if (in.peek() != JsonReader::Kind::object) {
      detail::skip_json_value(in, depth);
    } else {
      object = true;
      detail::read_unique_members(in, [&](const std::string& name) {
        if (name == "model") {
          detail::read_embeddings_field(in, model, depth - 1);
        } else if (name == "encoding_format") {
          detail::read_embeddings_field(in, encoding_format, depth - 1);
        } else if (name == "dimensions") {
          detail::read_embeddings_field(in, dimensions, depth - 1);
        } else if (name == "input") {
          if (in.peek() != JsonReader::Kind::array) return detail::read_embeddings_field(in, input_member, depth - 1);
          input_member.kind = EmbeddingsField::other;  // present, and not a string
          input_array = true;
          in.read_array([&](std::size_t) {
            ++input_count;
            const bool keep = input_count <= limits.max_inputs && !input_not_string;
            if (keep && in.peek() == JsonReader::Kind::string) return input_texts.push_back(in.read_string());
            input_not_string = input_not_string || in.peek() != JsonReader::Kind::string;
            if (input_count > limits.max_inputs) std::vector<std::string>().swap(input_texts);
            detail::skip_json_value(in, depth - 2);
          });
        } else {
          detail::skip_json_value(in, depth - 1);
        }
      });
    }
    in.expect_end();
  } catch (const FormatError& e) {
    bad(e.what());
  }

  if (!object) bad("the request must be a JSON object");
  EmbeddingsRequest r;
  if (model.kind != EmbeddingsField::absent) {
    if (model.kind != EmbeddingsField::string) bad("'model' must be a string");
    r.model = std::move(model.text);
  }
  if (input_member.kind == EmbeddingsField::absent) bad("'input' is missing");
  if (input_member.kind == EmbeddingsField::string) {
    r.input.push_back(std::move(input_member.text));
  } else if (input_array && input_count > 0) {
    if (input_count > limits.max_inputs)
      bad("'input' holds " + std::to_string(input_count) + " texts, at most " + std::to_string(limits.max_inputs));
    if (input_not_string) bad("'input' must be a string or an array of strings (token ids are not accepted)");
    r.input = std::move(input_texts);
  } else {
    bad("'input' must be a string or a non-empty array of strings");
  }
  for (const auto& s : r.input)
    if (s.size() > limits.max_input_bytes)
      bad("an input text has " + std::to_string(s.size()) + " bytes, at most " +
          std::to_string(limits.max_input_bytes));
  if (encoding_format.kind != EmbeddingsField::absent && encoding_format.kind != EmbeddingsField::null) {
    if (encoding_format.kind != EmbeddingsField::string ||
        (encoding_format.text != "float" && encoding_format.text != "base64"))
      bad("'encoding_format' must be \"float\" or \"base64\"");
    r.base64 = encoding_format.text == "base64";
  }
  if (dimensions.kind != EmbeddingsField::absent && dimensions.kind != EmbeddingsField::null)
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
