#pragma once
/// \file
/// KNNScratch (classification) and KNNRegressorScratch: brute-force k nearest
/// neighbours.
///
/// A query is answered by the k training rows closest to it: a majority vote of
/// their labels (uniform weights) or a vote weighted by 1/distance (a neighbour
/// at distance 0 takes all the weight), and for the regressor the (weighted)
/// mean of their targets. Fitting only stores the data; the work is in the
/// distances, O(n_queries · n_train · d).
///
/// Distances are computed a block of queries against a block of training rows
/// at a time through GEMM:
///   euclidean  ‖q − x‖² = ‖q‖² + ‖x‖² − 2 q·x            (the q·x of a whole
///   block is one matrix product) cosine     1 − (q·x) / (‖q‖ ‖x‖) (rows
///   normalised once; a zero row stays zero) manhattan  Σ_j |q_j − x_j| (no
///   product form: a direct loop)
/// and each query keeps its k best candidates in a max-heap while the blocks
/// stream past. Ties go as in scikit-learn's brute force (one thread): training
/// rows enter each query's heap in index order through the same heap_push, so
/// the same row wins a tie at the k-th place; results are listed by distance,
/// then index; a vote tied between classes goes to the smallest class.

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/linalg/packed_matrix.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/ml/classical/label_encoding.hpp"
#include "aimastery/ml/classical/metrics.hpp"
#include "aimastery/ml/classical/validation.hpp"

namespace aimastery {

/// Reads and restores fitted state (production/deployment); declared here for the friends in detail.
template <class Model>
struct ModelCodec;

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

/// The k nearest training rows of every query, nearest first: row i of
/// `indices` and `distances`.
template <Scalar T>
struct KNeighbors {
  Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> indices;
  Matrix<T> distances;
};

namespace detail {

/// The stored training rows and the brute-force search over them.
///
/// Euclidean and cosine distances come from one GEMM (core/linalg/matmul.hpp)
/// per block of queries and training rows, through augmented rows whose product
/// is the distance up to a per-query constant:
///   euclidean  a(q) = [q, 1],  b(x) = [−2x, ‖x‖²]:   a·b = ‖x‖² − 2 q·x = ‖q −
///   x‖² − ‖q‖² cosine     a(q) = [q̂, 1],  b(x) = [−x̂, 1]:       a·b = 1 − q̂·x̂
/// (‖q‖² does not change a query's order; it is added to the k best at the
/// end). Each query then scans its row of the block: a chunk holding nothing
/// below its current k-th best is passed over after one vectorised minimum, so
/// once the heap has filled the selection costs little more than reading the
/// block.
template <Scalar T>
class NeighborSearch {
 public:
  // A block of 112 × 256 distances (224 KiB in double) stays in L2 between the
  // product and the scan; the training rows' side of the product is packed
  // once (core/linalg/packed_matrix.hpp), and 112 queries are 8 whole 14-row
  // register tiles of AVX-512. (Measured on a 2-core EPYC, d = 20: 112 or 168
  // × 256 best, 1.14 s for 10k × 100k; 64 × 256 1.25 s (5 tiles with 6 rows
  // idle); 512 training rows and more 1.27–1.34 s.)
  static constexpr Index query_block = 112;
  static constexpr Index train_block = 256;
  static constexpr Index scan_chunk = 16;  ///< distances compared against the k-th best at once

  NeighborSearch() = default;
  template <class Derived>
  NeighborSearch(const Eigen::MatrixBase<Derived>& X, DistanceMetric metric)
      : metric_(metric), X_(X.template cast<T>()) {
    largest_ = X_.size() ? X_.cwiseAbs().maxCoeff() : T(0);
    if (metric_ == DistanceMetric::cosine) normalise_rows(X_);
    build_products();
  }

  [[nodiscard]] Index size() const noexcept { return X_.rows(); }

