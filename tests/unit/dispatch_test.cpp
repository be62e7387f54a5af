// OutputQueue and Dispatcher: every output reads every record in order at its
// own pace; a lagging one loses the oldest (counted, with the span) and only
// it; a stuck output stalls neither the producer nor the other outputs, gets
// a gap record once it moves again, and is left behind by stop().
#include <gtest/gtest.h>

#include "event_builders.hpp"
#include "test_files.hpp"

#include "http_client.hpp"
#include "log_capture.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <set>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <variant>
#include <vector>

#include "shimwatch/dispatch.hpp"
#include "shimwatch/metrics.hpp"

using namespace shimwatch;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kBase = 1'700'000'000'000'000'000;

// Event number i: pid i, timestamp kBase + i ms.
int64_t ts(int i) {
  return kBase + int64_t{i} * 1'000'000;
}

Event ev(int i) {
  return swtest::cli_exec(static_cast<uint32_t>(i)).at(ts(i));
}

// The pid of an event record, -1 for a gap record.
int id_of(const Record &record) {
  if (const Event *e = std::get_if<Event>(&record))
    return static_cast<int>(e->process.pid);
  return -1;
}

std::vector<int> ids(const OutputQueue::Batch &batch) {
  std::vector<int> out;
  for (const auto &r : batch.records)
    out.push_back(id_of(*r));
  return out;
}

std::vector<int> range(int first, int last) {
  std::vector<int> out;
  for (int i = first; i <= last; ++i)
    out.push_back(i);
  return out;
}

// ---------------------------------------------------------------------------
// QueueLoss, record_time_ns

TEST(QueueLoss, CountsAndKeepsTheEarliestAndLatestTime) {
  QueueLoss loss;
  EXPECT_EQ(loss.count, 0u);
  loss.add(ts(5));
  EXPECT_EQ(loss.count, 1u);
  EXPECT_EQ(loss.first_ns, ts(5));
  EXPECT_EQ(loss.last_ns, ts(5));
  loss.add(ts(3)); // out of order: still the span
  loss.add(ts(9));
  loss.add(ts(7));
  EXPECT_EQ(loss.count, 4u);
  EXPECT_EQ(loss.first_ns, ts(3));
  EXPECT_EQ(loss.last_ns, ts(9));
}

TEST(RecordTime, EventTimeOrGapRecordTime) {
  EXPECT_EQ(record_time_ns(Record{ev(4)}), ts(4));
  Gap gap;
  gap.timestamp_ns = ts(8);
  gap.first_ns = ts(1);
  EXPECT_EQ(record_time_ns(Record{gap}), ts(8));
}

// ---------------------------------------------------------------------------
// OutputQueue

TEST(OutputQueue, EveryReaderSeesEveryRecordInOrder) {
  OutputQueue q(100);
  size_t a = q.add_reader();
  size_t b = q.add_reader();
  size_t c = q.add_reader();
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b, 1u);
  EXPECT_EQ(c, 2u);
  for (int i = 1; i <= 10; ++i)
    q.push(ev(i));
  EXPECT_EQ(q.pushed(), 10u);
  EXPECT_EQ(q.size(), 10u);

  // Reader a in small batches, b at once, c partly.
  std::vector<int> got_a;
  for (int round = 0; round < 4; ++round) {
    auto batch = q.next(a, 3, 0ms);
    EXPECT_EQ(batch.lost.count, 0u);
    EXPECT_FALSE(batch.closed);
    for (int id : ids(batch))
      got_a.push_back(id);
  }
  EXPECT_EQ(got_a, range(1, 10));
  auto all_b = q.next(b, 100, 0ms);
  EXPECT_EQ(ids(all_b), range(1, 10));
  EXPECT_EQ(all_b.lost.count, 0u);
  auto part_c = q.next(c, 4, 0ms);
  EXPECT_EQ(ids(part_c), range(1, 4));
  // What every reader has read is let go; c still holds 5..10.
  EXPECT_EQ(q.size(), 6u);
  auto rest_c = q.next(c, 100, 0ms);
  EXPECT_EQ(ids(rest_c), range(5, 10));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.pushed(), 10u);

  // Nothing new: an empty batch after the wait, nothing lost, not closed.
  auto empty = q.next(a, 100, 1ms);
  EXPECT_TRUE(empty.records.empty());
  EXPECT_EQ(empty.lost.count, 0u);
  EXPECT_FALSE(empty.closed);
}

// Two thousand one-byte arguments: the most the kernel sends, split as
// finely as it goes.
Event huge(int i) {
  Event e = ev(i);
  e.process.args.assign(2000, "x");
  return e;
}

TEST(OutputQueue, BoundedByBytesAsWellAsByCount) {
  EXPECT_GT(approximate_bytes(Record(huge(1))), 2000 * sizeof(std::string));
  EXPECT_LT(approximate_bytes(Record(ev(1))), 2048u);
  const size_t one = approximate_bytes(Record(huge(1)));
  // Room for 10 huge records by bytes, 1000 by count.
  OutputQueue q(1000, 10 * one + one / 2);
  size_t reader = q.add_reader();
  for (int i = 1; i <= 50; ++i)
    q.push(huge(i));
  EXPECT_EQ(q.size(), 10u) << "the oldest go once the bytes are passed";
  auto batch = q.next(reader, 100, 0ms);
  EXPECT_EQ(batch.lost.count, 40u) << "what went is counted as lost for the reader";
  EXPECT_EQ(ids(batch), range(41, 50));
  // Small records are held by count, as before.
  OutputQueue small(100, 10 * one);
  small.add_reader();
  for (int i = 1; i <= 150; ++i)
    small.push(ev(i));
  EXPECT_EQ(small.size(), 100u);
}

