// dispatch: one in-process queue between the ring buffer reader and every
// output, each output on a thread of its own.
//
// The reader pushes and never waits. Each output reads the same queue at its
// own pace through a cursor of its own; when the queue is full the oldest
// record goes, and only the outputs that had not read it yet lose it (counted,
// and reported to that output as a gap record once it catches up). So a slow
// or stuck output (a stdout pipe nobody reads, a log file on a dying disk)
// never blocks the reader and never stalls the others.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "shimwatch/event.hpp"
#include "shimwatch/text.hpp"

namespace shimwatch {

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

// What the dispatcher counts as it goes (the metrics stage implements it).
class OutputCounters {
public:
  virtual ~OutputCounters() = default;
  // Records lost at stage ("queue", or an output's name) for reason.
  virtual void count_drop(const std::string &stage, const std::string &reason, uint64_t n) = 0;
  virtual void count_output_error(const std::string &output, uint64_t n) = 0;
};

// What goes through the queue: an event (or a repeat summary) or a gap record.
using Record = std::variant<Event, Gap>;

int64_t record_time_ns(const Record &record);

// Events one reader lost because the queue was full while it lagged.
struct QueueLoss {
  uint64_t count = 0;
  int64_t first_ns = 0; // event times of the lost records
  int64_t last_ns = 0;
  void add(int64_t timestamp_ns);
};

// The memory a record holds, about (approximate_bytes for an event).
size_t approximate_bytes(const Record &record);

class OutputQueue {
public:
  // Records held at most (at least 1), and their bytes at most: when either
  // is passed, the oldest record goes (one record is always kept).
  static constexpr size_t default_max_bytes = size_t{64} << 20;
  explicit OutputQueue(size_t capacity, size_t max_bytes = default_max_bytes);

  // Registers a reader; all readers are added before the first push.
  size_t add_reader();

  // Never waits. When the queue is full, its oldest record goes.
  void push(Record record);
  // The same for each of records, in order, with one wake-up of the readers.
  void push(std::vector<Record> &records);

  struct Batch {
    std::vector<std::shared_ptr<const Record>> records;
    QueueLoss lost; // events lost by this reader since its last batch
    // Gap records it skipped, merged by stage and destination: the losses
    // they report are still to be written, not lost events of this queue.
    std::vector<Gap> skipped_gaps;
    bool closed = false; // closed and everything read: the last batch
  };
  // Up to max records after the reader's cursor, waiting up to wait for the
  // first one.
  Batch next(size_t reader, size_t max, std::chrono::milliseconds wait);

  // Readers get what is left, then a batch with closed set.
  void close();

  size_t size() const;
  uint64_t pushed() const;
  // Events reader has lost so far, reported in a batch or not.
  uint64_t lost_total(size_t reader) const;

private:
  struct Reader {
    uint64_t cursor = 0; // sequence number of the next record to read
    QueueLoss lost;
    uint64_t lost_total = 0;
    std::vector<Gap> skipped_gaps;
  };
  void trim(); // with mutex_ held: drops records every reader has read
  void append(std::shared_ptr<const Record> item); // with mutex_ held
  void pop_oldest();                               // with mutex_ held

  const size_t capacity_;
  const size_t max_bytes_;
  size_t bytes_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::shared_ptr<const Record>> items_;
  uint64_t base_ = 0; // sequence number of items_.front()
  std::vector<Reader> readers_;
  bool closed_ = false;
};

// Runs every output on its own thread, fed from one OutputQueue; reports
// each output's errors and losses to the metrics (when given).
class Dispatcher {
public:
  Dispatcher(size_t queue_capacity, OutputCounters *metrics,
             size_t queue_max_bytes = OutputQueue::default_max_bytes);
  ~Dispatcher(); // stop()
  Dispatcher(const Dispatcher &) = delete;
  Dispatcher &operator=(const Dispatcher &) = delete;

  // name: the output's label in metrics and gap records ("stdout",
  // "log_file", "syslog"). Before start().
  void add(std::string name, Sink &sink);
  void start();

  void push(Record record) { queue_.push(std::move(record)); }
  // Moves every record out of records, in order; records is left empty.
  void push(std::vector<Record> &records) { queue_.push(records); }
  // Each output reopens its files on its own thread (SIGHUP).
  void reopen();
  // Counts what outputs lost in the queue since the last call into the
  // metrics, and warns once per episode. Now, not when the output catches
  // up: a stuck one may never do so. From the thread that pushes.
  void report_losses();
  // Every output writes what the queue holds, flushes and its thread ends.
  // An output still busy after grace (a stdout pipe nobody reads) is
  // abandoned: its thread is detached, never touches the metrics again, and
  // its name is returned. The caller must then keep that sink and this
  // dispatcher alive until the process exits (the thread may still wake).
  std::vector<std::string> stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  size_t queued() const { return queue_.size(); }

private:
  struct Output {
    std::string name;
    Sink *sink = nullptr;
    size_t reader = 0;
    std::atomic<bool> reopen{false};
    uint64_t errors_reported = 0;
    uint64_t queue_losses_reported = 0; // by report_losses
    bool behind = false;                // in a loss episode, already warned
    bool threw = false;                 // a batch threw: logged once
    std::vector<std::pair<std::string, uint64_t>> drops_reported;
    std::atomic<bool> done{false};
    std::mutex abandon_mutex; // held while reporting, so abandoning waits for it
    bool abandoned = false;
    std::thread thread;
  };
  void run(Output &output);
  void report(Output &output);

  OutputQueue queue_;
  OutputCounters *metrics_;
  std::vector<std::unique_ptr<Output>> outputs_;
  bool stopped_ = false;
};

} // namespace shimwatch
