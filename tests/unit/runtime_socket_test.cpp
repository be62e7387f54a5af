// Other container runtimes' sockets: runtime-socket-connect with the runtime
// named; containerd's off by default; what the kernel filter is loaded with.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "shimwatch/classify.hpp"
#include "shimwatch/config.hpp"
#include "shimwatch/sink.hpp"

using shimwatch::Action;
using shimwatch::Classifier;
using shimwatch::Config;
using shimwatch::Event;
using shimwatch::RuntimeSocket;
using shimwatch::Verdict;
using shimwatch::watched_socket_paths;
using strings = std::vector<std::string>;

namespace {

Event connect_to(const std::string &path) {
  Event e;
  e.action = Action::docker_socket_connect; // as decoded
  e.socket_path = path;
  e.process.pid = 900;
  e.process.name = "crictl";
  e.process.executable = "/usr/local/bin/crictl";
  e.process.args = {"crictl", "ps"};
  return e;
}

Config parse_flags(const strings &flags) {
  strings args = {"run"};
  args.insert(args.end(), flags.begin(), flags.end());
  auto r = shimwatch::parse_cli(args);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? r->config : Config{};
}

std::string flag_error(const strings &flags) {
  strings args = {"run"};
  args.insert(args.end(), flags.begin(), flags.end());
  auto r = shimwatch::parse_cli(args);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.error().message;
}

bool enabled(const Config &c, const std::string &path) {
  for (const auto &s : c.runtime_sockets)
    if (s.path == path)
      return s.enabled;
  return false;
}

TEST(RuntimeSockets, Defaults) {
  Config c = shimwatch::default_config();
  ASSERT_EQ(c.runtime_sockets.size(), 10u);
  EXPECT_FALSE(enabled(c, "/run/containerd/containerd.sock"));
  EXPECT_FALSE(enabled(c, "/var/run/containerd/containerd.sock"));
  for (const char *on : {"/var/run/crio/crio.sock", "/run/podman/podman.sock",
                         "/var/run/dockershim.sock", "/var/run/cri-dockerd.sock"})
    EXPECT_TRUE(enabled(c, on)) << on;
  strings runtimes;
  for (const auto &s : c.runtime_sockets)
    if (std::find(runtimes.begin(), runtimes.end(), s.runtime) == runtimes.end())
      runtimes.push_back(s.runtime);
  EXPECT_EQ(runtimes, (strings{"containerd", "cri-o", "podman", "dockershim", "cri-dockerd"}));
}

TEST(RuntimeSockets, KernelFilterPathsAreDockerThenEnabledRuntimes) {
  Config c = shimwatch::default_config();
  EXPECT_EQ(
      watched_socket_paths(c),
      (strings{"/var/run/docker.sock", "/run/docker.sock", "/var/run/crio/crio.sock",
               "/run/crio/crio.sock", "/run/podman/podman.sock", "/var/run/podman/podman.sock",
               "/var/run/dockershim.sock", "/run/dockershim.sock", "/var/run/cri-dockerd.sock",
               "/run/cri-dockerd.sock"}));
  // Each path once.
  c.runtime_sockets.push_back({"/var/run/docker.sock", "docker-again", true});
  c.runtime_sockets.push_back({"/var/run/crio/crio.sock", "cri-o", true});
  EXPECT_EQ(watched_socket_paths(c).size(), 10u);
  c.runtime_sockets.clear();
  EXPECT_EQ(watched_socket_paths(c), (strings{"/var/run/docker.sock", "/run/docker.sock"}));
}

TEST(RuntimeSockets, ConnectIsLabelledWithTheRuntime) {
  Classifier classifier(shimwatch::default_config());
  for (auto [path, runtime] :
       {std::pair{"/var/run/crio/crio.sock", "cri-o"}, std::pair{"/run/crio/crio.sock", "cri-o"},
        std::pair{"/run/podman/podman.sock", "podman"},
        std::pair{"/var/run/dockershim.sock", "dockershim"},
        std::pair{"/var/run/cri-dockerd.sock", "cri-dockerd"}}) {
    Event e = connect_to(path);
    ASSERT_TRUE(classifier.accept(e)) << path;
    EXPECT_EQ(e.action, Action::runtime_socket_connect) << path;
    EXPECT_EQ(e.runtime, runtime) << path;
  }
  Event docker = connect_to("/run/docker.sock");
  ASSERT_TRUE(classifier.accept(docker));
  EXPECT_EQ(docker.action, Action::docker_socket_connect);
  EXPECT_EQ(docker.runtime, "");
}

TEST(RuntimeSockets, ContainerdIsOffByDefault) {
  Classifier classifier(shimwatch::default_config());
  Event e = connect_to("/run/containerd/containerd.sock");
  EXPECT_EQ(classifier.accept(e).kind, Verdict::Kind::filtered);

  Classifier on(parse_flags({"--watch-runtime", "containerd"}));
  ASSERT_TRUE(on.accept(e));
  EXPECT_EQ(e.action, Action::runtime_socket_connect);
  EXPECT_EQ(e.runtime, "containerd");
}

TEST(RuntimeSockets, TheWatchedSocketDecidesNotThePathPassed) {
  // A bind-mounted socket matched by what it reached: the agent sets
  // socket_watched to the configured path.
  Classifier classifier(shimwatch::default_config());
  Event e = connect_to("/host/run/crio.sock");
  EXPECT_FALSE(classifier.accept(e));
  e.socket_matched_by_peer = true;
  e.socket_peer = "/var/run/crio/crio.sock";
  e.socket_watched = "/var/run/crio/crio.sock";
  ASSERT_TRUE(classifier.accept(e));
  EXPECT_EQ(e.runtime, "cri-o");
  // And a docker.sock reached through a path that is a runtime's is Docker.
  e.socket_path = "/var/run/crio/crio.sock";
  e.socket_watched = "/var/run/docker.sock";
  ASSERT_TRUE(classifier.accept(e));
  EXPECT_EQ(e.action, Action::docker_socket_connect);
  EXPECT_EQ(e.runtime, "");
}

TEST(RuntimeSockets, DockerSocketsWinOverARuntimeEntry) {
  Config c = shimwatch::default_config();
  c.watch_sockets.push_back("/var/run/cri-dockerd.sock");
  Classifier classifier(c);
  Event e = connect_to("/var/run/cri-dockerd.sock");
  ASSERT_TRUE(classifier.accept(e));
  EXPECT_EQ(e.action, Action::docker_socket_connect);
}

TEST(RuntimeSockets, WatchRuntimeSocketFlagAddsOrEnables) {
  Config c = parse_flags({"--watch-runtime-socket", "k3s=/run/k3s/containerd/containerd.sock",
                          "--watch-runtime-socket=containerd=/run/containerd/containerd.sock"});
  ASSERT_EQ(c.runtime_sockets.size(), 11u);
  EXPECT_EQ(c.runtime_sockets.back().path, "/run/k3s/containerd/containerd.sock");
  EXPECT_EQ(c.runtime_sockets.back().runtime, "k3s");
  EXPECT_TRUE(c.runtime_sockets.back().enabled);
  EXPECT_TRUE(enabled(c, "/run/containerd/containerd.sock"));
  EXPECT_FALSE(enabled(c, "/var/run/containerd/containerd.sock")); // only the path given
  auto paths = watched_socket_paths(c);
  EXPECT_NE(std::find(paths.begin(), paths.end(), "/run/k3s/containerd/containerd.sock"),
            paths.end());

  Classifier classifier(c);
  Event e = connect_to("/run/k3s/containerd/containerd.sock");
  ASSERT_TRUE(classifier.accept(e));
  EXPECT_EQ(e.runtime, "k3s");
}

TEST(RuntimeSockets, WatchRuntimeFlagNeedsAConfiguredRuntime) {
  std::string message = flag_error({"--watch-runtime", "rkt"});
  EXPECT_NE(message.find("'rkt'"), std::string::npos) << message;
  EXPECT_NE(message.find("containerd, cri-o, podman, dockershim, cri-dockerd"), std::string::npos)
      << message;
  // A runtime added by the other flag can be named.
  Config c =
      parse_flags({"--watch-runtime-socket", "k3s=/run/k3s/c.sock", "--watch-runtime", "k3s"});
  EXPECT_TRUE(enabled(c, "/run/k3s/c.sock"));
}

TEST(RuntimeSockets, WatchRuntimeSocketFlagSyntax) {
  for (const char *bad : {"containerd", "=/run/x.sock", "containerd=", ""}) {
    std::string message = flag_error({"--watch-runtime-socket", bad});
    EXPECT_NE(message.find("RUNTIME=PATH"), std::string::npos) << bad << ": " << message;
  }
  std::string message = flag_error({"--watch-runtime-socket", "k3s=relative.sock"});
  EXPECT_NE(message.find("watch.runtime_sockets"), std::string::npos) << message;
  EXPECT_NE(message.find("relative.sock"), std::string::npos) << message;
  message = flag_error({"--watch-runtime-socket", "k 3s=/run/x.sock"});
  EXPECT_NE(message.find("runtime"), std::string::npos) << message;
}

TEST(RuntimeSockets, JsonEventNamesTheRuntime) {
  Classifier classifier(shimwatch::default_config());
  Event e = connect_to("/run/podman/podman.sock");
  e.socket_watched = "/run/podman/podman.sock";
  ASSERT_TRUE(classifier.accept(e));
  auto j = nlohmann::json::parse(shimwatch::encode_json(e, shimwatch::HostInfo{"node-1"}));
  EXPECT_EQ(j["event"]["action"], "runtime-socket-connect");
  EXPECT_EQ(j["event"]["category"], nlohmann::json::array({"network"}));
  EXPECT_EQ(j["event"]["type"], nlohmann::json::array({"connection"}));
  EXPECT_EQ(j["shimwatch"]["runtime"], "podman");
  EXPECT_EQ(j["shimwatch"]["socket"]["path"], "/run/podman/podman.sock");
  EXPECT_EQ(j["shimwatch"]["socket"]["matched_by"], "path");
  EXPECT_EQ(j["shimwatch"]["socket"]["watched"], "/run/podman/podman.sock");
  EXPECT_FALSE(j["shimwatch"]["socket"].contains("peer"));
}

TEST(RuntimeSockets, TextRowNamesTheRuntime) {
  Event e = connect_to("/run/podman/podman.sock");
  e.action = Action::runtime_socket_connect;
  e.runtime = "podman";
  std::string row = shimwatch::encode_text(e);
  EXPECT_NE(row.find(" connect "), std::string::npos) << row;
  EXPECT_NE(row.find("/run/podman/podman.sock (podman)"), std::string::npos) << row;
}

} // namespace
