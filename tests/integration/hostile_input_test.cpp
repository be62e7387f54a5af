// Hostile argv, names and cgroups, end to end through the real agent: each
// run of a fake `docker` is exactly one docker-cli-exec record, on stdout, in
// the log file and as one syslog frame, and every line is valid JSON.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <sys/types.h>
#include <vector>

#include "harness.hpp"
#include "rsyslog_peer.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using namespace swtest;

namespace {

const std::string exec_action = "docker-cli-exec";

// SW_ARGS_MAX (bpf/events.h): the argv bytes captured, each argument NUL terminated.
constexpr size_t args_capture_bytes = 4096;

struct TriggeredRun {
  std::string what;
  pid_t pid = -1;
  std::vector<std::string> argv;
};

// Every line of text, each of which must parse as JSON; the records of pid.
std::vector<json> records_of_pid(const std::string &text, pid_t pid, const std::string &where) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    json record = json::parse(line, nullptr, false);
    EXPECT_FALSE(record.is_discarded()) << where << ": not JSON: " << line.substr(0, 200);
    if (record.is_discarded() || !record.contains("process"))
      continue;
    if (record["process"]["pid"] == pid)
      out.push_back(std::move(record));
  }
  return out;
}

std::map<pid_t, std::vector<json>> syslog_records_by_pid(const std::vector<json> &received) {
  std::map<pid_t, std::vector<json>> out;
  for (const auto &r : received) {
    EXPECT_FALSE(r.contains("unparsable")) << r.dump().substr(0, 200);
    if (!r.contains("msg"))
      continue;
    json body = json::parse(r["msg"].get<std::string>(), nullptr, false);
    EXPECT_FALSE(body.is_discarded()) << "syslog MSG is not JSON: " << r.dump().substr(0, 200);
    if (body.is_object() && body.contains("process"))
      out[body["process"]["pid"].get<pid_t>()].push_back(std::move(body));
  }
  return out;
}

// The args the agent shows for argv: a prefix of it, every argument equal
// but the last captured one (a prefix of its original), within the capture.
void expect_truncated_prefix(const json &args, const std::vector<std::string> &argv,
                             const std::string &what) {
  ASSERT_TRUE(args.is_array()) << what;
  ASSERT_GE(args.size(), 1u) << what;
  ASSERT_LE(args.size(), argv.size()) << what;
  size_t bytes = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i].get<std::string>();
    bytes += arg.size() + (i + 1 < args.size() ? 1 : 0); // the cut argument has no NUL
    if (i + 1 < args.size())
      EXPECT_EQ(arg, argv[i]) << what << ": argument " << i;
    else
      EXPECT_EQ(argv[i].compare(0, arg.size(), arg), 0) << what << ": last argument " << i;
  }
  EXPECT_LE(bytes, args_capture_bytes) << what;
  EXPECT_GT(bytes, args_capture_bytes - 64) << what << ": the capture is used up";
}

