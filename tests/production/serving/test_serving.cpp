// The inference server: the Open Inference Protocol codec (round trips, every refusal) and a server on
// 127.0.0.1 answered by httplib's client on every endpoint, including the 4xx cases, after which it still
// serves. The dynamic batcher's own tests are in batcher/ (also run under ThreadSanitizer).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "aimastery/detail/sigpipe_block.hpp"
#include "aimastery/ml/classical/linear_regression.hpp"
#include "aimastery/ml/classical/random_forest.hpp"
#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"
#include "aimastery/production/deployment/model_serializer.hpp"
#include "aimastery/production/deployment/model_version_manager.hpp"
#include "aimastery/production/serving/inference_protocol.hpp"
#include "aimastery/production/serving/inference_server.hpp"
#include "production/deployment_registry/temp_folder.hpp"
#include "production/serving/reference_infer_parser.hpp"
#include "support.hpp"

// After Eigen: httplib.h brings <resolv.h>, whose macro `_res` would rename a parameter of Eigen's products.
#include <httplib.h>

using namespace aimastery;

namespace {

/// Checks that `f` throws InferenceError with `status` and a message containing `text`.
template <class F>
void check_refused(F&& f, int status, const std::string& text) {
  try {
    f();
    FAIL("no exception; expected " << status << " containing '" << text << "'");
  } catch (const InferenceError& e) {
    CHECK(e.status == status);
    CHECK_MESSAGE(std::string(e.what()).find(text) != std::string::npos, e.what());
  }
}

/// Deterministic features and labels: 3 classes by the sign pattern of two smooth functions.
struct Data {
  Matrix<double> X;
  IndexVector y;
  Vector<double> target;
};
Data make_data(Index n) {
  Data d{Matrix<double>(n, 4), IndexVector(n), Vector<double>(n)};
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < 4; ++j)
      d.X(i, j) = std::sin(0.37 * static_cast<double>(i * (j + 1)) + static_cast<double>(j));
    d.y(i) = (d.X(i, 0) + d.X(i, 1) > 0 ? 1 : 0) + (d.X(i, 2) > 0.5 ? 1 : 0);
    d.target(i) = 2 * d.X(i, 0) - d.X(i, 3) + 0.5;
  }
  return d;
}

std::string to_bytes(const std::vector<unsigned char>& v) { return std::string(v.begin(), v.end()); }

/// Every outcome of a parse as text: the request's fields (values by their bits) or the error's status and
/// message.
template <class Parse>
std::string outcome(Parse&& parse) {
  try {
    const InferRequest r = parse();
    std::string out = "id=" + r.id + " parameters=" + r.parameters.dump() + " outputs=";
    for (const auto& o : r.outputs) out += o + ";";
    for (const auto& t : r.inputs) {
      out += " input=" + t.name + "/" + t.datatype + "/";
      for (const auto d : t.shape) out += std::to_string(d) + "x";
      for (const double x : t.data) {
        std::uint64_t bits = 0;
        std::memcpy(&bits, &x, sizeof bits);
        out.append(",").append(std::to_string(bits));
      }
    }
    return out;
  } catch (const InferenceError& e) {
    std::string error = "error ";  // appended piece by piece: g++ 12 warns of a false overflow in "error " + ...
    error.append(std::to_string(e.status)).append(": ").append(e.what());
    return error;
  } catch (const std::exception& e) {  // any other exception: a 500 in the server
    return std::string("exception: ") + e.what();
  }
}

/// Seeded random request bodies built from valid and invalid pieces; the even-numbered ones use valid
/// pieces only, and most of those take the direct path.
std::vector<std::string> random_request_bodies(std::uint64_t seed, int trials) {
  std::mt19937_64 rng(seed);
  bool clean = false;
  auto pick = [&](const std::vector<std::string>& options) {
    return options[std::uniform_int_distribution<std::size_t>(0, options.size() - 1)(rng)];
  };
  auto either = [&](const std::vector<std::string>& valid, const std::vector<std::string>& others) {
    if (clean || rng() % 2) return pick(valid);
    return pick(others);
  };
  auto space = [&] { return pick({"", "", "", " ", "\n\t", "\r\n  "}); };
  auto number = [&] {
    if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) {
      char buffer[40];
      std::snprintf(buffer, sizeof buffer, "%.17g", std::normal_distribution<double>(0, 100)(rng));
      return std::string(buffer);
    }
    return either({"0.5", "-0.25", "1e-3", "1E+2", "-0", "0", "3", "-7", "9223372036854775807", "0.30000000000000004",
                   "1.5e+300"},
                  {"1.",
                   ".5",
                   "01",
                   "+1",
                   "1e400",
                   "2.5e-310",
                   "-",
                   "1e",
                   "9223372036854775808",
                   "18446744073709551616",
                   "\"1\"",
                   "true",
                   "false",
                   "null",
                   "[1]",
                   "[[2],[true]]",
                   "{\"a\":1}",
                   "300",
                   "-129",
                   "1.5",
                   "2e0",
                   "-9007199254740993"});
  };
  auto list = [&](int n, auto&& item) {
    std::string out = "[" + space();
    for (int k = 0; k < n; ++k) out += (k ? "," + space() : "") + item() + space();
    return out + "]";
  };
  auto input = [&] {
    const int n = std::uniform_int_distribution<int>(0, 7)(rng);
    const std::string size = std::to_string(n);
    std::vector<std::string> fields = {
        "\"name\":" + space() + either({"\"input\"", "\"x\"", "\"\""}, {"\"a\\\\b\"", "\"\xc3\xa9\"", "7"}),
        "\"datatype\":" + space() +
            either({"\"FP32\"", "\"FP64\""},
                   {"\"INT32\"", "\"FP16\"", "\"BYTES\"", "\"UINT8\"", "\"INT8\"", "\"BOOL\"", "\"INT64\""}),
        "\"shape\":" + space() + either({"[" + size + "]", "[1," + size + "]"}, {"[]", "[-1]", "[1.0]", "[2, 3]"}),
        "\"data\":" + space() + list(n, number)};
    if (!clean && rng() % 10 == 0) fields.push_back("\"parameters\":{}");
    if (!clean && rng() % 10 == 0) fields.erase(fields.begin() + (n % 4));
    if (!clean && rng() % 15 == 0) fields.push_back(fields.front());  // a duplicate key
    std::shuffle(fields.begin(), fields.end(), rng);
    std::string out = "{" + space();
    for (std::size_t k = 0; k < fields.size(); ++k) out += (k ? "," + space() : "") + fields[k] + space();
    return out + "}";
  };
  std::vector<std::string> bodies;
  for (int trial = 0; trial < trials; ++trial) {
    clean = trial % 2 == 0;
    const int inputs = std::uniform_int_distribution<int>(clean ? 1 : 0, clean ? 2 : 3)(rng);
    std::vector<std::string> fields = {"\"inputs\":" + space() + list(inputs, input)};
    if (rng() % 2) fields.push_back("\"id\":" + space() + either({"\"42\"", "\"\"", "\"a b\""}, {"\"\\u0041\"", "3"}));
    if (rng() % 3 == 0)
      fields.push_back("\"outputs\":" + space() +
                       either({"[]", "[{\"name\":\"predict\"}]", "[{\"name\":\"a\"},{\"name\":\"b\"}]"},
                              {"{}", "[{\"name\":1}]", "[{\"name\":\"a\",\"x\":1}]"}));
    if (!clean && rng() % 20 == 0) fields.push_back("\"parameters\":" + pick({"{}", "[]"}));
    std::shuffle(fields.begin(), fields.end(), rng);
    std::string body = space() + "{" + space();
    for (std::size_t k = 0; k < fields.size(); ++k) {
      if (k) body.append(",").append(space());
      body.append(fields[k]).append(space());
    }
    body += "}" + space() + either({""}, {"x", "}", ",", "\xef\xbb\xbf"});
    if (!clean && rng() % 25 == 0)
      body = body.substr(0, std::uniform_int_distribution<std::size_t>(0, body.size())(rng));
    bodies.push_back(std::move(body));
  }
  return bodies;
}

}  // namespace

