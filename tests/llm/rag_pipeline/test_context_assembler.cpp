// ContextAssembler: merged passages are exact document passages (fixed cases and seeded random chunkings),
// the budget holds for the final text with either counter, selection skips what does not fit, both
// orders, labels; bad options and inconsistent chunks are InvalidArgument.
#include <aimastery/core/probability/sampling.hpp>
#include <aimastery/llm/rag/context_assembler.hpp>

#include "support.hpp"

using namespace aimastery;

namespace {

RetrievalResult result_of(const Document& doc, std::size_t start, std::size_t end, double score, Index rank) {
  Chunk c{doc.id, start, end, doc.text.substr(start, end - start), {}, {}};
  return RetrievalResult::of(std::move(c), score, rank);
}

const Document& document_of(const std::vector<Document>& docs, const std::string& id) {
  for (const Document& d : docs)
    if (d.id == id) return d;
  FAIL("no document " << id);
  return docs.front();
}

}  // namespace

TEST_CASE("ContextAssembler: overlapping and adjacent chunks of one document merge into exact passages") {
  const Document doc = Document::from_source("a.txt", "Alpha beta gamma. Delta epsilon zeta. Eta theta iota. Kappa.");
  const Document other = Document::from_source("b.txt", "Other text here.");
  const std::vector<RetrievalResult> results = {result_of(doc, 18, 38, 0.5, 2),   // "Delta epsilon zeta. "
                                                result_of(doc, 0, 25, 0.9, 1),    // overlaps the first
                                                result_of(other, 0, 16, 0.7, 3),  // another document
                                                result_of(doc, 38, 54, 0.2, 4),   // adjacent to [18, 38)
                                                result_of(doc, 55, 60, 0.1, 5)};  // one byte after: not merged
  const ContextAssembler assembler(count_words, {.max_tokens = 100});
  const AssembledContext context = assembler.assemble(results);
  REQUIRE(context.passages.size() == 3);
  // By score: [0, 54) (best 0.9, rank 1), the other document (0.7), then [56, 62).
  const ContextPassage& merged = context.passage(1);
  CHECK(merged.citation.document_id == doc.id);
  CHECK(merged.citation.start == 0);
  CHECK(merged.citation.end == 54);
  CHECK(merged.text == doc.text.substr(0, 54));
  CHECK(merged.score == 0.9);
  CHECK(merged.best_rank == 1);
  CHECK(context.passage(2).citation.document_id == other.id);
  CHECK(context.passage(3).text == doc.text.substr(55, 5));
  CHECK(context.text ==
        "[1] " + doc.text.substr(0, 54) + "\n\n[2] " + other.text + "\n\n[3] " + doc.text.substr(55, 5));
  CHECK(context.tokens == count_words(context.text));
  CHECK(context.left_out == 0);

  const AssembledContext separate =
      ContextAssembler(count_words, {.max_tokens = 100, .merge = false}).assemble(results);
  CHECK(separate.passages.size() == results.size());
}

TEST_CASE("ContextAssembler: seeded random chunkings give exact, disjoint passages within the budget") {
  RandomEngine rng(test::test_seed());
  const std::vector<std::string> words = {"alpha", "béta", "gamma", "δέλτα", "epsilon", "zeta", "日本語", "eta."};
  for (int trial = 0; trial < 200; ++trial) {
    CAPTURE(trial);
    std::vector<Document> docs;
    std::vector<RetrievalResult> results;
    for (int d = 0; d < 3; ++d) {
      std::string text;
      const auto n_words = 5 + detail::uniform_below(rng, 40);
      for (std::uint64_t w = 0; w < n_words; ++w) text += words[detail::uniform_below(rng, words.size())] + " ";
      docs.push_back(Document::from_source("doc" + std::to_string(d), text));
    }
    for (int r = 0; r < 8; ++r) {
      const Document& doc = docs[detail::uniform_below(rng, docs.size())];
      auto start = static_cast<std::size_t>(detail::uniform_below(rng, doc.text.size()));
      auto end = start + static_cast<std::size_t>(detail::uniform_below(rng, doc.text.size() - start + 1));
      results.push_back(result_of(doc, start, end, detail::uniform_open01(rng), r + 1));
    }
    const Index budget = 1 + static_cast<Index>(detail::uniform_below(rng, 60));
    const bool by_position = detail::uniform_below(rng, 2) == 1;
    const ContextAssembler assembler(
        count_words,
        {.max_tokens = budget, .order = by_position ? ContextOrder::document_position : ContextOrder::score});
    const AssembledContext context = assembler.assemble(results);
    CHECK(context.tokens == count_words(context.text));
    CHECK(context.tokens <= budget);
    for (std::size_t i = 0; i < context.passages.size(); ++i) {
      const ContextPassage& p = context.passages[i];
      CHECK(p.number == static_cast<Index>(i) + 1);
      const Document& doc = document_of(docs, p.citation.document_id);
      CHECK(p.text == doc.text.substr(p.citation.start, p.citation.end - p.citation.start));
      CHECK(context.text.find("[" + std::to_string(p.number) + "] " + p.text) != std::string::npos);
      for (std::size_t j = 0; j < i; ++j) {  // merged passages of one document neither overlap nor touch
        const ContextPassage& q = context.passages[j];
        if (q.citation.document_id != p.citation.document_id) continue;
        CHECK((q.citation.end < p.citation.start || p.citation.end < q.citation.start));
        if (by_position) CHECK(q.citation.start < p.citation.start);
      }
      if (!by_position && i > 0) CHECK(context.passages[i - 1].score >= p.score);
    }
  }
}

