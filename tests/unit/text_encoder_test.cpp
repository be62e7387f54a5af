// text_header() / encode_text(): one screen line per event, columns that line up.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "shimwatch/sink.hpp"

using shimwatch::Action;
using shimwatch::encode_text;
using shimwatch::Event;
using shimwatch::text_header;

namespace {

constexpr size_t process_width = 15;
constexpr size_t origin_width = 24;

Event exec_event(std::vector<std::string> args) {
  Event e;
  e.action = Action::docker_cli_exec;
  e.timestamp_ns = 1'700'000'000'123'456'789; // 22:13:20.123456
  e.process.pid = 4242;
  e.process.name = "docker";
  e.process.args = std::move(args);
  e.cgroup_id = 1234;
  e.exec_path = "/usr/bin/docker";
  return e;
}

Event connect_event(std::string path, int error = 0) {
  Event e = exec_event({"/bin/node_exporter"});
  e.action = Action::docker_socket_connect;
  e.process.name = "node_exporter";
  e.socket_path = std::move(path);
  e.error = error;
  return e;
}

// Pads to width code points, as the encoder counts columns.
std::string pad(const std::string &text, size_t width) {
  size_t columns = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80)
      ++columns;
  return text + std::string(width > columns ? width - columns : 0, ' ');
}

// Cells are located through the header, so the tests follow the layout.
std::string target_cell(const std::string &row) {
  return row.substr(text_header().find("TARGET"));
}

std::string origin_cell(const std::string &row) {
  return row.substr(text_header().find("ORIGIN"), origin_width);
}

TEST(TextEncoder, HeaderIsOneLineWithEveryColumn) {
  std::string header = text_header();
  EXPECT_EQ(header.find('\n'), std::string::npos);
  EXPECT_TRUE(header.starts_with("TIME(UTC)")) << header;
  for (const char *column : {"ACTION", "OUTCOME", "PID", "PROCESS", "ORIGIN", "TARGET"})
    EXPECT_NE(header.find(column), std::string::npos) << column << " missing in: " << header;
  // The target is the one column of unbounded width: it must come last.
  EXPECT_TRUE(header.ends_with("TARGET")) << header;
}

TEST(TextEncoder, ExecRowExactLayout) {
  std::string row = encode_text(exec_event({"docker", "ps", "-a"}));
  std::string expected = "22:13:20.123456 " + pad("exec", 7) + " " + pad("ok", 15) + " " +
                         "   4242 " + pad("docker", process_width) + " " +
                         pad("host", origin_width) + " docker ps -a";
  EXPECT_EQ(row, expected);
}

TEST(TextEncoder, FailedConnectRowShowsErrnoNameAndSocket) {
  std::string row = encode_text(connect_event("/var/run/docker.sock", ECONNREFUSED));
  std::string expected = "22:13:20.123456 connect ECONNREFUSED       4242 " +
                         pad("node_exporter", process_width) + " " + pad("host", origin_width) +
                         " /var/run/docker.sock";
  EXPECT_EQ(row, expected);
}

TEST(TextEncoder, LongestErrnoNamesKeepColumnsAligned) {
  for (int error : {EADDRNOTAVAIL, ENOTRECOVERABLE, EPROTONOSUPPORT}) {
    std::string row = encode_text(connect_event("/var/run/docker.sock", error));
    EXPECT_EQ(target_cell(row), "/var/run/docker.sock") << row;
  }
}

TEST(TextEncoder, ControlCharactersAreShownEscaped) {
  std::string row = encode_text(exec_event({"sh", "-c", "a\nb\tc\x01\r\x1b\x7f"}));
  EXPECT_EQ(row.find('\n'), std::string::npos);
  EXPECT_EQ(row.find('\r'), std::string::npos);
  EXPECT_EQ(row.find('\x1b'), std::string::npos);
  EXPECT_EQ(target_cell(row), "sh -c 'a\\nb\\tc\\x01\\r\\x1b\\x7f'");
}

TEST(TextEncoder, C1AndBidirectionalControlsAreShownEscaped) {
  // A CSI that clears the screen, and a right-to-left override that would
  // show "docker.sock" reversed.
  std::string row = encode_text(connect_event("/run/\xC2\x9B"
                                              "2J\xE2\x80\xAEkcos.rekcod"));
  EXPECT_EQ(target_cell(row), "/run/\\u{009b}2J\\u{202e}kcos.rekcod");
}

TEST(TextEncoder, InvalidUtf8IsReplaced) {
  std::string row = encode_text(connect_event("/run/\xff.sock"));
  EXPECT_EQ(target_cell(row), "/run/\xEF\xBF\xBD.sock");
}

TEST(TextEncoder, ControlCharactersInProcessNameAreEscapedThenFitted) {
  Event e = exec_event({"docker"});
  e.process.name = "a\tb";
  std::string row = encode_text(e);
  EXPECT_NE(row.find(" " + pad("a\\tb", process_width) + " "), std::string::npos) << row;

  // Escaping makes this 15-byte comm 16 columns wide: it is cut, not let overflow.
  e.process.name = "a\tbcdefghijklmn";
  row = encode_text(e);
  EXPECT_NE(row.find(" a\\tbcdefghijkl~ host"), std::string::npos) << row;
}

