#pragma once
/// \file
/// Metrics for classifiers and regressors, with scikit-learn's definitions:
///   accuracy_score, precision_score, recall_score, f1_score (macro / weighted / micro), confusion_matrix,
///   roc_auc_score (binary), log_loss; mean_squared_error, mean_absolute_error, r2_score.
/// Labels are any integers (IndexVector); the class set of a label metric is the sorted union of the labels
/// in y_true and y_pred, as scikit-learn's `unique_labels`. The label metrics are templates with a defaulted
/// parameter (called as plain functions) so that they are compiled only in the programs that call them.

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// How per-class precision, recall and F1 are combined into one number.
enum class Average {
  macro,     ///< unweighted mean over classes
  weighted,  ///< mean weighted by each class's support (its count in y_true)
  micro,     ///< from the global counts of true positives, false positives and false negatives
};

/// Counts C(i, j) of samples whose true label is labels(i) and predicted label labels(j).
struct ConfusionMatrix {
  IndexVector labels;                                                            ///< ascending
  Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> counts;  ///< true x predicted
};

namespace detail {

template <class A, class B>
void check_label_pair(std::string_view where, const Eigen::MatrixBase<A>& y_true, const Eigen::MatrixBase<B>& y_pred) {
  check_not_empty(where, "y_true", y_true);
  check_same_size(where, "y_true", y_true, "y_pred", y_pred);
}

template <class A, class B>
void check_value_pair(std::string_view where, const Eigen::MatrixBase<A>& y_true, const Eigen::MatrixBase<B>& y_pred) {
  check_label_pair(where, y_true, y_pred);
  check_finite(where, "y_true", y_true);
  check_finite(where, "y_pred", y_pred);
}

/// Sorted distinct values of a and b together.
template <class = void>
IndexVector union_labels(const Eigen::Ref<const IndexVector>& a, const Eigen::Ref<const IndexVector>& b) {
  std::vector<Index> v(a.data(), a.data() + a.size());
  v.insert(v.end(), b.data(), b.data() + b.size());
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return Eigen::Map<const IndexVector>(v.data(), static_cast<Index>(v.size()));
}

template <class = void>
Index code_of(const IndexVector& labels, Index label) {
  return static_cast<Index>(std::lower_bound(labels.data(), labels.data() + labels.size(), label) - labels.data());
}

/// Per-class precision or recall (or F1), then the average: the shared body of the three scores.
enum class LabelScore { precision, recall, f1 };

}  // namespace detail

/// accuracy = (1/n) Σᵢ [y_trueᵢ = y_predᵢ].
template <class A, class B>
double accuracy_score(const Eigen::MatrixBase<A>& y_true, const Eigen::MatrixBase<B>& y_pred) {
  detail::check_label_pair("accuracy_score", y_true, y_pred);
  Index hits = 0;
  for (Index i = 0; i < y_true.size(); ++i) hits += y_true(i) == y_pred(i);
  return static_cast<double>(hits) / static_cast<double>(y_true.size());
}

/// C(i, j) = #{ s : y_true_s = labels(i), y_pred_s = labels(j) } over the sorted union of labels.
template <class = void>
ConfusionMatrix confusion_matrix(const Eigen::Ref<const IndexVector>& y_true,
                                 const Eigen::Ref<const IndexVector>& y_pred) {
  detail::check_label_pair("confusion_matrix", y_true, y_pred);
  ConfusionMatrix cm;
  cm.labels = detail::union_labels(y_true, y_pred);
  const Index k = cm.labels.size();
  cm.counts.setZero(k, k);
  for (Index s = 0; s < y_true.size(); ++s)
    ++cm.counts(detail::code_of(cm.labels, y_true(s)), detail::code_of(cm.labels, y_pred(s)));
  return cm;
}

