#pragma once
// Timing for the classical peers: the best wall time and the best process CPU time (all threads) of
// `repeat` runs. On a shared machine the CPU time of a single-threaded run is the steadier figure; the wall
// time is what run.py's ratio uses.

#include <ctime>
#include <functional>

#include "peer_common.hpp"

namespace aimastery::peers {

struct Timing {
  double seconds = 0;      ///< best wall time
  double cpu_seconds = 0;  ///< best CPU time of the process (user + system, every thread)
};

inline Timing best_timing(int repeat, const std::function<void()>& work) {
  Timing best{std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
  for (int r = 0; r < std::max(repeat, 1); ++r) {
    const std::clock_t c0 = std::clock();
    const double wall = best_seconds(1, work);
    const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    best.seconds = std::min(best.seconds, wall);
    best.cpu_seconds = std::min(best.cpu_seconds, cpu);
  }
  return best;
}

}  // namespace aimastery::peers
