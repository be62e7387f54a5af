// Command lines through CLI11 (run, check, cleanup, report, scan), with the
// errors in our words: the flag as it was typed, then what is wrong.
// Header-only: each command that includes it links CLI11::CLI11.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace shimwatch::cli_args {

// The arguments as CLI11's parse() takes them (last first). "--name=" with
// nothing after it is an empty value, as "--name ''" is: CLI11 alone would
// call it a missing one. Throws CLI::ParseError for a switch given a value.
inline std::vector<std::string> for_cli11(const CLI::App &app,
                                          const std::vector<std::string> &args) {
  std::vector<std::string> out;
  for (const auto &arg : args) {
    // A switch given a value: CLI11 takes "--switch=true", we take none.
    if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      const auto *option = app.get_option_no_throw(arg.substr(0, eq));
      if (option && option->get_items_expected_max() == 0)
        throw CLI::ArgumentMismatch::FlagOverride(arg.substr(2, eq - 2));
    }
    if (arg.size() > 3 && arg.rfind("--", 0) == 0 && arg.back() == '=' &&
        arg.find('=') == arg.size() - 1) {
      const std::string name = arg.substr(0, arg.size() - 1);
      if (const auto *option = app.get_option_no_throw(name);
          option && option->get_items_expected_min() > 0) {
        out.push_back(name);
        out.emplace_back();
        continue;
      }
    }
    out.push_back(arg);
  }
  return {out.rbegin(), out.rend()};
}

// The spelling of option that args use ("-f" or "--filename").
inline std::string as_typed(const CLI::Option &option, const std::vector<std::string> &args) {
  for (auto arg = args.rbegin(); arg != args.rend(); ++arg) {
    for (const auto &name : option.get_snames())
      if (*arg == "-" + name)
        return *arg;
    for (const auto &name : option.get_lnames())
      if (*arg == "--" + name || arg->rfind("--" + name + "=", 0) == 0)
        return "--" + name;
  }
  return option.get_name();
}

// A CLI11 parse error as "<flag> needs a value<suffix>" or "<flag> takes no value".
inline std::string parse_error_message(const CLI::App &app, const CLI::ParseError &e,
                                       const std::vector<std::string> &args,
                                       const std::string &needs_value_suffix = "") {
  std::string what = e.what();
  // "no-stdout was given a disallowed flag override"
  if (auto at = what.find(" was given a disallowed flag override"); at != std::string::npos) {
    const std::string name = what.substr(0, at);
    if (const auto *option = app.get_option_no_throw(name.size() == 1 ? "-" + name : "--" + name))
      return as_typed(*option, args) + " takes no value";
    return (name.size() == 1 ? "-" : "--") + name + " takes no value";
  }
  // "--filename: 1 required TEXT missing"
  if (auto colon = what.find(':');
      colon != std::string::npos && what.find("missing", colon) != std::string::npos) {
    const std::string name = what.substr(0, colon);
    const auto *option = app.get_option_no_throw(name);
    return (option ? as_typed(*option, args) : name) + " needs a value" + needs_value_suffix;
  }
  return what;
}

} // namespace shimwatch::cli_args
