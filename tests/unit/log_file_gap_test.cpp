// LogFile after failed writes: the lost records are counted, and the first
// write that works again puts exactly one gap record (stage "log_file",
// write_failed = the count) before the new lines; every line stays whole.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include "event_builders.hpp"
#include "file_size_limit.hpp"
#include "log_capture.hpp"
#include "shimwatch/sink.hpp"
#include "test_files.hpp"

using json = nlohmann::json;
using namespace shimwatch;
using swtest::read_file;

namespace {

class LogFileGapTest : public ::testing::Test {
protected:
  // Every line, parsed; fails the test on a line that is not JSON or a
  // file that does not end in a newline.
  static std::vector<json> records(const std::string &path) {
    std::string text = read_file(path);
    EXPECT_TRUE(text.empty() || text.back() == '\n') << "torn last line: " << text;
    std::vector<json> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      try {
        out.push_back(json::parse(line));
      } catch (const json::exception &e) {
        ADD_FAILURE() << "not a JSON line: " << line << ": " << e.what();
      }
    }
    return out;
  }
  static Event event(uint32_t pid) {
    return swtest::cli_exec(pid)
        .args({"docker", "ps", "with\nnewline"})
        .at(1'700'000'000'000'000'000 + int64_t{pid} * 1'000'000);
  }
  static bool is_gap(const json &record) { return record["event"]["action"] == "shimwatch-gap"; }

  const swtest::TempDir dir_{"shimwatch-logfile-gap-"};
  const std::string path_ = dir_.file("audit.json");
};

TEST_F(LogFileGapTest, FailedWritesThenAFileThatWorksAfterReopen) {
  // Every write fails (the file may not grow: EFBIG, as a full disk's
  // ENOSPC) until "logrotate" replaces the file and the agent reopens.
  swtest::FileSizeLimit limit;
  ASSERT_TRUE(limit.set(0));
  auto opened = LogFile::open(path_, HostInfo{"node"});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  LogFile &file = **opened;

  int64_t before_failure = unix_now_ns();
  file.write(event(1));
  file.write(event(2));
  file.flush();
  int64_t after_failure = unix_now_ns();
  file.write(event(3));
  file.flush();
  EXPECT_EQ(file.errors(), 2u);
  EXPECT_EQ(file.lost_records(), 3u);
  EXPECT_EQ(file.drops(), (std::vector<std::pair<std::string, uint64_t>>{{"write_failed", 3}}));

  ASSERT_TRUE(limit.lift());
  std::filesystem::remove(path_);
  file.reopen(); // creates a regular file at the path
  int64_t before_success = unix_now_ns();
  file.write(event(4));
  file.write(event(5));
  file.flush();
  int64_t after_success = unix_now_ns();

  auto all = records(path_);
  ASSERT_EQ(all.size(), 3u);
  ASSERT_TRUE(is_gap(all[0])) << all[0].dump();
  const json &gap = all[0]["shimwatch"]["gap"];
  EXPECT_EQ(gap["stage"], "log_file");
  EXPECT_EQ(gap["write_failed"], 3);
  EXPECT_EQ(gap["dropped"], 3);
  EXPECT_EQ(gap["destination"], path_);
  EXPECT_EQ(all[0]["event"]["reason"], "log_file");
  EXPECT_EQ(all[0]["host"]["name"], "node");
  EXPECT_EQ(all[0]["message"],
            "3 events were lost at stage log_file (" + path_ + "): write_failed 3");
  // first: when the loss began; last: when writing worked again.
  EXPECT_GE(gap["first"].get<std::string>(), format_timestamp(before_failure));
  EXPECT_LE(gap["first"].get<std::string>(), format_timestamp(after_failure));
  EXPECT_GE(gap["last"].get<std::string>(), format_timestamp(before_success));
  EXPECT_LE(gap["last"].get<std::string>(), format_timestamp(after_success));
  EXPECT_EQ(all[0]["@timestamp"], gap["last"]);
  EXPECT_EQ(all[1]["process"]["pid"], 4);
  EXPECT_EQ(all[2]["process"]["pid"], 5);

  // Counted once: the totals stay, no second gap record.
  EXPECT_EQ(file.lost_records(), 3u);
  EXPECT_EQ(file.errors(), 2u);
  file.write(event(6));
  file.flush();
  all = records(path_);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_FALSE(is_gap(all[3]));
  EXPECT_EQ(all[3]["process"]["pid"], 6);
}

