// report log reader: plain and gzip files, concatenated gzip members, cut
// members and corrupt data, long lines, stdin.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>
#include <zlib.h>

#include "report/log_reader.hpp"
#include "test_files.hpp"

namespace {

using shimwatch::report::FileReadResult;
using shimwatch::report::read_log;
using shimwatch::report::read_log_fd;
using swtest::TempFile;

std::string gzip(const std::string &text) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, text.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef *>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

struct Collected {
  std::vector<std::string> lines;
  std::uint64_t bytes = 0;
  FileReadResult result;
};

Collected read_all(const std::string &path) {
  Collected c;
  c.result = read_log(
      path, [&](std::string_view line) { c.lines.emplace_back(line); },
      [&](std::uint64_t n) { c.bytes += n; });
  return c;
}

} // namespace

TEST(ReportReader, PlainFileLinesAndUnterminatedLastLine) {
  TempFile file("one\ntwo\n\nthree");
  auto c = read_all(file.path());
  EXPECT_TRUE(c.result.opened);
  EXPECT_FALSE(c.result.gzip);
  EXPECT_TRUE(c.result.error.empty());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"one", "two", "", "three"}));
  EXPECT_EQ(c.bytes, 14u);
}

TEST(ReportReader, GzipWithSeveralMembers) {
  TempFile file(gzip("a1\na2\n") + gzip("b1\nb2\n") + gzip("c1\n"));
  auto c = read_all(file.path());
  EXPECT_TRUE(c.result.gzip);
  EXPECT_EQ(c.result.gzip_members, 3u);
  EXPECT_EQ(c.result.truncated_gzip_members, 0u);
  EXPECT_FALSE(c.result.corrupt_gzip);
  EXPECT_EQ(c.lines, (std::vector<std::string>{"a1", "a2", "b1", "b2", "c1"}));
}

TEST(ReportReader, LargeGzipAcrossManyChunks) {
  std::string text;
  for (int i = 0; i < 200000; ++i)
    text += "line number " + std::to_string(i) + " with some padding to make it longer\n";
  TempFile file(gzip(text));
  auto c = read_all(file.path());
  ASSERT_EQ(c.lines.size(), 200000u);
  EXPECT_EQ(c.lines[123456], "line number 123456 with some padding to make it longer");
}

TEST(ReportReader, TruncatedMemberIsCountedAndItsLinesKept) {
  std::string text;
  for (int i = 0; i < 5000; ++i)
    text += "{\"n\":" + std::to_string(i) + "}\n";
  std::string second = gzip(text);
  TempFile file(gzip("first\n") + second.substr(0, second.size() / 2));
  auto c = read_all(file.path());
  EXPECT_TRUE(c.result.error.empty());
  EXPECT_EQ(c.result.gzip_members, 1u);
  EXPECT_EQ(c.result.truncated_gzip_members, 1u);
  ASSERT_GT(c.lines.size(), 2u);
  EXPECT_EQ(c.lines[0], "first");
  EXPECT_EQ(c.lines[1], "{\"n\":0}");
  EXPECT_LT(c.lines.size(), 5001u);
}

TEST(ReportReader, CorruptDataAfterAMemberStopsTheFile) {
  TempFile file(gzip("ok\n") + std::string("\x1f\x8b\x08\x00garbage-that-is-not-deflate", 30));
  auto c = read_all(file.path());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"ok"}));
  EXPECT_TRUE(c.result.corrupt_gzip);
}

TEST(ReportReader, OversizeLineIsSkippedNotKept) {
  std::string huge(shimwatch::report::max_line_bytes + 10, 'x');
  TempFile file("before\n" + huge + "\nafter\n");
  auto c = read_all(file.path());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"before", "after"}));
  EXPECT_EQ(c.result.oversize_lines, 1u);
}

TEST(ReportReader, MissingFileIsAnErrorNotACrash) {
  auto c = read_all("/nonexistent/shimwatch/audit.log");
  EXPECT_FALSE(c.result.opened);
  EXPECT_FALSE(c.result.error.empty());
  EXPECT_TRUE(c.lines.empty());
}

TEST(ReportReader, ReadsAPipeLikeStdin) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string data = gzip("p1\np2\n");
  ASSERT_EQ(write(fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fds[1]);
  std::vector<std::string> lines;
  auto result = read_log_fd(fds[0], [&](std::string_view line) { lines.emplace_back(line); });
  close(fds[0]);
  EXPECT_TRUE(result.gzip);
  EXPECT_EQ(lines, (std::vector<std::string>{"p1", "p2"}));
}
