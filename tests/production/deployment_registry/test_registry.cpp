// ModelVersionManager in one process: versions, artifacts, tags, aliases and their history, rollback,
// persistence across reopening, corrupt files, bad inputs, and the rule that a refused call leaves the
// registry (on disk and in memory) exactly as it was.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aimastery/production/deployment/model_version_manager.hpp"
#include "support.hpp"
#include "temp_folder.hpp"

using namespace aimastery;
using namespace std::chrono_literals;
using aimastery::test::TempFolder;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const std::filesystem::path& p, const std::string& bytes) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace

TEST_CASE("ModelVersionManager: versions from bytes, files and folders, with their metadata") {
  TempFolder dir;
  ModelVersionManager registry(dir.path() / "reg");
  CHECK(registry.models().empty());
  CHECK(registry.generation() == 0);

  const ModelVersion v1 = registry.register_bytes(
      "iris-rf", {{"model.json", "{\"trees\": 3}"}, {"weights/w.bin", std::string("\0\1\2", 3)}},
      {.metrics = {{"accuracy", 0.95}},
       .tags = {{"stage", "dev"}},
       .description = "first",
       .metadata = JsonValue::object({{"n_estimators", 3}})});
  CHECK(v1.version == 1);
  CHECK(v1.model == "iris-rf");
  CHECK(v1.metrics.at("accuracy") == 0.95);
  CHECK(v1.tags.at("stage") == "dev");
  CHECK(v1.description == "first");
  CHECK(v1.metadata.at("n_estimators") == 3);
  CHECK(v1.created.size() == 24);  // 2026-12-02T04:30:00.123Z
  REQUIRE(v1.artifacts.size() == 2);
  CHECK(v1.artifacts[0].path == "model.json");
  CHECK(v1.artifacts[1].path == "weights/w.bin");
  CHECK(v1.artifacts[1].size == 3);
  CHECK(v1.artifacts[0].xxh3_128 == content_hash("{\"trees\": 3}").hex());
  CHECK(slurp(v1.folder / "weights/w.bin") == std::string("\0\1\2", 3));

  // A single file keeps its name; a folder is copied recursively, in sorted order.
  spit(dir / "src/model.safetensors", "tensor bytes");
  const ModelVersion v2 = registry.register_file("iris-rf", dir / "src/model.safetensors");
  CHECK(v2.version == 2);
  REQUIRE(v2.artifacts.size() == 1);
  CHECK(v2.artifacts[0].path == "model.safetensors");
  CHECK(slurp(v2.folder / "model.safetensors") == "tensor bytes");

  spit(dir / "bundle/config.json", "{}");
  spit(dir / "bundle/tokenizer/vocab.txt", "[PAD]\n[UNK]\n");
  const ModelVersion v7 = registry.register_file("iris-rf", dir / "bundle", {.version = 7});
  CHECK(v7.version == 7);
  REQUIRE(v7.artifacts.size() == 2);
  CHECK(v7.artifacts[0].path == "config.json");
  CHECK(v7.artifacts[1].path == "tokenizer/vocab.txt");
  CHECK(registry.register_bytes("iris-rf", {{"a", "b"}}).version == 8);  // next after the largest
  CHECK(registry.versions("iris-rf") == std::vector<std::int64_t>{1, 2, 7, 8});
  CHECK(registry.latest_version("iris-rf") == 8);
  CHECK(registry.verify() == 6);
  CHECK(registry.generation() == 4);
}

TEST_CASE("ModelVersionManager: the state survives reopening, and a second object sees the first one's writes") {
  TempFolder dir;
  const auto root = dir.path() / "reg";
  {
    ModelVersionManager registry(root);
    registry.register_bytes("m", {{"w", "1"}});
    registry.register_bytes("m", {{"w", "2"}});
    registry.set_alias("m", "champion", 1, "first release");
    registry.set_alias("m", "champion", 2, "better");
    registry.set_tag("m", 2, "owner", "ana");
    registry.set_model_metadata("m", "team", "search");
  }
  ModelVersionManager reopened(root);
  ModelVersionManager other(root);
  CHECK(reopened.models() == std::vector<std::string>{"m"});
  CHECK(reopened.alias("m", "champion") == 2);
  CHECK(reopened.get("m", "champion").tags.at("owner") == "ana");
  CHECK(reopened.model_metadata("m").at("team") == "search");
  const auto history = reopened.alias_history("m", "champion");
  REQUIRE(history.size() == 2);
  CHECK(history[1].action == "set");
  CHECK(history[1].version == 2);
  CHECK(history[1].previous == 1);
  CHECK(history[1].reason == "better");

  other.set_alias("m", "challenger", 1);
  CHECK(reopened.alias("m", "challenger") == 1);  // re-read because registry.json changed
  CHECK(reopened.aliases("m") == std::map<std::string, std::int64_t>{{"champion", 2}, {"challenger", 1}});
}

