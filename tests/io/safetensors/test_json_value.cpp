// JsonValue (io/json.hpp) against nlohmann::json: the same documents give the same bytes, compact and
// indented, over seeded random documents and random doubles; text both refuse, ours refuses as a
// FormatError naming the byte; and each accessor's bad use names the problem.

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "aimastery/io/json.hpp"
#include "support.hpp"

using aimastery::FormatError;
using aimastery::InvalidArgument;
using aimastery::JsonValue;

namespace {

// A random document built twice, as nlohmann::json and as JsonValue, member by member the same way.
struct RandomDocuments {
  std::mt19937_64 rng;
  std::vector<std::string> pieces = {"a",  "b",    "Z",  "_",    "\"",          "\\",           "/",
                                     "\n", "\x01", "\t", "\x7f", "\xc3\xa9",    "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                     "0",  " ",    "",   "key",  "\xe2\x80\xa8"};

  std::uint64_t below(std::uint64_t n) { return rng() % n; }
  std::string text() {
    std::string s;
    for (std::uint64_t n = below(4); n > 0; --n) s += pieces[below(pieces.size())];
    return s;
  }
  // A double on which nlohmann's digits and the shortest agree (the test below covers the others).
  double real() {
    for (;;) {
      const double x = any_real();
      if (nlohmann::json(x).dump() == JsonValue(x).dump()) return x;
    }
  }
  double any_real() {
    switch (below(4)) {
      case 0:  // any finite double, by its bits
        for (;;) {
          const double x = std::bit_cast<double>(rng());
          if (std::isfinite(x)) return x;
        }
      case 1:  // short decimals
        return static_cast<double>(static_cast<std::int64_t>(below(2'000'001)) - 1'000'000) / 1000.0;
      case 2:  // powers of ten around the layout's thresholds
        return std::pow(10.0, static_cast<double>(static_cast<int>(below(50)) - 25)) * (below(2) ? 1.0 : -1.5);
      default:
        return static_cast<double>(static_cast<float>(std::bit_cast<double>(rng() >> 2)));
    }
  }
  void build(nlohmann::json& theirs, JsonValue& ours, int depth) {
    const std::uint64_t kind = below(depth > 3 ? 6 : 8);
    switch (kind) {
      case 0:
        theirs = nullptr, ours = nullptr;
        return;
      case 1: {
        const bool b = below(2) == 1;
        theirs = b, ours = b;
        return;
      }
      case 2: {
        const auto n = static_cast<std::int64_t>(rng());
        theirs = n, ours = n;
        return;
      }
      case 3: {
        const std::uint64_t n = rng() >> below(64);
        theirs = n, ours = n;
        return;
      }
      case 4: {
        const double x = real();
        theirs = x, ours = x;
        return;
      }
      case 5: {
        const std::string s = text();
        theirs = s, ours = s;
        return;
      }
      case 6: {
        theirs = nlohmann::json::array(), ours = JsonValue::array();
        for (std::uint64_t n = below(5); n > 0; --n) {
          nlohmann::json t;
          JsonValue o;
          build(t, o, depth + 1);
          theirs.push_back(t), ours.push_back(o);
        }
        return;
      }
      default: {
        theirs = nlohmann::json::object(), ours = JsonValue::object();
        for (std::uint64_t n = below(5); n > 0; --n) {
          const std::string name = text();
          build(theirs[name], ours[name], depth + 1);
        }
      }
    }
  }
};

std::string ours_of(double x) {
  std::string out;
  aimastery::detail::append_json_double(out, x);
  return out;
}

}  // namespace

TEST_CASE("JsonValue writes the bytes nlohmann::json's dump() writes, over random documents") {
  RandomDocuments random{std::mt19937_64(aimastery::test::test_seed())};
  for (int trial = 0; trial < 2000; ++trial) {
    CAPTURE(trial);
    nlohmann::json theirs;
    JsonValue ours;
    random.build(theirs, ours, 0);
    for (const int indent : {-1, 0, 1, 2, 4}) {
      CAPTURE(indent);
      const std::string text = theirs.dump(indent);
      REQUIRE(ours.dump(indent) == text);
      // Read back, it is the same document and writes the same bytes.
      const JsonValue back = JsonValue::parse(text);
      CHECK(back == ours);
      CHECK(back.dump(indent) == text);
    }
  }
}

TEST_CASE("JsonValue writes doubles as nlohmann::json does, over random bit patterns and the layout's edges") {
  std::mt19937_64 rng(aimastery::test::test_seed());
  std::vector<double> values = {0.0,
                                -0.0,
                                1.0,
                                -1.0,
                                0.1,
                                1e-5,
                                1e-4,
                                1.5e-4,
                                1e15,
                                1e16,
                                123456789012345.0,
                                1234567890123456.0,
                                1.7976931348623157e308,
                                4.9406564584124654e-324,
                                2.2250738585072014e-308,
                                1e21,
                                1e22,
                                1e100,
                                5e-324,
                                0.30000000000000004,
                                std::numeric_limits<double>::quiet_NaN(),
                                std::numeric_limits<double>::infinity(),
                                -std::numeric_limits<double>::infinity()};
  for (int k = 0; k < 200'000; ++k) {
    const double x = std::bit_cast<double>(rng());
    if (std::isfinite(x)) values.push_back(x);
  }
  for (int e = -30; e <= 30; ++e)
    for (const double m : {1.0, 1.5, 9.99, 123.25}) values.push_back(m * std::pow(10.0, e));
  std::size_t differing = 0;
  for (const double x : values) {
    const std::string theirs = nlohmann::json(x).dump();
    const std::string ours = ours_of(x);
    if (ours != theirs) {
      // Ours are the shortest digits that read back to x and, among those, the nearest to x
      // (to_chars); nlohmann's grisu2 gives a digit more now and then, or another last digit of
      // the same length. Never shorter than ours, and both read back to x.
      ++differing;
      CAPTURE(theirs);
      CAPTURE(ours);
      CHECK(ours.size() <= theirs.size());
      CHECK(nlohmann::json::parse(ours).get<double>() == x);
      CHECK(JsonValue::parse(theirs).get<double>() == x);
    }
  }
  MESSAGE(differing << " of " << values.size() << " doubles written with other digits than nlohmann's");
  CHECK(differing * 200 < values.size());
}

TEST_CASE("JsonValue reads numbers as nlohmann::json does: kinds at the integer edges, doubles beyond") {
  CHECK(JsonValue::parse("18446744073709551615").is_number_unsigned());
  CHECK(JsonValue::parse("18446744073709551615").get<std::uint64_t>() == UINT64_MAX);
  CHECK(JsonValue::parse("18446744073709551616").is_number_float());
  CHECK(JsonValue::parse("18446744073709551616").get<double>() == 18446744073709551616.0);
  CHECK(JsonValue::parse("-9223372036854775808").get<std::int64_t>() == INT64_MIN);
  CHECK(JsonValue::parse("-9223372036854775809").is_number_float());
  CHECK(JsonValue::parse("-0").is_number_integer());
  CHECK(JsonValue::parse("-0").dump() == nlohmann::json::parse("-0").dump());
  CHECK(JsonValue::parse("1e-400").get<double>() == 0.0);
  CHECK(std::signbit(JsonValue::parse("-1e-400").get<double>()));
  CHECK(JsonValue::parse("0.000000000000000000000000000000000000000000000001e-300").get<double>() == 0.0);
  for (const std::string text : {"12", "-3", "4.5", "1E3", "2e-3", "0", "[1,-1,1.0]", "{\"a\":1e2}"}) {
    CAPTURE(text);
    CHECK(JsonValue::parse(text).dump() == nlohmann::json::parse(text).dump());
  }
  CHECK_THROWS_NAMING(JsonValue::parse("1e400"), FormatError, "beyond a double's range");
  CHECK_THROWS_NAMING(JsonValue::parse("-1.5e309"), FormatError, "beyond a double's range");
  CHECK_THROWS_NAMING(JsonValue::parse("0.001e312"), FormatError, "beyond a double's range");
}

TEST_CASE("JsonValue refuses what nlohmann::json refuses, as a FormatError naming the byte") {
  const std::vector<std::string> bad = {"",
                                        " ",
                                        "{",
                                        "}",
                                        "[1,]",
                                        "[,1]",
                                        "{\"a\":1,}",
                                        "{\"a\" 1}",
                                        "{a:1}",
                                        "[1 2]",
                                        "1 2",
                                        "01",
                                        "1.",
                                        ".5",
                                        "-",
                                        "+1",
                                        "1e",
                                        "tru",
                                        "nul",
                                        "True",
                                        "\"abc",
                                        "\"\\x\"",
                                        std::string("\"\x01\""),
                                        "\"\\ud800\"",
                                        "\"\\udc00\"",
                                        "\"\xff\"",
                                        "\"\xc0\xaf\"",
                                        "NaN",
                                        "Infinity",
                                        "[1]x",
                                        "1e400"};
  for (const std::string& text : bad) {
    CAPTURE(text);
    CHECK_FALSE(nlohmann::json::accept(text));
    CHECK_THROWS_NAMING(JsonValue::parse(text, "config.json"), FormatError, "config.json (byte ");
  }
  // Stricter than nlohmann::json, which keeps the last of two members of one name.
  CHECK_THROWS_NAMING(JsonValue::parse(R"({"a":1,"b":2,"a":3})"), FormatError, "the name \"a\" appears twice");
  // Nesting beyond the limit is refused before the stack grows with it.
  CHECK_THROWS_NAMING(JsonValue::parse(std::string(100'000, '[')), FormatError, "nesting deeper than the limit");
  CHECK(JsonValue::parse(std::string(3, '[') + std::string(3, ']'), "x", 3).size() == 1);
  CHECK_THROWS_NAMING(JsonValue::parse(std::string(4, '[') + std::string(4, ']'), "x", 3), FormatError,
                      "x (byte 3: nesting deeper than the limit)");
}

TEST_CASE("JsonValue accessors: kinds, members, elements, and each wrong use named") {
  JsonValue j = JsonValue::parse(R"({"name":"x","size":3,"ratio":0.5,"flag":true,"none":null,"list":[1,"two"],
                                     "big":300,"neg":-1})");
  CHECK(j.is_object());
  CHECK(j.size() == 8);
  CHECK(j.at("name").as_string() == "x");
  CHECK(j.at("size").get<int>() == 3);
  CHECK(j.at("size").get<double>() == 3.0);
  CHECK(j.at("ratio").get<float>() == 0.5F);
  CHECK(j.at("flag").get<bool>());
  CHECK(j.at("none").is_null());
  CHECK(j.at("list").at(1).get<std::string>() == "two");
  CHECK(j.value("size", 7) == 3);
  CHECK(j.value("absent", 7) == 7);
  CHECK(j.value("none", std::string("d")) == "d");
  CHECK(j.find("absent") == nullptr);
  CHECK(j.contains("list"));
  CHECK_FALSE(j.at("list").contains("list"));

  CHECK_THROWS_NAMING((void)j.at("absent"), FormatError, "no member \"absent\"");
  CHECK_THROWS_NAMING((void)j.at("list").at(2), FormatError, "element 2 of an array of 2");
  CHECK_THROWS_NAMING((void)j.at("size").get<std::string>(), FormatError, "expected a string, found a number");
  CHECK_THROWS_NAMING((void)j.at("ratio").get<int>(), FormatError, "expected an integer, found a number");
  CHECK_THROWS_NAMING((void)j.at("big").get<std::uint8_t>(), FormatError, "the integer 300 is out of range");
  CHECK_THROWS_NAMING((void)j.at("neg").get<std::uint64_t>(), FormatError, "the integer -1 is out of range");
  CHECK_THROWS_NAMING((void)j.at("none").get<bool>(), FormatError, "expected a boolean, found null");
  CHECK_THROWS_NAMING((void)j.at("list").members(), FormatError, "expected an object, found an array");
  CHECK_THROWS_NAMING((void)j.elements(), FormatError, "expected an array, found an object");
  CHECK_THROWS_NAMING((void)j.value("name", 1), FormatError, "expected an integer, found a string");

  // Building: operator[] adds members in name order; a wrong kind is refused and changes nothing.
  JsonValue built;
  built["b"] = 1;
  built["a"]["nested"] = JsonValue::array({1, 2.5, "x"});
  CHECK(built.dump() == R"({"a":{"nested":[1,2.5,"x"]},"b":1})");
  JsonValue list = JsonValue::array({1});
  CHECK_THROWS_NAMING(list["x"], InvalidArgument, "operator[]: the value is an array");
  CHECK(list.dump() == "[1]");
  CHECK_THROWS_NAMING(built.push_back(1), InvalidArgument, "push_back: the value is an object");
  CHECK(built.erase("b") == 1);
  CHECK(built.erase("b") == 0);
  CHECK(built.dump() == R"({"a":{"nested":[1,2.5,"x"]}})");
  CHECK_THROWS_NAMING(JsonValue::object({{"a", 1}, {"a", 2}}), InvalidArgument, "the name \"a\" is given twice");
  CHECK_THROWS_NAMING((void)JsonValue(std::string("bad\xff")).dump(), InvalidArgument, "not valid UTF-8");

  // Copies are deep; a moved-from value is null.
  JsonValue copy = built;
  copy["a"]["nested"] = 0;
  CHECK(built.at("a").at("nested").size() == 3);
  JsonValue moved = std::move(copy);
  CHECK(copy.is_null());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  CHECK(moved.at("a").at("nested").get<int>() == 0);

  // Numbers compare by value across kinds.
  CHECK(JsonValue(1) == JsonValue(1U));
  CHECK(JsonValue(1) == JsonValue(1.0));
  CHECK_FALSE(JsonValue(-1) == JsonValue(UINT64_MAX));
  CHECK_FALSE(JsonValue("1") == JsonValue(1));
}
