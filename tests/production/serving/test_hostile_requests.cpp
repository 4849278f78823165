// Hostile request bodies for the KServe v2 and OpenAI embeddings codecs: arrays far longer than the
// request's limit ("inputs" beyond max_inputs, "outputs" of non-objects, "input" beyond 2048 texts) are
// refused with the same status and message as before, having kept no more than the limit's worth of
// elements: the process's peak resident memory grows by far less than one kept element per array element
// would take (it grew by hundreds of MB for these bodies of a few MB). The embeddings parser reads the body
// once without a document; its answers are compared with the parser on JsonValue it replaced.
//
// (The peak resident size is reset before each measurement: earlier peaks cannot hide a growth.)

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "aimastery/io/json.hpp"
#include "aimastery/production/serving/embeddings_protocol.hpp"
#include "aimastery/production/serving/inference_protocol.hpp"
#include "support.hpp"

using namespace aimastery;

namespace hostile_requests {

/// The status and message of the InferenceError thrown by `parse`, or "accepted".
template <class F>
std::string answer(F&& parse) {
  try {
    parse();
    return "accepted";
  } catch (const InferenceError& e) {
    return std::to_string(e.status) + " " + e.what();
  }
}

/// `head` + n copies of `element` separated by commas + `tail`.
std::string repeated(const std::string& head, const std::string& element, std::size_t n, const std::string& tail) {
  std::string out = head;
  out.reserve(head.size() + n * (element.size() + 1) + tail.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ',';
    out += element;
  }
  return out + tail;
}

/// parse_embeddings_request as it was, on a JsonValue document (the reference of its answers).
EmbeddingsRequest reference_parse_embeddings_request(std::string_view body, const EmbeddingsLimits& limits = {}) {
  auto bad = [](const std::string& message) { throw InferenceError(400, message); };
  JsonValue j;
  try {
    j = JsonValue::parse(body, "malformed JSON");
  } catch (const FormatError& e) {
    bad(e.what());
  }
  if (!j.is_object()) bad("the request must be a JSON object");
  EmbeddingsRequest r;
  if (const JsonValue* m = j.find("model")) {
    if (!m->is_string()) bad("'model' must be a string");
    r.model = m->as_string();
  }
  const JsonValue* input = j.find("input");
  if (input == nullptr) bad("'input' is missing");
  if (input->is_string()) {
    r.input.push_back(input->as_string());
  } else if (input->is_array() && !input->empty()) {
    if (input->size() > limits.max_inputs)
      bad("'input' holds " + std::to_string(input->size()) + " texts, at most " + std::to_string(limits.max_inputs));
    for (const JsonValue& s : input->elements()) {
      if (!s.is_string()) bad("'input' must be a string or an array of strings (token ids are not accepted)");
      r.input.push_back(s.as_string());
    }
  } else {
    bad("'input' must be a string or a non-empty array of strings");
  }
  for (const auto& s : r.input)
    if (s.size() > limits.max_input_bytes)
      bad("an input text has " + std::to_string(s.size()) + " bytes, at most " +
          std::to_string(limits.max_input_bytes));
  if (const JsonValue* f = j.find("encoding_format"); f != nullptr && !f->is_null()) {
    if (!f->is_string() || (f->as_string() != "float" && f->as_string() != "base64"))
      bad("'encoding_format' must be \"float\" or \"base64\"");
    r.base64 = f->as_string() == "base64";
  }
  if (const JsonValue* d = j.find("dimensions"); d != nullptr && !d->is_null())
    bad("'dimensions' is not supported: the model's embeddings have a fixed size");
  return r;
}

/// An embeddings parse as text: the request's fields, or the error's status and message.
template <class Parse>
std::string embeddings_outcome(Parse&& parse) {
  try {
    const EmbeddingsRequest r = parse();
    std::string out = "model=" + r.model + (r.base64 ? " base64" : " float") + " input=";
    for (const auto& s : r.input) out += std::to_string(s.size()) + ":" + s + ";";
    return out;
  } catch (const InferenceError& e) {
    return "error " + std::to_string(e.status) + ": " + e.what();
  }
}

}  // namespace hostile_requests

using hostile_requests::answer;
using hostile_requests::repeated;
using test::peak_resident_bytes;

