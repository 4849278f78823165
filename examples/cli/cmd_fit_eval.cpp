// aimastery fit-eval --model M --train A.csv --test B.csv --target COL [--scale] [--param NAME=VALUE]... [--seed N]
// Trains on one file, scores on another, and prints one JSON object: the score and the times.
#include <aimastery/io/json.hpp>

#include <iostream>
#include <memory>

#include "evaluation.hpp"

namespace {

struct FitEvalOptions : cli::ModelOptions {
  std::string train, test;
};

int fit_eval(const FitEvalOptions& o) {
  const cli::ConfiguredModel model = cli::configure(o);
  const auto train = cli::load(o.train, o.target, model.info->task);
  const auto test = cli::load(o.test, o.target, model.info->task);
  if (train.feature_names != test.feature_names)
    throw cli::UsageError("the feature columns of " + o.test + " differ from those of " + o.train);
  if (!train.label_names.empty() || !test.label_names.empty())
    if (train.label_names != test.label_names)
      throw cli::UsageError("the label values of " + o.test + " differ from those of " + o.train);
  const cli::Evaluation e = cli::fit_and_score(model, o.scale, train.X, train.y, test.X, test.y);
  const aimastery::JsonValue out = aimastery::JsonValue::object({{"model", o.model},
                                                                 {"metric", model.metric()},
                                                                 {"score", e.score},
                                                                 {"fit_seconds", e.fit_seconds},
                                                                 {"predict_seconds", e.predict_seconds},
                                                                 {"n_train", train.X.rows()},
                                                                 {"n_test", test.X.rows()}});
  std::cout << out.dump() << '\n';
  return 0;
}

const cli::CommandRegistration fit_eval_command("fit-eval", "train on one CSV file and score on another",
                                                [](CLI::App& app) -> cli::Action {
                                                  auto o = std::make_shared<FitEvalOptions>();
                                                  cli::add_model_options(app, *o);
                                                  app.add_option("--train", o->train, "training CSV file")->required();
                                                  app.add_option("--test", o->test, "test CSV file")->required();
                                                  return [o] { return fit_eval(*o); };
                                                });

}  // namespace
