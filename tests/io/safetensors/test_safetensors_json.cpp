// The JSON of the safetensors header (io/json_reader.hpp, io/json_string.hpp): the strict grammar at its
// edges, each refusal a FormatError naming the problem, and the writer's header bytes against
// nlohmann::json's dump() over seeded random names and metadata.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "aimastery/io/json_string.hpp"
#include "aimastery/io/safetensors_read.hpp"
#include "aimastery/io/safetensors_write.hpp"
#include "support.hpp"

using aimastery::FormatError;
using aimastery::InvalidArgument;
using aimastery::Safetensors;

namespace {

// A file whose header is `header` and whose buffer is `buffer_bytes` zero bytes.
std::vector<unsigned char> file_of(const std::string& header, std::size_t buffer_bytes = 0) {
  std::vector<unsigned char> out(8);
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<unsigned char>(header.size() >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + buffer_bytes);
  return out;
}

Safetensors parse(const std::string& header, std::size_t buffer_bytes = 0) {
  return aimastery::parse_safetensors(file_of(header, buffer_bytes), "test");
}

// A header with the metadata {"k": <value>}, `value` written as JSON text.
std::string metadata_header(const std::string& value) { return R"({"__metadata__":{"k":)" + value + "}}"; }
std::string metadata_value(const std::string& value) { return parse(metadata_header(value)).metadata.at("k"); }

// A header with one F32 tensor "a" of shape `shape` and offsets `offsets`, both written as JSON text.
std::string tensor_header(const std::string& shape, const std::string& offsets) {
  return R"({"a":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}";
}

}  // namespace

