#pragma once
/// \file
/// What NeuralNetwork::fit takes and reports: FitOptions, the per-epoch EpochLog, the History of a fit
/// and an Evaluation; and the shuffling of sample indices between epochs.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/deep_learning/schedules.hpp"

namespace aimastery {

/// What NeuralNetwork::fit reports after each epoch (to its `on_epoch_end` callback).
template <Scalar T>
struct EpochLog {
  Index epoch;                ///< 0-based
  T loss;                     ///< mean training loss over the epoch's batches (weighted by batch size)
  std::optional<T> accuracy;  ///< training accuracy (label targets only)
  std::optional<T> val_loss;  ///< with validation data
  std::optional<T> val_accuracy;
  T learning_rate;
};

template <Scalar T>
struct FitOptions {
  Index epochs = 10;
  Index batch_size = 32;
  bool shuffle = true;
  std::uint64_t seed = 0;  ///< the shuffling order (layers keep their own seeds)
  /// Fraction in [0, 1) of the samples held out for validation: the last ⌊n·split⌋ rows, before
  /// shuffling (as Keras does). Ignored when validation data are passed to fit.
  double validation_split = 0.0;
  /// Early stopping: stop after `patience` epochs without the monitored loss (validation loss when
  /// there is validation data, otherwise training loss) improving by more than `min_delta`. 0: never.
  Index patience = 0;
  T min_delta = T(0);
  /// With early stopping: put back the parameters of the best epoch when training ends.
  bool restore_best_weights = true;
  /// A learning-rate schedule applied before each epoch to the optimiser's initial learning rate.
  std::shared_ptr<const LearningRateSchedule<T>> schedule = nullptr;
  /// > 0: gradients clipped to this global 2-norm before each step (clip_grad_norm).
  T clip_norm = T(0);
  /// Called after every epoch (for printing a learning curve: the library itself never prints).
  std::function<void(const EpochLog<T>&)> on_epoch_end = nullptr;
};

/// Per-epoch values of a fit; the accuracy vectors are filled for label targets, the validation
/// vectors with validation data.
template <Scalar T>
struct History {
  std::vector<T> loss, accuracy, val_loss, val_accuracy, learning_rate;
  Index best_epoch = -1;  ///< the epoch of the lowest monitored loss
  bool stopped_early = false;
  [[nodiscard]] Index epochs() const noexcept { return static_cast<Index>(loss.size()); }
};

/// Loss and (for label targets) accuracy of a network on a data set.
template <Scalar T>
struct Evaluation {
  T loss;
  std::optional<T> accuracy;
};

namespace detail {

/// Fisher–Yates: for i = n … 2, swap order[i−1] with order[j], j uniform in 0..i−1 (j = r mod i from one
/// draw r of the library's engine, so a seed gives the same order with every standard library).
inline void shuffle_indices(std::vector<Index>& order, RandomEngine& rng) {
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[static_cast<std::size_t>(rng() % i)]);
}

}  // namespace detail
}  // namespace aimastery
