#include "shimwatch/cli.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <tuple>
#include <sstream>

namespace shimwatch {

namespace {

Result<std::string> read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error{"--config " + path + ": cannot open the file: " + std::strerror(errno), errno};
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad())
    return Error{"--config " + path + ": read failed"};
  return buf.str();
}

struct FlagValues {
  std::optional<std::string> config_file;
  std::vector<std::string> watch_exec;
  std::vector<std::string> watch_sockets;
  std::vector<std::string> watch_tcp_ports;
  std::vector<std::string> watch_exec_paths;
  std::vector<std::string> watch_config_paths;
  std::optional<std::string> watch_tcp_destinations;
  std::vector<std::string> watch_runtime_sockets; // RUNTIME=PATH
  std::vector<std::string> watch_runtimes;
  std::optional<std::string> format;
  std::optional<std::string> log_file;
  std::optional<std::string> log_max_mib;
  std::optional<std::string> log_keep;
  bool no_stdout = false;
  std::optional<std::string> syslog_url;
  std::optional<std::string> syslog_ca_file;
  std::optional<std::string> syslog_cert_file;
  std::optional<std::string> syslog_key_file;
  std::optional<std::string> syslog_facility;
  std::optional<std::string> syslog_queue_size;
  bool syslog_insecure = false;
  bool no_dedupe = false;
  std::optional<std::string> dedupe_window;
  std::optional<std::string> queue_size;
  std::optional<std::string> metrics_address;
  std::optional<std::string> ring_buffer_kib;
  std::optional<std::string> pin_path;
  std::optional<std::string> hooks;
  bool no_pin = false;
  std::optional<std::string> run_as;
  std::optional<std::string> kubernetes_mode;
  std::optional<std::string> kube_api_server;
  std::optional<std::string> kubernetes_source;
  std::optional<std::string> kubelet_url;
  bool kubelet_insecure = false;
  std::optional<std::string> kubelet_poll_seconds;
  std::optional<std::string> kube_token_file;
  std::optional<std::string> kube_ca_file;
  std::optional<std::string> node_name;
  std::vector<std::string> kube_labels;
};

// Flags that take a value; both "--flag VALUE" and "--flag=VALUE" work.
constexpr const char *value_flags[] = {"--config",
                                       "-c",
                                       "--watch-exec",
                                       "--watch-socket",
                                       "--watch-tcp-port",
                                       "--watch-exec-path",
                                       "--watch-config-path",
                                       "--watch-tcp-destinations",
                                       "--watch-runtime-socket",
                                       "--watch-runtime",
                                       "--format",
                                       "--log-file",
                                       "--log-max-mib",
                                       "--log-keep",
                                       "--syslog",
                                       "--syslog-ca-file",
                                       "--syslog-cert-file",
                                       "--syslog-key-file",
                                       "--syslog-facility",
                                       "--syslog-queue-size",
                                       "--dedupe-window-seconds",
                                       "--output-queue-size",
                                       "--metrics-address",
                                       "--ring-buffer-kib",
                                       "--pin-path",
                                       "--hooks",
                                       "--run-as",
                                       "--kubernetes",
                                       "--kube-api-server",
                                       "--kube-token-file",
                                       "--kube-ca-file",
                                       "--node-name",
                                       "--kube-label",
                                       "--kubernetes-source",
                                       "--kubelet-url",
                                       "--kubelet-poll-seconds"};

bool takes_value(const std::string &flag) {
  for (const char *f : value_flags)
    if (flag == f)
      return true;
  return false;
}

void append_unique(std::vector<std::string> &list, const std::vector<std::string> &more) {
  for (const auto &item : more)
    if (std::find(list.begin(), list.end(), item) == list.end())
      list.push_back(item);
}

