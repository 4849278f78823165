// TextChunker: every chunk of every strategy and unit is the exact passage text.substr(start, end - start)
// of its document, never cut inside a code point, within its size, and the chunks cover the text; fixed
// windows share exactly `overlap` units; word pieces are located where the tokenizer reads them; Markdown
// sections carry their heading paths; bad options are InvalidArgument naming the problem. Texts: seeded
// random mixtures of Latin with accents and combining marks, Greek, Cyrillic, CJK, Hangul, emoji with
// joiners, no-break spaces, special tokens, Markdown headings and fences.
#include <aimastery/core/probability/sampling.hpp>
#include <aimastery/llm/rag/text_chunker.hpp>

#include <initializer_list>
#include <utility>
#include <vector>

#include "support.hpp"

using namespace aimastery;

namespace {

std::shared_ptr<const WordPieceTokenizer> minilm_tokenizer() {
  static const auto tok = std::make_shared<const WordPieceTokenizer>(
      WordPieceTokenizer::from_file(std::string(AIMASTERY_REFERENCE_DIR) + "/llm_minilm_vocab.txt"));
  return tok;
}

const std::vector<std::string> kFragments = {
    "The quick brown fox jumps over the lazy dog.",
    "Crème brûlée à la mode; Ångström, Łódź, Dvořák.",
    "e\u0301 composed with a combining acute; a\u0308\u0301 stacked marks",
    "Ελληνικά κείμενα. Русский язык!",
    "中文分词测试：我爱北京天安门。",
    "日本語のテキスト、ひらがなとカタカナ。",
    "한국어 텍스트입니다. 안녕하세요!",
    "family 👨\u200d👩\u200d👧\u200d👦 flags 🇫🇷🇯🇵 skin 👍🏽",
    "no\u00a0break\u00a0spaces and\u3000ideographic",
    "unaffable antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "Is it [SEP] or [MASK]? \"Quoted.\" (Parenthesised.)",
    "\n\n",
    "\n",
    "# Title\n",
    "## Sub section ##\n",
    "```\n# not a heading\n```\n",
    "    ",
    "Dr. Smith paid $3.50 at 10:30 a.m. on 2026-01-01.",
};

std::string random_text(RandomEngine& rng, std::size_t pieces) {
  std::string text;
  for (std::size_t i = 0; i < pieces; ++i) {
    text += kFragments[detail::uniform_below(rng, kFragments.size())];
    if (detail::uniform_below(rng, 3) != 0) text += ' ';
  }
  return text;
}

bool is_continuation(const std::string& text, std::size_t at) {
  return at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80;
}

bool has_non_space(std::string_view s) { return s.find_first_not_of(" \t\r\n") != std::string_view::npos; }

/// The properties every chunking must have.
void check_chunks(const TextChunker& chunker, const Document& doc, const std::vector<Chunk>& chunks) {
  const std::string& text = doc.text;
  std::vector<bool> covered(text.size(), false);
  std::size_t previous_start = 0;
  for (const Chunk& c : chunks) {
    REQUIRE(c.start < c.end);
    REQUIRE(c.end <= text.size());
    CHECK(text.substr(c.start, c.end - c.start) == c.text);
    CHECK(c.document_id == doc.id);
    CHECK_FALSE(is_continuation(text, c.start));
    CHECK_FALSE(is_continuation(text, c.end));
    CHECK(c.start >= previous_start);  // in text order
    previous_start = c.start;
    for (std::size_t i = c.start; i < c.end; ++i) covered[i] = true;
    // Within size, except a lone code point that alone is more (a Hangul syllable is 2 or 3 word pieces).
    if (chunker.options().strategy != ChunkingStrategy::fixed && chunker.measure(c.text) > chunker.options().size)
      CHECK(TextChunker({.unit = ChunkUnit::characters}).measure(c.text) == 1);
  }
  // Everything but whitespace (and what the tokenizer drops) is in some chunk.
  for (const TextSpan u : TextChunker({.unit = ChunkUnit::words, .size = 1}).units(text)) {
    bool all = true;
    for (std::size_t i = u.start; i < u.end; ++i) all = all && covered[i];
    if (!all) {
      CAPTURE(text.substr(u.start, u.end - u.start));
      CHECK(all);
    }
  }
}

/// Every (strategy, unit, (size, overlap)) combination of the given strategies and sizes, in every unit.
std::vector<TextChunkerOptions> options_grid(std::initializer_list<ChunkingStrategy> strategies,
                                             std::initializer_list<std::pair<Index, Index>> sizes) {
  std::vector<TextChunkerOptions> out;
  for (const auto strategy : strategies)
    for (const auto unit : {ChunkUnit::characters, ChunkUnit::words, ChunkUnit::tokens})
      for (const auto& [size, overlap] : sizes) {
        TextChunkerOptions o;
        o.strategy = strategy;
        o.unit = unit;
        o.size = size;
        o.overlap = overlap;
        if (unit == ChunkUnit::tokens) o.tokenizer = minilm_tokenizer();
        out.push_back(o);
      }
  return out;
}

std::vector<TextChunkerOptions> all_options() {
  return options_grid(
      {ChunkingStrategy::fixed, ChunkingStrategy::sentence, ChunkingStrategy::recursive, ChunkingStrategy::markdown},
      {{1, 0}, {7, 3}, {40, 10}, {200, 0}});
}

}  // namespace

