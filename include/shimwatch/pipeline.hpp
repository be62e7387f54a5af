// pipeline: a record from the kernel on its way to the outputs.
//
//   decode -> label (what the kernel matched by identity, named as the
//   config names it) -> classify (the call asked for? excluded?) ->
//   attribute (pod, unit, session) -> tag agent -> count -> dedupe ->
//   records for the dispatcher
//
// with one side road: the first run of a binary nothing else matched goes
// to the build-id workers (a renamed docker CLI?) and joins the way at
// label when it is one. What the kernel matches by identity (sockets,
// binaries, Docker's configuration) is kept up to date by KernelFeedback,
// the one writer of those maps.
//
// The agent owns the lifecycle (start, loop, drain, stop); the pipeline
// owns the decisions, and is tested without a kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "shimwatch/aggregate.hpp"
#include "shimwatch/config.hpp"
#include "shimwatch/decode.hpp"
#include "shimwatch/dispatch.hpp"
#include "shimwatch/event.hpp"
#include "shimwatch/probe.hpp"
#include "shimwatch/result.hpp"

namespace shimwatch {

class Attributor;
class BinaryChecker;
class Classifier;
class ConfigIdentities;
class LocalAddresses;
class RenamedBinaries;
class SocketIdentities;

// What the pipeline counts on its way; Metrics implements it.
class EventCounters {
public:
  virtual ~EventCounters() = default;
  virtual void count_decode_error() = 0;
  virtual void count_filtered() = 0;
  virtual void count_excluded(const std::string &rule) = 0;
  virtual void count_enrichment_miss(const std::string &source) = 0;
  // Every event reported, folded by dedupe or not.
  virtual void count_event(const Event &event) = 0;
};

// The kernel's identity maps (watched sockets, binaries and Docker's
// configuration), kept in step with the files they name, and the names the
// config gives those identities. The only writer of those maps.
class KernelFeedback {
public:
  KernelFeedback(const Config &config, WatchMaps &maps);
  ~KernelFeedback();
  KernelFeedback(const KernelFeedback &) = delete;
  KernelFeedback &operator=(const KernelFeedback &) = delete;

  // The first load, once the probes are attached: sockets and configuration
  // the kernel did not take stop the start (the error says why); binaries
  // are tried again at the next refresh.
  Status load();
  // Once a second: sockets and servers restart, packages replace binaries,
  // configuration files come and go. A set the kernel did not take is
  // logged, forgotten, and tried again at the next refresh.
  void refresh();

  // Names what the kernel matched by identity: the watched socket a connect
  // reached, the configured file an open or rename touched. False for a
  // rename near, not into, Docker's configuration: not an event.
  bool label(Event &event);

  // The renamed-binary check: whose build-ids are known, and which copies
  // were found (the kernel then matches them by identity).
  RenamedBinaries &renamed() { return *renamed_; }
  // A copy of a docker binary was found: its next runs match in the kernel.
  void binary_found() { refresh_executables(); }
  // The first run of a binary could not be checked (the process was gone):
  // the kernel sends its next run again.
  void check_again(const Event &event);

private:
  void refresh_executables();
  void refresh_config();

  WatchMaps &maps_;
  std::unique_ptr<SocketIdentities> sockets_;
  std::unique_ptr<ConfigIdentities> config_files_;
  std::unique_ptr<RenamedBinaries> renamed_;
  std::vector<std::string> exec_paths_;
  std::vector<std::pair<FileIdentity, std::string>> executables_;
  size_t renamed_loaded_ = 0; // how many of renamed_->found() the kernel has
};

class Pipeline {
public:
  // Finished records, a batch at a time (up to batch_size): the caller
  // takes them (the vector is left empty or cleared after).
  using Deliver = std::function<void(std::vector<Record> &records)>;

  struct Stages {
    Classifier &classifier;
    Attributor &attributor;
    KernelFeedback &kernel;
    const LocalAddresses &local_addresses;
    EventCounters *counters = nullptr; // none: nothing counted
  };
  struct Options {
    size_t batch_size = 256;
    // Distinct (origin, action, target, command line) keys folded at once;
    // past it events are written in full, never dropped.
    size_t dedupe_max_keys = 10000;
  };

  Pipeline(const Config &config, Stages stages, Deliver deliver);
  Pipeline(const Config &config, Stages stages, Deliver deliver, Options options);
  ~Pipeline();
  Pipeline(const Pipeline &) = delete;
  Pipeline &operator=(const Pipeline &) = delete;

  // A record from the ring buffer, as the probe hands it over.
  void on_record(std::span<const std::byte> raw, const ClockOffset &clock);
  // A decoded event (what on_record does after decoding).
  void on_event(Event event);
  // What the build-id workers finished: renamed docker binaries go on.
  void finish_checks();
  // Summaries of repeats folded until now (all of them at the end).
  void flush_repeats(int64_t now_ns, bool final = false);
  // Hands over what waits in the current batch.
  void flush();

  uint64_t decode_errors() const { return decode_errors_; }
  // The build-id workers, for /healthz and the drain at stop.
  bool checks_stalled() const;
  uint64_t checks_refused() const;
  // Checks queued or being read, beyond those held by a file that does not
  // answer (which are never waited for).
  size_t checks_pending() const;

private:
  void after_label(Event event);
  void emit(Record record);

  const Config &config_;
  Stages stages_;
  Deliver deliver_;
  Options options_;
  std::optional<Deduplicator> dedupe_;
  int64_t dedupe_window_ns_ = 0;
  std::unique_ptr<BinaryChecker> binaries_;
  uint64_t refused_logged_ = 0;
  uint64_t decode_errors_ = 0;
  std::vector<Record> outgoing_;
};

} // namespace shimwatch
