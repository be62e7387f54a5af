// The agent benchmark: what shimwatch costs the node it watches.
//
// Five bounded workloads (exec storm, connect storms on a non-watched and on a
// watched unix socket, real docker CLI calls, a getpid loop) run under four
// configurations (no agent; the floor, empty BPF programs on the agent's
// tracepoints; shimwatch; auditd with the CIS Docker rules), interleaved over
// rounds so that a change of load on the machine hits every configuration
// alike. Two measurements: end-to-end ns per operation, as ratios to "no
// agent" in the same round, and the kernel's own accounting of each BPF
// program (run_time_ns / run_cnt with kernel.bpf_stats_enabled=1), which
// resolves costs far below the end-to-end noise. Then the agent alone:
// matched events per second delivered to its JSON output, losses, memory and
// idle CPU, and its memory after many short-lived processes in many distinct
// cgroups, each making one watched event (the memory step).
//
// Usage: shimwatch_agent_bench --shimwatch PATH [--rounds N] [--seconds S]
//                              [--metrics-port P] [--no-auditd] [--no-docker]
//                              [--memory-processes N] [--memory-cgroups N]
//                              [--memory-rate PER_SECOND] [--only agent|memory]
//                              [--report FILE]
// --only agent: no rounds, only the agent alone; --only memory: only the idle
// memory and the memory step.
// Needs root. Prints markdown tables on stdout; progress on stderr.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "accepting_listener.hpp"
#include "floor.skel.h"
#include "http_client.hpp"
#include "prometheus_text.hpp"
#include "spawn.hpp"
#include "test_files.hpp"

extern char **environ;

namespace {

using Clock = std::chrono::steady_clock;
// Shared with the integration tests (tests/common).
using swtest::AcceptingListener;
using swtest::metric_samples;
using swtest::metric_sum;
using swtest::read_file;
using swtest::TempDir;

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "agent_bench: %s\n", message.c_str());
  std::exit(1);
}

