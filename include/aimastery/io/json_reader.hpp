#pragma once
/// \file
/// A strict pull reader of JSON text (RFC 8259) for file headers of a fixed shape, such as the
/// safetensors header (safetensors_read.hpp), and the parser of JsonValue (json.hpp): the caller walks the structure it
/// expects, asking for an object's members, an array's elements, a string or a non-negative integer, and names a value
/// of another kind as the problem. It builds no tree and never recurses: the depth is the caller's, and what it
/// allocates is the strings and numbers it returns.
///
///   ws      = *( %x20 / %x09 / %x0A / %x0D )
///   object  = ws "{" ws [ string ws ":" value *( ws "," ws string ws ":" value ) ] ws "}"
///   array   = ws "[" [ value *( ws "," value ) ] ws "]"
///   value   = ws ( object / array / string / number / "true" / "false" / "null" )
///   string  = %x22 *( unescaped / "\" ( %x22 / "\" / "/" / "b" / "f" / "n" / "r" / "t" / "u" 4HEXDIG ) ) %x22
///             unescaped: well-formed UTF-8 (json_string.hpp) other than %x00-1F, %x22 and "\";
///             \uD800-\uDBFF must be followed by \uDC00-\uDFFF (the pair is one code point), and a
///             \uDC00-\uDFFF must follow one; the result is UTF-8
///   number  = [ "-" ] ( "0" / %x31-39 *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ]
///             a non-negative integer is a number without "-", fraction or exponent, at most 2^64 - 1
///
/// Text that breaks the grammar is a FormatError "<context> (byte <k>: <problem>)".

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "aimastery/core/errors.hpp"
#include "aimastery/io/json_string.hpp"

namespace aimastery::detail {

class JsonReader {
 public:
  /// The kind of the next value, from its first byte.
  enum class Kind { object, array, string, number, literal };

  /// A number as read: its text, and its value when it is a non-negative integer of at most 2^64 - 1.
  struct Number {
    std::string_view text;
    std::optional<std::uint64_t> value;
  };

  /// Reads `text`; a syntax error is FormatError(context + " (byte k: problem)").
  JsonReader(std::span<const unsigned char> text, std::string context)
      : text_(reinterpret_cast<const char*>(text.data()), text.size()), context_(std::move(context)) {}
  JsonReader(std::string_view text, std::string context) : text_(text), context_(std::move(context)) {}

  /// The kind of the next value (after whitespace); the end of the text or a byte that starts no value
  /// is a syntax error.
  Kind peek() {
    skip_whitespace();
    if (at_end()) syntax_error("the text ends where a value should start");
    switch (text_[pos_]) {
      case '{':
        return Kind::object;
      case '[':
        return Kind::array;
      case '"':
        return Kind::string;
      case 't':
      case 'f':
      case 'n':
        return Kind::literal;
      default:
        if (text_[pos_] == '-' || is_digit(text_[pos_])) return Kind::number;
        syntax_error("unexpected " + describe_byte(pos_) + " where a value should start");
    }
  }

  /// "an object", "an array", "a string", "a number" or "true/false/null": the next value's kind, for messages.
  std::string_view describe_next() {
    switch (peek()) {
      case Kind::object:
        return "an object";
      case Kind::array:
        return "an array";
      case Kind::string:
        return "a string";
      case Kind::number:
        return "a number";
      case Kind::literal:
        return "true, false or null";
    }
    return "a value";
  }

  /// An object at the next value: calls member(name) for each member, the reader then at its value,
  /// which member must read whole.
  template <class Member>
  void read_object(Member&& member) {
    expect('{');
    if (consume('}')) return;
    do {
      skip_whitespace();
      if (at_end() || text_[pos_] != '"') syntax_error("expected a member name, found " + describe_byte(pos_));
      const std::string name = read_string();
      expect(':');
      member(name);
    } while (consume(','));
    expect('}', "',' or '}'");
  }

  /// An array at the next value: calls element(k) for the k-th element, which it must read whole.
  template <class Element>
  void read_array(Element&& element) {
    expect('[');
    if (consume(']')) return;
    std::size_t k = 0;
    do element(k++);
    while (consume(','));
    expect(']', "',' or ']'");
  }

  /// A string at the next value, its escapes decoded, as UTF-8.
  std::string read_string() {
    expect('"');
    std::string out;
    for (;;) {
      if (at_end()) syntax_error("a string is not closed");
      const char c = text_[pos_];
      const auto u = static_cast<unsigned char>(c);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '\\') {
        read_escape(out);
      } else if (u < 0x20) {
        syntax_error("a control character (" + describe_byte(pos_) + ") inside a string, where it must be escaped");
      } else {
        const std::size_t n = utf8_sequence_length(text_, pos_);
        if (n == 0) syntax_error("invalid UTF-8 in a string (" + describe_byte(pos_) + ")");
        out.append(text_, pos_, n);
        pos_ += n;
      }
    }
  }

