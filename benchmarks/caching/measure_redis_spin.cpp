// Latency and CPU time of RedisCache::get for the three ways of waiting for a reply (busy_poll = 0, the
// default adaptive spin, a spin on every wait), against the server at PORT (docs/benchmarks.md, "Redis:
// spinning while it pays"; benchmarks/caching/redis_spin.sh starts a local server and a delaying proxy).
//
//   measure_redis_spin PORT [GETS] [THREADS] [sleep|adaptive|spin]
//
// Prints one line per setting: the median latency of GETS gets (default 5000) of one 3-byte value, the
// throughput, and the process's CPU time per get. With THREADS (default 1), that many threads each make
// GETS gets at once, on a pool of as many connections: more threads than cores, and the spins compete with
// the server for the cores. A fourth argument runs only that setting (redis_spin.sh starts several processes
// at once with it: spins of different processes, which the count of waiting threads does not see).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "aimastery/production/caching/redis_cache.hpp"

namespace {

double process_cpu_microseconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: measure_redis_spin PORT [GETS] [THREADS] [sleep|adaptive|spin]\n");
    return 2;
  }
  using std::chrono::microseconds;
  const int port = std::stoi(argv[1]);
  const int gets = argc > 2 ? std::stoi(argv[2]) : 5000;
  const int threads = argc > 3 ? std::stoi(argv[3]) : 1;
  const std::string only = argc > 4 ? argv[4] : "";
  struct Setting {
    const char* key;
    const char* name;
    microseconds busy_poll;
    bool adaptive;
  };
  for (const Setting setting : {Setting{"sleep", "busy_poll = 0 (sleep at once)", microseconds(0), true},
                                Setting{"adaptive", "busy_poll = 50 us, adaptive (default)", microseconds(50), true},
                                Setting{"spin", "busy_poll = 50 us on every wait", microseconds(50), false}}) {
    if (!only.empty() && only != setting.key) continue;
    aimastery::RedisCacheOptions options;
    options.port = port;
    options.busy_poll = setting.busy_poll;
    options.adaptive_busy_poll = setting.adaptive;
    options.pool_size = static_cast<std::size_t>(threads);
    aimastery::RedisCache cache(options);
    cache.set("measure_redis_spin", "xxx");
    std::vector<std::vector<double>> latency(static_cast<std::size_t>(threads),
                                             std::vector<double>(static_cast<std::size_t>(gets)));
    const double cpu_before = process_cpu_microseconds();
    const auto wall_start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (auto& mine : latency)
      workers.emplace_back([&cache, &mine] {
        for (double& l : mine) {
          const auto start = std::chrono::steady_clock::now();
          if (!cache.get("measure_redis_spin")) std::abort();
          l = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
        }
      });
    for (auto& worker : workers) worker.join();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    const double cpu = process_cpu_microseconds() - cpu_before;
    std::vector<double> all;
    for (const auto& mine : latency) all.insert(all.end(), mine.begin(), mine.end());
    const std::size_t total = all.size();
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(total / 2), all.end());
    std::printf("%-40s median %7.1f us   %8.0f gets/s   CPU %6.1f us per get\n", setting.name, all[total / 2],
                static_cast<double>(total) / wall, cpu / static_cast<double>(total));
  }
  return 0;
}
