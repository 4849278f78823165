#pragma once
/// \file
/// ShardedKNN: the k nearest neighbours classifier (KNNScratch) over training rows sharded across ranks,
/// giving the single model's neighbours (global positions and distances) and predictions.
///
///   ShardedKNN<double> knn(world, {.k = 5});
///   knn.fit(my_X, my_labels);                           // collective; each rank passes its shard
///   IndexVector classes = knn.predict(queries);         // collective: the same queries on every rank
///
/// The training set is the shards in rank order (global position = shard_offset + local position).
/// Each rank finds the min(k, n_r) nearest rows of its shard with the single model's search
/// (ml/classical/knn.hpp: distances through one GEMM per block, each a function of the query and the row
/// only), and the lists are merged by (distance ascending, then position ascending) with
/// distributed/top_k_merge.hpp — the order KNNScratch lists and breaks ties by. The votes then are
/// KNNScratch's: weights 1 or 1/d (a neighbour at distance 0 takes all the weight), summed per class in
/// neighbour order, the largest winning and a tie going to the smallest class. The labels of the whole
/// training set are gathered on every rank at fit (8 bytes a row: 1/d of the data), so that the classes
/// and the votes need no further messages.
/// Limitation: entries so large (or small) that KNNScratch rescales the data to avoid overflow
/// (|v| > √(max / 4d), about 1e153 in double) are scaled per shard, and the distances may then differ
/// from the single model's in the last bits.

#include <algorithm>
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
#include "aimastery/distributed/same_queries.hpp"
#include "aimastery/distributed/top_k_merge.hpp"
#include "aimastery/ml/classical/knn.hpp"
#include "aimastery/ml/classical/label_encoding.hpp"
#include "aimastery/ml/classical/validation.hpp"

namespace aimastery {

template <Scalar T>
class ShardedKNN {
 public:
  /// Options as KNNScratch's (k >= 1). The communicator must outlive the model.
  ShardedKNN(const Communicator& comm, KNNParams params = {}) : comm_(&comm), params_(params) {
    detail::check_knn_params("ShardedKNN", params_);
  }

  [[nodiscard]] const KNNParams& params() const noexcept { return params_; }
  /// This rank's training rows.
  [[nodiscard]] Index shard_size() const noexcept { return shard_size_; }
  [[nodiscard]] const IndexVector& classes() const {
    if (!fitted_) throw NotFittedError("ShardedKNN::classes: the model is not fitted; call fit first");
    return encoding_.classes();
  }

  /// Stores this rank's shard (X, labels). Collective: every rank must have the same number of features
  /// and k must not exceed the training rows of all ranks together; a shard may be empty. Throws
  /// InvalidArgument on every rank (a bad shard on any rank included) and leaves the model unchanged.
  ShardedKNN& fit(const Matrix<T>& X, const IndexVector& labels) {
    constexpr std::string_view where = "ShardedKNN::fit";
    check_on_all_ranks(*comm_, [&] {
      check_samples_match(where, X, labels);
      check_finite(where, "X", X);
    });
    check_same_features(*comm_, where, X.cols());
    const Index total = static_cast<Index>(comm_->sum(static_cast<std::int64_t>(X.rows())));
    require(params_.k <= total, where, [&] {
      return "k = " + std::to_string(params_.k) + " exceeds the " + std::to_string(total) +
             " training samples of all ranks";
    });
    std::vector<std::int64_t> mine(labels.data(), labels.data() + labels.size());
    const std::vector<std::int64_t> all = comm_->allgather(std::span<const std::int64_t>(mine));
    const Eigen::Map<const Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>> all_labels(all.data(),
                                                                                      static_cast<Index>(all.size()));
    LabelEncoding encoding;
    IndexVector codes = encoding.fit(all_labels.template cast<Index>());
    detail::NeighborSearch<T> search(X, params_.metric);
    // Nothing below throws: the new state is swapped in.
    search_ = std::move(search);
    encoding_.swap(encoding);
    codes_.swap(codes);
    shard_size_ = X.rows();
    n_features_ = X.cols();
    fitted_ = true;
    return *this;
  }

  /// The k nearest training rows of the whole training set for every query (global positions), nearest
  /// first: KNNScratch::kneighbors over all the shards. Collective (same queries on every rank).
  [[nodiscard]] KNeighbors<T> kneighbors(const Matrix<T>& X) const { return neighbors("ShardedKNN::kneighbors", X); }

  /// The class of largest (weighted) vote of the k nearest rows of all shards; a tie goes to the smallest
  /// class (KNNScratch::predict). Collective.
  [[nodiscard]] IndexVector predict(const Matrix<T>& X) const {
    const KNeighbors<T> found = neighbors("ShardedKNN::predict", X);
    const Matrix<T> w = detail::neighbor_weights(found.distances, params_.weights);
    Matrix<T> votes = Matrix<T>::Zero(found.indices.rows(), encoding_.n_classes());
    for (Index i = 0; i < votes.rows(); ++i)
      for (Index j = 0; j < found.indices.cols(); ++j) votes(i, codes_(found.indices(i, j))) += w(i, j);
    IndexVector winners(votes.rows());
    for (Index i = 0; i < votes.rows(); ++i) votes.row(i).maxCoeff(&winners(i));
    return encoding_.decode(winners);
  }

 private:
  KNeighbors<T> neighbors(std::string_view where, const Matrix<T>& X) const {
    check_queries(where, X);
    const Index offset = shard_offset(*comm_, shard_size_);
    const Index local_k = std::min(params_.k, shard_size_);
    std::vector<std::vector<ScoredIndex>> local(static_cast<std::size_t>(X.rows()));
    if (local_k > 0) {
      const KNeighbors<T> found = search_.search(X, local_k);
      for (Index i = 0; i < X.rows(); ++i)
        for (Index j = 0; j < local_k; ++j)  // score = −distance: "score descending" is "distance ascending"
          local[static_cast<std::size_t>(i)].push_back(
              {found.indices(i, j) + offset, -static_cast<double>(found.distances(i, j))});
    }
    const std::vector<std::vector<ScoredIndex>> merged = merge_top_k(*comm_, local, params_.k);
    KNeighbors<T> out;
    out.indices.resize(X.rows(), params_.k);
    out.distances.resize(X.rows(), params_.k);
    for (Index i = 0; i < X.rows(); ++i)
      for (Index j = 0; j < params_.k; ++j) {
        const ScoredIndex& s = merged[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
        out.indices(i, j) = s.index;
        out.distances(i, j) = static_cast<T>(-s.score);
      }
    return out;
  }

  void check_queries(std::string_view where, const Matrix<T>& X) const {
    check_on_all_ranks(*comm_, [&] { check_predict_input(where, fitted_, X, n_features_); });
    check_same_queries_on_all_ranks(*comm_, where, X);
  }

  const Communicator* comm_;
  KNNParams params_;
  detail::NeighborSearch<T> search_{Matrix<T>(0, 0), DistanceMetric::euclidean};
  LabelEncoding encoding_;
  IndexVector codes_;
  Index shard_size_ = 0;
  Index n_features_ = 0;
  bool fitted_ = false;
};

}  // namespace aimastery
