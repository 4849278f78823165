#pragma once
/// \file
/// Cross-validation and parameter search spread over the ranks: the folds × candidates are independent
/// tasks, dealt round-robin (task t to rank t mod p), each run exactly as one process runs it, and the
/// scores gathered on every rank, so the results equal (==) the single-process functions' of
/// ml/classical/model_selection.hpp.
///
///   const std::vector<Fold> folds = StratifiedKFold({.n_splits = 5, .shuffle = true, .seed = 0}).split(y);
///   Vector<double> acc = cross_val_score(world, [] { return GaussianNBScratch<double>(); }, X, y, folds);
///   // every rank: == cross_val_score([] { … }, X, y, folds)
///
///   // candidate c: KNN with k = 2c + 1; 4 candidates × 5 folds = 20 tasks
///   Matrix<double> s = cross_val_scores(world, [](Index c) { return KNNScratch<double>({.k = 2 * c + 1}); },
///                                       4, X, y, folds);
///   Index best = best_candidate(s);                                // the highest mean, ties to the first
///
/// Every rank holds the whole data set (replicated, as the single-process code needs it) and the same
/// folds; this is checked before any task runs (sample and feature counts, XXH3 hashes of X, y and the
/// fold indices, the number of candidates), and a disagreement throws InvalidArgument on every rank naming
/// the first rank that differs from rank 0. A task that throws (an estimator that cannot be fitted) makes
/// every rank throw, as check_on_all_ranks does, after all ranks have run their tasks.
///
/// Why the results are identical: a task's score depends only on its fold and its candidate (a fresh
/// estimator from `make`, seeded by the caller as the single-process code is), not on which process runs
/// it or what ran before; the scores travel as raw doubles (MPI_Allgatherv) and are placed by task index.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/distributed/agreement.hpp"
#include "aimastery/distributed/communicator.hpp"
#include "aimastery/ml/classical/model_selection.hpp"
#include "aimastery/production/caching/content_hash.hpp"

