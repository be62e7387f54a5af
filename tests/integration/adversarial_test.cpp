// A hostile workload on the node, run for real: an unprivileged user (or a
// container) tries to hide from the agent, forge into its trail, starve or
// crash it. Each test runs the attack and fails with the defence taken out.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <algorithm>
#include <csignal>
#include <grp.h>
#include <mutex>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "harness.hpp"

using namespace std::chrono_literals;
using namespace swtest;

namespace {

constexpr uid_t nobody = 65534;

// Every line of text that parses as a JSON object.
std::vector<json> json_lines(const std::string &text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object())
      out.push_back(std::move(j));
  }
  return out;
}

} // namespace

// A path a workload names lands in the agent's log (here: the copy of the
// docker CLI it runs, which the agent reports by build-id). The path holds a
// line break and a whole record: in `kubectl logs`, where stderr and stdout
// merge, that record would start a line of its own and `report` would count
// an event of a pod that never ran.
TEST(Adversarial, APathWithALineBreakCannotForgeARecordInTheLogStream) {
  TempDir dir;
  chmod(dir.path().c_str(), 0777);
  const std::string forged =
      R"({"@timestamp":"2026-12-01T00:00:00.000000Z","event":{"kind":"event",)"
      R"("action":"docker-cli-exec","outcome":"success"},"host":{"name":"forged-node"},)"
      R"("process":{"pid":1,"name":"docker"},"shimwatch":{"origin":{"type":"host"}}})";
  const std::string hostile_dir = dir.file("x\n" + forged);
  ASSERT_TRUE(std::filesystem::create_directory(hostile_dir)) << "a name of " << forged.size();
  chmod(hostile_dir.c_str(), 0777);
  const std::string copy = hostile_dir + "/dkr";
  std::filesystem::copy_file("/usr/bin/docker", copy);
  chmod(copy.c_str(), 0755);

  Agent agent({"--watch-socket", dir.file("none.sock")});
  // TRIGGER: run the copy as nobody (--version asks the engine at
  // DOCKER_HOST, which does not exist: it ends at once).
  auto run = run_process_as(
      nobody, {"env", "DOCKER_HOST=unix://" + dir.file("no-engine.sock"), copy, "--version"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // ASSERT
  // Positive control: the agent did log the path (and report the copy).
  ASSERT_TRUE(wait_for(
      [&] {
        return read_file(agent.dir() + "/stderr").find("runs a copy of a docker binary") !=
               std::string::npos;
      },
      10s))
      << read_file(agent.dir() + "/stderr");
  AgentOutput out = agent.stop();
  ASSERT_EQ(events_of(out, run.pid, "docker-cli-exec").size(), 1u) << out.log;

  // No line of the agent's log is a record.
  EXPECT_TRUE(json_lines(out.log).empty()) << out.log;
  std::istringstream log(out.log);
  for (std::string line; std::getline(log, line);)
    EXPECT_TRUE(line.empty() || std::isdigit(static_cast<unsigned char>(line[0])))
        << "a log line that does not start with its timestamp: " << line;
  EXPECT_NE(out.log.find("x\\n{"), std::string::npos) << "the line break is shown escaped";

  // TRIGGER: `report` over what `kubectl logs` shows: stdout and stderr merged.
  const std::string merged = dir.file("kubectl-logs.txt");
  write_file(merged, read_file(agent.dir() + "/stdout") + out.log);
  auto report = run_shimwatch({"report", "--format", "json", merged});
  // ASSERT
  ASSERT_EQ(report.exit_code, 0) << report.output;
  json r = json::parse(report.output, nullptr, false);
  ASSERT_FALSE(r.is_discarded()) << report.output;
  EXPECT_EQ(r["summary"]["input"]["records"], out.events.size()) << report.output;
  for (const auto &node : r["summary"]["nodes"])
    EXPECT_NE(node["name"], "forged-node") << report.output;
}

// A user who runs a copy of the docker CLI under another name can make it
// execute-only (mode 0111): nobody may read it, so its build-id cannot be
// read by a reader that honours file modes. The agent keeps
// CAP_DAC_READ_SEARCH for this: the copy is still recognised.
TEST(Adversarial, AnExecuteOnlyCopyOfTheCliIsStillRecognised) {
  TempDir dir;
  chmod(dir.path().c_str(), 0777);
  const std::string copy = dir.file("dkr");
  std::filesystem::copy_file("/usr/bin/docker", copy);
  ASSERT_EQ(chown(copy.c_str(), nobody, nobody), 0);
  ASSERT_EQ(chmod(copy.c_str(), 0111), 0);
  // Positive control for the premise: nobody cannot read it.
  ASSERT_NE(run_process_as(nobody, {"cat", copy}).exit_code, 0);

  Agent agent({"--watch-socket", dir.file("none.sock")});
  // TRIGGER: nobody runs the copy it cannot read.
  auto run = run_process_as(
      nobody, {"env", "DOCKER_HOST=unix://" + dir.file("no-engine.sock"), copy, "--version"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // ASSERT
  ASSERT_TRUE(written(agent, run.pid));
  AgentOutput out = agent.stop();
  auto events = events_of(out, run.pid, "docker-cli-exec");
  ASSERT_EQ(events.size(), 1u) << out.log;
  EXPECT_EQ(events[0]["shimwatch"]["exec"]["matched_by"], "build_id") << events[0].dump();
  EXPECT_EQ(events[0]["process"]["executable"], copy);
}

// Exclusions by name: a copy of a client saved as "kubelet" where anyone may
// write talks to the Docker socket. It is reported, marked as impersonating
// the excluded daemon; the same binary in a directory only root can write
// is the node's own and left out (positive control).
TEST(Adversarial, ACopyNamedLikeTheKubeletIsReportedAndMarked) {
  TempDir dir;
  chmod(dir.path().c_str(), 0777);
  const std::string socket = dir.file("docker.sock");
  UnixListener listener(socket);
  chmod(socket.c_str(), 0777);
  // The attacker's copy, made by nobody in a directory anyone may write.
  const std::string fake = dir.file("kubelet");
  ASSERT_EQ(run_process_as(nobody, {"cp", SW_TEST_CONNECT_BINARY, fake}).exit_code, 0);
  // The node's own, installed by root where only root writes.
  TrustedDir installed;
  const std::string real = installed.install(SW_TEST_CONNECT_BINARY, "kubelet");

  Agent agent({"--watch-socket", socket});
  // TRIGGER: the attacker's copy and the node's own connect to the socket.
  auto attack = run_process_as(nobody, {fake, socket});
  auto node = run_process({real, socket});
  ASSERT_EQ(attack.output, "ok\n");
  ASSERT_EQ(node.output, "ok\n");
  // ASSERT
  ASSERT_TRUE(written(agent, attack.pid));
  AgentOutput out = agent.stop();
  auto reported = events_of(out, attack.pid, "docker-socket-connect");
  ASSERT_EQ(reported.size(), 1u) << out.log;
  EXPECT_EQ(reported[0]["shimwatch"]["impersonates"], "kubelet") << reported[0].dump();
  EXPECT_EQ(reported[0]["process"]["executable"], fake);
  EXPECT_TRUE(events_of(out, node.pid).empty()) << "the node's own kubelet is left out";
}

namespace {

// The FUSE file system of sw_test_stuck_fuse at dir/fuse, unmounted (which
// lets every held reader go) at the end.
class StuckFuse {
public:
  StuckFuse(const TempDir &dir, int files) : mountpoint_(dir.file("fuse")) {
    std::filesystem::create_directory(mountpoint_);
    pid_ = fork();
    if (pid_ == 0) {
      execl(SW_TEST_STUCK_FUSE_BINARY, SW_TEST_STUCK_FUSE_BINARY, mountpoint_.c_str(), "/bin/true",
            std::to_string(files).c_str(), nullptr);
      _exit(127);
    }
    if (!wait_for([&] { return std::filesystem::exists(file(0)); }, 10s))
      throw std::runtime_error("the FUSE file system did not come up");
  }
  ~StuckFuse() { unmount(); }
  std::string file(int i) const { return mountpoint_ + "/bin" + std::to_string(i); }
  void unmount() {
    if (pid_ <= 0)
      return;
    (void)run_process({"umount", "-l", mountpoint_});
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

private:
  std::string mountpoint_;
  pid_t pid_ = -1;
};

// GET /healthz: its status code.
int healthz(int port) {
  return http_request(port, "GET", "/healthz").first;
}

} // namespace

// A workload runs binaries that live on a FUSE file system of its own,
// which answers the exec and then never again: whoever opens the binary
// afterwards (the agent, to read its build-id) waits for ever. The agent
// reads build-ids on workers of their own: its loop goes on reporting, and
// once every worker is held /healthz fails (the liveness probe restarts the
// pod) until the file system lets them go.
TEST(Adversarial, BinariesThatHangTheirReaderDoNotStopTheAgent) {
  TempDir dir;
  const std::string socket = dir.file("docker.sock");
  UnixListener listener(socket);
  StuckFuse fuse(dir, 12);
  const int port = free_port();
  Agent agent({"--watch-socket", socket, "--metrics-address", "127.0.0.1:" + std::to_string(port)});
  ASSERT_EQ(healthz(port), 200);

  // TRIGGER: one held reader.
  ASSERT_EQ(run_process({fuse.file(0)}).exit_code, 0);
  std::this_thread::sleep_for(500ms);
  pid_t client = run_process({SW_TEST_CONNECT_BINARY, socket}).pid;
  // ASSERT: the events still come.
  EXPECT_TRUE(written(agent, client)) << "the loop stopped behind a binary that hangs its reader";
  EXPECT_EQ(healthz(port), 200) << "one reader held is no stall";

  // TRIGGER: every reader held (a new one is started while the others are held, up
  // to 8).
  for (int i = 1; i < 12; ++i) {
    std::this_thread::sleep_for(2200ms);
    ASSERT_EQ(run_process({fuse.file(i)}).exit_code, 0);
  }
  // ASSERT: /healthz says so; the events still come.
  EXPECT_TRUE(wait_for([&] { return healthz(port) == 503; }, 10s));
  auto [status, body] = http_request(port, "GET", "/healthz");
  EXPECT_NE(body.find("every build-id reader is held"), std::string::npos) << status << " " << body;
  pid_t later = run_process({SW_TEST_CONNECT_BINARY, socket}).pid;
  EXPECT_TRUE(written(agent, later));

  // TRIGGER: the file system goes.
  fuse.unmount();
  // ASSERT: the readers are let go, and the agent is well.
  EXPECT_TRUE(wait_for([&] { return healthz(port) == 200; }, 10s));
  AgentOutput out = agent.stop();
  EXPECT_EQ(out.exit_code, 0) << out.log;
  EXPECT_NE(out.log.find("reading binaries' build-ids is held up"), std::string::npos) << out.log;
}

namespace {

// A status field of /proc/PID/status in KiB (VmRSS, VmHWM), -1 if absent.
long status_kib(pid_t pid, const std::string &field) {
  auto value = status_field("/proc/" + std::to_string(pid) + "/status", field);
  return value ? std::stol(*value) : -1;
}

} // namespace

// An unprivileged user runs a program named like the CLI thousands of times
// with two thousand one-byte arguments each (4 KiB of argv, the most the
// kernel sends, split as finely as it goes), every command line distinct so
// that nothing folds; stdout is a pipe nobody reads, so every event waits in
// the agent. Each event then holds about 70 KiB: held by count alone (16384
// records) that is a gigabyte, far past a DaemonSet's 256 Mi. The queue and
// the de-duplicator are bounded by bytes too: the agent's peak memory stays
// well under the limit, and what is shed is counted.
TEST(Adversarial, DistinctHugeCommandLinesCannotExhaustTheAgentsMemory) {
  TempDir dir;
  chmod(dir.path().c_str(), 0777);
  const std::string docker = fake_executable(dir, "docker");
  chmod(docker.c_str(), 0755);
  const std::string err_path = dir.file("stderr");
  const int port = free_port();
  int read_end = -1;
  const pid_t agent = start_agent_with_stalled_stdout(
      {"--format", "json", "--metrics-address", "127.0.0.1:" + std::to_string(port)}, err_path,
      read_end);
  struct Stop {
    pid_t pid;
    int pipe;
    ~Stop() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      close(pipe);
    }
  } stop{agent, read_end};
  ASSERT_TRUE(
      wait_for([&] { return read_file(err_path).find(" ready: ") != std::string::npos; }, 30s))
      << read_file(err_path);
  const long idle_kib = status_kib(agent, "VmRSS");

  // TRIGGER: the attack, as nobody: 6000 runs of 2000 arguments each.
  const int runs = 6000;
  auto attack = run_process_as(nobody,
                               {"sh", "-c",
                                "set -- $(seq 2000 | sed 's/.*/x/'); i=0; while [ $i -lt " +
                                    std::to_string(runs) + " ]; do " + docker +
                                    " run-$i \"$@\"; i=$((i+1)); done"},
                               // ~30 s alone; a machine busy with builds has taken over 60.
                               std::chrono::seconds(100));
  ASSERT_EQ(attack.exit_code, 0) << attack.output;

  // ASSERT
  // Every run reached the agent (kernel counters), and the agent is alive.
  std::string metrics;
  ASSERT_TRUE(wait_for(
      [&] {
        metrics = http_request(port, "GET", "/metrics").second;
        return metric_sum(metrics, "shimwatch_kernel_events_total", "") >= runs;
      },
      30s))
      << metrics;
  const long peak_kib = status_kib(agent, "VmHWM");
  EXPECT_GT(peak_kib, 0);
  EXPECT_LT(peak_kib, 200 * 1024) << "peak RSS " << peak_kib << " KiB (idle " << idle_kib
                                  << " KiB): the DaemonSet's limit is 256 Mi";
  // What was shed is counted: stdout lost events in the queue.
  EXPECT_GT(
      metric_sum(metrics, "shimwatch_events_dropped_total", "reason=\"stdout\",stage=\"queue\""), 0)
      << metrics;
}

namespace {

// A unix socket listening with no room in its backlog: one connect waits
// queued (held open here) and the next one blocks until accept_one().
class FullBacklog {
public:
  explicit FullBacklog(const std::string &path) {
    listener_ = socket(AF_UNIX, SOCK_STREAM, 0);
    const sockaddr_un address = unix_address(path);
    unlink(path.c_str());
    if (bind(listener_, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) != 0 ||
        listen(listener_, 0) != 0)
      throw std::runtime_error("cannot listen on " + path);
    queued_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (connect(queued_, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) != 0)
      throw std::runtime_error("cannot fill the backlog of " + path);
  }
  ~FullBacklog() {
    for (int fd : accepted_)
      close(fd);
    close(queued_);
    close(listener_);
  }
  void accept_one() { accepted_.push_back(accept(listener_, nullptr, nullptr)); }

private:
  int listener_ = -1, queued_ = -1;
  std::vector<int> accepted_;
};

struct Racer {
  pid_t pid = -1;
  FILE *out = nullptr;
};

// sw_test_connect_race as nobody, its stdout read here.
Racer start_racer(const std::string &socket, const std::string &rewrite_to) {
  int fds[2];
  if (pipe(fds) != 0)
    throw std::runtime_error("pipe");
  Racer r;
  r.pid = fork();
  if (r.pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    if (setgid(nobody) != 0 || setuid(nobody) != 0)
      _exit(126);
    execl(SW_TEST_CONNECT_RACE_BINARY, SW_TEST_CONNECT_RACE_BINARY, socket.c_str(),
          rewrite_to.c_str(), static_cast<char *>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  r.out = fdopen(fds[0], "r");
  return r;
}

std::string next_line(FILE *in) {
  char line[256] = {};
  return std::fgets(line, sizeof(line), in) ? trim(line) : "";
}

} // namespace

// The address of a connect is in a page the process never touched, so the
// probe cannot read it when the call starts and reads it after the call;
// meanwhile another thread rewrites it (an AF_INET address). The kernel
// already connected the socket to the Docker socket: the agent takes the
// kind of socket from the kernel and matches the call by what it reached.
TEST(Adversarial, AnAddressRewrittenDuringTheCallIsMatchedByWhatItReached) {
  TempDir dir;
  chmod(dir.path().c_str(), 0777);
  const std::string socket = dir.file("docker.sock");
  FullBacklog engine(socket);
  chmod(socket.c_str(), 0777);
  const int port = free_port();
  Agent agent({"--watch-socket", socket, "--metrics-address", "127.0.0.1:" + std::to_string(port)});

  // TRIGGER: a connect whose address is rewritten while it waits in the backlog.
  Racer racer = start_racer(socket, "inet");
  ASSERT_EQ(next_line(racer.out), "rewritten");
  engine.accept_one(); // room in the backlog: the racer's call completes
  EXPECT_EQ(next_line(racer.out), "ok");
  fclose(racer.out);
  waitpid(racer.pid, nullptr, 0);

  // ASSERT
  ASSERT_TRUE(written(agent, racer.pid));
  AgentOutput out = agent.stop();
  auto events = events_of(out, racer.pid, "docker-socket-connect");
  ASSERT_EQ(events.size(), 1u) << out.log;
  EXPECT_EQ(events[0]["shimwatch"]["socket"]["matched_by"], "peer") << events[0].dump();
  EXPECT_EQ(events[0]["event"]["outcome"], "success");
}

// The same late read of a call that reached nothing watched is counted:
// the probe cannot tell that the address was not changed meanwhile.
TEST(Adversarial, ALateReadThatMatchesNothingIsCounted) {
  TempDir dir;
  chmod(dir.path().c_str(), 0777);
  const std::string watched = dir.file("docker.sock");
  UnixListener engine(watched);
  const std::string other = dir.file("other.sock");
  FullBacklog elsewhere(other);
  chmod(other.c_str(), 0777);
  const int port = free_port();
  Agent agent(
      {"--watch-socket", watched, "--metrics-address", "127.0.0.1:" + std::to_string(port)});

  // TRIGGER: a racer against a socket that is not watched.
  Racer racer = start_racer(other, dir.file("also-other.sock"));
  ASSERT_EQ(next_line(racer.out), "rewritten");
  elsewhere.accept_one();
  EXPECT_EQ(next_line(racer.out), "ok");
  fclose(racer.out);
  waitpid(racer.pid, nullptr, 0);
  // ASSERT
  EXPECT_TRUE(wait_for(
      [&] {
        return metric_sum(http_request(port, "GET", "/metrics").second,
                          "shimwatch_kernel_connect_addresses_read_late_total") >= 1;
      },
      10s));
  AgentOutput out = agent.stop();
  EXPECT_TRUE(events_of(out, racer.pid).empty()) << "it reached nothing watched";
}

namespace {

// A plain-HTTP server on loopback that answers every request with an empty
// Kubernetes list and keeps each request's head.
class PlainHttpRecorder {
public:
  PlainHttpRecorder() : port_(free_port()) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0 || listen(fd_, 16) != 0)
      throw std::runtime_error("cannot listen");
    thread_ = std::thread([this] {
      for (;;) {
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0)
          return;
        std::string head;
        char buffer[4096];
        while (head.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = read(c, buffer, sizeof(buffer));
          if (n <= 0)
            break;
          head.append(buffer, static_cast<size_t>(n));
        }
        {
          std::lock_guard lock(mutex_);
          heads_.push_back(head);
        }
        const std::string body =
            R"({"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]})";
        const std::string answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   "Connection: close\r\nContent-Length: " +
                                   std::to_string(body.size()) + "\r\n\r\n" + body;
        (void)!write(c, answer.data(), answer.size());
        close(c);
      }
    });
  }
  ~PlainHttpRecorder() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> heads() {
    std::lock_guard lock(mutex_);
    return heads_;
  }

private:
  int port_;
  int fd_ = -1;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> heads_;
};

bool any_authorization(const std::vector<std::string> &heads) {
  for (const auto &h : heads)
    if (h.find("Authorization:") != std::string::npos ||
        h.find("secret-token") != std::string::npos)
      return true;
  return false;
}

} // namespace

