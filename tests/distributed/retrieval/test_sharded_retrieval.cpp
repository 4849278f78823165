// Sharded exact dense search and BM25 on 2 and 4 ranks against one index over the whole corpus (built on
// every rank, in the same test): identical global positions and scores, ties included.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "distributed/mpi_support.hpp"
#include "distributed/retrieval/shards.hpp"
#include "support.hpp"

using namespace aimastery;

namespace {

/// Seeded texts over a small vocabulary (so tokens repeat and scores tie).
std::vector<Chunk> corpus(Index n, std::uint64_t seed) {
  static const char* words[] = {"alpha", "beta",  "gamma", "delta", "index", "query", "vector", "score",
                                "token", "shard", "merge", "rank",  "mpi",   "bm25",  "dense",  "sparse"};
  RandomEngine rng(seed);
  std::vector<Chunk> chunks(static_cast<std::size_t>(n));
  for (auto& c : chunks) {
    const auto length = 1 + detail::uniform_below(rng, 12);
    for (std::uint64_t w = 0; w < length; ++w)
      c.text += std::string(w ? " " : "") + words[detail::uniform_below(rng, 16)];
  }
  chunks[5].text = chunks[3].text;  // an exact duplicate: a tie the merge must break by position
  chunks[static_cast<std::size_t>(n) - 1].text = chunks[3].text;
  return chunks;
}

}  // namespace

TEST_CASE_TEMPLATE("ShardedDenseIndex::search equals ExactDenseIndex over the whole collection", T, float, double) {
  Communicator world = Communicator::world();
  Matrix<T> E = test::normal_matrix<T>(301, 16, 51);
  E.row(40) = E.row(7);  // duplicates: equal scores, to be ordered by global position
  E.row(300) = E.row(7);
  E.row(120).setZero();  // a zero vector stays zero: score 0 to every query
  Matrix<T> Q = test::normal_matrix<T>(9, 16, 52);
  Q.row(2) = E.row(7);
  for (bool lopsided : {false, true}) {
    CAPTURE(lopsided);
    ExactDenseIndex<T> single(16);
    single.add(E);
    ShardedDenseIndex<T> sharded(world, 16);
    const BatchShare mine = test::shard_of(E.rows(), world, lopsided);
    sharded.add(E.middleRows(mine.lo, mine.hi - mine.lo));
    CHECK(sharded.size() == 301);
    for (Index k : {1, 3, 10, 400}) {
      const auto expected = single.search(Q, k);
      const auto got = sharded.search(Q, k);
      REQUIRE(got.size() == expected.size());
      for (std::size_t q = 0; q < got.size(); ++q) CHECK(got[q] == expected[q]);  // positions and scores, exactly
    }
  }
}

TEST_CASE("ShardedDenseIndex: bad inputs throw on every rank, naming the problem") {
  Communicator world = Communicator::world();
  ShardedDenseIndex<double> index(world, 4);
  index.add(test::normal_matrix<double>(5, 4, 1));
  const Matrix<double> Q = test::normal_matrix<double>(2, 4, 2);
  CHECK_THROWS_NAMING(index.search(test::normal_matrix<double>(2, 3, 2), 1), InvalidArgument,
                      "ShardedDenseIndex::search: queries have 3 columns, the index 4");
  CHECK_THROWS_NAMING(index.search(Q, 0), InvalidArgument, "k must be at least 1, got 0");
  CHECK_THROWS_NAMING(index.search(Q, world.rank() == 1 ? 2 : 3), InvalidArgument, "ranks disagree on k: 2 to 3");
  const Matrix<double> other = test::normal_matrix<double>(2, 4, 3);
  CHECK_THROWS_NAMING(index.search(world.rank() == 1 ? other : Q, 2), InvalidArgument, "the hash of the queries");
  CHECK_THROWS_NAMING(index.search(world.rank() == 1 ? Matrix<double>(Q.topRows(1)) : Q, 2), InvalidArgument,
                      "ranks disagree on the number of queries: 1 to 2");
  CHECK_THROWS_NAMING(index.add(test::normal_matrix<double>(1, 5, 1)), InvalidArgument, "ExactDenseIndex::add");
  ShardedDenseIndex<double> wrong(world, world.rank() == 1 ? 5 : 4);
  CHECK_THROWS_NAMING(wrong.search(Q, 1), InvalidArgument, "ranks disagree on the dimension: 4 to 5");
  std::vector<std::vector<ScoredIndex>> lists(world.rank() == 1 ? 2 : 1);
  CHECK_THROWS_NAMING(merge_top_k(world, lists, 1), InvalidArgument,
                      "merge_top_k: ranks disagree on the number of queries");
  CHECK_THROWS_NAMING(merge_top_k(world, lists, 0), InvalidArgument, "merge_top_k: k must be at least 1, got 0");
}

TEST_CASE("ShardedBM25::search equals BM25Retriever over the whole corpus, with global statistics") {
  Communicator world = Communicator::world();
  const std::vector<Chunk> chunks = corpus(157, 61);
  const std::vector<std::string> queries = {
      "alpha", "shard merge rank", "bm25 bm25 score", "mpi dense sparse vector", "absent tokens", "", chunks[3].text};
  for (const BM25Options options : {BM25Options{}, BM25Options{.k1 = 1.2, .b = 0.3}, BM25Options{.k1 = 0, .b = 1}})
    for (bool lopsided : {false, true}) {
      CAPTURE(lopsided);
      BM25Retriever single(options);
      single.add(chunks);
      ShardedBM25 sharded(world, options);
      const BatchShare mine = test::shard_of(static_cast<Index>(chunks.size()), world, lopsided);
      sharded.add(std::span<const Chunk>(chunks).subspan(static_cast<std::size_t>(mine.lo),
                                                         static_cast<std::size_t>(mine.hi - mine.lo)));
      CHECK(sharded.shard_size() == mine.hi - mine.lo);
      for (const std::string& q : queries)
        for (Index k : {1, 5, 200}) {
          CAPTURE(q);
          CAPTURE(k);
          CHECK(sharded.search(q, k) == single.search(q, k));  // positions and scores, exactly
        }
    }
}

