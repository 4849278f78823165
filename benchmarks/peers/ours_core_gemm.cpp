// The C++ side of the GEMM rows of benchmarks/peers: both matrix_multiply and Eigen's product (the peer,
// single-threaded, same -O3 -march=native flags) are timed here on the same n×n matrices.
//
//   peer_ours_core_gemm gemm <float|double> <n> <repeat>
//   → {"seconds": ours, "eigen_seconds": Eigen's, "gflops": ours, "eigen_gflops": ..., "max_abs_difference": ...}
#include <Eigen/Core>

#include <cstdlib>
#include <string>

#include "aimastery/core/linalg/matmul.hpp"
#include "peer_common.hpp"

namespace {

template <class T>
nlohmann::json time_gemm(Eigen::Index n, int repeat) {
  Eigen::setNbThreads(1);
  const aimastery::Matrix<T> A = aimastery::Matrix<T>::Random(n, n);
  const aimastery::Matrix<T> B = aimastery::Matrix<T>::Random(n, n);
  aimastery::Matrix<T> ours(n, n), eigen(n, n);
  // Alternate the two sides so both see the same machine state; best of `repeat` each.
  double ours_best = 1e300, eigen_best = 1e300;
  for (int r = 0; r < repeat; ++r) {
    ours_best =
        std::min(ours_best, aimastery::peers::best_seconds(1, [&] { ours = aimastery::matrix_multiply(A, B); }));
    eigen_best = std::min(eigen_best, aimastery::peers::best_seconds(1, [&] { eigen.noalias() = A * B; }));
  }
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  return {{"seconds", ours_best},
          {"eigen_seconds", eigen_best},
          {"gflops", flops / ours_best * 1e-9},
          {"eigen_gflops", flops / eigen_best * 1e-9},
          {"max_abs_difference", static_cast<double>((ours - eigen).cwiseAbs().maxCoeff())}};
}

}  // namespace

int main(int argc, char** argv) {
  return aimastery::peers::run_task(argc, argv,
                                    {{"gemm", [](const aimastery::peers::Args& args) -> nlohmann::json {
                                        if (args.size() != 3)
                                          throw std::invalid_argument("expected: gemm <float|double> <n> <repeat>");
                                        const Eigen::Index n = std::stol(args[1]);
                                        const int repeat = std::stoi(args[2]);
                                        if (args[0] == "float") return time_gemm<float>(n, repeat);
                                        if (args[0] == "double") return time_gemm<double>(n, repeat);
                                        throw std::invalid_argument("unknown scalar type " + args[0]);
                                      }}});
}