TEST_CASE("KServe v2 codec: a request round trip, flat and nested data, every numeric datatype") {
  InferRequest r{"7", {{"input", {2, 3}, "FP64", {1, 2, 3, 4, 5, 6.25}}}, {"predict"}, nullptr};
  const InferRequest back = parse_infer_request(to_json_text(r));
  CHECK(back.id == "7");
  REQUIRE(back.inputs.size() == 1);
  CHECK(back.inputs[0].shape == std::vector<std::int64_t>{2, 3});
  CHECK(back.inputs[0].data == r.inputs[0].data);
  CHECK(back.outputs == std::vector<std::string>{"predict"});

  const auto nested =
      parse_infer_request(R"({"inputs":[{"name":"input","shape":[2,2],"datatype":"INT32","data":[[1,-2],[3,4]]}]})");
  CHECK(nested.inputs[0].data == std::vector<double>{1, -2, 3, 4});
  const auto boolean =
      parse_infer_request(R"({"inputs":[{"name":"b","shape":[2],"datatype":"BOOL","data":[true,false]}]})");
  CHECK(boolean.inputs[0].data == std::vector<double>{1, 0});

  InferResponse response{"m", "1", "x", {{"predict", {2}, "INT64", {0, 2}}, {"p", {2, 1}, "FP32", {0.25, 0.1}}}};
  const InferResponse rb = parse_infer_response(to_json_text(response));
  CHECK(rb.model_name == "m");
  CHECK(rb.outputs[0].data == std::vector<double>{0, 2});
  CHECK(static_cast<float>(rb.outputs[1].data[1]) == 0.1f);  // FP32 written as the float's shortest text

  // A negative zero keeps its sign through the text: "-0.0" (as Python's json writes it); "-0" would be
  // read as the integer 0 (by Python's json and by this parser alike). Found by fuzz_infer_request.
  InferRequest zeros{
      "z", {{"a", {2}, "FP64", {-0.0, 0.0}}, {"b", {1}, "FP32", {-0.0}}, {"c", {1}, "INT64", {-0.0}}}, {}, nullptr};
  const std::string zeros_text = to_json_text(zeros);
  CHECK(zeros_text.find(R"("data":[-0.0,0])") != std::string::npos);
  CHECK(zeros_text.find(R"("data":[0])") != std::string::npos);  // an integer tensor has no negative zero
  const InferRequest zb = parse_infer_request(zeros_text);
  CHECK(std::signbit(zb.inputs[0].data[0]));
  CHECK_FALSE(std::signbit(zb.inputs[0].data[1]));
  CHECK(std::signbit(zb.inputs[1].data[0]));
  CHECK_FALSE(std::signbit(
      parse_infer_request(R"({"inputs":[{"name":"a","shape":[1],"datatype":"FP64","data":[-0]}]})").inputs[0].data[0]));
}

TEST_CASE("KServe v2 codec: the binary tensor extension") {
  const double values[3] = {1.5, -2.0, 3.25};
  std::string header =
      R"({"inputs":[{"name":"input","shape":[1,3],"datatype":"FP64","parameters":{"binary_data_size":24}}]})";
  std::string body = header + std::string(reinterpret_cast<const char*>(values), 24);
  const InferRequest r = parse_infer_request(body, header.size());
  CHECK(r.inputs[0].data == std::vector<double>{1.5, -2.0, 3.25});
  check_refused([&] { (void)parse_infer_request(body + "x", header.size()); }, 400, "not claimed");
  check_refused([&] { (void)parse_infer_request(body.substr(0, body.size() - 8), header.size()); }, 400,
                "binary_data_size 24 exceeds");
  check_refused([&] { (void)parse_infer_request(body, body.size() + 1); }, 400, "exceeds the body");
}

