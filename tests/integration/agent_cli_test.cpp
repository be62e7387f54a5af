// The binary's own behaviour: start-up errors, check, version, outputs.
#include <gtest/gtest.h>
#include <algorithm>
#include <chrono>
#include <regex>
#include <sstream>
#include <thread>

#include "harness.hpp"

using namespace swtest;

namespace {

size_t count_lines(const std::string &text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

} // namespace

TEST(Cli, BadFlagIsOneLineAndExitCodeTwo) {
  // TRIGGER: `run` with a misspelt flag.
  auto r = run_shimwatch({"run", "--watch-sockets", "/x"});
  // ASSERT
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, "shimwatch: unknown option '--watch-sockets' for 'run' (see shimwatch "
                      "--help)\n");
}

TEST(Cli, BadConfigNamesTheKeyAndExitCodeTwo) {
  TempDir dir;
  write_file(dir.file("c.json"), R"({"output": {"fromat": "json"}})");
  // TRIGGER: a config with a misspelt key.
  auto r = run_shimwatch({"run", "--config", dir.file("c.json")});
  // ASSERT
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(count_lines(r.output), 1u) << r.output;
  EXPECT_NE(r.output.find("'output.fromat' is unknown"), std::string::npos) << r.output;

  // TRIGGER: a config with a relative socket path.
  write_file(dir.file("bad.json"), R"({"watch": {"sockets": ["relative.sock"]}})");
  r = run_shimwatch({"run", "--config", dir.file("bad.json")});
  // ASSERT
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("watch.sockets"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("relative.sock"), std::string::npos) << r.output;

  // TRIGGER: a config file that does not exist.
  r = run_shimwatch({"run", "--config", dir.file("absent.json")});
  // ASSERT
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("absent.json: cannot open the file"), std::string::npos) << r.output;
}

TEST(Cli, NotRootIsOneLineSayingWhatToDo) {
  // TRIGGER: `run` as nobody.
  auto r = run_process_as(65534, {SHIMWATCH_BINARY, "run"});
  // ASSERT
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(count_lines(r.output), 1u) << r.output;
  EXPECT_NE(r.output.find("run as root"), std::string::npos) << r.output;
}

TEST(Cli, CheckPassesOnThisNodeAndAttaches) {
  // TRIGGER: `check` as root.
  auto r = run_shimwatch({"check"});
  // ASSERT
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[ ok ] attach: loaded and attached "), std::string::npos) << r.output;
  // exec: on tp_btf where the kernel allows it, else the classic tracepoint.
  EXPECT_TRUE(r.output.find("tp_btf/sched_process_exec") != std::string::npos ||
              r.output.find("tracepoint/sched/sched_process_exec") != std::string::npos)
      << r.output;
  for (const char *point :
       {"tracepoint/syscalls/sys_enter_connect", "tracepoint/syscalls/sys_exit_connect",
        "tracepoint/sock/inet_sock_set_state"})
    EXPECT_NE(r.output.find(point), std::string::npos) << point << "\n" << r.output;
  EXPECT_EQ(r.output.find("[FAIL]"), std::string::npos) << r.output;
}

TEST(Cli, CheckAsNobodyFailsWithAFix) {
  // TRIGGER: `check` as nobody.
  auto r = run_process_as(65534, {SHIMWATCH_BINARY, "check"});
  // ASSERT
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("[FAIL] privileges"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fix: run as root"), std::string::npos) << r.output;
}

TEST(Cli, VersionAndHelp) {
  // TRIGGER: `version`.
  auto v = run_shimwatch({"version"});
  // ASSERT
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(std::regex_match(v.output, std::regex("shimwatch [0-9]+\\.[0-9]+\\.[0-9]+.*\n")))
      << v.output;
  // TRIGGER: `--help`.
  auto h = run_shimwatch({"--help"});
  // ASSERT
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.output.find("EXAMPLES"), std::string::npos);
}

