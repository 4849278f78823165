// Deep learning: an MLP on the digits, its learning curve, and a save/load round trip through safetensors.
#include <aimastery/io/csv.hpp>
#include <aimastery/ml/deep_learning.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "tour.hpp"

AIMASTERY_TOUR_SECTION(40, "Deep learning: an MLP on the digits, saved and reloaded as safetensors") {
  using namespace aimastery;
  const auto digits = read_csv<float>(data_dir + "/digits.csv");
  const IndexVector y = digits.labels();
  // Every fourth sample is held out for testing; the pixels (0..16) are scaled to [0, 1].
  const Index n = digits.X.rows();
  std::vector<Index> train, test;
  for (Index i = 0; i < n; ++i) (i % 4 == 0 ? test : train).push_back(i);
  const Matrix<float> X_train = digits.X(train, Eigen::all) / 16.0f, X_test = digits.X(test, Eigen::all) / 16.0f;
  const IndexVector y_train = y(train), y_test = y(test);

  NeuralNetwork<float> net;
  net.add<Dense<float>>(64, 128, DenseOptions{.initializer = Initializer::he_uniform, .seed = 1})
      .add<Activation<float>>(ActivationKind::relu)
      .add<Dense<float>>(128, 10, DenseOptions{.seed = 2});
  net.set_loss<CrossEntropyLoss<float>>().set_optimizer<Adam<float>>(AdamOptions<float>{.learning_rate = 2e-3f});
  net.build(64);
  std::cout << net.summary();

  std::printf("epoch  loss    train acc  val loss  val acc  (validation: the last 10%% of the training rows)\n");
  const auto history =
      net.fit(X_train, y_train,
              {.epochs = 30,
               .batch_size = 32,
               .seed = 3,
               .validation_split = 0.1,
               .schedule = std::make_shared<CosineAnnealingSchedule<float>>(CosineScheduleOptions<float>{.T_max = 30}),
               .on_epoch_end = [](const EpochLog<float>& e) {
                 if (e.epoch % 5 == 4 || e.epoch == 0)
                   std::printf("%5ld  %.4f  %.4f     %.4f    %.4f\n", static_cast<long>(e.epoch + 1), e.loss,
                               *e.accuracy, *e.val_loss, *e.val_accuracy);
               }});
  const auto result = net.evaluate(X_test, y_test);
  std::printf("test accuracy %.4f on %ld held-out digits (loss %.4f)\n", *result.accuracy,
              static_cast<long>(y_test.size()), result.loss);

  const std::string path = (std::filesystem::temp_directory_path() / "aimastery_tour_mlp.safetensors").string();
  net.save(path);
  NeuralNetwork<float> reloaded;
  reloaded.add<Dense<float>>(64, 128).add<Activation<float>>(ActivationKind::relu).add<Dense<float>>(128, 10);
  reloaded.load(path);
  const bool same = reloaded.predict(X_test) == net.predict(X_test);
  std::printf("saved %zu bytes to %s (tensors 0.weight 0.bias 2.weight 2.bias); reloaded predictions %s\n",
              static_cast<std::size_t>(std::filesystem::file_size(path)), path.c_str(), same ? "identical" : "DIFFER");
  std::filesystem::remove(path);
  if (!same) throw std::runtime_error("tour: reloaded network predicts differently");
}
