// aimastery embed --model DIR [--input FILE] [--output FILE] [--format jsonl|npy] [--batch-size 32]
// Sentence embeddings with all-MiniLM-L6-v2 (tools/fetch_minilm.sh fetches it); the work is in embed.cpp.
#include <memory>

#include "command.hpp"
#include "embed.hpp"

namespace {

const cli::CommandRegistration embed_command(
    "embed", "sentence embeddings with all-MiniLM-L6-v2, texts one a line", [](CLI::App& app) -> cli::Action {
      auto o = std::make_shared<cli::EmbedOptions>();
      app.add_option("--model", o->model, "model folder (config.json, vocab.txt, model.safetensors)")
          ->required()
          ->check(CLI::ExistingDirectory);
      app.add_option("--input", o->input, "text file, one text a line (default: stdin)")->check(CLI::ExistingFile);
      app.add_option("--output,-o", o->output, "output file (default: stdout)");
      app.add_option("--format", o->format, "jsonl or npy (default: npy when --output ends in .npy)")
          ->check(CLI::IsMember({"jsonl", "npy"}));
      app.add_option("--batch-size", o->batch_size, "texts per batch")->check(cli::at_least(1))->capture_default_str();
      return [o] { return cli::run_embed(*o); };
    });

}  // namespace
