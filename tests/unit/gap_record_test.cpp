// Gap records (event.action "shimwatch-gap") as JSON, text and RFC 5424
// messages, and summary records (shimwatch.repeat.*) of folded repeats.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "shimwatch/sink.hpp"
#include "sink/syslog.hpp"

using json = nlohmann::json;
using namespace shimwatch;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kBase = 1'700'000'000'000'000'000; // 2023-11-14T22:13:20Z
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSecond = 1'000'000'000;
const HostInfo host{"node-1"};
const std::string fffd = "\xEF\xBF\xBD";

Gap queue_gap() {
  Gap g;
  g.stage = "queue";
  g.reasons = {{"output_behind", 6}};
  g.first_ns = kBase + 1 * kMs;
  g.last_ns = kBase + 7 * kMs;
  g.timestamp_ns = kBase + 2 * kSecond;
  g.destination = "stdout";
  return g;
}

json encode(const Gap &gap) {
  std::string line = encode_gap_json(gap, host);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  return json::parse(line);
}

// ---------------------------------------------------------------------------
// encode_gap_json

TEST(GapJson, FieldsAndValues) {
  json j = encode(queue_gap());
  EXPECT_EQ(j["@timestamp"], "2023-11-14T22:13:22.000000Z");
  EXPECT_EQ(j["event"]["kind"], "event");
  EXPECT_EQ(j["event"]["action"], "shimwatch-gap");
  EXPECT_EQ(j["event"]["outcome"], "unknown");
  EXPECT_EQ(j["event"]["reason"], "queue") << "no reason given: the stage";
  EXPECT_EQ(j["event"].size(), 4u);
  EXPECT_EQ(j["message"], "6 events were lost at stage queue (stdout): output_behind 6");
  EXPECT_EQ(j["host"], json({{"name", "node-1"}}));
  const json &g = j["shimwatch"]["gap"];
  EXPECT_EQ(g["dropped"], 6);
  EXPECT_EQ(g["stage"], "queue");
  EXPECT_EQ(g["output_behind"], 6);
  EXPECT_EQ(g["first"], "2023-11-14T22:13:20.001000Z");
  EXPECT_EQ(g["last"], "2023-11-14T22:13:20.007000Z");
  EXPECT_EQ(g["destination"], "stdout");
  EXPECT_EQ(g.size(), 6u);
  EXPECT_EQ(j["shimwatch"].size(), 1u);
  EXPECT_EQ(j.size(), 5u);
  // No process, user or container fields: it is not an event of a process.
  EXPECT_FALSE(j.contains("process"));
}

TEST(GapJson, ExactLineWithFieldsInOrder) {
  EXPECT_EQ(
      encode_gap_json(queue_gap(), host),
      R"({"@timestamp":"2023-11-14T22:13:22.000000Z",)"
      R"("event":{"kind":"event","action":"shimwatch-gap","outcome":"unknown","reason":"queue"},)"
      R"("message":"6 events were lost at stage queue (stdout): output_behind 6",)"
      R"("host":{"name":"node-1"},)"
      R"("shimwatch":{"gap":{"dropped":6,"stage":"queue","output_behind":6,)"
      R"("first":"2023-11-14T22:13:20.001000Z","last":"2023-11-14T22:13:20.007000Z",)"
      R"("destination":"stdout"}}})");
}

TEST(GapJson, SeveralReasonsEachAFieldAndSummedInDropped) {
  Gap g;
  g.stage = "kernel";
  g.reasons = {{"ring_buffer_full", 12}, {"pending_table_full", 0}, {"address_unreadable", 3}};
  g.first_ns = kBase;
  g.last_ns = kBase + 59 * kSecond;
  g.timestamp_ns = kBase + 60 * kSecond;
  EXPECT_EQ(g.dropped(), 15u);
  json j = encode(g);
  const json &gap = j["shimwatch"]["gap"];
  EXPECT_EQ(gap["dropped"], 15);
  EXPECT_EQ(gap["stage"], "kernel");
  EXPECT_EQ(gap["ring_buffer_full"], 12);
  EXPECT_EQ(gap["pending_table_full"], 0) << "every reason given is a field, zero too";
  EXPECT_EQ(gap["address_unreadable"], 3);
  EXPECT_EQ(gap["first"], "2023-11-14T22:13:20.000000Z");
  EXPECT_EQ(gap["last"], "2023-11-14T22:14:19.000000Z");
  EXPECT_EQ(j["@timestamp"], "2023-11-14T22:14:20.000000Z");
  EXPECT_EQ(j["event"]["reason"], "kernel");
  // The message names the reasons that lost something, in their order.
  EXPECT_EQ(j["message"],
            "15 events were lost at stage kernel: ring_buffer_full 12, address_unreadable 3");
}

