// The /metrics endpoint over real HTTP: exact samples, the series cap, and
// label values that stay at the workload level.
#include <gtest/gtest.h>

#include "test_files.hpp"

#include "http_client.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <sstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "shimwatch/metrics.hpp"

using namespace shimwatch;

namespace {
using swtest::free_port;

// GET /metrics over a plain socket, as a scraper would; the body or "".
std::string scrape(int port) {
  return swtest::http_get(port, "/metrics");
}

// "name{labels}" -> value, for every sample line.
std::map<std::string, double> samples(const std::string &body) {
  std::map<std::string, double> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#')
      continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

std::vector<std::string> series_of(const std::map<std::string, double> &s,
                                   const std::string &family) {
  std::vector<std::string> out;
  for (const auto &[name, value] : s)
    if (name.starts_with(family + "{") || name == family)
      out.push_back(name);
  return out;
}

std::string events_series(const std::string &action, const std::string &outcome,
                          const std::string &origin_type, const std::string &ns,
                          const std::string &kind, const std::string &workload,
                          const std::string &unit, const std::string &agent = "") {
  // prometheus-cpp writes labels sorted by name.
  return "shimwatch_events_total{action=\"" + action + "\",agent=\"" + agent + "\",namespace=\"" +
         ns + "\",origin_type=\"" + origin_type + "\",outcome=\"" + outcome + "\",unit=\"" + unit +
         "\",workload=\"" + workload + "\",workload_kind=\"" + kind + "\"}";
}

// A docker exec from a Deployment's pod, with everything that must never
// become a label value filled in.
Event pod_exec(const std::string &workload = "web") {
  Event e;
  e.action = Action::docker_cli_exec;
  e.process.pid = 48213;
  e.process.ppid = 48190;
  e.process.name = "docker";
  e.process.args = {"docker", "exec", "--env", "TOKEN=s3cr3t-argv", "db"};
  e.cgroup_path = "/kubepods/burstable/pod0b7e6c1d-2a3f-4b5c-8d9e-0f1a2b3c4d5e/"
                  "4f2a9c0b1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a";
  e.origin.type = OriginType::pod;
  e.origin.cgroup.type = OriginType::pod;
  e.origin.cgroup.pod_uid = "0b7e6c1d-2a3f-4b5c-8d9e-0f1a2b3c4d5e";
  e.origin.cgroup.container_id = "4f2a9c0b1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a";
  e.origin.kubernetes_known = true;
  e.origin.namespace_name = "shop";
  e.origin.pod_name = "web-7d4b9c6f5-x2k4p";
  e.origin.container_name = "app";
  e.origin.container_image = "registry.example/web:1.2";
  e.origin.workload_kind = "Deployment";
  e.origin.workload_name = workload;
  e.origin.labels = {{"app", "web-label-value"}};
  return e;
}

Event unit_connect(const std::string &unit, int error = 0) {
  Event e;
  e.action = Action::docker_socket_connect;
  e.process.pid = 777;
  e.socket_path = "/run/docker.sock";
  e.error = error;
  e.origin.type = OriginType::systemd_unit;
  e.origin.cgroup.type = OriginType::systemd_unit;
  e.origin.cgroup.unit = unit;
  return e;
}

class MetricsTest : public ::testing::Test {
protected:
  void start(size_t max_series = Metrics::default_max_series) {
    port_ = free_port();
    auto started = Metrics::start(
        "127.0.0.1:" + std::to_string(port_), [this] { return kernel_; }, max_series);
    ASSERT_TRUE(started) << started.error().message;
    metrics_ = std::move(*started);
  }
  std::map<std::string, double> scraped() { return samples(scrape(port_)); }

  KernelCounters kernel_{.emitted = 42,
                         .dropped_ring_buffer_full = 7,
                         .dropped_pending_full = 2,
                         .args_unreadable = 1,
                         .dropped_address_unreadable = 3};
  int port_ = 0;
  std::unique_ptr<Metrics> metrics_;
};

TEST_F(MetricsTest, EventsAreLabelledByWorkloadNeverByPodProcessOrArgv) {
  start();
  metrics_->count_event(pod_exec());
  metrics_->count_event(pod_exec());
  Event failed = unit_connect("backup.service", 13);
  failed.origin.agent = "datadog";
  metrics_->count_event(failed);

  std::string body = scrape(port_);
  auto s = samples(body);
  EXPECT_EQ(s[events_series("docker-cli-exec", "success", "pod", "shop", "Deployment", "web", "")],
            2);
  EXPECT_EQ(s[events_series("docker-socket-connect", "failure", "systemd_unit", "", "", "",
                            "backup.service", "datadog")],
            1);
  EXPECT_EQ(series_of(s, "shimwatch_events_total").size(), 2u) << body;
  for (const char *never : {"web-7d4b9c6f5-x2k4p", "0b7e6c1d", "4f2a9c0b", "48213", "48190",
                            "s3cr3t", "registry.example", "web-label-value", "docker.sock"})
    EXPECT_EQ(body.find(never), std::string::npos) << never << " in\n" << body;
}

TEST_F(MetricsTest, UnknownPodAndPlainContainerHaveNoNamespaceOrWorkload) {
  start();
  // The metadata source has not delivered the pod: its name, namespace and
  // workload are unknown, and the uid must not stand in for them.
  Event unknown = pod_exec();
  unknown.origin.kubernetes_known = false;
  unknown.origin.namespace_name.clear();
  unknown.origin.pod_name.clear();
  unknown.origin.workload_kind.clear();
  unknown.origin.workload_name.clear();
  metrics_->count_event(unknown);
  Event container;
  container.origin.type = OriginType::container;
  container.origin.cgroup.type = OriginType::container;
  container.origin.cgroup.container_id = std::string(64, 'a');
  container.origin.cgroup.container_runtime = "docker";
  metrics_->count_event(container);
  // A known pod with no controller (a bare pod) keeps its namespace only.
  Event bare = pod_exec("");
  bare.origin.workload_kind.clear();
  metrics_->count_event(bare);
  metrics_->count_event(Event{});

  std::string body = scrape(port_);
  auto s = samples(body);
  EXPECT_EQ(s[events_series("docker-cli-exec", "success", "pod", "", "", "", "")], 1) << body;
  EXPECT_EQ(s[events_series("docker-cli-exec", "success", "container", "", "", "", "")], 1);
  EXPECT_EQ(s[events_series("docker-cli-exec", "success", "pod", "shop", "", "", "")], 1);
  EXPECT_EQ(s[events_series("docker-cli-exec", "success", "host", "", "", "", "")], 1);
  EXPECT_EQ(body.find("0b7e6c1d"), std::string::npos) << body;
  EXPECT_EQ(body.find("aaaaaaaa"), std::string::npos) << body;
}

TEST_F(MetricsTest, UnitInstancesAndGeneratedNamesDoNotMakeSeriesPerRun) {
  start();
  for (const char *unit : {"systemd-coredump@0-4242-0.service", "systemd-coredump@1-4250-0.service",
                           "run-u1234.service", "run-u1299.service"})
    metrics_->count_event(unit_connect(unit));
  auto s = scraped();
  EXPECT_EQ(s[events_series("docker-socket-connect", "success", "systemd_unit", "", "", "",
                            "systemd-coredump@.service")],
            2);
  EXPECT_EQ(s[events_series("docker-socket-connect", "success", "systemd_unit", "", "", "",
                            "run-*.service")],
            2);
}

TEST(MetricsUnitLabel, KeepsTheUnitDropsWhatSystemdFillsPerRun) {
  EXPECT_EQ(metrics_unit_label(""), "");
  EXPECT_EQ(metrics_unit_label("cron.service"), "cron.service");
  EXPECT_EQ(metrics_unit_label("init.scope"), "init.scope");
  EXPECT_EQ(metrics_unit_label("getty@tty1.service"), "getty@.service");
  EXPECT_EQ(metrics_unit_label("user@1000.service"), "user@.service");
  EXPECT_EQ(metrics_unit_label("sshd@3-10.0.0.1:22-10.0.0.2:51234.service"), "sshd@.service");
  EXPECT_EQ(metrics_unit_label("run-u42.service"), "run-*.service");
  EXPECT_EQ(metrics_unit_label("run-r0123456789abcdef0123456789abcdef.scope"), "run-*.scope");
  EXPECT_EQ(metrics_unit_label("run-p4242-i4243.service"), "run-*.service");
  EXPECT_EQ(metrics_unit_label("run-31337.scope"), "run-*.scope");
  // Made-up names that only look alike stay.
  EXPECT_EQ(metrics_unit_label("run-parts.service"), "run-parts.service");
  EXPECT_EQ(metrics_unit_label("run-rabbitmq.service"), "run-rabbitmq.service");
  EXPECT_EQ(metrics_unit_label("docker-cleanup.scope"), "docker-cleanup.scope");
}

TEST_F(MetricsTest, SeriesCapFoldsNewLabelSetsIntoOther) {
  start(/*max_series=*/3);
  for (const char *workload : {"a", "b", "c"})
    metrics_->count_event(pod_exec(workload));
  // Past the cap: two new workloads, the second one twice.
  metrics_->count_event(pod_exec("d"));
  metrics_->count_event(pod_exec("e"));
  metrics_->count_event(pod_exec("e"));
  // A series made before the cap keeps counting on its own.
  metrics_->count_event(pod_exec("a"));
  // Past the cap a unit folds too, and keeps origin_type apart.
  metrics_->count_event(unit_connect("backup.service"));

  std::string body = scrape(port_);
  auto s = samples(body);
  EXPECT_EQ(s[events_series("docker-cli-exec", "success", "pod", "shop", "Deployment", "a", "")],
            2);
  EXPECT_EQ(s[events_series("docker-cli-exec", "success", "pod", "shop", "Deployment", "b", "")],
            1);
  EXPECT_EQ(s[events_series("docker-cli-exec", "success", "pod", "other", "Deployment", "other",
                            "other")],
            3)
      << body;
  EXPECT_EQ(s[events_series("docker-socket-connect", "success", "systemd_unit", "other", "",
                            "other", "other")],
            1)
      << body;
  EXPECT_EQ(series_of(s, "shimwatch_events_total").size(), 5u) << body;
  EXPECT_EQ(s["shimwatch_metrics_series_folded_total{family=\"shimwatch_events_total\"}"], 4);
  EXPECT_EQ(body.find("workload=\"d\""), std::string::npos);
  EXPECT_EQ(body.find("workload=\"e\""), std::string::npos);

  // Other families fold every label, and count in their own series.
  metrics_->count_output_error("stdout");
  metrics_->count_output_error("log_file");
  metrics_->count_output_error("syslog");
  metrics_->count_output_error("syslog-2");
  s = scraped();
  EXPECT_EQ(s["shimwatch_output_errors_total{output=\"syslog\"}"], 1);
  EXPECT_EQ(s["shimwatch_output_errors_total{output=\"other\"}"], 1);
  EXPECT_EQ(s["shimwatch_metrics_series_folded_total{family=\"shimwatch_output_errors_total\"}"],
            1);
  EXPECT_EQ(s["shimwatch_metrics_series_folded_total{family=\"shimwatch_events_total\"}"], 4);
}

TEST_F(MetricsTest, CapHoldsUnderConcurrentCountingAndScraping) {
  start(/*max_series=*/5);
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done)
      scrape(port_);
  });
  std::vector<std::thread> counters;
  for (int t = 0; t < 4; ++t)
    counters.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i)
        metrics_->count_event(pod_exec("w" + std::to_string((i + t) % 10)));
    });
  for (auto &c : counters)
    c.join();
  done = true;
  scraper.join();

  auto s = scraped();
  double total = 0;
  for (const auto &name : series_of(s, "shimwatch_events_total"))
    total += s[name];
  EXPECT_EQ(total, 2000);
  // Which five workloads got their own series is a race; that at most five
  // did, and that "other" holds exactly the folded increments, is not.
  EXPECT_EQ(series_of(s, "shimwatch_events_total").size(), 6u);
  EXPECT_EQ(s[events_series("docker-cli-exec", "success", "pod", "other", "Deployment", "other",
                            "other")],
            s["shimwatch_metrics_series_folded_total{family=\"shimwatch_events_total\"}"]);
}

