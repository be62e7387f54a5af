// SyslogSink: URL parsing, and the queue, drop, retry and gap logic against a
// scripted collector (an injected SyslogConnector); a few checks of the real
// socket code against listeners on 127.0.0.1 (no privileges needed).
#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "event_builders.hpp"
#include "log_capture.hpp"
#include "sink/syslog.hpp"

using namespace shimwatch;
using namespace std::chrono_literals;
using Clock = SyslogConnection::Clock;
using Outcome = SyslogConnection::Outcome;

namespace {

// Polls until cond holds or 10 s pass (a bound for hangs, not a speed check).
template <typename Cond> bool eventually(Cond cond) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond())
      return true;
    std::this_thread::sleep_for(2ms);
  }
  return cond();
}

// ---------------------------------------------------------------------------
// URLs

TEST(SyslogUrl, AcceptsTheThreeTransportsWithDefaultPorts) {
  auto udp = parse_syslog_url("udp://collector.example");
  ASSERT_TRUE(udp.ok()) << udp.error().message;
  EXPECT_EQ(udp->transport, SyslogTransport::udp);
  EXPECT_EQ(udp->host, "collector.example");
  EXPECT_EQ(udp->port, 514);
  auto tcp = parse_syslog_url("TCP://10.0.0.7:1514");
  ASSERT_TRUE(tcp.ok()) << tcp.error().message;
  EXPECT_EQ(tcp->transport, SyslogTransport::tcp);
  EXPECT_EQ(tcp->host, "10.0.0.7");
  EXPECT_EQ(tcp->port, 1514);
  auto tls = parse_syslog_url("tls://[2001:db8::1]");
  ASSERT_TRUE(tls.ok()) << tls.error().message;
  EXPECT_EQ(tls->transport, SyslogTransport::tls);
  EXPECT_EQ(tls->host, "2001:db8::1");
  EXPECT_EQ(tls->port, 6514);
  EXPECT_EQ(tls->url(), "tls://[2001:db8::1]:6514");
  auto slash = parse_syslog_url("tcp://siem_1.corp-net.local:601/");
  ASSERT_TRUE(slash.ok()) << slash.error().message;
  EXPECT_EQ(slash->url(), "tcp://siem_1.corp-net.local:601");
}

TEST(SyslogUrl, SaysWhatIsWrong) {
  struct Case {
    const char *url;
    const char *says;
  };
  for (const Case &c : std::vector<Case>{
           {"collector:514", "has no scheme"},
           {"syslog://collector:514", "unsupported scheme 'syslog'"},
           {"relp://collector", "unsupported scheme 'relp'"},
           {"tcp://", "has no host"},
           {"tcp://:514", "has no host"},
           {"tcp://collector:0", "port must be a number from 1 to 65535"},
           {"tcp://collector:65536", "port must be a number from 1 to 65535"},
           {"tcp://collector:", "port must be a number from 1 to 65535"},
           {"tcp://collector:5x", "port must be a number from 1 to 65535"},
           {"udp://::1:514", "IPv6 addresses go in brackets"},
           {"udp://[::1", "'[' without ']'"},
           {"udp://[collector]:514", "is not an IPv6 address"},
           {"udp://[::1]514", "expected ':PORT' after ']'"},
           {"tls://collector:6514/path", "no path, query or user"},
           {"tls://user@collector", "no path, query or user"},
           {"tcp://bad host:514", "is not a host name or address"},
       }) {
    auto r = parse_syslog_url(c.url);
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos)
        << c.url << ": " << r.error().message;
    EXPECT_NE(r.error().message.find(std::string("'") + c.url + "'"), std::string::npos)
        << "the message quotes the URL: " << r.error().message;
  }
}

TEST(SyslogUrl, ConnectorRefusesTlsFilesForPlainTransportsAndUnreadableOnes) {
  SyslogOptions o;
  o.url = "tcp://127.0.0.1:514";
  o.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  auto plain = make_syslog_connector(o);
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.error().message.find("apply to tls:// only"), std::string::npos);

  o.url = "tls://127.0.0.1";
  o.ca_file = "/nonexistent/ca.pem";
  auto missing = make_syslog_connector(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/ca.pem"), std::string::npos);

  o.ca_file.clear();
  o.key_file = "/nonexistent/key.pem";
  auto key_only = make_syslog_connector(o);
  ASSERT_FALSE(key_only.ok());
  EXPECT_NE(key_only.error().message.find("without a client certificate"), std::string::npos);

  o.url = "ftp://x";
  EXPECT_FALSE(make_syslog_connector(o).ok());
  EXPECT_FALSE(SyslogSink::open(o, HostInfo{"n"}).ok());
}

