// Once its probes are attached the agent keeps only what reading the node
// needs: BPF map access, other processes' executables, files whatever their
// mode. Every thread, including the output and metrics threads started
// later, runs with that set.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fstream>
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

uint64_t status_mask(const std::string &status_file, const std::string &field) {
  std::ifstream in(status_file);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0)
      return std::stoull(line.substr(field.size() + 1), nullptr, 16);
  ADD_FAILURE() << field << " not in " << status_file;
  return ~uint64_t{0};
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
  // Metrics on: its HTTP threads start after the drop too.
  Agent agent({"--metrics-address", "127.0.0.1:" + std::to_string(free_port())});

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
  }

  // And it still sees, and still follows the node (identity refreshes write
  // to BPF maps every second).
  auto run = run_process({docker, "ps"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_EQ(events_of(out, run.pid, "docker-cli-exec").size(), 1u) << out.log;
  EXPECT_NE(out.log.find("capabilities: kept"), std::string::npos) << out.log;
  EXPECT_EQ(out.log.find("warn"), std::string::npos) << out.log;
}
