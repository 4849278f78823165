#pragma once
/// \file
/// TextChunker: cuts documents into chunks that are exact passages of their text.
///
///   TextChunker chunker({.strategy = ChunkingStrategy::fixed, .unit = ChunkUnit::words,
///                        .size = 200, .overlap = 40});
///   for (const Chunk& c : chunker.split(doc))
///     assert(doc.text.substr(c.start, c.end - c.start) == c.text);
///
/// Every chunk is the byte range [start, end) of its document's UTF-8 text, and a chunk never begins or
/// ends inside a code point. Sizes and overlaps are counted in one of three units:
///   characters  Unicode code points;
///   words       maximal runs of non-whitespace code points (whitespace as BERT's normaliser defines it);
///   tokens      the word pieces of a WordPieceTokenizer (the tokenizer of the embedding model).
///
/// Four strategies:
///
///  fixed       windows of exactly `size` units, each starting `size − overlap` units after the
///              previous one, so consecutive chunks share exactly `overlap` units (the last window may be
///              shorter). A window is the passage from the start of its first unit to the end of its
///              last, whitespace between units included. In token units, each word piece of the
///              document's tokenisation is located in the text (see below), so a window may begin or end
///              inside a word ("un|##aff|##able"): the counts are those of the whole document's
///              tokenisation, and a chunk tokenised alone may give a few more pieces at its cut edges.
///  sentence    sentences (ending at . ! ? 。！？ and closing quotes or brackets, followed by whitespace;
///              or at a blank line) packed greedily into chunks of at most `size` units; a sentence
///              longer than `size` is cut at spaces, then between code points.
///  recursive   the text is cut at the first separator of a hierarchy (default: blank line, line break,
///              ". ", space, and "" = between code points) that occurs; pieces still longer than `size`
///              are cut at the next separator; the pieces are then packed greedily into chunks of at most
///              `size` units (LangChain's RecursiveCharacterTextSplitter, with offsets kept).
///  markdown    sections start at ATX headings ("#" to "######" at the start of a line, outside fenced
///              code blocks); each section is chunked recursively on its own, and its chunks carry the
///              heading path ("Install > From source") in Chunk::heading and in the metadata "heading".
///
/// In the packing strategies (sentence, recursive, markdown) the hierarchy cuts the text into pieces of
/// at most size − overlap units, packed greedily into chunks of at most `size`; a chunk is trimmed of
/// surrounding whitespace and measured after trimming. Each chunk after the first opens with exactly the
/// last `overlap` units of the chunk before it (units of that chunk's text: in characters this may begin
/// inside a word and with whitespace, which is then kept), then takes whole pieces. A piece that had to be
/// cut further starts a chunk, and so does the piece after it, but the overlap runs across those cuts: it
/// is never dropped. A chunk no longer than the overlap runs on into the next piece (alone, the next chunk
/// would contain it); a piece that does not fit beside the overlap is cut finer. Fewer than `overlap` units
/// are shared only where nothing finer exists: a code point that does not fit beside them (in characters,
/// after whitespace so long that overlap, whitespace and one code point exceed `size`; in tokens, a Hangul
/// syllable's pieces, or an overlap that begins inside a word and takes more pieces tokenised afresh).
/// Markdown sections start fresh chunks. A single code point that alone is more than `size` units (a
/// Hangul syllable is two or three word pieces) is a chunk of its own: nothing smaller can be cut.
///
/// Metadata in the budget: the keys of `metadata_in_budget` are rendered before each chunk's text for the
/// embedder ("key: value" lines; "heading" is the Markdown heading path; embedding_text), and their size
/// counts in `size`: the chunk's own text gets the rest. When that leaves no room for the overlap and one
/// more unit, split() throws InvalidArgument naming the document and the budget.
///
/// Locating word pieces: the text is cut into whitespace-separated runs, and each run is tokenised. Each
/// code point's normalised image (lower-cased, accents removed: `WordPieceTokenizer::normalize` of the code
/// point alone) is laid end to end, and the pieces (their "##" dropped) are matched against that string
/// word by word; a piece covers the code points whose images it spans, and [UNK] covers its whole word.
/// Two pieces that split one code point's image (a Hangul syllable's jamo) both contain that code point.
/// A run whose normalisation is not the concatenation of its code points' images (it holds a special
/// token such as "[SEP]") is one passage for all its pieces: the first piece covers it, the others are
/// empty at its end.
///
/// Bad options (size 0, a negative overlap, overlap >= size, token units without a tokenizer, an
/// empty separator list, an empty metadata key) are InvalidArgument, thrown by the constructor.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/attention/wordpiece_tokenizer.hpp"
#include "aimastery/llm/rag/document.hpp"
#include "aimastery/llm/rag/text_spans.hpp"