// --watch-runtime-socket RUNTIME=PATH adds (or enables) a socket;
// --watch-runtime RUNTIME enables every configured socket of that runtime.
Status apply_runtime_flags(Config &config, const FlagValues &flags) {
  for (const auto &spec : flags.watch_runtime_sockets) {
    auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      return Error{"--watch-runtime-socket '" + spec +
                   "' is not RUNTIME=PATH (e.g. containerd=/run/k3s/containerd/containerd.sock)"};
    RuntimeSocket socket{spec.substr(eq + 1), spec.substr(0, eq), true};
    auto same = std::find_if(config.runtime_sockets.begin(), config.runtime_sockets.end(),
                             [&](const RuntimeSocket &s) { return s.path == socket.path; });
    if (same != config.runtime_sockets.end())
      *same = socket;
    else
      config.runtime_sockets.push_back(socket);
  }
  for (const auto &runtime : flags.watch_runtimes) {
    bool found = false;
    std::vector<std::string> known;
    for (auto &socket : config.runtime_sockets) {
      if (socket.runtime == runtime) {
        socket.enabled = true;
        found = true;
      }
      append_unique(known, {socket.runtime});
    }
    if (!found) {
      std::string list;
      for (const auto &name : known)
        list += (list.empty() ? "" : ", ") + name;
      return Error{"--watch-runtime '" + runtime +
                   "' is not a configured runtime (configured: " + (list.empty() ? "none" : list) +
                   "; add a socket with --watch-runtime-socket RUNTIME=PATH)"};
    }
  }
  return Ok{};
}

} // namespace

