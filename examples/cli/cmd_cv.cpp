// aimastery cv --model M --data A.csv --target COL [--folds 5] [--scale] [--param NAME=VALUE]... [--seed N]
// k-fold cross-validation (stratified for classifiers); prints the mean, the standard deviation and each
// fold's score as one JSON object.
//
// Built with MPI (the tool is linked to aimastery::mpi when CMake finds MPI) and launched by mpirun on more
// than one process, the folds are spread over the ranks (fold f on rank f mod p, each fitted exactly as one
// process fits it) and rank 0 prints the same JSON as one process. Every rank reads the same file: the
// ranks check that they were given the same options and read the same data before any fold is fitted.
#include <aimastery/io/json.hpp>
#include <aimastery/ml/classical/model_selection.hpp>

#include <cmath>
#include <iostream>
#include <memory>
#include <vector>

#include "evaluation.hpp"

#if defined(AIMASTERY_HAVE_MPI)
#include <aimastery/distributed/communicator.hpp>
#include <aimastery/distributed/distributed_model_selection.hpp>
#include <aimastery/distributed/environment.hpp>
#include <aimastery/production/caching/content_hash.hpp>

#include <cstdlib>
#include <optional>
#endif

namespace {

struct CvOptions : cli::ModelOptions {
  std::string data;
  aimastery::Index folds = 5;
};

/// The inputs of a cross-validation: the configured model, the data and its folds.
struct CvProblem {
  cli::ConfiguredModel model;
  aimastery::CsvDataset<double> data;
  std::vector<aimastery::Fold> folds;
};

CvProblem prepare(const CvOptions& o, const cli::ConfiguredModel& model) {
  auto data = cli::load(o.data, o.target, model.info->task);
  const aimastery::KFoldParams fold_params{.n_splits = o.folds, .shuffle = true, .seed = o.seed};
  std::vector<aimastery::Fold> folds = model.info->task == cli::Task::classification
                                           ? aimastery::StratifiedKFold(fold_params).split(data.labels())
                                           : aimastery::KFold(fold_params).split(data.X.rows());
  return {model, std::move(data), std::move(folds)};
}

/// Fold f's score: a fresh model fitted on the other folds and scored on f.
double fold_score(const CvOptions& o, const CvProblem& p, aimastery::Index f) {
  const aimastery::Fold& fold = p.folds[static_cast<std::size_t>(f)];
  return cli::fit_and_score(p.model, o.scale, aimastery::take_rows(p.data.X, fold.train),
                            aimastery::take_rows(p.data.y, fold.train), aimastery::take_rows(p.data.X, fold.test),
                            aimastery::take_rows(p.data.y, fold.test))
      .score;
}

void print(const CvOptions& o, const cli::ConfiguredModel& model, const std::vector<double>& scores) {
  // mean = Σ sᵢ / k, std = √(Σ (sᵢ − mean)² / k) (population deviation, as scikit-learn reports it)
  double mean = 0, variance = 0;
  for (double s : scores) mean += s / static_cast<double>(scores.size());
  for (double s : scores) variance += (s - mean) * (s - mean) / static_cast<double>(scores.size());
  const aimastery::JsonValue out = aimastery::JsonValue::object({{"model", o.model},
                                                                 {"metric", model.metric()},
                                                                 {"mean", mean},
                                                                 {"std", std::sqrt(variance)},
                                                                 {"scores", scores}});
  std::cout << out.dump() << '\n';
}

#if defined(AIMASTERY_HAVE_MPI)
/// True when a process manager started this process as one of a parallel job (Open MPI's mpirun, MPICH's
/// Hydra, PMIx launchers such as Slurm's srun --mpi=pmix): only then is MPI initialised.
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

/// The options that decide the result, in one string (lengths first, so no two option sets collide).
std::string options_key(const CvOptions& o) {
  std::string key;
  for (const std::string& part :
       {o.model, o.target, std::string(o.scale ? "scale" : "raw"), std::to_string(o.seed), std::to_string(o.folds)})
    key += std::to_string(part.size()) + ":" + part + ";";
  for (const std::string& p : o.params) key += std::to_string(p.size()) + ":" + p + ";";
  return key;
}

/// The folds spread over the ranks of the job; every rank returns the scores.
std::vector<double> cross_validate_on_ranks(const aimastery::Communicator& world, const CvOptions& o,
                                            const cli::ConfiguredModel& model) {
  constexpr std::string_view where = "aimastery cv";
  const aimastery::ContentHash h = aimastery::content_hash(options_key(o));
  aimastery::check_replicated(world, where, "the options (every rank must run the same command)",
                              static_cast<std::int64_t>(h.high ^ h.low));
  std::optional<CvProblem> problem;
  aimastery::check_on_all_ranks(world, [&] { problem.emplace(prepare(o, model)); });
  aimastery::check_cross_validation_on_ranks(world, where, problem->data.X, problem->data.y, problem->folds);
  return aimastery::run_tasks_on_ranks(world, static_cast<aimastery::Index>(problem->folds.size()),
                                       [&](aimastery::Index f) { return fold_score(o, *problem, f); });
}
#endif

int cross_validate(const CvOptions& o) {
  const cli::ConfiguredModel model = cli::configure(o);
#if defined(AIMASTERY_HAVE_MPI)
  if (launched_by_mpi()) {
    const aimastery::Environment mpi;
    const aimastery::Communicator world = aimastery::Communicator::world();
    if (world.size() > 1) {
      const std::vector<double> scores = cross_validate_on_ranks(world, o, model);
      if (world.is_root()) print(o, model, scores);
      return 0;
    }
  }
#endif
  const CvProblem problem = prepare(o, model);
  std::vector<double> scores;
  for (std::size_t f = 0; f < problem.folds.size(); ++f)
    scores.push_back(fold_score(o, problem, static_cast<aimastery::Index>(f)));
  print(o, model, scores);
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