TEST_CASE("ModelVersionManager: rollback walks the alias history back as a stack, and is persisted") {
  TempFolder dir;
  ModelVersionManager registry(dir.path());
  for (int i = 0; i < 3; ++i) registry.register_bytes("m", {{"w", std::to_string(i)}});
  registry.set_alias("m", "champion", 1);
  registry.set_alias("m", "champion", 2);
  registry.set_alias("m", "champion", 3);
  CHECK(registry.rollback("m", "champion", "bad release") == 2);
  CHECK(ModelVersionManager(dir.path()).alias("m", "champion") == 2);  // on disk
  CHECK(registry.rollback("m", "champion") == 1);                      // further back, not a toggle
  CHECK(registry.rollback("m", "champion") == std::nullopt);           // the alias did not exist before
  CHECK_FALSE(registry.alias("m", "champion").has_value());
  CHECK_THROWS_NAMING(registry.rollback("m", "champion"), InvalidArgument, "has no change to roll back");
  // A removal is undone like any change.
  registry.set_alias("m", "champion", 3);
  registry.remove_alias("m", "champion");
  CHECK(registry.rollback("m", "champion") == 3);
  CHECK(registry.alias_history("m", "champion").back().action == "rollback");
}

TEST_CASE("ModelVersionManager: update changes several aliases and settings in one write") {
  TempFolder dir;
  ModelVersionManager registry(dir.path());
  registry.register_bytes("m", {{"w", "1"}});
  registry.register_bytes("m", {{"w", "2"}});
  registry.set_alias("m", "champion", 1);
  registry.set_alias("m", "challenger", 2);
  const auto before = registry.generation();
  registry.update("m", {.aliases = {{"champion", 2}, {"challenger", std::nullopt}},
                        .metadata = {{"canary", nullptr}, {"note", "promoted"}},
                        .reason = "promote"});
  CHECK(registry.generation() == before + 1);
  CHECK(registry.aliases("m") == std::map<std::string, std::int64_t>{{"champion", 2}});
  CHECK(registry.model_metadata("m") == JsonValue::object({{"note", "promoted"}}));
}

