#pragma once
/// \file
/// WordPieceTokenizer: BERT's uncased tokenizer, written from its definition, giving the same token ids as
/// Hugging Face `tokenizers` (BertNormalizer + BertPreTokenizer + WordPiece + the [CLS]/[SEP] template).
///
///   auto tok = WordPieceTokenizer::from_file("models/all-MiniLM-L6-v2/vocab.txt");
///   std::vector<std::int32_t> ids = tok.encode("Héllo, world!");   // [CLS] hello , world ! [SEP]
///   TokenBatch batch = tok.encode_batch(texts);                     // padded ids + attention mask
///
/// A text becomes ids in four steps, done here in one pass over its UTF-8 bytes:
///
///  1. Normalise each code point c (the tables in detail/unicode_tables.hpp, generated from Python's
///     unicodedata by tools/unicode/gen_bert_unicode_tables.py):
///       - clean:   NUL, U+FFFD and control characters (category C*, except tab/LF/CR) are dropped;
///                  whitespace becomes ' ';
///       - CJK:     an ideograph gets a space on each side, so it is a word of its own;
///       - accents: c is replaced by its canonical decomposition (NFD) without the non-spacing marks
///                  (category Mn): "é" = "e" + U+0301 → "e";
///       - lower:   every remaining code point is lower-cased.
///  2. Split into words at whitespace; every punctuation character (ASCII punctuation or category P*)
///     is a word of its own: "hello,world!!" → hello | , | world | ! | !
///  3. WordPiece, greedy longest match: the longest vocabulary entry that is a prefix of the word is the
///     first piece; the rest of the word continues with pieces spelled "##…"; if at some point no entry
///     matches, the whole word is [UNK] (so is a word over 100 characters):
///       "unaffable" → un ##aff ##able
///  4. [CLS] pieces… [SEP], truncated to max_length tokens in all (the pieces are cut, the markers kept).
///
/// A batch is padded with [PAD] (id 0 in BERT vocabularies) to its longest sequence, with an attention
/// mask of 1 for real tokens and 0 for padding. Nothing is allocated per token: the vocabulary is an
/// open-addressing hash table probed with views into the word being matched.
///
/// Invalid UTF-8 bytes are read as U+FFFD, which cleaning drops. Canonical reordering of combining marks
/// across code points is not modelled: every mark it could move is a non-spacing mark that is dropped.

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/attention/detail/unicode_tables.hpp"

namespace aimastery {

/// Token ids of a batch: one row per text (row-major, as every aimastery matrix).
using TokenIdMatrix = Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A padded batch of encoded texts.
struct TokenBatch {
  TokenIdMatrix input_ids;       ///< batch × length, padded with the [PAD] id
  TokenIdMatrix attention_mask;  ///< batch × length, 1 for a real token, 0 for padding
  std::vector<Index> lengths;    ///< real tokens per text ([CLS] and [SEP] included)
};

struct WordPieceOptions {
  /// Tokens per sequence, [CLS] and [SEP] included (all-MiniLM-L6-v2: 256). Longer texts are truncated.
  Index max_length = 256;
  /// A word with more characters than this becomes [UNK] (BERT: 100).
  Index max_input_chars_per_word = 100;
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string continuing_subword_prefix = "##";
  /// Tokens recognised in the raw text before normalisation, as Hugging Face's added special tokens
  /// are ("a [SEP] b" keeps its [SEP]); those absent from the vocabulary are ignored.
  std::vector<std::string> special_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
};

namespace detail::unicode {

/// The flags of every code point in two stages: block_of[c >> 8] picks a 256-entry block of flags. Built
/// once from the run-length table; 4352 block indices plus a few hundred distinct blocks.
struct FlagTable {
  std::array<std::uint16_t, 0x1100> block_of{};
  std::vector<std::uint8_t> blocks;

