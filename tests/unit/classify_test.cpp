// Classifier: user space finishes the exec match the kernel could only do on comm.
#include <gtest/gtest.h>

#include <algorithm>

#include <string>

#include "shimwatch/classify.hpp"
#include "shimwatch/text.hpp"
#include "shimwatch/config.hpp"

using shimwatch::Action;
using shimwatch::basename_of;
using shimwatch::Classifier;
using shimwatch::Config;
using shimwatch::Event;

namespace {

Event exec_event(const std::string &exec_path, const std::string &comm) {
  Event e;
  e.action = Action::docker_cli_exec;
  e.exec_path = exec_path;
  e.process.name = comm;
  return e;
}

Config watching(std::vector<std::string> names) {
  Config c;
  c.watch_exec = std::move(names);
  c.watch_sockets = {"/var/run/docker.sock"};
  return c;
}

TEST(BasenameOf, Paths) {
  EXPECT_EQ(basename_of("/usr/bin/docker"), "docker");
  EXPECT_EQ(basename_of("docker"), "docker");
  EXPECT_EQ(basename_of("./docker"), "docker");
  EXPECT_EQ(basename_of("a//b"), "b");
  EXPECT_EQ(basename_of(""), "");
  EXPECT_EQ(basename_of("/"), "");
  EXPECT_EQ(basename_of("/usr/bin/"), "");
}

TEST(Classifier, WatchedExecutableIsAccepted) {
  Classifier classifier(shimwatch::default_config());
  EXPECT_TRUE(classifier.accept(exec_event("/usr/bin/docker", "docker")));
  EXPECT_TRUE(classifier.accept(exec_event("/usr/local/bin/docker-compose", "docker-compose")));
  EXPECT_TRUE(classifier.accept(exec_event("docker", "docker")));
}

TEST(Classifier, OtherExecutablesAreRejected) {
  Classifier classifier(shimwatch::default_config());
  EXPECT_FALSE(classifier.accept(exec_event("/usr/bin/dockerd", "dockerd")));
  EXPECT_FALSE(classifier.accept(exec_event("/usr/bin/docker-init", "docker-init")));
  EXPECT_FALSE(classifier.accept(exec_event("/usr/bin/Docker", "Docker")));
  EXPECT_FALSE(classifier.accept(exec_event("/usr/bin/docker/", "docker")));
}

TEST(Classifier, PathDecidesEvenWhenCommMatches) {
  // comm can be changed by the process and is cut to 15 bytes; the path is not.
  Classifier classifier(shimwatch::default_config());
  EXPECT_FALSE(classifier.accept(exec_event("/bin/sh", "docker")));
  EXPECT_TRUE(classifier.accept(exec_event("/usr/bin/docker", "something-else")));
}

TEST(Classifier, LongNamesAreMatchedInFull) {
  Classifier classifier(watching({"docker-credential-helper"}));
  // All three share the comm "docker-credenti" that the kernel matched on.
  EXPECT_TRUE(
      classifier.accept(exec_event("/usr/bin/docker-credential-helper", "docker-credenti")));
  EXPECT_FALSE(
      classifier.accept(exec_event("/usr/bin/docker-credential-helper-long", "docker-credenti")));
  EXPECT_FALSE(classifier.accept(exec_event("/usr/bin/docker-credenti", "docker-credenti")));
}

TEST(Classifier, EmptyExecPathFallsBackToComm) {
  Classifier classifier(shimwatch::default_config());
  EXPECT_TRUE(classifier.accept(exec_event("", "docker")));
  EXPECT_FALSE(classifier.accept(exec_event("", "dockerd")));
}

TEST(Classifier, UnusablePathFallsBackToWhatTheKernelMatched) {
  Classifier classifier(watching({"docker-credential-helper"}));
  // A long watched name: comm holds its first 15 bytes and nothing more.
  EXPECT_TRUE(classifier.accept(exec_event("", "docker-credenti")));
  Event cut = exec_event(std::string(255, 'a'), "docker-credenti");
  cut.exec_path_truncated = true;
  EXPECT_TRUE(classifier.accept(cut));
  cut.process.name = "docker-credentX";
  EXPECT_FALSE(classifier.accept(cut));
}

TEST(Classifier, FexecveFdPathFallsBackToComm) {
  Classifier classifier(shimwatch::default_config());
  for (const char *path : {"/dev/fd/3", "/proc/self/fd/12", "/proc/4242/fd/7"}) {
    EXPECT_TRUE(classifier.accept(exec_event(path, "docker"))) << path;
    EXPECT_FALSE(classifier.accept(exec_event(path, "dockerd"))) << path;
  }
  // Not fd paths: the basename decides.
  EXPECT_FALSE(classifier.accept(exec_event("/dev/fdx/3", "docker")));
  EXPECT_FALSE(classifier.accept(exec_event("/opt/3", "docker")));
}

TEST(Classifier, ConnectEventsToAWatchedSocketAreAccepted) {
  // The configured socket the connect matched decides; exec names do not
  // apply. A path that is no watched socket is filtered (the kernel filter
  // may hold more paths, e.g. runtime sockets that are off).
  Classifier classifier(watching({}));
  Event e;
  e.action = Action::docker_socket_connect;
  e.socket_path = "/var/run/docker.sock";
  e.process.name = "node_exporter";
  EXPECT_TRUE(classifier.accept(e));
  e.error = 111;
  EXPECT_TRUE(classifier.accept(e));
  e.socket_path = "@whatever";
  EXPECT_FALSE(classifier.accept(e));
  // Matched by what it reached: the agent names the watched socket.
  e.socket_watched = "/var/run/docker.sock";
  e.socket_matched_by_peer = true;
  EXPECT_TRUE(classifier.accept(e));
}

TEST(Classifier, AcceptRelabelsTheAction) {
  // The decode stage labels every exec docker-cli-exec and every connect
  // docker-socket-connect; accept() decides which one it is.
  Classifier classifier(shimwatch::default_config());
  Event e = exec_event("/usr/bin/systemctl", "systemctl");
  e.process.args = {"systemctl", "restart", "docker"};
  ASSERT_TRUE(classifier.accept(e));
  EXPECT_EQ(e.action, Action::docker_service_control);

  Event c;
  c.action = Action::docker_socket_connect;
  c.socket_path = "/var/run/crio/crio.sock";
  ASSERT_TRUE(classifier.accept(c));
  EXPECT_EQ(c.action, Action::runtime_socket_connect);
  EXPECT_EQ(c.runtime, "cri-o");
}

TEST(Classifier, VerdictSaysWhyAnEventIsNotReported) {
  Classifier classifier(shimwatch::default_config());
  auto v = classifier.accept(exec_event("/usr/bin/dockerd", "dockerd"));
  EXPECT_EQ(v.kind, shimwatch::Verdict::Kind::filtered);
  EXPECT_FALSE(v.excluded());
  EXPECT_EQ(v.rule, "");

  Event e;
  e.action = Action::docker_socket_connect;
  e.socket_path = "/run/docker.sock";
  e.process.executable = "/usr/bin/kubelet";
  Classifier trusting(shimwatch::default_config(), shimwatch::SelfIdentity::current(),
                      [](const Event &) { return true; });
  v = trusting.accept(e);
  EXPECT_FALSE(v);
  EXPECT_TRUE(v.excluded());
  EXPECT_EQ(v.rule, "executable:kubelet");

  e.process.executable = "/usr/local/bin/agent";
  v = classifier.accept(e);
  EXPECT_TRUE(v);
  EXPECT_EQ(v.kind, shimwatch::Verdict::Kind::accepted);
}

TEST(Classifier, TcpApiConnectsKeepTheirAction) {
  // The kernel matched the port; there is no socket path to look at.
  Classifier classifier(shimwatch::default_config());
  Event e;
  e.action = Action::docker_api_tcp_connect;
  e.tcp_address = "127.0.0.1";
  e.tcp_port = 2375;
  e.process.executable = "/usr/local/bin/agent";
  ASSERT_TRUE(classifier.accept(e));
  EXPECT_EQ(e.action, Action::docker_api_tcp_connect);
  EXPECT_EQ(e.runtime, "");
}

} // namespace

