#include "aimastery/io/csv.hpp"

#include <chrono>
#include <filesystem>
#include <string>

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
  const auto d = aimastery::parse_csv<float>(
      "a,\"b, quoted\",label\r\n1,2,\"setosa\"\r\n\r\n3.5,-4e2,virginica\r\n5,6,setosa\n", {.target = "label"});
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
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\n1,0\n2\n"), FormatError,
                      "line 3: 1 fields, the header has 2");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,b,target\n1,,0\n"), FormatError,
                      "line 2, column 2 ('b'): missing value");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\nabc,0\n"), FormatError, "'abc' is not a finite number");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\nnan,0\n"), FormatError, "line 2, column 1");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\n1e999,0\n"), FormatError, "not a finite number");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\n\"1,0\n"), FormatError, "unterminated quoted field");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>(""), FormatError, "empty file");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\n"), FormatError, "no data rows");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,b\n1,2\n"), FormatError, "no column 'target'");
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

TEST_CASE("parse_csv is linear in the header length: an 8 MiB file with a 4 MiB column name") {
  // Every cell used to build an error string holding its column's name: ~10^6 cells x 4 MiB, hours of
  // copying. Now messages are built only on failure; the bound below only catches a hang.
  const std::size_t name_bytes = std::size_t(4) << 20, file_bytes = std::size_t(8) << 20;
  std::string text(name_bytes, 'x');
  text += ",target\n";
  while (text.size() < file_bytes) text += "1.5,1\n";
  const auto start = std::chrono::steady_clock::now();
  const auto d = aimastery::parse_csv<double>(text);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("8 MiB CSV with a 4 MiB column name parsed in " << seconds << " s");
  CHECK(d.feature_names.front().size() == name_bytes);
  CHECK(d.X.rows() == static_cast<aimastery::Index>((text.size() - name_bytes - 8) / 6));
  CHECK(d.X(d.X.rows() - 1, 0) == 1.5);
  CHECK(seconds < 30.0);
  // A failure in such a file names the column by an excerpt, not by 4 MiB of text.
  try {
    (void)aimastery::parse_csv<double>(text + "abc,1\n");
    FAIL("expected a FormatError");
  } catch (const FormatError& e) {
    const std::string message = e.what();
    CHECK(message.find("'abc' is not a finite number") != std::string::npos);
    CHECK(message.size() < 300);
  }
}

TEST_CASE("parse_csv<float>: a number beyond float's range is an error, not inf") {
  CHECK_THROWS_NAMING(aimastery::parse_csv<float>("a,target\n1e39,0\n"), FormatError,
                      "line 2, column 1 ('a'): '1e39' is out of the range of float");
  CHECK_THROWS_NAMING(
      aimastery::parse_csv<float>("a,target\n1,0\n2,-4e38\n"), FormatError,
      "line 3, column 2 ('target') (data row 2): the target value '-4e38' is out of the range of float");
  const auto d = aimastery::parse_csv<double>("a,target\n1e39,-4e38\n");
  CHECK(d.X(0, 0) == 1e39);
  CHECK(d.y(0) == -4e38);
  CHECK(aimastery::parse_csv<float>("a,target\n3.4e38,1e-30\n").X(0, 0) == doctest::Approx(3.4e38f));
}

TEST_CASE("parse_csv: a missing or non-finite value in a numeric target is an error naming row and column") {
  for (const std::string bad : {"nan", "NaN", "NA", "N/A", "null", "inf", "-inf", "+inf", "Infinity", "1e999"}) {
    CAPTURE(bad);
    const std::string expected =
        "line 3, column 2 ('target') (data row 2): the target value '" + bad + "' is missing or not a finite number";
    CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\n1,0\n2," + bad + "\n3,1\n"), FormatError,
                        expected.c_str());
  }
  // A column of text labels may hold the text "NA" as one of its classes.
  const auto d = aimastery::parse_csv<double>("a,label\n1,cat\n2,NA\n3,cat\n", {.target = "label"});
  REQUIRE(d.label_names.size() == 2);
  CHECK(d.label_names[0] == "NA");
  CHECK(d.y(1) == 0.0);
  CHECK(d.y(2) == 1.0);
}

TEST_CASE("parse_csv: CRLF and CR line ends, with or without a final line end, give a numeric target") {
  for (const std::string text : {"a,target\r\n1,10\r\n2,2\r\n", "a,target\r\n1,10\r\n2,2\r", "a,target\r1,10\r2,2\r",
                                 "a,target\r\n1,10\r\n\r\n2,2", "a,target\n1,10\r\n2,2\r"}) {
    CAPTURE(text);
    const auto d = aimastery::parse_csv<double>(text);
    CHECK(d.label_names.empty());
    REQUIRE(d.y.size() == 2);
    CHECK(d.y(0) == 10.0);
    CHECK(d.y(1) == 2.0);
    CHECK(d.X(1, 0) == 2.0);
  }
  // Lines are counted by any line end: the third line here is the short one.
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\r1,0\r2\r"), FormatError, "line 3: 1 fields");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\r\n\r\n1,0\r\nx,1\r\n"), FormatError,
                      "line 4, column 1 ('a')");
  // A line end inside quotes is part of the field.
  const auto q = aimastery::parse_csv<double>("a,label\r\n1,\"two\r\nlines\"\r\n", {.target = "label"});
  CHECK(q.label_names.at(0) == "two\r\nlines");
}

TEST_CASE("parse_csv: duplicate column names and a second target column are FormatErrors") {
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,b,a,target\n1,2,3,0\n"), FormatError,
                      "the column name 'a' appears twice (columns 1 and 3)");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("target,a,target\n0,1,1\n"), FormatError,
                      "a second target column 'target' (columns 1 and 3)");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("x, x\n1,2\n", {.target = ""}), FormatError, "'x' appears twice");
}

TEST_CASE("parse_csv: '+-1' and '\"1\"2' are not numbers") {
  for (const std::string bad : {"+-1", "++1", "+", "-+1", "1 2", "0x10"}) {
    CAPTURE(bad);
    const std::string expected = "'" + bad + "' is not a finite number";
    CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\n" + bad + ",0\n"), FormatError, expected.c_str());
  }
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\n\"1\"2,0\n"), FormatError,
                      "line 2, field 1: text after the closing quote");
  CHECK_THROWS_NAMING(aimastery::parse_csv<double>("a,target\n1,\"0\"x\n"), FormatError,
                      "line 2, field 2: text after the closing quote");
  const auto d = aimastery::parse_csv<double>("a,target\n+1.5,\"2\" \n\"-3\",+0\n");
  CHECK(d.X(0, 0) == 1.5);
  CHECK(d.X(1, 0) == -3.0);
  CHECK(d.y(0) == 2.0);
}

TEST_CASE("read_csv: a directory or a missing file is a FormatError naming the path") {
  const std::string dir = std::filesystem::temp_directory_path().string();
  const std::string expected = "'" + dir + "' is a directory";
  CHECK_THROWS_NAMING(aimastery::read_csv<double>(dir), FormatError, expected.c_str());
  CHECK_THROWS_NAMING(aimastery::read_csv<double>("/nonexistent/file.csv"), FormatError,
                      "'/nonexistent/file.csv' cannot open");
}
