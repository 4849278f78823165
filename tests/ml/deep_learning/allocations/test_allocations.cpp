// Heap allocations of a training step, counted by replacing the global operator new in this program.
//
// Checks build their messages only when they fail, so validation allocates nothing: every string,
// vector, map node or other object made with operator new is counted here, and a steady-state step
// makes none. (Eigen's matrix buffers come from its aligned malloc, not operator new, so they are not
// counted: a step still allocates the matrices the Layer and Loss interfaces return by value, one per
// layer forward, one per layer backward but the first's, and the loss gradient.)

// The replaced operator new takes its memory from malloc and operator delete returns it with free: GCC 12
// cannot see that the pair matches.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <atomic>
#include <cstdlib>
#include <new>

#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/losses.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"
#include "aimastery/ml/deep_learning/optimizers.hpp"
#include "support.hpp"

namespace {
std::atomic<long> allocations{0};
std::atomic<bool> counting{false};
}  // namespace

void* operator new(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace aimastery;

namespace {

/// The number of operator new calls made by f().
template <class F>
long allocations_of(F&& f) {
  allocations = 0;
  counting = true;
  f();
  counting = false;
  return allocations.load();
}

}  // namespace

TEST_CASE("Optimizer::step allocates nothing once every parameter has its state") {
  Parameter<float> w(Matrix<float>::Ones(64, 32)), b(Matrix<float>::Ones(1, 32));
  const ParameterList<float> list{{"0.weight_with_a_long_name", &w, true}, {"0.bias_with_a_long_name", &b, true}};
  w.grad.setConstant(0.1f);
  b.grad.setConstant(0.1f);
  SGD<float> sgd({.learning_rate = 0.1f, .momentum = 0.9f, .nesterov = true, .weight_decay = 0.01f});
  Adam<float> adam({.weight_decay = 0.01f, .amsgrad = true});
  AdamW<float> adamw;
  RMSprop<float> rmsprop({.weight_decay = 0.01f, .momentum = 0.9f, .centered = true});
  for (Optimizer<float>* optimizer : std::initializer_list<Optimizer<float>*>{&sgd, &adam, &adamw, &rmsprop}) {
    CAPTURE(optimizer->name());
    optimizer->step(list);  // warm-up: creates the state
    CHECK(allocations_of([&] {
            for (int i = 0; i < 10; ++i) optimizer->step(list);
          }) == 0);
  }
}

TEST_CASE("a steady-state training step allocates only the matrices the layers return, never a message") {
  NeuralNetwork<float> net;
  net.add<Dense<float>>(20, 16, DenseOptions{.seed = 1})
      .add<Activation<float>>(ActivationKind::relu)
      .add<Dense<float>>(16, 12, DenseOptions{.seed = 2})
      .add<Activation<float>>(ActivationKind::tanh)
      .add<Dense<float>>(12, 4, DenseOptions{.seed = 3});
  net.set_loss<CrossEntropyLoss<float>>().set_optimizer<Adam<float>>(AdamOptions<float>{.learning_rate = 1e-3f});
  Matrix<float> X(32, 20);
  IndexVector y(32);
  for (Index i = 0; i < X.rows(); ++i) {
    y(i) = i % 4;
    for (Index j = 0; j < X.cols(); ++j) X(i, j) = static_cast<float>((i * 7 + j * 3) % 11) / 5.0f - 1.0f;
  }
  for (int i = 0; i < 3; ++i) net.train_on_batch(X, y);  // warm-up: caches, optimiser state, packing buffers

  for (int step = 0; step < 5; ++step) {
    CAPTURE(step);
    CHECK(allocations_of([&] { net.train_on_batch(X, y); }) == 0);
  }
  // A forward builds no message either.
  net.eval();
  CHECK(allocations_of([&] { (void)net.forward(X); }) == 0);
  CHECK(allocations_of([&] { (void)net.predict(X); }) == 0);
  // The counter works: a failing check does build its message.
  CHECK(allocations_of([&] {
          try {
            (void)net.forward(Matrix<float>::Ones(2, 3));
          } catch (const InvalidArgument&) {
          }
        }) > 0);

  // fit allocates per call (the shuffled order, the history), never per step: an epoch of 20 steps
  // allocates as much as an epoch of 10.
  Matrix<float> X2(640, 20);
  IndexVector y2(640);
  for (Index i = 0; i < X2.rows(); ++i) {
    y2(i) = i % 4;
    X2.row(i) = X.row(i % 32);
  }
  const Matrix<float> X1 = X2.topRows(320);
  const IndexVector y1 = y2.head(320);
  net.fit(X2, y2, {.epochs = 1, .batch_size = 32});
  const long ten_steps = allocations_of([&] { net.fit(X1, y1, {.epochs = 1, .batch_size = 32}); });
  const long twenty_steps = allocations_of([&] { net.fit(X2, y2, {.epochs = 1, .batch_size = 32}); });
  CHECK(twenty_steps == ten_steps);
}
