// knn, decision_tree and random_forest in the `aimastery` tool.
#include <aimastery/ml/classical/decision_tree.hpp>
#include <aimastery/ml/classical/knn.hpp>
#include <aimastery/ml/classical/random_forest.hpp>

#include "models.hpp"

namespace {

using aimastery::DistanceMetric;
using aimastery::NeighborWeights;
using aimastery::SplitCriterion;
using aimastery::SplitSearch;

/// The parameters every tree-growing model shares.
template <class Params>
void read_tree_params(cli::ParamReader& p, Params& params) {
  p.read("max_depth", params.max_depth);
  p.read("min_samples_split", params.min_samples_split);
  p.read("min_samples_leaf", params.min_samples_leaf);
  if (auto raw = p.take_raw("max_features")) params.max_features = aimastery::MaxFeatures(std::string_view(*raw));
  p.read_choice("split_search", params.split_search,
                {{"histogram", SplitSearch::histogram}, {"exact", SplitSearch::exact}});
  p.read("max_bins", params.max_bins);
}

void read_criterion(cli::ParamReader& p, SplitCriterion& criterion) {
  p.read_choice("criterion", criterion, {{"gini", SplitCriterion::gini}, {"entropy", SplitCriterion::entropy}});
}

const cli::Registration knn("knn", cli::Task::classification, "k nearest neighbours (brute force through GEMM)",
                            [](cli::ParamReader& p, std::uint64_t) {
                              aimastery::KNNParams params;
                              p.read("k", params.k);
                              p.read_choice("metric", params.metric,
                                            {{"euclidean", DistanceMetric::euclidean},
                                             {"manhattan", DistanceMetric::manhattan},
                                             {"cosine", DistanceMetric::cosine}});
                              p.read_choice(
                                  "weights", params.weights,
                                  {{"uniform", NeighborWeights::uniform}, {"distance", NeighborWeights::distance}});
                              p.finish();
                              return cli::factory<cli::ClassifierAdapter<aimastery::KNNScratch<double>>>(params);
                            });

const cli::Registration decision_tree(
    "decision_tree", cli::Task::classification, "CART classification tree",
    [](cli::ParamReader& p, std::uint64_t seed) {
      aimastery::DecisionTreeParams params;
      params.seed = seed;
      read_criterion(p, params.criterion);
      read_tree_params(p, params);
      p.finish();
      return cli::factory<cli::ClassifierAdapter<aimastery::DecisionTreeScratch<double>>>(params);
    });

const cli::Registration random_forest(
    "random_forest", cli::Task::classification, "random forest of CART trees (bootstrap, features drawn per split)",
    [](cli::ParamReader& p, std::uint64_t seed) {
      aimastery::RandomForestParams params;
      params.seed = seed;
      p.read("n_estimators", params.n_estimators);
      read_criterion(p, params.criterion);
      read_tree_params(p, params);
      p.read("bootstrap", params.bootstrap);
      p.read("oob_score", params.oob_score);
      p.finish();
      return cli::factory<cli::ClassifierAdapter<aimastery::RandomForestScratch<double>>>(params);
    });

}  // namespace
