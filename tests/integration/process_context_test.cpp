// The kernel keeps each process' context (ancestry, executable path, cgroup)
// between its calls: a call after the process moved to another cgroup, lost
// its parent or ran another program must show the new context, not the one
// kept from before.
#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.hpp"

using namespace swtest;
using namespace std::chrono_literals;

namespace {

const std::string connect_action = "docker-socket-connect";

} // namespace

TEST(ProcessContext, ACallAfterACgroupMoveReparentingOrExecIsCapturedAfresh) {
  TempDir dir;
  const std::string socket_path = dir.file("watched.sock");
  UnixListener listener(socket_path);
  const std::string cgroup_name = "shimwatch-context-" + std::to_string(getpid());
  TestCgroup moved(cgroup_name);
  const std::string procs = moved.path() + "/cgroup.procs";
  const std::string connect_binary = SW_TEST_CONNECT_BINARY;
  const sockaddr_un address = unix_address(socket_path);
  Agent agent({"--watch-socket", socket_path, "--no-dedupe"});

  // TRIGGER: the child makes two calls, then one from another cgroup. Its child
  // (the grandchild): one call, one after the child has exited (another
  // parent, same process), then it runs another program that calls.
  int grandchild_pid[2], connected[2];
  ASSERT_EQ(pipe2(grandchild_pid, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(connected, O_CLOEXEC), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    connect_once_in_child(address);
    connect_once_in_child(address);
    if (!join_cgroup(procs))
      _exit(5);
    connect_once_in_child(address);
    const pid_t me = getpid();
    pid_t grandchild = fork();
    if (grandchild == 0) {
      connect_once_in_child(address);
      char done = 1;
      if (write(connected[1], &done, 1) != 1)
        _exit(6);
      while (getppid() == me) // until the child has exited
        usleep(1000);
      connect_once_in_child(address);
      execl(connect_binary.c_str(), "sw_test_connect", socket_path.c_str(),
            static_cast<char *>(nullptr));
      _exit(7);
    }
    if (write(grandchild_pid[1], &grandchild, sizeof grandchild) != sizeof grandchild)
      _exit(8);
    char done;
    if (read(connected[0], &done, 1) != 1)
      _exit(9);
    _exit(0);
  }
  close(grandchild_pid[1]);
  close(connected[1]);
  pid_t grandchild = -1;
  ASSERT_EQ(read(grandchild_pid[0], &grandchild, sizeof grandchild),
            static_cast<ssize_t>(sizeof grandchild));
  close(grandchild_pid[0]);
  close(connected[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // The grandchild is not the test's to wait for: it is gone once its
  // /proc entry is (its new parent reaps it).
  ASSERT_TRUE(wait_for([&] { return kill(grandchild, 0) != 0 && errno == ESRCH; }, 10s));

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto by_child = events_of(out, child, connect_action);
  ASSERT_EQ(by_child.size(), 3u) << out.log;
  // The first two alike (the second from what the kernel kept), the third
  // from the cgroup the child moved to.
  EXPECT_EQ(by_child[0]["shimwatch"]["cgroup"], by_child[1]["shimwatch"]["cgroup"]);
  EXPECT_EQ(by_child[0]["process"]["ancestry"], by_child[1]["process"]["ancestry"]);
  EXPECT_NE(by_child[1]["shimwatch"]["cgroup"]["path"], "/" + cgroup_name);
  EXPECT_EQ(by_child[2]["shimwatch"]["cgroup"]["path"], "/" + cgroup_name);
  for (const auto &e : by_child) {
    EXPECT_EQ(e["process"]["parent"]["pid"], getpid());
    EXPECT_EQ(e["process"]["ancestry"][0]["pid"], getpid());
  }

  auto by_grandchild = events_of(out, grandchild, connect_action);
  ASSERT_EQ(by_grandchild.size(), 3u) << out.log;
  const json &before = by_grandchild[0], &after = by_grandchild[1], &exec = by_grandchild[2];
  EXPECT_EQ(before["process"]["parent"]["pid"], child);
  EXPECT_EQ(before["process"]["ancestry"][0]["pid"], child);
  EXPECT_EQ(before["process"]["ancestry"][1]["pid"], getpid());
  // Reparented: the child is no longer in its ancestry.
  EXPECT_NE(after["process"]["parent"]["pid"], child);
  for (const auto &a : after["process"]["ancestry"])
    EXPECT_NE(a["pid"], child) << after.dump();
  EXPECT_EQ(after["shimwatch"]["cgroup"]["path"], "/" + cgroup_name);
  // Another program: its executable, not the test's.
  EXPECT_EQ(before["process"]["executable"], after["process"]["executable"]);
  EXPECT_NE(after["process"]["executable"], connect_binary);
  EXPECT_EQ(exec["process"]["executable"], connect_binary);
  EXPECT_EQ(exec["process"]["name"], "sw_test_connect");
  EXPECT_EQ(exec["process"]["parent"], after["process"]["parent"]);
}