TEST_CASE("KServe v2 codec: every malformed request is a 400 or 413 naming the problem") {
  auto parse = [](const std::string& s) { return [s] { (void)parse_infer_request(s); }; };
  check_refused(parse("{\"inputs\": ["), 400, "malformed JSON");
  check_refused(parse("[1]"), 400, "JSON object");
  check_refused(parse("{}"), 400, "'inputs' must be a non-empty array");
  check_refused(parse(R"({"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]})"), 400, "no 'name'");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP99","data":[1]}]})"), 400,
                "datatype 'FP99' is unknown");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["a"]}]})"), 400, "not numeric");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3]}]})"), 400,
                "needs 4 values, data holds 3");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]})"), 400, "non-negative");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"INT64","data":[1.5]}]})"), 400,
                "not an integer");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","data":[300]}]})"), 400,
                "outside the range of UINT8");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":["1"]}]})"), 400,
                "is not a number");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]})"), 400, "no 'data'");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[100000,100000],"datatype":"FP32","data":[]}]})"), 413,
                "elements");
  check_refused(parse(R"({"id":3,"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})"), 400,
                "'id' must be a string");
  // The JSON itself: strict RFC 8259, the byte named.
  check_refused(parse("{\"inputs\": ["), 400, "malformed JSON (byte 12: the text ends where a value should start)");
  check_refused(parse(R"({"inputs":[{"name":"x","name":"y","shape":[1],"datatype":"FP32","data":[1]}]})"), 400,
                "the name \"name\" appears twice in an object");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[1e400]}]})"), 400,
                "the number 1e400 is beyond a double's range");
  check_refused(parse("{\"parameters\":" + std::string(300, '[') + std::string(300, ']') + "}"), 400,
                "nesting deeper than the limit");
  // The leaves of data, checked in order against the datatype, nested or not.
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[3],"datatype":"INT8","data":[1,"x",2.5]}]})"), 400,
                "value \"x\" is not a number (datatype INT8)");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[3],"datatype":"INT8","data":[[1,2.5],[null]]}]})"), 400,
                "value 2.5 is not an integer, as datatype INT8 needs");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[3],"datatype":"INT8","data":[true,1]}]})"), 400,
                "value true is not a number (datatype INT8)");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[2],"datatype":"BOOL","data":[true,2]}]})"), 400,
                "value 2 is outside the range of BOOL");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"INT64","data":[-9007199254740994]}]})"), 400,
                "value -9007199254740994 is outside the range of INT64");
  // A floating datatype holds the numbers that round to a finite value of it: FLT_MAX's shortest text
  // (3.4028235e38, a little above FLT_MAX) rounds down to it; 3.4028236e38 rounds to infinity. Both the
  // direct parser (FP32, flat data) and the general one (FP16, nested data) refuse the latter.
  const auto one_input = [](std::string_view datatype, std::string_view shape, std::string_view data) {
    return R"({"inputs":[{"name":"x","shape":)" + std::string(shape) + R"(,"datatype":")" + std::string(datatype) +
           R"(","data":)" + std::string(data) + "}]}";
  };
  CHECK(parse_infer_request(one_input("FP32", "[2]", "[3.4028235e38,-3.4e38]")).inputs[0].data[0] == 3.4028235e38);
  CHECK(parse_infer_request(one_input("FP16", "[1]", "[65519.99]")).inputs[0].data[0] == 65519.99);
  CHECK(parse_infer_request(one_input("FP64", "[1]", "[1e308]")).inputs[0].data[0] == 1e308);
  check_refused(parse(one_input("FP32", "[1]", "[3.4028236e38]")), 400,
                "value 3.4028236e+38 is outside the range of FP32");
  check_refused(parse(one_input("FP32", "[2]", "[[1],[-1e300]]")), 400, "value -1e+300 is outside the range of FP32");
  check_refused(parse(one_input("FP16", "[1]", "[65520]")), 400, "value 65520 is outside the range of FP16");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[{"a":[1,2]}]}]})"), 400,
                R"(value {"a":[1,2]} is not a number (datatype FP32))");
  check_refused(parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":)" + std::string(40, '[') + "1" +
                      std::string(40, ']') + "}]}"),
                400, "data is nested deeper than 32 levels");
  InferCodecLimits small;
  small.max_elements = 4;
  check_refused(
      [&] {
        (void)parse_infer_request(R"({"inputs":[{"name":"x","shape":[],"datatype":"FP32","data":[1,2,3,4,"5"]}]})",
                                  std::nullopt, small);
      },
      413, "input 'x': more than 4 values");
  const InferRequest deep = parse_infer_request(
      R"({"inputs":[{"name":"x","shape":[2],"datatype":"UINT8","data":[[[255]],[[0.0]]]}],"parameters":{"a":[{}]}})");
  CHECK(deep.inputs[0].data == std::vector<double>{255, 0});
  CHECK(deep.parameters.dump() == R"({"a":[{}]})");
}