// ---------------------------------------------------------------------------
// A scripted collector behind the SyslogConnection interface.

struct FakeCollector {
  std::mutex m;
  std::condition_variable cv;
  bool accept = true;                // connect succeeds
  bool close_after_message = false;  // the collector closes each connection after one message
  bool hold = false;                 // send() waits (until released or its deadline)
  int holding = 0;                   // sends waiting now
  int fail_sends = 0;                // the next sends fail (message not written)
  size_t reject_larger_than = 0;     // 0: none
  std::vector<std::string> received; // what was sent on live connections
  std::vector<std::string> lost;     // written into connections the peer had closed
  int connects = 0, connect_attempts = 0;
  int generation = 0; // close_all() bumps it: older connections are dead

  void set(const std::function<void(FakeCollector &)> &change) {
    {
      std::lock_guard lock(m);
      change(*this);
    }
    cv.notify_all();
  }
  size_t count() {
    std::lock_guard lock(m);
    return received.size();
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(m);
    return received;
  }

  SyslogConnector connector();
};

class FakeConnection final : public SyslogConnection {
public:
  FakeConnection(FakeCollector &c, int generation) : c_(c), generation_(generation) {}
  SendResult send(std::string_view message, const SyslogDeadline &deadline) override {
    std::unique_lock lock(c_.m);
    c_.holding++;
    c_.cv.notify_all();
    // Short waits: stop() may bring the deadline forward.
    while (c_.hold && !deadline.passed())
      c_.cv.wait_until(lock, std::min(deadline.at(), Clock::now() + 5ms));
    c_.holding--;
    if (c_.hold)
      return {Outcome::failed, "timed out"};
    if (c_.reject_larger_than && message.size() > c_.reject_larger_than)
      return {Outcome::rejected, "too large"};
    if (c_.fail_sends > 0) {
      c_.fail_sends--;
      return {Outcome::failed, "connection reset"};
    }
    // A closed peer whose close was not noticed: the kernel takes the bytes,
    // nobody reads them.
    (generation_ == c_.generation ? c_.received : c_.lost).emplace_back(message);
    if (c_.close_after_message)
      c_.generation++;
    return {};
  }
  bool alive() override {
    std::lock_guard lock(c_.m);
    return generation_ == c_.generation;
  }

private:
  FakeCollector &c_;
  int generation_;
};

SyslogConnector FakeCollector::connector() {
  return [this](const SyslogDeadline &) -> Result<std::unique_ptr<SyslogConnection>> {
    std::lock_guard lock(m);
    connect_attempts++;
    if (!accept)
      return Error{"connect to 127.0.0.1:514: Connection refused"};
    connects++;
    return std::unique_ptr<SyslogConnection>(std::make_unique<FakeConnection>(*this, generation));
  };
}

const HostInfo kHost{"node-unit"};
constexpr int64_t kBase = 1'700'000'000'000'000'000;

Event make_event(int i) {
  return swtest::cli_exec(static_cast<uint32_t>(1000 + i))
      .args({"docker", "ps", "--filter", "label=n" + std::to_string(i), "two\nlines"})
      .at(kBase + int64_t{i} * 1'000'000);
}

std::string expected(int i) {
  return syslog_message(make_event(i), kHost, 16, static_cast<uint32_t>(::getpid()));
}

SyslogOptions fast_options(size_t capacity = 100) {
  SyslogOptions o;
  o.url = "tcp://127.0.0.1:514";
  o.queue_capacity = capacity;
  o.backoff_initial = 1ms;
  o.backoff_max = 5ms;
  o.send_timeout = 20s; // held sends are released by the tests, not by this
  o.stop_drain = 5s;
  o.stable_after = 0ms; // fake connections live for milliseconds
  return o;
}

