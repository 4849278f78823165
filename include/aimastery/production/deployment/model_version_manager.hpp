#pragma once
/// \file
/// ModelVersionManager: a model registry in a folder on disk, shared safely by several processes.
///
/// Models by name; each model has integer versions (1, 2, 3, ...) whose artifacts (the files of the
/// model) and metrics never change once written; free-form tags per version; aliases (`champion`,
/// `challenger`, any name) pointing at versions, with a history of every change that `rollback` walks
/// back. The layout (docs/deployment.md):
///
///     <root>/registry.json                       the whole mutable state (the one commit point)
///     <root>/.lock                               flock(2) target that serialises writers
///     <root>/models/<model>/versions/<v>/...     the artifacts of version v, immutable
///     <root>/tmp/                                staging area of the writer holding the lock
///
/// Crash safety. A write takes the lock, re-reads registry.json (another process may have written),
/// checks the request, builds the next state aside, puts any new artifacts in place (staged in tmp/,
/// each file fsynced, the folder renamed to versions/<v> and its parent fsynced), and only then replaces
/// registry.json atomically (write_file_atomically: temporary file, fsync, rename, fsync of the folder).
/// The rename of registry.json is the commit point: before it the old state is on disk and complete,
/// after it the new one, and every version the file lists had its artifacts durable before the file
/// could name them. A writer killed at any point leaves at most garbage that no state refers to (a
/// staged folder, an unlisted versions/<v>, a temporary file), which the next writer removes while
/// holding the lock. Readers take no lock: they open registry.json, which is the old inode or the new
/// one, never a torn mix, and they only follow versions that it lists.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/io/atomic_file.hpp"
#include "aimastery/io/json.hpp"
#include "aimastery/production/caching/content_hash.hpp"
#include "aimastery/production/deployment/file_lock.hpp"

namespace aimastery {

/// One file of a model version, relative to the version's folder.
struct ArtifactInfo {
  std::string path;      ///< "model.safetensors", "tokenizer/vocab.txt"
  std::uint64_t size;    ///< bytes
  std::string xxh3_128;  ///< XXH3-128 of the content, 32 hexadecimal digits
};

/// A registered version and its metadata.
struct ModelVersion {
  std::string model;
  std::int64_t version = 0;
  std::string created;  ///< ISO 8601 UTC, "2026-12-02T04:30:00.123Z"
  std::map<std::string, double> metrics;
  std::map<std::string, std::string> tags;
  std::string description;
  JsonValue metadata = JsonValue::object();
  std::vector<ArtifactInfo> artifacts;
  std::filesystem::path folder;  ///< where the artifacts are
};

/// One change of an alias: `set` (to `version`), `remove`, or `rollback` (back to `version`, undoing the
/// latest assignment that was not yet undone). `previous` is the alias's value before the change.
struct AliasEvent {
  std::string action;
  std::optional<std::int64_t> version, previous;
  std::string at;  ///< ISO 8601 UTC
  std::string reason;
};

/// What to record with a new version. Without `version`, the next integer after the largest one.
struct RegisterOptions {
  std::optional<std::int64_t> version = std::nullopt;
  std::map<std::string, double> metrics = {};
  std::map<std::string, std::string> tags = {};
  std::string description = {};
  JsonValue metadata = JsonValue::object();  ///< any JSON object (hyper-parameters, data hash...)
};

/// An atomic change of a model's aliases and settings (ModelVersionManager::update).
struct ModelUpdate {
  std::map<std::string, std::optional<std::int64_t>> aliases = {};  ///< nothing = remove the alias
  std::map<std::string, JsonValue> metadata = {};                   ///< null = remove the key
  std::string reason = {};                                          ///< recorded in the alias history
};

struct ModelVersionManagerOptions {
  std::chrono::milliseconds lock_timeout{10000};  ///< how long a writer waits for another one
  std::uint64_t max_registry_bytes = 256u << 20;  ///< registry.json larger than this is refused
};

namespace detail {

/// Versions stay exactly representable in every JSON reader (IEEE doubles): 1 ≤ v ≤ 2⁵³.
inline constexpr std::int64_t max_model_version = std::int64_t(1) << 53;

/// "2026-12-02T04:30:00.123Z" for the current time.
inline std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buffer[96];  // the largest ints the format can print fit
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return buffer;
}

/// Model names are folder names: [A-Za-z0-9][A-Za-z0-9._-]{0,127}.
inline bool valid_model_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!(alnum || (i > 0 && (c == '.' || c == '_' || c == '-')))) return false;
  }
  return true;
}

/// Alias names: [a-z][a-z0-9_-]{0,63} (a leading letter keeps them apart from version numbers).
inline bool valid_alias_name(std::string_view s) {
  if (s.empty() || s.size() > 64 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

/// Tag keys: 1 to 256 printable ASCII characters.
inline bool valid_tag_key(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 127; });
}

/// Artifact paths: relative, '/'-separated, each part 1..255 bytes, not "." or "..", no NUL or '\\'.
inline bool valid_artifact_path(std::string_view s) {
  if (s.empty() || s.size() > 4096 || s.front() == '/') return false;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t end = std::min(s.find('/', start), s.size());
    const std::string_view part = s.substr(start, end - start);
    if (part.empty() || part.size() > 255 || part == "." || part == "..") return false;
    for (char c : part)
      if (c == '\0' || c == '\\') return false;
    start = end + 1;
  }
  return true;
}

