// A decoded event: passive data handed from stage to stage.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shimwatch {

enum class Action {
  docker_cli_exec,
  docker_socket_connect,
  docker_service_control, // systemctl/service/init.d acting on docker
  runtime_socket_connect, // another container runtime's socket
  docker_api_tcp_connect, // TCP connect to a Docker Engine API port
  docker_config_read,     // an open of Docker's configuration for reading
  docker_config_write,    // ... for writing (or creating)
};

// The value written to event.action.
std::string_view action_name(Action action);

inline bool is_config_open(Action action) {
  return action == Action::docker_config_read || action == Action::docker_config_write;
}

// A connect() (to a unix socket, later TCP), as opposed to an exec.
inline bool is_connect(Action action) {
  return action == Action::docker_socket_connect || action == Action::runtime_socket_connect ||
         action == Action::docker_api_tcp_connect;
}

enum class OriginType { host, pod, container, systemd_unit, user_session };
// "host", "pod", "container", "systemd_unit", "user_session"
std::string_view origin_type_name(OriginType type);

// What a cgroup path alone says about its owner (see parse_cgroup_path).
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

  // A pod uid named by a cgroup where no kubelet puts pods (below a user's
  // delegated subtree, user@<uid>.service, or inside another pod's
  // container): anyone allowed to make cgroups there can pick the name, so
  // it is not believed; the origin is what encloses it.
  std::string unverified_pod_uid;
};

// Who is behind an event: filled by the attribute stage.
struct Origin {
  OriginType type = OriginType::host;
  CgroupOrigin cgroup;

  // Kubernetes metadata, once the pod is known to the agent.
  bool kubernetes_known = false;
  std::string namespace_name;
  std::string pod_name;
  std::string container_name;
  std::string container_image;
  std::string workload_kind; // Deployment, DaemonSet, StatefulSet, Job, CronJob, ...
  std::string workload_name;
  std::map<std::string, std::string> labels; // the configured allow-list only

  // A known monitoring or security agent (rule name), e.g. "datadog".
  std::string agent;
};

// One ancestor, nearest first; captured in the kernel at the time of the event.
struct Ancestor {
  uint32_t pid = 0;
  uint32_t pid_ns = 0;
  uint64_t start_boottime_ns = 0;
  std::string name;       // comm
  std::string executable; // from the process table; empty when unknown
};

struct ProcessInfo {
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint32_t ppid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string name;        // comm, as the kernel keeps it (<= 15 bytes)
  std::string parent_name; // the parent's comm
  std::string executable;  // absolute path inside the process' mount namespace
  bool executable_truncated = false;
  std::vector<std::string> args;
  bool args_truncated = false;  // argv longer than the kernel-side bound
  bool args_unreadable = false; // argv was not resident when the probe ran
  // The call was run by an io_uring worker thread for the process (tid is
  // the worker's; name is the process' main thread's).
  bool io_uring_worker = false;
  std::vector<Ancestor> ancestry;  // nearest first, up to the container boundary or pid 1
  bool ancestry_truncated = false; // more ancestors above the captured ones
};

// Set on a summary record: this many more events with the same origin,
// action, outcome, target and command line were folded after the first one
// was written in full (see aggregate.hpp).
struct Repeat {
  uint64_t count = 0;
  int64_t first_seen_ns = 0; // Unix time of the first and last folded event
  int64_t last_seen_ns = 0;
  int64_t window_ns = 0;
};

struct Event {
  Action action = Action::docker_cli_exec;
  int64_t timestamp_ns = 0; // Unix time
  uint64_t ktime_ns = 0;    // CLOCK_BOOTTIME, as recorded by the probe
  ProcessInfo process;
  uint64_t cgroup_id = 0;
  // "/kubepods/burstable/pod<uid>/<id>"; ".../a/b" when only the innermost
  // levels were captured.
  std::string cgroup_path;
  uint32_t cgroup_hierarchy = 0; // 0: cgroup v2; else a v1 controller's subsys id + 1
  uint32_t mnt_ns = 0;
  uint32_t pid_ns = 0;
  std::string exec_path;            // exec: the path passed to execve()
  bool exec_path_truncated = false; // longer than the kernel keeps: its basename is lost
  // The file run is a watched binary by identity (inode), whatever its name.
  bool exec_matched_by_identity = false;
  // ... or by its ELF build-id (a renamed copy); exec_matched_by_identity too.
  bool exec_matched_by_build_id = false;
  // The first exec of a binary matched by nothing else: the agent checks its
  // build-id, then reports it (a renamed docker) or drops it.
  bool exec_new_binary = false;
  std::string exec_build_id; // "gnu:<hex>" when matched by build-id
  // The file run, as the kernel saw it (inode, stat() device, size).
  uint64_t exe_ino = 0;
  uint64_t exe_dev = 0;
  uint64_t exe_size = 0;

