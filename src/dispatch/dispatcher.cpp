#include "shimwatch/dispatch.hpp"

#include <algorithm>
#include <spdlog/spdlog.h>

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

size_t approximate_bytes(const Record &record) {
  if (const Event *event = std::get_if<Event>(&record))
    return approximate_bytes(*event);
  const Gap &gap = std::get<Gap>(record);
  size_t n = sizeof(Record) + gap.stage.capacity() + gap.destination.capacity() +
             gap.reason.capacity() + gap.message.capacity();
  for (const auto &[reason, count] : gap.reasons)
    n += sizeof(std::pair<std::string, uint64_t>) + reason.capacity();
  return n;
}

OutputQueue::OutputQueue(size_t capacity, size_t max_bytes)
    : capacity_(std::max<size_t>(capacity, 1)), max_bytes_(max_bytes) {}

void OutputQueue::pop_oldest() {
  bytes_ -= std::min(bytes_, approximate_bytes(*items_.front()));
  items_.pop_front();
  ++base_;
}

size_t OutputQueue::add_reader() {
  std::lock_guard lock(mutex_);
  readers_.push_back(Reader{base_ + items_.size(), {}, 0, {}});
  return readers_.size() - 1;
}

void OutputQueue::push(Record record) {
  auto item = std::make_shared<const Record>(std::move(record));
  {
    std::lock_guard lock(mutex_);
    append(std::move(item));
  }
  ready_.notify_all();
}

void OutputQueue::push(std::vector<Record> &records) {
  if (records.empty())
    return;
  std::vector<std::shared_ptr<const Record>> items;
  items.reserve(records.size());
  for (Record &record : records)
    items.push_back(std::make_shared<const Record>(std::move(record)));
  records.clear();
  {
    std::lock_guard lock(mutex_);
    for (auto &item : items)
      append(std::move(item));
  }
  ready_.notify_all();
}

void OutputQueue::append(std::shared_ptr<const Record> item) {
  if (closed_ || readers_.empty())
    return;
  bytes_ += approximate_bytes(*item);
  items_.push_back(std::move(item));
  // Bounded by count and by bytes (a record of thousands of arguments is
  // worth hundreds of small ones).
  while (items_.size() > capacity_ || (bytes_ > max_bytes_ && items_.size() > 1)) {
    // The oldest goes; whoever had not read it yet lost it. A gap record
    // is no event: what it reports is kept for the reader instead.
    const Record &oldest = *items_.front();
    const Gap *gap = std::get_if<Gap>(&oldest);
    for (Reader &r : readers_)
      if (r.cursor == base_) {
        if (gap) {
          merge_into(r.skipped_gaps, *gap);
        } else {
          r.lost.add(record_time_ns(oldest));
          ++r.lost_total;
        }
        ++r.cursor;
      }
    pop_oldest();
  }
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
  batch.skipped_gaps = std::move(r.skipped_gaps);
  r.skipped_gaps.clear();
  batch.closed = closed_ && r.cursor == base_ + items_.size();
  trim();
  return batch;
}

void OutputQueue::trim() {
  uint64_t slowest = base_ + items_.size();
  for (const Reader &r : readers_)
    slowest = std::min(slowest, r.cursor);
  while (base_ < slowest)
    pop_oldest();
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

uint64_t OutputQueue::lost_total(size_t reader) const {
  std::lock_guard lock(mutex_);
  return readers_.at(reader).lost_total;
}

uint64_t OutputQueue::pushed() const {
  std::lock_guard lock(mutex_);
  return base_ + items_.size();
}

// ---------------------------------------------------------------------------

namespace {

// Records an output takes at once: enough to make one write(2) of a burst,
// few enough that a gap record is never far behind its loss.
constexpr size_t kBatch = 256;

} // namespace

Dispatcher::Dispatcher(size_t queue_capacity, OutputCounters *metrics, size_t queue_max_bytes)
    : queue_(queue_capacity, queue_max_bytes), metrics_(metrics) {}

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
  for (auto &output : outputs_)
    output->thread = std::thread([this, o = output.get()] { run(*o); });
}

void Dispatcher::reopen() {
  for (auto &output : outputs_)
    output->reopen = true;
}

std::vector<std::string> Dispatcher::stop(std::chrono::milliseconds grace) {
  std::vector<std::string> abandoned;
  if (stopped_)
    return abandoned;
  stopped_ = true;
  queue_.close();
  auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto &output : outputs_) {
    if (!output->thread.joinable())
      continue;
    while (!output->done && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (output->done) {
      output->thread.join();
      continue;
    }
    {
      std::lock_guard lock(output->abandon_mutex);
      output->abandoned = true;
    }
    output->thread.detach();
    spdlog::error("output {} is stuck (a write has not returned for {} s); left behind at exit, "
                  "with what it had not written yet",
                  output->name, std::chrono::duration_cast<std::chrono::seconds>(grace).count());
    abandoned.push_back(output->name);
  }
  return abandoned;
}

void Dispatcher::report_losses() {
  for (auto &output : outputs_) {
    uint64_t total = queue_.lost_total(output->reader);
    uint64_t fresh = total - output->queue_losses_reported;
    output->queue_losses_reported = total;
    if (fresh == 0) {
      output->behind = false;
      continue;
    }
    if (metrics_)
      metrics_->count_drop("queue", output->name, fresh);
    if (!output->behind)
      spdlog::warn("output {} fell behind: {} events skipped, more may follow (it gets a gap "
                   "record for them once it catches up)",
                   output->name, fresh);
    output->behind = true;
  }
}

void Dispatcher::run(Output &output) {
  for (;;) {
    // A short wait so a reopen request is served without an event.
    auto batch = queue_.next(output.reader, kBatch, std::chrono::milliseconds(200));
    for (const Gap &skipped : batch.skipped_gaps)
      output.sink->write_gap(skipped);
    if (batch.lost.count > 0) {
      Gap gap;
      gap.stage = "queue";
      gap.reasons = {{"output_behind", batch.lost.count}};
      gap.first_ns = batch.lost.first_ns;
      gap.last_ns = batch.lost.last_ns;
      gap.timestamp_ns = unix_now_ns();
      gap.destination = output.name;
      output.sink->write_gap(gap);
    }
    // One bad record or a failing output never takes the agent down: the
    // batch is counted as an output error and logged once.
    try {
      for (const auto &record : batch.records) {
        if (const Event *event = std::get_if<Event>(record.get()))
          output.sink->write(*event);
        else
          output.sink->write_gap(std::get<Gap>(*record));
      }
      if (output.reopen.exchange(false))
        output.sink->reopen();
      output.sink->flush();
    } catch (const std::exception &e) {
      if (!output.threw)
        spdlog::error("output {} failed on a batch of {} records: {} (counted as output errors)",
                      output.name, batch.records.size(), e.what());
      output.threw = true;
      if (metrics_)
        metrics_->count_output_error(output.name, 1);
    }
    {
      std::lock_guard lock(output.abandon_mutex);
      if (output.abandoned)
        return;
      report(output);
    }
    if (batch.closed) {
      output.done = true;
      return;
    }
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