TEST_CASE("KServe v2 codec: the bytes written, and a response read back or refused") {
  // The bytes nlohmann::json's dump() gave for the names and ids (escapes, UTF-8 as it is); numbers as
  // the shortest text of the tensor's precision.
  const InferResponse response{"forest",
                               "3",
                               "req \"7\"\n\xc3\xa9",
                               {{"predict", {2}, "INT64", {0, 2}},
                                {"predict_proba", {2, 2}, "FP32", {0.1, 0.9, 1.0 / 3, 2.0 / 3}},
                                {"output", {1, 3}, "FP64", {0.1, -1e-7, 1e300}}}};
  CHECK(to_json_text(response) ==
        "{\"model_name\":\"forest\",\"model_version\":\"3\",\"id\":\"req \\\"7\\\"\\n\xc3\xa9\",\"outputs\":["
        R"({"name":"predict","shape":[2],"datatype":"INT64","data":[0,2]},)"
        R"({"name":"predict_proba","shape":[2,2],"datatype":"FP32","data":[0.1,0.9,0.33333334,0.6666667]},)"
        R"({"name":"output","shape":[1,3],"datatype":"FP64","data":[0.1,-1e-07,1e+300]}]})");
  const InferRequest request{"id\t1", {{"input", {1, 2}, "FP64", {0.5, -2}}}, {"predict", "a\"b"}, nullptr};
  CHECK(to_json_text(request) ==
        R"({"id":"id\t1","inputs":[{"name":"input","shape":[1,2],"datatype":"FP64","data":[0.5,-2]}],)"
        R"("outputs":[{"name":"predict"},{"name":"a\"b"}]})");
  CHECK_THROWS_AS((void)to_json_text(InferRequest{"\xff", {}, {}, nullptr}), InvalidArgument);

  const InferResponse back = parse_infer_response(to_json_text(response));
  CHECK(back.id == response.id);
  CHECK(back.outputs[2].data == response.outputs[2].data);
  check_refused([] { (void)parse_infer_response("{}"); }, 400, "a response needs an 'outputs' array");
  check_refused([] { (void)parse_infer_response(R"({"model_name":3,"outputs":[]})"); }, 400, "are strings");
  check_refused(
      [] { (void)parse_infer_response(R"({"outputs":[{"name":"p","datatype":"FP32","shape":[2],"data":[1]}]})"); }, 400,
      "output 'p': data does not match its shape");
  check_refused(
      [] {
        (void)parse_infer_response(
            R"({"outputs":[{"name":"p","datatype":"FP32","shape":[4294967296,4294967296],"data":[]}]})");
      },
      400, "output 'p': bad shape");
  check_refused([] { (void)parse_infer_response("{\"outputs\":[]} x"); }, 400,
                "malformed JSON (byte 15: 'x' after the end of the value)");
  // The number of outputs is bounded like a request's inputs: 65 are refused by their count, and a body
  // of a million empty outputs (3 bytes each) is refused without an object kept for each.
  const auto outputs = [](std::size_t n) {
    std::string body = R"({"outputs":[)";
    for (std::size_t k = 0; k < n; ++k) body += k ? ",{}" : "{}";
    return body + "]}";
  };
  check_refused([&] { (void)parse_infer_response(outputs(65)); }, 400, "too many outputs: 65 > 64");
  InferCodecLimits two;
  two.max_outputs = 2;
  check_refused([&] { (void)parse_infer_response(to_json_text(response), two); }, 400, "too many outputs: 3 > 2");
  const std::string million = outputs(1'000'000);
  const std::int64_t before = test::peak_resident_bytes(/*reset_first=*/true);
  check_refused([&] { (void)parse_infer_response(million); }, 400, "too many outputs: 1000000 > 64");
  CHECK(test::peak_resident_bytes() - before < 32 * 1024 * 1024);
}

TEST_CASE("KServe v2 codec: the direct parser of the common request agrees with the general one") {
  // Every outcome as text: the request's fields (values by their bits) or the error's status and message.
  InferCodecLimits limits;
  limits.max_elements = 6;
  limits.max_inputs = 2;
  auto agree = [&](const std::string& body) {
    const std::string general =
        outcome([&] { return detail::parse_infer_request_general(body, std::nullopt, limits); });
    const std::string chosen = outcome([&] { return parse_infer_request(body, std::nullopt, limits); });
    CHECK_MESSAGE(chosen == general, body);
    const auto fast = detail::parse_infer_request_fast(body, limits);
    if (fast) CHECK_MESSAGE(outcome([&] { return *fast; }) == general, body);
    return fast.has_value();
  };
  const std::string common =
      R"({"id":"1","inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[0.5,-0.25,0.75,0.1]}]})";
  CHECK(agree(common));  // the request of the benchmarks takes the direct path
  CHECK(agree(R"( { "inputs" : [ { "data" : [ 1e-3, -0, 2 ] , "datatype" : "FP64", "shape" : [3], "name" : "x" } ],)"
              R"( "outputs" : [ {"name": "predict"} ], "id" : "" } )"));
  CHECK_FALSE(agree(R"({"id":"a\"b","inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[1]}]})"));
  CHECK_FALSE(agree(R"({"inputs":[{"name":"x","shape":[2,1],"datatype":"FP64","data":[[1],[2]]}]})"));
  CHECK_FALSE(agree(R"({"parameters":{},"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[1]}]})"));
  // A dimension beyond the element limit is the general reader's, up to int64's largest (2^63 - 1, which
  // rounds up to 2^63 as a double) and past it.
  for (const char* shape : {"[9223372036854775807,0]", "[0,9223372036854775807]", "[9223372036854775808,0]",
                            "[9007199254740993,0]", "[7,0]"})
    CHECK_FALSE(
        agree(R"({"inputs":[{"name":"x","shape":)" + std::string(shape) + R"(,"datatype":"FP64","data":[]}]})"));

  std::vector<std::string> bodies = random_request_bodies(test::test_seed(), 3000);
  int direct = 0;
  for (const std::string& body : bodies) direct += agree(body) ? 1 : 0;
  CHECK(direct > 500);  // the direct path is taken, not only the fallback
}

