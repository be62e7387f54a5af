// Exclusions with the real agent: a watched call from a process that matches
// an exclude rule (the runtimes' executables by default, units from a config
// file) is left out and counted in shimwatch_events_excluded_total{rule}.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace std::chrono_literals;
using namespace swtest;
using nlohmann::json;

namespace {

const std::string docker_socket = "/var/run/docker.sock";
const std::string socket_action = "docker-socket-connect";

// The value of one series in a Prometheus text page; -1 when it is absent.
double series_value(const std::string &page, const std::string &series) {
  return sample_value(page, series).value_or(-1);
}

// A config file with text, in dir.
std::string config_file(const TempDir &dir, const std::string &text) {
  std::string path = dir.file("config.json");
  write_file(path, text);
  return path;
}

} // namespace

TEST(Exclusion, DockerdByNameIsExcludedByDefault) {
  TempDir dir;
  // The daemon's binary where a package would put it: only root writes there.
  TrustedDir installed;
  std::string fake_dockerd = installed.install(SW_TEST_CONNECT_BINARY, "dockerd");
  Agent agent;

  // TRIGGER: dockerd and another program connect to the Docker socket.
  auto excluded = run_process({fake_dockerd, docker_socket});
  ASSERT_EQ(excluded.output, "ok\n");
  auto reported = run_process({SW_TEST_CONNECT_BINARY, docker_socket});
  ASSERT_EQ(reported.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_TRUE(events_of(out, excluded.pid).empty()) << out.log;
  auto found = events_of(out, reported.pid);
  ASSERT_EQ(found.size(), 1u) << out.log;
  EXPECT_EQ(found[0]["event"]["action"], socket_action);
  EXPECT_EQ(found[0]["process"]["executable"], SW_TEST_CONNECT_BINARY);
}

TEST(Exclusion, AnEmptyExecutablesListReportsDockerd) {
  TempDir dir;
  // The daemon's binary where a package would put it: only root writes there.
  TrustedDir installed;
  std::string fake_dockerd = installed.install(SW_TEST_CONNECT_BINARY, "dockerd");
  std::string config = config_file(dir, R"({"exclude": {"executables": []}})");
  Agent agent({"--config", config});

  // TRIGGER: dockerd connects to the Docker socket.
  auto run = run_process({fake_dockerd, docker_socket});
  ASSERT_EQ(run.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto found = events_of(out, run.pid);
  ASSERT_EQ(found.size(), 1u) << out.log;
  EXPECT_EQ(found[0]["event"]["action"], socket_action);
  EXPECT_EQ(found[0]["process"]["name"], "dockerd");
  EXPECT_EQ(found[0]["process"]["executable"], fake_dockerd);
}

TEST(Exclusion, ExcludedConnectsAreCountedByRule) {
  TempDir dir;
  // The daemon's binary where a package would put it: only root writes there.
  TrustedDir installed;
  std::string fake_dockerd = installed.install(SW_TEST_CONNECT_BINARY, "dockerd");
  int port = free_port();
  Agent agent(
      {"--format", "json", "--no-dedupe", "--metrics-address", "127.0.0.1:" + std::to_string(port)},
      false);
  const std::string series = R"(shimwatch_events_excluded_total{rule="executable:dockerd"})";
  std::string before = http_get(port, "/metrics");
  ASSERT_NE(before.find("shimwatch_events_excluded_total"), std::string::npos) << before;
  double start = std::max(0.0, series_value(before, series));

  // TRIGGER: dockerd connects twice.
  for (int i = 0; i < 2; ++i) {
    auto run = run_process({fake_dockerd, docker_socket});
    ASSERT_EQ(run.output, "ok\n");
  }

  // ASSERT
  std::string page;
  bool counted = wait_for(
      [&] {
        page = http_get(port, "/metrics");
        return series_value(page, series) >= start + 2;
      },
      5s);
  EXPECT_TRUE(counted) << page;
  EXPECT_EQ(series_value(page, series), start + 2) << page;

  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  for (const auto &e : out.events)
    EXPECT_NE(e["process"]["executable"], fake_dockerd) << e.dump();
}

TEST(Exclusion, UnitRuleFromAConfigFile) {
  TempDir dir;
  TestCgroup backup("system.slice/backup-nightly.service");
  TestCgroup other("system.slice/other-job.service");
  std::string config = config_file(dir, R"({"exclude": {"units": ["backup-*.service"]}})");
  Agent agent({"--config", config});

  // TRIGGER: a connect from the excluded unit and one from another.
  auto excluded = run_process_in_cgroup(backup.path(), {SW_TEST_CONNECT_BINARY, docker_socket});
  ASSERT_EQ(excluded.output, "ok\n");
  auto reported = run_process_in_cgroup(other.path(), {SW_TEST_CONNECT_BINARY, docker_socket});
  ASSERT_EQ(reported.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_TRUE(events_of(out, excluded.pid).empty()) << out.log;
  auto found = events_of(out, reported.pid);
  ASSERT_EQ(found.size(), 1u) << out.log;
  EXPECT_EQ(found[0]["event"]["action"], socket_action);
  EXPECT_EQ(found[0]["shimwatch"]["origin"]["type"], "systemd_unit");
  EXPECT_EQ(found[0]["shimwatch"]["origin"]["unit"], "other-job.service");
}

// A units list in the file leaves the default executables in place: only
// the key present replaces its default.
TEST(Exclusion, AUnitsKeyKeepsTheDefaultExecutables) {
  TempDir dir;
  // The daemon's binary where a package would put it: only root writes there.
  TrustedDir installed;
  std::string fake_dockerd = installed.install(SW_TEST_CONNECT_BINARY, "dockerd");
  std::string config = config_file(dir, R"({"exclude": {"units": ["backup-*.service"]}})");
  Agent agent({"--config", config});

  // TRIGGER: dockerd and another program connect to the Docker socket.
  auto run = run_process({fake_dockerd, docker_socket});
  ASSERT_EQ(run.output, "ok\n");
  auto control = run_process({SW_TEST_CONNECT_BINARY, docker_socket});
  ASSERT_EQ(control.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_TRUE(events_of(out, run.pid).empty()) << out.log;
  EXPECT_EQ(events_of(out, control.pid).size(), 1u) << out.log;
}