TEST(OutputQueue, RecordsAreSharedNotCopiedPerReader) {
  OutputQueue q(10);
  size_t a = q.add_reader();
  size_t b = q.add_reader();
  q.push(ev(1));
  auto ba = q.next(a, 10, 0ms);
  auto bb = q.next(b, 10, 0ms);
  ASSERT_EQ(ba.records.size(), 1u);
  ASSERT_EQ(bb.records.size(), 1u);
  EXPECT_EQ(ba.records[0].get(), bb.records[0].get());
}

TEST(OutputQueue, PushWithoutReadersKeepsNothing) {
  OutputQueue q(10);
  q.push(ev(1));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.pushed(), 0u);
}

TEST(OutputQueue, AReaderAddedLaterStartsAtTheEnd) {
  OutputQueue q(10);
  size_t a = q.add_reader();
  q.push(ev(1));
  size_t b = q.add_reader();
  q.push(ev(2));
  EXPECT_EQ(ids(q.next(a, 10, 0ms)), (std::vector<int>{1, 2}));
  auto batch = q.next(b, 10, 0ms);
  EXPECT_EQ(ids(batch), (std::vector<int>{2}));
  EXPECT_EQ(batch.lost.count, 0u);
}

TEST(OutputQueue, LaggingReaderLosesTheOldestAndOnlyItDoes) {
  OutputQueue q(3);
  size_t fast = q.add_reader();
  size_t slow = q.add_reader();
  std::vector<int> fast_got;
  for (int i = 1; i <= 10; ++i) {
    q.push(ev(i));
    auto batch = q.next(fast, 100, 0ms);
    EXPECT_EQ(batch.lost.count, 0u) << "the fast reader lost record " << i;
    for (int id : ids(batch))
      fast_got.push_back(id);
    EXPECT_LE(q.size(), 3u);
  }
  EXPECT_EQ(fast_got, range(1, 10));

  // The slow one lost 1..7, kept the last three.
  auto batch = q.next(slow, 100, 0ms);
  EXPECT_EQ(batch.lost.count, 7u);
  EXPECT_EQ(batch.lost.first_ns, ts(1));
  EXPECT_EQ(batch.lost.last_ns, ts(7));
  EXPECT_EQ(ids(batch), range(8, 10));
  EXPECT_FALSE(batch.closed);
  EXPECT_EQ(q.size(), 0u);

  // A loss is reported once.
  q.push(ev(11));
  auto next = q.next(slow, 100, 0ms);
  EXPECT_EQ(next.lost.count, 0u);
  EXPECT_EQ(next.lost.first_ns, 0);
  EXPECT_EQ(next.lost.last_ns, 0);
  EXPECT_EQ(ids(next), (std::vector<int>{11}));
}

TEST(OutputQueue, LossesOfTwoRunsAddUpUntilReported) {
  OutputQueue q(2);
  size_t fast = q.add_reader();
  size_t slow = q.add_reader();
  for (int i = 1; i <= 5; ++i) { // slow loses 1..3
    q.push(ev(i));
    (void)q.next(fast, 100, 0ms);
  }
  for (int i = 6; i <= 8; ++i) { // and 4..6
    q.push(ev(i));
    (void)q.next(fast, 100, 0ms);
  }
  auto batch = q.next(slow, 1, 0ms); // max 1: the loss comes with the first batch
  EXPECT_EQ(batch.lost.count, 6u);
  EXPECT_EQ(batch.lost.first_ns, ts(1));
  EXPECT_EQ(batch.lost.last_ns, ts(6));
  EXPECT_EQ(ids(batch), (std::vector<int>{7}));
  auto rest = q.next(slow, 1, 0ms);
  EXPECT_EQ(rest.lost.count, 0u);
  EXPECT_EQ(ids(rest), (std::vector<int>{8}));
}

TEST(OutputQueue, LostTotalCountsBeforeAndAfterTheLossIsReported) {
  OutputQueue q(2);
  size_t fast = q.add_reader();
  size_t slow = q.add_reader();
  EXPECT_EQ(q.lost_total(slow), 0u);
  for (int i = 1; i <= 6; ++i) {
    q.push(ev(i));
    (void)q.next(fast, 100, 0ms);
  }
  EXPECT_EQ(q.lost_total(slow), 4u) << "known at once, before the reader comes back";
  EXPECT_EQ(q.lost_total(fast), 0u);
  auto batch = q.next(slow, 100, 0ms);
  EXPECT_EQ(batch.lost.count, 4u);
  EXPECT_EQ(q.lost_total(slow), 4u) << "cumulative: reporting does not reset it";
  for (int i = 7; i <= 9; ++i)
    q.push(ev(i));
  EXPECT_EQ(q.lost_total(slow), 5u);
  EXPECT_EQ(q.lost_total(fast), 1u);
}

