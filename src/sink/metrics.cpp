#include "shimwatch/metrics.hpp"

#include <map>
#include <mutex>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <sys/utsname.h>

#include "shimwatch/version.hpp"

namespace shimwatch {

namespace {

// Kernel-side counters live in a BPF map; they are read at scrape time.
class KernelCollectable final : public prometheus::Collectable {
public:
  explicit KernelCollectable(Metrics::KernelCountersFn read) : read_(std::move(read)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    KernelCounters c = read_();
    prometheus::MetricFamily emitted{"shimwatch_kernel_events_total",
                                     "Events the probes matched and sent to user space.",
                                     prometheus::MetricType::Counter,
                                     {counter({}, c.emitted)}};
    prometheus::MetricFamily dropped{
        "shimwatch_kernel_events_dropped_total",
        "Events the probes matched but lost in the kernel, by reason.",
        prometheus::MetricType::Counter,
        {counter({{"reason", "ring_buffer_full"}}, c.dropped_ring_buffer_full),
         counter({{"reason", "pending_table_full"}}, c.dropped_pending_full)}};
    prometheus::MetricFamily unreadable{
        "shimwatch_kernel_args_unreadable_total",
        "Events sent without argv because its memory was not resident.",
        prometheus::MetricType::Counter,
        {counter({}, c.args_unreadable)}};
    return {emitted, dropped, unreadable};
  }

private:
  static prometheus::ClientMetric counter(std::vector<prometheus::ClientMetric::Label> labels,
                                          uint64_t value) {
    prometheus::ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = static_cast<double>(value);
    return m;
  }

  Metrics::KernelCountersFn read_;
};

prometheus::ClientMetric sample(double value) {
  prometheus::ClientMetric m;
  m.counter.value = value;
  m.gauge.value = value;
  return m;
}

class KubernetesCollectable final : public prometheus::Collectable {
public:
  KubernetesCollectable(std::function<KubeClientStats()> stats, std::function<size_t()> pods)
      : stats_(std::move(stats)), pods_(std::move(pods)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    KubeClientStats s = stats_();
    using prometheus::MetricType;
    auto family = [](const char *name, const char *help, MetricType type, double value) {
      return prometheus::MetricFamily{name, help, type, {sample(value)}};
    };
    return {
        family("shimwatch_kubernetes_synced",
               "1 when the pod list is current (listed and watching).", MetricType::Gauge,
               s.synced ? 1 : 0),
        family("shimwatch_kubernetes_pods", "Pods of this node known to the agent.",
               MetricType::Gauge, static_cast<double>(pods_())),
        family("shimwatch_kubernetes_outages_total",
               "Times the API server became unreachable or unusable.", MetricType::Counter,
               static_cast<double>(s.outages)),
        family("shimwatch_kubernetes_errors_total", "Failed requests and bad answers.",
               MetricType::Counter, static_cast<double>(s.errors)),
        family("shimwatch_kubernetes_relists_total",
               "Re-lists after 410 Gone (the watch fell too far behind).", MetricType::Counter,
               static_cast<double>(s.relists_gone)),
    };
  }

private:
  std::function<KubeClientStats()> stats_;
  std::function<size_t()> pods_;
};

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "unknown";
}

} // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<KernelCollectable> kernel;
  std::shared_ptr<KubernetesCollectable> kubernetes;
  std::unique_ptr<prometheus::Exposer> exposer;
  prometheus::Family<prometheus::Counter> *events = nullptr;
  prometheus::Family<prometheus::Counter> *dropped = nullptr;
  prometheus::Family<prometheus::Counter> *output_errors = nullptr;
  prometheus::Family<prometheus::Counter> *enrichment_misses = nullptr;
  prometheus::Counter *decode_errors = nullptr;
  prometheus::Counter *filtered = nullptr;
};

Metrics::~Metrics() = default;

Result<std::unique_ptr<Metrics>> Metrics::start(const std::string &address,
                                                KernelCountersFn kernel_counters) {
  std::unique_ptr<Metrics> metrics(new Metrics());
  metrics->impl_ = std::make_unique<Impl>();
  Impl &m = *metrics->impl_;

  m.events = &prometheus::BuildCounter()
                  .Name("shimwatch_events_total")
                  .Help("Events reported, by action and outcome.")
                  .Register(*m.registry);
  m.dropped = &prometheus::BuildCounter()
                   .Name("shimwatch_events_dropped_total")
                   .Help("Events lost in user space, by stage and reason.")
                   .Register(*m.registry);
  m.decode_errors = &m.dropped->Add({{"stage", "decode"}, {"reason", "malformed"}});
  m.filtered = &prometheus::BuildCounter()
                    .Name("shimwatch_events_filtered_total")
                    .Help("Records the kernel let through that user space did not report "
                          "(exec names longer than 15 bytes that differ after byte 15).")
                    .Register(*m.registry)
                    .Add({});
  m.output_errors = &prometheus::BuildCounter()
                         .Name("shimwatch_output_errors_total")
                         .Help("Failed writes, by output.")
                         .Register(*m.registry);
  m.enrichment_misses = &prometheus::BuildCounter()
                             .Name("shimwatch_enrichment_misses_total")
                             .Help("Events whose origin a metadata source did not know (yet), "
                                   "by source.")
                             .Register(*m.registry);
  m.enrichment_misses->Add({{"source", "kubernetes"}});
  prometheus::BuildGauge()
      .Name("shimwatch_build_info")
      .Help("Version of the agent and the kernel it runs on; always 1.")
      .Register(*m.registry)
      .Add({{"version", std::string(version())}, {"kernel", kernel_release()}})
      .Set(1);

  m.kernel = std::make_shared<KernelCollectable>(std::move(kernel_counters));
  try {
    m.exposer = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception &e) {
    return Error{"cannot serve metrics on " + address + ": " + e.what() +
                 " (is the port in use? choose another with --metrics-address, or off)"};
  }
  m.exposer->RegisterCollectable(m.registry);
  m.exposer->RegisterCollectable(m.kernel);
  return metrics;
}

void Metrics::watch_kubernetes(std::function<KubeClientStats()> stats,
                               std::function<size_t()> pods) {
  impl_->kubernetes = std::make_shared<KubernetesCollectable>(std::move(stats), std::move(pods));
  impl_->exposer->RegisterCollectable(impl_->kubernetes);
}

void Metrics::count_event(const Event &event) {
  impl_->events
      ->Add({{"action", std::string(action_name(event.action))},
             {"outcome", event.success() ? "success" : "failure"}})
      .Increment();
}

void Metrics::count_decode_error() {
  impl_->decode_errors->Increment();
}
void Metrics::count_filtered() {
  impl_->filtered->Increment();
}

void Metrics::count_enrichment_miss(const std::string &source) {
  impl_->enrichment_misses->Add({{"source", source}}).Increment();
}

void Metrics::count_output_error(const std::string &output) {
  impl_->output_errors->Add({{"output", output}}).Increment();
}

} // namespace shimwatch
