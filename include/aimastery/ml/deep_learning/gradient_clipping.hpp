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
/// Returns the norm before clipping.
///
/// A NaN or infinite norm (a gradient that overflowed or holds NaN) cannot be clipped to anything
/// meaningful. By default (`error_if_nonfinite`, as PyTorch's clip_grad_norm_(error_if_nonfinite=True))
/// it throws InvalidArgument and leaves the gradients unchanged. With `error_if_nonfinite = false` it
/// does what PyTorch's default does: c = min(1, max_norm / (norm + 10⁻⁶)) with NaN propagating, so a
/// NaN norm makes every gradient NaN and an infinite one multiplies every gradient by 0 (finite
/// entries become 0, infinite ones NaN); the returned norm says which.
template <Scalar T>
T clip_grad_norm(const ParameterList<T>& parameters, T max_norm, T norm_type = T(2), bool error_if_nonfinite = true) {
  constexpr std::string_view where = "clip_grad_norm";
  require(std::isfinite(max_norm) && max_norm >= T(0), where,
          [&] { return "max_norm must be finite and >= 0, got " + std::to_string(max_norm); });
  require(norm_type > T(0), where,
          [&] { return "norm_type must be > 0 (or infinity), got " + std::to_string(norm_type); });
  const bool infinity_norm = std::isinf(norm_type);
  T total = T(0);
  for (const auto& entry : parameters) {
    require(entry.parameter != nullptr, where, [&] { return "parameter '" + entry.name + "' is null"; });
    if (!entry.trainable || entry.parameter->grad.size() == 0) continue;
    const auto g = entry.parameter->grad.array();
    if (infinity_norm) {
      const T largest = g.abs().template maxCoeff<Eigen::PropagateNaN>();
      total = std::isnan(largest) || std::isnan(total) ? largest + total : std::max(total, largest);
    } else if (norm_type == T(2)) {
      total += g.square().sum();
    } else {
      total += g.abs().pow(norm_type).sum();
    }
  }
  if (!infinity_norm) total = norm_type == T(2) ? std::sqrt(total) : std::pow(total, T(1) / norm_type);
  if (!std::isfinite(total)) {
    if (error_if_nonfinite)
      fail(where, std::string("the total norm of the gradients is ") + (std::isnan(total) ? "NaN" : "infinite") +
                      ", so they cannot be clipped (the gradients are left unchanged; pass error_if_nonfinite = "
                      "false for PyTorch's default of scaling by NaN or 0)");
    // PyTorch's clamp(max_norm / (norm + 1e-6), max=1): NaN stays NaN, max_norm / inf is 0.
    const T coefficient = std::isnan(total) ? total : T(0);
    for (const auto& entry : parameters)
      if (entry.trainable) entry.parameter->grad *= coefficient;
    return total;
  }
  const T coefficient = max_norm / (total + T(1e-6));
  if (coefficient < T(1))
    for (const auto& entry : parameters)
      if (entry.trainable) entry.parameter->grad *= coefficient;
  return total;
}

}  // namespace aimastery
