#include "shimwatch/config.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "config/address.hpp"
#include "shimwatch/classify.hpp"
#include "shimwatch/syslog.hpp"

namespace shimwatch {

bool valid_hooks(const std::string &value) {
  return value == "auto" || value == "tracepoints" || value == "raw-tracepoints";
}

namespace {

using json = nlohmann::json;

std::string type_name(const json &value) {
  return value.type_name();
}

Error key_error(const std::string &key, const std::string &what) {
  return Error{"config key '" + key + "': " + what};
}

Status check_keys(const json &object, const std::string &prefix,
                  std::initializer_list<std::string_view> known) {
  for (const auto &[key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end())
      continue;
    std::string allowed;
    for (auto k : known)
      allowed += (allowed.empty() ? "" : ", ") + std::string(k);
    return Error{"config key '" + prefix + key + "' is unknown (allowed here: " + allowed + ")"};
  }
  return Ok{};
}

Result<std::vector<std::string>> string_list(const json &value, const std::string &key) {
  if (!value.is_array())
    return key_error(key, "must be an array of strings, got " + type_name(value));
  std::vector<std::string> out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_string())
      return key_error(key + "[" + std::to_string(i) + "]",
                       "must be a string, got " + type_name(value[i]));
    out.push_back(value[i].get<std::string>());
  }
  return out;
}

Result<json> section(const json &root, const char *name,
                     std::initializer_list<std::string_view> known) {
  if (!root.contains(name))
    return json::object();
  const json &s = root.at(name);
  if (!s.is_object())
    return key_error(name, "must be an object, got " + type_name(s));
  if (auto st = check_keys(s, std::string(name) + ".", known); !st)
    return st.error();
  return s;
}

// An object inside a section, e.g. output.syslog.
Result<json> subsection(const json &parent, const char *name, const std::string &full_name,
                        std::initializer_list<std::string_view> known) {
  if (!parent.contains(name))
    return json::object();
  const json &s = parent.at(name);
  if (!s.is_object())
    return key_error(full_name, "must be an object, got " + type_name(s));
  if (auto st = check_keys(s, full_name + ".", known); !st)
    return st.error();
  return s;
}

Result<OutputFormat> parse_format(const std::string &text) {
  if (text == "auto")
    return OutputFormat::automatic;
  if (text == "json")
    return OutputFormat::json;
  if (text == "text")
    return OutputFormat::text;
  return Error{"'" + text + "' is not a format (allowed: auto, json, text)"};
}

bool contains_byte(const std::string &s, char c) {
  return s.find(c) != std::string::npos;
}

Result<bool> boolean(const json &value, const std::string &key) {
  if (!value.is_boolean())
    return key_error(key, "must be true or false, got " + type_name(value));
  return value.get<bool>();
}

// watch.runtime_sockets: [{"path": ..., "runtime": ..., "enabled": ...}, ...]
Result<std::vector<RuntimeSocket>> runtime_socket_list(const json &value) {
  const std::string key = "watch.runtime_sockets";
  if (!value.is_array())
    return key_error(key, "must be an array of {\"path\", \"runtime\", \"enabled\"} objects, got " +
                              type_name(value));
  std::vector<RuntimeSocket> out;
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string at = key + "[" + std::to_string(i) + "]";
    const json &entry = value[i];
    if (!entry.is_object())
      return key_error(at, "must be an object {\"path\", \"runtime\", \"enabled\"}, got " +
                               type_name(entry));
    if (auto st = check_keys(entry, at + ".", {"path", "runtime", "enabled"}); !st)
      return st.error();
    RuntimeSocket socket;
    for (auto [name, target] :
         {std::pair{"path", &socket.path}, std::pair{"runtime", &socket.runtime}}) {
      if (!entry.contains(name))
        return key_error(at + "." + name, "is missing");
      const json &v = entry.at(name);
      if (!v.is_string())
        return key_error(at + "." + name, "must be a string, got " + type_name(v));
      *target = v.get<std::string>();
    }
    if (entry.contains("enabled")) {
      auto enabled = boolean(entry.at("enabled"), at + ".enabled");
      if (!enabled)
        return enabled.error();
      socket.enabled = *enabled;
    }
    out.push_back(std::move(socket));
  }
  return out;
}

