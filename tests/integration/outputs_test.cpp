// The agent's outputs together, with real peers: syslog forwarding from the
// agent to a real rsyslogd over UDP, TCP and TLS; de-duplication of repeats
// with exact counters; a full disk under the log file while syslog keeps
// flowing; a stdout nobody reads, which must stall neither the log file nor
// the agent's exit.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "harness.hpp"
#include "rsyslog_peer.hpp"

using namespace std::chrono_literals;
using namespace swtest;
using nlohmann::json;

namespace {

std::vector<std::string> lines_of(const std::string &text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

// The JSON body of each syslog message from the agent, by process.pid.
std::map<uint32_t, std::vector<json>> syslog_events_by_pid(const std::vector<json> &received) {
  std::map<uint32_t, std::vector<json>> out;
  for (const auto &r : received) {
    if (!r.contains("msg"))
      continue;
    json body = json::parse(r["msg"].get<std::string>(), nullptr, false);
    if (body.is_object() && body.contains("process"))
      out[body["process"]["pid"].get<uint32_t>()].push_back(r);
  }
  return out;
}

// The agent forwards every event to rsyslog once, as one message whose MSG is
// byte for byte the JSON line it printed, newlines in argv included.
void forwards_every_event_once(const std::string &transport) {
  RsyslogPeerOptions peer_options;
  peer_options.tls = transport == "tls";
  RsyslogPeer peer(peer_options);
  std::vector<std::string> flags = {"--syslog", transport == "udp"   ? peer.udp_url()
                                                : transport == "tcp" ? peer.tcp_url()
                                                                     : peer.tls_url()};
  if (transport == "tls")
    flags.insert(flags.end(), {"--syslog-ca-file", peer.ca_file()});
  TempDir dir;
  std::string docker = fake_executable(dir, "docker");
  Agent agent(flags);

  // TRIGGER: five CLI calls whose arguments hold line breaks, tabs and quotes.
  std::vector<pid_t> pids;
  for (int i = 0; i < 5; ++i)
    pids.push_back(run_process({docker, "exec", "web", "sh", "-c",
                                "echo one\necho \"two\"\t\\ " + transport + std::to_string(i)})
                       .pid);
  // ASSERT
  auto out = agent.stop(); // drains the syslog queue before it exits
  ASSERT_EQ(out.exit_code, 0) << out.log;
  peer.stop(); // rsyslogd writes what it received before it exits

  auto by_pid = syslog_events_by_pid(peer.received());
  for (size_t n = 0; n < pids.size(); ++n) {
    pid_t pid = pids[n];
    std::string printed;
    for (size_t i = 0; i < out.events.size(); ++i)
      if (out.events[i]["process"]["pid"] == pid)
        printed = out.lines[i];
    ASSERT_FALSE(printed.empty()) << "no stdout event for pid " << pid;
    ASSERT_EQ(by_pid[pid].size(), 1u) << "pid " << pid << "\n" << peer.diagnostics();
    const json &message = by_pid[pid][0];
    EXPECT_EQ(message["msg"], printed);
    EXPECT_EQ(message["msgid"], "docker-cli-exec");
    EXPECT_EQ(message["app"], "shimwatch");
    json body = json::parse(message["msg"].get<std::string>());
    EXPECT_EQ(body["process"]["args"][5],
              "echo one\necho \"two\"\t\\ " + transport + std::to_string(n));
  }
  EXPECT_NE(out.log.find("events sent to " + flags[1]), std::string::npos) << out.log;
}

} // namespace

TEST(AgentSyslog, UdpForwardsEveryEventOnceIntact) {
  forwards_every_event_once("udp");
}

TEST(AgentSyslog, TcpForwardsEveryEventOnceIntact) {
  forwards_every_event_once("tcp");
}

TEST(AgentSyslog, TlsForwardsEveryEventOnceIntact) {
  forwards_every_event_once("tls");
}

TEST(AgentSyslog, BadUrlOrTlsFilesWithoutTlsStopTheStartWithExitTwo) {
  // TRIGGER: `run` with a syslog URL of another scheme.
  auto bad_scheme = run_shimwatch({"run", "--syslog", "http://collector:514"});
  // ASSERT
  EXPECT_EQ(bad_scheme.exit_code, 2);
  EXPECT_NE(bad_scheme.output.find("output.syslog.url"), std::string::npos) << bad_scheme.output;
  // TRIGGER: a CA file for a plain TCP URL.
  auto ca_without_tls =
      run_shimwatch({"run", "--syslog", "tcp://127.0.0.1:514", "--syslog-ca-file", "/etc/hosts"});
  // ASSERT
  EXPECT_EQ(ca_without_tls.exit_code, 2);
  EXPECT_NE(ca_without_tls.output.find("is not TLS"), std::string::npos) << ca_without_tls.output;
  // TRIGGER: a CA file that does not exist.
  auto missing_ca = run_shimwatch({"run", "--no-pin", "--syslog", "tls://127.0.0.1:6514",
                                   "--syslog-ca-file", "/nonexistent/ca.pem"});
  // ASSERT
  EXPECT_EQ(missing_ca.exit_code, 2);
  EXPECT_NE(missing_ca.output.find("/nonexistent/ca.pem"), std::string::npos) << missing_ca.output;
}

// A poller running the same command again and again: the first call is
// written in full, the repeats within the window become one summary record,
// and the Prometheus counter still counts every call.
TEST(Dedupe, RepeatsFoldIntoOneSummaryWhileCountersStayExact) {
  TempDir dir;
  std::string docker = fake_executable(dir, "docker");
  TestCgroup unit("system.slice/shimwatch-dedupe-poller.service");
  int port = free_port();
  Agent agent({"--format", "json", "--metrics-address", "127.0.0.1:" + std::to_string(port),
               "--dedupe-window-seconds", "2"},
              /*default_output_flags=*/false);

  // TRIGGER: the same CLI call five times from one unit.
  std::vector<pid_t> pids;
  for (int i = 0; i < 5; ++i)
    pids.push_back(
        run_process_in_cgroup(unit.path(), {docker, "ps", "--filter", "label=poll"}).pid);

  // ASSERT
  // The summary goes out when the window ends, while the agent runs.
  std::string stdout_path = agent.dir() + "/stdout";
  EXPECT_TRUE(wait_for(
      [&] { return read_file(stdout_path).find("\"repeat\"") != std::string::npos; }, 10s));
  std::string body = http_get(port, "/metrics");
  EXPECT_EQ(metric_sum(body, "shimwatch_events_total", "unit=\"shimwatch-dedupe-poller.service\""),
            5)
      << body;
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;

  std::vector<json> records;
  for (const auto &e : out.events)
    if (e["shimwatch"]["origin"].value("unit", "") == "shimwatch-dedupe-poller.service")
      records.push_back(e);
  ASSERT_EQ(records.size(), 2u) << out.log;
  EXPECT_EQ(records[0]["process"]["pid"], pids[0]);
  EXPECT_FALSE(records[0]["shimwatch"].contains("repeat"));
  const json &repeat = records[1]["shimwatch"]["repeat"];
  EXPECT_EQ(repeat["count"], 4);
  EXPECT_EQ(repeat["window_seconds"], 2);
  EXPECT_LE(repeat["first_seen"].get<std::string>(), repeat["last_seen"].get<std::string>());
  EXPECT_GT(repeat["first_seen"].get<std::string>(), records[0]["@timestamp"].get<std::string>());
  EXPECT_EQ(records[1]["@timestamp"], repeat["last_seen"]);
  EXPECT_EQ(records[1]["event"]["action"], "docker-cli-exec");
  EXPECT_EQ(records[1]["process"]["args"], json({docker, "ps", "--filter", "label=poll"}));
}

TEST(Dedupe, NoDedupeWritesEveryEvent) {
  TempDir dir;
  std::string docker = fake_executable(dir, "docker");
  TestCgroup unit("system.slice/shimwatch-nodedupe-poller.service");
  Agent agent({"--format", "json", "--metrics-address", "off", "--no-dedupe"},
              /*default_output_flags=*/false);
  // TRIGGER: the same CLI call five times from one unit.
  for (int i = 0; i < 5; ++i)
    run_process_in_cgroup(unit.path(), {docker, "ps"});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  int full = 0;
  for (const auto &e : out.events)
    if (e["shimwatch"]["origin"].value("unit", "") == "shimwatch-nodedupe-poller.service") {
      EXPECT_FALSE(e["shimwatch"].contains("repeat"));
      ++full;
    }
  EXPECT_EQ(full, 5);
  EXPECT_NE(out.log.find("dedupe off"), std::string::npos) << out.log;
}

namespace {

// A small tmpfs, unmounted at destruction.
class SmallDisk {
public:
  SmallDisk(const std::string &path, const std::string &size) : path_(path) {
    mkdir(path.c_str(), 0700);
    if (mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0)
      throw std::runtime_error("mount tmpfs " + path + ": " + std::strerror(errno));
  }
  ~SmallDisk() { umount2(path_.c_str(), MNT_DETACH); }
  SmallDisk(const SmallDisk &) = delete;
  SmallDisk &operator=(const SmallDisk &) = delete;

private:
  std::string path_;
};

} // namespace

// The disk under the log file fills up: the log file counts what it loses
// and says so once, syslog and the agent go on; once there is room again a
// gap record leads the next lines, and no line in the file is torn.
TEST(FullDisk, LogFileCountsItsLossesWhileSyslogKeepsFlowing) {
  TempDir dir;
  std::string disk = dir.file("disk");
  SmallDisk small(disk, "256k");
  std::string log = disk + "/audit.json";
  std::string docker = fake_executable(dir, "docker");
  RsyslogPeer peer;
  int port = free_port();
  Agent agent({"--format", "json", "--metrics-address", "127.0.0.1:" + std::to_string(port),
               "--no-dedupe", "--log-file", log, "--syslog", peer.tcp_url()},
              /*default_output_flags=*/false);

  // TRIGGER: a CLI call.
  pid_t before = run_process({docker, "before-full"}).pid;
  // ASSERT
  ASSERT_TRUE(
      wait_for([&] { return read_file(log).find("before-full") != std::string::npos; }, 5s));
  // TRIGGER: the disk fills up (dd stops with "No space left on device"), then ten CLI calls.
  run_process({"dd", "if=/dev/zero", "of=" + disk + "/filler", "bs=64k"});

  std::vector<pid_t> during;
  for (int i = 0; i < 10; ++i)
    during.push_back(run_process({docker, "while-full-" + std::to_string(i)}).pid);
  // ASSERT
  ASSERT_TRUE(wait_for(
      [&] {
        auto by_pid = syslog_events_by_pid(peer.received());
        for (pid_t pid : during)
          if (by_pid[pid].empty())
            return false;
        return true;
      },
      10s))
      << "syslog stopped flowing while the disk was full\n"
      << peer.diagnostics();
  // The last page of the file may still hold a record or two; the rest is
  // lost, and counted.
  int written_while_full = 0;
  for (int i = 0; i < 10; ++i)
    written_while_full +=
        read_file(log).find("\"while-full-" + std::to_string(i) + "\"") != std::string::npos;
  ASSERT_LE(written_while_full, 3);
  std::string body;
  EXPECT_TRUE(wait_for(
      [&] {
        body = http_get(port, "/metrics");
        return metric_sum(body, "shimwatch_events_dropped_total",
                          "reason=\"write_failed\",stage=\"log_file\"") >= 10 - written_while_full;
      },
      5s))
      << body;
  EXPECT_GE(metric_sum(body, "shimwatch_output_errors_total", "output=\"log_file\""), 1) << body;

  // TRIGGER: room again; a CLI call.
  ASSERT_EQ(unlink((disk + "/filler").c_str()), 0);
  pid_t after = run_process({docker, "after-full"}).pid;
  // ASSERT
  ASSERT_TRUE(wait_for([&] { return read_file(log).find("after-full") != std::string::npos; }, 5s));
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;

  std::vector<json> records;
  for (const auto &line : lines_of(read_file(log))) {
    json record = json::parse(line, nullptr, false);
    ASSERT_FALSE(record.is_discarded()) << "torn line in the log file: " << line;
    records.push_back(record);
  }
  int gap_at = -1, before_at = -1, after_at = -1;
  for (size_t i = 0; i < records.size(); ++i) {
    const json &r = records[i];
    if (r["event"]["action"] == "shimwatch-gap" && gap_at < 0)
      gap_at = static_cast<int>(i);
    else if (r.contains("process") && r["process"]["pid"] == before)
      before_at = static_cast<int>(i);
    else if (r.contains("process") && r["process"]["pid"] == after)
      after_at = static_cast<int>(i);
  }
  ASSERT_GE(gap_at, 0) << read_file(log);
  EXPECT_LT(before_at, gap_at);
  EXPECT_LT(gap_at, after_at);
  const json &gap = records[gap_at]["shimwatch"]["gap"];
  EXPECT_EQ(gap["stage"], "log_file");
  EXPECT_EQ(gap["destination"], log);
  EXPECT_GE(gap["write_failed"].get<int>(), 10 - written_while_full);
  EXPECT_EQ(gap["dropped"], gap["write_failed"]);

  // Logged once for the episode, and once when it worked again.
  size_t failures = 0;
  for (size_t at = out.log.find("writing failed"); at != std::string::npos;
       at = out.log.find("writing failed", at + 1))
    ++failures;
  EXPECT_EQ(failures, 1u) << out.log;
  EXPECT_NE(out.log.find("writing works again"), std::string::npos) << out.log;

  // Syslog had every event, before, during and after.
  peer.stop();
  auto by_pid = syslog_events_by_pid(peer.received());
  EXPECT_EQ(by_pid[before].size(), 1u);
  EXPECT_EQ(by_pid[after].size(), 1u);
  for (pid_t pid : during)
    EXPECT_EQ(by_pid[pid].size(), 1u) << pid;
}

// stdout is a pipe nobody reads: its output thread blocks in write(2) for
// good. The log file still gets every event, the losses of stdout are
// counted, and the agent still exits promptly when asked to.
TEST(SlowOutput, StdoutNobodyReadsStallsNeitherTheLogFileNorTheExit) {
  TempDir dir;
  std::string docker = fake_executable(dir, "docker");
  std::string log = dir.subdir("log") + "/audit.json";
  std::string err_path = dir.file("stderr");
  int port = free_port();
  int read_end = -1;
  pid_t agent = start_agent_with_stalled_stdout(
      {"--no-pin", "--format", "json", "--no-dedupe", "--metrics-address",
       "127.0.0.1:" + std::to_string(port), "--log-file", log, "--output-queue-size", "64"},
      err_path, read_end);
  ASSERT_TRUE(
      wait_for([&] { return read_file(err_path).find(" ready: ") != std::string::npos; }, 30s))
      << read_file(err_path);

  // TRIGGER: ~4 KiB of argv per event: the 64 KiB pipe is full after a dozen.
  std::string padding(4000, 'p');
  std::vector<pid_t> pids;
  for (int i = 0; i < 200; ++i)
    pids.push_back(run_process({docker, "stuck-stdout-" + std::to_string(i), padding}).pid);
  // ASSERT
  EXPECT_TRUE(wait_for(
      [&] {
        std::string text = read_file(log);
        return text.find("stuck-stdout-199") != std::string::npos;
      },
      10s));
  std::string text = read_file(log);
  for (int i = 0; i < 200; ++i)
    EXPECT_NE(text.find("\"stuck-stdout-" + std::to_string(i) + "\""), std::string::npos) << i;
  std::string body;
  EXPECT_TRUE(wait_for(
      [&] {
        body = http_get(port, "/metrics");
        return metric_sum(body, "shimwatch_events_dropped_total",
                          "reason=\"stdout\",stage=\"queue\"") > 0;
      },
      5s))
      << body;

  // TRIGGER: SIGTERM to the agent.
  auto asked = std::chrono::steady_clock::now();
  kill(agent, SIGTERM);
  // ASSERT
  int status = 0;
  bool exited = wait_for([&] { return waitpid(agent, &status, WNOHANG) == agent; }, 20s);
  if (!exited) {
    kill(agent, SIGKILL);
    waitpid(agent, &status, 0);
  }
  close(read_end);
  ASSERT_TRUE(exited) << "the agent did not exit with a stuck stdout\n" << read_file(err_path);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 15s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(err_path);
  std::string log_text = read_file(err_path);
  EXPECT_NE(log_text.find("output stdout fell behind"), std::string::npos) << log_text;
  EXPECT_NE(log_text.find("output stdout is stuck"), std::string::npos) << log_text;
}