  [[nodiscard]] std::uint8_t operator()(char32_t c) const {
    if (c > 0x10FFFF) return kDrop;
    return blocks[(static_cast<std::size_t>(block_of[c >> 8]) << 8) | (c & 0xFF)];
  }

  template <class = void>
  static FlagTable build() {
    std::vector<std::uint8_t> flat(0x110000);
    constexpr std::size_t runs = std::size(bert_runs);
    for (std::size_t i = 0; i < runs; ++i) {
      const std::uint32_t begin = bert_runs[i] >> 8;
      const std::uint32_t end = i + 1 < runs ? bert_runs[i + 1] >> 8 : 0x110000;
      std::fill(flat.begin() + begin, flat.begin() + end, static_cast<std::uint8_t>(bert_runs[i] & 0xFF));
    }
    FlagTable table;
    std::map<std::string, std::uint16_t> seen;
    for (std::size_t b = 0; b < 0x1100; ++b) {
      std::string block(reinterpret_cast<const char*>(flat.data() + (b << 8)), 256);
      auto [it, inserted] = seen.emplace(std::move(block), static_cast<std::uint16_t>(seen.size()));
      if (inserted) table.blocks.insert(table.blocks.end(), flat.begin() + (b << 8), flat.begin() + ((b + 1) << 8));
      table.block_of[b] = it->second;
    }
    return table;
  }

