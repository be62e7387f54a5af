#include "shimwatch/check.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "shimwatch/probe.hpp"

namespace shimwatch {

namespace {

// Not in every libc's headers yet (Linux 5.8).
constexpr int cap_perfmon = 38;
constexpr int cap_bpf = 39;

bool exists(const char *path) {
  struct stat st {};
  return stat(path, &st) == 0;
}

bool has_capability(const __user_cap_data_struct (&data)[2], int cap) {
  return data[cap / 32].effective & (1U << (cap % 32));
}

CheckResult check_kernel() {
  utsname u{};
  uname(&u);
  int major = 0, minor = 0;
  sscanf(u.release, "%d.%d", &major, &minor);
  bool ok = major > 5 || (major == 5 && minor >= 8);
  return {"kernel", ok, std::string(u.release) + (ok ? " (5.8 or later)" : " (older than 5.8)"),
          "BPF ring buffers need Linux 5.8 or later; upgrade the node's kernel"};
}

CheckResult check_btf() {
  bool ok = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
  return {"btf", ok,
          ok ? "/sys/kernel/btf/vmlinux is readable" : "/sys/kernel/btf/vmlinux is missing",
          "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (every major distribution's since "
          "2020); in a container, mount /sys/kernel/btf from the host"};
}

CheckResult check_privileges() {
  std::string missing = missing_privileges();
  return {"privileges", missing.empty(),
          missing.empty() ? "can load BPF programs and attach tracepoints" : missing,
          "run as root, or grant CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE (and CAP_SYS_ADMIN to "
          "mount tracefs)"};
}

CheckResult check_tracefs() {
  Status st = ensure_tracefs();
  return {"tracefs", st.ok(), st.ok() ? "tracepoint ids are readable" : st.error().message,
          "mount -t tracefs tracefs /sys/kernel/tracing (in a container, mount it from the host)"};
}

CheckResult check_tracepoints() {
  const char *roots[] = {"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"};
  const char *needed[] = {"sched/sched_process_exec", "syscalls/sys_enter_connect",
                          "syscalls/sys_exit_connect"};
  std::string missing;
  for (const char *tp : needed) {
    bool found = false;
    for (const char *root : roots)
      found = found || exists((std::string(root) + "/" + tp).c_str());
    if (!found)
      missing += (missing.empty() ? "" : ", ") + std::string(tp);
  }
  return {"tracepoints", missing.empty(),
          missing.empty() ? "sched_process_exec, sys_enter_connect, sys_exit_connect present"
                          : "missing: " + missing,
          "the kernel needs CONFIG_FTRACE_SYSCALLS=y for syscall tracepoints"};
}

CheckResult check_memlock() {
  rlimit lim{};
  getrlimit(RLIMIT_MEMLOCK, &lim);
  std::string value =
      lim.rlim_cur == RLIM_INFINITY ? "unlimited" : std::to_string(lim.rlim_cur / 1024) + " KiB";
  // Since Linux 5.11 BPF memory is charged to the cgroup, not to this limit;
  // libbpf raises it on older kernels. Informational.
  return {"memlock", true, "RLIMIT_MEMLOCK " + value, ""};
}

// Where `run` pins its probes: a bpffs must be mounted there; what a running
// (or stopped) agent left there is reported.
CheckResult check_pinning(const Config &config) {
  if (config.pin_path.empty())
    return {"pinning", true, "off (--no-pin): the probes detach when the agent stops", ""};
  const std::string parent = std::filesystem::path(config.pin_path).parent_path().string();
  struct statfs fs {};
  if (statfs(parent.c_str(), &fs) != 0 || fs.f_type != BPF_FS_MAGIC)
    return {"pinning", false, parent + " is not a BPF filesystem",
            "mount it (mount -t bpf bpf /sys/fs/bpf; in a pod, mount /sys/fs/bpf from the "
            "host), or run with --no-pin"};
  PinnedStateSummary pinned = pinned_state(config.pin_path);
  if (!pinned.present)
    return {"pinning", true, "nothing pinned under " + config.pin_path + " yet", ""};
  return {"pinning", true,
          "probes pinned under " + config.pin_path + ": generation " +
              std::to_string(pinned.generation) + ", " + std::to_string(pinned.links) +
              " links attached, record layout " + std::to_string(pinned.abi) +
              (pinned.in_use ? ", in use by a running agent" : ", no agent running") +
              " (`shimwatch cleanup` removes them)",
          ""};
}

CheckResult check_attach(const Config &config, std::vector<VerifierStats> &verifier) {
  ProbeOptions options = probe_options(config);
  // A trial load: never touches what a running agent pinned.
  options.pin_path.clear();
  auto probe = Probe::start(options, [](std::span<const std::byte>) {});
  if (!probe)
    return {"attach", false, probe.error().message,
            "fix the items above; run `shimwatch check -v` for libbpf's log"};
  std::string points;
  for (const auto &p : (*probe)->attach_points())
    points += (points.empty() ? "" : ", ") + p;
  verifier = (*probe)->verifier_stats();
  return {"attach", true, "loaded and attached (hooks in use: " + points + ")", ""};
}

// How much of the verifier's budget each program used, largest first: the
// room left for the programs to grow on this kernel.
CheckResult check_verifier(std::vector<VerifierStats> stats) {
  std::sort(stats.begin(), stats.end(),
            [](const auto &a, const auto &b) { return a.instructions > b.instructions; });
  std::string detail;
  for (const auto &s : stats)
    detail += (detail.empty() ? "" : ", ") + s.program + " " + std::to_string(s.instructions);
  if (stats.empty())
    return {"verifier", true, "the kernel reported no instruction counts", ""};
  const double largest =
      100.0 * static_cast<double>(stats.front().instructions) / verifier_instruction_budget;
  char share[32];
  std::snprintf(share, sizeof(share), "%.1f", largest);
  return {"verifier", true,
          "instructions processed per program, of a budget of " +
              std::to_string(verifier_instruction_budget) + " each (largest " + share +
              " %): " + detail,
          ""};
}

} // namespace

std::string missing_privileges() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0)
    return "cannot read capabilities";
  if (has_capability(data, CAP_SYS_ADMIN))
    return "";
  std::string missing;
  if (!has_capability(data, cap_bpf))
    missing += "CAP_BPF ";
  if (!has_capability(data, cap_perfmon))
    missing += "CAP_PERFMON ";
  if (missing.empty())
    return "";
  return "missing " + missing + "(not root)";
}

std::vector<CheckResult> run_checks(const Config &config) {
  std::vector<CheckResult> results;
  results.push_back(check_kernel());
  results.push_back(check_btf());
  results.push_back(check_privileges());
  results.push_back(check_memlock());
  if (!results[2].ok) {
    results.push_back({"attach", false, "skipped: not privileged", "see privileges above"});
    return results;
  }
  results.push_back(check_tracefs());
  results.push_back(check_tracepoints());
  std::vector<VerifierStats> verifier;
  results.push_back(check_attach(config, verifier));
  if (results.back().ok)
    results.push_back(check_verifier(verifier));
  results.push_back(check_pinning(config));
  return results;
}

std::string format_check(const CheckResult &r) {
  std::string line = (r.ok ? "[ ok ] " : "[FAIL] ") + r.name + ": " + r.detail;
  if (!r.ok && !r.fix.empty())
    line += "\n       fix: " + r.fix;
  return line;
}

} // namespace shimwatch