namespace aimastery {

enum class ChunkingStrategy { fixed, sentence, recursive, markdown };
enum class ChunkUnit { characters, words, tokens };

/// "fixed", "sentence", "recursive" or "markdown".
inline std::string_view to_string(ChunkingStrategy strategy) noexcept {
  switch (strategy) {
    case ChunkingStrategy::fixed:
      return "fixed";
    case ChunkingStrategy::sentence:
      return "sentence";
    case ChunkingStrategy::recursive:
      return "recursive";
    case ChunkingStrategy::markdown:
      return "markdown";
  }
  return "unknown";
}

/// "characters", "words" or "tokens".
inline std::string_view to_string(ChunkUnit unit) noexcept {
  switch (unit) {
    case ChunkUnit::characters:
      return "characters";
    case ChunkUnit::words:
      return "words";
    case ChunkUnit::tokens:
      return "tokens";
  }
  return "unknown";
}

struct TextChunkerOptions {
  ChunkingStrategy strategy = ChunkingStrategy::recursive;
  ChunkUnit unit = ChunkUnit::characters;
  Index size = 1000;  ///< units per chunk (at most; exactly for `fixed` except the last window)
  Index overlap = 0;  ///< units shared by consecutive chunks; 0 <= overlap < size
  /// The separator hierarchy of `recursive` and `markdown` ("" = between any two code points, always
  /// added last if missing).
  std::vector<std::string> separators = {"\n\n", "\n", ". ", " ", ""};
  /// The tokenizer that counts ChunkUnit::tokens (shared, so chunkers are cheap to copy).
  std::shared_ptr<const WordPieceTokenizer> tokenizer = nullptr;
  /// Metadata keys rendered before each chunk's text for the embedder ("key: value" lines, in this order;
  /// "heading" is the Markdown heading path): their size counts in the chunk budget (embedding_text).
  std::vector<std::string> metadata_in_budget = {};
};

template <class Unused = void>
class BasicTextChunker {
 public:
  explicit BasicTextChunker(TextChunkerOptions options = {}) : options_(std::move(options)) {
    constexpr std::string_view where = "TextChunker";
    require(options_.size > 0, where, [&] { return "size must be positive, got " + std::to_string(options_.size); });
    require(options_.overlap >= 0, where,
            [&] { return "overlap must not be negative, got " + std::to_string(options_.overlap); });
    require(options_.overlap < options_.size, where, [&] {
      return "overlap " + std::to_string(options_.overlap) + " must be smaller than size " +
             std::to_string(options_.size);
    });
    require(options_.unit != ChunkUnit::tokens || options_.tokenizer != nullptr, where,
            "ChunkUnit::tokens needs a tokenizer (options.tokenizer is null)");
    require(!options_.separators.empty() || options_.strategy == ChunkingStrategy::fixed ||
                options_.strategy == ChunkingStrategy::sentence,
            where, "the separator list is empty");
    for (const std::string& key : options_.metadata_in_budget)
      require(!key.empty(), where, "a key of metadata_in_budget is empty");
    if (options_.separators.empty() || !options_.separators.back().empty()) options_.separators.emplace_back();
  }