json runtime_sockets_to_json(const std::vector<RuntimeSocket> &sockets) {
  json out = json::array();
  for (const auto &s : sockets)
    out.push_back({{"path", s.path}, {"runtime", s.runtime}, {"enabled", s.enabled}});
  return out;
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

void append_once(std::vector<std::string> &list, const std::string &item) {
  if (std::find(list.begin(), list.end(), item) == list.end())
    list.push_back(item);
}

json rules_to_json(const std::vector<AgentRule> &rules) {
  json out = json::array();
  for (const auto &r : rules) {
    json rule = {{"name", r.name}};
    for (auto [key, list] :
         {std::pair{"images", &r.images}, std::pair{"containers", &r.containers},
          std::pair{"workloads", &r.workloads}, std::pair{"executables", &r.executables},
          std::pair{"units", &r.units}})
      if (!list->empty())
        rule[key] = *list;
    out.push_back(std::move(rule));
  }
  return out;
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

std::vector<std::string> watched_socket_paths(const Config &config) {
  std::vector<std::string> out;
  for (const auto &path : config.watch_sockets)
    append_once(out, path);
  for (const auto &socket : config.runtime_sockets)
    if (socket.enabled)
      append_once(out, socket.path);
  return out;
}

std::vector<std::string> watched_exec_paths(const Config &config) {
  std::vector<std::string> out;
  auto add = [&](const std::string &path) {
    if (std::find(out.begin(), out.end(), path) == out.end())
      out.push_back(path);
  };
  for (const auto &path : config.watch_exec_paths)
    add(path);
  for (const auto &name : config.watch_exec)
    for (const char *dir :
         {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"})
      add(std::string(dir) + "/" + name);
  return out;
}

std::vector<std::string> watched_exec_names(const Config &config) {
  std::vector<std::string> out;
  for (const auto &name : config.watch_exec)
    append_once(out, name);
  if (config.service_control.enabled) {
    for (const auto &name : config.service_control.managers)
      append_once(out, name);
    for (const auto &script : config.service_control.init_scripts)
      append_once(out, std::string(basename_of(script)));
  }
  return out;
}

Result<KubernetesMode> parse_kubernetes_mode(const std::string &text) {
  if (text == "auto")
    return KubernetesMode::automatic;
  if (text == "on")
    return KubernetesMode::on;
  if (text == "off")
    return KubernetesMode::off;
  return Error{"'" + text + "' is not a mode (allowed: auto, on, off)"};
}

std::string_view kubernetes_mode_name(KubernetesMode mode) {
  switch (mode) {
  case KubernetesMode::automatic:
    return "auto";
  case KubernetesMode::on:
    return "on";
  case KubernetesMode::off:
    return "off";
  }
  return "auto";
}

Result<KubernetesSource> parse_kubernetes_source(const std::string &text) {
  if (text == "api-server")
    return KubernetesSource::api_server;
  if (text == "kubelet")
    return KubernetesSource::kubelet;
  return Error{"'" + text + "' is not a source (allowed: api-server, kubelet)"};
}

std::string_view kubernetes_source_name(KubernetesSource source) {
  switch (source) {
  case KubernetesSource::api_server:
    return "api-server";
  case KubernetesSource::kubelet:
    return "kubelet";
  }
  return "api-server";
}

std::string_view format_name(OutputFormat format) {
  switch (format) {
  case OutputFormat::automatic:
    return "auto";
  case OutputFormat::json:
    return "json";
  case OutputFormat::text:
    return "text";
  }
  return "auto";
}

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
  if (!root.is_object())
    return Error{"config must be a JSON object, got " + type_name(root)};
  if (auto st = check_keys(root, "",
                           {"watch", "output", "metrics", "kernel", "attribution", "kubernetes",
                            "agents", "exclude", "security"});
      !st)
    return st.error();

  auto watch =
      section(root, "watch",
              {"exec", "exec_paths", "exec_build_id_check", "exec_build_ids", "config_paths",
               "sockets", "tcp_ports", "tcp_destinations", "runtime_sockets", "service_control"});
  if (!watch)
    return watch.error();
  if (watch->contains("exec")) {
    auto list = string_list(watch->at("exec"), "watch.exec");
    if (!list)
      return list.error();
    base.watch_exec = *list;
  }
  if (watch->contains("sockets")) {
    auto list = string_list(watch->at("sockets"), "watch.sockets");
    if (!list)
      return list.error();
    base.watch_sockets = *list;
  }
  if (watch->contains("config_paths")) {
    auto list = string_list(watch->at("config_paths"), "watch.config_paths");
    if (!list)
      return list.error();
    base.watch_config_paths = *list;
  }
  if (watch->contains("exec_paths")) {
    auto list = string_list(watch->at("exec_paths"), "watch.exec_paths");
    if (!list)
      return list.error();
    base.watch_exec_paths = *list;
  }
  if (watch->contains("exec_build_id_check")) {
    const json &v = watch->at("exec_build_id_check");
    if (!v.is_boolean())
      return key_error("watch.exec_build_id_check", "must be true or false, got " + v.dump());
    base.watch_exec_build_id_check = v.get<bool>();
  }
  if (watch->contains("exec_build_ids")) {
    auto list = string_list(watch->at("exec_build_ids"), "watch.exec_build_ids");
    if (!list)
      return list.error();
    base.watch_exec_build_ids.clear();
    for (const auto &id : *list) {
      std::string lower;
      for (char c : id)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      base.watch_exec_build_ids.push_back(lower);
    }
  }
  if (watch->contains("tcp_ports")) {
    const json &v = watch->at("tcp_ports");
    if (!v.is_array())
      return key_error("watch.tcp_ports", "must be an array of port numbers, got " + type_name(v));
    base.watch_tcp_ports.clear();
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_number_unsigned() || v[i].get<uint64_t>() < 1 || v[i].get<uint64_t>() > 65535)
        return key_error("watch.tcp_ports[" + std::to_string(i) + "]",
                         "must be a port number from 1 to 65535, got " + v[i].dump());
      base.watch_tcp_ports.push_back(v[i].get<uint16_t>());
    }
  }
  if (watch->contains("tcp_destinations")) {
    const json &v = watch->at("tcp_destinations");
    if (!v.is_string() || (v.get<std::string>() != "local" && v.get<std::string>() != "any"))
      return key_error("watch.tcp_destinations",
                       "must be \"local\" (loopback and this node's addresses) or \"any\", got " +
                           v.dump());
    base.watch_tcp_any_destination = v.get<std::string>() == "any";
  }
  if (watch->contains("runtime_sockets")) {
    auto list = runtime_socket_list(watch->at("runtime_sockets"));
    if (!list)
      return list.error();
    base.runtime_sockets = *list;
  }
  auto service = subsection(*watch, "service_control", "watch.service_control",
                            {"enabled", "managers", "units", "verbs", "init_scripts"});
  if (!service)
    return service.error();
  if (service->contains("enabled")) {
    auto enabled = boolean(service->at("enabled"), "watch.service_control.enabled");
    if (!enabled)
      return enabled.error();
    base.service_control.enabled = *enabled;
  }
  for (auto [key, target] : {std::pair{"managers", &base.service_control.managers},
                             std::pair{"units", &base.service_control.units},
                             std::pair{"verbs", &base.service_control.verbs},
                             std::pair{"init_scripts", &base.service_control.init_scripts}}) {
    if (!service->contains(key))
      continue;
    auto list = string_list(service->at(key), std::string("watch.service_control.") + key);
    if (!list)
      return list.error();
    *target = *list;
  }

  auto output = section(root, "output",
                        {"format", "stdout", "log_file", "log_max_mib", "log_keep", "queue_size",
                         "syslog", "dedupe"});
  if (!output)
    return output.error();
  if (output->contains("format")) {
    const json &v = output->at("format");
    if (!v.is_string())
      return key_error("output.format", "must be a string, got " + type_name(v));
    auto format = parse_format(v.get<std::string>());
    if (!format)
      return key_error("output.format", format.error().message);
    base.format = *format;
  }
  if (output->contains("stdout")) {
    const json &v = output->at("stdout");
    if (!v.is_boolean())
      return key_error("output.stdout", "must be true or false, got " + type_name(v));
    base.stdout_enabled = v.get<bool>();
  }
  if (output->contains("log_file")) {
    const json &v = output->at("log_file");
    if (!v.is_string())
      return key_error("output.log_file", "must be a string (\"\" for none), got " + type_name(v));
    base.log_file = v.get<std::string>();
  }
  for (auto [key, target] :
       {std::pair{"log_max_mib", &base.log_max_mib}, std::pair{"log_keep", &base.log_keep}}) {
    if (!output->contains(key))
      continue;
    const json &v = output->at(key);
    if (!v.is_number_unsigned() || v.get<uint64_t>() > 1'000'000)
      return key_error(std::string("output.") + key,
                       "must be a whole number from 0 to 1000000, got " + v.dump());
    *target = v.get<uint32_t>();
  }
  if (output->contains("queue_size")) {
    const json &v = output->at("queue_size");
    if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX)
      return key_error("output.queue_size",
                       "must be a whole number (64 to 1000000), got " + v.dump());
    base.output_queue_size = v.get<uint32_t>();
  }
  auto syslog = subsection(
      *output, "syslog", "output.syslog",
      {"url", "ca_file", "cert_file", "key_file", "tls_verify", "facility", "queue_size"});
  if (!syslog)
    return syslog.error();
  for (auto [key, target] :
       {std::pair{"url", &base.syslog.url}, std::pair{"ca_file", &base.syslog.ca_file},
        std::pair{"cert_file", &base.syslog.cert_file},
        std::pair{"key_file", &base.syslog.key_file},
        std::pair{"facility", &base.syslog.facility}}) {
    if (!syslog->contains(key))
      continue;
    const json &v = syslog->at(key);
    if (!v.is_string())
      return key_error(std::string("output.syslog.") + key,
                       "must be a string, got " + type_name(v));
    *target = v.get<std::string>();
  }
  if (syslog->contains("tls_verify")) {
    const json &v = syslog->at("tls_verify");
    if (!v.is_boolean())
      return key_error("output.syslog.tls_verify", "must be true or false, got " + type_name(v));
    base.syslog.tls_verify = v.get<bool>();
  }
  if (syslog->contains("queue_size")) {
    const json &v = syslog->at("queue_size");
    if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX)
      return key_error("output.syslog.queue_size",
                       "must be a whole number (1 to 1000000), got " + v.dump());
    base.syslog.queue_size = v.get<uint32_t>();
  }
  auto dedupe = subsection(*output, "dedupe", "output.dedupe", {"enabled", "window_seconds"});
  if (!dedupe)
    return dedupe.error();
  if (dedupe->contains("enabled")) {
    const json &v = dedupe->at("enabled");
    if (!v.is_boolean())
      return key_error("output.dedupe.enabled", "must be true or false, got " + type_name(v));
    base.dedupe.enabled = v.get<bool>();
  }
  if (dedupe->contains("window_seconds")) {
    const json &v = dedupe->at("window_seconds");
    if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX)
      return key_error("output.dedupe.window_seconds",
                       "must be a whole number of seconds (1 to 86400), got " + v.dump());
    base.dedupe.window_seconds = v.get<uint32_t>();
  }

  auto metrics = section(root, "metrics", {"address", "max_series"});
  if (!metrics)
    return metrics.error();
  if (metrics->contains("address")) {
    const json &v = metrics->at("address");
    if (!v.is_string())
      return key_error("metrics.address",
                       "must be a string (\"\" to disable), got " + type_name(v));
    base.metrics_address = v.get<std::string>();
  }
  if (metrics->contains("max_series")) {
    const json &v = metrics->at("max_series");
    if (!v.is_number_unsigned() || v.get<uint64_t>() == 0 || v.get<uint64_t>() > 1'000'000)
      return key_error("metrics.max_series",
                       "must be a whole number from 1 to 1000000, got " + v.dump());
    base.metrics_max_series = v.get<uint32_t>();
  }

  auto kernel = section(root, "kernel", {"ring_buffer_kib", "pin_path", "hooks"});
  if (!kernel)
    return kernel.error();
  if (kernel->contains("ring_buffer_kib")) {
    const json &v = kernel->at("ring_buffer_kib");
    if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX)
      return key_error("kernel.ring_buffer_kib",
                       "must be a positive whole number, got " + v.dump());
    base.ring_buffer_kib = v.get<uint32_t>();
  }
  if (kernel->contains("pin_path")) {
    const json &v = kernel->at("pin_path");
    if (!v.is_string())
      return key_error("kernel.pin_path",
                       "must be a string (\"\" to pin nothing), got " + type_name(v));
    base.pin_path = v.get<std::string>();
  }
  if (kernel->contains("hooks")) {
    const json &v = kernel->at("hooks");
    if (!v.is_string() || !valid_hooks(v.get<std::string>()))
      return key_error("kernel.hooks", v.dump() + " is not allowed (" + hooks_help + ")");
    base.hooks = v.get<std::string>();
  }

  auto attribution = section(root, "attribution", {"process_table_size"});
  if (!attribution)
    return attribution.error();
  if (attribution->contains("process_table_size")) {
    const json &v = attribution->at("process_table_size");
    if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX)
      return key_error("attribution.process_table_size",
                       "must be a positive whole number, got " + v.dump());
    base.process_table_size = v.get<uint32_t>();
  }

  auto kube = section(root, "kubernetes",
                      {"mode", "source", "api_server", "kubelet_url", "kubelet_tls_verify",
                       "kubelet_poll_seconds", "token_file", "ca_file", "node_name", "labels"});
  if (!kube)
    return kube.error();
  if (kube->contains("mode")) {
    const json &v = kube->at("mode");
    auto mode = v.is_string()
                    ? parse_kubernetes_mode(v.get<std::string>())
                    : Result<KubernetesMode>(Error{"must be a string, got " + type_name(v)});
    if (!mode)
      return key_error("kubernetes.mode", mode.error().message);
    base.kubernetes.mode = *mode;
  }
  if (kube->contains("source")) {
    const json &v = kube->at("source");
    auto source = v.is_string()
                      ? parse_kubernetes_source(v.get<std::string>())
                      : Result<KubernetesSource>(Error{"must be a string, got " + type_name(v)});
    if (!source)
      return key_error("kubernetes.source", source.error().message);
    base.kubernetes.source = *source;
  }
  if (kube->contains("kubelet_url"))
    base.kubernetes.kubelet_url_given = true;
  if (kube->contains("kubelet_tls_verify")) {
    const json &v = kube->at("kubelet_tls_verify");
    if (!v.is_boolean())
      return key_error("kubernetes.kubelet_tls_verify",
                       "must be true or false, got " + type_name(v));
    base.kubernetes.kubelet_tls_verify = v.get<bool>();
  }
  if (kube->contains("kubelet_poll_seconds")) {
    const json &v = kube->at("kubelet_poll_seconds");
    if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX)
      return key_error("kubernetes.kubelet_poll_seconds",
                       "must be a whole number of seconds (1 to 3600), got " + v.dump());
    base.kubernetes.kubelet_poll_seconds = v.get<uint32_t>();
  }
  for (auto [key, target] : {std::pair{"api_server", &base.kubernetes.api_server},
                             std::pair{"kubelet_url", &base.kubernetes.kubelet_url},
                             std::pair{"token_file", &base.kubernetes.token_file},
                             std::pair{"ca_file", &base.kubernetes.ca_file},
                             std::pair{"node_name", &base.kubernetes.node_name}}) {
    if (!kube->contains(key))
      continue;
    const json &v = kube->at(key);
    if (!v.is_string())
      return key_error(std::string("kubernetes.") + key, "must be a string, got " + type_name(v));
    *target = v.get<std::string>();
  }
  if (kube->contains("labels")) {
    auto list = string_list(kube->at("labels"), "kubernetes.labels");
    if (!list)
      return list.error();
    base.kubernetes.labels = *list;
  }

  auto agents = section(root, "agents", {"builtin", "rules"});
  if (!agents)
    return agents.error();
  if (agents->contains("builtin")) {
    const json &v = agents->at("builtin");
    if (!v.is_boolean())
      return key_error("agents.builtin", "must be true or false, got " + type_name(v));
    base.builtin_agents = v.get<bool>();
  }
  if (agents->contains("rules")) {
    auto rules = parse_agent_rules(agents->at("rules"), "agents.rules");
    if (!rules)
      return Error{"config key " + rules.error().message};
    base.agent_rules = *rules;
  }

  auto security = section(root, "security", {"run_as"});
  if (!security)
    return security.error();
  if (security->contains("run_as")) {
    const json &v = security->at("run_as");
    if (!v.is_string())
      return key_error("security.run_as",
                       "must be a string (\"root\", \"UID[:GID]\" or \"NAME[:GROUP]\"), got " +
                           type_name(v));
    base.run_as = v.get<std::string>();
  }

  auto exclude = section(root, "exclude", {"self", "executables", "units", "comms"});
  if (!exclude)
    return exclude.error();
  if (exclude->contains("self")) {
    auto self = boolean(exclude->at("self"), "exclude.self");
    if (!self)
      return self.error();
    base.exclude.self = *self;
  }
  for (auto [key, target] :
       {std::pair{"executables", &base.exclude.executables},
        std::pair{"units", &base.exclude.units}, std::pair{"comms", &base.exclude.comms}}) {
    if (!exclude->contains(key))
      continue;
    auto list = string_list(exclude->at(key), std::string("exclude.") + key);
    if (!list)
      return list.error();
    *target = *list;
  }
  return base;
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
  if (!config.metrics_address.empty()) {
    auto address = parse_listen_address(config.metrics_address);
    if (!address)
      return key_error("metrics.address", address.error().message);
  }
  if (config.process_table_size < 64 || config.process_table_size > 4'000'000)
    return key_error("attribution.process_table_size",
                     std::to_string(config.process_table_size) + " is not from 64 to 4000000");
  if (const auto &url = config.kubernetes.api_server;
      !url.empty() && url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)
    return key_error("kubernetes.api_server",
                     "'" + url + "' is not a URL (e.g. https://10.96.0.1:443)");
  if (const auto &url = config.kubernetes.kubelet_url;
      url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)
    return key_error("kubernetes.kubelet_url",
                     "'" + url + "' is not a URL (e.g. https://10.0.0.12:10250)");
  if (uint32_t s = config.kubernetes.kubelet_poll_seconds; s < 1 || s > 3600)
    return key_error("kubernetes.kubelet_poll_seconds",
                     std::to_string(s) + " is not from 1 to 3600 (seconds)");
  if (uint32_t n = config.output_queue_size; n < 64 || n > 1'000'000)
    return key_error("output.queue_size", std::to_string(n) + " is not from 64 to 1000000");
  if (uint32_t n = config.dedupe.window_seconds; n < 1 || n > 86400)
    return key_error("output.dedupe.window_seconds",
                     std::to_string(n) + " is not from 1 to 86400 (seconds)");
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
  if (uint32_t n = config.syslog.queue_size; n < 1 || n > 1'000'000)
    return key_error("output.syslog.queue_size", std::to_string(n) + " is not from 1 to 1000000");
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
  uint32_t kib = config.ring_buffer_kib;
  if (kib < 64 || kib > 1024 * 1024 || (kib & (kib - 1)) != 0)
    return key_error("kernel.ring_buffer_kib",
                     std::to_string(kib) + " is not a power of two from 64 to 1048576");
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
  json root = {
      {"watch",
       {{"exec", config.watch_exec},
        {"exec_paths", config.watch_exec_paths},
        {"exec_build_id_check", config.watch_exec_build_id_check},
        {"exec_build_ids", config.watch_exec_build_ids},
        {"config_paths", config.watch_config_paths},
        {"sockets", config.watch_sockets},
        {"tcp_ports", config.watch_tcp_ports},
        {"tcp_destinations", config.watch_tcp_any_destination ? "any" : "local"},
        {"runtime_sockets", runtime_sockets_to_json(config.runtime_sockets)},
        {"service_control",
         {{"enabled", config.service_control.enabled},
          {"managers", config.service_control.managers},
          {"units", config.service_control.units},
          {"verbs", config.service_control.verbs},
          {"init_scripts", config.service_control.init_scripts}}}}},
      {"output",
       {{"format", format_name(config.format)},
        {"stdout", config.stdout_enabled},
        {"log_file", config.log_file},
        {"log_max_mib", config.log_max_mib},
        {"log_keep", config.log_keep},
        {"queue_size", config.output_queue_size},
        {"syslog",
         {{"url", config.syslog.url},
          {"ca_file", config.syslog.ca_file},
          {"cert_file", config.syslog.cert_file},
          {"key_file", config.syslog.key_file},
          {"tls_verify", config.syslog.tls_verify},
          {"facility", config.syslog.facility},
          {"queue_size", config.syslog.queue_size}}},
        {"dedupe",
         {{"enabled", config.dedupe.enabled}, {"window_seconds", config.dedupe.window_seconds}}}}},
      {"metrics", {{"address", config.metrics_address}, {"max_series", config.metrics_max_series}}},
      {"kernel",
       {{"ring_buffer_kib", config.ring_buffer_kib},
        {"pin_path", config.pin_path},
        {"hooks", config.hooks}}},
      {"attribution", {{"process_table_size", config.process_table_size}}},
      {"kubernetes",
       {{"mode", kubernetes_mode_name(config.kubernetes.mode)},
        {"source", kubernetes_source_name(config.kubernetes.source)},
        {"api_server", config.kubernetes.api_server},
        {"kubelet_url", config.kubernetes.kubelet_url},
        {"kubelet_tls_verify", config.kubernetes.kubelet_tls_verify},
        {"kubelet_poll_seconds", config.kubernetes.kubelet_poll_seconds},
        {"token_file", config.kubernetes.token_file},
        {"ca_file", config.kubernetes.ca_file},
        {"node_name", config.kubernetes.node_name},
        {"labels", config.kubernetes.labels}}},
      {"agents",
       {{"builtin", config.builtin_agents}, {"rules", rules_to_json(config.agent_rules)}}},
      {"exclude",
       {{"self", config.exclude.self},
        {"executables", config.exclude.executables},
        {"units", config.exclude.units},
        {"comms", config.exclude.comms}}},
      {"security", {{"run_as", config.run_as}}},
  };
  // Flags can carry bytes that are not UTF-8; show them as U+FFFD rather than fail.
  return root.dump(2, ' ', false, json::error_handler_t::replace);
}

} // namespace shimwatch
