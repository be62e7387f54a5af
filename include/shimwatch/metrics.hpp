// Prometheus endpoint: event counters and the agent's own health.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "shimwatch/event.hpp"
#include "shimwatch/kubernetes.hpp"
#include "shimwatch/probe.hpp"
#include "shimwatch/result.hpp"

namespace prometheus {
class Exposer;
class Registry;
template <typename T> class Family;
class Counter;
} // namespace prometheus

namespace shimwatch {

class Metrics {
public:
  using KernelCountersFn = std::function<KernelCounters()>;

  // Serves /metrics on address (HOST:PORT). kernel_counters is called at each
  // scrape, from the HTTP thread.
  static Result<std::unique_ptr<Metrics>> start(const std::string &address,
                                                KernelCountersFn kernel_counters);
  ~Metrics();
  Metrics(const Metrics &) = delete;
  Metrics &operator=(const Metrics &) = delete;

  // Exports the metadata source's health (synced, pods, outages ...), read at
  // each scrape.
  void watch_kubernetes(std::function<KubeClientStats()> stats, std::function<size_t()> pods);

  void count_event(const Event &event);
  void count_decode_error();
  void count_filtered();
  void count_enrichment_miss(const std::string &source);
  void count_output_error(const std::string &output);

private:
  Metrics() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace shimwatch
