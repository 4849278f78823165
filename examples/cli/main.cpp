// aimastery: try the library's estimators on CSV files without writing C++.
//
//   aimastery fit-eval --model M --train A.csv --test B.csv --target COL [--scale] [--param NAME=VALUE]... [--seed N]
//   aimastery cv --model M --data A.csv --target COL [--folds 5] [--scale] [--param NAME=VALUE]... [--seed N]
//   aimastery models
//
// Each command prints one JSON object on stdout. A bad invocation exits non-zero with one line on stderr.
#include <aimastery/io/csv.hpp>
#include <aimastery/ml/classical/metrics.hpp>
#include <aimastery/ml/classical/model_selection.hpp>
#include <aimastery/ml/classical/preprocessing.hpp>

#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "models.hpp"

namespace {

using aimastery::Index;
using aimastery::Matrix;
using aimastery::Vector;

constexpr const char* usage =
    "usage: aimastery fit-eval --model M --train A.csv --test B.csv --target COL [--scale] [--param NAME=VALUE]... "
    "[--seed N]\n"
    "       aimastery cv --model M --data A.csv --target COL [--folds 5] [--scale] [--param NAME=VALUE]... [--seed N]\n"
    "       aimastery models\n";

struct Options {
  std::string command, model, train, test, data, target;
  bool scale = false;
  Index folds = 5;
  std::uint64_t seed = 0;
  std::map<std::string, std::string> params;
};

Options parse(int argc, char** argv) {
  if (argc < 2) throw cli::UsageError("missing command (fit-eval, cv or models); see aimastery --help");
  Options o;
  o.command = argv[1];
  if (o.command != "fit-eval" && o.command != "cv" && o.command != "models")
    throw cli::UsageError("unknown command '" + o.command + "' (expected fit-eval, cv or models)");
  std::map<std::string, std::string*> text_options = {
      {"--model", &o.model}, {"--train", &o.train}, {"--test", &o.test}, {"--data", &o.data}, {"--target", &o.target}};
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw cli::UsageError("option " + arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--scale") {
      o.scale = true;
    } else if (auto it = text_options.find(arg); it != text_options.end()) {
      *it->second = value();
    } else if (arg == "--param") {
      const std::string pair = value();
      const auto eq = pair.find('=');
      if (eq == std::string::npos || eq == 0) throw cli::UsageError("--param expects NAME=VALUE, got '" + pair + "'");
      if (!o.params.emplace(pair.substr(0, eq), pair.substr(eq + 1)).second)
        throw cli::UsageError("parameter " + pair.substr(0, eq) + " given twice");
    } else if (arg == "--folds" || arg == "--seed") {
      const std::string text = value();
      Index number = 0;
      if (!cli::ParamReader::parse_index(text, number) || number < 0)
        throw cli::UsageError(arg + " expects a non-negative integer, got '" + text + "'");
      if (arg == "--folds")
        o.folds = number;
      else
        o.seed = static_cast<std::uint64_t>(number);
    } else {
      throw cli::UsageError("unknown option '" + arg + "'");
    }
  }
  auto need = [](const std::string& v, const char* name) {
    if (v.empty()) throw cli::UsageError(std::string("missing ") + name);
  };
  if (o.command == "models") return o;
  need(o.model, "--model");
  need(o.target, "--target");
  if (o.command == "fit-eval") {
    need(o.train, "--train");
    need(o.test, "--test");
    if (!o.data.empty()) throw cli::UsageError("fit-eval takes --train and --test, not --data");
  } else {
    need(o.data, "--data");
    if (!o.train.empty() || !o.test.empty()) throw cli::UsageError("cv takes --data, not --train/--test");
    if (o.folds < 2) throw cli::UsageError("--folds must be at least 2");
  }
  return o;
}

const cli::ModelInfo& find_model(const std::string& name) {
  const auto it = cli::registry().find(name);
  if (it == cli::registry().end()) {
    std::string names;
    for (const auto& [n, _] : cli::registry()) names += (names.empty() ? "" : ", ") + n;
    throw cli::UsageError("unknown model '" + name + "' (available: " + names + ")");
  }
  return it->second;
}

