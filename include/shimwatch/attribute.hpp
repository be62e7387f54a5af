// attribute: who is behind an event — pod, container, systemd unit, login
// session or the host — from the cgroup path the probe captured.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shimwatch {

enum class OriginType { host, pod, container, systemd_unit, user_session };

// "host", "pod", "container", "systemd_unit", "user_session"
std::string_view origin_type_name(OriginType type);

// What a cgroup path alone says about its owner.
struct CgroupOrigin {
  OriginType type = OriginType::host;

  // pod: kubelet's pod cgroup, uid with dashes as the API server spells it.
  std::string pod_uid;
  std::string qos_class; // "guaranteed", "burstable" or "besteffort"

  // pod or container: the container's full id (hex, no runtime prefix).
  std::string container_id;
  // "containerd", "cri-o", "docker", "podman"; empty when the layout does not say
  // (kubelet's cgroupfs driver names the container by id only).
  std::string container_runtime;

  // systemd_unit: the innermost unit, e.g. "cron.service", "getty@tty1.service".
  std::string unit;
  // user_session: "3" for session-3.scope; the login uid from user-1000.slice.
  std::string session;
  std::optional<uint32_t> session_uid;
  // The innermost slice, e.g. "system.slice", "user-1000.slice", "kubepods-burstable.slice".
  std::string slice;
};

// Parses a cgroup path as it appears in /proc/<pid>/cgroup or is rebuilt from
// the probe's captured levels ("/kubepods/burstable/pod<uid>/<id>",
// "/system.slice/cron.service", ...). The path may have lost its top levels
// (it may start with "..."); the innermost levels decide. Never fails: a path
// that matches no known layout is the host.
CgroupOrigin parse_cgroup_path(std::string_view path);

} // namespace shimwatch