Result<CliRequest> parse_cli(const std::vector<std::string> &args) {
  CliRequest request;
  if (args.empty())
    return request; // help

  const std::string &sub = args[0];
  if (sub == "run")
    request.command = Command::run;
  else if (sub == "check")
    request.command = Command::check;
  else if (sub == "cleanup")
    request.command = Command::cleanup;
  else if (sub == "version" || sub == "--version")
    request.command = Command::version;
  else if (sub == "help" || sub == "--help" || sub == "-h")
    request.command = Command::help;
  else
    return Error{"unknown command '" + sub +
                 "' (commands: run, check, cleanup, report, scan, version, help)"};

  FlagValues flags;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> value;
    if (auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (takes_value(flag) && !value) {
      if (i + 1 >= args.size())
        return Error{flag + " needs a value (see shimwatch --help)"};
      value = args[++i];
    } else if (!takes_value(flag) && value) {
      return Error{flag + " takes no value"};
    }

    if (request.command == Command::version || request.command == Command::help) {
      if (flag == "-h" || flag == "--help")
        continue;
      return Error{"'" + flag + "' is not an option of '" + sub + "'"};
    }

    if (flag == "-h" || flag == "--help")
      request.command = Command::help;
    else if (flag == "-c" || flag == "--config")
      flags.config_file = *value;
    else if (flag == "--watch-exec")
      flags.watch_exec.push_back(*value);
    else if (flag == "--watch-socket")
      flags.watch_sockets.push_back(*value);
    else if (flag == "--watch-config-path")
      flags.watch_config_paths.push_back(*value);
    else if (flag == "--watch-exec-path")
      flags.watch_exec_paths.push_back(*value);
    else if (flag == "--watch-tcp-port")
      flags.watch_tcp_ports.push_back(*value);
    else if (flag == "--watch-tcp-destinations")
      flags.watch_tcp_destinations = *value;
    else if (flag == "--watch-runtime-socket")
      flags.watch_runtime_sockets.push_back(*value);
    else if (flag == "--watch-runtime")
      flags.watch_runtimes.push_back(*value);
    else if (flag == "--format")
      flags.format = *value;
    else if (flag == "--log-file")
      flags.log_file = *value;
    else if (flag == "--log-max-mib")
      flags.log_max_mib = *value;
    else if (flag == "--log-keep")
      flags.log_keep = *value;
    else if (flag == "--no-stdout")
      flags.no_stdout = true;
    else if (flag == "--syslog")
      flags.syslog_url = *value;
    else if (flag == "--syslog-ca-file")
      flags.syslog_ca_file = *value;
    else if (flag == "--syslog-cert-file")
      flags.syslog_cert_file = *value;
    else if (flag == "--syslog-key-file")
      flags.syslog_key_file = *value;
    else if (flag == "--syslog-facility")
      flags.syslog_facility = *value;
    else if (flag == "--syslog-queue-size")
      flags.syslog_queue_size = *value;
    else if (flag == "--syslog-insecure-skip-verify")
      flags.syslog_insecure = true;
    else if (flag == "--no-dedupe")
      flags.no_dedupe = true;
    else if (flag == "--dedupe-window-seconds")
      flags.dedupe_window = *value;
    else if (flag == "--output-queue-size")
      flags.queue_size = *value;
    else if (flag == "--metrics-address")
      flags.metrics_address = *value;
    else if (flag == "--ring-buffer-kib")
      flags.ring_buffer_kib = *value;
    else if (flag == "--pin-path")
      flags.pin_path = *value;
    else if (flag == "--no-pin")
      flags.no_pin = true;
    else if (flag == "--hooks")
      flags.hooks = *value;
    else if (flag == "--run-as")
      flags.run_as = *value;
    else if (flag == "--kubernetes")
      flags.kubernetes_mode = *value;
    else if (flag == "--kube-api-server")
      flags.kube_api_server = *value;
    else if (flag == "--kubernetes-source")
      flags.kubernetes_source = *value;
    else if (flag == "--kubelet-url")
      flags.kubelet_url = *value;
    else if (flag == "--kubelet-insecure-skip-tls-verify")
      flags.kubelet_insecure = true;
    else if (flag == "--kubelet-poll-seconds")
      flags.kubelet_poll_seconds = *value;
    else if (flag == "--kube-token-file")
      flags.kube_token_file = *value;
    else if (flag == "--kube-ca-file")
      flags.kube_ca_file = *value;
    else if (flag == "--node-name")
      flags.node_name = *value;
    else if (flag == "--kube-label")
      flags.kube_labels.push_back(*value);
    else if (flag == "--print-config" && request.command == Command::run)
      request.print_config = true;
    else if (flag == "-v" || flag == "--verbose")
      request.verbose = true;
    else
      return Error{"unknown option '" + flag + "' for '" + sub + "' (see shimwatch --help)"};
  }
  if (request.command == Command::help || request.command == Command::version)
    return request;

  Config config = default_config();
  if (flags.config_file) {
    auto text = read_file(*flags.config_file);
    if (!text)
      return text.error();
    auto applied = apply_config_json(*text, config);
    if (!applied)
      return Error{*flags.config_file + ": " + applied.error().message};
    config = *applied;
  }
  append_unique(config.watch_exec, flags.watch_exec);
  append_unique(config.watch_sockets, flags.watch_sockets);
  append_unique(config.watch_exec_paths, flags.watch_exec_paths);
  append_unique(config.watch_config_paths, flags.watch_config_paths);
  for (const auto &text : flags.watch_tcp_ports) {
    uint32_t port = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc{} || end != text.data() + text.size() || port < 1 || port > 65535)
      return Error{"--watch-tcp-port '" + text + "' is not a port number (1 to 65535)"};
    if (std::find(config.watch_tcp_ports.begin(), config.watch_tcp_ports.end(), port) ==
        config.watch_tcp_ports.end())
      config.watch_tcp_ports.push_back(static_cast<uint16_t>(port));
  }
  if (flags.watch_tcp_destinations) {
    if (*flags.watch_tcp_destinations != "local" && *flags.watch_tcp_destinations != "any")
      return Error{"--watch-tcp-destinations '" + *flags.watch_tcp_destinations +
                   "' is not allowed (local: loopback and this node's addresses; any)"};
    config.watch_tcp_any_destination = *flags.watch_tcp_destinations == "any";
  }
  if (auto st = apply_runtime_flags(config, flags); !st)
    return st.error();
  if (flags.format) {
    if (*flags.format == "auto")
      config.format = OutputFormat::automatic;
    else if (*flags.format == "json")
      config.format = OutputFormat::json;
    else if (*flags.format == "text")
      config.format = OutputFormat::text;
    else
      return Error{"--format '" + *flags.format + "' is not a format (allowed: auto, json, text)"};
  }
  if (flags.log_file)
    config.log_file = *flags.log_file;
  for (auto [name, text, target] :
       {std::tuple{"--log-max-mib", &flags.log_max_mib, &config.log_max_mib},
        std::tuple{"--log-keep", &flags.log_keep, &config.log_keep},
        std::tuple{"--syslog-queue-size", &flags.syslog_queue_size, &config.syslog.queue_size},
        std::tuple{"--dedupe-window-seconds", &flags.dedupe_window, &config.dedupe.window_seconds},
        std::tuple{"--output-queue-size", &flags.queue_size, &config.output_queue_size}}) {
    if (!*text)
      continue;
    uint32_t number = 0;
    const std::string &t = **text;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), number);
    if (ec != std::errc{} || end != t.data() + t.size() || number > 1'000'000)
      return Error{std::string(name) + " '" + t + "' is not a whole number from 0 to 1000000"};
    *target = number;
  }
  if (flags.no_stdout)
    config.stdout_enabled = false;
  if (flags.syslog_url)
    config.syslog.url = *flags.syslog_url == "off" ? "" : *flags.syslog_url;
  if (flags.syslog_ca_file)
    config.syslog.ca_file = *flags.syslog_ca_file;
  if (flags.syslog_cert_file)
    config.syslog.cert_file = *flags.syslog_cert_file;
  if (flags.syslog_key_file)
    config.syslog.key_file = *flags.syslog_key_file;
  if (flags.syslog_facility)
    config.syslog.facility = *flags.syslog_facility;
  if (flags.syslog_insecure)
    config.syslog.tls_verify = false;
  if (flags.no_dedupe)
    config.dedupe.enabled = false;
  if (flags.metrics_address)
    config.metrics_address = *flags.metrics_address == "off" ? "" : *flags.metrics_address;
  if (flags.ring_buffer_kib) {
    const std::string &text = *flags.ring_buffer_kib;
    uint32_t kib = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), kib);
    if (ec != std::errc{} || end != text.data() + text.size())
      return Error{"--ring-buffer-kib '" + text +
                   "' is not a number (a power of two from 64 to 1048576)"};
    config.ring_buffer_kib = kib;
  }
  if (flags.no_pin && flags.pin_path)
    return Error{"--no-pin and --pin-path exclude each other (give one)"};
  if (flags.pin_path) {
    if (flags.pin_path->empty())
      return Error{"--pin-path needs a directory (use --no-pin to pin nothing)"};
    config.pin_path = *flags.pin_path;
  }
  if (flags.no_pin)
    config.pin_path.clear();
  if (flags.hooks) {
    if (!valid_hooks(*flags.hooks))
      return Error{"--hooks '" + *flags.hooks + "' is not allowed (" + hooks_help + ")"};
    config.hooks = *flags.hooks;
  }
  if (flags.run_as)
    config.run_as = *flags.run_as; // checked with the rest of the config
  if (flags.kubernetes_mode) {
    auto mode = parse_kubernetes_mode(*flags.kubernetes_mode);
    if (!mode)
      return Error{"--kubernetes " + mode.error().message};
    config.kubernetes.mode = *mode;
  }
  if (flags.kube_api_server)
    config.kubernetes.api_server = *flags.kube_api_server;
  if (flags.kubernetes_source) {
    auto source = parse_kubernetes_source(*flags.kubernetes_source);
    if (!source)
      return Error{"--kubernetes-source " + source.error().message};
    config.kubernetes.source = *source;
  }
  if (flags.kubelet_url) {
    config.kubernetes.kubelet_url = *flags.kubelet_url;
    config.kubernetes.kubelet_url_given = true;
  }
  if (flags.kubelet_insecure)
    config.kubernetes.kubelet_tls_verify = false;
  if (flags.kubelet_poll_seconds) {
    const std::string &text = *flags.kubelet_poll_seconds;
    uint32_t seconds = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc{} || end != text.data() + text.size())
      return Error{"--kubelet-poll-seconds '" + text +
                   "' is not a number (whole seconds from 1 to 3600)"};
    config.kubernetes.kubelet_poll_seconds = seconds;
  }
  if (flags.kube_token_file)
    config.kubernetes.token_file = *flags.kube_token_file;
  if (flags.kube_ca_file)
    config.kubernetes.ca_file = *flags.kube_ca_file;
  if (flags.node_name)
    config.kubernetes.node_name = *flags.node_name;
  append_unique(config.kubernetes.labels, flags.kube_labels);
  if (!config.stdout_enabled && config.log_file.empty() && config.syslog.url.empty() &&
      request.command == Command::run && !request.print_config)
    return Error{"--no-stdout without --log-file or --syslog leaves no output; give --log-file "
                 "PATH or --syslog URL"};

  if (auto valid = validate_config(config); !valid)
    return valid.error();
  request.config = std::move(config);
  return request;
}

