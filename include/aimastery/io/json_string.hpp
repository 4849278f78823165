#pragma once
/// \file
/// JSON string text (RFC 8259 section 7) for the small JSON reader and writer of the file headers
/// (json_reader.hpp, safetensors_write.hpp): checking UTF-8, encoding a code point, and writing a string
/// with the escapes nlohmann::json's dump() uses, so that the bytes are the same as its.
///
/// UTF-8 (RFC 3629, the Unicode standard's table 3-7), the only well-formed sequences:
///
///   00..7F
///   C2..DF  80..BF
///   E0      A0..BF  80..BF        (no overlong form)
///   E1..EC  80..BF  80..BF
///   ED      80..9F  80..BF        (no surrogate D800..DFFF)
///   EE..EF  80..BF  80..BF
///   F0      90..BF  80..BF  80..BF
///   F1..F3  80..BF  80..BF  80..BF
///   F4      80..8F  80..BF  80..BF (nothing beyond U+10FFFF)
///
/// Escapes written: \" and \\, the control characters \b \f \n \r \t and \u00XX (lower-case hex) for
/// the others below 0x20; every other byte as it is (DEL and '/' too).

#include <cstddef>
#include <string>
#include <string_view>

namespace aimastery::detail {

/// The length of the well-formed UTF-8 sequence starting at s[i], or 0 when it is not one.
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  const auto in = [](unsigned b, unsigned lo, unsigned hi) { return b >= lo && b <= hi; };
  const unsigned b0 = byte(0);
  if (i >= s.size()) return 0;
  if (b0 < 0x80) return 1;
  if (in(b0, 0xC2, 0xDF)) return in(byte(1), 0x80, 0xBF) ? 2 : 0;
  if (in(b0, 0xE0, 0xEF)) {
    const unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
    return in(byte(1), lo, hi) && in(byte(2), 0x80, 0xBF) ? 3 : 0;
  }
  if (in(b0, 0xF0, 0xF4)) {
    const unsigned lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return in(byte(1), lo, hi) && in(byte(2), 0x80, 0xBF) && in(byte(3), 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

/// Whether `s` is well-formed UTF-8.
inline bool is_valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

/// Appends the UTF-8 encoding of the code point c (at most U+10FFFF, not a surrogate).
inline void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

/// Appends `s` as a quoted JSON string; false (and `out` unchanged) when `s` is not valid UTF-8.
inline bool append_json_string(std::string& out, std::string_view s) {
  if (!is_valid_utf8(s)) return false;
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          constexpr char hex[] = "0123456789abcdef";
          out += "\\u00";
          out += hex[u >> 4];
          out += hex[u & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return true;
}

}  // namespace aimastery::detail
