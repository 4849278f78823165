#pragma once
/// \file
/// KNNScratch (classification) and KNNRegressorScratch: brute-force k nearest neighbours.
///
/// A query is answered by the k training rows closest to it: a majority vote of their labels (uniform
/// weights) or a vote weighted by 1/distance (a neighbour at distance 0 takes all the weight), and for the
/// regressor the (weighted) mean of their targets. Fitting only stores the data; the work is in the
/// distances, O(n_queries · n_train · d).
///
/// Distances are computed a block of queries against a block of training rows at a time through GEMM:
///   euclidean  ‖q − x‖² = ‖q‖² + ‖x‖² − 2 q·x            (the q·x of a whole block is one matrix product)
///   cosine     1 − (q·x) / (‖q‖ ‖x‖)                     (rows normalised once; a zero row stays zero)
///   manhattan  Σ_j |q_j − x_j|                            (no product form: a direct loop)
/// and each query keeps its k best candidates in a max-heap while the blocks stream past. Ties go as in
/// scikit-learn's brute force (one thread): training rows enter each query's heap in index order through
/// the same heap_push, so the same row wins a tie at the k-th place; results are listed by distance, then
/// index; a vote tied between classes goes to the smallest class.

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/classical/label_encoding.hpp"
#include "aimastery/ml/classical/metrics.hpp"
#include "aimastery/ml/classical/validation.hpp"

namespace aimastery {

enum class DistanceMetric { euclidean, manhattan, cosine };
enum class NeighborWeights { uniform, distance };

inline DistanceMetric parse_distance_metric(std::string_view name, std::string_view where = "parse_distance_metric") {
  if (name == "euclidean") return DistanceMetric::euclidean;
  if (name == "manhattan") return DistanceMetric::manhattan;
  if (name == "cosine") return DistanceMetric::cosine;
  throw InvalidArgument(std::string(where) + ": unknown metric '" + std::string(name) +
                        "' (expected euclidean, manhattan or cosine)");
}

inline NeighborWeights parse_neighbor_weights(std::string_view name,
                                              std::string_view where = "parse_neighbor_weights") {
  if (name == "uniform") return NeighborWeights::uniform;
  if (name == "distance") return NeighborWeights::distance;
  throw InvalidArgument(std::string(where) + ": unknown weights '" + std::string(name) +
                        "' (expected uniform or distance)");
}

struct KNNParams {
  Index k = 5;
  DistanceMetric metric = DistanceMetric::euclidean;
  NeighborWeights weights = NeighborWeights::uniform;
};

/// The k nearest training rows of every query, nearest first: row i of `indices` and `distances`.
template <Scalar T>
struct KNeighbors {
  Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> indices;
  Matrix<T> distances;
};

namespace detail {

/// The stored training rows and the brute-force search over them.
template <Scalar T>
class NeighborSearch {
 public:
  static constexpr Index query_block = 256;
  static constexpr Index train_block = 1024;

  NeighborSearch() = default;
  template <class Derived>
  NeighborSearch(const Eigen::MatrixBase<Derived>& X, DistanceMetric metric)
      : metric_(metric), X_(X.template cast<T>()) {
    largest_ = X_.size() ? X_.cwiseAbs().maxCoeff() : T(0);
    if (metric_ == DistanceMetric::euclidean) norms_ = X_.rowwise().squaredNorm();
    if (metric_ == DistanceMetric::cosine) normalise_rows(X_);
  }

  [[nodiscard]] Index size() const noexcept { return X_.rows(); }

  /// The k nearest training rows of every query. When the entries are so large that ‖q‖² + ‖x‖² could
  /// overflow (or so small that it underflows), queries and training rows are first divided by a power of
  /// two s ≈ max |v| (exact in floating point, so the order of the distances is untouched) and the distances
  /// found multiplied back by s: any finite entries give the right neighbours (a distance itself beyond the
  /// largest finite value is reported as inf).
  template <class Derived>
  KNeighbors<T> search(const Eigen::MatrixBase<Derived>& queries, Index k) const {
    Matrix<T> Q = queries.template cast<T>();
    const T largest = std::max(largest_, Q.size() ? Q.cwiseAbs().maxCoeff() : T(0));
    // Each of ‖q‖², ‖x‖², 2|q·x| is at most 2·d·b² for entries |v| ≤ b: their sum stays finite when
    // 4·d·b² ≤ max, i.e. b ≤ √(max / 4d); below √min the squares lose their digits to underflow.
    const T d = static_cast<T>(std::max<Index>(Q.cols(), 1));
    const T safe = std::sqrt(std::numeric_limits<T>::max() / (T(4) * d));
    const T tiny = std::sqrt(std::numeric_limits<T>::min());
    if (metric_ != DistanceMetric::cosine && (largest > safe || (largest > T(0) && largest < tiny))) {
      const T s = std::exp2(std::ceil(std::log2(largest)));
      const NeighborSearch scaled((X_ / s).eval(), metric_);
      Q /= s;
      KNeighbors<T> found = scaled.search_unscaled(std::move(Q), k);
      found.distances *= s;
      return found;
    }
    return search_unscaled(std::move(Q), k);
  }