TEST_CASE("TextChunker: every chunk of every strategy and unit is the exact passage, on Unicode text") {
  RandomEngine rng(test::test_seed());
  std::vector<Document> docs;
  docs.push_back(Document::from_source("empty", ""));
  docs.push_back(Document::from_source("spaces", "   \n\n  "));
  for (int i = 0; i < 12; ++i)
    docs.push_back(Document::from_source("random-" + std::to_string(i), random_text(rng, 4 + 6 * i)));
  std::size_t checked = 0;
  for (const TextChunkerOptions& o : all_options()) {
    const TextChunker chunker(o);
    CAPTURE(static_cast<int>(o.strategy));
    CAPTURE(static_cast<int>(o.unit));
    CAPTURE(o.size);
    for (const Document& doc : docs) {
      CAPTURE(doc.source);
      const auto chunks = chunker.split(doc);
      check_chunks(chunker, doc, chunks);
      if (has_non_space(doc.text)) CHECK_FALSE(chunks.empty());
      checked += chunks.size();
    }
  }
  CHECK(checked > 1000);
}

TEST_CASE("TextChunker: fixed windows hold exactly size units and share exactly overlap units") {
  RandomEngine rng(test::test_seed() + 1);
  const std::string text = random_text(rng, 40);
  for (const auto unit : {ChunkUnit::characters, ChunkUnit::words, ChunkUnit::tokens})
    for (const auto& [size, overlap] : {std::pair<Index, Index>{10, 3}, {25, 0}, {16, 15}}) {
      CAPTURE(static_cast<int>(unit));
      const auto& chunk_size = size;  // a structured binding: clang 14's lambdas cannot capture it
      CAPTURE(chunk_size);
      const TextChunker chunker({.strategy = ChunkingStrategy::fixed,
                                 .unit = unit,
                                 .size = size,
                                 .overlap = overlap,
                                 .tokenizer = unit == ChunkUnit::tokens ? minilm_tokenizer() : nullptr});
      const std::vector<TextSpan> u = chunker.units(text);
      const std::vector<TextSpan> chunks = chunker.split_text(text);
      const auto stride = static_cast<std::size_t>(size - overlap);
      REQUIRE(chunks.size() == (u.size() <= static_cast<std::size_t>(size)
                                    ? 1
                                    : (u.size() - static_cast<std::size_t>(size) + stride - 1) / stride + 1));
      for (std::size_t w = 0; w < chunks.size(); ++w) {
        const std::size_t first = w * stride, last = std::min(u.size(), first + static_cast<std::size_t>(size)) - 1;
        if (unit != ChunkUnit::tokens) {  // tokens: pieces of one special-token run may be empty spans
          CHECK(chunks[w].start == u[first].start);
          CHECK(chunks[w].end == u[last].end);
        }
        if (w + 1 < chunks.size()) {
          CHECK(last - first + 1 == static_cast<std::size_t>(size));
          // the next window starts `overlap` units before this one ends
          if (overlap > 0) CHECK(u[(w + 1) * stride].start < chunks[w].end);
          // (word pieces that split one Hangul syllable's jamo both contain the syllable)
          if (overlap == 0 && unit != ChunkUnit::tokens) CHECK(u[(w + 1) * stride].start >= chunks[w].end);
        }
      }
      if (unit == ChunkUnit::characters) {
        for (std::size_t w = 0; w + 1 < chunks.size(); ++w) {
          CHECK(chunker.measure(text.substr(chunks[w].start, chunks[w].end - chunks[w].start)) == size);
          const TextSpan shared{chunks[w + 1].start, chunks[w].end};
          CHECK(chunker.measure(text.substr(shared.start, shared.end - shared.start)) == overlap);
        }
      }
    }
}