TEST_CASE("safetensors JSON: string escapes decode to UTF-8, surrogate pairs to one code point") {
  CHECK(metadata_value(R"("plain")") == "plain");
  CHECK(metadata_value(R"("\"\\\/\b\f\n\r\t")") == "\"\\/\b\f\n\r\t");
  CHECK(metadata_value(R"("\u0041\u00e9\u20AC")") == "A\xc3\xa9\xe2\x82\xac");
  CHECK(metadata_value(R"("\u0000")") == std::string(1, '\0'));
  CHECK(metadata_value(R"("\ud83d\ude00")") == "\xf0\x9f\x98\x80");  // U+1F600
  CHECK(metadata_value(R"("\uDBFF\uDFFF")") == "\xf4\x8f\xbf\xbf");  // U+10FFFF, the last code point
  CHECK(metadata_value("\"\xf0\x9f\x98\x80 \xc3\xa9 \x7f\"") == "\xf0\x9f\x98\x80 \xc3\xa9 \x7f");  // raw UTF-8 and DEL
  // Names are decoded the same way.
  const auto file = parse(R"({"\u0061":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4);
  CHECK(file.contains("a"));
}

TEST_CASE("safetensors JSON: invalid escapes, control characters, unpaired surrogates and bad UTF-8 are refused") {
  const auto refused = [](const std::string& value, const char* problem) {
    CAPTURE(value);
    CHECK_THROWS_NAMING(parse(metadata_header(value)), FormatError, "the header is not valid JSON");
    CHECK_THROWS_NAMING(parse(metadata_header(value)), FormatError, problem);
  };
  refused(R"("\q")", "the invalid escape \\q");
  refused(R"("\x41")", "the invalid escape \\x");
  refused(R"("\U0041")", "the invalid escape \\U");
  refused("\"\\\x01\"", "a backslash before the byte 0x01");
  refused(R"("\u12")", "four hex digits");
  refused(R"("\u12G4")", "four hex digits, found 'G'");
  refused("\"a\nb\"", "a control character (the byte 0x0a) inside a string");
  refused("\"a\tb\"", "a control character (the byte 0x09)");
  refused(std::string("\"a") + '\0' + "b\"", "a control character (the byte 0x00)");
  refused(R"("\ud83d")", "the high surrogate \\ud83d is not followed by a low surrogate");
  refused(R"("\ud83dx")", "is not followed by a low surrogate");
  refused(R"("\ud83d\n")", "is not followed by a low surrogate");
  refused(R"("\ud83d\u0041")", "the high surrogate \\ud83d is followed by \\u0041, not a low surrogate");
  refused(R"("\ud83d\ud83d")", "not a low surrogate");
  refused(R"("\ude00")", "an unpaired low surrogate \\ude00");
  refused(R"("\ude00\ud83d")", "an unpaired low surrogate");
  refused("\"\xff\"", "invalid UTF-8 in a string (the byte 0xff)");
  refused("\"\xc3\"", "invalid UTF-8");              // a lead byte without its continuation
  refused("\"\xc0\xaf\"", "invalid UTF-8");          // overlong '/'
  refused("\"\xe0\x80\xaf\"", "invalid UTF-8");      // overlong, three bytes
  refused("\"\xed\xa0\x80\"", "invalid UTF-8");      // a surrogate encoded in UTF-8
  refused("\"\xf4\x90\x80\x80\"", "invalid UTF-8");  // beyond U+10FFFF
  refused("\"\x80\"", "invalid UTF-8");              // a lone continuation byte
  refused(R"("open)", "a string is not closed");
  CHECK_THROWS_NAMING(parse(R"({"__metadata__":{"k":"open\)"), FormatError, "a string is not closed");
  // In a name too.
  CHECK_THROWS_NAMING(parse(R"({"a\q":{}})"), FormatError, "the invalid escape \\q");
}

TEST_CASE("safetensors JSON: integers up to 2^64 - 1; fractions, exponents, negatives, leading zeros refused") {
  // 2^64 - 1 reads as an integer: a dimension or an offset that large is then refused for its size.
  CHECK_THROWS_NAMING(parse(tensor_header("[18446744073709551615]", "[0,4]"), 4), FormatError,
                      "has a dimension too large (18446744073709551615)");
  CHECK_THROWS_NAMING(parse(tensor_header("[1]", "[0,18446744073709551615]"), 4), FormatError,
                      "ends at byte 18446744073709551615 beyond the 4-byte buffer");
  // 2^64 and beyond are not 64-bit integers.
  CHECK_THROWS_NAMING(
      parse(tensor_header("[18446744073709551616]", "[0,4]"), 4), FormatError,
      "has a shape entry that is not a non-negative integer (18446744073709551616, more than 2^64 - 1)");
  CHECK_THROWS_NAMING(
      parse(tensor_header("[1]", "[0,99999999999999999999999]"), 4), FormatError,
      "has data_offsets that are not non-negative integers (99999999999999999999999, more than 2^64 - 1)");
  // Valid JSON numbers that are not non-negative integers.
  for (const char* number : {"-1", "-0", "1.0", "1.5", "1e2", "1E2", "1e+2", "1e-2", "0.0"}) {
    CAPTURE(number);
    const std::string expected = std::string("not a non-negative integer (") + number + ")";
    CHECK_THROWS_NAMING(parse(tensor_header("[" + std::string(number) + "]", "[0,4]"), 4), FormatError,
                        expected.c_str());
  }
  // Numbers that break the grammar.
  const auto syntax = [](const std::string& number, const char* problem) {
    CAPTURE(number);
    CHECK_THROWS_NAMING(parse(tensor_header("[" + number + "]", "[0,4]"), 4), FormatError,
                        "the header is not valid JSON");
    CHECK_THROWS_NAMING(parse(tensor_header("[" + number + "]", "[0,4]"), 4), FormatError, problem);
  };
  syntax("01", "a number with a leading zero");
  syntax("00", "a number with a leading zero");
  syntax("-01", "a number with a leading zero");
  syntax("1.", "a fraction needs a digit after '.'");
  syntax(".5", "unexpected '.' where a value should start");
  syntax("1e", "an exponent needs a digit");
  syntax("1e+", "an exponent needs a digit");
  syntax("-", "a number needs a digit here");
  syntax("+1", "unexpected '+'");
  syntax("0x10", "expected ',' or ']', found 'x'");
  syntax("1 2", "expected ',' or ']', found '2'");
  // Other values where an integer belongs.
  CHECK_THROWS_NAMING(parse(tensor_header("[\"1\"]", "[0,4]"), 4), FormatError,
                      "shape entry that is not a non-negative integer (a string)");
  CHECK_THROWS_NAMING(parse(tensor_header("[true]", "[0,4]"), 4), FormatError, "(true, false or null)");
  CHECK_THROWS_NAMING(parse(tensor_header("[[1]]", "[0,4]"), 4), FormatError, "(an array)");
  CHECK_THROWS_NAMING(parse(tensor_header("[1]", "[0,{}]"), 4), FormatError,
                      "data_offsets that are not non-negative integers (an object)");
  CHECK_THROWS_NAMING(parse(tensor_header("[1]", "[0,4,8]"), 4), FormatError, "has no data_offsets [begin, end]");
  CHECK_THROWS_NAMING(parse(tensor_header("[1]", "[]"), 4), FormatError, "has no data_offsets [begin, end]");
  CHECK_THROWS_NAMING(parse(tensor_header("1", "[0,4]"), 4), FormatError, "has no shape array");
  CHECK(parse(tensor_header("[]", "[0,4]"), 4).at("a").shape.empty());  // a scalar
}

TEST_CASE("safetensors JSON: deep nesting is refused at its first level, without recursion") {
  const std::string deep(100000, '[');
  CHECK_THROWS_NAMING(parse(tensor_header(deep, "[0,4]"), 4), FormatError,
                      "has a shape entry that is not a non-negative integer (an array)");
  CHECK_THROWS_NAMING(parse(R"({"a":)" + deep), FormatError, "tensor 'a' is not an object (it is an array)");
  CHECK_THROWS_NAMING(parse(R"({"__metadata__":{"k":)" + std::string(100000, '{')), FormatError,
                      "__metadata__ value of 'k' is not a string (it is an object)");
  CHECK_THROWS_NAMING(parse(R"({"a":{"x":)" + deep), FormatError, "tensor 'a' has an unknown field 'x'");
  CHECK_THROWS_NAMING(parse(R"({"a":{"dtype":)" + deep), FormatError, "tensor 'a' has no dtype string");
  CHECK_THROWS_NAMING(parse(R"({"__metadata__":)" + deep), FormatError, "__metadata__ is not an object");
}

TEST_CASE("safetensors JSON: whitespace anywhere between tokens and after the object, nothing else") {
  const std::string spaced =
      "{ \t\r\n\"a\" \n: {\"dtype\" : \"F32\" ,\r\n \"shape\" : [ 1 ] , \"data_offsets\" :[0 ,\t4 ] } ,"
      " \"__metadata__\" : { \"k\" : \"v\" } } \n\t\r ";
  const auto file = parse(spaced, 4);
  CHECK(file.at("a").shape == std::vector<aimastery::Index>{1});
  CHECK(file.metadata.at("k") == "v");
  CHECK(parse("{}      ").tensors.empty());  // the padding the writer adds
  CHECK(parse("{ }").tensors.empty());
  // Bytes that are not JSON whitespace, between tokens or after the object.
  CHECK_THROWS_NAMING(parse("{}\f"), FormatError, "the byte 0x0c after the end of the value");
  CHECK_THROWS_NAMING(parse(std::string("{}") + '\0'), FormatError, "the byte 0x00 after the end of the value");
  CHECK_THROWS_NAMING(parse("{} {}"), FormatError, "'{' after the end of the value");
  CHECK_THROWS_NAMING(parse("{}}"), FormatError, "'}' after the end of the value");
  CHECK_THROWS_NAMING(parse("{\v}"), FormatError, "expected a member name, found the byte 0x0b");
  CHECK_THROWS_NAMING(parse("{\xc2\xa0}"), FormatError, "expected a member name, found the byte 0xc2");
  // Structure.
  CHECK_THROWS_NAMING(parse(R"({"a"})"), FormatError, "expected ':', found '}'");
  CHECK_THROWS_NAMING(parse(R"({"__metadata__":{},})"), FormatError, "expected a member name, found '}'");
  CHECK_THROWS_NAMING(parse(R"({"__metadata__":{"k":"v",}})"), FormatError, "expected a member name, found '}'");
  CHECK_THROWS_NAMING(parse(tensor_header("[1,]", "[0,4]"), 4), FormatError,
                      "unexpected ']' where a value should start");
  CHECK_THROWS_NAMING(parse(R"({"__metadata__":{} "a":1})"), FormatError, "expected ',' or '}', found '\"'");
  CHECK_THROWS_NAMING(parse(R"({'a':1})"), FormatError, "expected a member name, found '''");
  CHECK_THROWS_NAMING(parse(R"({"__metadata__":{"k":nul}})"), FormatError,
                      "is not a string (it is true, false or null)");
  CHECK_THROWS_NAMING(parse(R"({"__metadata__":{"k":"v"})"), FormatError,
                      "expected ',' or '}', found the end of the text");
  CHECK_THROWS_NAMING(parse(R"({"__metadata__")"), FormatError, "expected ':', found the end of the text");
}

TEST_CASE("safetensors JSON: a tensor with an empty name is refused (write_safetensors could not write it back)") {
  CHECK_THROWS_NAMING(parse(R"({"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4), FormatError,
                      "has a tensor with an empty name");
  CHECK_THROWS_NAMING(parse(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}, "":{}})", 4), FormatError,
                      "has a tensor with an empty name");
}

