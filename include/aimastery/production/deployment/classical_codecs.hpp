#pragma once
/// \file
/// ModelCodec specialisations for the classical estimators (ml/classical): what each saves and how it is
/// rebuilt. Hyper-parameters and small scalars go to JSON; fitted arrays to tensors in the model's own
/// precision (so a loaded model predicts bit for bit as the saved one); labels and tree structure to I64
/// tensors. An unfitted model saves its hyper-parameters only.
///
/// Every load rebuilds the model through its constructor (which checks the hyper-parameters), then checks
/// every array against the others (shapes, label order, tree structure) before anything is used: a tree
/// whose child indices do not point forward, or a leaf whose values lie outside the value array, is a
/// FormatError, never an endless walk or an out-of-range read.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/io/json.hpp"
#include "aimastery/ml/classical/decision_tree.hpp"
#include "aimastery/ml/classical/gaussian_nb.hpp"
#include "aimastery/ml/classical/knn.hpp"
#include "aimastery/ml/classical/label_encoding.hpp"
#include "aimastery/ml/classical/linear_regression.hpp"
#include "aimastery/ml/classical/logistic_regression.hpp"
#include "aimastery/ml/classical/preprocessing.hpp"
#include "aimastery/ml/classical/random_forest.hpp"
#include "aimastery/production/deployment/model_codec.hpp"