// The JSON of a gap record, checking its RFC 5424 header on the way.
nlohmann::json gap_json(const std::string &message) {
  EXPECT_EQ(message.substr(0, 7), "<132>1 ") << "local0.warning: " << message;
  auto pos = message.find(" shimwatch-gap - ");
  EXPECT_NE(pos, std::string::npos) << message;
  if (pos == std::string::npos)
    return {};
  return nlohmann::json::parse(message.substr(pos + 17));
}

bool is_gap(const std::string &message) {
  return message.find(" shimwatch-gap - ") != std::string::npos;
}

TEST(SyslogSink, SendsEveryEventOnceInOrderAsFormatted) {
  FakeCollector c;
  SyslogSink sink(fast_options(), kHost, c.connector());
  for (int i = 0; i < 50; ++i)
    sink.write(make_event(i));
  ASSERT_TRUE(eventually([&] { return c.count() == 50; }));
  auto got = c.messages();
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(got[static_cast<size_t>(i)], expected(i));
  sink.stop(1s);
  auto s = sink.stats();
  EXPECT_EQ(s.sent, 50u);
  EXPECT_EQ(s.dropped_queue_full + s.dropped_send_failed + s.dropped_at_stop, 0u);
  EXPECT_EQ(s.gaps_sent, 0u);
  EXPECT_EQ(c.connects, 1) << "connects once, lazily, and keeps the connection";
}

TEST(SyslogSink, ConnectsLazily) {
  FakeCollector c;
  SyslogSink sink(fast_options(), kHost, c.connector());
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(c.connect_attempts, 0);
  sink.write(make_event(0));
  ASSERT_TRUE(eventually([&] { return c.count() == 1; }));
}

TEST(SyslogSink, FullQueueDropsWithoutBlockingThenOneGapRecordLeadsTheQueue) {
  FakeCollector c;
  c.accept = false;
  SyslogSink sink(fast_options(10), kHost, c.connector());
  // Returns although nothing can be sent: write() never waits for the link.
  for (int i = 0; i < 25; ++i)
    sink.write(make_event(i));
  auto s = sink.stats();
  EXPECT_EQ(s.queued, 10u);
  EXPECT_EQ(s.dropped_queue_full, 15u);
  ASSERT_TRUE(eventually([&] { return sink.stats().send_errors >= 3; }));

  c.set([](FakeCollector &f) { f.accept = true; });
  ASSERT_TRUE(eventually([&] { return c.count() == 11; }));
  auto got = c.messages();
  ASSERT_TRUE(is_gap(got[0])) << got[0];
  auto gap = gap_json(got[0]);
  EXPECT_EQ(gap["event"]["action"], "shimwatch-gap");
  EXPECT_EQ(gap["event"]["kind"], "event");
  EXPECT_EQ(gap["event"]["outcome"], "unknown");
  EXPECT_EQ(gap["host"]["name"], "node-unit");
  EXPECT_EQ(gap["shimwatch"]["gap"]["dropped"], 15);
  EXPECT_EQ(gap["shimwatch"]["gap"]["queue_full"], 15);
  EXPECT_EQ(gap["shimwatch"]["gap"]["send_failed"], 0);
  // The dropped ones are the newest: events 10..24.
  EXPECT_EQ(gap["shimwatch"]["gap"]["first"], format_timestamp(make_event(10).timestamp_ns));
  EXPECT_EQ(gap["shimwatch"]["gap"]["last"], format_timestamp(make_event(24).timestamp_ns));
  EXPECT_EQ(gap["shimwatch"]["gap"]["destination"], "tcp://127.0.0.1:514");
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(got[static_cast<size_t>(i) + 1], expected(i));

  // Back to normal: no further gap record without new drops.
  sink.write(make_event(100));
  ASSERT_TRUE(eventually([&] { return c.count() == 12; }));
  EXPECT_EQ(c.messages().back(), expected(100));
  EXPECT_EQ(sink.stats().gaps_sent, 1u);
}

