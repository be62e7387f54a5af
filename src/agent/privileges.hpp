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

// Reduces the effective and permitted sets to keep (intersected with what
// is held), and the bounding set when it may; clears the ambient set and
// sets no_new_privs. Must run before other threads start: all of these are
// per thread, and threads started later inherit them.
Status drop_capabilities_except(uint64_t keep);

// "cap_bpf,cap_sys_ptrace" for a mask.
std::string capability_names(uint64_t mask);

} // namespace shimwatch
