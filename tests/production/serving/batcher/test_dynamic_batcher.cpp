// DynamicBatcher from many threads (label concurrency: run under ThreadSanitizer in CI): batched results
// equal unbatched ones, a failing request fails only its caller, admitted callers release a batch
// without waiting for its deadline, and a caller finding the batcher idle predicts at once on its thread.

#include <atomic>
#include <chrono>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "aimastery/ml/classical/random_forest.hpp"
#include "aimastery/production/serving/dynamic_batcher.hpp"
#include "support.hpp"

using namespace aimastery;

namespace {

constexpr int thread_count = 8;

/// 4 features uniform in [-1, 1) and 3 classes by the sign pattern of two of their combinations.
struct Data {
  Matrix<double> X;
  IndexVector y;
};
Data make_data(Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Data d{test::random_matrix<double>(n, 4, rng), IndexVector(n)};
  for (Index i = 0; i < n; ++i) d.y(i) = (d.X(i, 0) + d.X(i, 1) > 0 ? 1 : 0) + (d.X(i, 2) > 0.5 ? 1 : 0);
  return d;
}

}  // namespace

TEST_CASE("DynamicBatcher: concurrent requests, gathered, get exactly the unbatched predictions") {
  const Index n = 400;
  const Data d = make_data(n, test::test_seed());
  RandomForestScratch<double> forest({.n_estimators = 8, .max_depth = 6, .seed = 3});
  forest.fit(d.X, d.y);
  // Each call takes at least 200 µs, so that callers arriving meanwhile queue (an idle batcher would
  // otherwise predict every request on its caller's thread).
  auto predict = [&](const Matrix<double>& X) -> Matrix<double> {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    return forest.predict_proba(X);
  };
  std::atomic<int> batches{0}, rows_seen{0};
  DynamicBatcher batcher(
      predict, {.max_batch_size = 16, .max_delay = std::chrono::microseconds(3000), .on_batch = [&](Index rows) {
                  batches.fetch_add(1);
                  rows_seen.fetch_add(static_cast<int>(rows));
                }});
  const Matrix<double> expected = forest.predict_proba(d.X);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0}, requests{0}, rows_sent{0}, started{0};
  for (int t = 0; t < thread_count; ++t)
    threads.emplace_back([&, t] {
      started.fetch_add(1);
      while (started.load() < thread_count) std::this_thread::yield();  // all callers at once
      for (Index i = t; i < n; i += thread_count) {
        const Index rows = std::min<Index>(1 + i % 3, n - i);  // 1 to 3 rows a request
        const Matrix<double> Y = batcher.predict(d.X.middleRows(i, rows));
        if (Y != expected.middleRows(i, rows)) mismatches.fetch_add(1);
        requests.fetch_add(1);
        rows_sent.fetch_add(static_cast<int>(rows));
      }
    });
  for (auto& t : threads) t.join();
  CHECK(mismatches.load() == 0);
  CHECK(rows_seen.load() == rows_sent.load());
  CHECK(batches.load() < requests.load());  // some requests shared a batch

  // A request larger than the batch runs alone; an exception reaches its caller only.
  CHECK(batcher.predict(d.X.topRows(40)) == expected.topRows(40));
  CHECK_THROWS_AS((void)batcher.predict(Matrix<double>(2, 3)), InvalidArgument);
}

TEST_CASE("DynamicBatcher: a failing request in a shared batch fails its own caller, not the others") {
  const Data d = make_data(200, test::test_seed() + 1);
  // Rows whose first feature is NaN make the model throw; a batch holding them is retried request by request.
  auto model = [](const Matrix<double>& X) -> Matrix<double> {
    if (X.col(0).hasNaN()) throw InvalidArgument("model: NaN in the input");
    return 2 * X;
  };
  DynamicBatcher batcher(model, {.max_batch_size = 32, .max_delay = std::chrono::microseconds(2000)});
  std::atomic<int> wrong{0}, refused{0}, bad_sent{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t)
    threads.emplace_back([&, t] {
      for (Index i = t; i < 200; i += thread_count) {
        Matrix<double> X = d.X.middleRows(i, 1);
        const bool bad = t == 0 && i % 16 == 0;
        if (bad) {
          X(0, 0) = std::numeric_limits<double>::quiet_NaN();
          bad_sent.fetch_add(1);
        }
        try {
          const Matrix<double> Y = batcher.predict(X);
          if (bad || Y != 2 * X) wrong.fetch_add(1);
        } catch (const InvalidArgument&) {
          if (bad)
            refused.fetch_add(1);
          else
            wrong.fetch_add(1);
        }
      }
    });
  for (auto& t : threads) t.join();
  CHECK(wrong.load() == 0);
  CHECK(refused.load() == bad_sent.load());
  CHECK(bad_sent.load() > 0);
}

