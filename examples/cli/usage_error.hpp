#pragma once
// The one error type of the `aimastery` tool's own: a mistake on the command line.
#include <stdexcept>

namespace cli {

/// A user mistake on the command line: reported as one line on stderr, exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace cli
