#pragma once
/// \file
/// The model file: a safetensors file (io/safetensors_read.hpp) whose tensors are the model's fitted
/// arrays and whose string metadata carries the provenance and the structure as JSON:
///
///   __metadata__ = {
///     "format": "aimastery",
///     "aimastery.model":  "{\"format_version\": 1, \"library_version\": \"0.1.0\",
///                           \"created\": \"2026-12-02T04:30:00Z\", \"kind\": \"RandomForestScratch\",
///                           \"scalar\": \"float64\", \"hyper_parameters\": {...}, \"state\": {...},
///                           \"training_data_sha256\": \"…\" (optional), \"metrics\": {\"accuracy\": 0.93}}",
///     "aimastery.sha256": "<64 hex digits>"
///   }
///
/// The digest covers every byte of the file: it is the SHA-256 of the file as written with the 64 hex
/// digits of "aimastery.sha256" replaced by '0's. On reading, the digits are zeroed again and the digest
/// recomputed, so a changed byte anywhere (tensor data, header, padding or the digest itself) is a
/// FormatError naming the file. The file opens in any safetensors reader (PyTorch, NumPy); the digest is
/// only checked by this library.
///
/// Writing is atomic and durable (io/atomic_file.hpp): the bytes go to a temporary file, are fsynced, and
/// it is renamed over `path`, so a reader never sees half a file.

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/io/atomic_file.hpp"
#include "aimastery/io/file.hpp"
#include "aimastery/io/json.hpp"
#include "aimastery/io/safetensors_read.hpp"
#include "aimastery/io/safetensors_write.hpp"
#include "aimastery/production/deployment/sha256.hpp"

