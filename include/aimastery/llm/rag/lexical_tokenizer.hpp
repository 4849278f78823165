#pragma once
/// \file
/// LexicalTokenizer: the words BM25 and the hashing embedder count.
///
///   LexicalTokenizer tok({.remove_stopwords = true});
///   tok.tokenize("The BM25-score, in Lucene!")   // {"bm25", "score", "lucene"}
///
/// The rule, stated so that another library can be fed the same tokens:
///   - a token is a maximal run of word bytes: ASCII letters and digits, and every byte >= 0x80 (so a
///     UTF-8 word in any script stays whole; it is not case-folded);
///   - everything else (ASCII spaces, punctuation, controls) separates tokens;
///   - ASCII letters are lower-cased;
///   - optionally, Lucene's 33 English stop words (bm25s' STOPWORDS_EN) are dropped.
/// In Python: [t.lower() for t in re.findall(rb"[A-Za-z0-9\x80-\xff]+", text.encode())].

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace aimastery {

struct LexicalTokenizerOptions {
  bool remove_stopwords = false;
};

template <class Unused = void>
class BasicLexicalTokenizer {
 public:
  explicit BasicLexicalTokenizer(LexicalTokenizerOptions options = {}) : options_(options) {}

  [[nodiscard]] const LexicalTokenizerOptions& options() const noexcept { return options_; }

  /// Calls token(view) for every token; the view is valid during the call only.
  template <class Sink>
  void for_each_token(std::string_view text, Sink&& token) const {
    std::string word;
    for (std::size_t i = 0; i <= text.size(); ++i) {
      const auto c = i < text.size() ? static_cast<unsigned char>(text[i]) : 0;
      const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (letter || (c >= '0' && c <= '9') || c >= 0x80) {
        word.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
      } else if (!word.empty()) {
        if (!(options_.remove_stopwords && is_stopword(word))) token(std::string_view(word));
        word.clear();
      }
    }
  }

  [[nodiscard]] std::vector<std::string> tokenize(std::string_view text) const {
    std::vector<std::string> out;
    for_each_token(text, [&](std::string_view t) { out.emplace_back(t); });
    return out;
  }

  /// Lucene's English stop words.
  static bool is_stopword(std::string_view word) {
    static constexpr std::array<std::string_view, 33> words = {
        "a",   "an",    "and",  "are",   "as",    "at",   "be",   "but", "by",  "for",  "if",
        "in",  "into",  "is",   "it",    "no",    "not",  "of",   "on",  "or",  "such", "that",
        "the", "their", "then", "there", "these", "they", "this", "to",  "was", "will", "with"};
    return std::binary_search(words.begin(), words.end(), word);
  }

 private:
  LexicalTokenizerOptions options_;
};

/// (BasicLexicalTokenizer is a class template only so that it is compiled where it is used.)
using LexicalTokenizer = BasicLexicalTokenizer<>;

}  // namespace aimastery
