#include "aimastery/io/csv.hpp"

#include "support.hpp"

using aimastery::FormatError;
using aimastery::InvalidArgument;

TEST_CASE("read_csv reads the bundled iris data with its header and labels") {
  const auto iris = aimastery::read_csv<double>(aimastery::test::data_path("iris.csv"));
  CHECK(iris.X.rows() == 150);
  CHECK(iris.X.cols() == 4);
  CHECK(iris.feature_names.front() == "sepal_length_cm");
  CHECK(iris.target_name == "target");
  CHECK(iris.X(0, 0) == doctest::Approx(5.1));
  CHECK(iris.X(149, 3) == doctest::Approx(1.8));
  const auto labels = iris.labels();
  CHECK(labels(0) == 0);
  CHECK(labels(149) == 2);
  CHECK(iris.label_names.empty());
}

TEST_CASE("parse_csv: quoted fields, CRLF, blank lines and string labels") {
  const auto d = aimastery::parse_csv<float>("a,\"b, quoted\",label\r\n1,2,\"setosa\"\r\n\r\n3.5,-4e2,virginica\r\n5,6,setosa\n", {.target = "label"});
  CHECK(d.X.rows() == 3);
  CHECK(d.feature_names[1] == "b, quoted");
  CHECK(d.X(1, 1) == doctest::Approx(-400.0f));
  REQUIRE(d.label_names.size() == 2);
  CHECK(d.label_names[0] == "setosa");
  CHECK(d.y(0) == 0.0f);
  CHECK(d.y(1) == 1.0f);
  CHECK(d.y(2) == 0.0f);
}

TEST_CASE("parse_csv without a label column keeps every column as a feature") {
  const auto d = aimastery::parse_csv<double>("x,y\n1,2\n3,4\n", {.target = ""});
  CHECK(d.X.cols() == 2);
  CHECK(d.y.size() == 0);
}

TEST_CASE("parse_csv: malformed input is a FormatError naming line and column") {
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\n1,0\n2\n"), FormatError, "line 3: 1 fields, the header has 2");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,b,target\n1,,0\n"), FormatError, "line 2, column 2 ('b'): missing value");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\nabc,0\n"), FormatError, "'abc' is not a finite number");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\nnan,0\n"), FormatError, "line 2, column 1");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\n1e999,0\n"), FormatError, "not a finite number");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\n\"1,0\n"), FormatError, "unterminated quoted field");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>(""), FormatError, "empty file");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\n"), FormatError, "no data rows");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,b\n1,2\n"), InvalidArgument, "no column 'target'");
  CHECK_THROWS_NAMING(aimastery::read_csv<double>("/nonexistent/file.csv"), FormatError, "cannot open");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\n1,0.5\n").labels(), FormatError, "not an integer");
}

TEST_CASE("parse_csv survives arbitrary bytes: a FormatError or a table, never a crash") {
  std::mt19937_64 rng(aimastery::test::test_seed());
  const std::string alphabet = "0123456789.,-+e\"\n\r abtarget";
  for (int trial = 0; trial < 2000; ++trial) {
    std::string text = "a,target\n";
    const int len = static_cast<int>(rng() % 64);
    for (int i = 0; i < len; ++i) text += alphabet[rng() % alphabet.size()];
    try {
      const auto d = aimastery::parse_csv<double>(text);
      CHECK(d.X.rows() == d.y.size());
      CHECK(d.X.allFinite());
    } catch (const FormatError&) {
    } catch (const InvalidArgument&) {
    }
  }
}
