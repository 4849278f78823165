#pragma once
/// \file
/// IndexEmbedder: a dense embedder with weights (the MiniLM SentenceEncoder, or any other), named and
/// identified, as the dense side of a RagIndex.
///
///   IndexEmbedder minilm = sentence_encoder_index_embedder("/models/all-MiniLM-L6-v2");
///   RagIndex index = RagIndex::build(documents, options, minilm);    // the manifest records name and model
///   RagIndex again = RagIndex::load("docs.index", minilm);           // refused if the model differs
///
/// A RagIndex saves its vectors, not its embedder: queries must be embedded by the same model that
/// embedded the chunks, or the scores mean nothing. So an embedder carries, beside its function, a name
/// ("minilm"), the identity of its weights (`model`: a content hash of the files that define it) and its
/// dimension; the index records the three and load() compares them with the embedder it is given.
/// "hashing" is the built-in hashing TF-IDF embedder's name (fitted on the chunks and rebuilt on load), so
/// it is not a name an IndexEmbedder may take.

#include <functional>
#include <span>
#include <string>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

struct IndexEmbedder {
  std::string name;    ///< e.g. "minilm"
  std::string model;   ///< the identity of the weights, e.g. "xxh3-128:…" over the model's files
  std::string source;  ///< where the weights were read from (a folder), recorded as a hint only
  Index dimension = 0;
  /// Row i: the embedding of texts[i] (dimension columns); must be safe to call from several threads.
  std::function<Matrix<float>(std::span<const std::string>)> embed;

  /// Throws InvalidArgument (naming `where`) unless the embedder can be used by an index.
  void check(std::string_view where) const {
    require(!name.empty() && name != "hashing", where, [&] {
      return "an IndexEmbedder needs a name other than 'hashing' (the built-in embedder), got '" + name + "'";
    });
    require(!model.empty(), where, [&] { return "the embedder '" + name + "' has no model identity"; });
    require(dimension >= 1, where,
            [&] { return "the embedder '" + name + "' has dimension " + std::to_string(dimension); });
    require(static_cast<bool>(embed), where, [&] { return "the embedder '" + name + "' has no embed function"; });
  }
};

}  // namespace aimastery