TEST_CASE("ModelVersionManager: bad inputs throw, name the problem, and change nothing") {
  TempFolder dir;
  ModelVersionManager registry(dir.path());
  registry.register_bytes("m", {{"w", "1"}}, {.tags = {{"k", "v"}}});
  registry.set_alias("m", "champion", 1);
  const std::string on_disk = slurp(dir / "registry.json");
  const auto generation = registry.generation();

  CHECK_THROWS_NAMING(registry.register_bytes("bad name", {{"w", "1"}}), InvalidArgument, "model name \"bad name\"");
  CHECK_THROWS_NAMING(registry.register_bytes("../escape", {{"w", "1"}}), InvalidArgument, "is invalid");
  CHECK_THROWS_NAMING(registry.register_bytes("m", {}), InvalidArgument, "artifacts is empty");
  CHECK_THROWS_NAMING(registry.register_bytes("m", {{"../x", "1"}}), InvalidArgument, "artifact name '../x'");
  CHECK_THROWS_NAMING(registry.register_bytes("m", {{"/abs", "1"}}), InvalidArgument, "artifact name '/abs'");
  CHECK_THROWS_NAMING(registry.register_bytes("m", {{"w", "1"}}, {.version = 1}), InvalidArgument,
                      "version 1 of \"m\" already exists");
  CHECK_THROWS_NAMING(registry.register_bytes("m", {{"w", "1"}}, {.version = 0}), InvalidArgument, "out of range");
  CHECK_THROWS_NAMING(registry.register_bytes("m", {{"w", "1"}}, {.metrics = {{"loss", NAN}}}), InvalidArgument,
                      "metric \"loss\"");
  CHECK_THROWS_NAMING(registry.register_bytes("m", {{"w", "1"}}, {.metadata = JsonValue::array()}), InvalidArgument,
                      "metadata must be a JSON object");
  JsonValue deep = JsonValue::object({{"x", 1}});
  for (int level = 0; level < JsonValue::default_max_depth; ++level) deep = JsonValue::object({{"x", std::move(deep)}});
  CHECK_THROWS_NAMING(registry.register_bytes("m", {{"w", "1"}}, {.metadata = deep}), InvalidArgument,
                      "metadata is nested deeper than");
  CHECK_THROWS_NAMING(registry.update("m", {.metadata = {{"deep", deep}}}), InvalidArgument,
                      "the value of \"deep\" is nested too deeply");
  CHECK_THROWS_NAMING(registry.register_file("m", dir / "missing"), InvalidArgument, "is not an existing file");
  std::filesystem::create_directories(dir / "src");
  std::filesystem::create_symlink("/etc/hostname", dir / "src/link");
  CHECK_THROWS_NAMING(registry.register_file("m", dir / "src"), InvalidArgument, "is not a regular file");

  CHECK_THROWS_NAMING(registry.versions("nope"), InvalidArgument, "unknown model \"nope\"");
  CHECK_THROWS_NAMING(registry.get("m", 9), InvalidArgument, "has no version 9");
  CHECK_THROWS_NAMING(registry.get("m", "staging"), InvalidArgument, "has no alias \"staging\"");
  CHECK_THROWS_NAMING(registry.set_alias("m", "Champion", 1), InvalidArgument, "alias name \"Champion\"");
  CHECK_THROWS_NAMING(registry.set_alias("m", "7", 1), InvalidArgument, "alias name \"7\"");
  CHECK_THROWS_NAMING(registry.set_alias("m", "champion", 5), InvalidArgument, "has no version 5");
  CHECK_THROWS_NAMING(registry.set_alias("nope", "champion", 1), InvalidArgument, "unknown model");
  CHECK_THROWS_NAMING(registry.remove_alias("m", "challenger"), InvalidArgument, "has no alias \"challenger\"");
  CHECK_THROWS_NAMING(registry.set_tag("m", 1, "", "v"), InvalidArgument, "tag key");
  CHECK_THROWS_NAMING(registry.set_tag("m", 2, "k", "v"), InvalidArgument, "has no version 2");
  CHECK_THROWS_NAMING(registry.remove_tag("m", 1, "absent"), InvalidArgument, "has no tag \"absent\"");
  CHECK_THROWS_NAMING(registry.update("m", {}), InvalidArgument, "changes nothing");
  // One bad entry in an update refuses the whole update (champion must stay 1).
  CHECK_THROWS_NAMING(registry.update("m", {.aliases = {{"champion", std::nullopt}, {"other", 4}}}), InvalidArgument,
                      "has no version 4");
  CHECK_THROWS_NAMING(registry.latest_version("nope"), InvalidArgument, "unknown model \"nope\"");

  CHECK(slurp(dir / "registry.json") == on_disk);
  CHECK(registry.generation() == generation);
  CHECK(registry.alias("m", "champion") == 1);
  CHECK(registry.versions("m") == std::vector<std::int64_t>{1});
  CHECK_FALSE(std::filesystem::exists(dir / "models/m/versions/2"));  // the refused copies left nothing
}