TEST_CASE("TextChunker: word pieces are located where the tokenizer reads them") {
  const auto tok = minilm_tokenizer();
  const TextChunker chunker(
      {.strategy = ChunkingStrategy::fixed, .unit = ChunkUnit::tokens, .size = 8, .tokenizer = tok});
  const std::string text = "Unaffable Crème brûlée, naïve e\u0301cole: 中文 text!";
  const std::vector<std::string> pieces = tok->tokenize(text);
  const std::vector<TextSpan> u = chunker.units(text);
  REQUIRE(u.size() == pieces.size());
  for (std::size_t i = 0; i < u.size(); ++i) {
    std::string piece = pieces[i];
    if (piece.rfind("##", 0) == 0) piece = piece.substr(2);
    std::string located = tok->normalize(text.substr(u[i].start, u[i].end - u[i].start));
    std::erase(located, ' ');
    CAPTURE(i);
    CHECK(located == piece);
  }
  // "Unaffable" = una ##ffa ##ble: a window may begin or end inside a word.
  CHECK(text.substr(u[0].start, u[0].end - u[0].start) == "Una");
  CHECK(text.substr(u[1].start, u[1].end - u[1].start) == "ffa");
  CHECK(text.substr(u[2].start, u[2].end - u[2].start) == "ble");
  // Every random text: as many located pieces as the tokenizer gives, in order, inside the text.
  RandomEngine rng(test::test_seed() + 2);
  for (int k = 0; k < 20; ++k) {
    const std::string t = random_text(rng, 10);
    const auto spans = chunker.units(t);
    CHECK(spans.size() == tok->tokenize(t).size());
    for (std::size_t i = 0; i + 1 < spans.size(); ++i) CHECK(spans[i].start <= spans[i + 1].start);
  }
}

TEST_CASE("TextChunker: sentence chunks end at sentence boundaries") {
  const std::string text =
      "First sentence here. Second one? Third! \"Quoted end.\" Next (aside.) Last one without a stop";
  const TextChunker chunker({.strategy = ChunkingStrategy::sentence, .unit = ChunkUnit::words, .size = 3});
  const auto spans = chunker.split_text(text);
  std::vector<std::string> got;
  for (const TextSpan s : spans) got.push_back(text.substr(s.start, s.end - s.start));
  const std::vector<std::string> expected = {"First sentence here.", "Second one? Third!", "\"Quoted end.\"",
                                             "Next (aside.)",        "Last one without",   "a stop"};
  CHECK(got == expected);
  // With room for two sentences and an overlap of up to 2 words, the overlap is a whole sentence.
  const TextChunker wider({.strategy = ChunkingStrategy::sentence, .unit = ChunkUnit::words, .size = 5, .overlap = 2});
  std::vector<std::string> got2;
  for (const TextSpan s : wider.split_text("One two three. Four five. Six seven. Eight."))
    got2.push_back(std::string("One two three. Four five. Six seven. Eight.").substr(s.start, s.end - s.start));
  CHECK(got2 == std::vector<std::string>{"One two three. Four five.", "Four five. Six seven. Eight."});
}