TEST_F(MetricsTest, DropsFromEveryStageInOneFamily) {
  start();
  metrics_->count_decode_error();
  metrics_->count_drop("queue", "full");
  metrics_->count_drop("queue", "full");
  metrics_->count_drop("syslog", "queue_full");
  metrics_->count_filtered();
  metrics_->count_enrichment_miss("kubernetes");
  metrics_->count_output_error("stdout");

  std::string body = scrape(port_);
  auto s = samples(body);
  const std::string dropped = "shimwatch_events_dropped_total";
  EXPECT_EQ(s[dropped + "{reason=\"malformed\",stage=\"decode\"}"], 1);
  EXPECT_EQ(s[dropped + "{reason=\"full\",stage=\"queue\"}"], 2);
  EXPECT_EQ(s[dropped + "{reason=\"queue_full\",stage=\"syslog\"}"], 1);
  EXPECT_EQ(s[dropped + "{reason=\"ring_buffer_full\",stage=\"kernel\"}"], 7);
  EXPECT_EQ(s[dropped + "{reason=\"pending_table_full\",stage=\"kernel\"}"], 2);
  EXPECT_EQ(s[dropped + "{reason=\"address_unreadable\",stage=\"kernel\"}"], 3);
  EXPECT_EQ(series_of(s, dropped).size(), 6u) << body;
  // One TYPE line per family: the text format rejects a family split in two.
  EXPECT_EQ(body.find("# TYPE " + dropped), body.rfind("# TYPE " + dropped));
  EXPECT_EQ(series_of(s, "shimwatch_kernel_events_dropped_total").size(), 0u);

  EXPECT_EQ(s["shimwatch_kernel_events_total"], 42);
  EXPECT_EQ(s["shimwatch_kernel_args_unreadable_total"], 1);
  EXPECT_EQ(s["shimwatch_events_filtered_total"], 1);
  EXPECT_EQ(s["shimwatch_enrichment_misses_total{source=\"kubernetes\"}"], 1);
  EXPECT_EQ(s["shimwatch_output_errors_total{output=\"stdout\"}"], 1);

  // Read at each scrape.
  kernel_.dropped_ring_buffer_full = 8;
  EXPECT_EQ(scraped()[dropped + "{reason=\"ring_buffer_full\",stage=\"kernel\"}"], 8);
}