namespace aimastery {

/// The version of the library that writes model files, recorded in each of them.
inline constexpr std::string_view library_version = "0.1.0";
/// The layout version of model files; a reader refuses files of a later version.
inline constexpr int model_format_version = 1;

/// Where a model came from: what every model file records besides the model itself.
struct ModelProvenance {
  int format_version = model_format_version;
  std::string library_version;
  std::string created;  ///< UTC, ISO 8601 ("2026-12-02T04:30:00Z")
  std::string kind;     ///< the model's class name ("RandomForestScratch")
  std::string scalar;   ///< "float32" or "float64"
  JsonValue hyper_parameters = JsonValue::object();
  std::string training_data_sha256;       ///< empty when not given
  std::map<std::string, double> metrics;  ///< whatever the user measured ("accuracy", "r2" ...)
  std::string sha256;                     ///< the digest of the file's content
};

/// What the user may add to a saved model's provenance.
struct SaveOptions {
  /// training_data_sha256(X, y) of the data the model was fitted on; empty: not recorded.
  std::string training_data_sha256 = {};
  std::map<std::string, double> metrics = {};
};

namespace detail {

inline void hash_matrix_bytes(Sha256& h, const char* tag, Index rows, Index cols, std::string_view dtype,
                              const void* data, std::size_t bytes) {
  const std::string head =
      std::string(tag) + ":" + std::string(dtype) + ":" + std::to_string(rows) + "x" + std::to_string(cols) + ";";
  h.update(head);
  h.update({static_cast<const std::uint8_t*>(data), bytes});
}

template <class Derived>
void hash_dense(Sha256& h, const char* tag, const Eigen::DenseBase<Derived>& m) {
  using S = typename Derived::Scalar;
  // Row-major bytes whatever the storage order of m, so a matrix hashes the same as its row-major copy.
  const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = m;
  const std::string_view dtype = std::is_same_v<S, float> ? "f32" : std::is_same_v<S, double> ? "f64" : "i64";
  hash_matrix_bytes(h, tag, rows.rows(), rows.cols(), dtype, rows.data(),
                    sizeof(S) * static_cast<std::size_t>(rows.size()));
}

}  // namespace detail

/// The SHA-256 of training data as the user gave it: the shape, element type and bytes of X (row-major),
/// then of y. The same data in the same type always gives the same digest.
template <class DX, class DY>
std::string training_data_sha256(const Eigen::DenseBase<DX>& X, const Eigen::DenseBase<DY>& y) {
  Sha256 h;
  detail::hash_dense(h, "X", X);
  detail::hash_dense(h, "y", y);
  return to_hex(h.finish());
}
template <class DX>
std::string training_data_sha256(const Eigen::DenseBase<DX>& X) {
  Sha256 h;
  detail::hash_dense(h, "X", X);
  return to_hex(h.finish());
}

namespace detail {

inline constexpr std::string_view model_document_key = "aimastery.model";
inline constexpr std::string_view model_digest_key = "aimastery.sha256";
/// How the digest appears in the header JSON: the key, a colon, the opening quote (compact JSON).
inline constexpr std::string_view model_digest_marker = "\"aimastery.sha256\":\"";

/// The current time in UTC as ISO 8601.
inline std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

/// The position of the digest's 64 hex digits in a serialised model file, or npos when the marker is
/// missing or appears more than once in the header.
inline std::size_t digest_position(std::span<const unsigned char> bytes, std::uint64_t header_end) {
  const std::string_view header(reinterpret_cast<const char*>(bytes.data()), static_cast<std::size_t>(header_end));
  const std::size_t first = header.find(model_digest_marker);
  if (first == std::string_view::npos || header.find(model_digest_marker, first + 1) != std::string_view::npos)
    return std::string_view::npos;
  const std::size_t digits = first + model_digest_marker.size();
  if (digits + 64 > header.size()) return std::string_view::npos;
  return digits;
}

/// The digest of a file image with its 64 digest digits at `position` taken as '0's.
inline std::string content_digest(std::span<const unsigned char> bytes, std::size_t position) {
  static constexpr std::uint8_t zeros[64] = {
      '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0',
      '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0',
      '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0'};
  Sha256 h;
  h.update(bytes.first(position));
  h.update(zeros);
  h.update(bytes.subspan(position + 64));
  return to_hex(h.finish());
}

/// Writes `bytes` to `path` atomically and durably (io/atomic_file.hpp). Failure: FormatError naming `where`.
inline void write_file_atomically(const std::string& path, std::span<const unsigned char> bytes,
                                  std::string_view where) {
  try {
    aimastery::write_file_atomically(std::filesystem::path(path),
                                     std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  } catch (const std::system_error& e) {
    throw FormatError(std::string(where) + ": " + e.what());
  }
}

/// The file image of a model: `tensors` plus the document (provenance, hyper-parameters, state), with
/// the digest filled in. (The functions of this file that read and write files are templates only so
/// that a translation unit that does not call them does not compile them.)
template <class Json = JsonValue>
std::vector<unsigned char> serialize_model_file(Safetensors tensors, const Json& document) {
  tensors.metadata.clear();
  tensors.metadata["format"] = "aimastery";
  tensors.metadata[std::string(model_document_key)] = document.dump();
  tensors.metadata[std::string(model_digest_key)] = std::string(64, '0');
  std::vector<unsigned char> bytes = serialize_safetensors(tensors);
  const std::uint64_t header_end = 8 + load_little_endian(bytes.data(), 8);
  const std::size_t position = digest_position(bytes, header_end);
  AIMASTERY_ASSERT(position != std::string_view::npos);
  const std::string digest = content_digest(bytes, position);
  std::copy(digest.begin(), digest.end(), bytes.begin() + static_cast<std::ptrdiff_t>(position));
  return bytes;
}

/// A model file read and checked: its tensors, its document and its digest.
struct ModelFileContents {
  Safetensors tensors;
  JsonValue document;
  std::string sha256;
};

/// Parses and checks a model file image: a valid safetensors file, a digest that matches the content, a
/// JSON document with the provenance fields of the right types, a format version this reader knows.
/// Anything else: FormatError "<where>: <source>: <problem>".
template <class Contents = ModelFileContents>
Contents parse_model_file(std::span<const unsigned char> bytes, const std::string& source, std::string_view where) {
  const auto fail = [&](const std::string& problem) {
    return FormatError(std::string(where) + ": " + source + ": " + problem);
  };
  Contents out;
  try {
    out.tensors = parse_safetensors(bytes, source);
  } catch (const FormatError& e) {
    throw fail(std::string("not a valid safetensors file (") + e.what() + ")");
  }
  const auto format = out.tensors.metadata.find("format");
  const auto document = out.tensors.metadata.find(std::string(model_document_key));
  const auto digest = out.tensors.metadata.find(std::string(model_digest_key));
  if (format == out.tensors.metadata.end() || format->second != "aimastery" || document == out.tensors.metadata.end() ||
      digest == out.tensors.metadata.end())
    throw fail(
        "not an aimastery model file (its metadata lacks format \"aimastery\", \"aimastery.model\" or "
        "\"aimastery.sha256\")");
  const std::uint64_t header_end = 8 + load_little_endian(bytes.data(), 8);  // parse_safetensors checked it
  const std::size_t position = digest_position(bytes, header_end);
  if (position == std::string_view::npos) throw fail("the digest is not where the writer puts it");
  const std::string computed = content_digest(bytes, position);
  if (digest->second != computed)
    throw fail("content digest mismatch: the file records sha256 " + digest->second.substr(0, 64) +
               " but its content hashes to " + computed + " (the file was changed or damaged)");
  // Bad JSON: "<where>: <source>: aimastery.model is not valid JSON (byte k: problem)".
  out.document =
      JsonValue::parse(document->second, std::string(where) + ": " + source + ": aimastery.model is not valid JSON");
  if (!out.document.is_object()) throw fail("aimastery.model is not a JSON object");
  const JsonValue& d = out.document;
  const JsonValue* format_version = d.find("format_version");
  if (format_version == nullptr || !format_version->is_number_integer())
    throw fail("aimastery.model has no integer format_version");
  if (!format_version->is_number_unsigned() || format_version->get<std::uint64_t>() < 1 ||
      format_version->get<std::uint64_t>() > static_cast<std::uint64_t>(model_format_version))
    throw fail("format_version " + format_version->dump() + " is not one this reader knows (1 to " +
               std::to_string(model_format_version) + ")");
  for (const char* key : {"library_version", "created", "kind", "scalar"})
    if (const JsonValue* v = d.find(key); v == nullptr || !v->is_string())
      throw fail(std::string("aimastery.model has no string ") + key);
  for (const char* key : {"hyper_parameters", "state", "metrics"})
    if (const JsonValue* v = d.find(key); v == nullptr || !v->is_object())
      throw fail(std::string("aimastery.model has no object ") + key);
  for (const auto& [name, value] : d.at("metrics").members())
    if (!value.is_number()) throw fail("metric '" + name + "' is not a number");
  if (const JsonValue* v = d.find("training_data_sha256"); v != nullptr && !v->is_string())
    throw fail("training_data_sha256 is not a string");
  out.sha256 = computed;
  return out;
}

/// Reads a whole model file (a regular file; its size known before anything is allocated) and checks it.
template <class Contents = ModelFileContents>
Contents read_model_file(const std::string& path, std::string_view where) {
  InputFile file = open_input_file(path, where);
  std::vector<unsigned char> bytes(static_cast<std::size_t>(file.size));
  if (!bytes.empty() &&
      !file.stream.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
    throw FormatError(std::string(where) + ": " + path + ": cannot read its " + std::to_string(file.size) + " bytes");
  return parse_model_file<Contents>(bytes, path, where);
}

/// The provenance fields of a checked document.
template <class Contents>
ModelProvenance provenance_of(const Contents& contents) {
  const JsonValue& d = contents.document;
  ModelProvenance p;
  p.format_version = d.at("format_version").get<int>();
  p.library_version = d.at("library_version").as_string();
  p.created = d.at("created").as_string();
  p.kind = d.at("kind").as_string();
  p.scalar = d.at("scalar").as_string();
  p.hyper_parameters = d.at("hyper_parameters");
  p.training_data_sha256 = d.value("training_data_sha256", std::string());
  for (const JsonMember& metric : d.at("metrics").members()) p.metrics[metric.name] = metric.value.get<double>();
  p.sha256 = contents.sha256;
  return p;
}

}  // namespace detail

/// The provenance recorded in a model file, after checking its digest. Any damage: FormatError naming
/// the file.
template <class Provenance = ModelProvenance>
Provenance read_model_provenance(const std::string& path) {
  return detail::provenance_of(detail::read_model_file(path, "read_model_provenance"));
}

}  // namespace aimastery
