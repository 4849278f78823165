// The MPI layer on 2 and 4 ranks: the collectives against the values computed on one rank, MPI errors as
// exceptions, and the agreement checks that stop every rank before any work.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "distributed/mpi_support.hpp"
#include "support.hpp"

using namespace aimastery;

TEST_CASE("Environment: MPI is up, and a second Environment does not own it") {
  CHECK(Environment::active());
  CHECK(test::mpi_environment.owner());
  Environment again;
  CHECK_FALSE(again.owner());
  CHECK(Environment::active());
}

TEST_CASE("Communicator: rank and size match MPI_COMM_WORLD's") {
  Communicator world = Communicator::world();
  int rank = -1, size = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  CHECK(world.rank() == rank);
  CHECK(world.size() == size);
  CHECK(world.is_root() == (rank == 0));
  CHECK(world.native() != MPI_COMM_WORLD);  // a duplicate: the library's messages never mix with the caller's
  world.barrier();
}

TEST_CASE_TEMPLATE("Communicator::allreduce_sum/min/max equal the sums computed on one rank", T, float, double) {
  Communicator world = Communicator::world();
  const int p = world.size();
  // Rank r contributes (r + 1)·(i + 1) at position i: the sum is (i + 1)·p(p + 1)/2, exact in float.
  std::vector<T> x(1000), lo(1000), hi(1000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<T>((world.rank() + 1) * static_cast<int>(i + 1));
  lo = x;
  hi = x;
  world.allreduce_sum(std::span<T>(x));
  world.allreduce_min(std::span<T>(lo));
  world.allreduce_max(std::span<T>(hi));
  for (std::size_t i = 0; i < x.size(); ++i) {
    const T k = static_cast<T>(i + 1);
    REQUIRE(x[i] == k * static_cast<T>(p * (p + 1) / 2));
    REQUIRE(lo[i] == k);
    REQUIRE(hi[i] == k * static_cast<T>(p));
  }
  CHECK(world.sum(std::int64_t{world.rank()}) == std::int64_t{p} * (p - 1) / 2);
  world.allreduce_sum(std::span<T>());  // an empty span is a valid (empty) collective
}

TEST_CASE_TEMPLATE("Communicator::iallreduce_sum: several sums in flight, completed by wait, test or scope", T, float,
                   double) {
  Communicator world = Communicator::world();
  const int p = world.size();
  const auto contribution = [&](std::size_t length, int scale) {
    std::vector<T> x(length);
    for (std::size_t i = 0; i < length; ++i)
      x[i] = static_cast<T>(scale * (world.rank() + 1) * static_cast<int>(i + 1));
    return x;
  };
  const auto expected = [&](std::size_t i, int scale) {
    return static_cast<T>(scale * static_cast<int>(i + 1) * p * (p + 1) / 2);
  };
  std::vector<T> a = contribution(1000, 1), b = contribution(7, 2), c = contribution(100000, 3), d = contribution(3, 4);
  Request ra = world.iallreduce_sum(std::span<T>(a));
  Request rb = world.iallreduce_sum(std::span<T>(b));
  Request rc = world.iallreduce_sum(std::span<T>(c));
  CHECK_FALSE(ra.done());
  rc.wait();  // completed out of the order they were started
  CHECK(rc.done());
  int polls = 0;
  while (!rb.test()) ++polls;  // MPI_Test progresses it
  CHECK(rb.test());
  ra.wait();
  ra.wait();  // a second wait is a no-op
  for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == expected(i, 1));
  for (std::size_t i = 0; i < b.size(); ++i) REQUIRE(b[i] == expected(i, 2));
  for (std::size_t i = 0; i < c.size(); ++i) REQUIRE(c[i] == expected(i, 3));
  {
    Request rd = world.iallreduce_sum(std::span<T>(d));
    Request moved = std::move(rd);
    CHECK(rd.done());  // NOLINT(bugprone-use-after-move): a moved-from request holds nothing
    CHECK_FALSE(moved.done());
  }  // the destructor waits
  for (std::size_t i = 0; i < d.size(); ++i) REQUIRE(d[i] == expected(i, 4));
  Request empty;
  CHECK(empty.done());
  CHECK(empty.test());
  empty = world.iallreduce_sum(std::span<T>());  // an empty span is a valid (empty) collective
  empty.wait();
  CAPTURE(polls);
}

