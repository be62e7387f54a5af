#include "shimwatch/dispatch.hpp"

#include <algorithm>
#include <spdlog/spdlog.h>

#include "shimwatch/metrics.hpp"

namespace shimwatch {

int64_t record_time_ns(const Record &record) {
  if (const Event *event = std::get_if<Event>(&record))
    return event->timestamp_ns;
  return std::get<Gap>(record).timestamp_ns;
}

void QueueLoss::add(int64_t timestamp_ns) {
  if (count++ == 0) {
    first_ns = last_ns = timestamp_ns;
    return;
  }
  first_ns = std::min(first_ns, timestamp_ns);
  last_ns = std::max(last_ns, timestamp_ns);
}

// ---------------------------------------------------------------------------

OutputQueue::OutputQueue(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

size_t OutputQueue::add_reader() {
  std::lock_guard lock(mutex_);
  readers_.push_back(Reader{base_ + items_.size(), {}});
  return readers_.size() - 1;
}

void OutputQueue::push(Record record) {
  auto item = std::make_shared<const Record>(std::move(record));
  {
    std::lock_guard lock(mutex_);
    if (closed_ || readers_.empty())
      return;
    items_.push_back(std::move(item));
    if (items_.size() > capacity_) {
      // The oldest goes; whoever had not read it yet lost it.
      int64_t when = record_time_ns(*items_.front());
      for (Reader &r : readers_)
        if (r.cursor == base_) {
          r.lost.add(when);
          ++r.cursor;
        }
      items_.pop_front();
      ++base_;
    }
  }
  ready_.notify_all();
}

OutputQueue::Batch OutputQueue::next(size_t reader, size_t max, std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  Reader &r = readers_.at(reader);
  ready_.wait_for(lock, wait, [&] { return closed_ || r.cursor < base_ + items_.size(); });
  Batch batch;
  while (batch.records.size() < max && r.cursor < base_ + items_.size())
    batch.records.push_back(items_[r.cursor++ - base_]);
  batch.lost = r.lost;
  r.lost = {};
  batch.closed = closed_ && r.cursor == base_ + items_.size();
  trim();
  return batch;
}

void OutputQueue::trim() {
  uint64_t slowest = base_ + items_.size();
  for (const Reader &r : readers_)
    slowest = std::min(slowest, r.cursor);
  while (base_ < slowest) {
    items_.pop_front();
    ++base_;
  }
}

void OutputQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

size_t OutputQueue::size() const {
  std::lock_guard lock(mutex_);
  return items_.size();
}

uint64_t OutputQueue::pushed() const {
  std::lock_guard lock(mutex_);
  return base_ + items_.size();
}

// ---------------------------------------------------------------------------

namespace {

// Records an output takes at once: enough to make one write(2) of a burst,
// few enough that a gap record is never far behind its loss.
constexpr size_t kBatch = 512;

} // namespace

Dispatcher::Dispatcher(size_t queue_capacity, Metrics *metrics)
    : queue_(queue_capacity), metrics_(metrics) {}

Dispatcher::~Dispatcher() {
  stop();
}

void Dispatcher::add(std::string name, Sink &sink) {
  auto output = std::make_unique<Output>();
  output->name = std::move(name);
  output->sink = &sink;
  output->reader = queue_.add_reader();
  outputs_.push_back(std::move(output));
}

void Dispatcher::start() {
  started_ = true;
  for (auto &output : outputs_)
    output->thread = std::thread([this, o = output.get()] { run(*o); });
}

void Dispatcher::reopen() {
  for (auto &output : outputs_)
    output->reopen = true;
}

void Dispatcher::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  queue_.close();
  for (auto &output : outputs_)
    if (output->thread.joinable())
      output->thread.join();
}

void Dispatcher::run(Output &output) {
  bool warned = false;
  for (;;) {
    // A short wait so a reopen request is served without an event.
    auto batch = queue_.next(output.reader, kBatch, std::chrono::milliseconds(200));
    if (batch.lost.count > 0) {
      if (!warned)
        spdlog::warn("output {} fell behind: {} events skipped so far, more may follow (it gets a "
                     "gap record for each run of them)",
                     output.name, batch.lost.count);
      warned = true;
      Gap gap;
      gap.stage = "queue";
      gap.reasons = {{"output_behind", batch.lost.count}};
      gap.first_ns = batch.lost.first_ns;
      gap.last_ns = batch.lost.last_ns;
      gap.timestamp_ns = unix_now_ns();
      gap.destination = output.name;
      output.sink->write_gap(gap);
      if (metrics_)
        metrics_->count_drop("queue", output.name, batch.lost.count);
    } else if (!batch.records.empty()) {
      warned = false;
    }
    for (const auto &record : batch.records) {
      if (const Event *event = std::get_if<Event>(record.get()))
        output.sink->write(*event);
      else
        output.sink->write_gap(std::get<Gap>(*record));
    }
    if (output.reopen.exchange(false))
      output.sink->reopen();
    output.sink->flush();
    report(output);
    if (batch.closed)
      return;
  }
}

void Dispatcher::report(Output &output) {
  if (!metrics_)
    return;
  uint64_t errors = output.sink->errors();
  metrics_->count_output_error(output.name, errors - output.errors_reported);
  output.errors_reported = errors;
  auto drops = output.sink->drops();
  output.drops_reported.resize(drops.size());
  for (size_t i = 0; i < drops.size(); ++i) {
    metrics_->count_drop(output.name, drops[i].first,
                         drops[i].second - output.drops_reported[i].second);
    output.drops_reported[i] = drops[i];
  }
}

} // namespace shimwatch
