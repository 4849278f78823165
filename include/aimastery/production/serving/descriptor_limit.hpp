#pragma once
/// \file
/// raise_descriptor_limit: makes room for a server's connections in the process's limit on open
/// descriptors (RLIMIT_NOFILE, `ulimit -n`).
///
/// Each connection holds a descriptor. Linux starts most processes with a soft limit of 1024 and a hard
/// limit far above it; past the soft limit, accept fails with EMFILE and HttpServer rests (new
/// connections wait in the listen queue) until a connection closes. A process may raise its own soft
/// limit up to the hard one, as Go programs and nginx's worker_rlimit_nofile do; only the hard limit
/// needs privileges. A library does not do this behind its caller's back: a program that still uses
/// select() (limited to descriptors below FD_SETSIZE, 1024) would break. `aimastery serve` calls it.

#include <sys/resource.h>

#include <algorithm>
#include <cstddef>

namespace aimastery {

/// RLIMIT_NOFILE after raise_descriptor_limit: the soft limit in force and the hard limit above it.
struct DescriptorLimit {
  std::size_t soft = 0;
  std::size_t hard = 0;
};

/// Raises the soft limit on open descriptors to `wanted`, or to the hard limit when that is lower; never
/// lowers it. Returns the limits now in force (soft < wanted: the hard limit, or the kernel's
/// fs.nr_open, stood in the way). Changes the whole process's limit.
inline DescriptorLimit raise_descriptor_limit(std::size_t wanted) noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? static_cast<rlim_t>(wanted)
                                                      : std::min(limit.rlim_max, static_cast<rlim_t>(wanted));
    // Above fs.nr_open the kernel refuses even what the hard limit allows; the limit then stays as it was.
    if (raised.rlim_cur > limit.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  const auto as_size = [](rlim_t value) {
    return value == RLIM_INFINITY ? static_cast<std::size_t>(-1) : static_cast<std::size_t>(value);
  };
  return {as_size(limit.rlim_cur), as_size(limit.rlim_max)};
}

}  // namespace aimastery
