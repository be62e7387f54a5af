#include "shimwatch/decode.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>

#include "events.h"

namespace shimwatch {

// The ABI shared with bpf/shimwatch.bpf.c: any change there must show here.
static_assert(sizeof(sw_event_header) == 16);
static_assert(sizeof(sw_task_info) == 72);
static_assert(sizeof(sw_unix_addr) == 116);
static_assert(sizeof(sw_exec_name) == SW_COMM_LEN);
static_assert(offsetof(sw_event, task) == 16);
static_assert(offsetof(sw_event, ret) == 88);
static_assert(offsetof(sw_event, addr) == 96);
static_assert(sizeof(sw_inode_key) == 16);
static_assert(sizeof(sw_unix_peer) == 136);
static_assert(offsetof(sw_event, peer) == 216);
static_assert(sizeof(sw_inet_addr) == 24);
static_assert(offsetof(sw_event, inet) == 352);
static_assert(offsetof(sw_event, matched) == 376);
static_assert(offsetof(sw_event, matched_depth) == 392);
static_assert(offsetof(sw_event, exe_size) == 400);
static_assert(sizeof(sw_ancestor) == 32);
static_assert(sizeof(sw_cgroup_info) == 16 + SW_CGROUP_BUF);
static_assert(offsetof(sw_event, ancestor) == 416);
static_assert(offsetof(sw_event, cgroup) == 672);
static_assert(offsetof(sw_event, exec_path) == 1456);
static_assert(offsetof(sw_event, exe) == 1712);
static_assert(offsetof(sw_event, args) == 2480);
static_assert(sizeof(sw_event) == offsetof(sw_event, args) + SW_ARGS_MAX);
static_assert(sizeof(sw_event) % 8 == 0);

namespace {

int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string bounded_string(const char *data, size_t max) {
  return std::string(data, strnlen(data, max));
}

// Components arrive leaf first, each NUL terminated: "docker\0bin\0usr\0".
// Bytes after the last NUL are not a whole component and are left out.
std::string join_path_components(const char *data, size_t size, bool truncated) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\0') {
      parts.emplace_back(data + start, i - start);
      start = i + 1;
    }
  }
  std::string path = truncated ? "..." : "";
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    path += '/';
    path += *it;
  }
  if (path.empty() && size > 0)
    path = "/";
  return path;
}

// argv as the kernel keeps it: each argument NUL terminated. A cut-off last
// argument has no NUL and is kept as it is.
std::vector<std::string> split_args(const char *data, size_t size) {
  std::vector<std::string> args;
  size_t start = 0;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\0') {
      args.emplace_back(data + start, i - start);
      start = i + 1;
    }
  }
  if (start < size)
    args.emplace_back(data + start, size - start);
  return args;
}

void set_connect_result(Event &event, int32_t ret) {
  event.error = ret < 0 ? -ret : 0;
  // ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK:
  // kernel-internal, never seen by the caller, who gets EINTR or a restart.
  if (event.error == 512 || event.error == 513 || event.error == 514 || event.error == 516) {
    event.error = EINTR;
    event.interrupted = true;
  }
}

} // namespace

ClockOffset ClockOffset::now() {
  return ClockOffset{clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME)};
}

