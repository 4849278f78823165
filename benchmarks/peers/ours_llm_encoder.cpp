// The "ours" side of benchmarks/peers/tasks_encoder.py: the all-MiniLM-L6-v2 sentence encoder and its
// WordPiece tokenizer on a file of sentences (one a line).
//   peer_ours_llm_encoder encode MODEL_DIR SENTENCES BATCH REPEAT     (threads: OMP_NUM_THREADS)
//   peer_ours_llm_encoder tokenize VOCAB SENTENCES REPEAT
// Prints {"seconds": best wall time, "peak_rss_mb": peak resident memory of the process, ...}.
#include <sys/resource.h>
#include <aimastery/llm/attention/sentence_encoder.hpp>

#include <fstream>

#include "peer_common.hpp"

using namespace aimastery;

namespace {

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  return peers::run_task(
      argc, argv,
      {{"encode",
        [](const peers::Args& a) {
          SentenceEncoder model = SentenceEncoder::load(a.at(0));
          const auto texts = peers::read_lines(a.at(1));
          const Index batch = std::stol(a.at(2));
          Matrix<float> E;
          model.encode(std::vector<std::string>(texts.begin(), texts.begin() + std::min<std::size_t>(64, texts.size())),
                       batch);  // warm-up: per-thread copies, packing buffers
          const double cpu0 = peers::cpu_seconds();
          const int repeat = std::stoi(a.at(3));
          const double s = peers::best_seconds(repeat, [&] { E = model.encode(texts, batch); });
          return nlohmann::json{{"seconds", s},
                                {"cpu_seconds_per_run", (peers::cpu_seconds() - cpu0) / repeat},
                                {"sentences_per_second", static_cast<double>(texts.size()) / s},
                                {"peak_rss_mb", peak_rss_mb()},
                                {"checksum", E.sum()}};
        }},
       {"tokenize", [](const peers::Args& a) {
          const WordPieceTokenizer tok = WordPieceTokenizer::from_file(a.at(0));
          const auto texts = peers::read_lines(a.at(1));
          std::vector<std::int32_t> ids;
          std::size_t tokens = 0;
          const double cpu0 = peers::cpu_seconds();
          const int repeat = std::stoi(a.at(2));
          const double s = peers::best_seconds(repeat, [&] {
            tokens = 0;
            for (const auto& t : texts) {
              tok.encode_into(t, ids);
              tokens += ids.size();
            }
          });
          return nlohmann::json{{"seconds", s},
                                {"cpu_seconds_per_run", (peers::cpu_seconds() - cpu0) / repeat},
                                {"tokens", tokens},
                                {"peak_rss_mb", peak_rss_mb()}};
        }}});
}
