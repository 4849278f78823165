#pragma once
/// \file
/// Gradient clipping by the global norm of all trainable gradients, as torch.nn.utils.clip_grad_norm_.

#include <cmath>
#include <limits>
#include <string>

#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"

namespace aimastery {

/// The global p-norm of every trainable gradient taken as one vector,
///   ‖g‖_p = (Σ_params Σ_i |g_i|^p)^{1/p}   (p = ∞: max |g_i|),
/// and, when it exceeds `max_norm`, every gradient scaled by c = max_norm / (‖g‖_p + 10⁻⁶) (c ≤ 1).
/// Returns the norm before clipping. A NaN or infinite norm leaves the gradients scaled by NaN exactly
/// as PyTorch does (its error_if_nonfinite=False); check the returned value.
template <Scalar T>
T clip_grad_norm(const ParameterList<T>& parameters, T max_norm, T norm_type = T(2)) {
  constexpr std::string_view where = "clip_grad_norm";
  require(std::isfinite(max_norm) && max_norm >= T(0), where,
          "max_norm must be finite and >= 0, got " + std::to_string(max_norm));
  require(norm_type > T(0), where, "norm_type must be > 0 (or infinity), got " + std::to_string(norm_type));
  const bool infinity_norm = std::isinf(norm_type);
  T total = T(0);
  for (const auto& entry : parameters) {
    require(entry.parameter != nullptr, where, "parameter '" + entry.name + "' is null");
    if (!entry.trainable || entry.parameter->grad.size() == 0) continue;
    const auto g = entry.parameter->grad.array();
    if (infinity_norm)
      total = std::max(total, g.abs().maxCoeff());
    else if (norm_type == T(2))
      total += g.square().sum();
    else
      total += g.abs().pow(norm_type).sum();
  }
  if (!infinity_norm) total = norm_type == T(2) ? std::sqrt(total) : std::pow(total, T(1) / norm_type);
  const T coefficient = std::min(T(1), max_norm / (total + T(1e-6)));
  if (coefficient < T(1) || std::isnan(coefficient))
    for (const auto& entry : parameters)
      if (entry.trainable) entry.parameter->grad *= coefficient;
  return total;
}

}  // namespace aimastery
