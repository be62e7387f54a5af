// Syslog forwarding: RFC 5424 messages, RFC 6587 octet-counted framing, and
// the transport that sends them over UDP, TCP or TLS (RFC 5425).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "shimwatch/event.hpp"
#include "shimwatch/result.hpp"
#include "shimwatch/sink.hpp"

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

// Facility codes 0..23 (RFC 5424 section 6.2.1); names as syslog.conf spells them.
Result<uint8_t> syslog_facility(std::string_view name);

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
// Transport: SyslogSink forwards events to a collector over UDP, TCP or TLS.

enum class SyslogTransport { udp, tcp, tls };

std::string_view syslog_transport_name(SyslogTransport transport); // "udp", "tcp", "tls"

struct SyslogTarget {
  SyslogTransport transport = SyslogTransport::udp;
  std::string host; // a name, an IPv4 literal or an IPv6 literal (without brackets)
  uint16_t port = 0;
  std::string url() const; // canonical: "tls://[::1]:6514"
};

// "udp://HOST[:PORT]", "tcp://HOST[:PORT]", "tls://HOST[:PORT]"; IPv6 in
// brackets. Default ports: 514 for UDP and TCP, 6514 for TLS (RFC 5425).
Result<SyslogTarget> parse_syslog_url(std::string_view url);

struct SyslogOptions {
  std::string url; // udp://, tcp:// or tls://HOST:PORT
  // TLS: CA bundle for the collector's certificate (empty: the system's);
  // client certificate and key, for collectors that ask for one (the key may
  // be in cert_file, then key_file stays empty).
  std::string ca_file, cert_file, key_file;
  // false: any certificate, any name. For tests and emergencies only: the
  // audit trail then goes to whoever answers.
  bool tls_verify = true;
  uint8_t facility = 16; // local0
  // Bounds of the in-memory queue; a message that does not fit is dropped,
  // counted and reported in a gap record.
  size_t queue_capacity = 10000;
  size_t queue_max_bytes = 32u << 20;
  std::chrono::milliseconds connect_timeout{5000}; // DNS excluded; TLS handshake included
  // A collector that stops reading for this long is treated as gone.
  std::chrono::milliseconds send_timeout{10000};
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30000};
  // At most one gap record per interval while drops go on (a collector too
  // slow for the event rate), so gap records never crowd out events.
  std::chrono::milliseconds gap_interval{1000};
  // What the destructor gives the queue to drain.
  std::chrono::milliseconds stop_drain{2000};
};

struct SyslogStats {
  uint64_t sent = 0;                // messages handed completely to the socket (not gap records)
  uint64_t dropped_queue_full = 0;  // write() found the queue full
  uint64_t dropped_send_failed = 0; // refused by the transport (too big for UDP) or failed twice
  uint64_t dropped_at_stop = 0;     // still queued when stop()'s deadline passed, or written after
  uint64_t send_errors = 0;         // failed connects, handshakes and writes
  uint64_t reconnects = 0;          // connections made after the first one
  uint64_t gaps_sent = 0;           // gap records sent
  size_t queued = 0;                // messages waiting now
  bool connected = false;
  std::string last_error;
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
    rejected, // this message can never be sent (e.g. larger than a datagram); link fine
  };
  struct SendResult {
    Outcome outcome = Outcome::sent;
    std::string error;
  };

  virtual ~SyslogConnection() = default;
  // One RFC 5424 message; the connection frames it (octet counting on
  // TCP/TLS). Gives up at deadline.
  virtual SendResult send(std::string_view message, Clock::time_point deadline) = 0;
  // False when the peer is known to have closed the connection, so a message
  // is not written into a socket whose other end is gone.
  virtual bool alive() = 0;
};

using SyslogConnector =
    std::function<Result<std::unique_ptr<SyslogConnection>>(SyslogConnection::Clock::time_point)>;

// The real connector for options.url: resolves, connects (TLS: handshake with
// SNI and certificate + host name verification unless tls_verify is false).
// Fails now for a bad URL or unreadable TLS files.
Result<SyslogConnector> make_syslog_connector(const SyslogOptions &options);

// The gap record: an ECS JSON event (event.action "shimwatch-gap") as an
// RFC 5424 message with severity warning and MSGID "shimwatch-gap".
struct SyslogGap {
  uint64_t queue_full = 0;
  uint64_t send_failed = 0;
  int64_t first_ns = 0; // event timestamps of the dropped messages: earliest, latest
  int64_t last_ns = 0;
  uint64_t dropped() const { return queue_full + send_failed; }
  void add(int64_t timestamp_ns, bool queue_was_full);
  void merge(const SyslogGap &other);
};
std::string syslog_gap_message(const SyslogGap &gap, const HostInfo &host, uint8_t facility,
                               uint32_t procid, int64_t now_ns, std::string_view destination);

// Forwards events to a syslog collector. write() formats the message on the
// caller's thread and queues it; it never blocks on the network. A sender
// thread connects lazily, reconnects with exponential backoff and jitter, and
// sends in order (see syslog_sink.cpp for the delivery guarantees).
class SyslogSink final : public Sink {
public:
  // The production sink for options.url (checks the URL and TLS files now).
  static Result<std::unique_ptr<SyslogSink>> open(const SyslogOptions &options, HostInfo host);
  // Any sending side (tests). options.url names the destination in logs.
  SyslogSink(SyslogOptions options, HostInfo host, SyslogConnector connector);
  ~SyslogSink() override; // stop(options.stop_drain)
  SyslogSink(const SyslogSink &) = delete;
  SyslogSink &operator=(const SyslogSink &) = delete;

  void write(const Event &event) override;
  // Wakes the sender; never waits for the network.
  void flush() override;
  // Sends what it can until drain has passed, then closes; what is left is
  // counted as dropped_at_stop. Later writes are dropped (and counted).
  void stop(std::chrono::milliseconds drain);
  SyslogStats stats() const;

private:
  using Clock = SyslogConnection::Clock;
  struct Item {
    std::string message;
    int64_t timestamp_ns = 0;
    int attempts = 0; // sends that failed with the message (partly) unwritten
  };

  void enqueue(std::string message, int64_t timestamp_ns);
  void run();
  bool wait_for_work();
  bool sleep_until(Clock::time_point until);
  void note_failure(const std::string &error);
  void note_success();
  void drop_front(bool count_in_gap);

  SyslogOptions options_;
  std::string destination_; // for logs and gap records
  HostInfo host_;
  uint32_t procid_ = 0;
  SyslogConnector connector_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_; // the sender reads the front in place; only it pops
  size_t queued_bytes_ = 0;
  SyslogGap gap_;               // drops not yet reported
  bool drop_warned_ = false;    // one warning per drop episode while the link is up
  bool stopping_ = false;
  Clock::time_point stop_deadline_{};
  std::string last_error_;

  std::atomic<uint64_t> sent_{0}, dropped_queue_full_{0}, dropped_send_failed_{0},
      dropped_at_stop_{0}, send_errors_{0}, reconnects_{0}, gaps_sent_{0};
  std::atomic<bool> connected_{false};
  std::atomic<bool> link_up_{true}; // false during an outage (already warned about)

  // Sender-thread state.
  bool outage_ = false;
  Clock::time_point outage_since_{};
  uint64_t dropped_at_outage_start_ = 0;

  std::thread thread_;
};

} // namespace shimwatch
