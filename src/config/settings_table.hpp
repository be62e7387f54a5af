// The settings table: one row per setting of the agent, with its config file
// key, its flag, its type and allowed values, how its default reads and its
// help. Reading a config file, printing the effective config, the flags of
// run, check and cleanup, their --help and the README's options table are
// all made from it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "shimwatch/config.hpp"
#include "shimwatch/result.hpp"

namespace shimwatch::settings {

enum class Kind {
  boolean,   // true/false; its flag, if any, is a switch setting switch_value
  text,      // a string
  count,     // a whole number from min to max
  choice,    // one of choices
  text_list, // strings; flags add to the list, each once
  port_list, // TCP ports; flags add to the list, each once
  custom,    // own readers: a structure in the file, or a flag that is not a plain value
};

struct Setting {
  std::string_view path{}; // key in the config file ("output.syslog.url"); empty: a flag only
  Kind kind = Kind::text;

  // Command line. flag empty: a config file key only.
  std::string_view flag{};       // "--log-max-mib"
  std::string_view value_name{}; // "N"; empty: a switch
  std::string_view help{};       // one line of what it does
  // How the default reads in --help and the README (markdown): empty shows
  // the default config's value ("none" for an empty string), "{}" in the
  // text stands for that value.
  std::string_view default_text{};

  // count: the allowed range, in the unit named.
  uint32_t min = 0;
  uint32_t max = UINT32_MAX;
  bool power_of_two = false;
  std::string_view unit{};
  // count: the flag takes 0..flag_max (0: the range above), and the range is
  // checked with the rest of the config, naming the key.
  uint32_t flag_max = 0;

  // choice: the allowed names; errors say "'x' is not a <noun> (allowed: ...)",
  // or without a noun "'x' is not allowed (<explain>)".
  std::vector<std::string_view> choices{};
  std::string_view noun{};
  std::string_view explain{};

  bool switch_value = true;     // boolean: what its switch sets
  bool off_means_empty = false; // text: the flag value "off" is "" (the feature off)
  // text: a flag given "" is refused with "<flag> <this>".
  std::string_view empty_flag_error{};
  std::string_view excludes{}; // another flag that cannot be given with this one

  // Access to the value in Config: the one pointer of the row's kind is set.
  bool &(*boolean)(Config &) = nullptr;
  std::string &(*text)(Config &) = nullptr;
  uint32_t &(*count)(Config &) = nullptr;
  std::vector<std::string> &(*list)(Config &) = nullptr;
  std::vector<uint16_t> &(*ports)(Config &) = nullptr;
  std::string (*get_choice)(const Config &) = nullptr;
  void (*set_choice)(Config &, const std::string &) = nullptr;
  // custom: the file's value, and the flag's values in command line order.
  Status (*read_json)(const nlohmann::json &, Config &) = nullptr;
  nlohmann::json (*write_json)(const Config &) = nullptr;
  Status (*apply_flag)(const std::vector<std::string> &, Config &) = nullptr;

  // Run after the value is set from the file or a flag.
  void (*after_set)(Config &) = nullptr;
};

// Every setting, in the order of the config file.
const std::vector<Setting> &table();

// The row of a config key or of a flag ("--log-file"); nullptr if none.
const Setting *find_by_path(std::string_view path);
const Setting *find_by_flag(std::string_view flag);

// A config document on top of base: unknown keys and wrong types are errors
// naming the key.
Result<Config> apply_json(const nlohmann::json &root, Config base);

// The config as a document of the same schema.
nlohmann::json to_json(const Config &config);

// Applies one flag's values (as given, in order) to config; errors name the flag.
Status apply_flag(const Setting &setting, const std::vector<std::string> &values, Config &config);

// Every count within its range; the error names the key, the value and the range.
Status validate_ranges(const Config &config);

// The default as --help and the README show it (markdown, see default_text).
std::string default_text(const Setting &setting, const Config &defaults);

// "from 1 to 3600 seconds", "a power of two from 64 to 1048576".
std::string allowed_range(const Setting &setting);

} // namespace shimwatch::settings
