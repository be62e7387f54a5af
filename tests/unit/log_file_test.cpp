// LogFile: whole lines only, rotation by size, reopen, failing disks survived.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event_builders.hpp"
#include "file_size_limit.hpp"
#include "log_capture.hpp"
#include "shimwatch/sink.hpp"
#include "test_files.hpp"

using namespace shimwatch;
using swtest::read_file;

namespace {

class LogFileTest : public ::testing::Test {
protected:
  static std::vector<std::string> lines(const std::string &path) {
    std::vector<std::string> out;
    std::istringstream in(read_file(path));
    for (std::string line; std::getline(in, line);)
      out.push_back(line);
    return out;
  }
  static Event event(uint32_t pid) {
    return swtest::cli_exec(pid).args({"docker", "ps", "with\nnewline"});
  }

  const swtest::TempDir dir_{"shimwatch-logfile-"};
  const std::string path_ = dir_.file("audit.json");
};

TEST_F(LogFileTest, AppendsWholeJsonLinesOnFlushWithMode0640) {
  auto file = LogFile::open(path_, HostInfo{"node"});
  ASSERT_TRUE(file.ok()) << file.error().message;
  (*file)->write(event(1));
  (*file)->write(event(2));
  EXPECT_EQ(read_file(path_), ""); // nothing before the flush
  (*file)->flush();
  auto all = lines(path_);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(all[1])["process"]["pid"], 2);
  struct stat st {};
  stat(path_.c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

// Someone who may write the log directory (or did before the agent ran)
// must not redirect the trail or add lines to it.
TEST_F(LogFileTest, ASymbolicLinkAtThePathIsNotFollowed) {
  const std::string target = dir_.file("elsewhere");
  std::ofstream(target) << "untouched\n";
  ASSERT_EQ(symlink(target.c_str(), path_.c_str()), 0);
  auto file = LogFile::open(path_, HostInfo{"node"});
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message.find("it is a symbolic link (not followed)"), std::string::npos)
      << file.error().message;
  EXPECT_EQ(read_file(target), "untouched\n");
}

TEST_F(LogFileTest, AFileOthersMayWriteIsTightenedAndAFifoRefused) {
  std::ofstream(path_) << "{\"whole\":1}\n";
  ASSERT_EQ(chmod(path_.c_str(), 0666), 0);
  auto file = LogFile::open(path_, HostInfo{"node"});
  ASSERT_TRUE(file.ok()) << file.error().message;
  struct stat st {};
  stat(path_.c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  // Positive control above; a FIFO would hang or feed a reader of its own.
  const std::string fifo = dir_.file("fifo.json");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto refused = LogFile::open(fifo, HostInfo{"node"});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("not a regular file"), std::string::npos)
      << refused.error().message;
}

TEST_F(LogFileTest, TornLastRecordFromACrashIsCutOnOpen) {
  std::ofstream(path_) << "{\"whole\":1}\n{\"whole\":2}\n{\"torn\":";
  auto file = LogFile::open(path_, HostInfo{"node"});
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->torn_bytes_repaired(), 8u); // {"torn":
  (*file)->write(event(3));
  (*file)->flush();
  auto all = lines(path_);
  ASSERT_EQ(all.size(), 3u);
  for (const auto &line : all)
    EXPECT_NO_THROW(nlohmann::json::parse(line)) << line;
}

TEST_F(LogFileTest, FileWithoutAnyNewlineIsOneTornRecord) {
  std::ofstream(path_) << "{\"torn\":";
  auto file = LogFile::open(path_, HostInfo{"node"});
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(read_file(path_), "");
}

TEST_F(LogFileTest, RotatesBySizeKeepingTheConfiguredCount) {
  auto file = LogFile::open(path_, HostInfo{"node"}, LogFileOptions{2000, 2});
  ASSERT_TRUE(file.ok());
  for (uint32_t pid = 1; pid <= 40; ++pid) {
    (*file)->write(event(pid));
    (*file)->flush();
  }
  EXPECT_GT((*file)->rotations(), 2u);
  EXPECT_TRUE(std::filesystem::exists(path_ + ".1"));
  EXPECT_TRUE(std::filesystem::exists(path_ + ".2"));
  EXPECT_FALSE(std::filesystem::exists(path_ + ".3"));
  for (const auto &p : {path_, path_ + ".1", path_ + ".2"}) {
    EXPECT_LE(std::filesystem::file_size(p), 2000u) << p;
    for (const auto &line : lines(p))
      EXPECT_NO_THROW(nlohmann::json::parse(line));
  }
  // The newest events are in the live file.
  EXPECT_EQ(nlohmann::json::parse(lines(path_).back())["process"]["pid"], 40);
}

