// matrix_multiply against Eigen's product, single thread, same flags, same matrices.
// Counter GFLOP/s = 2·n³ / time (one multiply and one add per term of every C[i,j]).
#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include "aimastery/core/linalg/matmul.hpp"

namespace {

template <class T>
struct Operands {
  aimastery::Matrix<T> A, B, C;
  explicit Operands(Eigen::Index n)
      : A(aimastery::Matrix<T>::Random(n, n)), B(aimastery::Matrix<T>::Random(n, n)), C(n, n) {}
};

void set_flops(benchmark::State& state, Eigen::Index n) {
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

template <class T>
void BM_aimastery_matrix_multiply(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  Operands<T> op(n);
  for (auto _ : state) {
    op.C = aimastery::matrix_multiply(op.A, op.B);
    benchmark::DoNotOptimize(op.C.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, n);
}

template <class T>
void BM_eigen_product(benchmark::State& state) {
  Eigen::setNbThreads(1);
  const Eigen::Index n = state.range(0);
  Operands<T> op(n);
  for (auto _ : state) {
    op.C.noalias() = op.A * op.B;
    benchmark::DoNotOptimize(op.C.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, n);
}

}  // namespace

BENCHMARK(BM_aimastery_matrix_multiply<float>)->RangeMultiplier(2)->Range(256, 2048)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_eigen_product<float>)->RangeMultiplier(2)->Range(256, 2048)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_aimastery_matrix_multiply<double>)->RangeMultiplier(2)->Range(256, 2048)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_eigen_product<double>)->RangeMultiplier(2)->Range(256, 2048)->Unit(benchmark::kMillisecond);