TEST(SyslogSink, QueueIsBoundedInBytesToo) {
  FakeCollector c;
  c.accept = false;
  auto o = fast_options(1000);
  o.queue_max_bytes = expected(0).size() * 3 + 10; // room for 3
  SyslogSink sink(o, kHost, c.connector());
  for (int i = 0; i < 8; ++i)
    sink.write(make_event(i));
  EXPECT_EQ(sink.stats().queued, 3u);
  EXPECT_EQ(sink.stats().dropped_queue_full, 5u);
  sink.stop(0ms);
  EXPECT_EQ(sink.stats().dropped_at_stop, 3u);
}

TEST(SyslogSink, DropsWhileConnectedButSlowGiveOneGapRecordBeforeTheNextMessage) {
  FakeCollector c;
  c.hold = true;
  auto o = fast_options(5);
  o.gap_interval = 1h; // not needed: the first gap record goes at once
  swtest::LogCapture log;
  SyslogSink sink(o, kHost, c.connector());
  sink.write(make_event(0));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(c.m);
    return c.holding == 1; // event 0 is being sent (and still queued)
  }));
  for (int i = 1; i < 9; ++i)
    sink.write(make_event(i)); // 1..4 fit, 5..8 are dropped
  EXPECT_EQ(sink.stats().dropped_queue_full, 4u);
  c.set([](FakeCollector &f) { f.hold = false; });
  ASSERT_TRUE(eventually([&] { return c.count() == 6; }));
  auto got = c.messages();
  EXPECT_EQ(got[0], expected(0));
  ASSERT_TRUE(is_gap(got[1])) << got[1];
  EXPECT_EQ(gap_json(got[1])["shimwatch"]["gap"]["dropped"], 4);
  for (int i = 1; i < 5; ++i)
    EXPECT_EQ(got[static_cast<size_t>(i) + 1], expected(i));
  // The collector was up all along: one warning about the full queue.
  EXPECT_EQ(log.lines(spdlog::level::warn).size(), 1u);
  EXPECT_TRUE(log.contains("queue for tcp://127.0.0.1:514 is full"));
}

TEST(SyslogSink, SustainedDropsGiveAtMostOneGapRecordPerInterval) {
  FakeCollector c;
  c.hold = true;
  auto o = fast_options(2);
  o.gap_interval = 1h;
  SyslogSink sink(o, kHost, c.connector());
  // Three rounds of: a full queue while the collector holds, drops, release.
  int n = 0;
  for (int round = 0; round < 3; ++round) {
    c.set([](FakeCollector &f) { f.hold = true; });
    for (int i = 0; i < 6; ++i)
      sink.write(make_event(n++));
    c.set([](FakeCollector &f) { f.hold = false; });
    ASSERT_TRUE(eventually([&] { return sink.stats().queued == 0; }));
  }
  auto got = c.messages();
  EXPECT_EQ(std::count_if(got.begin(), got.end(), is_gap), 1);
  EXPECT_EQ(sink.stats().gaps_sent, 1u);
  // The later drops are not lost: stop() sends them in a final gap record.
  sink.stop(1s);
  got = c.messages();
  ASSERT_EQ(std::count_if(got.begin(), got.end(), is_gap), 2);
  ASSERT_TRUE(is_gap(got.back()));
  auto s = sink.stats();
  uint64_t reported = 0;
  for (const auto &m : got)
    if (is_gap(m))
      reported += gap_json(m)["shimwatch"]["gap"]["dropped"].get<uint64_t>();
  EXPECT_EQ(reported, s.dropped_queue_full);
  EXPECT_EQ(s.dropped_queue_full, 12u);
  EXPECT_EQ(s.sent + s.dropped_queue_full, 18u);
}

TEST(SyslogSink, AMessageNotWrittenIsResentOnceOnANewConnection) {
  FakeCollector c;
  c.fail_sends = 1;
  SyslogSink sink(fast_options(), kHost, c.connector());
  for (int i = 0; i < 5; ++i)
    sink.write(make_event(i));
  ASSERT_TRUE(eventually([&] { return c.count() == 5; }));
  auto got = c.messages();
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(got[static_cast<size_t>(i)], expected(i));
  auto s = sink.stats();
  EXPECT_EQ(s.sent, 5u);
  EXPECT_EQ(s.send_errors, 1u);
  EXPECT_EQ(s.reconnects, 1u);
  EXPECT_EQ(s.dropped_send_failed, 0u);
}