TEST(HostileInput, EveryRunIsOneValidRecordInEveryOutput) {
  TempDir dir;
  std::string log = dir.subdir("log") + "/audit.json";
  std::string docker = fake_executable(dir, "docker");
  // An executable whose path has an ANSI colour escape and a newline, and a
  // parent whose comm has them: a terminal or a line-based log must not be
  // fooled by either.
  std::string odd_dir = dir.file("bin\x1b[31m\nred");
  ASSERT_EQ(run_process({"mkdir", odd_dir}).exit_code, 0);
  std::string odd_docker = copy_executable(dir, "/bin/true", "bin\x1b[31m\nred/docker");
  std::string odd_shell = copy_executable(dir, "/bin/sh", "sh\x1b[2J\x07\n");

  // A cgroup whose name is at the kernel's limit (NAME_MAX, 255 bytes).
  std::string long_name = "hostile-" + std::string(255 - 8 - 8, 'c') + ".service";
  ASSERT_EQ(long_name.size(), 255u);
  TestCgroup long_cgroup("system.slice/" + long_name);

  RsyslogPeer peer;
  Agent agent({"--no-dedupe", "--log-file", log, "--syslog", peer.tcp_url()});

  // TRIGGER
  std::vector<TriggeredRun> runs;
  auto run = [&](const std::string &what, std::vector<std::string> argv) {
    auto result = run_process(argv);
    EXPECT_EQ(result.exit_code, 0) << what << ": " << result.output;
    runs.push_back({what, result.pid, std::move(argv)});
  };
  run("control characters", {docker, "ps", "\xff\xfe\xc0\xaf bad utf-8", "crlf\r\n",
                             "tab\tand\x1b[31mescape\x1b[0m", "bell\x07 del\x7f"});
  // The kernel's limit for one argument: 128 KiB with its NUL (MAX_ARG_STRLEN).
  run("128 KiB argument", {docker, "run", std::string(128 * 1024 - 1, 'A')});
  std::vector<std::string> many = {docker};
  for (int i = 1; i < 10000; ++i)
    many.push_back("arg" + std::to_string(i));
  run("10 000 arguments", many);
  run("control characters in the path", {odd_docker, "version"});

  auto in_cgroup = run_process_in_cgroup(long_cgroup.path(), {docker, "info"});
  EXPECT_EQ(in_cgroup.exit_code, 0) << in_cgroup.output;
  runs.push_back({"255-byte cgroup name", in_cgroup.pid, {docker, "info"}});

  // The shell's child is the docker process: its parent comm is odd.
  // "; true": the shell forks docker rather than exec'ing it in its place.
  auto shell = run_process({odd_shell, "-c", docker + " images; true"});
  EXPECT_EQ(shell.exit_code, 0) << shell.output;

  ASSERT_TRUE(wait_for(
      [&] {
        auto by_pid = syslog_records_by_pid(peer.received());
        for (const auto &r : runs)
          if (by_pid[r.pid].empty())
            return false;
        return true;
      },
      15s))
      << peer.diagnostics();

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_TRUE(out.unparsable.empty()) << out.unparsable.front().substr(0, 200);
  std::string log_text = read_file(log);
  peer.stop();
  auto syslog_by_pid = syslog_records_by_pid(peer.received());

  std::map<std::string, json> record_of;
  for (const auto &r : runs) {
    SCOPED_TRACE(r.what);
    auto events = events_of(out, r.pid, exec_action);
    ASSERT_EQ(events.size(), 1u);
    size_t stdout_lines = 0;
    for (const auto &line : out.lines)
      if (line.find("\"pid\":" + std::to_string(r.pid) + ",") != std::string::npos)
        ++stdout_lines;
    EXPECT_EQ(stdout_lines, 1u);
    auto logged = records_of_pid(log_text, r.pid, "log file");
    ASSERT_EQ(logged.size(), 1u);
    EXPECT_EQ(logged[0], events[0]);
    ASSERT_EQ(syslog_by_pid[r.pid].size(), 1u);
    EXPECT_EQ(syslog_by_pid[r.pid][0], events[0]);
    EXPECT_EQ(events[0]["process"]["args_count"], events[0]["process"]["args"].size());
    record_of[r.what] = events[0];
  }

  {
    const json &e = record_of["control characters"];
    const json &args = e["process"]["args"];
    ASSERT_EQ(args.size(), 6u);
    EXPECT_EQ(args[2], "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD bad utf-8");
    EXPECT_EQ(args[3], "crlf\r\n");
    EXPECT_EQ(args[4], "tab\tand\x1b[31mescape\x1b[0m");
    EXPECT_EQ(args[5], "bell\x07 del\x7f");
    EXPECT_EQ(e["shimwatch"]["invalid_utf8"], true);
    EXPECT_TRUE(e["shimwatch"]["process"].contains("args_base64"));
    EXPECT_FALSE(e["shimwatch"]["process"].contains("args_truncated"));
  }
  {
    const json &e = record_of["128 KiB argument"];
    EXPECT_EQ(e["shimwatch"]["process"]["args_truncated"], true);
    expect_truncated_prefix(e["process"]["args"], runs[1].argv, "128 KiB argument");
    EXPECT_FALSE(e["shimwatch"].contains("invalid_utf8"));
  }
  {
    const json &e = record_of["10 000 arguments"];
    EXPECT_EQ(e["shimwatch"]["process"]["args_truncated"], true);
    expect_truncated_prefix(e["process"]["args"], runs[2].argv, "10 000 arguments");
    EXPECT_GT(e["process"]["args"].size(), 100u);
  }
  {
    const json &e = record_of["control characters in the path"];
    EXPECT_EQ(e["process"]["executable"], odd_docker);
    EXPECT_EQ(e["shimwatch"]["exec"]["path"], odd_docker);
    EXPECT_EQ(e["process"]["name"], "docker");
  }
  {
    const json &e = record_of["255-byte cgroup name"];
    std::string path = e["shimwatch"]["cgroup"]["path"];
    EXPECT_EQ(path, "/system.slice/" + long_name);
    EXPECT_EQ(e["shimwatch"]["origin"]["type"], "systemd_unit") << e.dump();
    EXPECT_EQ(e["shimwatch"]["origin"]["unit"], long_name);
  }

  // The shell's docker child: found by its parent, the shell.
  std::vector<json> under_shell;
  for (const auto &e : out.events)
    if (e.contains("process") && e["process"]["parent"]["pid"] == shell.pid &&
        e["event"]["action"] == exec_action)
      under_shell.push_back(e);
  ASSERT_EQ(under_shell.size(), 1u);
  // comm is the first 15 bytes of the shell's basename, control characters included.
  EXPECT_EQ(under_shell[0]["process"]["parent"]["name"], "sh\x1b[2J\x07\n");
  auto logged = records_of_pid(log_text, under_shell[0]["process"]["pid"].get<pid_t>(), "log file");
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0], under_shell[0]);

  // One line per record in the log file: no argument split one.
  size_t log_lines = 0;
  for (char c : log_text)
    log_lines += c == '\n';
  size_t records = 0;
  for (const auto &line : out.lines)
    records += !line.empty();
  EXPECT_EQ(log_lines, records);
}

} // namespace