TEST_F(LogFileGapTest, WritingFailsThenWorksAgainOnTheSameFile) {
  auto opened = LogFile::open(path_, HostInfo{"node"});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  LogFile &file = **opened;
  file.write(event(1));
  file.flush();
  uint64_t size = std::filesystem::file_size(path_);
  ASSERT_GT(size, 0u);

  {
    swtest::FileSizeLimit limit;
    // Room for a few bytes: the write is cut short, and the part that went
    // in is cut off again.
    ASSERT_TRUE(limit.set(size + 10));
    file.write(event(2));
    file.write(event(3));
    file.flush();
    EXPECT_EQ(std::filesystem::file_size(path_), size) << "a partial line was left in the file";
    EXPECT_EQ(file.errors(), 1u);
    EXPECT_EQ(file.lost_records(), 2u);

    // No room at all: write(2) fails with EFBIG. The gap record that now
    // leads the batch fails with it and is not counted as an event.
    ASSERT_TRUE(limit.set(size));
    file.write(event(4));
    file.flush();
    EXPECT_EQ(std::filesystem::file_size(path_), size);
    EXPECT_EQ(file.errors(), 2u);
    EXPECT_EQ(file.lost_records(), 3u);
    EXPECT_EQ(file.drops(), (std::vector<std::pair<std::string, uint64_t>>{{"write_failed", 3}}));

    ASSERT_TRUE(limit.lift());
    file.write(event(5));
    file.write(event(6));
    file.flush();
  }

  auto all = records(path_);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0]["process"]["pid"], 1);
  ASSERT_TRUE(is_gap(all[1])) << all[1].dump();
  EXPECT_EQ(all[1]["shimwatch"]["gap"]["stage"], "log_file");
  EXPECT_EQ(all[1]["shimwatch"]["gap"]["write_failed"], 3);
  EXPECT_EQ(all[1]["shimwatch"]["gap"]["dropped"], 3);
  EXPECT_EQ(all[1]["shimwatch"]["gap"]["destination"], path_);
  EXPECT_LE(all[1]["shimwatch"]["gap"]["first"].get<std::string>(),
            all[1]["shimwatch"]["gap"]["last"].get<std::string>());
  EXPECT_EQ(all[2]["process"]["pid"], 5);
  EXPECT_EQ(all[3]["process"]["pid"], 6);
  EXPECT_EQ(file.lost_records(), 3u);
  EXPECT_EQ(file.errors(), 2u);

  size_t gaps = 0;
  for (const auto &r : all)
    gaps += is_gap(r);
  EXPECT_EQ(gaps, 1u);
}

TEST_F(LogFileGapTest, GapRecordsFromOtherStagesAreWrittenAsLines) {
  auto opened = LogFile::open(path_, HostInfo{"node"});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  LogFile &file = **opened;
  Gap gap;
  gap.stage = "queue";
  gap.reasons = {{"output_behind", 9}};
  gap.first_ns = 1'700'000'000'000'000'000;
  gap.last_ns = gap.first_ns + 1'000'000;
  gap.timestamp_ns = gap.first_ns + 2'000'000'000;
  gap.destination = "log_file";
  file.write(event(1));
  file.write_gap(gap);
  file.write(event(2));
  file.flush();
  auto all = records(path_);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1], json::parse(encode_gap_json(gap, HostInfo{"node"})));
  EXPECT_EQ(file.lost_records(), 0u);
  EXPECT_EQ(file.errors(), 0u);
  EXPECT_EQ(file.drops(), (std::vector<std::pair<std::string, uint64_t>>{{"write_failed", 0}}));
}

