// aimastery tour: a short walk through every module on the bundled datasets.
//   tour [DATA_DIR]      (DATA_DIR defaults to the source tree's data/)

#include <algorithm>
#include <exception>
#include <iostream>

#include "tour.hpp"

int main(int argc, char** argv) {
  const std::string data_dir = argc > 1 ? argv[1] : AIMASTERY_DATA_DIR;
  auto sections = tour::sections();
  std::stable_sort(sections.begin(), sections.end(), [](const auto& a, const auto& b) { return a.rank < b.rank; });
  std::cout << "aimastery tour (data from " << data_dir << ")\n";
  try {
    for (const auto& s : sections) {
      std::cout << "\n== " << s.title << " ==\n";
      s.run(data_dir);
    }
  } catch (const std::exception& e) {
    std::cerr << "tour: " << e.what() << '\n';
    return 1;
  }
  std::cout << "\ntour finished: " << sections.size() << " sections\n";
  return 0;
}