TEST(GapJson, DestinationLeftOutWhenEmpty) {
  Gap g = queue_gap();
  g.destination.clear();
  json j = encode(g);
  EXPECT_FALSE(j["shimwatch"]["gap"].contains("destination"));
  EXPECT_EQ(j["shimwatch"]["gap"].size(), 5u);
  EXPECT_EQ(j["message"], "6 events were lost at stage queue: output_behind 6");
}

TEST(GapJson, ReasonAndMessageWhenGiven) {
  Gap g = queue_gap();
  g.reason = "decode_failed";
  g.message = "the decoder choked on 6 records";
  json j = encode(g);
  EXPECT_EQ(j["event"]["reason"], "decode_failed");
  EXPECT_EQ(j["message"], "the decoder choked on 6 records");
  EXPECT_EQ(j["shimwatch"]["gap"]["stage"], "queue") << "the stage stays the stage";
}

TEST(GapJson, LogFileGapAsTheLogFileMakesIt) {
  Gap g;
  g.stage = "log_file";
  g.reasons = {{"write_failed", 3}};
  g.first_ns = kBase;
  g.last_ns = g.timestamp_ns = kBase + 5 * kSecond;
  g.destination = "/var/log/shimwatch/audit.json";
  json j = encode(g);
  EXPECT_EQ(j["event"]["reason"], "log_file");
  EXPECT_EQ(j["shimwatch"]["gap"]["write_failed"], 3);
  EXPECT_EQ(j["shimwatch"]["gap"]["destination"], "/var/log/shimwatch/audit.json");
  EXPECT_EQ(j["message"], "3 events were lost at stage log_file (/var/log/shimwatch/audit.json): "
                          "write_failed 3");
}

TEST(GapJson, BytesThatAreNotUtf8AreReplaced) {
  Gap g = queue_gap();
  g.destination = "/var/log/\xff.json";
  HostInfo bad_host{"node-\xfe"};
  std::string line = encode_gap_json(g, bad_host);
  json j = json::parse(line); // would throw on invalid UTF-8
  EXPECT_EQ(j["shimwatch"]["gap"]["destination"], "/var/log/" + fffd + ".json");
  EXPECT_EQ(j["host"]["name"], "node-" + fffd);
  EXPECT_EQ(j["message"],
            "6 events were lost at stage queue (/var/log/" + fffd + ".json): output_behind 6");
}

// ---------------------------------------------------------------------------
// encode_json with a repeat summary

Event exec_event() {
  Event e;
  e.action = Action::docker_cli_exec;
  e.timestamp_ns = kBase + 123 * kMs;
  e.process.pid = 4242;
  e.process.name = "docker";
  e.process.args = {"docker", "ps"};
  e.exec_path = "/usr/bin/docker";
  return e;
}

TEST(RepeatJson, SummaryRecordCarriesTheRepeatFields) {
  Event e = exec_event();
  e.repeat = Repeat{41, kBase + 1 * kSecond, kBase + 59 * kSecond + 500 * kMs, 60 * kSecond};
  json j = json::parse(encode_json(e, host));
  const json &r = j["shimwatch"]["repeat"];
  EXPECT_EQ(r["count"], 41);
  EXPECT_EQ(r["first_seen"], "2023-11-14T22:13:21.000000Z");
  EXPECT_EQ(r["last_seen"], "2023-11-14T22:14:19.500000Z");
  EXPECT_EQ(r["window_seconds"], 60);
  EXPECT_EQ(r.size(), 4u);
  // The rest is the event as usual.
  EXPECT_EQ(j["@timestamp"], "2023-11-14T22:13:20.123000Z");
  EXPECT_EQ(j["event"]["action"], "docker-cli-exec");
  EXPECT_EQ(j["process"]["pid"], 4242);
  EXPECT_EQ(j["process"]["args"], json::array({"docker", "ps"}));
}