TEST(OutputQueue, EveryReaderLagging) {
  OutputQueue q(4);
  size_t a = q.add_reader();
  size_t b = q.add_reader();
  for (int i = 1; i <= 9; ++i)
    q.push(ev(i));
  EXPECT_EQ(q.size(), 4u);
  EXPECT_EQ(q.pushed(), 9u);
  for (size_t reader : {a, b}) {
    auto batch = q.next(reader, 100, 0ms);
    EXPECT_EQ(batch.lost.count, 5u);
    EXPECT_EQ(batch.lost.first_ns, ts(1));
    EXPECT_EQ(batch.lost.last_ns, ts(5));
    EXPECT_EQ(ids(batch), range(6, 9));
  }
}

TEST(OutputQueue, CloseDeliversTheRestThenSaysClosed) {
  OutputQueue q(10);
  size_t a = q.add_reader();
  size_t b = q.add_reader();
  for (int i = 1; i <= 3; ++i)
    q.push(ev(i));
  q.close();
  q.push(ev(4)); // after close: not kept
  EXPECT_EQ(q.pushed(), 3u);

  auto first = q.next(a, 2, 0ms);
  EXPECT_EQ(ids(first), (std::vector<int>{1, 2}));
  EXPECT_FALSE(first.closed) << "one record is still to be read";
  auto last = q.next(a, 2, 0ms);
  EXPECT_EQ(ids(last), (std::vector<int>{3}));
  EXPECT_TRUE(last.closed);
  auto after = q.next(a, 2, 10s); // closed: no wait
  EXPECT_TRUE(after.records.empty());
  EXPECT_TRUE(after.closed);

  auto all_b = q.next(b, 10, 0ms);
  EXPECT_EQ(ids(all_b), range(1, 3));
  EXPECT_TRUE(all_b.closed);
  EXPECT_EQ(q.size(), 0u);
}

TEST(OutputQueue, CloseWakesAWaitingReader) {
  OutputQueue q(10);
  size_t a = q.add_reader();
  std::thread closer([&] {
    std::this_thread::sleep_for(50ms);
    q.close();
  });
  auto start = std::chrono::steady_clock::now();
  auto batch = q.next(a, 10, 20s);
  auto waited = std::chrono::steady_clock::now() - start;
  closer.join();
  EXPECT_TRUE(batch.closed);
  EXPECT_TRUE(batch.records.empty());
  EXPECT_LT(waited, 10s);
}

TEST(OutputQueue, PushWakesAWaitingReader) {
  OutputQueue q(10);
  size_t a = q.add_reader();
  std::thread pusher([&] {
    std::this_thread::sleep_for(50ms);
    q.push(ev(1));
  });
  auto start = std::chrono::steady_clock::now();
  auto batch = q.next(a, 10, 20s);
  auto waited = std::chrono::steady_clock::now() - start;
  pusher.join();
  EXPECT_EQ(ids(batch), (std::vector<int>{1}));
  EXPECT_FALSE(batch.closed);
  EXPECT_LT(waited, 10s);
}

TEST(OutputQueue, CapacityOne) {
  OutputQueue q(1);
  size_t a = q.add_reader();
  q.push(ev(1));
  EXPECT_EQ(ids(q.next(a, 10, 0ms)), (std::vector<int>{1}));
  q.push(ev(2));
  q.push(ev(3));
  q.push(ev(4));
  EXPECT_EQ(q.size(), 1u);
  auto batch = q.next(a, 10, 0ms);
  EXPECT_EQ(batch.lost.count, 2u);
  EXPECT_EQ(batch.lost.first_ns, ts(2));
  EXPECT_EQ(batch.lost.last_ns, ts(3));
  EXPECT_EQ(ids(batch), (std::vector<int>{4}));
  q.close();
  auto end = q.next(a, 10, 0ms);
  EXPECT_TRUE(end.records.empty());
  EXPECT_TRUE(end.closed);
}

TEST(OutputQueue, CapacityZeroMeansOne) {
  OutputQueue q(0);
  size_t a = q.add_reader();
  q.push(ev(1));
  q.push(ev(2));
  EXPECT_EQ(q.size(), 1u);
  auto batch = q.next(a, 10, 0ms);
  EXPECT_EQ(batch.lost.count, 1u);
  EXPECT_EQ(batch.lost.first_ns, ts(1));
  EXPECT_EQ(ids(batch), (std::vector<int>{2}));
}

