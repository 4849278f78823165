// Latency and CPU time of RedisCache::get for the three ways of waiting for a reply (busy_poll = 0, the
// default adaptive spin, a spin on every wait), against the server at PORT (docs/benchmarks.md, "Redis:
// spinning while it pays"; benchmarks/caching/redis_spin.sh starts a local server and a delaying proxy).
//
//   measure_redis_spin PORT [GETS]
//
// Prints one line per setting: the median latency of GETS gets (default 5000) of one 3-byte value on one
// connection, and the process's CPU time per get.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
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
    std::fprintf(stderr, "usage: measure_redis_spin PORT [GETS]\n");
    return 2;
  }
  using std::chrono::microseconds;
  const int port = std::stoi(argv[1]);
  const int gets = argc > 2 ? std::stoi(argv[2]) : 5000;
  struct Setting {
    const char* name;
    microseconds busy_poll;
    bool adaptive;
  };
  for (const Setting setting : {Setting{"busy_poll = 0 (sleep at once)", microseconds(0), true},
                                Setting{"busy_poll = 50 us, adaptive (default)", microseconds(50), true},
                                Setting{"busy_poll = 50 us on every wait", microseconds(50), false}}) {
    aimastery::RedisCacheOptions options;
    options.port = port;
    options.busy_poll = setting.busy_poll;
    options.adaptive_busy_poll = setting.adaptive;
    aimastery::RedisCache cache(options);
    cache.set("measure_redis_spin", "xxx");
    std::vector<double> latency(static_cast<std::size_t>(gets));
    const double cpu_before = process_cpu_microseconds();
    for (double& l : latency) {
      const auto start = std::chrono::steady_clock::now();
      if (!cache.get("measure_redis_spin")) return 1;
      l = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    }
    const double cpu = process_cpu_microseconds() - cpu_before;
    std::nth_element(latency.begin(), latency.begin() + gets / 2, latency.end());
    std::printf("%-40s median %7.1f us   CPU %6.1f us per get\n", setting.name, latency[gets / 2], cpu / gets);
  }
  return 0;
}