  template <class = void>
  static const FlagTable& instance() {
    static const FlagTable table = build();
    return table;
  }
};

/// The image of a code point flagged kMapped: NFD without marks, lower-cased (a few code points).
inline std::span<const std::uint32_t> mapped_image(char32_t c) {
  const auto* end = std::end(bert_map_keys);
  const auto* it = std::lower_bound(std::begin(bert_map_keys), end, static_cast<std::uint32_t>(c));
  AIMASTERY_ASSERT(it != end && *it == c);
  const std::uint32_t span = bert_map_spans[it - std::begin(bert_map_keys)];
  return {bert_map_pool + (span >> 8), span & 0xFF};
}

/// Decodes one code point from UTF-8 at s[i], advancing i. Malformed or overlong sequences, surrogates
/// and truncated input give U+FFFD and consume one byte.
inline char32_t decode_utf8(std::string_view s, std::size_t& i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  const std::size_t n = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 0;
  if (n == 0 || b0 > 0xF4 || i + n > s.size()) {
    ++i;
    return 0xFFFD;
  }
  char32_t c = b0 & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    c = (c << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr char32_t smallest[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < smallest[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += n;
  return c;
}

inline void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

}  // namespace detail::unicode

namespace detail {

/// string → id, open addressing with linear probing over a power-of-two table of (hash, id) slots. Keys
/// are views of strings owned elsewhere (`key_of(id)`), so a lookup allocates nothing.
///
/// The slot of a key is the low bits of its hash, so the hash must spread every input bit into them.
/// Plain FNV-1a does not: its low k bits depend only on the low k bits of the state, so a vocabulary of
/// chosen tokens can give thousands of keys one slot (one probe cluster: a quadratic build and slow
/// lookups). Here the FNV-1a state starts from a per-table seed taken from addresses that ASLR randomises,
/// and MurmurHash3's fmix64 finishes it, so that which keys share a slot cannot be known in advance. The
/// seed changes only where keys sit, never which id a key finds.
class StringIdTable {
 public:
  /// 64-bit FNV-1a from the table's seed, then fmix64: x ← x ⊕ x≫33, x ← x·c₁, x ← x ⊕ x≫33, x ← x·c₂,
  /// x ← x ⊕ x≫33.
  [[nodiscard]] std::uint64_t hash(std::string_view s) const noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull ^ seed_;
    for (const char ch : s) h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3ull;
    return mix(h);
  }

  template <class KeyOf>
  void build(std::int32_t count, KeyOf key_of) {
    std::size_t capacity = 16;
    while (capacity < 2 * static_cast<std::size_t>(count) + 1) capacity *= 2;
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    static constexpr char anchor = 0;  // its address moves with the program's load address
    seed_ = mix(reinterpret_cast<std::uintptr_t>(slots_.data()) ^ mix(reinterpret_cast<std::uintptr_t>(&anchor)));
    for (std::int32_t id = 0; id < count; ++id) {
      const std::optional<std::string_view> key = key_of(id);
      if (!key) continue;
      const std::uint64_t h = hash(*key);
      std::size_t i = h & mask_;
      // A later duplicate replaces an earlier one, as in Hugging Face's vocabulary reader.
      while (slots_[i].id >= 0 && !(slots_[i].hash == h && *key_of(slots_[i].id) == *key)) i = (i + 1) & mask_;
      slots_[i] = {h, id};
    }
  }

  /// The id of `s`, or −1. `key_of(id)` gives the stored key of an id.
  template <class KeyOf>
  [[nodiscard]] std::int32_t find(std::string_view s, KeyOf key_of) const {
    const std::uint64_t h = hash(s);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.id < 0) return -1;
      if (slot.hash == h && *key_of(slot.id) == s) return slot.id;
    }
  }

  /// The longest run of occupied slots: the most probes a lookup can take.
  [[nodiscard]] std::size_t longest_cluster() const noexcept {
    std::size_t longest = 0, run = 0;
    for (std::size_t pass = 0; pass < 2; ++pass)  // twice round, for a run that wraps past the end
      for (const Slot& slot : slots_) {
        run = slot.id >= 0 ? run + 1 : 0;
        longest = std::max(longest, std::min(run, slots_.size()));
      }
    return longest;
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::int32_t id = -1;
  };
  static std::uint64_t mix(std::uint64_t x) noexcept {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
  }

  std::vector<Slot> slots_{Slot{}};
  std::size_t mask_ = 0;
  std::uint64_t seed_ = 0;
};

}  // namespace detail

/// BERT's uncased WordPiece tokenizer (see the file comment for the algorithm).
class WordPieceTokenizer {
  /// The key of a token in the table of all tokens, and in the table of continuations ("##x" → "x").
  struct WordKey {
    const std::vector<std::string>* vocab;
    std::optional<std::string_view> operator()(std::int32_t id) const {
      return std::string_view((*vocab)[static_cast<std::size_t>(id)]);
    }
  };
  struct ContinuationKey {
    const std::vector<std::string>* vocab;
    std::size_t prefix;
    std::optional<std::string_view> operator()(std::int32_t id) const {
      return std::string_view((*vocab)[static_cast<std::size_t>(id)]).substr(prefix);
    }
  };

 public:
  // The members that build tables or run the tokenizer are templates (with a defaulted, unused parameter)
  // only so that they are instantiated where they are called, not in every file that includes this
  // header; they are called as ordinary functions.

  /// A tokenizer over `vocab` (token i has id i). Every special token of `options` must be in it.
  template <class = void>
  explicit WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options = {})
      : vocab_(std::move(vocab)), options_(std::move(options)) {
    constexpr std::string_view where = "WordPieceTokenizer";
    require(!vocab_.empty(), where, "the vocabulary is empty");
    require(vocab_.size() < static_cast<std::size_t>(INT32_MAX), where, "the vocabulary is too large");
    require(options_.max_length >= 2, where, [&] {
      return "max_length must leave room for [CLS] and [SEP], got " + std::to_string(options_.max_length);
    });
    require(options_.max_input_chars_per_word >= 1, where, "max_input_chars_per_word must be positive");
    const auto count = static_cast<std::int32_t>(vocab_.size());
    const std::string_view prefix = options_.continuing_subword_prefix;
    words_.build(count, word_key());
    continuations_.build(count, [&](std::int32_t id) -> std::optional<std::string_view> {
      const std::string_view t = vocab_[static_cast<std::size_t>(id)];
      if (prefix.empty() || t.size() < prefix.size() || t.substr(0, prefix.size()) != prefix) return std::nullopt;
      return t.substr(prefix.size());
    });
    for (const std::string& t : vocab_) longest_piece_ = std::max(longest_piece_, t.size());
    const auto special = [&](const std::string& token) {
      const std::int32_t id = words_.find(token, word_key());
      if (id < 0) throw FormatError("WordPieceTokenizer: the vocabulary has no special token '" + token + "'");
      return id;
    };
    unk_ = special(options_.unk_token);
    cls_ = special(options_.cls_token);
    sep_ = special(options_.sep_token);
    pad_ = special(options_.pad_token);
    for (const std::string& token : options_.special_tokens)
      if (const auto id = token_to_id(token); id && !token.empty()) {
        specials_.push_back({token, *id});
        special_first_byte_[static_cast<unsigned char>(token[0])] = true;
      }
  }

