#pragma once
/// \file
/// ContextAssembler: turns retrieval results into the context a generator reads, within a token budget,
/// with numbered citations that point back at exact passages.
///
///   ContextAssembler assembler(count_wordpieces(tokenizer), {.max_tokens = 384});
///   AssembledContext context = assembler.assemble(retriever.retrieve(question, 10));
///   context.text          // "[1] BM25 scores a document by ...\n\n[2] ..."
///   context.passages[0]   // number 1: its text, document id, byte offsets, score
///
/// Three steps:
///  1. Merge. Results of one document whose byte ranges overlap or touch ([a, b) and [c, d) with c <= b)
///     become one passage [a, max(b, d)): its text is the first chunk's text followed by the part of the
///     second beyond b, which is again the exact document passage (chunks are exact passages). A merged
///     passage keeps the best score and the best rank of its chunks.
///  2. Select. Passages are taken in score order (ties: the better retrieval rank) while the context,
///     labels and separators included, stays within `max_tokens`; a passage that would not fit is left
///     out and the next one is tried, so a long passage never pushes out shorter better-fitting ones.
///     Passages are never cut: a citation always covers the whole passage the generator saw.
///  3. Order and number. By score, or by document position (documents in the order of their best
///     passage, passages by offset): positional order reads better when passages of one document
///     continue each other. Passage i gets the label "[i]".
///
/// The budget is counted by a TokenCounter: count_wordpieces(tokenizer) counts the word pieces of the
/// embedding model's WordPieceTokenizer, count_words the whitespace-separated words (when no tokenizer is
/// at hand). Both are additive over whitespace-separated parts, so the count of the whole context is the
/// sum of the counts of its labels and passages, and `tokens` is measured on the final text.

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/attention/wordpiece_tokenizer.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"

