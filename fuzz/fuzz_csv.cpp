// libFuzzer target for the CSV reader (aimastery/io/csv.hpp).
//
// Any input must either parse into a consistent table or raise FormatError; anything else (another
// exception, a crash, a sanitizer report, a hang, a large allocation) is a finding. Each input is read
// with the default options in double, without a target in float, and with ';' as the delimiter.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "aimastery/io/csv.hpp"

namespace {

template <class T>
void check_table(const aimastery::CsvDataset<T>& d, bool has_target) {
  const bool consistent = d.X.cols() == static_cast<aimastery::Index>(d.feature_names.size()) && d.X.allFinite() &&
                          d.y.allFinite() && d.X.rows() > 0 &&
                          (has_target ? d.y.size() == d.X.rows() : d.y.size() == 0);
  if (!consistent) std::abort();
  if (!d.label_names.empty()) {  // string labels index the sorted list
    for (aimastery::Index i = 0; i < d.y.size(); ++i)
      if (d.y(i) < 0 || d.y(i) >= static_cast<T>(d.label_names.size())) std::abort();
  }
  try {
    const auto labels = d.labels();
    if (labels.size() != d.y.size()) std::abort();
  } catch (const aimastery::FormatError&) {
  }
}

template <class T>
void read(std::string_view text, const aimastery::CsvOptions& options) {
  try {
    check_table(aimastery::parse_csv<T>(text, options, "fuzz"), !options.target.empty());
  } catch (const aimastery::FormatError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  read<double>(text, {});
  read<float>(text, {.target = ""});
  read<double>(text, {.target = "y", .delimiter = ';'});
  return 0;
}
