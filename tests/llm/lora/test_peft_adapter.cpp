// LoRA adapters in PEFT's layout: an adapter trained by PEFT (tests/reference/gen_llm_lora.py) loads here and
// gives PEFT's outputs, gradients and merged weights; one written here reads back; malformed files and
// adapters for another model are FormatErrors that leave the network as it was. The test case "writes an
// adapter for the PEFT peer" also feeds the Python peer test (peer_peft_load.py, ctest label `peer`).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "aimastery/core/probability/sampling.hpp"
#include "aimastery/io/safetensors.hpp"
#include "aimastery/llm/fine_tuning/apply_lora.hpp"
#include "aimastery/llm/fine_tuning/peft_adapter.hpp"
#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/adam.hpp"
#include "aimastery/ml/deep_learning/losses.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"
#include "aimastery/ml/deep_learning/neural_network_io.hpp"
#include "support.hpp"

using namespace aimastery;
namespace fs = std::filesystem;

namespace {

const std::string data_dir = std::string(AIMASTERY_REFERENCE_DIR) + "/llm_lora";

const Safetensors& reference() {
  static const Safetensors file = read_safetensors(data_dir + "/reference.safetensors");
  return file;
}

template <class T>
Matrix<T> ref(const std::string& name) {
  return reference().matrix<T>(name);
}

/// The reference model's architecture (gen_llm_lora.py), with `last` outputs, loaded with its weights
/// when `last` is 3.
template <class T>
NeuralNetwork<T> reference_mlp(Index last = 3) {
  NeuralNetwork<T> net;
  net.template add<Dense<T>>(6, 16)
      .template add<Activation<T>>(ActivationKind::relu)
      .template add<Dense<T>>(16, 12)
      .template add<Activation<T>>(ActivationKind::tanh)
      .template add<Dense<T>>(12, last);
  if (last == 3) net.load(data_dir + "/base.safetensors");
  return net;
}

/// |a − b| ≤ 1e-5 · max(1, |b|) everywhere.
template <class A, class B>
bool agree(const A& a, const B& b, double tolerance = 1e-5) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  const Matrix<double> x = a.template cast<double>(), y = b.template cast<double>();
  const double error = ((x - y).array().abs() / y.array().abs().max(1.0)).maxCoeff();
  INFO("largest error " << error);
  return error <= tolerance;
}

