#pragma once
/// \file
/// Everything in aimastery, except what needs an optional target: the Redis cache (aimastery::redis;
/// include aimastery/production/caching.hpp with it), the MPI layer (aimastery::mpi;
/// aimastery/distributed.hpp), the OpenAI-compatible chat client (aimastery::httplib;
/// aimastery/llm/rag/openai_chat_generator.hpp) and the inference server (its own threads and sockets;
/// aimastery/production/serving/inference_server.hpp).

#include "aimastery/core/math_operations.hpp"
#include "aimastery/core/probability.hpp"
#include "aimastery/io/csv.hpp"
#include "aimastery/llm/attention.hpp"
#include "aimastery/llm/fine_tuning.hpp"
#include "aimastery/llm/rag.hpp"
#include "aimastery/ml/classical.hpp"
#include "aimastery/ml/deep_learning.hpp"
#include "aimastery/production/caching.hpp"
#include "aimastery/production/deployment.hpp"
#include "aimastery/production/monitoring.hpp"
#include "aimastery/production/serving.hpp"