  // connect
  std::string socket_path; // as passed by the caller; abstract names start with '@'
  bool socket_abstract = false;
  // What a successful unix connect reached: the listening socket's bound
  // name (as its server bound it) and its socket file's identity.
  std::string socket_peer;
  uint64_t socket_peer_ino = 0;
  uint64_t socket_peer_dev = 0;        // user-space encoding, as in struct stat
  bool socket_matched_by_peer = false; // the passed path is not a watched one
  // The configured socket (watch.sockets or a runtime socket) this connect
  // matched, by the passed path or by the peer's identity.
  std::string socket_watched;
  int error = 0; // errno of a failed call, 0 on success
  // Interrupted by a signal (the kernel's ERESTART* codes): the caller saw
  // EINTR or the call was restarted, which then shows as a second event.
  bool interrupted = false;
  // A TCP connect whose handshake had not ended when it was reported
  // (EINPROGRESS): its outcome is unknown.
  bool in_progress = false;

  Origin origin;
  // The exclude.executables pattern the process' executable is named like
  // although it is not a binary only root can replace on the node (a copy
  // of a client saved as /tmp/kubelet): reported all the same, and marked.
  std::string impersonates;

  // docker_config_read/write: the file, as the configured path it is in
  // plus the path below it; and what the kernel matched.
  std::string config_path;
  std::string config_watched;       // the configured file or directory
  std::string config_relative_path; // below config_watched, from the kernel
  uint64_t config_matched_ino = 0;
  uint64_t config_matched_dev = 0;
  bool config_created = false; // docker_config_write: the open created the file
  // docker_config_write by rename(): the destination, as an absolute path
  // (config_absolute) or relative to the matched entry (config_relative_path).
  bool config_renamed = false;
  bool config_absolute = false;

  // docker_api_tcp_connect: the destination ("127.0.0.1", "::1") and port.
  std::string tcp_address;
  uint16_t tcp_port = 0;

  // runtime_socket_connect: the runtime the socket belongs to ("containerd").
  std::string runtime;
  // docker_service_control: the verb ("restart") and unit ("docker.service").
  std::string service_verb;
  std::string service_unit;
  // How: the manager's basename ("systemctl", "service") or "init-script".
  std::string service_manager;

  std::optional<Repeat> repeat; // only on summary records

  bool success() const { return error == 0; }
};

// Events that some output (or all of them) never got: written as a record
// of its own (event.action "shimwatch-gap") where the loss happened, so the
// trail says how much is missing and when, instead of just being shorter.
struct Gap {
  std::string stage; // "kernel", "queue", "log_file", "syslog" ...
  // Lost events by reason, e.g. {"ring_buffer_full", 12}; the JSON record
  // carries each as shimwatch.gap.<reason>.
  std::vector<std::pair<std::string, uint64_t>> reasons;
  int64_t first_ns = 0; // the span the loss covers (event times where known)
  int64_t last_ns = 0;
  int64_t timestamp_ns = 0; // when the record was made
  std::string destination;  // the output that lost them; empty: every output
  std::string reason;       // event.reason; empty: the stage
  std::string message;      // empty: made from the counts

  uint64_t dropped() const {
    uint64_t total = 0;
    for (const auto &[reason, n] : reasons)
      total += n;
    return total;
  }
  // Same stage and destination: one record can report both.
  bool same_place(const Gap &other) const {
    return stage == other.stage && destination == other.destination;
  }
  // Adds other's counts and widens the span to cover both. A gap record
  // that cannot be written must not lose the losses it reports: they are
  // merged into one still to be written.
  void merge(const Gap &other);
};

// Merges gap into the entry of gaps with the same place, or appends it: at
// most one entry per stage and destination, however many gaps come.
void merge_into(std::vector<Gap> &gaps, const Gap &gap);

// The memory an event holds, about: every in-memory structure that keeps
// events (the output queue, the de-duplicator) is bounded by it as well as
// by count. argv is the large part: up to 4 KiB that can split into two
// thousand one-byte arguments, each a std::string of its own.
size_t approximate_bytes(const Event &event);

} // namespace shimwatch
