// Pinned probes: a restarted agent (crash, kill -9, upgrade) takes over the
// ring buffer and filters of the one before and delivers what happened
// while none ran; `shimwatch cleanup` detaches them; --no-pin pins nothing.
// Each test pins under a directory of its own and cleans it up, whatever
// happens, so no probe stays attached after the test.
#include <gtest/gtest.h>

#include <csignal>
#include <ctime>
#include <future>
#include <memory>
#include <dirent.h>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "harness.hpp"

using namespace std::chrono_literals;
using namespace swtest;
using nlohmann::json;

namespace {

// A pin directory for one test, cleaned up at the end.
class PinDir {
public:
  PinDir()
      : path_("/sys/fs/bpf/shimwatch-test-" + std::to_string(getpid()) + "-" +
              std::to_string(counter_++)) {}
  ~PinDir() { (void)run_shimwatch({"cleanup", "--pin-path", path_}); }
  PinDir(const PinDir &) = delete;
  PinDir &operator=(const PinDir &) = delete;
  const std::string &path() const { return path_; }
  std::string links() const { return path_ + "/links"; }

private:
  static inline int counter_ = 0;
  std::string path_;
};

std::vector<std::string> names_in(const std::string &dir) {
  std::vector<std::string> names;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *entry = readdir(d))
      if (std::string(entry->d_name) != "." && std::string(entry->d_name) != "..")
        names.push_back(entry->d_name);
    closedir(d);
  }
  return names;
}

bool exists(const std::string &path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

pid_t connect_to(const std::string &socket) {
  auto r = run_process({SW_TEST_CONNECT_BINARY, socket});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.pid;
}

size_t connects_of(const AgentOutput &out, pid_t pid) {
  return events_of(out, pid, "docker-socket-connect").size();
}

// The kernel's id of a pinned link, from bpftool; -1 when it cannot say.
long link_id(const std::string &pinned) {
  auto r = run_process({"bpftool", "-j", "link", "show", "pinned", pinned});
  json j = json::parse(r.output, nullptr, false);
  if (r.exit_code != 0 || j.is_discarded() || !j.contains("id"))
    return -1;
  return j["id"].get<long>();
}

bool link_exists(long id) {
  return run_process({"bpftool", "link", "show", "id", std::to_string(id)}).exit_code == 0;
}

} // namespace

TEST(Pinning, AKilledAgentsSuccessorDeliversWhatHappenedWhileNoneRan) {
  TempDir dir;
  PinDir pin;
  const std::string socket = dir.file("api.sock");
  UnixListener listener(socket);

  // TRIGGER: a pinned agent sees a connect.
  Agent first({"--pin-path", pin.path(), "--watch-socket", socket});
  pid_t before = connect_to(socket);
  // ASSERT
  ASSERT_TRUE(written(first, before));
  const size_t links = names_in(pin.links()).size();
  ASSERT_GE(links, 3u) << "exec and both connect probes are always attached";

  // TRIGGER: the agent is killed.
  ASSERT_EQ(kill(first.pid(), SIGKILL), 0);
  AgentOutput first_out = first.stop();
  // ASSERT
  EXPECT_EQ(names_in(pin.links()).size(), links) << "the links outlive the agent";
  // TRIGGER: no agent for 2 s: the pinned probes go on queueing.
  std::vector<pid_t> during;
  const auto outage_end = std::chrono::steady_clock::now() + 2s;
  while (during.size() < 5 || std::chrono::steady_clock::now() < outage_end) {
    during.push_back(connect_to(socket));
    std::this_thread::sleep_for(200ms);
  }

  // TRIGGER: a second agent starts on the same pins; one more connect.
  Agent second({"--pin-path", pin.path(), "--watch-socket", socket});
  pid_t after = connect_to(socket);
  // ASSERT
  ASSERT_TRUE(written(second, after));
  AgentOutput second_out = second.stop();
  ASSERT_EQ(second_out.exit_code, 0) << second_out.log;
  EXPECT_NE(second_out.log.find("took over from the agent before: " + std::to_string(links) +
                                " links replaced"),
            std::string::npos)
      << second_out.log;

  EXPECT_EQ(connects_of(first_out, before), 1u) << first_out.log;
  EXPECT_EQ(connects_of(second_out, before), 0u) << "delivered once, not again";
  for (pid_t pid : during) {
    EXPECT_EQ(connects_of(first_out, pid), 0u) << pid;
    EXPECT_EQ(connects_of(second_out, pid), 1u) << "lost while no agent ran: pid " << pid;
  }
  EXPECT_EQ(connects_of(second_out, after), 1u) << second_out.log;
  // One set of probes recorded each call: the old links are gone.
  EXPECT_EQ(names_in(pin.links()).size(), links);
  EXPECT_TRUE(second_out.unparsable.empty());
}

