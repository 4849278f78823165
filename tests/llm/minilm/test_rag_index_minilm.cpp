// RagIndex with the all-MiniLM-L6-v2 sentence encoder (AIMASTERY_MINILM_DIR): its embedder records the
// model's identity, its dense side equals DenseRetriever<SentenceEncoderEmbedder> on the same chunks, it
// survives save and load, and an index is refused by an encoder whose identity differs.
#include <aimastery/llm/rag/dense_retriever.hpp>
#include <aimastery/llm/rag/rag_index.hpp>
#include <aimastery/llm/rag/sentence_encoder_embedder.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "llm/bert_fixture.hpp"
#include "llm/rag_index/index_support.hpp"
#include "llm/rag_index/reference_corpus.hpp"
#include "support.hpp"

using namespace aimastery;
namespace fs = std::filesystem;
using test::equal_results;
using test::index_options;
using test::minilm_dir;
using test::questions;

TEST_CASE("MiniLM: a RagIndex with the sentence encoder equals DenseRetriever's exact search") {
  const std::string dir = minilm_dir();
  const IndexEmbedder minilm = sentence_encoder_index_embedder(dir);
  CHECK(minilm.name == "minilm");
  CHECK(minilm.dimension == 384);
  CHECK(minilm.model.rfind("xxh3-128:", 0) == 0);
  CHECK(minilm.model.find("max_seq_length=256") != std::string::npos);
  CHECK(sentence_encoder_identity(dir) == sentence_encoder_identity(dir));

  const RagIndex index = RagIndex::build(test::reference_corpus_documents(), index_options(), minilm);
  DenseRetriever<SentenceEncoderEmbedder> reference(SentenceEncoderEmbedder(SentenceEncoder::load(dir)));
  reference.add(index.chunks());
  RetrieveOptions how;
  how.mode = RetrievalMode::dense;
  how.exact = true;
  for (const std::string& q : questions) {
    CAPTURE(q);
    equal_results(index.retrieve(q, 5, how), reference.retrieve(q, 5), 1e-5);
  }

  const fs::path folder = test::fresh_folder("embedder_minilm");
  index.save(folder.string());
  CHECK(RagIndex::recorded_embedder(folder.string()).model == minilm.model);
  const RagIndex loaded = RagIndex::load(folder.string(), sentence_encoder_index_embedder(dir));
  for (const std::string& q : questions)
    for (const RetrievalMode mode : {RetrievalMode::bm25, RetrievalMode::dense, RetrievalMode::hybrid})
      equal_results(loaded.retrieve(q, 5, mode), index.retrieve(q, 5, mode), 0);

  // The same weights with another config.json are another model: refused, naming both identities.
  const fs::path other = test::fresh_folder("embedder_minilm_other");
  fs::create_directories(other);
  for (const char* name : {"vocab.txt", "model.safetensors"})
    fs::create_symlink(fs::absolute(fs::path(dir) / name), other / name);
  {
    std::ifstream in(fs::path(dir) / "config.json");
    std::ofstream out(other / "config.json");
    out << in.rdbuf() << "\n";
  }
  const IndexEmbedder changed = sentence_encoder_index_embedder(other.string());
  CHECK(changed.model != minilm.model);
  CHECK_THROWS_NAMING((void)RagIndex::load(folder.string(), changed), InvalidArgument,
                      ("the embedder given has another model, " + changed.model).c_str());
  CHECK_THROWS_NAMING((void)RagIndex::load(folder.string()), InvalidArgument,
                      ("was built with the embedder 'minilm' (model " + minilm.model).c_str());
  CHECK_THROWS_NAMING((void)sentence_encoder_index_embedder((other / "missing").string()), FormatError,
                      "is not a directory");
  fs::remove(other / "vocab.txt");
  CHECK_THROWS_NAMING((void)sentence_encoder_identity(other.string()), FormatError, "vocab.txt' is missing");
  CHECK_THROWS_NAMING((void)sentence_encoder_index_embedder(dir, 0), InvalidArgument, "batch_size");
  fs::remove_all(other);
  fs::remove_all(folder);
}
