#include "aimastery/io/safetensors.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"
#include "aimastery/ml/deep_learning/neural_network_io.hpp"
#include "support.hpp"
#include "temporary_path.hpp"

using aimastery::FormatError;
using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::Safetensors;
using aimastery::SafetensorsDtype;
using aimastery::test::temporary_path;

namespace {

std::vector<unsigned char> bytes_of(const std::string& header, const std::vector<unsigned char>& buffer,
                                    std::uint64_t declared_length) {
  std::vector<unsigned char> out(8);
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<unsigned char>(declared_length >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), buffer.begin(), buffer.end());
  return out;
}
std::vector<unsigned char> bytes_of(const std::string& header, std::size_t buffer_bytes) {
  return bytes_of(header, std::vector<unsigned char>(buffer_bytes, 0), header.size());
}

Safetensors parse(const std::vector<unsigned char>& bytes) { return aimastery::parse_safetensors(bytes, "test"); }

}  // namespace

TEST_CASE_TEMPLATE("safetensors: a written file reads back bit for bit, with its metadata", T, float, double) {
  std::mt19937_64 rng(aimastery::test::test_seed());
  const Matrix<T> W = aimastery::test::random_matrix<T>(5, 3, rng);
  const Matrix<T> b = aimastery::test::random_matrix<T>(1, 5, rng);
  aimastery::Tensor<T> cube({2, 3, 4});
  for (Index i = 0; i < cube.size(); ++i) cube.data()[i] = static_cast<T>(i) / T(7);
  Safetensors file;
  file.add("0.weight", W);
  file.add("0.bias", b);
  file.add("cube", cube);
  file.add("empty", Matrix<T>(0, 4));
  file.metadata["format"] = "pt";
  file.metadata["architecture"] = "Dense(3 -> 5)";
  const std::string path = temporary_path("roundtrip.safetensors");
  aimastery::write_safetensors(path, file);
  const auto back = aimastery::read_safetensors(path);
  std::filesystem::remove(path);

  CHECK(back.metadata.at("format") == "pt");
  CHECK(back.metadata.at("architecture") == "Dense(3 -> 5)");
  CHECK(back.at("0.weight").dtype == (std::is_same_v<T, float> ? SafetensorsDtype::F32 : SafetensorsDtype::F64));
  CHECK(back.matrix<T>("0.weight") == W);
  CHECK(back.matrix<T>("0.bias") == b);
  CHECK(back.matrix<double>("0.weight") == W.template cast<double>());
  const auto cube_back = back.tensor<T>("cube");
  CHECK(cube_back.shape() == cube.shape());
  CHECK(std::equal(cube.data(), cube.data() + cube.size(), cube_back.data()));
  CHECK(back.matrix<T>("empty").rows() == 0);
  CHECK(back.matrix<T>("empty").cols() == 4);

  const auto bytes = aimastery::serialize_safetensors(file);
  std::uint64_t header_length = 0;
  for (int i = 0; i < 8; ++i) header_length |= std::uint64_t(bytes[static_cast<std::size_t>(i)]) << (8 * i);
  CHECK(header_length % 8 == 0);  // the buffer starts 8-byte aligned, as the reference writer does
}

TEST_CASE("safetensors: files written by the safetensors package (PyTorch and NumPy) read as they wrote them") {
  const auto expected = aimastery::test::load_reference("safetensors_reference.json");
  for (const std::string file_name : {"safetensors_torch.safetensors", "safetensors_numpy.safetensors"}) {
    CAPTURE(file_name);
    const auto file = aimastery::read_safetensors(std::string(AIMASTERY_REFERENCE_DIR) + "/" + file_name);
    const auto& tensors = expected.at(file_name).at("tensors");
    CHECK(file.tensors.size() == tensors.size());
    for (const auto& [name, want] : tensors.items()) {
      const auto& tensor_name = name;  // a structured binding: clang 14's lambdas cannot capture it
      CAPTURE(tensor_name);
      const auto& t = file.at(name);
      CHECK(std::string(aimastery::to_string(t.dtype)) == want.at("dtype").get<std::string>());
      REQUIRE(t.shape.size() == want.at("shape").size());
      for (std::size_t k = 0; k < t.shape.size(); ++k) CHECK(t.shape[k] == want.at("shape")[k].get<Index>());
      const auto values = t.values<double>();
      const auto& flat = want.at("values");
      REQUIRE(values.size() == flat.size());
      for (std::size_t k = 0; k < values.size(); ++k)
        CHECK(aimastery::test::close(values[k], aimastery::test::json_number<double>(flat[k]), 0.0));
    }
    for (const auto& [key, value] : expected.at(file_name).at("metadata").items())
      CHECK(file.metadata.at(key) == value.get<std::string>());
  }
}

