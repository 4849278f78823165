#pragma once
/// \file
/// InferenceServer: the models of a registry behind HTTP/1.1 (http_server.hpp), in the protocols that
/// existing clients, load balancers and Prometheus speak.
///
///   GET  /v2/health/live                      200 while the process should not be restarted
///   GET  /v2/health/ready                     200 when it may receive traffic (503 once draining)
///   GET  /v2                                  server metadata
///   GET  /v2/models/{name}[/versions/{v}]     model metadata: versions, input and output tensors
///   GET  /v2/models/{name}[/versions/{v}]/ready
///   POST /v2/models/{name}[/versions/{v}]/infer   Open Inference Protocol (inference_protocol.hpp)
///   POST /v1/embeddings                       OpenAI embeddings, when a sentence encoder is loaded
///   GET  /metrics                             Prometheus text format (serving_metrics.hpp)
///   GET  /, /status.json                      the status page and the numbers it polls
///
/// Limits. A body over max_body_bytes is answered 413 before it is parsed; a request that finds
/// max_in_flight others waiting for an HTTP worker (or being answered, with more threads than that) is
/// answered 503 (a load balancer retries elsewhere) rather than queued without bound, and so is one that waited for a
/// worker longer than max_queue_wait (when set: its client has likely given up); at most max_buffered_bytes of
/// requests (and of answers parked unsent) are held for all connections at once, beyond which a request gets 503; the
/// HTTP thread pool has `threads` workers, idle keep-alive connections are closed after keep_alive_seconds, a request
/// must arrive within read_timeout_seconds, and a connection serves at most keep_alive_max_requests requests. The two
/// probes and /metrics are express paths (http_server.hpp): a worker of their own answers them while every other worker
/// is busy with inference, so that a loaded server is not taken for a dead one. Malformed HTTP gets its 4xx from
/// http_request.hpp. Every error is JSON {"error": "..."} with the protocol's status, and the server
/// keeps serving.
///
/// Routing is a walk over the path's segments (no regular expression): a model name is
/// [A-Za-z0-9][A-Za-z0-9._-]*, a version or alias [A-Za-z0-9_-]+. HEAD is answered as GET without a body.
///
/// Graceful shutdown (GracefulShutdown): on SIGTERM/SIGINT (or shutdown()) readiness turns false at
/// once and new requests get 503; the requests in flight finish (until drain_timeout); then the
/// listener stops.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "aimastery/io/json.hpp"
#include "aimastery/llm/attention/sentence_encoder.hpp"
#include "aimastery/production/deployment/graceful_shutdown.hpp"
#include "aimastery/production/deployment/health_checker.hpp"
#include "aimastery/production/serving/embeddings_protocol.hpp"
#include "aimastery/production/serving/http_server.hpp"
#include "aimastery/production/serving/inference_protocol.hpp"
#include "aimastery/production/serving/model_host.hpp"
#include "aimastery/production/serving/serving_metrics.hpp"
#include "aimastery/production/serving/status_page.hpp"

namespace aimastery {

struct InferenceServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  ///< 0: a free port chosen by the system (port() tells which)
  std::size_t threads = 8;
  std::size_t max_connections = 10000;  ///< open at once; one more is answered 503 and closed
  std::size_t max_body_bytes = 8u << 20;
  /// Request and parked answer bytes held for all connections at once (HttpServerOptions); beyond: 503.
  std::size_t max_buffered_bytes = std::size_t(1) << 30;
  /// Requests waiting for an HTTP worker (and, with more threads than this, being answered) at once; one
  /// more is answered 503.
  std::size_t max_in_flight = 1024;
  /// The longest a request waits for an HTTP worker; one that waited longer is answered 503 unanswered by the
  /// model. 0: no bound.
  std::chrono::milliseconds max_queue_wait{0};
  std::size_t keep_alive_max_requests = 10000;
  int keep_alive_seconds = 5;
  int read_timeout_seconds = 5;
  std::string embedding_model_dir = {};  ///< a sentence-transformers folder (all-MiniLM-L6-v2); empty: none
  ModelHostOptions models = {};
  GracefulShutdownOptions shutdown = {.drain_timeout = std::chrono::milliseconds(10000),
                                      .install_signal_handlers = false};
  InferCodecLimits codec = {};
};

