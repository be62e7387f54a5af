// Command line: subcommand, flags and the config they produce.
#pragma once

#include <string>
#include <vector>

#include "shimwatch/config.hpp"
#include "shimwatch/result.hpp"

namespace shimwatch {

enum class Command { run, check, cleanup, version, help };

struct CliRequest {
  Command command = Command::help;
  Config config;             // defaults <- --config file <- flags, validated
  bool print_config = false; // run: print the effective config and exit
  bool verbose = false;
};

// args excludes the program name. Errors say what was wrong and what is allowed.
Result<CliRequest> parse_cli(const std::vector<std::string> &args);

// The --help text, ending with EXAMPLES.
std::string usage_text();

// An option of `shimwatch run` as its --help and the README show it.
struct OptionHelp {
  std::string names;        // "-c, --config", "--log-file"
  std::string value_name;   // "FILE"; empty: a switch
  std::string help;         // what it does
  std::string default_text; // markdown: `100`, "none"; empty: nothing to say
};

// Every option of run (the settings' flags and --config, --print-config,
// --verbose), without --help.
std::vector<OptionHelp> run_options();

} // namespace shimwatch
