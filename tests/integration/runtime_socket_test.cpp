// Connects to other container runtimes' sockets with the real agent:
// runtime-socket-connect with the runtime named, for the runtimes the
// default config turns on (podman, cri-o ...); containerd's only when asked
// for; and never the runtimes' own connects, which the default exclusions
// leave out.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "harness.hpp"

using namespace swtest;
using nlohmann::json;

namespace {

const std::string runtime_action = "runtime-socket-connect";
const std::string podman_socket = "/run/podman/podman.sock";
const std::string crio_socket = "/var/run/crio/crio.sock";
const std::string containerd_socket = "/run/containerd/containerd.sock";

bool is_socket(const std::string &path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// A listening socket at a runtime's path on the node, for one test: the
// directory is made when missing, and what was made is removed after. A
// socket already there (a real runtime) is used as it is and left alone.
class RuntimeSocketAt {
public:
  explicit RuntimeSocketAt(const std::string &path) {
    namespace fs = std::filesystem;
    if (is_socket(path))
      return;
    if (fs::exists(path))
      throw std::runtime_error(path + " exists and is not a socket");
    fs::path dir = fs::path(path).parent_path();
    if (!fs::exists(dir)) {
      fs::create_directories(dir);
      created_dir_ = dir;
    }
    listener_ = std::make_unique<UnixListener>(path);
  }
  ~RuntimeSocketAt() {
    listener_.reset(); // unlinks the socket it bound
    if (!created_dir_.empty())
      rmdir(created_dir_.c_str());
  }
  RuntimeSocketAt(const RuntimeSocketAt &) = delete;
  RuntimeSocketAt &operator=(const RuntimeSocketAt &) = delete;

private:
  std::unique_ptr<UnixListener> listener_;
  std::string created_dir_;
};

std::string basename_of(const std::string &path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// dockerd, containerd, containerd-shim, containerd-shim-runc-v2 ...
bool is_runtime_daemon(const std::string &executable) {
  std::string base = basename_of(executable);
  return base == "dockerd" || base.rfind("containerd", 0) == 0;
}

// The sockets of the containerd this node's dockerd talks to: the node's
// own (/run/containerd) or the one dockerd runs itself (/run/docker/containerd).
std::vector<std::string> dockerd_containerd_sockets() {
  std::vector<std::string> found;
  for (const std::string dir : {"/run/containerd", "/run/docker/containerd"})
    for (const std::string name : {"containerd.sock", "containerd.sock.ttrpc"})
      if (is_socket(dir + "/" + name))
        found.push_back(dir + "/" + name);
  return found;
}

// --watch-runtime containerd, and containerd's sockets of this node as
// containerd's (dockerd's own containerd lives outside the default paths).
std::vector<std::string> watch_containerd_args() {
  std::vector<std::string> args = {"--watch-runtime", "containerd"};
  for (const auto &path : dockerd_containerd_sockets())
    args.insert(args.end(), {"--watch-runtime-socket", "containerd=" + path});
  return args;
}

// `docker run --rm IMAGE /sw_test_connect /nonexistent`: dockerd,
// containerd and the shim talk to each other over containerd's sockets.
ProcessResult run_a_container(const std::string &image) {
  return run_process({"docker", "run", "--rm", image, "/sw_test_connect", "/nonexistent"});
}

std::vector<json> runtime_connects(const AgentOutput &out) {
  std::vector<json> found;
  for (const auto &e : out.events)
    if (e["event"]["action"] == runtime_action)
      found.push_back(e);
  return found;
}

} // namespace

TEST(RuntimeSocket, PodmanSocketIsWatchedByDefault) {
  RuntimeSocketAt podman(podman_socket);
  Agent agent;

  // TRIGGER: a connect to the podman socket.
  auto run = run_process({SW_TEST_CONNECT_BINARY, podman_socket});
  ASSERT_EQ(run.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto found = events_of(out, run.pid);
  ASSERT_EQ(found.size(), 1u) << out.log;
  const json &e = found[0];
  EXPECT_EQ(e["event"]["action"], runtime_action);
  EXPECT_EQ(e["event"]["outcome"], "success");
  EXPECT_EQ(e["event"]["category"], json::array({"network"}));
  EXPECT_FALSE(e.contains("error"));
  EXPECT_EQ(e["shimwatch"]["runtime"], "podman");
  EXPECT_EQ(e["shimwatch"]["socket"]["path"], podman_socket);
  EXPECT_EQ(e["shimwatch"]["socket"]["abstract"], false);
  EXPECT_EQ(e["shimwatch"]["socket"]["watched"], podman_socket);
  EXPECT_EQ(e["process"]["executable"], SW_TEST_CONNECT_BINARY);
  EXPECT_EQ(e["process"]["args"], json::array({SW_TEST_CONNECT_BINARY, podman_socket}));
}

TEST(RuntimeSocket, FailedConnectToCrioIsAFailureWithItsErrno) {
  // Nothing listens there, and nothing is there: ENOENT.
  ASSERT_FALSE(std::filesystem::exists(std::filesystem::path(crio_socket).parent_path()))
      << "this node has CRI-O";
  Agent agent;

  // TRIGGER: a connect to the CRI-O socket.
  auto run = run_process({SW_TEST_CONNECT_BINARY, crio_socket});
  ASSERT_EQ(run.output, "ENOENT\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto found = events_of(out, run.pid);
  ASSERT_EQ(found.size(), 1u) << out.log;
  const json &e = found[0];
  EXPECT_EQ(e["event"]["action"], runtime_action);
  EXPECT_EQ(e["event"]["outcome"], "failure");
  EXPECT_EQ(e["error"]["code"], "ENOENT");
  EXPECT_EQ(e["shimwatch"]["runtime"], "cri-o");
  EXPECT_EQ(e["shimwatch"]["socket"]["path"], crio_socket);
  EXPECT_EQ(e["shimwatch"]["socket"]["watched"], crio_socket);
}

TEST(RuntimeSocket, ContainerdIsOffByDefault) {
  RuntimeSocketAt containerd(containerd_socket);
  Agent agent;

  // TRIGGER: a connect to containerd, and one to the Docker socket.
  auto run = run_process({SW_TEST_CONNECT_BINARY, containerd_socket});
  ASSERT_EQ(run.output, "ok\n");
  // A docker-socket connect in the same run: the agent was watching.
  auto docker = run_process({SW_TEST_CONNECT_BINARY, "/var/run/docker.sock"});
  ASSERT_EQ(docker.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_TRUE(events_of(out, run.pid).empty()) << out.log;
  EXPECT_EQ(events_of(out, docker.pid, "docker-socket-connect").size(), 1u) << out.log;
}

TEST(RuntimeSocket, ContainerdWhenAskedFor) {
  RuntimeSocketAt containerd(containerd_socket);
  Agent agent({"--watch-runtime", "containerd"});

  // TRIGGER: a connect to containerd.
  auto run = run_process({SW_TEST_CONNECT_BINARY, containerd_socket});
  ASSERT_EQ(run.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto found = events_of(out, run.pid);
  ASSERT_EQ(found.size(), 1u) << out.log;
  const json &e = found[0];
  EXPECT_EQ(e["event"]["action"], runtime_action);
  EXPECT_EQ(e["event"]["outcome"], "success");
  EXPECT_EQ(e["shimwatch"]["runtime"], "containerd");
  EXPECT_EQ(e["shimwatch"]["socket"]["path"], containerd_socket);
}

// With containerd watched, running a container makes dockerd, containerd
// and the shim connect to containerd's sockets: none of that is reported
// (exclude.executables), while the same run with no exclusions shows that
// those connects happen.
TEST(RuntimeSocket, RuntimesOwnConnectsAreExcluded) {
  const std::string image = docker_image_with_connect_helper();
  ASSERT_FALSE(dockerd_containerd_sockets().empty()) << "no containerd socket found";
  auto args = watch_containerd_args();

  // Control: nothing excluded, the runtimes' connects are there.
  {
    TempDir dir;
    std::string config = dir.file("no-exclusions.json");
    write_file(config, R"({"exclude": {"executables": []}})");
    auto control_args = args;
    control_args.insert(control_args.end(), {"--config", config});
    Agent agent(control_args);
    // TRIGGER: a container runs.
    auto run = run_a_container(image);
    ASSERT_EQ(run.output, "ENOENT\n");
    // ASSERT
    auto out = agent.stop();
    ASSERT_EQ(out.exit_code, 0) << out.log;
    size_t from_runtimes = 0;
    for (const auto &e : runtime_connects(out))
      if (is_runtime_daemon(e["process"]["executable"].get<std::string>()))
        ++from_runtimes;
    ASSERT_GE(from_runtimes, 1u) << "no runtime connected to containerd; the test proves nothing\n"
                                 << out.log;
  }

  // Defaults: excluded, and counted by rule.
  int port = free_port();
  args.insert(args.end(), {"--format", "json", "--no-dedupe", "--metrics-address",
                           "127.0.0.1:" + std::to_string(port)});
  Agent agent(args, false);
  // TRIGGER: a container runs; a client connects to containerd.
  auto run = run_a_container(image);
  ASSERT_EQ(run.output, "ENOENT\n");
  auto client = run_process({SW_TEST_CONNECT_BINARY, dockerd_containerd_sockets()[0]});
  ASSERT_EQ(client.output, "ok\n");
  // ASSERT
  std::string page;
  EXPECT_TRUE(wait_for(
      [&] {
        page = http_get(port, "/metrics");
        return page.find(R"(shimwatch_events_excluded_total{rule="executable:containerd)") !=
               std::string::npos;
      },
      std::chrono::seconds(5)))
      << page;
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  for (const auto &e : runtime_connects(out)) {
    std::string executable = e["process"]["executable"].get<std::string>();
    EXPECT_FALSE(is_runtime_daemon(executable)) << e.dump();
  }
  // Other processes' connects to containerd are still reported.
  auto found = events_of(out, client.pid, runtime_action);
  ASSERT_EQ(found.size(), 1u) << out.log;
  EXPECT_EQ(found[0]["shimwatch"]["runtime"], "containerd");
}