  /// The k nearest training rows of every query. When the entries are so large
  /// that ‖q‖² + ‖x‖² could overflow (or so small that it underflows), queries
  /// and training rows are first divided by a power of two s ≈ max |v| (exact
  /// in floating point, so the order of the distances is untouched) and the
  /// distances found multiplied back by s: any finite entries give the right
  /// neighbours (a distance itself beyond the largest finite value is reported
  /// as inf).
  template <class Derived>
  KNeighbors<T> search(const Eigen::MatrixBase<Derived>& queries, Index k) const {
    Matrix<T> Q = queries.template cast<T>();
    const T largest = std::max(largest_, Q.size() ? Q.cwiseAbs().maxCoeff() : T(0));
    // Each of ‖q‖², ‖x‖², 2|q·x| is at most 2·d·b² for entries |v| ≤ b: their
    // sum stays finite when 4·d·b² ≤ max, i.e. b ≤ √(max / 4d); below √min the
    // squares lose their digits to underflow.
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
    const Index n_queries = Q.rows(), d = Q.cols();
    KNeighbors<T> result{decltype(KNeighbors<T>::indices)(n_queries, k), Matrix<T>(n_queries, k)};
    const Index n_blocks = (n_queries + query_block - 1) / query_block;
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
      Matrix<T> A, D;
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
        if (metric_ != DistanceMetric::manhattan) {
          A.resize(bq, d + 1);  // a(q) = [q, 1]
          A.leftCols(d) = Q.middleRows(q0, bq);
          A.col(d).setOnes();
        }
        for (Index t0 = 0; t0 < X_.rows(); t0 += train_block) {
          const Index bt = std::min(train_block, X_.rows() - t0);
          if (metric_ == DistanceMetric::manhattan)
            manhattan_block(Q.middleRows(q0, bq), t0, bt, D);
          else
            matrix_multiply_to(A, B_, t0, bt, D);
          for (Index r = 0; r < bq; ++r) {
            T* dist = best_distance.data() + r * k;
            Index* index = best_index.data() + r * k;
            const T* row = D.row(r).data();
            if (metric_ == DistanceMetric::cosine) {
              for (Index j = 0; j < bt; ++j) {
                const T c = std::min(std::max(row[j], T(0)), T(2));
                if (c < dist[0]) heap_push(dist, index, k, c, t0 + j);
              }
              continue;
            }
            Index j = 0;
            for (; j + scan_chunk <= bt; j += scan_chunk) {
              if (!(Eigen::Map<const Eigen::Array<T, scan_chunk, 1>>(row + j).minCoeff() < dist[0])) continue;
              for (Index c = j; c < j + scan_chunk; ++c)
                if (row[c] < dist[0]) heap_push(dist, index, k, row[c], t0 + c);
            }
            for (; j < bt; ++j)
              if (row[j] < dist[0]) heap_push(dist, index, k, row[j], t0 + j);
          }
        }
        for (Index r = 0; r < bq; ++r) {
          sorted.clear();
          for (Index j = 0; j < k; ++j)
            sorted.emplace_back(best_distance[static_cast<std::size_t>(r * k + j)],
                                best_index[static_cast<std::size_t>(r * k + j)]);
          std::sort(sorted.begin(), sorted.end());
          // euclidean: ‖q − x‖ = √(a·b + ‖q‖²)
          const T offset = metric_ == DistanceMetric::euclidean ? Q.row(q0 + r).squaredNorm() : T(0);
          for (Index j = 0; j < k; ++j) {
            T distance = sorted[static_cast<std::size_t>(j)].first;
            if (metric_ == DistanceMetric::euclidean) distance = std::sqrt(std::max(distance + offset, T(0)));
            result.distances(q0 + r, j) = distance;
            result.indices(q0 + r, j) = sorted[static_cast<std::size_t>(j)].second;
          }
        }
      }
    }
    return result;
  }

  /// b(x) of the stored rows X_ (already normalised for cosine), as columns: a block of training rows is
  /// a block of columns. Manhattan has no product form.
  void build_products() {
    const Index d = X_.cols();
    B_ = PackedMatrix<T>();
    if (metric_ == DistanceMetric::manhattan || X_.rows() == 0) return;
    // B = [−2x, ‖x‖²] (euclidean) or [−x, 1] (cosine) per training row x, one column each, packed a
    // block of training rows at a time: only one (d+1) × train_block block is ever held unpacked.
    static_assert(train_block % PackedMatrix<T>::panel_width == 0, "a block of training rows fills whole panels");
    PackedMatrix<T> packed(d + 1, X_.rows());
    Matrix<T> block;
    for (Index t0 = 0; t0 < X_.rows(); t0 += train_block) {
      const Index bt = std::min(train_block, X_.rows() - t0);
      const auto rows = X_.middleRows(t0, bt);
      block.resize(d + 1, bt);
      if (metric_ == DistanceMetric::euclidean) {
        block.topRows(d) = T(-2) * rows.transpose();
        block.row(d) = rows.rowwise().squaredNorm().transpose();
      } else {
        block.topRows(d) = -rows.transpose();
        block.row(d).setOnes();
      }
      packed.pack_columns(t0, block);
    }
    B_ = std::move(packed);
  }

  /// Pushes (value, index) into a max-heap of size k holding the k smallest
  /// distances seen, as scikit-learn's heap_push: a value not smaller than the
  /// root is refused, so the rows seen first win ties at the k-th place; the
  /// new value enters at the root and sinks below any larger child.
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

