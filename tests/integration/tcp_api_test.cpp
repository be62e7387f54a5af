// The Docker Engine API over TCP (DOCKER_HOST=tcp://...:2375/2376): the real
// docker CLI connects non-blocking, so the outcome is only known when the
// handshake ends; the probe reports it then, with the caller captured at the
// time of the call.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "harness.hpp"

using namespace std::chrono_literals;
using namespace swtest;
using nlohmann::json;

namespace {

std::vector<json> tcp_events_of(const AgentOutput &out, pid_t pid) {
  return events_of(out, pid, "docker-api-tcp-connect");
}

// TCP events whose command line holds marker (for processes run under timeout).
std::vector<json> tcp_events_with(const AgentOutput &out, const std::string &marker) {
  std::vector<json> found;
  for (const auto &e : out.events)
    if (e["event"]["action"] == "docker-api-tcp-connect" &&
        e["process"]["command_line"].get<std::string>().find(marker) != std::string::npos)
      found.push_back(e);
  return found;
}

} // namespace

TEST(DockerApiTcp, DockerCliReachingAnEngineOnLoopbackIsASuccess) {
  TcpListener engine(AF_INET, 2375);
  Agent agent;
  // TRIGGER: the docker CLI against an engine on 127.0.0.1:2375.
  auto cli = run_process({"docker", "-H", "tcp://127.0.0.1:2375", "version"});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto found = tcp_events_of(out, cli.pid);
  ASSERT_FALSE(found.empty()) << cli.output << "\n" << out.log;
  const json &e = found[0];
  EXPECT_EQ(e["event"]["outcome"], "success");
  EXPECT_EQ(e["event"]["category"], json::array({"network"}));
  EXPECT_EQ(e["destination"]["ip"], "127.0.0.1");
  EXPECT_EQ(e["destination"]["port"], 2375);
  EXPECT_EQ(e["process"]["name"], "docker");
  EXPECT_EQ(e["process"]["args"], json::array({"docker", "-H", "tcp://127.0.0.1:2375", "version"}));
}

TEST(DockerApiTcp, RefusedConnectIsAFailureWithItsErrno) {
  Agent agent;
  // TRIGGER: nothing listens on 2376 here: after a migration this is what a hidden
  // dependency on a TLS-enabled engine looks like.
  auto cli = run_process({"sh", "-c", "DOCKER_HOST=tcp://127.0.0.1:2376 exec docker ps"});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto found = tcp_events_of(out, cli.pid);
  ASSERT_FALSE(found.empty()) << cli.output << "\n" << out.log;
  for (const auto &e : found) {
    EXPECT_EQ(e["event"]["outcome"], "failure");
    EXPECT_EQ(e["error"]["code"], "ECONNREFUSED");
    EXPECT_EQ(e["destination"]["port"], 2376);
  }
}

TEST(DockerApiTcp, Ipv6LoopbackIsWatchedToo) {
  TcpListener engine(AF_INET6, 2375);
  Agent agent;
  // TRIGGER: the docker CLI against an engine on [::1]:2375.
  auto cli = run_process({"docker", "-H", "tcp://[::1]:2375", "version"});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto found = tcp_events_of(out, cli.pid);
  ASSERT_FALSE(found.empty()) << cli.output << "\n" << out.log;
  EXPECT_EQ(found[0]["destination"]["ip"], "::1");
  EXPECT_EQ(found[0]["event"]["outcome"], "success");
}

TEST(DockerApiTcp, OtherPortsAndRemoteHostsStayQuietByDefault) {
  TcpListener other(AF_INET, 18080);
  TcpListener engine(AF_INET, 2375);
  Agent agent;
  // TRIGGER: the CLI against an unwatched port, a remote engine and the watched port.
  auto unwatched = run_process({"docker", "-H", "tcp://127.0.0.1:18080", "version"});
  // A remote engine (TEST-NET-2, never routed): by default only loopback and
  // this node's addresses count.
  run_process({"timeout", "2", "docker", "-H", "tcp://198.51.100.1:2375", "version"});
  // Positive control: the watched port on loopback, in the same run.
  auto watched = run_process({"docker", "-H", "tcp://127.0.0.1:2375", "version"});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_FALSE(tcp_events_of(out, watched.pid).empty()) << watched.output << "\n" << out.log;
  EXPECT_TRUE(tcp_events_of(out, unwatched.pid).empty());
  EXPECT_TRUE(tcp_events_with(out, "tcp://198.51.100.1:2375").empty());
}

TEST(DockerApiTcp, AnyDestinationWhenConfigured) {
  Agent agent({"--watch-tcp-destinations", "any"});
  // TRIGGER: the CLI against a remote engine.
  run_process({"timeout", "2", "docker", "-H", "tcp://198.51.100.1:2375", "version"});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto found = tcp_events_with(out, "tcp://198.51.100.1:2375");
  ASSERT_FALSE(found.empty()) << out.log;
  EXPECT_EQ(found[0]["destination"]["ip"], "198.51.100.1");
}

TEST(DockerApiTcp, ThisNodesOwnAddressCountsAsLocal) {
  std::string node_ip;
  ifaddrs *list = nullptr;
  ASSERT_EQ(getifaddrs(&list), 0);
  for (ifaddrs *i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
      continue;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in *>(i->ifa_addr)->sin_addr, text, sizeof(text));
    node_ip = text;
    break;
  }
  freeifaddrs(list);
  if (node_ip.empty())
    GTEST_FAIL() << "this machine has no IPv4 address besides loopback";
  Agent agent;
  // TRIGGER: the CLI against this node's own address.
  auto cli = run_process({"docker", "-H", "tcp://" + node_ip + ":2376", "version"});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto found = tcp_events_of(out, cli.pid);
  ASSERT_FALSE(found.empty()) << cli.output << "\n" << out.log;
  EXPECT_EQ(found[0]["destination"]["ip"], node_ip);
  EXPECT_EQ(found[0]["destination"]["port"], 2376);
}
