// AdaptiveSpin: which waits spin, for a given record of what the spins found; ReplyWaiters: how many threads
// may be waiting for one of them to spin.
#include <cstdint>
#include <string>

#include "aimastery/production/caching/adaptive_spin.hpp"
#include "support.hpp"

using aimastery::detail::AdaptiveSpin;

namespace {

// Runs `waits` waits; `finds(i)` says whether the spin of wait i (when it spins) finds its reply. Returns
// the waits that spun, as a string of '1' (spun) and '0' (slept at once).
template <class Finds>
std::string pattern(AdaptiveSpin& spin, int waits, Finds finds) {
  std::string out;
  for (int i = 0; i < waits; ++i) {
    const bool spins = spin.should_spin();
    out += spins ? '1' : '0';
    if (spins) spin.record(finds(i));
  }
  return out;
}

}  // namespace

TEST_CASE("AdaptiveSpin: spins while spins find their reply, backs off by doubling after misses") {
  AdaptiveSpin spin;
  // Every spin finds its reply: every wait spins.
  CHECK(pattern(spin, 8, [](int) { return true; }) == "11111111");
  // Every spin misses: skip 1, then 2, 4, 8 waits.
  CHECK(pattern(spin, 20, [](int) { return false; }) ==
        std::string("1") + "0" + "1" + "00" + "1" + "0000" + "1" + "00000000" + "1");
  // A spin that finds its reply again: every wait spins again.
  AdaptiveSpin recovered;
  CHECK(pattern(recovered, 4, [](int i) { return i != 0; }) == "1011");
}

TEST_CASE("AdaptiveSpin: a server that never answers within the spin costs one spin per max_skip waits") {
  AdaptiveSpin spin;
  int spins = 0;
  for (int i = 0; i < 100000; ++i)
    if (spin.should_spin()) {
      ++spins;
      spin.record(false);
    }
  // The first 11 spins at waits 0, 2, 5, 10, …, 1033 (1 + 2 + … + 512 waits skipped between them), then
  // one spin every 1025 waits (1024 skipped).
  CHECK(spins == 11 + (100000 - 1 - 1033) / 1025);
  CHECK(spins == 107);
}

TEST_CASE("ReplyWaiters: spinning is allowed while at most `capacity` threads wait for a reply") {
  using aimastery::detail::ReplyWaiters;
  ReplyWaiters waiters(2);
  CHECK(waiters.capacity() == 2);
  CHECK(waiters.few());
  {
    const ReplyWaiters::Scope first(&waiters), second(&waiters), uncounted(nullptr);
    CHECK(waiters.few());
    {
      const ReplyWaiters::Scope third(&waiters);
      CHECK_FALSE(waiters.few());
    }
    CHECK(waiters.few());  // a scope that ends no longer counts
  }
  CHECK(ReplyWaiters(0).capacity() == 1);  // at least one thread may spin
  CHECK(ReplyWaiters::process().capacity() >= 1);
}
