#pragma once
/// \file
/// Data-parallel training of a NeuralNetwork on p ranks, giving the parameters one process would get with
/// the same global batch size.
///
///   aimastery::Environment mpi(argc, argv);
///   aimastery::Communicator world = aimastery::Communicator::world();
///   NeuralNetwork<double> net = make_network();          // the same architecture on every rank
///   History<double> h = fit_data_parallel(world, net, X, labels, {.epochs = 5, .batch_size = 64, .seed = 1});
///   save_checkpoint(world, net, "model.safetensors");    // written by rank 0
///
/// Every rank holds the same data (X, targets) and the same FitOptions; the function checks both (sample
/// and feature counts, and an XXH3 hash of the data's bytes) and throws on every rank before any work
/// when they differ. Then:
///
///   start   θ ← rank 0's θ (MPI_Bcast of every parameter and buffer), so differently seeded ranks agree.
///   epoch   the sample order is shuffled with options.seed exactly as NeuralNetwork::fit does it;
///           global batch b is the rows order[bB … bB + B_b) (B_b = B but for the last, shorter batch).
///   step    rank r takes its contiguous share [lo_r, hi_r) of the batch (shares differ by at most one
///           row), computes the gradient g_r of its loss L_r over its n_r rows, and
///               ḡ = Σ_r w_r g_r,   w_r = n_r / B_b  for a mean-reduced loss (L = (1/B_b) Σ_i ℓ_i),
///                                 w_r = 1          for a sum-reduced loss,
///           which is exactly ∂L/∂θ of the whole batch, as one process computes it, up to float
///           reassociation. The weighted gradients are summed with MPI_Iallreduce, in buckets of at most
///           `bucket_elements` scalars, then every rank clips (if asked) and takes the same optimiser
///           step: the ranks' parameters stay bit-identical, since they apply identical updates to
///           identical values.
///   overlap as PyTorch's DistributedDataParallel does it: the buffer holds [w_r·L_r, correct count,
///           g of the last layer, …, g of the first layer], the order in which the backward pass
///           finishes them, cut into buckets every `bucket_elements` scalars. A bucket starts reducing
///           (non-blocking) as soon as the layers that fill it have run their backward, while the
///           earlier layers still compute; between layers MPI_Test lets MPI progress (Open MPI moves a
///           non-blocking collective on only inside MPI calls; all calls come from one thread, so
///           MPI_THREAD_FUNNELED suffices). The optimiser step waits for every bucket. With
///           `overlap = false` the same buckets are started, in the same order, after the whole backward:
///           the same MPI calls on the same data, so both modes give bit-identical parameters (tested).
///
/// What differs from one process is only the order of floating-point additions inside the gradient sums:
/// in double the parameters after a few epochs agree to ~1e-12 relative (tested). Layers whose output
/// depends on the other rows of the batch or on a per-process random stream (BatchNormalization's batch
/// statistics, Dropout's masks) would train differently on p ranks: they are rejected.
/// Supported FitOptions: epochs, batch_size, shuffle, seed, schedule, clip_norm, on_epoch_end (called
/// on every rank with the same, global values); validation_split and patience are rejected.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/distributed/agreement.hpp"
#include "aimastery/distributed/communicator.hpp"
#include "aimastery/distributed/request.hpp"
#include "aimastery/ml/deep_learning/batch_normalization.hpp"
#include "aimastery/ml/deep_learning/dropout.hpp"
#include "aimastery/ml/deep_learning/gradient_clipping.hpp"
#include "aimastery/ml/deep_learning/losses.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"
#include "aimastery/ml/deep_learning/training.hpp"
#include "aimastery/production/caching/content_hash.hpp"

