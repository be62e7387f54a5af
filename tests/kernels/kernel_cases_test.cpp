// The cases the kernel matrix runs on every kernel (tests/kernels/
// kernel_matrix.py): the real agent with its default config catches each way
// a node uses Docker, attributes it, and restarts from its pins without a
// gap. They need a node of their own: root, /run and /etc/docker private and
// writable, no Docker Engine (the matrix gives each a VM, or on this machine
// a private mount namespace with tmpfs over /run and /etc/docker).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <csignal>
#include <filesystem>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.hpp"
#include "shimwatch/probe.hpp"

using namespace std::chrono_literals;
using namespace swtest;

namespace {

const std::string docker_socket = "/run/docker.sock";
const std::string docker_cli = "/usr/bin/docker";
const std::string unit = "system.slice/kernel-matrix.service";

// The environment the cases need, or why it is not there.
std::string unusable_environment() {
  struct stat st {};
  if (geteuid() != 0)
    return "needs root";
  if (stat(docker_socket.c_str(), &st) == 0)
    return docker_socket + " exists: run the cases on a node of their own (kernel_matrix.py)";
  if (access("/etc/docker", W_OK) != 0)
    return "/etc/docker is not writable: run the cases on a node of their own (kernel_matrix.py)";
  if (access(docker_cli.c_str(), X_OK) != 0)
    return docker_cli + " is missing (Debian package docker.io)";
  return "";
}

class KernelCases : public ::testing::Test {
protected:
  void SetUp() override {
    if (std::string why = unusable_environment(); !why.empty())
      FAIL() << why;
  }
};

// The same cases on each set of hooks (--hooks): the default, the classic
// tracepoints only, the raw tracepoints only (what the default loads where
// pinned links need them).
class KernelCasesOnHooks : public KernelCases, public ::testing::WithParamInterface<std::string> {
protected:
  std::vector<std::string> hook_flags() const {
    return GetParam().empty() ? std::vector<std::string>{}
                              : std::vector<std::string>{"--hooks", GetParam()};
  }
};

// Events of pid with action, from the origin the cases run in.
std::vector<json> of(const AgentOutput &out, pid_t pid, const std::string &action) {
  return events_of(out, pid, action);
}

// What every event of a case run in the unit says of who did it.
void expect_attributed(const json &e, const std::string &case_name) {
  EXPECT_EQ(e["shimwatch"]["origin"]["type"], "systemd_unit") << case_name << ": " << e.dump();
  EXPECT_EQ(e["shimwatch"]["origin"]["unit"], "kernel-matrix.service") << case_name;
  EXPECT_EQ(e["shimwatch"]["cgroup"]["path"], "/" + unit) << case_name;
  // The chain of parents up to the test itself, captured in the kernel.
  ASSERT_TRUE(e["process"].contains("ancestry")) << case_name << ": " << e.dump();
  bool test_found = false;
  for (const auto &a : e["process"]["ancestry"])
    test_found = test_found || a.value("pid", 0) == getpid();
  EXPECT_TRUE(test_found) << case_name << ": the test process is not in the ancestry: "
                          << e["process"]["ancestry"].dump();
}

// The CLI asks the engine for its version even for --version, and the
// listeners here never answer: it is pointed at a socket that does not exist
// (env execs it: the same process).
std::vector<std::string> quick_cli(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"env", "DOCKER_HOST=unix:///run/no-engine.sock"});
  return argv;
}

bool mounted_bind(const std::string &from, const std::string &to) {
  write_file(to, "");
  return mount(from.c_str(), to.c_str(), nullptr, MS_BIND, nullptr) == 0;
}

} // namespace