// A gap record the reader skipped is no lost event: the losses it reports
// come back with the next batch (so the output still writes them), merged
// with the other skipped ones of the same stage and destination.
TEST(OutputQueue, SkippedGapRecordsComeBackMergedNotAsLostEvents) {
  OutputQueue q(1);
  size_t a = q.add_reader();
  Gap kernel;
  kernel.stage = "kernel";
  kernel.reasons = {{"ring_buffer_full", 3}};
  kernel.first_ns = ts(40);
  kernel.last_ns = ts(50);
  kernel.timestamp_ns = ts(50);
  kernel.message = "3 events were lost";
  Gap later = kernel;
  later.reasons = {{"ring_buffer_full", 4}, {"pending_table_full", 1}};
  later.first_ns = ts(50);
  later.last_ns = ts(70);
  later.timestamp_ns = ts(70);
  Gap other_output;
  other_output.stage = "queue";
  other_output.destination = "syslog";
  other_output.reasons = {{"output_behind", 9}};
  other_output.first_ns = other_output.last_ns = other_output.timestamp_ns = ts(55);
  q.push(kernel);
  q.push(ev(60));
  q.push(other_output);
  q.push(later);
  q.push(ev(80));
  auto batch = q.next(a, 10, 0ms);
  EXPECT_EQ(batch.lost.count, 1u) << "only event 60 was lost";
  EXPECT_EQ(batch.lost.first_ns, ts(60));
  EXPECT_EQ(batch.lost.last_ns, ts(60));
  EXPECT_EQ(q.lost_total(a), 1u);
  EXPECT_EQ(ids(batch), (std::vector<int>{80}));
  ASSERT_EQ(batch.skipped_gaps.size(), 2u);
  const Gap &merged = batch.skipped_gaps[0];
  EXPECT_EQ(merged.stage, "kernel");
  EXPECT_EQ(merged.dropped(), 8u);
  EXPECT_EQ(merged.reasons, (std::vector<std::pair<std::string, uint64_t>>{
                                {"ring_buffer_full", 7}, {"pending_table_full", 1}}));
  EXPECT_EQ(merged.first_ns, ts(40));
  EXPECT_EQ(merged.last_ns, ts(70));
  EXPECT_EQ(merged.timestamp_ns, ts(70));
  EXPECT_TRUE(merged.message.empty()) << "its sentence was for 3 events, not 8";
  EXPECT_EQ(batch.skipped_gaps[1].destination, "syslog");
  EXPECT_EQ(batch.skipped_gaps[1].dropped(), 9u);

  // Reported once.
  q.push(ev(90));
  EXPECT_TRUE(q.next(a, 10, 0ms).skipped_gaps.empty());
}

TEST(OutputQueue, ConcurrentProducerAndReadersSeeOrderAndAccountForEveryRecord) {
  constexpr int kRecords = 20000;
  OutputQueue q(64);
  constexpr size_t kReaders = 3;
  std::vector<size_t> readers;
  for (size_t i = 0; i < kReaders; ++i)
    readers.push_back(q.add_reader());
  struct Tally {
    std::vector<int> got;
    uint64_t lost = 0;
  };
  std::vector<Tally> tallies(kReaders);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < kReaders; ++i)
    threads.emplace_back([&, i] {
      for (;;) {
        auto batch = q.next(readers[i], 7, 100ms);
        tallies[i].lost += batch.lost.count;
        for (int id : ids(batch))
          tallies[i].got.push_back(id);
        if (batch.closed)
          return;
      }
    });
  for (int i = 1; i <= kRecords; ++i)
    q.push(ev(i));
  q.close();
  for (auto &t : threads)
    t.join();
  for (size_t i = 0; i < kReaders; ++i) {
    const Tally &t = tallies[i];
    EXPECT_EQ(t.got.size() + t.lost, static_cast<size_t>(kRecords)) << "reader " << i;
    for (size_t k = 1; k < t.got.size(); ++k)
      ASSERT_LT(t.got[k - 1], t.got[k]) << "reader " << i << " out of order";
    ASSERT_FALSE(t.got.empty());
    EXPECT_EQ(t.got.back(), kRecords) << "the newest record is never the one dropped";
  }
}

// ---------------------------------------------------------------------------
// A Sink that records what it got, from which thread, and can be held in
// flush() to play a stuck output. Its state is open to the conditions given
// to wait_for(), which run with the sink locked.

struct RecordingSink final : public Sink {
  // hold: flush() blocks once a record has been written, until release().
  explicit RecordingSink(bool hold = false) : hold_(hold) {}

  void write(const Event &event) override { add(Record{event}); }
  void write_gap(const Gap &gap) override { add(Record{gap}); }
  void flush() override {
    std::unique_lock lock(m_);
    threads_.insert(std::this_thread::get_id());
    calls_.push_back("flush");
    ++flushes_;
    cv_.notify_all();
    if (hold_ && !records_.empty()) {
      holding_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !hold_; });
      holding_ = false;
      cv_.notify_all();
    }
  }
  void reopen() override {
    std::lock_guard lock(m_);
    threads_.insert(std::this_thread::get_id());
    reopen_threads_.push_back(std::this_thread::get_id());
    calls_.push_back("reopen");
    cv_.notify_all();
  }
  uint64_t errors() const override { return errors_; }
  std::vector<std::pair<std::string, uint64_t>> drops() const override {
    return {{"write_failed", write_failed_}, {"other", other_}};
  }

  void release() {
    {
      std::lock_guard lock(m_);
      hold_ = false;
    }
    cv_.notify_all();
  }
  // Waits (at most 10 s: a bound for hangs, not a speed check) for cond,
  // called with the sink locked (so it reads the fields, not the locking
  // accessors below).
  template <typename Cond> bool wait_for(Cond cond) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, 10s, [&] { return cond(*this); });
  }
  bool holding() {
    std::lock_guard lock(m_);
    return holding_;
  }
  std::vector<Record> records() {
    std::lock_guard lock(m_);
    return records_;
  }
  std::vector<std::string> calls() {
    std::lock_guard lock(m_);
    return calls_;
  }
  std::vector<std::thread::id> reopen_threads() {
    std::lock_guard lock(m_);
    return reopen_threads_;
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(m_);
    return threads_;
  }
  size_t events() const {
    size_t n = 0;
    for (const auto &r : records_)
      n += std::holds_alternative<Event>(r);
    return n;
  }
  uint64_t flushes() const { return flushes_; }

  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> write_failed_{0};
  std::atomic<uint64_t> other_{0};

  void add(Record record) {
    std::lock_guard lock(m_);
    threads_.insert(std::this_thread::get_id());
    calls_.push_back(std::holds_alternative<Event>(record) ? "write" : "write_gap");
    records_.push_back(std::move(record));
    cv_.notify_all();
  }

  mutable std::mutex m_;
  std::condition_variable cv_;
  bool hold_;
  bool holding_ = false;
  std::vector<Record> records_;
  std::vector<std::string> calls_;
  std::vector<std::thread::id> reopen_threads_;
  std::set<std::thread::id> threads_;
  uint64_t flushes_ = 0;
};

