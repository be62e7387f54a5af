#include "shimwatch/check.hpp"

#include <algorithm>
#include <bpf/libbpf.h>
#include <cstdio>
#include <filesystem>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <utility>
#include <sys/vfs.h>
#include <unistd.h>

#include "shimwatch/probe.hpp"
#include "shimwatch/config.hpp"

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

// "5.10.0-32-amd64" -> {5, 10}; {0, 0} when it does not start that way.
std::pair<int, int> major_minor(const std::string &release) {
  int major = 0, minor = 0;
  if (std::sscanf(release.c_str(), "%d.%d", &major, &minor) != 2)
    return {0, 0};
  return {major, minor};
}

bool at_least_5_8(const std::string &release) {
  auto [major, minor] = major_minor(release);
  return major > 5 || (major == 5 && minor >= 8);
}

std::string running_release() {
  utsname u{};
  uname(&u);
  return u.release;
}

// Called once unsupported_kernel() said the kernel can run the agent.
CheckResult check_kernel(const std::string &release) {
  if (at_least_5_8(release))
    return {"kernel", true, release + " (5.8 or later)", ""};
  // Some vendors backport BPF ring buffers to older kernels (RHEL 8's 4.18).
  return {"kernel", true, release + " (older than 5.8, but it has BPF ring buffers)", ""};
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

// Whether the probes outlive the agent: pinned under a bpffs (a DaemonSet,
// whose restarts must not leave a gap), or not (an interactive run, which
// must leave nothing attached); what an agent left pinned is reported.
CheckResult check_pinning(const Config &config) {
  auto describe = [](const std::string &path, const PinnedStateSummary &pinned) {
    return "probes pinned under " + path + ": generation " + std::to_string(pinned.generation) +
           ", " + std::to_string(pinned.links) + " links attached, record layout " +
           std::to_string(pinned.abi) +
           (pinned.in_use ? ", in use by a running agent" : ", no agent running") +
           " (`shimwatch cleanup --pin-path " + path + "` removes them)";
  };
  if (config.pin_path.empty()) {
    std::string detail = "off: the probes detach when the agent stops (--pin-path DIR keeps them "
                         "attached across restarts, as the DaemonSet does)";
    // Left by a pinned agent before (only looked for where a bpffs is).
    struct statfs fs {};
    if (statfs("/sys/fs/bpf", &fs) == 0 && fs.f_type == BPF_FS_MAGIC)
      if (PinnedStateSummary pinned = pinned_state(default_pin_path); pinned.present)
        detail += "; " + describe(default_pin_path, pinned);
    return {"pinning", true, detail, ""};
  }
  if (Status bpffs = ensure_bpffs(config.pin_path); !bpffs)
    return {"pinning", false, bpffs.error().message,
            "mount a BPF filesystem there, or run with --no-pin"};
  const std::string kept = "on: the probes stay attached when the agent stops and the next "
                           "start takes over without a gap";
  PinnedStateSummary pinned = pinned_state(config.pin_path);
  if (!pinned.present)
    return {"pinning", true, kept + "; nothing pinned under " + config.pin_path + " yet", ""};
  return {"pinning", true, kept + "; " + describe(config.pin_path, pinned), ""};
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
  const std::string &note = (*probe)->hooks_note();
  return {"attach", true,
          "loaded and attached (hooks in use: " + points + ")" + (note.empty() ? "" : "; " + note),
          ""};
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

std::optional<std::string> unsupported_kernel(const std::string &release,
                                              std::optional<bool> has_ring_buffer) {
  const bool supported = has_ring_buffer ? *has_ring_buffer : at_least_5_8(release);
  if (supported)
    return std::nullopt;
  return "kernel " + release +
         " has no BPF ring buffer (Linux 5.8 or later has one): shimwatch cannot run on this "
         "node; upgrade its kernel";
}

std::optional<std::string> unsupported_kernel() {
  std::optional<bool> has_ring_buffer;
  // Creating a map needs the privileges `run` needs anyway.
  if (missing_privileges().empty())
    has_ring_buffer = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) == 1;
  return unsupported_kernel(running_release(), has_ring_buffer);
}

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
  // A kernel that cannot run the agent gets one line and nothing else.
  if (auto unsupported = unsupported_kernel()) {
    results.push_back({"kernel", false, *unsupported, ""});
    return results;
  }
  results.push_back(check_kernel(running_release()));
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
