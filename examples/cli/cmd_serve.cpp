// aimastery serve --registry DIR [--host 127.0.0.1] [--port N] [--model-dir MiniLM] [--max-batch 32]
//                 [--max-delay-ms 2] [--cache-size N] [--threads N] [--max-connections N] [--max-body-bytes N]
//                 [--max-buffered-bytes N] [--max-in-flight N] [--max-queue-wait-ms 0] [--drain-seconds 10]
// The models of a registry behind the Open Inference Protocol (KServe v2), OpenAI /v1/embeddings (with
// --model-dir), Prometheus /metrics and a status page at / (production/serving/inference_server.hpp).
// Prints "listening on http://HOST:PORT" on stdout once it accepts connections (--port 0: a free port);
// SIGTERM or SIGINT drains the requests in flight and exits 0, a second signal exits at once. The soft
// limit on open descriptors is raised to fit --max-connections (within the hard limit; a warning when it
// does not fit).
#include <aimastery/production/serving/descriptor_limit.hpp>
#include <aimastery/production/serving/inference_server.hpp>

#include <iostream>
#include <memory>
#include <string>

#include "command.hpp"

namespace {

struct ServeOptions {
  std::string registry, host = "127.0.0.1", model_dir;
  int port = 8000;
  long max_batch = 32, cache_size = 0, threads = 8, max_connections = 10000, max_body_bytes = 8 << 20,
       max_buffered_bytes = 1L << 30, max_in_flight = 1024, max_queue_wait_ms = 0;
  double max_delay_ms = 2, drain_seconds = 10;
};

int run_serve(const ServeOptions& o) {
  aimastery::InferenceServerOptions options;
  options.host = o.host;
  options.port = o.port;
  options.threads = static_cast<std::size_t>(o.threads);
  options.max_connections = static_cast<std::size_t>(o.max_connections);
  options.max_body_bytes = static_cast<std::size_t>(o.max_body_bytes);
  options.max_buffered_bytes = static_cast<std::size_t>(o.max_buffered_bytes);
  options.max_in_flight = static_cast<std::size_t>(o.max_in_flight);
  options.max_queue_wait = std::chrono::milliseconds(o.max_queue_wait_ms);
  options.embedding_model_dir = o.model_dir;
  options.models.max_batch_size = o.max_batch;
  options.models.max_delay = std::chrono::microseconds(static_cast<long>(o.max_delay_ms * 1000));
  options.models.cache_size = static_cast<std::size_t>(o.cache_size);
  options.shutdown.install_signal_handlers = true;
  options.shutdown.drain_timeout = std::chrono::milliseconds(static_cast<long>(o.drain_seconds * 1000));
  // A descriptor per connection, and a few for the listener, the poller and the registry's files.
  const std::size_t descriptors_wanted = options.max_connections + 64;
  const aimastery::DescriptorLimit limit = aimastery::raise_descriptor_limit(descriptors_wanted);
  if (limit.soft < descriptors_wanted)
    std::cerr << "aimastery serve: warning: --max-connections " << options.max_connections << " needs about "
              << descriptors_wanted << " open descriptors, and the limit is " << limit.soft << " (hard limit "
              << limit.hard << "); more connections wait until others close (raise it: ulimit -n)\n";
  aimastery::InferenceServer server(o.registry, options);
  server.start();
  std::cout << "listening on " << server.url() << std::endl;
  server.graceful_shutdown().wait_for_shutdown();
  const aimastery::ShutdownReport report = server.shutdown();
  std::cerr << "aimastery serve: signal " << report.signal << ", drained " << (report.drained ? "all" : "not all")
            << " requests in " << report.drain_seconds << " s (" << report.abandoned << " abandoned)\n";
  return report.drained ? 0 : 1;
}

const cli::CommandRegistration serve_command(
    "serve", "serve a model registry over HTTP (KServe v2, OpenAI embeddings, Prometheus)",
    [](CLI::App& app) -> cli::Action {
      auto o = std::make_shared<ServeOptions>();
      app.add_option("--registry", o->registry, "model registry folder (ModelVersionManager)")
          ->required()
          ->check(CLI::ExistingDirectory);
      app.add_option("--host", o->host, "address to listen on")->capture_default_str();
      app.add_option("--port", o->port, "port; 0 picks a free one")->check(CLI::Range(0, 65535))->capture_default_str();
      app.add_option("--model-dir", o->model_dir, "all-MiniLM-L6-v2 folder for POST /v1/embeddings")
          ->check(CLI::ExistingDirectory);
      app.add_option("--max-batch", o->max_batch, "rows per batched prediction; 1 turns batching off")
          ->check(cli::at_least(1))
          ->capture_default_str();
      app.add_option("--max-delay-ms", o->max_delay_ms, "longest wait of a request for a batch")
          ->check(CLI::Range(0.0, 1000.0))
          ->capture_default_str();
      app.add_option("--cache-size", o->cache_size, "predictions (rows) kept in the cache; 0 turns it off")
          ->check(cli::at_least(0))
          ->capture_default_str();
      app.add_option("--threads", o->threads, "HTTP worker threads")
          ->check(CLI::Range(1L, static_cast<long>(aimastery::max_http_threads)))
          ->capture_default_str();
      app.add_option("--max-connections", o->max_connections, "open connections at once; one more gets 503")
          ->check(cli::at_least(1))
          ->capture_default_str();
      app.add_option("--max-body-bytes", o->max_body_bytes, "larger request bodies get 413")
          ->check(cli::at_least(1))
          ->capture_default_str();
      app.add_option("--max-buffered-bytes", o->max_buffered_bytes,
                     "request bytes held for all connections at once; beyond, requests get 503")
          ->check(cli::at_least(1))
          ->capture_default_str();
      app.add_option("--max-in-flight", o->max_in_flight, "requests waiting for a worker; one more gets 503")
          ->check(cli::at_least(1))
          ->capture_default_str();
      app.add_option("--max-queue-wait-ms", o->max_queue_wait_ms,
                     "longest wait of a request for a worker; longer gets 503 (0: no bound)")
          ->check(cli::at_least(0))
          ->capture_default_str();
      app.add_option("--drain-seconds", o->drain_seconds, "how long SIGTERM waits for requests in flight")
          ->check(CLI::Range(0.0, 3600.0))
          ->capture_default_str();
      return [o] { return run_serve(*o); };
    });

}  // namespace