TEST(SyslogSink, AMessageThatFailsTwiceIsDroppedAndReportedInAGapRecord) {
  FakeCollector c;
  SyslogSink sink(fast_options(), kHost, c.connector());
  sink.write(make_event(0));
  ASSERT_TRUE(eventually([&] { return c.count() == 1; }));
  c.set([](FakeCollector &f) { f.fail_sends = 2; });
  sink.write(make_event(1));
  sink.write(make_event(2));
  ASSERT_TRUE(eventually([&] { return c.count() == 3; }));
  auto got = c.messages();
  EXPECT_EQ(got[0], expected(0));
  ASSERT_TRUE(is_gap(got[1])) << got[1];
  auto gap = gap_json(got[1]);
  EXPECT_EQ(gap["shimwatch"]["gap"]["send_failed"], 1);
  EXPECT_EQ(gap["shimwatch"]["gap"]["queue_full"], 0);
  EXPECT_EQ(gap["shimwatch"]["gap"]["first"], format_timestamp(make_event(1).timestamp_ns));
  EXPECT_EQ(got[2], expected(2));
  EXPECT_EQ(sink.stats().dropped_send_failed, 1u);
}

Gap kernel_gap(uint64_t lost, int first, int last) {
  Gap g;
  g.stage = "kernel";
  g.reasons = {{"ring_buffer_full", lost}};
  g.first_ns = make_event(first).timestamp_ns;
  g.last_ns = g.timestamp_ns = make_event(last).timestamp_ns;
  g.message = std::to_string(lost) + " events were lost before reaching any output";
  return g;
}

// A gap record of another stage that finds the queue full is no dropped
// event: the losses it reports go out, merged, with the next gap record.
TEST(SyslogSink, AnotherStagesGapRecordThatDoesNotFitStillGoesOut) {
  FakeCollector c;
  c.accept = false;
  SyslogSink sink(fast_options(3), kHost, c.connector());
  for (int i = 0; i < 3; ++i)
    sink.write(make_event(i));
  sink.write_gap(kernel_gap(500, 3, 4));
  sink.write(make_event(5));
  sink.write_gap(kernel_gap(20, 6, 7));
  EXPECT_EQ(sink.stats().dropped_queue_full, 1u) << "event 5 only";

  c.set([](FakeCollector &f) { f.accept = true; });
  ASSERT_TRUE(eventually([&] { return c.count() == 5; }));
  auto got = c.messages();
  ASSERT_TRUE(is_gap(got[0])) << got[0];
  auto carried = gap_json(got[0]);
  EXPECT_EQ(carried["shimwatch"]["gap"]["stage"], "kernel");
  EXPECT_EQ(carried["shimwatch"]["gap"]["dropped"], 520);
  EXPECT_EQ(carried["shimwatch"]["gap"]["ring_buffer_full"], 520);
  EXPECT_EQ(carried["shimwatch"]["gap"]["first"], format_timestamp(make_event(3).timestamp_ns));
  EXPECT_EQ(carried["shimwatch"]["gap"]["last"], format_timestamp(make_event(7).timestamp_ns));
  ASSERT_TRUE(is_gap(got[1])) << got[1];
  auto own = gap_json(got[1]);
  EXPECT_EQ(own["shimwatch"]["gap"]["stage"], "syslog");
  EXPECT_EQ(own["shimwatch"]["gap"]["dropped"], 1);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(got[static_cast<size_t>(i) + 2], expected(i));
  sink.stop(1s);
  auto s = sink.stats();
  EXPECT_EQ(s.sent, 3u) << "events only";
  EXPECT_EQ(s.gaps_sent, 2u);
  EXPECT_EQ(s.dropped_queue_full + s.dropped_send_failed + s.dropped_at_stop, 1u);
}

