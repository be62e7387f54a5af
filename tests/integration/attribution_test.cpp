// Every event names who is behind it: systemd unit, login session, container,
// with the ancestry that led to the call — for processes already gone.
#include <gtest/gtest.h>
#include <unistd.h>

#include "harness.hpp"

using namespace swtest;

namespace {

const std::string exec_action = "docker-cli-exec";
const std::string connect_action = "docker-socket-connect";

// The last exec event whose args start with argv0 basename "docker".
std::vector<json> docker_execs_below(const AgentOutput &out, pid_t ancestor) {
  std::vector<json> found;
  for (const auto &e : out.events) {
    if (e["event"]["action"] != exec_action)
      continue;
    for (const auto &a : e["process"]["ancestry"])
      if (a["pid"] == ancestor)
        found.push_back(e);
  }
  return found;
}

} // namespace

TEST(Attribution, SystemdServiceRunningDockerPs) {
  TempDir dir;
  TestCgroup unit("system.slice/nightly-cleanup.service");
  std::string sh = copy_executable(dir, "/bin/sh", "cleanup.sh");
  Agent agent;

  // TRIGGER: a "service" shell runs docker ps and exits at once.
  auto run = run_process_in_cgroup(unit.path(), {sh, "-c", "docker ps >/dev/null 2>&1; exit 0"});
  ASSERT_EQ(run.exit_code, 0) << run.output;

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto execs = docker_execs_below(out, run.pid);
  ASSERT_EQ(execs.size(), 1u) << out.log;
  const json &e = execs[0];
  EXPECT_EQ(e["process"]["args"], json::array({"docker", "ps"}));
  EXPECT_EQ(e["shimwatch"]["origin"]["type"], "systemd_unit");
  EXPECT_EQ(e["shimwatch"]["origin"]["unit"], "nightly-cleanup.service");
  EXPECT_EQ(e["shimwatch"]["origin"]["slice"], "system.slice");
  EXPECT_EQ(e["shimwatch"]["cgroup"]["path"], "/system.slice/nightly-cleanup.service");
  const json &ancestry = e["process"]["ancestry"];
  ASSERT_GE(ancestry.size(), 2u);
  EXPECT_EQ(ancestry[0]["pid"], run.pid);
  EXPECT_EQ(ancestry[0]["name"], "cleanup.sh");
  EXPECT_EQ(ancestry[0]["executable"], sh);
  EXPECT_EQ(ancestry[1]["pid"], getpid());
  EXPECT_FALSE(e.contains("container"));
  EXPECT_FALSE(e.contains("orchestrator"));
}

TEST(Attribution, LoginSessionUnderSshd) {
  TempDir dir;
  TestCgroup session("user.slice/user-1000.slice/session-7.scope");
  std::string sshd = copy_executable(dir, "/bin/sh", "sshd");
  Agent agent;

  // TRIGGER
  auto run =
      run_process_in_cgroup(session.path(), {sshd, "-c", "docker version >/dev/null 2>&1; exit 0"});
  ASSERT_EQ(run.exit_code, 0) << run.output;

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto execs = docker_execs_below(out, run.pid);
  ASSERT_EQ(execs.size(), 1u) << out.log;
  const json &e = execs[0];
  EXPECT_EQ(e["shimwatch"]["origin"]["type"], "user_session");
  EXPECT_EQ(e["shimwatch"]["origin"]["session"], "7");
  EXPECT_EQ(e["shimwatch"]["origin"]["login_uid"], 1000);
  EXPECT_EQ(e["process"]["ancestry"][0]["name"], "sshd");
  EXPECT_EQ(e["process"]["parent"]["name"], "sshd");

  // The CLI's connect to the socket carries the same origin.
  auto docker_pid = e["process"]["pid"].get<pid_t>();
  auto connects = events_of(out, docker_pid, connect_action);
  ASSERT_GE(connects.size(), 1u);
  EXPECT_EQ(connects[0]["shimwatch"]["origin"]["type"], "user_session");
  EXPECT_EQ(connects[0]["process"]["ancestry"][0]["name"], "sshd");
}

TEST(Attribution, ContainerInKubeletPodCgroupWithSocketBindMounted) {
  const std::string image = docker_image_with_connect_helper();
  const std::string pod_uid = "6f1b5a8e-3c2d-4e8f-9a0b-1c2d3e4f5a6b";
  PodCgroupCleanup pod_cgroup{pod_uid};
  Agent agent({"--watch-socket", "/host/d.sock"});

  // TRIGGER: a "pod" container reaches the node's socket under another path
  // and exits right after its connect.
  auto created =
      run_process({"docker", "create", "--cgroup-parent", "/kubepods/burstable/pod" + pod_uid, "-v",
                   "/var/run/docker.sock:/host/d.sock", image, "/sw_test_connect", "/host/d.sock",
                   "from-a-pod"});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  std::string container_id = trim(created.output);
  auto started = run_process({"docker", "start", "-a", container_id});
  run_process({"docker", "rm", "-f", container_id});
  ASSERT_EQ(started.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto found = events_of_container(out, container_id);
  ASSERT_EQ(found.size(), 1u) << "no event for container " << container_id;
  const json &e = found[0];
  EXPECT_EQ(e["event"]["action"], connect_action);
  EXPECT_EQ(e["shimwatch"]["socket"]["path"], "/host/d.sock");
  EXPECT_EQ(e["process"]["args"], json::array({"/sw_test_connect", "/host/d.sock", "from-a-pod"}));
  EXPECT_EQ(e["process"]["executable"], "/sw_test_connect");
  EXPECT_EQ(e["shimwatch"]["origin"]["type"], "pod");
  EXPECT_EQ(e["shimwatch"]["origin"]["qos_class"], "burstable");
  EXPECT_EQ(e["kubernetes"]["pod"]["uid"], pod_uid);
  EXPECT_EQ(e["orchestrator"]["type"], "kubernetes");
  EXPECT_EQ(e["shimwatch"]["origin"]["kubernetes_metadata"], "unknown");
  // The container is its own pid namespace: no ancestor from the runtime.
  EXPECT_EQ(e["process"]["ancestry"].size(), 0u) << e["process"]["ancestry"].dump();
}
