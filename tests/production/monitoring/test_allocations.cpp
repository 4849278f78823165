// Error messages are built only when a check fails: the success path of the monitoring calls and the
// special functions allocates nothing per call (counted by replacing the global operator new in this
// test program; counting is on only inside `allocations_of`).

#include <cmath>
#include <cstdlib>
#include <new>

#include "aimastery/core/special/gamma.hpp"
#include "aimastery/core/special/kolmogorov.hpp"
#include "aimastery/production/monitoring/performance_monitor.hpp"
#include "support.hpp"

namespace {
thread_local bool counting = false;
thread_local long allocations = 0;

template <class F>
long allocations_of(F&& work) {
  allocations = 0;
  counting = true;
  work();
  counting = false;
  return allocations;
}
}  // namespace

void* operator new(std::size_t size) {
  if (counting) ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
// The nothrow forms too (std::stable_sort's temporary buffer uses them), so that every form pairs malloc
// with free (AddressSanitizer checks the pairing).
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (counting) ++allocations;
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return ::operator new(size, tag); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace aimastery;

TEST_CASE("the special functions allocate nothing on success (messages are built only on failure)") {
  double sink = 0;
  CHECK(allocations_of([&] {
          for (int i = 1; i <= 1000; ++i) {
            const double x = 0.01 * i;
            sink += regularized_gamma_p(2.5, x) + regularized_gamma_q(2.5, x) + chi2_sf(x, 3.0);
            sink += smirnov_sf(1000, 0.001 * i);
          }
        }) == 0);
  CHECK(std::isfinite(sink));
  // The counter works: a failing call builds its message.
  CHECK(allocations_of([] {
          try {
            regularized_gamma_p(-1.0, 1.0);
          } catch (const InvalidArgument&) {
          }
        }) > 0);
}

TEST_CASE("PerformanceMonitor::record_request builds no message under its mutex") {
  PerformanceMonitor monitor({.window_size = 100});
  for (int i = 0; i < 200; ++i) monitor.record_request(0.001 * i);  // the window is full: steady state
  // The window is a deque: a block of records is allocated now and then, never a string per call
  // (an eagerly built message such as "latency must be finite and >= 0, got 0.001000" costs one each).
  const long n = allocations_of([&] {
    for (int i = 0; i < 1000; ++i) monitor.record_request(0.001 * i, i % 7 != 0);
  });
  CHECK(n < 100);
}