TEST_CASE("KServe v2 codec: 'inputs' beyond max_inputs is refused by its count, keeping no tensor per element") {
  // {"inputs":[0,0,...]} of 1 MB: a RawInferTensor (~240 bytes) kept for each "0," took ~270 MB (ASan build) before
  // the 400. Now the elements past max_inputs are read, checked and counted, and the answer is the same.
  const std::size_t n = 500'000;
  const std::string body = repeated(R"({"inputs":[)", "0", n, "]}");
  const std::int64_t before = peak_resident_bytes(/*reset_first=*/true);
  CHECK(answer([&] { (void)parse_infer_request(body); }) == "400 too many inputs: 500000 > 64");
  const std::int64_t grown = peak_resident_bytes() - before;
  MESSAGE("peak resident memory grew by " << grown / 1024 << " KiB for a body of " << body.size() / 1024 << " KiB");
  CHECK(grown < 32 * 1024 * 1024);

  // The count, as before: at the limit the inputs are read; one more is refused.
  const std::string input = R"({"name":"x","shape":[1],"datatype":"FP64","data":[1]})";
  InferCodecLimits limits;
  limits.max_inputs = 3;
  CHECK(parse_infer_request(repeated(R"({"inputs":[)", input, 3, "]}"), std::nullopt, limits).inputs.size() == 3);
  CHECK(answer([&] { (void)parse_infer_request(repeated(R"({"inputs":[)", input, 4, "]}"), std::nullopt, limits); }) ==
        "400 too many inputs: 4 > 3");
  // The checks keep their order: the elements past the limit are still read as strictly (a syntax error
  // or a number beyond a double's range among them is malformed JSON), and an 'id' read after them is
  // checked before their count.
  CHECK(answer([&] {
          (void)parse_infer_request(repeated(R"({"inputs":[)", "0", 10, R"(,{"a":1,"a":2}]})"), std::nullopt, limits);
        }).starts_with("400 malformed JSON (byte "));
  CHECK(answer([&] {
          (void)parse_infer_request(repeated(R"({"inputs":[)", input, 5, R"(,{"data":[1e999]}]})"), std::nullopt,
                                    limits);
        }).find("beyond a double's range") != std::string::npos);
  CHECK(answer([&] {
          (void)parse_infer_request(repeated(R"({"inputs":[)", "0", 10, R"(],"id":7})"), std::nullopt, limits);
        }) == "400 'id' must be a string");
  CHECK(answer([&] {
          (void)parse_infer_request(repeated(R"({"inputs":[)", "0", 10, "]} x"), std::nullopt, limits);
        }).starts_with("400 malformed JSON (byte "));
}

TEST_CASE("KServe v2 codec: requested 'outputs' without names are refused keeping nothing per element") {
  // {"inputs":[one input],"outputs":[0,0,...]} of 4 MB: a JsonStringField (40 bytes) was kept per element.
  const std::string input = R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[1]}],"outputs":[)";
  const std::string body = repeated(input, "0", 2'000'000, "]}");
  const std::int64_t before = peak_resident_bytes(/*reset_first=*/true);
  CHECK(answer([&] { (void)parse_infer_request(body); }) == "400 every requested output needs a 'name' string");
  const std::int64_t grown = peak_resident_bytes() - before;
  MESSAGE("peak resident memory grew by " << grown / 1024 << " KiB for a body of " << body.size() / 1024 << " KiB");
  CHECK(grown < 32 * 1024 * 1024);

  // Names are kept in order; one element without a name, wherever it stands, is refused.
  CHECK(parse_infer_request(input + R"({"name":"a"},{"name":"b","x":[1]},{"name":"a"}]})").outputs ==
        std::vector<std::string>{"a", "b", "a"});
  for (const char* outputs : {R"([{"name":"a"},{}])", R"([7,{"name":"a"}])", R"([{"name":"a"},{"name":1}])"})
    CHECK(answer([&] { (void)parse_infer_request(input.substr(0, input.size() - 1) + outputs + "}"); }) ==
          "400 every requested output needs a 'name' string");
}

TEST_CASE("OpenAI embeddings codec: 'input' beyond 2048 texts is refused while reading, without a document") {
  // {"input":[[],[],...]} of 4 MB: JsonValue::parse built a document of ~40 times the body first.
  const std::string body = repeated(R"({"input":[)", "[]", 1'400'000, "]}");
  const std::int64_t before = peak_resident_bytes(/*reset_first=*/true);
  CHECK(answer([&] { (void)parse_embeddings_request(body); }) == "400 'input' holds 1400000 texts, at most 2048");
  const std::int64_t grown = peak_resident_bytes() - before;
  MESSAGE("peak resident memory grew by " << grown / 1024 << " KiB for a body of " << body.size() / 1024 << " KiB");
  CHECK(grown < 32 * 1024 * 1024);

  // 2048 texts are accepted, 2049 refused by their count (before the token ids among them).
  const EmbeddingsRequest full = parse_embeddings_request(repeated(R"({"input":[)", R"("t")", 2048, "]}"));
  CHECK(full.input.size() == 2048);
  CHECK(full.input.back() == "t");
  CHECK(answer([&] { (void)parse_embeddings_request(repeated(R"({"input":[)", R"("t")", 2049, "]}")); }) ==
        "400 'input' holds 2049 texts, at most 2048");
  CHECK(answer([&] { (void)parse_embeddings_request(repeated(R"({"input":[)", "[1]", 2049, "]}")); }) ==
        "400 'input' holds 2049 texts, at most 2048");
  // Past the limit the elements are still read as strictly: a syntax error after them is malformed JSON.
  CHECK(answer([&] {
          (void)parse_embeddings_request(repeated(R"({"input":[)", "[]", 3000, R"(,[1e999]]})"));
        }).find("beyond a double's range") != std::string::npos);
}

