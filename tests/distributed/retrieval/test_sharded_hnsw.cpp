// ShardedHnsw on 2 and 4 ranks: recall@10 against exact search over the whole corpus at least the single
// HnswIndex's on the same data and parameters; with ef ≥ the shard size, the exact search's positions and
// the single graph's scores (ties included, with empty shards); deletion by global position; save and
// load per shard; bad inputs throw on every rank.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include "distributed/mpi_support.hpp"
#include "distributed/retrieval/shards.hpp"
#include "llm/rag_hnsw/recall.hpp"
#include "support.hpp"

using namespace aimastery;

TEST_CASE("ShardedHnsw: recall@10 against exact search is at least the single index's at the same ef") {
  Communicator world = Communicator::world();
  const Index n = 3000, d = 24, k = 10;
  const Matrix<float> X = test::normal_matrix<float>(n, d, 81);
  const Matrix<float> Q = test::normal_matrix<float>(60, d, 82);
  const HnswParams params{.M = 8, .ef_construction = 40, .ef = 10, .seed = 100};
  ExactDenseIndex<float> exact(d);
  exact.add(X);
  const auto truth = exact.search(Q, k);
  HnswIndex<float> single(d, params);
  single.add(X);
  ShardedHnsw<float> sharded(world, d, params);
  const BatchShare mine = batch_share(n, world.rank(), world.size());
  sharded.add(X.middleRows(mine.lo, mine.hi - mine.lo));
  REQUIRE(sharded.size() == n);
  for (Index ef : {10, 20, 40}) {
    const double one = test::recall(single.search(Q, k, ef), truth);
    const double many = test::recall(sharded.search(Q, k, ef), truth);
    if (world.is_root())
      MESSAGE("ef " << ef << ": recall@10 single index " << one << ", " << world.size() << " shards " << many);
    // A top-10 row is returned exactly when its shard's search finds it; a graph of n/p rows searched with
    // the same beam finds at least as much of its top 10 as the graph of n rows (0.01: a query's worth of
    // noise, 60 queries × 10 rows).
    CHECK(many >= one - 0.01);
    CHECK(test::identical_on_all_ranks(world, std::vector<double>{many}));
  }
}

TEST_CASE_TEMPLATE("ShardedHnsw: with ef >= the shard size the search is exact: ExactDenseIndex's positions", T, float,
                   double) {
  Communicator world = Communicator::world();
  const Index n = 401, d = 16;
  Matrix<T> X = test::normal_matrix<T>(n, d, 91);
  X.row(40) = X.row(7);  // duplicates: equal scores, ordered by global position
  X.row(400) = X.row(7);
  X.row(120).setZero();  // similarity 0 to every query
  Matrix<T> Q = test::normal_matrix<T>(12, d, 92);
  Q.row(2) = X.row(7);
  const HnswParams params{.M = 4, .ef_construction = 20, .ef = 10, .seed = 5};
  ExactDenseIndex<T> exact(d);
  exact.add(X);
  HnswIndex<T> single(d, params);
  single.add(X);
  for (bool lopsided : {false, true}) {
    CAPTURE(lopsided);
    ShardedHnsw<T> sharded(world, d, params);
    const BatchShare mine = test::shard_of(n, world, lopsided);
    sharded.add(X.middleRows(mine.lo, mine.hi - mine.lo));
    std::int64_t largest = mine.hi - mine.lo;  // the beam that covers every shard, and no more
    world.allreduce_max(std::span<std::int64_t>(&largest, 1));
    for (Index k : {1, 10, 500}) {
      CAPTURE(k);
      const auto want = exact.search(Q, k);
      const auto same_graph = single.search(Q, k, std::max(k, n));  // the single graph, also exhaustive
      const auto got = sharded.search(Q, k, std::max<Index>(k, largest));
      REQUIRE(got.size() == want.size());
      for (std::size_t q = 0; q < got.size(); ++q) {
        REQUIRE(got[q].size() == want[q].size());
        for (std::size_t r = 0; r < got[q].size(); ++r) {
          CHECK(got[q][r].index == want[q][r].index);
          CHECK(got[q][r].score == doctest::Approx(want[q][r].score).epsilon(test::Tolerance<T>::reference));
        }
        CHECK(got[q] == same_graph[q]);  // positions and scores, exactly
      }
    }
  }
}

