#pragma once
/// \file
/// A small, hostile-input-safe CSV reader for numeric tables with a header row.
///
///   auto iris = aimastery::read_csv<double>("data/iris.csv", {.target = "target"});
///   iris.X           150 x 4 features (every column but the target)
///   iris.y           the target column as numbers; string labels are encoded 0..K-1 in sorted order
///   iris.labels()    the target as integer class labels (throws if a value is not an integer)
///
/// Fields may be quoted ("a, b" with "" for a quote; nothing but spaces may follow the closing quote),
/// records end in \n, \r\n or \r (as Python's csv module reads them), blank lines are skipped. Column
/// names must be distinct. Any malformed input is a FormatError naming the source, the line and the
/// column: a row with the wrong number of fields, an empty (missing) value, text, a non-finite number or
/// a number out of T's range in a feature column, a missing-value marker ("NA", "nan", "inf", ...) in a
/// numeric target column, an unterminated quote. A target column holding any text is a column of string
/// labels. Error messages are built only when a check fails, and nothing is allocated beyond what the
/// bytes read can justify: reading is linear in the size of the input.

#include <charconv>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/io/file.hpp"

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
  Vector<T> y;                             ///< empty when CsvOptions::target is empty
  std::vector<std::string> feature_names;  ///< header names of the columns of X
  std::string target_name;
  std::vector<std::string> label_names;  ///< for string labels: y(i) indexes this sorted list

  /// The target as integer class labels. Throws FormatError when a value is not an integer.
  [[nodiscard]] IndexVector labels() const {
    IndexVector out(y.size());
    for (Index i = 0; i < y.size(); ++i) {
      const T v = y(i);
      if (!(std::abs(v) < T(9.0e15)) || v != std::round(v))
        throw FormatError("CsvDataset::labels: target value " + std::to_string(v) + " in row " + std::to_string(i + 1) +
                          " is not an integer class label");
      out(i) = static_cast<Index>(v);
    }
    return out;
  }
};