TEST(Pinning, CleanupDetachesWhatAStoppedAgentLeftAttached) {
  PinDir pin;
  // TRIGGER: a pinned agent starts and stops.
  Agent agent({"--pin-path", pin.path()});
  // ASSERT
  AgentOutput out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_NE(out.log.find("the probes stay attached"), std::string::npos) << out.log;

  const std::string connect_link = pin.links() + "/tracepoint__syscalls__sys_enter_connect";
  long id = link_id(connect_link);
  ASSERT_GT(id, 0) << "a stopped agent leaves its links pinned";
  ASSERT_TRUE(link_exists(id));

  // TRIGGER: `check` on what the agent left.
  auto check = run_shimwatch({"check", "--pin-path", pin.path()});
  // ASSERT
  EXPECT_NE(check.output.find("probes pinned under " + pin.path() + ": generation 1, "),
            std::string::npos)
      << check.output;
  EXPECT_NE(check.output.find("hooks in use: "), std::string::npos) << check.output;

  // TRIGGER: `cleanup`.
  const size_t links = names_in(pin.links()).size();
  auto cleanup = run_shimwatch({"cleanup", "--pin-path", pin.path()});
  // ASSERT
  ASSERT_EQ(cleanup.exit_code, 0) << cleanup.output;
  EXPECT_NE(cleanup.output.find("removed " + pin.path() + ": " + std::to_string(links) + " links"),
            std::string::npos)
      << cleanup.output;
  EXPECT_FALSE(exists(pin.path()));
  EXPECT_FALSE(link_exists(id)) << "the probe is detached";

  // TRIGGER: `cleanup` again.
  auto again = run_shimwatch({"cleanup", "--pin-path", pin.path()});
  // ASSERT
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("nothing pinned under " + pin.path()), std::string::npos)
      << again.output;
}

TEST(Pinning, AStateThatDoesNotFitIsReplacedAndTheOldProbesDetach) {
  TempDir dir;
  PinDir pin;
  const std::string socket = dir.file("api.sock");
  UnixListener listener(socket);
  // TRIGGER: an agent pins a state with a small ring buffer.
  {
    Agent small({"--pin-path", pin.path(), "--ring-buffer-kib", "64"});
    ASSERT_EQ(small.stop().exit_code, 0);
  }
  // ASSERT
  long old_id = link_id(pin.links() + "/tracepoint__syscalls__sys_enter_connect");
  ASSERT_GT(old_id, 0);

  // TRIGGER: an agent with a bigger one starts on the same pins; a connect.
  Agent bigger({"--pin-path", pin.path(), "--watch-socket", socket});
  pid_t pid = connect_to(socket);
  // ASSERT
  ASSERT_TRUE(written(bigger, pid));
  AgentOutput out = bigger.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_NE(out.log.find("did not fit this version (events has another layout or size"),
            std::string::npos)
      << out.log;
  EXPECT_EQ(connects_of(out, pid), 1u) << out.log;
  EXPECT_FALSE(link_exists(old_id)) << "the old probes were detached";
  EXPECT_GT(link_id(pin.links() + "/tracepoint__syscalls__sys_enter_connect"), 0);
}

TEST(Pinning, NoPinLeavesNothingBehind) {
  TempDir dir;
  const std::string pin = "/sys/fs/bpf/shimwatch-test-nopin-" + std::to_string(getpid());
  write_file(dir.file("config.json"), R"({"kernel": {"pin_path": ")" + pin + R"("}})");
  // TRIGGER: --no-pin against a config that names a pin path.
  Agent agent({"--config", dir.file("config.json"), "--no-pin"});
  // ASSERT
  EXPECT_FALSE(exists(pin)) << "--no-pin wins over the config's pin_path";
  AgentOutput out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_FALSE(exists(pin));
  EXPECT_EQ(out.log.find("stay attached"), std::string::npos) << out.log;
}

