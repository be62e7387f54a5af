// attribute: who is behind an event — pod, container, systemd unit, login
// session or the host — from the cgroup path the probe captured.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <memory>
#include <vector>

#include "shimwatch/settings.hpp"
#include "shimwatch/event.hpp"

namespace shimwatch {

// Parses a cgroup path as it appears in /proc/<pid>/cgroup or is rebuilt from
// the probe's captured levels ("/kubepods/burstable/pod<uid>/<id>",
// "/system.slice/cron.service", ...). The path may have lost its top levels
// (it may start with "..."). Never fails: a path that matches no known layout
// is the host.
//
// Which level decides: the innermost pod, else the innermost container, else
// the innermost unit or session, else the host. Inside a pod, the pod's own
// container (the level right below the pod) is reported, as the pod status
// names it; a pod inside a container (a kind node seen from the host) is a
// pod. Levels below the deciding one (".../init", ".../container", a
// service's sub-cgroup) are ignored.
// - Pod uids come back with dashes; static pods' 32-hex uids as they are.
// - qos_class only with a pod uid, empty when truncation lost the QoS level.
// - conmon (crio-conmon-, libpod-conmon-) under a pod is the pod with no
//   container id; outside a pod it is the container it watches.
// - A bare 64-hex level is a container: runtime docker under "docker",
//   containerd under "default"/"k8s.io", unknown elsewhere.
// - A runtime-prefixed level with a malformed id is neither container nor
//   unit; the outer levels decide. Unit names keep systemd's escapes.
// - slice and session_uid come from the innermost slice and user-N.slice /
//   user@N.service at or above the deciding level, for every type.
CgroupOrigin parse_cgroup_path(std::string_view path);

class PodCache;
class ProcessTable;

// The attribute stage: cgroup path -> origin, pod uid -> Kubernetes metadata,
// ancestors -> their executables. Never blocks: what is not known yet (a pod
// the watch has not delivered) is left out and counted.
class Attributor {
public:
  // pods may be null (no Kubernetes metadata source).
  Attributor(const Config &config, const PodCache *pods);
  ~Attributor();
  Attributor(const Attributor &) = delete;
  Attributor &operator=(const Attributor &) = delete;

  // Scans /proc once so that ancestors already running are known.
  void scan_processes();

  // place, then enrich.
  void attribute(Event &event);
  // What the cgroup path alone tells (origin type, pod uid, container,
  // unit, session): cheap, and what exclusions by unit look at before the
  // event is known to be wanted.
  void place(Event &event) const;
  // The rest, for an event that is reported: the ancestry's executables and
  // the pod's metadata.
  void enrich(Event &event);

  // Events of a pod the metadata source did not know (yet).
  uint64_t kubernetes_misses() const { return kubernetes_misses_; }
  size_t process_table_size() const;

private:
  std::unique_ptr<ProcessTable> processes_;
  const PodCache *pods_;
  std::vector<std::string> labels_;
  uint64_t kubernetes_misses_ = 0;
};

} // namespace shimwatch
