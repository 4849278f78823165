#pragma once
// `aimastery embed`: sentence embeddings with all-MiniLM-L6-v2 (examples/cli/embed.cpp).
//
//   aimastery embed --model DIR [--input FILE] [--output FILE] [--format jsonl|npy] [--batch-size 32]
//
// Texts are read one a line from --input (or stdin); embeddings go to --output (or stdout) as JSON lines
// {"index": i, "embedding": [...]} or as one float32 .npy array (texts × 384; needs --output). A progress
// bar is drawn on stderr when there are more than 256 texts.

#include <iosfwd>
#include <string>

namespace cli {

struct EmbedOptions {
  std::string model;   ///< the model folder (tools/fetch_minilm.sh)
  std::string input;   ///< empty: stdin
  std::string output;  ///< empty: stdout
  std::string format;  ///< "jsonl" or "npy"; empty: npy when output ends in .npy, otherwise jsonl
  long batch_size = 32;
};

/// Runs the subcommand; returns the process exit code (errors are one line on stderr).
int run_embed(const EmbedOptions& options);

}  // namespace cli