TEST(Pinning, BadPinSettingsStopTheStartWithExitTwo) {
  // TRIGGER: `run` with --no-pin and --pin-path.
  auto both = run_shimwatch({"run", "--no-pin", "--pin-path", "/sys/fs/bpf/x"});
  // ASSERT
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.output.find("--no-pin and --pin-path exclude each other"), std::string::npos)
      << both.output;

  // TRIGGER: a relative pin path.
  auto relative = run_shimwatch({"run", "--pin-path", "shimwatch"});
  // ASSERT
  EXPECT_EQ(relative.exit_code, 2);
  EXPECT_NE(relative.output.find("'kernel.pin_path': 'shimwatch' is not a directory below a BPF "
                                 "filesystem mount"),
            std::string::npos)
      << relative.output;

  // TRIGGER: a pin path outside a BPF filesystem.
  TempDir dir;
  auto not_bpffs = run_shimwatch({"run", "--pin-path", dir.file("pins")});
  // ASSERT
  EXPECT_EQ(not_bpffs.exit_code, 2);
  EXPECT_NE(not_bpffs.output.find(dir.path() + " is not a BPF filesystem"), std::string::npos)
      << not_bpffs.output;
  EXPECT_NE(not_bpffs.output.find("or run with --no-pin"), std::string::npos) << not_bpffs.output;
  EXPECT_FALSE(exists(dir.file("pins")));

  // TRIGGER: a pin directory someone else could have filled.
  PinDir pin;
  ASSERT_EQ(mkdir(pin.path().c_str(), 0777), 0);
  chmod(pin.path().c_str(), 0777);
  auto open_to_all = run_shimwatch({"run", "--pin-path", pin.path()});
  // ASSERT: not used.
  EXPECT_EQ(open_to_all.exit_code, 2);
  EXPECT_NE(open_to_all.output.find("is not a directory of the agent's own that only it may use"),
            std::string::npos)
      << open_to_all.output;
  // TRIGGER: positive control: the same path, made private.
  chmod(pin.path().c_str(), 0700);
  Agent agent({"--pin-path", pin.path()});
  // ASSERT: it is used.
  EXPECT_EQ(agent.stop().exit_code, 0);
}

// More happens while no agent runs than the ring buffer holds: the next
// agent delivers what it held and reports the rest in a gap record whose
// time range starts where the killed agent last looked. Every call is
// accounted for, exactly.
TEST(Pinning, WhatTheRingBufferCouldNotHoldDuringTheOutageIsAGapRecord) {
  TempDir dir;
  PinDir pin;
  const std::string socket = dir.file("api.sock");
  UnixListener listener(socket);
  // Only this socket is watched: nothing else on the node (other tests run
  // docker beside this one) takes room in the ring buffer.
  write_file(dir.file("only-this-socket.json"),
             R"({"watch": {"exec": [], "exec_paths": [], "exec_build_id_check": false,
                 "config_paths": [], "sockets": [], "tcp_ports": [], "runtime_sockets": [],
                 "service_control": {"enabled": false}}})");
  const std::vector<std::string> args = {"--config",          dir.file("only-this-socket.json"),
                                         "--pin-path",        pin.path(),
                                         "--watch-socket",    socket,
                                         "--ring-buffer-kib", "64"};
  // TRIGGER: an agent with a 64 KiB ring buffer is killed; 40 connects; a second agent starts.
  Agent first(args);
  // It has looked for losses at least once (every second).
  std::this_thread::sleep_for(1500ms);
  ASSERT_EQ(kill(first.pid(), SIGKILL), 0);
  const auto killed_at = std::chrono::system_clock::now();
  (void)first.stop();

  std::vector<pid_t> during;
  for (int i = 0; i < 40; ++i)
    during.push_back(connect_to(socket));

  Agent second(args);
  std::this_thread::sleep_for(1500ms); // one loss check
  AgentOutput out = second.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;

  // ASSERT
  size_t delivered = 0;
  for (pid_t pid : during) {
    size_t n = connects_of(out, pid);
    EXPECT_LE(n, 1u) << pid;
    delivered += n;
  }
  std::vector<json> gaps;
  for (const auto &e : out.events)
    if (e["event"]["action"] == "shimwatch-gap")
      gaps.push_back(e["shimwatch"]["gap"]);
  ASSERT_EQ(gaps.size(), 1u) << out.log;
  const json &gap = gaps[0];
  EXPECT_EQ(gap["stage"], "kernel");
  ASSERT_TRUE(gap.contains("ring_buffer_full")) << gap.dump();
  EXPECT_GT(gap["ring_buffer_full"].get<size_t>(), 0u) << "64 KiB holds fewer than 40 records";
  EXPECT_EQ(delivered + gap["ring_buffer_full"].get<size_t>(), during.size()) << gap.dump();
  // The range opens where the killed agent last looked: before the kill.
  const std::string first_seen = gap["first"].get<std::string>();
  const std::time_t killed = std::chrono::system_clock::to_time_t(killed_at);
  char killed_text[32];
  std::strftime(killed_text, sizeof(killed_text), "%Y-%m-%dT%H:%M:%S", std::gmtime(&killed));
  EXPECT_LE(first_seen.substr(0, 19), std::string(killed_text)) << gap.dump();
}

