// Retrieval metrics and TREC files against pytrec_eval (tests/reference/gen_llm_rag_metrics.py): the qrels
// and run files are read by our readers and every per-query P@k, recall@k, nDCG@k, reciprocal rank and AP
// equals trec_eval's; hand-checked small cases; hostile files are FormatError naming the line.
#include <aimastery/core/probability/sampling.hpp>
#include <aimastery/llm/rag/retrieval_metrics.hpp>
#include <aimastery/llm/rag/trec_files.hpp>

#include <sstream>

#include "support.hpp"

using namespace aimastery;

namespace {

std::string reference_file(const std::string& name) { return std::string(AIMASTERY_REFERENCE_DIR) + "/" + name; }

}  // namespace

TEST_CASE("retrieval metrics: every per-query measure equals pytrec_eval on the same TREC files") {
  const auto ref = test::load_reference("llm_rag_metrics.json");
  const Qrels qrels = read_trec_qrels(reference_file("llm_rag_metrics.qrels"));
  const Run run = read_trec_run(reference_file("llm_rag_metrics.run"));
  const auto cutoffs = ref["cutoffs"].get<std::vector<Index>>();
  const auto ours = evaluate_run(qrels, run, {.cutoffs = cutoffs});
  REQUIRE(ours.size() == ref["per_query"].size());
  std::size_t compared = 0, nonzero = 0;
  for (const auto& [query, measures] : ref["per_query"].items()) {
    const auto& query_id = query;  // a structured binding: clang 14's lambdas cannot capture it
    CAPTURE(query_id);
    REQUIRE(ours.count(query) == 1);
    const auto& mine = ours.at(query);
    CHECK(mine.size() == measures.size());
    for (const auto& [name, value] : measures.items()) {
      const auto& measure = name;  // a structured binding: clang 14's lambdas cannot capture it
      CAPTURE(measure);
      REQUIRE(mine.count(name) == 1);
      CHECK(mine.at(name) == doctest::Approx(value.get<double>()).epsilon(1e-12));
      ++compared;
      nonzero += value.get<double>() > 0;
    }
  }
  CHECK(compared > 400);
  CHECK(nonzero > 100);
  const auto mean = mean_over_queries(ours);
  double map = 0;
  for (const auto& [query, measures] : ref["per_query"].items()) map += measures["map"].get<double>();
  CHECK(mean.at("map") == doctest::Approx(map / static_cast<double>(ref["per_query"].size())));
}

TEST_CASE("retrieval metrics: a hand-checked ranking") {
  // Ranking by score, ties by id descending: d (2.0), b (1.0), a (1.0), c (0.5), e (0.1).
  const Judgments judged = {{"a", 2}, {"b", 0}, {"c", 1}, {"d", -1}, {"z", 3}};
  const auto ranking = rank_documents({{"a", 1.0}, {"b", 1.0}, {"c", 0.5}, {"d", 2.0}, {"e", 0.1}});
  CHECK(ranking == std::vector<std::string>{"d", "b", "a", "c", "e"});
  CHECK(precision_at_k(ranking, judged, 3) == doctest::Approx(1.0 / 3));
  CHECK(precision_at_k(ranking, judged, 10) == doctest::Approx(0.2));  // divided by k, not by 5
  CHECK(recall_at_k(ranking, judged, 4) == doctest::Approx(2.0 / 3));  // z is never retrieved
  CHECK(reciprocal_rank(ranking, judged) == doctest::Approx(1.0 / 3));
  CHECK(average_precision(ranking, judged) == doctest::Approx((1.0 / 3 + 2.0 / 4) / 3));
  // DCG@3 = 2 / log2(4) (d's grade -1 counts 0); IDCG@3 = 3 + 2 / log2(3) + 1 / 2.
  CHECK(ndcg_at_k(ranking, judged, 3) == doctest::Approx(1.0 / (3 + 2 / std::log2(3.0) + 0.5)));
  CHECK(recall_at_k(ranking, {{"a", 0}}, 5) == 0.0);
  CHECK(ndcg_at_k({}, judged, 5) == 0.0);
  CHECK(mean_over_queries({}).empty());
  CHECK_THROWS_NAMING(precision_at_k(ranking, judged, 0), InvalidArgument,
                      "precision_at_k: the cutoff k must be at least 1, got 0");
  CHECK_THROWS_NAMING(ndcg_at_k(ranking, judged, -2), InvalidArgument, "ndcg_at_k");
  CHECK_THROWS_NAMING(evaluate_run({}, {}, {.cutoffs = {5, 0}}), InvalidArgument, "evaluate_run");
}

