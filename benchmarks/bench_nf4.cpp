// NF4 dequantisation bandwidth against memcpy of the same output size, and quantisation speed.
// bytes_per_second is the output written (4 bytes a value): dequantisation should reach at least half of
// memcpy's rate on the same size.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/llm/fine_tuning/nf4.hpp"

namespace {

aimastery::Matrix<float> normal_matrix(aimastery::Index rows, aimastery::Index cols) {
  aimastery::RandomEngine rng(42);
  aimastery::Matrix<float> W(rows, cols);
  for (aimastery::Index i = 0; i < W.size(); ++i)
    W.data()[i] = static_cast<float>(aimastery::detail::standard_normal(rng));
  return W;
}

void BM_memcpy_output(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0)) * static_cast<std::size_t>(state.range(0));
  std::vector<float> source(n, 1.0f), target(n);
  for (auto _ : state) {
    std::memcpy(target.data(), source.data(), n * sizeof(float));
    benchmark::DoNotOptimize(target.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n * sizeof(float)));
}

void BM_dequantize_nf4(benchmark::State& state) {
  const auto q = aimastery::quantize_nf4(normal_matrix(state.range(0), state.range(0)), {.blocksize = 64});
  std::vector<float> out(static_cast<std::size_t>(q.size()));
  for (auto _ : state) {
    aimastery::dequantize_nf4_range(q, 0, q.size(), out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * q.size() * 4);
}

void BM_quantize_nf4(benchmark::State& state) {
  const auto W = normal_matrix(state.range(0), state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(aimastery::quantize_nf4(W, {.blocksize = 64, .double_quant = true}));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * W.size() * 4);
}

}  // namespace

BENCHMARK(BM_memcpy_output)->Arg(1024)->Arg(4096);
BENCHMARK(BM_dequantize_nf4)->Arg(1024)->Arg(4096);
BENCHMARK(BM_quantize_nf4)->Arg(1024)->Arg(4096);
