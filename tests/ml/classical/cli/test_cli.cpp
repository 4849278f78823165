// The command-line tool: its JSON output on the bundled data, and one clear line on stderr for every mistake.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "aimastery/io/csv.hpp"
#include "aimastery/ml/classical/model_selection.hpp"
#include "support.hpp"

namespace {

struct Run {
  int status;
  std::string out, err;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::filesystem::path scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("aimastery-cli-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

Run run(const std::string& args) {
  const auto out = scratch_dir() / "stdout.txt", err = scratch_dir() / "stderr.txt";
  const std::string command =
      std::string("\"") + AIMASTERY_CLI + "\" " + args + " >" + out.string() + " 2>" + err.string();
  const int raw = std::system(command.c_str());
  const int status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return {status, slurp(out), slurp(err)};
}

std::string data(const std::string& file) { return aimastery::test::data_path(file); }

/// A failing invocation: non-zero status, nothing on stdout, exactly one line on stderr containing `text`.
void check_fails(const std::string& args, const std::string& text) {
  CAPTURE(args);
  const Run r = run(args);
  CHECK(r.status != 0);
  CHECK(r.out.empty());
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(text) != std::string::npos);
  CHECK(r.err.rfind("aimastery: error: ", 0) == 0);
}

/// Writes rows `indices` of iris to a CSV file with the original header.
std::string write_iris_part(const std::string& name, const aimastery::IndexVector& indices) {
  const auto iris = aimastery::read_csv<double>(data("iris.csv"));
  const auto path = scratch_dir() / name;
  std::ofstream f(path);
  for (const auto& n : iris.feature_names) f << n << ',';
  f << "target\n";
  f.precision(17);
  for (auto i : indices) {
    for (aimastery::Index j = 0; j < iris.X.cols(); ++j) f << iris.X(i, j) << ',';
    f << iris.y(i) << '\n';
  }
  return path.string();
}

}  // namespace

TEST_CASE("aimastery cv prints mean, std and the fold scores") {
  const Run r = run("cv --model logistic_regression --data " + data("iris.csv") + " --target target --scale --seed 0");
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["model"] == "logistic_regression");
  CHECK(j["metric"] == "accuracy");
  CHECK(j["scores"].size() == 5);
  CHECK(std::abs(j["mean"].get<double>() - 0.960) <= 0.02);  // REFERENCE.md: LogReg (std) on iris
  CHECK(j["std"].get<double>() >= 0.0);
  const Run again =
      run("cv --model logistic_regression --data " + data("iris.csv") + " --target target --scale --seed 0");
  CHECK(again.out == r.out);

  const Run nb = run("cv --model gaussian_nb --data " + data("wine.csv") + " --target target --folds 3 --seed 4");
  REQUIRE(nb.status == 0);
  CHECK(nlohmann::json::parse(nb.out)["scores"].size() == 3);

  const Run reg = run("cv --model linear_regression --data " + data("diabetes.csv") +
                      " --target target --param alpha=0.1 --param solver=cholesky");
  REQUIRE(reg.status == 0);
  const auto jr = nlohmann::json::parse(reg.out);
  CHECK(jr["metric"] == "r2");
  CHECK(jr["mean"].get<double>() > 0.4);
}