// A gap record of another stage in a batch that failed is no lost event:
// it leads the next batch that is written, merged with any other one of the
// same stage and destination, next to the log file's own gap record.
TEST_F(LogFileGapTest, AnotherStagesGapRecordInAFailedBatchIsWrittenLater) {
  swtest::FileSizeLimit limit;
  ASSERT_TRUE(limit.set(0));
  auto opened = LogFile::open(path_, HostInfo{"node"});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  LogFile &file = **opened;
  Gap kernel;
  kernel.stage = "kernel";
  kernel.reasons = {{"ring_buffer_full", 500}};
  kernel.first_ns = 1'700'000'000'000'000'000;
  kernel.last_ns = kernel.timestamp_ns = kernel.first_ns + 1'000'000'000;
  kernel.message = "500 events were lost before reaching any output";
  file.write(event(1));
  file.write_gap(kernel);
  file.flush();
  Gap later = kernel;
  later.reasons = {{"ring_buffer_full", 20}};
  later.first_ns = kernel.last_ns;
  later.last_ns = later.timestamp_ns = kernel.last_ns + 1'000'000'000;
  file.write_gap(later);
  file.flush();
  EXPECT_EQ(file.lost_records(), 1u) << "event 1 only";

  ASSERT_TRUE(limit.lift());
  std::filesystem::remove(path_);
  file.reopen();
  file.write(event(2));
  file.flush();
  auto all = records(path_);
  ASSERT_EQ(all.size(), 3u);
  ASSERT_TRUE(is_gap(all[0])) << all[0].dump();
  EXPECT_EQ(all[0]["shimwatch"]["gap"]["stage"], "kernel");
  EXPECT_EQ(all[0]["shimwatch"]["gap"]["ring_buffer_full"], 520);
  EXPECT_EQ(all[0]["shimwatch"]["gap"]["dropped"], 520);
  EXPECT_EQ(all[0]["shimwatch"]["gap"]["first"], format_timestamp(kernel.first_ns));
  EXPECT_EQ(all[0]["shimwatch"]["gap"]["last"], format_timestamp(later.last_ns));
  ASSERT_TRUE(is_gap(all[1])) << all[1].dump();
  EXPECT_EQ(all[1]["shimwatch"]["gap"]["stage"], "log_file");
  EXPECT_EQ(all[1]["shimwatch"]["gap"]["write_failed"], 1);
  EXPECT_EQ(all[2]["process"]["pid"], 2);

  // Written once.
  file.write(event(3));
  file.flush();
  all = records(path_);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[3]["process"]["pid"], 3);
}

// SIGHUP after logrotate moved the file, and PATH cannot be opened (here a
// directory is in its place): the moved file gets nothing more, what cannot
// be written is counted as lost, the episode is logged once however many
// reopens fail, and the first batch after PATH can be opened again creates
// it, without another reopen, with the gap record first.
TEST_F(LogFileGapTest, FailedReopenLeavesTheMovedFileAloneUntilThePathOpens) {
  auto opened = LogFile::open(path_, HostInfo{"node"});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  LogFile &file = **opened;
  file.write(event(1));
  file.flush();
  std::filesystem::rename(path_, path_ + ".1");
  std::filesystem::create_directory(path_);

  swtest::LogCapture log;
  file.reopen();
  file.write(event(2));
  file.flush();
  file.reopen();
  file.write(event(3));
  file.write(event(4));
  file.flush();
  EXPECT_EQ(file.lost_records(), 3u);
  EXPECT_EQ(file.errors(), 4u) << "two reopens and two batches failed";
  auto moved = records(path_ + ".1");
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0]["process"]["pid"], 1);

  std::filesystem::remove(path_);
  file.write(event(5));
  file.flush();
  auto all = records(path_);
  ASSERT_EQ(all.size(), 2u);
  ASSERT_TRUE(is_gap(all[0])) << all[0].dump();
  EXPECT_EQ(all[0]["shimwatch"]["gap"]["stage"], "log_file");
  EXPECT_EQ(all[0]["shimwatch"]["gap"]["write_failed"], 3);
  EXPECT_EQ(all[0]["shimwatch"]["gap"]["dropped"], 3);
  EXPECT_EQ(all[1]["process"]["pid"], 5);
  EXPECT_EQ(records(path_ + ".1").size(), 1u);

  auto errors = log.lines(spdlog::level::err);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("reopening failed"), std::string::npos) << errors[0];
  EXPECT_EQ(log.lines(spdlog::level::info),
            std::vector<std::string>{"log file " + path_ + ": writing works again"});
}

TEST_F(LogFileGapTest, NothingLostNoGapRecord) {
  auto opened = LogFile::open(path_, HostInfo{"node"});
  ASSERT_TRUE(opened.ok());
  for (uint32_t pid = 1; pid <= 3; ++pid) {
    (*opened)->write(event(pid));
    (*opened)->flush();
  }
  auto all = records(path_);
  ASSERT_EQ(all.size(), 3u);
  for (const auto &r : all)
    EXPECT_FALSE(is_gap(r));
}

} // namespace
