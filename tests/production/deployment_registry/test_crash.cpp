// ModelVersionManager across processes: a writer killed with SIGKILL at random moments (the registry must
// always open, verify, and hold the state before or after the interrupted operation), and two writer
// processes at the same time (no update lost, readers never see a half-written state).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/production/deployment/model_version_manager.hpp"
#include "support.hpp"
#include "temp_folder.hpp"

using namespace aimastery;
using aimastery::test::TempFolder;

namespace {

/// Operation i of the writer's deterministic script (cycling through every kind of write).
void apply_operation(ModelVersionManager& registry, std::int64_t i) {
  switch (i % 5) {
    case 0:  // a new version with a folder of artifacts
      registry.register_bytes("m",
                              {{"weights.bin", std::string(4096, static_cast<char>('a' + i % 26))},
                               {"config/model.json", "{\"op\": " + std::to_string(i) + "}"}},
                              {.metrics = {{"op", static_cast<double>(i)}}});
      break;
    case 1:
      registry.set_alias("m", "champion", registry.latest_version("m"), "op " + std::to_string(i));
      break;
    case 2:
      registry.set_tag("m", registry.latest_version("m"), "op", std::to_string(i));
      break;
    case 3:
      registry.update("m", {.aliases = {{"challenger", 1}}, .metadata = {{"op", i}}});
      break;
    default:
      registry.rollback("m", "champion", "op " + std::to_string(i));
      break;
  }
}

/// Everything observable about the registry except wall-clock times.
nlohmann::json fingerprint(const ModelVersionManager& registry) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& model : registry.models()) {
    nlohmann::json m;
    for (auto v : registry.versions(model)) {
      const ModelVersion info = registry.get(model, v);
      nlohmann::json artifacts = nlohmann::json::array();
      for (const auto& a : info.artifacts) artifacts.push_back({a.path, a.size, a.xxh3_128});
      m["versions"][std::to_string(v)] = {{"metrics", info.metrics}, {"tags", info.tags}, {"artifacts", artifacts}};
    }
    m["aliases"] = registry.aliases(model);
    m["metadata"] = registry.model_metadata(model).dump();
    for (const char* alias : {"champion", "challenger"}) {
      nlohmann::json history = nlohmann::json::array();
      for (const auto& e : registry.alias_history(model, alias))
        history.push_back({e.action, e.version ? nlohmann::json(*e.version) : nlohmann::json(),
                           e.previous ? nlohmann::json(*e.previous) : nlohmann::json()});
      m["history"][alias] = history;
    }
    out[model] = m;
  }
  return out;
}

/// Waits for `pid`; its raw status.
int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

TEST_CASE("ModelVersionManager: a writer killed with SIGKILL at random points leaves the old or the new state") {
  const std::uint64_t seed = test::test_seed(20261202);
  RandomEngine rng(seed);
  // A SIGKILL (unlike a power cut) loses nothing the process already wrote, so what is tested here
  // is the atomicity of each step, not durability: the registry lives in memory-backed storage when
  // there is one, where fsync is free and a writer gets through many operations per millisecond.
  TempFolder dir(test::memory_backed_base());
  const auto root = dir / "registry";
  const auto reference_root = dir / "reference";
  { ModelVersionManager create(root); }

  // expected[k]: the fingerprint after the first k operations, from a reference registry that runs the
  // same script without being killed (extended as far as the killed writer gets).
  ModelVersionManager reference(reference_root);
  std::vector<nlohmann::json> expected{fingerprint(reference)};
  double operation_seconds = 0;  // total time of the reference's operations, to scale the kill window
  auto expected_at = [&](std::int64_t k) -> const nlohmann::json& {
    while (static_cast<std::int64_t>(expected.size()) <= k) {
      const auto t0 = std::chrono::steady_clock::now();
      apply_operation(reference, static_cast<std::int64_t>(expected.size()) - 1);
      operation_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      expected.push_back(fingerprint(reference));
    }
    return expected[static_cast<std::size_t>(k)];
  };
  // The mean duration of one operation on this machine and build (sanitizers, load): the writer is
  // killed within the next five of them, so the kills fall inside every step of every kind of write.
  constexpr int calibration = 40;
  (void)expected_at(calibration);
  auto window = std::chrono::microseconds(
      std::max<std::int64_t>(300, static_cast<std::int64_t>(5e6 * operation_seconds / calibration)));
  MESSAGE("kill window after start-up: " << window.count() << " us");
  // Under load (other tests running beside this one) the writer runs slower than the calibration said;
  // the window widens by a quarter whenever a writer dies before committing anything, up to 50 ms.
  const auto widen = [&] {
    window = std::min(std::chrono::microseconds(50000), window + window / 4 + std::chrono::microseconds(1));
  };

  constexpr int runs = 150;
  std::int64_t done = 0;  // operations committed so far
  int old_state = 0, new_state = 0, killed = 0, mid_sequence = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int run = 0; run < runs; ++run) {
    int progress[2];
    REQUIRE(::pipe(progress) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // the writer: a byte once it has opened the registry, then one per committed operation
      ::close(progress[0]);
      try {
        ModelVersionManager registry(root);
        const char opened = 1;
        if (::write(progress[1], &opened, 1) != 1) ::_exit(4);
        for (std::int64_t i = done; i < done + 10000; ++i) {
          apply_operation(registry, i);
          const char byte = 1;
          if (::write(progress[1], &byte, 1) != 1) ::_exit(4);
        }
      } catch (...) {
        ::_exit(3);
      }
      ::_exit(0);
    }
    ::close(progress[1]);
    // One run in ten is killed in its first 2 ms, usually while it opens the registry; the others once
    // the registry is open, within the window: anywhere inside any step of its next few operations.
    char first = 0;
    const bool early = detail::uniform_below(rng, 10) == 0;
    if (!early) REQUIRE(::read(progress[0], &first, 1) == 1);
    const auto delay = std::chrono::microseconds(
        detail::uniform_below(rng, early ? 2000 : static_cast<std::uint64_t>(window.count())));
    std::this_thread::sleep_for(delay);
    ::kill(child, SIGKILL);
    const int status = wait_for(child);
    CAPTURE(run);
    CAPTURE(delay.count());
    REQUIRE_MESSAGE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL), "the writer failed on its own, status ",
                    status);
    ++killed;
    std::int64_t completed = early ? -1 : 0;  // the first byte says "opened"
    char buffer[256];
    for (ssize_t n; (n = ::read(progress[0], buffer, sizeof buffer)) > 0;) completed += n;
    completed = std::max<std::int64_t>(completed, 0);
    mid_sequence += completed > 0 ? 1 : 0;
    if (!early && completed == 0) widen();
    ::close(progress[0]);

    // The registry opens, every listed artifact is intact, and the state is the one before or after
    // the interrupted operation.
    ModelVersionManager reopened(root);
    CHECK_NOTHROW(reopened.verify());
    const nlohmann::json state = fingerprint(reopened);
    if (state == expected_at(done + completed)) {
      ++old_state;
      done += completed;
    } else if (state == expected_at(done + completed + 1)) {
      ++new_state;
      done += completed + 1;
    } else {
      FAIL("run " << run << ": the state is neither before nor after operation " << done + completed << ": "
                  << state.dump());
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("kill window at the end: " << window.count() << " us");
  MESSAGE(killed << " writers killed (" << mid_sequence << " after committing an operation of theirs); " << done
                 << " operations committed; the interrupted operation was absent " << old_state
                 << " times and complete " << new_state << " times; " << seconds << " s");
  CHECK(killed == runs);
  CHECK(mid_sequence >= runs / 4);  // the kills do land between and inside operations, not only at start-up
  // A last writer finishes normally on top of whatever the kills left (staged folders, orphan versions).
  ModelVersionManager last(root);
  apply_operation(last, done);
  CHECK(fingerprint(last) == expected_at(done + 1));
  CHECK_NOTHROW(last.verify());
}

