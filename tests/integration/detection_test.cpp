// What the probes catch and what they leave out, with real processes.
#include <gtest/gtest.h>
#include <unistd.h>

#include "shimwatch/base64.hpp"
#include "harness.hpp"

using namespace swtest;

namespace {

const std::string exec_action = "docker-cli-exec";
const std::string connect_action = "docker-socket-connect";

std::string decode_base64(const std::string &in) {
  auto decoded = shimwatch::base64_decode(in);
  EXPECT_TRUE(decoded) << in;
  return decoded ? *decoded : std::string();
}

} // namespace

TEST(Detection, DockerVersionReportsExecAndSocketConnect) {
  Agent agent;

  // TRIGGER: the real docker CLI against the real dockerd.
  auto docker = run_process({"docker", "version"});
  ASSERT_EQ(docker.exit_code, 0) << "docker version failed (is dockerd up?): " << docker.output;

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_TRUE(out.unparsable.empty()) << out.unparsable.front();

  auto execs = events_of(out, docker.pid, exec_action);
  ASSERT_EQ(execs.size(), 1u) << out.log;
  const json &exec = execs[0];
  EXPECT_EQ(exec["process"]["args"], json::array({"docker", "version"}));
  EXPECT_EQ(exec["process"]["name"], "docker");
  EXPECT_EQ(exec["process"]["command_line"], "docker version");
  EXPECT_EQ(exec["event"]["outcome"], "success");
  EXPECT_EQ(exec["event"]["kind"], "event");
  EXPECT_EQ(exec["process"]["parent"]["pid"], getpid());
  EXPECT_EQ(exec["user"]["id"], "0");
  EXPECT_FALSE(exec.contains("error"));
  std::string executable = exec["process"]["executable"];
  EXPECT_EQ(executable.substr(0, 1), "/");
  EXPECT_EQ(executable.substr(executable.size() - 7), "/docker");

  auto connects = events_of(out, docker.pid, connect_action);
  ASSERT_GE(connects.size(), 1u) << "no connect event for the docker CLI";
  for (const auto &c : connects) {
    EXPECT_EQ(c["shimwatch"]["socket"]["path"], "/var/run/docker.sock");
    EXPECT_EQ(c["shimwatch"]["socket"]["abstract"], false);
    EXPECT_EQ(c["event"]["outcome"], "success");
    EXPECT_EQ(c["process"]["args"], json::array({"docker", "version"}));
    EXPECT_EQ(c["process"]["executable"], executable);
  }
}

TEST(Detection, UnwatchedSocketsAndBinariesProduceNoEvent) {
  TempDir dir;
  std::string other_socket = dir.file("other.sock");
  UnixListener listener(other_socket);
  // Names that are close to watched ones but are not watched.
  std::string dockerd = fake_executable(dir, "dockerd");
  std::string dockers = fake_executable(dir, "docker.sh");
  // Positive controls: a watched socket and a watched name, in the same run.
  std::string watched_socket = dir.file("watched.sock");
  UnixListener watched_listener(watched_socket);
  std::string docker = fake_executable(dir, "docker");
  Agent agent({"--watch-socket", watched_socket});

  // TRIGGER
  auto connect = run_process({SW_TEST_CONNECT_BINARY, other_socket});
  ASSERT_EQ(connect.output, "ok\n");
  auto true_run = run_process({"/bin/true"});
  auto dockerd_run = run_process({dockerd});
  auto dockers_run = run_process({dockers});
  ASSERT_EQ(true_run.exit_code, 0);
  auto watched_connect = run_process({SW_TEST_CONNECT_BINARY, watched_socket});
  ASSERT_EQ(watched_connect.output, "ok\n");
  auto docker_run = run_process({docker});

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_EQ(events_of(out, watched_connect.pid, connect_action).size(), 1u) << out.log;
  EXPECT_EQ(events_of(out, docker_run.pid, exec_action).size(), 1u) << out.log;
  EXPECT_TRUE(events_of(out, connect.pid).empty());
  EXPECT_TRUE(events_of(out, true_run.pid).empty());
  EXPECT_TRUE(events_of(out, dockerd_run.pid).empty());
  EXPECT_TRUE(events_of(out, dockers_run.pid).empty());
  for (const auto &line : out.lines)
    EXPECT_EQ(line.find(other_socket), std::string::npos) << line;
}

TEST(Detection, FailedConnectsToWatchedPathsAreFailureEvents) {
  TempDir dir;
  std::string missing = dir.file("missing.sock");
  std::string refused = dir.file("refused.sock");
  UnixListener bound_not_listening(refused, /*listen_now=*/false);
  Agent agent({"--watch-socket", missing, "--watch-socket", refused});

  // TRIGGER
  auto enoent = run_process({SW_TEST_CONNECT_BINARY, missing});
  auto econnrefused = run_process({SW_TEST_CONNECT_BINARY, refused});
  ASSERT_EQ(enoent.output, "ENOENT\n");
  ASSERT_EQ(econnrefused.output, "ECONNREFUSED\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto a = events_of(out, enoent.pid, connect_action);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["event"]["outcome"], "failure");
  EXPECT_EQ(a[0]["error"]["code"], "ENOENT");
  EXPECT_EQ(a[0]["shimwatch"]["socket"]["path"], missing);

  auto b = events_of(out, econnrefused.pid, connect_action);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0]["event"]["outcome"], "failure");
  EXPECT_EQ(b[0]["error"]["code"], "ECONNREFUSED");
  EXPECT_EQ(b[0]["shimwatch"]["socket"]["path"], refused);
}

