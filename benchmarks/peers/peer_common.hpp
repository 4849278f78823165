#pragma once
// The C++ side of benchmarks/peers: each peer_ours_<domain> program takes a task name and its
// arguments, times the work with best_seconds(), and prints one JSON object on stdout (the last line
// is what run.py reads): {"seconds": ..., ...extra fields such as a loss or an accuracy}.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
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

/// User + system CPU seconds of the process so far (all threads): on a shared, loaded machine the CPU
/// time of a single-threaded run is what it would take on an idle core.
inline double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

/// The lines of a text file (the task files run.py writes).
inline std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
  return lines;
}

/// `count` values of type V from a raw little-endian file (NumPy's tofile).
template <class V>
std::vector<V> read_raw(const std::string& path, std::size_t count) {
  std::ifstream in(path, std::ios::binary);
  std::vector<V> out(count);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(count * sizeof(V)));
  if (!in) throw std::runtime_error("cannot read " + std::to_string(count) + " values from " + path);
  return out;
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
