#pragma once
/// \file
/// ModelHost: the models of a ModelVersionManager registry, loaded and ready to predict.
///
///   ModelHost host("registry/", {.max_batch_size = 32, .cache_size = 10000});
///   auto forest = host.resolve("forest", "");         // the `champion` alias, or the latest version
///   auto v2 = host.resolve("forest", "2");            // a version number, or an alias name
///   Matrix<double> Y = host.predict(*forest, X);      // cache → batcher → model
///
/// Which version a name means. A request names a model and optionally a version: digits are a version
/// number, anything else an alias; without one, the `champion` alias when it is set, otherwise the latest
/// version. The registry is re-read when another process commits to it (ModelVersionManager reloads on
/// its generation), so moving `champion` switches the traffic at once (blue-green). A version's model
/// file is its artifact `model.safetensors` (or its only .safetensors artifact), loaded with
/// load_served_model on first use and kept; the default version of every model is loaded at start.
///
/// Per hosted version, reusing the library's production pieces:
///   PredictionCache   rows already answered are not predicted again (key: version + XXH3 of the row)
///   DynamicBatcher    the rows that missed the cache, batched with other requests' rows
///   DriftDetector     the first `drift_reference_rows` rows received are the reference; the latest
///                     `drift_window_rows` are compared with it (KS per feature) when statistics are read
///   PerformanceMonitor  latency percentiles and error rate over the latest requests
/// An unknown model, version or alias is InferenceError 404; a wrong number of features 400.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/production/caching/cache_backend.hpp"
#include "aimastery/production/caching/prediction_cache.hpp"
#include "aimastery/production/deployment/model_version_manager.hpp"
#include "aimastery/production/monitoring/drift_detector.hpp"
#include "aimastery/production/monitoring/performance_monitor.hpp"
#include "aimastery/production/serving/dynamic_batcher.hpp"
#include "aimastery/production/serving/inference_error.hpp"
#include "aimastery/production/serving/served_model.hpp"

namespace aimastery {

struct ModelHostOptions {
  Index max_batch_size = 32;                  ///< 1: no batching (each request predicts alone, concurrently)
  std::chrono::microseconds max_delay{2000};  ///< the batcher's wait for company
  std::size_t cache_size = 0;                 ///< cached predictions (rows), shared by all models; 0: no cache
  std::size_t drift_reference_rows = 500;     ///< 0: no drift statistics
  std::size_t drift_window_rows = 500;
  std::size_t drift_min_rows = 30;  ///< fewer current rows than this: no drift test yet
  std::function<void(const std::string& model, Index rows)> on_batch = {};
};

/// Drift of the recent inputs against the first ones, as last computed.
struct DriftSummary {
  bool available = false;
  double share_drifted = 0;
  bool dataset_drift = false;
  std::vector<std::pair<std::string, double>> statistics;  ///< per feature: KS statistic D
  std::size_t reference_rows = 0, current_rows = 0;
};

/// One loaded version of a model and its serving state. A class template (HostedModel is
/// BasicHostedModel<>) so that its members, which reach the cache, the batcher and the drift tests, are
/// compiled only where a host is used.
template <class = void>
class BasicHostedModel {
 public:
  BasicHostedModel(std::string name, std::int64_t version, ServedModel model, const ModelHostOptions& options,
                   const std::shared_ptr<CacheBackend>& cache_backend)
      : name_(std::move(name)), version_(version), model_(std::move(model)), options_(options) {
    if (cache_backend) cache_.emplace(cache_backend, PredictionCacheOptions{.key_namespace = "serve"});
    if (options.max_batch_size > 1) {
      const std::string model_name = name_;
      auto on_batch = options.on_batch;
      const ServedModel* served = &model_;
      batcher_ = std::make_unique<DynamicBatcher>(
          [served](const Matrix<double>& X) {
#ifdef _OPENMP
            // A batch holds at most max_batch_size rows: too little work for an OpenMP team, whose second
            // thread, on cores shared with the HTTP threads, costs more than the batch (as on HTTP threads).
            static thread_local const bool single_threaded = (omp_set_num_threads(1), true);
            (void)single_threaded;
#endif
            return served->predict(X);
          },
          DynamicBatcherOptions{.max_batch_size = options.max_batch_size,
                                .max_delay = options.max_delay,
                                .on_batch = [this, on_batch, model_name](Index rows) {
                                  batches_.fetch_add(1, std::memory_order_relaxed);
                                  batch_rows_.fetch_add(static_cast<std::uint64_t>(rows), std::memory_order_relaxed);
                                  if (on_batch) on_batch(model_name, rows);
                                }});
    }
  }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] std::int64_t version() const noexcept { return version_; }
  [[nodiscard]] const ServedModel& model() const noexcept { return model_; }
  [[nodiscard]] PerformanceMonitor& monitor() noexcept { return monitor_; }
  /// Batched model calls of this version so far, and the rows they predicted (0, 0 without batching).
  [[nodiscard]] std::pair<std::uint64_t, std::uint64_t> batch_totals() const noexcept {
    return {batches_.load(std::memory_order_relaxed), batch_rows_.load(std::memory_order_relaxed)};
  }
  [[nodiscard]] std::optional<BackendCacheStats> cache_stats() const {
    if (!cache_) return std::nullopt;
    return cache_->stats();
  }

