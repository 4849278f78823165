#pragma once
/// \file
/// TREC qrels and run files, the formats trec_eval and pytrec_eval read:
///
///   qrels:  query_id  iteration  document_id  grade           e.g.  "q7 0 doc42 2"
///   run:    query_id  Q0  document_id  rank  score  tag        e.g.  "q7 Q0 doc42 1 13.25 bm25"
///
/// Fields are separated by spaces or tabs; empty lines are skipped. The iteration, "Q0", rank and tag
/// columns are read and checked but not used (trec_eval ranks by score). A file is hostile until proven
/// otherwise: a wrong field count, a grade that is not an integer, a score that is not a finite number,
/// a document listed twice for one query, a line over 64 KiB, or a file over the size limit (1 GiB by
/// default) is a FormatError naming the line; nothing is allocated beyond the file's own size.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/llm/rag/retrieval_metrics.hpp"

namespace aimastery {

namespace detail::rag {

inline constexpr std::size_t kMaxTrecLine = 64 * 1024;

/// The whitespace-separated fields of a line (views into it).
inline std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const std::size_t s = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > s) out.push_back(line.substr(s, i - s));
  }
  return out;
}

/// Calls row(fields, line_number) for every non-empty line of `in`; FormatError on an over-long line.
template <class Row>
void for_each_trec_line(std::istream& in, const std::string& where, Row&& row) {
  std::string line;
  std::size_t number = 0;
  while (true) {
    line.clear();
    char c;
    bool any = false;
    while (in.get(c)) {
      any = true;
      if (c == '\n') break;
      if (line.size() >= kMaxTrecLine)
        throw FormatError(where + ": line " + std::to_string(number + 1) + " is longer than 64 KiB");
      line.push_back(c);
    }
    if (!any) break;
    ++number;
    if (line.find('\0') != std::string::npos)
      throw FormatError(where + ": line " + std::to_string(number) + " holds a NUL byte");
    const auto fields = fields_of(line);
    if (!fields.empty()) row(fields, number);
  }
}

[[noreturn]] inline void trec_line_error(const std::string& where, std::size_t line, const std::string& what) {
  throw FormatError(where + ": line " + std::to_string(line) + ": " + what);
}

template <class Int>
Int parse_integer(std::string_view s, const std::string& where, std::size_t line, const char* what) {
  Int value{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size())
    trec_line_error(where, line, std::string(what) + " '" + std::string(s.substr(0, 64)) + "' is not an integer");
  return value;
}

inline double parse_score(std::string_view s, const std::string& where, std::size_t line) {
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value))
    trec_line_error(where, line, "score '" + std::string(s.substr(0, 64)) + "' is not a finite number");
  return value;
}

/// Opens a file for reading after checking its size against the limit.
template <class Unused = void>
std::ifstream open_trec_file(const std::string& path, std::uintmax_t max_bytes, const std::string& where) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw FormatError(where + ": cannot open '" + path + "'");
  const std::streamoff size = in.tellg();
  if (size < 0 || static_cast<std::uintmax_t>(size) > max_bytes)
    throw FormatError(where + ": '" + path + "' is larger than the limit of " + std::to_string(max_bytes) + " bytes");
  in.seekg(0);
  return in;
}

}  // namespace detail::rag

/// Reads qrels ("query iteration document grade" per line). `name` names the source in messages.
template <class Unused = void>
Qrels read_trec_qrels(std::istream& in, const std::string& name = "<stream>") {
  const std::string where = "read_trec_qrels: " + name;
  Qrels qrels;
  detail::rag::for_each_trec_line(in, where, [&](const std::vector<std::string_view>& f, std::size_t line) {
    if (f.size() != 4)
      detail::rag::trec_line_error(
          where, line, "expected 4 fields (query iteration document grade), got " + std::to_string(f.size()));
    const int grade = detail::rag::parse_integer<int>(f[3], where, line, "grade");
    auto& judged = qrels[std::string(f[0])];
    if (!judged.emplace(std::string(f[2]), grade).second)
      detail::rag::trec_line_error(
          where, line, "document '" + std::string(f[2]) + "' is judged twice for query '" + std::string(f[0]) + "'");
  });
  return qrels;
}

/// Reads a run ("query Q0 document rank score tag" per line).
template <class Unused = void>
Run read_trec_run(std::istream& in, const std::string& name = "<stream>") {
  const std::string where = "read_trec_run: " + name;
  Run run;
  detail::rag::for_each_trec_line(in, where, [&](const std::vector<std::string_view>& f, std::size_t line) {
    if (f.size() != 6)
      detail::rag::trec_line_error(
          where, line, "expected 6 fields (query Q0 document rank score tag), got " + std::to_string(f.size()));
    detail::rag::parse_integer<long long>(f[3], where, line, "rank");
    const double score = detail::rag::parse_score(f[4], where, line);
    auto& scores = run[std::string(f[0])];
    if (!scores.emplace(std::string(f[2]), score).second)
      detail::rag::trec_line_error(
          where, line, "document '" + std::string(f[2]) + "' is listed twice for query '" + std::string(f[0]) + "'");
  });
  return run;
}

/// Reads a qrels file of at most `max_bytes`.
template <class Unused = void>
Qrels read_trec_qrels(const std::string& path, std::uintmax_t max_bytes = std::uintmax_t{1} << 30) {
  auto in = detail::rag::open_trec_file(path, max_bytes, "read_trec_qrels");
  return read_trec_qrels(in, "'" + path + "'");
}

/// Reads a run file of at most `max_bytes`.
template <class Unused = void>
Run read_trec_run(const std::string& path, std::uintmax_t max_bytes = std::uintmax_t{1} << 30) {
  auto in = detail::rag::open_trec_file(path, max_bytes, "read_trec_run");
  return read_trec_run(in, "'" + path + "'");
}

/// Writes a run: for each query its documents in rank order, rank from 1, scores in the shortest form
/// that reads back exactly. Ids must be single words (InvalidArgument, checked before anything is written).
template <class Unused = void>
void write_trec_run(std::ostream& out, const Run& run, const std::string& tag = "aimastery") {
  require(!tag.empty() && tag.find_first_of(" \t\n\r") == std::string::npos, "write_trec_run",
          "the tag must be one non-empty word");
  char buffer[32];
  const auto one_word = [](const std::string& id) {
    return !id.empty() && id.find_first_of(" \t\n\r") == std::string::npos;
  };
  for (const auto& entry : run) {
    const std::string& query = entry.first;
    require(one_word(query), "write_trec_run", [&] { return "query id '" + query + "' is not one non-empty word"; });
    for (const auto& scored : entry.second) {
      const std::string& doc = scored.first;
      require(one_word(doc), "write_trec_run", [&] { return "document id '" + doc + "' is not one non-empty word"; });
    }
  }
  for (const auto& [query, scores] : run) {
    Index rank = 0;
    for (const std::string& doc : rank_documents(scores)) {
      const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, scores.at(doc));
      out << query << " Q0 " << doc << ' ' << ++rank << ' ' << std::string_view(buffer, end - buffer) << ' ' << tag
          << '\n';
    }
  }
}

}  // namespace aimastery