/// Metadata is stored at most this deep in registry.json: models, a model, versions, a version (or the
/// model's metadata), then the metadata's own levels, within the nesting JsonValue::parse reads back.
inline constexpr int max_metadata_depth = JsonValue::default_max_depth - 8;

/// The nesting depth of a JSON value: 0 for a scalar, 1 for an array or object of scalars, ... Stops
/// counting past `limit`.
template <class Json>
int json_depth(const Json& v, int limit) {
  if (limit < 0 || (!v.is_array() && !v.is_object())) return 0;
  int deepest = 0;
  if (v.is_array())
    for (const Json& e : v.elements()) deepest = std::max(deepest, json_depth(e, limit - 1));
  else
    for (const auto& m : v.members()) deepest = std::max(deepest, json_depth(m.value, limit - 1));
  return 1 + deepest;
}

/// The decimal key of a version in registry.json.
inline std::string version_key(std::int64_t v) { return std::to_string(v); }

/// Parses a canonical decimal version key ("1", "42"; not "01", "+1", "0"); 0 when invalid.
inline std::int64_t parse_version_key(std::string_view s) {
  if (s.empty() || s.size() > 16 || s[0] == '0') return 0;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  return v <= max_model_version ? v : 0;
}

/// XXH3-128 over a stream of chunks (the artifacts are hashed while they are copied).
class StreamingHash {
 public:
  StreamingHash() { XXH3_128bits_reset(&state_); }
  void update(std::string_view bytes) { XXH3_128bits_update(&state_, bytes.data(), bytes.size()); }
  [[nodiscard]] std::string hex() {
    const XXH128_hash_t h = XXH3_128bits_digest(&state_);
    return ContentHash{h.high64, h.low64}.hex();
  }

 private:
  XXH3_state_t state_{};
};

/// Creates the missing folders of `path`, fsyncing each parent after a mkdir so the new entries survive
/// a crash.
inline void make_durable_directories(const std::filesystem::path& path) {
  if (std::filesystem::is_directory(path)) return;
  make_durable_directories(path.parent_path());
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("cannot create folder", path);
  fsync_directory(path.parent_path());
}

/// Reads the file `path` (open as `fd`) to its end in 64 KiB chunks, passing each to `consume`.
template <class Consume>
void read_in_chunks(int fd, const std::filesystem::path& path, Consume&& consume) {
  std::string buffer(1 << 16, '\0');
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read artifact", path);
    }
    if (n == 0) return;
    consume(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
  }
}

/// Copies `source` to the new file `target` (fsynced), returning its size and XXH3-128.
inline ArtifactInfo copy_artifact(const std::filesystem::path& source, const std::filesystem::path& target,
                                  std::string relative) {
  UniqueFd in(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) throw_errno("cannot open artifact", source);
  UniqueFd out(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (out.get() < 0) throw_errno("cannot create", target);
  StreamingHash hash;
  std::uint64_t size = 0;
  read_in_chunks(in.get(), source, [&](std::string_view chunk) {
    write_all(out.get(), chunk, target);
    hash.update(chunk);
    size += chunk.size();
  });
  fsync_fd(out.get(), target);
  return {std::move(relative), size, hash.hex()};
}

/// Size and XXH3-128 of a file on disk (for verification).
inline ArtifactInfo hash_file(const std::filesystem::path& path, std::string relative) {
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) throw_errno("cannot open artifact", path);
  StreamingHash hash;
  std::uint64_t size = 0;
  read_in_chunks(in.get(), path, [&](std::string_view chunk) {
    hash.update(chunk);
    size += chunk.size();
  });
  return {std::move(relative), size, hash.hex()};
}

