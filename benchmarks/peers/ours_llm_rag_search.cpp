// The "ours" side of benchmarks/peers/tasks_bm25.py: BM25Retriever and ExactDenseIndex on files written by
// the task.
//   peer_ours_llm_rag_search bm25 DOCS QUERIES THREADS REPEAT
//     DOCS and QUERIES: one text a line. Index build (tokenisation included) timed once; then every query
//     retrieved for k = 10, the queries split over THREADS std::threads, best of REPEAT. Prints
//     {"seconds": query seconds, "build_seconds", "query_seconds", "top1": [document line of each query's best]}.
//   peer_ours_llm_rag_search exact BASE QUERIES N NQ DIM REPEAT
//     Raw float32 row-major vectors; ExactDenseIndex::search of the whole query batch for k = 10 (one GEMM,
//     threaded by OpenMP: OMP_NUM_THREADS), best of REPEAT. Prints {"seconds", "top1": [...]}.
#include <aimastery/llm/rag/bm25.hpp>
#include <aimastery/llm/rag/dense_retriever.hpp>

#include <thread>

#include "peer_common.hpp"

using namespace aimastery;

int main(int argc, char** argv) {
  return peers::run_task(
      argc, argv,
      {{"bm25",
        [](const peers::Args& a) {
          const std::vector<std::string> docs = peers::read_lines(a.at(0)), queries = peers::read_lines(a.at(1));
          const int threads = std::stoi(a.at(2)), repeat = std::stoi(a.at(3));
          std::vector<Chunk> chunks(docs.size());
          for (std::size_t i = 0; i < docs.size(); ++i)
            chunks[i] = {std::to_string(i), 0, docs[i].size(), docs[i], {}, {}};
          BM25Retriever bm25;
          const double build = peers::best_seconds(1, [&] { bm25.add(chunks); });
          std::vector<long> top1(queries.size(), -1);
          const double search = peers::best_seconds(repeat, [&] {
            std::vector<std::thread> pool;
            for (int t = 0; t < threads; ++t)
              pool.emplace_back([&, t] {
                for (std::size_t q = std::size_t(t); q < queries.size(); q += std::size_t(threads)) {
                  const auto hits = bm25.retrieve(queries[q], 10);
                  top1[q] = hits.empty() ? -1 : std::stol(hits.front().chunk.document_id);
                }
              });
            for (std::thread& th : pool) th.join();
          });
          return nlohmann::json{
              {"seconds", search}, {"build_seconds", build}, {"query_seconds", search}, {"top1", top1}};
        }},
       {"exact", [](const peers::Args& a) {
          const Index n = std::stol(a.at(2)), nq = std::stol(a.at(3)), d = std::stol(a.at(4));
          const int repeat = std::stoi(a.at(5));
          const auto base = peers::read_raw<float>(a.at(0), std::size_t(n * d));
          const auto queries = peers::read_raw<float>(a.at(1), std::size_t(nq * d));
          ExactDenseIndex<float> index(d);
          index.add(Eigen::Map<const Matrix<float>>(base.data(), n, d));
          const Eigen::Map<const Matrix<float>> Q(queries.data(), nq, d);
          std::vector<std::vector<ScoredIndex>> hits;
          const double s = peers::best_seconds(repeat, [&] { hits = index.search(Q, 10); });
          std::vector<long> top1;
          for (const auto& h : hits) top1.push_back(h.empty() ? -1 : long(h.front().index));
          return nlohmann::json{{"seconds", s}, {"top1", top1}};
        }}});
}