namespace detail {

// For class c: tp = C(c, c), precision_c = tp / Σᵢ C(i, c), recall_c = tp / Σⱼ C(c, j),
// F1_c = 2·tp / (2·tp + fp + fn); a 0/0 is 0 (scikit-learn's zero_division default).
template <class = void>
double averaged_label_score(std::string_view where, const Eigen::Ref<const IndexVector>& y_true,
                            const Eigen::Ref<const IndexVector>& y_pred, Average average, LabelScore what) {
  check_label_pair(where, y_true, y_pred);
  const ConfusionMatrix cm = confusion_matrix(y_true, y_pred);
  const Index k = cm.labels.size();
  auto ratio = [](double num, double den) { return den > 0 ? num / den : 0.0; };
  auto score_of = [&](double tp, double fp, double fn) {
    switch (what) {
      case LabelScore::precision:
        return ratio(tp, tp + fp);
      case LabelScore::recall:
        return ratio(tp, tp + fn);
      case LabelScore::f1:
        return ratio(2 * tp, 2 * tp + fp + fn);
    }
    return 0.0;
  };
  double total_tp = 0, total_fp = 0, total_fn = 0, sum = 0, weighted = 0, support_total = 0;
  for (Index c = 0; c < k; ++c) {
    const double tp = static_cast<double>(cm.counts(c, c));
    const double fp = static_cast<double>(cm.counts.col(c).sum()) - tp;
    const double support = static_cast<double>(cm.counts.row(c).sum());
    const double fn = support - tp;
    total_tp += tp;
    total_fp += fp;
    total_fn += fn;
    const double s = score_of(tp, fp, fn);
    sum += s;
    weighted += support * s;
    support_total += support;
  }
  switch (average) {
    case Average::macro:
      return sum / static_cast<double>(k);
    case Average::weighted:
      return ratio(weighted, support_total);
    case Average::micro:
      return score_of(total_tp, total_fp, total_fn);
  }
  throw InvalidArgument(std::string(where) + ": unknown average");
}

}  // namespace detail

/// precision_c = tp_c / (tp_c + fp_c), averaged as `average` says.
template <class = void>
double precision_score(const Eigen::Ref<const IndexVector>& y_true, const Eigen::Ref<const IndexVector>& y_pred,
                       Average average = Average::macro) {
  return detail::averaged_label_score("precision_score", y_true, y_pred, average, detail::LabelScore::precision);
}

/// recall_c = tp_c / (tp_c + fn_c), averaged as `average` says.
template <class = void>
double recall_score(const Eigen::Ref<const IndexVector>& y_true, const Eigen::Ref<const IndexVector>& y_pred,
                    Average average = Average::macro) {
  return detail::averaged_label_score("recall_score", y_true, y_pred, average, detail::LabelScore::recall);
}

/// F1_c = 2·precision_c·recall_c / (precision_c + recall_c) = 2·tp_c / (2·tp_c + fp_c + fn_c).
template <class = void>
double f1_score(const Eigen::Ref<const IndexVector>& y_true, const Eigen::Ref<const IndexVector>& y_pred,
                Average average = Average::macro) {
  return detail::averaged_label_score("f1_score", y_true, y_pred, average, detail::LabelScore::f1);
}

