#pragma once
/// \file
/// A small, hostile-input-safe CSV reader for numeric tables with a header row.
///
///   auto iris = aimastery::read_csv<double>("data/iris.csv", {.target = "target"});
///   iris.X           150 x 4 features (every column but the target)
///   iris.y           the target column as numbers; string labels are encoded 0..K-1 in sorted order
///   iris.labels()    the target as integer class labels (throws if a value is not an integer)
///
/// Fields may be quoted ("a, b" with "" for a quote), lines end in \n or \r\n, blank lines are skipped.
/// Any malformed input is a FormatError naming the source, the line and the column: a row with the
/// wrong number of fields, an empty (missing) value, text or a non-finite number in a feature column,
/// an unterminated quote. Nothing is allocated beyond what the bytes read can justify.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

struct CsvOptions {
  /// Name of the label column; empty means "no label column": every column is a feature.
  std::string target = "target";
  char delimiter = ',';
  /// Files larger than this are refused (a FormatError), so a hostile path cannot exhaust memory.
  std::size_t max_bytes = std::size_t(1) << 31;
};

/// A table read from CSV: features, target, and the names that came with them.
template <Scalar T>
struct CsvDataset {
  Matrix<T> X;
  Vector<T> y;                              ///< empty when CsvOptions::target is empty
  std::vector<std::string> feature_names;   ///< header names of the columns of X
  std::string target_name;
  std::vector<std::string> label_names;     ///< for string labels: y(i) indexes this sorted list

  /// The target as integer class labels. Throws FormatError when a value is not an integer.
  [[nodiscard]] IndexVector labels() const {
    IndexVector out(y.size());
    for (Index i = 0; i < y.size(); ++i) {
      const T v = y(i);
      if (!(std::abs(v) < T(9.0e15)) || v != std::round(v))
        throw FormatError("CsvDataset::labels: target value " + std::to_string(v) + " in row " +
                          std::to_string(i + 1) + " is not an integer class label");
      out(i) = static_cast<Index>(v);
    }
    return out;
  }
};

