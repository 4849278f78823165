#pragma once
// The subcommands of the `aimastery` command-line tool.
//
// How to add a subcommand: add one file examples/cli/cmd_<name>.cpp (every examples/cli/*.cpp is compiled
// into the tool; no central list to edit) that declares the subcommand's options on the CLI11 app it is
// given and returns what to run once they are parsed:
//
//   #include "command.hpp"
//   namespace {
//   const cli::CommandRegistration embed("embed", "embed sentences with a sentence encoder",
//       [](CLI::App& app) -> cli::Action {
//         auto model = std::make_shared<std::string>();
//         app.add_option("--model", *model, "safetensors file")->required();
//         return [model] { /* work; print JSON on stdout */ return 0; };
//       });
//   }
//
// Errors: a mistake in the arguments that CLI11 cannot see (a value that is valid alone but not in
// combination) throws cli::UsageError; anything that fails while running throws an exception. main() turns
// either into one line on stderr, "aimastery: error: ...", and exit status 2 (usage) or 1 (runtime).

#include <CLI/CLI.hpp>

#include "usage_error.hpp"

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cli {

/// What a subcommand runs once its options are parsed; returns the exit status.
using Action = std::function<int()>;

struct Command {
  std::string name;
  std::string description;
  /// Declares the options on the subcommand's CLI11 app and returns the action that reads them.
  std::function<Action(CLI::App&)> setup;
};

/// Every registered subcommand, sorted by name once main() starts.
inline std::vector<Command>& commands() {
  static std::vector<Command> all;
  return all;
}

/// A static CommandRegistration in a cmd_<name>.cpp adds the subcommand before main() runs.
struct CommandRegistration {
  CommandRegistration(std::string name, std::string description, std::function<Action(CLI::App&)> setup) {
    commands().push_back({std::move(name), std::move(description), std::move(setup)});
  }
};

/// A CLI11 validator for integers ≥ `minimum`, checked on the text before CLI11 converts it to the option's
/// type (so that "-1" or 2^64 is not wrapped into an unsigned value): "--folds: must be an integer >= 2, got '1'".
inline CLI::Validator at_least(long long minimum) {
  return CLI::Validator(
      [minimum](std::string& text) -> std::string {
        const bool negative = !text.empty() && text[0] == '-';
        const std::size_t first_digit = negative ? 1 : 0;
        bool ok = text.size() > first_digit && text.find_first_not_of("0123456789", first_digit) == std::string::npos;
        try {
          if (ok && negative) ok = std::stoll(text) >= minimum;
          if (ok && !negative) ok = std::stoull(text) >= static_cast<unsigned long long>(std::max(minimum, 0LL));
        } catch (const std::out_of_range&) {
          ok = false;  // beyond 64 bits
        }
        if (!ok) return "must be an integer >= " + std::to_string(minimum) + ", got '" + text + "'";
        return {};
      },
      "INT>=" + std::to_string(minimum));
}

}  // namespace cli