std::string errno_text(int err) {
  return std::strerror(err);
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void sleep_seconds(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

bool write_file(const std::string &path, const std::string &text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

// Runs a command without a shell; its output goes to /dev/null unless
// captured. Returns the exit status, or -1 when it could not run.
int run_command(const std::vector<std::string> &args, std::string *captured = nullptr) {
  int out_pipe[2] = {-1, -1};
  if (captured && pipe2(out_pipe, O_CLOEXEC) != 0)
    return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (captured) {
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<char *> argv;
  for (const auto &arg : args)
    argv.push_back(const_cast<char *>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int err = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (captured) {
    close(out_pipe[1]);
    if (err == 0) {
      char buffer[4096];
      ssize_t n;
      while ((n = read(out_pipe[0], buffer, sizeof buffer)) > 0)
        captured->append(buffer, static_cast<size_t>(n));
    }
    close(out_pipe[0]);
  }
  if (err != 0)
    return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---------------------------------------------------------------------------
// The connect storms talk to two AcceptingListeners: one at a path the agent
// does not watch, one at a path it is told to watch.

bool connect_once(const std::string &path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  const bool ok = connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0;
  close(fd);
  return ok;
}

// ---------------------------------------------------------------------------
// Workloads. Each runs in freshly forked worker processes, so that whatever
// the configuration sets on new tasks (auditd's per-task audit context) is
// in effect, and all workers start together and stop at a deadline.

enum class WorkloadId {
  exec_storm,
  connect_plain,
  connect_watched,
  connect_watched_paced,
  docker_mix,
  getpid_loop
};

struct Workload {
  WorkloadId id;
  std::string name;
  std::string op; // what one operation is
  int workers;
};

struct WorkerTotals {
  uint64_t ops = 0;
  uint64_t busy_ns = 0; // summed over workers
  uint64_t failures = 0;
};

struct WorkerReport {
  uint64_t ops;
  uint64_t elapsed_ns;
  uint64_t failures;
};

struct WorkloadContext {
  std::string plain_socket;
  std::string watched_socket;
  std::string docker;
  double paced_rate_per_worker = 0; // connects per second, for the paced storm
};

bool spawn_and_wait(const char *path, char *const argv[]) {
  pid_t pid = -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  const int err = posix_spawn(&pid, path, &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0)
    return false;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// The exec storm forks and execs explicitly (not posix_spawn's vfork path):
// the workload is the classic fork + execve + wait of a shell script.
bool fork_exec_true() {
  const pid_t pid = fork();
  if (pid == 0) {
    char arg0[] = "/bin/true";
    char *argv[] = {arg0, nullptr};
    execve(arg0, argv, environ);
    _exit(127);
  }
  if (pid < 0)
    return false;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

WorkerReport worker_loop(WorkloadId id, const WorkloadContext &context, uint64_t duration_ns) {
  WorkerReport report{0, 0, 0};
  const uint64_t start = monotonic_ns();
  const uint64_t deadline = start + duration_ns;
  auto count = [&](bool ok) {
    ++report.ops;
    if (!ok)
      ++report.failures;
  };
  switch (id) {
  case WorkloadId::exec_storm:
    while (monotonic_ns() < deadline)
      count(fork_exec_true());
    break;
  case WorkloadId::connect_plain:
  case WorkloadId::connect_watched: {
    const std::string &path =
        id == WorkloadId::connect_plain ? context.plain_socket : context.watched_socket;
    while (monotonic_ns() < deadline)
      for (int i = 0; i < 64; ++i)
        count(connect_once(path));
    break;
  }
  case WorkloadId::connect_watched_paced: {
    // Holds a steady rate: what the agent can keep up with, not a burst.
    const double ns_per_op = 1e9 / context.paced_rate_per_worker;
    for (uint64_t now = start; now < deadline; now = monotonic_ns()) {
      if (static_cast<double>(report.ops) < static_cast<double>(now - start) / ns_per_op)
        count(connect_once(context.watched_socket));
      else
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    break;
  }
  case WorkloadId::docker_mix: {
    std::string docker = context.docker;
    char ps[] = "ps", version[] = "version";
    char *ps_argv[] = {docker.data(), ps, nullptr};
    char *version_argv[] = {docker.data(), version, nullptr};
    // At least one call of each kind, however short the measurement.
    while (monotonic_ns() < deadline || report.ops < 2)
      count(spawn_and_wait(docker.c_str(), report.ops % 2 == 0 ? ps_argv : version_argv));
    break;
  }
  case WorkloadId::getpid_loop:
    while (monotonic_ns() < deadline)
      for (int i = 0; i < 4096; ++i) {
        syscall(SYS_getpid);
        ++report.ops;
      }
    break;
  }
  report.elapsed_ns = monotonic_ns() - start;
  return report;
}

WorkerTotals run_workload(const Workload &workload, const WorkloadContext &context,
                          double seconds) {
  int start_pipe[2], result_pipe[2];
  if (pipe2(start_pipe, O_CLOEXEC) != 0 || pipe2(result_pipe, O_CLOEXEC) != 0)
    die("pipe: " + errno_text(errno));
  const auto duration_ns = static_cast<uint64_t>(seconds * 1e9);
  std::vector<pid_t> workers;
  for (int i = 0; i < workload.workers; ++i) {
    const pid_t pid = fork();
    if (pid < 0)
      die("fork: " + errno_text(errno));
    if (pid == 0) {
      close(start_pipe[1]);
      char go;
      // Every worker blocks here until the parent closes the pipe: one start.
      while (read(start_pipe[0], &go, 1) < 0 && errno == EINTR) {
      }
      const WorkerReport report = worker_loop(workload.id, context, duration_ns);
      if (write(result_pipe[1], &report, sizeof report) != sizeof report)
        _exit(1);
      _exit(0);
    }
    workers.push_back(pid);
  }
  close(start_pipe[0]);
  close(result_pipe[1]);
  close(start_pipe[1]);
  WorkerTotals totals;
  WorkerReport report{};
  int reports = 0;
  while (read(result_pipe[0], &report, sizeof report) == sizeof report) {
    totals.ops += report.ops;
    totals.busy_ns += report.elapsed_ns;
    totals.failures += report.failures;
    ++reports;
  }
  close(result_pipe[0]);
  for (pid_t pid : workers)
    waitpid(pid, nullptr, 0);
  if (reports != workload.workers)
    die(workload.name + ": a worker did not report");
  return totals;
}

// ---------------------------------------------------------------------------
// The memory step: many short-lived processes, some each in a cgroup of its
// own, every one making one watched connect. Only a process that makes an
// event reaches the agent's attribution (cgroup path, ancestry lookups,
// metric labels); a process that makes none is dropped in the kernel and
// could not grow anything in the agent.

// The cgroup v2 mount; empty on a host without one.
std::string cgroup2_mount() {
  std::ifstream mounts("/proc/mounts");
  for (std::string device, dir, type, rest; mounts >> device >> dir >> type;) {
    std::getline(mounts, rest);
    if (type == "cgroup2")
      return dir;
  }
  return {};
}

// The bench's own cgroup tree, below the v2 root: removed at exit, whatever
// path the run takes out of main.
std::string bench_cgroup_root;

void remove_cgroup_tree(const std::string &root) {
  std::error_code ec;
  std::vector<std::string> dirs;
  for (const auto &entry : std::filesystem::recursive_directory_iterator(root, ec))
    if (entry.is_directory(ec))
      dirs.push_back(entry.path());
  // Children before their parents: rmdir takes empty cgroups only.
  std::sort(dirs.begin(), dirs.end(),
            [](const std::string &a, const std::string &b) { return a.size() > b.size(); });
  for (const auto &dir : dirs)
    rmdir(dir.c_str());
  rmdir(root.c_str());
}

void remove_bench_cgroups() {
  if (!bench_cgroup_root.empty())
    remove_cgroup_tree(bench_cgroup_root);
}

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string hex_digits(uint64_t seed, size_t digits) {
  std::string text;
  for (uint64_t block = 0; text.size() < digits; ++block) {
    char part[17];
    std::snprintf(part, sizeof part, "%016llx",
                  static_cast<unsigned long long>(mix64(seed * 8 + block)));
    text += part;
  }
  text.resize(digits);
  return text;
}

// The levels the parents of every bench cgroup need, made once.
const std::vector<std::string> cgroup_parents = {
    "kubepods.slice",
    "kubepods.slice/kubepods-burstable.slice",
    "kubepods.slice/kubepods-besteffort.slice",
    "kubepods",
    "kubepods/burstable",
    "kubepods/besteffort",
    "system.slice",
    "user.slice",
    "user.slice/user-1000.slice",
};

// The cgroups to make for the index-th distinct cgroup, outermost first; the
// process runs in the last. Kubelet's two drivers (pods of each QoS class,
// containerd containers) make most of them, as on a node that churns pods;
// then systemd services and login sessions.
std::vector<std::string> cgroup_levels(const std::string &root, uint64_t index) {
  const std::string uid_hex = hex_digits(index, 32);
  std::string uid = uid_hex.substr(0, 8) + "-" + uid_hex.substr(8, 4) + "-" +
                    uid_hex.substr(12, 4) + "-" + uid_hex.substr(16, 4) + "-" +
                    uid_hex.substr(20, 12);
  const std::string container = hex_digits(index + (1ull << 40), 64);
  auto systemd_pod = [&](const std::string &parent, const std::string &slice_prefix) {
    std::string escaped = uid; // the systemd driver writes '-' as '_' in a slice name
    std::replace(escaped.begin(), escaped.end(), '-', '_');
    const std::string pod = root + "/" + parent + "/" + slice_prefix + "-pod" + escaped + ".slice";
    return std::vector<std::string>{pod, pod + "/cri-containerd-" + container + ".scope"};
  };
  auto cgroupfs_pod = [&](const std::string &parent) {
    const std::string pod = root + "/" + parent + "/pod" + uid;
    return std::vector<std::string>{pod, pod + "/" + container};
  };
  switch (index % 10) {
  case 0:
  case 1:
    return systemd_pod("kubepods.slice/kubepods-burstable.slice", "kubepods-burstable");
  case 2:
    return systemd_pod("kubepods.slice/kubepods-besteffort.slice", "kubepods-besteffort");
  case 3:
    return systemd_pod("kubepods.slice", "kubepods");
  case 4:
  case 5:
    return cgroupfs_pod("kubepods/burstable");
  case 6:
    return cgroupfs_pod("kubepods/besteffort");
  case 7:
    return cgroupfs_pod("kubepods");
  case 8:
    return {root + "/system.slice/bench-job-" + std::to_string(index) + ".service"};
  default:
    return {root + "/user.slice/user-1000.slice/session-" + std::to_string(index) + ".scope"};
  }
}

struct MemoryStepPlan {
  uint64_t processes = 0;
  uint64_t cgroups = 0;
  double rate = 0; // processes per second, all workers together
};

struct MemoryStepTotals {
  uint64_t processes = 0;
  uint64_t failures = 0; // processes whose connect (or cgroup join) failed
  uint64_t cgroups = 0;  // distinct cgroups a process ran in
  uint64_t cgroup_levels_made = 0;
  uint64_t cgroup_failures = 0; // cgroups that could not be made or removed
  double seconds = 0;
};

// What a short-lived process of the memory step does: join its cgroup when it
// has one, connect once to the watched socket, exit.
struct ShortLivedCall {
  const sockaddr_un *address;
  const char *cgroup_procs; // null: stays in the worker's cgroup
};

int short_lived_process(void *arg) {
  const auto *call = static_cast<const ShortLivedCall *>(arg);
  if (call->cgroup_procs) {
    // "0" moves the writer itself: the connect below comes from the cgroup.
    const int fd = open(call->cgroup_procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1)
      _exit(2);
    close(fd);
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool ok = fd >= 0 && connect(fd, reinterpret_cast<const sockaddr *>(call->address),
                                     sizeof *call->address) == 0;
  _exit(ok ? 0 : 1);
}

// A new process (its own pid, start time and cgroup membership) that borrows
// the worker's memory until it exits, as posix_spawn's vfork path does: a
// fork copies and tears down the worker's mappings for every process, which
// here halved the rate the step could reach. The worker waits for it.
bool run_short_lived(const ShortLivedCall &call) {
  alignas(16) static char stack[64 * 1024];
  const pid_t pid = clone(short_lived_process, stack + sizeof stack,
                          CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<ShortLivedCall *>(&call));
  if (pid < 0) {
    // Not die(): its exit handlers belong to the bench process, not a worker.
    std::fprintf(stderr, "agent_bench: memory step: clone: %s\n", errno_text(errno).c_str());
    _exit(1);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// One worker's share of the step, at a steady rate.
MemoryStepTotals memory_worker(int worker, int workers, const MemoryStepPlan &plan,
                               const std::string &watched_socket, const std::string &root,
                               std::atomic<uint64_t> *progress) {
  MemoryStepTotals totals;
  const uint64_t mine =
      plan.processes / workers + (static_cast<uint64_t>(worker) < plan.processes % workers);
  const uint64_t my_cgroups = std::min(
      mine, plan.cgroups / workers + (static_cast<uint64_t>(worker) < plan.cgroups % workers));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", watched_socket.c_str());

  const double ns_per_process = 1e9 * workers / plan.rate;
  const uint64_t start = monotonic_ns();
  for (uint64_t i = 0; i < mine;) {
    if (static_cast<double>(i) >= static_cast<double>(monotonic_ns() - start) / ns_per_process) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      continue;
    }
    // The cgroup processes are spread evenly over the step.
    if ((i + 1) * my_cgroups / mine > i * my_cgroups / mine) {
      const uint64_t index = static_cast<uint64_t>(worker) + workers * totals.cgroups;
      const std::vector<std::string> levels = cgroup_levels(root, index);
      size_t made = 0;
      while (made < levels.size() && mkdir(levels[made].c_str(), 0755) == 0)
        ++made;
      totals.cgroup_levels_made += made;
      if (made == levels.size()) {
        const std::string procs = levels.back() + "/cgroup.procs";
        if (!run_short_lived({&address, procs.c_str()}))
          ++totals.failures;
        ++totals.cgroups;
      } else {
        ++totals.cgroup_failures;
        ++totals.failures;
      }
      for (size_t level = made; level-- > 0;) {
        // An exited task can leave its cgroup busy for a moment.
        bool removed = false;
        for (int tries = 0; tries < 1000 && !removed; ++tries) {
          removed = rmdir(levels[level].c_str()) == 0;
          if (!removed && errno != EBUSY)
            break;
          if (!removed)
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        if (!removed)
          ++totals.cgroup_failures;
      }
    } else if (!run_short_lived({&address, nullptr})) {
      ++totals.failures;
    }
    ++i;
    ++totals.processes;
    if (i % 1024 == 0 || i == mine)
      progress->fetch_add(i % 1024 == 0 ? 1024 : i % 1024, std::memory_order_relaxed);
  }
  totals.seconds = static_cast<double>(monotonic_ns() - start) / 1e9;
  return totals;
}

// on_tenth: called as each tenth of the processes has been made, with their count.
MemoryStepTotals run_memory_step(const MemoryStepPlan &plan, const std::string &watched_socket,
                                 const std::string &root, int workers,
                                 const std::function<void(uint64_t)> &on_tenth) {
  // Shared with the workers, for the progress lines only.
  void *shared = mmap(nullptr, sizeof(std::atomic<uint64_t>), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED)
    die("mmap: " + errno_text(errno));
  auto *progress = new (shared) std::atomic<uint64_t>(0);
  int result_pipe[2];
  if (pipe2(result_pipe, O_CLOEXEC) != 0)
    die("pipe: " + errno_text(errno));
  const uint64_t start = monotonic_ns();
  std::vector<pid_t> pids;
  for (int worker = 0; worker < workers; ++worker) {
    const pid_t pid = fork();
    if (pid < 0)
      die("fork: " + errno_text(errno));
    if (pid == 0) {
      const MemoryStepTotals totals =
          memory_worker(worker, workers, plan, watched_socket, root, progress);
      if (write(result_pipe[1], &totals, sizeof totals) != sizeof totals)
        _exit(1);
      _exit(0);
    }
    pids.push_back(pid);
  }
  close(result_pipe[1]);
  MemoryStepTotals totals;
  int reports = 0;
  uint64_t next_progress = plan.processes / 10;
  for (;;) {
    pollfd waiting{result_pipe[0], POLLIN, 0};
    if (poll(&waiting, 1, 1000) > 0) {
      MemoryStepTotals report;
      if (read(result_pipe[0], &report, sizeof report) != sizeof report)
        break;
      totals.processes += report.processes;
      totals.failures += report.failures;
      totals.cgroups += report.cgroups;
      totals.cgroup_levels_made += report.cgroup_levels_made;
      totals.cgroup_failures += report.cgroup_failures;
      ++reports;
    }
    const uint64_t done = progress->load(std::memory_order_relaxed);
    if (next_progress > 0 && done >= next_progress && done < plan.processes) {
      on_tenth(done);
      next_progress = (done / (plan.processes / 10) + 1) * (plan.processes / 10);
    }
  }
  close(result_pipe[0]);
  for (pid_t pid : pids)
    waitpid(pid, nullptr, 0);
  munmap(shared, sizeof(std::atomic<uint64_t>));
  if (reports != workers)
    die("memory step: a worker did not report");
  totals.seconds = static_cast<double>(monotonic_ns() - start) / 1e9;
  return totals;
}

// ---------------------------------------------------------------------------
// In-kernel cost: the kernel's per-program run time and run count of every
// BPF program a process holds (by program fd or link fd).

struct ProgramCounters {
  uint64_t run_time_ns = 0;
  uint64_t run_cnt = 0;
};

// The program's function name from its BTF: the kernel keeps only 15 bytes
// of the name, too few to tell the syscalls/... programs apart.
std::string program_full_name(int fd) {
  bpf_prog_info info{};
  uint32_t length = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &length) != 0)
    return "?";
  std::string name = info.name;
  if (info.btf_id == 0 || info.nr_func_info == 0)
    return name;
  bpf_func_info function{};
  bpf_prog_info with_functions{};
  with_functions.nr_func_info = 1;
  with_functions.func_info_rec_size = sizeof function;
  with_functions.func_info = reinterpret_cast<uint64_t>(&function);
  length = sizeof with_functions;
  if (bpf_obj_get_info_by_fd(fd, &with_functions, &length) != 0)
    return name;
  btf *types = btf__load_from_kernel_by_id(info.btf_id);
  if (!types)
    return name;
  if (const btf_type *type = btf__type_by_id(types, function.type_id))
    if (const char *full = btf__name_by_offset(types, type->name_off); full && *full)
      name = full;
  btf__free(types);
  return name;
}

// "tracepoint__syscalls__sys_enter_connect" and "floor__syscalls__sys_enter_connect"
// both name the tracepoint "syscalls/sys_enter_connect".
std::string tracepoint_of(const std::string &program) {
  const auto first = program.find("__");
  std::string rest = first == std::string::npos ? program : program.substr(first + 2);
  if (const auto separator = rest.find("__"); separator != std::string::npos)
    rest.replace(separator, 2, "/");
  return rest;
}

class ProgramStats {
public:
  // Tracepoint -> counters, summed over the process's programs on it.
  std::map<std::string, ProgramCounters> snapshot(pid_t pid) {
    std::map<std::string, ProgramCounters> result;
    std::error_code ec;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fdinfo";
    std::vector<uint32_t> ids;
    for (const auto &entry : std::filesystem::directory_iterator(dir, ec)) {
      const std::string text = read_file(entry.path());
      const auto at = text.find("prog_id:");
      if (at != std::string::npos)
        ids.push_back(static_cast<uint32_t>(std::strtoul(text.c_str() + at + 8, nullptr, 10)));
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (uint32_t id : ids) {
      const int fd = bpf_prog_get_fd_by_id(id);
      if (fd < 0)
        continue;
      bpf_prog_info info{};
      uint32_t length = sizeof info;
      if (bpf_obj_get_info_by_fd(fd, &info, &length) == 0) {
        auto named = names_.find(id);
        if (named == names_.end())
          named = names_.emplace(id, tracepoint_of(program_full_name(fd))).first;
        auto &counters = result[named->second];
        counters.run_time_ns += info.run_time_ns;
        counters.run_cnt += info.run_cnt;
      }
      close(fd);
    }
    return result;
  }

private:
  std::map<uint32_t, std::string> names_;
};

// ---------------------------------------------------------------------------
// Configurations.

enum class ConfigId { none, floor, shimwatch, auditd };

const char *config_name(ConfigId id) {
  switch (id) {
  case ConfigId::none:
    return "no agent";
  case ConfigId::floor:
    return "floor (empty BPF)";
  case ConfigId::shimwatch:
    return "shimwatch";
  case ConfigId::auditd:
    return "auditd (CIS rules)";
  }
  return "?";
}

class Floor {
public:
  bool start(std::string &error) {
    skeleton_ = floor_bpf__open_and_load();
    if (!skeleton_) {
      error = "loading the floor programs failed: " + errno_text(errno);
      return false;
    }
    bpf_program *program;
    bpf_object__for_each_program(program, skeleton_->obj) {
      bpf_link *link = bpf_program__attach(program);
      if (!link) {
        // The agent treats the open/rename family as optional: so does the floor.
        std::fprintf(stderr, "agent_bench: floor: %s not attached: %s\n",
                     bpf_program__section_name(program), errno_text(errno).c_str());
        continue;
      }
      links_.push_back(link);
    }
    return true;
  }
  void stop() {
    for (bpf_link *link : links_)
      bpf_link__destroy(link);
    links_.clear();
    floor_bpf__destroy(skeleton_);
    skeleton_ = nullptr;
  }

private:
  floor_bpf *skeleton_ = nullptr;
  std::vector<bpf_link *> links_;
};

struct ProcessMemory {
  uint64_t rss_kib = 0;
  uint64_t hwm_kib = 0;
};

ProcessMemory process_memory(pid_t pid) {
  const std::string status = "/proc/" + std::to_string(pid) + "/status";
  // "1234 kB"; 0 when the process is gone.
  const auto kib = [&](const char *field) {
    return std::strtoull(swtest::status_field(status, field).value_or("0").c_str(), nullptr, 10);
  };
  return {kib("VmRSS"), kib("VmHWM")};
}

// utime + stime in clock ticks, fields 14 and 15 of /proc/<pid>/stat.
uint64_t process_cpu_ticks(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto after_comm = stat.rfind(')');
  if (after_comm == std::string::npos)
    return 0;
  std::istringstream fields(stat.substr(after_comm + 2));
  std::string field;
  uint64_t ticks = 0;
  for (int index = 3; fields >> field; ++index) {
    if (index == 14 || index == 15)
      ticks += std::strtoull(field.c_str(), nullptr, 10);
    if (index == 15)
      break;
  }
  return ticks;
}

// shimwatch run, JSON lines on a pipe that a thread drains and counts.
class Agent {
public:
  Agent(std::string binary, std::string watched_socket, int metrics_port, std::string stderr_path)
      : binary_(std::move(binary)), watched_socket_(std::move(watched_socket)),
        metrics_port_(metrics_port), stderr_path_(std::move(stderr_path)) {}

  bool start(std::string &error) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
      error = "pipe: " + errno_text(errno);
      return false;
    }
    lines_ = 0;
    const std::string metrics = "127.0.0.1:" + std::to_string(metrics_port_);
    std::vector<std::string> args = {
        binary_,          "run",           "--no-pin",          "--format", "json", "--no-dedupe",
        "--watch-socket", watched_socket_, "--metrics-address", metrics};
    const int err = swtest::spawn_process(args, out[1], stderr_path_, pid_);
    close(out[1]);
    if (err != 0) {
      close(out[0]);
      error = "starting " + binary_ + ": " + errno_text(err);
      return false;
    }
    drain_ = std::thread([this, fd = out[0]] { drain(fd); });
    // Attached once a connect to the watched socket comes out as an event.
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (lines_ == 0) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        drain_.join();
        error = "shimwatch exited at start: " + read_file(stderr_path_);
        return false;
      }
      if (Clock::now() > deadline) {
        stop();
        error = "shimwatch reported no event within 60 s";
        return false;
      }
      connect_once(watched_socket_);
      sleep_seconds(0.05);
    }
    // Wait for the metrics endpoint too: the resource figures read it.
    for (int attempt = 0; attempt < 100 && metrics_text().empty(); ++attempt)
      sleep_seconds(0.05);
    return true;
  }

  // Waits until the agent has written everything the kernel queued: no new
  // line for `quiet_seconds`.
  void wait_quiet(double quiet_seconds = 0.3, double limit_seconds = 60) {
    const auto limit = Clock::now() + std::chrono::duration<double>(limit_seconds);
    uint64_t seen = lines_;
    auto last_change = Clock::now();
    while (Clock::now() < limit) {
      sleep_seconds(0.05);
      if (lines_ != seen) {
        seen = lines_;
        last_change = Clock::now();
      } else if (Clock::now() - last_change > std::chrono::duration<double>(quiet_seconds)) {
        return;
      }
    }
  }

  bool alive() const { return pid_ > 0 && kill(pid_, 0) == 0; }

  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (drain_.joinable())
      drain_.join();
  }

  std::string metrics_text() const { return swtest::http_get(metrics_port_, "/metrics"); }

  pid_t pid() const { return pid_; }
  uint64_t lines() const { return lines_; }

private:
  void drain(int fd) {
    std::vector<char> buffer(1 << 20);
    ssize_t n;
    while ((n = read(fd, buffer.data(), buffer.size())) > 0 || (n < 0 && errno == EINTR))
      if (n > 0)
        lines_ += static_cast<uint64_t>(std::count(buffer.data(), buffer.data() + n, '\n'));
    close(fd);
  }

  std::string binary_;
  std::string watched_socket_;
  int metrics_port_;
  std::string stderr_path_;
  pid_t pid_ = -1;
  std::atomic<uint64_t> lines_{0};
  std::thread drain_;
};

// auditd in the foreground with its own configuration and log directory, and
// the CIS Docker watch rules (plus the docker CLI where it really lives, and
// the benchmark's watched socket, so that it audits what shimwatch reports).
class Auditd {
public:
  Auditd(std::string dir, std::vector<std::string> watches)
      : dir_(std::move(dir)), watches_(std::move(watches)) {}

  // Whether the kernel lets us drive the audit subsystem at all.
  static std::optional<std::string> unavailable() {
    if (access("/usr/sbin/auditd", X_OK) != 0 || access("/usr/sbin/auditctl", X_OK) != 0)
      return "auditd is not installed (Debian package auditd)";
    std::string status;
    if (run_command({"auditctl", "-s"}, &status) != 0)
      return "auditctl -s failed: the kernel's audit subsystem is not reachable here";
    if (status.find("enabled 2") != std::string::npos)
      return "the audit configuration is locked (enabled 2)";
    if (status.find("pid 0") == std::string::npos)
      return "another audit daemon already runs";
    return std::nullopt;
  }

  bool start(std::string &error) {
    std::filesystem::create_directories(dir_);
    // Rotation bounds what a matching storm writes to disk.
    const std::string conf = "local_events = yes\nwrite_logs = yes\nlog_file = " + dir_ +
                             "/audit.log\nlog_format = ENRICHED\nflush = INCREMENTAL_ASYNC\n"
                             "freq = 50\nmax_log_file = 64\nnum_logs = 2\npriority_boost = 4\n"
                             "name_format = NONE\nmax_log_file_action = ROTATE\n"
                             "space_left = 75\nspace_left_action = SYSLOG\n"
                             "admin_space_left = 50\nadmin_space_left_action = SYSLOG\n"
                             "disk_full_action = SYSLOG\ndisk_error_action = SYSLOG\n"
                             "tcp_listen_queue = 5\ntcp_max_per_addr = 1\n"
                             "tcp_client_max_idle = 0\ntransport = TCP\n"
                             "distribute_network = no\nq_depth = 2000\n"
                             "overflow_action = SYSLOG\nmax_restarts = 10\n"
                             "plugin_dir = /etc/audit/plugins.d\nend_of_event_timeout = 2\n";
    if (!write_file(dir_ + "/auditd.conf", conf)) {
      error = "cannot write " + dir_ + "/auditd.conf";
      return false;
    }
    chmod((dir_ + "/auditd.conf").c_str(), 0640);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = dir_ + "/auditd.out";
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    char arg0[] = "/usr/sbin/auditd", foreground[] = "-n", conf_flag[] = "-c";
    std::string conf_dir = dir_;
    char *argv[] = {arg0, foreground, conf_flag, conf_dir.data(), nullptr};
    const int err = posix_spawn(&pid_, arg0, &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) {
      error = "starting auditd: " + errno_text(err);
      return false;
    }
    const std::string registered = "pid " + std::to_string(pid_);
    for (int attempt = 0;; ++attempt) {
      std::string status;
      run_command({"auditctl", "-s"}, &status);
      if (status.find(registered) != std::string::npos)
        break;
      if (waitpid(pid_, nullptr, WNOHANG) == pid_ || attempt > 100) {
        stop();
        error = "auditd did not register with the kernel: " + read_file(log);
        return false;
      }
      sleep_seconds(0.05);
    }
    run_command({"auditctl", "-D"});
    run_command({"auditctl", "-b", "8192"});
    for (const auto &path : watches_)
      if (run_command({"auditctl", "-w", path, "-k", "docker"}) != 0) {
        stop();
        error = "auditctl -w " + path + " failed";
        return false;
      }
    run_command({"auditctl", "-e", "1"});
    return true;
  }

  // Audit records under the rules' key written so far: what auditd reported.
  uint64_t records_with_key() const {
    uint64_t records = 0;
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator(dir_, ec)) {
      if (entry.path().filename().string().rfind("audit.log", 0) != 0)
        continue;
      std::ifstream in(entry.path());
      std::string line;
      while (std::getline(in, line))
        if (line.find("key=\"docker\"") != std::string::npos)
          ++records;
    }
    return records;
  }

  void stop() {
    run_command({"auditctl", "-e", "0"});
    run_command({"auditctl", "-D"});
    // Once audit has been enabled, every new task gets an audit context and
    // takes the slow syscall path for good, even with audit off; this rule
    // keeps new tasks out of it, so the other configurations stay clean.
    run_command({"auditctl", "-a", "task,never"});
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    run_command({"auditctl", "-e", "0"});
  }

private:
  std::string dir_;
  std::vector<std::string> watches_;
  pid_t pid_ = -1;
};

// ---------------------------------------------------------------------------
// Results.

double median(std::vector<double> values) {
  if (values.empty())
    return NAN;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

std::string format_ns(double ns) {
  char text[32];
  if (std::isnan(ns))
    return "–";
  if (ns >= 1e6)
    std::snprintf(text, sizeof text, "%.2f ms", ns / 1e6);
  else if (ns >= 1e4)
    std::snprintf(text, sizeof text, "%.1f µs", ns / 1e3);
  else if (ns >= 1e3)
    std::snprintf(text, sizeof text, "%.2f µs", ns / 1e3);
  else
    std::snprintf(text, sizeof text, "%.0f ns", ns);
  return text;
}

std::string format_ratio(double ratio) {
  char text[32];
  if (std::isnan(ratio))
    return "–";
  std::snprintf(text, sizeof text, "×%.2f", ratio);
  return text;
}

struct Cell {
  std::vector<double> ns_per_op; // one per round
  std::vector<double> ratio;     // to "no agent" of the same round
  uint64_t failures = 0;
  // Tracepoint -> per-round ns per hit, and hits summed over rounds.
  std::map<std::string, std::vector<double>> ns_per_hit;
  std::map<std::string, uint64_t> hits;
  // shimwatch only: JSON lines written and events lost, summed over rounds.
  uint64_t delivered = 0;
  double dropped = 0;
};

// " {labels} N;" per label set of shimwatch_events_dropped_total that grew
// between two scrapes.
std::string drops_by_reason(const std::string &metrics_before, const std::string &metrics_after) {
  std::string reasons;
  const auto drops_before = metric_samples(metrics_before, "shimwatch_events_dropped_total");
  for (const auto &[labels, value] :
       metric_samples(metrics_after, "shimwatch_events_dropped_total")) {
    const auto previous = drops_before.find(labels);
    const double lost = value - (previous == drops_before.end() ? 0 : previous->second);
    if (lost > 0)
      reasons += " {" + labels + "} " + std::to_string(static_cast<uint64_t>(lost)) + ";";
  }
  return reasons;
}

// The memory step under a running agent; its rows of the agent-alone table.
std::string memory_step_rows(Agent &agent, const MemoryStepPlan &plan,
                             const std::string &watched_socket, int workers) {
  if (plan.processes == 0)
    return {};
  const std::string mount = cgroup2_mount();
  MemoryStepPlan run = plan;
  if (mount.empty()) {
    std::fprintf(stderr, "agent_bench: memory step: no cgroup v2 mount, no cgroups made\n");
    run.cgroups = 0;
  } else {
    bench_cgroup_root = mount + "/shimwatch-agent-bench-" + std::to_string(getpid());
    std::string failed;
    if (mkdir(bench_cgroup_root.c_str(), 0755) != 0)
      failed = bench_cgroup_root + ": " + errno_text(errno);
    for (size_t i = 0; failed.empty() && i < cgroup_parents.size(); ++i)
      if (const std::string dir = bench_cgroup_root + "/" + cgroup_parents[i];
          mkdir(dir.c_str(), 0755) != 0)
        failed = dir + ": " + errno_text(errno);
    // A read-only or delegated cgroup tree costs the cgroups, not the run.
    if (!failed.empty()) {
      std::fprintf(stderr, "agent_bench: memory step: mkdir %s, no cgroups made\n", failed.c_str());
      remove_cgroup_tree(bench_cgroup_root);
      bench_cgroup_root.clear();
      run.cgroups = 0;
    }
  }
  agent.wait_quiet();
  const ProcessMemory before = process_memory(agent.pid());
  const std::string metrics_before = agent.metrics_text();
  const uint64_t lines_before = agent.lines();
  std::fprintf(stderr,
               "agent_bench: memory step: %llu processes (%llu in cgroups of their own) at "
               "%.0f/s\n",
               static_cast<unsigned long long>(run.processes),
               static_cast<unsigned long long>(run.cgroups), run.rate);
  const auto step_start = Clock::now();
  // Halfway and final figures apart tell growth that levels off from growth
  // that goes on with the number of processes.
  ProcessMemory halfway;
  uint64_t halfway_processes = 0;
  auto on_tenth = [&](uint64_t done) {
    const ProcessMemory now = process_memory(agent.pid());
    if (halfway_processes == 0 && done >= run.processes / 2) {
      halfway = now;
      halfway_processes = done;
    }
    std::fprintf(
        stderr,
        "agent_bench: memory step: %llu/%llu processes, %.0f s, %llu JSON lines, "
        "agent RSS %.1f MiB\n",
        static_cast<unsigned long long>(done), static_cast<unsigned long long>(run.processes),
        std::chrono::duration<double>(Clock::now() - step_start).count(),
        static_cast<unsigned long long>(agent.lines() - lines_before), now.rss_kib / 1024.0);
  };
  const MemoryStepTotals step =
      run_memory_step(run, watched_socket, bench_cgroup_root, workers, on_tenth);
  agent.wait_quiet(1.0, 300);
  const double drain_seconds = std::chrono::duration<double>(Clock::now() - step_start).count();
  const uint64_t delivered = agent.lines() - lines_before;
  const std::string metrics_after = agent.metrics_text();
  const ProcessMemory after = process_memory(agent.pid());
  if (!agent.alive())
    die("shimwatch died during the memory step");
  if (!bench_cgroup_root.empty()) {
    remove_cgroup_tree(bench_cgroup_root);
    bench_cgroup_root.clear();
  }
  auto delta = [&](const std::string &family) {
    return metric_sum(metrics_after, family) - metric_sum(metrics_before, family);
  };

  std::ostringstream rows;
  char line[512];
  std::snprintf(line, sizeof line, "| RSS before the memory step | %.1f MiB (VmHWM %.1f MiB) |\n",
                before.rss_kib / 1024.0, before.hwm_kib / 1024.0);
  rows << line;
  std::snprintf(
      line, sizeof line,
      "| short-lived processes, each: vfork-style clone, one watched connect, exit (%d workers, "
      "paced at %.0f/s) | %llu in %.1f s (%.0f/s), %llu failed |\n",
      workers, run.rate, static_cast<unsigned long long>(step.processes), step.seconds,
      step.processes / step.seconds, static_cast<unsigned long long>(step.failures));
  rows << line;
  std::snprintf(line, sizeof line,
                "| distinct cgroups (v2), one of those processes in each, removed after it: "
                "kubelet systemd and cgroupfs drivers (pod + container levels), services, "
                "sessions | %llu (%llu cgroups made in all), %llu failed |\n",
                static_cast<unsigned long long>(step.cgroups),
                static_cast<unsigned long long>(step.cgroup_levels_made),
                static_cast<unsigned long long>(step.cgroup_failures));
  rows << line;
  std::snprintf(line, sizeof line,
                "| events the kernel sent over the step (shimwatch_kernel_events_total) | %.0f |\n",
                delta("shimwatch_kernel_events_total"));
  rows << line;
  std::snprintf(line, sizeof line,
                "| JSON lines delivered over the step | %llu (%.0f/s until drained, %.1f s) |\n",
                static_cast<unsigned long long>(delivered), delivered / drain_seconds,
                drain_seconds);
  rows << line;
  const std::string reasons = drops_by_reason(metrics_before, metrics_after);
  std::snprintf(line, sizeof line, "| events dropped over the step | %.0f",
                delta("shimwatch_events_dropped_total"));
  rows << line << (reasons.empty() ? "" : ":" + reasons) << " |\n";
  if (halfway_processes > 0) {
    std::snprintf(line, sizeof line,
                  "| RSS halfway through the step (%llu processes) | %.1f MiB (VmHWM %.1f MiB) |\n",
                  static_cast<unsigned long long>(halfway_processes), halfway.rss_kib / 1024.0,
                  halfway.hwm_kib / 1024.0);
    rows << line;
  }
  std::snprintf(line, sizeof line,
                "| RSS after %llu short-lived processes and %llu distinct cgroups | %.1f MiB "
                "(VmHWM %.1f MiB) |\n",
                static_cast<unsigned long long>(step.processes),
                static_cast<unsigned long long>(step.cgroups), after.rss_kib / 1024.0,
                after.hwm_kib / 1024.0);
  rows << line;
  return rows.str();
}

struct Options {
  std::string shimwatch;
  int rounds = 10;
  double seconds = 1.0;
  int metrics_port = 19464;
  bool auditd = true;
  bool docker = true;
  std::string report;
  double idle_cpu_seconds = 10;
  double throughput_seconds = 5;
  MemoryStepPlan memory{1000000, 10000, 10000};
  // "agent": only the agent alone (no rounds); "memory": only the memory step.
  std::string only;
};

Options parse_options(int argc, char **argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--shimwatch")
      options.shimwatch = value();
    else if (flag == "--rounds")
      options.rounds = std::max(1, std::atoi(value().c_str()));
    else if (flag == "--seconds")
      options.seconds = std::max(0.05, std::atof(value().c_str()));
    else if (flag == "--metrics-port")
      options.metrics_port = std::atoi(value().c_str());
    else if (flag == "--idle-cpu-seconds")
      options.idle_cpu_seconds = std::max(1.0, std::atof(value().c_str()));
    else if (flag == "--throughput-seconds")
      options.throughput_seconds = std::max(0.5, std::atof(value().c_str()));
    else if (flag == "--memory-processes")
      options.memory.processes = std::strtoull(value().c_str(), nullptr, 10);
    else if (flag == "--memory-cgroups")
      options.memory.cgroups = std::strtoull(value().c_str(), nullptr, 10);
    else if (flag == "--memory-rate")
      options.memory.rate = std::max(100.0, std::atof(value().c_str()));
    else if (flag == "--only") {
      options.only = value();
      if (options.only != "agent" && options.only != "memory")
        die("--only takes agent or memory");
    } else if (flag == "--no-auditd")
      options.auditd = false;
    else if (flag == "--no-docker")
      options.docker = false;
    else if (flag == "--report")
      options.report = value();
    else
      die("unknown option " + flag +
          " (--shimwatch PATH, --rounds N, --seconds S, --metrics-port P, "
          "--idle-cpu-seconds S, --throughput-seconds S, --memory-processes N, "
          "--memory-cgroups N, --memory-rate R, --only agent|memory, --no-auditd, "
          "--no-docker, --report FILE)");
  }
  if (options.shimwatch.empty())
    die("--shimwatch PATH is required");
  return options;
}

std::string first_line_of(const std::string &text) {
  return text.substr(0, text.find('\n'));
}

std::string machine_summary() {
  const std::string cpuinfo = read_file("/proc/cpuinfo");
  std::string model = "?";
  if (auto at = cpuinfo.find("model name"); at != std::string::npos)
    model = first_line_of(cpuinfo.substr(cpuinfo.find(':', at) + 2));
  utsname names{};
  uname(&names);
  std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::ostringstream out;
  out << "- date: " << date << "\n- machine: " << std::thread::hardware_concurrency() << " vCPU, "
      << model << "\n- kernel: " << names.release << "\n";
  return out.str();
}

std::string loadavg() {
  return first_line_of(read_file("/proc/loadavg"));
}

// Restores kernel.bpf_stats_enabled on every exit path.
std::string saved_bpf_stats = "0";
void restore_bpf_stats() {
  write_file("/proc/sys/kernel/bpf_stats_enabled", saved_bpf_stats);
}

} // namespace

int main(int argc, char **argv) {
  const Options options = parse_options(argc, argv);
  if (geteuid() != 0)
    die("needs root (BPF, auditd, bpf_stats_enabled)");
  std::signal(SIGPIPE, SIG_IGN);
  libbpf_set_print([](libbpf_print_level level, const char *format, va_list args) {
    return level == LIBBPF_WARN ? std::vfprintf(stderr, format, args) : 0;
  });

  saved_bpf_stats = first_line_of(read_file("/proc/sys/kernel/bpf_stats_enabled"));
  if (!write_file("/proc/sys/kernel/bpf_stats_enabled", "1"))
    die("cannot set kernel.bpf_stats_enabled=1");
  std::atexit(restore_bpf_stats);
  std::atexit(remove_bench_cgroups);

  const TempDir bench_dir("shimwatch-agent-bench.");
  const std::string &dir = bench_dir.path();

  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  WorkloadContext context;
  AcceptingListener plain(dir + "/plain.sock");
  AcceptingListener watched(dir + "/watched.sock");
  context.plain_socket = plain.path();
  context.watched_socket = watched.path();

  std::vector<std::string> notes;
  std::vector<Workload> workloads = {
      {WorkloadId::exec_storm, "exec storm", "fork+execve /bin/true+wait, per worker", cores},
      {WorkloadId::connect_plain, "connect storm, not watched", "socket+connect+close", 1},
      {WorkloadId::connect_watched, "connect storm, watched", "socket+connect+close", 1},
      {WorkloadId::docker_mix, "docker CLI mix", "docker ps / docker version", 1},
      {WorkloadId::getpid_loop, "syscall tax", "getpid()", 1},
  };
  if (options.docker) {
    std::string docker_path;
    run_command({"sh", "-c", "command -v docker"}, &docker_path);
    context.docker = first_line_of(docker_path);
    if (context.docker.empty() || run_command({context.docker, "version"}) != 0) {
      notes.push_back("docker CLI mix skipped: no docker CLI or no reachable dockerd");
      context.docker.clear();
    }
  }
  if (context.docker.empty())
    std::erase_if(workloads, [](const Workload &w) { return w.id == WorkloadId::docker_mix; });

  std::vector<ConfigId> configs = {ConfigId::none, ConfigId::floor, ConfigId::shimwatch};
  std::map<ConfigId, std::string> unavailable;
  if (options.auditd) {
    configs.push_back(ConfigId::auditd);
    if (auto reason = Auditd::unavailable())
      unavailable[ConfigId::auditd] = *reason;
  }
  std::vector<std::string> audit_watches = {"/usr/bin/docker", "/var/run/docker.sock",
                                            "/etc/docker"};
  if (!context.docker.empty() && context.docker != "/usr/bin/docker")
    audit_watches.push_back(context.docker);
  audit_watches.push_back(context.watched_socket);
  bool audit_ever_started = false;

  const std::string load_before = loadavg();
  std::map<std::pair<ConfigId, WorkloadId>, Cell> cells;
  ProgramStats program_stats;
  Agent agent(options.shimwatch, context.watched_socket, options.metrics_port,
              dir + "/shimwatch.err");
  Floor floor;
  Auditd auditd(dir + "/audit", audit_watches);

  const int rounds = options.only.empty() ? options.rounds : 0;
  for (int round = 0; round < rounds; ++round) {
    std::map<WorkloadId, double> baseline;
    std::map<std::pair<ConfigId, WorkloadId>, double> this_round;
    // Rotate the order so no configuration always runs right after another.
    std::vector<ConfigId> order = configs;
    std::rotate(order.begin(), order.begin() + (round % order.size()), order.end());
    for (ConfigId config : order) {
      if (unavailable.count(config))
        continue;
      std::string error;
      pid_t stats_pid = -1;
      bool started = true;
      switch (config) {
      case ConfigId::none:
        break;
      case ConfigId::floor:
        started = floor.start(error);
        stats_pid = getpid();
        break;
      case ConfigId::shimwatch:
        started = agent.start(error);
        stats_pid = agent.pid();
        break;
      case ConfigId::auditd:
        started = auditd.start(error);
        audit_ever_started = audit_ever_started || started;
        break;
      }
      if (!started) {
        unavailable[config] = error;
        std::fprintf(stderr, "agent_bench: %s unavailable: %s\n", config_name(config),
                     error.c_str());
        continue;
      }
      sleep_seconds(0.3);
      for (const Workload &workload : workloads) {
        const auto before = stats_pid > 0 ? program_stats.snapshot(stats_pid)
                                          : std::map<std::string, ProgramCounters>{};
        const std::string metrics_before =
            config == ConfigId::shimwatch ? agent.metrics_text() : std::string();
        const uint64_t lines_before = agent.lines();
        const WorkerTotals totals = run_workload(workload, context, options.seconds);
        const auto after = stats_pid > 0 ? program_stats.snapshot(stats_pid)
                                         : std::map<std::string, ProgramCounters>{};
        Cell &cell = cells[{config, workload.id}];
        const double ns = totals.ops ? static_cast<double>(totals.busy_ns) / totals.ops : NAN;
        cell.ns_per_op.push_back(ns);
        cell.failures += totals.failures;
        this_round[{config, workload.id}] = ns;
        for (const auto &[tracepoint, counters] : after) {
          const auto previous = before.find(tracepoint);
          const ProgramCounters start =
              previous == before.end() ? ProgramCounters{} : previous->second;
          const uint64_t hits = counters.run_cnt - start.run_cnt;
          if (hits == 0)
            continue;
          cell.hits[tracepoint] += hits;
          cell.ns_per_hit[tracepoint].push_back(
              static_cast<double>(counters.run_time_ns - start.run_time_ns) / hits);
        }
        if (config == ConfigId::shimwatch) {
          // What the agent still owes from this workload must not be billed
          // to the next one.
          agent.wait_quiet();
          cell.delivered += agent.lines() - lines_before;
          cell.dropped += metric_sum(agent.metrics_text(), "shimwatch_events_dropped_total") -
                          metric_sum(metrics_before, "shimwatch_events_dropped_total");
          if (!agent.alive())
            die("shimwatch died during " + workload.name + ": " +
                read_file(dir + "/shimwatch.err"));
        } else if (config == ConfigId::auditd) {
          sleep_seconds(0.3);
        }
      }
      switch (config) {
      case ConfigId::none:
        break;
      case ConfigId::floor:
        floor.stop();
        break;
      case ConfigId::shimwatch:
        agent.stop();
        break;
      case ConfigId::auditd:
        auditd.stop();
        break;
      }
    }
    for (const auto &[key, ns] : this_round) {
      const auto base = this_round.find({ConfigId::none, key.second});
      if (base != this_round.end())
        cells[key].ratio.push_back(ns / base->second);
    }
    std::fprintf(stderr, "agent_bench: round %d/%d done, load %s\n", round + 1, options.rounds,
                 loadavg().c_str());
  }
  const std::string load_after_rounds = loadavg();

  // The agent alone: idle memory and CPU, then a flat-out matching storm.
  std::ostringstream resources;
  std::string error;
  if (!agent.start(error))
    die("shimwatch: " + error);
  agent.wait_quiet();
  sleep_seconds(2);
  const ProcessMemory idle = process_memory(agent.pid());
  if (options.only == "memory") {
    const std::string memory_rows =
        memory_step_rows(agent, options.memory, context.watched_socket, cores);
    agent.stop();
    char line[512];
    resources << "| figure | value |\n| --- | --- |\n";
    std::snprintf(line, sizeof line, "| RSS idle (2 s after start) | %.1f MiB (VmHWM %.1f MiB) |\n",
                  idle.rss_kib / 1024.0, idle.hwm_kib / 1024.0);
    resources << line << memory_rows;
  } else {
    const uint64_t ticks_before = process_cpu_ticks(agent.pid());
    const auto idle_start = Clock::now();
    sleep_seconds(options.idle_cpu_seconds);
    const double idle_elapsed = std::chrono::duration<double>(Clock::now() - idle_start).count();
    const double idle_cpu_percent =
        100.0 * static_cast<double>(process_cpu_ticks(agent.pid()) - ticks_before) /
        static_cast<double>(sysconf(_SC_CLK_TCK)) / idle_elapsed;

    const std::string metrics_before = agent.metrics_text();
    const uint64_t lines_before = agent.lines();
    const auto storm_start = Clock::now();
    const WorkerTotals storm =
        run_workload({WorkloadId::connect_watched, "throughput storm", "", cores}, context,
                     options.throughput_seconds);
    const double storm_seconds = std::chrono::duration<double>(Clock::now() - storm_start).count();
    agent.wait_quiet(1.0, 120);
    const double drain_seconds = std::chrono::duration<double>(Clock::now() - storm_start).count();
    const uint64_t delivered = agent.lines() - lines_before;
    const std::string metrics_after = agent.metrics_text();
    auto delta = [&](const std::string &family) {
      return metric_sum(metrics_after, family) - metric_sum(metrics_before, family);
    };
    const double dropped = delta("shimwatch_events_dropped_total");
    const std::string drop_reasons = drops_by_reason(metrics_before, metrics_after);
    const double kernel_events = delta("shimwatch_kernel_events_total");
    const ProcessMemory after_connects = process_memory(agent.pid());

    // The highest steady rate delivered with no loss: rates double until a
    // step loses events or the generators cannot hold the rate.
    std::ostringstream paced;
    double sustained = 0;
    for (double rate = 2500; rate <= 160000; rate *= 2) {
      WorkloadContext paced_context = context;
      paced_context.paced_rate_per_worker = rate / cores;
      const std::string step_before = agent.metrics_text();
      const uint64_t step_lines = agent.lines();
      const WorkerTotals step =
          run_workload({WorkloadId::connect_watched_paced, "paced storm", "", cores}, paced_context,
                       options.throughput_seconds);
      agent.wait_quiet(1.0, 120);
      const double step_dropped =
          metric_sum(agent.metrics_text(), "shimwatch_events_dropped_total") -
          metric_sum(step_before, "shimwatch_events_dropped_total");
      const double achieved = step.ops / options.throughput_seconds;
      char row[256];
      std::snprintf(row, sizeof row, "| %.0f/s | %.0f/s | %llu | %.0f |\n", rate, achieved,
                    static_cast<unsigned long long>(agent.lines() - step_lines), step_dropped);
      paced << row;
      if (step_dropped > 0 || achieved < 0.9 * rate)
        break;
      sustained = achieved;
    }

    const WorkerTotals execs = run_workload(workloads.front(), context, options.throughput_seconds);
    agent.wait_quiet();
    const ProcessMemory after_execs = process_memory(agent.pid());
    const std::string memory_rows =
        memory_step_rows(agent, options.memory, context.watched_socket, cores);
    agent.stop();

    char line[512];
    resources << "| figure | value |\n| --- | --- |\n";
    std::snprintf(line, sizeof line, "| RSS idle (2 s after start) | %.1f MiB (VmHWM %.1f MiB) |\n",
                  idle.rss_kib / 1024.0, idle.hwm_kib / 1024.0);
    resources << line;
    std::snprintf(line, sizeof line, "| CPU idle, over %.0f s | %.2f %% of a core |\n",
                  idle_elapsed, idle_cpu_percent);
    resources << line;
    std::snprintf(line, sizeof line,
                  "| watched connects generated (%d workers, %.1f s) | %llu (%.0f/s) |\n", cores,
                  storm_seconds, static_cast<unsigned long long>(storm.ops),
                  storm.ops / storm_seconds);
    resources << line;
    std::snprintf(line, sizeof line,
                  "| events the kernel sent (shimwatch_kernel_events_total) | %.0f |\n",
                  kernel_events);
    resources << line;
    std::snprintf(line, sizeof line,
                  "| JSON lines delivered | %llu: %.0f/s over the storm, %.0f/s until drained "
                  "(%.1f s) |\n",
                  static_cast<unsigned long long>(delivered), delivered / storm_seconds,
                  delivered / drain_seconds, drain_seconds);
    resources << line;
    std::snprintf(line, sizeof line, "| events dropped (shimwatch_events_dropped_total) | %.0f",
                  dropped);
    resources << line << (drop_reasons.empty() ? "" : ":" + drop_reasons) << " |\n";
    std::snprintf(line, sizeof line,
                  "| highest steady rate delivered with 0 drops (steps below) | %.0f events/s |\n",
                  sustained);
    resources << line;
    std::snprintf(line, sizeof line, "| RSS after the storm | %.1f MiB (VmHWM %.1f MiB) |\n",
                  after_connects.rss_kib / 1024.0, after_connects.hwm_kib / 1024.0);
    resources << line;
    std::snprintf(line, sizeof line,
                  "| RSS after %llu more short-lived processes | %.1f MiB (VmHWM %.1f MiB) |\n",
                  static_cast<unsigned long long>(execs.ops), after_execs.rss_kib / 1024.0,
                  after_execs.hwm_kib / 1024.0);
    resources << line << memory_rows;
    resources << "\nSteady watched-connect rates (" << cores << " workers, "
              << options.throughput_seconds
              << " s each):\n\n| asked | generated | JSON lines | dropped |\n"
                 "| --- | --- | --- | --- |\n"
              << paced.str();
  }

  // --- Tables.
  std::ostringstream out;
  out << "## Agent benchmark\n\n" << machine_summary();
  out << "- load (/proc/loadavg): before " << load_before << "; after the rounds "
      << load_after_rounds << "; at the end " << loadavg() << "\n";
  if (rounds > 0)
    out << "- " << rounds << " interleaved rounds of " << options.seconds
        << " s per workload and configuration; kernel.bpf_stats_enabled=1 throughout (every "
           "configuration with BPF pays its accounting alike)\n";
  else
    out << "- only the agent alone (--only " << options.only << "): no rounds\n";
  out << "- shimwatch: default config + `--watch-socket <bench listener> --no-dedupe --format "
         "json`, stdout to a pipe the bench drains\n";
  for (const auto &note : notes)
    out << "- " << note << "\n";
  for (const auto &[config, reason] : unavailable)
    out << "- **" << config_name(config) << ": not measured** — " << reason << "\n";
  if (rounds > 0) {
    out << "\n### End-to-end: median ns/op [min–max over rounds]; ratio = median of per-round "
           "ratios to no agent [min–max]\n\n";
    out << "| workload (one op) |";
    for (ConfigId config : configs)
      out << " " << config_name(config) << " |";
    out << "\n| --- |";
    for (size_t i = 0; i < configs.size(); ++i)
      out << " --- |";
    out << "\n";
    for (const Workload &workload : workloads) {
      out << "| " << workload.name << " (" << workload.op << ", " << workload.workers
          << (workload.workers == 1 ? " worker" : " workers") << ") |";
      for (ConfigId config : configs) {
        const auto found = cells.find({config, workload.id});
        if (unavailable.count(config) || found == cells.end()) {
          out << " n/a |";
          continue;
        }
        const Cell &cell = found->second;
        const auto [low, high] = std::minmax_element(cell.ns_per_op.begin(), cell.ns_per_op.end());
        out << " " << format_ns(median(cell.ns_per_op)) << " [" << format_ns(*low) << "–"
            << format_ns(*high) << "]";
        if (config != ConfigId::none && !cell.ratio.empty()) {
          const auto [rlow, rhigh] = std::minmax_element(cell.ratio.begin(), cell.ratio.end());
          out << " " << format_ratio(median(cell.ratio)) << " [" << format_ratio(*rlow) << "–"
              << format_ratio(*rhigh) << "]";
        }
        if (cell.failures)
          out << " (" << cell.failures << " failed ops)";
        out << " |";
      }
      out << "\n";
    }

    out << "\nshimwatch during the rounds, summed: JSON lines written / events dropped —";
    for (const Workload &workload : workloads)
      if (auto found = cells.find({ConfigId::shimwatch, workload.id}); found != cells.end())
        out << " " << workload.name << ": " << found->second.delivered << " / "
            << static_cast<uint64_t>(found->second.dropped) << ";";
    out << "\n";

    out << "\n### In-kernel cost per program hit: median over rounds of run_time_ns / run_cnt "
           "(hits summed over rounds)\n\n";
    out << "| workload | tracepoint | floor (empty) | shimwatch | shimwatch / floor |\n"
           "| --- | --- | --- | --- | --- |\n";
    for (const Workload &workload : workloads) {
      const auto floor_cell = cells.find({ConfigId::floor, workload.id});
      const auto agent_cell = cells.find({ConfigId::shimwatch, workload.id});
      if (agent_cell == cells.end())
        continue;
      uint64_t most_hits = 0;
      for (const auto &[tracepoint, hits] : agent_cell->second.hits)
        most_hits = std::max(most_hits, hits);
      for (const auto &[tracepoint, per_round] : agent_cell->second.ns_per_hit) {
        // Stray hits from the rest of the machine say nothing about this workload.
        if (agent_cell->second.hits.at(tracepoint) * 20 < most_hits ||
            agent_cell->second.hits.at(tracepoint) < 10)
          continue;
        const double agent_ns = median(per_round);
        double floor_ns = NAN;
        uint64_t floor_hits = 0;
        if (floor_cell != cells.end())
          if (auto found = floor_cell->second.ns_per_hit.find(tracepoint);
              found != floor_cell->second.ns_per_hit.end()) {
            floor_ns = median(found->second);
            floor_hits = floor_cell->second.hits.at(tracepoint);
          }
        char row[512];
        std::snprintf(row, sizeof row, "| %s | %s | %s (%llu hits) | %s (%llu hits) | %s |\n",
                      workload.name.c_str(), tracepoint.c_str(), format_ns(floor_ns).c_str(),
                      static_cast<unsigned long long>(floor_hits), format_ns(agent_ns).c_str(),
                      static_cast<unsigned long long>(agent_cell->second.hits.at(tracepoint)),
                      format_ratio(agent_ns / floor_ns).c_str());
        out << row;
      }
    }
  }

  out << "\n### The agent alone (" << config_name(ConfigId::shimwatch) << ")\n\n"
      << resources.str();
  if (audit_ever_started)
    out << "\nauditd wrote " << auditd.records_with_key()
        << " records under the key `docker` over the whole run (last rotations kept).\n";
  if (audit_ever_started)
    out << "\nauditd was started: the audit rule `task,never` is left in place so that new "
           "tasks stay off the audit syscall path (`auditctl -D` removes it).\n";

  std::fputs(out.str().c_str(), stdout);
  std::fflush(stdout);
  if (!options.report.empty() && !write_file(options.report, out.str()))
    die("cannot write " + options.report);
  return 0;
}
