#pragma once
/// \file
/// Retriever: the contract every retriever of llm.rag satisfies (BM25Retriever, DenseRetriever,
/// HybridRetriever): given a query text and k >= 1, the at most k best chunks as RetrievalResults, rank 1
/// first, each with its citation. k < 1 is an InvalidArgument.

#include <concepts>
#include <string_view>
#include <vector>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"

namespace aimastery {

template <class R>
concept Retriever = requires(R& retriever, std::string_view query, Index k) {
  { retriever.retrieve(query, k) } -> std::same_as<std::vector<RetrievalResult>>;
};

}  // namespace aimastery
