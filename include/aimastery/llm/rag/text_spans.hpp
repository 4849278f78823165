#pragma once
/// \file
/// Byte ranges of UTF-8 text: sentences and trimming, shared by the TextChunker and the extractive
/// generator.
///
///   for (const TextSpan s : sentence_spans(text))
///     std::cout << text.substr(s.start, s.end - s.start) << "|";
///
/// A sentence ends at a run of . ! ? 。！？ (with closing quotes or brackets) followed by whitespace or
/// the end of the text, or at a blank line; the whitespace after it belongs to it, so the spans tile the
/// text exactly. Whitespace is Unicode whitespace as BERT's normaliser defines it.

#include <cstddef>
#include <string_view>
#include <vector>

#include "aimastery/llm/attention/wordpiece_tokenizer.hpp"

namespace aimastery {

/// The byte range [start, end) of a text.
struct TextSpan {
  std::size_t start = 0;
  std::size_t end = 0;
  friend bool operator==(const TextSpan&, const TextSpan&) = default;
};

/// Whether code point c is whitespace (BERT's definition).
inline bool is_unicode_space(char32_t c) {
  return (detail::unicode::FlagTable::instance()(c) & detail::unicode::kSpace) != 0;
}

/// The sentences of text[within.start, within.end), tiling it.
template <class Unused = void>
std::vector<TextSpan> sentence_spans(std::string_view text, TextSpan within) {
  const auto terminal = [](char32_t c) {
    return c == '.' || c == '!' || c == '?' || c == 0x3002 || c == 0xFF01 || c == 0xFF1F;
  };
  const auto closing = [](char32_t c) {
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == 0x201D || c == 0x2019 || c == 0xBB;
  };
  const std::string_view part = text.substr(0, within.end);
  std::vector<TextSpan> out;
  std::size_t s = within.start, i = within.start;
  while (i < within.end) {
    std::size_t j = i;
    const char32_t c = detail::unicode::decode_utf8(part, j);
    bool boundary = false;
    std::size_t after = j;
    if (terminal(c)) {
      std::size_t k = j;
      while (k < within.end) {  // more terminals and closers
        std::size_t m = k;
        const char32_t d = detail::unicode::decode_utf8(part, m);
        if (!terminal(d) && !closing(d)) break;
        k = m;
      }
      after = k;
      boundary = k == within.end || [&] {
        std::size_t m = k;
        return is_unicode_space(detail::unicode::decode_utf8(part, m));
      }();
    } else if (c == '\n') {
      std::size_t k = j;  // a blank line: "\n", optional spaces, "\n"
      while (k < within.end && (part[k] == ' ' || part[k] == '\t' || part[k] == '\r')) ++k;
      boundary = k < within.end && part[k] == '\n';
      after = j;
    }
    if (boundary) {
      while (after < within.end) {  // the whitespace after the sentence
        std::size_t m = after;
        if (!is_unicode_space(detail::unicode::decode_utf8(part, m))) break;
        after = m;
      }
      out.push_back({s, after});
      s = i = after;
    } else {
      i = j;
    }
  }
  if (s < within.end) out.push_back({s, within.end});
  return out;
}

/// The sentences of the whole text.
template <class Unused = void>
std::vector<TextSpan> sentence_spans(std::string_view text) {
  return sentence_spans(text, {0, text.size()});
}

/// `span` without the whitespace at its ends.
inline TextSpan trim_span(std::string_view text, TextSpan span) {
  while (span.start < span.end) {
    std::size_t m = span.start;
    if (!is_unicode_space(detail::unicode::decode_utf8(text.substr(0, span.end), m))) break;
    span.start = m;
  }
  while (span.end > span.start) {
    std::size_t b = span.end - 1;  // the start of the last code point
    while (b > span.start && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) --b;
    std::size_t m = b;
    const char32_t c = detail::unicode::decode_utf8(text.substr(0, span.end), m);
    if (m != span.end || !is_unicode_space(c)) break;
    span.end = b;
  }
  return span;
}

}  // namespace aimastery