Result<Event> decode_event(std::span<const std::byte> raw, const ClockOffset &clock) {
  constexpr size_t fixed_size = offsetof(sw_event, args);
  if (raw.size() < fixed_size)
    return Error{"record of " + std::to_string(raw.size()) + " bytes is shorter than the " +
                 std::to_string(fixed_size) + "-byte event header"};
  if (raw.size() > sizeof(sw_event))
    return Error{"record of " + std::to_string(raw.size()) + " bytes is longer than any event"};

  // Copy into an aligned, zeroed struct: ring buffer data is only 8-byte aligned
  // and a short record leaves the tail of args untouched.
  sw_event rec{};
  std::memcpy(&rec, raw.data(), raw.size());

  if (rec.hdr.size != raw.size())
    return Error{"record says it is " + std::to_string(rec.hdr.size) + " bytes but " +
                 std::to_string(raw.size()) + " arrived"};
  if (rec.args_size > SW_ARGS_MAX || fixed_size + rec.args_size > raw.size())
    return Error{"argv size " + std::to_string(rec.args_size) + " overruns the record"};
  if (rec.exe_size > SW_EXE_DATA)
    return Error{"executable path size " + std::to_string(rec.exe_size) + " overruns its field"};
  if (rec.cgroup.names_size > SW_CGROUP_DATA)
    return Error{"cgroup names size " + std::to_string(rec.cgroup.names_size) +
                 " overruns its field"};
  if (rec.ancestors > SW_ANCESTORS_MAX)
    return Error{"ancestor count " + std::to_string(rec.ancestors) + " overruns its field"};
  if (rec.addr.len > SW_UNIX_PATH_MAX)
    return Error{"socket path length " + std::to_string(rec.addr.len) + " overruns its field"};
  if (rec.peer.len > SW_UNIX_PATH_MAX)
    return Error{"socket peer length " + std::to_string(rec.peer.len) + " overruns its field"};

  Event event;
  switch (rec.hdr.type) {
  case SW_EVENT_EXEC:
    event.action = Action::docker_cli_exec;
    break;
  case SW_EVENT_CONNECT:
    event.action = Action::docker_socket_connect;
    break;
  case SW_EVENT_TCP_CONNECT:
    event.action = Action::docker_api_tcp_connect;
    break;
  case SW_EVENT_CONFIG_OPEN:
    event.action =
        rec.flags & SW_FLAG_OPEN_WRITE ? Action::docker_config_write : Action::docker_config_read;
    break;
  case SW_EVENT_CONFIG_RENAME:
    event.action = Action::docker_config_write;
    event.config_renamed = true;
    break;
  default:
    return Error{"unknown event type " + std::to_string(rec.hdr.type)};
  }

  event.ktime_ns = rec.hdr.ktime_ns;
  // A stamp past 2^63 ns or one the offset pushes out of range is not a boot time.
  if (rec.hdr.ktime_ns > static_cast<uint64_t>(INT64_MAX) ||
      __builtin_add_overflow(static_cast<int64_t>(rec.hdr.ktime_ns), clock.boot_to_realtime_ns,
                             &event.timestamp_ns))
    return Error{"ktime " + std::to_string(rec.hdr.ktime_ns) + " out of range"};

  ProcessInfo &p = event.process;
  p.pid = rec.task.pid;
  p.tid = rec.task.tid;
  p.ppid = rec.task.ppid;
  p.uid = rec.task.uid;
  p.gid = rec.task.gid;
  p.name = bounded_string(rec.task.comm, sizeof(rec.task.comm));
  p.parent_name = bounded_string(rec.task.parent_comm, sizeof(rec.task.parent_comm));
  p.executable_truncated = rec.flags & SW_FLAG_EXE_TRUNCATED;
  p.executable = join_path_components(rec.exe, rec.exe_size, p.executable_truncated);
  p.args = split_args(rec.args, rec.args_size);
  p.args_truncated = rec.flags & SW_FLAG_ARGS_TRUNCATED;
  p.args_unreadable = rec.flags & SW_FLAG_ARGS_UNREADABLE;
  p.io_uring_worker = rec.flags & SW_FLAG_IO_URING;

  for (size_t i = 0; i < rec.ancestors; ++i) {
    const sw_ancestor &a = rec.ancestor[i];
    p.ancestry.push_back(
        Ancestor{a.pid, a.pid_ns, a.start_boottime_ns, bounded_string(a.comm, sizeof(a.comm)), ""});
  }
  p.ancestry_truncated = rec.flags & SW_FLAG_ANCESTRY_TRUNCATED;

  event.cgroup_id = rec.task.cgroup_id;
  event.cgroup_hierarchy = rec.cgroup.hierarchy;
  event.cgroup_path = rec.cgroup.level == 0
                          ? "/"
                          : join_path_components(rec.cgroup.names, rec.cgroup.names_size,
                                                 rec.flags & SW_FLAG_CGROUP_TRUNCATED);
  event.mnt_ns = rec.task.mnt_ns;
  event.pid_ns = rec.task.pid_ns;

  if (event.action == Action::docker_cli_exec) {
    event.exec_path = bounded_string(rec.exec_path, sizeof(rec.exec_path));
    event.exec_path_truncated = rec.flags & SW_FLAG_EXEC_PATH_TRUNCATED;
    event.exec_matched_by_identity = rec.flags & SW_FLAG_EXEC_IDENTITY;
    event.exec_new_binary = rec.flags & SW_FLAG_EXEC_NEW_BINARY;
    event.exe_ino = rec.matched.ino;
    event.exe_dev = makedev(rec.matched.dev >> 20, rec.matched.dev & 0xfffff);
    event.exe_size = rec.matched_depth;
  } else if (event.config_renamed) {
    // exec_path: the destination as passed (its first half); for a relative
    // one, the directories between the matched entry and the base follow,
    // leaf first, from the middle on.
    constexpr size_t half = sizeof(rec.exec_path) / 2;
    std::string name = bounded_string(rec.exec_path, half);
    event.config_matched_ino = rec.matched.ino;
    event.config_matched_dev = makedev(rec.matched.dev >> 20, rec.matched.dev & 0xfffff);
    if (rec.flags & SW_FLAG_RENAME_ABSOLUTE) {
      event.config_absolute = true;
      event.config_path = name;
    } else {
      size_t used = 0;
      const char *dirs = rec.exec_path + half;
      for (uint32_t names = 0; used < half && names < rec.matched_depth; ++used)
        names += dirs[used] == '\0';
      std::string below = join_path_components(dirs, used, false); // "/sub/dir" or "/"
      event.config_relative_path = (below.size() > 1 ? below.substr(1) + "/" : "") + name;
    }
  } else if (is_config_open(event.action)) {
    // Names below the watched entry, leaf first: "ca.crt\0reg:5000\0certs.d\0".
    size_t used = 0;
    for (uint32_t names = 0; used < sizeof(rec.exec_path) && names < rec.matched_depth; ++used)
      names += rec.exec_path[used] == '\0';
    std::string below = join_path_components(rec.exec_path, used, false); // "/certs.d/..."
    event.config_relative_path = below.size() > 1 ? below.substr(1) : "";
    event.config_matched_ino = rec.matched.ino;
    event.config_matched_dev = makedev(rec.matched.dev >> 20, rec.matched.dev & 0xfffff);
    event.config_created = rec.flags & SW_FLAG_OPEN_CREATED;
  } else if (event.action == Action::docker_api_tcp_connect) {
    char text[INET6_ADDRSTRLEN] = {};
    int family = rec.inet.family == SW_AF_INET6 ? AF_INET6 : AF_INET;
    if (rec.inet.family != SW_AF_INET && rec.inet.family != SW_AF_INET6)
      return Error{"TCP connect record with address family " + std::to_string(rec.inet.family)};
    inet_ntop(family, rec.inet.addr, text, sizeof(text));
    event.tcp_address = text;
    event.tcp_port = rec.inet.port;
    set_connect_result(event, rec.ret);
    event.in_progress = event.error == EINPROGRESS && !(rec.flags & SW_FLAG_COMPLETED_LATER);
  } else {
    event.socket_abstract = rec.addr.abstract != 0;
    if (event.socket_abstract)
      event.socket_path =
          "@" + std::string(rec.addr.path + 1, rec.addr.len > 0 ? rec.addr.len - 1 : 0);
    else
      event.socket_path = std::string(rec.addr.path, rec.addr.len);
    if (rec.flags & SW_FLAG_PEER_KNOWN) {
      const sw_unix_peer &peer = rec.peer;
      if (peer.abstract)
        event.socket_peer = "@" + std::string(peer.path + 1, peer.len > 0 ? peer.len - 1 : 0);
      else
        event.socket_peer = std::string(peer.path, peer.len);
      event.socket_peer_ino = peer.id.ino;
      event.socket_peer_dev = makedev(peer.id.dev >> 20, peer.id.dev & 0xfffff);
    }
    event.socket_matched_by_peer =
        (rec.flags & SW_FLAG_MATCHED_PEER) && !(rec.flags & SW_FLAG_MATCHED_PATH);
    set_connect_result(event, rec.ret);
  }
  return event;
}

} // namespace shimwatch