TEST_CASE("KServe v2 codec: the same answers as the parser on nlohmann::json, status and message") {
  // The reference parsed the whole document first; where it refused the JSON (or threw on a number beyond
  // a double's range, a 500), the pull reader answers 400 "malformed JSON (byte k: problem)"; a name
  // given twice in an object, which nlohmann::json took (the last one), is malformed JSON now. Everything
  // else is the same text, but for the digits of a double quoted in a message, compared by value.
  InferCodecLimits limits;
  limits.max_elements = 6;
  limits.max_inputs = 2;
  const auto same_value_quoted = [](const std::string& a, const std::string& b) {
    const std::size_t at = a.find("value ");
    if (at == std::string::npos || a.compare(0, at, b, 0, at) != 0) return false;
    const std::size_t a_end = a.find(' ', at + 6), b_end = b.find(' ', at + 6);
    if (a.substr(a_end) != b.substr(b_end)) return false;
    return std::strtod(a.substr(at + 6, a_end - at - 6).c_str(), nullptr) ==
           std::strtod(b.substr(at + 6, b_end - at - 6).c_str(), nullptr);
  };
  int compared = 0, refused_json = 0;
  for (const std::string& body : random_request_bodies(test::test_seed() + 1, 4000)) {
    const std::string ours = outcome([&] { return detail::parse_infer_request_general(body, std::nullopt, limits); });
    const std::string reference =
        outcome([&] { return test::reference_parse_infer_request(body, std::nullopt, limits); });
    if (reference.starts_with("error 400: malformed JSON") || reference.starts_with("exception: ")) {
      CHECK_MESSAGE(ours.starts_with("error 400: malformed JSON (byte "), body << "\n" << ours);
      ++refused_json;
      continue;
    }
    if (ours.find("appears twice in an object") != std::string::npos) continue;
    CHECK_MESSAGE((ours == reference || same_value_quoted(ours, reference)), body << "\n" << ours << "\n" << reference);
    ++compared;
  }
  CHECK(compared > 2000);
  CHECK(refused_json > 100);
}

TEST_CASE("KServe v2 codec: an object of many members is read in O(n log n), its names checked once each") {
  // A body of 3.5 MB (the server accepts 8 MiB) made of members: unknown top-level members, and a large
  // "parameters" object. A list searched for each name made this quadratic (about 90 s in a release
  // build, far more under the sanitizers); a search tree reads it in a tenth of a second (a few seconds
  // under the sanitizers).
  const auto body_with = [](std::size_t members, bool in_parameters) {
    std::string body = in_parameters ? "{\"parameters\":{" : "{";
    for (std::size_t i = 0; i < members; ++i) body += "\"k" + std::to_string(i) + "\":0,";
    if (in_parameters) body.back() = '}', body += ',';
    return body + R"("inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})";
  };
  for (const bool in_parameters : {false, true}) {
    CAPTURE(in_parameters);
    const std::string body = body_with(300'000, in_parameters);
    REQUIRE(body.size() < (8u << 20));
    const auto start = std::chrono::steady_clock::now();
    const InferRequest request = parse_infer_request(body);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MESSAGE(body.size() << " bytes, 300,000 members, read in " << seconds << " s");
    CHECK(request.inputs.size() == 1);
    CHECK(seconds < 30.0);
  }
  // The same name twice among them is still found, at its second occurrence.
  std::string twice = body_with(1000, true);
  twice.insert(twice.find("\"k999\""), "\"k3\":1,");
  check_refused([&] { (void)parse_infer_request(twice); }, 400, "the name \"k3\" appears twice in an object");
}

