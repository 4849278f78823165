// The "ours" side of benchmarks/peers/tasks_hnsw.py: HnswIndex<float> on raw float32 files written by the
// task (row-major vectors).
//   peer_ours_llm_hnsw run BASE QUERIES TRUTH N NQ DIM M EF_CONSTRUCTION REPEAT BUILD_THREADS QUERY_THREADS EF...
// Builds the index once on BUILD_THREADS threads (timed: wall and process CPU seconds), then for every ef
// and every thread count in QUERY_THREADS (comma-separated, e.g. "1,2") searches all queries for k = 10,
// the queries split into one contiguous slice per thread, best of REPEAT, and reports recall@10 against
// TRUTH (int32, NQ × 10, the exact top 10). Memory per vector two ways: the resident set's growth over the
// build (/proc/self/statm) divided by N, and the index's own arrays counted element by element.
// Prints {"build_seconds", "build_cpu_seconds", "bytes_per_vector", "rss_bytes_per_vector",
// "efs": [{"ef", "threads", "seconds", "cpu_seconds" (per run), "recall"}...], "seconds": build seconds}.
//   peer_ours_llm_hnsw search GRAPH QUERIES TRUTH NQ DIM REPEAT QUERY_THREADS EF...
// Loads a saved index (HnswIndex::save's format; the task writes hnswlib's graph in it) and searches it
// the same way; prints {"efs": [...], "seconds": the search time of the first row}.
#include <aimastery/llm/rag/hnsw_index.hpp>

#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "peer_common.hpp"

using namespace aimastery;

namespace {

// Resident bytes of this process (Linux: the second field of /proc/self/statm, in pages).
double resident_bytes() {
  std::ifstream in("/proc/self/statm");
  double size = 0, resident = 0;
  in >> size >> resident;
  return resident * double(::sysconf(_SC_PAGESIZE));
}

std::vector<Index> split_list(const std::string& text) {
  std::vector<Index> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stol(item));
  return out;
}

// Every query for k = 10 at each ef, on each thread count (one contiguous slice of the queries per
// thread), best of `repeat`; recall@10 against `truth` (int32, nq × 10).
nlohmann::json search_rows(const HnswIndex<float>& index, const Eigen::Map<const Matrix<float>>& Q,
                           const std::vector<std::int32_t>& truth, int repeat, const std::vector<Index>& query_threads,
                           const std::vector<Index>& efs) {
  const Index nq = Q.rows();
  nlohmann::json rows = nlohmann::json::array();
  for (const Index ef : efs)
    for (const Index threads : query_threads) {
      std::vector<std::vector<ScoredIndex>> hits(static_cast<std::size_t>(nq));
      const auto slice = [&](Index t) {
        const Index from = nq * t / threads, to = nq * (t + 1) / threads;
        auto part = index.search(Q.middleRows(from, to - from), 10, ef);
        std::move(part.begin(), part.end(), hits.begin() + from);
      };
      const double cpu = peers::cpu_seconds();
      const double s = peers::best_seconds(repeat, [&] {
        std::vector<std::thread> helpers;
        for (Index t = 1; t < threads; ++t) helpers.emplace_back(slice, t);
        slice(0);
        for (auto& h : helpers) h.join();
      });
      const double search_cpu = (peers::cpu_seconds() - cpu) / repeat;
      double found = 0;
      for (Index q = 0; q < nq; ++q) {
        const std::set<std::int32_t> want(truth.begin() + q * 10, truth.begin() + (q + 1) * 10);
        for (const auto& h : hits[std::size_t(q)]) found += want.count(std::int32_t(h.index)) ? 1 : 0;
      }
      rows.push_back({{"ef", ef},
                      {"threads", threads},
                      {"seconds", s},
                      {"cpu_seconds", search_cpu},
                      {"recall", found / double(nq * 10)}});
    }
  return rows;
}

std::vector<Index> efs_from(const peers::Args& a, std::size_t first) {
  std::vector<Index> efs;
  for (std::size_t i = first; i < a.size(); ++i) efs.push_back(std::stol(a[i]));
  return efs;
}

}  // namespace

int main(int argc, char** argv) {
  return peers::run_task(
      argc, argv,
      {{"run",
        [](const peers::Args& a) {
          const Index n = std::stol(a.at(3)), nq = std::stol(a.at(4)), d = std::stol(a.at(5));
          HnswParams params;
          params.M = std::stol(a.at(6));
          params.ef_construction = std::stol(a.at(7));
          const int repeat = std::stoi(a.at(8));
          const Index build_threads = std::stol(a.at(9));
          const auto base = peers::read_raw<float>(a.at(0), std::size_t(n * d));
          const auto queries = peers::read_raw<float>(a.at(1), std::size_t(nq * d));
          const auto truth = peers::read_raw<std::int32_t>(a.at(2), std::size_t(nq * 10));
          const Eigen::Map<const Matrix<float>> X(base.data(), n, d);
          const Eigen::Map<const Matrix<float>> Q(queries.data(), nq, d);
          const double rss_before = resident_bytes();
          HnswIndex<float> index(d, params);
          const double cpu = peers::cpu_seconds();
          const double build = peers::best_seconds(1, [&] { index.add(X, build_threads); });
          const double build_cpu = peers::cpu_seconds() - cpu;
          const double rss_per_vector = (resident_bytes() - rss_before) / double(n);
          const nlohmann::json efs = search_rows(index, Q, truth, repeat, split_list(a.at(10)), efs_from(a, 11));
          // The index's arrays per vector: the vector, the layer-0 list (1 + 2M ids), level and deletion
          // bytes, the handle of the upper lists (a std::vector) and the upper lists themselves.
          double upper = 0;
          for (Index i = 0; i < n; ++i) upper += double(index.level(i)) * double(1 + params.M) * 4;
          const double bytes =
              double(d * 4 + (1 + 2 * params.M) * 4 + 2 + sizeof(std::vector<std::uint32_t>)) + upper / double(n);
          return nlohmann::json{{"seconds", build},
                                {"build_seconds", build},
                                {"build_cpu_seconds", build_cpu},
                                {"bytes_per_vector", bytes},
                                {"rss_bytes_per_vector", rss_per_vector},
                                {"efs", efs}};
        }},
       {"search", [](const peers::Args& a) {
          const Index nq = std::stol(a.at(3)), d = std::stol(a.at(4));
          const auto index = HnswIndex<float>::load(a.at(0));
          const auto queries = peers::read_raw<float>(a.at(1), std::size_t(nq * d));
          const auto truth = peers::read_raw<std::int32_t>(a.at(2), std::size_t(nq * 10));
          const Eigen::Map<const Matrix<float>> Q(queries.data(), nq, d);
          const nlohmann::json efs =
              search_rows(index, Q, truth, std::stoi(a.at(5)), split_list(a.at(6)), efs_from(a, 7));
          return nlohmann::json{{"seconds", efs.at(0).at("seconds")}, {"efs", efs}};
        }}});
}