TEST(Classifier, ExecMatchedByIdentityIsTheDockerCliWhateverItsName) {
  Classifier classifier(shimwatch::default_config());
  Event e = exec_event("/opt/tools/containerctl", "containerctl");
  EXPECT_FALSE(classifier.accept(e));
  e = exec_event("/opt/tools/containerctl", "containerctl");
  e.exec_matched_by_identity = true;
  EXPECT_TRUE(classifier.accept(e));
  EXPECT_EQ(e.action, Action::docker_cli_exec);
}

TEST(WatchedExecPaths, ConfiguredPathsThenEveryNameInTheBinDirectories) {
  shimwatch::Config config = shimwatch::default_config();
  config.watch_exec = {"docker"};
  config.watch_exec_paths = {"/opt/docker/bin/docker", "/usr/bin/docker"};
  auto paths = shimwatch::watched_exec_paths(config);
  ASSERT_GE(paths.size(), 2u);
  EXPECT_EQ(paths[0], "/opt/docker/bin/docker");
  EXPECT_EQ(paths[1], "/usr/bin/docker");
  EXPECT_EQ(std::count(paths.begin(), paths.end(), "/usr/bin/docker"), 1);
  EXPECT_NE(std::find(paths.begin(), paths.end(), "/usr/local/bin/docker"), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "/bin/docker"), paths.end());
}
