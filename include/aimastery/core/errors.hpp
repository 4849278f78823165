#pragma once
/// \file
/// The exception types of aimastery, and the internal assertion macro.
///
/// A user mistake throws, naming the function and what was wrong:
///   InvalidArgument   bad shapes, empty data, NaN/Inf, out-of-range options     (std::invalid_argument)
///   NotFittedError    predict/transform before fit                              (std::logic_error)
///   FormatError       a malformed, truncated or hostile file or message         (std::runtime_error)
///   ConnectionError   Redis or network failures                                 (std::runtime_error)
/// Numerical non-convergence is not an exception: it is reported in the result (`converged`).

#include <stdexcept>
#include <string>

namespace aimastery {

struct InvalidArgument : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct NotFittedError : std::logic_error {
  using std::logic_error::logic_error;
};

struct FormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ConnectionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {

[[noreturn]] inline void assertion_failed(const char* expr, const char* file, int line) {
  throw std::logic_error(std::string("aimastery internal assertion failed: ") + expr + " at " + file + ":" +
                         std::to_string(line));
}

}  // namespace detail
}  // namespace aimastery

/// Internal invariants (not user mistakes): checked when AIMASTERY_ENABLE_ASSERTS is set (Debug and the
/// sanitizer builds), compiled out otherwise.
#if defined(AIMASTERY_ENABLE_ASSERTS) && AIMASTERY_ENABLE_ASSERTS
#define AIMASTERY_ASSERT(expr) \
  ((expr) ? static_cast<void>(0) : ::aimastery::detail::assertion_failed(#expr, __FILE__, __LINE__))
#else
#define AIMASTERY_ASSERT(expr) static_cast<void>(0)
#endif
