#include "shimwatch/agent.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>
#include <tuple>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "agent/privileges.hpp"
#include "agent/start_janitor.hpp"
#include "agent/syscall_filter.hpp"
#include "shimwatch/attribute.hpp"
#include "shimwatch/check.hpp"
#include "shimwatch/kubernetes.hpp"
#include "shimwatch/classify.hpp"
#include "shimwatch/decode.hpp"
#include "shimwatch/dispatch.hpp"
#include "shimwatch/http.hpp"
#include "shimwatch/metrics.hpp"
#include "shimwatch/pipeline.hpp"
#include "shimwatch/probe.hpp"
#include "shimwatch/config.hpp"
#include "shimwatch/sink.hpp"

namespace shimwatch {

namespace {

// The longest a record below the kernel's wake-up threshold waits in the
// ring buffer (ProbeOptions::wakeup_bytes), and the pace of the loop's
// housekeeping when nothing arrives.
constexpr int kPollMs = 20;
// Events handed to the outputs at once, at most.
constexpr size_t kPushBatch = 256;
// The loop goes round every kPollMs at least: this long without a turn, it
// is stuck, and /healthz says so.
constexpr int64_t kLoopStallSeconds = 15;

std::atomic<bool> stop_requested{false};
std::atomic<bool> reopen_requested{false};

void on_stop_signal(int) {
  stop_requested = true;
}
void on_reopen_signal(int) {
  reopen_requested = true;
}

sigset_t reopen_signal() {
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  return hup;
}

// SIGHUP is held from the start of `run` until the loop can serve it:
// logrotate's postrotate may come while the probes load, where its default
// action would end the agent, and a caught one makes the verifier give up on
// the program it checks (EAGAIN; libbpf tries again only a few times). The
// threads started meanwhile keep it blocked, so that it only ever interrupts
// the main thread, whose loop expects that.
void hold_reopen_signal() {
  sigset_t hup = reopen_signal();
  pthread_sigmask(SIG_BLOCK, &hup, nullptr);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; // no SA_RESTART: let the ring buffer poll return -EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // SIGHUP: reopen the log file (after logrotate moved it); one that came
  // during the start is delivered now.
  sa.sa_handler = on_reopen_signal;
  sigaction(SIGHUP, &sa, nullptr);
  sigset_t hup = reopen_signal();
  pthread_sigmask(SIG_UNBLOCK, &hup, nullptr);
  signal(SIGPIPE, SIG_IGN); // a closed stdout is an output error, not a crash
}

std::string join(const std::vector<std::string> &items) {
  std::string out;
  for (const auto &item : items)
    out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "(none)" : out;
}

std::string env(const char *name) {
  const char *value = std::getenv(name);
  return value ? value : "";
}

// Where pod metadata comes from, or nothing when Kubernetes is off or absent.
std::optional<KubeClientOptions> kubernetes_options(const KubernetesConfig &k,
                                                    const HostInfo &host) {
  if (k.mode == KubernetesMode::off)
    return std::nullopt;
  KubeClientOptions options;
  options.token_file = k.token_file;
  options.ca_file = k.ca_file;
  if (k.source == KubernetesSource::kubelet) {
    // Outside a pod this may be no Kubernetes node at all: auto polls only a
    // kubelet it was pointed at, rather than warn of an outage forever.
    if (k.mode == KubernetesMode::automatic && env("KUBERNETES_SERVICE_HOST").empty() &&
        !k.kubelet_url_given)
      return std::nullopt;
    options.source = KubeSource::kubelet;
    options.kubelet_url = k.kubelet_url;
    options.tls_verify = k.kubelet_tls_verify;
    options.poll_interval = std::chrono::seconds(k.kubelet_poll_seconds);
    // No host name fallback: the kubelet lists only its own pods anyway, and
    // a host name that is not the node name would hide them all.
    options.node_name = !k.node_name.empty() ? k.node_name : env("NODE_NAME");
    return options;
  }
  std::string api_server = k.api_server;
  if (api_server.empty() && !env("KUBERNETES_SERVICE_HOST").empty()) {
    std::string h = env("KUBERNETES_SERVICE_HOST");
    std::string port =
        env("KUBERNETES_SERVICE_PORT").empty() ? "443" : env("KUBERNETES_SERVICE_PORT");
    api_server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  }
  if (api_server.empty()) {
    if (k.mode == KubernetesMode::on)
      throw StartupError("kubernetes.mode is on but no API server is known: set "
                         "--kube-api-server, or run in a pod (KUBERNETES_SERVICE_HOST)");
    return std::nullopt;
  }
  options.api_server = api_server;
  options.node_name = !k.node_name.empty()        ? k.node_name
                      : !env("NODE_NAME").empty() ? env("NODE_NAME")
                                                  : host.name;
  return options;
}

// Losses before the queue (kernel, decode) become gap records for every output.
// What is reported is noted next to the kernel's counters: with pinned maps
// they outlive this agent, and the next one reports only what is new.
class LossWatcher {
public:
  explicit LossWatcher(Probe &probe) : probe_(probe) {
    LossMark mark = probe.loss_mark();
    ring_buffer_full_ = mark.reported.dropped_ring_buffer_full;
    pending_full_ = mark.reported.dropped_pending_full;
    address_unreadable_ = mark.reported.dropped_address_unreadable;
    if (mark.checked_ns > 0)
      since_ns_ = mark.checked_ns;
  }

