// sinks: where events go (stdout, log file) and how they are written.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shimwatch/config.hpp"
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

// An output. The dispatcher calls every method of one sink from that sink's
// own thread, so a sink needs no locking of its own.
class Sink {
public:
  virtual ~Sink() = default;
  virtual void write(const Event &event) = 0;
  virtual void write_gap(const Gap &gap) = 0;
  // Hands what was written so far on (one write(2), a wake-up ...).
  virtual void flush() = 0;
  // SIGHUP: files are opened again (after logrotate moved them).
  virtual void reopen() {}
  // For the metrics, cumulative: failed writes or sends, and the records
  // this output lost by reason (e.g. {"write_failed", 3}). Any thread.
  virtual uint64_t errors() const = 0;
  virtual std::vector<std::pair<std::string, uint64_t>> drops() const = 0;
};

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

} // namespace shimwatch
