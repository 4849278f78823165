#pragma once
/// \file
/// HTTP/1.1 requests (RFC 9112) read from a byte buffer without copying: the request line, the header
/// fields, and a body framed by Content-Length. The parser is incremental in the simplest way: it is
/// called again on the whole buffer when more bytes arrived, and says whether the request is complete,
/// needs more bytes, or is refused with a 4xx/5xx status.
///
///   request   = method SP request-target SP "HTTP/1." digit CRLF *( field-line CRLF ) CRLF [ body ]
///   field     = token ":" OWS value OWS          (no whitespace before ':', no obsolete line folding)
///
/// Refusals, each with a fixed message (no allocation):
///   400  a malformed request line or field line, a bare CR or LF, a target not starting with '/',
///        an invalid or repeated-but-different Content-Length
///   413  Content-Length above max_body_bytes (the head is complete: the caller may skip the body)
///   431  request line and fields above max_head_bytes, or more than max_fields fields
///   417  an Expect other than 100-continue
///   501  any Transfer-Encoding (bodies are framed by Content-Length only)
///   505  an HTTP version other than 1.0 and 1.1
/// The views in HttpRequest point into the buffer given to parse_http_request and live as long as it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace aimastery {

struct HttpLimits {
  std::size_t max_head_bytes = 16384;  ///< request line and header fields, CRLFs included
  std::size_t max_fields = 100;
  std::size_t max_body_bytes = 8u << 20;
};

struct HttpField {
  std::string_view name, value;
};

/// One request; the vector keeps its capacity from one request to the next on a connection.
struct HttpRequest {
  std::string_view method, target, path, query, body;
  int minor_version = 1;  ///< HTTP/1.minor_version
  std::vector<HttpField> fields;
  std::size_t content_length = 0;
  bool keep_alive = true;        ///< HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive"
  bool expect_continue = false;  ///< "Expect: 100-continue"

  /// The value of the first field named `name` (ASCII case-insensitive), if any.
  [[nodiscard]] std::optional<std::string_view> field(std::string_view name) const noexcept;
};

enum class HttpParseState { incomplete, complete, refused };

struct HttpParseResult {
  HttpParseState state = HttpParseState::incomplete;
  bool head_complete = false;   ///< the fields are parsed (request's fields valid) even when incomplete
  std::size_t head_bytes = 0;   ///< request line and fields, final CRLF included (when head_complete)
  std::size_t total_bytes = 0;  ///< head_bytes + content_length (when head_complete)
  int status = 0;               ///< the refusal's HTTP status
  const char* message = "";     ///< the refusal's reason
};

