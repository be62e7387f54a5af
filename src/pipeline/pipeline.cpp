#include "shimwatch/pipeline.hpp"

#include <spdlog/spdlog.h>

#include "pipeline/binary_checker.hpp"
#include "pipeline/renamed_binaries.hpp"
#include "shimwatch/attribute.hpp"
#include "shimwatch/classify.hpp"

namespace shimwatch {

namespace {

// A summary record for repeats folded by the deduplicator: the first event
// of the key, stamped with the time of the last repeat.
Event summary_event(RepeatSummary summary, int64_t window_ns) {
  Event event = std::move(summary.sample);
  event.repeat = Repeat{summary.repeats, summary.first_seen_ns, summary.last_seen_ns, window_ns};
  event.timestamp_ns = summary.last_seen_ns;
  return event;
}

} // namespace

Pipeline::Pipeline(const Config &config, Stages stages, Deliver deliver)
    : Pipeline(config, stages, std::move(deliver), Options{}) {}

Pipeline::Pipeline(const Config &config, Stages stages, Deliver deliver, Options options)
    : config_(config), stages_(stages), deliver_(std::move(deliver)), options_(options),
      dedupe_window_ns_(int64_t{config.dedupe.window_seconds} * 1'000'000'000) {
  if (config.dedupe.enabled)
    dedupe_.emplace(dedupe_window_ns_, options_.dedupe_max_keys);
  // Build-ids are read off the event thread: the files belong to whoever
  // runs them, and a read may block for ever (FUSE) where the loop must not.
  RenamedBinaries &renamed = stages_.kernel.renamed();
  binaries_ = std::make_unique<BinaryChecker>(
      [&renamed](const Event &e) { return renamed.read(e); }, BinaryChecker::Options{});
}

Pipeline::~Pipeline() = default;

void Pipeline::on_record(std::span<const std::byte> raw, const ClockOffset &clock) {
  auto event = decode_event(raw, clock);
  if (!event) {
    // Count every one; log the first and then every 1000th.
    if (decode_errors_++ % 1000 == 0)
      spdlog::warn("dropped a malformed record ({} so far): {}", decode_errors_,
                   event.error().message);
    if (stages_.counters)
      stages_.counters->count_decode_error();
    return;
  }
  on_event(std::move(*event));
}

void Pipeline::on_event(Event event) {
  if (event.exec_new_binary) {
    // The first run of a binary nothing else matched: a renamed docker?
    // Answered by a worker (finish_checks).
    if (stages_.kernel.renamed().worth_checking() &&
        !binaries_->submit(BinaryChecker::Purpose::check, std::move(event)) &&
        binaries_->refused() > refused_logged_) {
      if (refused_logged_ == 0)
        spdlog::error("reading binaries' build-ids is held up (every worker waits on a file "
                      "that does not answer): first runs of new binaries are not checked "
                      "meanwhile; /healthz fails");
      refused_logged_ = binaries_->refused();
    }
    return;
  }
  after_label(std::move(event));
}

void Pipeline::after_label(Event event) {
  if (!stages_.kernel.label(event))
    return; // a rename near, not into, Docker's configuration
  stages_.attributor.place(event);
  auto verdict = stages_.classifier.accept(event);
  // A TCP connect counts when it goes to this node's engine, unless any
  // destination was asked for.
  if (verdict && event.action == Action::docker_api_tcp_connect &&
      !config_.watch_tcp_any_destination && !stages_.local_addresses.contains(event.tcp_address))
    verdict = Verdict{Verdict::Kind::filtered, "tcp-destination"};
  EventCounters *counters = stages_.counters;
  if (!verdict) {
    if (counters) {
      if (verdict.excluded())
        counters->count_excluded(verdict.rule);
      else
        counters->count_filtered();
    }
    return;
  }
  const uint64_t misses_before = stages_.attributor.kubernetes_misses();
  stages_.attributor.enrich(event);
  if (counters && stages_.attributor.kubernetes_misses() != misses_before)
    counters->count_enrichment_miss("kubernetes");
  stages_.classifier.tag_agent(event);
  if (event.action == Action::docker_cli_exec && !event.exec_matched_by_identity &&
      stages_.kernel.renamed().wants_to_learn(event))
    binaries_->submit(BinaryChecker::Purpose::learn, event);
  if (counters)
    counters->count_event(event); // every event, folded or not
  if (!dedupe_ || dedupe_->admit(event))
    emit(std::move(event));
}

void Pipeline::finish_checks() {
  RenamedBinaries &renamed = stages_.kernel.renamed();
  for (auto &done : binaries_->take()) {
    if (done.purpose == BinaryChecker::Purpose::learn) {
      renamed.learn(done.event, done.read);
      continue;
    }
    Event &event = done.event;
    auto found = renamed.check(event, done.read);
    if (found == RenamedBinaries::Verdict::unreadable)
      stages_.kernel.check_again(event);
    if (found != RenamedBinaries::Verdict::docker)
      continue; // not an event: nothing was asked about this binary
    spdlog::info("{} (pid {}) runs a copy of a docker binary (build-id {})",
                 event.process.executable, event.process.pid, event.exec_build_id);
    stages_.kernel.binary_found(); // its next runs are matched in the kernel
    after_label(std::move(event));
  }
}

void Pipeline::flush_repeats(int64_t now_ns, bool final) {
  if (!dedupe_)
    return;
  for (auto &summary : dedupe_->due(now_ns, final))
    emit(summary_event(std::move(summary), dedupe_window_ns_));
  flush();
}

void Pipeline::emit(Record record) {
  outgoing_.push_back(std::move(record));
  if (outgoing_.size() >= options_.batch_size)
    flush();
}

void Pipeline::flush() {
  if (outgoing_.empty())
    return;
  deliver_(outgoing_);
  outgoing_.clear();
}

bool Pipeline::checks_stalled() const {
  return binaries_->stalled();
}

uint64_t Pipeline::checks_refused() const {
  return binaries_->refused();
}

size_t Pipeline::checks_pending() const {
  const size_t outstanding = binaries_->outstanding();
  const size_t held = binaries_->held_workers();
  return outstanding > held ? outstanding - held : 0;
}

} // namespace shimwatch