// An API server or kubelet URL given as http:// would carry the service
// account's token in clear to whoever is on the path: never sent there,
// and both `run` and `scan` say so.
TEST(Adversarial, ATokenIsNeverSentOverPlainHttp) {
  TempDir dir;
  const std::string token = dir.file("token");
  write_file(token, "secret-token\n", 0600);
  PlainHttpRecorder server;

  // TRIGGER: scan against a plain-HTTP API server.
  auto scan = run_shimwatch({"scan", "--server", server.url(), "--token-file", token});
  // ASSERT
  EXPECT_NE(scan.output.find("is plain HTTP: the token is not sent there"), std::string::npos)
      << scan.output;
  // Positive control: the requests did reach the server.
  ASSERT_FALSE(server.heads().empty()) << scan.output;
  EXPECT_FALSE(any_authorization(server.heads())) << server.heads()[0];

  // TRIGGER: the agent against the same server.
  const size_t before = server.heads().size();
  Agent agent({"--kubernetes", "on", "--kube-api-server", server.url(), "--kube-token-file", token,
               "--node-name", "node-a"});
  // ASSERT
  EXPECT_TRUE(wait_for([&] { return server.heads().size() > before; }, 10s));
  AgentOutput out = agent.stop();
  EXPECT_NE(out.log.find("is plain HTTP: the service-account token is not sent there"),
            std::string::npos)
      << out.log;
  EXPECT_FALSE(any_authorization(server.heads()));
}