/// Is `value` a valid header field value: no control character but HTAB (RFC 9110, field-value)? CR and
/// LF in a value written to a response would end the field, and the client would read what follows as
/// fields of their own or as the next response.
[[nodiscard]] constexpr bool http_field_value_valid(std::string_view value) noexcept {
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

namespace detail {

inline bool http_iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

/// tchar of RFC 9110: the characters of a method or a field name.
inline bool http_token_char(unsigned char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

/// Does the comma-separated list `value` hold `token` (case-insensitive, OWS around items)?
inline bool http_list_has(std::string_view value, std::string_view token) noexcept {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (http_iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

inline HttpParseResult http_refuse(int status, const char* message) noexcept {
  HttpParseResult r;
  r.state = HttpParseState::refused;
  r.status = status;
  r.message = message;
  return r;
}

}  // namespace detail

inline std::optional<std::string_view> HttpRequest::field(std::string_view name) const noexcept {
  for (const HttpField& f : fields)
    if (detail::http_iequals(f.name, name)) return f.value;
  return std::nullopt;
}

/// Parses the request at the start of `data` into `request` (its views point into `data`).
inline HttpParseResult parse_http_request(std::string_view data, const HttpLimits& limits, HttpRequest& request) {
  using detail::http_refuse;
  request.fields.clear();
  request.content_length = 0;
  request.expect_continue = false;
  request.body = {};

  // The head ends at the first empty line. Until it is there, only its size limit can refuse.
  const std::size_t end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (data.size() > limits.max_head_bytes) return http_refuse(431, "the request head exceeds the server's limit");
    return {};
  }
  const std::size_t head_bytes = end + 4;
  if (head_bytes > limits.max_head_bytes) return http_refuse(431, "the request head exceeds the server's limit");
  const std::string_view head = data.substr(0, end + 2);  // every line with its CRLF
  // A CR or LF anywhere but in a CRLF pair would let two parsers disagree on where a line ends.
  for (std::size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n'))
      return http_refuse(400, "a bare CR in the request head");
    if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) return http_refuse(400, "a bare LF in the request head");
  }

  // Request line: method SP target SP HTTP-version.
  const std::size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return http_refuse(400, "a malformed request line");
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return http_refuse(400, "a malformed request line");
  request.method = line.substr(0, sp1);
  request.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  for (const char c : request.method)
    if (!detail::http_token_char(static_cast<unsigned char>(c))) return http_refuse(400, "a malformed method");
  for (const char c : request.target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return http_refuse(400, "a malformed request target");
  if (request.target.front() != '/') return http_refuse(400, "the request target is not an absolute path");
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9')
    return http_refuse(400, "a malformed HTTP version");
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1'))
    return http_refuse(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  request.minor_version = version[7] - '0';
  const std::size_t question = request.target.find('?');
  request.path = request.target.substr(0, question);
  request.query = question == std::string_view::npos ? std::string_view() : request.target.substr(question + 1);

  // Fields.
  bool has_length = false, close = false, keep_alive = false;
  std::size_t pos = line_end + 2;
  while (pos < head.size()) {
    const std::size_t eol = head.find("\r\n", pos);
    const std::string_view field = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (request.fields.size() >= limits.max_fields) return http_refuse(431, "too many header fields");
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return http_refuse(400, "a malformed header field");
    const std::string_view name = field.substr(0, colon);
    for (const char c : name)  // also refuses obsolete line folding (a line starting with whitespace)
      if (!detail::http_token_char(static_cast<unsigned char>(c))) return http_refuse(400, "a malformed header name");
    std::string_view value = field.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (!http_field_value_valid(value)) return http_refuse(400, "a control character in a header value");
    request.fields.push_back({name, value});

    if (detail::http_iequals(name, "Content-Length")) {
      // 1*DIGIT, at most 19 digits (no overflow of 64 bits); repeated only with the same value.
      if (value.empty() || value.size() > 19) return http_refuse(400, "an invalid Content-Length");
      std::uint64_t n = 0;
      for (const char c : value) {
        if (c < '0' || c > '9') return http_refuse(400, "an invalid Content-Length");
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (has_length && n != request.content_length) return http_refuse(400, "conflicting Content-Length fields");
      if (n > limits.max_body_bytes) {
        HttpParseResult r = http_refuse(413, "the request body exceeds the server's limit");
        r.head_complete = true;
        r.head_bytes = head_bytes;
        request.content_length = n > SIZE_MAX - head_bytes ? SIZE_MAX - head_bytes : static_cast<std::size_t>(n);
        r.total_bytes = head_bytes + request.content_length;
        return r;
      }
      has_length = true;
      request.content_length = static_cast<std::size_t>(n);
    } else if (detail::http_iequals(name, "Transfer-Encoding")) {
      return http_refuse(501, "Transfer-Encoding is not supported: send the body with a Content-Length");
    } else if (detail::http_iequals(name, "Connection")) {
      close = close || detail::http_list_has(value, "close");
      keep_alive = keep_alive || detail::http_list_has(value, "keep-alive");
    } else if (detail::http_iequals(name, "Expect")) {
      if (!detail::http_iequals(value, "100-continue"))
        return http_refuse(417, "only Expect: 100-continue is supported");
      request.expect_continue = request.minor_version == 1;
    }
  }
  request.keep_alive = !close && (request.minor_version == 1 || keep_alive);

  HttpParseResult r;
  r.head_complete = true;
  r.head_bytes = head_bytes;
  r.total_bytes = head_bytes + request.content_length;
  if (data.size() < r.total_bytes) return r;
  request.body = data.substr(head_bytes, request.content_length);
  r.state = HttpParseState::complete;
  return r;
}

}  // namespace aimastery