TEST_CASE("TREC files: a written run reads back to the same scores and ranks") {
  const Run run = {{"q1", {{"a", 0.1}, {"b", 2.5}, {"c", -1e-300}}}, {"q2", {{"x", 1.0 / 3}}}};
  std::stringstream io;
  write_trec_run(io, run, "ours");
  CHECK(io.str().rfind("q1 Q0 b 1 2.5 ours\nq1 Q0 a 2 0.1 ours\n", 0) == 0);
  CHECK(read_trec_run(io) == run);
  std::stringstream sink;
  CHECK_THROWS_NAMING(write_trec_run(sink, run, "two words"), InvalidArgument, "tag");
  CHECK_THROWS_NAMING(write_trec_run(sink, {{"q 1", {{"a", 1.0}}}}), InvalidArgument, "query id 'q 1'");
  CHECK_THROWS_NAMING(write_trec_run(sink, {{"q1", {{"", 1.0}}}}), InvalidArgument, "document id ''");
  CHECK(sink.str().empty());
}

TEST_CASE("TREC files: hostile input is a FormatError naming the line") {
  const auto qrels = [](const std::string& text) {
    std::istringstream in(text);
    return read_trec_qrels(in);
  };
  const auto run = [](const std::string& text) {
    std::istringstream in(text);
    return read_trec_run(in);
  };
  CHECK(qrels("").empty());
  CHECK(qrels("\n\n  \n").empty());
  CHECK(qrels("q1 0 d1 2\r\nq1 0 d2 0\r\n").at("q1").at("d1") == 2);
  CHECK_THROWS_NAMING(qrels("q1 0 d1 1\nq1 0 d2\n"), FormatError, "line 2: expected 4 fields");
  CHECK_THROWS_NAMING(qrels("q1 0 d1 1.5\n"), FormatError, "line 1: grade '1.5' is not an integer");
  CHECK_THROWS_NAMING(qrels("q1 0 d1 99999999999999999999\n"), FormatError, "is not an integer");
  CHECK_THROWS_NAMING(qrels("q1 0 d1 1\nq1 0 d1 2\n"), FormatError, "line 2: document 'd1' is judged twice");
  CHECK_THROWS_NAMING(qrels(std::string("q1 0 d\0 1\n", 10)), FormatError, "NUL byte");
  CHECK_THROWS_NAMING(qrels(std::string(70000, 'x')), FormatError, "line 1 is longer than 64 KiB");
  CHECK_THROWS_NAMING(run("q1 Q0 d1 1 0.5\n"), FormatError, "line 1: expected 6 fields");
  CHECK_THROWS_NAMING(run("q1 Q0 d1 1 nan t\n"), FormatError, "score 'nan' is not a finite number");
  CHECK_THROWS_NAMING(run("q1 Q0 d1 1 1e999 t\n"), FormatError, "is not a finite number");
  CHECK_THROWS_NAMING(run("q1 Q0 d1 1 inf t\n"), FormatError, "is not a finite number");
  CHECK_THROWS_NAMING(run("q1 Q0 d1 x 1 t\n"), FormatError, "rank 'x' is not an integer");
  CHECK_THROWS_NAMING(run("q1 Q0 d1 1 1 t\nq1 Q0 d1 2 0 t\n"), FormatError, "line 2: document 'd1' is listed twice");
  CHECK_THROWS_NAMING(read_trec_run(std::string("/nonexistent/run.txt")), FormatError, "cannot open");
  CHECK_THROWS_NAMING(read_trec_qrels(reference_file("llm_rag_metrics.qrels"), 100), FormatError,
                      "larger than the limit of 100 bytes");
  // Seeded random garbage never crashes: it parses or throws FormatError.
  RandomEngine rng(test::test_seed());
  const std::string alphabet = "q0Q d1.-e\t\n \r9x\xff";
  for (int i = 0; i < 2000; ++i) {
    std::string text;
    const auto n = detail::uniform_below(rng, 80);
    for (std::uint64_t k = 0; k < n; ++k) text.push_back(alphabet[detail::uniform_below(rng, alphabet.size())]);
    try {
      qrels(text);
    } catch (const FormatError&) {
    }
    try {
      run(text);
    } catch (const FormatError&) {
    }
  }
}
