// aimastery models: the registered models, their task and a one-line summary, as JSON.
#include <iostream>

#include "aimastery/io/json.hpp"
#include "command.hpp"
#include "models.hpp"

namespace {

int list_models() {
  aimastery::JsonValue out = aimastery::JsonValue::object();
  for (const auto& [name, info] : cli::registry())
    out[name] = aimastery::JsonValue::object(
        {{"task", info.task == cli::Task::classification ? "classification" : "regression"},
         {"summary", info.summary}});
  std::cout << out.dump(2) << '\n';
  return 0;
}

const cli::CommandRegistration models_command("models", "list the models and their tasks",
                                              [](CLI::App&) -> cli::Action { return list_models; });

}  // namespace