TEST_CASE("ShardedBM25: bad inputs throw on every rank, naming the problem") {
  Communicator world = Communicator::world();
  ShardedBM25 bm25(world);
  const std::vector<Chunk> chunks = corpus(8, 3);
  bm25.add(chunks);
  CHECK_THROWS_NAMING(bm25.search("alpha", 0), InvalidArgument, "ShardedBM25::search: k must be at least 1, got 0");
  CHECK_THROWS_NAMING(bm25.search("alpha", world.rank() == 1 ? 1 : 2), InvalidArgument, "ranks disagree on k: 1 to 2");
  CHECK_THROWS_NAMING(bm25.search(world.rank() == 1 ? "beta" : "alpha", 2), InvalidArgument, "the hash of the query");
  CHECK_THROWS_NAMING(ShardedBM25(world, {.k1 = -1}), InvalidArgument, "k1 must be finite and >= 0");
  CHECK_THROWS_NAMING(ShardedBM25(world, {.b = 2}), InvalidArgument, "b must be in [0, 1], got 2");
  CHECK_THROWS_AS((void)bm25.chunk(8), std::out_of_range);
}

TEST_CASE_TEMPLATE("ShardedKNN equals KNNScratch over the whole training set: neighbours, distances, classes", T, float,
                   double) {
  Communicator world = Communicator::world();
  Matrix<T> X = test::normal_matrix<T>(211, 6, 71);
  X.row(50) = X.row(10);  // duplicates: ties at equal distance, to be broken by position
  X.row(200) = X.row(10);
  IndexVector y(211);
  for (Index i = 0; i < 211; ++i) y(i) = 10 * ((X(i, 0) > 0 ? 1 : 0) + (X(i, 1) > T(0.5) ? 2 : 0)) - 7;  // any integers
  Matrix<T> Q = test::normal_matrix<T>(23, 6, 72);
  Q.row(0) = X.row(10);
  for (DistanceMetric metric : {DistanceMetric::euclidean, DistanceMetric::cosine, DistanceMetric::manhattan})
    for (NeighborWeights weights : {NeighborWeights::uniform, NeighborWeights::distance})
      for (bool lopsided : {false, true}) {
        CAPTURE(lopsided);
        const KNNParams params{.k = 7, .metric = metric, .weights = weights};
        KNNScratch<T> single(params);
        single.fit(X, y);
        ShardedKNN<T> sharded(world, params);
        const BatchShare mine = test::shard_of(X.rows(), world, lopsided);
        sharded.fit(X.middleRows(mine.lo, mine.hi - mine.lo), y.segment(mine.lo, mine.hi - mine.lo));
        const KNeighbors<T> expected = single.kneighbors(Q);
        const KNeighbors<T> got = sharded.kneighbors(Q);
        CHECK(got.indices == expected.indices);
        CHECK(got.distances == expected.distances);  // exactly
        CHECK(sharded.predict(Q) == single.predict(Q));
        CHECK(sharded.classes() == single.classes());
      }
}

TEST_CASE("ShardedKNN: bad inputs throw on every rank, naming the problem") {
  Communicator world = Communicator::world();
  const Matrix<double> X = test::normal_matrix<double>(4, 3, 1);
  const IndexVector y = IndexVector::Zero(4);
  CHECK_THROWS_NAMING(ShardedKNN<double>(world, {.k = 0}), InvalidArgument, "k must be at least 1, got 0");
  ShardedKNN<double> knn(world, {.k = 2});
  CHECK_THROWS_AS((void)knn.classes(), NotFittedError);
  CHECK_THROWS_AS((void)knn.predict(X), NotFittedError);
  CHECK_THROWS_NAMING(knn.fit(X, IndexVector::Zero(3)), InvalidArgument, "ShardedKNN::fit");
  Matrix<double> with_nan = X;
  with_nan(1, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_NAMING(knn.fit(world.rank() == 1 ? with_nan : X, y), InvalidArgument, "rank 1: ShardedKNN::fit: X");
  CHECK_THROWS_NAMING(knn.fit(world.rank() == 1 ? test::normal_matrix<double>(4, 5, 1) : X, y), InvalidArgument,
                      "ShardedKNN::fit: ranks disagree on the number of features: 3 to 5");
  ShardedKNN<double> big(world, {.k = 100});
  CHECK_THROWS_NAMING(big.fit(X, y), InvalidArgument,
                      test::text("k = 100 exceeds the " + std::to_string(4 * world.size()) + " training samples"));
  knn.fit(X, y);
  CHECK_THROWS_NAMING(knn.predict(test::normal_matrix<double>(2, 4, 1)), InvalidArgument, "ShardedKNN::predict");
  CHECK_THROWS_NAMING(knn.kneighbors(world.rank() == 1 ? test::normal_matrix<double>(2, 3, 9) : X.topRows(2).eval()),
                      InvalidArgument, "the hash of the queries");
}