TEST_CASE("InferenceServer: every endpoint, the 4xx answers, and still serving afterwards") {
  const Data d = make_data(300);
  RandomForestScratch<double> forest({.n_estimators = 10, .max_depth = 6, .seed = 5});
  forest.fit(d.X, d.y);
  LinearRegressionScratch<double> linear;
  linear.fit(d.X, d.target);
  test::TempFolder folder;
  {
    ModelVersionManager registry(folder.path());
    registry.register_bytes("forest", {{"model.safetensors", to_bytes(ModelSerializer::serialize(forest))}});
    RandomForestScratch<double> small({.n_estimators = 2, .max_depth = 2, .seed = 1});
    small.fit(d.X, d.y);
    registry.register_bytes("forest", {{"model.safetensors", to_bytes(ModelSerializer::serialize(small))}});
    registry.set_alias("forest", "champion", 1);
    registry.register_bytes("linear", {{"model.safetensors", to_bytes(ModelSerializer::serialize(linear))}});
  }
  InferenceServer server(
      folder.path(),
      {.max_body_bytes = 1 << 16,
       .models = {.max_batch_size = 8, .cache_size = 1000, .drift_reference_rows = 50, .drift_window_rows = 50}});
  server.start();
  httplib::Client client("127.0.0.1", server.port());

  auto get = [&](const std::string& path, int status) {
    auto res = client.Get(path);
    REQUIRE(res);
    CHECK_MESSAGE(res->status == status, path << " " << res->body);
    return res->body;
  };
  auto post = [&](const std::string& path, const std::string& body, int status) {
    auto res = client.Post(path, body, "application/json");
    REQUIRE(res);
    CHECK_MESSAGE(res->status == status, path << " " << res->body);
    return res->body;
  };
  auto infer_body = [&](const Matrix<double>& X, const std::string& datatype = "FP64") {
    return to_json_text(InferRequest{
        "r", {{"input", {X.rows(), X.cols()}, datatype, std::vector<double>(X.data(), X.data() + X.size())}}});
  };

  get("/v2/health/live", 200);
  get("/v2/health/ready", 200);
  CHECK(nlohmann::json::parse(get("/v2", 200))["name"] == "aimastery");
  CHECK(
      get("/v2/models/forest", 200) ==
      R"({"inputs":[{"datatype":"FP64","name":"input","shape":[-1,4]}],"name":"forest","outputs":[)"
      R"({"datatype":"INT64","name":"predict","shape":[-1]},{"datatype":"FP64","name":"predict_proba","shape":[-1,3]}],)"
      R"("parameters":{"kind":"RandomForestScratch","version":"1"},"platform":"aimastery","versions":["1","2"]})");
  CHECK(get("/v2", 200) == R"({"extensions":["binary_tensor_data"],"name":"aimastery","version":")" +
                               std::string(library_version) + "\"}");
  CHECK(post("/v2/models/forest/infer", "{\"inputs\": [", 400) ==
        R"x({"error":"malformed JSON (byte 12: the text ends where a value should start)"})x");
  const auto meta = nlohmann::json::parse(get("/v2/models/forest", 200));
  CHECK(meta["versions"] == nlohmann::json{"1", "2"});
  CHECK(meta["inputs"][0]["shape"] == nlohmann::json{-1, 4});
  get("/v2/models/forest/ready", 200);
  get("/v2/models/forest/versions/2/ready", 200);

  // Predictions equal the model's own, for the champion (version 1) and for version 2 named explicitly.
  const Matrix<double> X = d.X.topRows(20);
  const InferResponse r1 = parse_infer_response(post("/v2/models/forest/infer", infer_body(X), 200));
  CHECK(r1.model_version == "1");
  REQUIRE(r1.outputs.size() == 2);
  const IndexVector labels = forest.predict(X);
  for (Index i = 0; i < X.rows(); ++i)
    CHECK(r1.outputs[0].data[static_cast<std::size_t>(i)] == static_cast<double>(labels(i)));
  const Matrix<double> P = forest.predict_proba(X);
  for (Index i = 0; i < P.size(); ++i) CHECK(r1.outputs[1].data[static_cast<std::size_t>(i)] == P.data()[i]);
  const InferResponse r2 = parse_infer_response(post("/v2/models/forest/versions/2/infer", infer_body(X), 200));
  CHECK(r2.model_version == "2");
  const InferResponse rc = parse_infer_response(post("/v2/models/forest/versions/champion/infer", infer_body(X), 200));
  CHECK(rc.model_version == "1");
  const InferResponse rl = parse_infer_response(post("/v2/models/linear/infer", infer_body(X, "FP32"), 200));
  const Vector<double> yl = linear.predict(X.cast<float>().cast<double>());
  for (Index i = 0; i < X.rows(); ++i) CHECK(rl.outputs[0].data[static_cast<std::size_t>(i)] == doctest::Approx(yl(i)));

  // Concurrent clients, batched and cached: the same answers.
  std::vector<std::thread> clients;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    clients.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", server.port());
      for (Index i = t; i < 100; i += 4) {
        auto res = c.Post("/v2/models/forest/infer", infer_body(d.X.middleRows(i, 1)), "application/json");
        if (!res || res->status != 200 ||
            parse_infer_response(res->body).outputs[0].data[0] !=
                static_cast<double>(forest.predict(d.X.middleRows(i, 1))(0)))
          wrong.fetch_add(1);
      }
    });
  for (auto& c : clients) c.join();
  CHECK(wrong.load() == 0);

  // The refusals: each a JSON error with the protocol's status.
  auto error_of = [](const std::string& body) { return nlohmann::json::parse(body)["error"].get<std::string>(); };
  CHECK(error_of(post("/v2/models/forest/infer", "{\"inputs\": [", 400)).find("malformed JSON") != std::string::npos);
  CHECK(error_of(post("/v2/models/forest/infer", infer_body(d.X.leftCols(3).topRows(2)), 400)).find("shape [2, 3]") !=
        std::string::npos);
  CHECK(error_of(post("/v2/models/forest/infer", infer_body(X, "INT64"), 400)).find("datatype INT64") !=
        std::string::npos);
  CHECK(error_of(post("/v2/models/nope/infer", infer_body(X), 404)).find("unknown model 'nope'") != std::string::npos);
  CHECK(error_of(post("/v2/models/forest/versions/9/infer", infer_body(X), 404)).find("no version 9") !=
        std::string::npos);
  CHECK(error_of(post("/v2/models/forest/versions/staging/infer", infer_body(X), 404)).find("alias 'staging'") !=
        std::string::npos);
  const Matrix<double> large = d.X.replicate(4, 1);  // ~100 kB of JSON, over the 64 kB limit
  CHECK(error_of(post("/v2/models/forest/infer", infer_body(large), 413)).find("exceeds") != std::string::npos);
  get("/v2/models/nope", 404);
  get("/v2/models/forest/versions/9/ready", 404);
  CHECK(get("/no/such/route", 404) == R"({"error":"no route GET /no/such/route"})");
  CHECK(error_of(post("/v1/embeddings", R"({"input":"hi"})", 404)).find("no embedding model") != std::string::npos);

  // Still serving, and the numbers are there.
  post("/v2/models/forest/infer", infer_body(X), 200);
  const std::string metrics = get("/metrics", 200);
  CHECK(metrics.find("aimastery_requests_total{model=\"forest\",code=\"200\"}") != std::string::npos);
  CHECK_MESSAGE(metrics.find("aimastery_requests_total{model=\"_unknown\",code=\"404\"} 2") != std::string::npos,
                metrics.substr(0, 600));
  CHECK(metrics.find("aimastery_request_duration_seconds_bucket{model=\"forest\",le=\"+Inf\"}") != std::string::npos);
  CHECK(metrics.find("aimastery_batch_rows_count{model=\"forest\"}") != std::string::npos);
  CHECK(metrics.find("aimastery_cache_hits_total{model=\"forest\",version=\"1\"}") != std::string::npos);
  CHECK(metrics.find("aimastery_drift_share{model=\"forest\",version=\"1\"}") != std::string::npos);
  CHECK(metrics.find("\naimastery_http_connections ") != std::string::npos);
  CHECK(metrics.find("\naimastery_http_queued_requests 0\n") != std::string::npos);
  for (const char* limit : {"max_connections", "max_in_flight", "max_queue_wait", "max_buffered_bytes"})
    CHECK_MESSAGE(
        metrics.find("aimastery_http_refused_total{limit=\"" + std::string(limit) + "\"} 0\n") != std::string::npos,
        limit);
  // Every line is a comment or `name{labels} value` with a number that parses.
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    const std::string value = line.substr(space + 1);
    char* end = nullptr;
    std::strtod(value.c_str(), &end);
    CHECK_MESSAGE((*end == '\0' || value == "+Inf" || value == "NaN"), line);
    const std::string name = line.substr(0, line.find_first_of("{ "));
    CHECK_MESSAGE(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_:") == std::string::npos, line);
  }
  const auto status = nlohmann::json::parse(get("/status.json", 200));
  CHECK(status["ready"] == true);
  CHECK(status["http"]["connections"].get<int>() >= 1);
  CHECK(status["http"]["queued"] == 0);
  CHECK(status["http"]["refused"] ==
        nlohmann::json::parse(R"({"max_connections":0,"max_in_flight":0,"max_queue_wait":0,"max_buffered_bytes":0})"));
  REQUIRE(status["models"].size() == 2);
  const auto& forest_status = status["models"][0];
  CHECK(forest_status["name"] == "forest");
  CHECK(forest_status["aliases"]["champion"] == 1);
  // Versions 1 and 2 were loaded; each row counts its own requests, batches and cache lookups.
  REQUIRE(forest_status["loaded"].size() == 2);
  const auto& v1 = forest_status["loaded"][0];
  const auto& v2 = forest_status["loaded"][1];
  CHECK(v2["requests"] == 1);
  CHECK(v2["mean_batch_rows"] == 20.0);  // one request of 20 rows, alone in its batch
  CHECK(v1["mean_batch_rows"].get<double>() >= 1.0);
  CHECK(v1["cache_hits"].get<std::uint64_t>() + v1["cache_misses"].get<std::uint64_t>() > 0);
  CHECK(get("/", 200).find("status.json") != std::string::npos);

  // Draining: readiness turns false, new work is refused with 503, and the server stops.
  server.graceful_shutdown().request_shutdown();
  get("/v2/health/ready", 503);
  get("/v2/health/live", 200);  // draining is not dying: no restart
  post("/v2/models/forest/infer", infer_body(X), 503);
  const ShutdownReport report = server.shutdown();
  CHECK(report.drained);
}

