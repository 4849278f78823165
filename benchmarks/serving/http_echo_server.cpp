// An HttpServer whose handler answers every request with a short fixed body: the cost of the HTTP layer
// alone, under a load generator (benchmarks/serving/http_load.sh runs wrk against it).
//
//   http_echo_server PORT_FILE SECONDS [THREADS]
//
// Listens on a free loopback port, writes it to PORT_FILE, serves for SECONDS with THREADS workers
// (default 8), then prints the requests answered and the process's CPU time per request.
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "aimastery/production/serving/http_server.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: http_echo_server PORT_FILE SECONDS [THREADS]\n");
    return 2;
  }
  aimastery::HttpServerOptions options;
  options.threads = argc > 3 ? std::stoul(argv[3]) : 8;
  std::atomic<long> answered{0};
  aimastery::HttpServer server(options, [&](const aimastery::HttpRequest&, aimastery::HttpResponse& response) {
    response.content_type = "application/json";
    response.body = R"({"ok":true})";
    answered.fetch_add(1, std::memory_order_relaxed);
  });
  std::ofstream(argv[1]) << server.port() << '\n';
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(std::stod(argv[2])));
    server.stop();
  });
  server.run();
  stopper.join();
  timespec cpu{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
  const double cpu_us = static_cast<double>(cpu.tv_sec) * 1e6 + static_cast<double>(cpu.tv_nsec) / 1e3;
  std::printf("answered %ld requests, CPU %.1f us per request\n", answered.load(),
              cpu_us / static_cast<double>(std::max(1L, answered.load())));
  return 0;
}