  /// Rows scaled to unit length (a zero row stays zero), as scikit-learn's
  /// normalize. A row whose ‖x‖² overflows or underflows takes the scaled
  /// (stable) norm instead.
  static void normalise_rows(Matrix<T>& M) {
    for (Index i = 0; i < M.rows(); ++i) {
      T norm = M.row(i).norm();
      if (!std::isfinite(norm) || norm < std::sqrt(std::numeric_limits<T>::min())) norm = M.row(i).stableNorm();
      if (norm > T(0)) M.row(i) /= norm;
    }
  }

  /// Σ_j |q_j − x_j| for a query block against training rows [t0, t0 + bt) (no
  /// product form: a direct loop).
  template <class QBlock>
  void manhattan_block(const QBlock& Qb, Index t0, Index bt, Matrix<T>& D) const {
    D.resize(Qb.rows(), bt);
    for (Index r = 0; r < Qb.rows(); ++r)
      for (Index j = 0; j < bt; ++j) D(r, j) = (X_.row(t0 + j) - Qb.row(r)).cwiseAbs().sum();
  }

  template <class>
  friend struct aimastery::ModelCodec;  // reads and restores the stored rows (production/deployment)

  DistanceMetric metric_ = DistanceMetric::euclidean;
  Matrix<T> X_;        ///< the training rows (cosine: normalised)
  PackedMatrix<T> B_;  ///< b(x) of every training row as a column, (d+1) × n, packed once for
                       ///< the products of every query block (euclidean, cosine; see above)
  T largest_ = T(0);   ///< max |x_ij| of the training rows
};

/// Neighbour weights: 1 for uniform; 1/d for distance, except that a query with
/// a neighbour at distance 0 gives weight 1 to those neighbours and 0 to the
/// others.
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

namespace detail {

/// What the classifier and the regressor share: the options, the stored
/// training rows, and the checked search. Each public method of the two passes
/// its own name (`where`) for the messages.
template <Scalar T>
class NeighborModel {
 public:
  using Params = KNNParams;

  [[nodiscard]] const Params& params() const noexcept { return params_; }

 protected:
  NeighborModel(Params params, std::string_view name) : params_(params) { check_knn_params(name, params_); }

  /// fit's checks, and the search over X built aside (the caller swaps it in
  /// with store()).
  template <class DX, class DY>
  NeighborSearch<T> checked_search(std::string_view where, const Eigen::MatrixBase<DX>& X,
                                   const Eigen::MatrixBase<DY>& y) const {
    check_fit_input(where, X, y);
    check_k_fits(where, params_, X);
    return NeighborSearch<T>(X, params_.metric);
  }

  void store(NeighborSearch<T>&& search, Index n_features) noexcept {
    search_ = std::move(search);
    n_features_ = n_features;
    fitted_ = true;
  }

  /// The k nearest training rows of each query, after predict's checks.
  template <class DX>
  KNeighbors<T> neighbors(std::string_view where, const Eigen::MatrixBase<DX>& X) const {
    check_predict_input(where, fitted_, X, n_features_);
    return search_.search(X, params_.k);
  }

  /// score's checks: predict's, and one target per row.
  template <class DX, class DY>
  void check_score_input(std::string_view where, const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) const {
    check_predict_input(where, fitted_, X, n_features_);
    check_samples_match(where, X, y);
  }

  [[nodiscard]] bool fitted() const noexcept { return fitted_; }
  [[nodiscard]] Matrix<T> weights_of(const KNeighbors<T>& found) const {
    return neighbor_weights(found.distances, params_.weights);
  }

 private:
  template <class>
  friend struct aimastery::ModelCodec;  // reads and restores the fitted state (production/deployment)

  Params params_;
  NeighborSearch<T> search_;
  Index n_features_ = 0;
  bool fitted_ = false;
};

}  // namespace detail

template <Scalar T>
class KNNScratch : public detail::NeighborModel<T> {
 public:
  using Params = KNNParams;

  explicit KNNScratch(Params params = {}) : detail::NeighborModel<T>(params, "KNNScratch") {}

  template <class Derived>
  KNNScratch& fit(const Eigen::MatrixBase<Derived>& X, const Eigen::Ref<const IndexVector>& y) {
    // The new state is built aside and swapped in at the end: a fit that throws
    // leaves the model as it was.
    detail::NeighborSearch<T> search = this->checked_search("KNNScratch::fit", X, y);
    LabelEncoding encoding;
    IndexVector codes = encoding.fit(y);
    encoding_.swap(encoding);
    codes_.swap(codes);
    this->store(std::move(search), X.cols());
    return *this;
  }

