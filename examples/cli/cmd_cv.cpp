// aimastery cv --model M --data A.csv --target COL [--folds 5] [--scale] [--param NAME=VALUE]... [--seed N]
// k-fold cross-validation (stratified for classifiers); prints the mean, the standard deviation and each
// fold's score as one JSON object.
#include <aimastery/ml/classical/model_selection.hpp>

#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "evaluation.hpp"

namespace {

struct CvOptions : cli::ModelOptions {
  std::string data;
  aimastery::Index folds = 5;
};

int cross_validate(const CvOptions& o) {
  const cli::ConfiguredModel model = cli::configure(o);
  const auto data = cli::load(o.data, o.target, model.info->task);
  const aimastery::KFoldParams fold_params{.n_splits = o.folds, .shuffle = true, .seed = o.seed};
  const std::vector<aimastery::Fold> folds = model.info->task == cli::Task::classification
                                                 ? aimastery::StratifiedKFold(fold_params).split(data.labels())
                                                 : aimastery::KFold(fold_params).split(data.X.rows());
  std::vector<double> scores;
  for (const auto& fold : folds) {
    const cli::Evaluation e = cli::fit_and_score(
        model, o.scale, aimastery::take_rows(data.X, fold.train), aimastery::take_rows(data.y, fold.train),
        aimastery::take_rows(data.X, fold.test), aimastery::take_rows(data.y, fold.test));
    scores.push_back(e.score);
  }
  // mean = Σ sᵢ / k, std = √(Σ (sᵢ − mean)² / k) (population deviation, as scikit-learn reports it)
  double mean = 0, variance = 0;
  for (double s : scores) mean += s / static_cast<double>(scores.size());
  for (double s : scores) variance += (s - mean) * (s - mean) / static_cast<double>(scores.size());
  const nlohmann::json out = {
      {"model", o.model}, {"metric", model.metric()}, {"mean", mean}, {"std", std::sqrt(variance)}, {"scores", scores}};
  std::cout << out.dump() << '\n';
  return 0;
}

const cli::CommandRegistration cv_command(
    "cv", "cross-validate a model on one CSV file", [](CLI::App& app) -> cli::Action {
      auto o = std::make_shared<CvOptions>();
      cli::add_model_options(app, *o);
      app.add_option("--data", o->data, "CSV file with a header row")->required();
      app.add_option("--folds", o->folds, "number of folds")->check(cli::at_least(2))->capture_default_str();
      return [o] { return cross_validate(*o); };
    });

}  // namespace