// Nor is a queued gap record that fails twice: it is sent again later, and
// not counted as an event that failed.
TEST(SyslogSink, AnotherStagesGapRecordThatFailsTwiceIsSentLater) {
  FakeCollector c;
  SyslogSink sink(fast_options(), kHost, c.connector());
  sink.write(make_event(0));
  ASSERT_TRUE(eventually([&] { return c.count() == 1; }));
  c.set([](FakeCollector &f) { f.fail_sends = 2; });
  sink.write_gap(kernel_gap(42, 1, 2));
  sink.write(make_event(3));
  ASSERT_TRUE(eventually([&] { return c.count() == 3; }));
  auto got = c.messages();
  EXPECT_EQ(got[0], expected(0));
  ASSERT_TRUE(is_gap(got[1])) << got[1];
  EXPECT_EQ(gap_json(got[1])["shimwatch"]["gap"]["stage"], "kernel");
  EXPECT_EQ(gap_json(got[1])["shimwatch"]["gap"]["dropped"], 42);
  EXPECT_EQ(got[2], expected(3));
  EXPECT_EQ(sink.stats().dropped_send_failed, 0u);
}

TEST(SyslogSink, ARejectedMessageIsDroppedAndTheConnectionKept) {
  FakeCollector c;
  c.reject_larger_than = expected(0).size() + 100;
  swtest::LogCapture log;
  auto o = fast_options();
  o.gap_interval = 1h;
  SyslogSink sink(o, kHost, c.connector());
  Event big = make_event(1);
  big.process.args.emplace_back(1000, 'x');
  sink.write(make_event(0));
  sink.write(big);
  sink.write(big);
  sink.write(make_event(2));
  ASSERT_TRUE(eventually([&] { return c.count() == 3; }));
  // The first drop is reported at once, the second (within gap_interval) at stop.
  sink.stop(1s);
  auto got = c.messages();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], expected(0));
  ASSERT_TRUE(is_gap(got[1]));
  EXPECT_EQ(gap_json(got[1])["shimwatch"]["gap"]["send_failed"], 1);
  EXPECT_EQ(got[2], expected(2));
  ASSERT_TRUE(is_gap(got[3]));
  EXPECT_EQ(gap_json(got[3])["shimwatch"]["gap"]["send_failed"], 1);
  EXPECT_EQ(c.connects, 1);
  EXPECT_EQ(sink.stats().dropped_send_failed, 2u);
  EXPECT_EQ(log.lines(spdlog::level::warn).size(), 1u) << "one warning, not one per message";
}

TEST(SyslogSink, APeerCloseIsNoticedBeforeWritingSoNothingIsLost) {
  FakeCollector c;
  swtest::LogCapture log;
  SyslogSink sink(fast_options(), kHost, c.connector());
  for (int round = 0; round < 5; ++round) {
    sink.write(make_event(round));
    ASSERT_TRUE(eventually([&] { return c.count() == static_cast<size_t>(round) + 1; }));
    c.set([](FakeCollector &f) { f.generation++; }); // the collector restarts while idle
  }
  EXPECT_TRUE(c.lost.empty());
  EXPECT_EQ(sink.stats().reconnects, 4u);
  // Restarts that reconnect at once are not outages.
  EXPECT_TRUE(log.lines(spdlog::level::warn).empty());
}

TEST(SyslogSink, ACollectorThatClosesYoungConnectionsIsFailingNotRestarting) {
  FakeCollector c;
  c.close_after_message = true;
  auto o = fast_options();
  o.stable_after = 1h;
  swtest::LogCapture log;
  SyslogSink sink(o, kHost, c.connector());
  for (int i = 0; i < 5; ++i) {
    sink.write(make_event(i));
    ASSERT_TRUE(eventually([&] { return c.count() == static_cast<size_t>(i) + 1; }));
  }
  EXPECT_TRUE(c.lost.empty());
  EXPECT_EQ(sink.stats().send_errors, 4u);
  // Each early close is reported (and backed off), not taken for a restart.
  EXPECT_EQ(log.lines(spdlog::level::warn).size(), 4u);
  EXPECT_EQ(log.lines(spdlog::level::info).size(), 4u);
}

