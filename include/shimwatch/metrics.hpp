// Prometheus endpoint: event counters and the agent's own health.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "shimwatch/dispatch.hpp"
#include "shimwatch/event.hpp"
#include "shimwatch/kubernetes.hpp"
#include "shimwatch/probe.hpp"
#include "shimwatch/result.hpp"

namespace shimwatch {

class Metrics final : public OutputCounters {
public:
  using KernelCountersFn = std::function<KernelCounters()>;

  static constexpr size_t default_max_series = 1000;

  // Serves /metrics on address (HOST:PORT). kernel_counters is called at each
  // scrape, from the HTTP thread.
  //
  // max_series caps the series of each family whose label values come from
  // the node or the config (events_total, events_dropped_total,
  // events_excluded_total, output_errors_total, enrichment_misses_total). Once a family holds
  // max_series series, a new label set is folded: for shimwatch_events_total its namespace,
  // workload and unit become "other" (action, outcome, origin_type, workload_kind and agent are
  // kept: they come from small fixed or configured sets); for the other families every label
  // becomes "other". Each folded increment is counted in
  // shimwatch_metrics_series_folded_total{family}. Series already created keep counting. At
  // least 1.
  static Result<std::unique_ptr<Metrics>> start(const std::string &address,
                                                KernelCountersFn kernel_counters,
                                                size_t max_series = default_max_series);
  ~Metrics() override;
  Metrics(const Metrics &) = delete;
  Metrics &operator=(const Metrics &) = delete;

  // GET /healthz on the metrics address: 200 "ok", or 503 with what is
  // wrong when problem() (called at each request, from the HTTP thread)
  // says something ("" when all is well). For the liveness probe: /metrics
  // answers as long as the HTTP thread runs, even when the agent no longer
  // takes in events.
  void serve_health(std::function<std::string()> problem);

  // Exports the metadata source's health (synced, pods, outages ...), read at
  // each scrape.
  void watch_kubernetes(std::function<KubeClientStats()> stats, std::function<size_t()> pods);

  // Labelled by workload, never by pod, process or container: see
  // metrics.cpp for the label values. Thread-safe, like every count_*.
  void count_event(const Event &event);
  void count_decode_error();
  void count_filtered();
  // A watched call left out by an exclusion rule (Verdict::rule, e.g.
  // "self", "executable:dockerd"): shimwatch_events_excluded_total{rule},
  // capped like the other families (past the cap: rule="other").
  void count_excluded(const std::string &rule);
  // An event lost after the kernel: shimwatch_events_dropped_total{stage,
  // reason}, e.g. ("queue", "full"), ("syslog", "queue_full"). The kernel's
  // own losses are in the same family with stage="kernel", read at scrape.
  void count_drop(const std::string &stage, const std::string &reason, uint64_t n = 1) override;
  void count_enrichment_miss(const std::string &source);
  void count_output_error(const std::string &output, uint64_t n = 1) override;

private:
  Metrics() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The unit label of shimwatch_events_total: the unit less what systemd fills
// per run, "getty@tty1.service" -> "getty@.service", "run-u42.service" ->
// "run-*.service"; other names as they are.
std::string metrics_unit_label(std::string_view unit);

} // namespace shimwatch