/// Checks the structure of a parsed registry.json; throws FormatError naming the file and the key. (A
/// template only so that it is compiled where the registry is used.)
template <class Tag = void>
void validate_registry_state(const JsonValue& j, const std::filesystem::path& file) {
  auto bad = [&](const std::string& key, const char* problem) {
    throw FormatError("ModelVersionManager: '" + file.string() + "' is malformed: " + key + " " + problem);
  };
  auto object_at = [&](const JsonValue& parent, const char* name, const std::string& where) -> const JsonValue& {
    const JsonValue* found = parent.find(name);
    if (found == nullptr || !found->is_object()) bad(where + "." + name, "must be an object");
    return *found;
  };
  auto string_at = [&](const JsonValue& parent, const char* name, const std::string& where) {
    const JsonValue* found = parent.find(name);
    if (found == nullptr || !found->is_string()) bad(where + "." + name, "must be a string");
  };
  auto optional_version = [&](const JsonValue& v, const std::string& where) {
    if (v.is_null()) return;
    // A parsed non-negative integer is unsigned; a negative one is never a version.
    if (!v.is_number_unsigned() || v.template get<std::uint64_t>() < 1 ||
        v.template get<std::uint64_t>() > static_cast<std::uint64_t>(max_model_version))
      bad(where, "must be a version number (1 to 2^53) or null");
  };
  if (!j.is_object()) bad("the top level", "must be an object");
  if (const JsonValue* format = j.find("format"); format == nullptr || *format != "aimastery.model_registry")
    bad("format", "is not aimastery.model_registry");
  if (const JsonValue* version = j.find("format_version"); version == nullptr || *version != 1)
    bad("format_version", "must be 1");
  if (const JsonValue* generation = j.find("generation"); generation == nullptr || !generation->is_number_unsigned())
    bad("generation", "must be unsigned");
  for (const auto& [name, model] : object_at(j, "models", "registry").members()) {
    const std::string where = "models." + name;
    if (!valid_model_name(name)) bad(where, "is not a valid model name");
    if (!model.is_object()) bad(where, "must be an object");
    string_at(model, "created", where);
    object_at(model, "metadata", where);
    const JsonValue& versions = object_at(model, "versions", where);
    for (const auto& [key, version] : versions.members()) {
      const std::string at = where + ".versions." + key;
      if (parse_version_key(key) == 0) bad(at, "is not a version number");
      if (!version.is_object()) bad(at, "must be an object");
      string_at(version, "created", at);
      string_at(version, "description", at);
      object_at(version, "metadata", at);
      for (const auto& [metric, value] : object_at(version, "metrics", at).members())
        if (!value.is_number()) bad(at + ".metrics." + metric, "must be a number");
      for (const auto& [tag, value] : object_at(version, "tags", at).members())
        if (!valid_tag_key(tag) || !value.is_string()) bad(at + ".tags." + tag, "must be a string under a valid key");
      const JsonValue* artifacts = version.find("artifacts");
      if (artifacts == nullptr || !artifacts->is_array()) bad(at + ".artifacts", "must be an array");
      std::vector<std::string_view> paths;  // each file once: verify() hashes every listed path
      for (std::size_t i = 0; i < artifacts->size(); ++i) {
        const JsonValue& a = artifacts->at(i);
        const std::string ai = at + ".artifacts[" + std::to_string(i) + "]";
        const JsonValue* path = a.find("path");
        if (path == nullptr || !path->is_string() || !valid_artifact_path(path->as_string()))
          bad(ai + ".path", "must be a relative path inside the version folder");
        if (const JsonValue* size = a.find("size"); size == nullptr || !size->is_number_unsigned())
          bad(ai + ".size", "must be unsigned");
        if (const JsonValue* hash = a.find("xxh3_128");
            hash == nullptr || !hash->is_string() || hash->as_string().size() != 32)
          bad(ai + ".xxh3_128", "must be 32 hexadecimal digits");
        paths.push_back(path->as_string());
      }
      std::sort(paths.begin(), paths.end());
      if (const auto twice = std::adjacent_find(paths.begin(), paths.end()); twice != paths.end())
        bad(at + ".artifacts lists the path '" + std::string(*twice) + "'", "more than once");
    }
    for (const auto& [alias, version] : object_at(model, "aliases", where).members()) {
      const std::string at = where + ".aliases." + alias;
      if (!valid_alias_name(alias)) bad(at, "is not a valid alias name");
      optional_version(version, at);
      if (version.is_null() || !versions.contains(version_key(version.template get<std::int64_t>())))
        bad(at, "names a version that does not exist");
    }
    for (const auto& [alias, events] : object_at(model, "alias_history", where).members()) {
      const std::string at = where + ".alias_history." + alias;
      if (!valid_alias_name(alias) || !events.is_array()) bad(at, "must be an array under a valid alias name");
      std::int64_t depth = 0;
      for (std::size_t i = 0; i < events.size(); ++i) {
        const JsonValue& e = events.at(i);
        const std::string ei = at + "[" + std::to_string(i) + "]";
        if (!e.is_object()) bad(ei, "must be an object");
        const JsonValue* action = e.find("action");
        if (action == nullptr || !action->is_string()) bad(ei + ".action", "must be a string");
        const std::string& kind = action->as_string();
        if (kind != "set" && kind != "remove" && kind != "rollback") bad(ei + ".action", "is unknown");
        // Read as a stack (see ModelVersionManager::rollback): a rollback needs a change to undo.
        depth = kind == "rollback" ? depth - 1 : depth + 1;
        if (depth < 0) bad(ei, "rolls back a change that does not exist");
        if (!e.contains("version") || !e.contains("previous")) bad(ei, "lacks version or previous");
        optional_version(e.at("version"), ei + ".version");
        optional_version(e.at("previous"), ei + ".previous");
        string_at(e, "at", ei);
        string_at(e, "reason", ei);
      }
    }
  }
}

}  // namespace detail