TEST_CASE("safetensors JSON: a name given twice in any object is refused, naming it") {
  CHECK_THROWS_NAMING(parse(R"({"__metadata__":{},"__metadata__":{}})"), FormatError, "names '__metadata__' twice");
  CHECK_THROWS_NAMING(parse(R"({"__metadata__":{"k":"1","k":"2"}})"), FormatError, "names 'k' twice");
  CHECK_THROWS_NAMING(parse(R"({"__metadata__":{"k":"1","\u006b":"2"}})"), FormatError, "names 'k' twice");
  CHECK_THROWS_NAMING(parse(R"({"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4), FormatError,
                      "names 'dtype' twice");
  CHECK_THROWS_NAMING(parse(R"({"a":{"dtype":"F32","shape":[1],"shape":[1],"data_offsets":[0,4]}})", 4), FormatError,
                      "names 'shape' twice");
  CHECK_THROWS_NAMING(parse(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"data_offsets":[0,4]}})", 4),
                      FormatError, "names 'data_offsets' twice");
  // The same name in different objects is no duplicate.
  CHECK(parse(R"({"dtype":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"dtype":"x"}})", 4)
            .metadata.at("dtype") == "x");
}

TEST_CASE("safetensors JSON: the writer's header is the bytes nlohmann::json's dump() gives, over random names") {
  std::mt19937_64 rng(aimastery::test::test_seed());
  // Pieces that exercise the escaper: quotes, backslashes, every kind of control character, DEL, '/',
  // two-, three- and four-byte UTF-8, and names that sort around "__metadata__".
  const std::vector<std::string> pieces = {"a",
                                           "Z",
                                           "_",
                                           "__metadata__",
                                           "\"",
                                           "\\",
                                           "/",
                                           "\b",
                                           "\f",
                                           "\n",
                                           "\r",
                                           "\t",
                                           std::string(1, '\0'),
                                           "\x01",
                                           "\x1f",
                                           "\x7f",
                                           "\xc3\xa9",
                                           "\xe2\x82\xac",
                                           "\xf0\x9f\x98\x80",
                                           "0",
                                           " "};
  std::uniform_int_distribution<std::size_t> piece(0, pieces.size() - 1), count(0, 5), length(1, 4);
  const auto random_text = [&] {
    std::string s;
    for (std::size_t n = length(rng); n > 0; --n) s += pieces[piece(rng)];
    return s;
  };
  for (int trial = 0; trial < 300; ++trial) {
    CAPTURE(trial);
    Safetensors file;
    nlohmann::json expected = nlohmann::json::object();
    std::uint64_t offset = 0;
    for (std::size_t n = count(rng); n > 0; --n) {
      std::string name = random_text();
      if (name == "__metadata__") continue;
      std::vector<aimastery::Index> shape(count(rng) % 3);
      for (auto& d : shape) d = static_cast<aimastery::Index>(count(rng));
      std::size_t elements = 1;
      for (const auto d : shape) elements *= static_cast<std::size_t>(d);
      file.tensors[name] = {aimastery::SafetensorsDtype::F32, shape, std::vector<unsigned char>(4 * elements)};
    }
    for (std::size_t n = count(rng); n > 0; --n) file.metadata[random_text()] = random_text();
    for (const auto& [name, tensor] : file.tensors) {
      nlohmann::json dims = nlohmann::json::array();
      for (const auto d : tensor.shape) dims.push_back(static_cast<std::uint64_t>(d));
      expected[name] = {{"dtype", "F32"}, {"shape", dims}, {"data_offsets", {offset, offset + tensor.bytes.size()}}};
      offset += tensor.bytes.size();
    }
    if (!file.metadata.empty()) expected["__metadata__"] = file.metadata;
    std::string text = expected.dump();
    text.append((8 - text.size() % 8) % 8, ' ');

    const auto bytes = aimastery::serialize_safetensors(file);
    REQUIRE(bytes.size() >= 8 + text.size());
    CHECK(std::string(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(text.size())) == text);
    // ... and reads back as written.
    const auto back = aimastery::parse_safetensors(bytes, "test");
    CHECK(back.metadata == file.metadata);
    CHECK(back.tensors.size() == file.tensors.size());
    for (const auto& [name, tensor] : file.tensors) CHECK(back.at(name).shape == tensor.shape);
  }
}

