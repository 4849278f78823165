#pragma once
/// \file
/// The seed module `production.deployment`: model files with provenance and a content digest
/// (ModelSerializer) and ONNX export, a crash-safe model registry with deployment strategies, health
/// probes and graceful shutdown (docs/deployment.md).

#include "aimastery/io/atomic_file.hpp"
#include "aimastery/production/deployment/deployment_strategy.hpp"
#include "aimastery/production/deployment/file_lock.hpp"
#include "aimastery/production/deployment/graceful_shutdown.hpp"
#include "aimastery/production/deployment/health_checker.hpp"
#include "aimastery/production/deployment/model_serializer.hpp"
#include "aimastery/production/deployment/model_version_manager.hpp"
#include "aimastery/production/deployment/onnx_export.hpp"
