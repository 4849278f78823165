#pragma once
/// \file
/// Classifiers accept any integer labels ({-1, 7}, {3, 5, 9} ...). They learn on codes 0..K-1 and give the
/// original labels back: `classes()` holds the distinct labels in ascending order (as scikit-learn's
/// `classes_`), and code k stands for classes()(k).
///
/// Labels usually span a short range (0..K-1, a few small integers): then a table indexed by
/// label − min(label) gives each code in one look-up, and learning the classes is one counting pass, O(n + range).
/// Labels spread wider are sorted (O(n log n)) and looked up by binary search (O(log K) each).
///
/// fit, encode and decode are templates with a defaulted parameter (called as plain functions) so that their
/// Eigen code is compiled only in the programs that call them.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

class LabelEncoding {
 public:
  LabelEncoding() = default;

  /// Learns the distinct labels of y (ascending) and returns y as codes 0..K-1.
  template <class = void>
  IndexVector fit(const Eigen::Ref<const IndexVector>& y) {
    LabelEncoding fitted;
    if (y.size() > 0) {
      const Index low = y.minCoeff(), high = y.maxCoeff();
      // high − low as an unsigned number: exact even when it exceeds the largest Index.
      const std::uint64_t span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
      if (span < dense_limit(y.size())) {
        // Counting: mark the labels present, number them in ascending order.
        std::vector<Index> table(static_cast<std::size_t>(span) + 1, 0);
        for (Index i = 0; i < y.size(); ++i) table[static_cast<std::size_t>(y(i) - low)] = 1;
        std::vector<Index> values;
        for (std::size_t v = 0; v < table.size(); ++v) {
          if (!table[v]) {
            table[v] = -1;
            continue;
          }
          table[v] = static_cast<Index>(values.size());
          values.push_back(low + static_cast<Index>(v));
        }
        fitted.classes_ = Eigen::Map<const IndexVector>(values.data(), static_cast<Index>(values.size()));
        fitted.table_ = std::move(table);
        fitted.table_low_ = low;
      } else {
        std::vector<Index> values(y.data(), y.data() + y.size());
        std::sort(values.begin(), values.end());
        values.erase(std::unique(values.begin(), values.end()), values.end());
        fitted.classes_ = Eigen::Map<const IndexVector>(values.data(), static_cast<Index>(values.size()));
      }
    }
    IndexVector codes = fitted.encode(y, "LabelEncoding::fit");  // every label is a class: cannot throw
    swap(fitted);
    return codes;
  }

  /// y as codes; a label not seen in fit is an InvalidArgument naming `where`.
  template <class = void>
  [[nodiscard]] IndexVector encode(const Eigen::Ref<const IndexVector>& y, std::string_view where) const {
    IndexVector codes(y.size());
    for (Index i = 0; i < y.size(); ++i) {
      const Index code = code_of(y(i));
      if (code < 0) fail(where, "label " + std::to_string(y(i)) + " was not seen in fit");
      codes(i) = code;
    }
    return codes;
  }

  /// Codes back to the original labels.
  template <class = void>
  [[nodiscard]] IndexVector decode(const Eigen::Ref<const IndexVector>& codes) const {
    IndexVector labels(codes.size());
    for (Index i = 0; i < codes.size(); ++i) labels(i) = classes_(codes(i));
    return labels;
  }

  [[nodiscard]] const IndexVector& classes() const noexcept { return classes_; }
  [[nodiscard]] Index n_classes() const noexcept { return classes_.size(); }

  void swap(LabelEncoding& other) noexcept {
    classes_.swap(other.classes_);
    table_.swap(other.table_);
    std::swap(table_low_, other.table_low_);
  }

 private:
  /// Spans below this use the table: at most one entry per label of y (or 1024 for a short y).
  static std::uint64_t dense_limit(Index n) { return std::max<std::uint64_t>(1024, static_cast<std::uint64_t>(n)); }

  /// The code of `label`, or −1 when it is not a class.
  [[nodiscard]] Index code_of(Index label) const noexcept {
    if (!table_.empty()) {
      const std::uint64_t offset = static_cast<std::uint64_t>(label) - static_cast<std::uint64_t>(table_low_);
      return offset < table_.size() ? table_[static_cast<std::size_t>(offset)] : Index(-1);
    }
    const Index* begin = classes_.data();
    const Index* end = begin + classes_.size();
    const Index* it = std::lower_bound(begin, end, label);
    return it != end && *it == label ? static_cast<Index>(it - begin) : Index(-1);
  }

  IndexVector classes_;
  std::vector<Index> table_;  ///< table_[label − table_low_] = code or −1 (empty: binary search)
  Index table_low_ = 0;
};

}  // namespace aimastery
