#pragma once
/// \file
/// Serving the library's models (docs/deployment.md, "Serving"): the Open Inference Protocol (KServe v2)
/// and OpenAI embeddings codecs, models of any kind behind one interface, a registry's models hosted with
/// a prediction cache, dynamic batching and drift statistics, Prometheus metrics and the status page.
///
/// The HTTP server itself, `InferenceServer` (sockets and threads, on the HTTP/1.1 layer of
/// http_server.hpp), is not included here: include aimastery/production/serving/inference_server.hpp (and
/// descriptor_limit.hpp to raise the limit on open descriptors for its connections). A
/// file that also includes cpp-httplib's <httplib.h> (a client, say) does so after the aimastery headers
/// (its <resolv.h> defines a macro `_res` that clashes with Eigen).

#include "aimastery/production/serving/dynamic_batcher.hpp"
#include "aimastery/production/serving/embeddings_protocol.hpp"
#include "aimastery/production/serving/inference_error.hpp"
#include "aimastery/production/serving/inference_protocol.hpp"
#include "aimastery/production/serving/model_host.hpp"
#include "aimastery/production/serving/served_model.hpp"
#include "aimastery/production/serving/serving_metrics.hpp"
#include "aimastery/production/serving/status_page.hpp"
