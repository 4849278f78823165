#pragma once
/// \file
/// An HTTP/1.1 response and its bytes on the wire: the status line, Content-Type, Content-Length and
/// Connection fields, and the body, appended to one buffer so that the whole response leaves in one
/// write (one TCP segment on loopback when it fits).
///
///   HTTP/1.1 SP status SP reason CRLF
///   Content-Type: type CRLF            (when the response has one)
///   Content-Length: n CRLF
///   Retry-After: seconds CRLF          (when set: a 503 that tells when to come back)
///   Connection: keep-alive | close CRLF
///   CRLF body                           (no body for HEAD; Content-Length still gives the GET's size)

#include <charconv>
#include <string>
#include <string_view>

namespace aimastery {

struct HttpResponse {
  int status = 200;
  std::string content_type = {};
  std::string body = {};
  int retry_after_seconds = 0;  ///< > 0: a Retry-After field (RFC 9110 10.2.3), for a refusal under load

  void clear() {
    status = 200;
    content_type.clear();
    body.clear();
    retry_after_seconds = 0;
  }
};

/// The reason phrase of the statuses the server sends (RFC 9110); "Unknown" for others.
[[nodiscard]] constexpr std::string_view http_reason(int status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

/// Appends the response's bytes to `out` (the caller checks the Content-Type: http_field_value_valid,
/// http_request.hpp).
inline void append_http_response(std::string& out, const HttpResponse& response, bool keep_alive, bool head_only) {
  const auto append_decimal = [&out](auto value) {
    char digits[24];
    out.append(digits, static_cast<std::size_t>(std::to_chars(digits, digits + sizeof digits, value).ptr - digits));
  };
  out += "HTTP/1.1 ";
  const int status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  append_decimal(status);
  out += ' ';
  out += http_reason(status);
  out += "\r\n";
  if (!response.content_type.empty()) {
    out += "Content-Type: ";
    out += response.content_type;
    out += "\r\n";
  }
  out += "Content-Length: ";
  append_decimal(response.body.size());
  out += "\r\n";
  if (response.retry_after_seconds > 0) {
    out += "Retry-After: ";
    append_decimal(response.retry_after_seconds);
    out += "\r\n";
  }
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (!head_only) out += response.body;
}

/// {"error": message} for the refusals of the HTTP layer (messages of printable ASCII; others escaped).
[[nodiscard]] inline std::string http_error_json(std::string_view message) {
  std::string body = "{\"error\":\"";
  for (const char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      body += '\\';
      body += c;
    } else if (u < 0x20 || u >= 0x7f) {
      constexpr char hex[] = "0123456789abcdef";
      body += "\\u00";
      body += hex[u >> 4];
      body += hex[u & 15];
    } else {
      body += c;
    }
  }
  body += "\"}";
  return body;
}

}  // namespace aimastery
