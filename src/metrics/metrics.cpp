#include "shimwatch/metrics.hpp"

#include <CivetServer.h>
#include <civetweb.h>
#include <cstring>
#include <mutex>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <dirent.h>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <sstream>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <vector>

#include "shimwatch/attribute.hpp"
#include "shimwatch/text.hpp"
#include "shimwatch/version.hpp"

namespace shimwatch {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

const char *const events_family = "shimwatch_events_total";
const char *const dropped_family = "shimwatch_events_dropped_total";
const char *const output_errors_family = "shimwatch_output_errors_total";
const char *const enrichment_misses_family = "shimwatch_enrichment_misses_total";
const char *const excluded_family = "shimwatch_events_excluded_total";

// The value written in place of what a fold hides.
const char *const folded_value = "other";

ClientMetric sample(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  m.gauge.value = value;
  return m;
}

// A counter family whose label values come from the node (workload and unit
// names, output names): every new combination is a new series for Prometheus
// to keep forever, so their number is capped. Past the cap a new label set is
// rewritten by fold() into one that hides what varies, and counted there.
//
// count_event runs on the agent's reader thread, count_output_error and
// count_drop may run on others: the bookkeeping is under a mutex. Scrapes
// read the family through prometheus-cpp's own lock and never touch it.
class CappedCounters {
public:
  using Fold = std::function<void(std::vector<std::string> &values)>;

  CappedCounters(prometheus::Family<prometheus::Counter> &family, std::vector<std::string> names,
                 size_t max_series, Fold fold, prometheus::Counter &folds)
      : family_(family), names_(std::move(names)), max_series_(max_series), fold_(std::move(fold)),
        folds_(folds) {}

  // values in the order of names.
  void increment(std::vector<std::string> values, double by = 1) {
    counter(std::move(values)).Increment(by);
  }

  prometheus::Counter &counter(std::vector<std::string> values) {
    std::lock_guard lock(mutex_);
    auto it = series_.find(values);
    if (it != series_.end())
      return *it->second;
    if (series_.size() >= max_series_) {
      // Every increment that lands on a folded set is counted, not each
      // distinct set: telling sets apart would mean remembering them all,
      // the very memory the cap is there to bound.
      fold_(values);
      folds_.Increment();
      it = series_.find(values);
      if (it != series_.end())
        return *it->second;
    }
    // Folded sets are created past the cap: they keep only labels from
    // small fixed or configured sets, so there are few of them.
    prometheus::Labels labels;
    for (size_t i = 0; i < names_.size(); ++i)
      labels.emplace(names_[i], values[i]);
    prometheus::Counter &c = family_.Add(labels);
    series_.emplace(std::move(values), &c);
    return c;
  }

private:
  prometheus::Family<prometheus::Counter> &family_;
  const std::vector<std::string> names_;
  const size_t max_series_;
  const Fold fold_;
  prometheus::Counter &folds_;
  std::mutex mutex_;
  std::map<std::vector<std::string>, prometheus::Counter *> series_;
};

void fold_all(std::vector<std::string> &values) {
  std::fill(values.begin(), values.end(), folded_value);
}

// Kernel-side counters live in a BPF map; they are read at scrape time. The
// kernel's losses go into shimwatch_events_dropped_total next to the ones
// user space counts, so that one family answers "what was lost where": the
// text format allows a family only once, hence the family lives here rather
// than in the registry.
class KernelCollectable final : public prometheus::Collectable {
public:
  explicit KernelCollectable(Metrics::KernelCountersFn read) : read_(std::move(read)) {}

  prometheus::Family<prometheus::Counter> &dropped() { return dropped_; }

