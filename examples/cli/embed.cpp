// `aimastery embed`: see embed.hpp.
#include "embed.hpp"

#include <aimastery/llm/attention/sentence_encoder.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace cli {
namespace {

using aimastery::Index;
using aimastery::Matrix;

std::vector<std::string> read_texts(std::istream& in) {
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    texts.push_back(std::move(line));
  }
  return texts;
}

/// NumPy's .npy format, version 1.0: magic, header length, a Python dict literal padded with spaces to a
/// multiple of 64 bytes, then the little-endian float32 data in row-major order.
void write_npy(std::ostream& out, const Matrix<float>& E) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(E.rows()) + ", " +
                       std::to_string(E.cols()) + "), }";
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  out.write("\x93NUMPY\x01\x00", 8);
  const auto length = static_cast<std::uint16_t>(header.size());
  const char length_bytes[2] = {static_cast<char>(length & 0xFF), static_cast<char>(length >> 8)};
  out.write(length_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(E.data()), static_cast<std::streamsize>(E.size() * sizeof(float)));
}

void write_jsonl(std::ostream& out, const Matrix<float>& E) {
  char number[32];
  for (Index i = 0; i < E.rows(); ++i) {
    out << "{\"index\":" << i << ",\"embedding\":[";
    for (Index j = 0; j < E.cols(); ++j) {
      std::snprintf(number, sizeof number, "%.9g", static_cast<double>(E(i, j)));
      out << (j ? "," : "") << number;
    }
    out << "]}\n";
  }
}

}  // namespace

int run_embed(const EmbedOptions& o) {
  try {
    std::string format = o.format;
    if (format.empty())
      format = o.output.size() >= 4 && o.output.compare(o.output.size() - 4, 4, ".npy") == 0 ? "npy" : "jsonl";
    if (format != "jsonl" && format != "npy") throw std::invalid_argument("--format must be jsonl or npy");
    if (format == "npy" && o.output.empty()) throw std::invalid_argument("--format npy needs --output FILE");
    if (o.batch_size <= 0) throw std::invalid_argument("--batch-size must be positive");

    std::vector<std::string> texts;
    if (o.input.empty()) {
      texts = read_texts(std::cin);
    } else {
      std::ifstream in(o.input);
      if (!in) throw std::invalid_argument("cannot open --input '" + o.input + "'");
      texts = read_texts(in);
    }
    aimastery::SentenceEncoder model = aimastery::SentenceEncoder::load(o.model);

    std::function<void(Index, Index)> progress;
    if (texts.size() > 256) {
      progress = [](Index done, Index total) {
        constexpr int width = 40;
        const int filled = static_cast<int>(width * done / total);
        std::cerr << "\rembedding [" << std::string(static_cast<std::size_t>(filled), '#')
                  << std::string(static_cast<std::size_t>(width - filled), '.') << "] " << done << '/' << total
                  << (done == total ? "\n" : "") << std::flush;
      };
    }
    const Matrix<float> E = model.encode(texts, o.batch_size, progress);

    if (o.output.empty()) {
      write_jsonl(std::cout, E);
      return std::cout ? 0 : 1;
    }
    std::ofstream out(o.output, std::ios::binary | std::ios::trunc);
    if (!out) throw std::invalid_argument("cannot open --output '" + o.output + "' for writing");
    if (format == "npy")
      write_npy(out, E);
    else
      write_jsonl(out, E);
    if (!out) throw std::runtime_error("cannot write '" + o.output + "'");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "aimastery embed: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace cli