  /// Reads a vocabulary file: one token a line, id = line number from 0 (trailing whitespace of a line,
  /// a Windows '\r' included, is not part of the token). Missing or unreadable file, an empty
  /// vocabulary, or one without the special tokens: FormatError.
  template <class = void>
  static WordPieceTokenizer from_file(const std::string& path, WordPieceOptions options = {}) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw FormatError("WordPieceTokenizer::from_file: cannot open '" + path + "'");
    const std::streamoff size = in.tellg();
    constexpr std::streamoff max_size = 64 << 20;
    if (size < 0 || size > max_size)
      throw FormatError("WordPieceTokenizer::from_file: '" + path + "' is not a vocabulary file of at most 64 MiB");
    in.seekg(0);
    std::vector<std::string> vocab;
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
      vocab.push_back(line);
    }
    if (vocab.empty()) throw FormatError("WordPieceTokenizer::from_file: '" + path + "' holds no tokens");
    try {
      return WordPieceTokenizer(std::move(vocab), std::move(options));
    } catch (const FormatError& e) {
      throw FormatError(std::string(e.what()) + " (in '" + path + "')");
    }
  }

  // ------------------------------------------------------------------------------------------ encoding

  /// [CLS] pieces… [SEP] of one text, truncated to max_length ids.
  template <class = void>
  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text) const {
    std::vector<std::int32_t> ids;
    encode_into(text, ids);
    return ids;
  }

  /// As encode(), into `ids` (replacing its contents; its capacity is reused).
  template <class = void>
  void encode_into(std::string_view text, std::vector<std::int32_t>& ids) const {
    ids.clear();
    ids.push_back(cls_);
    const auto budget = static_cast<std::size_t>(options_.max_length - 2);
    for_each_piece(text, [&](std::int32_t id) {
      if (ids.size() - 1 >= budget) return false;
      ids.push_back(id);
      return true;
    });
    ids.push_back(sep_);
  }

  /// The word pieces of a text as strings, without [CLS]/[SEP] and without truncation.
  template <class = void>
  [[nodiscard]] std::vector<std::string> tokenize(std::string_view text) const {
    std::vector<std::string> pieces;
    for_each_piece(text, [&](std::int32_t id) {
      pieces.push_back(vocab_[static_cast<std::size_t>(id)]);
      return true;
    });
    return pieces;
  }

  /// The number of word pieces of a text (tokenize(text).size(), without building the strings).
  template <class = void>
  [[nodiscard]] Index count_pieces(std::string_view text) const {
    Index count = 0;
    for_each_piece(text, [&](std::int32_t) {
      ++count;
      return true;
    });
    return count;
  }

  /// Encodes every text and pads the batch to its longest sequence.
  template <class = void>
  [[nodiscard]] TokenBatch encode_batch(std::span<const std::string> texts) const {
    std::vector<std::vector<std::int32_t>> encoded(texts.size());
    Index longest = 0;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      encode_into(texts[i], encoded[i]);
      longest = std::max(longest, static_cast<Index>(encoded[i].size()));
    }
    TokenBatch batch;
    const auto rows = static_cast<Index>(texts.size());
    batch.input_ids.resize(rows, longest);
    batch.attention_mask.resize(rows, longest);
    batch.lengths.resize(texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {  // row i: ids then [PAD]s; mask 1s then 0s
      const std::vector<std::int32_t>& ids = encoded[i];
      std::int32_t* const id_row = batch.input_ids.data() + static_cast<Index>(i) * longest;
      std::int32_t* const mask_row = batch.attention_mask.data() + static_cast<Index>(i) * longest;
      std::fill(std::copy(ids.begin(), ids.end(), id_row), id_row + longest, pad_);
      std::fill(mask_row, mask_row + ids.size(), 1);
      std::fill(mask_row + ids.size(), mask_row + longest, 0);
      batch.lengths[i] = static_cast<Index>(ids.size());
    }
    return batch;
  }

  /// The normalised text (step 1) with words separated by single spaces (step 2): what WordPiece sees.
  template <class = void>
  [[nodiscard]] std::string normalize(std::string_view text) const {
    std::string out;
    for_each_word(text, [&](std::string_view word, Index, std::int32_t) {
      if (!out.empty()) out.push_back(' ');
      out.append(word);
      return true;
    });
    return out;
  }

  // ------------------------------------------------------------------------------------------ vocabulary

  [[nodiscard]] Index vocab_size() const noexcept { return static_cast<Index>(vocab_.size()); }
  [[nodiscard]] const WordPieceOptions& options() const noexcept { return options_; }
  /// The token of an id; InvalidArgument when out of range.
  [[nodiscard]] const std::string& id_to_token(std::int32_t id) const {
    require(id >= 0 && static_cast<std::size_t>(id) < vocab_.size(), "WordPieceTokenizer::id_to_token",
            [&] { return "id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(vocab_.size()); });
    return vocab_[static_cast<std::size_t>(id)];
  }
  /// The id of a token, or nullopt.
  [[nodiscard]] std::optional<std::int32_t> token_to_id(std::string_view token) const {
    const std::int32_t id = words_.find(token, word_key());
    return id < 0 ? std::nullopt : std::optional<std::int32_t>(id);
  }
  [[nodiscard]] std::int32_t unk_id() const noexcept { return unk_; }
  [[nodiscard]] std::int32_t cls_id() const noexcept { return cls_; }
  [[nodiscard]] std::int32_t sep_id() const noexcept { return sep_; }
  [[nodiscard]] std::int32_t pad_id() const noexcept { return pad_; }

 private:
  [[nodiscard]] WordKey word_key() const { return {&vocab_}; }
  [[nodiscard]] ContinuationKey continuation_key() const {
    return {&vocab_, options_.continuing_subword_prefix.size()};
  }

  /// Steps 1 and 2: calls word(utf8, characters, special) for every word of the normalised text, in
  /// order, until it returns false. A special token found in the raw text comes as its own word with
  /// `special` its id (−1 for ordinary words).
  template <class WordSink>
  void for_each_word(std::string_view text, WordSink&& word) const {
    using namespace detail::unicode;
    const FlagTable& flags = FlagTable::instance();
    std::string buffer;
    buffer.reserve(64);
    Index chars = 0;
    bool more = true;
    const auto flush = [&] {
      if (!buffer.empty() && more) more = word(std::string_view(buffer), chars, std::int32_t{-1});
      buffer.clear();
      chars = 0;
    };
    const auto single = [&](char32_t c) {  // a word of one code point
      flush();
      append_utf8(buffer, c);
      chars = 1;
      flush();
    };
    const auto append = [&](char32_t c) {
      append_utf8(buffer, c);
      ++chars;
    };
    for (std::size_t i = 0; i < text.size() && more;) {
      if (special_first_byte_[static_cast<unsigned char>(text[i])]) {  // the longest special token here, if any
        const Special* match = nullptr;
        for (const Special& s : specials_)
          if (text.substr(i, s.token.size()) == s.token && (!match || s.token.size() > match->token.size())) match = &s;
        if (match) {
          flush();
          if (more) more = word(std::string_view(match->token), Index{1}, match->id);
          i += match->token.size();
          continue;
        }
      }
      const char32_t c = decode_utf8(text, i);
      const std::uint8_t f = flags(c);
      if (f & kDrop) continue;
      if (f & kSpace) {
        flush();
      } else if (c < 0x80) {
        if (f & kPunct)
          single(c);
        else
          append(c >= 'A' && c <= 'Z' ? c + 32 : c);
      } else if (f & kHangul) {
        // NFD of a precomposed syllable: s = c − 0xAC00 = (L·21 + V)·28 + T.
        const char32_t s = c - 0xAC00;
        append(0x1100 + s / 588);
        append(0x1161 + (s % 588) / 28);
        if (s % 28 != 0) append(0x11A7 + s % 28);
      } else if (f & kCjk) {
        if (f & kMapped) {
          flush();
          for (const std::uint32_t o : mapped_image(c)) append(o);
          flush();
        } else {
          single(c);
        }
      } else if (f & kMapped) {
        for (const std::uint32_t o : mapped_image(c)) {
          if (flags(o) & kPunct)
            single(o);
          else
            append(o);
        }
      } else if (f & kPunct) {
        single(c);
      } else {
        append(c);
      }
    }
    flush();
  }

  /// Steps 1–3: calls piece(id) for every word piece of the text, until it returns false.
  template <class PieceSink>
  void for_each_piece(std::string_view text, PieceSink&& piece) const {
    const auto word_key_of = word_key();
    const auto continuation_key_of = continuation_key();
    for_each_word(text, [&](std::string_view word, Index chars, std::int32_t special) {
      if (special >= 0) return piece(special);
      if (chars > options_.max_input_chars_per_word) return piece(unk_);
      // First pass: find the pieces without emitting, so a word with an unmatched rest is one [UNK].
      std::array<std::int32_t, 128> found;  // a word of <= 100 characters has at most 100 pieces
      std::vector<std::int32_t> spill;      // only for max_input_chars_per_word > 128
      std::size_t n_found = 0;
      const auto record = [&](std::int32_t id) {
        if (n_found < found.size())
          found[n_found] = id;
        else
          spill.push_back(id);
        ++n_found;
      };
      std::size_t start = 0;
      while (start < word.size()) {
        std::size_t end = std::min(word.size(), start + longest_piece_);
        while (end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
        std::int32_t id = -1;
        while (end > start) {
          const std::string_view candidate = word.substr(start, end - start);
          id = start == 0 ? words_.find(candidate, word_key_of) : continuations_.find(candidate, continuation_key_of);
          if (id >= 0) break;
          do --end;  // back by one code point
          while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
        }
        if (id < 0) return piece(unk_);
        record(id);
        start = end;
      }
      for (std::size_t k = 0; k < n_found; ++k)
        if (!piece(k < found.size() ? found[k] : spill[k - found.size()])) return false;
      return true;
    });
  }

  std::vector<std::string> vocab_;
  WordPieceOptions options_;
  detail::StringIdTable words_;          ///< every token
  detail::StringIdTable continuations_;  ///< tokens "##x" keyed by "x"
  std::size_t longest_piece_ = 0;        ///< bytes of the longest token: no match can be longer
  struct Special {
    std::string token;
    std::int32_t id;
  };
  std::vector<Special> specials_;
  std::array<bool, 256> special_first_byte_{};
  std::int32_t unk_ = 0, cls_ = 0, sep_ = 0, pad_ = 0;
};

}  // namespace aimastery