TEST_CASE("Communicator::iallreduce_sum: sums to the bit what two calls of the same length sum") {
  Communicator world = Communicator::world();
  // Values whose sum depends on the order of additions: equal results show the same order.
  std::vector<double> x(4097);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::ldexp(1.0 + 0.1 * static_cast<double>(i), 40 * world.rank());
  std::vector<double> first = x, second = x;
  Request r1 = world.iallreduce_sum(std::span<double>(first));
  r1.wait();
  Request r2 = world.iallreduce_sum(std::span<double>(second));
  Request r3 = world.iallreduce_sum(std::span<double>(x));  // two in flight at once
  r3.wait();
  r2.wait();
  CHECK(first == second);
  CHECK(first == x);
}

TEST_CASE("Communicator::broadcast sends root's values and text to every rank") {
  Communicator world = Communicator::world();
  const int root = world.size() - 1;
  std::vector<double> v(7, world.rank() == root ? 2.5 : -1.0);
  world.broadcast(std::span<double>(v), root);
  CHECK(v == std::vector<double>(7, 2.5));
  std::string text = world.rank() == root ? std::string("from the last rank \0 with a zero byte", 37) : "x";
  world.broadcast(text, root);
  CHECK(text == std::string("from the last rank \0 with a zero byte", 37));
  std::string empty = world.rank() == 0 ? "" : "not empty";
  world.broadcast(empty, 0);
  CHECK(empty.empty());
}

TEST_CASE("Communicator::gather and allgather concatenate buffers of different sizes in rank order") {
  Communicator world = Communicator::world();
  // Rank r sends r values r·10, r·10 + 1, … (rank 0 sends nothing).
  std::vector<std::int64_t> mine(static_cast<std::size_t>(world.rank()));
  std::iota(mine.begin(), mine.end(), std::int64_t{world.rank()} * 10);
  std::vector<std::int64_t> expected;
  std::vector<int> expected_counts;
  for (int r = 0; r < world.size(); ++r) {
    expected_counts.push_back(r);
    for (int i = 0; i < r; ++i) expected.push_back(std::int64_t{r} * 10 + i);
  }
  for (int root = 0; root < world.size(); ++root) {
    std::vector<int> counts;
    const auto all = world.gather(std::span<const std::int64_t>(mine), root, &counts);
    if (world.rank() == root) {
      CHECK(all == expected);
      CHECK(counts == expected_counts);
    } else {
      CHECK(all.empty());
    }
  }
  std::vector<int> counts;
  CHECK(world.allgather(std::span<const std::int64_t>(mine), &counts) == expected);
  CHECK(counts == expected_counts);
}

TEST_CASE("Communicator::exclusive_prefix_sum gives where each rank's rows start") {
  Communicator world = Communicator::world();
  const std::int64_t rows = 3 + world.rank();  // 3, 4, 5, …
  std::int64_t expected = 0;
  for (int r = 0; r < world.rank(); ++r) expected += 3 + r;
  CHECK(world.exclusive_prefix_sum(rows) == expected);
}