TEST_CASE("safetensors: re-serialising a file the package wrote keeps its tensors and metadata") {
  const auto expected = aimastery::test::load_reference("safetensors_reference.json");
  const auto theirs =
      aimastery::read_safetensors(std::string(AIMASTERY_REFERENCE_DIR) + "/safetensors_numpy.safetensors");
  // Re-serialising what we read gives a file that parses to the same tensors and metadata.
  const auto again = parse(aimastery::serialize_safetensors(theirs));
  CHECK(again.tensors.size() == theirs.tensors.size());
  for (const auto& [name, t] : theirs.tensors) {
    CHECK(again.at(name).bytes == t.bytes);
    CHECK(again.at(name).shape == t.shape);
  }
  CHECK(again.metadata == theirs.metadata);
}

TEST_CASE("safetensors: hostile headers are FormatErrors naming the problem") {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK(parse(bytes_of(ok, 8)).matrix<double>("a").cols() == 2);
  // The header length.
  CHECK_THROWS_NAMING(parse({1, 2, 3}), FormatError, "truncated");
  CHECK_THROWS_NAMING(parse(bytes_of(ok, std::vector<unsigned char>(8), 1000)), FormatError, "exceeds");
  CHECK_THROWS_NAMING(parse(bytes_of(ok, std::vector<unsigned char>(8), ~std::uint64_t(0))), FormatError, "exceeds");
  CHECK_THROWS_NAMING(parse(bytes_of("{", std::vector<unsigned char>{}, 1)), FormatError, "too short");
  CHECK_THROWS_NAMING(parse(bytes_of(" {}", 0)), FormatError, "does not start with '{'");
  // The JSON.
  CHECK_THROWS_NAMING(parse(bytes_of("{\"a\":", 0)), FormatError, "not valid JSON");
  CHECK_THROWS_NAMING(parse(bytes_of("{} trailing", 0)), FormatError, "not valid JSON");
  CHECK_THROWS_NAMING(
      parse(bytes_of(
          R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
          8)),
      FormatError, "names 'a' twice");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":3})", 0)), FormatError, "tensor 'a' is not an object");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"__metadata__":{"k":1}})", 0)), FormatError, "not a string");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"__metadata__":[1]})", 0)), FormatError, "__metadata__ is not an object");
  // Fields of a tensor.
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8)), FormatError, "no dtype");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", 8)), FormatError, "no shape");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"dtype":"F32","shape":[2]}})", 8)), FormatError, "no data_offsets");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8)), FormatError,
                      "no data_offsets");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"dtype":"C64","shape":[2],"data_offsets":[0,8]}})", 8)), FormatError,
                      "unsupported dtype 'C64'");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)), FormatError,
                      "shape entry");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8)), FormatError,
                      "shape entry");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", 8)),
                      FormatError, "unknown field 'x'");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-1,8]}})", 8)), FormatError,
                      "not non-negative integers");
  // Offsets against the buffer and against dtype x shape.
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)), FormatError,
                      "wrong order");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8)), FormatError,
                      "beyond the 8-byte buffer");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)), FormatError,
                      "need 12");
  CHECK_THROWS_NAMING(
      parse(bytes_of(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", 8)),
      FormatError, "more than the buffer");
  CHECK_THROWS_NAMING(
      parse(bytes_of(R"({"a":{"dtype":"F64","shape":[18446744073709551615,2],"data_offsets":[0,8]}})", 8)), FormatError,
      "too large");
  CHECK(parse(bytes_of(R"({"a":{"dtype":"F64","shape":[4294967296,0],"data_offsets":[0,0]}})", 0)).at("a").elements() ==
        0);
  // Tiling: overlap, hole, trailing bytes.
  CHECK_THROWS_NAMING(
      parse(bytes_of(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
          8)),
      FormatError, "overlaps");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)), FormatError,
                      "hole");
  CHECK_THROWS_NAMING(parse(bytes_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8)), FormatError,
                      "4 bytes after the last tensor");
}