TEST_CASE("InferenceServer: beyond max_in_flight requests being answered, a request gets 503 and Retry-After") {
  const Data d = make_data(300);
  RandomForestScratch<double> forest({.n_estimators = 40, .max_depth = 8, .seed = 5});
  forest.fit(d.X, d.y);
  test::TempFolder folder;
  ModelVersionManager(folder.path())
      .register_bytes("forest", {{"model.safetensors", to_bytes(ModelSerializer::serialize(forest))}});
  // Eight workers and a bound of one: eight clients sending 300-row requests overlap in the handler.
  InferenceServer server(folder.path(), {.threads = 8, .max_in_flight = 1, .models = {.max_batch_size = 1}});
  server.start();
  const std::string body = to_json_text(InferRequest{
      "r", {{"input", {d.X.rows(), d.X.cols()}, "FP64", std::vector<double>(d.X.data(), d.X.data() + d.X.size())}}});
  const std::string in_flight_error = "{\"error\":\"too many requests in flight (1)\"}";
  const std::string queue_full_error = "the server is busy: 1 requests already wait for a worker";
  std::atomic<int> answered{0}, over_in_flight{0}, unexpected{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&] {
      // A refused connection is closed while cpp-httplib may still write the body, without MSG_NOSIGNAL.
      const detail::SigpipeBlock no_sigpipe;
      httplib::Client client("127.0.0.1", server.port());
      for (int i = 0; i < 300 && over_in_flight.load() < 3; ++i) {
        const auto res = client.Post("/v2/models/forest/infer", body, "application/json");
        const bool refused = res && res->status == 503 && res->get_header_value("Retry-After") == "1";
        if (res && res->status == 200)
          answered.fetch_add(1);
        else if (refused && res->body == in_flight_error)
          over_in_flight.fetch_add(1);
        else if (!res && res.error() == httplib::Error::Write)
          continue;  // refused by the poller (max_in_flight waiting) and closed while the body was written
        else if (!refused || res->body.find(queue_full_error) == std::string::npos) {
          unexpected.fetch_add(1);
          MESSAGE((res ? std::to_string(res->status) + " " + res->body : httplib::to_string(res.error())));
        }
      }
    });
  for (auto& c : clients) c.join();
  CHECK(unexpected.load() == 0);
  CHECK(answered.load() > 0);
  CHECK(over_in_flight.load() >= 1);  // each with Retry-After: 1 and its message
  CHECK(server.shutdown().drained);
}

TEST_CASE("InferenceServer: bad options are refused before the registry is read") {
  test::TempFolder folder;
  auto message_of = [&](InferenceServerOptions options) -> std::string {
    try {
      InferenceServer server(folder.path() / "no registry here", std::move(options));
    } catch (const InvalidArgument& e) {
      return e.what();
    }
    return "";
  };
  CHECK(message_of({.threads = 0}).find("InferenceServer: threads must be between 1 and 4096, got 0") !=
        std::string::npos);
  CHECK(message_of({.threads = 5000}).find("InferenceServer: threads must be between 1 and 4096, got 5000") !=
        std::string::npos);
  CHECK(message_of({.max_connections = 0}).find("InferenceServer: max_connections must be >= 1") != std::string::npos);
  CHECK(message_of({.max_buffered_bytes = 0}).find("InferenceServer: max_buffered_bytes must be >= 1") !=
        std::string::npos);
  CHECK(message_of({.max_in_flight = 0}).find("InferenceServer: max_in_flight must be >= 1") != std::string::npos);
  CHECK(message_of({.max_queue_wait = std::chrono::milliseconds(-1)})
            .find("InferenceServer: max_queue_wait must be >= 0 ms (0: no bound), got -1 ms") != std::string::npos);
}