namespace aimastery {
namespace detail {

inline constexpr std::int64_t max_index = std::numeric_limits<std::int32_t>::max();
inline constexpr std::int64_t any_label_low = std::numeric_limits<std::int64_t>::min();
inline constexpr std::int64_t any_label_high = std::numeric_limits<std::int64_t>::max();

/// The classes of a classifier: an I64 tensor, strictly ascending.
/// (The helpers of this file are templates only so that they are compiled where a codec is used.)
template <class Writer>
void save_classes(Writer& out, const IndexVector& classes) {
  out.integers("classes", classes);
}
template <class Reader>
LabelEncoding load_classes(const Reader& in) {
  const std::vector<std::int64_t> c = in.integers("classes", -1, any_label_low, any_label_high);
  if (c.empty()) in.fail("tensor 'classes' is empty");
  for (std::size_t i = 1; i < c.size(); ++i)
    if (c[i] <= c[i - 1]) in.fail("tensor 'classes' is not strictly ascending");
  IndexVector classes(static_cast<Index>(c.size()));
  for (std::size_t i = 0; i < c.size(); ++i) classes(static_cast<Index>(i)) = static_cast<Index>(c[i]);
  LabelEncoding encoding;
  static_cast<void>(encoding.fit(classes));  // the classes in order: codes 0..K−1 as at fit
  return encoding;
}

template <class Json = JsonValue>
Json max_features_json(const MaxFeatures& m) {
  static constexpr const char* kinds[] = {"all", "sqrt", "log2", "count", "fraction"};
  return Json::object({{"kind", kinds[static_cast<int>(m.kind())]}, {"count", m.count()}, {"fraction", m.fraction()}});
}
template <class Reader>
MaxFeatures max_features_from(const Reader& in, const JsonValue& h) {
  const JsonValue& m = in.field(h, "max_features");
  if (!m.is_object()) in.fail("field 'max_features' is not an object");
  switch (in.choice(m, "kind", {"all", "sqrt", "log2", "count", "fraction"})) {
    case 0:
      return MaxFeatures::all();
    case 1:
      return MaxFeatures::sqrt();
    case 2:
      return MaxFeatures::log2();
    case 3:
      return MaxFeatures(static_cast<Index>(in.integer(m, "count", 1, max_index)));
    default:
      return MaxFeatures(in.number(m, "fraction"));
  }
}

/// The growth options every tree and forest has.
template <class Params>
void save_tree_params(JsonValue& h, const Params& p) {
  h["max_depth"] = p.max_depth ? JsonValue(*p.max_depth) : JsonValue();
  h["min_samples_split"] = p.min_samples_split;
  h["min_samples_leaf"] = p.min_samples_leaf;
  h["max_features"] = max_features_json(p.max_features);
  h["seed"] = p.seed;
  h["split_search"] = p.split_search == SplitSearch::histogram ? "histogram" : "exact";
  h["max_bins"] = p.max_bins;
}
template <class Params>
void load_tree_params(const ModelReader& in, const JsonValue& h, Params& p) {
  const JsonValue& depth = in.field(h, "max_depth");
  p.max_depth = depth.is_null() ? std::nullopt : std::optional<Index>(in.integer(h, "max_depth", 1, max_index));
  p.min_samples_split = in.integer(h, "min_samples_split", 2, any_label_high);
  p.min_samples_leaf = in.integer(h, "min_samples_leaf", 1, any_label_high);
  p.max_features = max_features_from(in, h);
  p.seed = in.unsigned_integer(h, "seed");
  p.split_search =
      in.choice(h, "split_search", {"histogram", "exact"}) == 0 ? SplitSearch::histogram : SplitSearch::exact;
  p.max_bins = static_cast<int>(in.integer(h, "max_bins", 2, 256));
}
template <class Params>
void save_forest_params(JsonValue& h, const Params& p) {
  save_tree_params(h, p);
  h["n_estimators"] = p.n_estimators;
  h["bootstrap"] = p.bootstrap;
  h["oob_score"] = p.oob_score;
}
template <class Params>
void load_forest_params(const ModelReader& in, const JsonValue& h, Params& p) {
  load_tree_params(in, h, p);
  p.n_estimators = in.integer(h, "n_estimators", 1, max_index);
  p.bootstrap = in.boolean(h, "bootstrap");
  p.oob_score = in.boolean(h, "oob_score");
}

/// Trees, all in one set of tensors: tree t's nodes are entries node_offsets[t] .. node_offsets[t+1] of
/// feature / left / right / threshold, its leaf values entries value_offsets[t] .. of value.
template <Scalar T>
void save_trees(ModelWriter& out, const std::vector<FittedTree<T>>& trees, Index n_features) {
  std::vector<std::int64_t> node_offsets{0}, value_offsets{0}, feature, left, right, depth, leaves;
  std::vector<T> threshold, value;
  Matrix<double> importances(static_cast<Index>(trees.size()), n_features);
  for (std::size_t t = 0; t < trees.size(); ++t) {
    const FittedTree<T>& tree = trees[t];
    for (const auto& node : tree.nodes) {
      feature.push_back(node.feature);
      left.push_back(node.left);
      right.push_back(node.right);
      threshold.push_back(node.threshold);
    }
    value.insert(value.end(), tree.values.begin(), tree.values.end());
    node_offsets.push_back(static_cast<std::int64_t>(feature.size()));
    value_offsets.push_back(static_cast<std::int64_t>(value.size()));
    depth.push_back(tree.depth);
    leaves.push_back(tree.n_leaves);
    for (Index j = 0; j < n_features; ++j)
      importances(static_cast<Index>(t), j) = tree.importances[static_cast<std::size_t>(j)];
  }
  out.integers("tree.node_offsets", node_offsets);
  out.integers("tree.value_offsets", value_offsets);
  out.integers("tree.feature", feature);
  out.integers("tree.left", left);
  out.integers("tree.right", right);
  out.integers("tree.depth", depth);
  out.integers("tree.n_leaves", leaves);
  out.vector("tree.threshold", threshold);
  out.vector("tree.value", value);
  out.matrix("tree.importances", importances);
}

/// Reads `n_trees` trees over `n_features` features whose leaves hold `value_size` values each, checking
/// that each is a tree: every node but the root has exactly one parent, children come after their parent
/// (so every walk from the root ends), split features exist, and each leaf's values lie in the tree's.
template <Scalar T>
std::vector<FittedTree<T>> load_trees(const ModelReader& in, Index n_trees, Index n_features, Index value_size) {
  const auto node_offsets = in.integers("tree.node_offsets", n_trees + 1, 0, any_label_high);
  const auto value_offsets = in.integers("tree.value_offsets", n_trees + 1, 0, any_label_high);
  const Index n_nodes = in.dim("tree.feature", 0);
  const auto feature = in.integers("tree.feature", n_nodes, -1, n_features - 1);
  const auto left = in.integers("tree.left", n_nodes, 0, max_index);
  const auto right = in.integers("tree.right", n_nodes, 0, max_index);
  const auto depth = in.integers("tree.depth", n_trees, 0, max_index);
  const auto leaves = in.integers("tree.n_leaves", n_trees, 1, max_index);
  const std::vector<T> threshold = in.floats<T>("tree.threshold", {n_nodes});
  const std::vector<T> value = in.floats<T>("tree.value", {-1});
  const Matrix<double> importances = in.matrix<double>("tree.importances", n_trees, n_features);
  if (node_offsets[0] != 0 || value_offsets[0] != 0) in.fail("tree offsets do not start at 0");
  if (node_offsets.back() != n_nodes || value_offsets.back() != static_cast<std::int64_t>(value.size()))
    in.fail("tree offsets do not end at the number of nodes and values");
  std::vector<FittedTree<T>> trees(static_cast<std::size_t>(n_trees));
  for (Index t = 0; t < n_trees; ++t) {
    const auto ti = static_cast<std::size_t>(t);
    const std::int64_t n0 = node_offsets[ti], n1 = node_offsets[ti + 1];
    const std::int64_t v0 = value_offsets[ti], v1 = value_offsets[ti + 1];
    if (n1 <= n0 || v1 < v0) in.fail("tree " + std::to_string(t) + " has no nodes or decreasing offsets");
    if (n1 - n0 > max_index || v1 - v0 > max_index) in.fail("tree " + std::to_string(t) + " is too large");
    FittedTree<T>& tree = trees[ti];
    const std::int64_t count = n1 - n0, values = v1 - v0;
    std::vector<char> has_parent(static_cast<std::size_t>(count), 0);
    tree.nodes.resize(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < count; ++i) {
      const auto k = static_cast<std::size_t>(n0 + i);
      auto& node = tree.nodes[static_cast<std::size_t>(i)];
      node.feature = static_cast<std::int32_t>(feature[k]);
      node.threshold = threshold[k];
      node.left = static_cast<std::int32_t>(left[k]);
      node.right = static_cast<std::int32_t>(right[k]);
      const auto where = [&] { return "tree " + std::to_string(t) + " node " + std::to_string(i); };
      if (node.feature < 0) {  // a leaf: its values are value[left .. left + value_size)
        if (left[k] + value_size > values)
          in.fail(where() + ": leaf values beyond the tree's " + std::to_string(values));
        continue;
      }
      for (const std::int64_t child : {left[k], right[k]}) {
        if (child <= i || child >= count)
          in.fail(where() + ": child " + std::to_string(child) + " does not come after it within the tree");
        if (has_parent[static_cast<std::size_t>(child)]++)
          in.fail(where() + ": node " + std::to_string(child) + " has two parents");
      }
    }
    for (std::int64_t i = 1; i < count; ++i)
      if (!has_parent[static_cast<std::size_t>(i)])
        in.fail("tree " + std::to_string(t) + " node " + std::to_string(i) + " has no parent");
    tree.values.assign(value.begin() + v0, value.begin() + v1);
    tree.depth = depth[ti];
    tree.n_leaves = leaves[ti];
    tree.importances.resize(static_cast<std::size_t>(n_features));
    for (Index j = 0; j < n_features; ++j) tree.importances[static_cast<std::size_t>(j)] = importances(t, j);
  }
  return trees;
}

/// n_features from the state: a positive count.
template <class Reader>
Index load_n_features(const Reader& in) {
  return static_cast<Index>(in.integer(in.state(), "n_features", 1, any_label_high));
}

}  // namespace detail

// ------------------------------------------------------------------------------------------------------
template <Scalar T>
struct ModelCodec<LinearRegressionScratch<T>> {
  using Model = LinearRegressionScratch<T>;
  static constexpr std::string_view kind = "LinearRegressionScratch";