TEST_CASE("safetensors: every truncation and random byte mutations raise FormatError or read, never crash") {
  std::mt19937_64 rng(aimastery::test::test_seed());
  Safetensors file;
  file.add("w", aimastery::test::random_matrix<float>(3, 4, rng));
  file.add("b", aimastery::test::random_matrix<double>(1, 3, rng));
  file.metadata["k"] = "v";
  const auto good = aimastery::serialize_safetensors(file);
  for (std::size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    const std::vector<unsigned char> prefix(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_AS(parse(prefix), FormatError);
  }
  std::uniform_int_distribution<std::size_t> position(0, good.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  int parsed = 0, refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    auto mutated = good;
    const int flips = 1 + trial % 4;
    for (int f = 0; f < flips; ++f) mutated[position(rng)] = static_cast<unsigned char>(byte(rng));
    try {
      const auto result = parse(mutated);
      for (const auto& [name, t] : result.tensors)
        CHECK(t.bytes.size() == static_cast<std::size_t>(t.elements()) * aimastery::detail::dtype_info(t.dtype).bytes);
      ++parsed;
    } catch (const FormatError&) {
      ++refused;
    }
  }
  MESSAGE("mutations: " << parsed << " parsed, " << refused << " refused");
  CHECK(parsed + refused == 3000);
  CHECK(refused > 0);
}

TEST_CASE("safetensors: bad arguments name the problem") {
  Safetensors file;
  file.add("m", Matrix<double>::Ones(2, 2));
  CHECK_THROWS_NAMING(file.at("missing"), InvalidArgument, "no tensor named 'missing'");
  CHECK_THROWS_NAMING(file.matrix<double>("missing"), InvalidArgument, "no tensor named 'missing'");
  aimastery::Tensor<double> cube({2, 2, 2});
  file.add("cube", cube);
  CHECK_THROWS_NAMING(file.matrix<double>("cube"), InvalidArgument, "rank 3");
  CHECK_THROWS_NAMING(file.add("__metadata__", Matrix<double>::Ones(1, 1)), InvalidArgument, "invalid tensor name");
  CHECK_THROWS_NAMING(file.add("", Matrix<double>::Ones(1, 1)), InvalidArgument, "invalid tensor name");
  const double one = 1.0;
  CHECK_THROWS_NAMING(file.add("h", {1}, &one, SafetensorsDtype::F16), InvalidArgument, "only F64 and F32");
  CHECK_THROWS_NAMING(file.add("n", {-1}, &one, SafetensorsDtype::F64), InvalidArgument, "negative dimension");
  file.tensors["bad"] = {SafetensorsDtype::F32, {3}, std::vector<unsigned char>(4)};
  CHECK_THROWS_NAMING(aimastery::serialize_safetensors(file), InvalidArgument, "tensor 'bad' has 4 bytes");
  file.tensors.erase("bad");
  file.add("\xff\xfe", Matrix<double>::Ones(1, 1));
  CHECK_THROWS_NAMING(aimastery::serialize_safetensors(file), InvalidArgument, "not valid UTF-8");
  file.tensors.erase("\xff\xfe");
  file.metadata["k"] = "\xc3";
  CHECK_THROWS_NAMING(aimastery::serialize_safetensors(file), InvalidArgument, "not valid UTF-8");
  CHECK_THROWS_NAMING(aimastery::read_safetensors("/nonexistent/weights.safetensors"), FormatError, "cannot open");
  CHECK_THROWS_NAMING(aimastery::write_safetensors("/nonexistent/dir/w.safetensors", Safetensors{}), FormatError,
                      "cannot open");
}

namespace {

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

}  // namespace

TEST_CASE("read_safetensors: a directory is a FormatError naming the path, for the network's load too") {
  const std::string dir = std::filesystem::temp_directory_path().string();
  const std::string expected = "read_safetensors: '" + dir + "' is a directory, not a file";
  CHECK_THROWS_NAMING(aimastery::read_safetensors(dir), FormatError, expected.c_str());
  try {
    (void)aimastery::read_safetensors(dir);
  } catch (const FormatError& e) {
    CHECK(std::string(e.what()).find("9223372036854775807") == std::string::npos);
  }
  aimastery::NeuralNetwork<double> net;
  net.add<aimastery::Dense<double>>(2, 1);
  CHECK_THROWS_NAMING(net.load(dir), FormatError, expected.c_str());
}

TEST_CASE("read_safetensors: a huge sparse file is refused from its header, before any allocation of its size") {
  const std::string path = temporary_path("sparse.safetensors");
  const std::uint64_t apparent = std::uint64_t(1) << 40;  // 1 TiB, no block of it stored
  // A header length of 0 ...
  write_bytes(path, std::vector<unsigned char>(8, 0));
  std::filesystem::resize_file(path, apparent);
  REQUIRE(std::filesystem::file_size(path) == apparent);
  CHECK_THROWS_NAMING(aimastery::read_safetensors(path), FormatError, "header length 0 is too short");
  // ... and a valid header whose one tensor leaves the rest of the terabyte unclaimed.
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  write_bytes(path, bytes_of(header, 8));
  std::filesystem::resize_file(path, apparent);
  const std::string trailing = std::to_string(apparent - 8 - header.size() - 8) + " bytes after the last tensor";
  CHECK_THROWS_NAMING(aimastery::read_safetensors(path), FormatError, trailing.c_str());
  // A header length beyond the file.
  write_bytes(path, bytes_of(header, std::vector<unsigned char>(8), 1000));
  CHECK_THROWS_NAMING(aimastery::read_safetensors(path), FormatError,
                      "header length 1000 exceeds the 62 bytes after it");
  std::filesystem::remove(path);
}

TEST_CASE("read_safetensors and parse_safetensors agree on every truncation of a valid file") {
  std::mt19937_64 rng(aimastery::test::test_seed());
  Safetensors file;
  file.add("w", aimastery::test::random_matrix<float>(3, 4, rng));
  file.add("b", aimastery::test::random_matrix<double>(1, 3, rng));
  const auto good = aimastery::serialize_safetensors(file);
  const std::string path = temporary_path("truncated.safetensors");
  for (std::size_t n = 0; n < good.size(); n += 7) {
    CAPTURE(n);
    write_bytes(path, std::vector<unsigned char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
    CHECK_THROWS_AS(aimastery::read_safetensors(path), FormatError);
  }
  write_bytes(path, good);
  const auto back = aimastery::read_safetensors(path);
  CHECK(back.at("w").bytes == file.at("w").bytes);
  CHECK(back.at("b").bytes == file.at("b").bytes);
  std::filesystem::remove(path);
}

TEST_CASE("safetensors: BOOL bytes other than 0 and 1 are refused") {
  const std::string header = R"({"m":{"dtype":"BOOL","shape":[2,2],"data_offsets":[0,4]}})";
  const auto ok = parse(bytes_of(header, {0, 1, 1, 0}, header.size()));
  CHECK(ok.at("m").values<double>() == std::vector<double>{0, 1, 1, 0});
  CHECK_THROWS_NAMING(parse(bytes_of(header, {0, 1, 2, 0}, header.size())), FormatError,
                      "tensor 'm' (BOOL) holds the byte 2 at element 2, a bool is 0 or 1");
  CHECK_THROWS_NAMING(parse(bytes_of(header, {255, 0, 0, 0}, header.size())), FormatError, "holds the byte 255");
  const std::string path = temporary_path("bool.safetensors");
  write_bytes(path, bytes_of(header, {1, 1, 1, 7}, header.size()));
  CHECK_THROWS_NAMING(aimastery::read_safetensors(path), FormatError, "holds the byte 7 at element 3");
  std::filesystem::remove(path);
}

TEST_CASE("SafetensorsTensor: element counts are checked, never overflowing") {
  const Index big = Index(1) << 40;
  aimastery::SafetensorsTensor t{SafetensorsDtype::F32, {big, big}, {}};
  CHECK_THROWS_NAMING(t.elements(), InvalidArgument, "more elements than an Index holds");
  t.shape = {big, big, 0};
  CHECK(t.elements() == 0);
  t.shape = {3, -2};
  CHECK_THROWS_NAMING(t.elements(), InvalidArgument, "negative dimension");
  t.shape = {std::numeric_limits<Index>::max() / 2 + 1, 2};
  CHECK_THROWS_NAMING(t.elements(), InvalidArgument, "more elements than an Index holds");
  t.shape = {std::numeric_limits<Index>::max()};
  CHECK(t.elements() == std::numeric_limits<Index>::max());
  // Bytes that do not match the shape are refused instead of being read past their end.
  Safetensors file;
  file.tensors["short"] = {SafetensorsDtype::F32, {2, 3}, std::vector<unsigned char>(8)};
  CHECK_THROWS_NAMING(file.matrix<double>("short"), InvalidArgument, "8 bytes, dtype F32 and shape (2, 3) need 24");
  CHECK_THROWS_NAMING(file.tensor<double>("short"), InvalidArgument, "need 24");
  file.tensors["huge"] = {SafetensorsDtype::F64, {big, big}, {}};
  CHECK_THROWS_NAMING(file.matrix<float>("huge"), InvalidArgument, "overflow");
  CHECK_THROWS_NAMING(aimastery::serialize_safetensors(file), InvalidArgument, "its dtype and shape overflow");
  const double one = 1.0;
  CHECK_THROWS_NAMING(Safetensors{}.add("h", {big, big}, &one, SafetensorsDtype::F64), InvalidArgument, "overflows");
}