/// The registry (use it as ModelVersionManager). A class template only so that a translation unit that
/// includes it without using it does not compile its members.
template <class Tag = void>
class BasicModelVersionManager {
 public:
  /// Opens the registry in `root`, creating it when the folder is missing or empty. Throws FormatError
  /// naming registry.json when it is malformed, InvalidArgument when `root` is a non-empty folder that is
  /// not a registry.
  explicit BasicModelVersionManager(std::filesystem::path root, ModelVersionManagerOptions options = {})
      : root_(std::filesystem::absolute(root).lexically_normal()), options_(options) {
    static constexpr const char* where = "ModelVersionManager";
    require(options_.lock_timeout.count() >= 0, where, "lock_timeout must be >= 0");
    require(options_.max_registry_bytes > 0, where, "max_registry_bytes must be positive");
    if (std::filesystem::exists(root_) && !std::filesystem::is_directory(root_))
      fail(where, "'" + root_.string() + "' exists and is not a folder");
    if (!std::filesystem::exists(state_file())) {
      detail::make_durable_directories(root_);
      FileLock lock(lock_file(), options_.lock_timeout);
      if (!std::filesystem::exists(state_file())) {  // nobody created it while we waited
        for (const auto& entry : std::filesystem::directory_iterator(root_)) {
          const std::string name = entry.path().filename().string();
          if (name != ".lock" && name != "tmp" && name != "models" && name.rfind(".registry.json.tmp-", 0) != 0)
            fail(where, "'" + root_.string() + "' is not empty and holds no registry.json: not a model registry");
        }
        const JsonValue empty = JsonValue::object({{"format", "aimastery.model_registry"},
                                                   {"format_version", 1},
                                                   {"generation", 0u},
                                                   {"models", JsonValue::object()}});
        write_file_atomically(state_file(), empty.dump(1));
      }
    }
    std::lock_guard guard(mutex_);
    reload_if_changed();
  }

  [[nodiscard]] const std::filesystem::path& root() const noexcept { return root_; }

  /// A number that grows by one with every committed write (from any process).
  [[nodiscard]] std::uint64_t generation() const {
    std::lock_guard guard(mutex_);
    reload_if_changed();
    return state_.at("generation").get<std::uint64_t>();
  }

  // ------------------------------------------------------------------------------------------- reading

  [[nodiscard]] std::vector<std::string> models() const {
    std::lock_guard guard(mutex_);
    reload_if_changed();
    std::vector<std::string> out;
    for (const auto& [name, model] : state_.at("models").members()) out.push_back(name);
    return out;
  }

  [[nodiscard]] bool has_model(std::string_view model) const {
    std::lock_guard guard(mutex_);
    reload_if_changed();
    return state_.at("models").contains(model);
  }

  /// The versions of `model`, ascending.
  [[nodiscard]] std::vector<std::int64_t> versions(std::string_view model) const {
    std::lock_guard guard(mutex_);
    reload_if_changed();
    std::vector<std::int64_t> out;
    for (const auto& [key, v] : model_at(state_, "ModelVersionManager::versions", model).at("versions").members())
      out.push_back(detail::parse_version_key(key));
    std::sort(out.begin(), out.end());
    return out;
  }

  [[nodiscard]] std::int64_t latest_version(std::string_view model) const {
    const auto all = versions(model);
    require(!all.empty(), "ModelVersionManager::latest_version",
            [&] { return "model \"" + std::string(model) + "\" has no versions"; });
    return all.back();
  }

  [[nodiscard]] ModelVersion get(std::string_view model, std::int64_t version) const {
    std::lock_guard guard(mutex_);
    reload_if_changed();
    return version_info(state_, "ModelVersionManager::get", model, version);
  }

  /// The version an alias points at.
  [[nodiscard]] ModelVersion get(std::string_view model, std::string_view alias) const {
    std::lock_guard guard(mutex_);
    reload_if_changed();
    return version_info(state_, "ModelVersionManager::get", model,
                        alias_value(state_, "ModelVersionManager::get", model, alias));
  }

  /// The version `alias` points at, or nothing when the alias is not set.
  [[nodiscard]] std::optional<std::int64_t> alias(std::string_view model, std::string_view alias) const {
    static constexpr const char* where = "ModelVersionManager::alias";
    check_alias_name(where, alias);
    std::lock_guard guard(mutex_);
    reload_if_changed();
    const JsonValue* version = model_at(state_, where, model).at("aliases").find(alias);
    if (version == nullptr) return std::nullopt;
    return version->get<std::int64_t>();
  }

  [[nodiscard]] std::map<std::string, std::int64_t> aliases(std::string_view model) const {
    std::lock_guard guard(mutex_);
    reload_if_changed();
    std::map<std::string, std::int64_t> out;
    for (const JsonMember& m : model_at(state_, "ModelVersionManager::aliases", model).at("aliases").members())
      out.emplace(m.name, m.value.get<std::int64_t>());
    return out;
  }

  /// Every change of `alias`, oldest first (empty for an alias never set).
  [[nodiscard]] std::vector<AliasEvent> alias_history(std::string_view model, std::string_view alias) const {
    static constexpr const char* where = "ModelVersionManager::alias_history";
    check_alias_name(where, alias);
    std::lock_guard guard(mutex_);
    reload_if_changed();
    std::vector<AliasEvent> out;
    const JsonValue* history = model_at(state_, where, model).at("alias_history").find(alias);
    if (history == nullptr) return out;
    for (const JsonValue& e : history->elements()) {
      auto version_of = [](const JsonValue& v) {
        return v.is_null() ? std::nullopt : std::optional<std::int64_t>(v.get<std::int64_t>());
      };
      out.push_back({e.at("action").as_string(), version_of(e.at("version")), version_of(e.at("previous")),
                     e.at("at").as_string(), e.at("reason").as_string()});
    }
    return out;
  }

  /// The model-level settings (a JSON object; deployment strategies keep their configuration here).
  [[nodiscard]] JsonValue model_metadata(std::string_view model) const {
    std::lock_guard guard(mutex_);
    reload_if_changed();
    return model_at(state_, "ModelVersionManager::model_metadata", model).at("metadata");
  }

