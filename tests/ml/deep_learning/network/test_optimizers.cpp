// Optimisers, learning-rate schedules and gradient clipping against torch.optim, torch.optim.lr_scheduler
// and torch.nn.utils.clip_grad_norm_ (tests/reference/gen_deep_learning_network.py).

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aimastery/ml/deep_learning/optimizers.hpp"
#include "support.hpp"

using aimastery::Index;
using aimastery::InvalidArgument;
using aimastery::Matrix;
using aimastery::Parameter;
using aimastery::ParameterList;
namespace test = aimastery::test;

namespace {

template <class T>
std::unique_ptr<aimastery::Optimizer<T>> make_optimizer(const std::string& name, const nlohmann::json& o) {
  const auto get = [&](const char* key, double fallback) { return static_cast<T>(o.value(key, fallback)); };
  if (name == "SGD")
    return std::make_unique<aimastery::SGD<T>>(aimastery::SGDOptions<T>{.learning_rate = get("lr", 0),
                                                                        .momentum = get("momentum", 0),
                                                                        .dampening = get("dampening", 0),
                                                                        .nesterov = o.value("nesterov", false),
                                                                        .weight_decay = get("weight_decay", 0)});
  if (name == "Adam")
    return std::make_unique<aimastery::Adam<T>>(aimastery::AdamOptions<T>{.learning_rate = get("lr", 0),
                                                                          .beta1 = get("beta1", 0.9),
                                                                          .beta2 = get("beta2", 0.999),
                                                                          .eps = get("eps", 1e-8),
                                                                          .weight_decay = get("weight_decay", 0.0),
                                                                          .amsgrad = o.value("amsgrad", false)});
  if (name == "AdamW")
    return std::make_unique<aimastery::AdamW<T>>(aimastery::AdamWOptions<T>{.learning_rate = get("lr", 0),
                                                                            .beta1 = get("beta1", 0.9),
                                                                            .beta2 = get("beta2", 0.999),
                                                                            .eps = get("eps", 1e-8),
                                                                            .weight_decay = get("weight_decay", 0.01),
                                                                            .amsgrad = o.value("amsgrad", false)});
  REQUIRE(name == "RMSprop");
  return std::make_unique<aimastery::RMSprop<T>>(aimastery::RMSpropOptions<T>{.learning_rate = get("lr", 0),
                                                                              .alpha = get("alpha", 0.99),
                                                                              .eps = get("eps", 1e-8),
                                                                              .weight_decay = get("weight_decay", 0),
                                                                              .momentum = get("momentum", 0),
                                                                              .centered = o.value("centered", false)});
}

}  // namespace

TEST_CASE_TEMPLATE("every optimiser with every option equals torch.optim over five steps", T, float, double) {
  const auto ref = test::load_reference("dl_optimizers.json");
  for (const auto& c : ref.at("cases")) {
    const std::string name = c.at("optimizer");
    CAPTURE(name);
    CAPTURE(c.at("options").dump());
    auto optimizer = make_optimizer<T>(name, c.at("options"));
    Parameter<T> weight(test::json_matrix<T>(ref.at("initial").at("weight")));
    Parameter<T> bias(test::json_matrix<T>(ref.at("initial").at("bias")));
    const ParameterList<T> list{{"weight", &weight, true}, {"bias", &bias, true}};
    for (std::size_t step = 0; step < c.at("after").size(); ++step) {
      CAPTURE(step);
      weight.grad = test::json_matrix<T>(ref.at("gradients")[step].at("weight"));
      bias.grad = test::json_matrix<T>(ref.at("gradients")[step].at("bias"));
      optimizer->step(list);
      CHECK(test::max_relative_error(weight.value, test::json_matrix<double>(c.at("after")[step].at("weight"))) <
            test::parity_tolerance<T>());
      CHECK(test::max_relative_error(bias.value, test::json_matrix<double>(c.at("after")[step].at("bias"))) <
            test::parity_tolerance<T>());
    }
    CHECK(optimizer->steps() == static_cast<Index>(c.at("after").size()));
    CHECK(optimizer->name() == name);
  }
}