std::vector<int> event_ids(const std::vector<Record> &records) {
  std::vector<int> out;
  for (const auto &r : records)
    if (std::holds_alternative<Event>(r))
      out.push_back(id_of(r));
  return out;
}

// ---------------------------------------------------------------------------
// Dispatcher

TEST(Dispatcher, EveryOutputGetsEveryRecordInOrderThenAFlush) {
  RecordingSink one, two;
  Dispatcher d(1000, nullptr);
  d.add("one", one);
  d.add("two", two);
  // Pushed before start(): held for the outputs.
  for (int i = 1; i <= 300; ++i)
    d.push(ev(i));
  EXPECT_EQ(d.queued(), 300u);
  d.start();
  for (int i = 301; i <= 600; ++i)
    d.push(ev(i));
  d.stop();
  for (RecordingSink *sink : {&one, &two}) {
    auto records = sink->records();
    EXPECT_EQ(records.size(), 600u) << "no gap records: nothing was lost";
    EXPECT_EQ(event_ids(records), range(1, 600));
    auto calls = sink->calls();
    ASSERT_FALSE(calls.empty());
    EXPECT_EQ(calls.back(), "flush") << "stop() ends with a flush";
  }
  // One thread per output, none of them the caller's.
  auto t1 = one.threads(), t2 = two.threads();
  ASSERT_EQ(t1.size(), 1u);
  ASSERT_EQ(t2.size(), 1u);
  EXPECT_NE(*t1.begin(), *t2.begin());
  EXPECT_EQ(t1.count(std::this_thread::get_id()), 0u);
  EXPECT_EQ(t2.count(std::this_thread::get_id()), 0u);
  EXPECT_EQ(d.queued(), 0u);
}

TEST(Dispatcher, GapRecordsInTheQueueGoToWriteGapUnchanged) {
  RecordingSink sink;
  Dispatcher d(100, nullptr);
  d.add("stdout", sink);
  d.start();
  Gap gap;
  gap.stage = "kernel";
  gap.reasons = {{"ring_buffer_full", 12}, {"pending_table_full", 3}};
  gap.first_ns = ts(1);
  gap.last_ns = ts(2);
  gap.timestamp_ns = ts(3);
  gap.message = "custom";
  d.push(ev(1));
  d.push(gap);
  d.push(ev(2));
  d.stop();
  auto records = sink.records();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(id_of(records[0]), 1);
  ASSERT_TRUE(std::holds_alternative<Gap>(records[1]));
  const Gap &got = std::get<Gap>(records[1]);
  EXPECT_EQ(got.stage, "kernel");
  EXPECT_EQ(got.reasons, gap.reasons);
  EXPECT_EQ(got.first_ns, ts(1));
  EXPECT_EQ(got.last_ns, ts(2));
  EXPECT_EQ(got.timestamp_ns, ts(3));
  EXPECT_EQ(got.message, "custom");
  EXPECT_EQ(got.destination, "");
  EXPECT_EQ(id_of(records[2]), 2);
}

TEST(Dispatcher, AStuckOutputStallsNeitherPushNorTheOtherOutputAndGetsAGapRecordLater) {
  RecordingSink fast;
  RecordingSink stuck(/*hold=*/true);
  Dispatcher d(4, nullptr);
  d.add("fast", fast);
  d.add("stuck", stuck);
  d.start();

  d.push(ev(1));
  ASSERT_TRUE(stuck.wait_for([](RecordingSink &s) { return s.holding_; }))
      << "the stuck output never got to flush()";
  // Each push returns while "stuck" is blocked (it cannot release itself);
  // "fast" takes every record before the next one comes, so it never lags.
  for (int i = 2; i <= 11; ++i) {
    d.push(ev(i));
    ASSERT_TRUE(fast.wait_for([i](RecordingSink &s) { return s.events() == size_t(i); }))
        << "the fast output stalled at record " << i;
  }
  EXPECT_TRUE(stuck.holding());
  EXPECT_EQ(event_ids(stuck.records()), (std::vector<int>{1}));
  EXPECT_EQ(d.queued(), 4u) << "held for the stuck output, no more than the capacity";

  stuck.release();
  ASSERT_TRUE(stuck.wait_for([](RecordingSink &s) { return s.records_.size() == 6; }));
  int64_t after = unix_now_ns();
  d.stop();

  // fast: everything, in order, no gap record.
  auto got_fast = fast.records();
  EXPECT_EQ(got_fast.size(), 11u);
  EXPECT_EQ(event_ids(got_fast), range(1, 11));

  // stuck: 1, then a gap record for 2..7, then the four the queue held.
  auto got = stuck.records();
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(id_of(got[0]), 1);
  ASSERT_TRUE(std::holds_alternative<Gap>(got[1]));
  const Gap &gap = std::get<Gap>(got[1]);
  EXPECT_EQ(gap.stage, "queue");
  EXPECT_EQ(gap.destination, "stuck");
  ASSERT_EQ(gap.reasons.size(), 1u);
  EXPECT_EQ(gap.reasons[0].first, "output_behind");
  EXPECT_EQ(gap.reasons[0].second, 6u);
  EXPECT_EQ(gap.dropped(), 6u);
  EXPECT_EQ(gap.first_ns, ts(2));
  EXPECT_EQ(gap.last_ns, ts(7));
  EXPECT_GT(gap.timestamp_ns, ts(11)) << "made when it was written: the wall clock";
  EXPECT_LE(gap.timestamp_ns, after);
  EXPECT_TRUE(gap.message.empty()) << "the encoders make it from the counts";
  EXPECT_EQ(event_ids(got), (std::vector<int>{1, 8, 9, 10, 11}));
}

