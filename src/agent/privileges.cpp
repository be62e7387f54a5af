// Raw capget/capset: the two system calls are all this needs, so no library
// stands between the agent and the kernel's view of its privileges.
#include "agent/privileges.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "shimwatch/fd.hpp"
#include "shimwatch/text.hpp"

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

std::optional<uint32_t> number(std::string_view text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    return std::nullopt;
  return value;
}

} // namespace

Result<RunAs> resolve_run_as(const std::string &spec) {
  if (spec == "root")
    return RunAs{};
  const auto colon = spec.find(':');
  const std::string user = spec.substr(0, colon);
  const std::string group = colon == std::string::npos ? "" : spec.substr(colon + 1);
  RunAs out;
  std::optional<uint32_t> user_group;
  std::vector<char> buffer(16384);
  if (auto uid = number(user)) {
    out.uid = *uid;
  } else {
    passwd entry{}, *found = nullptr;
    if (getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found)
      return Error{"security.run_as " + spec + ": no user " + user +
                       " on this system; give a number (UID[:GID])",
                   ENOENT};
    out.uid = found->pw_uid;
    user_group = found->pw_gid;
  }
  if (group.empty()) {
    out.gid = user_group.value_or(out.uid);
  } else if (auto gid = number(group)) {
    out.gid = *gid;
  } else {
    struct group entry {
    }, *found = nullptr;
    if (getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found)
      return Error{"security.run_as " + spec + ": no group " + group +
                       " on this system; give a number (UID:GID)",
                   ENOENT};
    out.gid = found->gr_gid;
  }
  return out;
}

Status give_log_directory_to(const std::string &log_file, const RunAs &user, bool check_only) {
  if (user.root())
    return Ok{};
  const auto slash = log_file.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : log_file.substr(0, slash));
  const std::string base = log_file.substr(slash == std::string::npos ? 0 : slash + 1);
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd)
    return Error{
        "log directory " + dir + ": " + errno_text(errno) + " (check the directory exists)", errno};
  struct stat st {};
  if (fstat(dir_fd.get(), &st) != 0)
    return Error{"log directory " + dir + ": " + errno_text(errno), errno};
  const std::string what_to_do = ": the agent writes, rotates and reopens its log as uid " +
                                 std::to_string(user.uid) +
                                 " (security.run_as), so it needs a directory of its own; make "
                                 "one for the log (it is given to that user at start), chown it "
                                 "to that user, or set security.run_as to root";
  if (st.st_uid != 0 && st.st_uid != user.uid)
    return Error{"log directory " + dir + " belongs to uid " + std::to_string(st.st_uid) +
                     what_to_do,
                 EPERM};
  // Only a directory kept for the log is given away: never /var/log, a
  // shared temporary directory or anything else that holds other files.
  // The log and its rotated copies root made (an agent that ran as root)
  // go with it, so that the user can append to and rotate them.
  DIR *listing = fdopendir(::dup(dir_fd.get()));
  if (!listing)
    return Error{"log directory " + dir + ": " + errno_text(errno), errno};
  std::string other;
  std::vector<std::string> roots_files;
  while (dirent *entry = readdir(listing)) {
    std::string_view name = entry->d_name;
    if (name == "." || name == "..")
      continue;
    if (!name.starts_with(base)) {
      other = name;
      continue;
    }
    struct stat file {};
    if (fstatat(dir_fd.get(), entry->d_name, &file, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(file.st_mode) && file.st_uid == 0)
      roots_files.emplace_back(name);
  }
  closedir(listing);
  if (st.st_uid == 0 && !other.empty())
    return Error{"log directory " + dir + " belongs to root and holds other files (" + other + ")" +
                     what_to_do,
                 EPERM};
  if (check_only)
    return Ok{};
  if (st.st_uid == 0) {
    if (fchown(dir_fd.get(), user.uid, user.gid) != 0)
      return Error{"giving the log directory " + dir + " to uid " + std::to_string(user.uid) +
                       " failed: " + errno_text(errno) + what_to_do,
                   errno};
    // Group and others keep at most reading and searching: the trail is
    // the agent's to write.
    if ((st.st_mode & 0022) != 0)
      (void)fchmod(dir_fd.get(), st.st_mode & 07755);
    spdlog::info("log directory {} now belongs to uid {} gid {}, the user the agent runs as", dir,
                 user.uid, user.gid);
  }
  for (const auto &name : roots_files)
    if (fchownat(dir_fd.get(), name.c_str(), user.uid, user.gid, AT_SYMLINK_NOFOLLOW) != 0)
      return Error{"giving the log file " + dir + "/" + name + " to uid " +
                       std::to_string(user.uid) + " failed: " + errno_text(errno),
                   errno};
  return Ok{};
}

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

Status drop_capabilities_except(uint64_t keep, const RunAs &user) {
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
  if (!user.root()) {
    // The permitted set survives the change of user only with keep-caps;
    // root's supplementary groups go with it.
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
      return Error{std::string("keeping capabilities across the change of user failed: ") +
                       std::strerror(errno),
                   errno};
    if (setgroups(0, nullptr) != 0 || setresgid(user.gid, user.gid, user.gid) != 0 ||
        setresuid(user.uid, user.uid, user.uid) != 0)
      return Error{"becoming uid " + std::to_string(user.uid) + " gid " + std::to_string(user.gid) +
                       " failed: " + std::strerror(errno) +
                       " (CAP_SETUID and CAP_SETGID are needed to start; or set "
                       "security.run_as to root)",
                   errno};
    (void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  }
  const uint64_t permitted = held->permitted & keep;
  // Becoming another user cleared the effective set: raise it again from
  // what was held.
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
