// The C++ side of the attention rows of benchmarks/peers: scaled_dot_product_attention forward, float32,
// (batch 1, 8 heads, seq, head_dim 64), Q, K, V uniform in [-1, 1) from a fixed seed.
//
//   peer_ours_llm_attention sdpa <seq> <threads> <plain|tiled|automatic> <repeat>
//   → {"seconds": best wall time of one forward, "peak_extra_bytes": growth of the peak resident set over
//      the inputs during the first forward, "threads", "algorithm"}
//
// The thread count is OpenMP's (omp_set_num_threads); the peak comes from /proc/self/status (VmHWM), so
// each configuration is measured in its own process.
#include <cstdint>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "aimastery/llm/attention/scaled_dot_product_attention.hpp"
#include "peer_common.hpp"

namespace {

/// A field of /proc/self/status in bytes (VmHWM: peak resident set, VmRSS: current).
long long status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string key;
  long long kb = 0;
  std::string unit;
  while (in >> key) {
    if (key == field + ":") {
      in >> kb >> unit;
      return kb * 1024;
    }
    std::getline(in, unit);
  }
  return -1;
}

aimastery::Tensor<float> random_tensor(aimastery::Index seq, std::mt19937_64& rng) {
  aimastery::Tensor<float> t({1, 8, seq, 64});
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (aimastery::Index i = 0; i < t.size(); ++i) t.data()[i] = u(rng);
  return t;
}

nlohmann::json sdpa(const aimastery::peers::Args& args) {
  if (args.size() != 4) throw std::invalid_argument("expected: sdpa <seq> <threads> <plain|tiled|automatic> <repeat>");
  const aimastery::Index seq = std::stol(args[0]);
  const int threads = std::stoi(args[1]);
  const std::string& algorithm = args[2];
  const int repeat = std::stoi(args[3]);
#if defined(_OPENMP)
  omp_set_num_threads(threads);
#endif
  aimastery::AttentionOptions options;
  if (algorithm == "plain")
    options.algorithm = aimastery::AttentionAlgorithm::plain;
  else if (algorithm == "tiled")
    options.algorithm = aimastery::AttentionAlgorithm::tiled;
  else if (algorithm != "automatic")
    throw std::invalid_argument("unknown algorithm " + algorithm);
  std::mt19937_64 rng(7);
  const auto Q = random_tensor(seq, rng), K = random_tensor(seq, rng), V = random_tensor(seq, rng);
  aimastery::Tensor<float> out_shape_probe;
  const long long before = status_bytes("VmRSS");
  double checksum = 0.0;
  const double first = aimastery::peers::best_seconds(
      1, [&] { checksum = aimastery::scaled_dot_product_attention(Q, K, V, {}, options).output.matrix().sum(); });
  const long long peak = status_bytes("VmHWM");
  const double best =
      std::min(first, aimastery::peers::best_seconds(repeat, [&] {
                 checksum += aimastery::scaled_dot_product_attention(Q, K, V, {}, options).output.matrix().sum();
               }));
  return {{"seconds", best},
          {"peak_extra_bytes", peak - before},
          {"threads", threads},
          {"algorithm", algorithm},
          {"checksum", checksum}};
}

}  // namespace

int main(int argc, char** argv) { return aimastery::peers::run_task(argc, argv, {{"sdpa", sdpa}}); }