TEST_CASE("TextChunker: recursive splitting prefers paragraphs, then lines, then words") {
  const std::string text = "Para one line one.\nPara one line two.\n\nPara two is here.\n\nPara three.";
  const TextChunker chunker({.strategy = ChunkingStrategy::recursive, .size = 40});
  std::vector<std::string> got;
  for (const TextSpan s : chunker.split_text(text)) got.push_back(text.substr(s.start, s.end - s.start));
  CHECK(got == std::vector<std::string>{"Para one line one.\nPara one line two.", "Para two is here.\n\nPara three."});
  const TextChunker narrow({.strategy = ChunkingStrategy::recursive, .size = 10, .overlap = 4});
  got.clear();
  for (const TextSpan s : narrow.split_text("alpha beta gamma delta"))
    got.push_back(std::string("alpha beta gamma delta").substr(s.start, s.end - s.start));
  // Each chunk opens with the last 4 characters of the one before, as fixed windows do.
  CHECK(got == std::vector<std::string>{"alpha beta", "beta gamma", "amma delta"});
}

TEST_CASE("TextChunker: Markdown sections carry their heading path, fenced code is not a heading") {
  const Document doc =
      Document::from_source("guide.md",
                            "Preamble.\n# Install\nUse cmake.\n## From source ##\nClone it.\n```\n# comment\n```\n"
                            "# Usage\nCall it.\n");
  const TextChunker chunker({.strategy = ChunkingStrategy::markdown, .size = 1000});
  const auto chunks = chunker.split(doc);
  REQUIRE(chunks.size() == 4);
  CHECK(chunks[0].text == "Preamble.");
  CHECK(chunks[0].heading.empty());
  CHECK(chunks[1].text == "# Install\nUse cmake.");
  CHECK(chunks[1].heading == "Install");
  CHECK(chunks[2].heading == "Install > From source");
  CHECK(chunks[2].text == "## From source ##\nClone it.\n```\n# comment\n```");
  CHECK(chunks[2].metadata.at("heading") == "Install > From source");
  CHECK(chunks[3].heading == "Usage");
}

TEST_CASE("TextChunker: ids are stable and derived from the source and offsets") {
  const Document a = Document::from_source("a.txt", "hello world");
  const Document b = Document::from_source("a.txt", "hello world");
  const Document c = Document::from_passage("a.txt", "hello world", 5);
  CHECK(a.id == b.id);
  CHECK(a.id != c.id);
  CHECK(a.id == make_document_id("a.txt", 0, 11));
  CHECK(a.id.size() == 18);
  CHECK(c.metadata.at("source_start") == "5");
  const auto chunks = TextChunker({.strategy = ChunkingStrategy::fixed, .unit = ChunkUnit::words, .size = 1}).split(a);
  REQUIRE(chunks.size() == 2);
  CHECK(chunks[1].id() == a.id + "#6-11");
  CHECK_THROWS_NAMING(make_document_id("x", 3, 2), InvalidArgument, "start 3 is after end 2");
}

TEST_CASE("TextChunker: bad options are InvalidArgument naming the problem") {
  CHECK_THROWS_NAMING(TextChunker({.size = 0}), InvalidArgument, "size must be positive, got 0");
  CHECK_THROWS_NAMING(TextChunker({.size = 10, .overlap = 10}), InvalidArgument,
                      "overlap 10 must be smaller than size 10");
  CHECK_THROWS_NAMING(TextChunker({.size = 10, .overlap = 12}), InvalidArgument, "overlap 12 must be smaller");
  CHECK_THROWS_NAMING(TextChunker({.size = 10, .overlap = -1}), InvalidArgument, "overlap must not be negative");
  CHECK_THROWS_NAMING(TextChunker({.unit = ChunkUnit::tokens}), InvalidArgument, "needs a tokenizer");
  CHECK_THROWS_NAMING(TextChunker({.strategy = ChunkingStrategy::recursive, .separators = {}}), InvalidArgument,
                      "separator list is empty");
  TextChunkerOptions o;
  o.metadata_in_budget = {"title", ""};
  CHECK_THROWS_NAMING(TextChunker(o), InvalidArgument, "a key of metadata_in_budget is empty");
}