TEST_CASE("DynamicBatcher: when every admitted caller is queued the batch goes without waiting for the clock") {
  const Data d = make_data(50, test::test_seed() + 2);
  auto identity = [](const Matrix<double>& X) -> Matrix<double> { return X; };
  DynamicBatcher batcher(identity, {.max_batch_size = 32, .max_delay = std::chrono::seconds(60)});
  const auto t0 = std::chrono::steady_clock::now();
  {
    auto ticket = batcher.admit();
    CHECK(batcher.predict(d.X.topRows(3)) == d.X.topRows(3));
  }
  // Two admitted callers: the batch waits for the second, then goes, long before the 60 s deadline.
  std::vector<std::thread> callers;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 2; ++t)
    callers.emplace_back([&, t] {
      auto ticket = batcher.admit();
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * t));
      if (batcher.predict(d.X.middleRows(5 * t, 5)) != d.X.middleRows(5 * t, 5)) wrong.fetch_add(1);
    });
  for (auto& c : callers) c.join();
  CHECK(wrong.load() == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30));
}

TEST_CASE("DynamicBatcher: an idle batcher predicts on the caller's thread at once") {
  const Data d = make_data(20, test::test_seed() + 3);
  std::atomic<std::thread::id> ran_on{};
  std::atomic<int> batches{0};
  auto identity = [&](const Matrix<double>& X) -> Matrix<double> {
    ran_on.store(std::this_thread::get_id());
    if (X.col(0).hasNaN()) throw InvalidArgument("model: NaN in the input");
    return X;
  };
  // Without a ticket and with a 60 s deadline: a queued request would wait a minute.
  DynamicBatcher batcher(
      identity,
      {.max_batch_size = 32, .max_delay = std::chrono::seconds(60), .on_batch = [&](Index) { batches.fetch_add(1); }});
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(batcher.predict(d.X.topRows(2)) == d.X.topRows(2));
  CHECK(ran_on.load() == std::this_thread::get_id());
  {
    auto ticket = batcher.admit();
    CHECK(batcher.predict(d.X.middleRows(2, 3)) == d.X.middleRows(2, 3));
  }
  CHECK(ran_on.load() == std::this_thread::get_id());
  CHECK(batches.load() == 2);
  // A failure reaches the caller and leaves the batcher idle for the next one.
  Matrix<double> bad = d.X.topRows(1);
  bad(0, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS((void)batcher.predict(bad), doctest::Contains("NaN"), InvalidArgument);
  CHECK(batcher.predict(d.X.topRows(4)) == d.X.topRows(4));
  CHECK(batches.load() == 3);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30));
}

TEST_CASE("DynamicBatcher: bad options") {
  auto identity = [](const Matrix<double>& X) -> Matrix<double> { return X; };
  CHECK_THROWS_WITH_AS(DynamicBatcher(identity, {.max_batch_size = 0}),
                       doctest::Contains("max_batch_size must be >= 1"), InvalidArgument);
  CHECK_THROWS_WITH_AS(DynamicBatcher(identity, {.max_delay = std::chrono::microseconds(-1)}),
                       doctest::Contains("max_delay must be >= 0"), InvalidArgument);
  CHECK_THROWS_WITH_AS(DynamicBatcher(DynamicBatcher::Predict{}), doctest::Contains("predict function is empty"),
                       InvalidArgument);
}