// A kernel gap record pushed while an output was stuck still reaches it,
// ahead of the queue's own gap record, which counts only the events.
TEST(Dispatcher, AGapRecordTheQueueDroppedForAStuckOutputIsStillWritten) {
  RecordingSink stuck(/*hold=*/true);
  Dispatcher d(2, nullptr);
  d.add("stuck", stuck);
  d.start();
  d.push(ev(1));
  ASSERT_TRUE(stuck.wait_for([](RecordingSink &s) { return s.holding_; }));
  Gap kernel;
  kernel.stage = "kernel";
  kernel.reasons = {{"ring_buffer_full", 500}};
  kernel.first_ns = ts(2);
  kernel.last_ns = kernel.timestamp_ns = ts(3);
  d.push(kernel);
  for (int i = 4; i <= 7; ++i)
    d.push(ev(i));
  stuck.release();
  d.stop();

  auto got = stuck.records();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(id_of(got[0]), 1);
  ASSERT_TRUE(std::holds_alternative<Gap>(got[1]));
  EXPECT_EQ(std::get<Gap>(got[1]).stage, "kernel");
  EXPECT_EQ(std::get<Gap>(got[1]).dropped(), 500u);
  ASSERT_TRUE(std::holds_alternative<Gap>(got[2]));
  EXPECT_EQ(std::get<Gap>(got[2]).stage, "queue");
  EXPECT_EQ(std::get<Gap>(got[2]).dropped(), 2u) << "events 4 and 5; the gap record is no event";
  EXPECT_EQ(event_ids(got), (std::vector<int>{1, 6, 7}));
}

TEST(Dispatcher, PushNeverBlocksWhenTheOnlyOutputIsStuck) {
  RecordingSink stuck(/*hold=*/true);
  Dispatcher d(8, nullptr);
  d.add("log_file", stuck);
  d.start();
  d.push(ev(0));
  ASSERT_TRUE(stuck.wait_for([](RecordingSink &s) { return s.holding_; }));
  for (int i = 1; i <= 1000; ++i)
    d.push(ev(i));
  // Reached while the output is still blocked: no push waited for it.
  EXPECT_TRUE(stuck.holding());
  EXPECT_EQ(d.queued(), 8u);
  stuck.release();
  d.stop();
  auto got = stuck.records();
  ASSERT_EQ(got.size(), 10u); // 0, the gap record, 993..1000
  EXPECT_EQ(id_of(got[0]), 0);
  ASSERT_TRUE(std::holds_alternative<Gap>(got[1]));
  const Gap &gap = std::get<Gap>(got[1]);
  EXPECT_EQ(gap.stage, "queue");
  EXPECT_EQ(gap.destination, "log_file");
  EXPECT_EQ(gap.reasons, (std::vector<std::pair<std::string, uint64_t>>{{"output_behind", 992}}));
  EXPECT_EQ(gap.first_ns, ts(1));
  EXPECT_EQ(gap.last_ns, ts(992));
  std::vector<int> rest;
  for (size_t k = 2; k < got.size(); ++k)
    rest.push_back(id_of(got[k]));
  EXPECT_EQ(rest, range(993, 1000));
}

TEST(Dispatcher, ReopenRunsOnTheOutputsOwnThreadOncePerRequest) {
  RecordingSink a, b;
  Dispatcher d(64, nullptr);
  d.add("a", a);
  d.add("b", b);
  d.start();
  d.push(ev(1));
  ASSERT_TRUE(a.wait_for([](RecordingSink &s) { return s.events() == 1; }));
  ASSERT_TRUE(b.wait_for([](RecordingSink &s) { return s.events() == 1; }));
  EXPECT_TRUE(a.reopen_threads().empty());

  d.reopen(); // served without a new event, within the reader's short wait
  ASSERT_TRUE(a.wait_for([](RecordingSink &s) { return !s.reopen_threads_.empty(); }));
  ASSERT_TRUE(b.wait_for([](RecordingSink &s) { return !s.reopen_threads_.empty(); }));
  // A few more rounds: still one reopen per request.
  uint64_t flushes = 0;
  ASSERT_TRUE(a.wait_for([&](RecordingSink &s) {
    flushes = s.flushes();
    return true;
  }));
  ASSERT_TRUE(a.wait_for([&](RecordingSink &s) { return s.flushes() >= flushes + 2; }));
  d.push(ev(2));
  ASSERT_TRUE(a.wait_for([](RecordingSink &s) { return s.events() == 2; }));
  d.stop();

  for (RecordingSink *sink : {&a, &b}) {
    auto reopens = sink->reopen_threads();
    ASSERT_EQ(reopens.size(), 1u);
    EXPECT_NE(reopens[0], std::this_thread::get_id());
    auto threads = sink->threads();
    EXPECT_EQ(threads.size(), 1u) << "write, flush and reopen all on one thread";
    EXPECT_EQ(threads.count(reopens[0]), 1u);
    // The reopen is followed by a flush (the file opened again gets the rest).
    auto calls = sink->calls();
    auto it = std::find(calls.begin(), calls.end(), "reopen");
    ASSERT_NE(it, calls.end());
    ASSERT_NE(it + 1, calls.end());
    EXPECT_EQ(*(it + 1), "flush");
  }
  EXPECT_NE(*a.threads().begin(), *b.threads().begin());
}