  static void save(const Model& m, ModelWriter& out) {
    const auto& p = m.params_;
    out.hyper_parameters = JsonValue::object({{"fit_intercept", p.fit_intercept},
                                              {"penalty", p.penalty == Penalty::l2 ? "l2" : "l1"},
                                              {"alpha", json_double(p.alpha)},
                                              {"solver", static_cast<int>(p.solver)},
                                              {"learning_rate", json_double(p.learning_rate)},
                                              {"max_iter", p.max_iter},
                                              {"tol", json_double(p.tol)}});
    out.state = JsonValue::object({{"fitted", m.fitted_}});
    if (!m.fitted_) return;
    out.state["n_features"] = m.n_features_;
    out.state["iterations"] = m.iterations_;
    out.state["converged"] = m.converged_;
    out.vector("coefficients", m.coefficients_);
    out.vector("intercept", Vector<T>::Constant(1, m.intercept_));
  }

  static Model load(const ModelReader& in) {
    const auto& h = in.hyper_parameters();
    LinearRegressionParams p;
    p.fit_intercept = in.boolean(h, "fit_intercept");
    p.penalty = in.choice(h, "penalty", {"l2", "l1"}) == 0 ? Penalty::l2 : Penalty::l1;
    p.alpha = in.number(h, "alpha");
    p.solver = static_cast<LinearSolver>(in.integer(h, "solver", 0, 4));
    p.learning_rate = in.number(h, "learning_rate");
    p.max_iter = static_cast<int>(in.integer(h, "max_iter", 1, std::numeric_limits<int>::max()));
    p.tol = in.number(h, "tol");
    Model m(p);
    if (!in.boolean(in.state(), "fitted")) return m;
    m.n_features_ = detail::load_n_features(in);
    m.iterations_ = in.integer(in.state(), "iterations", 0, detail::any_label_high);
    m.converged_ = in.boolean(in.state(), "converged");
    m.coefficients_ = in.vector<T>("coefficients", m.n_features_);
    m.intercept_ = in.vector<T>("intercept", 1)(0);
    m.fitted_ = true;
    return m;
  }
};

// ------------------------------------------------------------------------------------------------------
template <Scalar T>
struct ModelCodec<LogisticRegressionScratch<T>> {
  using Model = LogisticRegressionScratch<T>;
  static constexpr std::string_view kind = "LogisticRegressionScratch";