TEST_CASE("ModelVersionManager: a folder that is not a registry, and corrupt registry files, are refused by name") {
  TempFolder dir;
  spit(dir / "notes.txt", "mine");
  CHECK_THROWS_NAMING(ModelVersionManager(dir.path()), InvalidArgument, "not a model registry");
  CHECK_THROWS_NAMING(ModelVersionManager(dir / "notes.txt"), InvalidArgument, "is not a folder");

  TempFolder reg;
  { ModelVersionManager(reg.path()).register_bytes("m", {{"w", "1"}}); }
  const std::string good = slurp(reg / "registry.json");
  const std::string file = (reg / "registry.json").string();
  auto refused = [&](const std::string& text, const char* problem) {
    spit(reg / "registry.json", text);
    CAPTURE(text);
    CHECK_THROWS_NAMING(ModelVersionManager(reg.path()), FormatError, file.c_str());
    CHECK_THROWS_NAMING(ModelVersionManager(reg.path()), FormatError, problem);
  };
  refused("", "not valid JSON");
  refused("{\"format\": ", "not valid JSON");
  refused("[]", "must be an object");
  refused("{\"format\": \"other\"}", "format");
  refused("{\"format\": \"x\", " + good.substr(1), "the name \"format\" appears twice");
  auto mutated = [&](auto&& edit) {
    nlohmann::json j = nlohmann::json::parse(good);
    edit(j);
    return j.dump();
  };
  refused(mutated([](auto& j) { j["format_version"] = 2; }), "format_version must be 1");
  refused(mutated([](auto& j) { j["models"]["m"]["versions"]["01"] = j["models"]["m"]["versions"]["1"]; }),
          "models.m.versions.01 is not a version number");
  refused(mutated([](auto& j) { j["models"]["m"]["versions"]["1"]["artifacts"][0]["path"] = "../../etc/passwd"; }),
          "artifacts[0].path");
  refused(mutated([](auto& j) { j["models"]["m"]["versions"]["1"]["artifacts"][0]["size"] = -1; }),
          "artifacts[0].size");
  // The same file listed 10,000 times would make verify() hash it 10,000 times.
  refused(mutated([](auto& j) {
            auto& artifacts = j["models"]["m"]["versions"]["1"]["artifacts"];
            for (int i = 0; i < 10000; ++i) artifacts.push_back(artifacts[0]);
          }),
          "artifacts lists the path 'w' more than once");
  refused(mutated([](auto& j) { j["models"]["m"]["aliases"]["champion"] = 3; }),
          "aliases.champion names a version that does not exist");
  refused(mutated([](auto& j) {
            j["models"]["m"]["alias_history"]["champion"] = {
                {{"action", "rollback"}, {"version", nullptr}, {"previous", nullptr}, {"at", ""}, {"reason", ""}}};
          }),
          "rolls back a change that does not exist");
  refused(mutated([](auto& j) { j["models"]["bad/name"] = j["models"]["m"]; }), "not a valid model name");
  refused(mutated([](auto& j) { j["models"]["m"]["versions"]["1"]["metrics"]["x"] = "high"; }),
          "metrics.x must be a number");

  // An object that was open keeps its last good state when the file goes bad under it.
  spit(reg / "registry.json", good);
  ModelVersionManager open(reg.path());
  spit(reg / "registry.json", "garbage");
  CHECK_THROWS_NAMING(open.versions("m"), FormatError, file.c_str());
  spit(reg / "registry.json", good);
  CHECK(open.versions("m") == std::vector<std::int64_t>{1});
}

TEST_CASE("ModelVersionManager::verify names an artifact that was changed, truncated or removed") {
  TempFolder dir;
  ModelVersionManager registry(dir.path());
  const auto v = registry.register_bytes("m", {{"weights.bin", std::string(1000, 'x')}});
  const auto file = v.folder / "weights.bin";
  ::chmod(file.c_str(), 0644);
  std::string bytes = slurp(file);
  bytes[500] = 'y';  // one flipped byte, same size
  spit(file, bytes);
  CHECK_THROWS_NAMING(registry.verify(), FormatError, file.c_str());
  spit(file, "short");
  CHECK_THROWS_NAMING(registry.verify(), FormatError, "does not match");
  std::filesystem::remove(file);
  CHECK_THROWS_NAMING(registry.verify(), FormatError, "is missing");
}

TEST_CASE("ModelVersionManager: garbage of a killed writer is ignored by readers and removed by the next writer") {
  TempFolder dir;
  ModelVersionManager registry(dir.path());
  registry.register_bytes("m", {{"w", "1"}});
  // What a writer killed between its steps leaves: a staged folder, a version folder that registry.json
  // does not list, a temporary registry file.
  spit(dir / "tmp/stage-1-m/w", "half");
  spit(dir / "models/m/versions/2/w", "orphan");
  spit(dir / ".registry.json.tmp-99-0", "{\"half\":");
  ModelVersionManager reopened(dir.path());
  CHECK(reopened.versions("m") == std::vector<std::int64_t>{1});
  CHECK(reopened.verify() == 1);
  const auto v2 = reopened.register_bytes("m", {{"w", "2"}});
  CHECK(v2.version == 2);
  CHECK(slurp(v2.folder / "w") == "2");
  CHECK_FALSE(std::filesystem::exists(dir / "tmp/stage-1-m"));
  CHECK_FALSE(std::filesystem::exists(dir / ".registry.json.tmp-99-0"));
}