TEST_CASE("TextChunker: packing chunks share exactly `overlap` units, across pieces that had to be cut too") {
  // Sentence, recursive and Markdown chunks of random Unicode text: chunk k + 1 starts `overlap` units
  // before chunk k ends (Markdown: within a section). Characters and words: exactly `overlap`. Tokens:
  // `overlap` pieces of chunk k's own tokenisation unless the next piece needs the room (a concatenation
  // may take more word pieces than its parts): counted.
  RandomEngine rng(test::test_seed() + 3);
  std::vector<Document> docs;
  for (int i = 0; i < 8; ++i)
    docs.push_back(Document::from_source("random-" + std::to_string(i), random_text(rng, 30)));
  std::size_t pairs = 0, token_pairs = 0, token_exact = 0, whitespace_limited = 0;
  for (const TextChunkerOptions& o :
       options_grid({ChunkingStrategy::sentence, ChunkingStrategy::recursive, ChunkingStrategy::markdown},
                    {{12, 4}, {30, 10}, {8, 7}, {60, 1}})) {
    const ChunkingStrategy strategy = o.strategy;
    const ChunkUnit unit = o.unit;
    const Index size = o.size, overlap = o.overlap;
    const TextChunker chunker(o);
    CAPTURE(static_cast<int>(strategy));
    CAPTURE(static_cast<int>(unit));
    CAPTURE(o.size);
    for (const Document& doc : docs) {
      const auto chunks = chunker.split(doc);
      check_chunks(chunker, doc, chunks);
      // Markdown sections: the chunks of a chunker too large to cut anything.
      std::vector<TextSpan> sections = {{0, doc.text.size()}};
      if (strategy == ChunkingStrategy::markdown)
        sections = TextChunker({.strategy = ChunkingStrategy::markdown, .size = 1 << 30}).split_text(doc.text);
      const auto section_of = [&](const Chunk& c) {
        for (std::size_t k = 0; k < sections.size(); ++k)
          if (c.start >= sections[k].start && c.end <= sections[k].end) return k;
        FAIL("chunk outside every section");
        return sections.size();
      };
      for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {
        const Chunk &c = chunks[i], &d = chunks[i + 1];
        if (section_of(c) != section_of(d)) {
          CHECK(d.start >= c.end);
          continue;
        }
        CAPTURE(c.text);
        CAPTURE(d.text);
        REQUIRE(d.start >= c.start);
        ++pairs;
        // The units of chunk k from d's start on (word pieces that split one Hangul syllable's jamo
        // begin at the same byte: counted once).
        std::size_t shared = 0, last_start = std::string::npos;
        for (const TextSpan u : chunker.units(c.text))
          if (c.start + u.start >= d.start && u.start != last_start) {
            ++shared;
            last_start = u.start;
          }
        if (unit == ChunkUnit::tokens) {
          CHECK(shared <= static_cast<std::size_t>(overlap));
          ++token_pairs;
          token_exact += shared == static_cast<std::size_t>(overlap);
        } else if (shared == static_cast<std::size_t>(overlap)) {
          CHECK(chunker.measure(doc.text.substr(d.start, c.end - d.start)) == overlap);
        } else {
          // Fewer only in characters, when the whitespace after chunk k is so long that one more unit
          // of overlap, the whitespace and one code point would not fit.
          CHECK(unit == ChunkUnit::characters);
          Index gap = 0;  // whitespace code points after chunk k
          for (std::size_t j = c.end; j < doc.text.size(); ++gap)
            if (!is_unicode_space(detail::unicode::decode_utf8(doc.text, j))) break;
          CHECK(static_cast<Index>(shared) + 1 + gap + 1 > size);
          ++whitespace_limited;
        }
      }
    }
  }
  MESSAGE(pairs << " consecutive pairs; tokens: " << token_exact << " of " << token_pairs
                << " exactly `overlap`; characters: " << whitespace_limited << " limited by whitespace");
  CHECK(pairs > 500);
  CHECK(whitespace_limited * 4 < pairs);
  // Tokens: an overlap that begins inside a word is tokenised afresh in the next chunk ("##녕" becomes "녕"),
  // sometimes into more pieces, which then leave less room.
  CHECK(static_cast<double>(token_exact) >= 0.8 * static_cast<double>(token_pairs));
}

