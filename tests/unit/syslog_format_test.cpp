// RFC 5424 messages and RFC 6587 framing, byte for byte.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sink/syslog.hpp"

using namespace shimwatch;

namespace {

TEST(Syslog, Rfc5424HeaderByteForByte) {
  SyslogHeader h;
  h.facility = 16; // local0
  h.severity = SyslogSeverity::notice;
  h.timestamp_ns = 1'700'000'000'123'456'789;
  h.hostname = "node-1";
  h.procid = 4242;
  h.msgid = "docker-cli-exec";
  EXPECT_EQ(format_rfc5424(h, "{\"a\":1}"),
            "<133>1 2023-11-14T22:13:20.123456Z node-1 shimwatch 4242 docker-cli-exec - {\"a\":1}");
}

TEST(Syslog, PriorityIsFacilityTimesEightPlusSeverity) {
  SyslogHeader h;
  h.facility = 0;
  h.severity = SyslogSeverity::emergency;
  EXPECT_EQ(format_rfc5424(h, "").substr(0, 5), "<0>1 ");
  h.facility = 23;
  h.severity = SyslogSeverity::debug;
  EXPECT_EQ(format_rfc5424(h, "").substr(0, 7), "<191>1 ");
  h.facility = 10; // authpriv
  h.severity = SyslogSeverity::warning;
  EXPECT_EQ(format_rfc5424(h, "").substr(0, 6), "<84>1 ");
}

TEST(Syslog, HeaderFieldsArePrintableAsciiCutToTheirLimitsOrNil) {
  SyslogHeader h;
  h.hostname = "bad host\nname\x01";
  h.app_name = "";
  h.msgid = std::string(40, 'm');
  h.procid = 0;
  std::string msg = format_rfc5424(h, "x");
  EXPECT_NE(msg.find(" badhostname - - " + std::string(32, 'm') + " - x"), std::string::npos)
      << msg;
  h.hostname = std::string(300, 'h');
  msg = format_rfc5424(h, "x");
  EXPECT_NE(msg.find(" " + std::string(255, 'h') + " "), std::string::npos);
  EXPECT_EQ(msg.find(std::string(256, 'h')), std::string::npos);
}

TEST(Syslog, OctetCountingCountsBytesNotCharacters) {
  EXPECT_EQ(frame_octet_counted("abc"), "3 abc");
  EXPECT_EQ(frame_octet_counted(""), "0 ");
  // A newline inside the message does not end it; "ü" is two bytes.
  EXPECT_EQ(frame_octet_counted("a\nü"), "4 a\nü");
}

TEST(Syslog, FacilityNames) {
  EXPECT_EQ(*syslog_facility("kern"), 0);
  EXPECT_EQ(*syslog_facility("auth"), 4);
  EXPECT_EQ(*syslog_facility("authpriv"), 10);
  EXPECT_EQ(*syslog_facility("local0"), 16);
  EXPECT_EQ(*syslog_facility("local7"), 23);
  auto bad = syslog_facility("local8");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'local8'"), std::string::npos);
}

TEST(Syslog, EventMessageCarriesTheJsonLineAndSeverityByOutcome) {
  Event e;
  e.action = Action::docker_socket_connect;
  e.timestamp_ns = 1'700'000'000'000'000'000;
  e.process.pid = 77;
  e.process.args = {"curl", "line\nbreak"};
  e.socket_path = "/var/run/docker.sock";
  e.error = 111; // ECONNREFUSED
  HostInfo host{"node-7"};
  std::string msg = syslog_message(e, host, 16, 99);
  const std::string prefix =
      "<132>1 2023-11-14T22:13:20.000000Z node-7 shimwatch 99 docker-socket-connect - ";
  ASSERT_EQ(msg.substr(0, prefix.size()), prefix) << msg;
  auto json = nlohmann::json::parse(msg.substr(prefix.size()));
  EXPECT_EQ(json["process"]["args"][1], "line\nbreak");
  EXPECT_EQ(msg.find('\n'), std::string::npos); // the JSON escapes it
  e.error = 0;
  EXPECT_EQ(syslog_message(e, host, 16, 99).substr(0, 5), "<133>");
}

} // namespace