  std::optional<Gap> check(const KernelCounters &kc, uint64_t decode_errors) {
    int64_t now = unix_now_ns();
    Gap gap;
    gap.stage = "kernel";
    for (auto [reason, total, seen] :
         {std::tuple{"ring_buffer_full", kc.dropped_ring_buffer_full, &ring_buffer_full_},
          std::tuple{"pending_table_full", kc.dropped_pending_full, &pending_full_},
          std::tuple{"address_unreadable", kc.dropped_address_unreadable, &address_unreadable_},
          std::tuple{"malformed", decode_errors, &decode_errors_}}) {
      if (total > *seen)
        gap.reasons.emplace_back(reason, total - *seen);
      *seen = total;
    }
    int64_t since = since_ns_;
    since_ns_ = now;
    LossMark mark;
    mark.checked_ns = now;
    mark.reported.dropped_ring_buffer_full = ring_buffer_full_;
    mark.reported.dropped_pending_full = pending_full_;
    mark.reported.dropped_address_unreadable = address_unreadable_;
    probe_.set_loss_mark(mark);
    if (gap.reasons.empty())
      return std::nullopt;
    gap.first_ns = since;
    gap.last_ns = gap.timestamp_ns = now;
    gap.message = std::to_string(gap.dropped()) +
                  " events were lost before reaching any output (kernel ring buffer or connect "
                  "table full, address unreadable, or malformed)";
    return gap;
  }

private:
  Probe &probe_;
  uint64_t ring_buffer_full_ = 0, pending_full_ = 0, address_unreadable_ = 0, decode_errors_ = 0;
  int64_t since_ns_ = unix_now_ns();
};

SyslogOptions syslog_options(const SyslogConfig &c) {
  SyslogOptions options;
  options.url = c.url;
  options.ca_file = c.ca_file;
  options.cert_file = c.cert_file;
  options.key_file = c.key_file;
  options.tls_verify = c.tls_verify;
  options.facility = *syslog_facility(c.facility); // checked by validate_config
  options.queue_capacity = c.queue_size;
  return options;
}

} // namespace

int run_agent(const CliRequest &request) {
  const Config &config = request.config;
  if (request.print_config) {
    std::printf("%s\n", config_to_json(config).c_str());
    return 0;
  }
  hold_reopen_signal();
  if (auto unsupported = unsupported_kernel())
    throw StartupError(*unsupported);
  auto seccomp = syscall_filter_mode_from_environment();
  if (!seccomp)
    throw StartupError(seccomp.error().message);
  const SyscallFilterMode seccomp_mode = *seccomp;
  if (std::string missing = missing_privileges(); !missing.empty())
    throw StartupError("cannot load BPF programs: " + missing +
                       "; run as root (sudo shimwatch run) or see `shimwatch check`");
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
    throw StartupError("the kernel has no BTF (/sys/kernel/btf/vmlinux); shimwatch needs a kernel "
                       "built with CONFIG_DEBUG_INFO_BTF=y");

  auto run_as = resolve_run_as(config.run_as);
  if (!run_as)
    throw StartupError(run_as.error().message);

  HostInfo host = HostInfo::local();
  // The outputs outlive the dispatcher that feeds them (declared below it).
  std::unique_ptr<StreamSink> console;
  std::unique_ptr<LogFile> log_file;
  std::unique_ptr<SyslogOutput> syslog;
  if (config.stdout_enabled) {
    OutputFormat format = config.format;
    if (format == OutputFormat::automatic)
      format = isatty(STDOUT_FILENO) ? OutputFormat::text : OutputFormat::json;
    console = std::make_unique<StreamSink>(stdout, format, host, "stdout");
  }
  // Checked now, opened once the agent is its own user: the file it then
  // creates or appends to is its own.
  if (!config.log_file.empty())
    if (auto st = give_log_directory_to(config.log_file, *run_as, /*check_only=*/true); !st)
      throw StartupError(st.error().message);
  Classifier classifier(config);
  PodCache pods;
  auto kube_options = kubernetes_options(config.kubernetes, host);
  Attributor attributor(config, kube_options ? &pods : nullptr);
  attributor.scan_processes();
  ClockOffset clock = ClockOffset::now();
  LocalAddresses local_addresses;
  // Declared in this order so that they go away in the reverse one: the
  // metrics HTTP thread reads the probe's counters and the client's stats,
  // so it must stop before either is freed, even on an exception.
  // The pipeline writes the probe's maps and the /healthz handler asks it
  // about its build-id workers.
  std::unique_ptr<KubeClient> kube;
  std::unique_ptr<Probe> probe;
  std::unique_ptr<KernelFeedback> feedback;
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<Metrics> metrics;
  std::unique_ptr<Dispatcher> dispatcher; // its threads count into metrics
  // A start that fails once the probes are pinned must not leave them
  // attached: what it pinned afresh goes (what it took over from an agent
  // before stays, for the next start to drain), even after the agent has
  // become a user that may not remove it.
  StartJanitor unpin_if_start_fails;
  // When the loop last went round: /healthz fails when it stops.
  std::atomic<int64_t> loop_heartbeat_ns{unix_now_ns()};

  // Records reach the pipeline only from poll(), which the loop calls once
  // the pipeline is built.
  auto on_record = [&pipeline, &clock](std::span<const std::byte> raw) {
    pipeline->on_record(raw, clock);
  };

  ProbeOptions options = probe_options(config);
  auto started_probe = Probe::start(options, on_record);
  if (!started_probe)
    throw StartupError(started_probe.error().message);
  probe = std::move(*started_probe);
  spdlog::info("kernel hooks: {}", join(probe->attach_points()));
  if (!probe->hooks_note().empty())
    spdlog::info("{}", probe->hooks_note());
  if (const PinReport &pin = probe->pin_report(); !pin.path.empty()) {
    if (!pin.took_over)
      unpin_if_start_fails.watch(pin.path);
    if (!pin.replaced_because.empty())
      spdlog::warn("pinned probe state under {} did not fit this version ({}): replaced; "
                   "records the programs before queued there are not read",
                   pin.path, pin.replaced_because);
    spdlog::info("probes pinned under {} (generation {}{}): they stay attached when the agent "
                 "stops, and the next start drains what queued meanwhile; `shimwatch cleanup` "
                 "removes them",
                 pin.path, pin.generation,
                 pin.took_over ? ", took over from the agent before: " +
                                     std::to_string(pin.previous_links) + " links replaced"
                               : "");
  } else {
    spdlog::info("probes not pinned: they detach when the agent stops (--pin-path DIR keeps "
                 "them attached across restarts, as the DaemonSet does)");
    // Another agent's pinned probes keep recording into their own ring
    // buffer, which this one does not read.
    if (PinnedStateSummary other = pinned_state(default_pin_path); other.present)
      spdlog::warn("probes pinned under {} by {} stay attached: their events are not read by "
                   "this agent (`shimwatch cleanup` detaches them)",
                   default_pin_path,
                   other.in_use ? "an agent that runs now" : "an agent that stopped");
  }
  feedback = std::make_unique<KernelFeedback>(config, *probe);
  if (auto st = feedback->load(); !st)
    throw StartupError(st.error().message);

  if (!config.log_file.empty())
    if (auto st = give_log_directory_to(config.log_file, *run_as); !st)
      throw StartupError(st.error().message);
  // The probes are attached: what loading them took goes now, before any
  // thread starts (capabilities are per thread; later ones inherit these).
  if (auto held = current_capabilities()) {
    const std::string &address = config.metrics_address;
    const auto colon = address.rfind(':');
    const bool low_port =
        colon != std::string::npos && std::strtoul(address.c_str() + colon + 1, nullptr, 10) < 1024;
    if (auto st = drop_capabilities_except(capabilities_to_keep(low_port), *run_as); !st)
      throw StartupError("dropping capabilities after attaching failed: " + st.error().message);
    auto now = current_capabilities();
    spdlog::info("capabilities: kept {}; dropped {}; running as uid {} gid {}",
                 capability_names(now ? now->effective : 0),
                 capability_names(held->permitted & ~(now ? now->permitted : 0)), getuid(),
                 getgid());
  }
  if (!config.log_file.empty()) {
    auto file =
        LogFile::open(config.log_file, host,
                      LogFileOptions{config.log_max_mib * 1024ull * 1024ull, config.log_keep});
    if (!file)
      throw StartupError(file.error().message + " (check the directory exists and is writable)");
    log_file = std::move(*file);
  }
  if (!config.syslog.url.empty()) {
    auto sink = open_syslog_sink(syslog_options(config.syslog), host);
    if (!sink)
      throw StartupError("--syslog " + config.syslog.url + ": " + sink.error().message);
    syslog = std::move(*sink);
  }

  if (!config.metrics_address.empty()) {
    Probe *p = probe.get();
    auto started = Metrics::start(
        config.metrics_address, [p] { return p->counters(); }, config.metrics_max_series);
    if (!started)
      throw StartupError(started.error().message);
    metrics = std::move(*started);
  }
  pipeline = std::make_unique<Pipeline>(
      config, Pipeline::Stages{classifier, attributor, *feedback, local_addresses, metrics.get()},
      [&dispatcher](std::vector<Record> &records) { dispatcher->push(records); },
      Pipeline::Options{.batch_size = kPushBatch});
  if (metrics) {
    // Liveness: the events must still come in, not only /metrics answer.
    metrics->serve_health([&loop_heartbeat_ns, checks = pipeline.get()] {
      const int64_t quiet_s = (unix_now_ns() - loop_heartbeat_ns.load()) / 1'000'000'000;
      if (quiet_s >= kLoopStallSeconds)
        return "the event loop has not run for " + std::to_string(quiet_s) + " s";
      if (checks->checks_stalled())
        return std::string("every build-id reader is held by a file that does not answer (" +
                           std::to_string(checks->checks_refused()) + " checks refused)");
      return std::string();
    });
  }

  if (kube_options) {
    kube = std::make_unique<KubeClient>(*kube_options, pods);
    kube->start();
    if (metrics) {
      KubeClient *client = kube.get();
      metrics->watch_kubernetes([client] { return client->stats(); },
                                [&pods] { return pods.size(); });
    }
    const std::string &kube_url = kube_options->source == KubeSource::kubelet
                                      ? kube_options->kubelet_url
                                      : kube_options->api_server;
    if (http::is_plain_http(kube_url) && !kube_options->token_file.empty())
      spdlog::warn("kubernetes: {} is plain HTTP: the service-account token is not sent there "
                   "(requests go without it); use https://",
                   kube_url);
    if (kube_options->source == KubeSource::kubelet)
      spdlog::info(
          "pod metadata from the kubelet {} every {} s{}", kube_options->kubelet_url,
          std::chrono::duration_cast<std::chrono::seconds>(kube_options->poll_interval).count(),
          kube_options->node_name.empty() ? "" : " for node " + kube_options->node_name);
    else
      spdlog::info("pod metadata from {} for node {}", kube_options->api_server,
                   kube_options->node_name);
  }

  dispatcher = std::make_unique<Dispatcher>(config.output_queue_size, metrics.get());
  std::vector<std::string> output_names;
  for (auto [name, sink] : {std::pair<const char *, Sink *>{"stdout", console.get()},
                            std::pair<const char *, Sink *>{"log_file", log_file.get()},
                            std::pair<const char *, Sink *>{"syslog", syslog.get()}})
    if (sink) {
      dispatcher->add(name, *sink);
      output_names.emplace_back(name);
    }
  dispatcher->start();
  LossWatcher losses(*probe);

  install_signal_handlers();
  // Started: from here on the agent reads, writes, talks on its sockets and
  // fills its maps, and nothing else (no exec, ptrace, mount, new program).
  if (auto st = install_syscall_filter(seccomp_mode); !st)
    throw StartupError(st.error().message);
  spdlog::info("system calls: allow-list {}", seccomp_mode == SyscallFilterMode::enforce
                                                  ? "enforced"
                                              : seccomp_mode == SyscallFilterMode::log
                                                  ? "logged, not enforced (SHIMWATCH_SECCOMP=log)"
                                                  : "off (SHIMWATCH_SECCOMP=off)");
  unpin_if_start_fails.ready();
  std::vector<std::string> tcp_ports;
  for (uint16_t port : config.watch_tcp_ports)
    tcp_ports.push_back(std::to_string(port));
  spdlog::info(
      "ready: exec [{}], unix sockets [{}], tcp ports [{}] ({}), outputs [{}], dedupe {}, "
      "metrics {}",
      join(watched_exec_names(config)), join(watched_socket_paths(config)), join(tcp_ports),
      config.watch_tcp_any_destination ? "any destination" : "local", join(output_names),
      config.dedupe.enabled ? std::to_string(config.dedupe.window_seconds) + " s" : "off",
      config.metrics_address.empty() ? "off" : "http://" + config.metrics_address + "/metrics");

  auto last_clock = std::chrono::steady_clock::now();
  while (!stop_requested) {
    int n = probe->poll(kPollMs);
    loop_heartbeat_ns = unix_now_ns();
    pipeline->finish_checks();
    pipeline->flush();
    if (n < 0 && n != -EINTR) {
      spdlog::error("reading the ring buffer failed: {}", std::strerror(-n));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    pipeline->flush_repeats(unix_now_ns());
    if (reopen_requested.exchange(false))
      dispatcher->reopen();
    // Once a second: follow wall-clock steps (NTP, manual changes), report losses.
    if (auto now = std::chrono::steady_clock::now(); now - last_clock > std::chrono::seconds(1)) {
      clock = ClockOffset::now();
      last_clock = now;
      if (auto gap = losses.check(probe->counters(), pipeline->decode_errors()))
        dispatcher->push(std::move(*gap));
      dispatcher->report_losses();
      local_addresses.refresh();
      feedback->refresh();
    }
  }

  // Detach first, so nothing arrives after the drain; then every record the
  // kernel queued goes out, and the totals below are final. Pinned probes
  // stay attached and keep queueing for the next agent: what is queued now
  // goes out, bounded in time, the rest waits in the ring buffer.
  probe->detach();
  const auto drain_until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (probe->poll(0) > 0 &&
         (probe->pin_report().path.empty() || std::chrono::steady_clock::now() < drain_until))
    pipeline->flush();
  // Build-ids still being read: a moment for them (one held by a file that
  // does not answer is left behind).
  for (int i = 0; i < 50 && pipeline->checks_pending() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  pipeline->finish_checks();
  pipeline->flush();
  pipeline->flush_repeats(unix_now_ns(), /*final=*/true);
  KernelCounters kc = probe->counters();
  const uint64_t decode_errors = pipeline->decode_errors();
  if (auto gap = losses.check(kc, decode_errors))
    dispatcher->push(std::move(*gap));
  // Every output writes what is queued. One that is stuck (a stdout nobody
  // reads) must not hold the exit: it is left behind, with its sink.
  auto stuck = dispatcher->stop();
  dispatcher->report_losses();
  if (!stuck.empty()) {
    for (const auto &name : stuck)
      if (name == "stdout")
        (void)console.release();
      else if (name == "log_file")
        (void)log_file.release();
      else if (name == "syslog")
        (void)syslog.release();
    (void)dispatcher.release();
  }
  if (syslog) {
    syslog->stop(std::chrono::seconds(2));
    SyslogStats st = syslog->stats();
    spdlog::info("syslog: {} events sent to {}, {} dropped (queue full {}, send failed {}, at "
                 "stop {}), {} gap records",
                 st.sent, config.syslog.url,
                 st.dropped_queue_full + st.dropped_send_failed + st.dropped_at_stop,
                 st.dropped_queue_full, st.dropped_send_failed, st.dropped_at_stop, st.gaps_sent);
  }
  spdlog::info("stopping: {} events matched in the kernel, {} lost there (ring buffer full {}, "
               "connect table full {}, address unreadable {}), {} malformed",
               kc.emitted,
               kc.dropped_ring_buffer_full + kc.dropped_pending_full +
                   kc.dropped_address_unreadable,
               kc.dropped_ring_buffer_full, kc.dropped_pending_full, kc.dropped_address_unreadable,
               decode_errors);
  if (!probe->pin_report().path.empty())
    spdlog::info("the probes stay attached and queue events for the next start (pinned under "
                 "{}; `shimwatch cleanup` detaches them)",
                 probe->pin_report().path);
  if (kube)
    kube->stop();
  metrics.reset(); // stops the HTTP thread before the probe goes away
  if (!stuck.empty()) {
    // A left-behind output thread may still wake up: leave now, before
    // static destructors run under it. stderr holds the last words.
    spdlog::default_logger()->flush();
    std::fflush(stderr);
    std::_Exit(0);
  }
  return 0;
}

} // namespace shimwatch
