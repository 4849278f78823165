#pragma once
/// \file
/// InferenceError: a request the server refuses, with the HTTP status the protocol gives it.
///
///   400  malformed JSON, a tensor of the wrong datatype or shape, a field of the wrong type
///   404  an unknown model, version or alias
///   413  a body or tensor larger than the server's limits
///   503  the server is shutting down or has too many requests in flight
///
/// It derives from InvalidArgument (a caller's mistake), so code that does not know about HTTP still
/// catches it; the server answers {"error": what()} with `status`, as the Open Inference Protocol asks.

#include <string>

#include "aimastery/core/errors.hpp"

namespace aimastery {

struct InferenceError : InvalidArgument {
  InferenceError(int http_status, const std::string& message) : InvalidArgument(message), status(http_status) {}
  int status;
};

}  // namespace aimastery
