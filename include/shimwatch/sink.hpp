// sink: where records go (stdout, the log file, a syslog collector) and how
// they are written (JSON lines, text columns, RFC 5424).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shimwatch/settings.hpp"
#include "shimwatch/dispatch.hpp"
#include "shimwatch/event.hpp"
#include "shimwatch/fd.hpp"
#include "shimwatch/result.hpp"
#include "shimwatch/text.hpp"
#include "shimwatch/timestamp.hpp"

namespace shimwatch {

// One JSON object, one line (no trailing newline), ECS field names.
// A summary record (event.repeat set) carries shimwatch.repeat.*.
std::string encode_json(const Event &event, const HostInfo &host);
// A gap record: event.action "shimwatch-gap", shimwatch.gap.{dropped, stage,
// <reason>: count ..., first, last, destination}.
std::string encode_gap_json(const Gap &gap, const HostInfo &host);

// Aligned columns for people, one line per event (no trailing newline).
std::string text_header();
std::string encode_text(const Event &event);
std::string encode_gap_text(const Gap &gap);

// Writes events to stdout (or any descriptor) as JSON lines or text columns,
// one write(2) per flush so a failed or partial write can never glue two
// records together. Write errors (a closed pipe, a full disk) are counted and
// logged once per episode, never fatal.
class StreamSink final : public Sink {
public:
  StreamSink(FILE *stream, OutputFormat format, HostInfo host, std::string name);
  ~StreamSink() override;
  StreamSink(const StreamSink &) = delete;
  StreamSink &operator=(const StreamSink &) = delete;

  // Opens PATH for appending (created 0640).
  static Result<std::unique_ptr<StreamSink>> open_file(const std::string &path, HostInfo host);

  void write(const Event &event) override;
  void write_gap(const Gap &gap) override;
  void flush() override;
  uint64_t errors() const override { return errors_; } // failed flushes
  uint64_t lost_records() const { return lost_; }      // events in them
  std::vector<std::pair<std::string, uint64_t>> drops() const override {
    return {{"write_failed", lost_}};
  }

private:
  void put(const std::string &line, bool is_event);

  FILE *stream_;
  int fd_;
  OutputFormat format_;
  HostInfo host_;
  std::string name_;
  bool owns_stream_ = false;
  bool header_written_ = false;
  bool failing_ = false;
  std::string pending_;
  std::vector<bool> pending_is_event_; // per line in pending_
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> lost_{0};
};

struct LogFileOptions {
  uint64_t max_bytes = 100ull * 1024 * 1024; // rotate before a write would pass it; 0: never
  uint32_t keep = 5;                         // rotated files kept: PATH.1 .. PATH.keep
};

// The audit log: JSON lines appended with one write(2) per flush, so a crash
// (even kill -9) can at worst cut the last line; such a torn tail is cut off
// when the file is opened again, so every line in the file is whole. Rotates
// by size, reopens on request (SIGHUP, after logrotate moved the file). A
// failing disk (full, read-only, gone) is counted and logged once per
// episode; the agent and its other outputs go on.
class LogFile final : public Sink {
public:
  static Result<std::unique_ptr<LogFile>> open(const std::string &path, HostInfo host,
                                               LogFileOptions options = {});
  ~LogFile() override;
  LogFile(const LogFile &) = delete;
  LogFile &operator=(const LogFile &) = delete;

  void write(const Event &event) override;
  void write_gap(const Gap &gap) override;
  void write_line(const std::string &json_line); // any JSON record
  // Once writing works again after records were lost, a gap record
  // (stage "log_file") goes in first.
  void flush() override;
  // Closes and opens PATH again (creating it if logrotate moved it away).
  // If PATH cannot be opened, the old file is not written again: the next
  // flushes try to open PATH and count their records as lost until it opens.
  void reopen() override;

  uint64_t errors() const override { return errors_; } // failed writes/opens
  uint64_t lost_records() const { return lost_; }      // events in failed writes
  std::vector<std::pair<std::string, uint64_t>> drops() const override {
    return {{"write_failed", lost_}};
  }
  uint64_t torn_bytes_repaired() const { return torn_bytes_; }
  uint64_t rotations() const { return rotations_; }

private:
  LogFile(std::string path, HostInfo host, LogFileOptions options);
  Status open_fd();
  void rotate();
  void fail(const std::string &what, int err);
  // The batch in pending_ was not written: its events are lost, its gap
  // records kept for the next one.
  void batch_failed();

