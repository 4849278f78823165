// scaled_dot_product_attention forward, float32, batch 1, 8 heads, head_dim 64, sequence 512 / 2048 / 4096,
// plain (one tile: the whole score matrix) and tiled (online softmax) paths, 1 and 2 OpenMP threads.
// Counter GFLOP/s = 4·heads·n²·d / time (QKᵀ and PV, one multiply and one add per term).
// The PyTorch comparison (same shapes, same run) is benchmarks/peers/tasks_attention.py.
#include <benchmark/benchmark.h>

#include <random>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "aimastery/llm/attention/scaled_dot_product_attention.hpp"

namespace {

aimastery::Tensor<float> random_tensor(aimastery::Index seq, std::mt19937_64& rng) {
  aimastery::Tensor<float> t({1, 8, seq, 64});
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (aimastery::Index i = 0; i < t.size(); ++i) t.data()[i] = u(rng);
  return t;
}

void BM_sdpa_forward(benchmark::State& state, aimastery::AttentionAlgorithm algorithm) {
  const aimastery::Index seq = state.range(0);
#if defined(_OPENMP)
  omp_set_num_threads(static_cast<int>(state.range(1)));
#endif
  std::mt19937_64 rng(7);
  const auto Q = random_tensor(seq, rng), K = random_tensor(seq, rng), V = random_tensor(seq, rng);
  const aimastery::AttentionOptions options{.algorithm = algorithm};
  for (auto _ : state) {
    auto out = aimastery::scaled_dot_product_attention(Q, K, V, {}, options);
    benchmark::DoNotOptimize(out.output.data());
  }
  const double flops = 4.0 * 8.0 * static_cast<double>(seq) * static_cast<double>(seq) * 64.0;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_sdpa_backward(benchmark::State& state) {
  const aimastery::Index seq = state.range(0);
#if defined(_OPENMP)
  omp_set_num_threads(static_cast<int>(state.range(1)));
#endif
  std::mt19937_64 rng(7);
  const auto Q = random_tensor(seq, rng), K = random_tensor(seq, rng), V = random_tensor(seq, rng);
  const auto G = random_tensor(seq, rng);
  const auto forward = aimastery::scaled_dot_product_attention(Q, K, V);
  for (auto _ : state) {
    auto grads = aimastery::scaled_dot_product_attention_backward(G, Q, K, V, forward);
    benchmark::DoNotOptimize(grads.query.data());
  }
}

}  // namespace

BENCHMARK_CAPTURE(BM_sdpa_forward, plain, aimastery::AttentionAlgorithm::plain)
    ->ArgsProduct({{512, 2048, 4096}, {1, 2}})
    ->ArgNames({"seq", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_sdpa_forward, tiled, aimastery::AttentionAlgorithm::tiled)
    ->ArgsProduct({{512, 2048, 4096}, {1, 2}})
    ->ArgNames({"seq", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_sdpa_backward)
    ->ArgsProduct({{512, 2048}, {1, 2}})
    ->ArgNames({"seq", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