TEST_CASE("optimisers skip buffers, zero gradients, keep state per parameter and reset") {
  Parameter<double> w(Matrix<double>::Ones(2, 2)), buffer(Matrix<double>::Ones(1, 2));
  w.grad.setConstant(0.5);
  buffer.grad.setConstant(0.5);
  const ParameterList<double> list{{"w", &w, true}, {"running_mean", &buffer, false}};
  aimastery::SGD<double> sgd({.learning_rate = 0.1, .momentum = 0.9});
  sgd.step(list);
  CHECK(w.value(0, 0) == doctest::Approx(1.0 - 0.1 * 0.5));
  CHECK(buffer.value == Matrix<double>::Ones(1, 2));  // not trainable: untouched
  sgd.step(list);                                     // momentum: b = 0.9·0.5 + 0.5
  CHECK(w.value(0, 0) == doctest::Approx(0.95 - 0.1 * 0.95));
  sgd.zero_grad(list);
  CHECK(w.grad.isZero());
  CHECK(buffer.grad.isZero());
  // A second parameter list over the same objects shares the state; reset forgets it.
  sgd.reset();
  CHECK(sgd.steps() == 0);
  w.value.setOnes();
  w.grad.setConstant(0.5);
  sgd.step(list);
  CHECK(w.value(0, 0) == doctest::Approx(0.95));
  sgd.set_learning_rate(0.5);
  CHECK(sgd.learning_rate() == 0.5);
}

TEST_CASE("optimisers: bad options and inputs name the problem") {
  using aimastery::Adam;
  using aimastery::AdamW;
  using aimastery::RMSprop;
  using aimastery::SGD;
  CHECK_THROWS_NAMING(SGD<double>({.learning_rate = -1}), InvalidArgument, "learning_rate must be finite and >= 0");
  CHECK_THROWS_NAMING(SGD<double>({.learning_rate = NAN}), InvalidArgument, "learning_rate");
  CHECK_THROWS_NAMING(SGD<double>({.momentum = 1.0}), InvalidArgument, "momentum must be in [0, 1)");
  CHECK_THROWS_NAMING(SGD<double>({.dampening = -0.1}), InvalidArgument, "dampening must be in [0, 1)");
  CHECK_THROWS_NAMING(SGD<double>({.weight_decay = -1}), InvalidArgument, "weight_decay must be finite and >= 0");
  CHECK_THROWS_NAMING(SGD<double>({.nesterov = true}), InvalidArgument, "nesterov needs momentum > 0");
  CHECK_THROWS_NAMING(SGD<double>({.momentum = 0.9, .dampening = 0.1, .nesterov = true}), InvalidArgument,
                      "dampening 0");
  CHECK_THROWS_NAMING(Adam<double>({.beta1 = 1.0}), InvalidArgument, "Adam: beta1 must be in [0, 1)");
  CHECK_THROWS_NAMING(Adam<double>({.beta2 = -0.5}), InvalidArgument, "beta2");
  CHECK_THROWS_NAMING(AdamW<double>({.eps = -1}), InvalidArgument, "AdamW: eps");
  CHECK_THROWS_NAMING(AdamW<double>({.weight_decay = -1}), InvalidArgument, "AdamW: weight_decay");
  CHECK_THROWS_NAMING(RMSprop<double>({.alpha = 1.5}), InvalidArgument, "RMSprop: alpha");
  CHECK_THROWS_NAMING(RMSprop<double>({.momentum = -0.5}), InvalidArgument, "RMSprop: momentum");
  CHECK_THROWS_NAMING(RMSprop<double>({.learning_rate = INFINITY}), InvalidArgument, "RMSprop: learning_rate");
  SGD<double> sgd;
  CHECK_THROWS_NAMING(sgd.set_learning_rate(-0.1), InvalidArgument, "SGD::set_learning_rate");
  Parameter<double> p(Matrix<double>::Ones(2, 2));
  p.grad = Matrix<double>::Ones(3, 1);
  CHECK_THROWS_NAMING(sgd.step({{"w", &p, true}}), InvalidArgument,
                      "SGD::step: parameter 'w' has value 2x2 but gradient 3x1");
  CHECK_THROWS_NAMING(sgd.step({{"w", nullptr, true}}), InvalidArgument, "parameter 'w' is null");
}

TEST_CASE_TEMPLATE("optimiser state follows the parameter's shape: a new parameter at a reused address starts afresh",
                   T, float, double) {
  // Every optimiser with state, stepped once on a 2x2 parameter, then on a 3x4 parameter built at the
  // same address: the second step must equal a fresh optimiser's first step (and read nothing of the
  // 2x2 state: under AddressSanitizer the old code read past its end).
  const std::vector<std::pair<std::string, nlohmann::json>> configurations{
      {"SGD", {{"lr", 0.1}, {"momentum", 0.9}}},
      {"Adam", {{"lr", 0.01}, {"amsgrad", true}}},
      {"AdamW", {{"lr", 0.01}}},
      {"RMSprop", {{"lr", 0.01}, {"momentum", 0.5}, {"centered", true}}}};
  for (const auto& [name, options] : configurations) {
    const auto& case_name = name;  // a structured binding: clang 14's lambdas cannot capture it
    CAPTURE(case_name);
    auto used = make_optimizer<T>(name, options);
    auto fresh = make_optimizer<T>(name, options);
    std::optional<Parameter<T>> slot;
    slot.emplace(Matrix<T>::Constant(2, 2, T(1)));
    slot->grad.setConstant(T(0.5));
    used->step({{"w", &*slot, true}});
    const Parameter<T>* address = &*slot;
    slot.reset();
    slot.emplace(Matrix<T>::Constant(3, 4, T(2)));  // a new parameter at the same address
    REQUIRE(&*slot == address);
    slot->grad = Matrix<T>::Constant(3, 4, T(-0.25));
    Parameter<T> reference(Matrix<T>::Constant(3, 4, T(2)));
    reference.grad = slot->grad;
    used->step({{"w", &*slot, true}});
    fresh->step({{"w", &reference, true}});
    CHECK(slot->value == reference.value);
  }
}

