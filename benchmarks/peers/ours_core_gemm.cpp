// The C++ side of the GEMM rows of benchmarks/peers: both matrix_multiply and Eigen's product (the peer,
// single-threaded, same -O3 -march=native flags) are timed here on the same n×n matrices.
//
//   peer_ours_core_gemm gemm <float|double> <n> <repeat>
//   → {"seconds": ours, "eigen_seconds": Eigen's (best CPU time of one product), "wall_seconds",
//      "eigen_wall_seconds", "gflops", "eigen_gflops", "max_abs_difference"}   (single thread)
//   peer_ours_core_gemm gemm_threads <float|double> <n> <repeat>
//   → {"seconds": best wall time of one matrix_multiply_to, "gflops", "threads"} with OMP_NUM_THREADS
//      threads (the peer is NumPy's OpenBLAS, timed by tasks_core_gemm.py with as many threads)
#include <Eigen/Core>

#include <algorithm>
#include <ctime>
#include <string>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "aimastery/core/linalg/matmul.hpp"
#include "peer_common.hpp"

namespace {

/// CPU time of the process in seconds: on a loaded machine it counts only the time this single-threaded
/// work ran, where wall time also counts the time other processes held the core.
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

struct Timing {
  double cpu = 1e300;
  double wall = 1e300;
  template <class Work>
  void run(Work&& work) {
    const double c0 = cpu_seconds();
    const double wall_time = aimastery::peers::best_seconds(1, work);
    cpu = std::min(cpu, cpu_seconds() - c0);
    wall = std::min(wall, wall_time);
  }
};

template <class T>
nlohmann::json time_gemm(Eigen::Index n, int repeat) {
  Eigen::setNbThreads(1);
  const aimastery::Matrix<T> A = aimastery::Matrix<T>::Random(n, n);
  const aimastery::Matrix<T> B = aimastery::Matrix<T>::Random(n, n);
  aimastery::Matrix<T> ours(n, n), eigen(n, n);
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  // At least ~1 s of arithmetic per side at 50 GFLOP/s for small n, so short products get enough runs.
  const int runs = std::max(repeat, static_cast<int>(5e10 / flops));
  // Alternate the two sides so both see the same machine state; best run of each.
  Timing ours_time, eigen_time;
  for (int r = 0; r < runs; ++r) {
    ours_time.run([&] { ours = aimastery::matrix_multiply(A, B); });
    eigen_time.run([&] { eigen.noalias() = A * B; });
  }
  return {{"seconds", ours_time.cpu},
          {"eigen_seconds", eigen_time.cpu},
          {"wall_seconds", ours_time.wall},
          {"eigen_wall_seconds", eigen_time.wall},
          {"runs", runs},
          {"gflops", flops / ours_time.cpu * 1e-9},
          {"eigen_gflops", flops / eigen_time.cpu * 1e-9},
          {"max_abs_difference", static_cast<double>((ours - eigen).cwiseAbs().maxCoeff())}};
}

/// Wall time of C = A·B into a preallocated C, at the OpenMP thread count of the environment.
template <class T>
nlohmann::json time_gemm_threads(Eigen::Index n, int repeat) {
  const aimastery::Matrix<T> A = aimastery::Matrix<T>::Random(n, n);
  const aimastery::Matrix<T> B = aimastery::Matrix<T>::Random(n, n);
  aimastery::Matrix<T> C(n, n);
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  const int runs = std::max(repeat, static_cast<int>(2e10 / flops));
  aimastery::matrix_multiply_to(A, B, C);  // warm-up: packing buffers of every thread
  const double seconds = aimastery::peers::best_seconds(runs, [&] { aimastery::matrix_multiply_to(A, B, C); });
  int threads = 1;
#if defined(_OPENMP)
  threads = omp_get_max_threads();
#endif
  return {{"seconds", seconds}, {"gflops", flops / seconds * 1e-9}, {"threads", threads}, {"runs", runs}};
}

}  // namespace

int main(int argc, char** argv) {
  return aimastery::peers::run_task(
      argc, argv,
      {{"gemm",
        [](const aimastery::peers::Args& args) -> nlohmann::json {
          if (args.size() != 3) throw std::invalid_argument("expected: gemm <float|double> <n> <repeat>");
          const Eigen::Index n = std::stol(args[1]);
          const int repeat = std::stoi(args[2]);
          if (args[0] == "float") return time_gemm<float>(n, repeat);
          if (args[0] == "double") return time_gemm<double>(n, repeat);
          throw std::invalid_argument("unknown scalar type " + args[0]);
        }},
       {"gemm_threads", [](const aimastery::peers::Args& args) -> nlohmann::json {
          if (args.size() != 3) throw std::invalid_argument("expected: gemm_threads <float|double> <n> <repeat>");
          const Eigen::Index n = std::stol(args[1]);
          const int repeat = std::stoi(args[2]);
          if (args[0] == "float") return time_gemm_threads<float>(n, repeat);
          if (args[0] == "double") return time_gemm_threads<double>(n, repeat);
          throw std::invalid_argument("unknown scalar type " + args[0]);
        }}});
}