TEST(SyslogSink, OneWarningPerOutageAndOneInfoOnRecovery) {
  FakeCollector c;
  swtest::LogCapture log;
  SyslogSink sink(fast_options(), kHost, c.connector());
  sink.write(make_event(0));
  ASSERT_TRUE(eventually([&] { return c.count() == 1; }));
  for (int outage = 0; outage < 2; ++outage) {
    c.set([](FakeCollector &f) {
      f.accept = false;
      f.generation++;
    });
    uint64_t errors = sink.stats().send_errors;
    for (int i = 0; i < 20; ++i)
      sink.write(make_event(10 * (outage + 1) + i));
    ASSERT_TRUE(eventually([&] { return sink.stats().send_errors >= errors + 5; }));
    EXPECT_FALSE(sink.stats().connected);
    EXPECT_NE(sink.stats().last_error.find("Connection refused"), std::string::npos);
    c.set([](FakeCollector &f) { f.accept = true; });
    ASSERT_TRUE(eventually([&] { return sink.stats().queued == 0; }));
  }
  auto warnings = log.lines(spdlog::level::warn);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("cannot send to tcp://127.0.0.1:514"), std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[0].find("Connection refused"), std::string::npos) << warnings[0];
  auto infos = log.lines(spdlog::level::info);
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_NE(infos[0].find("sending to tcp://127.0.0.1:514 again"), std::string::npos) << infos[0];
  EXPECT_EQ(c.count(), 41u);
}

TEST(SyslogSink, StopSendsWhatIsQueued) {
  FakeCollector c;
  c.hold = true;
  SyslogSink sink(fast_options(), kHost, c.connector());
  for (int i = 0; i < 20; ++i)
    sink.write(make_event(i));
  c.set([](FakeCollector &f) { f.hold = false; });
  sink.stop(10s);
  EXPECT_EQ(c.count(), 20u);
  EXPECT_EQ(sink.stats().dropped_at_stop, 0u);
}

TEST(SyslogSink, StopGivesUpAtItsDeadlineAndCountsWhatIsLeft) {
  FakeCollector c;
  c.hold = true; // a collector that takes nothing
  SyslogSink sink(fast_options(), kHost, c.connector());
  for (int i = 0; i < 5; ++i)
    sink.write(make_event(i));
  sink.stop(50ms);
  EXPECT_EQ(c.count(), 0u);
  auto s = sink.stats();
  EXPECT_EQ(s.dropped_at_stop, 5u);
  sink.write(make_event(9)); // after stop: counted, never queued
  EXPECT_EQ(sink.stats().dropped_at_stop, 6u);
  EXPECT_EQ(sink.stats().queued, 0u);
}

TEST(SyslogSink, StopWithTheCollectorDownTriesOnceMoreThenGivesUp) {
  FakeCollector c;
  c.accept = false;
  auto o = fast_options();
  o.backoff_initial = 1h; // would wait for hours if stop() honoured the backoff
  o.backoff_max = 1h;
  SyslogSink sink(o, kHost, c.connector());
  sink.write(make_event(0));
  ASSERT_TRUE(eventually([&] { return sink.stats().send_errors >= 1; }));
  sink.stop(1h);
  EXPECT_EQ(c.connect_attempts, 2);
  EXPECT_EQ(sink.stats().dropped_at_stop, 1u);
}

TEST(SyslogSink, GapRecordFormat) {
  SyslogGap gap;
  gap.add(kBase + 5'000'000, true);
  gap.add(kBase + 1'000'000, true);
  gap.add(kBase + 9'000'000, false);
  EXPECT_EQ(gap.dropped(), 3u);
  std::string msg = syslog_gap_message(gap, HostInfo{"node-9"}, 16, 42, kBase, "udp://c:514");
  const std::string prefix =
      "<132>1 2023-11-14T22:13:20.000000Z node-9 shimwatch 42 shimwatch-gap - ";
  ASSERT_EQ(msg.substr(0, prefix.size()), prefix) << msg;
  auto j = nlohmann::json::parse(msg.substr(prefix.size()));
  EXPECT_EQ(j["@timestamp"], "2023-11-14T22:13:20.000000Z");
  EXPECT_EQ(j["event"]["action"], "shimwatch-gap");
  EXPECT_EQ(j["event"]["kind"], "event");
  EXPECT_EQ(j["event"]["outcome"], "unknown");
  EXPECT_EQ(j["shimwatch"]["gap"]["dropped"], 3);
  EXPECT_EQ(j["shimwatch"]["gap"]["queue_full"], 2);
  EXPECT_EQ(j["shimwatch"]["gap"]["send_failed"], 1);
  EXPECT_EQ(j["shimwatch"]["gap"]["first"], "2023-11-14T22:13:20.001000Z");
  EXPECT_EQ(j["shimwatch"]["gap"]["last"], "2023-11-14T22:13:20.009000Z");
  EXPECT_EQ(j["message"], "3 events were not forwarded to udp://c:514: the queue was full or "
                          "sending failed");

  SyslogGap other;
  other.add(kBase, true);
  gap.merge(other);
  EXPECT_EQ(gap.dropped(), 4u);
  EXPECT_EQ(gap.first_ns, kBase);
  EXPECT_EQ(gap.last_ns, kBase + 9'000'000);
}

