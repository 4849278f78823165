#pragma once
// What the `fit-eval` and `cv` subcommands share: the model options, loading a CSV file for a task, and
// fitting then scoring one train/test split.
#include <aimastery/io/csv.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "command.hpp"
#include "models.hpp"

namespace cli {

/// --model, --target, --scale, --param NAME=VALUE..., --seed.
struct ModelOptions {
  std::string model, target;
  bool scale = false;
  std::vector<std::string> params;
  std::uint64_t seed = 0;
};

/// Declares the model options on a subcommand.
void add_model_options(CLI::App& app, ModelOptions& options);

/// The chosen model, configured from --param and --seed: a factory of fresh models. An invalid value
/// (unknown name, a number out of the estimator's range) is a UsageError.
struct ConfiguredModel {
  const ModelInfo* info;
  Factory make;
  [[nodiscard]] const char* metric() const { return info->task == Task::classification ? "accuracy" : "r2"; }
};
ConfiguredModel configure(const ModelOptions& options);

/// A CSV file with its target column; a classification target must hold whole numbers (else FormatError).
aimastery::CsvDataset<double> load(const std::string& path, const std::string& target, Task task);

struct Evaluation {
  double score, fit_seconds, predict_seconds;
};
/// Fits a fresh model on the training part — standardised with the training part's statistics when `scale` —
/// and scores it on the test part (accuracy for classification, R² for regression).
Evaluation fit_and_score(const ConfiguredModel& model, bool scale, Matrix<double> X_train,
                         const Vector<double>& y_train, Matrix<double> X_test, const Vector<double>& y_test);

}  // namespace cli