TEST(TextEncoder, MultibyteProcessNameIsPaddedByCodePoints) {
  Event e = exec_event({"docker"});
  e.process.name = "dücker";
  std::string row = encode_text(e);
  EXPECT_NE(row.find(" dücker" + std::string(process_width - 6, ' ') + " host"), std::string::npos)
      << row;
}

TEST(TextEncoder, LongTargetIsKeptWhole) {
  std::string path = "/" + std::string(199, 'p');
  std::string row = encode_text(connect_event(path));
  EXPECT_EQ(target_cell(row), path);

  std::string wide;
  for (int i = 0; i < 60; ++i)
    wide += "日";
  row = encode_text(exec_event({"docker", "run", wide}));
  EXPECT_EQ(target_cell(row), "docker run " + wide);
}

TEST(TextEncoder, LongOriginIsCutWithTilde) {
  Event e = exec_event({"docker", "ps"});
  e.origin.type = shimwatch::OriginType::pod;
  e.origin.kubernetes_known = true;
  e.origin.namespace_name = "monitoring";
  e.origin.workload_name = "datadog-agent-cluster-wide";
  e.origin.container_name = "agent";
  std::string row = encode_text(e);
  EXPECT_EQ(origin_cell(row), "monitoring/datadog-agen~");
  EXPECT_EQ(target_cell(row), "docker ps");

  // Exactly the column's width: nothing to cut.
  e.origin.namespace_name = "ns";
  e.origin.workload_name = "sixteen-chars-ab";
  e.origin.container_name = "abcd";
  row = encode_text(e);
  EXPECT_EQ(origin_cell(row), "ns/sixteen-chars-ab:abcd");
  EXPECT_EQ(row.find('~'), std::string::npos) << row;
}

TEST(TextEncoder, OriginNamesWhoIsBehind) {
  Event e = exec_event({"docker", "ps"});
  e.origin.type = shimwatch::OriginType::pod;
  e.origin.cgroup.pod_uid = "6f1b5a8e-3c2d-4e8f-9a0b-1c2d3e4f5a6b";
  EXPECT_EQ(origin_cell(encode_text(e)), pad("pod:6f1b5a8e-3c2d-4e8f-~", origin_width));
  e.origin.type = shimwatch::OriginType::systemd_unit;
  e.origin.cgroup.unit = "cron.service";
  EXPECT_EQ(origin_cell(encode_text(e)), pad("cron.service", origin_width));
  e.origin.type = shimwatch::OriginType::user_session;
  e.origin.cgroup.session = "7";
  e.origin.cgroup.session_uid = 1000;
  EXPECT_EQ(origin_cell(encode_text(e)), pad("session 7 uid 1000", origin_width));
  e.origin.type = shimwatch::OriginType::container;
  e.origin.cgroup.container_runtime = "docker";
  e.origin.cgroup.container_id = std::string(64, 'a');
  EXPECT_EQ(origin_cell(encode_text(e)), pad("docker:aaaaaaaaaaaa", origin_width));
  e.origin.agent = "datadog";
  EXPECT_EQ(origin_cell(encode_text(e)), "datadog docker:aaaaaaaa~");
}

TEST(TextEncoder, ColumnsAlignWithHeader) {
  std::string header = text_header();
  size_t process_at = header.find("PROCESS");
  size_t origin_at = header.find("ORIGIN");
  size_t target_at = header.find("TARGET");
  ASSERT_NE(target_at, std::string::npos);
  ASSERT_NE(origin_at, std::string::npos);

  std::vector<Event> events = {
      exec_event({"docker", "ps"}),
      exec_event({"docker", "run", std::string(200, 'x')}),
      connect_event("/var/run/docker.sock", ECONNREFUSED),
      connect_event("@abstract"),
  };
  events[1].process.name = "docker-compose1";                  // comm at its 15-byte maximum
  events[1].process.pid = 4194304;                             // pid_max on 64-bit
  events[1].origin.type = shimwatch::OriginType::systemd_unit; // origin cut
  events[1].origin.cgroup.unit = std::string(40, 'u') + ".service";
  for (const Event &e : events) {
    std::string row = encode_text(e);
    std::string target = e.action == Action::docker_socket_connect
                             ? e.socket_path
                             : shimwatch::command_line(e.process.args);
    EXPECT_EQ(row.substr(process_at, e.process.name.size()), e.process.name) << header << "\n"
                                                                             << row;
    std::string origin = e.origin.type == shimwatch::OriginType::host ? "host" : "uuuu";
    EXPECT_EQ(row.substr(origin_at, 4), origin) << header << "\n" << row;
    EXPECT_EQ(row.substr(target_at), target) << header << "\n" << row;
    EXPECT_EQ(row.find('\n'), std::string::npos);
  }
}

} // namespace
