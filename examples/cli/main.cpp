// aimastery: try the library's estimators on CSV files without writing C++.
//
//   aimastery fit-eval --model M --train A.csv --test B.csv --target COL [--scale] [--param NAME=VALUE]... [--seed N]
//   aimastery cv --model M --data A.csv --target COL [--folds 5] [--scale] [--param NAME=VALUE]... [--seed N]
//   aimastery models
//   aimastery [COMMAND] --help
//
// Each command prints one JSON object on stdout. Every failure is one line on stderr, "aimastery: error: ...",
// with exit status 2 for a mistake in the arguments and 1 for a failure while running (a malformed file, a
// model that cannot be fitted). The subcommands are the cmd_*.cpp files (see command.hpp).
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>

#include "command.hpp"

namespace {

std::string one_line(std::string message) {
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  return message;
}

int fail(const std::string& message, int status) {
  std::cerr << "aimastery: error: " << one_line(message) << '\n';
  return status;
}

std::string command_names() {
  std::string names;
  for (const auto& c : cli::commands()) names += (names.empty() ? "" : ", ") + c.name;
  return names;
}

/// CLI11's error in the tool's words where it can say more: which option or command was not expected, which
/// required option is missing.
std::string describe(const CLI::App& app, const CLI::ParseError& error, int argc, char** argv) {
  const std::vector<CLI::App*> chosen = app.get_subcommands();
  if (chosen.empty() && argc > 1 && argv[1][0] != '-')
    return "unknown command '" + std::string(argv[1]) + "' (expected " + command_names() + ")";
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
    const std::vector<std::string> extras = app.remaining(true);
    if (!extras.empty()) {
      const std::string& first = extras.front();
      if (!first.empty() && first.front() == '-')
        return "unknown option '" + first + "'" + (chosen.empty() ? "" : " for " + chosen.front()->get_name());
      return "unexpected argument '" + first + "' for " + chosen.front()->get_name();
    }
  }
  if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr) {
    if (chosen.empty()) return "missing command (" + command_names() + "); see aimastery --help";
    for (const CLI::Option* option : chosen.front()->get_options())
      if (option->get_required() && option->count() == 0)
        return "missing " + option->get_name() + " (see aimastery " + chosen.front()->get_name() + " --help)";
  }
  return error.what();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Try aimastery's estimators on CSV files without writing C++. Each command prints JSON.", "aimastery");
  app.require_subcommand(1);
  std::sort(cli::commands().begin(), cli::commands().end(),
            [](const cli::Command& a, const cli::Command& b) { return a.name < b.name; });
  cli::Action action;
  for (const cli::Command& command : cli::commands()) {
    CLI::App* sub = app.add_subcommand(command.name, command.description);
    cli::Action run = command.setup(*sub);
    sub->callback([&action, run] { action = run; });
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help
    return fail(describe(app, e, argc, argv), 2);
  }
  try {
    return action();
  } catch (const cli::UsageError& e) {
    return fail(e.what(), 2);
  } catch (const std::exception& e) {
    return fail(e.what(), 1);
  }
}