TEST_CASE("JSON strings: UTF-8 checks and escapes") {
  using aimastery::detail::append_json_string;
  using aimastery::detail::is_valid_utf8;
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("\xf4\x8f\xbf\xbf"));
  CHECK_FALSE(is_valid_utf8("\xf4\x8f\xbf"));  // truncated
  CHECK_FALSE(is_valid_utf8("\xc1\xbf"));      // overlong
  CHECK_FALSE(is_valid_utf8("\xed\xbf\xbf"));  // a surrogate
  CHECK_FALSE(is_valid_utf8("\xf5\x80\x80\x80"));
  std::string out = "x";
  CHECK_FALSE(append_json_string(out, "ok\xff"));
  CHECK(out == "x");  // unchanged
  CHECK(append_json_string(out, std::string("\"\\/\x01\x1f\x7f\b\f\n\r\t") + '\0'));
  CHECK(out == R"(x"\"\\/\u0001\u001f)"
               "\x7f"
               R"(\b\f\n\r\t\u0000")");
  // Names and metadata that are not UTF-8 cannot be written.
  Safetensors file;
  file.metadata["\xed\xa0\x80"] = "v";
  CHECK_THROWS_NAMING(aimastery::serialize_safetensors(file), InvalidArgument, "not valid UTF-8");
}
