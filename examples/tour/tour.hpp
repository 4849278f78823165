#pragma once
// The tour's sections: each examples/tour/tour_<module>.cpp registers one with AIMASTERY_TOUR_SECTION,
// and main() runs them in order of their rank.

#include <functional>
#include <string>
#include <vector>

namespace tour {

struct Section {
  int rank;
  std::string title;
  std::function<void(const std::string& data_dir)> run;
};

inline std::vector<Section>& sections() {
  static std::vector<Section> all;
  return all;
}

struct Register {
  Register(int rank, std::string title, std::function<void(const std::string&)> run) {
    sections().push_back({rank, std::move(title), std::move(run)});
  }
};

}  // namespace tour

#define AIMASTERY_TOUR_CONCAT_(a, b) a##b
#define AIMASTERY_TOUR_CONCAT(a, b) AIMASTERY_TOUR_CONCAT_(a, b)
/// AIMASTERY_TOUR_SECTION(rank, "title") { ...body using data_dir... }
#define AIMASTERY_TOUR_SECTION(rank, title)                                                \
  static void AIMASTERY_TOUR_CONCAT(tour_section_, __LINE__)(const std::string& data_dir); \
  static const tour::Register AIMASTERY_TOUR_CONCAT(tour_register_, __LINE__)(             \
      rank, title, AIMASTERY_TOUR_CONCAT(tour_section_, __LINE__));                        \
  static void AIMASTERY_TOUR_CONCAT(tour_section_, __LINE__)([[maybe_unused]] const std::string& data_dir)
