#include "shimwatch/event.hpp"

#include <algorithm>

namespace shimwatch {

std::string_view action_name(Action action) {
  switch (action) {
  case Action::docker_cli_exec:
    return "docker-cli-exec";
  case Action::docker_socket_connect:
    return "docker-socket-connect";
  case Action::docker_service_control:
    return "docker-service-control";
  case Action::runtime_socket_connect:
    return "runtime-socket-connect";
  case Action::docker_api_tcp_connect:
    return "docker-api-tcp-connect";
  case Action::docker_config_read:
    return "docker-config-read";
  case Action::docker_config_write:
    return "docker-config-write";
  }
  return "unknown";
}

void Gap::merge(const Gap &other) {
  if (other.dropped() == 0)
    return;
  if (dropped() == 0) {
    first_ns = other.first_ns;
    last_ns = other.last_ns;
  } else {
    first_ns = std::min(first_ns, other.first_ns);
    last_ns = std::max(last_ns, other.last_ns);
  }
  for (const auto &added : other.reasons) {
    auto same = std::find_if(reasons.begin(), reasons.end(),
                             [&](const auto &entry) { return entry.first == added.first; });
    if (same != reasons.end())
      same->second += added.second;
    else
      reasons.push_back(added);
  }
  timestamp_ns = std::max(timestamp_ns, other.timestamp_ns);
  // A sentence written for one record's count would be wrong for the sum.
  message.clear();
}

void merge_into(std::vector<Gap> &gaps, const Gap &gap) {
  for (Gap &existing : gaps)
    if (existing.same_place(gap)) {
      existing.merge(gap);
      return;
    }
  gaps.push_back(gap);
}

namespace {

// A string's own heap block, beyond the object (short strings live inside).
size_t heap_bytes(const std::string &s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

} // namespace

size_t approximate_bytes(const Event &event) {
  size_t n = sizeof(Event);
  const ProcessInfo &p = event.process;
  for (const std::string *s : {&p.name,
                               &p.parent_name,
                               &p.executable,
                               &event.cgroup_path,
                               &event.exec_path,
                               &event.exec_build_id,
                               &event.socket_path,
                               &event.socket_peer,
                               &event.socket_watched,
                               &event.config_path,
                               &event.config_watched,
                               &event.config_relative_path,
                               &event.impersonates,
                               &event.origin.namespace_name,
                               &event.origin.pod_name,
                               &event.origin.container_name,
                               &event.origin.container_image,
                               &event.origin.workload_name,
                               &event.origin.cgroup.unit,
                               &event.origin.cgroup.container_id})
    n += heap_bytes(*s);
  n += p.args.capacity() * sizeof(std::string);
  for (const auto &arg : p.args)
    n += heap_bytes(arg);
  n += p.ancestry.capacity() * sizeof(Ancestor);
  for (const auto &a : p.ancestry)
    n += heap_bytes(a.name) + heap_bytes(a.executable);
  for (const auto &[key, value] : event.origin.labels)
    n += 64 + heap_bytes(key) + heap_bytes(value);
  return n;
}

std::string_view origin_type_name(OriginType type) {
  switch (type) {
  case OriginType::host:
    return "host";
  case OriginType::pod:
    return "pod";
  case OriginType::container:
    return "container";
  case OriginType::systemd_unit:
    return "systemd_unit";
  case OriginType::user_session:
    return "user_session";
  }
  return "host";
}

} // namespace shimwatch