  /// Re-reads every artifact of every version and compares its size and XXH3-128 with registry.json;
  /// throws FormatError naming the first file that is missing, resized or changed. Returns the number
  /// of artifacts checked.
  std::size_t verify() const {
    std::lock_guard guard(mutex_);
    reload_if_changed();
    std::size_t checked = 0;
    for (const auto& [name, model] : state_.at("models").members())
      for (const auto& [key, version] : model.at("versions").members()) {
        const std::filesystem::path folder = version_folder(name, detail::parse_version_key(key));
        for (const JsonValue& a : version.at("artifacts").elements()) {
          const std::filesystem::path file = folder / a.at("path").as_string();
          std::error_code ec;
          if (!std::filesystem::is_regular_file(file, ec))
            throw FormatError("ModelVersionManager::verify: artifact '" + file.string() + "' is missing");
          const ArtifactInfo found = detail::hash_file(file, a.at("path").as_string());
          if (found.size != a.at("size").get<std::uint64_t>() || found.xxh3_128 != a.at("xxh3_128").as_string())
            throw FormatError("ModelVersionManager::verify: artifact '" + file.string() +
                              "' does not match its recorded size and XXH3-128 (it was changed or truncated)");
          ++checked;
        }
      }
    return checked;
  }

  // ------------------------------------------------------------------------------------------- writing

