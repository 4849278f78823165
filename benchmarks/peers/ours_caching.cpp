// The aimastery side of the caching peers (benchmarks/peers/tasks_caching.py), against a redis-server that
// the task file starts:
//   batch_get PORT KEYS      seconds per key of get_many(KEYS keys) (one MGET), best of 5 runs of 200 batches
//   single_get_p50 PORT N [BUSY_POLL_US]
//                            median latency in seconds of N single gets on one connection (RedisCacheOptions::
//                            busy_poll in microseconds; without it the library's default)

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "peer_common.hpp"

#if defined(AIMASTERY_HAVE_REDIS)
#include "aimastery/production/caching/redis_cache.hpp"

namespace {

using aimastery::RedisCache;
using aimastery::RedisCacheOptions;
using aimastery::peers::Args;

RedisCacheOptions options_for(const Args& args) {
  RedisCacheOptions o;
  o.port = std::stoi(args.at(0));
  o.key_prefix = "peer:";
  o.pool_size = 1;
  o.command_timeout = std::chrono::milliseconds(5000);
  return o;
}

nlohmann::json batch_get(const Args& args) {
  RedisCache cache(options_for(args));
  const std::size_t n = std::stoul(args.at(1));
  std::vector<std::pair<std::string, std::string>> items;
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < n; ++i) {
    keys.push_back("key:" + std::to_string(i));
    items.emplace_back(keys.back(), "xxx");  // redis-benchmark's default 3-byte value
  }
  cache.set_many(items);
  constexpr int batches = 200;
  std::size_t found = 0;
  const double seconds = aimastery::peers::best_seconds(5, [&] {
    for (int b = 0; b < batches; ++b) {
      const auto values = cache.get_many(keys);
      found += static_cast<std::size_t>(
          std::count_if(values.begin(), values.end(), [](const auto& v) { return v.has_value(); }));
    }
  });
  return {{"seconds", seconds / (batches * static_cast<double>(n))}, {"keys", n}, {"found", found}};
}

nlohmann::json single_get_p50(const Args& args) {
  RedisCacheOptions options = options_for(args);
  if (args.size() > 2) options.busy_poll = std::chrono::microseconds(std::stol(args.at(2)));
  RedisCache cache(options);
  const int n = std::stoi(args.at(1));
  cache.set("key:single", "xxx");
  for (int i = 0; i < 1000; ++i) cache.get("key:single");  // warm up
  std::vector<double> latencies(static_cast<std::size_t>(n));
  for (auto& latency : latencies) {
    const auto t0 = std::chrono::steady_clock::now();
    auto value = cache.get("key:single");
    latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!value) throw std::runtime_error("single_get_p50: the key vanished");
  }
  std::nth_element(latencies.begin(), latencies.begin() + n / 2, latencies.end());
  return {{"seconds", latencies[static_cast<std::size_t>(n / 2)]}, {"gets", n}};
}

}  // namespace

int main(int argc, char** argv) {
  return aimastery::peers::run_task(argc, argv, {{"batch_get", batch_get}, {"single_get_p50", single_get_p50}});
}

#else

int main(int argc, char** argv) {
  // Built without hiredis: there is no Redis task to run.
  return aimastery::peers::run_task(argc, argv, {});
}

#endif
