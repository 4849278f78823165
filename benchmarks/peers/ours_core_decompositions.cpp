// The C++ side of the decomposition rows of benchmarks/peers.
//
//   peer_ours_core_decompositions eigh <n> <repeat>
//     eigendecomposition and Eigen 3.4's SelfAdjointEigenSolver (the peer, single thread, same
//     -O3 -march=native flags) on the same random symmetric n×n matrix, alternating runs, best thread
//     CPU time of each (a busy machine slows both sides alike but distorts wall time)
//     → {"seconds": ours, "eigen_seconds": Eigen's, "max_eigenvalue_difference": ...}
//   peer_ours_core_decompositions pca_fit <csv> <repeat>
//     PCA<double>() (all components) fitted on the features of <csv> (label column "target")
//     → {"seconds": ours, "explained_variance_ratio": [first three]}
#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include <time.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "aimastery/core/linalg/pca.hpp"
#include "aimastery/core/linalg/symmetric_eigen.hpp"
#include "aimastery/io/csv.hpp"
#include "peer_common.hpp"

namespace {

using aimastery::peers::Args;

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

template <class Work>
double cpu_seconds(Work&& work) {
  const double t0 = thread_cpu_seconds();
  work();
  return thread_cpu_seconds() - t0;
}

nlohmann::json time_eigh(Eigen::Index n, int repeat) {
  Eigen::setNbThreads(1);
  std::srand(7);
  const aimastery::Matrix<double> g = aimastery::Matrix<double>::Random(n, n);
  const aimastery::Matrix<double> A = (g + g.transpose()) / 2.0;
  const Eigen::MatrixXd A_col = A;
  aimastery::EigenResult<double> ours;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(n);
  double ours_best = 1e300;
  double eigen_best = 1e300;
  for (int r = 0; r < repeat; ++r) {
    ours_best = std::min(ours_best, cpu_seconds([&] { ours = aimastery::eigendecomposition(A); }));
    eigen_best = std::min(eigen_best, cpu_seconds([&] { eigen.compute(A_col); }));
  }
  const Eigen::VectorXd descending = eigen.eigenvalues().reverse();
  return {{"seconds", ours_best},
          {"eigen_seconds", eigen_best},
          {"converged", ours.converged},
          {"max_eigenvalue_difference", (ours.values - descending).cwiseAbs().maxCoeff()}};
}

nlohmann::json time_pca_fit(const std::string& csv, int repeat) {
  const auto data = aimastery::read_csv<double>(csv);
  aimastery::PCA<double> pca;
  const double seconds = aimastery::peers::best_seconds(repeat, [&] { pca.fit(data.X); });
  const auto& ratio = pca.explained_variance_ratio();
  return {{"seconds", seconds}, {"explained_variance_ratio", {ratio(0), ratio(1), ratio(2)}}};
}

}  // namespace

int main(int argc, char** argv) {
  return aimastery::peers::run_task(argc, argv,
                                    {{"eigh",
                                      [](const Args& args) -> nlohmann::json {
                                        if (args.size() != 2)
                                          throw std::invalid_argument("expected: eigh <n> <repeat>");
                                        return time_eigh(std::stol(args[0]), std::stoi(args[1]));
                                      }},
                                     {"pca_fit", [](const Args& args) -> nlohmann::json {
                                        if (args.size() != 2)
                                          throw std::invalid_argument("expected: pca_fit <csv> <repeat>");
                                        return time_pca_fit(args[0], std::stoi(args[1]));
                                      }}});
}