aimastery::CsvDataset<double> load(const std::string& path, const std::string& target, cli::Task task) {
  auto data = aimastery::read_csv<double>(path, {.target = target});
  if (task == cli::Task::classification) static_cast<void>(data.labels());  // whole-number labels, or FormatError
  return data;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double evaluate(cli::Task task, const Vector<double>& truth, const Vector<double>& predicted) {
  if (task == cli::Task::classification)
    return aimastery::accuracy_score(cli::to_labels(truth), cli::to_labels(predicted));
  return aimastery::r2_score(truth, predicted);
}

/// Fits a fresh model on (X_train, y_train) — standardised with the training part's statistics when `scale` —
/// and scores it on the test part.
struct Evaluation {
  double score, fit_seconds, predict_seconds;
};
Evaluation fit_and_score(const cli::Factory& make, cli::Task task, bool scale, Matrix<double> X_train,
                         const Vector<double>& y_train, Matrix<double> X_test, const Vector<double>& y_test) {
  auto model = make();
  const auto t0 = std::chrono::steady_clock::now();
  aimastery::StandardScaler<double> scaler;
  if (scale) X_train = scaler.fit_transform(X_train);
  model->fit(X_train, y_train);
  const double fit_seconds = seconds_since(t0);
  const auto t1 = std::chrono::steady_clock::now();
  if (scale) X_test = scaler.transform(X_test);
  const Vector<double> predicted = model->predict(X_test);
  const double predict_seconds = seconds_since(t1);
  return {evaluate(task, y_test, predicted), fit_seconds, predict_seconds};
}

int run(const Options& o) {
  if (o.command == "models") {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [name, info] : cli::registry())
      out[name] = {{"task", info.task == cli::Task::classification ? "classification" : "regression"},
                   {"summary", info.summary}};
    std::cout << out.dump(2) << '\n';
    return 0;
  }
  const cli::ModelInfo& info = find_model(o.model);
  cli::ParamReader reader(o.model, o.params);
  const cli::Factory make = info.configure(reader, o.seed);
  const char* metric = info.task == cli::Task::classification ? "accuracy" : "r2";

  if (o.command == "fit-eval") {
    const auto train = load(o.train, o.target, info.task);
    const auto test = load(o.test, o.target, info.task);
    if (train.feature_names != test.feature_names)
      throw cli::UsageError("the feature columns of " + o.test + " differ from those of " + o.train);
    if (!train.label_names.empty() || !test.label_names.empty())
      if (train.label_names != test.label_names)
        throw cli::UsageError("the label values of " + o.test + " differ from those of " + o.train);
    const Evaluation e = fit_and_score(make, info.task, o.scale, train.X, train.y, test.X, test.y);
    nlohmann::json out = {{"model", o.model},
                          {"metric", metric},
                          {"score", e.score},
                          {"fit_seconds", e.fit_seconds},
                          {"predict_seconds", e.predict_seconds},
                          {"n_train", train.X.rows()},
                          {"n_test", test.X.rows()}};
    std::cout << out.dump() << '\n';
    return 0;
  }

  const auto data = load(o.data, o.target, info.task);
  const aimastery::KFoldParams fold_params{.n_splits = o.folds, .shuffle = true, .seed = o.seed};
  const std::vector<aimastery::Fold> folds = info.task == cli::Task::classification
                                                 ? aimastery::StratifiedKFold(fold_params).split(data.labels())
                                                 : aimastery::KFold(fold_params).split(data.X.rows());
  std::vector<double> scores;
  for (const auto& fold : folds) {
    const Evaluation e = fit_and_score(
        make, info.task, o.scale, aimastery::take_rows(data.X, fold.train), aimastery::take_rows(data.y, fold.train),
        aimastery::take_rows(data.X, fold.test), aimastery::take_rows(data.y, fold.test));
    scores.push_back(e.score);
  }
  double mean = 0, variance = 0;
  for (double s : scores) mean += s / static_cast<double>(scores.size());
  for (double s : scores) variance += (s - mean) * (s - mean) / static_cast<double>(scores.size());
  nlohmann::json out = {
      {"model", o.model}, {"metric", metric}, {"mean", mean}, {"std", std::sqrt(variance)}, {"scores", scores}};
  std::cout << out.dump() << '\n';
  return 0;
}

std::string one_line(std::string message) {
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  return message;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << usage;
    return 0;
  }
  try {
    return run(parse(argc, argv));
  } catch (const cli::UsageError& e) {
    std::cerr << "aimastery: error: " << one_line(e.what()) << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "aimastery: error: " << one_line(e.what()) << '\n';
    return 1;
  }
}