TEST(Dispatcher, SecondReopenRequestIsServedToo) {
  RecordingSink a;
  Dispatcher d(64, nullptr);
  d.add("a", a);
  d.start();
  d.reopen();
  ASSERT_TRUE(a.wait_for([](RecordingSink &s) { return s.reopen_threads_.size() == 1; }));
  d.reopen();
  ASSERT_TRUE(a.wait_for([](RecordingSink &s) { return s.reopen_threads_.size() == 2; }));
  d.stop();
  EXPECT_EQ(a.reopen_threads().size(), 2u);
}

TEST(Dispatcher, StopIsIdempotentAndLaterPushesAreIgnored) {
  RecordingSink sink;
  {
    Dispatcher d(16, nullptr);
    d.add("stdout", sink);
    d.start();
    d.push(ev(1));
    d.stop();
    d.stop();
    d.push(ev(2));
    EXPECT_EQ(d.queued(), 0u);
  } // the destructor stops again: no effect
  EXPECT_EQ(event_ids(sink.records()), (std::vector<int>{1}));
}

TEST(Dispatcher, WithoutOutputsOrWithoutStartNothingHappens) {
  {
    Dispatcher d(16, nullptr);
    d.start();
    d.push(ev(1));
    EXPECT_EQ(d.queued(), 0u);
    d.stop();
  }
  RecordingSink sink;
  {
    Dispatcher d(16, nullptr);
    d.add("stdout", sink);
    d.push(ev(1));
    EXPECT_EQ(d.queued(), 1u);
  } // never started: destroyed without touching the sink
  EXPECT_TRUE(sink.records().empty());
  EXPECT_TRUE(sink.calls().empty());
}

// ---------------------------------------------------------------------------
// Dispatcher with metrics: errors and drops reported as they grow, counted
using swtest::free_port;

// "name{labels}" -> value, for every sample line of a scrape.
std::map<std::string, double> scrape(int port) {
  std::map<std::string, double> out;
  std::istringstream in(swtest::http_get(port, "/metrics"));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#')
      continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

TEST(Dispatcher, ReportsTheSinksCumulativeCountersAsIncrementsOnce) {
  int port = free_port();
  auto metrics =
      Metrics::start("127.0.0.1:" + std::to_string(port), [] { return KernelCounters{}; });
  ASSERT_TRUE(metrics) << metrics.error().message;

  RecordingSink sink;
  Dispatcher d(64, metrics->get());
  d.add("log_file", sink);
  d.start();
  sink.errors_ = 3;
  sink.write_failed_ = 5;
  // Let the output go round a few times (it reports after every flush).
  uint64_t flushes = 0;
  ASSERT_TRUE(sink.wait_for([&](RecordingSink &s) {
    flushes = s.flushes();
    return true;
  }));
  ASSERT_TRUE(sink.wait_for([&](RecordingSink &s) { return s.flushes() >= flushes + 3; }));
  auto s = scrape(port);
  EXPECT_EQ(s["shimwatch_output_errors_total{output=\"log_file\"}"], 3);
  EXPECT_EQ(s["shimwatch_events_dropped_total{reason=\"write_failed\",stage=\"log_file\"}"], 5);
  EXPECT_EQ(s["shimwatch_events_dropped_total{reason=\"other\",stage=\"log_file\"}"], 0);

  sink.errors_ = 4;
  sink.other_ = 2;
  ASSERT_TRUE(sink.wait_for([&](RecordingSink &s) {
    flushes = s.flushes();
    return true;
  }));
  ASSERT_TRUE(sink.wait_for([&](RecordingSink &s) { return s.flushes() >= flushes + 3; }));
  d.stop();
  s = scrape(port);
  EXPECT_EQ(s["shimwatch_output_errors_total{output=\"log_file\"}"], 4);
  EXPECT_EQ(s["shimwatch_events_dropped_total{reason=\"write_failed\",stage=\"log_file\"}"], 5);
  EXPECT_EQ(s["shimwatch_events_dropped_total{reason=\"other\",stage=\"log_file\"}"], 2);
}

TEST(Dispatcher, QueueLossesAreCountedWhileTheOutputIsStillStuckOncePerRecord) {
  int port = free_port();
  auto metrics =
      Metrics::start("127.0.0.1:" + std::to_string(port), [] { return KernelCounters{}; });
  ASSERT_TRUE(metrics) << metrics.error().message;
  swtest::LogCapture log;
  const std::string series = "shimwatch_events_dropped_total{reason=\"syslog\",stage=\"queue\"}";

  RecordingSink stuck(/*hold=*/true);
  Dispatcher d(4, metrics->get());
  d.add("syslog", stuck);
  d.start();
  d.push(ev(0));
  ASSERT_TRUE(stuck.wait_for([](RecordingSink &s) { return s.holding_; }));
  for (int i = 1; i <= 14; ++i)
    d.push(ev(i));
  d.report_losses(); // the output cannot: it is stuck
  EXPECT_EQ(scrape(port)[series], 10);
  auto warnings = log.lines(spdlog::level::warn);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "output syslog fell behind: 10 events skipped, more may follow (it gets "
                         "a gap record for them once it catches up)");

  for (int i = 15; i <= 19; ++i) // still behind: counted, not warned again
    d.push(ev(i));
  d.report_losses();
  EXPECT_EQ(scrape(port)[series], 15);
  d.report_losses(); // nothing new: counted once, and the episode is over
  EXPECT_EQ(scrape(port)[series], 15);
  EXPECT_EQ(log.lines(spdlog::level::warn).size(), 1u);
  for (int i = 20; i <= 21; ++i) // a new episode: a new warning
    d.push(ev(i));
  d.report_losses();
  EXPECT_EQ(scrape(port)[series], 17);
  EXPECT_EQ(log.lines(spdlog::level::warn).size(), 2u);

  stuck.release();
  d.stop();
  d.report_losses();
  // The output catching up does not count them a second time.
  EXPECT_EQ(scrape(port)[series], 17);
  auto got = stuck.records();
  ASSERT_EQ(got.size(), 6u); // 0, the gap record, 18..21
  ASSERT_TRUE(std::holds_alternative<Gap>(got[1]));
  EXPECT_EQ(std::get<Gap>(got[1]).reasons,
            (std::vector<std::pair<std::string, uint64_t>>{{"output_behind", 17}}));
  EXPECT_EQ(event_ids(got), (std::vector<int>{0, 18, 19, 20, 21}));
}