namespace aimastery {

/// Counts the tokens of a text (the unit of the context budget).
using TokenCounter = std::function<Index(std::string_view)>;

/// The word pieces of `tokenizer` ([CLS]/[SEP] not counted, no truncation).
template <class Unused = void>
TokenCounter count_wordpieces(std::shared_ptr<const WordPieceTokenizer> tokenizer) {
  require(tokenizer != nullptr, "count_wordpieces", "the tokenizer is null");
  return [tokenizer = std::move(tokenizer)](std::string_view text) { return tokenizer->count_pieces(text); };
}

/// Maximal runs of non-whitespace bytes (ASCII whitespace).
inline Index count_words(std::string_view text) {
  Index words = 0;
  bool in_word = false;
  for (const char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

enum class ContextOrder { score, document_position };

struct ContextAssemblerOptions {
  Index max_tokens = 512;  ///< budget of the whole context text, labels and separators included
  ContextOrder order = ContextOrder::score;
  bool merge = true;               ///< merge overlapping or adjacent chunks of one document
  std::string separator = "\n\n";  ///< between passages
};

/// One passage of the context: "[number] text".
struct ContextPassage {
  Index number = 0;     ///< its label [number], from 1
  std::string text;     ///< the exact document passage
  Citation citation;    ///< document id and the byte range [start, end) of `text`
  double score = 0;     ///< the best score of the chunks merged into it
  Index best_rank = 0;  ///< the best retrieval rank among them
  Index tokens = 0;     ///< tokens of `text`
};

struct AssembledContext {
  std::string text;                      ///< the labelled passages, joined by the separator
  std::vector<ContextPassage> passages;  ///< in context order; passages[i].number == i + 1
  Index tokens = 0;                      ///< tokens of `text`, <= max_tokens
  Index left_out = 0;                    ///< passages (after merging) that did not fit the budget

  /// The passage labelled [number].
  [[nodiscard]] const ContextPassage& passage(Index number) const {
    require(number >= 1 && number <= static_cast<Index>(passages.size()), "AssembledContext::passage", [&] {
      return "no passage [" + std::to_string(number) + "]: the context has " + std::to_string(passages.size());
    });
    return passages[static_cast<std::size_t>(number - 1)];
  }
};

template <class Unused = void>
class BasicContextAssembler {
 public:
  BasicContextAssembler(TokenCounter count_tokens, ContextAssemblerOptions options = {})
      : count_tokens_(std::move(count_tokens)), options_(std::move(options)) {
    constexpr std::string_view where = "ContextAssembler";
    require(static_cast<bool>(count_tokens_), where, "the token counter is empty");
    require(options_.max_tokens >= 1, where,
            [&] { return "max_tokens must be at least 1, got " + std::to_string(options_.max_tokens); });
  }

  [[nodiscard]] const ContextAssemblerOptions& options() const noexcept { return options_; }

  /// The context of `results` (any order; ranks and scores as the retriever gave them).
  [[nodiscard]] AssembledContext assemble(std::span<const RetrievalResult> results) const {
    for (const RetrievalResult& r : results) check(r);
    std::vector<ContextPassage> candidates = options_.merge ? merged(results) : unmerged(results);
    for (ContextPassage& p : candidates) p.tokens = count_tokens_(p.text);

    // 2. Select by score within the budget. Every label is counted as the widest one ("[n]" with n the
    // number of candidates) and every passage pays one separator, so the final text is within budget.
    std::ranges::stable_sort(candidates, [](const ContextPassage& a, const ContextPassage& b) {
      return a.score != b.score ? a.score > b.score : a.best_rank < b.best_rank;
    });
    const Index label_tokens = count_tokens_(label(static_cast<Index>(candidates.size())));
    const Index separator_tokens = count_tokens_(options_.separator);
    AssembledContext context;
    Index used = 0;
    for (ContextPassage& p : candidates) {
      const Index cost = label_tokens + p.tokens + (context.passages.empty() ? 0 : separator_tokens);
      if (used + cost > options_.max_tokens) {
        ++context.left_out;
        continue;
      }
      used += cost;
      context.passages.push_back(std::move(p));
    }

    // 3. Order and number.
    if (options_.order == ContextOrder::document_position) order_by_position(context.passages);
    Index number = 0;
    for (ContextPassage& p : context.passages) {
      p.number = ++number;
      if (number > 1) context.text += options_.separator;
      context.text += label(number);
      context.text += p.text;
    }
    context.tokens = count_tokens_(context.text);
    return context;
  }

 private:
  static std::string label(Index number) { return "[" + std::to_string(number) + "] "; }

  static void check(const RetrievalResult& r) {
    require(r.chunk.end >= r.chunk.start && r.chunk.text.size() == r.chunk.end - r.chunk.start,
            "ContextAssembler::assemble", [&] {
              return "chunk " + r.chunk.id() + " has " + std::to_string(r.chunk.text.size()) +
                     " bytes of text for the byte range [" + std::to_string(r.chunk.start) + ", " +
                     std::to_string(r.chunk.end) + ")";
            });
  }

  static ContextPassage passage_of(const RetrievalResult& r) {
    ContextPassage p;
    p.text = r.chunk.text;
    p.citation = {r.chunk.document_id, r.chunk.start, r.chunk.end, r.chunk.heading};
    p.score = r.score;
    p.best_rank = r.rank;
    return p;
  }

  static std::vector<ContextPassage> unmerged(std::span<const RetrievalResult> results) {
    std::vector<ContextPassage> out;
    for (const RetrievalResult& r : results) out.push_back(passage_of(r));
    return out;
  }

  // 1. Per document, sweep the chunks by start offset; a chunk starting at or before the end of the
  // running passage extends it by its bytes past that end.
  static std::vector<ContextPassage> merged(std::span<const RetrievalResult> results) {
    std::map<std::string_view, std::vector<const RetrievalResult*>> by_document;
    for (const RetrievalResult& r : results) by_document[r.chunk.document_id].push_back(&r);
    std::vector<ContextPassage> out;
    for (auto& entry : by_document) {
      const std::string_view document_id = entry.first;  // named: clang 14's lambdas cannot capture bindings
      std::vector<const RetrievalResult*>& chunks = entry.second;
      std::ranges::stable_sort(chunks, [](const RetrievalResult* a, const RetrievalResult* b) {
        return a->chunk.start != b->chunk.start ? a->chunk.start < b->chunk.start : a->chunk.end > b->chunk.end;
      });
      ContextPassage current = passage_of(*chunks.front());
      for (std::size_t i = 1; i < chunks.size(); ++i) {
        const RetrievalResult& next = *chunks[i];
        if (next.chunk.start > current.citation.end) {
          out.push_back(std::move(current));
          current = passage_of(next);
          continue;
        }
        const std::size_t shared = current.citation.end - next.chunk.start;
        const std::size_t shared_in_next = std::min(shared, next.chunk.text.size());
        require(std::string_view(current.text).substr(current.text.size() - shared, shared_in_next) ==
                    std::string_view(next.chunk.text).substr(0, shared_in_next),
                "ContextAssembler::assemble", [&] {
                  return "chunks of document " + std::string(document_id) +
                         " overlap but disagree on their shared bytes at offset " + std::to_string(next.chunk.start) +
                         ": they are not passages of one text";
                });
        if (next.chunk.end > current.citation.end) {
          current.text.append(next.chunk.text, shared);
          current.citation.end = next.chunk.end;
        }
        current.score = std::max(current.score, next.score);
        current.best_rank = std::min(current.best_rank, next.rank);
      }
      out.push_back(std::move(current));
    }
    return out;
  }

  // Documents in the order of their best passage (by score, as selected), passages by offset.
  static void order_by_position(std::vector<ContextPassage>& passages) {
    std::map<std::string, std::size_t> first_seen;  // owned keys: sorting moves the passages
    for (std::size_t i = 0; i < passages.size(); ++i) first_seen.emplace(passages[i].citation.document_id, i);
    std::ranges::stable_sort(passages, [&](const ContextPassage& a, const ContextPassage& b) {
      const std::size_t da = first_seen.at(a.citation.document_id), db = first_seen.at(b.citation.document_id);
      return da != db ? da < db : a.citation.start < b.citation.start;
    });
  }

  TokenCounter count_tokens_;
  ContextAssemblerOptions options_;
};

/// (BasicContextAssembler is a class template only so that it is compiled where it is used.)
using ContextAssembler = BasicContextAssembler<>;

}  // namespace aimastery
