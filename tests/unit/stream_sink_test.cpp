// StreamSink: whole lines through a pipe, failures counted, never glued records.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "event_builders.hpp"
#include "shimwatch/sink.hpp"

using namespace shimwatch;
using swtest::cli_exec;

namespace {

TEST(StreamSink, JsonLinesThroughAPipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  FILE *out = fdopen(fds[1], "w");
  {
    StreamSink sink(out, OutputFormat::json, HostInfo{"n"}, "pipe");
    sink.write(cli_exec(1));
    sink.write(cli_exec(2));
    sink.flush();
    EXPECT_EQ(sink.errors(), 0u);
  }
  fclose(out);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  std::istringstream lines(text);
  std::vector<uint32_t> pids;
  for (std::string line; std::getline(lines, line);)
    pids.push_back(nlohmann::json::parse(line)["process"]["pid"]);
  EXPECT_EQ(pids, (std::vector<uint32_t>{1, 2}));
}

TEST(StreamSink, ClosedReaderIsCountedNotFatal) {
  signal(SIGPIPE, SIG_IGN); // as the agent does
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  FILE *out = fdopen(fds[1], "w");
  StreamSink sink(out, OutputFormat::json, HostInfo{"n"}, "pipe");
  sink.write(cli_exec(1));
  sink.flush();
  sink.write(cli_exec(2));
  sink.write(cli_exec(3));
  sink.flush();
  EXPECT_EQ(sink.errors(), 2u);
  EXPECT_EQ(sink.lost_records(), 3u);
  fclose(out);
}

TEST(StreamSink, FullDiskLosesWholeBatchesOnly) {
  FILE *full = fopen("/dev/full", "w");
  ASSERT_NE(full, nullptr);
  StreamSink sink(full, OutputFormat::text, HostInfo{"n"}, "/dev/full");
  sink.write(cli_exec(1));
  sink.flush();
  EXPECT_EQ(sink.errors(), 1u);
  EXPECT_EQ(sink.lost_records(), 1u) << "the row; the text header is no event";
  fclose(full);
}

// shimwatch_events_dropped_total{stage="stdout"} counts events: a gap
// record in a failed write is not one (the losses it reports were counted
// where they happened).
TEST(StreamSink, AGapRecordInAFailedWriteIsNoLostEvent) {
  FILE *full = fopen("/dev/full", "w");
  ASSERT_NE(full, nullptr);
  StreamSink sink(full, OutputFormat::json, HostInfo{"n"}, "/dev/full");
  Gap gap;
  gap.stage = "kernel";
  gap.reasons = {{"ring_buffer_full", 500}};
  sink.write(cli_exec(1));
  sink.write_gap(gap);
  sink.write(cli_exec(2));
  sink.flush();
  EXPECT_EQ(sink.errors(), 1u);
  EXPECT_EQ(sink.lost_records(), 2u);
  EXPECT_EQ(sink.drops(), (std::vector<std::pair<std::string, uint64_t>>{{"write_failed", 2}}));
  fclose(full);
}

} // namespace