namespace aimastery {

struct DataParallelOptions {
  /// The most scalars one MPI_Iallreduce carries (gradients are flattened, last layer first, into
  /// buckets of this size): bounds a message and sets the grain of the overlap (a bucket starts when
  /// the layers filling it are done). The default, 2²⁰ (8 MiB in double, as PyTorch's 25 MB buckets a
  /// few million parameters), is one bucket, hence no overlap, for a model of fewer than a million
  /// parameters: smaller buckets overlap more, at one latency each. >= 1.
  Index bucket_elements = Index(1) << 20;
  /// Start reducing each bucket as soon as the backward pass has filled it (true), or all of them after
  /// the backward (false). The parameters are bit-identical either way.
  bool overlap = true;
};

/// The rows [lo, hi) of a batch of `rows` that rank `rank` of `ranks` takes: contiguous shares in rank
/// order, the first rows % ranks ranks taking one row more.
struct BatchShare {
  Index lo = 0;
  Index hi = 0;
};
[[nodiscard]] inline BatchShare batch_share(Index rows, int rank, int ranks) {
  const Index base = rows / ranks, extra = rows % ranks, r = rank;
  const Index lo = r * base + std::min(r, extra);
  return {lo, lo + base + (r < extra ? 1 : 0)};
}

namespace detail {

/// Every parameter (trainable or buffer) of the network, flattened in list order.
template <Scalar T>
std::vector<T> flatten_values(const ParameterList<T>& parameters) {
  std::vector<T> flat;
  for (const auto& p : parameters) {
    const Matrix<T>& v = p.parameter->value;
    flat.insert(flat.end(), v.data(), v.data() + v.size());
  }
  return flat;
}

template <Scalar T>
void unflatten_values(const ParameterList<T>& parameters, const std::vector<T>& flat) {
  std::size_t at = 0;
  for (const auto& p : parameters) {
    Matrix<T>& v = p.parameter->value;
    std::copy_n(flat.begin() + static_cast<std::ptrdiff_t>(at), v.size(), v.data());
    at += static_cast<std::size_t>(v.size());
  }
}

/// The reduction of the library's losses (mean or sum over the batch); another loss is rejected,
/// since the weight of each rank's gradient depends on it.
template <Scalar T>
Reduction reduction_of(const Loss<T>& loss, std::string_view where) {
  if (const auto* m = dynamic_cast<const MSELoss<T>*>(&loss)) return m->reduction();
  if (const auto* c = dynamic_cast<const CrossEntropyLoss<T>*>(&loss)) return c->options().reduction;
  if (const auto* b = dynamic_cast<const BinaryCrossEntropyLoss<T>*>(&loss)) return b->options().reduction;
  fail(where, "loss " + loss.name() +
                  " has no known reduction (MSELoss, CrossEntropyLoss and BinaryCrossEntropyLoss are supported)");
}

/// The correct predictions of a batch: arg-max column, or probability >= 1/2 for one output column.
template <Scalar T>
Index correct_predictions(Loss<T>& loss, const Matrix<T>& output, const IndexVector& labels) {
  Index correct = 0;
  if (output.cols() == 1) {
    const Matrix<T> p = loss.probabilities(output);
    for (Index i = 0; i < p.rows(); ++i) correct += (p(i, 0) >= T(0.5) ? 1 : 0) == labels(i) ? 1 : 0;
    return correct;
  }
  for (Index i = 0; i < output.rows(); ++i) {
    Index best = 0;
    output.row(i).maxCoeff(&best);
    correct += best == labels(i) ? 1 : 0;
  }
  return correct;
}

/// XXH3-128 of a matrix's bytes, folded to 64 bits (to compare replicated data across ranks).
template <class M>
std::int64_t data_fingerprint(const M& m) {
  const ContentHash h = content_hash(std::string_view(reinterpret_cast<const char*>(m.data()),
                                                      static_cast<std::size_t>(m.size()) * sizeof(m.data()[0])));
  return static_cast<std::int64_t>(h.high ^ (h.low * 0x9E3779B97F4A7C15ULL));
}

}  // namespace detail

/// θ ← root's θ on every rank: every parameter and buffer of `net` (MPI_Bcast in one buffer). Every rank
/// must hold the same architecture: the parameter count is checked first (InvalidArgument on every rank).
template <Scalar T>
void broadcast_parameters(const Communicator& comm, NeuralNetwork<T>& net, int root = 0) {
  constexpr std::string_view where = "broadcast_parameters";
  check_same_on_all_ranks(comm, where, "the number of parameter tensors",
                          static_cast<std::int64_t>(net.parameters().size()));
  check_same_on_all_ranks(comm, where, "the number of parameters (with buffers)", net.parameter_count(false));
  std::vector<T> flat = detail::flatten_values(net.parameters());
  comm.broadcast(std::span<T>(flat), root);
  detail::unflatten_values(net.parameters(), flat);
}

/// Writes `net` as safetensors (ml/deep_learning/neural_network_io.hpp must be included: net.save) on
/// rank `root` only; then every rank learns whether it worked: a failure on root (FormatError,
/// std::runtime_error: a directory that does not exist, a full disk) is thrown on every rank as a
/// std::runtime_error with root's message, so no rank continues believing the checkpoint exists.
template <Scalar T>
void save_checkpoint(const Communicator& comm, const NeuralNetwork<T>& net, const std::string& path, int root = 0) {
  std::string error;
  if (comm.rank() == root) {
    try {
      net.save(path);
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "unknown error";
    }
  }
  comm.broadcast(error, root);
  if (!error.empty())
    throw std::runtime_error("save_checkpoint: rank " + std::to_string(root) + " could not write '" + path +
                             "': " + error);
}

/// Data-parallel NeuralNetwork::fit (see the file comment). `y` is an IndexVector of class codes or a
/// Matrix<T> of targets, as for fit. Collective: every rank calls it with the same data and options.
/// Throws InvalidArgument on every rank, before any work, for data or options that fit would reject,
/// for data or options that differ between ranks, for BatchNormalization or Dropout layers, and for
/// a loss that becomes NaN or infinite (the parameters, buffers and optimiser then are as before the call).
template <Scalar T, class Target>
requires std::is_same_v<Target, IndexVector> || std::is_same_v<Target, Matrix<T>> History<T> fit_data_parallel(
    const Communicator& comm, NeuralNetwork<T>& net, const Matrix<T>& X, const Target& y,
    const FitOptions<T>& options = {}, const DataParallelOptions& parallel = {}) {
  constexpr std::string_view where = "fit_data_parallel";
  constexpr bool with_labels = std::is_same_v<Target, IndexVector>;
  Reduction reduction = Reduction::mean;
  check_on_all_ranks(comm, [&] {
    require(net.size() > 0, where, "the network has no layers (call add first)");
    require(net.has_loss(), where, "no loss set (call set_loss)");
    (void)net.optimizer();  // throws "no optimizer set"
    reduction = detail::reduction_of(net.loss(), where);
    for (std::size_t i = 0; i < net.size(); ++i) {
      const Layer<T>& l = net.layer(i);
      if (dynamic_cast<const BatchNormalization<T>*>(&l) || dynamic_cast<const Dropout<T>*>(&l))
        fail(where, "layer " + std::to_string(i) + " " + l.name() +
                        " depends on the whole batch or on a per-process random stream; data-parallel training "
                        "would not equal one process");
    }
    require(options.epochs >= 1, where, [&] { return "epochs must be >= 1, got " + std::to_string(options.epochs); });
    require(options.batch_size >= 1, where,
            [&] { return "batch_size must be >= 1, got " + std::to_string(options.batch_size); });
    require(options.clip_norm >= T(0), where,
            [&] { return "clip_norm must be >= 0, got " + std::to_string(options.clip_norm); });
    require(options.validation_split == 0.0, where, "validation_split is not supported (evaluate on each rank)");
    require(options.patience == 0, where, "patience (early stopping) is not supported");
    require(parallel.bucket_elements >= 1, where,
            [&] { return "bucket_elements must be >= 1, got " + std::to_string(parallel.bucket_elements); });
    require(X.rows() > 0 && X.cols() > 0, where, [&] { return "X is empty (" + shape_of(X) + ")"; });
    require(y.rows() == X.rows(), where, [&] {
      return "X has " + std::to_string(X.rows()) + " samples (rows) but " + (with_labels ? "labels" : "targets") +
             " has " + std::to_string(y.rows());
    });
    if (!detail::all_finite(X)) fail(where, "X contains NaN or infinity");
    if constexpr (!with_labels)
      if (!detail::all_finite(y)) fail(where, "targets contains NaN or infinity");
    if (net.built())
      require(X.cols() == net.input_features(), where, [&] {
        return "X has " + std::to_string(X.cols()) + " features, the network was built for " +
               std::to_string(net.input_features());
      });
  });
  check_same_features(comm, where, X.cols());
  check_same_on_all_ranks(comm, where, "the number of samples", X.rows());
  check_same_on_all_ranks(comm, where, "the number of target columns", y.cols());
  check_same_on_all_ranks(comm, where, "the hash of X (every rank must hold the same data)",
                          detail::data_fingerprint(X));
  check_same_on_all_ranks(comm, where, "the hash of the targets", detail::data_fingerprint(y));
  check_same_on_all_ranks(comm, where, "batch_size", options.batch_size);
  check_same_on_all_ranks(comm, where, "epochs", options.epochs);
  check_same_on_all_ranks(comm, where, "the shuffling seed", static_cast<std::int64_t>(options.seed));
  check_same_on_all_ranks(comm, where, "shuffle", options.shuffle ? 1 : 0);

  // Kept aside, to be put back when training fails.
  const ParameterList<T>& parameters = net.parameters();
  std::vector<Matrix<T>> saved;
  for (const auto& p : parameters) saved.push_back(p.parameter->value);
  std::unique_ptr<Optimizer<T>> saved_optimizer = net.optimizer().clone();
  const bool was_training = net.training();
  try {
    broadcast_parameters(comm, net, 0);

    const Index n = X.rows();
    const Index batch = std::min(options.batch_size, n);
    std::vector<Index> order(static_cast<std::size_t>(n));
    for (Index i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    RandomEngine rng(options.seed);
    Optimizer<T>& optimizer = net.optimizer();
    Loss<T>& loss = net.loss();
    const T base_learning_rate = optimizer.learning_rate();

    // The reduced buffer: [weighted batch loss, correct predictions, weighted gradients of the last
    // layer, …, of the first layer], i.e. in the order the backward pass finishes them, each layer's
    // trainable parameters in list order. Bucket k is flat[k·cap, min((k+1)·cap, size)), the same cuts
    // with and without overlap.
    struct GradientSlot {
      Parameter<T>* parameter;
      std::size_t at;
    };
    std::vector<std::vector<GradientSlot>> slots(net.size());  // per layer
    std::vector<std::size_t> filled_after(net.size());         // flat[0, filled_after[i]) is ready after layer i
    std::size_t flat_size = 2;
    for (std::size_t i = net.size(); i-- > 0;) {
      for (const auto& p : net.layer(i).parameters()) {
        if (!p.trainable) continue;
        slots[i].push_back({p.parameter, flat_size});
        flat_size += static_cast<std::size_t>(p.parameter->value.size());
      }
      filled_after[i] = flat_size;
    }
    std::vector<T> flat(flat_size);
    const std::size_t cap = static_cast<std::size_t>(parallel.bucket_elements);
    const std::size_t buckets = (flat_size + cap - 1) / cap;
    std::vector<Request> requests;  // destroyed (waited for) before `flat`
    requests.reserve(buckets);
    // Starts every bucket that lies inside flat[0, filled), in bucket order, then lets MPI progress
    // the ones in flight (MPI_Test: MPI_THREAD_FUNNELED suffices, all calls come from this thread).
    const auto start_ready = [&](std::size_t filled) {
      for (std::size_t k = requests.size(); k < buckets && std::min((k + 1) * cap, flat_size) <= filled; ++k)
        requests.push_back(
            comm.iallreduce_sum(std::span<T>(flat.data() + k * cap, std::min(cap, flat_size - k * cap))));
      for (Request& r : requests)
        if (!r.test()) break;
    };
    Matrix<T> X_batch;
    Target y_batch;

    History<T> history;
    T best = std::numeric_limits<T>::infinity();
    net.train(true);
    for (Index epoch = 0; epoch < options.epochs; ++epoch) {
      if (options.schedule) options.schedule->apply(optimizer, base_learning_rate, epoch);
      if (options.shuffle) detail::shuffle_indices(order, rng);
      T loss_sum = T(0);
      Index correct = 0;  // per batch exact in T (at most the batch size), summed as an integer
      for (Index start = 0, b = 0; start < n; start += batch, ++b) {
        const Index rows = std::min(batch, n - start);
        const BatchShare share = batch_share(rows, comm.rank(), comm.size());
        const Index local = share.hi - share.lo;
        net.zero_grad();
        requests.clear();
        if (local > 0) {
          X_batch.resize(local, X.cols());
          y_batch.resize(local, y.cols());
          for (Index r = 0; r < local; ++r) {
            const Index source = order[static_cast<std::size_t>(start + share.lo + r)];
            X_batch.row(r) = X.row(source);
            y_batch.row(r) = y.row(source);
          }
          const Matrix<T> output = net.forward(X_batch);
          const T value = loss.forward(output, y_batch);
          const T weight = reduction == Reduction::mean ? static_cast<T>(local) / static_cast<T>(rows) : T(1);
          flat[0] = weight * value;
          flat[1] = T(0);
          if constexpr (with_labels) flat[1] = static_cast<T>(detail::correct_predictions(loss, output, y_batch));
          // Σ_r w_r g_r: layer i's weighted gradients go to the buffer as soon as its backward is done,
          // and (with overlap) every bucket they complete starts reducing while the earlier layers run.
          net.backward_each_layer(loss.backward(), [&](std::size_t i) {
            for (const GradientSlot& slot : slots[i]) {
              const Matrix<T>& g = slot.parameter->grad;
              T* out = flat.data() + slot.at;
              for (Index e = 0; e < g.size(); ++e) out[e] = weight * g.data()[e];
            }
            if (parallel.overlap) start_ready(filled_after[i]);
          });
        } else {
          std::fill(flat.begin(), flat.end(), T(0));  // no rows: a zero contribution to every bucket
        }
        start_ready(flat_size);
        for (Request& r : requests) r.wait();
        const T batch_loss = flat[0];
        if (!std::isfinite(batch_loss)) [[unlikely]]
          throw InvalidArgument(std::string(where) + ": the loss became " +
                                (std::isnan(batch_loss) ? "NaN" : "infinite") + " at epoch " + std::to_string(epoch) +
                                ", batch " + std::to_string(b) + " (learning rate " +
                                std::to_string(optimizer.learning_rate()) + ")");
        for (const auto& layer_slots : slots)
          for (const GradientSlot& slot : layer_slots) {
            Matrix<T>& g = slot.parameter->grad;
            std::copy_n(flat.begin() + static_cast<std::ptrdiff_t>(slot.at), g.size(), g.data());
          }
        if (options.clip_norm > T(0)) clip_grad_norm(parameters, options.clip_norm);
        optimizer.step(parameters);
        loss_sum += batch_loss * static_cast<T>(rows);
        correct += static_cast<Index>(std::llround(flat[1]));
      }
      EpochLog<T> log{epoch,        loss_sum / static_cast<T>(n), std::nullopt, std::nullopt,
                      std::nullopt, optimizer.learning_rate()};
      history.loss.push_back(log.loss);
      history.learning_rate.push_back(log.learning_rate);
      if constexpr (with_labels) {
        log.accuracy = static_cast<T>(correct) / static_cast<T>(n);
        history.accuracy.push_back(*log.accuracy);
      }
      if (log.loss < best - options.min_delta) {  // as NeuralNetwork::fit without validation data
        best = log.loss;
        history.best_epoch = epoch;
      }
      if (options.on_epoch_end) options.on_epoch_end(log);
    }
    return history;
  } catch (...) {
    for (std::size_t k = 0; k < parameters.size(); ++k) parameters[k].parameter->value.swap(saved[k]);
    net.set_optimizer(std::move(saved_optimizer));
    net.train(was_training);
    throw;
  }
}

}  // namespace aimastery
