// The Open Inference Protocol (KServe v2) request parser on a large tensor and on the small request of
// the server benchmark (benchmarks/peers/serve_wrk.sh):
//   large    {"id":"1","inputs":[{"name":"input","shape":[1000,1000],"datatype":"FP32","data":[...]}]}
//            10^6 numbers, each a float's shortest text (~11 MB)
//   general  the same with "parameters":{} in the input: a form the shorter path of the common request
//            leaves to the general parser
//   small    the request of serve_wrk.sh (one row of 4 features), parsed 200,000 times
// Each figure is the best of 5 runs: wall time and CPU time (getrusage, user + system) of the process.
// Figures in docs/benchmarks.md ("Production: the inference server").
//
//   measure_infer_parse [numbers]        numbers: a multiple of 1000, default 1000000

#include <sys/resource.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "aimastery/production/serving/inference_protocol.hpp"

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::string large_body(long n, bool general) {
  std::mt19937_64 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::string body = R"({"id":"1","inputs":[{"name":"input","shape":[1000,)" + std::to_string(n / 1000) +
                     R"(],"datatype":"FP32",)" + (general ? R"("parameters":{},)" : "") + R"("data":[)";
  char buffer[32];
  for (long i = 0; i < n; ++i) {
    if (i) body += ',';
    body.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, normal(rng)).ptr);
  }
  return body + "]}]}";
}

template <class F>
void best_of_5(const char* name, std::size_t bytes, long calls, F&& f) {
  double best_wall = 1e300, best_cpu = 1e300;
  for (int run = 0; run < 5; ++run) {
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (long k = 0; k < calls; ++k) f();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_seconds() - c0;
    best_wall = std::min(best_wall, wall);
    best_cpu = std::min(best_cpu, cpu);
  }
  std::printf("%-8s %9zu bytes  %7ld calls  wall %9.3f ms  cpu %9.3f ms  (%.3f us cpu per call)\n", name, bytes, calls,
              best_wall * 1e3, best_cpu * 1e3, best_cpu * 1e6 / static_cast<double>(calls));
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const std::string large = large_body(n, false), general = large_body(n, true);
  const std::string small =
      R"({"id":"1","inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[0.5,-0.25,0.75,0.1]}]})";
  volatile double sink = 0;
  best_of_5("large", large.size(), 1, [&] { sink = sink + aimastery::parse_infer_request(large).inputs[0].data[7]; });
  best_of_5("general", general.size(), 1,
            [&] { sink = sink + aimastery::parse_infer_request(general).inputs[0].data[7]; });
  best_of_5("small", small.size(), 200'000,
            [&] { sink = sink + aimastery::parse_infer_request(small).inputs[0].data[3]; });
  return 0;
}