  /// Registers a new version of `model` (created if new) from a file or a folder (copied recursively;
  /// only regular files and folders, symbolic links and special files are refused).
  ModelVersion register_file(std::string_view model, const std::filesystem::path& source,
                             RegisterOptions options = {}) {
    static constexpr const char* where = "ModelVersionManager::register_file";
    std::error_code ec;
    const auto status = std::filesystem::symlink_status(source, ec);
    require(!ec && (std::filesystem::is_regular_file(status) || std::filesystem::is_directory(status)), where,
            [&] { return "source '" + source.string() + "' is not an existing file or folder"; });
    // The list of files to copy, relative to the version folder, sorted (the order of the record).
    std::vector<std::pair<std::string, std::filesystem::path>> files;
    if (std::filesystem::is_regular_file(status)) {
      files.emplace_back(source.filename().string(), source);
    } else {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(source)) {
        const auto s = entry.symlink_status();
        if (std::filesystem::is_directory(s)) continue;
        require(std::filesystem::is_regular_file(s), where, [&] {
          return "'" + entry.path().string() + "' is not a regular file (links and special files are refused)";
        });
        files.emplace_back(entry.path().lexically_relative(source).generic_string(), entry.path());
      }
      std::sort(files.begin(), files.end());
    }
    for (const auto& file : files) {
      const std::string& relative = file.first;  // a named reference: lambdas cannot capture bindings (clang 14)
      require(detail::valid_artifact_path(relative), where,
              [&] { return "artifact name '" + relative + "' is not a valid relative path"; });
    }
    return register_version(where, model, std::move(options), [&](const std::filesystem::path& staging) {
      std::vector<ArtifactInfo> artifacts;
      for (const auto& [relative, path] : files) {
        const std::filesystem::path target = staging / relative;
        detail::make_durable_directories(target.parent_path());
        artifacts.push_back(detail::copy_artifact(path, target, relative));
      }
      return artifacts;
    });
  }

  /// Registers a new version from bytes in memory: artifact name ("model.safetensors",
  /// "tokenizer/vocab.txt") → content.
  ModelVersion register_bytes(std::string_view model, const std::map<std::string, std::string>& artifacts,
                              RegisterOptions options = {}) {
    static constexpr const char* where = "ModelVersionManager::register_bytes";
    require(!artifacts.empty(), where, "artifacts is empty");
    for (const auto& artifact : artifacts) {
      const std::string& relative = artifact.first;
      require(detail::valid_artifact_path(relative), where,
              [&] { return "artifact name '" + relative + "' is not a valid relative path"; });
    }
    return register_version(where, model, std::move(options), [&](const std::filesystem::path& staging) {
      std::vector<ArtifactInfo> out;
      for (const auto& [relative, bytes] : artifacts) {
        const std::filesystem::path target = staging / relative;
        detail::make_durable_directories(target.parent_path());
        write_new_file_durably(target, bytes);
        out.push_back({relative, bytes.size(), content_hash(bytes).hex()});
      }
      return out;
    });
  }

  /// Sets (or replaces) a tag of a version. Tags are the one mutable part of a version's record.
  void set_tag(std::string_view model, std::int64_t version, std::string_view key, std::string_view value) {
    static constexpr const char* where = "ModelVersionManager::set_tag";
    require(detail::valid_tag_key(key), where,
            [&] { return "tag key \"" + std::string(key) + "\" must be 1 to 256 printable characters"; });
    require(value.size() <= (1u << 16), where, "tag value is longer than 65536 bytes");
    transaction([&](JsonValue& next) { version_at(next, where, model, version)["tags"][key] = value; });
  }

  /// Removes a tag; throws when the version has no such tag.
  void remove_tag(std::string_view model, std::int64_t version, std::string_view key) {
    static constexpr const char* where = "ModelVersionManager::remove_tag";
    transaction([&](JsonValue& next) {
      JsonValue& tags = version_at(next, where, model, version)["tags"];
      require(tags.contains(key), where, [&] {
        return "version " + std::to_string(version) + " of \"" + std::string(model) + "\" has no tag \"" +
               std::string(key) + "\"";
      });
      tags.erase(key);
    });
  }

  /// Sets a model-level setting (`value` null removes it).
  void set_model_metadata(std::string_view model, std::string_view key, const JsonValue& value) {
    update(model, {.metadata = {{std::string(key), value}}});
  }

  /// Points `alias` at `version` (one atomic write), recording the change in the alias's history.
  void set_alias(std::string_view model, std::string_view alias, std::int64_t version, std::string_view reason = {}) {
    static constexpr const char* where = "ModelVersionManager::set_alias";
    check_alias_name(where, alias);
    transaction([&](JsonValue& next) {
      version_at(next, where, model, version);  // the version must exist
      assign_alias(next, model, alias, version, "set", reason);
    });
  }

  /// Several aliases and model settings changed in one atomic write (e.g. champion → new version,
  /// challenger removed, the canary's share erased). `aliases`: alias → version, or nothing to remove the
  /// alias; `metadata`: key → value, or null to remove the key.
  void update(std::string_view model, const ModelUpdate& change) {
    static constexpr const char* where = "ModelVersionManager::update";
    require(!change.aliases.empty() || !change.metadata.empty(), where, "the update changes nothing");
    for (const auto& [alias, version] : change.aliases) check_alias_name(where, alias);
    for (const auto& entry : change.metadata) {
      const std::string& key = entry.first;
      require(detail::valid_tag_key(key), where,
              [&] { return "key \"" + key + "\" must be 1 to 256 printable characters"; });
      require(detail::json_depth(entry.second, detail::max_metadata_depth) < detail::max_metadata_depth, where,
              [&] { return "the value of \"" + key + "\" is nested too deeply"; });
    }
    transaction([&](JsonValue& next) {
      for (const auto& entry : change.aliases) {
        const std::string& alias = entry.first;
        const std::optional<std::int64_t>& version = entry.second;
        if (version) {
          version_at(next, where, model, *version);
          assign_alias(next, model, alias, *version, "set", change.reason);
        } else {
          require(model_at(next, where, model)["aliases"].contains(alias), where,
                  [&] { return "model \"" + std::string(model) + "\" has no alias \"" + alias + "\""; });
          assign_alias(next, model, alias, std::nullopt, "remove", change.reason);
        }
      }
      JsonValue& metadata = model_at(next, where, model)["metadata"];
      for (const auto& [key, value] : change.metadata) {
        if (value.is_null())
          metadata.erase(key);
        else
          metadata[key] = value;
      }
    });
  }

  /// Removes `alias`; throws when it is not set.
  void remove_alias(std::string_view model, std::string_view alias, std::string_view reason = {}) {
    static constexpr const char* where = "ModelVersionManager::remove_alias";
    check_alias_name(where, alias);
    transaction([&](JsonValue& next) {
      require(model_at(next, where, model)["aliases"].contains(alias), where,
              [&] { return "model \"" + std::string(model) + "\" has no alias \"" + std::string(alias) + "\""; });
      assign_alias(next, model, alias, std::nullopt, "remove", reason);
    });
  }

  /// Undoes the latest change of `alias` that is not undone yet, in one persisted write, and returns
  /// the alias's new value (nothing when the undone change had created the alias).
  ///
  /// The history is read as a stack: `set` and `remove` push, `rollback` pops. Each pushed entry's
  /// `previous` is the value below it (by induction: when it was pushed, the alias's value was the
  /// value of the entry then on top), so popping restores exactly the value before the undone change,
  /// and repeated rollbacks walk further back instead of toggling.
  std::optional<std::int64_t> rollback(std::string_view model, std::string_view alias, std::string_view reason = {}) {
    static constexpr const char* where = "ModelVersionManager::rollback";
    check_alias_name(where, alias);
    std::optional<std::int64_t> result;
    transaction([&](JsonValue& next) {
      const JsonValue& entry = model_at(next, where, model);
      std::vector<const JsonValue*> stack;
      if (const JsonValue* history = entry.at("alias_history").find(alias))
        for (const JsonValue& e : history->elements()) {
          if (e.at("action") == "rollback") {
            if (!stack.empty()) stack.pop_back();  // never empty: validate_registry_state checks it
          } else
            stack.push_back(&e);
        }
      require(!stack.empty(), where, [&] {
        return "alias \"" + std::string(alias) + "\" of \"" + std::string(model) + "\" has no change to roll back";
      });
      const JsonValue previous = stack.back()->at("previous");
      if (!previous.is_null()) {
        const std::int64_t v = previous.get<std::int64_t>();
        result = v;
        assign_alias(next, model, alias, v, "rollback", reason);
      } else {
        result = std::nullopt;
        assign_alias(next, model, alias, std::nullopt, "rollback", reason);
      }
    });
    return result;
  }

  /// Re-reads registry.json if another process changed it (reads do this themselves).
  void refresh() const {
    std::lock_guard guard(mutex_);
    reload_if_changed();
  }

 private:
  std::filesystem::path state_file() const { return root_ / "registry.json"; }
  std::filesystem::path lock_file() const { return root_ / ".lock"; }
  std::filesystem::path version_folder(const std::string& model, std::int64_t version) const {
    return root_ / "models" / model / "versions" / detail::version_key(version);
  }

  static void check_model_name(const char* where, std::string_view model) {
    require(detail::valid_model_name(model), where, [&] {
      return "model name \"" + std::string(model) + "\" is invalid (1 to 128 of [A-Za-z0-9._-], starting alphanumeric)";
    });
  }
  static void check_alias_name(const char* where, std::string_view alias) {
    require(detail::valid_alias_name(alias), where, [&] {
      return "alias name \"" + std::string(alias) + "\" is invalid (1 to 64 of [a-z0-9_-], starting with a letter)";
    });
  }

  /// The member `name` of `parent`, which has it: as mutable as `parent` (Json is JsonValue or const
  /// JsonValue).
  template <class Json>
  static Json& member(Json& parent, std::string_view name) {
    if constexpr (std::is_const_v<Json>)
      return parent.at(name);
    else
      return parent[name];
  }

  template <class Json>
  static Json& model_at(Json& state, const char* where, std::string_view model) {
    check_model_name(where, model);
    Json& models = member(state, "models");
    if (!models.contains(model)) fail(where, "unknown model \"" + std::string(model) + "\"");
    return member(models, model);
  }

  template <class Json>
  static Json& version_at(Json& state, const char* where, std::string_view model, std::int64_t version) {
    Json& versions = member(model_at(state, where, model), "versions");
    const std::string key = detail::version_key(version);
    if (!versions.contains(key))
      fail(where, "model \"" + std::string(model) + "\" has no version " + std::to_string(version));
    return member(versions, key);
  }

  static std::int64_t alias_value(const JsonValue& state, const char* where, std::string_view model,
                                  std::string_view alias) {
    check_alias_name(where, alias);
    const JsonValue* version = model_at(state, where, model).at("aliases").find(alias);
    if (version == nullptr)
      fail(where, "model \"" + std::string(model) + "\" has no alias \"" + std::string(alias) + "\"");
    return version->get<std::int64_t>();
  }

  ModelVersion version_info(const JsonValue& state, const char* where, std::string_view model,
                            std::int64_t version) const {
    const JsonValue& v = version_at(state, where, model, version);
    ModelVersion out;
    out.model = std::string(model);
    out.version = version;
    out.created = v.at("created").as_string();
    for (const JsonMember& m : v.at("metrics").members()) out.metrics.emplace(m.name, m.value.get<double>());
    for (const auto& [k, x] : v.at("tags").members()) out.tags.emplace(k, x.as_string());
    out.description = v.at("description").as_string();
    out.metadata = v.at("metadata");
    for (const JsonValue& a : v.at("artifacts").elements())
      out.artifacts.push_back(
          {a.at("path").as_string(), a.at("size").get<std::uint64_t>(), a.at("xxh3_128").as_string()});
    out.folder = version_folder(out.model, version);
    return out;
  }

  static void assign_alias(JsonValue& state, std::string_view model, std::string_view alias,
                           std::optional<std::int64_t> version, const char* action, std::string_view reason) {
    JsonValue& entry = state["models"][model];
    JsonValue& aliases = entry["aliases"];
    const JsonValue* current = aliases.find(alias);
    const JsonValue previous = current != nullptr ? *current : JsonValue();
    if (version)
      aliases[alias] = *version;
    else
      aliases.erase(alias);
    entry["alias_history"][alias].push_back(JsonValue::object({{"action", action},
                                                               {"version", version ? JsonValue(*version) : JsonValue()},
                                                               {"previous", previous},
                                                               {"at", detail::utc_timestamp()},
                                                               {"reason", reason}}));
  }

  /// The write path shared by register_file and register_bytes: `stage(folder)` writes the artifacts
  /// into an empty staging folder and returns their records.
  template <class Stage>
  ModelVersion register_version(const char* where, std::string_view model, RegisterOptions options, Stage&& stage) {
    check_model_name(where, model);
    if (options.version)
      require(*options.version >= 1 && *options.version <= detail::max_model_version, where,
              [&] { return "version " + std::to_string(*options.version) + " is out of range (1 to 2^53)"; });
    for (const auto& metric : options.metrics) {
      const std::string& name = metric.first;
      require(std::isfinite(metric.second) && !name.empty(), where,
              [&] { return "metric \"" + name + "\" must have a non-empty name and a finite value"; });
    }
    for (const auto& tag : options.tags) {
      const std::string& key = tag.first;
      require(detail::valid_tag_key(key), where,
              [&] { return "tag key \"" + key + "\" must be 1 to 256 printable characters"; });
    }
    require(options.metadata.is_object(), where, "metadata must be a JSON object");
    require(detail::json_depth(options.metadata, detail::max_metadata_depth) <= detail::max_metadata_depth, where,
            [] { return "metadata is nested deeper than " + std::to_string(detail::max_metadata_depth) + " levels"; });
    std::int64_t registered = 0;
    transaction([&](JsonValue& next) {
      JsonValue& models = next["models"];
      const std::string name(model);
      if (!models.contains(name))
        models[name] = JsonValue::object({{"created", detail::utc_timestamp()},
                                          {"metadata", JsonValue::object()},
                                          {"versions", JsonValue::object()},
                                          {"aliases", JsonValue::object()},
                                          {"alias_history", JsonValue::object()}});
      JsonValue& versions = models[name]["versions"];
      std::int64_t version = 1;
      for (const auto& [key, v] : versions.members()) version = std::max(version, detail::parse_version_key(key) + 1);
      if (options.version) {
        require(!versions.contains(detail::version_key(*options.version)), where, [&] {
          return "version " + std::to_string(*options.version) + " of \"" + name +
                 "\" already exists (versions are immutable)";
        });
        version = *options.version;
      }
      require(version <= detail::max_model_version, where, "no version number left (2^53 reached)");
      // Stage in tmp/, then move the whole folder to versions/<v>. A versions/<v> that exists here is
      // not in the state we hold the lock on: garbage of a writer killed before its commit.
      const std::filesystem::path staging = root_ / "tmp" / ("stage-" + std::to_string(::getpid()) + "-" + name);
      const std::filesystem::path target = version_folder(name, version);
      std::filesystem::remove_all(staging);
      std::filesystem::remove_all(target);
      detail::make_durable_directories(staging);
      std::vector<ArtifactInfo> artifacts = stage(staging);
      fsync_directory(staging);
      detail::make_durable_directories(target.parent_path());
      pending_cleanup_ = target;  // removed again if the commit fails
      if (::rename(staging.c_str(), target.c_str()) != 0)
        detail::throw_errno(std::string(where) + ": cannot rename onto", target);
      fsync_directory(target.parent_path());
      fsync_directory(staging.parent_path());
      JsonValue metrics = JsonValue::object(), tags = JsonValue::object(), records = JsonValue::array();
      for (const auto& [key, value] : options.metrics) metrics[key] = value;
      for (const auto& [key, value] : options.tags) tags[key] = value;
      for (const auto& a : artifacts)
        records.push_back(JsonValue::object({{"path", a.path}, {"size", a.size}, {"xxh3_128", a.xxh3_128}}));
      JsonValue record = JsonValue::object({{"created", detail::utc_timestamp()},
                                            {"metrics", std::move(metrics)},
                                            {"tags", std::move(tags)},
                                            {"description", options.description},
                                            {"metadata", options.metadata},
                                            {"artifacts", std::move(records)}});
      versions[detail::version_key(version)] = std::move(record);
      registered = version;
    });
    std::lock_guard guard(mutex_);
    return version_info(state_, where, model, registered);
  }

  /// One write: lock, re-read, mutate a copy (which may throw: nothing is committed), commit by the
  /// atomic replacement of registry.json, publish in memory.
  template <class Mutate>
  void transaction(Mutate&& mutate) {
    FileLock lock(lock_file(), options_.lock_timeout);
    std::lock_guard guard(mutex_);
    reload_if_changed();
    collect_garbage();
    JsonValue next = state_;
    pending_cleanup_.clear();
    try {
      mutate(next);
      next["generation"] = next.at("generation").get<std::uint64_t>() + 1;
      write_file_atomically(state_file(), next.dump(1));
    } catch (...) {
      std::error_code ignored;
      if (!pending_cleanup_.empty()) std::filesystem::remove_all(pending_cleanup_, ignored);
      pending_cleanup_.clear();
      throw;
    }
    pending_cleanup_.clear();
    state_ = std::move(next);
    stamp_ = stamp_of(state_file());
  }

  /// Removes what killed writers left behind; called with the lock held, so nothing here is in use.
  void collect_garbage() const {
    std::error_code ec;
    std::filesystem::remove_all(root_ / "tmp", ec);
    for (const auto& entry : std::filesystem::directory_iterator(root_, ec))
      if (entry.path().filename().string().rfind(".registry.json.tmp-", 0) == 0)
        std::filesystem::remove(entry.path(), ec);
  }

  /// The identity of the current registry.json: every commit renames a new inode over it.
  struct Stamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = -1;
    std::int64_t mtime_ns = -1;
    bool operator==(const Stamp&) const = default;
  };
  static Stamp stamp_of(const std::filesystem::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) detail::throw_errno("ModelVersionManager: cannot stat", file);
    return {st.st_dev, st.st_ino, st.st_size, std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  }

  /// Loads registry.json when its stamp changed; on a malformed file throws FormatError and keeps the
  /// state it had.
  void reload_if_changed() const {
    const Stamp now = stamp_of(state_file());
    if (now == stamp_ && !state_.is_null()) return;
    const std::string text = read_file_bounded(state_file(), options_.max_registry_bytes);
    // Bad JSON: "ModelVersionManager: '<file>' is not valid JSON (byte k: problem)".
    JsonValue parsed = JsonValue::parse(text, "ModelVersionManager: '" + state_file().string() + "' is not valid JSON");
    detail::validate_registry_state(parsed, state_file());
    state_ = std::move(parsed);
    stamp_ = now;
  }

  std::filesystem::path root_;
  ModelVersionManagerOptions options_;
  mutable std::mutex mutex_;
  mutable JsonValue state_;
  mutable Stamp stamp_;
  std::filesystem::path pending_cleanup_;
};

using ModelVersionManager = BasicModelVersionManager<>;

}  // namespace aimastery
