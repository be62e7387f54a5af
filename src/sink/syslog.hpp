// The syslog output's insides: message formatting, and the sending side the
// unit tests replace to drive the queue, drop and gap logic. Its public face
// (options, open_syslog_sink) is in shimwatch/sink.hpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "shimwatch/event.hpp"
#include "shimwatch/result.hpp"
#include "shimwatch/sink.hpp"
#include "shimwatch/text.hpp"

namespace shimwatch {

enum class SyslogSeverity : uint8_t {
  emergency = 0,
  alert = 1,
  critical = 2,
  error = 3,
  warning = 4,
  notice = 5,
  informational = 6,
  debug = 7,
};

struct SyslogHeader {
  uint8_t facility = 16; // local0
  SyslogSeverity severity = SyslogSeverity::notice;
  int64_t timestamp_ns = 0;
  std::string hostname;
  std::string app_name = "shimwatch";
  uint32_t procid = 0;
  std::string msgid; // e.g. the event action
};

// One RFC 5424 message: "<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG".
// Header fields are cut to their RFC lengths and restricted to printable
// US-ASCII ('-' when empty); msg goes as it is (UTF-8, no BOM).
std::string format_rfc5424(const SyslogHeader &header, std::string_view msg);

// RFC 6587 octet counting: "LEN SP MSG"; a message may hold newlines.
std::string frame_octet_counted(std::string_view message);

// The severity an event is sent with: failures (after a migration, the
// signature of a hidden dependency) are warnings, the rest notices.
SyslogSeverity event_severity(const Event &event);

// The whole message for an event: its JSON line as MSG, action as MSGID.
std::string syslog_message(const Event &event, const HostInfo &host, uint8_t facility,
                           uint32_t procid);

// ---------------------------------------------------------------------------
// Transport.

// When a connect or send gives up: at its own timeout, or earlier once stop()
// has set a drain deadline (re-read while waiting, so a send that started
// before stop() does not hold the agent's shutdown for a whole send_timeout).
class SyslogDeadline {
public:
  using Clock = std::chrono::steady_clock;
  explicit SyslogDeadline(Clock::time_point own, const std::atomic<Clock::rep> *stop_by = nullptr)
      : own_(own), stop_by_(stop_by) {}
  Clock::time_point at() const {
    if (!stop_by_)
      return own_;
    return std::min(own_, Clock::time_point(Clock::duration(stop_by_->load())));
  }
  bool passed() const { return Clock::now() >= at(); }

private:
  Clock::time_point own_;
  const std::atomic<Clock::rep> *stop_by_;
};

// The sending side of a SyslogSink: one connection to the collector, used by
// the sink's sender thread only. Production: make_syslog_connector (sockets,
// OpenSSL). Unit tests inject fakes to drive the queue, drop and gap logic.
class SyslogConnection {
public:
  using Clock = std::chrono::steady_clock;

  enum class Outcome {
    sent,     // every byte handed to the kernel (TCP/TLS: the whole frame)
    failed,   // the connection is unusable; the message was not written completely
    rejected, // this message can never be sent (too large for a datagram); the link is fine
  };
  struct SendResult {
    Outcome outcome = Outcome::sent;
    std::string error;
  };

  virtual ~SyslogConnection() = default;
  // One RFC 5424 message; the connection frames it (octet counting on
  // TCP/TLS). Gives up at deadline (checked at least every 100 ms).
  virtual SendResult send(std::string_view message, const SyslogDeadline &deadline) = 0;
  // False when the collector is known to have closed the connection, so that
  // no message is written into a socket whose other end is gone.
  virtual bool alive() = 0;
  // Closes the sending direction and waits, until deadline, for the
  // collector to close too: it has then read everything.
  virtual void finish(const SyslogDeadline &deadline) { (void)deadline; }
};

using SyslogConnector =
    std::function<Result<std::unique_ptr<SyslogConnection>>(const SyslogDeadline &deadline)>;

// The real connector for options.url: resolves, connects (TLS: handshake with
// SNI, certificate and host name verification unless tls_verify is false).
// Fails now for a bad URL, unreadable TLS files, or TLS files with udp:// or
// tcp://.
Result<SyslogConnector> make_syslog_connector(const SyslogOptions &options);

// Dropped messages not yet reported.
struct SyslogGap {
  uint64_t queue_full = 0;
  uint64_t send_failed = 0;
  int64_t first_ns = 0; // event timestamps of the dropped messages: earliest, latest
  int64_t last_ns = 0;
  uint64_t dropped() const { return queue_full + send_failed; }
  void add(int64_t timestamp_ns, bool queue_was_full);
  void merge(const SyslogGap &other);
};

// The gap record: an ECS JSON event (event.action "shimwatch-gap", kind
// "event", outcome "unknown", shimwatch.gap.{dropped,queue_full,send_failed,
// first,last,destination}) as an RFC 5424 message with severity warning and
// MSGID "shimwatch-gap".
std::string syslog_gap_message(const SyslogGap &gap, const HostInfo &host, uint8_t facility,
                               uint32_t procid, int64_t now_ns, std::string_view destination);
// A gap record made elsewhere (encode_gap_json) as an RFC 5424 message, the
// same way: severity warning, MSGID "shimwatch-gap".
std::string syslog_record_message(const std::string &gap_json, const HostInfo &host,
                                  uint8_t facility, uint32_t procid, int64_t now_ns);

// Forwards events to a syslog collector. write() formats the message on the
// caller's thread and queues it; it never waits for the network. A sender
// thread connects lazily, reconnects with exponential backoff and jitter, and
// sends in order. Logs one warning per outage and one info line when the
// collector is back, never a line per message.
class SyslogSink final : public SyslogOutput {
public:
  // The production sink for options.url (checks the URL and TLS files now).
  static Result<std::unique_ptr<SyslogSink>> open(const SyslogOptions &options, HostInfo host);
  // With any sending side (tests); options.url names the destination.
  SyslogSink(SyslogOptions options, HostInfo host, SyslogConnector connector);
  ~SyslogSink() override; // stop(options.stop_drain)
  SyslogSink(const SyslogSink &) = delete;
  SyslogSink &operator=(const SyslogSink &) = delete;