  static void save(const Model& m, ModelWriter& out) {
    const auto& p = m.params_;
    out.hyper_parameters =
        JsonValue::object({{"C", json_double(p.C)},
                           {"fit_intercept", p.fit_intercept},
                           {"solver", p.solver == LogisticSolver::lbfgs ? "lbfgs" : "gradient_descent"},
                           {"max_iter", p.max_iter},
                           {"tol", json_double(p.tol)},
                           {"learning_rate", json_double(p.learning_rate)},
                           {"memory", p.memory}});
    out.state = JsonValue::object({{"fitted", m.fitted_}});
    if (!m.fitted_) return;
    out.state["n_features"] = m.n_features_;
    out.state["iterations"] = m.iterations_;
    out.state["converged"] = m.converged_;
    out.state["loss"] = json_double(static_cast<double>(m.loss_));
    detail::save_classes(out, m.encoding_.classes());
    out.matrix("coefficients", m.coefficients_);
    out.vector("intercept", m.intercept_);
  }

  static Model load(const ModelReader& in) {
    const auto& h = in.hyper_parameters();
    LogisticRegressionParams p;
    p.C = in.number(h, "C");
    p.fit_intercept = in.boolean(h, "fit_intercept");
    p.solver = in.choice(h, "solver", {"lbfgs", "gradient_descent"}) == 0 ? LogisticSolver::lbfgs
                                                                          : LogisticSolver::gradient_descent;
    p.max_iter = static_cast<int>(in.integer(h, "max_iter", 1, std::numeric_limits<int>::max()));
    p.tol = in.number(h, "tol");
    p.learning_rate = in.number(h, "learning_rate");
    p.memory = static_cast<int>(in.integer(h, "memory", 1, std::numeric_limits<int>::max()));
    Model m(p);
    if (!in.boolean(in.state(), "fitted")) return m;
    m.n_features_ = detail::load_n_features(in);
    m.iterations_ = in.integer(in.state(), "iterations", 0, detail::any_label_high);
    m.converged_ = in.boolean(in.state(), "converged");
    m.loss_ = static_cast<T>(in.number(in.state(), "loss"));
    m.encoding_ = detail::load_classes(in);
    const Index k = m.encoding_.n_classes();
    const Index outputs = k <= 2 ? 1 : k;
    m.coefficients_ = in.matrix<T>("coefficients", outputs, m.n_features_);
    m.intercept_ = in.vector<T>("intercept", outputs);
    m.fitted_ = true;
    return m;
  }
};

// ------------------------------------------------------------------------------------------------------
template <Scalar T>
struct ModelCodec<GaussianNBScratch<T>> {
  using Model = GaussianNBScratch<T>;
  static constexpr std::string_view kind = "GaussianNBScratch";

