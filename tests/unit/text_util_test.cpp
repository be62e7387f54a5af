// Encoding helpers shared by every output.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "shimwatch/sink.hpp"

using namespace std::string_view_literals;
using shimwatch::command_line;
using shimwatch::errno_name;
using shimwatch::format_timestamp;
namespace utf8 = shimwatch::utf8;

namespace {

const std::string fffd = "\xEF\xBF\xBD";

TEST(FormatTimestamp, Epoch) {
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00.000000Z");
}

TEST(FormatTimestamp, KnownInstant) {
  EXPECT_EQ(format_timestamp(1'700'000'000'123'456'789), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(format_timestamp(951'782'400'000'000'000), "2000-02-29T00:00:00.000000Z");
}

TEST(FormatTimestamp, SubMicrosecondsAreCutNotRounded) {
  EXPECT_EQ(format_timestamp(999), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_timestamp(1'999), "1970-01-01T00:00:00.000001Z");
  EXPECT_EQ(format_timestamp(999'999'999), "1970-01-01T00:00:00.999999Z");
}

TEST(FormatTimestamp, NegativeValuesCountBackFromEpoch) {
  EXPECT_EQ(format_timestamp(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_timestamp(-1'000), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_timestamp(-1'000'000'000), "1969-12-31T23:59:59.000000Z");
  EXPECT_EQ(format_timestamp(-1'500'000'000), "1969-12-31T23:59:58.500000Z");
}

TEST(FormatTimestamp, Int64Extremes) {
  EXPECT_EQ(format_timestamp(std::numeric_limits<int64_t>::max()), "2262-04-11T23:47:16.854775Z");
  EXPECT_EQ(format_timestamp(std::numeric_limits<int64_t>::min()), "1677-09-21T00:12:43.145224Z");
}

TEST(ErrnoName, KnownValues) {
  EXPECT_EQ(errno_name(ENOENT), "ENOENT");
  EXPECT_EQ(errno_name(ECONNREFUSED), "ECONNREFUSED");
  EXPECT_EQ(errno_name(EACCES), "EACCES");
  EXPECT_EQ(errno_name(EPERM), "EPERM");
}

TEST(ErrnoName, UnknownValueIsNumbered) {
  EXPECT_EQ(errno_name(4095), "E4095");
}

TEST(CommandLine, PlainArgumentsJoinedBySpaces) {
  EXPECT_EQ(command_line({}), "");
  EXPECT_EQ(command_line({"docker"}), "docker");
  EXPECT_EQ(command_line({"docker", "ps", "-a"}), "docker ps -a");
  EXPECT_EQ(command_line({"docker", "-H", "unix:///run/docker.sock", "ps", "--all=true"}),
            "docker -H unix:///run/docker.sock ps --all=true");
}

TEST(CommandLine, EmptyArgumentIsQuoted) {
  EXPECT_EQ(command_line({""}), "''");
  EXPECT_EQ(command_line({"docker", "", "ps"}), "docker '' ps");
}

TEST(CommandLine, ShellSpecialCharactersAreQuoted) {
  EXPECT_EQ(command_line({"echo", "hello world"}), "echo 'hello world'");
  EXPECT_EQ(command_line({"echo", "it's"}), "echo 'it'\\''s'");
  EXPECT_EQ(command_line({"echo", "$HOME"}), "echo '$HOME'");
  EXPECT_EQ(command_line({"ls", "*"}), "ls '*'");
  EXPECT_EQ(command_line({"docker", "ps", "--format", "{{.ID}}"}), "docker ps --format '{{.ID}}'");
  EXPECT_EQ(command_line({"sh", "-c", "a;b|c&d"}), "sh -c 'a;b|c&d'");
  EXPECT_EQ(command_line({"x", "a\tb"}), "x 'a\tb'");
  EXPECT_EQ(command_line({"x", "a\nb"}), "x 'a\nb'");
  EXPECT_EQ(command_line({"x", "say \"hi\""}), "x 'say \"hi\"'");
  EXPECT_EQ(command_line({"x", "back\\slash"}), "x 'back\\slash'");
  EXPECT_EQ(command_line({"x", "~"}), "x '~'");
}

TEST(CommandLine, NonAsciiNeedsNoQuoting) {
  EXPECT_EQ(command_line({"echo", "日本"}), "echo 日本");
}

TEST(Utf8Valid, AcceptsWellFormedText) {
  EXPECT_TRUE(utf8::valid(""));
  EXPECT_TRUE(utf8::valid("docker ps"));
  EXPECT_TRUE(utf8::valid("a\0b"sv));
  EXPECT_TRUE(utf8::valid("\x7f"));
  EXPECT_TRUE(utf8::valid("ü"));
  EXPECT_TRUE(utf8::valid("日本"));
  EXPECT_TRUE(utf8::valid("\xF0\x9F\x90\xB3")); // U+1F433
  EXPECT_TRUE(utf8::valid("\xC2\x80"));         // U+0080, smallest 2-byte
  EXPECT_TRUE(utf8::valid("\xE0\xA0\x80"));     // U+0800, smallest 3-byte
  EXPECT_TRUE(utf8::valid("\xED\x9F\xBF"));     // U+D7FF, just below surrogates
  EXPECT_TRUE(utf8::valid("\xEE\x80\x80"));     // U+E000, just above surrogates
  EXPECT_TRUE(utf8::valid("\xF0\x90\x80\x80")); // U+10000, smallest 4-byte
  EXPECT_TRUE(utf8::valid("\xF4\x8F\xBF\xBF")); // U+10FFFF, the last code point
}

TEST(Utf8Valid, RejectsMalformedText) {
  EXPECT_FALSE(utf8::valid("\xff"));
  EXPECT_FALSE(utf8::valid("\xfe"));
  EXPECT_FALSE(utf8::valid("\x80"));
  EXPECT_FALSE(utf8::valid("a\xbf"));
  EXPECT_FALSE(utf8::valid("\xc0\xaf"));             // overlong '/'
  EXPECT_FALSE(utf8::valid("\xc1\xbf"));             // overlong
  EXPECT_FALSE(utf8::valid("\xe0\x80\xaf"));         // overlong 3-byte
  EXPECT_FALSE(utf8::valid("\xf0\x80\x80\xaf"));     // overlong 4-byte
  EXPECT_FALSE(utf8::valid("\xed\xa0\x80"));         // U+D800 surrogate
  EXPECT_FALSE(utf8::valid("\xed\xbf\xbf"));         // U+DFFF surrogate
  EXPECT_FALSE(utf8::valid("\xf4\x90\x80\x80"));     // U+110000
  EXPECT_FALSE(utf8::valid("\xf8\x88\x80\x80\x80")); // 5-byte form
  EXPECT_FALSE(utf8::valid("\xe6\x97"));             // cut short at the end
  EXPECT_FALSE(utf8::valid("\xe6\x97x"));            // cut short before ASCII
  EXPECT_FALSE(utf8::valid("\xc3"));
}

TEST(Utf8Sanitize, ValidTextUnchangedAndNotFlagged) {
  bool replaced = false;
  std::string text = "docker run --name=ü 日本 \xF0\x9F\x90\xB3";
  EXPECT_EQ(utf8::sanitize(text, &replaced), text);
  EXPECT_FALSE(replaced);
  EXPECT_EQ(utf8::sanitize("a\0b"sv, &replaced), "a\0b"sv);
  EXPECT_FALSE(replaced);
  EXPECT_EQ(utf8::sanitize("", &replaced), "");
  EXPECT_FALSE(replaced);
}

TEST(Utf8Sanitize, EachInvalidByteBecomesOneReplacementCharacter) {
  bool replaced = false;
  EXPECT_EQ(utf8::sanitize("\xff", &replaced), fffd);
  EXPECT_TRUE(replaced);
  EXPECT_EQ(utf8::sanitize("a\xff"
                           "b"),
            "a" + fffd + "b");
  EXPECT_EQ(utf8::sanitize("\x80"), fffd);
  EXPECT_EQ(utf8::sanitize("\xc0\xaf"), fffd + fffd);
  EXPECT_EQ(utf8::sanitize("\xed\xa0\x80"), fffd + fffd + fffd);
  EXPECT_EQ(utf8::sanitize("\xe6\x97"), fffd + fffd);
  EXPECT_EQ(utf8::sanitize("\xe6\x97x"), fffd + fffd + "x");
  EXPECT_EQ(utf8::sanitize("\xe6\x97\xa5\xff"), "日" + fffd);
  // Nothing is lost after a bad byte: the valid sequence that follows survives.
  EXPECT_EQ(utf8::sanitize("\xc3\xc3\xbc"), fffd + "ü");
}

TEST(Utf8Sanitize, FlagIsStickyAcrossCalls) {
  // Callers pass one flag for several fields; a later clean field must not clear it.
  bool replaced = false;
  (void)utf8::sanitize("\xff", &replaced);
  (void)utf8::sanitize("clean", &replaced);
  EXPECT_TRUE(replaced);
  EXPECT_EQ(utf8::sanitize("\xff", nullptr), fffd);
}

TEST(Utf8Sanitize, OutputIsAlwaysValid) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b)
    all_bytes += static_cast<char>(b);
  EXPECT_TRUE(utf8::valid(utf8::sanitize(all_bytes)));
}

TEST(EscapeControls, LineBreaksAndEscapeSequencesCannotLeaveTheLine) {
  EXPECT_EQ(utf8::escape_controls("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(utf8::escape_controls("\x1b[2J\x1b]0;title\x07"), "\\x1b[2J\\x1b]0;title\\x07");
  EXPECT_EQ(utf8::escape_controls("nul\0del\x7f"sv), "nul\\x00del\\x7f");
  // A record a workload would like to see at the start of a line.
  const std::string forged = utf8::escape_controls(
      "/tmp/"
      "x\n{\"@timestamp\":\"2026-01-01T00:00:00Z\",\"event\":{\"action\":\"docker-cli-exec\"}}");
  EXPECT_EQ(forged.find('\n'), std::string::npos);
  EXPECT_EQ(forged.rfind("/tmp/x\\n{", 0), 0u) << forged;
}

TEST(EscapeControls, C1AndBidirectionalControlsAreShownAsCodePoints) {
  EXPECT_EQ(utf8::escape_controls("\xC2\x9B"
                                  "31m"),
            "\\u{009b}31m");                                                         // C1 CSI
  EXPECT_EQ(utf8::escape_controls("abc\xE2\x80\xAEgpj.exe"), "abc\\u{202e}gpj.exe"); // RLO
  EXPECT_EQ(utf8::escape_controls("\xE2\x81\xA6x\xE2\x81\xA9"), "\\u{2066}x\\u{2069}");
  EXPECT_EQ(utf8::escape_controls("a\xE2\x80\xA8"
                                  "b"),
            "a\\u{2028}b"); // line separator
  EXPECT_EQ(utf8::escape_controls("\xE2\x80\x8F"), "\\u{200f}");
}

TEST(EscapeControls, PrintableTextAndNonUtf8Bytes) {
  EXPECT_EQ(utf8::escape_controls("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x90\xB3"),
            "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x90\xB3");
  EXPECT_EQ(utf8::escape_controls("/run/\xff\xfe.sock"), "/run/\\xff\\xfe.sock");
  EXPECT_EQ(utf8::escape_controls("\xC2"), "\\xc2"); // a sequence cut short
  EXPECT_EQ(utf8::escape_controls(""), "");
}

} // namespace
