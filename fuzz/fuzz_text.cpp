// libFuzzer target for the text that requests and documents bring: the WordPiece tokenizer
// (aimastery/llm/attention/wordpiece_tokenizer.hpp), the text chunker (aimastery/llm/rag/text_chunker.hpp)
// and the TREC qrels and run readers (aimastery/llm/rag/trec_files.hpp).
//
// An input is two option bytes, then any bytes as the text (UTF-8 or not). The options choose the chunker's
// strategy, unit, size (1–12) and overlap, and whether its separators are the defaults or a short list of
// its own. Whatever the text:
//   - encode() gives [CLS] pieces… [SEP], at most max_length ids, each in the vocabulary, and as many pieces
//     (before truncation) as count_pieces() and tokenize() find;
//   - every chunk is a non-empty byte range of the text, in text order, that begins and ends on code-point
//     boundaries, and measures at most `size` characters or words (tokens may exceed it only where a single
//     code point is more than `size` pieces);
//   - the TREC readers give their table or FormatError.
// Anything else (another exception, a crash, a sanitizer report, a hang, a large allocation) is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/llm/attention/wordpiece_tokenizer.hpp"
#include "aimastery/llm/rag/text_chunker.hpp"
#include "aimastery/llm/rag/trec_files.hpp"

namespace {

/// A small vocabulary with words, continuation pieces, punctuation and a few non-ASCII tokens, so that
/// texts split into known pieces, unknown words and [UNK] alike.
std::shared_ptr<const aimastery::WordPieceTokenizer> tokenizer() {
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a",   "b",    "c",    "ab",
                                    "##a",   "##b",   "##c",   "##bc",  "the",    "##s", ".",    ",",    "é",
                                    "##é",   "中",    "hello", "##lo",  "he",     "##l", "日本", "##本", "!"};
  aimastery::WordPieceOptions options;
  options.max_length = 16;
  options.max_input_chars_per_word = 8;
  return std::make_shared<const aimastery::WordPieceTokenizer>(std::move(vocab), options);
}

/// boundary[i]: whether byte i of `text` begins a code point as the chunker reads it (decode_utf8 steps over
/// an ill-formed sequence one byte at a time); boundary[text.size()] is the end.
std::vector<bool> code_point_boundaries(std::string_view text) {
  std::vector<bool> boundary(text.size() + 1, false);
  for (std::size_t i = 0; i < text.size();) {
    boundary[i] = true;
    aimastery::detail::unicode::decode_utf8(text, i);
  }
  boundary[text.size()] = true;
  return boundary;
}

void check_tokenizer(const aimastery::WordPieceTokenizer& tok, std::string_view text) {
  const std::vector<std::int32_t> ids = tok.encode(text);
  const auto vocabulary = static_cast<std::int32_t>(tok.vocab_size());
  if (ids.size() < 2 || ids.size() > 16 || ids.front() != tok.cls_id() || ids.back() != tok.sep_id()) std::abort();
  for (const std::int32_t id : ids)
    if (id < 0 || id >= vocabulary) std::abort();
  const std::size_t pieces = tok.tokenize(text).size();
  if (static_cast<std::size_t>(tok.count_pieces(text)) != pieces) std::abort();
  if (ids.size() != std::min<std::size_t>(pieces, 14) + 2) std::abort();
}

void check_chunks(const std::shared_ptr<const aimastery::WordPieceTokenizer>& tok, std::uint8_t shape,
                  std::uint8_t lengths, std::string_view text) {
  using namespace aimastery;
  TextChunkerOptions options;
  options.strategy = static_cast<ChunkingStrategy>(shape % 4);
  options.unit = static_cast<ChunkUnit>((shape / 4) % 3);
  options.size = 1 + lengths % 12;
  options.overlap = (lengths / 12) % options.size;
  options.tokenizer = tok;
  if ((shape & 0x20) != 0) options.separators = {"\n", "x", ""};
  const TextChunker chunker(options);
  const std::vector<bool> boundary = code_point_boundaries(text);
  std::size_t previous_start = 0;
  for (const TextSpan& span : chunker.split_text(text)) {
    if (span.start >= span.end || span.end > text.size() || span.start < previous_start) std::abort();
    if (!boundary[span.start] || !boundary[span.end]) std::abort();
    const std::string_view chunk = text.substr(span.start, span.end - span.start);
    if (options.unit != ChunkUnit::tokens && chunker.measure(chunk) > options.size) std::abort();
    previous_start = span.start;
  }
}

template <class Read>
void check_refused_or_read(Read&& read) {
  try {
    read();
  } catch (const aimastery::FormatError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::shared_ptr<const aimastery::WordPieceTokenizer> tok = tokenizer();
  if (size < 2) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);
  check_tokenizer(*tok, text);
  check_chunks(tok, data[0], data[1], text);
  check_refused_or_read([&] {
    std::istringstream in{std::string(text)};
    (void)aimastery::read_trec_qrels(in);
  });
  check_refused_or_read([&] {
    std::istringstream in{std::string(text)};
    (void)aimastery::read_trec_run(in);
  });
  return 0;
}