namespace aimastery {

/// Throws InvalidArgument on every rank unless `value` is the same on every rank, naming the first rank
/// whose value differs from rank 0's: "where: rank 2 differs from rank 0 in the hash of X (every rank must
/// hold the same data)". One MPI_Allgather of one integer.
inline void check_replicated(const Communicator& comm, std::string_view where, std::string_view what,
                             std::int64_t value) {
  const std::vector<std::int64_t> all = comm.allgather(std::span<const std::int64_t>(&value, 1));
  for (std::size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) [[unlikely]]
      fail(where, "rank " + std::to_string(r) + " differs from rank 0 in " + std::string(what));
}

/// The results of `n_tasks` independent tasks, task(t) → double for t = 0 … n_tasks − 1, on every rank:
/// rank r runs the tasks t ≡ r (mod p) in increasing order and the results are gathered by task index.
/// Collective (every rank passes the same n_tasks, checked). A task that throws on some rank throws on
/// every rank once all have run theirs (the lowest failing rank's message, check_on_all_ranks).
template <class Task>
[[nodiscard]] std::vector<double> run_tasks_on_ranks(const Communicator& comm, Index n_tasks, Task&& task) {
  constexpr std::string_view where = "run_tasks_on_ranks";
  check_on_all_ranks(comm, [&] {
    require(n_tasks >= 0, where, [&] { return "n_tasks must be non-negative, got " + std::to_string(n_tasks); });
  });
  check_same_on_all_ranks(comm, where, "the number of tasks", n_tasks);
  const Index p = comm.size();
  std::vector<double> mine;
  check_on_all_ranks(comm, [&] {
    for (Index t = comm.rank(); t < n_tasks; t += p) mine.push_back(static_cast<double>(task(t)));
  });
  // Rank r's results are the tasks r, r + p, r + 2p, … in that order, and the gather is in rank order.
  const std::vector<double> gathered = comm.allgather(std::span<const double>(mine));
  std::vector<double> out(static_cast<std::size_t>(n_tasks));
  std::size_t at = 0;
  for (Index r = 0; r < p; ++r)
    for (Index t = r; t < n_tasks; t += p) out[static_cast<std::size_t>(t)] = gathered[at++];
  AIMASTERY_ASSERT(at == gathered.size());
  return out;
}

namespace detail {

/// An integer fingerprint of replicated data (XXH3-128 of its bytes, the halves xored).
template <class Derived>
std::int64_t replicated_fingerprint(const Eigen::DenseBase<Derived>& values) {
  const ContentHash h = content_hash_of_values(values);
  return static_cast<std::int64_t>(h.high ^ h.low);
}

}  // namespace detail

/// The checks of cross_val_score on every rank (X not empty, as many targets as rows, every fold non-empty
/// and in range), then that every rank holds the same data and folds (check_replicated). Collective.
template <class DX, class DY>
void check_cross_validation_on_ranks(const Communicator& comm, std::string_view where, const Eigen::MatrixBase<DX>& X,
                                     const Eigen::MatrixBase<DY>& y, const std::vector<Fold>& folds) {
  check_on_all_ranks(comm, [&] { check_cross_validation(where, X, y, folds); });
  check_replicated(comm, where, "the number of samples", X.rows());
  check_replicated(comm, where, "the number of features", X.cols());
  check_replicated(comm, where, "the hash of X (every rank must hold the same data)",
                   detail::replicated_fingerprint(X));
  check_replicated(comm, where, "the hash of y", detail::replicated_fingerprint(y));
  check_replicated(comm, where, "the number of folds", static_cast<std::int64_t>(folds.size()));
  std::uint64_t folds_hash = 0;
  for (const Fold& fold : folds) {
    folds_hash = folds_hash * 1099511628211ull + static_cast<std::uint64_t>(detail::replicated_fingerprint(fold.train));
    folds_hash = folds_hash * 1099511628211ull + static_cast<std::uint64_t>(detail::replicated_fingerprint(fold.test));
  }
  check_replicated(comm, where, "the folds", static_cast<std::int64_t>(folds_hash));
}

/// cross_val_score(make, X, y, folds) with the folds spread over the ranks; every rank gets all scores,
/// equal (==) to the single-process function's. Collective.
template <class Make, class DX, class DY>
[[nodiscard]] Vector<double> cross_val_score(const Communicator& comm, Make&& make, const Eigen::MatrixBase<DX>& X,
                                             const Eigen::MatrixBase<DY>& y, const std::vector<Fold>& folds) {
  check_cross_validation_on_ranks(comm, "cross_val_score", X, y, folds);
  const std::vector<double> scores = run_tasks_on_ranks(comm, static_cast<Index>(folds.size()), [&](Index f) {
    return cross_val_score(make, X, y, std::vector<Fold>{folds[static_cast<std::size_t>(f)]})(0);
  });
  return Eigen::Map<const Vector<double>>(scores.data(), static_cast<Index>(scores.size()));
}

/// Parameter search: the scores of `n_candidates` estimators, candidate c made by make(c), on every fold.
/// Row c equals (==) cross_val_score([&] { return make(c); }, X, y, folds); the candidates × folds tasks
/// (task c · F + f) are spread over the ranks. Collective.
template <class Make, class DX, class DY>
[[nodiscard]] Matrix<double> cross_val_scores(const Communicator& comm, Make&& make, Index n_candidates,
                                              const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y,
                                              const std::vector<Fold>& folds) {
  constexpr std::string_view where = "cross_val_scores";
  check_on_all_ranks(comm, [&] {
    require(n_candidates >= 1, where,
            [&] { return "n_candidates must be at least 1, got " + std::to_string(n_candidates); });
  });
  check_replicated(comm, where, "the number of candidates", n_candidates);
  check_cross_validation_on_ranks(comm, where, X, y, folds);
  const Index n_folds = static_cast<Index>(folds.size());
  const std::vector<double> scores = run_tasks_on_ranks(comm, n_candidates * n_folds, [&](Index t) {
    const Index c = t / n_folds, f = t % n_folds;
    return cross_val_score([&] { return make(c); }, X, y, std::vector<Fold>{folds[static_cast<std::size_t>(f)]})(0);
  });
  Matrix<double> out(n_candidates, n_folds);
  for (Index c = 0; c < n_candidates; ++c)
    for (Index f = 0; f < n_folds; ++f) out(c, f) = scores[static_cast<std::size_t>(c * n_folds + f)];
  return out;
}

/// The candidate (row of a candidates × folds score matrix) with the highest mean score, ties to the
/// smallest index; a row holding NaN never wins. Local (not collective).
[[nodiscard]] inline Index best_candidate(const Matrix<double>& scores) {
  require(scores.rows() >= 1 && scores.cols() >= 1, "best_candidate",
          [&] { return "the score matrix is " + shape_of(scores) + ", it needs a candidate and a fold"; });
  Index best = -1;
  double best_mean = 0;
  for (Index c = 0; c < scores.rows(); ++c) {
    const double mean = scores.row(c).mean();
    if (mean == mean && (best < 0 || mean > best_mean)) {
      best = c;
      best_mean = mean;
    }
  }
  require(best >= 0, "best_candidate", "every candidate's mean score is NaN");
  return best;
}

}  // namespace aimastery