 private:
  KNeighbors<T> search_unscaled(Matrix<T> Q, Index k) const {
    if (metric_ == DistanceMetric::cosine) normalise_rows(Q);
    const Index n_queries = Q.rows();
    KNeighbors<T> result{decltype(KNeighbors<T>::indices)(n_queries, k), Matrix<T>(n_queries, k)};
    const Index n_blocks = (n_queries + query_block - 1) / query_block;
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
      Matrix<T> D(query_block, train_block);
      std::vector<T> best_distance(static_cast<std::size_t>(query_block * k));
      std::vector<Index> best_index(static_cast<std::size_t>(query_block * k));
      std::vector<std::pair<T, Index>> sorted;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
      for (Index block = 0; block < n_blocks; ++block) {
        const Index q0 = block * query_block;
        const Index bq = std::min(query_block, n_queries - q0);
        std::fill(best_distance.begin(), best_distance.end(), std::numeric_limits<T>::infinity());
        std::fill(best_index.begin(), best_index.end(), Index(0));
        const auto Qb = Q.middleRows(q0, bq);
        Vector<T> query_norms;
        if (metric_ == DistanceMetric::euclidean) query_norms = Qb.rowwise().squaredNorm();
        for (Index t0 = 0; t0 < X_.rows(); t0 += train_block) {
          const Index bt = std::min(train_block, X_.rows() - t0);
          auto Db = D.topLeftCorner(bq, bt);
          block_products(Qb, t0, bt, Db);
          for (Index r = 0; r < bq; ++r) {
            T* dist = best_distance.data() + r * k;
            Index* index = best_index.data() + r * k;
            const T* row = Db.row(r).data();
            const auto select = [&](auto distance_of) {
              for (Index j = 0; j < bt; ++j) {
                const T d = distance_of(j);
                if (d < dist[0]) heap_push(dist, index, k, d, t0 + j);
              }
            };
            if (metric_ == DistanceMetric::euclidean) {
              // (‖q‖² − 2 q·x) + ‖x‖², compared squared
              const T query_norm = query_norms(r);
              const T* train_norms = norms_.data() + t0;
              select([&](Index j) { return (query_norm + T(-2) * row[j]) + train_norms[j]; });
            } else if (metric_ == DistanceMetric::cosine) {
              select([&](Index j) { return std::min(std::max(T(1) - row[j], T(0)), T(2)); });
            } else {
              select([&](Index j) { return row[j]; });
            }
          }
        }
        for (Index r = 0; r < bq; ++r) {
          sorted.clear();
          for (Index j = 0; j < k; ++j)
            sorted.emplace_back(best_distance[static_cast<std::size_t>(r * k + j)],
                                best_index[static_cast<std::size_t>(r * k + j)]);
          std::sort(sorted.begin(), sorted.end());
          for (Index j = 0; j < k; ++j) {
            T d = sorted[static_cast<std::size_t>(j)].first;
            if (metric_ == DistanceMetric::euclidean) d = std::sqrt(std::max(d, T(0)));
            result.distances(q0 + r, j) = d;
            result.indices(q0 + r, j) = sorted[static_cast<std::size_t>(j)].second;
          }
        }
      }
    }
    return result;
  }

  /// Pushes (value, index) into a max-heap of size k holding the k smallest distances seen, as
  /// scikit-learn's heap_push: a value not smaller than the root is refused, so the rows seen first win
  /// ties at the k-th place; the new value enters at the root and sinks below any larger child.
  static void heap_push(T* values, Index* indices, Index size, T value, Index index) noexcept {
    Index current = 0;
    while (true) {
      const Index left = 2 * current + 1, right = left + 1;
      Index swap = 0;
      if (left >= size) break;
      if (right >= size) {
        if (!(values[left] > value)) break;
        swap = left;
      } else if (values[left] >= values[right]) {
        if (!(value < values[left])) break;
        swap = left;
      } else {
        if (!(value < values[right])) break;
        swap = right;
      }
      values[current] = values[swap];
      indices[current] = indices[swap];
      current = swap;
    }
    values[current] = value;
    indices[current] = index;
  }

