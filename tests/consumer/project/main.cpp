// Uses the library through its umbrella header and checks a result, as a user's first program would.
#include <aimastery/aimastery.hpp>

#include <cmath>
#include <iostream>

int main() {
  aimastery::Matrix<double> logits(2, 3);
  logits << 1, 2, 3, 1000, 1000, 1000;
  const aimastery::Matrix<double> p = aimastery::softmax(logits);
  const bool ok = std::abs(p.row(0).sum() - 1.0) < 1e-12 && std::abs(p(1, 0) - 1.0 / 3.0) < 1e-12;
  std::cout << (ok ? "consumer ok" : "consumer FAILED") << '\n';
  return ok ? 0 : 1;
}