namespace detail {

/// Splits one CSV record starting at `pos` into fields; advances `pos` past its line end.
/// `line` counts physical lines (quoted fields may span several).
inline std::vector<std::string> csv_record(std::string_view text, std::size_t& pos, std::size_t& line, char delim,
                                           std::string_view source) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false, was_quoted = false;
  const std::size_t start_line = line;
  while (pos < text.size()) {
    const char c = text[pos++];
    if (quoted) {
      if (c == '"') {
        if (pos < text.size() && text[pos] == '"') {
          field += '"';
          ++pos;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
    } else if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == delim) {
      fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n') {
      ++line;
      break;
    } else if (c == '\r' && pos < text.size() && text[pos] == '\n') {
      // CRLF: the '\n' ends the record on the next iteration.
    } else {
      field += c;
    }
  }
  if (quoted)
    throw FormatError(std::string(source) + ": line " + std::to_string(start_line) + ": unterminated quoted field");
  fields.push_back(std::move(field));
  return fields;
}

inline std::string_view csv_trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// A finite number occupying the whole field, or nothing.
inline std::optional<double> csv_number(std::string_view s) {
  s = csv_trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace detail

/// Parses CSV text. `source` names the input in error messages (a path, or "<string>").
template <Scalar T>
CsvDataset<T> parse_csv(std::string_view text, const CsvOptions& options = {}, std::string_view source = "<string>") {
  const std::string src(source);
  std::size_t pos = 0, line = 1;
  // Skip a UTF-8 byte-order mark.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;
  auto skip_blank_lines = [&] {
    while (pos < text.size() && (text[pos] == '\n' || text[pos] == '\r')) {
      if (text[pos] == '\n') ++line;
      ++pos;
    }
  };
  skip_blank_lines();
  if (pos >= text.size()) throw FormatError(src + ": empty file, expected a header row");

  std::vector<std::string> header = detail::csv_record(text, pos, line, options.delimiter, src);
  for (auto& h : header) h = std::string(detail::csv_trim(h));
  const std::size_t n_cols = header.size();
  std::optional<std::size_t> target_col;
  if (!options.target.empty()) {
    const auto it = std::find(header.begin(), header.end(), options.target);
    if (it == header.end()) throw InvalidArgument("read_csv: " + src + " has no column '" + options.target + "'");
    target_col = static_cast<std::size_t>(it - header.begin());
  }

  CsvDataset<T> out;
  for (std::size_t c = 0; c < n_cols; ++c) {
    if (target_col && c == *target_col)
      out.target_name = header[c];
    else
      out.feature_names.push_back(header[c]);
  }
  const Index n_features = static_cast<Index>(out.feature_names.size());

  // Values accumulate in row-major order; their count is bounded by the bytes of the file.
  std::vector<T> values;
  std::vector<std::string> target_text;
  std::vector<double> target_numbers;
  bool target_numeric = true;
  Index rows = 0;
  while (true) {
    skip_blank_lines();
    if (pos >= text.size()) break;
    const std::size_t record_line = line;
    const auto fields = detail::csv_record(text, pos, line, options.delimiter, src);
    if (fields.size() != n_cols)
      throw FormatError(src + ": line " + std::to_string(record_line) + ": " + std::to_string(fields.size()) +
                        " fields, the header has " + std::to_string(n_cols));
    for (std::size_t c = 0; c < n_cols; ++c) {
      const std::string where = src + ": line " + std::to_string(record_line) + ", column " + std::to_string(c + 1) +
                                " ('" + header[c] + "')";
      const std::string_view field = detail::csv_trim(fields[c]);
      if (field.empty()) throw FormatError(where + ": missing value");
      if (target_col && c == *target_col) {
        const auto number = detail::csv_number(field);
        target_numeric = target_numeric && number.has_value();
        target_numbers.push_back(number.value_or(0.0));
        target_text.emplace_back(field);
        continue;
      }
      const auto number = detail::csv_number(field);
      if (!number) throw FormatError(where + ": '" + std::string(field.substr(0, 40)) + "' is not a finite number");
      values.push_back(static_cast<T>(*number));
    }
    ++rows;
  }
  if (rows == 0) throw FormatError(src + ": no data rows after the header");

  out.X = Eigen::Map<const Matrix<T>>(values.data(), rows, n_features);
  if (target_col) {
    out.y.resize(rows);
    if (target_numeric) {
      for (Index i = 0; i < rows; ++i) out.y(i) = static_cast<T>(target_numbers[static_cast<std::size_t>(i)]);
    } else {
      // String labels: classes are the distinct names in sorted order, as scikit-learn's LabelEncoder.
      std::map<std::string, Index> code;
      for (const auto& s : target_text) code.emplace(s, 0);
      Index k = 0;
      for (auto& [name, c] : code) {
        c = k++;
        out.label_names.push_back(name);
      }
      for (Index i = 0; i < rows; ++i) out.y(i) = static_cast<T>(code.at(target_text[static_cast<std::size_t>(i)]));
    }
  }
  return out;
}

/// Reads a CSV file (see parse_csv). A missing or unreadable file is a FormatError naming the path.
template <Scalar T>
CsvDataset<T> read_csv(const std::string& path, const CsvOptions& options = {}) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FormatError("read_csv: cannot open '" + path + "'");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw FormatError("read_csv: cannot read '" + path + "'");
  if (static_cast<std::size_t>(size) > options.max_bytes)
    throw FormatError("read_csv: '" + path + "' is " + std::to_string(size) + " bytes, over the limit of " +
                      std::to_string(options.max_bytes));
  in.seekg(0, std::ios::beg);
  std::string text(static_cast<std::size_t>(size), '\0');
  if (!in.read(text.data(), size)) throw FormatError("read_csv: cannot read '" + path + "'");
  return parse_csv<T>(text, options, path);
}

}  // namespace aimastery
