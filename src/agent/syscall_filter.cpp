#include "agent/syscall_filter.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <linux/bpf.h>
#include <memory>
#include <seccomp.h>
#include <sys/prctl.h>

namespace shimwatch {

namespace {

struct FilterDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};

// What the running agent calls, by name (names this architecture does not
// have are skipped).
constexpr const char *kAllowed[] = {
    // files and descriptors
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "open",
    "openat", "openat2", "close", "close_range", "stat", "fstat", "lstat", "newfstatat", "statx",
    "fstatfs", "statfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
    "getdents64", "getcwd", "lseek", "fsync", "fdatasync", "ftruncate", "fchmod", "rename",
    "renameat", "renameat2", "unlink", "unlinkat", "flock", "fcntl", "ioctl", "dup", "dup2", "dup3",
    "pipe", "pipe2",
    // memory
    "mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "membarrier",
    // threads, time, signals
    "futex", "set_robust_list", "get_robust_list", "rseq", "clone", "clone3", "exit", "exit_group",
    "set_tid_address", "gettid", "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid",
    "getgroups", "getresuid", "getresgid", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
    "rt_sigtimedwait", "sigaltstack", "tgkill", "tkill", "restart_syscall", "nanosleep",
    "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time", "sched_yield",
    "sched_getaffinity", "getrandom", "getrlimit", "prlimit64", "getrusage", "times", "uname",
    "sysinfo", "capget",
    // the helper that undoes a failed start, reaped once the agent is ready
    "wait4",
    // waiting
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    "poll", "ppoll", "select", "pselect6", "eventfd", "eventfd2", "timerfd_create",
    "timerfd_settime", "timerfd_gettime",
    // sockets: metrics, syslog, the Kubernetes API
    "socket", "socketpair", "connect", "accept", "accept4", "bind", "listen", "getsockname",
    "getpeername", "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg",
    "sendmmsg", "recvmmsg", "shutdown"};

// bpf(2): what reading and filling the maps takes, nothing that loads a
// program, attaches one or makes a map.
constexpr int kBpfCommands[] = {BPF_MAP_LOOKUP_ELEM,    BPF_MAP_UPDATE_ELEM,
                                BPF_MAP_DELETE_ELEM,    BPF_MAP_GET_NEXT_KEY,
                                BPF_OBJ_GET_INFO_BY_FD, BPF_MAP_LOOKUP_AND_DELETE_ELEM};

// prctl(2): naming threads only.
constexpr int kPrctlOptions[] = {PR_SET_NAME, PR_GET_NAME};

} // namespace

std::string_view syscall_filter_mode_name(SyscallFilterMode mode) {
  switch (mode) {
  case SyscallFilterMode::enforce:
    return "enforce";
  case SyscallFilterMode::log:
    return "log";
  case SyscallFilterMode::off:
    return "off";
  }
  return "enforce";
}

Result<SyscallFilterMode> syscall_filter_mode_from_environment() {
  const char *value = std::getenv("SHIMWATCH_SECCOMP");
  if (!value || !*value || std::strcmp(value, "enforce") == 0)
    return SyscallFilterMode::enforce;
  if (std::strcmp(value, "log") == 0)
    return SyscallFilterMode::log;
  if (std::strcmp(value, "off") == 0)
    return SyscallFilterMode::off;
  return Error{std::string("SHIMWATCH_SECCOMP='") + value +
               "' is not allowed (enforce, log or off)"};
}

Status install_syscall_filter(SyscallFilterMode mode) {
  if (mode == SyscallFilterMode::off)
    return Ok{};
  const uint32_t other = mode == SyscallFilterMode::log ? SCMP_ACT_LOG : SCMP_ACT_ERRNO(EPERM);
  std::unique_ptr<void, FilterDeleter> ctx(seccomp_init(other));
  if (!ctx)
    return Error{"seccomp_init failed"};
  // Every thread at once, not only the caller.
  if (int err = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1))
    return Error{std::string("seccomp: cannot apply to every thread: ") + std::strerror(-err),
                 -err};
  for (const char *name : kAllowed) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR)
      continue;
    if (int err = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0))
      return Error{std::string("seccomp: allowing ") + name + " failed: " + std::strerror(-err),
                   -err};
  }
  // SCMP_CMP_EQ compares with datum_a alone; datum_b is written out (0) all the same.
  for (int command : kBpfCommands)
    if (int err = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(bpf), 1,
                                   SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(command), 0)))
      return Error{std::string("seccomp: allowing bpf failed: ") + std::strerror(-err), -err};
  for (int option : kPrctlOptions)
    if (int err = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                                   SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(option), 0)))
      return Error{std::string("seccomp: allowing prctl failed: ") + std::strerror(-err), -err};
  if (int err = seccomp_load(ctx.get()))
    return Error{std::string("seccomp: loading the filter failed: ") + std::strerror(-err), -err};
  return Ok{};
}

} // namespace shimwatch