  /// A number at the next value (the whole grammar is checked, whatever its kind).
  Number read_number() {
    skip_whitespace();
    const std::size_t start = pos_;
    const bool negative = consume_byte('-');
    if (at_end() || !is_digit(text_[pos_])) syntax_error("a number needs a digit here");
    bool integer = !negative;
    std::uint64_t value = 0;
    if (text_[pos_] == '0') {
      ++pos_;
      if (!at_end() && is_digit(text_[pos_])) syntax_error("a number with a leading zero");
    } else {
      for (; !at_end() && is_digit(text_[pos_]); ++pos_) {
        const auto d = static_cast<std::uint64_t>(text_[pos_] - '0');
        if (value > (UINT64_MAX - d) / 10) integer = false;  // beyond 2^64 - 1
        value = value * 10 + d;
      }
    }
    if (consume_byte('.')) {
      integer = false;
      if (!digits()) syntax_error("a fraction needs a digit after '.'");
    }
    if (consume_byte('e') || consume_byte('E')) {
      integer = false;
      if (!consume_byte('+')) consume_byte('-');
      if (!digits()) syntax_error("an exponent needs a digit");
    }
    Number out;
    out.text = text_.substr(start, pos_ - start);
    if (integer) out.value = value;
    return out;
  }

  /// true, false or null at the next value: true, false, or std::nullopt for null.
  std::optional<bool> read_literal() {
    skip_whitespace();
    for (const std::string_view word :
         {std::string_view("true"), std::string_view("false"), std::string_view("null")}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        if (word == "null") return std::nullopt;
        return word == "true";
      }
    }
    syntax_error("expected true, false or null, found " + describe_byte(pos_));
  }

  /// The end of the text, after whitespace.
  void expect_end() {
    skip_whitespace();
    if (!at_end()) syntax_error(describe_byte(pos_) + " after the end of the value");
  }

  /// The byte offset of the next unread byte.
  [[nodiscard]] std::size_t position() const noexcept { return pos_; }

  [[noreturn]] void syntax_error(const std::string& problem) const {
    throw FormatError(context_ + " (byte " + std::to_string(pos_) + ": " + problem + ")");
  }

 private:
  static bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
  [[nodiscard]] bool at_end() const noexcept { return pos_ >= text_.size(); }

  void skip_whitespace() noexcept {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  bool consume_byte(char c) noexcept {
    if (at_end() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  /// Whitespace, then c if it is next.
  bool consume(char c) noexcept {
    skip_whitespace();
    return consume_byte(c);
  }
  void expect(char c, std::string_view what = {}) {
    if (!consume(c))
      syntax_error("expected " + (what.empty() ? "'" + std::string(1, c) + "'" : std::string(what)) + ", found " +
                   describe_byte(pos_));
  }
  bool digits() noexcept {
    const std::size_t start = pos_;
    while (!at_end() && is_digit(text_[pos_])) ++pos_;
    return pos_ > start;
  }
  /// "'x'", "the byte 0x0a" or "the end of the text", for messages.
  [[nodiscard]] std::string describe_byte(std::size_t at) const {
    if (at >= text_.size()) return "the end of the text";
    const auto u = static_cast<unsigned char>(text_[at]);
    if (u >= 0x20 && u < 0x7F) return "'" + std::string(1, text_[at]) + "'";
    constexpr char hex[] = "0123456789abcdef";
    return std::string("the byte 0x") + hex[u >> 4] + hex[u & 15];
  }
  /// Four hex digits of a \u escape.
  char32_t hex4() {
    char32_t v = 0;
    for (int k = 0; k < 4; ++k, ++pos_) {
      if (at_end()) syntax_error("a \\u escape needs four hex digits");
      const char c = text_[pos_];
      const int d = is_digit(c)            ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (d < 0) syntax_error("a \\u escape needs four hex digits, found " + describe_byte(pos_));
      v = v * 16 + static_cast<char32_t>(d);
    }
    return v;
  }
  /// One escape at the backslash, decoded onto `out`.
  void read_escape(std::string& out) {
    ++pos_;
    if (at_end()) syntax_error("a string is not closed");
    const char c = text_[pos_];
    switch (c) {
      case '"':
      case '\\':
      case '/':
        out += c;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        ++pos_;
        char32_t code = hex4();
        if (code >= 0xDC00 && code <= 0xDFFF) {
          pos_ -= 6;
          syntax_error("an unpaired low surrogate \\u" + std::string(text_.substr(pos_ + 2, 4)));
        }
        if (code >= 0xD800 && code <= 0xDBFF) {
          if (!(consume_byte('\\') && consume_byte('u')))
            syntax_error("the high surrogate \\u" + std::string(text_.substr(pos_ - 4, 4)) +
                         " is not followed by a low surrogate");
          const char32_t low = hex4();
          if (low < 0xDC00 || low > 0xDFFF)
            syntax_error("the high surrogate \\u" + std::string(text_.substr(pos_ - 10, 4)) + " is followed by \\u" +
                         std::string(text_.substr(pos_ - 4, 4)) + ", not a low surrogate");
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, code);
        return;  // pos_ is past the escape
      }
      default:
        syntax_error(c > 0x20 && c < 0x7F ? "the invalid escape \\" + std::string(1, c) + " in a string"
                                          : "a backslash before " + describe_byte(pos_) + " in a string");
    }
    ++pos_;
  }

  std::string_view text_;
  std::string context_;
  std::size_t pos_ = 0;
};

}  // namespace aimastery::detail