  static void save(const Model& m, ModelWriter& out) {
    JsonValue priors = JsonValue::array();
    for (const double prior : m.params_.priors) priors.push_back(prior);
    out.hyper_parameters =
        JsonValue::object({{"priors", std::move(priors)}, {"var_smoothing", json_double(m.params_.var_smoothing)}});
    out.state = JsonValue::object({{"fitted", m.fitted_}});
    if (!m.fitted_) return;
    out.state["n_features"] = m.n_features_;
    out.state["uninformative"] = m.uninformative_;
    out.state["epsilon"] = json_double(static_cast<double>(m.epsilon_));
    detail::save_classes(out, m.encoding_.classes());
    out.matrix("theta", m.theta_);
    out.matrix("var", m.var_);
    out.vector("class_prior", m.class_prior_);
    out.vector("class_count", m.class_count_);
  }

  static Model load(const ModelReader& in) {
    const auto& h = in.hyper_parameters();
    GaussianNBParams p;
    const JsonValue& priors = in.field(h, "priors");
    if (!priors.is_array()) in.fail("field 'priors' is not an array");
    for (const JsonValue& v : priors.elements()) {
      if (!v.is_number()) in.fail("field 'priors' holds a value that is not a number");
      p.priors.push_back(v.get<double>());
    }
    p.var_smoothing = in.number(h, "var_smoothing");
    Model m(p);
    if (!in.boolean(in.state(), "fitted")) return m;
    m.n_features_ = detail::load_n_features(in);
    m.uninformative_ = in.boolean(in.state(), "uninformative");
    m.epsilon_ = static_cast<T>(in.number(in.state(), "epsilon"));
    m.encoding_ = detail::load_classes(in);
    const Index k = m.encoding_.n_classes();
    m.theta_ = in.matrix<T>("theta", k, m.n_features_);
    m.var_ = in.matrix<T>("var", k, m.n_features_);
    if (!m.uninformative_ && !(m.var_.array() > T(0)).all()) in.fail("tensor 'var' holds a variance <= 0");
    m.class_prior_ = in.vector<T>("class_prior", k);
    m.class_count_ = in.vector<T>("class_count", k);
    if (!(m.class_prior_.array() >= T(0)).all()) in.fail("tensor 'class_prior' holds a negative prior");
    m.fitted_ = true;
    return m;
  }
};

// ------------------------------------------------------------------------------------------------------
template <Scalar T>
struct ModelCodec<StandardScaler<T>> {
  using Model = StandardScaler<T>;
  static constexpr std::string_view kind = "StandardScaler";

  static void save(const Model& m, ModelWriter& out) {
    out.hyper_parameters = JsonValue::object({{"with_mean", m.params_.with_mean}, {"with_std", m.params_.with_std}});
    out.state = JsonValue::object({{"fitted", m.fitted_}});
    if (!m.fitted_) return;
    out.state["n_features"] = m.n_features_;
    out.vector("mean", m.mean_);
    out.vector("var", m.var_);
    out.vector("scale", m.scale_);
  }