// ---------------------------------------------------------------------------
// The real socket code, against listeners on 127.0.0.1.

struct Listener {
  int fd = -1;
  int port = 0;
  explicit Listener(int type) {
    fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    port = ntohs(a.sin_port);
    if (type == SOCK_STREAM)
      ::listen(fd, 8);
  }
  ~Listener() { ::close(fd); }
  // Accepts one connection (within 10 s), -1 if none came.
  int accept_one() {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0)
      return -1;
    return ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
  }
};

// Reads from fd until want bytes arrived (or 10 s passed without data).
std::string read_bytes(int fd, size_t want) {
  std::string out;
  char buf[4096];
  while (out.size() < want) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0)
      break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST(SyslogSinkSockets, TcpSendsOctetCountedFramesAndSurvivesAPeerRestart) {
  Listener listener(SOCK_STREAM);
  auto o = fast_options();
  o.url = "tcp://127.0.0.1:" + std::to_string(listener.port);
  auto sink = SyslogSink::open(o, kHost);
  ASSERT_TRUE(sink.ok()) << sink.error().message;
  (*sink)->write(make_event(0));
  (*sink)->write(make_event(1));
  int first = listener.accept_one();
  ASSERT_GE(first, 0);
  std::string want = frame_octet_counted(expected(0)) + frame_octet_counted(expected(1));
  EXPECT_EQ(read_bytes(first, want.size()), want);
  ::close(first); // the collector restarts while the link is idle
  (*sink)->write(make_event(2));
  int second = listener.accept_one();
  ASSERT_GE(second, 0);
  want = frame_octet_counted(expected(2));
  EXPECT_EQ(read_bytes(second, want.size()), want);
  EXPECT_EQ((*sink)->stats().reconnects, 1u);
  EXPECT_TRUE(eventually([&] { return (*sink)->stats().sent == 3; }));
  (*sink)->stop(0ms);
  ::close(second);
}

TEST(SyslogSinkSockets, UdpSendsOneDatagramPerMessage) {
  Listener listener(SOCK_DGRAM);
  auto o = fast_options();
  o.url = "udp://127.0.0.1:" + std::to_string(listener.port);
  auto sink = SyslogSink::open(o, kHost);
  ASSERT_TRUE(sink.ok()) << sink.error().message;
  for (int i = 0; i < 3; ++i)
    (*sink)->write(make_event(i));
  for (int i = 0; i < 3; ++i) {
    pollfd p{listener.fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10'000), 1);
    std::string buf(65536, '\0');
    ssize_t n = ::recv(listener.fd, buf.data(), buf.size(), 0);
    ASSERT_GT(n, 0);
    buf.resize(static_cast<size_t>(n));
    EXPECT_EQ(buf, expected(i));
  }
}

TEST(SyslogSinkSockets, RefusedConnectionsAreCountedNotFatal) {
  int port;
  {
    Listener gone(SOCK_STREAM); // a port nobody listens on once it is closed
    port = gone.port;
  }
  auto o = fast_options();
  o.url = "tcp://127.0.0.1:" + std::to_string(port);
  auto sink = SyslogSink::open(o, kHost);
  ASSERT_TRUE(sink.ok()) << sink.error().message;
  (*sink)->write(make_event(0));
  ASSERT_TRUE(eventually([&] { return (*sink)->stats().send_errors >= 2; }));
  EXPECT_NE((*sink)->stats().last_error.find("Connection refused"), std::string::npos)
      << (*sink)->stats().last_error;
  (*sink)->stop(0ms);
}

} // namespace