TEST_F(MetricsTest, FreshEndpointShowsZeroesWhereAlertsNeedThem) {
  start();
  auto s = scraped();
  EXPECT_EQ(s.at("shimwatch_events_dropped_total{reason=\"malformed\",stage=\"decode\"}"), 0);
  EXPECT_EQ(s.at("shimwatch_enrichment_misses_total{source=\"kubernetes\"}"), 0);
  for (const char *family : {"shimwatch_events_total", "shimwatch_events_dropped_total",
                             "shimwatch_output_errors_total", "shimwatch_enrichment_misses_total"})
    EXPECT_EQ(s.at(std::string("shimwatch_metrics_series_folded_total{family=\"") + family + "\"}"),
              0)
        << family;
  EXPECT_EQ(series_of(s, "shimwatch_build_info").size(), 1u);
}

TEST_F(MetricsTest, ProcessMetricsDescribeThisProcess) {
  start();
  // Some CPU time of its own first (the kernel counts in clock ticks).
  volatile uint64_t spin = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(60);
  while (std::chrono::steady_clock::now() < until)
    spin = spin + 1;
  auto s = scraped();
  EXPECT_GT(s.at("process_cpu_seconds_total"), 0);
  EXPECT_GT(s.at("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(s.at("process_virtual_memory_bytes"), s.at("process_resident_memory_bytes"));
  EXPECT_GE(s.at("process_open_fds"), 3); // stdin, stdout, stderr at least
  EXPECT_GE(s.at("process_max_fds"), s.at("process_open_fds"));
  double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(s.at("process_start_time_seconds"), now + 1);
  EXPECT_GT(s.at("process_start_time_seconds"), now - 24 * 3600);
}

TEST_F(MetricsTest, InvalidUtf8InALabelValueIsReplaced) {
  start();
  Event e = pod_exec(std::string("we\xff") + "b");
  metrics_->count_event(e);
  auto s = scraped();
  EXPECT_EQ(s[events_series("docker-cli-exec", "success", "pod", "shop", "Deployment",
                            "we\xEF\xBF\xBD"
                            "b",
                            "")],
            1);
}

TEST(Metrics, RefusesAZeroCapAndABusyPort) {
  auto zero = Metrics::start(
      "127.0.0.1:" + std::to_string(free_port()), [] { return KernelCounters{}; }, 0);
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.error().message.find("at least 1"), std::string::npos);

  int port = free_port();
  auto first = Metrics::start("127.0.0.1:" + std::to_string(port), [] { return KernelCounters{}; });
  ASSERT_TRUE(first) << first.error().message;
  auto second =
      Metrics::start("127.0.0.1:" + std::to_string(port), [] { return KernelCounters{}; });
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("cannot serve metrics on"), std::string::npos);
}

} // namespace
