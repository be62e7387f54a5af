// Capabilities: everything the probes needed to load and attach is dropped
// once they are attached; what reading the node needs from then on stays.
#pragma once

#include <cstdint>
#include <string>

#include "shimwatch/result.hpp"

namespace shimwatch {

struct CapabilitySets {
  uint64_t effective = 0;
  uint64_t permitted = 0;
};

// The calling thread's sets (threads started after a drop inherit them).
Result<CapabilitySets> current_capabilities();

// What the running agent keeps: BPF map access (CAP_BPF, or CAP_SYS_ADMIN on
// kernels without it), reading other processes' executables and /proc/1/root
// (CAP_SYS_PTRACE), reading files regardless of their mode
// (CAP_DAC_READ_SEARCH), and a metrics port below 1024 when configured
// (CAP_NET_BIND_SERVICE). Only what the process has is kept.
uint64_t capabilities_to_keep(bool low_port);

// The user the running agent becomes (security.run_as). uid 0 stays root.
struct RunAs {
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool root() const { return uid == 0; }
};

// "root", "UID[:GID]" or "NAME[:GROUP]" (names from this system's user and
// group databases; a number needs none). A user without a group takes the
// user's own group, or the gid equal to a numeric uid.
Result<RunAs> resolve_run_as(const std::string &spec);

// The log file's directory must be one the agent can still write (rotate,
// reopen after logrotate) once it is no longer root: one it owns already,
// or a root-owned one that holds nothing but the log and its rotated
// copies, which is given to it. Anything else is an error saying what to do.
// check_only: say so without changing anything (before the log is opened:
// root without CAP_DAC_OVERRIDE can no longer create it in a directory it
// has given away).
Status give_log_directory_to(const std::string &log_file, const RunAs &user,
                             bool check_only = false);

// Reduces the effective and permitted sets to keep (intersected with what
// is held), and the bounding set when it may; clears the ambient set and
// sets no_new_privs; becomes user (keeping those capabilities) unless it is
// root. Must run before other threads start: all of these are per thread,
// and threads started later inherit them.
Status drop_capabilities_except(uint64_t keep, const RunAs &user = {});

// "cap_bpf,cap_sys_ptrace" for a mask.
std::string capability_names(uint64_t mask);

} // namespace shimwatch