  /// Rows scaled to unit length (a zero row stays zero), as scikit-learn's normalize. A row whose ‖x‖²
  /// overflows or underflows takes the scaled (stable) norm instead.
  static void normalise_rows(Matrix<T>& M) {
    for (Index i = 0; i < M.rows(); ++i) {
      T norm = M.row(i).norm();
      if (!std::isfinite(norm) || norm < std::sqrt(std::numeric_limits<T>::min())) norm = M.row(i).stableNorm();
      if (norm > T(0)) M.row(i) /= norm;
    }
  }

  /// For a query block against training rows [t0, t0 + bt): the products q·x (euclidean, cosine: one GEMM)
  /// or the manhattan distances.
  template <class QBlock, class DBlock>
  void block_products(const QBlock& Qb, Index t0, Index bt, DBlock& Db) const {
    const auto Xb = X_.middleRows(t0, bt);
    if (metric_ == DistanceMetric::manhattan) {
      for (Index r = 0; r < Qb.rows(); ++r)
        for (Index j = 0; j < bt; ++j) Db(r, j) = (Xb.row(j) - Qb.row(r)).cwiseAbs().sum();
    } else {
      Db.noalias() = Qb * Xb.transpose();
    }
  }

  DistanceMetric metric_ = DistanceMetric::euclidean;
  Matrix<T> X_;
  Vector<T> norms_;
  T largest_ = T(0);  ///< max |x_ij| of the training rows
};

/// Neighbour weights: 1 for uniform; 1/d for distance, except that a query with a neighbour at distance 0
/// gives weight 1 to those neighbours and 0 to the others.
template <Scalar T>
Matrix<T> neighbor_weights(const Matrix<T>& distances, NeighborWeights weights) {
  Matrix<T> w = Matrix<T>::Ones(distances.rows(), distances.cols());
  if (weights == NeighborWeights::uniform) return w;
  for (Index i = 0; i < distances.rows(); ++i) {
    const bool exact = (distances.row(i).array() == T(0)).any();
    for (Index j = 0; j < distances.cols(); ++j)
      w(i, j) = exact ? T(distances(i, j) == T(0) ? 1 : 0) : T(1) / distances(i, j);
  }
  return w;
}

inline void check_knn_params(std::string_view where, const KNNParams& params) {
  require(params.k >= 1, where, [&] { return "k must be at least 1, got " + std::to_string(params.k); });
}

template <class Derived>
void check_k_fits(std::string_view where, const KNNParams& params, const Eigen::MatrixBase<Derived>& X) {
  require(params.k <= X.rows(), where, [&] {
    return "k = " + std::to_string(params.k) + " exceeds the " + std::to_string(X.rows()) + " training samples";
  });
}

}  // namespace detail

template <Scalar T>
class KNNScratch {
 public:
  using Params = KNNParams;

  explicit KNNScratch(Params params = {}) : params_(params) { detail::check_knn_params("KNNScratch", params_); }

  template <class Derived>
  KNNScratch& fit(const Eigen::MatrixBase<Derived>& X, const Eigen::Ref<const IndexVector>& y) {
    constexpr const char* where = "KNNScratch::fit";
    check_fit_input(where, X, y);
    detail::check_k_fits(where, params_, X);
    // The new state is built aside and swapped in at the end: a fit that throws leaves the model as it was.
    LabelEncoding encoding;
    IndexVector codes = encoding.fit(y);
    detail::NeighborSearch<T> search(X, params_.metric);
    encoding_ = std::move(encoding);
    codes_ = std::move(codes);
    search_ = std::move(search);
    n_features_ = X.cols();
    fitted_ = true;
    return *this;
  }

  /// The k nearest training rows of each query (indices into the training set), nearest first.
  template <class Derived>
  [[nodiscard]] KNeighbors<T> kneighbors(const Eigen::MatrixBase<Derived>& X) const {
    check_predict_input("KNNScratch::kneighbors", fitted_, X, n_features_);
    return search_.search(X, params_.k);
  }

  /// n × K: the (weighted) share of each class among the neighbours, columns in classes() order.
  template <class Derived>
  [[nodiscard]] Matrix<T> predict_proba(const Eigen::MatrixBase<Derived>& X) const {
    check_predict_input("KNNScratch::predict_proba", fitted_, X, n_features_);
    Matrix<T> votes = class_votes(X);
    for (Index i = 0; i < votes.rows(); ++i) {
      const T total = votes.row(i).sum();
      if (total > T(0)) votes.row(i) /= total;
    }
    return votes;
  }