  void write(const Event &event) override;
  // A gap record from another stage (the kernel, the agent's queue).
  void write_gap(const Gap &gap) override;
  // Wakes the sender; never waits for the network.
  void flush() override;
  // Sends what it can until drain has passed (with a collector that is down:
  // one more connect attempt), then closes. What is left is counted as
  // dropped_at_stop, and so are later writes.
  void stop(std::chrono::milliseconds drain) override;
  SyslogStats stats() const override;
  uint64_t errors() const override; // send_errors
  // queue_full, send_failed, at_stop
  std::vector<std::pair<std::string, uint64_t>> drops() const override;

private:
  using Clock = SyslogConnection::Clock;
  struct Item {
    std::string message;
    int64_t timestamp_ns = 0;
    int attempts = 0; // sends that failed with the message not (completely) written
    // A gap record from another stage: what it reports, should it not go out.
    std::optional<Gap> gap;
  };

  void enqueue(std::string message, int64_t timestamp_ns, const Gap *gap = nullptr);
  void run();
  bool step();
  bool stable() const;
  bool wait_for_work();
  bool sleep_until(Clock::time_point until);
  bool gap_due(Clock::time_point now) const; // with mutex_ held
  Clock::duration backoff_delay();
  void note_failure(const std::string &error);
  void note_success(bool stable);
  void drop_front();
  void connection_broke(const std::string &error, bool stable);
  void close_connection(bool graceful);

  SyslogOptions options_;
  std::string destination_; // canonical URL, for logs and gap records
  HostInfo host_;
  uint32_t procid_ = 0;
  SyslogConnector connector_;

  // Shared with writers, under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_; // the sender reads the front in place; only it pops
  size_t queued_bytes_ = 0;
  SyslogGap gap_; // drops not yet reported
  // Gap records of other stages that did not fit or could not be sent, merged
  // by stage and destination: never counted as dropped events, since they
  // are none, and sent with this sink's own gap record.
  std::vector<Gap> unsent_gaps_;
  bool drop_warned_ = false; // one queue-full warning per drop episode
  bool link_up_ = true;      // false during an outage: its warning covers the drops
  bool stopping_ = false;
  Clock::time_point stop_deadline_{};
  std::atomic<Clock::rep> stop_by_{Clock::time_point::max().time_since_epoch().count()};
  std::string last_error_;
  std::mutex stop_mutex_; // stop() from the destructor after an explicit one

  std::atomic<uint64_t> sent_{0}, dropped_queue_full_{0}, dropped_send_failed_{0},
      dropped_at_stop_{0}, send_errors_{0}, reconnects_{0}, gaps_sent_{0};
  std::atomic<bool> connected_{false};

  // The sender thread's own.
  std::unique_ptr<SyslogConnection> connection_;
  Clock::time_point connected_at_{};
  bool carried_ = false; // the current connection has carried a message
  bool ever_connected_ = false;
  bool drain_retried_ = false; // once stopping, one more connect attempt at most
  int failures_ = 0;           // consecutive, without a message sent in between; sets the backoff
  Clock::time_point next_attempt_{};
  bool outage_ = false;
  Clock::time_point outage_since_{};
  bool gap_sent_once_ = false; // read by gap_due under mutex_, written by the sender only
  Clock::time_point last_gap_{};
  bool rejected_warned_ = false;
  std::minstd_rand rng_;

  std::thread thread_; // last: started once everything above exists
};

} // namespace shimwatch
