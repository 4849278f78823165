#pragma once
/// \file
/// The input checks every classical estimator makes, so all of them fail the same way on the same mistake.

#include <string>
#include <string_view>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// fit(X, y): X non-empty and finite, y finite, one label or target per row of X.
template <class DX, class DY>
void check_fit_input(std::string_view where, const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) {
  check_not_empty(where, "X", X);
  check_samples_match(where, X, y);
  check_finite(where, "X", X);
  if constexpr (std::is_floating_point_v<typename DY::Scalar>) check_finite(where, "y", y);
}

/// predict(X) and friends: fitted, X non-empty, finite, and with the fitted number of features.
template <class DX>
void check_predict_input(std::string_view where, bool fitted, const Eigen::MatrixBase<DX>& X, Index n_features) {
  if (!fitted) throw NotFittedError(std::string(where) + ": the model is not fitted; call fit first");
  check_not_empty(where, "X", X);
  check_features(where, X, n_features);
  check_finite(where, "X", X);
}

}  // namespace aimastery
