// SyslogSink against a real rsyslogd (RsyslogPeer): UDP, TCP and TLS deliver
// every event exactly once and byte for byte, newlines in argv included; a
// TCP outage fills the queue, and a gap record leads the queued events once
// rsyslog is back; TLS refuses wrong CAs and wrong names, and presents a
// client certificate when asked. Needs rsyslog and rsyslog-gnutls; no BPF.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

#include "harness.hpp"
#include "log_capture.hpp"
#include "rsyslog_peer.hpp"
#include "sink/syslog.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using shimwatch::Event;
using shimwatch::HostInfo;
using shimwatch::SyslogOptions;
using shimwatch::SyslogSink;
using swtest::RsyslogPeer;
using swtest::RsyslogPeerOptions;

namespace {

const HostInfo kHost{"node-syslog-test"};
constexpr int64_t kBase = 1'764'000'000'000'000'000; // 2025-11-24
constexpr uint32_t kPidBase = 40000;

// Event i: distinct pid and timestamp; argv with what a transport could
// break: a newline (which must not split the record), a tab, quotes, a
// backslash, non-ASCII UTF-8, a long argument. Odd events are failed
// connects (severity warning), even ones execs (notice).
Event make_event(int i) {
  Event e;
  e.timestamp_ns = kBase + int64_t{i} * 1'000'000;
  e.process.pid = kPidBase + static_cast<uint32_t>(i);
  e.process.ppid = 1;
  e.process.name = "docker";
  e.process.executable = "/usr/bin/docker";
  e.process.args = {"docker",
                    "exec",
                    "web-" + std::to_string(i),
                    "sh",
                    "-c",
                    "echo first line\necho 'second' \"line\"\t\\ done",
                    "grüße-" + std::to_string(i),
                    std::string(300, 'x')};
  if (i % 2) {
    e.action = shimwatch::Action::docker_socket_connect;
    e.socket_path = "/var/run/docker.sock";
    e.error = ECONNREFUSED;
  }
  return e;
}

std::string expected_message(int i) {
  return shimwatch::syslog_message(make_event(i), kHost, 16, static_cast<uint32_t>(getpid()));
}

// Which event a received message is (by process.pid), -1 if none.
int event_index(const json &received) {
  if (!received.contains("msg"))
    return -1;
  auto body = json::parse(received["msg"].get<std::string>(), nullptr, false);
  if (!body.is_object() || !body.contains("process"))
    return -1;
  return static_cast<int>(body["process"]["pid"].get<uint32_t>()) - static_cast<int>(kPidBase);
}

bool is_gap(const json &received) {
  return received.value("msgid", "") == "shimwatch-gap";
}

// Every event in `indexes` arrived exactly once, byte for byte; nothing else
// arrived except gap records.
void expect_exactly_once(const std::vector<json> &received, const std::vector<int> &indexes,
                         const std::string &input) {
  std::map<int, int> seen;
  for (const json &r : received) {
    if (is_gap(r))
      continue;
    int i = event_index(r);
    ASSERT_GE(i, 0) << "not one of the events: " << r.dump();
    seen[i]++;
    // Byte for byte as formatted, and parsed by rsyslog as RFC 5424.
    ASSERT_EQ(r.value("raw", ""), expected_message(i)) << "event " << i;
    EXPECT_EQ(r.value("input", ""), input);
    EXPECT_EQ(r.value("hostname", ""), kHost.name);
    EXPECT_EQ(r.value("app", ""), "shimwatch");
    EXPECT_EQ(r.value("procid", ""), std::to_string(getpid()));
    EXPECT_EQ(r.value("sd", ""), "-");
    Event e = make_event(i);
    EXPECT_EQ(r.value("pri", ""), e.error ? "132" : "133") << "local0.warning / local0.notice";
    EXPECT_EQ(r.value("msgid", ""), std::string(shimwatch::action_name(e.action)));
    // The JSON event, parsed back: argv intact, the newline included.
    auto body = json::parse(r["msg"].get<std::string>());
    EXPECT_EQ(body["process"]["args"].get<std::vector<std::string>>(), e.process.args);
    EXPECT_EQ(body["@timestamp"], shimwatch::format_timestamp(e.timestamp_ns));
  }
  for (int i : indexes)
    EXPECT_EQ(seen[i], 1) << "event " << i << " arrived " << seen[i] << " times";
  EXPECT_EQ(seen.size(), indexes.size());
}

std::vector<int> range(int from, int to) {
  std::vector<int> out;
  for (int i = from; i < to; ++i)
    out.push_back(i);
  return out;
}

SyslogOptions options_for(const std::string &url) {
  SyslogOptions o;
  o.url = url;
  o.backoff_initial = 50ms;
  o.backoff_max = 200ms;
  o.connect_timeout = 5s;
  return o;
}

std::unique_ptr<SyslogSink> open_sink(const SyslogOptions &o) {
  auto sink = SyslogSink::open(o, kHost);
  if (!sink)
    throw std::runtime_error(sink.error().message);
  return std::move(*sink);
}

// Sends events [0, n) and checks that rsyslog got each exactly once.
void deliver_and_check(RsyslogPeer &peer, const SyslogOptions &o, const std::string &input,
                       int n = 200) {
  auto sink = open_sink(o);
  // TRIGGER: n events through the sink.
  for (int i = 0; i < n; ++i)
    sink->write(make_event(i));
  // ASSERT
  ASSERT_TRUE(peer.wait_for_messages(static_cast<size_t>(n), 20s))
      << peer.received().size() << " of " << n << " arrived; " << peer.diagnostics();
  sink->stop(5s);
  peer.stop(); // flushes: duplicates, if any, would be in the file now
  auto s = sink->stats();
  EXPECT_EQ(s.sent, static_cast<uint64_t>(n));
  EXPECT_EQ(s.dropped_queue_full + s.dropped_send_failed + s.dropped_at_stop, 0u);
  expect_exactly_once(peer.received(), range(0, n), input);
}

TEST(SyslogRsyslog, UdpDeliversEveryEventOnceIntact) {
  RsyslogPeer peer({.udp = true, .tcp = false});
  deliver_and_check(peer, options_for(peer.udp_url()), "imudp");
}

TEST(SyslogRsyslog, TcpDeliversEveryEventOnceIntact) {
  RsyslogPeer peer({.udp = false, .tcp = true});
  deliver_and_check(peer, options_for(peer.tcp_url()), "imtcp");
}

TEST(SyslogRsyslog, TlsDeliversEveryEventOnceIntact) {
  RsyslogPeer peer({.udp = false, .tcp = false, .tls = true});
  SyslogOptions o = options_for(peer.tls_url("localhost")); // SNI and a DNS name to verify
  o.ca_file = peer.ca_file();
  deliver_and_check(peer, o, "imtcp");
}

TEST(SyslogRsyslog, TlsVerifiesAnIpAddressAgainstTheCertificate) {
  RsyslogPeer peer({.udp = false, .tcp = false, .tls = true});
  SyslogOptions o = options_for(peer.tls_url("127.0.0.1"));
  o.ca_file = peer.ca_file();
  deliver_and_check(peer, o, "imtcp", 20);
}

TEST(SyslogRsyslog, TcpOutageFillsTheQueueThenAGapRecordLeadsTheQueuedEvents) {
  RsyslogPeer peer({.udp = false, .tcp = true});
  SyslogOptions o = options_for(peer.tcp_url());
  o.queue_capacity = 50;
  swtest::LogCapture log;
  auto sink = open_sink(o);

  // TRIGGER: ten events while rsyslog is up.
  for (int i = 0; i < 10; ++i)
    sink->write(make_event(i));
  // ASSERT
  ASSERT_TRUE(peer.wait_for_messages(10, 20s)) << peer.diagnostics();

  // TRIGGER: rsyslog goes away while the link is idle. The next event finds the
  // connection closed before writing into it (so it is not lost), and no
  // connection can be made.
  peer.stop();
  sink->write(make_event(10));
  // ASSERT
  ASSERT_TRUE(swtest::wait_for([&] { return sink->stats().send_errors >= 2; }, 20s));
  EXPECT_FALSE(sink->stats().connected);
  // TRIGGER: more events. write() returns although nothing can be sent; what does not fit is
  // dropped and counted: events 10..59 are queued, 60..89 dropped.
  for (int i = 11; i < 90; ++i)
    sink->write(make_event(i));
  // ASSERT
  auto s = sink->stats();
  EXPECT_EQ(s.queued, 50u);
  EXPECT_EQ(s.dropped_queue_full, 30u);
  EXPECT_EQ(s.sent, 10u);

  // TRIGGER: rsyslog is back on the same port.
  peer.start();
  // ASSERT: the gap record, then the queue.
  ASSERT_TRUE(peer.wait_for_messages(10 + 1 + 50, 20s))
      << peer.received().size() << " arrived; " << peer.diagnostics();
  ASSERT_TRUE(swtest::wait_for([&] { return sink->stats().queued == 0; }, 20s));
  sink->stop(5s);
  peer.stop();

  auto received = peer.received();
  ASSERT_EQ(received.size(), 61u) << peer.diagnostics();
  // In order: 0..9, the gap record, 10..59.
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(event_index(received[static_cast<size_t>(i)]), i);
  const json &gap_line = received[10];
  ASSERT_TRUE(is_gap(gap_line)) << gap_line.dump();
  EXPECT_EQ(gap_line.value("pri", ""), "132") << "local0.warning";
  auto gap = json::parse(gap_line["msg"].get<std::string>());
  EXPECT_EQ(gap["event"]["action"], "shimwatch-gap");
  EXPECT_EQ(gap["event"]["kind"], "event");
  EXPECT_EQ(gap["event"]["outcome"], "unknown");
  EXPECT_EQ(gap["host"]["name"], kHost.name);
  EXPECT_EQ(gap["shimwatch"]["gap"]["dropped"], 30);
  EXPECT_EQ(gap["shimwatch"]["gap"]["queue_full"], 30);
  EXPECT_EQ(gap["shimwatch"]["gap"]["first"],
            shimwatch::format_timestamp(make_event(60).timestamp_ns));
  EXPECT_EQ(gap["shimwatch"]["gap"]["last"],
            shimwatch::format_timestamp(make_event(89).timestamp_ns));
  for (int i = 10; i < 60; ++i)
    EXPECT_EQ(event_index(received[static_cast<size_t>(i) + 1]), i);
  expect_exactly_once(received, range(0, 60), "imtcp");

  s = sink->stats();
  EXPECT_EQ(s.sent, 60u);
  EXPECT_EQ(s.gaps_sent, 1u);
  EXPECT_GE(s.reconnects, 1u);
  EXPECT_EQ(s.dropped_at_stop, 0u);
  // One warning for the outage, one info line for the recovery; nothing per
  // message.
  auto warnings = log.lines(spdlog::level::warn);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("cannot send to " + peer.tcp_url()), std::string::npos) << warnings[0];
  auto infos = log.lines(spdlog::level::info);
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_NE(infos[0].find("sending to " + peer.tcp_url() + " again"), std::string::npos)
      << infos[0];
}

