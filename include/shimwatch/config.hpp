// config: the agent's settings (shimwatch/settings.hpp) from the embedded
// defaults, a JSON file and the command line, checked; and what each stage
// is given from them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shimwatch/probe.hpp"
#include "shimwatch/result.hpp"
#include "shimwatch/settings.hpp"

namespace shimwatch {

// The built-in defaults (src/config/default_config.json, embedded at build time).
std::string_view default_config_json();
Config default_config();

// Applies a JSON config document on top of base: every key present replaces
// base's value, unknown keys and wrong types are errors naming the key.
Result<Config> apply_config_json(std::string_view text, Config base);

// Checks every value; the error names the key, the bad value and what is allowed.
Status validate_config(const Config &config);

// The effective config as a JSON document, in the same schema as the file.
std::string config_to_json(const Config &config);

// ---------------------------------------------------------------------------
// Command line: subcommand, flags and the config they produce.

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

// ---------------------------------------------------------------------------
// What each stage is given, from the config.

// What the config asks the kernel to watch.
ProbeOptions probe_options(const Config &config);

} // namespace shimwatch