TEST(Detection, HostileArgvIsExactlyOneValidJsonLine) {
  TempDir dir;
  std::string docker = fake_executable(dir, "docker");
  const std::vector<std::string> argv = {docker,
                                         "ps",
                                         "line one\nline two\r\n",
                                         "\xff\xfe not utf-8 \xc0\xaf",
                                         "quote\" back\\slash",
                                         "tab\there",
                                         "ünïcødé 日本"};
  Agent agent;

  // TRIGGER
  auto run = run_process(argv);
  ASSERT_EQ(run.exit_code, 0);

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  ASSERT_TRUE(out.unparsable.empty()) << out.unparsable.front();
  auto events = events_of(out, run.pid, exec_action);
  ASSERT_EQ(events.size(), 1u);
  size_t lines_for_pid = 0;
  for (const auto &line : out.lines)
    if (line.find("\"pid\":" + std::to_string(run.pid) + ",") != std::string::npos)
      ++lines_for_pid;
  EXPECT_EQ(lines_for_pid, 1u);

  const json &args = events[0]["process"]["args"];
  ASSERT_EQ(args.size(), argv.size());
  EXPECT_EQ(args[2], "line one\nline two\r\n");
  EXPECT_EQ(args[3], "\xEF\xBF\xBD\xEF\xBF\xBD not utf-8 \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(args[4], "quote\" back\\slash");
  EXPECT_EQ(args[5], "tab\there");
  EXPECT_EQ(args[6], "ünïcødé 日本");
  EXPECT_EQ(events[0]["shimwatch"]["invalid_utf8"], true);
  // Not one byte lost: the exact argv is kept next to the readable one.
  std::string raw;
  for (const auto &a : argv)
    raw += a + std::string(1, '\0');
  EXPECT_EQ(decode_base64(events[0]["shimwatch"]["process"]["args_base64"]), raw);
}

TEST(Detection, ProcessGoneRightAfterConnectKeepsItsArgv) {
  TempDir dir;
  std::string socket = dir.file("fast.sock");
  UnixListener listener(socket);
  Agent agent({"--watch-socket", socket});

  // TRIGGER: the helper exits right after connect() returns, on our own
  // socket and on the real Docker socket.
  auto own = run_process({SW_TEST_CONNECT_BINARY, socket, "marker-own-socket"});
  auto real = run_process({SW_TEST_CONNECT_BINARY, "/var/run/docker.sock", "marker-docker"});
  ASSERT_EQ(own.output, "ok\n");
  ASSERT_EQ(real.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  for (const auto &[proc, path, marker] :
       {std::tuple{own, socket, "marker-own-socket"},
        std::tuple{real, std::string("/var/run/docker.sock"), "marker-docker"}}) {
    auto events = events_of(out, proc.pid, connect_action);
    ASSERT_EQ(events.size(), 1u) << marker;
    EXPECT_EQ(events[0]["process"]["args"], json::array({SW_TEST_CONNECT_BINARY, path, marker}));
    EXPECT_EQ(events[0]["process"]["executable"], SW_TEST_CONNECT_BINARY);
    EXPECT_EQ(events[0]["process"]["name"], "sw_test_connect");
    EXPECT_EQ(events[0]["event"]["outcome"], "success");
    EXPECT_EQ(events[0]["shimwatch"]["socket"]["path"], path);
  }
}

TEST(Detection, AddressInAPageNotYetTouchedIsStillReported) {
  TempDir dir;
  std::string socket = dir.file("cold.sock");
  UnixListener listener(socket);
  Agent agent({"--watch-socket", socket});

  // TRIGGER: at syscall entry the probe cannot read the address (the page
  // is not mapped yet); the kernel faults it in for the call itself.
  auto run = run_process({SW_TEST_CONNECT_BINARY, "--cold", socket, "cold-marker"});
  ASSERT_EQ(run.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto events = events_of(out, run.pid, connect_action);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["shimwatch"]["socket"]["path"], socket);
  EXPECT_EQ(events[0]["event"]["outcome"], "success");
  EXPECT_EQ(events[0]["process"]["args"],
            json::array({SW_TEST_CONNECT_BINARY, "--cold", socket, "cold-marker"}));
}

TEST(Detection, AbstractSocketsNeverMatchFilesystemPaths) {
  TempDir dir;
  const std::string name = "@shimwatch-test-" + std::to_string(getpid());
  const std::string path_like = "@" + dir.file("looks-like-a-path");
  UnixListener abstract_listener(name);
  UnixListener path_like_listener(path_like);
  // Watch the abstract name, and the filesystem path spelled like the second one.
  Agent agent({"--watch-socket", name, "--watch-socket", dir.file("looks-like-a-path")});

  // TRIGGER
  auto watched = run_process({SW_TEST_CONNECT_BINARY, name});
  auto unwatched = run_process({SW_TEST_CONNECT_BINARY, path_like});
  ASSERT_EQ(watched.output, "ok\n");
  ASSERT_EQ(unwatched.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto events = events_of(out, watched.pid, connect_action);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["shimwatch"]["socket"]["path"], name);
  EXPECT_EQ(events[0]["shimwatch"]["socket"]["abstract"], true);
  EXPECT_TRUE(events_of(out, unwatched.pid).empty());
}

TEST(Detection, LongExecNamesAreMatchedInFull) {
  TempDir dir;
  // Both share their first 15 bytes, all the kernel's comm can hold.
  std::string watched = fake_executable(dir, "docker-credential-test");
  std::string similar = fake_executable(dir, "docker-credentiXX-other");
  Agent agent({"--watch-exec", "docker-credential-test"});

  // TRIGGER
  auto a = run_process({watched, "get"});
  auto b = run_process({similar, "get"});

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto events = events_of(out, a.pid, exec_action);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["shimwatch"]["exec"]["path"], watched);
  EXPECT_EQ(events[0]["process"]["args"], json::array({watched, "get"}));
  EXPECT_TRUE(events_of(out, b.pid).empty());
}