TEST_CASE("OpenAI embeddings codec: the same answers as the parser on JsonValue, status and message") {
  // The pull reader answers as the document did, but where an object names a member twice: both refuse it
  // as malformed JSON, the reader at the second name, the document at the object's end.
  using hostile_requests::embeddings_outcome;
  using hostile_requests::reference_parse_embeddings_request;
  EmbeddingsLimits limits;
  limits.max_inputs = 3;
  limits.max_input_bytes = 4;
  std::vector<std::string> bodies = {
      "",
      " ",
      "[]",
      "\"x\"",
      "null",
      "{}",
      R"({"input":"hello"})",
      R"({"model":"m","input":"hello","encoding_format":"float"})",
      R"({"input":["a","b"],"encoding_format":"base64","model":"mini"})",
      R"({"input":["a","b","c"]})",
      R"({"input":["a","b","c","d"]})",
      R"({"input":[1,2,3,4]})",
      R"({"input":[[1,2,3]]})",
      R"({"input":["a",[1]]})",
      R"({"input":[]})",
      R"({"input":null})",
      R"({"input":7})",
      R"({"input":{"a":"b"}})",
      R"({"input":"toolong"})",
      R"({"input":["ok","toolong"]})",
      R"({"model":7,"input":"x"})",
      R"({"model":null,"input":"x"})",
      R"({"input":"x","encoding_format":null})",
      R"({"input":"x","encoding_format":"int8"})",
      R"({"input":"x","encoding_format":1})",
      R"({"input":"x","dimensions":null})",
      R"({"input":"x","dimensions":8})",
      R"({"input":"x","user":{"deep":[1,2,{"x":null}]},"extra":1e300})",
      R"({"input":"x","extra":1e999})",
      R"({"input":["x",-1e999]})",
      R"({"input":"x"} x)",
      R"({"input":"x",})",
      R"({"input":"\u00e9\ud83d\ude00"})",
      R"({"input":"\ud800"})",
      "{\"input\":\"\xff\"}",
      R"({"input":["a","b","c","d",}])",
      R"({"input":"x","model":"m","encoding_format":"base64","dimensions":null})",
  };
  // Nesting at and past the limit of 256, in "input" and elsewhere.
  for (const int levels : {253, 254, 255, 256}) {
    bodies.push_back(R"({"input":)" + std::string(levels, '[') + std::string(levels, ']') + "}");
    bodies.push_back(R"({"input":"x","u":)" + std::string(levels, '[') + std::string(levels, ']') + "}");
  }
  // Seeded random pieces, and every prefix of a few bodies.
  std::mt19937_64 rng(test::test_seed());
  const std::vector<std::string> values = {
      R"("a")", R"("abcdef")", "1",          "-0.5",  "null",       "true",        "[]",   R"(["a"])",
      R"([1])", R"({})",       R"({"x":1})", "1e999", R"("float")", R"("base64")", "[[]]", R"(["a","b","c","d"])"};
  const std::vector<std::string> names = {"input", "model", "encoding_format", "dimensions", "user"};
  for (int trial = 0; trial < 3000; ++trial) {
    std::string body = "{";
    const int members = static_cast<int>(rng() % 5);
    for (int k = 0; k < members; ++k)
      body += (k ? "," : "") + ("\"" + names[rng() % names.size()] + "\":") + values[rng() % values.size()];
    body += "}";
    if (rng() % 10 == 0) body = body.substr(0, rng() % (body.size() + 1));
    bodies.push_back(body);
  }
  for (const std::string full : {R"({"model":"m","input":["ab","c"],"encoding_format":"base64"})"})
    for (std::size_t k = 0; k <= std::string(full).size(); ++k) bodies.push_back(std::string(full).substr(0, k));

  int compared = 0;
  for (const std::string& body : bodies) {
    const std::string ours = embeddings_outcome([&] { return parse_embeddings_request(body, limits); });
    const std::string reference = embeddings_outcome([&] { return reference_parse_embeddings_request(body, limits); });
    if (reference.find("appears twice in an object") != std::string::npos ||
        ours.find("appears twice in an object") != std::string::npos) {
      CHECK_MESSAGE(reference.starts_with("error 400: malformed JSON (byte "), body << "\n" << reference);
      CHECK_MESSAGE(ours.starts_with("error 400: malformed JSON (byte "), body << "\n" << ours);
      continue;
    }
    CHECK_MESSAGE(ours == reference, body << "\n" << ours << "\n" << reference);
    ++compared;
  }
  CHECK(compared > 2000);
}