/// A fresh directory under the system's temporary directory, removed at the end of the scope.
struct TemporaryDirectory {
  fs::path path;
  explicit TemporaryDirectory(const std::string& name)
      : path(fs::temp_directory_path() / ("aimastery_lora_" + std::to_string(::getpid()) + "_" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TemporaryDirectory() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  [[nodiscard]] std::string str() const { return path.string(); }
};

void copy_adapter(const std::string& from, const fs::path& to) {
  fs::create_directories(to);
  for (const char* file : {"adapter_config.json", "adapter_model.safetensors"})
    fs::copy_file(fs::path(from) / file, to / file, fs::copy_options::overwrite_existing);
}

template <class T>
std::vector<std::string> parameter_names(const NeuralNetwork<T>& net) {
  std::vector<std::string> names;
  for (const auto& p : net.parameters()) names.push_back(p.name);
  return names;
}

}  // namespace

TEST_CASE_TEMPLATE("an adapter trained by PEFT loads here and gives PEFT's outputs, gradients and merged weights", T,
                   float, double) {
  NeuralNetwork<T> net = reference_mlp<T>();
  const Matrix<T> X = ref<T>("X");
  CHECK(agree(net.predict(X), ref<T>("base_output")));

  load_lora_adapter(net, data_dir + "/peft_trained");
  CHECK(net.layer(0).name() == "LinearWithLoRA(6 -> 16, r=4)");
  CHECK(net.layer(2).name() == "LinearWithLoRA(16 -> 12, r=4)");
  CHECK(net.layer(4).name() == "LinearWithLoRA(12 -> 3, r=2)");  // rank_pattern {"4": 2}
  CHECK(agree(net.predict(X), ref<T>("trained_output")));

  // ∂(Σ G ⊙ output)/∂A, ∂B as PyTorch's autograd through PEFT computes them.
  net.eval();
  net.zero_grad();
  (void)net.forward(X);
  (void)net.backward(ref<T>("G"));
  for (const auto& p : net.parameters()) {
    if (!p.trainable) {
      CHECK(p.parameter->grad.isZero(0));  // the frozen base gets nothing
      continue;
    }
    INFO(p.name);
    CHECK(agree(p.parameter->grad, ref<T>("grad." + p.name)));
  }

  // merge() folds ΔW into W as merge_and_unload does.
  for (std::size_t i : {0u, 2u, 4u}) {
    auto& layer = dynamic_cast<LinearWithLoRA<T>&>(net.layer(i));
    layer.merge();
    CHECK(agree(layer.base().weight().value, ref<T>("merged." + std::to_string(i) + ".weight")));
  }
  CHECK(agree(net.predict(X), ref<T>("merged_output")));

  // rsLoRA (scale α/√r) with lora_dropout, which is off in evaluation.
  NeuralNetwork<T> rs = reference_mlp<T>();
  load_lora_adapter(rs, data_dir + "/peft_rslora");
  CHECK(rs.layer(0).name() == "Dense(6 -> 16)");
  const auto& lora = dynamic_cast<LinearWithLoRA<T>&>(rs.layer(2)).lora();
  CHECK(lora.options().use_rslora);
  CHECK(lora.options().dropout == doctest::Approx(0.1));
  CHECK(lora.scale() == doctest::Approx(4.0 / std::sqrt(2.0)));
  CHECK(agree(rs.predict(X), ref<T>("rslora_output")));
}

TEST_CASE_TEMPLATE("an adapter written here has PEFT's layout and reads back", T, float, double) {
  TemporaryDirectory dir("roundtrip");
  NeuralNetwork<T> net = reference_mlp<T>();
  apply_lora(net, {.target_modules = {"0", "4"}, .options = {.r = 3, .alpha = 5.0, .seed = 9}});
  dynamic_cast<LinearWithLoRA<T>&>(net.layer(0)).lora().B().value.setConstant(T(0.25));
  auto& last = dynamic_cast<LinearWithLoRA<T>&>(net.layer(4)).lora();
  last.B().value.setConstant(T(-0.5));
  const Matrix<T> X = ref<T>("X");
  const Matrix<T> expected = net.predict(X);
  save_lora_adapter(net, dir.str() + "/adapter");
  // Missing parents are created; a regular file on the way is named.
  save_lora_adapter(net, dir.str() + "/nested/deeper/adapter/");
  CHECK(std::filesystem::is_regular_file(dir.str() + "/nested/deeper/adapter/adapter_config.json"));
  std::ofstream(dir.str() + "/blocker") << "x";
  const std::string expected_message =
      "save_lora_adapter: cannot create '" + dir.str() + "/blocker/adapter': '" + dir.str() + "/blocker': File exists";
  CHECK_THROWS_NAMING(save_lora_adapter(net, dir.str() + "/blocker/adapter"), FormatError, expected_message.c_str());

  const Safetensors file = read_safetensors(dir.str() + "/adapter/adapter_model.safetensors");
  CHECK(file.tensors.size() == 4);
  CHECK(file.at("base_model.model.0.lora_A.weight").shape == std::vector<Index>{3, 6});
  CHECK(file.at("base_model.model.4.lora_B.weight").shape == std::vector<Index>{3, 3});
  std::ifstream in(dir.str() + "/adapter/adapter_config.json");
  const nlohmann::json config = nlohmann::json::parse(in);
  CHECK(config["peft_type"] == "LORA");
  CHECK(config["r"] == 3);
  CHECK(config["lora_alpha"] == 5);
  CHECK(config["target_modules"] == nlohmann::json({"0", "4"}));
  CHECK(config["use_rslora"] == false);

  // Into the bare base: wrapped as the file says.
  NeuralNetwork<T> fresh = reference_mlp<T>();
  load_lora_adapter(fresh, dir.str() + "/adapter");
  CHECK(fresh.predict(X) == expected);
  // Into a network that has LoRA already: only A and B change.
  NeuralNetwork<T> wrapped = reference_mlp<T>();
  apply_lora(wrapped, {.target_modules = {"0", "4"}, .options = {.r = 3, .alpha = 5.0, .seed = 1}});
  load_lora_adapter(wrapped, dir.str() + "/adapter");
  CHECK(wrapped.predict(X) == expected);
}

TEST_CASE("save_lora_adapter writes rank_pattern and alpha_pattern where the modules differ") {
  TemporaryDirectory dir("patterns");
  NeuralNetwork<double> net = reference_mlp<double>();
  apply_lora(net, {.target_modules = {"0", "2"}, .options = {.r = 4, .alpha = 8.0}});
  apply_lora(net, {.target_modules = {"4"}, .options = {.r = 2, .alpha = 3.0}});
  save_lora_adapter(net, dir.str());
  std::ifstream in(dir.str() + "/adapter_config.json");
  const nlohmann::json config = nlohmann::json::parse(in);
  CHECK(config["rank_pattern"] == nlohmann::json({{"4", 2}}));
  CHECK(config["alpha_pattern"] == nlohmann::json({{"4", 3}}));
  NeuralNetwork<double> back = reference_mlp<double>();
  load_lora_adapter(back, dir.str());
  CHECK(back.layer(4).name() == "LinearWithLoRA(12 -> 3, r=2)");
  CHECK(dynamic_cast<LinearWithLoRA<double>&>(back.layer(4)).lora().scale() == 1.5);
}

TEST_CASE("load_lora_adapter's bad files: FormatError naming the problem, and the network as it was") {
  TemporaryDirectory dir("bad");
  NeuralNetwork<float> net = reference_mlp<float>();
  const Matrix<float> X = ref<float>("X");
  const Matrix<float> out = net.predict(X);
  const std::vector<std::string> names = parameter_names(net);
  const auto unchanged = [&] {
    CHECK(parameter_names(net) == names);
    CHECK(net.predict(X) == out);
  };
  const fs::path adapter = dir.path / "adapter";
  const auto reset = [&] { copy_adapter(data_dir + "/peft_trained", adapter); };
  const auto write_config = [&](const std::function<void(nlohmann::json&)>& edit) {
    reset();
    std::ifstream in(adapter / "adapter_config.json");
    nlohmann::json config = nlohmann::json::parse(in);
    edit(config);
    std::ofstream(adapter / "adapter_config.json", std::ios::trunc) << config.dump();
  };

  SUBCASE("a truncated adapter_model.safetensors") {
    reset();
    const auto size = fs::file_size(adapter / "adapter_model.safetensors");
    for (const std::uintmax_t keep : {std::uintmax_t(0), std::uintmax_t(7), std::uintmax_t(100), size - 1}) {
      fs::resize_file(adapter / "adapter_model.safetensors", keep);
      CHECK_THROWS_AS(load_lora_adapter(net, adapter.string()), FormatError);
      unchanged();
      reset();
    }
  }
  SUBCASE("an adapter for another base shape") {
    NeuralNetwork<float> other = reference_mlp<float>(4);  // its last layer is 12 -> 4
    const std::vector<std::string> before = parameter_names(other);
    CHECK_THROWS_NAMING(
        load_lora_adapter(other, data_dir + "/peft_trained"), FormatError,
        "tensor 'base_model.model.4.lora_B.weight' has shape (3, 2) but layer 4 (12 -> 4) needs (4, 2)");
    CHECK(parameter_names(other) == before);
    NeuralNetwork<float> small;
    small.add<Dense<float>>(6, 3);
    CHECK_THROWS_NAMING(load_lora_adapter(small, data_dir + "/peft_trained"), FormatError,
                        "target module '4' matches no layer; the network's modules are: 0 Dense(6 -> 3)");
  }
  SUBCASE("an adapter whose ranks differ from the LoRA already applied") {
    apply_lora(net, {.target_modules = {"0", "2", "4"}, .options = {.r = 2}});
    const std::vector<std::string> wrapped = parameter_names(net);
    const Matrix<float> wrapped_out = net.predict(X);
    CHECK_THROWS_NAMING(load_lora_adapter(net, data_dir + "/peft_trained"), FormatError,
                        "layer 0 (6 -> 16) has LoRA rank 2 (scale 4), the adapter's is rank 4 (alpha 8)");
    CHECK(parameter_names(net) == wrapped);
    CHECK(net.predict(X) == wrapped_out);
    dynamic_cast<LinearWithLoRA<float>&>(net.layer(0)).merge();
    CHECK_THROWS_NAMING(load_lora_adapter(net, data_dir + "/peft_trained"), InvalidArgument,
                        "layer 0 is merged (unmerge before loading an adapter)");
  }
  SUBCASE("missing and malformed configuration files") {
    reset();
    fs::remove(adapter / "adapter_config.json");
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError, "adapter_config.json' cannot open");
    std::ofstream(adapter / "adapter_config.json") << "{\"r\": 4, ";
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError,
                        "adapter_config.json: is not valid JSON (byte 9: expected a member name");
    std::ofstream(adapter / "adapter_config.json", std::ios::trunc) << "[4]";
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError, "is not a JSON object");
    write_config([](nlohmann::json& c) { c["r"] = 0; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError, "\"r\" must be an integer >= 1");
    write_config([](nlohmann::json& c) { c["lora_alpha"] = -1; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError, "lora_alpha must be > 0");
    write_config([](nlohmann::json& c) { c["use_dora"] = true; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError, "DoRA");
    write_config([](nlohmann::json& c) { c["peft_type"] = "IA3"; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError, "peft_type is \"IA3\"");
    write_config([](nlohmann::json& c) { c["target_modules"] = ".*"; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError, "regular expression");
    write_config([](nlohmann::json& c) { c["target_modules"] = 5; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError, "malformed configuration");
    write_config([](nlohmann::json& c) { c["target_modules"] = {"0", 4}; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError,
                        "target_modules must be a list of names");
    write_config([](nlohmann::json& c) { c["lora_alpha"] = "8"; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError, "lora_alpha must be a number");
    write_config([](nlohmann::json& c) { c["use_dora"] = "yes"; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError, "use_dora must be true or false");
    write_config([](nlohmann::json& c) { c["r"] = 1e30; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError, "\"r\" must be an integer >= 1");
    write_config([](nlohmann::json& c) { c["r"] = std::uint64_t(1) << 40; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError, "at most 2^20");
    write_config([](nlohmann::json& c) { c["rank_pattern"] = {{"0", 1e30}}; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError,
                        "rank_pattern[\"0\"] must be an integer in [1, 2^20]");
    write_config([](nlohmann::json& c) { c["alpha_pattern"] = {{"0", -2}}; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError,
                        "alpha_pattern[\"0\"] must be a positive number");
    write_config([](nlohmann::json& c) { c["lora_dropout"] = 1.5; });
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError,
                        "lora_dropout must be in [0, 1), got 1.5");
    write_config([](nlohmann::json& c) { c["target_modules"] = {"0", "2"}; });  // the file also has layer 4's tensors
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError,
                        "tensor 'base_model.model.4.lora_A.weight' matches no LoRA module");
    unchanged();
  }
  SUBCASE("a missing tensor and a non-finite one") {
    reset();
    Safetensors file = read_safetensors((adapter / "adapter_model.safetensors").string());
    file.tensors.erase("base_model.model.2.lora_B.weight");
    write_safetensors((adapter / "adapter_model.safetensors").string(), file);
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError,
                        "tensor 'base_model.model.2.lora_B.weight' is missing (layer 2 (16 -> 12))");
    Matrix<float> bad = Matrix<float>::Zero(12, 4);
    bad(3, 1) = std::numeric_limits<float>::quiet_NaN();
    file.add("base_model.model.2.lora_B.weight", bad);
    write_safetensors((adapter / "adapter_model.safetensors").string(), file);
    CHECK_THROWS_NAMING(load_lora_adapter(net, adapter.string()), FormatError, "contains NaN or infinity");
    unchanged();
  }
  SUBCASE("save_lora_adapter without LoRA") {
    CHECK_THROWS_NAMING(save_lora_adapter(net, adapter.string()), InvalidArgument, "the network has no LoRA layer");
  }
}

TEST_CASE("writes an adapter for the PEFT peer") {
  // ctest's writer entry sets AIMASTERY_LORA_PEER_DIR; the peer (peer_peft_load.py) then loads the base
  // and the adapter with PyTorch + PEFT and compares its outputs with ours.
  const char* env = std::getenv("AIMASTERY_LORA_PEER_DIR");
  TemporaryDirectory scratch("peer");
  const std::string dir = env ? std::string(env) : scratch.str();
  fs::create_directories(dir);

  NeuralNetwork<float> net;
  net.add<Dense<float>>(6, 16, DenseOptions{.seed = 1})
      .add<Activation<float>>(ActivationKind::relu)
      .add<Dense<float>>(16, 12, DenseOptions{.seed = 2})
      .add<Activation<float>>(ActivationKind::tanh)
      .add<Dense<float>>(12, 3, DenseOptions{.seed = 3});
  net.save(dir + "/base.safetensors");
  apply_lora(net, {.target_modules = {"0", "2", "4"}, .options = {.r = 3, .alpha = 6.0, .seed = 4}});
  RandomEngine rng(5);
  Matrix<float> X(40, 6), Y(40, 3);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = static_cast<float>(detail::standard_normal(rng));
  for (Index i = 0; i < Y.size(); ++i) Y.data()[i] = static_cast<float>(detail::standard_normal(rng));
  net.set_loss<MSELoss<float>>().set_optimizer<Adam<float>>(AdamOptions<float>{.learning_rate = 0.02f});
  const History<float> history = net.fit(X, Y, {.epochs = 20, .batch_size = 8, .seed = 6});
  CHECK(history.loss.back() < history.loss.front());
  save_lora_adapter(net, dir + "/adapter");

  Safetensors io;
  io.add("X", X);
  io.add("output", net.predict(X));
  io.metadata["format"] = "pt";
  write_safetensors(dir + "/io.safetensors", io);
  // Our own reader gives the same network back (the peer checks PEFT's).
  NeuralNetwork<float> back;
  back.add<Dense<float>>(6, 16).add<Activation<float>>(ActivationKind::relu).add<Dense<float>>(16, 12);
  back.add<Activation<float>>(ActivationKind::tanh).add<Dense<float>>(12, 3);
  back.load(dir + "/base.safetensors");
  load_lora_adapter(back, dir + "/adapter");
  CHECK(back.predict(X) == net.predict(X));
  if (env) MESSAGE("wrote the base, the adapter and the expected outputs to " << dir);
}