TEST(Cli, PrintConfigShowsDefaultsAndFlags) {
  // TRIGGER: `run --print-config` with a flag.
  auto r = run_shimwatch({"run", "--print-config", "--watch-exec", "nerdctl"});
  // ASSERT
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto config = json::parse(r.output);
  EXPECT_EQ(config["watch"]["exec"], json::array({"docker", "docker-compose", "nerdctl"}));
  EXPECT_EQ(config["watch"]["sockets"], json::array({"/var/run/docker.sock", "/run/docker.sock"}));
  EXPECT_EQ(config["metrics"]["address"], "127.0.0.1:9464");
}

TEST(Outputs, LogFileGetsJsonLinesAndStdoutCanBeOff) {
  TempDir dir;
  std::string docker = fake_executable(dir, "docker");
  std::string log = dir.subdir("log") + "/audit.json";
  Agent agent({"--log-file", log, "--no-stdout"});

  // TRIGGER
  auto run = run_process({docker, "info"});

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_TRUE(out.lines.empty());
  std::string text = read_file(log);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  bool found = false;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    json e = json::parse(line); // every line must parse
    if (e["process"]["pid"] == run.pid) {
      found = true;
      EXPECT_EQ(e["process"]["args"], json::array({docker, "info"}));
    }
  }
  EXPECT_TRUE(found);
}

TEST(Outputs, TextFormatIsAlignedColumns) {
  TempDir dir;
  std::string docker = fake_executable(dir, "docker");
  Agent agent({"--format", "text", "--metrics-address", "off"}, /*default_output_flags=*/false);

  // TRIGGER
  auto run = run_process({docker, "images", "two\nlines"});

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  ASSERT_GE(out.lines.size(), 2u);
  EXPECT_EQ(out.lines[0].rfind("TIME(UTC)", 0), 0u) << out.lines[0];
  size_t target_column = out.lines[0].find("TARGET");
  bool found = false;
  for (const auto &line : out.lines) {
    if (line.find(" " + std::to_string(run.pid) + " ") == std::string::npos)
      continue;
    found = true;
    EXPECT_NE(line.find(" exec "), std::string::npos) << line;
    EXPECT_NE(line.find("two\\nlines"), std::string::npos) << line;
    EXPECT_EQ(line.find(docker), target_column) << line;
  }
  EXPECT_TRUE(found);
}

TEST(Outputs, MetricsEndpointCountsEvents) {
  TempDir dir;
  std::string docker = fake_executable(dir, "docker");
  int port = free_port();
  Agent agent({"--format", "json", "--metrics-address", "127.0.0.1:" + std::to_string(port)},
              /*default_output_flags=*/false);

  // TRIGGER
  for (int i = 0; i < 3; ++i)
    run_process({docker, "ps"});
  auto connect = run_process({SW_TEST_CONNECT_BINARY, "/run/docker.sock"});
  ASSERT_EQ(connect.output, "ok\n");

  // ASSERT: the counters are at least what this test caused (other
  // processes on the node may add to them, never subtract). The exec series
  // are summed: their origin labels depend on where the test runs.
  auto successful_execs = [](const std::string &text) {
    static const std::regex sample(R"(shimwatch_events_total\{action="docker-cli-exec",)"
                                   R"([^}]*outcome="success"[^}]*\} ([0-9]+))");
    int sum = 0;
    for (std::sregex_iterator it(text.begin(), text.end(), sample), end; it != end; ++it)
      sum += std::stoi((*it)[1]);
    return sum;
  };
  std::string body;
  for (int attempt = 0; attempt < 50; ++attempt) {
    body = http_get(port, "/metrics");
    if (successful_execs(body) >= 3)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(successful_execs(body), 3) << body;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(body, m, std::regex(R"(shimwatch_kernel_events_total ([0-9]+))")))
      << body;
  EXPECT_GE(std::stoi(m[1]), 4);
  EXPECT_NE(
      body.find("shimwatch_events_dropped_total{reason=\"ring_buffer_full\",stage=\"kernel\"} 0"),
      std::string::npos)
      << body;
  EXPECT_NE(body.find("shimwatch_build_info{"), std::string::npos);
  auto out = agent.stop();
  EXPECT_EQ(out.exit_code, 0) << out.log;
}
