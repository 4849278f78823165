// LoRA fine-tuning of all-MiniLM-L6-v2 as a text classifier.
//
//   lora_text_classifier MODEL_DIR [FORTUNES_DIR] [ADAPTER_DIR]
//
// MODEL_DIR: all-MiniLM-L6-v2 (tools/fetch_minilm.sh). FORTUNES_DIR: the fortune cookies of Debian's
// `fortunes` package (apt-get install fortunes; default /usr/share/games/fortunes; BSD licence, see
// /usr/share/doc/fortunes/copyright). The task: tell which of seven files a fortune comes from (computers,
// education, food, law, politics, science, work), 140 fortunes of at most 300 characters a class, split
// 70/30 (seeded, stratified).
//
// 1. Before: the encoder frozen, a softmax head (384 -> 4) trained on its sentence embeddings.
// 2. After: LoRA (r 8, alpha 16) on every layer's query and value, trained together with a new head
//    (3 epochs of minibatches of 16, Adam).
// 3. The adapter saved as PEFT's files, loaded back onto the base encoder, evaluated again.
#include <aimastery/core/probability/sampling.hpp>
#include <aimastery/llm/fine_tuning/sentence_encoder_adapter.hpp>
#include <aimastery/llm/fine_tuning/sentence_encoder_with_lora.hpp>
#include <aimastery/ml/deep_learning/adam.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace aimastery;

namespace {

struct Example {
  std::string text;
  int label;
};

/// The fortunes of one file: entries separated by lines "%", whitespace collapsed, at most 300 characters.
std::vector<std::string> read_fortunes(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path + " (apt-get install fortunes)");
  std::vector<std::string> out;
  std::string line, entry;
  const auto flush = [&] {
    std::istringstream words(entry);
    std::string word, text;
    while (words >> word) text += (text.empty() ? "" : " ") + word;
    if (!text.empty() && text.size() <= 300) out.push_back(text);
    entry.clear();
  };
  while (std::getline(in, line)) {
    if (line == "%")
      flush();
    else
      entry += line + " ";
  }
  flush();
  return out;
}

/// A softmax head z = e Wᵀ + b with its cross-entropy gradient.
struct Head {
  Parameter<float> W, b;
  explicit Head(Index classes, Index features)
      : W(Matrix<float>::Zero(classes, features)), b(Matrix<float>::Zero(1, classes)) {}
  [[nodiscard]] Matrix<float> logits(const Matrix<float>& e) const {
    Matrix<float> z = e * W.value.transpose();
    z.rowwise() += b.value.row(0);
    return z;
  }
  /// Mean cross-entropy of the batch; accumulates ∂L/∂W, ∂L/∂b and returns ∂L/∂e. With p = softmax(z):
  /// ∂L/∂z = (p − onehot(y)) / n.
  float backward(const Matrix<float>& e, const std::vector<int>& y, Matrix<float>& grad_e) {
    Matrix<float> z = logits(e);
    float loss = 0;
    for (Index i = 0; i < z.rows(); ++i) {
      const float top = z.row(i).maxCoeff();
      z.row(i) = (z.row(i).array() - top).exp().matrix();
      const float sum = z.row(i).sum();
      z.row(i) /= sum;
      loss -= std::log(std::max(z(i, y[static_cast<std::size_t>(i)]), 1e-30f));
      z(i, y[static_cast<std::size_t>(i)]) -= 1.0f;
    }
    z /= static_cast<float>(z.rows());
    W.grad += z.transpose() * e;
    b.grad += z.colwise().sum();
    grad_e = z * W.value;
    return loss / static_cast<float>(e.rows());
  }
  ParameterList<float> parameters() { return {{"head.weight", &W, true}, {"head.bias", &b, true}}; }
};

double accuracy(const Head& head, const Matrix<float>& e, const std::vector<Example>& data) {
  const Matrix<float> z = head.logits(e);
  Index right = 0;
  for (Index i = 0; i < z.rows(); ++i) {
    Index best = 0;
    z.row(i).maxCoeff(&best);
    right += best == data[static_cast<std::size_t>(i)].label;
  }
  return static_cast<double>(right) / static_cast<double>(z.rows());
}

