// The audit log file under crashes and logrotate, with the real agent.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <sstream>
#include <sys/wait.h>
#include <thread>

#include "harness.hpp"

using namespace swtest;

namespace {

std::vector<std::string> lines_of(const std::string &path) {
  std::vector<std::string> out;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

} // namespace

TEST(LogFileOutput, KillNineMidStreamLeavesOnlyWholeLines) {
  TempDir dir;
  std::string docker = fake_executable(dir, "docker");
  std::string log = dir.subdir("log") + "/audit.json";
  std::string script = dir.file("storm.sh");
  write_file(script, "while :; do " + docker + " ps \"$(printf 'a\\nb')\"; done\n", 0755);
  auto agent = std::make_unique<Agent>(std::vector<std::string>{"--log-file", log, "--no-stdout"});

  // TRIGGER: a steady stream of events, then the agent dies without warning.
  pid_t storm = fork();
  if (storm == 0) {
    execl("/bin/sh", "sh", script.c_str(), static_cast<char *>(nullptr));
    _exit(127);
  }
  ASSERT_TRUE(wait_for([&] { return lines_of(log).size() >= 50; }, std::chrono::seconds(30)));
  kill(agent->pid(), SIGKILL);
  agent->stop();
  kill(storm, SIGKILL);
  waitpid(storm, nullptr, 0);

  // ASSERT: every line that is in the file is whole...
  auto before = lines_of(log);
  ASSERT_GE(before.size(), 50u);
  size_t parsed = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    bool last = i + 1 == before.size();
    if (json::accept(before[i]))
      ++parsed;
    else // only a cut last record can fail, and only without its newline
      EXPECT_TRUE(last && read_file(log).back() != '\n') << "line " << i << ": " << before[i];
  }
  EXPECT_GE(parsed, 50u);

  // ...and a restarted agent cuts a torn tail before appending.
  Agent restarted({"--log-file", log, "--no-stdout"});
  auto run = run_process({docker, "version"});
  restarted.stop();
  auto after = lines_of(log);
  for (const auto &line : after)
    EXPECT_TRUE(json::accept(line)) << line;
  EXPECT_EQ(json::parse(after.back())["process"]["pid"], run.pid);
}

TEST(LogFileOutput, SighupReopensAfterLogrotateMovedTheFile) {
  TempDir dir;
  std::string docker = fake_executable(dir, "docker");
  std::string log = dir.subdir("log") + "/audit.json";
  Agent agent({"--log-file", log, "--no-stdout"});

  // TRIGGER
  auto first = run_process({docker, "ps"});
  ASSERT_TRUE(wait_for([&] { return lines_of(log).size() >= 1; }, std::chrono::seconds(10)));
  std::filesystem::rename(log, log + ".1");
  kill(agent.pid(), SIGHUP);
  ASSERT_TRUE(wait_for([&] { return std::filesystem::exists(log); }, std::chrono::seconds(10)));
  auto second = run_process({docker, "images"});

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  // Other processes on the node may add lines of their own: count ours.
  auto count_of = [](const std::vector<std::string> &lines, pid_t pid) {
    int n = 0;
    for (const auto &line : lines)
      n += json::parse(line)["process"]["pid"] == pid;
    return n;
  };
  auto old_lines = lines_of(log + ".1");
  auto new_lines = lines_of(log);
  EXPECT_EQ(count_of(old_lines, first.pid), 1);
  EXPECT_EQ(count_of(old_lines, second.pid), 0);
  EXPECT_EQ(count_of(new_lines, second.pid), 1);
  EXPECT_EQ(count_of(new_lines, first.pid), 0);
}

TEST(LogFileOutput, RotatesBySize) {
  TempDir dir;
  std::string docker = fake_executable(dir, "docker");
  std::string log = dir.subdir("log") + "/audit.json";
  // 0 MiB would mean never: use the smallest real size and many events.
  Agent agent({"--log-file", log, "--no-stdout", "--log-max-mib", "1", "--log-keep", "2"});
  // TRIGGER: 400 CLI calls of 3 KB of arguments each.
  std::string big(3000, 'x');
  for (int i = 0; i < 400; ++i)
    run_process({docker, "run", big});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_TRUE(std::filesystem::exists(log + ".1"));
  for (const auto &p : {log, log + ".1"}) {
    EXPECT_LE(std::filesystem::file_size(p), 1024u * 1024u) << p;
    for (const auto &line : lines_of(p))
      EXPECT_TRUE(json::accept(line)) << line;
  }
}