TEST_CASE("ModelVersionManager: two writer processes at once lose no update, and a reader sees only whole states") {
  TempFolder dir;
  const auto root = dir / "registry";
  { ModelVersionManager create(root); }
  constexpr int per_writer = 15;
  std::vector<pid_t> writers;
  for (int w = 0; w < 2; ++w) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      try {
        ModelVersionManager registry(root);
        for (int k = 0; k < per_writer; ++k) {
          const auto v = registry.register_bytes("shared", {{"w.bin", std::to_string(w) + ":" + std::to_string(k)}},
                                                 {.metrics = {{"writer", w}, {"k", k}}});
          registry.set_tag("shared", v.version, "writer", std::to_string(w));
          registry.set_alias("shared", w == 0 ? "champion" : "challenger", v.version);
        }
      } catch (...) {
        ::_exit(3);
      }
      ::_exit(0);
    }
    writers.push_back(pid);
  }
  // Meanwhile this process reads: every read must succeed on a whole state.
  int reads = 0, failures = 0;
  int statuses[2] = {-1, -1};
  bool reaped[2] = {false, false};
  ModelVersionManager reader(root);
  for (;;) {
    for (int w = 0; w < 2; ++w)
      if (!reaped[w] && ::waitpid(writers[static_cast<std::size_t>(w)], &statuses[w], WNOHANG) ==
                            writers[static_cast<std::size_t>(w)])
        reaped[w] = true;
    const bool both_done = reaped[0] && reaped[1];
    try {
      if (reader.has_model("shared"))
        for (auto v : reader.versions("shared")) (void)reader.get("shared", v);
      ++reads;
    } catch (...) {
      ++failures;
    }
    if (both_done) break;
  }
  for (int w = 0; w < 2; ++w) {
    CAPTURE(w);
    CHECK((WIFEXITED(statuses[w]) && WEXITSTATUS(statuses[w]) == 0));
  }
  MESSAGE(reads << " reads during the writes");
  CHECK(failures == 0);
  const auto versions = reader.versions("shared");
  REQUIRE(versions.size() == 2 * per_writer);
  std::map<int, int> per_writer_count;
  for (std::int64_t v = 1; v <= 2 * per_writer; ++v) {
    CHECK(versions[static_cast<std::size_t>(v - 1)] == v);
    const ModelVersion info = reader.get("shared", v);
    const int w = static_cast<int>(info.metrics.at("writer"));
    ++per_writer_count[w];
    CHECK(info.tags.at("writer") == std::to_string(w));
  }
  CHECK(per_writer_count[0] == per_writer);
  CHECK(per_writer_count[1] == per_writer);
  CHECK(reader.get("shared", "champion").metrics.at("k") == per_writer - 1);
  CHECK(reader.get("shared", "challenger").metrics.at("k") == per_writer - 1);
  CHECK(reader.verify() == 2 * per_writer);
}
