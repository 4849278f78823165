// aimastery rag index|query|eval: retrieval-augmented answers with citations over the user's files; the
// work is in rag.cpp.
#include <memory>

#include "command.hpp"
#include "rag.hpp"

namespace {

const cli::CommandRegistration rag_command(
    "rag", "index .txt/.md files, answer questions with citations, evaluate retrieval",
    [](CLI::App& app) -> cli::Action {
      app.require_subcommand(1);
      const std::vector<std::string> modes = {"bm25", "dense", "hybrid"};
      // The search flags query and eval share.
      const auto add_search_flags = [&](CLI::App* sub, cli::RagSearchFlags& f) {
        sub->add_option("--mode", f.mode, "bm25, dense or hybrid")->check(CLI::IsMember(modes))->capture_default_str();
        sub->add_flag("--exact", f.exact, "search the dense side exactly instead of through the HNSW graph");
        sub->add_option("--mmr", f.mmr, "rerank by maximal marginal relevance with this lambda in [0, 1]")
            ->check(CLI::Range(0.0, 1.0));
        sub->add_option("--model-dir", f.model_dir, "the MiniLM model folder, if not the one recorded in the index")
            ->check(CLI::ExistingDirectory);
      };

      auto index = std::make_shared<cli::RagIndexCommand>();
      CLI::App* index_app = app.add_subcommand("index", "chunk and index files or folders of .txt and .md files");
      index_app->add_option("--input", index->inputs, "files or folders (walked recursively)")
          ->required()
          ->check(CLI::ExistingPath);
      index_app->add_option("--out", index->out, "the index folder to write (replaced atomically)")->required();
      index_app->add_option("--chunking", index->chunking, "recursive, sentence, fixed or markdown")
          ->check(CLI::IsMember({"recursive", "sentence", "fixed", "markdown"}))
          ->capture_default_str();
      index_app->add_option("--chunk-size", index->chunk_size, "words per chunk")
          ->check(cli::at_least(1))
          ->capture_default_str();
      index_app->add_option("--overlap", index->overlap, "words shared by consecutive chunks")
          ->check(cli::at_least(0))
          ->capture_default_str();
      index_app->add_flag("--embed-heading", index->embed_heading,
                          "with --chunking markdown: the embedder reads each chunk's heading path as a line "
                          "\"heading: A > B\" before its text, and the line counts in --chunk-size");
      index_app->add_option("--embedder", index->embedder, "hashing (TF-IDF, no weights) or minilm")
          ->check(CLI::IsMember({"hashing", "minilm"}))
          ->capture_default_str();
      index_app->add_option("--model-dir", index->model_dir,
                            "minilm: the all-MiniLM-L6-v2 folder (default $AIMASTERY_MINILM_DIR)");

      auto query = std::make_shared<cli::RagQueryCommand>();
      CLI::App* query_app = app.add_subcommand("query", "answer a question from an index, with citations (JSON)");
      query_app->add_option("--index", query->index, "an index folder written by `rag index`")
          ->required()
          ->check(CLI::ExistingDirectory);
      query_app->add_option("question", query->question, "the question");
      query_app->add_option("--queries", query->queries, "many questions, \"id<TAB>text\" per line: JSON lines out")
          ->check(CLI::ExistingFile);
      query_app->add_option("--k", query->k, "passages in the context")->check(cli::at_least(1))->capture_default_str();
      add_search_flags(query_app, query->search);
      query_app->add_option("--max-tokens", query->max_tokens, "context budget in words")
          ->check(cli::at_least(1))
          ->capture_default_str();

      auto eval = std::make_shared<cli::RagEvalCommand>();
      CLI::App* eval_app = app.add_subcommand("eval", "recall@k, MRR, nDCG@k and MAP of an index on labelled queries");
      eval_app->add_option("--index", eval->index, "an index folder")->required()->check(CLI::ExistingDirectory);
      eval_app->add_option("--queries", eval->queries, "queries, \"id<TAB>text\" per line")
          ->required()
          ->check(CLI::ExistingFile);
      eval_app->add_option("--qrels", eval->qrels, "TREC qrels; documents named by their source path")
          ->required()
          ->check(CLI::ExistingFile);
      eval_app->add_option("--k", eval->k, "documents ranked per query")
          ->check(cli::at_least(1))
          ->capture_default_str();
      eval_app->add_option("--run", eval->run, "also write the ranking there as a TREC run file");
      add_search_flags(eval_app, eval->search);

      return [index, query, eval, index_app, query_app] {
        if (index_app->parsed()) return cli::run_rag_index(*index);
        if (query_app->parsed()) return cli::run_rag_query(*query);
        return cli::run_rag_eval(*eval);
      };
    });

}  // namespace