  std::vector<MetricFamily> Collect() const override {
    KernelCounters c = read_();
    auto counter = [](const char *name, const char *help, uint64_t value) {
      return MetricFamily{name, help, MetricType::Counter, {sample(static_cast<double>(value))}};
    };
    auto kernel_drop = [](const char *reason, uint64_t value) {
      return sample(static_cast<double>(value), {{"reason", reason}, {"stage", "kernel"}});
    };

    std::vector<MetricFamily> dropped = dropped_.Collect();
    if (dropped.empty())
      dropped.push_back({dropped_.GetName(), dropped_help, MetricType::Counter, {}});
    for (auto m : {kernel_drop("ring_buffer_full", c.dropped_ring_buffer_full),
                   kernel_drop("pending_table_full", c.dropped_pending_full),
                   kernel_drop("address_unreadable", c.dropped_address_unreadable)})
      dropped[0].metric.push_back(std::move(m));

    return {counter("shimwatch_kernel_events_total",
                    "Events the probes matched and sent to user space.", c.emitted),
            std::move(dropped[0]),
            counter("shimwatch_kernel_args_unreadable_total",
                    "Events sent without argv because its memory was not resident.",
                    c.args_unreadable),
            counter("shimwatch_kernel_connect_addresses_read_late_total",
                    "Unix connects whose address could be read only after the call, and matched "
                    "nothing then: the caller may have changed it meanwhile.",
                    c.addresses_read_late)};
  }

private:
  static constexpr const char *dropped_help =
      "Events lost before every output had them, by stage (kernel, decode, queue, an output) "
      "and reason.";
  Metrics::KernelCountersFn read_;
  prometheus::Family<prometheus::Counter> dropped_{dropped_family, dropped_help, {}};
};

// The process_* metrics other Prometheus clients export by default (same
// names, types and units as client_golang), which prometheus-cpp 1.0 lacks.
// Read from /proc/self at scrape time; a figure that cannot be read is left
// out rather than reported as 0.
class ProcessCollectable final : public prometheus::Collectable {
public:
  ProcessCollectable() : ticks_(sysconf(_SC_CLK_TCK)), page_size_(sysconf(_SC_PAGESIZE)) {
    // Fixed for the life of the process: computed once.
    if (auto stat = read_stat(); stat && ticks_ > 0)
      if (double boot = boot_time(); boot > 0)
        start_time_ = boot + static_cast<double>(stat->start_ticks) / static_cast<double>(ticks_);
  }

  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> out;
    auto gauge = [&](const char *name, const char *help, double value) {
      out.push_back({name, help, MetricType::Gauge, {sample(value)}});
    };
    if (auto stat = read_stat()) {
      if (ticks_ > 0)
        out.push_back({"process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.",
                       MetricType::Counter,
                       {sample(static_cast<double>(stat->utime + stat->stime) /
                               static_cast<double>(ticks_))}});
      gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
            static_cast<double>(stat->vsize));
      if (page_size_ > 0)
        gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
              static_cast<double>(stat->rss_pages) * static_cast<double>(page_size_));
    }
    if (long fds = open_fds(); fds >= 0)
      gauge("process_open_fds", "Number of open file descriptors.", static_cast<double>(fds));
    if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0)
      gauge("process_max_fds", "Maximum number of open file descriptors.",
            static_cast<double>(limit.rlim_cur));
    if (start_time_ > 0)
      gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            start_time_);
    return out;
  }

private:
  struct Stat {
    unsigned long long utime = 0, stime = 0, start_ticks = 0, vsize = 0;
    long long rss_pages = 0;
  };

  // proc(5) /proc/self/stat; comm (field 2) may hold spaces and ')', so the
  // fields are counted from the last ')'.
  static std::optional<Stat> read_stat() {
    std::ifstream in("/proc/self/stat");
    std::string line;
    if (!std::getline(in, line))
      return std::nullopt;
    auto close = line.rfind(')');
    if (close == std::string::npos)
      return std::nullopt;
    std::istringstream fields(line.substr(close + 1));
    std::vector<std::string> f; // f[0] is field 3 (state)
    for (std::string s; fields >> s;)
      f.push_back(s);
    if (f.size() < 22)
      return std::nullopt;
    try {
      Stat st;
      st.utime = std::stoull(f[14 - 3]);
      st.stime = std::stoull(f[15 - 3]);
      st.start_ticks = std::stoull(f[22 - 3]);
      st.vsize = std::stoull(f[23 - 3]);
      st.rss_pages = std::stoll(f[24 - 3]);
      return st;
    } catch (const std::exception &) {
      return std::nullopt;
    }
  }

  // /proc/stat "btime": boot time, Unix seconds.
  static double boot_time() {
    std::ifstream in("/proc/stat");
    for (std::string line; std::getline(in, line);)
      if (line.starts_with("btime "))
        try {
          return std::stod(line.substr(6));
        } catch (const std::exception &) {
          return 0;
        }
    return 0;
  }

  // Entries of /proc/self/fd, less the one opendir() itself holds.
  static long open_fds() {
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
      return -1;
    long n = 0;
    std::string own = std::to_string(dirfd(dir));
    while (dirent *e = readdir(dir))
      if (e->d_name[0] != '.' && e->d_name != own)
        ++n;
    closedir(dir);
    return n;
  }

  long ticks_;
  long page_size_;
  double start_time_ = 0;
};