// systemd delegates user@<uid>.service to the user: any cgroup may be made
// below it. The user names one after a victim pod
// (".../kubepods-besteffort-pod<victim>.slice/cri-containerd-<id>.scope"),
// moves into it and talks to the Docker socket. The event must not say it
// came from the victim pod: the pod uid is shown as unverified.
TEST(Adversarial, APodCgroupForgedInAUsersDelegatedSubtreeIsNotBelieved) {
  TempDir dir;
  chmod(dir.path().c_str(), 0777);
  const std::string socket = dir.file("docker.sock");
  UnixListener listener(socket);
  chmod(socket.c_str(), 0777);
  const std::string victim = "5f1c6d2a-0b7e-4c3d-9a8f-1e2d3c4b5a69";
  const std::string id(64, 'a');
  TestCgroup user_manager("user.slice/user-65534.slice/user@65534.service");
  // Delegation, as systemd does it: the subtree belongs to the user.
  for (const char *entry : {"", "/cgroup.procs", "/cgroup.threads", "/cgroup.subtree_control"})
    ASSERT_EQ(chown((user_manager.path() + entry).c_str(), nobody, nobody), 0) << entry;
  const std::string forged_pod = user_manager.path() + "/kubepods-besteffort-pod" + [&] {
    std::string sd = victim;
    std::replace(sd.begin(), sd.end(), '-', '_');
    return sd;
  }() + ".slice";
  const std::string forged_container = forged_pod + "/cri-containerd-" + id + ".scope";
  const std::string manager_procs = user_manager.path() + "/cgroup.procs";
  const std::string container_procs = forged_container + "/cgroup.procs";
  const sockaddr_un address = unix_address(socket);
  Agent agent({"--watch-socket", socket});

  // TRIGGER: the attack, as nobody, from inside its delegated subtree.
  const pid_t attacker = fork();
  ASSERT_GE(attacker, 0);
  if (attacker == 0) {
    if (!join_cgroup(manager_procs))
      _exit(5);
    if (setgroups(0, nullptr) != 0 || setgid(nobody) != 0 || setuid(nobody) != 0)
      _exit(6);
    if (mkdir(forged_pod.c_str(), 0755) != 0 || mkdir(forged_container.c_str(), 0755) != 0)
      _exit(7);
    if (!join_cgroup(container_procs))
      _exit(8);
    connect_once_in_child(address);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(attacker, &status, 0), attacker);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "attacker step " << status;
  // ASSERT
  ASSERT_TRUE(written(agent, attacker));
  AgentOutput out = agent.stop();
  rmdir(forged_container.c_str());
  rmdir(forged_pod.c_str());

  auto events = events_of(out, attacker, "docker-socket-connect");
  ASSERT_EQ(events.size(), 1u) << out.log;
  const json &origin = events[0]["shimwatch"]["origin"];
  // Positive control: the forged levels did reach the agent.
  EXPECT_NE(
      events[0]["shimwatch"]["cgroup"]["path"].get<std::string>().find("kubepods-besteffort-pod"),
      std::string::npos)
      << events[0].dump();
  EXPECT_NE(origin["type"], "pod") << events[0].dump();
  EXPECT_EQ(origin.value("unverified_pod_uid", ""), victim) << events[0].dump();
  EXPECT_EQ(origin.value("login_uid", 0u), nobody);
  EXPECT_FALSE(events[0].contains("orchestrator")) << events[0].dump();
  EXPECT_FALSE(events[0].contains("container")) << events[0].dump();
}
