#pragma once
/// \file
/// MPI return codes as aimastery exceptions. Every communicator the library makes has the error handler
/// MPI_ERRORS_RETURN, so a failing call returns its code instead of aborting the job; check_mpi turns a
/// code other than MPI_SUCCESS into a ConnectionError whose message names the call and carries MPI's own
/// text ("MPI_Allreduce failed: MPI_ERR_TRUNCATE: message truncated (error class 15)").

#include <mpi.h>

#include <string>

#include "aimastery/core/errors.hpp"

namespace aimastery::detail {

/// MPI's description of an error code.
inline std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "unknown MPI error " + std::to_string(code);
  int error_class = code;
  MPI_Error_class(code, &error_class);
  return std::string(text, static_cast<std::size_t>(length)) + " (error class " + std::to_string(error_class) + ")";
}

/// Throws ConnectionError("<call> failed: <MPI's text>") unless code is MPI_SUCCESS.
inline void check_mpi(int code, const char* call) {
  if (code != MPI_SUCCESS) [[unlikely]]
    throw ConnectionError(std::string(call) + " failed: " + mpi_error_text(code));
}

}  // namespace aimastery::detail