TEST_CASE("writes a registry for the client peers") {
  // ctest's writer entry sets AIMASTERY_SERVING_PEER_DIR; peer_serving_clients.py then starts
  // `aimastery serve` on it and checks tritonclient's answers against expected.json (our predictions);
  // peer_prometheus.py and peer_status_page.py serve it to Prometheus and to Chromium (serving_peers.py).
  const char* env = std::getenv("AIMASTERY_SERVING_PEER_DIR");
  test::TempFolder scratch;
  const std::filesystem::path dir = env ? std::filesystem::path(env) : scratch.path();
  std::filesystem::remove_all(dir / "registry");
  std::filesystem::create_directories(dir);
  const Data d = make_data(200);
  RandomForestScratch<double> forest({.n_estimators = 20, .max_depth = 8, .seed = 11});
  forest.fit(d.X, d.y);
  NeuralNetwork<float> net;
  net.add<Dense<float>>(4, 8, DenseOptions{.seed = 1})
      .add<Activation<float>>(ActivationKind::tanh)
      .add<Dense<float>>(8, 2, DenseOptions{.seed = 2});
  net.build(4);
  RandomForestScratch<double> small({.n_estimators = 3, .max_depth = 3, .seed = 12});
  small.fit(d.X, d.y);
  ModelVersionManager registry(dir / "registry");
  registry.register_bytes("forest", {{"model.safetensors", to_bytes(ModelSerializer::serialize(forest))}});
  registry.register_bytes("forest", {{"model.safetensors", to_bytes(ModelSerializer::serialize(small))}});
  registry.set_alias("forest", "champion", 1);  // served by default; version 2 only when named
  registry.set_alias("forest", "challenger", 2);
  registry.register_bytes("mlp", {{"model.safetensors", to_bytes(ModelSerializer::serialize(net))}});

  const Matrix<double> X = d.X.topRows(16);
  const Matrix<double> P = forest.predict_proba(X);
  const IndexVector labels = forest.predict(X);
  const Matrix<float> Y = net.predict(X.cast<float>());
  nlohmann::json expected = {{"X", nlohmann::json::array()},
                             {"forest_predict", std::vector<Index>(labels.data(), labels.data() + labels.size())},
                             {"forest_proba", nlohmann::json::array()},
                             {"mlp_output", nlohmann::json::array()}};
  for (Index i = 0; i < X.rows(); ++i) {
    expected["X"].push_back(std::vector<double>(X.row(i).data(), X.row(i).data() + X.cols()));
    expected["forest_proba"].push_back(std::vector<double>(P.row(i).data(), P.row(i).data() + P.cols()));
    expected["mlp_output"].push_back(std::vector<float>(Y.row(i).data(), Y.row(i).data() + Y.cols()));
  }
  std::ofstream(dir / "expected.json") << expected.dump();
  CHECK(std::filesystem::exists(dir / "registry" / "registry.json"));
}

TEST_CASE("PrometheusText and Histogram: escaped label values, cumulative buckets") {
  PrometheusText out;
  out.sample("m", {{"a", "x\"y\\z\nw"}}, 1.5);
  CHECK(out.text() == "m{a=\"x\\\"y\\\\z\\nw\"} 1.5\n");
  CHECK(PrometheusText::number(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(PrometheusText::number(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(PrometheusText::number(0.00025) == "0.00025");  // the shortest text that reads back exactly
  CHECK(PrometheusText::number(0.1 + 0.2) == "0.30000000000000004");
  CHECK(PrometheusText::number(1e300) == "1e+300");
  Histogram h({1, 2, 5});
  for (double x : {0.5, 1.0, 1.5, 3.0, 9.0}) h.observe(x);
  PrometheusText hist;
  h.write(hist, "h", {});
  CHECK(hist.text() ==
        "h_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 3\nh_bucket{le=\"5\"} 4\nh_bucket{le=\"+Inf\"} 5\nh_sum 15\nh_count "
        "5\n");
}

TEST_CASE("OpenAI embeddings codec: requests, refusals, base64 of little-endian float32") {
  const EmbeddingsRequest one = parse_embeddings_request(R"({"model":"m","input":"hello"})");
  CHECK(one.input == std::vector<std::string>{"hello"});
  CHECK(!one.base64);
  const EmbeddingsRequest many = parse_embeddings_request(R"({"input":["a","b"],"encoding_format":"base64"})");
  CHECK(many.input.size() == 2);
  CHECK(many.base64);
  auto parse = [](const std::string& s) { return [s] { (void)parse_embeddings_request(s); }; };
  check_refused(parse("{"), 400, "malformed JSON");
  check_refused(parse(R"({"model":"m"})"), 400, "'input' is missing");
  check_refused(parse(R"({"input":[[1,2,3]]})"), 400, "token ids are not accepted");
  check_refused(parse(R"({"input":"x","encoding_format":"int8"})"), 400, "encoding_format");
  check_refused(parse(R"({"input":"x","dimensions":8})"), 400, "'dimensions' is not supported");
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  Matrix<float> E(1, 2);
  E << 1.0f, -2.0f;  // 0x3F800000, 0xC0000000 little-endian: 00 00 80 3F 00 00 00 C0
  Matrix<float> F(2, 3);
  F << 0.1f, -2.5f, 1e-8f, 3.0f, 1.0f / 3, -0.0f;
  EmbeddingsRequest named{"mini\"LM", {"a", "b"}, false};
  CHECK(embeddings_response(named, F, 7) ==
        R"({"data":[{"embedding":[0.10000000149011612,-2.5,9.99999993922529e-09],"index":0,"object":"embedding"},)"
        R"({"embedding":[3.0,0.3333333432674408,-0.0],"index":1,"object":"embedding"}],"model":"mini\"LM",)"
        R"("object":"list","usage":{"prompt_tokens":7,"total_tokens":7}})");
  named.base64 = true;
  CHECK(
      embeddings_response(named, F, 7) ==
      R"({"data":[{"embedding":"zczMPQAAIMB3zCsy","index":0,"object":"embedding"},{"embedding":"AABAQKuqqj4AAACA",)"
      R"("index":1,"object":"embedding"}],"model":"mini\"LM","object":"list","usage":{"prompt_tokens":7,"total_tokens":7}})");
  check_refused(parse(R"({"input":"x","input":"y"})"), 400, "malformed JSON (byte");
  check_refused(parse(R"({"input":"x","model":7})"), 400, "'model' must be a string");
  check_refused(parse(R"({"input":[]})"), 400, "non-empty array of strings");
  const auto j = nlohmann::json::parse(embeddings_response(many, E, 3));
  CHECK(j["data"][0]["embedding"] == "AACAPwAAAMA=");
  CHECK(j["usage"]["total_tokens"] == 3);
}