/// The server over a registry whose files `Serializer` reads (see load_served_model). InferenceServer is
/// BasicInferenceServer<ModelSerializer>.
template <class Serializer = ModelSerializer>
class BasicInferenceServer {
 public:
  /// Loads the registry's models (and the encoder) and binds the port; throws when either fails.
  BasicInferenceServer(const std::filesystem::path& registry, InferenceServerOptions options = {})
      : options_(std::move(options)), shutdown_(options_.shutdown), started_(std::chrono::steady_clock::now()) {
    require(options_.threads >= 1 && options_.threads <= max_http_threads, "InferenceServer", [&] {
      return "threads must be between 1 and " + std::to_string(max_http_threads) + ", got " +
             std::to_string(options_.threads);
    });
    require(options_.max_connections >= 1, "InferenceServer", "max_connections must be >= 1");
    require(options_.max_buffered_bytes >= 1, "InferenceServer", "max_buffered_bytes must be >= 1");
    require(options_.max_in_flight >= 1, "InferenceServer", "max_in_flight must be >= 1");
    require(options_.max_queue_wait.count() >= 0, "InferenceServer", [&] {
      return "max_queue_wait must be >= 0 ms (0: no bound), got " + std::to_string(options_.max_queue_wait.count()) +
             " ms";
    });
    ModelHostOptions host_options = options_.models;
    host_options.on_batch = [this](const std::string& model, Index rows) { metrics_.record_batch(model, rows); };
    host_ = std::make_unique<BasicModelHost<Serializer>>(registry, host_options);
    if (!options_.embedding_model_dir.empty()) {
      encoder_ = std::make_unique<SentenceEncoder>(SentenceEncoder::load(options_.embedding_model_dir));
      encoder_name_ = std::filesystem::path(options_.embedding_model_dir).filename().string();
      if (encoder_name_.empty())
        encoder_name_ = std::filesystem::path(options_.embedding_model_dir).parent_path().filename().string();
    }
    health_.set_readiness_gate([this] { return shutdown_.accepting(); }, "shutting down");
    HttpServerOptions http;
    http.host = options_.host;
    http.port = options_.port;
    http.threads = options_.threads;
    http.max_connections = options_.max_connections;
    http.max_buffered_bytes = options_.max_buffered_bytes;
    http.limits.max_body_bytes = options_.max_body_bytes;
    http.keep_alive_max_requests = options_.keep_alive_max_requests;
    http.keep_alive_seconds = options_.keep_alive_seconds;
    http.read_timeout_seconds = options_.read_timeout_seconds;
    http.express_paths = {"/v2/health/live", "/v2/health/ready", "/metrics"};
    http.max_queued = options_.max_in_flight;
    http.max_queue_wait = options_.max_queue_wait;
    server_ =
        std::make_unique<HttpServer>(http, [this](const HttpRequest& req, HttpResponse& res) { handle(req, res); });
    shutdown_.add_hook("stop the HTTP listener", [this] { server_->stop(); });
  }
  BasicInferenceServer(const BasicInferenceServer&) = delete;
  BasicInferenceServer& operator=(const BasicInferenceServer&) = delete;
  ~BasicInferenceServer() {
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }

  [[nodiscard]] int port() const noexcept { return server_->port(); }
  [[nodiscard]] std::string url() const { return "http://" + options_.host + ":" + std::to_string(port()); }
  [[nodiscard]] GracefulShutdown& graceful_shutdown() noexcept { return shutdown_; }
  [[nodiscard]] BasicModelHost<Serializer>& models() noexcept { return *host_; }
  [[nodiscard]] ServingMetrics& metrics() noexcept { return metrics_; }

