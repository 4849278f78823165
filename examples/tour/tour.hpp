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
/// (names numbered by __COUNTER__, unique even when the sections' files are compiled as one unit)
#define AIMASTERY_TOUR_SECTION(rank, title) AIMASTERY_TOUR_SECTION_N(rank, title, __COUNTER__)
#define AIMASTERY_TOUR_SECTION_N(rank, title, n)                                                                 \
  static void AIMASTERY_TOUR_CONCAT(tour_section_, n)(const std::string& data_dir);                              \
  static const tour::Register AIMASTERY_TOUR_CONCAT(tour_register_, n)(rank, title,                              \
                                                                       AIMASTERY_TOUR_CONCAT(tour_section_, n)); \
  static void AIMASTERY_TOUR_CONCAT(tour_section_, n)([[maybe_unused]] const std::string& data_dir)
