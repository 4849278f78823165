// detail::dot_kernel (llm/rag/dot_kernel.hpp), the HNSW distance: equal to the inner product summed in
// long double for every length 0 … 100 (every tail of the SIMD paths), to float rounding.
#include <aimastery/core/probability/sampling.hpp>
#include <aimastery/llm/rag/dot_kernel.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "support.hpp"

using namespace aimastery;

TEST_CASE_TEMPLATE("dot_kernel: the inner product for every length 0 … 100", T, float, double) {
  RandomEngine rng(test::test_seed(7701));
  for (Index n = 0; n <= 100; ++n) {
    // One element more than n on each side, offset by one: unaligned starts, and the element past the end
    // (a huge value) must not be read.
    std::vector<T> a(std::size_t(n) + 2), b(std::size_t(n) + 2);
    for (auto* v : {&a, &b})
      for (auto& x : *v) x = static_cast<T>(detail::standard_normal(rng));
    a[std::size_t(n) + 1] = b[std::size_t(n) + 1] = T(1e30);
    long double want = 0, scale = 0;
    for (Index i = 1; i <= n; ++i) {
      want += static_cast<long double>(a[std::size_t(i)]) * b[std::size_t(i)];
      scale += std::abs(static_cast<long double>(a[std::size_t(i)]) * b[std::size_t(i)]);
    }
    const T got = detail::dot_kernel(a.data() + 1, b.data() + 1, n);
    CAPTURE(n);
    CHECK(std::abs(static_cast<long double>(got) - want) <= 4 * std::numeric_limits<T>::epsilon() * (scale + 1));
  }
}