std::vector<std::string> texts_of(const std::vector<Example>& data) {
  std::vector<std::string> t;
  for (const auto& d : data) t.push_back(d.text);
  return t;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR [FORTUNES_DIR] [ADAPTER_DIR]\n";
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines as they come, also into a file
  const std::string model_dir = argv[1];
  const std::string fortunes = argc > 2 ? argv[2] : "/usr/share/games/fortunes";
  const std::string adapter_dir = argc > 3 ? argv[3] : "lora_fortunes_adapter";
  const std::vector<std::string> classes = {"computers", "education", "food", "law", "politics", "science", "work"};
  constexpr std::size_t per_class = 140;
  RandomEngine rng(2026);
  std::vector<Example> train, test;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    std::vector<std::string> items = read_fortunes(fortunes + "/" + classes[c]);
    if (items.size() < per_class) throw std::runtime_error(classes[c] + " has too few fortunes");
    detail::shuffle(items.begin(), items.end(), rng);
    for (std::size_t i = 0; i < per_class; ++i)
      (i < per_class * 7 / 10 ? train : test).push_back({items[i], static_cast<int>(c)});
  }
  detail::shuffle(train.begin(), train.end(), rng);
  std::printf("data: %zu train, %zu test fortunes in %zu classes (Debian fortunes: %s)\n", train.size(), test.size(),
              classes.size(), "computers, education, food, law, politics, science, work");

  const SentenceEncoder base = SentenceEncoder::load(model_dir, {.max_seq_length = 64});
  const std::vector<std::string> train_texts = texts_of(train), test_texts = texts_of(test);
  std::vector<int> train_labels;
  for (const auto& d : train) train_labels.push_back(d.label);

  // 1. Frozen encoder, head only (full batch, Adam).
  Head head(static_cast<Index>(classes.size()), base.dimension());
  {
    const Matrix<float> e_train = base.encode(train_texts), e_test = base.encode(test_texts);
    Adam<float> adam(AdamOptions<float>{.learning_rate = 0.05f});
    Matrix<float> unused;
    for (int step = 0; step < 300; ++step) {
      adam.zero_grad(head.parameters());
      head.backward(e_train, train_labels, unused);
      adam.step(head.parameters());
    }
    std::printf("before (frozen encoder, softmax head): train accuracy %.3f, test accuracy %.3f\n",
                accuracy(head, e_train, train), accuracy(head, e_test, test));
  }

  // 2. LoRA on query and value, trained with the head.
  SentenceEncoderWithLoRA model(base,
                                {.target_modules = {"query", "value"}, .options = {.r = 8, .alpha = 16, .seed = 1}});
  const LoRAReport report = model.report();
  const Index head_parameters = head.W.value.size() + head.b.value.size();
  std::printf("LoRA: %zu modules, trainable %lld of %lld parameters (%.3f %%; with the head: %.3f %%)\n",
              report.wrapped.size(), static_cast<long long>(report.trainable_parameters),
              static_cast<long long>(report.total_parameters), report.trainable_percent(),
              100.0 * static_cast<double>(report.trainable_parameters + head_parameters) /
                  static_cast<double>(report.total_parameters + head_parameters));
  head = Head(static_cast<Index>(classes.size()), base.dimension());
  const auto ids = model.tokenize(train_texts);
  Adam<float> lora_adam(AdamOptions<float>{.learning_rate = 1e-3f});
  Adam<float> head_adam(AdamOptions<float>{.learning_rate = 1e-2f});
  constexpr std::size_t batch = 16;
  constexpr int epochs = 3;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    double loss = 0;
    for (std::size_t begin = 0; begin < ids.size(); begin += batch) {
      const std::size_t end = std::min(ids.size(), begin + batch);
      const std::vector<std::vector<std::int32_t>> x(ids.begin() + static_cast<std::ptrdiff_t>(begin),
                                                     ids.begin() + static_cast<std::ptrdiff_t>(end));
      const std::vector<int> y(train_labels.begin() + static_cast<std::ptrdiff_t>(begin),
                               train_labels.begin() + static_cast<std::ptrdiff_t>(end));
      lora_adam.zero_grad(model.parameters());
      head_adam.zero_grad(head.parameters());
      const Matrix<float> e = model.forward(x);
      Matrix<float> grad_e;
      loss += head.backward(e, y, grad_e) * static_cast<double>(end - begin);
      model.backward(grad_e);
      lora_adam.step(model.parameters());
      head_adam.step(head.parameters());
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("epoch %d: mean loss %.4f, %.1f s\n", epoch, loss / static_cast<double>(ids.size()), seconds);
  }
  const Matrix<float> after_test = model.encode(test_texts);
  std::printf("after (LoRA + head): train accuracy %.3f, test accuracy %.3f\n",
              accuracy(head, model.encode(train_texts), train), accuracy(head, after_test, test));

  // 3. The adapter as PEFT's files, and back.
  save_lora_adapter(model, adapter_dir);
  SentenceEncoderWithLoRA reloaded = load_lora_adapter(base, adapter_dir);
  const Matrix<float> reloaded_test = reloaded.encode(test_texts);
  std::printf("adapter saved to %s/ and reloaded: test accuracy %.3f, largest embedding difference %.3g\n",
              adapter_dir.c_str(), accuracy(head, reloaded_test, test),
              static_cast<double>((reloaded_test - after_test).cwiseAbs().maxCoeff()));
  return 0;
} catch (const std::exception& e) {
  std::cerr << "error: " << e.what() << '\n';
  return 1;
}
