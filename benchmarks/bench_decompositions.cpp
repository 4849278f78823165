// eigendecomposition against Eigen's SelfAdjointEigenSolver (both compute all eigenvalues and
// eigenvectors), single thread, same flags, same random symmetric n×n matrices; and PCA::fit on a
// digits-sized 1797×64 matrix. Counter GFLOP/s uses the nominal 9·n³ flops of tridiagonalisation plus
// implicit QR with eigenvectors (Golub & Van Loan), the same figure for both sides.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include "aimastery/core/linalg/pca.hpp"
#include "aimastery/core/linalg/symmetric_eigen.hpp"

namespace {

template <class T>
aimastery::Matrix<T> random_symmetric(Eigen::Index n) {
  std::srand(7);
  const aimastery::Matrix<T> g = aimastery::Matrix<T>::Random(n, n);
  return (g + g.transpose()) / T(2);
}

void set_flops(benchmark::State& state, Eigen::Index n) {
  const double flops = 9.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

template <class T>
void BM_aimastery_eigendecomposition(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const aimastery::Matrix<T> A = random_symmetric<T>(n);
  for (auto _ : state) {
    auto eig = aimastery::eigendecomposition(A);
    benchmark::DoNotOptimize(eig.vectors.data());
  }
  set_flops(state, n);
}

template <class T>
void BM_eigen_SelfAdjointEigenSolver(benchmark::State& state) {
  Eigen::setNbThreads(1);
  const Eigen::Index n = state.range(0);
  const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> A = random_symmetric<T>(n);
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>> solver(n);
  for (auto _ : state) {
    solver.compute(A);
    benchmark::DoNotOptimize(solver.eigenvectors().data());
  }
  set_flops(state, n);
}

template <class T>
void BM_aimastery_PCA_fit_1797x64(benchmark::State& state) {
  std::srand(11);
  const aimastery::Matrix<T> X = (aimastery::Matrix<T>::Random(1797, 64).array() + T(1)) * T(8);
  for (auto _ : state) {
    aimastery::PCA<T> pca;
    pca.fit(X);
    benchmark::DoNotOptimize(pca.components().data());
  }
  state.SetItemsProcessed(state.iterations() * X.rows());
}

}  // namespace

BENCHMARK(BM_aimastery_eigendecomposition<double>)
    ->Arg(64)
    ->Arg(128)
    ->Arg(256)
    ->Arg(512)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_eigen_SelfAdjointEigenSolver<double>)
    ->Arg(64)
    ->Arg(128)
    ->Arg(256)
    ->Arg(512)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_aimastery_eigendecomposition<float>)->Arg(64)->Arg(128)->Arg(256)->Arg(512)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_eigen_SelfAdjointEigenSolver<float>)->Arg(64)->Arg(128)->Arg(256)->Arg(512)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_aimastery_PCA_fit_1797x64<double>)->Unit(benchmark::kMillisecond);
