#pragma once
// The model registry of the `aimastery` command-line tool.
//
// How to register a model: add one file examples/cli/model_<name>.cpp (every examples/cli/*.cpp is compiled
// into the tool) that builds the estimator's parameter struct from the --param values and registers it:
//
//   #include "models.hpp"
//   #include <aimastery/ml/classical/gaussian_nb.hpp>
//   namespace {
//   const cli::Registration gaussian_nb("gaussian_nb", cli::Task::classification,
//       "Gaussian naive Bayes",
//       [](cli::ParamReader& p, std::uint64_t /*seed*/) {
//         aimastery::GaussianNBParams params;
//         p.read("var_smoothing", params.var_smoothing);   // the estimator's own parameter names
//         p.finish();                                     // rejects any --param not read above
//         return cli::factory<cli::ClassifierAdapter<aimastery::GaussianNBScratch<double>>>(params);
//       });
//   }
//
// Task::classification models are scored by accuracy and cross-validated with stratified folds;
// Task::regression models by R² with plain folds. A classifier adapter needs fit(X, IndexVector),
// predict(X) → IndexVector; a regressor adapter fit(X, Vector<double>), predict(X) → Vector<double>.
// An estimator with another shape writes its own small subclass of cli::Model.

#include <aimastery/core/tensor.hpp>

#include "usage_error.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cli {

using aimastery::Index;
using aimastery::IndexVector;
using aimastery::Matrix;
using aimastery::Vector;

enum class Task { classification, regression };

/// An estimator behind one interface: labels travel as doubles holding integers.
class Model {
 public:
  virtual ~Model() = default;
  virtual void fit(const Matrix<double>& X, const Vector<double>& y) = 0;
  [[nodiscard]] virtual Vector<double> predict(const Matrix<double>& X) const = 0;
};

/// Builds a fresh, unfitted model with the parameters already applied.
using Factory = std::function<std::unique_ptr<Model>()>;

/// Integer class labels from a target column of whole numbers (read_csv's labels() has checked them).
inline IndexVector to_labels(const Vector<double>& y) { return y.cast<Index>(); }

template <class Estimator>
class ClassifierAdapter : public Model {
 public:
  template <class Params>
  explicit ClassifierAdapter(const Params& params) : estimator_(params) {}
  void fit(const Matrix<double>& X, const Vector<double>& y) override { estimator_.fit(X, to_labels(y)); }
  [[nodiscard]] Vector<double> predict(const Matrix<double>& X) const override {
    return estimator_.predict(X).template cast<double>();
  }

 private:
  Estimator estimator_;
};

template <class Estimator>
class RegressorAdapter : public Model {
 public:
  template <class Params>
  explicit RegressorAdapter(const Params& params) : estimator_(params) {}
  void fit(const Matrix<double>& X, const Vector<double>& y) override { estimator_.fit(X, y); }
  [[nodiscard]] Vector<double> predict(const Matrix<double>& X) const override { return estimator_.predict(X); }

 private:
  Estimator estimator_;
};

/// A factory of Adapter(params). The first model is built at once, so an invalid parameter value is reported
/// before any data is touched.
template <class Adapter, class Params>
Factory factory(const Params& params) {
  Factory make = [params] { return std::unique_ptr<Model>(std::make_unique<Adapter>(params)); };
  static_cast<void>(make());
  return make;
}

/// Reads --param NAME=VALUE pairs into an estimator's parameter struct; finish() rejects the names nobody read.
class ParamReader {
 public:
  ParamReader(std::string model, std::map<std::string, std::string> values)
      : model_(std::move(model)), values_(std::move(values)) {}

