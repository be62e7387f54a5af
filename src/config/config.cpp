#include "shimwatch/config.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "config/address.hpp"
#include "config/settings_table.hpp"
#include "shimwatch/classify.hpp"
#include "shimwatch/sink.hpp"

namespace shimwatch {

namespace {

using json = nlohmann::json;

Error key_error(const std::string &key, const std::string &what) {
  return Error{"config key '" + key + "': " + what};
}

bool contains_byte(const std::string &s, char c) {
  return s.find(c) != std::string::npos;
}

// An executable basename, as the kernel's comm filter and exec match take it.
bool is_exec_basename(const std::string &name) {
  return !name.empty() && name.size() <= 255 && !contains_byte(name, '/') &&
         !contains_byte(name, '\0') && name != "." && name != "..";
}

// A unix socket address: an absolute path or @name, at most 108 bytes.
bool is_unix_address(const std::string &path) {
  bool absolute = !path.empty() && path[0] == '/';
  bool abstract = !path.empty() && path[0] == '@';
  return (absolute || abstract) && path.size() <= 108 && !(absolute && contains_byte(path, '\0')) &&
         path != "@";
}

bool has_space_or_nul(const std::string &s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
  });
}

// watch.runtime_sockets, watch.service_control, exclude, and what they add
// to the kernel filters.
Status validate_watch_extras(const Config &config) {
  // Only the enabled ones go into the kernel filter (checked below).
  if (config.runtime_sockets.size() > 1024)
    return key_error("watch.runtime_sockets", "has " +
                                                  std::to_string(config.runtime_sockets.size()) +
                                                  " entries (at most 1024)");
  for (size_t i = 0; i < config.runtime_sockets.size(); ++i) {
    const RuntimeSocket &s = config.runtime_sockets[i];
    const std::string at = "watch.runtime_sockets[" + std::to_string(i) + "]";
    if (!is_unix_address(s.path))
      return key_error(at + ".path", "'" + s.path +
                                         "' is not a unix socket address (an absolute path of "
                                         "at most 108 bytes, or @name for an abstract socket)");
    bool name_ok = !s.runtime.empty() && s.runtime.size() <= 64 &&
                   std::all_of(s.runtime.begin(), s.runtime.end(), [](char c) {
                     return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
                   });
    if (!name_ok)
      return key_error(at + ".runtime",
                       "'" + s.runtime +
                           "' is not a runtime name (1-64 letters, digits, '-', '_', '.'; e.g. "
                           "containerd)");
    for (size_t j = 0; j < i; ++j)
      if (config.runtime_sockets[j].path == s.path &&
          config.runtime_sockets[j].runtime != s.runtime)
        return key_error(at + ".path", "'" + s.path + "' is listed for both '" +
                                           config.runtime_sockets[j].runtime + "' and '" +
                                           s.runtime + "'");
  }
  if (size_t n = watched_socket_paths(config).size(); n > 256)
    return key_error("watch.runtime_sockets",
                     "with watch.sockets makes " + std::to_string(n) +
                         " socket paths to watch (at most 256, the kernel filter's size)");

  const ServiceControlConfig &sc = config.service_control;
  for (const auto &name : sc.managers)
    if (!is_exec_basename(name))
      return key_error("watch.service_control.managers",
                       "'" + name +
                           "' is not an executable basename (1-255 bytes, no '/'; e.g. "
                           "systemctl)");
  for (const auto &unit : sc.units)
    if (unit.empty() || unit.size() > 255 || contains_byte(unit, '/') || has_space_or_nul(unit))
      return key_error("watch.service_control.units",
                       "'" + unit +
                           "' is not a unit name (1-255 bytes, no '/' or spaces; e.g. "
                           "docker.service)");
  for (const auto &verb : sc.verbs)
    if (verb.empty() || verb.size() > 64 || has_space_or_nul(verb))
      return key_error("watch.service_control.verbs",
                       "'" + verb + "' is not a verb (1-64 bytes, no spaces; e.g. restart)");
  for (const auto &script : sc.init_scripts)
    if (script.size() < 2 || script[0] != '/' || script.back() == '/' || script.size() > 4095 ||
        contains_byte(script, '\0') || !is_exec_basename(std::string(basename_of(script))))
      return key_error("watch.service_control.init_scripts",
                       "'" + script +
                           "' is not an absolute path to a file (e.g. "
                           "/etc/init.d/docker)");
  if (sc.enabled && (!sc.managers.empty() || !sc.init_scripts.empty())) {
    if (sc.units.empty())
      return key_error("watch.service_control.units",
                       "is empty, so no service control can match (set "
                       "watch.service_control.enabled to false to turn it off)");
    if (sc.verbs.empty())
      return key_error("watch.service_control.verbs",
                       "is empty, so no service control can match (set "
                       "watch.service_control.enabled to false to turn it off)");
  }
  if (size_t n = watched_exec_names(config).size(); n > 256)
    return key_error("watch.service_control",
                     "with watch.exec makes " + std::to_string(n) +
                         " executable names to watch (at most 256, the kernel filter's size)");

  for (auto [key, list] : {std::pair{"exclude.executables", &config.exclude.executables},
                           std::pair{"exclude.units", &config.exclude.units},
                           std::pair{"exclude.comms", &config.exclude.comms}})
    for (const auto &pattern : *list)
      if (pattern.empty() || contains_byte(pattern, '\0'))
        return key_error(key, "patterns must be non-empty shell globs (e.g. containerd-shim*)");
  return Ok{};
}

} // namespace