// Sends a few events that must not arrive; errors are counted, one warning
// says why, nothing crashes. may_send: the collector refuses only after
// accepting the connection, so a message may go out before its verdict
// (lost, at most once).
void expect_refused(RsyslogPeer &peer, const SyslogOptions &o, const std::string &why,
                    bool may_send = false) {
  swtest::LogCapture log;
  auto sink = open_sink(o);
  // TRIGGER: five events through the sink.
  for (int i = 0; i < 5; ++i)
    sink->write(make_event(i));
  // ASSERT
  ASSERT_TRUE(swtest::wait_for([&] { return sink->stats().send_errors >= 3; }, 20s));
  auto s = sink->stats();
  if (!may_send) {
    EXPECT_EQ(s.sent, 0u);
  }
  EXPECT_NE(s.last_error.find(why), std::string::npos) << s.last_error;
  sink->stop(0ms);
  s = sink->stats();
  EXPECT_EQ(s.sent + s.dropped_at_stop, 5u);
  auto warnings = log.lines(spdlog::level::warn);
  ASSERT_GE(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(why), std::string::npos) << warnings[0];
  peer.stop();
  EXPECT_TRUE(peer.received().empty()) << peer.received().front().dump();
}

TEST(SyslogRsyslog, TlsWithTheWrongCaFailsAndCountsErrors) {
  RsyslogPeer peer({.udp = false, .tcp = false, .tls = true});
  SyslogOptions o = options_for(peer.tls_url());
  o.ca_file = peer.other_ca_file();
  expect_refused(peer, o, "certificate verification failed");
}

TEST(SyslogRsyslog, TlsRefusesACertificateForAnotherNameUnlessVerificationIsOff) {
  RsyslogPeer peer({.udp = false, .tcp = false, .tls = true, .server_names = "DNS:elsewhere.test"});
  SyslogOptions o = options_for(peer.tls_url("localhost"));
  o.ca_file = peer.ca_file();
  expect_refused(peer, o, "certificate verification failed");

  peer.start();
  o.tls_verify = false;
  deliver_and_check(peer, o, "imtcp", 20);
}

TEST(SyslogRsyslog, TlsPresentsAClientCertificateWhenTheCollectorAsksForOne) {
  RsyslogPeer peer({.udp = false, .tcp = false, .tls = true, .require_client_cert = true});
  SyslogOptions o = options_for(peer.tls_url());
  o.ca_file = peer.ca_file();
  // Without one, rsyslog completes the handshake and then hangs up: seen
  // before the first message is written, reported, retried with backoff.
  expect_refused(peer, o, "closed the connection", true);

  peer.start();
  o.cert_file = peer.client_cert_file();
  o.key_file = peer.client_key_file();
  deliver_and_check(peer, o, "imtcp", 20);
}

} // namespace
