// ProcessTable: (pid, start time) -> executable, bounded, never fooled by pid reuse.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "attribute/process_table.hpp"

using shimwatch::ProcessTable;

namespace {

// A /proc look-alike: <pid>/stat and the <pid>/exe link are all the table reads.
class FakeProc {
public:
  FakeProc() {
    char templ[] = "/tmp/shimwatch-proc-XXXXXX";
    root_ = mkdtemp(templ);
  }
  ~FakeProc() { std::filesystem::remove_all(root_); }

  void add(uint32_t pid, uint64_t start_ticks, const std::string &exe,
           const std::string &comm = "sh") {
    auto dir = root_ + "/" + std::to_string(pid);
    std::filesystem::create_directories(dir);
    // Field 22 is the start time; comm may hold spaces and parentheses.
    std::ofstream(dir + "/stat") << pid << " (" << comm
                                 << ") S 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 "
                                 << start_ticks << " 1000 100 0\n";
    std::filesystem::remove(dir + "/exe");
    std::filesystem::create_symlink(exe, dir + "/exe");
  }
  void remove(uint32_t pid) { std::filesystem::remove_all(root_ + "/" + std::to_string(pid)); }
  const std::string &root() const { return root_; }

private:
  std::string root_;
};

uint64_t ns_of_ticks(uint64_t ticks) {
  return ticks * (1'000'000'000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK)));
}

TEST(ProcessTable, ScanThenLookUpByPidAndStartTime) {
  FakeProc proc;
  proc.add(100, 5000, "/usr/sbin/sshd");
  proc.add(200, 6000, "/usr/bin/bash", "weird) name (x");
  ProcessTable table(64, proc.root());
  table.scan();
  EXPECT_EQ(table.size(), 2u);
  // The processes may exit: the table still knows them.
  proc.remove(100);
  proc.remove(200);
  EXPECT_EQ(table.executable(100, ns_of_ticks(5000)), "/usr/sbin/sshd");
  EXPECT_EQ(table.executable(200, ns_of_ticks(6000)), "/usr/bin/bash");
  EXPECT_EQ(table.misses(), 0u);
}

TEST(ProcessTable, ReusedPidIsNotTakenForTheOldProcess) {
  FakeProc proc;
  proc.add(100, 5000, "/usr/sbin/cron");
  ProcessTable table(64, proc.root());
  table.scan();
  // pid 100 is now another process: an ancestor that started at 4000 is unknown.
  proc.add(100, 9000, "/usr/bin/python3");
  EXPECT_EQ(table.executable(100, ns_of_ticks(4000)), "");
  EXPECT_EQ(table.executable(100, ns_of_ticks(9000)), "/usr/bin/python3");
  EXPECT_EQ(table.executable(100, ns_of_ticks(5000)), "/usr/sbin/cron");
}

TEST(ProcessTable, MissReadsProcOnceThenRemembers) {
  FakeProc proc;
  ProcessTable table(64, proc.root());
  proc.add(300, 7000, "/usr/bin/make");
  EXPECT_EQ(table.executable(300, ns_of_ticks(7000)), "/usr/bin/make");
  EXPECT_EQ(table.misses(), 1u);
  proc.remove(300);
  EXPECT_EQ(table.executable(300, ns_of_ticks(7000)), "/usr/bin/make");
  EXPECT_EQ(table.misses(), 1u);
}

TEST(ProcessTable, StaysWithinItsCapacityDroppingTheLeastRecentlyUsed) {
  FakeProc proc;
  ProcessTable table(3, proc.root());
  for (uint32_t pid = 1; pid <= 3; ++pid)
    table.remember(pid, ns_of_ticks(pid * 10), "/bin/p" + std::to_string(pid));
  // Touch pid 1 so that pid 2 is the least recently used.
  EXPECT_EQ(table.executable(1, ns_of_ticks(10)), "/bin/p1");
  for (uint32_t pid = 4; pid <= 1000; ++pid)
    table.remember(pid, ns_of_ticks(pid * 10), "/bin/p" + std::to_string(pid));
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.executable(1000, ns_of_ticks(10000)), "/bin/p1000");
  EXPECT_EQ(table.executable(2, ns_of_ticks(20)), "");
}

TEST(ProcessTable, LongPathsAreBoundedByBytesNotOnlyByCount) {
  FakeProc proc;
  const size_t max_bytes = 64 * 1024;
  ProcessTable table(16384, proc.root(), std::chrono::seconds(5), max_bytes);
  // Positive control: short paths fill the table by count as before.
  for (uint32_t pid = 1; pid <= 100; ++pid)
    table.remember(pid, ns_of_ticks(pid), "/bin/p" + std::to_string(pid));
  EXPECT_EQ(table.size(), 100u);
  // A workload runs processes from directories nested to PATH_MAX.
  const std::string deep = "/tmp/" + std::string(4000, 'd') + "/docker";
  for (uint32_t pid = 1000; pid < 2000; ++pid)
    table.remember(pid, ns_of_ticks(pid), deep);
  EXPECT_LE(table.bytes(), max_bytes);
  EXPECT_LE(table.size(), max_bytes / deep.size());
  EXPECT_GE(table.size(), max_bytes / (deep.size() + 128) - 1);
  // The newest are kept, the oldest went.
  EXPECT_EQ(table.executable(1999, ns_of_ticks(1999)), deep);
  EXPECT_EQ(table.executable(1, ns_of_ticks(1)), "");
  // An entry replaced by a shorter path gives its bytes back.
  const size_t before = table.bytes();
  table.remember(1999, ns_of_ticks(1999), "/bin/short");
  EXPECT_EQ(table.bytes(), before - deep.size() + std::string("/bin/short").size());
}

TEST(ProcessTable, ScanStopsAtCapacity) {
  FakeProc proc;
  for (uint32_t pid = 1; pid <= 50; ++pid)
    proc.add(pid, pid, "/bin/x");
  ProcessTable table(10, proc.root());
  table.scan();
  EXPECT_EQ(table.size(), 10u);
}

TEST(ProcessTable, GarbageInProcIsIgnored) {
  FakeProc proc;
  std::filesystem::create_directories(proc.root() + "/42");
  std::ofstream(proc.root() + "/42/stat") << "garbage without parens";
  std::filesystem::create_directories(proc.root() + "/not-a-pid");
  ProcessTable table(10, proc.root());
  table.scan();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.executable(42, 0), "");
}