std::string usage_text() {
  return R"(shimwatch - find what depends on Docker Engine on this node

USAGE
  shimwatch run [OPTIONS]      watch exec and socket activity, print events
  shimwatch check [OPTIONS]    preflight: can this node run the agent?
  shimwatch cleanup [OPTIONS]  detach the pinned probes and remove their
                               maps (--pin-path, default:
                               /sys/fs/bpf/shimwatch); for uninstalling
  shimwatch report [OPTIONS] LOG...
                               audit logs of many nodes -> what must change
                               before Docker is removed (`report --help`)
  shimwatch scan [OPTIONS]     Docker dependencies in workload specs, from
                               the cluster or manifests (`scan --help`)
  shimwatch version            print the version
  shimwatch help               this text

OPTIONS (run, check; cleanup takes -c and --pin-path)
  -c, --config FILE            JSON config; its keys replace the defaults
                               (see `shimwatch run --print-config`)
      --watch-exec NAME        also report exec of this basename (repeatable;
                               defaults: docker, docker-compose)
      --watch-exec-path PATH   also report exec of this binary under any name
                               (a symlink or hard link: matched by inode;
                               repeatable; the --watch-exec names in the bin
                               directories are always included)
      --watch-config-path PATH also report opens of this file, or of anything
                               in this directory (4 levels deep); repeatable;
                               defaults: /etc/docker, docker.service.d and
                               docker.socket.d drop-ins, /etc/default/docker,
                               /etc/sysconfig/docker
      --watch-tcp-port N       also report TCP connect() to port N (repeatable;
                               defaults: 2375, 2376, the Docker Engine API)
      --watch-tcp-destinations local|any
                               which TCP destinations count: loopback and this
                               node's addresses, or any (default: local)
      --watch-socket PATH      also report connect() to this unix socket
                               (repeatable; @NAME for an abstract socket;
                               defaults: /var/run/docker.sock, /run/docker.sock)
      --watch-runtime RUNTIME  also report connect() to the configured sockets
                               of this runtime, e.g. containerd (off by
                               default: the kubelet talks to it constantly);
                               on by default: cri-o, podman, dockershim,
                               cri-dockerd
      --watch-runtime-socket RUNTIME=PATH
                               also report connect() to PATH as this
                               runtime's socket (repeatable), e.g.
                               containerd=/run/k3s/containerd/containerd.sock
      --format auto|json|text  stdout format; auto = JSON lines unless stdout
                               is a terminal (default: auto)
      --log-file PATH          also append JSON lines to PATH (reopened on
                               SIGHUP, for logrotate)
      --log-max-mib N          rotate the log file at N MiB, 0: never
                               (default: 100)
      --log-keep N             rotated files kept, PATH.1..PATH.N (default: 5)
      --no-stdout              no events on stdout (needs --log-file or --syslog)
      --syslog URL             also forward events to a syslog collector:
                               udp://HOST[:514], tcp://HOST[:514] or
                               tls://HOST[:6514] (RFC 5424, the JSON event as
                               MSG; octet-counted framing on TCP/TLS), or off
      --syslog-ca-file PATH    TLS: CA bundle for the collector (default: the
                               system's)
      --syslog-cert-file PATH  TLS: client certificate, for collectors that
                               ask for one
      --syslog-key-file PATH   TLS: its key (default: in --syslog-cert-file)
      --syslog-insecure-skip-verify
                               TLS: accept any certificate and name
      --syslog-facility NAME   facility (default: local0)
      --syslog-queue-size N    messages held while the collector is slow or
                               away; beyond it they are dropped, counted and
                               reported in a gap record (default: 10000)
      --no-dedupe              write every event; default: repeats of the
                               same call from the same origin within the
                               window are folded into one summary record
      --dedupe-window-seconds N
                               the folding window (1..86400, default: 60)
      --output-queue-size N    records held for outputs that fall behind
                               (64..1000000, default: 16384)
      --metrics-address ADDR   Prometheus endpoint HOST:PORT, or off
                               (default: 127.0.0.1:9464)
      --ring-buffer-kib N      kernel ring buffer size, power of two
                               (64..1048576, default: 8192)
      --pin-path DIR           keep the probes attached when the agent stops:
                               their maps and links are pinned under DIR (a
                               bpffs; /sys/fs/bpf is mounted if need be), and
                               the next start takes over what queued
                               meanwhile, without a gap; for a DaemonSet,
                               e.g. /sys/fs/bpf/shimwatch (default: off, the
                               probes detach when the agent stops)
      --no-pin                 pin nothing, whatever the config file says
      --hooks auto|tracepoints|raw-tracepoints
                               kernel hooks: auto = exec on the BTF raw
                               tracepoint where the kernel allows it and the
                               syscall tracepoints, or raw tracepoints where
                               pinned links need them (before Linux 5.15);
                               tracepoints = the classic ones only;
                               raw-tracepoints = raw ones only (default: auto)
      --run-as USER[:GROUP]    the user the agent becomes once its probes are
                               attached, keeping only the capabilities it
                               reads the node with: a name or a number, or
                               root to stay uid 0 (default: 65534:65534)
      --node-name NAME         this node's name (default: $NODE_NAME, else
                               the host name; kubelet source: $NODE_NAME,
                               else every pod the kubelet lists)
      --kubernetes auto|on|off pod metadata from Kubernetes; auto = on
                               inside a pod (KUBERNETES_SERVICE_HOST set) or
                               when --kube-api-server is given (default: auto)
      --kube-api-server URL    API server, e.g. https://10.96.0.1:443
      --kube-token-file PATH   bearer token (default: the service account's)
      --kube-ca-file PATH      CA bundle (default: the service account's)
      --kube-label KEY         also copy this pod label into events (repeatable)
      --kubernetes-source api-server|kubelet
                               where pod metadata comes from (default:
                               api-server); kubelet polls the kubelet's /pods,
                               and auto = on inside a pod or when
                               --kubelet-url is given
      --kubelet-url URL        the kubelet (default: https://127.0.0.1:10250;
                               in a pod: https://$(NODE_IP):10250 with NODE_IP
                               from status.hostIP)
      --kubelet-insecure-skip-tls-verify
                               do not check the kubelet's certificate (often
                               self-signed); the token is sent regardless
      --kubelet-poll-seconds N seconds between polls of the kubelet (1..3600,
                               default: 10)
      --print-config           print the effective config as JSON and exit
  -v, --verbose                debug logging (libbpf included) on stderr
  -h, --help                   this text

Also reported: systemctl, service and /etc/init.d/docker starting, stopping,
restarting, enabling ... Docker (config: watch.service_control). Left out and
counted: the agent itself, dockerd, containerd, containerd-shim*, kubelet
(config: exclude).

Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN to mount tracefs and bpffs) and
Linux 5.8 or later with BTF (/sys/kernel/btf/vmlinux). Exit codes: 0 ok, 1 check found problems,
2 bad usage or cannot start.

EXAMPLES
  shimwatch run                                  # JSON lines on stdout
  shimwatch run --format text                    # aligned columns
  shimwatch run --log-file /var/log/shimwatch/audit.json --no-stdout
  shimwatch run --syslog tls://siem.example.com:6514 --syslog-ca-file /etc/ssl/siem-ca.pem
  shimwatch run --watch-socket /host/run/docker.sock --watch-exec nerdctl
  shimwatch run --watch-runtime containerd       # also who talks to containerd
  shimwatch run --config /etc/shimwatch/config.json
  shimwatch check
)";
}

} // namespace shimwatch