/// Binary ROC AUC = P(score of a random positive > score of a random negative) + ½·P(tie), computed from
/// average ranks (Mann–Whitney U): AUC = (Σ ranks of positives − n₊(n₊+1)/2) / (n₊·n₋). Equal to the
/// trapezoidal area under the ROC curve. The positive class is the larger of the two labels in y_true.
template <class D>
double roc_auc_score(const Eigen::Ref<const IndexVector>& y_true, const Eigen::MatrixBase<D>& y_score) {
  constexpr std::string_view where = "roc_auc_score";
  check_not_empty(where, "y_true", y_true);
  check_same_size(where, "y_true", y_true, "y_score", y_score);
  check_finite(where, "y_score", y_score);
  const IndexVector labels = detail::union_labels(y_true, y_true);
  require(labels.size() == 2, where, [&] {
    return "y_true must hold exactly two classes for a binary ROC AUC, it holds " + std::to_string(labels.size());
  });
  const Index n = y_true.size();
  std::vector<Index> order(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  std::sort(order.begin(), order.end(), [&](Index a, Index b) { return y_score(a) < y_score(b); });
  double positive_rank_sum = 0;
  Index n_pos = 0;
  for (Index start = 0; start < n;) {
    Index end = start;
    while (end < n && y_score(order[static_cast<std::size_t>(end)]) == y_score(order[static_cast<std::size_t>(start)]))
      ++end;
    const double average_rank = 0.5 * static_cast<double>(start + 1 + end);  // ranks start+1 .. end
    for (Index r = start; r < end; ++r)
      if (y_true(order[static_cast<std::size_t>(r)]) == labels(1)) {
        positive_rank_sum += average_rank;
        ++n_pos;
      }
    start = end;
  }
  const double p = static_cast<double>(n_pos), q = static_cast<double>(n - n_pos);
  return (positive_rank_sum - p * (p + 1) / 2) / (p * q);
}

/// Cross-entropy −(1/n) Σᵢ log p(i, yᵢ), with probabilities clipped to [ε, 1 − ε] (ε the machine epsilon of T)
/// and each row renormalised to sum 1, as scikit-learn. Column c of `proba` is the class classes(c); classes
/// defaults to the sorted distinct labels of y_true.
template <class D>
double log_loss(const Eigen::Ref<const IndexVector>& y_true, const Eigen::MatrixBase<D>& proba,
                const IndexVector& classes = IndexVector()) {
  using T = typename D::Scalar;
  constexpr std::string_view where = "log_loss";
  check_not_empty(where, "y_true", y_true);
  check_samples_match(where, proba, y_true);
  check_finite(where, "proba", proba);
  const IndexVector labels = classes.size() ? classes : detail::union_labels(y_true, y_true);
  require(std::is_sorted(labels.data(), labels.data() + labels.size()), where, "classes must be ascending");
  require(proba.cols() == labels.size(), where, [&] {
    return "proba has " + std::to_string(proba.cols()) + " columns but there are " + std::to_string(labels.size()) +
           " classes";
  });
  const double eps = static_cast<double>(std::numeric_limits<T>::epsilon());
  double total = 0;
  for (Index i = 0; i < y_true.size(); ++i) {
    const Index c = detail::code_of(labels, y_true(i));
    require(c < labels.size() && labels(c) == y_true(i), where,
            [&] { return "label " + std::to_string(y_true(i)) + " is not one of the classes"; });
    double row_sum = 0;
    for (Index j = 0; j < proba.cols(); ++j) row_sum += std::clamp(static_cast<double>(proba(i, j)), eps, 1.0 - eps);
    total -= std::log(std::clamp(static_cast<double>(proba(i, c)), eps, 1.0 - eps) / row_sum);
  }
  return total / static_cast<double>(y_true.size());
}

/// MSE = (1/n) Σᵢ (yᵢ − ŷᵢ)².
template <class A, class B>
typename A::Scalar mean_squared_error(const Eigen::MatrixBase<A>& y_true, const Eigen::MatrixBase<B>& y_pred) {
  detail::check_value_pair("mean_squared_error", y_true, y_pred);
  return (y_true.derived().array() - y_pred.derived().array()).square().mean();
}

/// MAE = (1/n) Σᵢ |yᵢ − ŷᵢ|.
template <class A, class B>
typename A::Scalar mean_absolute_error(const Eigen::MatrixBase<A>& y_true, const Eigen::MatrixBase<B>& y_pred) {
  detail::check_value_pair("mean_absolute_error", y_true, y_pred);
  return (y_true.derived().array() - y_pred.derived().array()).abs().mean();
}

/// R² = 1 − Σ(yᵢ − ŷᵢ)² / Σ(yᵢ − ȳ)². A constant y_true gives 1 for a perfect fit and 0 otherwise (scikit-learn's
/// force_finite).
template <class A, class B>
typename A::Scalar r2_score(const Eigen::MatrixBase<A>& y_true, const Eigen::MatrixBase<B>& y_pred) {
  using T = typename A::Scalar;
  detail::check_value_pair("r2_score", y_true, y_pred);
  const T ss_res = (y_true.derived().array() - y_pred.derived().array()).square().sum();
  const T ss_tot = (y_true.derived().array() - y_true.mean()).square().sum();
  if (ss_tot == T(0)) return ss_res == T(0) ? T(1) : T(0);
  return T(1) - ss_res / ss_tot;
}

}  // namespace aimastery
