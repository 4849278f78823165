#pragma once
/// \file
/// The options trees and forests share: the split criterion, how many features a split may look at, and
/// how thresholds are searched (histograms of binned features, or every midpoint between sorted values).

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// Impurity of a node of class proportions p_k: gini G = 1 − Σ p_k², entropy H = −Σ p_k log₂ p_k.
enum class SplitCriterion { gini, entropy };

/// "gini" or "entropy"; anything else is an InvalidArgument naming `where`.
inline SplitCriterion parse_split_criterion(std::string_view name, std::string_view where = "parse_split_criterion") {
  if (name == "gini") return SplitCriterion::gini;
  if (name == "entropy") return SplitCriterion::entropy;
  throw InvalidArgument(std::string(where) + ": unknown criterion '" + std::string(name) +
                        "' (expected gini or entropy)");
}

/// histogram: every feature is binned once into at most `max_bins` bins (uint8 codes) and a node finds its
/// split from per-bin statistics (as LightGBM and scikit-learn's HistGradientBoosting). With at most
/// `max_bins` distinct values a feature's bins are its values, and the search is exactly the exact one.
/// exact: every midpoint between consecutive distinct values of the node is tried (scikit-learn's
/// BestSplitter).
enum class SplitSearch { histogram, exact };

inline SplitSearch parse_split_search(std::string_view name, std::string_view where = "parse_split_search") {
  if (name == "histogram") return SplitSearch::histogram;
  if (name == "exact") return SplitSearch::exact;
  throw InvalidArgument(std::string(where) + ": unknown split search '" + std::string(name) +
                        "' (expected histogram or exact)");
}

/// How many features one split looks at, as scikit-learn's max_features: all ("none"), "sqrt", "log2",
/// a count, or a fraction of the features. Converts implicitly from those spellings:
///   .max_features = "sqrt",   .max_features = 5,   .max_features = 0.5
class MaxFeatures {
 public:
  enum class Kind { all, sqrt, log2, count, fraction };

  MaxFeatures() = default;
  MaxFeatures(const char* name) : MaxFeatures(std::string_view(name)) {}  // NOLINT(implicit)
  MaxFeatures(std::string_view name) {                                    // NOLINT(implicit)
    if (name == "none" || name == "all") {
      kind_ = Kind::all;
    } else if (name == "sqrt") {
      kind_ = Kind::sqrt;
    } else if (name == "log2") {
      kind_ = Kind::log2;
    } else {
      const char* end = name.data() + name.size();
      long long count = 0;
      if (auto [p, ec] = std::from_chars(name.data(), end, count); ec == std::errc() && p == end) {
        *this = MaxFeatures(count);
        return;
      }
      double fraction = 0;
      if (auto [p, ec] = std::from_chars(name.data(), end, fraction); ec == std::errc() && p == end) {
        *this = MaxFeatures(fraction);
        return;
      }
      throw InvalidArgument("MaxFeatures: unknown value '" + std::string(name) +
                            "' (expected none, sqrt, log2, a count or a fraction in (0, 1])");
    }
  }
  template <std::integral I>
  MaxFeatures(I count) : kind_(Kind::count), count_(static_cast<Index>(count)) {  // NOLINT(implicit)
    require(count_ >= 1, "MaxFeatures", [&] { return "a count must be at least 1, got " + std::to_string(count_); });
  }
  MaxFeatures(double fraction) : kind_(Kind::fraction), fraction_(fraction) {  // NOLINT(implicit)
    require(fraction > 0.0 && fraction <= 1.0, "MaxFeatures",
            [&] { return "a fraction must lie in (0, 1], got " + std::to_string(fraction); });
  }

  static MaxFeatures all() { return {}; }
  static MaxFeatures sqrt() { return MaxFeatures("sqrt"); }
  static MaxFeatures log2() { return MaxFeatures("log2"); }

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  /// The count of Kind::count, the fraction of Kind::fraction.
  [[nodiscard]] Index count() const noexcept { return count_; }
  [[nodiscard]] double fraction() const noexcept { return fraction_; }

  /// The number of features a split draws among `n_features` (scikit-learn's rounding: down, at least 1).
  [[nodiscard]] Index resolve(Index n_features, std::string_view where) const {
    Index m = n_features;
    switch (kind_) {
      case Kind::all:
        m = n_features;
        break;
      case Kind::sqrt:
        m = static_cast<Index>(std::sqrt(static_cast<double>(n_features)));
        break;
      case Kind::log2:
        m = static_cast<Index>(std::log2(static_cast<double>(n_features)));
        break;
      case Kind::count:
        require(count_ <= n_features, where, [&] {
          return "max_features is " + std::to_string(count_) + " but X has " + std::to_string(n_features) + " features";
        });
        m = count_;
        break;
      case Kind::fraction:
        m = static_cast<Index>(fraction_ * static_cast<double>(n_features));
        break;
    }
    return std::max<Index>(m, 1);
  }

 private:
  Kind kind_ = Kind::all;
  Index count_ = 0;
  double fraction_ = 1.0;
};

namespace detail {

/// The growth limits of one tree, resolved against the data.
struct TreeSettings {
  Index max_depth = 0;  ///< 0: grow until the leaves are pure or too small
  Index min_samples_split = 2;
  Index min_samples_leaf = 1;
  Index max_features = 1;  ///< resolved count
  SplitSearch split_search = SplitSearch::histogram;
};

/// Checks the growth options every tree and forest takes.
inline void check_growth_options(std::string_view where, const std::optional<Index>& max_depth, Index min_samples_split,
                                 Index min_samples_leaf, int max_bins) {
  require(!max_depth || *max_depth >= 1, where,
          [&] { return "max_depth must be at least 1, got " + std::to_string(max_depth.value_or(0)); });
  require(min_samples_split >= 2, where,
          [&] { return "min_samples_split must be at least 2, got " + std::to_string(min_samples_split); });
  require(min_samples_leaf >= 1, where,
          [&] { return "min_samples_leaf must be at least 1, got " + std::to_string(min_samples_leaf); });
  require(max_bins >= 2 && max_bins <= 256, where,
          [&] { return "max_bins must lie in [2, 256], got " + std::to_string(max_bins); });
}

/// A 64-bit seed for stream `stream` of `seed` (splitmix64 finaliser), so tree t of a forest draws from
/// its own generator whatever thread grows it.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace detail
}  // namespace aimastery
