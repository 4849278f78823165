#pragma once
/// \file
/// StandardScaler (scikit-learn's): every feature to mean 0 and standard deviation 1, and StandardScaled<E>, an
/// estimator E fitted and used on standardised features (scikit-learn's make_pipeline(StandardScaler(), E)).
///
///   StandardScaler<double> scaler;
///   Matrix<double> Z = scaler.fit_transform(X_train);
///   Matrix<double> Z_test = scaler.transform(X_test);      // training statistics only
///   StandardScaled<LogisticRegressionScratch<double>> model;  // the same, inside fit/predict

#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/classical/validation.hpp"

namespace aimastery {

struct StandardScalerParams {
  bool with_mean = true;  ///< subtract the mean
  bool with_std = true;   ///< divide by the standard deviation
};

template <Scalar T>
class StandardScaler {
 public:
  using Params = StandardScalerParams;

  explicit StandardScaler(Params params = {}) : params_(params) {}

  /// mean_j = (1/n) Σᵢ x_ij,  var_j = (1/n) Σᵢ (x_ij − mean_j)²,  scale_j = √var_j, or 1 when feature j is
  /// constant up to rounding (var_j ≤ n·ε·var_j + (n·ε·mean_j)², scikit-learn's test), so it is only centred.
  template <class DX>
  StandardScaler& fit(const Eigen::MatrixBase<DX>& X) {
    constexpr std::string_view where = "StandardScaler::fit";
    check_not_empty(where, "X", X);
    check_finite(where, "X", X);
    const Index n = X.rows();
    // Built aside and swapped in at the end: a fit that throws leaves the scaler as it was.
    RowVector<T> mean = X.colwise().mean();
    RowVector<T> var = (X.rowwise() - mean).array().square().colwise().sum() / static_cast<T>(n);
    RowVector<T> scale = RowVector<T>::Ones(X.cols());
    const T eps = std::numeric_limits<T>::epsilon();
    const T n_eps = static_cast<T>(n) * eps;
    for (Index j = 0; j < X.cols(); ++j) {
      const T bound = n_eps * var(j) + (n_eps * mean(j)) * (n_eps * mean(j));
      if (var(j) > bound) scale(j) = std::sqrt(var(j));
    }
    mean_.swap(mean);
    var_.swap(var);
    scale_.swap(scale);
    n_features_ = X.cols();
    fitted_ = true;
    return *this;
  }

  /// z = (x − mean) / scale (each part only when enabled).
  template <class DX>
  [[nodiscard]] Matrix<T> transform(const Eigen::MatrixBase<DX>& X) const {
    check_predict_input("StandardScaler::transform", fitted_, X, n_features_);
    Matrix<T> Z = X;
    if (params_.with_mean) Z.rowwise() -= mean_;
    if (params_.with_std) Z.array().rowwise() /= scale_.array();
    return Z;
  }

  template <class DX>
  [[nodiscard]] Matrix<T> fit_transform(const Eigen::MatrixBase<DX>& X) {
    fit(X);
    return transform(X);
  }

  /// x = z · scale + mean.
  template <class DX>
  [[nodiscard]] Matrix<T> inverse_transform(const Eigen::MatrixBase<DX>& Z) const {
    check_predict_input("StandardScaler::inverse_transform", fitted_, Z, n_features_);
    Matrix<T> X = Z;
    if (params_.with_std) X.array().rowwise() *= scale_.array();
    if (params_.with_mean) X.rowwise() += mean_;
    return X;
  }

  [[nodiscard]] const Params& params() const noexcept { return params_; }
  [[nodiscard]] const RowVector<T>& mean() const noexcept { return mean_; }
  [[nodiscard]] const RowVector<T>& var() const noexcept { return var_; }
  [[nodiscard]] const RowVector<T>& scale() const noexcept { return scale_; }
  [[nodiscard]] bool fitted() const noexcept { return fitted_; }
  [[nodiscard]] Index n_features() const noexcept { return n_features_; }

 private:
  template <class>
  friend struct ModelCodec;  // reads and restores the fitted state (production/deployment)

  Params params_;
  RowVector<T> mean_, var_, scale_;
  Index n_features_ = 0;
  bool fitted_ = false;
};

namespace detail {

/// The scalar type T of an estimator `E<T, ...>` (looking through wrappers such as `StandardScaled<E<T>>`).
template <class E>
struct estimator_scalar;
template <template <class...> class E, class T, class... Rest>
struct estimator_scalar<E<T, Rest...>> {
  using type =
      typename std::conditional_t<std::is_floating_point_v<T>, std::type_identity<T>, estimator_scalar<T>>::type;
};

}  // namespace detail

/// An estimator fitted on standardised features: fit learns a StandardScaler on the training X only, and every
/// prediction transforms its X with those statistics first. Forwards predict, predict_proba (when the
/// estimator has it), score and classes.
template <class Estimator>
class StandardScaled {
 public:
  using T = typename detail::estimator_scalar<Estimator>::type;

  explicit StandardScaled(Estimator estimator = Estimator(), StandardScalerParams scaler_params = {})
      : estimator_(std::move(estimator)), scaler_(scaler_params) {}

  template <class DX, class Y>
  StandardScaled& fit(const Eigen::MatrixBase<DX>& X, const Y& y) {
    check_fit_input("StandardScaled::fit", X, y);
    // The new scaler is kept aside until the estimator (itself all-or-nothing) has fitted: a failed fit
    // leaves both as they were.
    StandardScaler<T> scaler(scaler_.params());
    estimator_.fit(scaler.fit_transform(X), y);
    scaler_ = std::move(scaler);
    return *this;
  }

  template <class DX>
  [[nodiscard]] auto predict(const Eigen::MatrixBase<DX>& X) const {
    return estimator_.predict(scaled("StandardScaled::predict", X));
  }

  template <class DX>
  [[nodiscard]] Matrix<T> predict_proba(const Eigen::MatrixBase<DX>& X) const requires
      requires(const Estimator& e, const Matrix<T>& m) {
    e.predict_proba(m);
  }
  { return estimator_.predict_proba(scaled("StandardScaled::predict_proba", X)); }

  template <class DX, class Y>
  [[nodiscard]] auto score(const Eigen::MatrixBase<DX>& X, const Y& y) const {
    return estimator_.score(scaled("StandardScaled::score", X), y);
  }

  [[nodiscard]] decltype(auto) classes() const requires requires(const Estimator& e) { e.classes(); }
  { return estimator_.classes(); }

  [[nodiscard]] const Estimator& estimator() const noexcept { return estimator_; }
  [[nodiscard]] const StandardScaler<T>& scaler() const noexcept { return scaler_; }

 private:
  template <class DX>
  Matrix<T> scaled(std::string_view where, const Eigen::MatrixBase<DX>& X) const {
    check_predict_input(where, scaler_.fitted(), X, scaler_.n_features());
    return scaler_.transform(X);
  }

  Estimator estimator_;
  StandardScaler<T> scaler_;
};

}  // namespace aimastery