TEST_CASE("ShardedHnsw: a row deleted by global position is never returned; save and load per shard") {
  Communicator world = Communicator::world();
  const Index n = 200, d = 8;
  const Matrix<double> X = test::normal_matrix<double>(n, d, 93);
  const Matrix<double> Q = test::normal_matrix<double>(5, d, 94);
  ShardedHnsw<double> sharded(world, d, {.M = 6, .ef_construction = 30, .ef = 10});
  const BatchShare mine = batch_share(n, world.rank(), world.size());
  sharded.add(X.middleRows(mine.lo, mine.hi - mine.lo));
  ExactDenseIndex<double> exact(d);
  exact.add(X);
  const Index top = exact.search(Q.topRows(1), 1)[0][0].index;
  sharded.mark_deleted(top);
  const auto hits = sharded.search(Q, 5, n);
  for (const auto& list : hits)
    for (const ScoredIndex& s : list) CHECK(s.index != top);
  CHECK(hits[0][0].index == exact.search(Q.topRows(1), 2)[0][1].index);  // the next best takes its place
  CHECK_THROWS_NAMING(sharded.mark_deleted(top), InvalidArgument, test::text("already deleted"));
  CHECK_THROWS_NAMING(sharded.mark_deleted(n), InvalidArgument,
                      "ShardedHnsw::mark_deleted: position 200 is outside [0, 200)");
  CHECK_THROWS_NAMING(sharded.mark_deleted(world.rank() == 1 ? 3 : 4), InvalidArgument,
                      "ranks disagree on the position: 3 to 4");

  // One folder for the whole job (rank 0's process id, broadcast), a file per rank in it.
  std::int64_t pid = static_cast<std::int64_t>(::getpid());
  world.broadcast(std::span<std::int64_t>(&pid, 1), 0);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("aimastery_sharded_hnsw_" + std::to_string(pid))).string();
  sharded.save(path);
  CHECK(std::filesystem::exists(shard_path(path, world.rank(), world.size())));
  const ShardedHnsw<double> loaded = ShardedHnsw<double>::load(world, path);
  CHECK(loaded.shard_size() == sharded.shard_size());
  CHECK(loaded.search(Q, 5, n) == hits);
  CHECK(loaded.search(Q, 3, 3) == sharded.search(Q, 3, 3));
  world.barrier();  // every rank has read its file
  std::filesystem::remove(shard_path(path, world.rank(), world.size()));
  world.barrier();
  // A missing file on rank 1 only: every rank throws, rank 1 the FormatError naming the file.
  if (world.rank() != 1) sharded.shard().save(shard_path(path + "_partial", world.rank(), world.size()));
  world.barrier();
  if (world.rank() == 1)
    CHECK_THROWS_NAMING((void)ShardedHnsw<double>::load(world, path + "_partial"), FormatError, "1-of-");
  else
    CHECK_THROWS_NAMING((void)ShardedHnsw<double>::load(world, path + "_partial"), std::runtime_error,
                        "rank 1: HnswIndex::load");
  if (world.rank() != 1) std::filesystem::remove(shard_path(path + "_partial", world.rank(), world.size()));
}

TEST_CASE("ShardedHnsw: bad inputs throw on every rank, naming the problem") {
  Communicator world = Communicator::world();
  ShardedHnsw<double> index(world, 4, {.M = 4, .ef_construction = 10, .ef = 3});
  index.add(test::normal_matrix<double>(5, 4, 1));
  const Matrix<double> Q = test::normal_matrix<double>(2, 4, 2);
  CHECK_THROWS_NAMING(ShardedHnsw<double>(world, 4, {.M = 1}), InvalidArgument, "M must be in [2, 65535], got 1");
  CHECK_THROWS_NAMING(index.search(test::normal_matrix<double>(2, 3, 2), 1), InvalidArgument,
                      "ShardedHnsw::search: queries have 3 columns, the index 4");
  CHECK_THROWS_NAMING(index.search(Q, 0), InvalidArgument, "k must be at least 1, got 0");
  CHECK_THROWS_NAMING(index.search(Q, 4), InvalidArgument, "ef (3) must be at least k (4)");
  CHECK_THROWS_NAMING(index.search(Q, 2, world.rank() == 1 ? 5 : 6), InvalidArgument, "ranks disagree on ef: 5 to 6");
  CHECK_THROWS_NAMING(index.search(Q, world.rank() == 1 ? 2 : 3), InvalidArgument, "ranks disagree on k: 2 to 3");
  Matrix<double> with_nan = Q;
  with_nan(1, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_NAMING(index.search(world.rank() == 1 ? with_nan : Q, 2), InvalidArgument,
                      "rank 1: ShardedHnsw::search: queries hold NaN or Inf");
  const Matrix<double> other = test::normal_matrix<double>(2, 4, 3);
  CHECK_THROWS_NAMING(index.search(world.rank() == 1 ? other : Q, 2), InvalidArgument, "the hash of the queries");
  CHECK_THROWS_NAMING(index.search(world.rank() == 1 ? Matrix<double>(Q.topRows(1)) : Q, 2), InvalidArgument,
                      "ranks disagree on the number of queries: 1 to 2");
  CHECK_THROWS_NAMING(index.add(test::normal_matrix<double>(1, 5, 1)), InvalidArgument, "HnswIndex::add");
  CHECK(index.shard_size() == 5);  // nothing inserted
  ShardedHnsw<double> wrong(world, world.rank() == 1 ? 5 : 4);
  CHECK_THROWS_NAMING(wrong.search(Q, 1), InvalidArgument, "ranks disagree on the dimension: 4 to 5");
}