  /// n × output_columns() predictions for the n rows of X (n × n_features()).
  [[nodiscard]] Matrix<double> predict(const Matrix<double>& X) {
    if (X.cols() != model_.n_features())
      throw InferenceError(400, "model '" + name_ + "' version " + std::to_string(version_) + " takes " +
                                    std::to_string(model_.n_features()) + " features per row, the input has " +
                                    std::to_string(X.cols()));
    std::optional<DynamicBatcher::Ticket> ticket;
    if (batcher_) ticket.emplace(*batcher_);
    observe_inputs(X);
    if (!cache_) return compute(X);
    // Rows found in the cache are copied; the others are predicted together and stored.
    const std::string key = name_ + "/" + std::to_string(version_);
    Matrix<double> Y(X.rows(), model_.output_columns());
    std::vector<Index> missing;
    for (Index i = 0; i < X.rows(); ++i) {
      if (auto hit = cache_->get(key, X.row(i)))
        Y.row(i) = hit->transpose();
      else
        missing.push_back(i);
    }
    if (missing.empty()) return Y;
    Matrix<double> M(static_cast<Index>(missing.size()), X.cols());
    for (std::size_t k = 0; k < missing.size(); ++k) M.row(static_cast<Index>(k)) = X.row(missing[k]);
    const Matrix<double> P = compute(M);
    for (std::size_t k = 0; k < missing.size(); ++k) {
      Y.row(missing[k]) = P.row(static_cast<Index>(k));
      cache_->set(key, X.row(missing[k]), P.row(static_cast<Index>(k)));
    }
    return Y;
  }

  /// The drift of the latest rows against the first ones (recomputed at most once a second).
  [[nodiscard]] DriftSummary drift() {
    std::lock_guard lock(drift_mutex_);
    if (options_.drift_reference_rows == 0) return {};
    const auto now = std::chrono::steady_clock::now();
    if (drift_.available && now - drift_computed_ < std::chrono::seconds(1)) return drift_;
    DriftSummary s;
    s.reference_rows = reference_.size();
    s.current_rows = window_.size();
    if (reference_.size() < options_.drift_reference_rows || window_.size() < options_.drift_min_rows) {
      drift_ = s;
      return s;
    }
    try {
      DriftDetector detector;
      detector.fit(rows_matrix(reference_));
      const DriftReport report = detector.detect(rows_matrix(window_));
      s.available = true;
      s.share_drifted = report.share_drifted;
      s.dataset_drift = report.dataset_drift;
      for (const auto& f : report.features) s.statistics.emplace_back(f.name, f.statistic);
    } catch (const std::exception&) {
      // a degenerate sample (e.g. every value equal) has no test: reported as unavailable
    }
    drift_ = s;
    drift_computed_ = now;
    return s;
  }

 private:
  Matrix<double> compute(const Matrix<double>& X) { return batcher_ ? batcher_->predict(X) : model_.predict(X); }

  void observe_inputs(const Matrix<double>& X) {
    if (options_.drift_reference_rows == 0) return;
    std::lock_guard lock(drift_mutex_);
    for (Index i = 0; i < X.rows(); ++i) {
      std::vector<double> row(X.row(i).data(), X.row(i).data() + X.cols());
      if (reference_.size() < options_.drift_reference_rows) {
        reference_.push_back(std::move(row));
      } else {
        window_.push_back(std::move(row));
        if (window_.size() > options_.drift_window_rows) window_.pop_front();
      }
    }
  }
  template <class Rows>
  static Matrix<double> rows_matrix(const Rows& rows) {
    Matrix<double> M(static_cast<Index>(rows.size()), static_cast<Index>(rows.front().size()));
    Index i = 0;
    for (const auto& r : rows) M.row(i++) = Eigen::Map<const RowVector<double>>(r.data(), M.cols());
    return M;
  }

  std::string name_;
  std::int64_t version_;
  ServedModel model_;
  ModelHostOptions options_;
  std::optional<PredictionCache<double>> cache_;
  std::atomic<std::uint64_t> batches_{0}, batch_rows_{0};
  std::unique_ptr<DynamicBatcher> batcher_;  // after model_ and the counters: destroyed first, it uses them
  PerformanceMonitor monitor_;
  std::mutex drift_mutex_;
  std::vector<std::vector<double>> reference_;
  std::deque<std::vector<double>> window_;
  DriftSummary drift_;
  std::chrono::steady_clock::time_point drift_computed_{};
};
using HostedModel = BasicHostedModel<>;

