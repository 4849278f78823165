// A file name in the system's temporary folder that no other running process uses: the test programs run in
// parallel (ctest -j), and two programs, or two runs of one, must never write each other's files.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

namespace aimastery::test {

/// <temp>/aimastery_<process id>_<name>.
inline std::string temporary_path(const std::string& name) {
  const std::string file = "aimastery_" + std::to_string(::getpid()) + "_" + name;
  return (std::filesystem::temp_directory_path() / file).string();
}

}  // namespace aimastery::test
