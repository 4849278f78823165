// The "ours" side of benchmarks/peers/tasks_hnsw.py: HnswIndex<float> on raw float32 files written by the
// task (row-major vectors), one thread.
//   peer_ours_llm_hnsw run BASE QUERIES TRUTH N NQ DIM M EF_CONSTRUCTION REPEAT EF...
// Builds the index once (timed), then for every ef searches all queries for k = 10, best of REPEAT, and
// reports recall@10 against TRUTH (int32, NQ × 10, the exact top 10). Prints {"build_seconds",
// "build_cpu_seconds", "bytes_per_vector", "efs": [{"ef", "seconds", "cpu_seconds" (per run), "recall"}...],
// "seconds": build seconds}.
#include <aimastery/llm/rag/hnsw_index.hpp>

#include <set>

#include "peer_common.hpp"

using namespace aimastery;

int main(int argc, char** argv) {
  return peers::run_task(
      argc, argv,
      {{"run", [](const peers::Args& a) {
          const Index n = std::stol(a.at(3)), nq = std::stol(a.at(4)), d = std::stol(a.at(5));
          const HnswParams params{.M = std::stol(a.at(6)), .ef_construction = std::stol(a.at(7)), .ef = 10};
          const int repeat = std::stoi(a.at(8));
          const auto base = peers::read_raw<float>(a.at(0), std::size_t(n * d));
          const auto queries = peers::read_raw<float>(a.at(1), std::size_t(nq * d));
          const auto truth = peers::read_raw<std::int32_t>(a.at(2), std::size_t(nq * 10));
          const Eigen::Map<const Matrix<float>> X(base.data(), n, d);
          const Eigen::Map<const Matrix<float>> Q(queries.data(), nq, d);
          HnswIndex<float> index(d, params);
          double cpu = peers::cpu_seconds();
          const double build = peers::best_seconds(1, [&] { index.add(X); });
          const double build_cpu = peers::cpu_seconds() - cpu;
          nlohmann::json efs = nlohmann::json::array();
          for (std::size_t i = 9; i < a.size(); ++i) {
            const Index ef = std::stol(a[i]);
            std::vector<std::vector<ScoredIndex>> hits;
            cpu = peers::cpu_seconds();
            const double s = peers::best_seconds(repeat, [&] { hits = index.search(Q, 10, ef); });
            const double search_cpu = (peers::cpu_seconds() - cpu) / repeat;
            double found = 0;
            for (Index q = 0; q < nq; ++q) {
              const std::set<std::int32_t> want(truth.begin() + q * 10, truth.begin() + (q + 1) * 10);
              for (const auto& h : hits[std::size_t(q)]) found += want.count(std::int32_t(h.index)) ? 1 : 0;
            }
            efs.push_back(
                {{"ef", ef}, {"seconds", s}, {"cpu_seconds", search_cpu}, {"recall", found / double(nq * 10)}});
          }
          // Memory of the graph per vector: the vector, the layer-0 list (1 + 2M ids), the upper lists.
          double upper = 0;
          for (Index i = 0; i < n; ++i) upper += double(index.level(i)) * double(1 + params.M) * 4;
          const double bytes = double(d * 4 + (1 + 2 * params.M) * 4 + 2) + upper / double(n);
          return nlohmann::json{{"seconds", build},
                                {"build_seconds", build},
                                {"build_cpu_seconds", build_cpu},
                                {"bytes_per_vector", bytes},
                                {"efs", efs}};
        }}});
}
