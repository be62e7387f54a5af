// Once its probes are attached the agent keeps only what reading the node
// needs: BPF map access, other processes' executables, files whatever their
// mode. Every thread, including the output and metrics threads started
// later, runs with that set.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fstream>
#include <sys/stat.h>
#include <linux/capability.h>
#include <string>
#include <vector>

#include "harness.hpp"
#include "test_files.hpp"

#include <chrono>
#include <thread>

using namespace swtest;

namespace {

constexpr int kCapBpf = 39;

// A field of a status file, which must be there.
std::string status_line(const std::string &status_file, const std::string &field) {
  auto value = status_field(status_file, field);
  if (!value)
    ADD_FAILURE() << field << " not in " << status_file;
  return value.value_or("");
}

uint64_t status_mask(const std::string &status_file, const std::string &field) {
  auto value = status_field(status_file, field);
  if (!value) {
    ADD_FAILURE() << field << " not in " << status_file;
    return ~uint64_t{0};
  }
  return std::stoull(*value, nullptr, 16);
}

std::vector<std::string> thread_status_files(pid_t pid) {
  std::vector<std::string> files;
  std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  if (DIR *dir = opendir(tasks.c_str())) {
    while (dirent *entry = readdir(dir))
      if (entry->d_name[0] != '.')
        files.push_back(tasks + "/" + entry->d_name + "/status");
    closedir(dir);
  }
  return files;
}

uint64_t bit(int capability) {
  return uint64_t{1} << capability;
}

} // namespace

TEST(Privileges, EveryThreadKeepsOnlyWhatReadingTheNodeNeeds) {
  const uint64_t before = status_mask("/proc/self/status", "CapEff");
  ASSERT_NE(before & bit(kCapBpf), 0u) << "the test runs without CAP_BPF";
  TempDir dir;
  std::string docker = fake_executable(dir, "docker");
  // TRIGGER: the agent starts and drops what it does not need.
  // Metrics on: its HTTP threads start after the drop too.
  Agent agent({"--metrics-address", "127.0.0.1:" + std::to_string(free_port())});

  // ASSERT
  const uint64_t allowed = bit(kCapBpf) | bit(CAP_SYS_PTRACE) | bit(CAP_DAC_READ_SEARCH);
  auto files = thread_status_files(agent.pid());
  ASSERT_GE(files.size(), 3u) << "the agent runs reader, output and metrics threads";
  for (const auto &file : files) {
    const uint64_t effective = status_mask(file, "CapEff");
    const uint64_t permitted = status_mask(file, "CapPrm");
    EXPECT_EQ(effective & ~allowed, 0u) << file << " CapEff " << std::hex << effective;
    EXPECT_EQ(permitted & ~allowed, 0u) << file << " CapPrm " << std::hex << permitted;
    EXPECT_EQ(effective & bit(CAP_SYS_ADMIN), 0u) << file;
    EXPECT_EQ(effective & bit(CAP_PERFMON), 0u) << file;
    EXPECT_NE(effective & bit(kCapBpf), 0u) << file << ": map updates need it";
    // Nothing dropped can come back: not in the bounding set, no ambient
    // capabilities, no privileges gained through an exec.
    EXPECT_EQ(status_mask(file, "CapBnd") & ~allowed, 0u) << file;
    EXPECT_EQ(status_mask(file, "CapAmb"), 0u) << file;
    EXPECT_EQ(status_mask(file, "NoNewPrivs"), 1u) << file;
    // The system call allow-list (seccomp mode 2, filter) on every thread.
    EXPECT_EQ(status_mask(file, "Seccomp"), 2u) << file;
    // Not root: uid 0 would still own (and could write) every file root
    // owns on the node. Real, effective, saved and file-system ids.
    EXPECT_EQ(status_line(file, "Uid"), "65534\t65534\t65534\t65534") << file;
    EXPECT_EQ(status_line(file, "Gid"), "65534\t65534\t65534\t65534") << file;
    EXPECT_EQ(status_line(file, "Groups"), "") << file;
  }

  // TRIGGER: a CLI call: it still sees, and still follows the node (identity refreshes write
  // to BPF maps every second).
  auto run = run_process({docker, "ps"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_EQ(events_of(out, run.pid, "docker-cli-exec").size(), 1u) << out.log;
  EXPECT_NE(out.log.find("capabilities: kept"), std::string::npos) << out.log;
  EXPECT_EQ(out.log.find("warn"), std::string::npos) << out.log;
}

// The log goes to a directory the agent's user may write (rotation and
// reopening after logrotate create files there): a root-owned directory
// kept for the log is given to it at start, one that holds anything else
// is not, and the agent says what to do. --run-as root keeps uid 0.
TEST(Privileges, TheLogDirectoryIsGivenToTheAgentsUserOnlyWhenItIsTheLogs) {
  TempDir dir;
  std::string docker = fake_executable(dir, "docker");
  const std::string log_dir = dir.subdir("log");
  write_file(log_dir + "/audit.json.1", "");
  // TRIGGER: the agent starts with its log file in a directory of its own.
  Agent agent({"--log-file", log_dir + "/audit.json", "--no-stdout"});
  // ASSERT
  struct stat st {};
  ASSERT_EQ(stat(log_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
  ASSERT_EQ(stat((log_dir + "/audit.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u) << "the file opened as root goes to the agent's user";
  EXPECT_EQ(status_line("/proc/" + std::to_string(agent.pid()) + "/status", "Uid"),
            "65534\t65534\t65534\t65534");
  // TRIGGER: a CLI call.
  auto run = run_process({docker, "ps"});
  // ASSERT
  EXPECT_TRUE(wait_for(
      [&] {
        return read_file(log_dir + "/audit.json").find("\"docker-cli-exec\"") != std::string::npos;
      },
      std::chrono::seconds(10)));
  agent.stop();

  // TRIGGER: a log file in a shared directory.
  const std::string shared = dir.subdir("shared");
  write_file(shared + "/someone-elses.conf", "x");
  auto refused = run_shimwatch({"run", "--log-file", shared + "/audit.json", "--no-stdout"});
  // ASSERT: not given away; the start fails saying why.
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("holds other files (someone-elses.conf)"), std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("security.run_as to root"), std::string::npos) << refused.output;
  ASSERT_EQ(stat(shared.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);

  // TRIGGER: --run-as root.
  Agent as_root({"--log-file", shared + "/audit.json", "--no-stdout", "--run-as", "root"});
  // ASSERT: the same directory serves, as before.
  EXPECT_EQ(status_line("/proc/" + std::to_string(as_root.pid()) + "/status", "Uid"), "0\t0\t0\t0");
  auto out = as_root.stop();
  EXPECT_EQ(out.exit_code, 0) << out.log;
}