Config default_config() {
  auto config = apply_config_json(default_config_json(), Config{});
  // The embedded document is checked by a unit test; it cannot fail here.
  if (!config)
    return Config{};
  // Only a URL the user gave turns the kubelet source on in auto mode.
  config->kubernetes.kubelet_url_given = false;
  return *config;
}

Result<Config> apply_config_json(std::string_view text, Config base) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error &e) {
    return Error{std::string("config is not valid JSON: ") + e.what()};
  }
  return settings::apply_json(root, std::move(base));
}

namespace {

bool valid_run_as(std::string_view spec) {
  auto valid_name = [](std::string_view name) {
    if (name.empty() || name.size() > 64 || name[0] == '-')
      return false;
    for (char c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
        return false;
    return true;
  };
  const auto colon = spec.find(':');
  if (colon == std::string_view::npos)
    return valid_name(spec);
  return valid_name(spec.substr(0, colon)) && valid_name(spec.substr(colon + 1));
}

} // namespace

Status validate_config(const Config &config) {
  if (watched_exec_names(config).empty() && config.watch_exec_paths.empty() &&
      watched_socket_paths(config).empty() && config.watch_tcp_ports.empty() &&
      config.watch_config_paths.empty())
    return Error{"config watches nothing: watch.exec, exec_paths, sockets, runtime_sockets, "
                 "tcp_ports, config_paths and service_control are all empty or off"};
  if (config.watch_exec.size() > 256)
    return key_error("watch.exec",
                     "has " + std::to_string(config.watch_exec.size()) + " names (at most 256)");
  for (const auto &name : config.watch_exec) {
    if (!is_exec_basename(name))
      return key_error("watch.exec", "'" + name +
                                         "' is not an executable basename (1-255 bytes, "
                                         "no '/'; e.g. docker)");
  }
  if (config.watch_sockets.size() > 256)
    return key_error("watch.sockets",
                     "has " + std::to_string(config.watch_sockets.size()) + " paths (at most 256)");
  for (const auto &path : config.watch_sockets) {
    if (!is_unix_address(path))
      return key_error("watch.sockets",
                       "'" + path +
                           "' is not a unix socket address (an absolute path of at most 108 "
                           "bytes, or @name for an abstract socket)");
  }
  if (auto st = validate_watch_extras(config); !st)
    return st;
  if (!valid_run_as(config.run_as))
    return key_error("security.run_as",
                     "'" + config.run_as +
                         "' is not \"root\", \"UID[:GID]\" or \"NAME[:GROUP]\" (names of "
                         "letters, digits, '_', '.' and '-')");
  if (auto st = settings::validate_ranges(config); !st)
    return st;
  if (!config.metrics_address.empty()) {
    auto address = parse_listen_address(config.metrics_address);
    if (!address)
      return key_error("metrics.address", address.error().message);
  }
  if (const auto &url = config.kubernetes.api_server;
      !url.empty() && url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)
    return key_error("kubernetes.api_server",
                     "'" + url + "' is not a URL (e.g. https://10.96.0.1:443)");
  if (const auto &url = config.kubernetes.kubelet_url;
      url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)
    return key_error("kubernetes.kubelet_url",
                     "'" + url + "' is not a URL (e.g. https://10.0.0.12:10250)");
  if (const SyslogConfig &sl = config.syslog; !sl.url.empty()) {
    auto target = parse_syslog_url(sl.url);
    if (!target)
      return key_error("output.syslog.url", target.error().message);
    if (target->transport != SyslogTransport::tls &&
        (!sl.ca_file.empty() || !sl.cert_file.empty() || !sl.key_file.empty()))
      return key_error("output.syslog.url",
                       "'" + sl.url +
                           "' is not TLS, but a CA, certificate or key file is set (use "
                           "tls://HOST:PORT, or drop the files)");
  }
  if (auto facility = syslog_facility(config.syslog.facility); !facility)
    return key_error("output.syslog.facility", facility.error().message);
  for (const auto &path : config.watch_config_paths)
    if (path.empty() || path[0] != '/' || contains_byte(path, '\0'))
      return key_error("watch.config_paths", "'" + path + "' is not an absolute path");
  if (config.watch_config_paths.size() > 64)
    return key_error("watch.config_paths", "has " +
                                               std::to_string(config.watch_config_paths.size()) +
                                               " paths (at most 64)");
  for (const auto &path : config.watch_exec_paths)
    if (path.empty() || path[0] != '/' || contains_byte(path, '\0'))
      return key_error("watch.exec_paths", "'" + path + "' is not an absolute path");
  if (config.watch_exec_paths.size() > 128)
    return key_error("watch.exec_paths", "has " + std::to_string(config.watch_exec_paths.size()) +
                                             " paths (at most 128)");
  for (const auto &id : config.watch_exec_build_ids)
    if (id.size() < 8 || id.size() > 128 || id.size() % 2 != 0 ||
        id.find_first_not_of("0123456789abcdef") != std::string::npos)
      return key_error("watch.exec_build_ids",
                       "'" + id + "' is not a build-id (8 to 128 hex digits, as `file` prints it)");
  if (config.watch_exec_build_ids.size() > 256)
    return key_error("watch.exec_build_ids",
                     "has " + std::to_string(config.watch_exec_build_ids.size()) +
                         " ids (at most 256)");
  if (config.watch_tcp_ports.size() > 64)
    return key_error("watch.tcp_ports", "has " + std::to_string(config.watch_tcp_ports.size()) +
                                            " ports (at most 64)");
  if (!config.pin_path.empty()) {
    const std::string &pin = config.pin_path;
    if (pin[0] != '/' || pin.back() == '/' || pin.find("/../") != std::string::npos ||
        pin.find("/./") != std::string::npos || pin.find("//") != std::string::npos ||
        pin.ends_with("/..") || pin.ends_with("/.") || pin.rfind('/') == 0)
      return key_error("kernel.pin_path",
                       "'" + pin +
                           "' is not a directory below a BPF filesystem mount (an absolute "
                           "path such as /sys/fs/bpf/shimwatch; \"\" pins nothing)");
  }
  return Ok{};
}

std::string config_to_json(const Config &config) {
  // Flags can carry bytes that are not UTF-8; show them as U+FFFD rather than fail.
  return settings::to_json(config).dump(2, ' ', false, json::error_handler_t::replace);
}

} // namespace shimwatch