  void read(const std::string& name, double& out) { read_with(name, out, "a number", parse_double); }
  void read(const std::string& name, bool& out) { read_with(name, out, "true or false", parse_bool); }
  void read(const std::string& name, int& out) {
    read_with(name, out, "an integer", [](const std::string& s, int& v) {
      Index wide = 0;
      if (!parse_index(s, wide) || wide < INT32_MIN || wide > INT32_MAX) return false;
      v = static_cast<int>(wide);
      return true;
    });
  }
  void read(const std::string& name, Index& out) { read_with(name, out, "an integer", parse_index); }
  /// An integer or "none".
  void read(const std::string& name, std::optional<Index>& out) {
    read_with(name, out, "an integer or none", [](const std::string& s, std::optional<Index>& v) {
      if (s == "none") {
        v.reset();
        return true;
      }
      Index value = 0;
      if (!parse_index(s, value)) return false;
      v = value;
      return true;
    });
  }
  /// A comma-separated list of numbers.
  void read(const std::string& name, std::vector<double>& out) {
    read_with(name, out, "a comma-separated list of numbers", [](const std::string& s, std::vector<double>& v) {
      v.clear();
      std::size_t start = 0;
      while (start <= s.size()) {
        const std::size_t comma = std::min(s.find(',', start), s.size());
        double x = 0;
        if (!parse_double(s.substr(start, comma - start), x)) return false;
        v.push_back(x);
        start = comma + 1;
      }
      return true;
    });
  }
  /// One of the named choices.
  template <class E>
  void read_choice(const std::string& name, E& out, const std::vector<std::pair<std::string, E>>& choices) {
    std::string names;
    for (const auto& [choice, _] : choices) names += (names.empty() ? "" : ", ") + choice;
    read_with(name, out, "one of " + names, [&](const std::string& s, E& v) {
      for (const auto& [choice, value] : choices)
        if (s == choice) {
          v = value;
          return true;
        }
      return false;
    });
  }
  /// A value this reader does not know how to parse: the raw text (the caller parses it).
  std::optional<std::string> take_raw(const std::string& name) {
    known_.push_back(name);
    const auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    std::string raw = it->second;
    values_.erase(it);
    return raw;
  }
  /// Fails on any --param that no read() consumed, naming the parameters the model has.
  void finish() const {
    if (values_.empty()) return;
    std::string known;
    for (const auto& k : known_) known += (known.empty() ? "" : ", ") + k;
    throw UsageError("unknown parameter '" + values_.begin()->first + "' for model " + model_ +
                     " (its parameters: " + known + ")");
  }
  [[nodiscard]] const std::string& model() const noexcept { return model_; }

  static bool parse_double(const std::string& s, double& v) {
    try {
      std::size_t used = 0;
      v = std::stod(s, &used);
      return used == s.size();
    } catch (const std::exception&) {
      return false;
    }
  }
  static bool parse_index(const std::string& s, Index& v) {
    try {
      std::size_t used = 0;
      v = static_cast<Index>(std::stoll(s, &used));
      return used == s.size();
    } catch (const std::exception&) {
      return false;
    }
  }
  static bool parse_bool(const std::string& s, bool& v) {
    if (s == "true" || s == "1")
      v = true;
    else if (s == "false" || s == "0")
      v = false;
    else
      return false;
    return true;
  }

 private:
  template <class V, class Parse>
  void read_with(const std::string& name, V& out, const std::string& expected, Parse parse) {
    known_.push_back(name);
    const auto it = values_.find(name);
    if (it == values_.end()) return;
    if (!parse(it->second, out))
      throw UsageError("parameter " + name + " of model " + model_ + " must be " + expected + ", got '" + it->second +
                       "'");
    values_.erase(it);
  }

  std::string model_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> known_;
};

/// Reads the --param values (and the --seed) and returns a factory of configured models.
using Configure = std::function<Factory(ParamReader&, std::uint64_t seed)>;

struct ModelInfo {
  Task task;
  std::string summary;
  Configure configure;
};

inline std::map<std::string, ModelInfo>& registry() {
  static std::map<std::string, ModelInfo> models;
  return models;
}

/// A static Registration in a model_<name>.cpp adds the model to the registry before main() runs.
struct Registration {
  Registration(const std::string& name, Task task, std::string summary, Configure configure) {
    registry().emplace(name, ModelInfo{task, std::move(summary), std::move(configure)});
  }
};

}  // namespace cli
