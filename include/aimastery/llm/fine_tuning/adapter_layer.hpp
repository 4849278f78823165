#pragma once
/// \file
/// AdapterLayer: the bottleneck adapter of Houlsby et al. (2019), inserted after a frozen sublayer:
///
///     Y = X + σ(X W_downᵀ + b_down) W_upᵀ + b_up       W_down (m × d), W_up (d × m), m ≪ d
///
/// The up-projection starts at zero (weight and bias), so a new adapter is exactly the identity and the
/// network it is inserted into computes what it did before. Backward:
///     ∂L/∂X = dY + (the bottleneck's ∂L/∂X)       (the residual passes dY through)
///
///   net.add<AdapterLayer<float>>(384, AdapterOptions{.bottleneck = 16, .seed = 3});
///
/// Parameters: "adapter_down.weight", "adapter_down.bias", "adapter_up.weight", "adapter_up.bias".

#include <cstdint>
#include <string>

#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/detail/layer_checks.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

struct AdapterOptions {
  Index bottleneck = 64;                             ///< m, 1 ≤ m ≤ features
  ActivationKind activation = ActivationKind::relu;  ///< σ (Houlsby: a nonlinearity; gelu is common too)
  std::uint64_t seed = 0;                            ///< seed of W_down's initial values
};

template <Scalar T>
class AdapterLayer : public Layer<T> {
 public:
  AdapterLayer(Index features, const AdapterOptions& options = {})
      : down_(checked(features, options), options.bottleneck,
              DenseOptions{.initializer = Initializer::he_uniform, .seed = options.seed}),
        activation_(options.activation),
        up_(options.bottleneck, features, DenseOptions{.seed = options.seed}) {
    up_.weight().value.setZero();
  }

  [[nodiscard]] std::string name() const override {
    return "AdapterLayer(" + std::to_string(features()) + " -> " + std::to_string(bottleneck()) + " -> " +
           std::to_string(features()) + ")";
  }

  /// Y = X + up(σ(down(X))).
  Matrix<T> forward(const Matrix<T>& X) override {
    detail::check_layer_input("AdapterLayer::forward", *this, X, features());
    Matrix<T> Y = up_.forward(activation_.forward(down_.forward(X)));
    Y += X;
    rows_ = X.rows();
    return Y;
  }
  /// dX = dY + down.backward(σ'.backward(up.backward(dY))).
  Matrix<T> backward(const Matrix<T>& grad_output) override {
    detail::check_grad_output("AdapterLayer::backward", *this, grad_output, rows_ >= 0, rows_, features());
    Matrix<T> grad_input = down_.backward(activation_.backward(up_.backward(grad_output)));
    grad_input += grad_output;
    return grad_input;
  }

  ParameterList<T> parameters() override {
    ParameterList<T> list;
    for (auto& p : down_.parameters()) list.push_back({"adapter_down." + p.name, p.parameter, true});
    for (auto& p : up_.parameters()) list.push_back({"adapter_up." + p.name, p.parameter, true});
    return list;
  }

  [[nodiscard]] Index output_features(Index input_features) const override {
    detail::check_feature_count("AdapterLayer::output_features", *this, input_features, features());
    return features();
  }

  [[nodiscard]] Index features() const noexcept { return down_.in_features(); }
  [[nodiscard]] Index bottleneck() const noexcept { return down_.out_features(); }
  Dense<T>& down() noexcept { return down_; }
  Dense<T>& up() noexcept { return up_; }

 private:
  static Index checked(Index features, const AdapterOptions& options) {
    require(features > 0, "AdapterLayer", [&] { return "features must be positive, got " + std::to_string(features); });
    require(options.bottleneck >= 1 && options.bottleneck <= features, "AdapterLayer", [&] {
      return "bottleneck must be in [1, features] = [1, " + std::to_string(features) + "], got " +
             std::to_string(options.bottleneck);
    });
    return features;
  }
  Dense<T> down_;
  Activation<T> activation_;
  Dense<T> up_;
  Index rows_ = -1;  // rows of the last forward (−1 before one), for backward's shape check
};

}  // namespace aimastery
