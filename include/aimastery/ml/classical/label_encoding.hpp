#pragma once
/// \file
/// Classifiers accept any integer labels ({-1, 7}, {3, 5, 9} ...). They learn on codes 0..K-1 and give the
/// original labels back: `classes()` holds the distinct labels in ascending order (as scikit-learn's
/// `classes_`), and code k stands for classes()(k).

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

class LabelEncoding {
 public:
  LabelEncoding() = default;

  /// Learns the distinct labels of y (ascending) and returns y as codes 0..K-1.
  IndexVector fit(const Eigen::Ref<const IndexVector>& y) {
    std::vector<Index> values(y.data(), y.data() + y.size());
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    classes_ = Eigen::Map<const IndexVector>(values.data(), static_cast<Index>(values.size()));
    return encode(y, "LabelEncoding::fit");
  }

  /// y as codes; a label not seen in fit is an InvalidArgument naming `where`.
  [[nodiscard]] IndexVector encode(const Eigen::Ref<const IndexVector>& y, std::string_view where) const {
    IndexVector codes(y.size());
    const Index* begin = classes_.data();
    const Index* end = begin + classes_.size();
    for (Index i = 0; i < y.size(); ++i) {
      const Index* it = std::lower_bound(begin, end, y(i));
      require(it != end && *it == y(i), where, "label " + std::to_string(y(i)) + " was not seen in fit");
      codes(i) = static_cast<Index>(it - begin);
    }
    return codes;
  }

  /// Codes back to the original labels.
  [[nodiscard]] IndexVector decode(const Eigen::Ref<const IndexVector>& codes) const {
    IndexVector labels(codes.size());
    for (Index i = 0; i < codes.size(); ++i) labels(i) = classes_(codes(i));
    return labels;
  }

  [[nodiscard]] const IndexVector& classes() const noexcept { return classes_; }
  [[nodiscard]] Index n_classes() const noexcept { return classes_.size(); }

 private:
  IndexVector classes_;
};

}  // namespace aimastery
