// HnswIndex (tests/reference/gen_llm_rag_hnsw.py): recall@10 against exact search on 5,000 seeded random
// normalised 32-d vectors, within 0.02 of hnswlib's at the same M, ef_construction and ef, and ≥ 0.95 at
// ef = 80, also when built on two threads; equal to exact search when ef ≥ n (built on one thread or three);
// deleted elements never returned; save → load gives the same results and the same later insertions;
// truncated, tampered and hostile files are FormatErrors; bad input is an InvalidArgument that leaves the
// index unchanged.
#include <aimastery/llm/rag/dense_retriever.hpp>
#include <aimastery/llm/rag/hnsw_index.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include "llm/rag_hnsw/recall.hpp"
#include "seeded_normal.hpp"
#include "support.hpp"
#include "temporary_path.hpp"

using namespace aimastery;
using aimastery::test::seeded_normal;
using aimastery::test::temporary_path;

namespace {

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// FNV-1a as the file's trailer: lets a test forge a file whose checksum is right but whose content lies.
void rehash(std::vector<unsigned char>& bytes) {
  std::uint64_t h = 14695981039346656037ull;
  for (std::size_t i = 0; i + 8 < bytes.size(); ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  std::memcpy(bytes.data() + bytes.size() - 8, &h, 8);
}

template <class V>
void poke(std::vector<unsigned char>& bytes, std::size_t offset, V value) {
  std::memcpy(bytes.data() + offset, &value, sizeof(V));
}

}  // namespace

TEST_CASE("HnswIndex: recall@10 against exact search is within 0.02 of hnswlib's (M 16, ef_construction 200)") {
  const auto ref = test::load_reference("llm_rag_hnsw.json");
  const Index rows = ref["rows"], queries = ref["queries"], d = ref["dimension"], k = ref["k"];
  const Matrix<float> X = seeded_normal<float>(ref["seeds"][0], rows, d);
  const Matrix<float> Q = seeded_normal<float>(ref["seeds"][1], queries, d);
  ExactDenseIndex<float> exact(d);
  exact.add(X);
  const auto truth = exact.search(Q, k);
  // The exact search agrees with NumPy's on the generator's side (so both recalls measure the same thing).
  Index same = 0;
  for (Index q = 0; q < queries; ++q)
    for (Index r = 0; r < k; ++r)
      same += truth[std::size_t(q)][std::size_t(r)].index == ref["exact_top10"][q][r] ? 1 : 0;
  CHECK(same >= queries * k - 2);

  HnswIndex<float> index(d, {.M = ref["M"], .ef_construction = ref["ef_construction"], .ef = 10});
  index.add(X);
  REQUIRE(index.size() == rows);
  for (std::size_t i = 0; i < ref["efs"].size(); ++i) {
    const Index ef = ref["efs"][i];
    const double ours = test::recall(index.search(Q, k, ef), truth);
    const double theirs = ref["hnswlib_recall"][i];
    MESSAGE("ef " << ef << ": recall@10 ours " << ours << ", hnswlib " << theirs);
    CHECK(std::abs(ours - theirs) <= 0.02);
    if (ef == 80) CHECK(ours >= 0.95);
  }

  // Built on two threads: the same levels (drawn in order), a graph of the same quality.
  HnswIndex<float> parallel(d, {.M = ref["M"], .ef_construction = ref["ef_construction"], .ef = 10});
  parallel.add(X.topRows(rows / 3), 2);
  parallel.add(X.bottomRows(rows - rows / 3), 2);
  REQUIRE(parallel.size() == rows);
  Index same_levels = 0;
  for (Index i = 0; i < rows; ++i) same_levels += parallel.level(i) == index.level(i) ? 1 : 0;
  CHECK(same_levels == rows);
  for (std::size_t i = 0; i < ref["efs"].size(); ++i) {
    const Index ef = ref["efs"][i];
    const double ours = test::recall(parallel.search(Q, k, ef), truth);
    const double theirs = ref["hnswlib_recall"][i];
    MESSAGE("ef " << ef << ", built on 2 threads: recall@10 ours " << ours << ", hnswlib " << theirs);
    CHECK(std::abs(ours - theirs) <= 0.02);
  }
}

TEST_CASE_TEMPLATE("HnswIndex: with ef >= n the search equals exact search", T, float, double) {
  const Index n = 400, d = 16;
  const Matrix<T> X = seeded_normal<T>(test::test_seed(7001), n, d);
  const Matrix<T> Q = seeded_normal<T>(7002, 25, d);
  // Every element reachable at ef ≥ n, which HNSW does not promise: neighbour pruning can take the last
  // link into an element (as in hnswlib). With M = 4 and ef_construction = 20 on these 400 vectors, 3 of 200
  // seeds lose one on one thread and 3–4 on three threads, where the timing picks the graph; with M = 8
  // and ef_construction = 40, none of 200 seeds on one thread nor of 600 three-thread builds lost one.
  const HnswParams params{.M = 8, .ef_construction = 40, .ef = n};
  HnswIndex<T> index(d, params);
  index.add(X);
  ExactDenseIndex<T> exact(d);
  exact.add(X);
  const auto want = exact.search(Q, 10);
  const auto got = index.search(Q, 10);
  for (std::size_t q = 0; q < want.size(); ++q) {
    REQUIRE(got[q].size() == want[q].size());
    for (std::size_t r = 0; r < want[q].size(); ++r) {
      CHECK(got[q][r].index == want[q][r].index);
      CHECK(got[q][r].score == doctest::Approx(want[q][r].score).epsilon(test::Tolerance<T>::reference));
    }
  }
  // k larger than the index: everything, best first.
  const auto all = index.search(Q.topRows(1), n, n);
  CHECK(all[0].size() == std::size_t(n));
  for (std::size_t r = 1; r < all[0].size(); ++r) CHECK(all[0][r - 1].score >= all[0][r].score);

  // Built on three threads the graph still reaches every element.
  HnswIndex<T> parallel(d, params);
  parallel.add(X, 3);
  const auto every = parallel.search(Q, n);
  for (std::size_t q = 0; q < want.size(); ++q) {
    CHECK(every[q].size() == std::size_t(n));
    for (std::size_t r = 0; r < want[q].size(); ++r) CHECK(every[q][r].index == want[q][r].index);
  }
}

TEST_CASE("HnswIndex: the graph respects M: at most 2M neighbours on layer 0, M above; levels thin out by 1/M") {
  const Index n = 3000, d = 8, M = 6;
  HnswIndex<float> index(d, {.M = M, .ef_construction = 40});
  index.add(seeded_normal<float>(7101, n, d));
  Index above = 0;
  for (Index i = 0; i < n; ++i) above += index.level(i) >= 1 ? 1 : 0;
  // P(level ≥ 1) = 1/M: 500 expected, binomial standard deviation ≈ 20.
  CHECK(above > 500 - 100);
  CHECK(above < 500 + 100);
}

TEST_CASE("HnswIndex: deleted elements are never returned, and the rest is still found") {
  const Index n = 2000, d = 16, k = 10;
  const Matrix<float> X = seeded_normal<float>(7201, n, d);
  const Matrix<float> Q = seeded_normal<float>(7202, 50, d);
  HnswIndex<float> index(d, {.M = 12, .ef_construction = 100, .ef = 64});
  index.add(X);
  std::vector<bool> gone(std::size_t(n), false);
  for (Index i = 0; i < n; i += 2) {  // every other element, the entry point among them or not
    index.mark_deleted(i);
    gone[std::size_t(i)] = true;
  }
  CHECK(index.is_deleted(0));
  CHECK_FALSE(index.is_deleted(1));
  // Exact search over the live half, mapped back to positions.
  Matrix<float> live(n / 2, d);
  for (Index i = 0; i < n / 2; ++i) live.row(i) = X.row(2 * i + 1);
  ExactDenseIndex<float> exact(d);
  exact.add(live);
  auto truth = exact.search(Q, k);
  for (auto& hits : truth)
    for (auto& h : hits) h.index = 2 * h.index + 1;
  const auto got = index.search(Q, k);
  for (const auto& hits : got) {
    CHECK(hits.size() == std::size_t(k));
    for (const auto& h : hits) CHECK_FALSE(gone[std::size_t(h.index)]);
  }
  CHECK(test::recall(got, truth) >= 0.9);
  // Inserting after deletions still works and the new element is found.
  index.add(Q.topRows(1));
  const auto self = index.search(Q.topRows(1), 1);
  CHECK(self[0][0].index == n);
  CHECK(self[0][0].score == doctest::Approx(1.0).epsilon(1e-5));
  // Deleting everything leaves nothing to return.
  for (Index i = 1; i <= n; i += (i == n - 1 ? 1 : 2)) index.mark_deleted(i);
  CHECK(index.search(Q, k)[0].empty());
  const auto message = [&] {
    try {
      index.mark_deleted(3);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  CHECK(message.find("already deleted") != std::string::npos);
}

TEST_CASE_TEMPLATE("HnswIndex: save then load gives the same results and the same later insertions", T, float, double) {
  const Index d = 12;
  const Matrix<T> X = seeded_normal<T>(7301, 800, d);
  const Matrix<T> more = seeded_normal<T>(7302, 200, d);
  const Matrix<T> Q = seeded_normal<T>(7303, 40, d);
  HnswIndex<T> index(d, {.M = 8, .ef_construction = 50, .ef = 20, .seed = 5});
  index.add(X);
  index.mark_deleted(17);
  const std::string path = temporary_path("save_" + std::to_string(sizeof(T)) + ".bin");
  index.save(path);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp" + std::to_string(::getpid())));
  HnswIndex<T> loaded = HnswIndex<T>::load(path);
  CHECK(loaded.size() == index.size());
  CHECK(loaded.is_deleted(17));
  CHECK(loaded.params().M == 8);
  CHECK(loaded.params().ef == 20);
  CHECK(index.search(Q, 10) == loaded.search(Q, 10));
  // The engine resumes where it stopped: the same levels, the same graph.
  index.add(more);
  loaded.add(more);
  for (Index i = 0; i < index.size(); ++i) CHECK(index.level(i) == loaded.level(i));
  CHECK(index.search(Q, 10) == loaded.search(Q, 10));
  // An empty index round-trips too.
  HnswIndex<T> empty(d);
  empty.save(path);
  CHECK(HnswIndex<T>::load(path).size() == 0);
  std::filesystem::remove(path);
}

TEST_CASE("HnswIndex: truncated, tampered and hostile files are FormatErrors that name the problem") {
  const Index d = 6;
  HnswIndex<float> index(d, {.M = 4, .ef_construction = 16});
  index.add(seeded_normal<float>(7401, 60, d));
  const std::string good_path = temporary_path("good.bin"), bad_path = temporary_path("bad.bin");
  index.save(good_path);
  const std::vector<unsigned char> good = read_bytes(good_path);
  const auto error_of = [&](const std::vector<unsigned char>& bytes) {
    write_bytes(bad_path, bytes);
    try {
      (void)HnswIndex<float>::load(bad_path);
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // Every truncation.
  for (std::size_t n = 0; n < good.size(); n += (n < 200 ? 1 : 37)) {
    const std::string e = error_of({good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)});
    CHECK_MESSAGE(e != "no error", "truncated to " << n);
  }
  // Every single flipped byte.
  for (std::size_t i = 0; i < good.size(); i += (i < 200 ? 1 : 13)) {
    auto bytes = good;
    bytes[i] ^= 0x5A;
    CHECK_MESSAGE(error_of(bytes) != "no error", "byte " << i << " flipped");
  }
  CHECK(error_of({good.begin(), good.begin() + 5}).find("truncated") != std::string::npos);
  {
    auto bytes = good;
    bytes[0] = 'X';
    CHECK(error_of(bytes).find("wrong magic") != std::string::npos);
  }
  {
    auto bytes = good;
    bytes[100] ^= 1;
    CHECK(error_of(bytes).find("checksum") != std::string::npos);
  }
  // Forged files with a correct checksum: the structure is checked on its own.
  // Header offsets: magic 0, version 8, scalar size 12, dimension 16, M 24, ef_construction 32, ef 40,
  // seed 48, count 56, draws 64, entry 72, top 80, then the elements at 88.
  {
    auto bytes = good;
    // The largest count the format allows (2^32 - 1), with as many level draws: refused by its size before the
    // engine replays a single draw (replaying 2^32 of them took a minute).
    poke<std::uint64_t>(bytes, 56, std::uint64_t{std::numeric_limits<std::uint32_t>::max()});
    poke<std::uint64_t>(bytes, 64, std::uint64_t{std::numeric_limits<std::uint32_t>::max()});
    rehash(bytes);
    const auto started = std::chrono::steady_clock::now();
    const std::string e = error_of(bytes);
    CHECK(e.find("truncated") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  }
  {
    auto bytes = good;
    poke<std::uint64_t>(bytes, 16, std::uint64_t(1) << 39);  // a huge dimension
    rehash(bytes);
    CHECK(error_of(bytes).find("do not fit") != std::string::npos);
  }
  {
    auto bytes = good;
    poke<std::uint64_t>(bytes, 24, 60000);  // M: lists of 120,001 entries for every element
    rehash(bytes);
    CHECK(error_of(bytes).find("would need") != std::string::npos);
  }
  {
    auto bytes = good;
    poke<std::uint64_t>(bytes, 24, 1);
    rehash(bytes);
    CHECK(error_of(bytes).find("invalid M") != std::string::npos);
  }
  {
    auto bytes = good;
    poke<std::uint32_t>(bytes, 8, 99);
    rehash(bytes);
    CHECK(error_of(bytes).find("format version 99") != std::string::npos);
  }
  {
    auto bytes = good;
    poke<std::uint32_t>(bytes, 12, 8);
    rehash(bytes);
    CHECK(error_of(bytes).find("8-byte scalars") != std::string::npos);
  }
  {
    // The first neighbour list: after the 60 element bytes pairs and the vectors; a link to element 60.
    auto bytes = good;
    const std::size_t lists = 88 + 2 * 60 + 60 * d * sizeof(float);
    std::uint32_t m = 0;
    std::memcpy(&m, bytes.data() + lists, 4);
    REQUIRE(m >= 1);
    poke<std::uint32_t>(bytes, lists + 4, 60);
    rehash(bytes);
    CHECK(error_of(bytes).find("invalid neighbour 60") != std::string::npos);
    poke<std::uint32_t>(bytes, lists, 9);  // more than 2M = 8 neighbours
    rehash(bytes);
    CHECK(error_of(bytes).find("at most 8 allowed") != std::string::npos);
  }
  {
    auto bytes = good;
    poke<float>(bytes, 88 + 2 * 60, std::numeric_limits<float>::quiet_NaN());
    rehash(bytes);
    CHECK(error_of(bytes).find("NaN") != std::string::npos);
  }
  {
    auto bytes = good;
    bytes.insert(bytes.end() - 8, {1, 2, 3, 4});
    rehash(bytes);
    CHECK(error_of(bytes).find("trailing") != std::string::npos);
  }
  CHECK_THROWS_AS((void)HnswIndex<float>::load(temporary_path("does_not_exist.bin")), FormatError);
  CHECK_THROWS_AS((void)HnswIndex<double>::load(good_path), FormatError);  // float file, double index
  std::filesystem::remove(good_path);
  std::filesystem::remove(bad_path);
}

TEST_CASE("HnswIndex: bad input is an InvalidArgument naming the problem, and leaves the index unchanged") {
  const Index d = 8;
  const auto message = [](auto&& call) {
    try {
      call();
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message([&] { HnswIndex<float>(d, {.M = 1}); }).find("M must be in [2") != std::string::npos);
  CHECK(message([&] { HnswIndex<float>(0); }).find("dimension must be positive") != std::string::npos);
  CHECK(message([&] { HnswIndex<float>(d, {.ef_construction = 0}); }).find("ef_construction") != std::string::npos);

  HnswIndex<float> index(d, {.M = 4, .ef_construction = 20, .ef = 10});
  const Matrix<float> X = seeded_normal<float>(7501, 100, d);
  index.add(X);
  const Matrix<float> Q = seeded_normal<float>(7502, 5, d);
  const auto before = index.search(Q, 5);

  Matrix<float> with_nan = seeded_normal<float>(7503, 10, d);
  with_nan(7, 3) = std::numeric_limits<float>::quiet_NaN();
  CHECK(message([&] { index.add(with_nan); }).find("NaN") != std::string::npos);
  CHECK(message([&] { index.add(with_nan, 2); }).find("NaN") != std::string::npos);
  CHECK(message([&] { index.add(X, 0); }).find("threads must be at least 1, got 0") != std::string::npos);
  CHECK(index.size() == 100);  // rows 0 … 6 were valid, yet nothing was inserted
  const Matrix<float> wrong(3, d + 1);
  const std::string shape = message([&] { index.add(wrong); });
  CHECK(shape.find("HnswIndex::add") != std::string::npos);
  CHECK(shape.find("3x9") != std::string::npos);
  CHECK(shape.find("8-d") != std::string::npos);
  CHECK(message([&] { (void)index.search(wrong, 5); }).find("HnswIndex::search") != std::string::npos);
  CHECK(message([&] { (void)index.search(Q, 0); }).find("k must be at least 1") != std::string::npos);
  CHECK(message([&] { (void)index.search(Q, -3); }).find("k must be at least 1") != std::string::npos);
  CHECK(message([&] { (void)index.search(Q, 11); }).find("ef (10) must be at least k (11)") != std::string::npos);
  CHECK(message([&] { (void)index.search(Q, 5, 4); }).find("ef (4) must be at least k (5)") != std::string::npos);
  CHECK(message([&] { index.set_ef(0); }).find("ef must be at least 1") != std::string::npos);
  CHECK(message([&] { index.mark_deleted(100); }).find("outside [0, 100)") != std::string::npos);
  CHECK(message([&] { (void)index.level(-1); }).find("outside") != std::string::npos);
  CHECK(index.size() == 100);
  CHECK(index.params().ef == 10);
  CHECK(index.search(Q, 5) == before);
  // Searching an empty index returns nothing (not an error).
  HnswIndex<float> empty(d);
  CHECK(empty.search(Q, 3)[0].empty());
}
