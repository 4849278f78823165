// Fine-tuning: an MLP pretrained on the digits 0-4, adapted to the digits 5-9 with LoRA and with QLoRA
// (frozen weights in NF4), the adapter saved in PEFT's layout and reloaded.
#include <aimastery/io/csv.hpp>
#include <aimastery/llm/fine_tuning.hpp>
#include <aimastery/ml/deep_learning.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "tour.hpp"

namespace {

using namespace aimastery;

struct Split {
  Matrix<float> X;
  IndexVector y;
};

/// The rows whose label satisfies `keep`, pixels scaled to [0, 1].
template <class Keep>
Split select(const Matrix<float>& X, const IndexVector& y, const std::vector<Index>& rows, Keep keep) {
  std::vector<Index> kept;
  for (Index i : rows)
    if (keep(y(i))) kept.push_back(i);
  return {X(kept, Eigen::all) / 16.0f, y(kept)};
}

NeuralNetwork<float> mlp() {
  NeuralNetwork<float> net;
  net.add<Dense<float>>(64, 1024, DenseOptions{.initializer = Initializer::he_uniform, .seed = 1})
      .add<Activation<float>>(ActivationKind::relu)
      .add<Dense<float>>(1024, 1024, DenseOptions{.initializer = Initializer::he_uniform, .seed = 2})
      .add<Activation<float>>(ActivationKind::relu)
      .add<Dense<float>>(1024, 10, DenseOptions{.seed = 3});
  net.set_loss<CrossEntropyLoss<float>>();
  return net;
}

/// Trains the adapter for `epochs` and prints accuracy before and after and the time per epoch.
void adapt(const char* what, NeuralNetwork<float>& net, const LoRAReport& report, const Split& train,
           const Split& test) {
  std::printf("%s: %ld trainable of %ld parameters (%.2f%%), on layers", what,
              static_cast<long>(report.trainable_parameters), static_cast<long>(report.total_parameters),
              report.trainable_percent());
  for (const auto& name : report.wrapped) std::printf(" %s", name.c_str());
  std::printf("\n  accuracy on the test digits 5-9 before: %.4f\n", *net.evaluate(test.X, test.y).accuracy);
  net.set_optimizer<Adam<float>>(AdamOptions<float>{.learning_rate = 3e-3f});
  constexpr Index epochs = 10;
  const auto start = std::chrono::steady_clock::now();
  (void)net.fit(train.X, train.y, {.epochs = epochs, .batch_size = 32, .seed = 5});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  after %ld epochs: %.4f (%.3f s per epoch, one thread)\n", static_cast<long>(epochs),
              *net.evaluate(test.X, test.y).accuracy, seconds / epochs);
}

}  // namespace

AIMASTERY_TOUR_SECTION(75, "Fine-tuning: LoRA and QLoRA adapt an MLP from the digits 0-4 to the digits 5-9") {
  namespace fs = std::filesystem;
  const auto digits = read_csv<float>(data_dir + "/digits.csv");
  const IndexVector y = digits.labels();
  std::vector<Index> train_rows, test_rows;
  for (Index i = 0; i < digits.X.rows(); ++i) (i % 4 == 0 ? test_rows : train_rows).push_back(i);
  const auto low = [](Index label) { return label < 5; };
  const auto high = [](Index label) { return label >= 5; };
  const Split task_a = select(digits.X, y, train_rows, low), test_a = select(digits.X, y, test_rows, low);
  const Split task_b = select(digits.X, y, train_rows, high), test_b = select(digits.X, y, test_rows, high);

  // Pretraining on task A (the digits 0-4) with every weight trainable.
  NeuralNetwork<float> net = mlp();
  net.set_optimizer<Adam<float>>(AdamOptions<float>{.learning_rate = 1e-3f});
  (void)net.fit(task_a.X, task_a.y, {.epochs = 10, .batch_size = 32, .seed = 4});
  std::printf("pretrained on the digits 0-4: test accuracy %.4f on 0-4\n", *net.evaluate(test_a.X, test_a.y).accuracy);
  const fs::path dir = fs::temp_directory_path() / "aimastery_tour_lora";
  fs::create_directories(dir);
  net.save((dir / "base.safetensors").string());

  // LoRA on all three Dense layers, rank 2.
  const LoRAConfig config{.target_modules = {"all-linear"}, .options = {.r = 2, .alpha = 8.0, .seed = 6}};
  const LoRAReport report = apply_lora(net, config);
  adapt("LoRA", net, report, task_b, test_b);
  save_lora_adapter(net, (dir / "adapter").string());

  // The adapter reloaded onto a fresh copy of the base gives the same predictions.
  NeuralNetwork<float> reloaded = mlp();
  reloaded.load((dir / "base.safetensors").string());
  load_lora_adapter(reloaded, (dir / "adapter").string());
  const bool same = reloaded.predict(test_b.X) == net.predict(test_b.X);
  std::printf(
      "  adapter saved as PEFT's adapter_model.safetensors (%zu bytes) + adapter_config.json; reloaded "
      "predictions %s\n",
      static_cast<std::size_t>(fs::file_size(dir / "adapter" / "adapter_model.safetensors")),
      same ? "identical" : "DIFFER");

  // QLoRA: the same, with the frozen weights stored in NF4 (double quantisation, block 64).
  NeuralNetwork<float> quantized = mlp();
  quantized.load((dir / "base.safetensors").string());
  const LoRAReport q = apply_qlora(quantized, config);
  const auto& hidden = dynamic_cast<const NF4Linear&>(quantized.layer(2)).weight();
  std::printf("QLoRA base weight: %.3f bits per parameter (%zu bytes for the 1024 x 1024 layer, %zu in float)\n",
              hidden.bits_per_parameter(), hidden.storage_bytes(), static_cast<std::size_t>(4 * 1024 * 1024));
  adapt("QLoRA", quantized, q, task_b, test_b);
  fs::remove_all(dir);
  if (!same) throw std::runtime_error("tour: the reloaded adapter predicts differently");
}