TEST(RepeatJson, NoRepeatNoFields) {
  json j = json::parse(encode_json(exec_event(), host));
  EXPECT_FALSE(j["shimwatch"].contains("repeat"));
}

TEST(RepeatJson, SameRecordOtherwise) {
  Event plain = exec_event();
  Event summary = plain;
  summary.repeat = Repeat{2, kBase, kBase + kSecond, 5 * kSecond};
  json a = json::parse(encode_json(plain, host));
  json b = json::parse(encode_json(summary, host));
  EXPECT_EQ(b["shimwatch"]["repeat"]["window_seconds"], 5);
  b["shimwatch"].erase("repeat");
  EXPECT_EQ(a, b);
}

// ---------------------------------------------------------------------------
// Text

TEST(RepeatText, SuffixSaysHowManyMoreAndUntilWhen) {
  Event e = exec_event();
  std::string plain = encode_text(e);
  e.repeat = Repeat{41, kBase + kSecond, kBase + 59 * kSecond + 500 * kMs, 60 * kSecond};
  std::string line = encode_text(e);
  EXPECT_EQ(line, plain + " (41 more times until 22:14:19)");
}

TEST(GapText, OneLineWithTheCountsAndTheStage) {
  EXPECT_EQ(encode_gap_text(queue_gap()),
            "22:13:22.000000 GAP     output_behind=6 (6 events lost at queue)");
}

TEST(GapText, ReasonsThatLostNothingAreLeftOut) {
  Gap g;
  g.stage = "kernel";
  g.reasons = {{"ring_buffer_full", 12}, {"pending_table_full", 0}, {"address_unreadable", 3}};
  g.timestamp_ns = kBase + 60 * kSecond + 250 * kMs;
  EXPECT_EQ(encode_gap_text(g), "22:14:20.250000 GAP     ring_buffer_full=12 address_unreadable=3 "
                                "(15 events lost at kernel)");
}

TEST(GapText, TimeColumnLinesUpWithEvents) {
  Event e = exec_event();
  e.timestamp_ns = kBase + 2 * kSecond;
  std::string event_line = encode_text(e);
  std::string gap_line = encode_gap_text(queue_gap());
  // Same time column, then the action column ("exec" / "GAP") at the same place.
  EXPECT_EQ(event_line.substr(0, 16), gap_line.substr(0, 16));
  EXPECT_EQ(event_line.substr(16, 8), "exec    ");
  EXPECT_EQ(gap_line.substr(16, 8), "GAP     ");
}

// ---------------------------------------------------------------------------
// RFC 5424

TEST(GapSyslog, MsgidShimwatchGapAndSeverityWarning) {
  std::string body = encode_gap_json(queue_gap(), host);
  std::string msg = syslog_record_message(body, host, 16, 42, kBase);
  EXPECT_EQ(msg, "<132>1 2023-11-14T22:13:20.000000Z node-1 shimwatch 42 shimwatch-gap - " + body);
}

TEST(GapSyslog, PriIsFacilityTimesEightPlusFour) {
  std::string body = encode_gap_json(queue_gap(), host);
  for (auto [facility, pri] : {std::pair{0, 4}, std::pair{4, 36}, std::pair{10, 84},
                               std::pair{16, 132}, std::pair{23, 188}}) {
    std::string msg = syslog_record_message(body, host, static_cast<uint8_t>(facility), 0, kBase);
    std::string prefix = "<" + std::to_string(pri) + ">1 ";
    EXPECT_EQ(msg.substr(0, prefix.size()), prefix) << msg;
    // procid 0: the NILVALUE.
    EXPECT_NE(msg.find(" node-1 shimwatch - shimwatch-gap - {"), std::string::npos) << msg;
  }
  // A facility by name, as the config gives it.
  auto auth = syslog_facility("authpriv");
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ(syslog_record_message(body, host, *auth, 0, kBase).substr(0, 6), "<84>1 ");
}