TEST_P(KernelCasesOnHooks, DefaultConfigCatchesAndAttributesEachCase) {
  TempDir dir;
  TestCgroup cgroup(unit);
  const std::string crio_socket = "/run/crio/crio.sock";
  std::filesystem::create_directories("/run/crio");
  UnixListener crio(crio_socket);
  TcpListener engine(AF_INET, 2375);
  const std::string linked_cli = dir.file("dk");
  ASSERT_EQ(symlink(docker_cli.c_str(), linked_cli.c_str()), 0);
  const std::string systemctl = fake_executable(dir, "systemctl");
  unlink("/etc/docker/daemon.json");
  write_file("/etc/docker/staged.json", "{}\n");

  auto listener = std::make_unique<UnixListener>(docker_socket);
  // The same socket under another path, as a container sees it.
  const std::string other_path = dir.file("d.sock");
  ASSERT_TRUE(mounted_bind(docker_socket, other_path)) << std::strerror(errno);

  Agent agent(hook_flags());
  auto in_unit = [&](const std::vector<std::string> &argv) {
    return run_process_in_cgroup(cgroup.path(), argv);
  };
  // TRIGGER, one process per case.
  auto cli = in_unit(quick_cli({docker_cli, "--version"}));
  auto linked = in_unit(quick_cli({linked_cli, "--version"}));
  auto by_path = in_unit({SW_TEST_CONNECT_BINARY, docker_socket});
  auto by_other_path = in_unit({SW_TEST_CONNECT_BINARY, other_path});
  auto runtime = in_unit({SW_TEST_CONNECT_BINARY, crio_socket});
  auto tcp = in_unit({docker_cli, "-H", "tcp://127.0.0.1:2375", "version"});
  auto write = in_unit({"sh", "-c", "echo '{\"debug\": true}' > /etc/docker/daemon.json"});
  auto read = in_unit({"cat", "/etc/docker/daemon.json"});
  auto rename = in_unit({"mv", "/etc/docker/staged.json", "/etc/docker/daemon.json"});
  auto restart = in_unit({systemctl, "restart", "docker"});
  umount2(other_path.c_str(), MNT_DETACH);
  listener.reset(); // the socket file goes: nothing listens there any more
  auto failed = in_unit({SW_TEST_CONNECT_BINARY, docker_socket});
  auto out = agent.stop();

  // ASSERT
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(by_path.output, "ok\n");
  EXPECT_EQ(failed.output, "ENOENT\n");
  const struct {
    const char *name;
    pid_t pid;
    const char *action;
    bool once; // the CLI talking to the API connects more than once
  } cases[] = {
      {"docker CLI exec by name", cli.pid, "docker-cli-exec", true},
      {"docker CLI exec by identity", linked.pid, "docker-cli-exec", true},
      {"socket by path", by_path.pid, "docker-socket-connect", true},
      {"socket by another path", by_other_path.pid, "docker-socket-connect", true},
      {"runtime socket", runtime.pid, "runtime-socket-connect", true},
      {"TCP API", tcp.pid, "docker-api-tcp-connect", false},
      {"config write", write.pid, "docker-config-write", true},
      {"config read", read.pid, "docker-config-read", true},
      {"config rename", rename.pid, "docker-config-write", true},
      {"service control", restart.pid, "docker-service-control", true},
      {"failed connect", failed.pid, "docker-socket-connect", true},
  };
  for (const auto &c : cases) {
    auto events = of(out, c.pid, c.action);
    ASSERT_FALSE(events.empty()) << c.name << " (" << c.action << ", pid " << c.pid
                                 << ") not reported\n"
                                 << out.log;
    if (c.once) {
      EXPECT_EQ(events.size(), 1u) << c.name;
    }
    for (const auto &e : events)
      expect_attributed(e, c.name);
  }
  EXPECT_EQ(of(out, linked.pid, "docker-cli-exec")[0]["shimwatch"]["exec"]["matched_by"],
            "identity");
  EXPECT_EQ(of(out, by_path.pid, "docker-socket-connect")[0]["shimwatch"]["socket"]["matched_by"],
            "path");
  const json other = of(out, by_other_path.pid, "docker-socket-connect")[0];
  EXPECT_EQ(other["shimwatch"]["socket"]["matched_by"], "peer") << other.dump();
  EXPECT_EQ(other["shimwatch"]["socket"]["path"], other_path);
  const json api = of(out, tcp.pid, "docker-api-tcp-connect")[0];
  EXPECT_EQ(api["destination"]["port"], 2375) << api.dump();
  EXPECT_EQ(api["event"]["outcome"], "success") << api.dump();
  EXPECT_EQ(of(out, rename.pid, "docker-config-write")[0]["shimwatch"]["config"]["operation"],
            "rename");
  EXPECT_EQ(of(out, restart.pid, "docker-service-control")[0]["shimwatch"]["service"]["verb"],
            "restart");
  const json refused = of(out, failed.pid, "docker-socket-connect")[0];
  EXPECT_EQ(refused["event"]["outcome"], "failure") << refused.dump();
  EXPECT_TRUE(out.unparsable.empty());
  unlink("/etc/docker/daemon.json");
  // The hooks asked for are the ones in use: by default kernel functions
  // wherever the kernel allows them, and then no syscall tracepoint at all.
  const bool raw = out.log.find("raw_tp/sys_enter") != std::string::npos;
  const bool classic = out.log.find("tracepoint/syscalls/") != std::string::npos;
  const bool functions = out.log.find("fexit/__sys_connect_file") != std::string::npos &&
                         out.log.find("fexit/do_filp_open") != std::string::npos &&
                         out.log.find("fentry/do_renameat2") != std::string::npos;
  if (GetParam() == "raw-tracepoints") {
    EXPECT_TRUE(raw && !classic && !functions) << out.log;
  } else if (GetParam() == "tracepoints") {
    EXPECT_TRUE(classic && !raw && !functions) << out.log;
  } else if (shimwatch::kernel_functions_refusal().empty()) {
    EXPECT_TRUE(functions && !classic && !raw) << out.log;
    EXPECT_NE(out.log.find("no syscall tracepoint attached"), std::string::npos) << out.log;
  } else {
    EXPECT_TRUE(classic && !raw && !functions) << out.log;
    EXPECT_NE(out.log.find("syscall tax"), std::string::npos) << out.log;
  }
  if (GetParam() == "tracepoints") {
    EXPECT_NE(out.log.find("tracepoint/sched/sched_process_exec"), std::string::npos) << out.log;
  }
}