  /// The k nearest training rows of each query (indices into the training set),
  /// nearest first.
  template <class Derived>
  [[nodiscard]] KNeighbors<T> kneighbors(const Eigen::MatrixBase<Derived>& X) const {
    return this->neighbors("KNNScratch::kneighbors", X);
  }

  /// n × K: the (weighted) share of each class among the neighbours, columns in
  /// classes() order.
  template <class Derived>
  [[nodiscard]] Matrix<T> predict_proba(const Eigen::MatrixBase<Derived>& X) const {
    Matrix<T> votes = class_votes(this->neighbors("KNNScratch::predict_proba", X));
    for (Index i = 0; i < votes.rows(); ++i) {
      const T total = votes.row(i).sum();
      if (total > T(0)) votes.row(i) /= total;
    }
    return votes;
  }

  /// The class of largest (weighted) vote; a tie goes to the smallest class.
  template <class Derived>
  [[nodiscard]] IndexVector predict(const Eigen::MatrixBase<Derived>& X) const {
    return winners(class_votes(this->neighbors("KNNScratch::predict", X)));
  }

  template <class Derived>
  [[nodiscard]] double score(const Eigen::MatrixBase<Derived>& X, const Eigen::Ref<const IndexVector>& y) const {
    this->check_score_input("KNNScratch::score", X, y);
    return accuracy_score(y, winners(class_votes(this->neighbors("KNNScratch::score", X))));
  }

  [[nodiscard]] const IndexVector& classes() const {
    if (!this->fitted()) throw NotFittedError("KNNScratch::classes: the model is not fitted; call fit first");
    return encoding_.classes();
  }

 private:
  IndexVector winners(const Matrix<T>& votes) const {
    IndexVector codes(votes.rows());
    for (Index i = 0; i < votes.rows(); ++i) votes.row(i).maxCoeff(&codes(i));
    return encoding_.decode(codes);
  }

  /// n × K sums of neighbour weights per class, summed in neighbour order.
  Matrix<T> class_votes(const KNeighbors<T>& found) const {
    const Matrix<T> w = this->weights_of(found);
    Matrix<T> votes = Matrix<T>::Zero(found.indices.rows(), encoding_.n_classes());
    for (Index i = 0; i < votes.rows(); ++i)
      for (Index j = 0; j < found.indices.cols(); ++j) votes(i, codes_(found.indices(i, j))) += w(i, j);
    return votes;
  }

  template <class>
  friend struct ModelCodec;  // reads and restores the fitted state (production/deployment)

  LabelEncoding encoding_;
  IndexVector codes_;
};

template <Scalar T>
class KNNRegressorScratch : public detail::NeighborModel<T> {
 public:
  using Params = KNNParams;

  explicit KNNRegressorScratch(Params params = {}) : detail::NeighborModel<T>(params, "KNNRegressorScratch") {}

  template <class DX, class DY>
  KNNRegressorScratch& fit(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) {
    // The new state is built aside and swapped in at the end: a fit that throws
    // leaves the model as it was.
    detail::NeighborSearch<T> search = this->checked_search("KNNRegressorScratch::fit", X, y);
    Vector<T> targets = y.template cast<T>();
    targets_.swap(targets);
    this->store(std::move(search), X.cols());
    return *this;
  }

  template <class Derived>
  [[nodiscard]] KNeighbors<T> kneighbors(const Eigen::MatrixBase<Derived>& X) const {
    return this->neighbors("KNNRegressorScratch::kneighbors", X);
  }

  /// The (weighted) mean target of the neighbours: Σ w_j y_j / Σ w_j.
  template <class Derived>
  [[nodiscard]] Vector<T> predict(const Eigen::MatrixBase<Derived>& X) const {
    return weighted_means(this->neighbors("KNNRegressorScratch::predict", X));
  }

  /// R² on (X, y).
  template <class DX, class DY>
  [[nodiscard]] T score(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) const {
    this->check_score_input("KNNRegressorScratch::score", X, y);
    return r2_score(Vector<T>(y.template cast<T>()), weighted_means(this->neighbors("KNNRegressorScratch::score", X)));
  }

 private:
  Vector<T> weighted_means(const KNeighbors<T>& found) const {
    const Matrix<T> w = this->weights_of(found);
    Vector<T> out(found.indices.rows());
    for (Index i = 0; i < out.size(); ++i) {
      T sum = 0, total = 0;
      for (Index j = 0; j < found.indices.cols(); ++j) {
        sum += w(i, j) * targets_(found.indices(i, j));
        total += w(i, j);
      }
      out(i) = sum / total;
    }
    return out;
  }

  template <class>
  friend struct ModelCodec;  // reads and restores the fitted state (production/deployment)

  Vector<T> targets_;
};

}  // namespace aimastery