/// The models of a registry, loaded with `Serializer` (ModelSerializer; see load_served_model). ModelHost
/// is BasicModelHost<ModelSerializer>.
template <class Serializer = ModelSerializer>
class BasicModelHost {
 public:
  /// Opens the registry in `root` (which must hold registry.json) and loads the default version of
  /// every model. A missing registry: InvalidArgument; a model file that cannot be served: FormatError.
  explicit BasicModelHost(const std::filesystem::path& root, ModelHostOptions options = {})
      : options_(std::move(options)) {
    require(std::filesystem::exists(root / "registry.json"), "ModelHost",
            [&] { return "'" + root.string() + "' is not a model registry (no registry.json)"; });
    require(options_.max_batch_size >= 1, "ModelHost", "max_batch_size must be >= 1");
    registry_ = std::make_unique<ModelVersionManager>(root);
    if (options_.cache_size > 0) {
      LRUCacheBackend::Options cache;
      cache.capacity = options_.cache_size;
      cache_backend_ = std::make_shared<LRUCacheBackend>(cache);
    }
    for (const std::string& model : registry_->models())
      if (!registry_->versions(model).empty()) (void)resolve(model, "");
  }

  [[nodiscard]] ModelVersionManager& registry() noexcept { return *registry_; }
  [[nodiscard]] const ModelHostOptions& options() const noexcept { return options_; }

  /// The version `version` names ("" → champion or latest; digits → number; else alias), loaded. A name
  /// resolved before is answered from a table valid for one registry generation: one stat(2) of
  /// registry.json a request instead of a walk of the registry's state (a commit invalidates the table).
  [[nodiscard]] std::shared_ptr<HostedModel> resolve(const std::string& model, const std::string& version) {
    const std::uint64_t generation = registry_->generation();
    {
      std::lock_guard lock(mutex_);
      if (generation != resolved_generation_) {
        resolved_.clear();
        resolved_generation_ = generation;
      }
      if (const auto it = resolved_.find({model, version}); it != resolved_.end()) return it->second;
    }
    std::shared_ptr<HostedModel> hosted = resolve_in_registry(model, version);
    std::lock_guard lock(mutex_);
    // Only names that resolved are kept, and at most max_resolved of them (the rest is resolved each time).
    if (generation == resolved_generation_ && resolved_.size() < max_resolved)
      resolved_.emplace(std::pair{model, version}, hosted);
    return hosted;
  }

  /// Every loaded version.
  [[nodiscard]] std::vector<std::shared_ptr<HostedModel>> loaded() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<HostedModel>> all;
    for (const auto& [key, m] : loaded_) all.push_back(m);
    return all;
  }

 private:
  std::shared_ptr<HostedModel> resolve_in_registry(const std::string& model, const std::string& version) {
    if (!registry_->has_model(model) || registry_->versions(model).empty())
      throw InferenceError(404, "unknown model '" + model + "'");
    std::int64_t v = 0;
    if (version.empty()) {
      const auto champion = registry_->alias(model, "champion");
      v = champion ? *champion : registry_->latest_version(model);
    } else if (version.find_first_not_of("0123456789") == std::string::npos) {
      v = detail::parse_version_key(version);
      const auto versions = registry_->versions(model);
      if (v == 0 || std::find(versions.begin(), versions.end(), v) == versions.end())
        throw InferenceError(404, "model '" + model + "' has no version " + version);
    } else {
      const auto target = registry_->alias(model, version);
      if (!target) throw InferenceError(404, "model '" + model + "' has no version or alias '" + version + "'");
      v = *target;
    }
    return load(model, v);
  }

  std::shared_ptr<HostedModel> load(const std::string& model, std::int64_t version) {
    const std::pair<std::string, std::int64_t> key{model, version};
    {
      std::lock_guard lock(mutex_);
      if (const auto it = loaded_.find(key); it != loaded_.end()) return it->second;
    }
    // Loaded outside the lock (a large model must not stall the others); a racing loader's copy is dropped.
    const ModelVersion mv = registry_->get(model, version);
    std::filesystem::path file;
    for (const ArtifactInfo& a : mv.artifacts) {
      if (a.path == "model.safetensors") file = mv.folder / a.path;
      if (file.empty() && a.path.ends_with(".safetensors")) file = mv.folder / a.path;
    }
    if (file.empty())
      throw FormatError("ModelHost: model '" + model + "' version " + std::to_string(version) +
                        " has no .safetensors artifact");
    auto hosted =
        std::make_shared<HostedModel>(model, version, load_served_model<Serializer>(file), options_, cache_backend_);
    std::lock_guard lock(mutex_);
    return loaded_.emplace(key, std::move(hosted)).first->second;
  }

  ModelHostOptions options_;
  std::unique_ptr<ModelVersionManager> registry_;
  std::shared_ptr<CacheBackend> cache_backend_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::int64_t>, std::shared_ptr<HostedModel>> loaded_;
  static constexpr std::size_t max_resolved = 1024;
  std::uint64_t resolved_generation_ = 0;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<HostedModel>> resolved_;  // (model, version) names
};

using ModelHost = BasicModelHost<>;

}  // namespace aimastery