TEST_CASE("aimastery fit-eval trains on one file and scores on another") {
  const auto iris = aimastery::read_csv<double>(data("iris.csv"));
  const auto split =
      aimastery::train_test_split(iris.X, iris.labels(), {.test_size = 0.3, .stratify = true, .seed = 2});
  const std::string train = write_iris_part("train.csv", split.train_indices);
  const std::string test = write_iris_part("test.csv", split.test_indices);
  const Run r = run("fit-eval --model gaussian_nb --train " + train + " --test " + test +
                    " --target target --param var_smoothing=1e-9");
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["n_train"] == 105);
  CHECK(j["n_test"] == 45);
  CHECK(j["score"].get<double>() > 0.85);
  CHECK(j["fit_seconds"].get<double>() >= 0.0);
  CHECK(j["predict_seconds"].get<double>() >= 0.0);
  for (const char* key : {"model", "metric", "score", "fit_seconds", "predict_seconds", "n_train", "n_test"})
    CHECK(j.contains(key));

  SUBCASE("bad invocations") {
    const std::string base = " --train " + train + " --test " + test + " --target target";
    check_fails("fit-eval --model nonsense" + base, "unknown model 'nonsense'");
    check_fails("fit-eval --model gaussian_nb" + base + " --param depth=3", "unknown parameter 'depth'");
    check_fails("fit-eval --model logistic_regression" + base + " --param C=abc", "must be a number");
    check_fails("fit-eval --model logistic_regression" + base + " --param C=-1", "C must be > 0");
    check_fails("fit-eval --model logistic_regression" + base + " --param solver=sgd", "one of lbfgs");
    check_fails("fit-eval --model gaussian_nb --train " + train + " --test " + test + " --target species",
                "no column 'species'");
    check_fails("fit-eval --model gaussian_nb --test " + test + " --target target", "missing --train");
    check_fails("fit-eval --model gaussian_nb" + base + " --param alpha", "--param: expects NAME=VALUE");
    check_fails("fit-eval --model gaussian_nb" + base + " --bogus", "unknown option '--bogus'");
    check_fails("frobnicate", "unknown command 'frobnicate'");
    check_fails("cv --model gaussian_nb --data " + train + " --target target --folds 1",
                "--folds: must be an integer >= 2");
    const auto malformed = scratch_dir() / "malformed.csv";
    std::ofstream(malformed) << "a,b,target\n1,2,0\n3,oops,1\n";
    check_fails("cv --model gaussian_nb --data " + malformed.string() + " --target target", "line 3");
    check_fails("cv --model gaussian_nb --data " + (scratch_dir() / "absent.csv").string() + " --target target",
                "cannot open");
  }
}

TEST_CASE("aimastery runs every registered classical model by its own parameter names") {
  const std::string base = " --data " + data("iris.csv") + " --target target --seed 1";
  const std::pair<std::string, std::string> invocations[] = {
      {"knn", " --scale --param k=5 --param weights=distance"},
      {"decision_tree", " --param max_depth=4 --param criterion=entropy --param min_samples_leaf=2"},
      {"random_forest", " --param n_estimators=20 --param max_features=sqrt --param criterion=gini"},
      {"gaussian_nb", ""},
      {"logistic_regression", " --scale --param C=2"},
  };
  for (const auto& [model, params] : invocations) {
    const auto& model_name = model;  // a structured binding: clang 14's lambdas cannot capture it
    CAPTURE(model_name);
    const Run r = run("cv --model " + model + base + params);
    REQUIRE(r.status == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["model"] == model);
    CHECK(j["mean"].get<double>() > 0.85);
  }
  check_fails("cv --model knn" + base + " --param n_estimators=5", "unknown parameter 'n_estimators' for model knn");
  check_fails("cv --model random_forest" + base + " --param max_features=bogus", "MaxFeatures");
  check_fails("cv --model decision_tree" + base + " --param max_depth=deep", "an integer or none");
}

