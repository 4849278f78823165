// The C++ side of the tree, forest and k-nearest-neighbour rows of benchmarks/peers.
//
//   peer_ours_classical_trees forest_fit <train.csv> <test.csv> <n_estimators> <repeat>
//     RandomForestScratch<double>({.n_estimators}) fit on <train.csv> (label column "target")
//   peer_ours_classical_trees tree_fit <train.csv> <test.csv> <repeat>
//     DecisionTreeScratch<double>() fit
//   peer_ours_classical_trees knn_predict <train.csv> <test.csv> <k> <repeat>
//     KNNScratch<double>({.k}) fitted on <train.csv>, predict on the rows of <test.csv> (the timed part)
// Each prints {"seconds": best fit (or predict) time, "cpu_seconds": best CPU time (all threads), "accuracy": on
// <test.csv>, "data_rss_mb": resident memory once the data is loaded, "peak_rss_mb": the peak resident memory from then
// to the end of the timed work, "threads": OpenMP threads}.
#include <cstdio>
#include <fstream>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "aimastery/io/csv.hpp"
#include "aimastery/ml/classical/decision_tree.hpp"
#include "aimastery/ml/classical/knn.hpp"
#include "aimastery/ml/classical/random_forest.hpp"
#include "classical_timing.hpp"
#include "peer_common.hpp"

namespace {

using aimastery::peers::Args;

/// A field of /proc/self/status in MB ("VmRSS:", the resident set now; "VmHWM:", its peak).
double status_mb(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string key;
  double kb = 0;
  while (status >> key) {
    if (key == field) {
      status >> kb;
      return kb / 1024.0;
    }
  }
  return 0;
}

/// Resets the peak resident set to the current one (Linux: "5" to /proc/self/clear_refs), so the peak seen
/// after the work is the work's own.
double reset_peak_rss_mb() {
  std::ofstream("/proc/self/clear_refs") << "5";
  return status_mb("VmRSS:");
}

double peak_rss_mb() { return status_mb("VmHWM:"); }

int threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

template <class Model>
nlohmann::json time_fit(const Args& args, Model& model, int repeat) {
  const auto train = aimastery::read_csv<double>(args.at(0));
  const auto test = aimastery::read_csv<double>(args.at(1));
  const aimastery::IndexVector y_train = train.labels(), y_test = test.labels();
  const double data_mb = reset_peak_rss_mb();
  const auto timing = aimastery::peers::best_timing(repeat, [&] { model.fit(train.X, y_train); });
  return {{"seconds", timing.seconds},
          {"cpu_seconds", timing.cpu_seconds},
          {"accuracy", model.score(test.X, y_test)},
          {"peak_rss_mb", peak_rss_mb()},
          {"data_rss_mb", data_mb},
          {"threads", threads()}};
}

nlohmann::json forest_fit(const Args& args) {
  aimastery::RandomForestScratch<double> forest({.n_estimators = std::stol(args.at(2)), .seed = 0});
  return time_fit(args, forest, std::stoi(args.at(3)));
}

nlohmann::json tree_fit(const Args& args) {
  aimastery::DecisionTreeScratch<double> tree({.seed = 0});
  return time_fit(args, tree, std::stoi(args.at(2)));
}

nlohmann::json knn_predict(const Args& args) {
  const auto train = aimastery::read_csv<double>(args.at(0));
  const auto test = aimastery::read_csv<double>(args.at(1));
  const aimastery::IndexVector y_test = test.labels();
  const double data_mb = reset_peak_rss_mb();
  aimastery::KNNScratch<double> knn({.k = std::stol(args.at(2))});
  knn.fit(train.X, train.labels());
  aimastery::IndexVector predicted;
  const auto timing = aimastery::peers::best_timing(std::stoi(args.at(3)), [&] { predicted = knn.predict(test.X); });
  return {{"seconds", timing.seconds},
          {"cpu_seconds", timing.cpu_seconds},
          {"accuracy", (predicted.array() == y_test.array()).cast<double>().mean()},
          {"peak_rss_mb", peak_rss_mb()},
          {"data_rss_mb", data_mb},
          {"threads", threads()}};
}

}  // namespace

int main(int argc, char** argv) {
  return aimastery::peers::run_task(argc, argv,
                                    {{"forest_fit", forest_fit}, {"tree_fit", tree_fit}, {"knn_predict", knn_predict}});
}