TEST_CASE("Optimizer::step checks the whole list first: a bad late entry changes nothing") {
  for (const std::string name : {"SGD", "Adam", "AdamW", "RMSprop"}) {
    CAPTURE(name);
    auto optimizer = make_optimizer<double>(name, {{"lr", 0.1}, {"momentum", 0.9}});
    Parameter<double> good(Matrix<double>::Ones(2, 2)), bad(Matrix<double>::Ones(2, 3));
    good.grad.setConstant(0.5);
    bad.grad = Matrix<double>::Ones(3, 2);  // gradient of the wrong shape
    CHECK_THROWS_NAMING(optimizer->step({{"good", &good, true}, {"bad", &bad, true}}), InvalidArgument,
                        "parameter 'bad' has value 2x3 but gradient 3x2");
    CHECK(good.value == Matrix<double>::Ones(2, 2));
    CHECK(optimizer->steps() == 0);
    CHECK_THROWS_NAMING(optimizer->step({{"good", &good, true}, {"missing", nullptr, true}}), InvalidArgument,
                        "parameter 'missing' is null");
    CHECK(good.value == Matrix<double>::Ones(2, 2));
    // No state was made by the failed steps: the next step is a first step.
    Parameter<double> twin(Matrix<double>::Ones(2, 2));
    twin.grad.setConstant(0.5);
    auto fresh = make_optimizer<double>(name, {{"lr", 0.1}, {"momentum", 0.9}});
    optimizer->step({{"good", &good, true}});
    fresh->step({{"twin", &twin, true}});
    CHECK(good.value == twin.value);
  }
}

TEST_CASE("AdamW has PyTorch's defaults whichever options are named: weight_decay 0.01") {
  aimastery::AdamW<double> named({.learning_rate = 1e-3});
  aimastery::AdamW<double> defaulted;
  CHECK(named.options().weight_decay == 0.01);
  CHECK(defaulted.options().weight_decay == 0.01);
  CHECK(defaulted.options().learning_rate == 1e-3);
  CHECK(aimastery::Adam<double>({.learning_rate = 1e-3}).options().weight_decay == 0.0);
  // The decay acts: with a zero gradient Adam's update is zero, so θ = θ₀(1 − ηλ) exactly.
  Parameter<double> p(Matrix<double>::Constant(1, 3, 2.0));
  named.step({{"w", &p, true}});
  CHECK(p.value(0, 0) == doctest::Approx(2.0 * (1.0 - 1e-3 * 0.01)).epsilon(1e-15));
  aimastery::AdamW<double> no_decay({.weight_decay = 0.0});
  Parameter<double> q(Matrix<double>::Constant(1, 3, 2.0));
  no_decay.step({{"w", &q, true}});
  CHECK(q.value == Matrix<double>::Constant(1, 3, 2.0));
}

TEST_CASE_TEMPLATE("learning-rate schedules give torch.optim.lr_scheduler's rates epoch by epoch", T, float, double) {
  const auto ref = test::load_reference("dl_schedules.json");
  const T base = test::json_number<T>(ref.at("base"));
  using namespace aimastery;
  std::map<std::string, std::shared_ptr<const LearningRateSchedule<T>>> schedules{
      {"step", std::make_shared<StepSchedule<T>>(StepScheduleOptions<T>{.step_size = 7, .gamma = T(0.5)})},
      {"exponential", std::make_shared<ExponentialSchedule<T>>(T(0.9))},
      {"cosine",
       std::make_shared<CosineAnnealingSchedule<T>>(CosineScheduleOptions<T>{.T_max = 8, .eta_min = T(0.001)})},
      {"warmup",
       std::make_shared<LinearWarmupSchedule<T>>(WarmupScheduleOptions<T>{.warmup_epochs = 4, .start_factor = T(0.1)})},
      {"warmup_cosine", std::make_shared<LinearWarmupSchedule<T>>(
                            WarmupScheduleOptions<T>{.warmup_epochs = 3, .start_factor = T(0.25)},
                            std::make_shared<CosineAnnealingSchedule<T>>(CosineScheduleOptions<T>{.T_max = 10}))},
      {"warmup_step", std::make_shared<LinearWarmupSchedule<T>>(
                          WarmupScheduleOptions<T>{.warmup_epochs = 2, .start_factor = T(0.5)},
                          std::make_shared<StepSchedule<T>>(StepScheduleOptions<T>{.step_size = 5, .gamma = T(0.3)}))},
  };
  REQUIRE(schedules.size() == ref.at("cases").size());
  SGD<T> sgd({.learning_rate = base});
  for (const auto& [name, rates] : ref.at("cases").items()) {
    const auto& case_name = name;  // a structured binding: clang 14's lambdas cannot capture it
    CAPTURE(case_name);
    const auto& schedule = *schedules.at(name);
    for (std::size_t e = 0; e < rates.size(); ++e) {
      CAPTURE(e);
      const T expected = test::json_number<T>(rates[e]);
      CHECK(test::close(schedule.learning_rate(base, static_cast<Index>(e)), expected, T(test::parity_tolerance<T>()),
                        T(1e-12)));
      schedule.apply(sgd, base, static_cast<Index>(e));
      CHECK(sgd.learning_rate() == schedule.learning_rate(base, static_cast<Index>(e)));
    }
  }
}

