// A decoded event: passive data handed from stage to stage.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shimwatch {

enum class Action {
  docker_cli_exec,
  docker_socket_connect,
};

// The value written to event.action.
std::string_view action_name(Action action);

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
};

struct Event {
  Action action = Action::docker_cli_exec;
  int64_t timestamp_ns = 0; // Unix time
  uint64_t ktime_ns = 0;    // CLOCK_BOOTTIME, as recorded by the probe
  ProcessInfo process;
  uint64_t cgroup_id = 0;
  uint32_t mnt_ns = 0;
  uint32_t pid_ns = 0;
  std::string exec_path;            // exec: the path passed to execve()
  bool exec_path_truncated = false; // longer than the kernel keeps: its basename is lost

  // connect
  std::string socket_path; // as passed by the caller; abstract names start with '@'
  bool socket_abstract = false;
  int error = 0; // errno of a failed call, 0 on success

  bool success() const { return error == 0; }
};

} // namespace shimwatch