  /// Serves on the calling thread until stop() or shutdown().
  void run() { server_->run(); }
  /// Serves on a background thread; returns once it accepts connections.
  void start() {
    thread_ = std::thread([this] { run(); });
    while (!server_->started()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  /// Stops at once (requests in flight on other connections may be cut).
  void stop() {
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  /// The graceful sequence: refuse new work, drain, stop the listener.
  ShutdownReport shutdown() {
    ShutdownReport report = shutdown_.shutdown();
    if (thread_.joinable()) thread_.join();
    return report;
  }

  /// The body of /status.json.
  [[nodiscard]] JsonValue status() {
    JsonValue::Array models;
    ModelVersionManager& registry = host_->registry();
    const auto loaded = host_->loaded();
    for (const std::string& name : registry.models()) {
      JsonValue::Array versions;
      for (const auto v : registry.versions(name)) versions.emplace_back(v);
      JsonValue::Object aliases;
      for (const auto& [alias, version] : registry.aliases(name)) aliases.push_back({alias, version});
      JsonValue::Array rows;
      for (const auto& h : loaded) {
        if (h->name() != name) continue;
        const PerformanceSnapshot p = h->monitor().snapshot();
        const auto cache = h->cache_stats();
        const DriftSummary drift = h->drift();
        const auto [batches, batch_rows] = h->batch_totals();
        auto number = [](double x) { return std::isfinite(x) ? JsonValue(x) : JsonValue(); };
        rows.push_back(JsonValue::object(
            {{"version", h->version()},
             {"kind", h->model().kind()},
             {"scalar", h->model().scalar()},
             {"n_features", h->model().n_features()},
             {"requests", p.requests_total},
             {"errors", p.errors_total},
             {"latency_p50_ms", number(p.latency_p50 * 1000)},
             {"latency_p99_ms", number(p.latency_p99 * 1000)},
             {"cache_hit_rate", cache ? JsonValue(cache->hit_rate()) : JsonValue()},
             {"cache_hits", cache ? JsonValue(cache->hits) : JsonValue()},
             {"cache_misses", cache ? JsonValue(cache->misses) : JsonValue()},
             {"mean_batch_rows", batches ? JsonValue(double(batch_rows) / double(batches)) : JsonValue()},
             {"drift_share", drift.available ? JsonValue(drift.share_drifted) : JsonValue()},
             {"dataset_drift", drift.dataset_drift}}));
      }
      models.push_back(JsonValue::object({{"name", name},
                                          {"versions", JsonValue::array(std::move(versions))},
                                          {"aliases", JsonValue::object(std::move(aliases))},
                                          {"loaded", JsonValue::array(std::move(rows))}}));
    }
    return JsonValue::object(
        {{"ready", shutdown_.accepting()},
         {"version", std::string(library_version)},
         {"in_flight", in_flight_.load()},
         {"http", http_load_json(server_->load())},
         {"uptime_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()},
         {"models", JsonValue::array(std::move(models))}});
  }

  /// The HTTP layer's refusals, by the option (of InferenceServerOptions) whose limit they met.
  static std::array<std::pair<const char*, std::uint64_t>, 4> refusals_by_limit(const HttpServerLoad& load) {
    return {{{"max_connections", load.refused_connections},
             {"max_in_flight", load.refused_queue_full},
             {"max_queue_wait", load.refused_queue_wait},
             {"max_buffered_bytes", load.refused_buffer_full}}};
  }
  static JsonValue http_load_json(const HttpServerLoad& load) {
    JsonValue::Object refused;
    for (const auto& [limit, count] : refusals_by_limit(load)) refused.push_back({limit, count});
    return JsonValue::object({{"connections", load.connections},
                              {"queued", load.queued},
                              {"refused", JsonValue::object(std::move(refused))}});
  }

  /// The body of /metrics.
  [[nodiscard]] std::string prometheus() {
    PrometheusText out;
    metrics_.write(out);
    const auto loaded = host_->loaded();
    out.family("aimastery_model_info", "gauge", "Loaded model versions (value 1).");
    for (const auto& h : loaded)
      out.sample("aimastery_model_info",
                 {{"model", h->name()}, {"version", std::to_string(h->version())}, {"kind", h->model().kind()}}, 1);
    out.family("aimastery_cache_hits_total", "counter", "Predictions answered from the prediction cache.");
    for (const auto& h : loaded)
      if (const auto c = h->cache_stats())
        out.sample("aimastery_cache_hits_total", {{"model", h->name()}, {"version", std::to_string(h->version())}},
                   static_cast<double>(c->hits));
    out.family("aimastery_cache_misses_total", "counter", "Prediction cache lookups that missed.");
    for (const auto& h : loaded)
      if (const auto c = h->cache_stats())
        out.sample("aimastery_cache_misses_total", {{"model", h->name()}, {"version", std::to_string(h->version())}},
                   static_cast<double>(c->misses));
    std::vector<std::pair<std::shared_ptr<HostedModel>, DriftSummary>> drifts;
    for (const auto& h : loaded) drifts.emplace_back(h, h->drift());
    out.family("aimastery_drift_share", "gauge", "Share of input features whose recent values drifted (KS test).");
    for (const auto& [h, d] : drifts)
      if (d.available)
        out.sample("aimastery_drift_share", {{"model", h->name()}, {"version", std::to_string(h->version())}},
                   d.share_drifted);
    out.family("aimastery_feature_drift_statistic", "gauge", "Per-feature drift statistic (KS D).");
    for (const auto& [h, d] : drifts)
      for (const auto& [feature, value] : d.statistics)
        out.sample("aimastery_feature_drift_statistic",
                   {{"model", h->name()}, {"version", std::to_string(h->version())}, {"feature", feature}}, value);
    const HttpServerLoad load = server_->load();
    out.family("aimastery_http_connections", "gauge", "Open HTTP connections.");
    out.sample("aimastery_http_connections", {}, static_cast<double>(load.connections));
    out.family("aimastery_http_queued_requests", "gauge", "Requests waiting for an HTTP worker.");
    out.sample("aimastery_http_queued_requests", {}, static_cast<double>(load.queued));
    out.family("aimastery_http_refused_total", "counter",
               "Requests answered 503 before reaching a model, by the limit they met.");
    for (const auto& [limit, count] : refusals_by_limit(load))
      out.sample("aimastery_http_refused_total", {{"limit", limit}}, static_cast<double>(count));
    out.family("aimastery_in_flight_requests", "gauge", "Requests being answered.");
    out.sample("aimastery_in_flight_requests", {}, static_cast<double>(in_flight_.load()));
    out.family("aimastery_ready", "gauge", "1 while the server accepts traffic.");
    out.sample("aimastery_ready", {}, shutdown_.accepting() ? 1 : 0);
    return std::move(out.text());
  }

 private:
  using Clock = std::chrono::steady_clock;

  static void send_json(HttpResponse& res, int status, std::string body) {
    res.status = status;
    res.content_type = "application/json";
    res.body = std::move(body);
  }
  static void send_error(HttpResponse& res, int status, const std::string& message) {
    send_json(res, status, JsonValue::object({{"error", message}}).dump());
  }

  /// A request under /v2/models/: {name}[/versions/{version}][/ready | /infer].
  struct ModelRoute {
    enum Action { metadata, ready, infer } action = metadata;
    std::string_view name, version;
  };
  static bool model_route(std::string_view rest, ModelRoute& route) {
    auto segment = [&rest] {
      const std::size_t slash = rest.find('/');
      const std::string_view s = rest.substr(0, slash);
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
      return s;
    };
    auto word = [](std::string_view s, bool name) {
      if (s.empty() || (name && (s[0] == '.' || s[0] == '-' || s[0] == '_'))) return false;
      for (const char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              (name && c == '.')))
          return false;
      return true;
    };
    route.name = segment();
    if (!word(route.name, true)) return false;
    if (rest.starts_with("/versions/")) {
      rest.remove_prefix(10);
      route.version = segment();
      if (!word(route.version, false)) return false;
    }
    if (rest.empty())
      route.action = ModelRoute::metadata;
    else if (rest == "/ready")
      route.action = ModelRoute::ready;
    else if (rest == "/infer")
      route.action = ModelRoute::infer;
    else
      return false;
    return true;
  }

  /// Every request but the probes, /metrics and the status page goes through here: admission (shutdown,
  /// in-flight limit), errors to JSON, metrics. `from_url`: the model label is a name from the URL.
  template <class Handler>
  void guarded(HttpResponse& res, std::string model, bool from_url, Handler&& handler) {
    const auto t0 = Clock::now();
#ifdef _OPENMP
    // Parallelism comes from concurrent requests: a model call on an HTTP thread stays on that thread
    // (otherwise each HTTP thread starts its own OpenMP team, and 64 of them oversubscribe the cores).
    // The batchers' workers do the same (model_host.hpp): a batch is at most max_batch_size rows.
    static thread_local const bool single_threaded = (omp_set_num_threads(1), true);
    (void)single_threaded;
#endif
    auto work = shutdown_.try_begin_work();
    const std::size_t in_flight = in_flight_.fetch_add(1) + 1;
    try {
      if (!work) throw InferenceError(503, "the server is shutting down");
      if (in_flight > options_.max_in_flight) {
        send_error(res, 503, "too many requests in flight (" + std::to_string(options_.max_in_flight) + ")");
        res.retry_after_seconds = 1;
      } else {
        handler();
      }
    } catch (const InferenceError& e) {
      send_error(res, e.status, e.what());
    } catch (const InvalidArgument& e) {
      send_error(res, 400, e.what());
    } catch (const std::exception& e) {
      send_error(res, 500, e.what());
    }
    in_flight_.fetch_sub(1);
    // Names of unknown models come from the URL: one label for all of them keeps the series bounded.
    if (res.status == 404 && from_url && !host_->registry().has_model(model)) model = "_unknown";
    metrics_.record_request(model, res.status, std::chrono::duration<double>(Clock::now() - t0).count());
  }

  JsonValue model_metadata(const std::string& name, const HostedModel& h) {
    const ServedModel& m = h.model();
    JsonValue::Array outputs;
    for (const ServedOutput& o : m.outputs())
      outputs.push_back(
          JsonValue::object({{"name", o.name},
                             {"datatype", o.datatype},
                             {"shape", o.vector ? JsonValue::array({-1}) : JsonValue::array({-1, o.columns})}}));
    JsonValue::Array versions;
    for (const auto v : host_->registry().versions(name)) versions.emplace_back(std::to_string(v));
    return JsonValue::object(
        {{"name", name},
         {"versions", JsonValue::array(std::move(versions))},
         {"platform", "aimastery"},
         {"parameters", JsonValue::object({{"kind", m.kind()}, {"version", std::to_string(h.version())}})},
         {"inputs", JsonValue::array({JsonValue::object({{"name", "input"},
                                                         {"datatype", m.input_datatype()},
                                                         {"shape", JsonValue::array({-1, m.n_features()})}})})},
         {"outputs", JsonValue::array(std::move(outputs))}});
  }

  std::string infer(const HttpRequest& req, const std::string& name, const std::string& version) {
    const std::shared_ptr<HostedModel> hosted = host_->resolve(name, version);
    const auto t0 = Clock::now();
    bool ok = false;
    struct Record {  // the monitor sees every inference, failed or not
      HostedModel& h;
      Clock::time_point t0;
      bool& ok;
      ~Record() { h.monitor().record_request(std::chrono::duration<double>(Clock::now() - t0).count(), ok); }
    } record{*hosted, t0, ok};

    std::optional<std::size_t> header_length;
    if (const auto field = req.field("Inference-Header-Content-Length")) {
      const std::string text(*field);
      std::size_t n = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size())
        throw InferenceError(400, "Inference-Header-Content-Length '" + text + "' is not a number");
      header_length = n;
    }
    const InferRequest request = parse_infer_request(req.body, header_length, options_.codec);
    const ServedModel& m = hosted->model();
    if (request.inputs.size() != 1)
      throw InferenceError(400, "model '" + name + "' takes one input tensor 'input', the request has " +
                                    std::to_string(request.inputs.size()));
    const InferTensor& in = request.inputs.front();
    if (in.name != "input")
      throw InferenceError(400, "model '" + name + "' has one input named 'input', not '" + in.name + "'");
    if (in.datatype != "FP32" && in.datatype != "FP64")
      throw InferenceError(400, "input 'input' has datatype " + in.datatype + "; model '" + name + "' takes " +
                                    m.input_datatype() + " (FP32 and FP64 are accepted)");
    const bool single_row = in.shape.size() == 1;
    if (in.shape.size() > 2 || in.shape.empty() || in.shape.back() != m.n_features()) {
      std::string shape = "[";
      for (std::size_t k = 0; k < in.shape.size(); ++k) shape += (k ? ", " : "") + std::to_string(in.shape[k]);
      throw InferenceError(400, "input 'input' has shape " + shape + "], model '" + name + "' takes [n, " +
                                    std::to_string(m.n_features()) + "]");
    }
    const Index rows = single_row ? 1 : static_cast<Index>(in.shape[0]);
    const Matrix<double> X = Eigen::Map<const Matrix<double>>(in.data.data(), rows, m.n_features());
    for (const std::string& wanted : request.outputs) {
      bool known = false;
      for (const ServedOutput& o : m.outputs()) known = known || o.name == wanted;
      if (!known) throw InferenceError(400, "model '" + name + "' has no output '" + wanted + "'");
    }
    const Matrix<double> Y = hosted->predict(X);

    InferResponse response{name, std::to_string(hosted->version()), request.id, {}};
    for (const ServedOutput& o : m.outputs()) {
      if (!request.outputs.empty() &&
          std::find(request.outputs.begin(), request.outputs.end(), o.name) == request.outputs.end())
        continue;
      InferTensor t{o.name, {}, o.datatype, {}};
      t.shape = o.vector ? std::vector<std::int64_t>{rows} : std::vector<std::int64_t>{rows, o.columns};
      t.data.resize(static_cast<std::size_t>(rows * o.columns));
      for (Index i = 0; i < rows; ++i)
        for (Index c = 0; c < o.columns; ++c) t.data[static_cast<std::size_t>(i * o.columns + c)] = Y(i, o.first + c);
      response.outputs.push_back(std::move(t));
    }
    ok = true;
    return to_json_text(response);
  }

  std::string embeddings(const HttpRequest& req) {
    if (!encoder_) throw InferenceError(404, "no embedding model is loaded (aimastery serve --model-dir)");
    EmbeddingsRequest request = parse_embeddings_request(req.body);
    if (request.model.empty()) request.model = encoder_name_;
    std::size_t tokens = 0;
    for (const auto& text : request.input) tokens += encoder_->tokenizer().encode(text).size();
    Matrix<float> E;
    {
      std::lock_guard lock(encoder_mutex_);
      E = encoder_->encode(request.input);
    }
    return embeddings_response(request, E, tokens);
  }

  /// The routes. The probes answer even while draining (liveness 200, readiness 503 from its gate), so
  /// they are not behind the admission check: a draining server must not be restarted, only taken out of
  /// rotation.
  void handle(const HttpRequest& req, HttpResponse& res) {
    const bool get = req.method == "GET" || req.method == "HEAD", post = req.method == "POST";
    const std::string_view path = req.path;
    if (get && path == "/v2/health/live") {
      const HealthReport r = health_.liveness();
      return send_json(res, r.http_status(), r.to_json().dump());
    }
    if (get && path == "/v2/health/ready") {
      const HealthReport r = health_.readiness();
      return send_json(res, r.http_status(), r.to_json().dump());
    }
    if (get && path == "/v2")
      return guarded(res, "", false, [&] {
        send_json(res, 200,
                  JsonValue::object({{"name", "aimastery"},
                                     {"version", std::string(library_version)},
                                     {"extensions", JsonValue::array({"binary_tensor_data"})}})
                      .dump());
      });
    constexpr std::string_view models = "/v2/models/";
    if (ModelRoute route; path.starts_with(models) && model_route(path.substr(models.size()), route) &&
                          (route.action == ModelRoute::infer ? post : get)) {
      const std::string name(route.name), version(route.version);
      return guarded(res, name, true, [&] {
        switch (route.action) {
          case ModelRoute::infer:
            return send_json(res, 200, infer(req, name, version));
          case ModelRoute::ready:
            (void)host_->resolve(name, version);
            res.status = shutdown_.accepting() ? 200 : 503;
            return;
          case ModelRoute::metadata:
            return send_json(res, 200, model_metadata(name, *host_->resolve(name, version)).dump());
        }
      });
    }
    if (post && path == "/v1/embeddings")
      return guarded(res, "embeddings", false, [&] { send_json(res, 200, embeddings(req)); });
    if (get && path == "/metrics") {
      res.content_type = "text/plain; version=0.0.4; charset=utf-8";
      res.body = prometheus();
      return;
    }
    if (get && path == "/status.json") return send_json(res, 200, status().dump());
    if (get && path == "/") {
      res.content_type = "text/html; charset=utf-8";
      res.body = std::string(status_page_html);
      return;
    }
    send_error(res, 404, "no route " + std::string(req.method) + " " + std::string(path));
  }

  InferenceServerOptions options_;
  GracefulShutdown shutdown_;
  HealthChecker health_;
  ServingMetrics metrics_;
  std::unique_ptr<BasicModelHost<Serializer>> host_;
  std::unique_ptr<SentenceEncoder> encoder_;
  std::string encoder_name_;
  std::mutex encoder_mutex_;
  std::atomic<std::size_t> in_flight_{0};
  Clock::time_point started_;
  std::unique_ptr<HttpServer> server_;  // last but the thread: it calls into everything above
  std::thread thread_;
};

using InferenceServer = BasicInferenceServer<>;

}  // namespace aimastery