// The file can be written but not renamed (here a directory is in the way
// of PATH.1; a log directory the agent may not write to does the same): the
// file goes on past its size limit, nothing is lost, and the failure is
// logged once, not at every batch, until a rotation works again.
TEST_F(LogFileTest, RotationThatFailsIsLoggedOnceAndLosesNothing) {
  auto file = LogFile::open(path_, HostInfo{"node"}, LogFileOptions{2000, 1});
  ASSERT_TRUE(file.ok());
  std::filesystem::create_directory(path_ + ".1");
  swtest::LogCapture log;
  for (uint32_t pid = 1; pid <= 20; ++pid) {
    (*file)->write(event(pid));
    (*file)->flush();
  }
  EXPECT_EQ(lines(path_).size(), 20u);
  EXPECT_GT(std::filesystem::file_size(path_), 2000u);
  EXPECT_EQ((*file)->lost_records(), 0u);
  EXPECT_EQ((*file)->rotations(), 0u);
  EXPECT_GT((*file)->errors(), 1u) << "each failed attempt counts";
  auto errors = log.lines(spdlog::level::err);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("rotating failed"), std::string::npos) << errors[0];
  EXPECT_TRUE(log.lines(spdlog::level::info).empty());

  std::filesystem::remove(path_ + ".1");
  (*file)->write(event(21));
  (*file)->flush();
  EXPECT_EQ((*file)->rotations(), 1u);
  EXPECT_EQ(lines(path_ + ".1").size(), 20u);
  ASSERT_EQ(lines(path_).size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(lines(path_)[0])["process"]["pid"], 21);
  EXPECT_EQ(log.lines(spdlog::level::info),
            std::vector<std::string>{"log file " + path_ + ": rotating works again"});
  EXPECT_EQ(log.lines(spdlog::level::err).size(), 1u);
}

// A rotation whose rename works but whose new PATH cannot be opened (here no
// file descriptor is left): the batch is counted as lost, not written on into
// PATH.1, which later rotations would rename over; once PATH opens, a gap
// record for it leads the next batch.
TEST_F(LogFileTest, RotationWhoseNewFileCannotBeOpenedCountsTheBatchAsLost) {
  auto file = LogFile::open(path_, HostInfo{"node"}, LogFileOptions{2000, 2});
  ASSERT_TRUE(file.ok());
  uint32_t pid = 0;
  while (std::filesystem::file_size(path_) < 1500) {
    (*file)->write(event(++pid));
    (*file)->flush();
  }
  const auto before = lines(path_);

  // With no descriptor left, UBSan's vptr check cannot test memory (it uses
  // a pipe) and reports every polymorphic type it has not met yet: a failing
  // write (to a file that may not grow) takes the same logging path first.
  swtest::LogCapture log;
  {
    swtest::FileSizeLimit limit;
    ASSERT_TRUE(limit.set(0));
    auto full = LogFile::open(dir_.file("full.json"), HostInfo{"node"});
    ASSERT_TRUE(full.ok());
    (*full)->write(event(0));
    (*full)->flush();
  }
  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  struct rlimit low = saved;
  low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 512);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> fillers;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
    fillers.push_back(fd);
  const int open_errno = errno;
  for (int i = 0; i < 4; ++i)
    (*file)->write(event(++pid));
  (*file)->flush();
  for (int fd : fillers)
    ::close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_EQ(open_errno, EMFILE);

  EXPECT_EQ((*file)->rotations(), 1u);
  EXPECT_EQ((*file)->lost_records(), 4u);
  EXPECT_EQ(lines(path_ + ".1"), before) << "the lost batch went into the rotated file";
  EXPECT_FALSE(std::filesystem::exists(path_));
  auto errors = log.lines(spdlog::level::err);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[1].find("opening the new file after rotation failed"), std::string::npos)
      << errors[1];

  (*file)->write(event(++pid));
  (*file)->flush();
  auto now = lines(path_);
  ASSERT_EQ(now.size(), 2u);
  auto gap = nlohmann::json::parse(now[0]);
  EXPECT_EQ(gap["shimwatch"]["gap"]["stage"], "log_file") << now[0];
  EXPECT_EQ(gap["shimwatch"]["gap"]["write_failed"], 4) << now[0];
  EXPECT_EQ(nlohmann::json::parse(now[1])["process"]["pid"], pid);
  EXPECT_EQ(lines(path_ + ".1"), before);
}

TEST_F(LogFileTest, ReopenAfterLogrotateMovedTheFile) {
  auto file = LogFile::open(path_, HostInfo{"node"});
  ASSERT_TRUE(file.ok());
  (*file)->write(event(1));
  (*file)->flush();
  std::filesystem::rename(path_, path_ + ".old"); // what logrotate does
  (*file)->write(event(2));
  (*file)->flush(); // still goes to the moved file until told
  (*file)->reopen();
  (*file)->write(event(3));
  (*file)->flush();
  EXPECT_EQ(lines(path_ + ".old").size(), 2u);
  ASSERT_EQ(lines(path_).size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(lines(path_)[0])["process"]["pid"], 3);
}

TEST_F(LogFileTest, FullDiskIsCountedNotFatal) {
  swtest::FileSizeLimit limit; // every write fails, as on a full disk
  ASSERT_TRUE(limit.set(0));
  auto file = LogFile::open(path_, HostInfo{"node"});
  ASSERT_TRUE(file.ok()) << file.error().message;
  (*file)->write(event(1));
  (*file)->write(event(2));
  (*file)->flush();
  (*file)->write(event(3));
  (*file)->flush();
  EXPECT_EQ((*file)->errors(), 2u);
  EXPECT_EQ((*file)->lost_records(), 3u);
}

TEST_F(LogFileTest, UnwritableDirectoryIsAClearError) {
  auto file = LogFile::open(dir_.file("missing/audit.json"), HostInfo{"node"});
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message.find("missing/audit.json"), std::string::npos);
  EXPECT_NE(file.error().message.find("No such file"), std::string::npos);
}

} // namespace