class KubernetesCollectable final : public prometheus::Collectable {
public:
  KubernetesCollectable(std::function<KubeClientStats()> stats, std::function<size_t()> pods)
      : stats_(std::move(stats)), pods_(std::move(pods)) {}

  std::vector<MetricFamily> Collect() const override {
    KubeClientStats s = stats_();
    auto family = [](const char *name, const char *help, MetricType type, double value) {
      return MetricFamily{name, help, type, {sample(value)}};
    };
    return {
        family("shimwatch_kubernetes_synced",
               "1 while the pod list is current (listed and watching, or the last kubelet poll "
               "worked).",
               MetricType::Gauge, s.synced ? 1 : 0),
        family("shimwatch_kubernetes_pods", "Pods of this node known to the agent.",
               MetricType::Gauge, static_cast<double>(pods_())),
        family("shimwatch_kubernetes_outages_total",
               "Times the metadata source (API server or kubelet) became unreachable or unusable.",
               MetricType::Counter, static_cast<double>(s.outages)),
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

bool all_of(std::string_view s, int (*pred)(int)) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [&](char c) { return pred(static_cast<unsigned char>(c)); });
}

// Names systemd-run generates for transient units: "run-u<bus id>",
// "run-r<128-bit random hex>", "run-p<pid>-i<invocation>", and the old
// "run-<pid>" scopes.
bool generated_run_name(std::string_view name) {
  if (!name.starts_with("run-"))
    return false;
  std::string_view id = name.substr(4);
  if (all_of(id, isdigit))
    return true;
  if (id.empty())
    return false;
  std::string_view rest = id.substr(1);
  switch (id[0]) {
  case 'u':
    return all_of(rest, isdigit);
  case 'r':
    return rest.size() == 32 && all_of(rest, isxdigit);
  case 'p': {
    auto i = rest.find("-i");
    return i != std::string_view::npos && all_of(rest.substr(0, i), isdigit) &&
           all_of(rest.substr(i + 2), isxdigit);
  }
  default:
    return false;
  }
}

} // namespace

// The unit label: the unit, less the parts systemd fills per run. A template
// instance becomes its template ("getty@tty1.service" -> "getty@.service"):
// instances are often per connection or per crash and carry pids and
// addresses ("systemd-coredump@0-4242-0.service", "sshd@3-10.0.0.1:22-...").
// A name systemd-run generated becomes "run-*.<type>".
std::string metrics_unit_label(std::string_view unit) {
  auto dot = unit.rfind('.');
  if (dot == std::string_view::npos)
    return std::string(unit);
  std::string_view name = unit.substr(0, dot);
  std::string_view type = unit.substr(dot);
  if (auto at = name.find('@'); at != std::string_view::npos)
    return std::string(name.substr(0, at + 1)) + std::string(type);
  if (generated_run_name(name))
    return "run-*" + std::string(type);
  return std::string(unit);
}

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<KernelCollectable> kernel;
  std::shared_ptr<ProcessCollectable> process = std::make_shared<ProcessCollectable>();
  std::shared_ptr<KubernetesCollectable> kubernetes;
  std::unique_ptr<CappedCounters> events;
  std::unique_ptr<CappedCounters> dropped;
  std::unique_ptr<CappedCounters> output_errors;
  std::unique_ptr<CappedCounters> enrichment_misses;
  std::unique_ptr<CappedCounters> excluded;
  prometheus::Counter *decode_errors = nullptr;
  prometheus::Counter *filtered = nullptr;
  // Last, so destroyed first: no scrape runs while the rest goes away.
  std::unique_ptr<prometheus::Exposer> exposer;
};