TEST(Dispatcher, ReportLossesWithoutMetricsOnlyWarns) {
  swtest::LogCapture log;
  RecordingSink stuck(/*hold=*/true);
  Dispatcher d(2, nullptr);
  d.add("stdout", stuck);
  d.start();
  d.push(ev(0));
  ASSERT_TRUE(stuck.wait_for([](RecordingSink &s) { return s.holding_; }));
  for (int i = 1; i <= 5; ++i)
    d.push(ev(i));
  d.report_losses();
  EXPECT_TRUE(log.contains("output stdout fell behind: 3 events skipped"));
  stuck.release();
  d.stop();
}

// An output that does not return within the grace is left behind, so the
// agent can exit; the others are stopped as usual. Its sink and the
// dispatcher must outlive the thread: they are kept (reachable, so not a
// leak for LeakSanitizer) until the test process exits.
// Keeps object alive until the process exits, reachable (so LeakSanitizer
// does not call it a leak): for what a left-behind thread may still touch.
template <typename T> T *keep_until_exit(T *object) {
  static auto *kept = new std::vector<void *>;
  kept->push_back(object);
  return object;
}

TEST(Dispatcher, StopLeavesAStuckOutputBehindAfterTheGrace) {
  int port = free_port();
  auto started =
      Metrics::start("127.0.0.1:" + std::to_string(port), [] { return KernelCounters{}; });
  ASSERT_TRUE(started) << started.error().message;
  Metrics *metrics = keep_until_exit(started->release());
  RecordingSink *stuck = keep_until_exit(new RecordingSink(/*hold=*/true));
  RecordingSink *fine = keep_until_exit(new RecordingSink());
  Dispatcher *d = keep_until_exit(new Dispatcher(16, metrics));
  swtest::LogCapture log;
  d->add("stdout", *stuck);
  d->add("log_file", *fine);
  d->start();
  d->push(ev(1));
  ASSERT_TRUE(stuck->wait_for([](RecordingSink &s) { return s.holding_; }));
  d->push(ev(2));

  auto begin = std::chrono::steady_clock::now();
  std::vector<std::string> abandoned = d->stop(300ms);
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(abandoned, (std::vector<std::string>{"stdout"}));
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(log.contains("output stdout is stuck"));
  // The healthy output wrote everything and ended.
  EXPECT_EQ(event_ids(fine->records()), (std::vector<int>{1, 2}));
  EXPECT_EQ(fine->calls().back(), "flush");
  EXPECT_TRUE(d->stop().empty()) << "a second stop() does nothing";

  // Released later, the left-behind output ends without touching the metrics.
  stuck->errors_ = 5;
  stuck->release();
  ASSERT_TRUE(stuck->wait_for([](RecordingSink &s) { return !s.holding_; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(scrape(port)["shimwatch_output_errors_total{output=\"stdout\"}"], 0);
  EXPECT_EQ(event_ids(stuck->records()), (std::vector<int>{1}));
}

TEST(Dispatcher, StopWithNothingStuckAbandonsNothing) {
  RecordingSink a, b;
  Dispatcher d(16, nullptr);
  d.add("a", a);
  d.add("b", b);
  d.start();
  d.push(ev(1));
  EXPECT_TRUE(d.stop(100ms).empty());
  EXPECT_EQ(event_ids(a.records()), (std::vector<int>{1}));
  EXPECT_EQ(event_ids(b.records()), (std::vector<int>{1}));
}

} // namespace