  static Model load(const ModelReader& in) {
    const auto& h = in.hyper_parameters();
    Model m({.with_mean = in.boolean(h, "with_mean"), .with_std = in.boolean(h, "with_std")});
    if (!in.boolean(in.state(), "fitted")) return m;
    m.n_features_ = detail::load_n_features(in);
    m.mean_ = in.vector<T>("mean", m.n_features_).transpose();
    m.var_ = in.vector<T>("var", m.n_features_).transpose();
    m.scale_ = in.vector<T>("scale", m.n_features_).transpose();
    if (!(m.scale_.array() > T(0)).all()) in.fail("tensor 'scale' holds a value <= 0");
    m.fitted_ = true;
    return m;
  }
};

// ------------------------------------------------------------------------------------------------------
/// Both neighbour models: the stored training rows (normalised for cosine, as the search keeps them) and
/// their labels (codes and classes) or targets.
template <Scalar T>
struct ModelCodec<detail::NeighborModel<T>> {
  using Model = detail::NeighborModel<T>;
  static void save_common(const Model& m, ModelWriter& out) {
    const auto& p = m.params();
    static constexpr const char* metrics[] = {"euclidean", "manhattan", "cosine"};
    out.hyper_parameters =
        JsonValue::object({{"k", p.k},
                           {"metric", metrics[static_cast<int>(p.metric)]},
                           {"weights", p.weights == NeighborWeights::uniform ? "uniform" : "distance"}});
    out.state = JsonValue::object({{"fitted", m.fitted_}});
    if (!m.fitted_) return;
    const Model& base = m;
    out.state["n_features"] = base.n_features_;
    out.matrix("rows", base.search_.X_);
  }
  static KNNParams load_params(const ModelReader& in) {
    const auto& h = in.hyper_parameters();
    KNNParams p;
    p.k = in.integer(h, "k", 1, detail::any_label_high);
    p.metric = static_cast<DistanceMetric>(in.choice(h, "metric", {"euclidean", "manhattan", "cosine"}));
    p.weights =
        in.choice(h, "weights", {"uniform", "distance"}) == 0 ? NeighborWeights::uniform : NeighborWeights::distance;
    return p;
  }
  /// The stored rows; returns their count.
  static Index load_common(const ModelReader& in, Model& base) {
    const Index d = detail::load_n_features(in);
    detail::NeighborSearch<T> search;
    search.metric_ = base.params().metric;
    search.X_ = in.matrix<T>("rows", -1, d);
    if (search.X_.rows() < base.params().k)
      in.fail("tensor 'rows' holds " + std::to_string(search.X_.rows()) +
              " rows, fewer than k = " + std::to_string(base.params().k));
    // max |x| of the rows: for euclidean and manhattan they are the training rows as given (cosine does
    // not use it), so it is recomputed rather than trusted from the file.
    search.largest_ = search.X_.cwiseAbs().maxCoeff();
    search.build_products();
    const Index n = search.X_.rows();
    base.store(std::move(search), d);
    return n;
  }
};

template <Scalar T>
struct ModelCodec<KNNScratch<T>> {
  using Model = KNNScratch<T>;
  static constexpr std::string_view kind = "KNNScratch";

  static void save(const Model& m, ModelWriter& out) {
    ModelCodec<detail::NeighborModel<T>>::save_common(m, out);
    if (!m.fitted()) return;
    detail::save_classes(out, m.encoding_.classes());
    out.integers("codes", m.codes_);
  }
  static Model load(const ModelReader& in) {
    Model m(ModelCodec<detail::NeighborModel<T>>::load_params(in));
    if (!in.boolean(in.state(), "fitted")) return m;
    LabelEncoding encoding = detail::load_classes(in);
    const Index n = in.dim("rows", 0);
    const auto codes = in.integers("codes", n, 0, encoding.n_classes() - 1);
    m.codes_ = Eigen::Map<const Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>>(codes.data(), n).template cast<Index>();
    m.encoding_ = std::move(encoding);
    ModelCodec<detail::NeighborModel<T>>::load_common(in, m);
    return m;
  }
};

template <Scalar T>
struct ModelCodec<KNNRegressorScratch<T>> {
  using Model = KNNRegressorScratch<T>;
  static constexpr std::string_view kind = "KNNRegressorScratch";