namespace {

// /healthz: civetweb hands every request to begin_request first; this one
// answers it before prometheus-cpp's handlers see it.
std::mutex health_mutex;
std::function<std::string()> health_problem;

int serve_healthz(mg_connection *connection) {
  const mg_request_info *request = mg_get_request_info(connection);
  if (!request || !request->local_uri || std::strcmp(request->local_uri, "/healthz") != 0)
    return 0; // not ours
  std::string problem;
  {
    std::lock_guard lock(health_mutex);
    if (health_problem)
      problem = health_problem();
  }
  const int status = problem.empty() ? 200 : 503;
  const std::string body = problem.empty() ? "ok\n" : problem + "\n";
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
            "%zu\r\nConnection: close\r\n\r\n%s",
            status, status == 200 ? "OK" : "Service Unavailable", body.size(), body.c_str());
  return status;
}

const CivetCallbacks *health_callbacks() {
  static const CivetCallbacks callbacks = [] {
    CivetCallbacks c;
    c.begin_request = serve_healthz;
    return c;
  }();
  return &callbacks;
}

} // namespace

void Metrics::serve_health(std::function<std::string()> problem) {
  std::lock_guard lock(health_mutex);
  health_problem = std::move(problem);
}

Metrics::~Metrics() {
  impl_.reset(); // the HTTP server first: no request runs after this
  std::lock_guard lock(health_mutex);
  health_problem = nullptr;
}

Result<std::unique_ptr<Metrics>>
Metrics::start(const std::string &address, KernelCountersFn kernel_counters, size_t max_series) {
  if (max_series == 0)
    return Error{"the metrics series cap must be at least 1"};
  std::unique_ptr<Metrics> metrics(new Metrics());
  metrics->impl_ = std::make_unique<Impl>();
  Impl &m = *metrics->impl_;
  m.kernel = std::make_shared<KernelCollectable>(std::move(kernel_counters));

  // The registry writes families in the order they were registered: the
  // events first.
  auto &events = prometheus::BuildCounter()
                     .Name(events_family)
                     .Help("Events reported, by action, outcome and origin (workload level: no "
                           "pod, process or container).")
                     .Register(*m.registry);
  auto &folded = prometheus::BuildCounter()
                     .Name("shimwatch_metrics_series_folded_total")
                     .Help("Increments counted under a label set with \"other\" values because "
                           "the family reached its series cap, by family.")
                     .Register(*m.registry);
  auto capped = [&](prometheus::Family<prometheus::Counter> &family, std::vector<std::string> names,
                    CappedCounters::Fold fold) {
    // Created up front: a rate() alert on folds sees 0 before the first one.
    auto &folds = folded.Add({{"family", family.GetName()}});
    return std::make_unique<CappedCounters>(family, std::move(names), max_series, std::move(fold),
                                            folds);
  };

  // Keeps the labels whose values come from small sets (two actions, two
  // outcomes, five origin types, controller kinds, configured agent rules);
  // hides those that grow with what runs on the node.
  m.events = capped(events,
                    {"action", "outcome", "origin_type", "namespace", "workload_kind", "workload",
                     "unit", "agent"},
                    [](std::vector<std::string> &v) { v[3] = v[5] = v[6] = folded_value; });

  m.dropped = capped(m.kernel->dropped(), {"stage", "reason"}, fold_all);
  m.decode_errors = &m.dropped->counter({"decode", "malformed"});

  m.filtered = &prometheus::BuildCounter()
                    .Name("shimwatch_events_filtered_total")
                    .Help("Records the kernel let through that user space did not report "
                          "(exec names longer than 15 bytes that differ after byte 15).")
                    .Register(*m.registry)
                    .Add({});
  m.excluded = capped(prometheus::BuildCounter()
                          .Name(excluded_family)
                          .Help("Watched calls not reported because an exclusion rule matched "
                                "the process (the agent itself, a container runtime, the "
                                "kubelet), by rule.")
                          .Register(*m.registry),
                      {"rule"}, fold_all);
  // Created up front: a rate() alert sees 0 before the first one.
  m.excluded->counter({"self"});
  m.output_errors = capped(prometheus::BuildCounter()
                               .Name(output_errors_family)
                               .Help("Failed writes, by output.")
                               .Register(*m.registry),
                           {"output"}, fold_all);
  m.enrichment_misses = capped(prometheus::BuildCounter()
                                   .Name(enrichment_misses_family)
                                   .Help("Events whose origin a metadata source did not know "
                                         "(yet), by source.")
                                   .Register(*m.registry),
                               {"source"}, fold_all);
  m.enrichment_misses->counter({"kubernetes"});
  prometheus::BuildGauge()
      .Name("shimwatch_build_info")
      .Help("Version of the agent and the kernel it runs on; always 1.")
      .Register(*m.registry)
      .Add({{"version", std::string(version())}, {"kernel", kernel_release()}})
      .Set(1);

  try {
    m.exposer = std::make_unique<prometheus::Exposer>(address, 1, health_callbacks());
  } catch (const std::exception &e) {
    return Error{"cannot serve metrics on " + address + ": " + e.what() +
                 " (is the port in use? choose another with --metrics-address, or off)"};
  }
  m.exposer->RegisterCollectable(m.registry);
  m.exposer->RegisterCollectable(m.kernel);
  m.exposer->RegisterCollectable(m.process);
  return metrics;
}