namespace detail {

/// Consumes one line end at `pos` (\n, \r\n or a lone \r) if there is one there.
inline bool csv_line_end(std::string_view text, std::size_t& pos) {
  if (pos >= text.size()) return false;
  if (text[pos] == '\n') {
    ++pos;
    return true;
  }
  if (text[pos] == '\r') {
    pos += (pos + 1 < text.size() && text[pos + 1] == '\n') ? 2 : 1;
    return true;
  }
  return false;
}

/// Splits one CSV record starting at `pos` into fields; advances `pos` past its line end.
/// `line` counts physical lines (quoted fields may span several).
inline std::vector<std::string> csv_record(std::string_view text, std::size_t& pos, std::size_t& line, char delim,
                                           std::string_view source) {
  std::vector<std::string> fields;
  std::string field;
  enum class State { unquoted, quoted, after_quote } state = State::unquoted;
  const std::size_t start_line = line;
  while (pos < text.size()) {
    const char c = text[pos];
    if (state == State::quoted) {
      ++pos;
      if (c == '"') {
        if (pos < text.size() && text[pos] == '"') {
          field += '"';
          ++pos;
        } else {
          state = State::after_quote;
        }
      } else {
        if (c == '\n' || (c == '\r' && (pos >= text.size() || text[pos] != '\n'))) ++line;
        field += c;
      }
    } else if (c == delim) {
      ++pos;
      fields.push_back(std::move(field));
      field.clear();
      state = State::unquoted;
    } else if (csv_line_end(text, pos)) {
      ++line;
      break;
    } else if (state == State::after_quote) {
      // Only spaces may separate a closing quote from the delimiter: "1"2 is not the number 12.
      if (c != ' ' && c != '\t')
        throw FormatError(std::string(source) + ": line " + std::to_string(line) + ", field " +
                          std::to_string(fields.size() + 1) + ": text after the closing quote of a quoted field");
      ++pos;
    } else if (c == '"' && field.empty()) {
      ++pos;
      state = State::quoted;
    } else {
      ++pos;
      field += c;
    }
  }
  if (state == State::quoted)
    throw FormatError(std::string(source) + ": line " + std::to_string(start_line) + ": unterminated quoted field");
  fields.push_back(std::move(field));
  return fields;
}

inline std::string_view csv_trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// At most the first 40 bytes of a name or field, for messages (a hostile header may hold megabytes).
inline std::string csv_excerpt(std::string_view s) {
  std::string out(s.substr(0, 40));
  if (s.size() > 40) out += "...";
  return out;
}

/// What a (trimmed, non-empty) field holds: a finite number, a missing or non-finite value (the
/// markers pandas reads as NaN, "inf", or a number beyond double's range), or text.
enum class CsvCellKind { number, missing, text };
struct CsvCell {
  CsvCellKind kind;
  double value = 0;
};

inline CsvCell csv_cell(std::string_view s) {
  // pandas.read_csv's default missing-value markers (besides the empty field).
  static constexpr std::string_view missing_markers[] = {"NA",  "N/A",  "n/a",     "<NA>",   "#N/A",     "#N/A N/A",
                                                         "#NA", "NULL", "null",    "None",   "NaN",      "-NaN",
                                                         "nan", "-nan", "-1.#IND", "1.#IND", "-1.#QNAN", "1.#QNAN"};
  for (std::string_view marker : missing_markers)
    if (s == marker) return {CsvCellKind::missing};
  // One optional '+' (std::from_chars accepts only '-'), never followed by another sign.
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (s.empty() || s.front() == '+' || s.front() == '-') return {CsvCellKind::text};
  }
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || end != s.data() + s.size()) return {CsvCellKind::text};
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && !std::isfinite(v))) return {CsvCellKind::missing};
  if (ec != std::errc()) return {CsvCellKind::text};
  return {CsvCellKind::number, v};
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
    while (detail::csv_line_end(text, pos)) ++line;
  };
  skip_blank_lines();
  if (pos >= text.size()) throw FormatError(src + ": empty file, expected a header row");

  std::vector<std::string> header = detail::csv_record(text, pos, line, options.delimiter, src);
  for (auto& h : header) h = std::string(detail::csv_trim(h));
  const std::size_t n_cols = header.size();
  // Column names are distinct (hashing keeps this linear in the header's length).
  std::unordered_map<std::string_view, std::size_t> column_of;
  for (std::size_t c = 0; c < n_cols; ++c) {
    const auto [it, inserted] = column_of.emplace(header[c], c);
    if (inserted) continue;
    const std::string columns = " (columns " + std::to_string(it->second + 1) + " and " + std::to_string(c + 1) + ")";
    if (!options.target.empty() && header[c] == options.target)
      throw FormatError(src + ": a second target column '" + detail::csv_excerpt(header[c]) + "'" + columns);
    throw FormatError(src + ": the column name '" + detail::csv_excerpt(header[c]) + "' appears twice" + columns);
  }
  std::optional<std::size_t> target_col;
  if (!options.target.empty()) {
    const auto it = column_of.find(options.target);
    if (it == column_of.end())
      throw FormatError("read_csv: " + src + " has no column '" + detail::csv_excerpt(options.target) +
                        "' (the target named in CsvOptions)");
    target_col = it->second;
  }

  CsvDataset<T> out;
  for (std::size_t c = 0; c < n_cols; ++c) {
    if (target_col && c == *target_col)
      out.target_name = header[c];
    else
      out.feature_names.push_back(header[c]);
  }
  const Index n_features = static_cast<Index>(out.feature_names.size());
  const char* const out_of_range = std::is_same_v<T, float> ? "out of the range of float" : "out of range";

  // Values accumulate in row-major order; their count is bounded by the bytes of the file.
  std::vector<T> values;
  std::vector<std::string> target_text;
  std::vector<T> target_numbers;
  bool target_has_text = false;
  std::optional<std::string> first_missing_target;  // the error for a numeric target, if it is one
  Index rows = 0;
  while (true) {
    skip_blank_lines();
    if (pos >= text.size()) break;
    const std::size_t record_line = line;
    const auto fields = detail::csv_record(text, pos, line, options.delimiter, src);
    if (fields.size() != n_cols)
      throw FormatError(src + ": line " + std::to_string(record_line) + ": " + std::to_string(fields.size()) +
                        " fields, the header has " + std::to_string(n_cols));
    // "<source>: line 7, column 2 ('petal_width')": built only for a message.
    const auto where = [&](std::size_t c) {
      return src + ": line " + std::to_string(record_line) + ", column " + std::to_string(c + 1) + " ('" +
             detail::csv_excerpt(header[c]) + "')";
    };
    for (std::size_t c = 0; c < n_cols; ++c) {
      const std::string_view field = detail::csv_trim(fields[c]);
      if (field.empty()) throw FormatError(where(c) + ": missing value");
      const detail::CsvCell cell = detail::csv_cell(field);
      // A finite double can still overflow float (and converting it would be undefined behaviour).
      const bool in_range = std::abs(cell.value) <= static_cast<double>(std::numeric_limits<T>::max());
      const T value = in_range ? static_cast<T>(cell.value) : T(0);
      if (target_col && c == *target_col) {
        target_text.emplace_back(field);
        if (cell.kind == detail::CsvCellKind::text) {
          target_has_text = true;
        } else if (cell.kind == detail::CsvCellKind::number && in_range) {
          target_numbers.push_back(value);
        } else if (!first_missing_target) {
          first_missing_target =
              where(c) + " (data row " + std::to_string(rows + 1) + "): the target value '" +
              detail::csv_excerpt(field) + "' is " +
              std::string(cell.kind == detail::CsvCellKind::number ? out_of_range : "missing or not a finite number");
        }
        continue;
      }
      if (cell.kind != detail::CsvCellKind::number)
        throw FormatError(where(c) + ": '" + detail::csv_excerpt(field) + "' is not a finite number");
      if (!in_range) throw FormatError(where(c) + ": '" + detail::csv_excerpt(field) + "' is " + out_of_range);
      values.push_back(value);
    }
    ++rows;
  }
  if (rows == 0) throw FormatError(src + ": no data rows after the header");

  out.X = Eigen::Map<const Matrix<T>>(values.data(), rows, n_features);
  if (target_col) {
    out.y.resize(rows);
    if (!target_has_text) {
      // A numeric target: every value must be a finite number (a missing marker is not a class).
      if (first_missing_target) throw FormatError(*first_missing_target);
      for (Index i = 0; i < rows; ++i) out.y(i) = target_numbers[static_cast<std::size_t>(i)];
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

/// Reads a CSV file (see parse_csv). A missing or unreadable path, a directory, or a file over
/// `options.max_bytes` is a FormatError naming the path.
template <Scalar T>
CsvDataset<T> read_csv(const std::string& path, const CsvOptions& options = {}) {
  detail::InputFile file = detail::open_input_file(path, "read_csv");
  if (file.size > options.max_bytes)
    throw FormatError("read_csv: '" + path + "' is " + std::to_string(file.size) + " bytes, over the limit of " +
                      std::to_string(options.max_bytes));
  std::string text(static_cast<std::size_t>(file.size), '\0');
  if (!file.stream.read(text.data(), static_cast<std::streamsize>(file.size)))
    throw FormatError("read_csv: cannot read '" + path + "' (" + std::to_string(file.size) + " bytes expected)");
  return parse_csv<T>(text, options, path);
}

}  // namespace aimastery