INSTANTIATE_TEST_SUITE_P(Hooks, KernelCasesOnHooks,
                         ::testing::Values("", "tracepoints", "raw-tracepoints"),
                         [](const auto &info) {
                           return info.param.empty()            ? std::string("Default")
                                  : info.param == "tracepoints" ? std::string("Tracepoints")
                                                                : std::string("RawTracepoints");
                         });

// The context a process' record carries (ancestry, executable, cgroup) is
// kept per process in the kernel between its calls: a call after the
// process moved to another cgroup must carry the new one.
TEST_F(KernelCases, ProcessContextFollowsACgroupMove) {
  TestCgroup first("system.slice/matrix-first.service");
  TestCgroup second("system.slice/matrix-second.service");
  UnixListener listener(docker_socket);
  const sockaddr_un address = unix_address(docker_socket);
  const std::string first_procs = first.path() + "/cgroup.procs";
  const std::string second_procs = second.path() + "/cgroup.procs";
  Agent agent;
  // One process: into the first unit, a call, into the second, a call.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (const std::string *procs : {&first_procs, &second_procs}) {
      if (!join_cgroup(*procs))
        _exit(5);
      connect_once_in_child(address);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  auto out = agent.stop();
  std::vector<std::string> units;
  for (const auto &e : of(out, child, "docker-socket-connect"))
    units.push_back(e["shimwatch"]["origin"].value("unit", ""));
  EXPECT_EQ(units, (std::vector<std::string>{"matrix-first.service", "matrix-second.service"}))
      << out.log;
}

