// A seccomp allow-list for the running agent: once its probes are attached
// and its outputs open, it needs no more than reading, writing, sockets,
// threads and its BPF maps. No exec, no ptrace, no mount, no new BPF
// programs: whoever took over the agent through a bug in a parser gets no
// more than that.
#pragma once

#include <string>

#include "shimwatch/result.hpp"

namespace shimwatch {

enum class SyscallFilterMode {
  enforce, // any other call fails with EPERM
  log,     // any other call is allowed and logged by the kernel (audit)
  off,
};

// SHIMWATCH_SECCOMP=enforce (default) | log | off: log finds what a new
// code path needs (the kernel's audit log names each call, comm shimwatch).
Result<SyscallFilterMode> syscall_filter_mode_from_environment();

// Installs the filter on every thread of the process (threads started later
// inherit it).
Status install_syscall_filter(SyscallFilterMode mode);

std::string_view syscall_filter_mode_name(SyscallFilterMode mode);

} // namespace shimwatch