TEST_CASE("ModelVersionManager: a writer waits for the lock, and gives up after its timeout with a clear error") {
  TempFolder dir;
  ModelVersionManager registry(dir.path(), {.lock_timeout = 50ms});
  registry.register_bytes("m", {{"w", "1"}});
  const auto generation = registry.generation();
  {
    FileLock held(dir / ".lock", 0ms);  // another open file description: conflicts like another process
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_NAMING(registry.set_alias("m", "champion", 1), LockTimeoutError, "is locked by another writer");
    CHECK(std::chrono::steady_clock::now() - start >= 50ms);
    const std::string lock_file = (dir / ".lock").string();
    CHECK_THROWS_NAMING(FileLock(lock_file, 0ms), LockTimeoutError, lock_file.c_str());
    CHECK(registry.alias("m", "champion") == std::nullopt);  // reads take no lock
  }
  CHECK(registry.generation() == generation);
  registry.set_alias("m", "champion", 1);  // released with the object
  CHECK(registry.alias("m", "champion") == 1);
}

TEST_CASE("write_file_atomically replaces the whole file or nothing, and leaves no temporary file") {
  TempFolder dir;
  const auto file = dir / "state.json";
  write_file_atomically(file, "old");
  write_file_atomically(file, "new content");
  CHECK(slurp(file) == "new content");
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()) == 1);
  CHECK_THROWS_AS(write_file_atomically(dir / "missing/sub/file", "x"), std::system_error);
  CHECK_THROWS_NAMING(read_file_bounded(file, 3), FormatError, "more than the limit of 3");
  CHECK_THROWS_NAMING(read_file_bounded(dir.path(), 100), FormatError, "is not a regular file");
}

TEST_CASE("ModelVersionManager: bad options, names and keys of the remaining functions") {
  TempFolder dir;
  CHECK_THROWS_NAMING(ModelVersionManager(dir.path(), {.lock_timeout = std::chrono::milliseconds(-1)}), InvalidArgument,
                      "lock_timeout must be >= 0");
  CHECK_THROWS_NAMING(ModelVersionManager(dir.path(), {.max_registry_bytes = 0}), InvalidArgument,
                      "max_registry_bytes must be positive");
  ModelVersionManager registry(dir.path());
  registry.register_bytes("m", {{"w", "1"}});
  const auto generation = registry.generation();
  CHECK_THROWS_NAMING(registry.alias("m", "Bad Alias"), InvalidArgument, "alias name \"Bad Alias\"");
  CHECK_THROWS_NAMING(registry.alias("nope", "champion"), InvalidArgument, "unknown model \"nope\"");
  CHECK_THROWS_NAMING(registry.aliases("nope"), InvalidArgument, "unknown model \"nope\"");
  CHECK_THROWS_NAMING(registry.alias_history("nope", "champion"), InvalidArgument, "unknown model \"nope\"");
  CHECK_THROWS_NAMING(registry.model_metadata("nope"), InvalidArgument, "unknown model \"nope\"");
  CHECK_THROWS_NAMING(registry.set_model_metadata("m", "", 1), InvalidArgument, "key \"\" must be 1 to 256");
  CHECK_THROWS_NAMING(registry.set_model_metadata("nope", "k", 1), InvalidArgument, "unknown model \"nope\"");
  CHECK_THROWS_NAMING(registry.rollback("m", "champion"), InvalidArgument, "has no change to roll back");
  CHECK_THROWS_NAMING(registry.set_tag("m", 1, "k", std::string(70000, 'v')), InvalidArgument,
                      "longer than 65536 bytes");
  CHECK_THROWS_NAMING(registry.register_bytes("m", {{"a\\b", "1"}}), InvalidArgument, "artifact name 'a\\b'");
  CHECK(registry.alias_history("m", "never-set").empty());
  CHECK(registry.generation() == generation);
  CHECK_THROWS_AS(FileLock(dir / "missing/.lock", std::chrono::milliseconds(0)), std::system_error);
}