TEST_CASE("schedules: bad options name the problem") {
  using namespace aimastery;
  CHECK_THROWS_NAMING(StepSchedule<double>({.step_size = 0}), InvalidArgument, "StepSchedule: step_size must be >= 1");
  CHECK_THROWS_NAMING(StepSchedule<double>({.gamma = 0}), InvalidArgument, "StepSchedule: gamma");
  CHECK_THROWS_NAMING(ExponentialSchedule<double>(-1.0), InvalidArgument, "ExponentialSchedule: gamma");
  CHECK_THROWS_NAMING(CosineAnnealingSchedule<double>({.T_max = 0}), InvalidArgument, "T_max must be >= 1");
  CHECK_THROWS_NAMING(CosineAnnealingSchedule<double>({.eta_min = -1}), InvalidArgument, "eta_min");
  CHECK_THROWS_NAMING(LinearWarmupSchedule<double>({.warmup_epochs = 0}), InvalidArgument,
                      "warmup_epochs must be >= 1");
  CHECK_THROWS_NAMING(LinearWarmupSchedule<double>({.start_factor = 0}), InvalidArgument,
                      "start_factor must be in (0, 1]");
  CHECK_THROWS_NAMING(ExponentialSchedule<double>(0.9).learning_rate(0.1, -1), InvalidArgument,
                      "ExponentialSchedule::learning_rate: epoch must be >= 0");
  SGD<double> sgd;
  CHECK_THROWS_NAMING(StepSchedule<double>().apply(sgd, 0.1, -2), InvalidArgument, "StepSchedule::apply");
}

TEST_CASE_TEMPLATE("clip_grad_norm equals torch.nn.utils.clip_grad_norm_", T, float, double) {
  const auto ref = test::load_reference("dl_clipping.json");
  for (const auto& c : ref.at("cases")) {
    CAPTURE(c.at("max_norm").dump());
    CAPTURE(c.at("norm_type").dump());
    std::vector<Parameter<T>> params;
    for (const auto& g : ref.at("gradients")) {
      Parameter<T> p(Matrix<T>::Zero(static_cast<Index>(g.size()), static_cast<Index>(g[0].size())));
      p.grad = test::json_matrix<T>(g);
      params.push_back(std::move(p));
    }
    ParameterList<T> list;
    for (auto& p : params) list.push_back({"p", &p, true});
    Parameter<T> frozen(Matrix<T>::Zero(1, 1));
    frozen.grad.setConstant(T(1000));
    list.push_back({"frozen", &frozen, false});  // not trainable: neither counted nor scaled
    const T total = aimastery::clip_grad_norm(list, test::json_number<T>(c.at("max_norm")),
                                              test::json_number<T>(c.at("norm_type")));
    CHECK(test::close(total, test::json_number<T>(c.at("total_norm")), T(test::parity_tolerance<T>())));
    for (std::size_t k = 0; k < params.size(); ++k)
      CHECK(test::max_relative_error(params[k].grad, test::json_matrix<double>(c.at("clipped")[k])) <
            test::parity_tolerance<T>());
    CHECK(frozen.grad(0, 0) == T(1000));
  }
  ParameterList<T> empty;
  CHECK_THROWS_NAMING(aimastery::clip_grad_norm(empty, T(-1)), InvalidArgument,
                      "clip_grad_norm: max_norm must be finite");
  CHECK_THROWS_NAMING(aimastery::clip_grad_norm(empty, T(1), T(0)), InvalidArgument,
                      "clip_grad_norm: norm_type must be > 0");
  CHECK(aimastery::clip_grad_norm(empty, T(1)) == T(0));
}