// Two agents must not read one ring buffer: a second start on the same pin
// path waits for the first to stop (a restarted pod's predecessor may still
// be draining), then takes over.
TEST(Pinning, ASecondAgentOnThePinPathWaitsForTheFirstToStop) {
  TempDir dir;
  PinDir pin;
  const std::string socket = dir.file("api.sock");
  UnixListener listener(socket);
  // TRIGGER: an agent holds the pin path; `check`.
  auto first = std::make_unique<Agent>(
      std::vector<std::string>{"--pin-path", pin.path(), "--watch-socket", socket});
  auto check = run_shimwatch({"check", "--pin-path", pin.path()});
  // ASSERT
  EXPECT_NE(check.output.find("in use by a running agent"), std::string::npos) << check.output;

  // TRIGGER: a second agent starts on the same pin path.
  auto second = std::async(std::launch::async, [&] {
    return std::make_unique<Agent>(
        std::vector<std::string>{"--pin-path", pin.path(), "--watch-socket", socket});
  });
  // ASSERT
  EXPECT_EQ(second.wait_for(2s), std::future_status::timeout) << "it waits";
  // TRIGGER: the first agent stops.
  AgentOutput first_out = first->stop();
  // ASSERT
  ASSERT_EQ(first_out.exit_code, 0) << first_out.log;
  // TRIGGER: the second takes over; a connect.
  std::unique_ptr<Agent> successor = second.get();
  pid_t pid = connect_to(socket);
  // ASSERT
  ASSERT_TRUE(written(*successor, pid));
  AgentOutput out = successor->stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_NE(out.log.find("waiting up to 15 s for the agent that holds " + pin.path()),
            std::string::npos)
      << out.log;
  EXPECT_NE(out.log.find("took over from the agent before"), std::string::npos) << out.log;
  EXPECT_EQ(connects_of(out, pid), 1u);
  check = run_shimwatch({"check", "--pin-path", pin.path()});
  EXPECT_NE(check.output.find("no agent running"), std::string::npos) << check.output;
}

// A start that fails once the probes are attached (here: the syslog CA file
// is missing, found when the output opens) leaves no probe attached.
TEST(Pinning, AStartThatFailsAfterAttachingLeavesNothingPinned) {
  PinDir pin;
  // TRIGGER: a start that fails once the probes are attached.
  auto failed = run_shimwatch({"run", "--pin-path", pin.path(), "--syslog", "tls://127.0.0.1:6514",
                               "--syslog-ca-file", "/nonexistent/ca.pem"});
  // ASSERT
  EXPECT_EQ(failed.exit_code, 2) << failed.output;
  EXPECT_NE(failed.output.find("/nonexistent/ca.pem"), std::string::npos) << failed.output;
  EXPECT_FALSE(exists(pin.path())) << failed.output;
}

// The same once the agent has become its own user (the metrics endpoint is
// the last thing that opens, and its port is taken): what was pinned as
// root still goes, and the run as root pins as a positive control.
TEST(Pinning, AStartThatFailsAfterBecomingItsOwnUserLeavesNothingPinned) {
  PinDir pin;
  const int port = free_port();
  TcpListener taken(AF_INET, port);
  // TRIGGER: a start that fails after the agent became its own user.
  auto failed = run_shimwatch(
      {"run", "--pin-path", pin.path(), "--metrics-address", "127.0.0.1:" + std::to_string(port)});
  // ASSERT
  EXPECT_EQ(failed.exit_code, 2) << failed.output;
  EXPECT_NE(failed.output.find("running as uid 65534"), std::string::npos) << failed.output;
  EXPECT_FALSE(exists(pin.path())) << failed.output;

  // TRIGGER: positive control: a start that succeeds.
  Agent started({"--pin-path", pin.path()});
  // ASSERT
  EXPECT_TRUE(exists(pin.links())) << "positive control: a start that succeeds keeps its pins";
}
