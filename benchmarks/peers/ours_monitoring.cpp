// The aimastery side of benchmarks/peers/tasks_monitoring.py: two-sample statistics on samples written
// by the Python side as raw little-endian float64 files (the same doubles on both sides).
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "aimastery/production/monitoring.hpp"
#include "aimastery/production/monitoring/json.hpp"
#include "peer_common.hpp"

namespace {

std::vector<double> read_doubles(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open " + path);
  const auto bytes = static_cast<std::size_t>(in.tellg());
  std::vector<double> v(bytes / sizeof(double));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(double)));
  return v;
}

// args: reference.f64 current.f64 repeat
template <class Work>
nlohmann::json timed(const aimastery::peers::Args& args, Work work) {
  const auto a = read_doubles(args.at(0)), b = read_doubles(args.at(1));
  const int repeat = std::stoi(args.at(2));
  nlohmann::json result;
  result["seconds"] = aimastery::peers::best_seconds(repeat, [&] { result["value"] = work(a, b); });
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  using aimastery::peers::Args;
  return aimastery::peers::run_task(
      argc, argv,
      {{"ks_test",
        [](const Args& args) {
          nlohmann::json r = timed(args, [](const auto& a, const auto& b) {
            const auto res = aimastery::ks_test(a, b);
            return nlohmann::json{res.statistic, res.p_value};
          });
          return r;
        }},
       {"psi",
        [](const Args& args) {
          return timed(args, [](const auto& a, const auto& b) { return aimastery::psi(a, b).value; });
        }},
       {"wasserstein", [](const Args& args) {
          return timed(args, [](const auto& a, const auto& b) { return aimastery::wasserstein_distance(a, b); });
        }}});
}