TEST_F(KernelCases, RestartsFromItsPinsWithoutAGap) {
  const std::string pin = "/sys/fs/bpf/shimwatch-matrix-" + std::to_string(getpid());
  struct Cleanup {
    std::string pin;
    ~Cleanup() { (void)run_shimwatch({"cleanup", "--pin-path", pin}); }
  } cleanup{pin};
  UnixListener listener(docker_socket);
  auto first = std::make_unique<Agent>(std::vector<std::string>{"--pin-path", pin});
  auto before = run_process({SW_TEST_CONNECT_BINARY, docker_socket});
  ASSERT_TRUE(written(*first, before.pid, 20s));
  ASSERT_EQ(kill(first->pid(), SIGKILL), 0);
  auto first_out = first->stop();
  // No agent runs: the pinned probes queue what happens meanwhile.
  std::vector<pid_t> during;
  for (int i = 0; i < 3; ++i)
    during.push_back(run_process({SW_TEST_CONNECT_BINARY, docker_socket}).pid);
  Agent second({"--pin-path", pin});
  auto after = run_process({SW_TEST_CONNECT_BINARY, docker_socket});
  ASSERT_TRUE(written(second, after.pid, 20s));
  auto second_out = second.stop();
  ASSERT_EQ(second_out.exit_code, 0) << second_out.log;
  // A kernel that cannot pin a classic tracepoint's link: the syscall probes
  // go on raw tracepoints, and the log and check say why.
  const bool old_kernel = !shimwatch::kernel_pins_tracepoint_links();
  // The matrix's kernels are Debian's, without backports of BPF perf-event
  // links: the probe must agree with the release.
  utsname u{};
  uname(&u);
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  EXPECT_EQ(old_kernel, major < 5 || (major == 5 && minor < 15)) << u.release;
  const std::string note = "raw tracepoints: this kernel cannot pin a classic "
                           "tracepoint's link (BPF perf-event links need Linux 5.15)";
  EXPECT_EQ(second_out.log.find(note) != std::string::npos, old_kernel) << second_out.log;
  // Kernel functions' links can be pinned on every kernel that has them:
  // the syscall probes go on raw tracepoints only where functions are refused.
  const bool functions = shimwatch::kernel_functions_refusal().empty();
  EXPECT_EQ(second_out.log.find("raw_tp/sys_enter") != std::string::npos, old_kernel && !functions)
      << second_out.log;
  EXPECT_EQ(second_out.log.find("fexit/__sys_connect_file") != std::string::npos, functions)
      << second_out.log;
  auto check = run_shimwatch({"check", "--pin-path", pin});
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_EQ(check.output.find(note) != std::string::npos, old_kernel) << check.output;
  if (old_kernel) {
    // Asked for the classic tracepoints only, it cannot keep its promise:
    // it does not start.
    auto classic = run_shimwatch({"run", "--hooks", "tracepoints", "--pin-path", pin + "-classic",
                                  "--metrics-address", "off"});
    EXPECT_EQ(classic.exit_code, 2) << classic.output;
    EXPECT_NE(classic.output.find("--hooks tracepoints: this kernel cannot pin a classic "
                                  "tracepoint's link"),
              std::string::npos)
        << classic.output;
  }
  EXPECT_NE(second_out.log.find("took over from the agent before"), std::string::npos)
      << second_out.log;
  EXPECT_EQ(of(first_out, before.pid, "docker-socket-connect").size(), 1u);
  for (pid_t pid : during)
    EXPECT_EQ(of(second_out, pid, "docker-socket-connect").size(), 1u)
        << "lost while no agent ran: pid " << pid << "\n"
        << second_out.log;
  EXPECT_EQ(of(second_out, after.pid, "docker-socket-connect").size(), 1u);
}