  static void save(const Model& m, ModelWriter& out) {
    ModelCodec<detail::NeighborModel<T>>::save_common(m, out);
    if (m.fitted()) out.vector("targets", m.targets_);
  }
  static Model load(const ModelReader& in) {
    Model m(ModelCodec<detail::NeighborModel<T>>::load_params(in));
    if (!in.boolean(in.state(), "fitted")) return m;
    m.targets_ = in.vector<T>("targets", in.dim("rows", 0));
    ModelCodec<detail::NeighborModel<T>>::load_common(in, m);
    return m;
  }
};

// ------------------------------------------------------------------------------------------------------
namespace detail {
/// The four tree models share one layout: a tree is saved as a forest of one, and a classifier adds its
/// split criterion, its classes and (a forest) its out-of-bag class probabilities.
template <class Model, Scalar T, bool classifier, bool forest>
struct TreeModel {};
}  // namespace detail

template <class Model, Scalar T, bool classifier, bool forest>
struct ModelCodec<detail::TreeModel<Model, T, classifier, forest>> {
  static void save(const Model& m, ModelWriter& out) {
    if constexpr (forest) {
      detail::save_forest_params(out.hyper_parameters, m.params_);
    } else {
      detail::save_tree_params(out.hyper_parameters, m.params_);
    }
    if constexpr (classifier)
      out.hyper_parameters["criterion"] = m.params_.criterion == SplitCriterion::gini ? "gini" : "entropy";
    out.state["fitted"] = m.fitted_;
    if (!m.fitted_) return;
    out.state["n_features"] = m.n_features_;
    if constexpr (classifier) detail::save_classes(out, m.encoding_.classes());
    if constexpr (forest) {
      out.state["n_trees"] = m.trees_.size();
      out.state["oob_score"] = json_double(static_cast<double>(m.oob_score_));
      detail::save_trees<T>(out, m.trees_, m.n_features_);
    } else {
      detail::save_trees<T>(out, {m.tree_}, m.n_features_);
    }
    out.vector("feature_importances", m.importances_);
    if constexpr (classifier && forest) out.matrix("oob_decision_function", m.oob_proba_);
  }

  static Model load(const ModelReader& in) {
    std::remove_cvref_t<decltype(std::declval<const Model&>().params_)> p;
    if constexpr (forest) {
      detail::load_forest_params(in, in.hyper_parameters(), p);
    } else {
      detail::load_tree_params(in, in.hyper_parameters(), p);
    }
    if constexpr (classifier)
      p.criterion = in.choice(in.hyper_parameters(), "criterion", {"gini", "entropy"}) == 0 ? SplitCriterion::gini
                                                                                            : SplitCriterion::entropy;
    Model m(p);
    if (!in.boolean(in.state(), "fitted")) return m;
    m.n_features_ = detail::load_n_features(in);
    Index n_outputs = 1;  // values per leaf: the class count of a classifier, one for a regressor
    if constexpr (classifier) {
      m.encoding_ = detail::load_classes(in);
      n_outputs = m.encoding_.n_classes();
    }
    if constexpr (forest) {
      const Index n_trees = in.integer(in.state(), "n_trees", 1, detail::max_index);
      m.trees_ = detail::load_trees<T>(in, n_trees, m.n_features_, n_outputs);
      m.oob_score_ = static_cast<decltype(m.oob_score_)>(in.number(in.state(), "oob_score"));
    } else {
      m.tree_ = std::move(detail::load_trees<T>(in, 1, m.n_features_, n_outputs)[0]);
    }
    m.importances_ = in.vector<T>("feature_importances", m.n_features_);
    if constexpr (classifier && forest) m.oob_proba_ = in.matrix<T>("oob_decision_function", -1, -1);
    m.fitted_ = true;
    return m;
  }
};

template <Scalar T>
struct ModelCodec<DecisionTreeScratch<T>>
    : ModelCodec<detail::TreeModel<DecisionTreeScratch<T>, T, /*classifier=*/true, /*forest=*/false>> {
  static constexpr std::string_view kind = "DecisionTreeScratch";
};

template <Scalar T>
struct ModelCodec<DecisionTreeRegressorScratch<T>>
    : ModelCodec<detail::TreeModel<DecisionTreeRegressorScratch<T>, T, /*classifier=*/false, /*forest=*/false>> {
  static constexpr std::string_view kind = "DecisionTreeRegressorScratch";
};

template <Scalar T>
struct ModelCodec<RandomForestScratch<T>>
    : ModelCodec<detail::TreeModel<RandomForestScratch<T>, T, /*classifier=*/true, /*forest=*/true>> {
  static constexpr std::string_view kind = "RandomForestScratch";
};

template <Scalar T>
struct ModelCodec<RandomForestRegressorScratch<T>>
    : ModelCodec<detail::TreeModel<RandomForestRegressorScratch<T>, T, /*classifier=*/false, /*forest=*/true>> {
  static constexpr std::string_view kind = "RandomForestRegressorScratch";
};

}  // namespace aimastery
