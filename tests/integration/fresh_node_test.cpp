// A node where nothing was mounted by hand: no bpffs, no tracefs, no
// debugfs (each test runs the agent in a private mount namespace without
// them). The agent mounts what it needs, says so, and catches events; what
// it pins there goes with the namespace; an agent that was not asked to pin
// leaves nothing attached when it stops.
#include <gtest/gtest.h>

#include <linux/magic.h>
#include <set>
#include <string>
#include <sys/vfs.h>

#include "harness.hpp"

using namespace std::chrono_literals;
using namespace swtest;

namespace {

long filesystem_type(const std::string &path) {
  struct statfs fs {};
  return statfs(path.c_str(), &fs) == 0 ? static_cast<long>(fs.f_type) : -1;
}

// Ids of the BPF programs loaded on the machine whose names are the agent's.
std::set<long> agent_programs() {
  auto r = run_process({"bpftool", "-j", "prog", "show"});
  std::set<long> ids;
  json list = json::parse(r.output, nullptr, false);
  if (r.exit_code != 0 || !list.is_array())
    return ids;
  for (const auto &prog : list) {
    const std::string name = prog.value("name", "");
    if (name.rfind("tracepoint__", 0) == 0 || name.rfind("tp_btf__", 0) == 0)
      ids.insert(prog.value("id", -1L));
  }
  return ids;
}

std::set<long> minus(const std::set<long> &a, const std::set<long> &b) {
  std::set<long> out;
  for (long id : a)
    if (!b.contains(id))
      out.insert(id);
  return out;
}

// Whether every program of ids is unloaded (within 10 s: the kernel frees
// them after the last reference goes).
bool none_left(const std::set<long> &ids) {
  return wait_for(
      [&] {
        const std::set<long> now = agent_programs();
        for (long id : ids)
          if (now.contains(id))
            return false;
        return true;
      },
      10s);
}

size_t connects_of(const AgentOutput &out, pid_t pid) {
  return events_of(out, pid, "docker-socket-connect").size();
}

pid_t connect_to(const std::string &socket) {
  auto r = run_process({SW_TEST_CONNECT_BINARY, socket});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.pid;
}

} // namespace

TEST(FreshNode, CheckMountsTracefsAndBpffsAndPasses) {
  const long host_bpffs = filesystem_type("/sys/fs/bpf");
  // TRIGGER: `shimwatch check` in a namespace like a fresh node's.
  std::vector<std::string> command = fresh_node_launcher();
  command.insert(command.end(), {SHIMWATCH_BINARY, "check", "--pin-path",
                                 "/sys/fs/bpf/shimwatch-fresh-" + std::to_string(getpid())});
  auto check = run_process(command);
  // ASSERT
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("mounted tracefs on /sys/kernel/tracing"), std::string::npos)
      << check.output;
  EXPECT_NE(check.output.find("mounted a BPF filesystem on /sys/fs/bpf (it was not mounted)"),
            std::string::npos)
      << check.output;
  EXPECT_NE(check.output.find("[ ok ] tracefs"), std::string::npos) << check.output;
  EXPECT_NE(check.output.find("[ ok ] attach: loaded and attached"), std::string::npos)
      << check.output;
  EXPECT_NE(check.output.find("[ ok ] pinning: on: the probes stay attached"), std::string::npos)
      << check.output;
  EXPECT_NE(check.output.find("shimwatch can run on this node."), std::string::npos);
  // The mounts were made in the test's namespace, not on this machine.
  EXPECT_EQ(filesystem_type("/sys/fs/bpf"), host_bpffs);
}

TEST(FreshNode, PinnedRunMountsWhatItNeedsCatchesEventsAndItsPinsGoWithTheNamespace) {
  TempDir dir;
  const std::string socket = dir.file("docker.sock");
  UnixListener listener(socket);
  const std::set<long> before = agent_programs();

  // TRIGGER: a pinned agent starts in a namespace like a fresh node's.
  Agent agent({"--watch-socket", socket, "--pin-path",
               "/sys/fs/bpf/shimwatch-fresh-" + std::to_string(getpid())},
              true, fresh_node_launcher());
  // ASSERT: its programs are loaded.
  const std::set<long> loaded = minus(agent_programs(), before);
  EXPECT_GE(loaded.size(), 3u) << "exec and both connect probes";
  // TRIGGER: a client connects to the watched socket.
  pid_t client = connect_to(socket);
  // ASSERT
  ASSERT_TRUE(written(agent, client));
  AgentOutput out = agent.stop();
  EXPECT_EQ(out.exit_code, 0) << out.log;
  EXPECT_EQ(connects_of(out, client), 1u) << out.log;
  EXPECT_NE(out.log.find("mounted tracefs on /sys/kernel/tracing"), std::string::npos) << out.log;
  EXPECT_NE(out.log.find("mounted a BPF filesystem on /sys/fs/bpf (it was not mounted)"),
            std::string::npos)
      << out.log;
  // As in a pod whose /sys/fs/bpf does not reach the node: said at start.
  EXPECT_NE(out.log.find("is private to this mount namespace: the pinned probes go when it does"),
            std::string::npos)
      << out.log;
  EXPECT_NE(out.log.find("the probes stay attached and queue events for the next start"),
            std::string::npos)
      << out.log;
  // The namespace went with its last process, and its bpffs with the pins.
  EXPECT_TRUE(none_left(loaded)) << "programs still loaded after the namespace went";
}

TEST(FreshNode, AnAgentNotAskedToPinLeavesNothingAttached) {
  TempDir dir;
  const std::string socket = dir.file("docker.sock");
  UnixListener listener(socket);
  const std::set<long> before = agent_programs();

  // TRIGGER: an agent that does not pin starts in a namespace like a fresh node's.
  Agent agent({"--watch-socket", socket}, true, fresh_node_launcher());
  // ASSERT: its programs are loaded.
  const std::set<long> loaded = minus(agent_programs(), before);
  ASSERT_GE(loaded.size(), 3u);
  // TRIGGER: a client connects to the watched socket.
  pid_t client = connect_to(socket);
  // ASSERT
  ASSERT_TRUE(written(agent, client));
  AgentOutput out = agent.stop();
  EXPECT_EQ(out.exit_code, 0) << out.log;
  EXPECT_EQ(connects_of(out, client), 1u);
  EXPECT_NE(out.log.find("probes not pinned: they detach when the agent stops"), std::string::npos)
      << out.log;
  EXPECT_EQ(out.log.find("mounted a BPF filesystem"), std::string::npos)
      << "nothing to pin, nothing to mount: " << out.log;
  EXPECT_TRUE(none_left(loaded)) << "programs still loaded after the agent stopped";
}
