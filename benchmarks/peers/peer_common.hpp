#pragma once
// The C++ side of benchmarks/peers: each peer_ours_<domain> program takes a task name and its
// arguments, times the work with best_seconds(), and prints one JSON object on stdout (the last line
// is what run.py reads): {"seconds": ..., ...extra fields such as a loss or an accuracy}.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace aimastery::peers {

/// The best (smallest) wall time of `repeat` runs of `work`, in seconds.
inline double best_seconds(int repeat, const std::function<void()>& work) {
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < std::max(repeat, 1); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    work();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  return best;
}

using Args = std::vector<std::string>;
using TaskFunction = std::function<nlohmann::json(const Args&)>;

/// main() of a peer_ours program: dispatches argv[1] to the task of that name with argv[2..].
inline int run_task(int argc, char** argv, const std::map<std::string, TaskFunction>& tasks) {
  if (argc < 2 || !tasks.count(argv[1])) {
    std::cerr << "usage: " << argv[0] << " TASK [ARGS...]; tasks:";
    for (const auto& [name, _] : tasks) std::cerr << ' ' << name;
    std::cerr << '\n';
    return 2;
  }
  try {
    const nlohmann::json result = tasks.at(argv[1])(Args(argv + 2, argv + argc));
    std::cout << result.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ' ' << argv[1] << ": " << e.what() << '\n';
    return 1;
  }
}

}  // namespace aimastery::peers
