#include "evaluation.hpp"

#include <aimastery/core/errors.hpp>
#include <aimastery/ml/classical/metrics.hpp>
#include <aimastery/ml/classical/preprocessing.hpp>

#include <chrono>

namespace cli {

namespace {

/// "--param: expects NAME=VALUE, got 'alpha'".
const CLI::Validator name_value(
    [](std::string& pair) -> std::string {
      const auto eq = pair.find('=');
      if (eq == std::string::npos || eq == 0) return "expects NAME=VALUE, got '" + pair + "'";
      return {};
    },
    "NAME=VALUE");

/// "--model: unknown model 'nonsense' (available: ...)".
const CLI::Validator known_model(
    [](std::string& name) -> std::string {
      if (registry().count(name) != 0) return {};
      std::string names;
      for (const auto& [n, _] : registry()) names += (names.empty() ? "" : ", ") + n;
      return "unknown model '" + name + "' (available: " + names + ")";
    },
    "MODEL");

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void add_model_options(CLI::App& app, ModelOptions& o) {
  app.add_option("--model", o.model, "the estimator (aimastery models lists them)")->required()->check(known_model);
  app.add_option("--target", o.target, "the label column")->required();
  app.add_flag("--scale", o.scale, "standardise the features with the training part's mean and deviation");
  app.add_option("--param", o.params, "an estimator parameter by its own name, e.g. k=5 (repeatable)")
      ->check(name_value)
      ->allow_extra_args(false);
  app.add_option("--seed", o.seed, "seed of the folds and of the estimator's random draws")
      ->check(at_least(0))
      ->capture_default_str();
}

ConfiguredModel configure(const ModelOptions& o) {
  std::map<std::string, std::string> values;
  for (const auto& pair : o.params) {
    const auto eq = pair.find('=');
    if (!values.emplace(pair.substr(0, eq), pair.substr(eq + 1)).second)
      throw UsageError("parameter " + pair.substr(0, eq) + " given twice");
  }
  const ModelInfo& info = registry().at(o.model);
  ParamReader reader(o.model, std::move(values));
  try {
    return {&info, info.configure(reader, o.seed)};
  } catch (const aimastery::InvalidArgument& e) {
    throw UsageError(e.what());  // the estimator refused a parameter value
  }
}

aimastery::CsvDataset<double> load(const std::string& path, const std::string& target, Task task) {
  auto data = aimastery::read_csv<double>(path, {.target = target});
  if (task == Task::classification) static_cast<void>(data.labels());  // whole-number labels, or FormatError
  return data;
}

Evaluation fit_and_score(const ConfiguredModel& configured, bool scale, Matrix<double> X_train,
                         const Vector<double>& y_train, Matrix<double> X_test, const Vector<double>& y_test) {
  auto model = configured.make();
  const auto t0 = std::chrono::steady_clock::now();
  aimastery::StandardScaler<double> scaler;
  if (scale) X_train = scaler.fit_transform(X_train);
  model->fit(X_train, y_train);
  const double fit_seconds = seconds_since(t0);
  const auto t1 = std::chrono::steady_clock::now();
  if (scale) X_test = scaler.transform(X_test);
  const Vector<double> predicted = model->predict(X_test);
  const double predict_seconds = seconds_since(t1);
  const double score = configured.info->task == Task::classification
                           ? aimastery::accuracy_score(to_labels(y_test), to_labels(predicted))
                           : aimastery::r2_score(y_test, predicted);
  return {score, fit_seconds, predict_seconds};
}

}  // namespace cli