TEST_CASE("rag index, query and eval: cited answers from the user's files, TREC measures, clear errors") {
  const auto docs = scratch_dir() / "rag_docs";
  std::filesystem::create_directories(docs / "sub");
  std::ofstream(docs / "bm25.md") << "# BM25\n\nBM25 ranks documents by term frequency. The idf weight favours rare "
                                     "terms. Length normalisation uses the parameter b.\n";
  std::ofstream(docs / "sub" / "hnsw.txt") << "HNSW builds a layered graph of vectors. A search descends the layers "
                                              "greedily and widens its beam on the bottom layer.\n";
  std::ofstream(docs / "ignored.csv") << "not,indexed\n";
  const auto index = scratch_dir() / "rag_index";
  const Run built =
      run("rag index --input " + docs.string() + " --out " + index.string() + " --chunk-size 12 --overlap 2");
  REQUIRE(built.status == 0);
  CHECK(built.err.find("indexed 2 documents") != std::string::npos);

  const Run asked = run("rag query --index " + index.string() + " --k 3 \"how does the idf weight favour rare terms\"");
  REQUIRE(asked.status == 0);
  const auto answer = nlohmann::json::parse(asked.out);
  CHECK(answer["answer"].get<std::string>().find("The idf weight favours rare terms. [") == 0);
  const auto& first = answer["citations"][0];
  CHECK(first["source"].get<std::string>().find("bm25.md") != std::string::npos);
  const std::string text = slurp(docs / "bm25.md");
  CHECK(text.substr(first["start"].get<std::size_t>(),
                    first["end"].get<std::size_t>() - first["start"].get<std::size_t>()) ==
        first["text"].get<std::string>());
  CHECK(answer["timings_ms"]["total"].get<double>() >= 0);

  const auto queries = scratch_dir() / "rag_queries.tsv", qrels = scratch_dir() / "rag_qrels.txt";
  std::ofstream(queries) << "q1\tlayered graph search\nq2\tterm frequency ranking\n";
  std::ofstream(qrels) << "q1 0 " << (docs / "sub" / "hnsw.txt").string() << " 1\nq2 0 " << (docs / "bm25.md").string()
                       << " 1\n";
  for (const char* mode : {"bm25", "dense", "hybrid"}) {
    CAPTURE(mode);
    const Run evaluated = run("rag eval --index " + index.string() + " --queries " + queries.string() + " --qrels " +
                              qrels.string() + " --k 2 --mode " + mode);
    REQUIRE(evaluated.status == 0);
    const auto measures = nlohmann::json::parse(evaluated.out);
    CHECK(measures["queries"] == 2);
    CHECK(measures["mean"]["recip_rank"].get<double>() == 1.0);
    CHECK(measures["mean"]["recall_2"].get<double>() == 1.0);
  }

  check_fails("rag index --input " + docs.string() + " --out " + index.string() + " --chunk-size 5 --overlap 5",
              "--overlap (5) must be smaller than --chunk-size (5)");
  check_fails("rag index --input " + (docs / "ignored.csv").string() + "x --out " + index.string(), "--input");
  check_fails("rag query --index " + docs.string() + " \"anything\"", "manifest.json");
  check_fails("rag query --index " + index.string() + " --mode sparse \"anything\"", "--mode");
  check_fails("rag eval --index " + index.string() + " --queries " + qrels.string() + " --qrels " + qrels.string(),
              "expected \"id<TAB>text\"");
  check_fails("rag", "subcommand");

  // --embed-heading: the Markdown heading path is embedded with each chunk and counted in --chunk-size.
  const Run help = run("rag index --help");
  CHECK(help.out.find("--embed-heading") != std::string::npos);
  const auto headed = scratch_dir() / "rag_index_headed";
  const Run with_headings = run("rag index --input " + docs.string() + " --out " + headed.string() +
                                " --chunking markdown --embed-heading --chunk-size 12 --overlap 2");
  REQUIRE(with_headings.status == 0);
  const auto manifest = nlohmann::json::parse(slurp(headed / "manifest.json"));
  CHECK(manifest["options"]["chunking"]["metadata_in_budget"] == nlohmann::json::array({"heading"}));
  CHECK(run("rag query --index " + headed.string() + " --mode dense --k 1 \"BM25\"").out.find("bm25.md") !=
        std::string::npos);
  check_fails("rag index --input " + docs.string() + " --out " + headed.string() + " --embed-heading",
              "--embed-heading needs --chunking markdown (only Markdown sections have headings), got --chunking "
              "recursive");
  // "heading: BM25" takes 2 of 3 words: 1 left for the text, which needs overlap + 1 = 3.
  check_fails(
      "rag index --input " + docs.string() + " --out " + headed.string() +
          " --chunking markdown --embed-heading --chunk-size 3 --overlap 2",
      "bm25.md): the metadata rendered into each chunk (heading: BM25;) takes 2 of the chunk budget of 3 words");
}

TEST_CASE("aimastery serve: every bad option is one line on stderr naming it, before anything is loaded") {
  const std::string registry = " --registry " + scratch_dir().string();
  check_fails("serve", "missing --registry (see aimastery serve --help)");
  check_fails("serve --registry " + (scratch_dir() / "missing").string(), "--registry: Directory does not exist");
  check_fails("serve" + registry + " --threads 0", "--threads");
  check_fails("serve" + registry + " --port 70000", "--port");
  check_fails("serve" + registry + " --max-in-flight 0", "--max-in-flight");
  check_fails("serve" + registry + " --max-queue-wait-ms -1", "--max-queue-wait-ms");
  check_fails("serve" + registry + " --max-queue-wait-ms 0.5",
              "--max-queue-wait-ms: must be an integer >= 0, got '0.5'");
  check_fails("serve" + registry + " --max-delay-ms 5000", "--max-delay-ms");
  check_fails("serve" + registry + " --no-such-option", "--no-such-option");
  CHECK(run("serve" + registry + " --max-queue-wait-ms 0.5").status == 2);  // a usage error
}