TEST(GapSyslog, TheMessageCarriesTheGapJsonUnchanged) {
  std::string body = encode_gap_json(queue_gap(), host);
  std::string msg = syslog_record_message(body, host, 16, 7, kBase + 3 * kSecond);
  const std::string marker = " shimwatch-gap - ";
  auto pos = msg.find(marker);
  ASSERT_NE(pos, std::string::npos);
  EXPECT_EQ(msg.substr(pos + marker.size()), body);
  // The header's time is now_ns, the record's own time is in its JSON.
  EXPECT_NE(msg.find(">1 2023-11-14T22:13:23.000000Z "), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------
// SyslogSink::write_gap, errors(), drops() against an injected collector.

struct Collector {
  std::mutex m;
  std::condition_variable cv;
  bool accept = true;
  int connect_attempts = 0;
  std::vector<std::string> received;

  SyslogConnector connector() {
    return [this](const SyslogDeadline &) -> Result<std::unique_ptr<SyslogConnection>> {
      std::lock_guard lock(m);
      ++connect_attempts;
      cv.notify_all();
      if (!accept)
        return Error{"connect to 127.0.0.1:514: Connection refused"};
      return std::unique_ptr<SyslogConnection>(std::make_unique<Connection>(*this));
    };
  }
  template <typename Cond> bool wait_for(Cond cond) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, 10s, [&] { return cond(); });
  }

  class Connection final : public SyslogConnection {
  public:
    explicit Connection(Collector &c) : c_(c) {}
    SendResult send(std::string_view message, const SyslogDeadline &) override {
      std::lock_guard lock(c_.m);
      c_.received.emplace_back(message);
      c_.cv.notify_all();
      return {};
    }
    bool alive() override { return true; }

  private:
    Collector &c_;
  };
};

SyslogOptions options(uint8_t facility) {
  SyslogOptions o;
  o.url = "tcp://127.0.0.1:514";
  o.facility = facility;
  o.backoff_initial = 1ms;
  o.backoff_max = 5ms;
  o.stable_after = 0ms;
  o.stop_drain = 5s;
  return o;
}

TEST(SyslogSinkGap, WriteGapSendsTheRecordAsAWarningWithTheRecordsTime) {
  Collector c;
  SyslogSink sink(options(4), host, c.connector()); // auth
  Gap g = queue_gap();
  g.destination = "syslog";
  sink.write_gap(g);
  sink.flush();
  ASSERT_TRUE(c.wait_for([&] { return c.received.size() == 1; }));
  sink.stop(1s);
  std::string body = encode_gap_json(g, host);
  std::string pid = std::to_string(::getpid());
  EXPECT_EQ(c.received[0], "<36>1 2023-11-14T22:13:22.000000Z node-1 shimwatch " + pid +
                               " shimwatch-gap - " + body);
  EXPECT_EQ(c.received[0], syslog_record_message(body, host, 4, static_cast<uint32_t>(::getpid()),
                                                 g.timestamp_ns));
  json j = json::parse(body);
  EXPECT_EQ(j["shimwatch"]["gap"]["destination"], "syslog");
  EXPECT_EQ(sink.errors(), 0u);
  EXPECT_EQ(sink.drops(), (std::vector<std::pair<std::string, uint64_t>>{
                              {"queue_full", 0}, {"send_failed", 0}, {"at_stop", 0}}));
}

TEST(SyslogSinkGap, DropsNamesEveryReasonWithItsCount) {
  Collector c;
  SyslogSink sink(options(16), host, c.connector());
  sink.stop(1s);
  sink.write_gap(queue_gap()); // after stop: not sent, and no event
  sink.write(exec_event());    // after stop: dropped, counted
  EXPECT_EQ(sink.drops(), (std::vector<std::pair<std::string, uint64_t>>{
                              {"queue_full", 0}, {"send_failed", 0}, {"at_stop", 1}}));
  EXPECT_EQ(sink.stats().dropped_at_stop, 1u);
  EXPECT_TRUE(c.received.empty());
}

TEST(SyslogSinkGap, ErrorsAreTheSendErrors) {
  Collector c;
  c.accept = false;
  SyslogSink sink(options(16), host, c.connector());
  sink.write(exec_event());
  sink.flush();
  ASSERT_TRUE(c.wait_for([&] { return c.connect_attempts >= 3; }));
  sink.stop(0ms);
  EXPECT_GE(sink.errors(), 3u);
  EXPECT_EQ(sink.errors(), sink.stats().send_errors);
  EXPECT_TRUE(c.received.empty());
}

} // namespace