TEST_CASE("TextChunker: a sentence longer than the chunk is cut, and the overlap runs across the cuts") {
  const std::string text = "A short one. This sentence is much longer than six words in total. End.";
  const TextChunker chunker(
      {.strategy = ChunkingStrategy::sentence, .unit = ChunkUnit::words, .size = 6, .overlap = 2});
  std::vector<std::string> got;
  for (const TextSpan s : chunker.split_text(text)) got.push_back(text.substr(s.start, s.end - s.start));
  CHECK(got == std::vector<std::string>{"A short one.", "short one. This sentence is much",
                                        "is much longer than six words", "six words in total.", "in total. End."});
  // A chunk no longer than the overlap runs on into the cut piece (alone, the next chunk would contain it).
  got.clear();
  const std::string two = "Hi. This sentence is much longer than six words.";
  for (const TextSpan s : chunker.split_text(two)) got.push_back(two.substr(s.start, s.end - s.start));
  CHECK(got == std::vector<std::string>{"Hi. This sentence is much longer", "much longer than six words."});
  // Characters of Unicode text, recursive: a 4-character overlap, whitespace included, across a cut word.
  const std::string greek = "Ελληνικά κείμενα αβγδεζηθικλμνξοπρστυφχψω τέλος";
  const TextChunker chars({.strategy = ChunkingStrategy::recursive, .size = 12, .overlap = 4});
  got.clear();
  for (const TextSpan s : chars.split_text(greek)) got.push_back(greek.substr(s.start, s.end - s.start));
  // (The word after the cut one starts a chunk of its own, which opens with the overlap.)
  CHECK(got == std::vector<std::string>{"Ελληνικά", "νικά κείμενα", "μενα αβγδεζη", "δεζηθικλμνξο", "μνξοπρστυφχψ",
                                        "υφχψω", "φχψω τέλος"});
}

TEST_CASE("TextChunker: metadata rendered into the chunk counts in the budget; no room is an error") {
  const Document doc = Document::from_source(
      "guide.md", "# Install\nUse cmake to build it from the sources.\n## From source\nClone it and run.\n",
      {{"title", "Guide"}});
  TextChunkerOptions o;
  o.strategy = ChunkingStrategy::markdown;
  o.unit = ChunkUnit::words;
  o.size = 9;
  o.overlap = 1;
  o.metadata_in_budget = {"title", "heading"};
  const TextChunker chunker(o);
  const auto chunks = chunker.split(doc);
  REQUIRE(chunks.size() >= 3);
  CHECK(chunker.embedding_text(chunks[0]) == "title: Guide\nheading: Install\n" + chunks[0].text);
  for (const Chunk& c : chunks) {
    CAPTURE(chunker.embedding_text(c));
    CHECK(chunker.measure(chunker.embedding_text(c)) <= 9);
    CHECK(doc.text.substr(c.start, c.end - c.start) == c.text);
  }
  // "title: Guide" and "heading: Install > From source" take 7 of 9 words: 2 left, overlap 1 needs 2. At 8,
  // 1 is left: an error naming the document and the budget.
  o.size = 8;
  const std::string expected_message =
      "TextChunker::split: document " + doc.id +
      " (guide.md): the metadata rendered into each chunk (title: Guide;heading: Install > From "
      "source;) takes 7 of the chunk budget of 8 words, leaving 1 for the text, which needs at "
      "least overlap + 1 = 2";
  CHECK_THROWS_NAMING(TextChunker(o).split(doc), InvalidArgument, expected_message.c_str());
  // Fixed windows: the window holds the budget left after the header.
  TextChunkerOptions f;
  f.strategy = ChunkingStrategy::fixed;
  f.unit = ChunkUnit::characters;
  f.size = 20;
  f.overlap = 2;
  f.metadata_in_budget = {"title"};
  const Document plain = Document::from_source("p.txt", "abcdefghijklmnopqrstuvwxyz", {{"title", "Abc"}});
  const auto windows = TextChunker(f).split(plain);
  // 20 − "title: Abc\n" (11 characters) = 9 a window, 7 apart.
  REQUIRE(windows.size() == 4);
  CHECK(windows[0].text == "abcdefghi");
  CHECK(windows[1].text == "hijklmnop");
  CHECK(windows[3].text == "vwxyz");
  // Without the key in the metadata nothing is rendered, and the whole budget is the text's.
  CHECK(TextChunker(f).split(Document::from_source("q.txt", "abcdefghijklmnopqrstuvwxyz")).front().text.size() == 20);
  f.size = 13;  // 13 − 11 = 2 characters, overlap 2 needs 3
  CHECK_THROWS_NAMING(TextChunker(f).split(plain), InvalidArgument, "of the chunk budget of 13 characters, leaving 2");
}
