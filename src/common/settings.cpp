#include "shimwatch/settings.hpp"

#include <algorithm>

#include "shimwatch/text.hpp"

namespace shimwatch {

namespace {

void append_once(std::vector<std::string> &list, const std::string &item) {
  if (std::find(list.begin(), list.end(), item) == list.end())
    list.push_back(item);
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

} // namespace shimwatch
