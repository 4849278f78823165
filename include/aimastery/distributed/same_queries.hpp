#pragma once
/// \file
/// The agreement check of every collective search: all ranks pass the same queries (compared by their
/// number and an XXH3 hash of their bytes), so that the merged top-k answers the same question everywhere.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "aimastery/core/tensor.hpp"
#include "aimastery/distributed/agreement.hpp"
#include "aimastery/distributed/communicator.hpp"
#include "aimastery/production/caching/content_hash.hpp"

namespace aimastery {

/// Throws on every rank (InvalidArgument naming `where`) unless every rank passes the same number of
/// queries with the same bytes. `queries` must be contiguous (a Matrix). Collective.
template <Scalar T>
void check_same_queries_on_all_ranks(const Communicator& comm, std::string_view where, const Matrix<T>& queries) {
  check_same_on_all_ranks(comm, where, "the number of queries", queries.rows());
  const ContentHash h = content_hash(std::string_view(reinterpret_cast<const char*>(queries.data()),
                                                      static_cast<std::size_t>(queries.size()) * sizeof(T)));
  check_same_on_all_ranks(comm, where, "the hash of the queries (every rank must pass the same)",
                          static_cast<std::int64_t>(h.low ^ h.high));
}

}  // namespace aimastery