  [[nodiscard]] const TextChunkerOptions& options() const noexcept { return options_; }

  /// The chunks of one document, in text order, each with the document's id and metadata.
  [[nodiscard]] std::vector<Chunk> split(const Document& document) const {
    std::vector<Chunk> chunks;
    for (const Piece& p : pieces(document.text, document.metadata, document.id + " (" + document.source + ")")) {
      Chunk c;
      c.document_id = document.id;
      c.start = p.span.start;
      c.end = p.span.end;
      c.text = document.text.substr(p.span.start, p.span.end - p.span.start);
      c.heading = p.heading;
      c.metadata = document.metadata;
      if (!p.heading.empty()) c.metadata["heading"] = p.heading;
      chunks.push_back(std::move(c));
    }
    return chunks;
  }

  /// The chunks of every document, document after document.
  [[nodiscard]] std::vector<Chunk> split(std::span<const Document> documents) const {
    std::vector<Chunk> chunks;
    for (const Document& d : documents) {
      std::vector<Chunk> part = split(d);
      chunks.insert(chunks.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
    }
    return chunks;
  }

  /// The chunk spans of a bare text.
  [[nodiscard]] std::vector<TextSpan> split_text(std::string_view text) const {
    std::vector<TextSpan> out;
    for (const Piece& p : pieces(text, {}, "(a bare text)")) out.push_back(p.span);
    return out;
  }

  /// What the embedder reads for a chunk: the metadata_in_budget lines of the chunk's metadata, then its
  /// text. Its size is at most `size` units (for tokens: the pieces of the header and of the text, each
  /// tokenised alone, which is how WordPiece counts text split at a line break).
  [[nodiscard]] std::string embedding_text(const Chunk& chunk) const {
    return render_header(chunk.metadata, chunk.heading) + chunk.text;
  }

  /// The size of a text in the chosen unit.
  [[nodiscard]] Index measure(std::string_view text) const {
    switch (options_.unit) {
      case ChunkUnit::characters: {
        Index n = 0;
        for (std::size_t i = 0; i < text.size(); ++n) detail::unicode::decode_utf8(text, i);
        return n;
      }
      case ChunkUnit::words:
        return static_cast<Index>(word_spans(text).size());
      case ChunkUnit::tokens:
        return static_cast<Index>(options_.tokenizer->tokenize(text).size());
    }
    return 0;
  }

  /// The units of a text in order: code points, words, or located word pieces (see the file comment).
  [[nodiscard]] std::vector<TextSpan> units(std::string_view text) const {
    switch (options_.unit) {
      case ChunkUnit::characters:
        return code_point_spans(text, {0, text.size()});
      case ChunkUnit::words:
        return word_spans(text);
      case ChunkUnit::tokens:
        return token_spans(text);
    }
    return {};
  }

 private:
  struct Piece {
    TextSpan span;
    std::string heading;
  };

  static std::vector<TextSpan> code_point_spans(std::string_view text, TextSpan within) {
    std::vector<TextSpan> out;
    for (std::size_t i = within.start; i < within.end;) {
      const std::size_t s = i;
      detail::unicode::decode_utf8(text.substr(0, within.end), i);
      out.push_back({s, i});
    }
    return out;
  }

  /// Maximal runs of non-whitespace code points.
  static std::vector<TextSpan> word_spans(std::string_view text) {
    std::vector<TextSpan> out;
    bool in_word = false;
    for (std::size_t i = 0; i < text.size();) {
      const std::size_t s = i;
      const bool space = is_unicode_space(detail::unicode::decode_utf8(text, i));
      if (!space && !in_word) out.push_back({s, i});
      if (!space) out.back().end = i;
      in_word = !space;
    }
    return out;
  }

  /// The word pieces of the text located in it (see the file comment).
  std::vector<TextSpan> token_spans(std::string_view text) const {
    const WordPieceTokenizer& tok = *options_.tokenizer;
    std::unordered_map<char32_t, std::string> images;  // code point -> its normalised image
    std::vector<TextSpan> out;
    for (const TextSpan run : word_spans(text)) {
      const std::string_view unit = text.substr(run.start, run.end - run.start);
      const std::vector<std::string> pieces = tok.tokenize(unit);
      if (pieces.empty()) continue;
      // The normalised stream, and for each of its bytes the code point (byte range in `text`) it came from.
      std::string stream;
      std::vector<TextSpan> owner;
      for (std::size_t i = 0; i < unit.size();) {
        const std::size_t s = i;
        const char32_t c = detail::unicode::decode_utf8(unit, i);
        auto it = images.find(c);
        if (it == images.end()) {
          std::string image = tok.normalize(unit.substr(s, i - s));
          std::erase(image, ' ');
          it = images.emplace(c, std::move(image)).first;
        }
        stream += it->second;
        owner.insert(owner.end(), it->second.size(), TextSpan{run.start + s, run.start + i});
      }
      if (!locate_pieces(tok, unit, run.start, pieces, stream, owner, out)) {
        out.push_back(run);  // a run with a special token: one passage for all its pieces
        out.insert(out.end(), pieces.size() - 1, TextSpan{run.end, run.end});
      }
    }
    return out;
  }

  /// Matches the pieces of one run against its normalised stream, word by word; appends their spans.
  /// False (and nothing appended) when the pieces do not spell the stream.
  static bool locate_pieces(const WordPieceTokenizer& tok, std::string_view unit, std::size_t unit_start,
                            const std::vector<std::string>& pieces, const std::string& stream,
                            const std::vector<TextSpan>& owner, std::vector<TextSpan>& out) {
    const std::string normalized = tok.normalize(unit);
    std::string joined = normalized;
    std::erase(joined, ' ');
    if (joined != stream) return false;
    const std::string& unk = tok.options().unk_token;
    const std::string_view prefix = tok.options().continuing_subword_prefix;
    std::vector<TextSpan> found;
    std::size_t k = 0, pos = 0;  // next piece, position in the stream
    const auto span_of = [&](std::size_t from, std::size_t to) {
      return TextSpan{owner[from].start, owner[to - 1].end};
    };
    for (std::size_t w = 0; w <= normalized.size();) {  // words of `normalized`, separated by single spaces
      std::size_t e = normalized.find(' ', w);
      if (e == std::string::npos) e = normalized.size();
      const std::size_t length = e - w;
      if (length > 0) {
        if (k >= pieces.size()) return false;
        if (pieces[k] == unk) {
          found.push_back(span_of(pos, pos + length));
          ++k;
        } else {
          std::size_t done = 0;
          while (done < length) {
            if (k >= pieces.size()) return false;
            std::string_view p = pieces[k];
            if (done > 0) {
              if (p.substr(0, prefix.size()) != prefix) return false;
              p.remove_prefix(prefix.size());
            }
            if (p.empty() || stream.compare(pos + done, p.size(), p) != 0) return false;
            found.push_back(span_of(pos + done, pos + done + p.size()));
            done += p.size();
            ++k;
          }
        }
        pos += length;
      }
      w = e + 1;
    }
    if (k != pieces.size()) return false;
    // Code points with an empty image (marks, controls) between or around pieces join the piece before
    // them (the first piece also takes those before it), so the pieces cover the whole run.
    found.front().start = unit_start;
    for (std::size_t i = 0; i + 1 < found.size(); ++i) found[i].end = std::max(found[i].end, found[i + 1].start);
    found.back().end = unit_start + unit.size();
    out.insert(out.end(), found.begin(), found.end());
    return true;
  }

  /// The lines "key: value\n" of the metadata_in_budget keys that have a value, in the option's order;
  /// "heading" takes the section's heading path when there is one.
  std::string render_header(const Metadata& metadata, const std::string& heading) const {
    std::string header;
    for (const std::string& key : options_.metadata_in_budget) {
      std::string value = key == "heading" ? heading : std::string();
      if (value.empty())
        if (const auto it = metadata.find(key); it != metadata.end()) value = it->second;
      if (!value.empty()) header += key + ": " + value + "\n";
    }
    return header;
  }

  /// The chunk budget left to the text of one section: `size` minus the metadata header rendered into each
  /// of its chunks. InvalidArgument naming the document and the budget when it leaves no room for the
  /// overlap and one more unit.
  Index text_budget(const Metadata& metadata, const std::string& heading, std::string_view document) const {
    const std::string header = render_header(metadata, heading);
    if (header.empty()) return options_.size;
    const Index used = measure(header);
    require(options_.size - used > options_.overlap, "TextChunker::split", [&] {
      std::string shown = header;
      std::replace(shown.begin(), shown.end(), '\n', ';');
      return "document " + std::string(document) + ": the metadata rendered into each chunk (" + shown + ") takes " +
             std::to_string(used) + " of the chunk budget of " + std::to_string(options_.size) + " " + unit_name() +
             ", leaving " + std::to_string(std::max<Index>(options_.size - used, 0)) +
             " for the text, which needs at least overlap + 1 = " + std::to_string(options_.overlap + 1);
    });
    return options_.size - used;
  }

  std::vector<Piece> pieces(std::string_view text, const Metadata& metadata, std::string_view document) const {
    std::vector<Piece> out;
    switch (options_.strategy) {
      case ChunkingStrategy::fixed:
        fixed_windows(text, text_budget(metadata, {}, document), out);
        break;
      case ChunkingStrategy::sentence:
        pack(text, {0, text.size()}, Level{Level::sentences}, text_budget(metadata, {}, document), {}, out);
        break;
      case ChunkingStrategy::recursive:
        pack(text, {0, text.size()}, Level{Level::separator, 0}, text_budget(metadata, {}, document), {}, out);
        break;
      case ChunkingStrategy::markdown:
        for (const auto& section : markdown_sections(text))
          pack(text, section.span, Level{Level::separator, 0}, text_budget(metadata, section.heading, document),
               section.heading, out);
        break;
    }
    return out;
  }

  [[nodiscard]] std::string unit_name() const { return std::string(to_string(options_.unit)); }

  // ---------------------------------------------------------------------------------------- fixed windows

  /// Window w holds units [w·stride, w·stride + size), stride = size − overlap (size: the text budget);
  /// the last window ends at the last unit.
  void fixed_windows(std::string_view text, Index budget, std::vector<Piece>& out) const {
    const std::vector<TextSpan> u = units(text);
    const auto n = u.size();
    const auto size = static_cast<std::size_t>(budget);
    const auto stride = static_cast<std::size_t>(budget - options_.overlap);
    for (std::size_t first = 0; first < n; first += stride) {
      const std::size_t last = std::min(n, first + size);  // one past
      TextSpan span{u[first].start, u[first].end};
      for (std::size_t i = first; i < last; ++i) {
        span.start = std::min(span.start, u[i].start);
        span.end = std::max(span.end, u[i].end);
      }
      if (span.end > span.start) out.push_back({span, {}});
      if (last == n) break;
    }
  }

  // ---------------------------------------------------------------------------------------- packing

  /// A level of the hierarchy: sentences, or separators_[index] ("" = code points).
  struct Level {
    enum Kind { sentences, separator } kind;
    std::size_t index = 0;
  };

  Level next_level(Level level) const {
    if (level.kind == Level::sentences) return {Level::separator, 0};
    return {Level::separator, level.index + 1};
  }

  /// The last level cuts between code points: its pieces cannot be cut further.
  bool is_last(Level level) const {
    return level.kind == Level::separator && level.index + 1 >= options_.separators.size();
  }

  /// Cuts `within` into contiguous pieces that tile it, each ending just after a separator.
  std::vector<TextSpan> cut(std::string_view text, TextSpan within, Level level) const {
    if (level.kind == Level::sentences) return sentence_spans(text, within);
    const std::string& sep = options_.separators[level.index];
    if (sep.empty()) return code_point_spans(text, within);
    std::vector<TextSpan> out;
    const std::string_view part = text.substr(0, within.end);
    std::size_t s = within.start;
    for (std::size_t at = part.find(sep, s); at != std::string_view::npos; at = part.find(sep, s)) {
      out.push_back({s, at + sep.size()});
      s = at + sep.size();
    }
    if (s < within.end) out.push_back({s, within.end});
    return out;
  }

  Index measure_span(std::string_view text, TextSpan span) const {
    const TextSpan t = trim_span(text, span);
    return measure(text.substr(t.start, t.end - t.start));
  }

  /// A piece of the hierarchy that is not cut further (at `level`). `fresh`: no chunk runs into it from
  /// the piece before (it begins, or follows, a piece that had to be cut), though the overlap does.
  struct Leaf {
    TextSpan span;
    Level level;
    bool fresh;
  };

  /// Cuts `within` at `level`, and further every piece longer than `limit`, into leaves.
  void leaves(std::string_view text, TextSpan within, Level level, Index limit, std::vector<Leaf>& out) const {
    bool fresh = true;
    for (const TextSpan piece : cut(text, within, level)) {
      if (is_last(level) || measure_span(text, piece) <= limit) {
        out.push_back({piece, level, fresh});
        fresh = false;
        continue;
      }
      leaves(text, piece, next_level(level), limit, out);
      fresh = true;
    }
  }

  /// The chunks of `within` (see the file comment): leaves of at most budget − overlap units packed
  /// greedily; each chunk after the first opens with the last `overlap` units of the one before, and a
  /// leaf that does not fit beside them is cut finer.
  void pack(std::string_view text, TextSpan within, Level level, Index budget, const std::string& heading,
            std::vector<Piece>& out) const {
    std::vector<Leaf> pending;  // a stack: the next leaf at the back
    leaves(text, within, level, budget - options_.overlap, pending);
    std::reverse(pending.begin(), pending.end());
    // The chunk [start, end) as emitted: trimmed at its end, and at its start unless it opens with the
    // previous chunk's tail (which begins at a unit, whitespace included in character units).
    const auto span_of = [&](std::size_t start, std::size_t end, bool overlapped) {
      const TextSpan t = trim_span(text, {start, end});
      return overlapped && t.end > start ? TextSpan{start, t.end} : t;
    };
    const auto size_of = [&](std::size_t start, std::size_t end, bool overlapped) {
      const TextSpan t = span_of(start, end, overlapped);
      return measure(text.substr(t.start, t.end - t.start));
    };
    bool open = false;
    bool overlapped = false;  // the chunk opens with the previous chunk's tail
    bool fresh_text = false;  // the chunk holds more than that tail
    std::size_t start = 0, end = 0;
    while (!pending.empty()) {
      const Leaf leaf = pending.back();
      pending.pop_back();
      if (!open) {
        start = leaf.span.start;
        end = leaf.span.end;
        open = fresh_text = true;
        overlapped = false;
        continue;
      }
      // A chunk no longer than the overlap runs on (alone, the next chunk would contain it).
      const bool thin = !fresh_text || size_of(start, end, overlapped) <= options_.overlap;
      if ((!leaf.fresh || thin) && size_of(start, leaf.span.end, overlapped) <= budget) {
        end = leaf.span.end;
        fresh_text = true;
        continue;
      }
      if (thin && !is_last(leaf.level) && leaf.span.end > leaf.span.start) {  // cut the leaf finer to fit
        std::vector<Leaf> finer;
        leaves(text, leaf.span, next_level(leaf.level), budget - options_.overlap, finer);
        if (!finer.empty()) {
          finer.front().fresh = false;
          pending.insert(pending.end(), finer.rbegin(), finer.rend());
          continue;
        }
      }
      if (!fresh_text) {  // a code point that does not fit beside the overlap: the overlap gives way
        const TextSpan kept = span_of(start, end, overlapped);  // not into the whitespace after it
        const std::vector<TextSpan> u = units(text.substr(kept.start, kept.end - kept.start));
        start = kept.start;
        std::size_t k = 0;
        while (k < u.size() && size_of(start + u[k].start, leaf.span.end, true) > budget) ++k;
        overlapped = overlapped && k < u.size();
        start = k < u.size() ? start + u[k].start : leaf.span.start;
        end = leaf.span.end;
        fresh_text = true;
        continue;
      }
      const TextSpan previous = span_of(start, end, overlapped);
      if (previous.end > previous.start) out.push_back({previous, heading});
      if (options_.overlap == 0 || previous.end <= previous.start) {
        start = leaf.span.start;
        end = leaf.span.end;
        overlapped = false;
        continue;
      }
      // Open the next chunk with the previous chunk's last `overlap` units, and offer it the leaf again.
      const std::vector<TextSpan> u = units(text.substr(previous.start, previous.end - previous.start));
      const std::size_t k = u.size() > static_cast<std::size_t>(options_.overlap)
                                ? u.size() - static_cast<std::size_t>(options_.overlap)
                                : 0;
      start = k < u.size() ? previous.start + u[k].start : previous.start;
      end = previous.end;
      overlapped = true;
      fresh_text = false;
      pending.push_back(leaf);
    }
    if (open) {
      const TextSpan last = span_of(start, end, overlapped);
      if (last.end > last.start && fresh_text) out.push_back({last, heading});
    }
  }

  // ---------------------------------------------------------------------------------------- markdown

  struct Section {
    TextSpan span;
    std::string heading;
  };

  /// Sections of a Markdown text: each starts at an ATX heading line (outside ``` or ~~~ fences); the
  /// text before the first heading is a section without a heading.
  static std::vector<Section> markdown_sections(std::string_view text) {
    std::vector<Section> out;
    std::vector<std::pair<int, std::string>> path;  // (level, title) of the open headings
    std::string fence;
    std::size_t section_start = 0;
    std::string heading;
    for (std::size_t line = 0; line < text.size();) {
      std::size_t eol = text.find('\n', line);
      if (eol == std::string_view::npos) eol = text.size();
      std::string_view l = text.substr(line, eol - line);
      std::size_t indent = 0;
      while (indent < l.size() && indent < 4 && l[indent] == ' ') ++indent;
      const std::string_view body = indent < 4 ? l.substr(indent) : std::string_view{};
      if (!fence.empty()) {
        if (body.substr(0, fence.size()) == fence) fence.clear();
      } else if (body.substr(0, 3) == "```" || body.substr(0, 3) == "~~~") {
        fence = std::string(body.substr(0, 3));
      } else {
        int level = 0;
        while (level < static_cast<int>(body.size()) && body[static_cast<std::size_t>(level)] == '#') ++level;
        const auto after = static_cast<std::size_t>(level);
        if (level >= 1 && level <= 6 && (after == body.size() || body[after] == ' ' || body[after] == '\t')) {
          if (line > section_start) out.push_back({{section_start, line}, heading});
          std::string_view title = body.substr(after);
          while (!title.empty() && (title.back() == '\r' || title.back() == ' ' || title.back() == '#'))
            title.remove_suffix(1);
          while (!title.empty() && (title.front() == ' ' || title.front() == '\t')) title.remove_prefix(1);
          while (!path.empty() && path.back().first >= level) path.pop_back();
          path.emplace_back(level, std::string(title));
          heading.clear();
          for (const auto& [lv, t] : path) heading += (heading.empty() ? "" : " > ") + t;
          section_start = line;
        }
      }
      line = eol + 1;
    }
    if (section_start < text.size()) out.push_back({{section_start, text.size()}, heading});
    return out;
  }

  TextChunkerOptions options_;
};

/// (BasicTextChunker is a class template only so that it is compiled where it is used.)
using TextChunker = BasicTextChunker<>;

}  // namespace aimastery