  /// The class of largest (weighted) vote; a tie goes to the smallest class.
  template <class Derived>
  [[nodiscard]] IndexVector predict(const Eigen::MatrixBase<Derived>& X) const {
    check_predict_input("KNNScratch::predict", fitted_, X, n_features_);
    return predict_checked(X);
  }

  template <class Derived>
  [[nodiscard]] double score(const Eigen::MatrixBase<Derived>& X, const Eigen::Ref<const IndexVector>& y) const {
    check_predict_input("KNNScratch::score", fitted_, X, n_features_);
    check_samples_match("KNNScratch::score", X, y);
    return accuracy_score(y, predict_checked(X));
  }

  [[nodiscard]] const IndexVector& classes() const {
    if (!fitted_) throw NotFittedError("KNNScratch::classes: the model is not fitted; call fit first");
    return encoding_.classes();
  }
  [[nodiscard]] const Params& params() const noexcept { return params_; }

 private:
  template <class Derived>
  IndexVector predict_checked(const Eigen::MatrixBase<Derived>& X) const {
    const Matrix<T> votes = class_votes(X);
    IndexVector codes(votes.rows());
    for (Index i = 0; i < votes.rows(); ++i) votes.row(i).maxCoeff(&codes(i));
    return encoding_.decode(codes);
  }

  /// n × K sums of neighbour weights per class, summed in neighbour order.
  template <class Derived>
  Matrix<T> class_votes(const Eigen::MatrixBase<Derived>& X) const {
    const KNeighbors<T> found = search_.search(X, params_.k);
    const Matrix<T> w = detail::neighbor_weights(found.distances, params_.weights);
    Matrix<T> votes = Matrix<T>::Zero(X.rows(), encoding_.n_classes());
    for (Index i = 0; i < X.rows(); ++i)
      for (Index j = 0; j < params_.k; ++j) votes(i, codes_(found.indices(i, j))) += w(i, j);
    return votes;
  }

  Params params_;
  LabelEncoding encoding_;
  IndexVector codes_;
  detail::NeighborSearch<T> search_;
  Index n_features_ = 0;
  bool fitted_ = false;
};

template <Scalar T>
class KNNRegressorScratch {
 public:
  using Params = KNNParams;

  explicit KNNRegressorScratch(Params params = {}) : params_(params) {
    detail::check_knn_params("KNNRegressorScratch", params_);
  }

  template <class DX, class DY>
  KNNRegressorScratch& fit(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) {
    constexpr const char* where = "KNNRegressorScratch::fit";
    check_fit_input(where, X, y);
    detail::check_k_fits(where, params_, X);
    Vector<T> targets = y.template cast<T>();  // built aside, swapped in: a failed fit changes nothing
    detail::NeighborSearch<T> search(X, params_.metric);
    targets_ = std::move(targets);
    search_ = std::move(search);
    n_features_ = X.cols();
    fitted_ = true;
    return *this;
  }

  template <class Derived>
  [[nodiscard]] KNeighbors<T> kneighbors(const Eigen::MatrixBase<Derived>& X) const {
    check_predict_input("KNNRegressorScratch::kneighbors", fitted_, X, n_features_);
    return search_.search(X, params_.k);
  }

  /// The (weighted) mean target of the neighbours: Σ w_j y_j / Σ w_j.
  template <class Derived>
  [[nodiscard]] Vector<T> predict(const Eigen::MatrixBase<Derived>& X) const {
    check_predict_input("KNNRegressorScratch::predict", fitted_, X, n_features_);
    return predict_checked(X);
  }

  /// R² on (X, y).
  template <class DX, class DY>
  [[nodiscard]] T score(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) const {
    check_predict_input("KNNRegressorScratch::score", fitted_, X, n_features_);
    check_samples_match("KNNRegressorScratch::score", X, y);
    return r2_score(Vector<T>(y.template cast<T>()), predict_checked(X));
  }

  [[nodiscard]] const Params& params() const noexcept { return params_; }

 private:
  template <class Derived>
  Vector<T> predict_checked(const Eigen::MatrixBase<Derived>& X) const {
    const KNeighbors<T> found = search_.search(X, params_.k);
    const Matrix<T> w = detail::neighbor_weights(found.distances, params_.weights);
    Vector<T> out(X.rows());
    for (Index i = 0; i < X.rows(); ++i) {
      T sum = 0, total = 0;
      for (Index j = 0; j < params_.k; ++j) {
        sum += w(i, j) * targets_(found.indices(i, j));
        total += w(i, j);
      }
      out(i) = sum / total;
    }
    return out;
  }

  Params params_;
  Vector<T> targets_;
  detail::NeighborSearch<T> search_;
  Index n_features_ = 0;
  bool fitted_ = false;
};

}  // namespace aimastery
