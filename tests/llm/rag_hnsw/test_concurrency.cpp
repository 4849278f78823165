// HnswIndex under concurrency (suite `concurrency`, run by the ThreadSanitizer preset): queries on three
// threads while a fourth inserts one batch after another and marks elements deleted. Every answer must be
// well formed (positions inserted before, best first, no element deleted before the query began), and
// the final index must equal one built without the readers (the lock makes the insertions sequential).
// Then batches inserted on two threads at once (per-element list locks) while two threads query: the
// answers are well formed and the final graph reaches every element.
#include <aimastery/llm/rag/hnsw_index.hpp>

#include <atomic>
#include <thread>

#include "seeded_normal.hpp"
#include "support.hpp"

using namespace aimastery;
using aimastery::test::seeded_normal;

TEST_SUITE("concurrency") {
  TEST_CASE("HnswIndex: queries on three threads while another thread inserts and deletes") {
    const Index d = 16, batches = 20, batch = 50, k = 5;
    const Matrix<float> X = seeded_normal<float>(7601, batches * batch, d);
    const Matrix<float> Q = seeded_normal<float>(7602, 8, d);
    HnswIndex<float> index(d, {.M = 8, .ef_construction = 40, .ef = 16});
    index.add(X.topRows(batch));
    std::atomic<Index> deleted_upto{-1};  // elements 0 … deleted_upto (even ones) are marked
    std::atomic<bool> done{false};
    std::atomic<Index> answers{0}, bad{0};

    const auto reader = [&] {
      while (!done.load()) {
        const Index removed = deleted_upto.load();
        const auto hits = index.search(Q, k);
        const Index n = index.size();
        for (const auto& h : hits) {
          if (h.empty() || h.size() > std::size_t(k)) ++bad;
          for (std::size_t r = 0; r < h.size(); ++r) {
            if (h[r].index < 0 || h[r].index >= n) ++bad;
            if (h[r].index <= removed && h[r].index % 2 == 0) ++bad;
            if (r > 0 && h[r - 1].score < h[r].score) ++bad;
          }
        }
        ++answers;
      }
    };
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) readers.emplace_back(reader);
    for (Index b = 1; b < batches; ++b) {
      index.add(X.middleRows(b * batch, batch));
      if (b % 4 == 0) {
        const Index upto = b * batch / 4;
        for (Index i = deleted_upto.load() + 1; i <= upto; ++i)
          if (i % 2 == 0) index.mark_deleted(i);
        deleted_upto.store(upto);
      }
    }
    done.store(true);
    for (auto& t : readers) t.join();
    MESSAGE(answers.load() << " concurrent answers");
    CHECK(answers.load() > 0);
    CHECK(bad.load() == 0);

    // The same insertions without readers give the same index.
    HnswIndex<float> alone(d, {.M = 8, .ef_construction = 40, .ef = 16});
    for (Index b = 0; b < batches; ++b) {
      alone.add(X.middleRows(b * batch, batch));
      if (b > 0 && b % 4 == 0) {
        for (Index i = 0; i <= b * batch / 4; ++i)
          if (i % 2 == 0 && !alone.is_deleted(i)) alone.mark_deleted(i);
      }
    }
    CHECK(index.search(Q, k) == alone.search(Q, k));
  }

  TEST_CASE("HnswIndex: queries on two threads while batches are inserted on two threads at once") {
    const Index d = 16, batches = 6, batch = 2500, k = 5;
    const Matrix<float> X = seeded_normal<float>(7611, batches * batch, d);
    const Matrix<float> Q = seeded_normal<float>(7612, 8, d);
    HnswIndex<float> index(d, {.M = 8, .ef_construction = 40, .ef = 16});
    std::atomic<bool> done{false};
    std::atomic<Index> answers{0}, bad{0};
    const auto reader = [&] {
      while (!done.load()) {
        const auto hits = index.search(Q, k);
        const Index n = index.size();
        for (const auto& h : hits)
          for (std::size_t r = 0; r < h.size(); ++r) {
            if (h[r].index < 0 || h[r].index >= n) ++bad;
            if (r > 0 && h[r - 1].score < h[r].score) ++bad;
          }
        ++answers;
      }
    };
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t) readers.emplace_back(reader);
    for (Index b = 0; b < batches; ++b) index.add(X.middleRows(b * batch, batch), 2);
    done.store(true);
    for (auto& t : readers) t.join();
    CHECK(answers.load() > 0);
    CHECK(bad.load() == 0);
    // Every element is reachable: with ef ≥ n the search is exact.
    const Index n = batches * batch;
    const auto all = index.search(Q.topRows(2), n, n);
    for (const auto& h : all) CHECK(h.size() == std::size_t(n));
  }
}
