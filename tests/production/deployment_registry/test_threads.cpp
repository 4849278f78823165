// ModelVersionManager from many threads of one process: one shared object (its mutex) and separate
// objects on the same folder (the file lock), writers and readers at once (run under ThreadSanitizer).

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "aimastery/production/deployment/model_version_manager.hpp"
#include "support.hpp"
#include "temp_folder.hpp"

using namespace aimastery;
using aimastery::test::TempFolder;

TEST_CASE("ModelVersionManager: threads sharing one object and threads with their own objects lose no write") {
  TempFolder dir(test::memory_backed_base());
  ModelVersionManager shared(dir.path());
  constexpr int writers = 4, per_writer = 10;
  std::atomic<int> failures{0};
  std::atomic<bool> writing{true};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      try {
        ModelVersionManager own(dir.path());
        ModelVersionManager& registry = w % 2 == 0 ? shared : own;  // half through the shared object
        for (int k = 0; k < per_writer; ++k) {
          const auto v =
              registry.register_bytes("m", {{"w", std::to_string(w * 100 + k)}}, {.metrics = {{"writer", w}}});
          registry.set_alias("m", "writer-" + std::to_string(w), v.version);
        }
      } catch (...) {
        ++failures;
      }
    });
  std::thread reader([&] {
    while (writing.load()) {
      try {
        if (shared.has_model("m"))
          for (auto v : shared.versions("m")) (void)shared.get("m", v);
      } catch (...) {
        ++failures;
      }
    }
  });
  for (auto& t : threads) t.join();
  writing = false;
  reader.join();
  CHECK(failures == 0);
  CHECK(shared.versions("m").size() == writers * per_writer);
  CHECK(shared.aliases("m").size() == writers);
  CHECK(shared.verify() == writers * per_writer);
  CHECK(shared.generation() == 2 * writers * per_writer);
}