// io_uring's requests and a 32-bit process' syscalls do not pass the 64-bit
// syscall tracepoints. On kernel functions they are seen like any other call,
// attributed the same way; where the kernel refuses function hooks (this
// machine's), they are not, and the start log says why.
TEST_F(KernelCases, IoUringAndCompatCallsOnKernelFunctions) {
  const std::string refusal = shimwatch::kernel_functions_refusal();
  const bool functions = refusal.empty();
  TempDir dir;
  TestCgroup cgroup(unit);
  UnixListener listener(docker_socket);
  write_file("/etc/docker/daemon.json", "{}\n");
  Agent agent;
  auto in_unit = [&](const std::vector<std::string> &argv) {
    return run_process_in_cgroup(cgroup.path(), argv);
  };
  // TRIGGER: a plain connect (the control), then the same through io_uring,
  // inline and in a worker thread, io_uring opens of daemon.json, and, where
  // the kernel runs 32-bit code, a 32-bit process' connect and open.
  auto plain = in_unit({SW_TEST_CONNECT_BINARY, docker_socket});
  auto uring = in_unit({SW_TEST_OTHER_PATHS_BINARY, "uring-connect", docker_socket});
  auto uring_worker =
      in_unit({SW_TEST_OTHER_PATHS_BINARY, "uring-connect", docker_socket, "async"});
  auto uring_read = in_unit({SW_TEST_OTHER_PATHS_BINARY, "uring-open", "/etc/docker/daemon.json"});
  auto uring_write = in_unit(
      {SW_TEST_OTHER_PATHS_BINARY, "uring-open", "/etc/docker/daemon.json", "write", "async"});
  // A binary run from under /etc/docker: the kernel opens it to run it,
  // which reads no configuration.
  const std::string binary = "/etc/docker/run-me";
  std::filesystem::copy_file("/bin/true", binary,
                             std::filesystem::copy_options::overwrite_existing);
  chmod(binary.c_str(), 0755);
  auto run_from_config = in_unit({binary});
  std::vector<ProcessResult> compat;
  if (functions) {
    compat.push_back(in_unit({SW_TEST_OTHER_PATHS_BINARY, "compat-connect", docker_socket}));
    compat.push_back(in_unit({SW_TEST_OTHER_PATHS_BINARY, "compat-socketcall", docker_socket}));
    compat.push_back(
        in_unit({SW_TEST_OTHER_PATHS_BINARY, "compat-open", "/etc/docker/daemon.json"}));
  }
  auto out = agent.stop();
  unlink("/etc/docker/daemon.json");
  unlink(binary.c_str());

  // ASSERT
  ASSERT_EQ(out.exit_code, 0) << out.log;
  for (const auto *run : {&plain, &uring, &uring_worker, &uring_read, &uring_write})
    EXPECT_EQ(run->output, "ok\n");
  ASSERT_EQ(of(out, plain.pid, "docker-socket-connect").size(), 1u) << out.log;
  EXPECT_EQ(run_from_config.exit_code, 0) << run_from_config.output;
  EXPECT_TRUE(of(out, run_from_config.pid, "docker-config-read").empty()) << out.log;
  const struct {
    const char *name;
    pid_t pid;
    const char *action;
  } cases[] = {
      {"io_uring connect", uring.pid, "docker-socket-connect"},
      {"io_uring connect in a worker", uring_worker.pid, "docker-socket-connect"},
      {"io_uring open for reading", uring_read.pid, "docker-config-read"},
      {"io_uring open for writing in a worker", uring_write.pid, "docker-config-write"},
  };
  if (!functions) {
    // Not seen on syscall tracepoints: the documented gap, and why.
    EXPECT_NE(out.log.find(refusal), std::string::npos) << out.log;
    for (const auto &c : cases)
      EXPECT_TRUE(of(out, c.pid, c.action).empty()) << c.name << " reported on tracepoints";
    return;
  }
  for (const auto &c : cases) {
    auto events = of(out, c.pid, c.action);
    ASSERT_EQ(events.size(), 1u) << c.name << " (pid " << c.pid << ")\n" << out.log;
    expect_attributed(events[0], c.name);
    EXPECT_EQ(events[0]["process"]["name"], "sw_test_other_p") << c.name;
  }
  const json worker = of(out, uring_worker.pid, "docker-socket-connect")[0];
  EXPECT_EQ(worker["shimwatch"]["process"]["io_uring_worker"], true) << worker.dump();
  EXPECT_NE(worker["process"]["thread"]["id"], uring_worker.pid) << worker.dump();
  EXPECT_EQ(worker["event"]["outcome"], "success") << worker.dump();
  const char *compat_actions[] = {"docker-socket-connect", "docker-socket-connect",
                                  "docker-config-read"};
  for (size_t i = 0; i < compat.size(); ++i) {
    EXPECT_EQ(compat[i].output, "ok\n") << i;
    auto events = of(out, compat[i].pid, compat_actions[i]);
    ASSERT_EQ(events.size(), 1u) << "32-bit call " << i << "\n" << out.log;
    expect_attributed(events[0], "32-bit call");
  }
}
