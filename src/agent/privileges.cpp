// Raw capget/capset: the two system calls are all this needs, so no library
// stands between the agent and the kernel's view of its privileges.
#include "agent/privileges.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

namespace shimwatch {
namespace {

constexpr int kCapBpf = 39; // CAP_BPF, from Linux 5.8; older headers lack it

int last_capability() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int last = CAP_AUDIT_READ;
  in >> last;
  return last;
}

uint64_t bit(int capability) {
  return uint64_t{1} << capability;
}

const char *name_of(int capability) {
  static const char *const names[] = {"cap_chown",
                                      "cap_dac_override",
                                      "cap_dac_read_search",
                                      "cap_fowner",
                                      "cap_fsetid",
                                      "cap_kill",
                                      "cap_setgid",
                                      "cap_setuid",
                                      "cap_setpcap",
                                      "cap_linux_immutable",
                                      "cap_net_bind_service",
                                      "cap_net_broadcast",
                                      "cap_net_admin",
                                      "cap_net_raw",
                                      "cap_ipc_lock",
                                      "cap_ipc_owner",
                                      "cap_sys_module",
                                      "cap_sys_rawio",
                                      "cap_sys_chroot",
                                      "cap_sys_ptrace",
                                      "cap_sys_pacct",
                                      "cap_sys_admin",
                                      "cap_sys_boot",
                                      "cap_sys_nice",
                                      "cap_sys_resource",
                                      "cap_sys_time",
                                      "cap_sys_tty_config",
                                      "cap_mknod",
                                      "cap_lease",
                                      "cap_audit_write",
                                      "cap_audit_control",
                                      "cap_setfcap",
                                      "cap_mac_override",
                                      "cap_mac_admin",
                                      "cap_syslog",
                                      "cap_wake_alarm",
                                      "cap_block_suspend",
                                      "cap_audit_read",
                                      "cap_perfmon",
                                      "cap_bpf",
                                      "cap_checkpoint_restore"};
  return capability >= 0 && static_cast<size_t>(capability) < std::size(names) ? names[capability]
                                                                               : nullptr;
}

} // namespace

Result<CapabilitySets> current_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0)
    return Error{std::string("capget failed: ") + std::strerror(errno), errno};
  CapabilitySets sets;
  sets.effective = data[0].effective | (uint64_t{data[1].effective} << 32);
  sets.permitted = data[0].permitted | (uint64_t{data[1].permitted} << 32);
  return sets;
}

uint64_t capabilities_to_keep(bool low_port) {
  uint64_t keep = bit(CAP_SYS_PTRACE) | bit(CAP_DAC_READ_SEARCH);
  keep |= last_capability() >= kCapBpf ? bit(kCapBpf) : bit(CAP_SYS_ADMIN);
  if (low_port)
    keep |= bit(CAP_NET_BIND_SERVICE);
  return keep;
}

Status drop_capabilities_except(uint64_t keep) {
  auto held = current_capabilities();
  if (!held)
    return held.error();
  // The bounding set first, while CAP_SETPCAP may still be held: nothing
  // dropped can come back, not even through a program the agent would run.
  // Without CAP_SETPCAP (a container granted only what the agent needs) the
  // container runtime has set the bounding set already.
  if (held->effective & bit(CAP_SETPCAP)) {
    for (int capability = 0; capability <= last_capability(); ++capability)
      if (!(keep & bit(capability)) && prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 &&
          errno != EINVAL)
        return Error{std::string("dropping the bounding set failed: ") + std::strerror(errno),
                     errno};
  }
  // Nothing inherited through an exec, and no exec that could gain
  // privileges (set-user-ID files, file capabilities).
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return Error{std::string("clearing the ambient set failed: ") + std::strerror(errno), errno};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return Error{std::string("setting no_new_privs failed: ") + std::strerror(errno), errno};
  const uint64_t permitted = held->permitted & keep;
  const uint64_t effective = held->effective & keep;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  data[0].permitted = static_cast<uint32_t>(permitted);
  data[1].permitted = static_cast<uint32_t>(permitted >> 32);
  data[0].effective = static_cast<uint32_t>(effective);
  data[1].effective = static_cast<uint32_t>(effective >> 32);
  // Inheritable stays empty: the agent runs no programs.
  if (::syscall(SYS_capset, &header, data) != 0)
    return Error{std::string("capset failed: ") + std::strerror(errno), errno};
  return Ok{};
}

std::string capability_names(uint64_t mask) {
  std::string out;
  for (int capability = 0; capability < 64; ++capability) {
    if (!(mask & bit(capability)))
      continue;
    if (!out.empty())
      out += ',';
    const char *name = name_of(capability);
    out += name ? name : "cap_" + std::to_string(capability);
  }
  return out.empty() ? "none" : out;
}

} // namespace shimwatch
