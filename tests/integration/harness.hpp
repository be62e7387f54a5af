// Integration test harness: runs the real agent binary and real processes.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <sys/types.h>
#include <sys/un.h>
#include <vector>

#include "http_client.hpp"
#include "prometheus_text.hpp"
#include "test_files.hpp"

namespace swtest {

using nlohmann::json;

// TempDir, TempFile, read_file, status_field, free_port: tests/common/test_files.hpp.

struct AgentOutput {
  int exit_code = -1;
  std::vector<std::string> lines; // stdout, one entry per line
  std::vector<json> events;       // every stdout line, parsed
  std::vector<std::string> unparsable;
  std::string log; // stderr
};

// `shimwatch run --format json --metrics-address off EXTRA...`, started in
// the constructor and ready (probes attached) when it returns.
class Agent {
public:
  // launcher: a command that execs its arguments (the agent's command line)
  // in another setting, e.g. fresh_node_launcher().
  explicit Agent(std::vector<std::string> extra_args = {}, bool default_output_flags = true,
                 std::vector<std::string> launcher = {});
  ~Agent();
  Agent(const Agent &) = delete;
  Agent &operator=(const Agent &) = delete;

  // SIGTERM, wait for exit, collect what it wrote.
  AgentOutput stop();
  pid_t pid() const { return pid_; }
  const std::string &dir() const { return dir_.path(); }

private:
  TempDir dir_;
  pid_t pid_ = -1;
};

struct ProcessResult {
  pid_t pid = -1;
  int exit_code = -1;
  std::string output; // stdout and stderr
};

// fork + execvp, waits for exit. argv[0] is looked up in PATH unless it has a '/'.
ProcessResult run_process(const std::vector<std::string> &argv);

// `shimwatch run ARGS...` whose stdout is a pipe nobody reads (its output
// thread blocks once the pipe is full), stderr to err_path; its pid. The
// pipe's read end is left in read_end, for the caller to keep open (and
// close).
pid_t start_agent_with_stalled_stdout(const std::vector<std::string> &args,
                                      const std::string &err_path, int &read_end);

// A command prefix that runs its arguments as on a node where nothing was
// mounted by hand: in a private mount namespace without bpffs, tracefs or
// debugfs (exit 98 if one cannot be unmounted).
std::vector<std::string> fresh_node_launcher();

// Runs the shimwatch binary with args (no agent harness), for CLI behaviour.
ProcessResult run_shimwatch(const std::vector<std::string> &args);

// Events whose process.pid is pid (and, if given, whose event.action is action).
std::vector<json> events_of(const AgentOutput &out, pid_t pid, const std::string &action = "");

// Events whose container.id is container_id.
std::vector<json> events_of_container(const AgentOutput &out, const std::string &container_id);

// A listening unix socket; path may be "@name" for an abstract one.
class UnixListener {
public:
  explicit UnixListener(const std::string &path, bool listen_now = true);
  ~UnixListener();
  UnixListener(const UnixListener &) = delete;
  UnixListener &operator=(const UnixListener &) = delete;

private:
  int fd_ = -1;
  std::string path_;
};

// Listens on 127.0.0.1 (or ::1) at port, accepting and closing connections
// on a thread of its own.
class TcpListener {
public:
  TcpListener(int family, int port);
  ~TcpListener();
  TcpListener(const TcpListener &) = delete;
  TcpListener &operator=(const TcpListener &) = delete;

private:
  int fd_ = -1;
  std::thread thread_;
};

void write_file(const std::string &path, const std::string &text, int mode = 0644);

// A config file in dir that watches socket_path and nothing else (no exec
// names, binaries, Docker's config files, TCP ports, runtime sockets or
// service control), so that no other process on the machine can add an
// event or a kernel drop to a test that counts them. Returns its path.
std::string only_socket_config(const TempDir &dir, const std::string &socket_path);

// The address of the unix socket file at path.
sockaddr_un unix_address(const std::string &path);

// socket + connect + close, from a forked child of a process with threads:
// async-signal-safe calls only; _exit(4) when no socket can be made. What
// connect() returns does not matter: a refused call is an event too.
void connect_once_in_child(const sockaddr_un &address);

} // namespace swtest

namespace swtest {

// run_process with the child's uid and gid set to uid first (no privileges).
// A child still running after wait is killed (exit code -1).
ProcessResult run_process_as(uid_t uid, const std::vector<std::string> &argv,
                             std::chrono::seconds wait = std::chrono::seconds(60));

// Copies /bin/true to dir/name: a harmless executable with any basename.
std::string fake_executable(const TempDir &dir, const std::string &name);

} // namespace swtest

namespace swtest {

// The cgroup v2 mount point (/sys/fs/cgroup or /sys/fs/cgroup/unified).
std::string cgroup2_root();

// A cgroup made for a test below the cgroup v2 root (e.g.
// "system.slice/nightly-cleanup.service"), removed with its parents that the
// test created at destruction.
class TestCgroup {
public:
  explicit TestCgroup(const std::string &relative_path);
  ~TestCgroup();
  TestCgroup(const TestCgroup &) = delete;
  TestCgroup &operator=(const TestCgroup &) = delete;
  const std::string &path() const { return path_; }

private:
  std::string path_;
  std::vector<std::string> created_; // innermost last
};

// Moves the calling process into the cgroup whose cgroup.procs file this is
// (writes "0", the writer itself); false when that fails. Plain system calls
// only: safe in a forked child.
bool join_cgroup(const std::string &procs_file);

// run_process, with the child moved into cgroup_dir before exec.
ProcessResult run_process_in_cgroup(const std::string &cgroup_dir,
                                    const std::vector<std::string> &argv);

// A directory only root can write (below /usr/local/lib, mode 0755), as a
// package installs binaries into, removed with its contents at destruction.
class TrustedDir {
public:
  TrustedDir();
  ~TrustedDir();
  TrustedDir(const TrustedDir &) = delete;
  TrustedDir &operator=(const TrustedDir &) = delete;
  // Copies the executable from to name in here (mode 0755); its path.
  std::string install(const std::string &from, const std::string &name) const;

private:
  std::string path_;
};

// Copies an executable (e.g. /bin/sh) to dir/name, so its comm is name.
std::string copy_executable(const TempDir &dir, const std::string &from, const std::string &name);

} // namespace swtest

#include <chrono>
#include <functional>

namespace swtest {

// Polls condition every 50 ms until it holds or limit passes; its last answer.
bool wait_for(const std::function<bool()> &condition, std::chrono::milliseconds limit);

// Whether the running agent has written an event of pid to its stdout
// (waits up to limit).
bool written(const Agent &agent, pid_t pid,
             std::chrono::milliseconds limit = std::chrono::seconds(10));

// A container image whose only file is /sw_test_connect (static), made with
// `docker import` since no registry is reachable. Returns its tag.
std::string docker_image_with_connect_helper();

// Removes, when it goes, the pod-level cgroup that `docker create
// --cgroup-parent /kubepods/burstable/pod<uid>` makes and docker leaves
// behind (cgroupfs driver), in every hierarchy, once its containers are gone.
struct PodCgroupCleanup {
  std::string pod_uid;
  ~PodCgroupCleanup();
};

// text without trailing newlines and spaces.
std::string trim(std::string text);

// How many times needle occurs in text (overlapping ones too).
size_t count_occurrences(const std::string &text, const std::string &needle);

} // namespace swtest
