#pragma once
/// \file
/// FeatureFrame: named columns of a dataset, numeric (double) or categorical (strings), in insertion
/// order: the input of DriftDetector, usable wherever features are handled by name.

#include <Eigen/Core>

#include <concepts>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// Named columns: numeric (double) or categorical (strings). Order of insertion is kept. A class template
/// only so that its members are compiled in the files that use a frame, not in every file that includes
/// this header: FeatureFrame (below) is the one to use.
template <class = void>
class BasicFeatureFrame {
 public:
  using Column = std::variant<std::vector<double>, std::vector<std::string>>;

  BasicFeatureFrame() = default;

  /// Every column of X as a numeric feature; names default to "f0", "f1", ...
  template <class Derived>
  static BasicFeatureFrame from_matrix(const Eigen::MatrixBase<Derived>& X,
                                       const std::vector<std::string>& names = {}) {
    require(names.empty() || static_cast<Index>(names.size()) == X.cols(), "FeatureFrame::from_matrix", [&] {
      return "X has " + std::to_string(X.cols()) + " columns but " + std::to_string(names.size()) + " names were given";
    });
    BasicFeatureFrame frame;
    for (Index c = 0; c < X.cols(); ++c) {
      std::vector<double> column(static_cast<std::size_t>(X.rows()));
      for (Index r = 0; r < X.rows(); ++r) column[static_cast<std::size_t>(r)] = static_cast<double>(X(r, c));
      frame.add_numeric(names.empty() ? "f" + std::to_string(c) : names[static_cast<std::size_t>(c)],
                        std::move(column));
    }
    return frame;
  }

  /// From a map of name → column (numeric: std::vector<double>; categorical: std::vector<std::string>),
  /// in the map's (sorted) order.
  static BasicFeatureFrame from_columns(const std::map<std::string, Column>& columns) {
    BasicFeatureFrame frame;
    for (const auto& [name, column] : columns) frame.add(name, column);
    return frame;
  }

  BasicFeatureFrame& add_numeric(const std::string& name, std::vector<double> values) {
    return add(name, Column(std::move(values)));
  }
  template <class Derived>
  BasicFeatureFrame& add_numeric(const std::string& name, const Eigen::MatrixBase<Derived>& values) {
    std::vector<double> v(static_cast<std::size_t>(values.size()));
    for (Index i = 0; i < values.size(); ++i) v[static_cast<std::size_t>(i)] = static_cast<double>(values(i));
    return add(name, Column(std::move(v)));
  }
  BasicFeatureFrame& add_categorical(const std::string& name, std::vector<std::string> values) {
    return add(name, Column(std::move(values)));
  }
  /// Integer category codes, kept as their decimal strings.
  template <std::integral I>
  BasicFeatureFrame& add_categorical(const std::string& name, const std::vector<I>& codes) {
    std::vector<std::string> v;
    v.reserve(codes.size());
    for (I c : codes) v.push_back(std::to_string(c));
    return add(name, Column(std::move(v)));
  }

  [[nodiscard]] const std::vector<std::string>& names() const noexcept { return names_; }
  [[nodiscard]] bool contains(const std::string& name) const { return index_.count(name) > 0; }
  [[nodiscard]] const Column& column(const std::string& name) const {
    const auto it = index_.find(name);
    require(it != index_.end(), "FeatureFrame::column", [&] { return "no feature named \"" + name + "\""; });
    return columns_[it->second];
  }
  [[nodiscard]] bool is_numeric(const std::string& name) const {
    return std::holds_alternative<std::vector<double>>(column(name));
  }
  [[nodiscard]] std::size_t rows(const std::string& name) const {
    return std::visit([](const auto& c) { return c.size(); }, column(name));
  }

 private:
  BasicFeatureFrame& add(const std::string& name, Column column) {
    require(!name.empty(), "FeatureFrame::add", "a feature name is empty");
    require(!contains(name), "FeatureFrame::add", [&] { return "feature \"" + name + "\" is already present"; });
    index_.emplace(name, columns_.size());
    names_.push_back(name);
    columns_.push_back(std::move(column));
    return *this;
  }
  std::vector<std::string> names_;
  std::vector<Column> columns_;
  std::map<std::string, std::size_t> index_;
};

/// Named numeric and categorical columns (see BasicFeatureFrame).
using FeatureFrame = BasicFeatureFrame<>;

}  // namespace aimastery
