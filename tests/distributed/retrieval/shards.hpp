#pragma once
// How the retrieval tests split a collection across the ranks.

#include "aimastery/core/tensor.hpp"
#include "aimastery/distributed.hpp"

namespace aimastery::test {

/// The rows [lo, hi) of n that rank r holds: balanced shares, or (`lopsided`) everything on the last
/// rank but the first quarter on rank 0, the ranks in between holding nothing.
inline BatchShare shard_of(Index n, const Communicator& comm, bool lopsided) {
  if (!lopsided) return batch_share(n, comm.rank(), comm.size());
  const Index quarter = n / 4;
  if (comm.rank() == 0) return {0, quarter};
  if (comm.rank() == comm.size() - 1) return {quarter, n};
  return {quarter, quarter};
}

}  // namespace aimastery::test
