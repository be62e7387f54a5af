// Connects that reach a watched socket under another name: a symlink, a
// path through /proc/<pid>/root, a bind mount into a real container. The
// agent runs with its default config (no extra --watch-socket), so only the
// match on what the connect reached can catch them.
#include <gtest/gtest.h>

#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "harness.hpp"

using namespace std::chrono_literals;
using namespace swtest;
using nlohmann::json;

namespace {

const std::string kDockerSocket = "/var/run/docker.sock";

// The one event of pid, with its action checked.
json only_connect_of(const AgentOutput &out, pid_t pid) {
  auto found = events_of(out, pid);
  EXPECT_EQ(found.size(), 1u) << "pid " << pid << "\n" << out.log;
  return found.empty() ? json() : found[0];
}

} // namespace

TEST(SocketIdentity, DockerCliThroughASymlinkIsCaught) {
  TempDir dir;
  std::string link = dir.file("docker-link.sock");
  ASSERT_EQ(symlink(kDockerSocket.c_str(), link.c_str()), 0);
  Agent agent;

  // TRIGGER: the docker CLI through a symlink to the Docker socket.
  auto cli = run_process({"docker", "-H", "unix://" + link, "version"});
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;

  std::vector<json> connects;
  for (const auto &e : events_of(out, cli.pid))
    if (e["event"]["action"] == "docker-socket-connect")
      connects.push_back(e);
  ASSERT_FALSE(connects.empty()) << out.log;
  for (const auto &e : connects) {
    EXPECT_EQ(e["event"]["outcome"], "success");
    EXPECT_EQ(e["shimwatch"]["socket"]["path"], link);
    EXPECT_EQ(e["shimwatch"]["socket"]["peer"], kDockerSocket);
    EXPECT_EQ(e["shimwatch"]["socket"]["matched_by"], "peer");
    EXPECT_EQ(e["shimwatch"]["socket"]["watched"], kDockerSocket);
  }
}

TEST(SocketIdentity, PathThroughProcRootIsCaught) {
  Agent agent;
  std::string path = "/proc/self/root" + kDockerSocket;
  // TRIGGER: a connect through /proc/self/root.
  auto run = run_process({SW_TEST_CONNECT_BINARY, path});
  ASSERT_EQ(run.output, "ok\n");
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  json e = only_connect_of(out, run.pid);
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e["event"]["action"], "docker-socket-connect");
  EXPECT_EQ(e["shimwatch"]["socket"]["path"], path);
  EXPECT_EQ(e["shimwatch"]["socket"]["peer"], kDockerSocket);
  EXPECT_EQ(e["shimwatch"]["socket"]["matched_by"], "peer");
}

TEST(SocketIdentity, ContainerWithTheSocketBindMountedUnderAnotherNameIsCaught) {
  const std::string image = docker_image_with_connect_helper();
  Agent agent;
  // TRIGGER: a container with the Docker socket mounted as /tmp/d.sock connects to it.
  auto created = run_process({"docker", "create", "-v", kDockerSocket + ":/tmp/d.sock", image,
                              "/sw_test_connect", "/tmp/d.sock", "from-a-container"});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  std::string container_id = trim(created.output);
  auto started = run_process({"docker", "start", "-a", container_id});
  run_process({"docker", "rm", "-f", container_id});
  ASSERT_EQ(started.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto found = events_of_container(out, container_id);
  ASSERT_EQ(found.size(), 1u) << "no event for container " << container_id << "\n" << out.log;
  const json &e = found[0];
  EXPECT_EQ(e["event"]["action"], "docker-socket-connect");
  EXPECT_EQ(e["event"]["outcome"], "success");
  EXPECT_EQ(e["shimwatch"]["socket"]["path"], "/tmp/d.sock");
  EXPECT_EQ(e["shimwatch"]["socket"]["peer"], kDockerSocket);
  EXPECT_EQ(e["shimwatch"]["socket"]["matched_by"], "peer");
  EXPECT_EQ(e["shimwatch"]["origin"]["type"], "container");
  EXPECT_EQ(e["process"]["args"],
            json::array({"/sw_test_connect", "/tmp/d.sock", "from-a-container"}));
}

// The server of a watched socket restarts and binds a new file (a new
// inode): connects under another name are still caught once the agent has
// looked again (it does every second).
TEST(SocketIdentity, ARecreatedSocketIsFollowed) {
  TempDir dir;
  std::string watched = dir.file("api.sock");
  std::string link = dir.file("alias.sock");
  ASSERT_EQ(symlink(watched.c_str(), link.c_str()), 0);
  auto listener = std::make_unique<UnixListener>(watched);
  Agent agent({"--watch-socket", watched});

  // TRIGGER: a connect; the socket is recreated (a new inode); another connect.
  auto first = run_process({SW_TEST_CONNECT_BINARY, link});
  ASSERT_EQ(first.output, "ok\n");
  struct stat before {};
  ASSERT_EQ(stat(watched.c_str(), &before), 0);
  listener.reset();
  unlink(watched.c_str());
  listener = std::make_unique<UnixListener>(watched);
  struct stat after {};
  ASSERT_EQ(stat(watched.c_str(), &after), 0);
  ASSERT_NE(before.st_ino, after.st_ino);
  std::this_thread::sleep_for(2500ms); // the agent's next look
  auto second = run_process({SW_TEST_CONNECT_BINARY, link});
  ASSERT_EQ(second.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  for (pid_t pid : {first.pid, second.pid}) {
    json e = only_connect_of(out, pid);
    ASSERT_TRUE(e.is_object());
    EXPECT_EQ(e["shimwatch"]["socket"]["path"], link);
    EXPECT_EQ(e["shimwatch"]["socket"]["peer"], watched);
    EXPECT_EQ(e["shimwatch"]["socket"]["matched_by"], "peer");
  }
}

TEST(SocketIdentity, OtherSocketsUnderAnyNameStayQuiet) {
  TempDir dir;
  std::string other = dir.file("unrelated.sock");
  std::string link = dir.file("unrelated-link.sock");
  UnixListener listener(other);
  ASSERT_EQ(symlink(other.c_str(), link.c_str()), 0);
  Agent agent;
  // TRIGGER: connects to an unwatched socket, directly and through a symlink.
  auto direct = run_process({SW_TEST_CONNECT_BINARY, other});
  auto via_link = run_process({SW_TEST_CONNECT_BINARY, link});
  ASSERT_EQ(direct.output, "ok\n");
  ASSERT_EQ(via_link.output, "ok\n");
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_TRUE(events_of(out, direct.pid).empty());
  EXPECT_TRUE(events_of(out, via_link.pid).empty());
}
