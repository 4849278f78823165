#pragma once
/// \file
/// RetrievalResult: one retrieved chunk with its score, its rank, and a citation that points back at the
/// exact passage of the source document.
///
///   for (const RetrievalResult& r : retriever.retrieve("what is BM25?", 5))
///     std::cout << r.rank << ". [" << r.citation.document_id << " " << r.citation.start << "-"
///               << r.citation.end << "] " << r.score << "\n";

#include <cstddef>
#include <string>

#include "aimastery/core/tensor.hpp"
#include "aimastery/llm/rag/document.hpp"

namespace aimastery {

/// Where a passage comes from: the document and the byte range [start, end) of its text, and the
/// Markdown heading path when the chunker knew it.
struct Citation {
  std::string document_id;
  std::size_t start = 0;
  std::size_t end = 0;
  std::string heading;
};

/// A retrieved chunk: rank 1 is the best; a larger score is better.
struct RetrievalResult {
  Chunk chunk;
  double score = 0;
  Index rank = 0;
  Citation citation;

  /// A result for `chunk`, its citation filled from the chunk's offsets.
  static RetrievalResult of(Chunk chunk, double score, Index rank) {
    RetrievalResult r;
    r.citation = {chunk.document_id, chunk.start, chunk.end, chunk.heading};
    r.chunk = std::move(chunk);
    r.score = score;
    r.rank = rank;
    return r;
  }
};

}  // namespace aimastery
