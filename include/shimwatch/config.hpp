// config: the agent's settings, from the embedded defaults, a JSON file and flags.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shimwatch/result.hpp"

namespace shimwatch {

enum class OutputFormat { automatic, json, text };

std::string_view format_name(OutputFormat format);

struct Config {
  // Basenames of executables whose exec is reported.
  std::vector<std::string> watch_exec;
  // Unix socket paths whose connect is reported; "@name" is an abstract name.
  std::vector<std::string> watch_sockets;

  // automatic: JSON lines unless stdout is a terminal, then aligned columns.
  OutputFormat format = OutputFormat::automatic;
  bool stdout_enabled = true;
  std::string log_file; // empty: no log file; always JSON lines

  std::string metrics_address; // host:port; empty: no metrics endpoint

  uint32_t ring_buffer_kib = 8192;
};

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

} // namespace shimwatch