  std::string path_;
  HostInfo host_;
  LogFileOptions options_;
  Fd fd_;
  uint64_t size_ = 0;
  std::string pending_;
  uint64_t pending_records_ = 0;
  bool failing_ = false;
  bool rotation_failing_ = false; // logged once until a rotation works
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> lost_{0};
  uint64_t lost_unreported_ = 0; // lost since the last gap record
  int64_t lost_since_ns_ = 0;
  // Gap records of other stages in pending_, and those whose write failed
  // (merged by stage and destination): written again with the next batch,
  // never counted as lost events, which they are not.
  std::vector<Gap> pending_gaps_;
  std::vector<Gap> unwritten_gaps_;
  uint64_t torn_bytes_ = 0;
  uint64_t rotations_ = 0;
};

// ---------------------------------------------------------------------------
// Syslog forwarding: RFC 5424 messages over UDP, TCP or TLS (RFC 5425), RFC
// 6587 octet-counted framing. At most once (a message the kernel took is
// never sent again); a message known not to be written completely is re-sent
// once; drops are counted and reported in gap records. The reasons:
// src/sink/syslog_sink.cpp.

// Facility codes 0..23 (RFC 5424 section 6.2.1); names as syslog.conf spells them.
Result<uint8_t> syslog_facility(std::string_view name);

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
  // TLS only: CA bundle for the collector's certificate (empty: the
  // system's); client certificate and key for collectors that ask for one
  // (key_file may stay empty when cert_file holds the key too).
  std::string ca_file, cert_file, key_file;
  // false: any certificate, any name. For tests and emergencies: the audit
  // trail then goes to whoever answers.
  bool tls_verify = true;
  uint8_t facility = 16; // local0
  // Bounds of the in-memory queue; a message that does not fit is dropped,
  // counted and reported in a gap record. Bytes too, since argv makes some
  // events large and the agent runs under a memory limit.
  size_t queue_capacity = 10000;
  size_t queue_max_bytes = 32u << 20;
  std::chrono::milliseconds connect_timeout{5000}; // TCP connect + TLS handshake; not DNS
  // A collector that accepts nothing for this long is treated as gone.
  std::chrono::milliseconds send_timeout{10000};
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30000};
  // While drops go on (a collector slower than the event rate), at most one
  // gap record per interval, so gap records never crowd out events.
  std::chrono::milliseconds gap_interval{1000};
  // A connection the collector closes sooner than this after it was made
  // counts as refused (warning, growing backoff) even though messages went
  // through: collectors that reject a client tend to accept it first.
  std::chrono::milliseconds stable_after{2000};
  // What the destructor gives the queue to drain.
  std::chrono::milliseconds stop_drain{2000};
};

struct SyslogStats {
  uint64_t sent = 0;                // event messages handed completely to the kernel
  uint64_t dropped_queue_full = 0;  // write() found the queue full
  uint64_t dropped_send_failed = 0; // refused by the transport (too large for UDP) or failed twice
  uint64_t dropped_at_stop = 0;     // still queued at stop()'s deadline, or written after stop()
  // Failed connects and TLS handshakes, failed writes, connections the
  // collector closed.
  uint64_t send_errors = 0;
  uint64_t reconnects = 0; // connections made after the first one
  uint64_t gaps_sent = 0;  // gap records sent
  size_t queued = 0;       // messages waiting now
  bool connected = false;
  std::string last_error;
};

// A syslog output: write() formats on the caller's thread and queues; a
// sender thread of its own connects, reconnects with backoff, and sends in
// order.
class SyslogOutput : public Sink {
public:
  // Sends what it can until drain has passed (with a collector that is down:
  // one more connect attempt), then closes. What is left is counted as
  // dropped_at_stop, and so are later writes.
  virtual void stop(std::chrono::milliseconds drain) = 0;
  virtual SyslogStats stats() const = 0;
};

// The output for options.url: checks the URL and TLS files now (a bad URL,
// unreadable TLS files, TLS files with udp:// or tcp:// fail here).
Result<std::unique_ptr<SyslogOutput>> open_syslog_sink(const SyslogOptions &options, HostInfo host);

} // namespace shimwatch