TEST(ProcessTable, AnUnknownAncestorIsNotReadAgainOnEveryEvent) {
  FakeProc proc;
  // A process whose executable cannot be read (no exe link), and one that is gone.
  proc.add(7, 700, "/bin/x");
  std::filesystem::remove(proc.root() + "/7/exe");
  ProcessTable table(64, proc.root());
  EXPECT_EQ(table.executable(7, ns_of_ticks(700)), "");
  EXPECT_EQ(table.executable(8, ns_of_ticks(800)), "");
  EXPECT_EQ(table.misses(), 2u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(table.executable(7, ns_of_ticks(700)), "");
    EXPECT_EQ(table.executable(8, ns_of_ticks(800)), "");
  }
  EXPECT_EQ(table.misses(), 2u);
}

TEST(ProcessTable, AnUnknownAncestorIsAskedForAgainAfterTheRetryTime) {
  FakeProc proc;
  proc.add(7, 700, "/bin/x");
  std::filesystem::remove(proc.root() + "/7/exe");
  ProcessTable table(64, proc.root(), std::chrono::nanoseconds(0));
  EXPECT_EQ(table.executable(7, ns_of_ticks(700)), "");
  proc.add(7, 700, "/usr/bin/found-later");
  EXPECT_EQ(table.executable(7, ns_of_ticks(700)), "/usr/bin/found-later");
  EXPECT_EQ(table.misses(), 2u);
  // Known now: no more reads.
  proc.remove(7);
  EXPECT_EQ(table.executable(7, ns_of_ticks(700)), "/usr/bin/found-later");
  EXPECT_EQ(table.misses(), 2u);
}

TEST(ProcessTable, StartTimeIsField22AfterTheLastParenthesis) {
  EXPECT_EQ(ProcessTable::parse_start_ticks(
                "1 (a) b) c) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 123456 1 2\n"),
            123456u);
  EXPECT_EQ(ProcessTable::parse_start_ticks("1 (sh) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 "
                                            "99"),
            99u);
  // Too few fields, no parenthesis, empty.
  EXPECT_EQ(ProcessTable::parse_start_ticks("1 (sh) S 0 1 1"), 0u);
  EXPECT_EQ(ProcessTable::parse_start_ticks("1 sh S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5"),
            0u);
  EXPECT_EQ(ProcessTable::parse_start_ticks(""), 0u);
}

} // namespace