TEST_CASE("ContextAssembler: a passage that does not fit is left out and a later shorter one is taken") {
  const Document doc =
      Document::from_source("a.txt", "one two three four five six seven eight nine ten. short one. last");
  const std::vector<RetrievalResult> results = {result_of(doc, 0, 49, 0.9, 1), result_of(doc, 50, 60, 0.5, 2),
                                                result_of(doc, 61, 65, 0.1, 3)};
  // "[1] short one." is 3 words; the ten-word passage cannot fit 6.
  const AssembledContext context = ContextAssembler(count_words, {.max_tokens = 6}).assemble(results);
  REQUIRE(context.passages.size() == 2);
  CHECK(context.passages[0].text == "short one.");
  CHECK(context.passages[1].text == "last");
  CHECK(context.left_out == 1);
  CHECK(context.tokens <= 6);
  CHECK(ContextAssembler(count_words, {.max_tokens = 1}).assemble(results).passages.empty());
  CHECK(ContextAssembler(count_words).assemble(std::vector<RetrievalResult>{}).text.empty());
}

TEST_CASE("ContextAssembler: the budget counted in word pieces") {
  const auto tokenizer = std::make_shared<const WordPieceTokenizer>(
      std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[", "]", "1", "2", "token", "##izer", "##s", "a"});
  const TokenCounter count = count_wordpieces(tokenizer);
  CHECK(count("tokenizers a") == 4);  // token ##izer ##s a
  CHECK(count("[1] ") == 3);
  const Document doc = Document::from_source("t", "tokenizers tokenizers a a a");
  const std::vector<RetrievalResult> results = {result_of(doc, 0, 21, 1.0, 1), result_of(doc, 22, 27, 0.5, 2)};
  const AssembledContext context = ContextAssembler(count, {.max_tokens = 9, .merge = false}).assemble(results);
  REQUIRE(context.passages.size() == 1);  // [1] + 6 pieces = 9; the second would need 3 + 3 more
  CHECK(context.tokens == 9);
  CHECK(context.passages[0].tokens == 6);
}

TEST_CASE("ContextAssembler: bad options and inconsistent chunks are InvalidArgument") {
  CHECK_THROWS_NAMING(ContextAssembler(count_words, {.max_tokens = 0}), InvalidArgument, "max_tokens");
  CHECK_THROWS_NAMING(ContextAssembler(TokenCounter{}), InvalidArgument, "token counter is empty");
  CHECK_THROWS_NAMING(count_wordpieces(nullptr), InvalidArgument, "tokenizer is null");
  const Document doc = Document::from_source("a.txt", "Alpha beta gamma delta.");
  RetrievalResult wrong_size = result_of(doc, 0, 10, 1.0, 1);
  wrong_size.chunk.end = 12;
  const ContextAssembler assembler(count_words);
  CHECK_THROWS_NAMING(assembler.assemble(std::vector{wrong_size}), InvalidArgument, "bytes of text for the byte range");
  RetrievalResult disagrees = result_of(doc, 6, 16, 1.0, 2);
  disagrees.chunk.text[0] = 'X';
  CHECK_THROWS_NAMING(assembler.assemble(std::vector{result_of(doc, 0, 10, 1.0, 1), disagrees}), InvalidArgument,
                      "disagree on their shared bytes");
  const AssembledContext context = assembler.assemble(std::vector{result_of(doc, 0, 10, 1.0, 1)});
  CHECK_THROWS_NAMING((void)context.passage(0), InvalidArgument, "no passage [0]");
  CHECK_THROWS_NAMING((void)context.passage(2), InvalidArgument, "context has 1");
}