TEST_CASE("Communicator: bad inputs throw, naming the problem") {
  Communicator world = Communicator::world();
  std::vector<double> v(3);
  CHECK_THROWS_NAMING(world.broadcast(std::span<double>(v), world.size()), InvalidArgument,
                      test::text("Communicator::broadcast: root " + std::to_string(world.size()) + " is not a rank"));
  CHECK_THROWS_NAMING(world.broadcast(std::span<double>(v), -1), InvalidArgument, "root -1 is not a rank");
  CHECK_THROWS_NAMING(world.gather(std::span<const double>(v), 99), InvalidArgument,
                      "Communicator::gather: root 99 is not a rank");
  Communicator moved = std::move(world);
  CHECK_THROWS_NAMING(world.barrier(), InvalidArgument, "Communicator::barrier: the communicator was moved from");
  CHECK_THROWS_NAMING(world.allreduce_sum(std::span<double>(v)), InvalidArgument, "moved from");
  CHECK_THROWS_NAMING((void)world.iallreduce_sum(std::span<double>(v)), InvalidArgument,
                      "Communicator::iallreduce_sum: the communicator was moved from");
  CHECK_THROWS_NAMING(world.allgather(std::span<const double>(v)), InvalidArgument, "moved from");
  CHECK_THROWS_NAMING(world.exclusive_prefix_sum(1), InvalidArgument, "moved from");
  CHECK_THROWS_NAMING(Communicator(MPI_COMM_NULL), InvalidArgument, "MPI_COMM_NULL");
  CHECK_THROWS_NAMING(detail::mpi_count(std::size_t{1} << 31, "Communicator::gather"), InvalidArgument,
                      "exceeds MPI's count limit");
  moved.barrier();
}

TEST_CASE("Communicator: an MPI error returns as ConnectionError naming the call, and MPI goes on") {
  Communicator world = Communicator::world();
  double x = 0;
  // A negative count is MPI_ERR_COUNT: with MPI_ERRORS_RETURN on the library's communicator the call
  // returns the code instead of aborting the job.
  const int code = MPI_Bcast(&x, -1, MPI_DOUBLE, 0, world.native());
  CHECK(code != MPI_SUCCESS);
  CHECK_THROWS_NAMING(detail::check_mpi(code, "MPI_Bcast"), ConnectionError, "MPI_Bcast failed: ");
  CHECK_NOTHROW(detail::check_mpi(MPI_SUCCESS, "MPI_Bcast"));
  world.barrier();  // the communicator still works
}

TEST_CASE("check_same_features: equal counts pass; different counts throw on every rank before any work") {
  Communicator world = Communicator::world();
  CHECK_NOTHROW(check_same_features(world, "fit", 4));
  CHECK(range_over_ranks(world, world.rank()).min == 0);
  CHECK(range_over_ranks(world, world.rank()).max == world.size() - 1);
  // Every rank throws (the test passes only if it did on every rank, since doctest checks each).
  CHECK_THROWS_NAMING(check_same_features(world, "KNN::fit", world.rank() == 1 ? 5 : 4), InvalidArgument,
                      test::text("KNN::fit: ranks disagree on the number of features: 4 to 5 (rank " +
                                 std::to_string(world.rank()) + ": " + (world.rank() == 1 ? "5" : "4") + ")"));
  world.barrier();
}

TEST_CASE("check_on_all_ranks: a local check failing on one rank throws its message on every rank") {
  Communicator world = Communicator::world();
  CHECK_NOTHROW(check_on_all_ranks(world, [] {}));
  const int bad = world.size() - 1;
  CHECK_THROWS_NAMING(check_on_all_ranks(world,
                                         [&] {
                                           if (world.rank() >= bad) fail("fit", "X contains NaN or infinity");
                                         }),
                      InvalidArgument, test::text("rank " + std::to_string(bad) + ": fit: X contains NaN or infinity"));
  // Only InvalidArgument is agreed on; the lowest failing rank's message wins.
  CHECK_THROWS_NAMING(check_on_all_ranks(world, [&] { fail("f", "on rank " + std::to_string(world.rank())); }),
                      InvalidArgument, "rank 0: f: on rank 0");
}

TEST_CASE("check_on_all_ranks: another exception is rethrown where it was thrown, a runtime_error elsewhere") {
  Communicator world = Communicator::world();
  const int bad = world.size() - 1;
  const auto checks = [&] {
    if (world.rank() == bad) throw NotFittedError("predict: the model is not fitted");
  };
  if (world.rank() == bad) {
    CHECK_THROWS_NAMING(check_on_all_ranks(world, checks), NotFittedError, "predict: the model is not fitted");
  } else {
    CHECK_THROWS_NAMING(check_on_all_ranks(world, checks), std::runtime_error,
                        test::text("rank " + std::to_string(bad) + ": predict: the model is not fitted"));
  }
  world.barrier();
}