void Metrics::watch_kubernetes(std::function<KubeClientStats()> stats,
                               std::function<size_t()> pods) {
  impl_->kubernetes = std::make_shared<KubernetesCollectable>(std::move(stats), std::move(pods));
  impl_->exposer->RegisterCollectable(impl_->kubernetes);
}

// Labels of shimwatch_events_total. Bounded by construction: the pod's
// namespace and owning workload, never the pod (a Deployment's pods are
// renamed on every rollout), and nothing per process or container. A pod the
// metadata source does not know (yet) and a plain container have empty
// namespace and workload. Invalid UTF-8 is replaced, since Prometheus rejects
// the whole scrape over one bad label value.
void Metrics::count_event(const Event &event) {
  const Origin &o = event.origin;
  auto known = [&](const std::string &value) {
    return o.kubernetes_known ? utf8::sanitize(value) : std::string();
  };
  impl_->events->increment(
      {std::string(action_name(event.action)), event.success() ? "success" : "failure",
       std::string(origin_type_name(o.type)), known(o.namespace_name), known(o.workload_kind),
       known(o.workload_name), utf8::sanitize(metrics_unit_label(o.cgroup.unit)),
       utf8::sanitize(o.agent)});
}

void Metrics::count_decode_error() {
  impl_->decode_errors->Increment();
}
void Metrics::count_filtered() {
  impl_->filtered->Increment();
}

void Metrics::count_excluded(const std::string &rule) {
  impl_->excluded->increment({utf8::sanitize(rule)});
}

void Metrics::count_drop(const std::string &stage, const std::string &reason, uint64_t n) {
  if (n > 0)
    impl_->dropped->increment({utf8::sanitize(stage), utf8::sanitize(reason)},
                              static_cast<double>(n));
}

void Metrics::count_enrichment_miss(const std::string &source) {
  impl_->enrichment_misses->increment({utf8::sanitize(source)});
}

void Metrics::count_output_error(const std::string &output, uint64_t n) {
  if (n > 0)
    impl_->output_errors->increment({utf8::sanitize(output)}, static_cast<double>(n));
}

} // namespace shimwatch
