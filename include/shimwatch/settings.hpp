// The settings model: every setting the agent has, as plain data. Any stage
// may read it; only the config stage fills it (defaults, file, flags) and
// checks it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shimwatch/result.hpp"

namespace shimwatch {

enum class OutputFormat { automatic, json, text };

std::string_view format_name(OutputFormat format);

// A known node agent (monitoring, logging, security) and how to recognise it.
// Patterns are shell globs (fnmatch); any one match of any field is enough.
struct AgentRule {
  std::string name;
  std::vector<std::string> images;      // container image of the pod's container
  std::vector<std::string> containers;  // Kubernetes container name
  std::vector<std::string> workloads;   // owning workload name
  std::vector<std::string> executables; // the process' or an ancestor's executable
  std::vector<std::string> units;       // systemd unit
};

// Another container runtime's API socket: connects to it are reported as
// runtime-socket-connect, with the runtime named.
struct RuntimeSocket {
  std::string path;    // absolute path, or @name for an abstract socket
  std::string runtime; // "containerd", "cri-o", "podman", "dockershim", "cri-dockerd"
  bool enabled = true; // watched (loaded into the kernel filter) or only known
};

// systemctl/service/init scripts acting on Docker's units.
struct ServiceControlConfig {
  bool enabled = true;
  std::vector<std::string> managers;     // executable basenames: systemctl, service
  std::vector<std::string> units;        // docker, docker.service, docker.socket
  std::vector<std::string> verbs;        // start, stop, restart ...; others are not reported
  std::vector<std::string> init_scripts; // absolute paths: /etc/init.d/docker
};

// What is not a dependency on Docker: the runtimes' and kubelet's own
// activity, and the agent's. Patterns are shell globs (fnmatch).
struct ExcludeConfig {
  bool self = true;                     // the agent's own process (all its threads)
  std::vector<std::string> executables; // the process' executable: full path or basename
  std::vector<std::string> units;       // the process' systemd unit
  std::vector<std::string> comms;       // the process' comm
};

enum class KubernetesMode { automatic, on, off };

std::string_view kubernetes_mode_name(KubernetesMode mode);
Result<KubernetesMode> parse_kubernetes_mode(const std::string &text);

// Where pod metadata comes from.
enum class KubernetesSource { api_server, kubelet };

std::string_view kubernetes_source_name(KubernetesSource source); // "api-server", "kubelet"
Result<KubernetesSource> parse_kubernetes_source(const std::string &text);

constexpr std::string_view kDefaultKubeletUrl = "https://127.0.0.1:10250";

struct KubernetesConfig {
  // automatic, api_server source: on when api_server is set or
  // KUBERNETES_SERVICE_HOST is (in a pod). kubelet source: on in a pod or
  // when kubelet_url was given.
  KubernetesMode mode = KubernetesMode::automatic;
  KubernetesSource source = KubernetesSource::api_server;
  std::string api_server; // https://HOST:PORT; empty: from KUBERNETES_SERVICE_HOST/PORT
  std::string kubelet_url{kDefaultKubeletUrl};
  // Set by --kubelet-url and by a kubelet_url key in a config file (not by
  // the embedded defaults); not part of the JSON document.
  bool kubelet_url_given = false;
  bool kubelet_tls_verify = true;
  uint32_t kubelet_poll_seconds = 10;
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string node_name; // empty: $NODE_NAME, else (api_server source) the host name
  // Pod labels copied into events; all others are left out.
  std::vector<std::string> labels;
};

// Forwarding to a syslog collector (RFC 5424 over UDP, TCP or TLS).
struct SyslogConfig {
  std::string url; // udp://HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT; empty: off
  std::string ca_file, cert_file, key_file; // TLS only; empty ca_file: the system's CAs
  bool tls_verify = true;
  std::string facility = "local0";
  uint32_t queue_size = 10000; // messages held while the collector is slow or away
};

// Folding repeats of the same call into summary records.
struct DedupeConfig {
  bool enabled = true;
  uint32_t window_seconds = 60;
};

// kernel.hooks / --hooks: what each value means, in one line.
inline constexpr const char *hooks_help =
    "auto: connect, open and rename on kernel functions (fentry/fexit) where the kernel allows "
    "it, else on their syscall tracepoints (raw ones where pinned links need them), exec on the "
    "BTF raw tracepoint where allowed; functions: kernel functions or no start; tracepoints: the "
    "classic ones only; raw-tracepoints: raw ones only";

struct Config {
  // Basenames of executables whose exec is reported.
  std::vector<std::string> watch_exec;
  // Unix socket paths whose connect is reported; "@name" is an abstract name.
  std::vector<std::string> watch_sockets;
  // Binaries whose exec is reported under any name (a symlink, a hard link):
  // matched by inode and device. Names in watch_exec are also looked up in
  // the standard bin directories (see watched_exec_paths).
  std::vector<std::string> watch_exec_paths;
  // A renamed copy: the first exec of each binary not matched otherwise is
  // checked in user space for an ELF build-id equal to a watched binary's,
  // or to one of watch_exec_build_ids (hex; e.g. the CLI in an image).
  bool watch_exec_build_id_check = true;
  std::vector<std::string> watch_exec_build_ids;
  // Docker's configuration: files, and directories whose whole tree counts
  // (4 levels deep); opens are reported as docker-config-read/-write.
  std::vector<std::string> watch_config_paths;
  // TCP ports of the Docker Engine API whose connect() is reported.
  std::vector<uint16_t> watch_tcp_ports;
  // Which destinations count: loopback and this node's addresses, or any.
  bool watch_tcp_any_destination = false;
  // Other runtimes' sockets; only the enabled ones are watched.
  std::vector<RuntimeSocket> runtime_sockets;
  ServiceControlConfig service_control;
  ExcludeConfig exclude;

  // automatic: JSON lines unless stdout is a terminal, then aligned columns.
  OutputFormat format = OutputFormat::automatic;
  bool stdout_enabled = true;
  std::string log_file;       // empty: no log file; always JSON lines
  uint32_t log_max_mib = 100; // rotate the log file at this size; 0: never
  uint32_t log_keep = 5;      // rotated log files kept: PATH.1 .. PATH.N
  SyslogConfig syslog;
  DedupeConfig dedupe;
  // Records between the ring buffer reader and the outputs; an output that
  // falls further behind loses the oldest (counted, reported as a gap).
  uint32_t output_queue_size = 16384;

  std::string metrics_address; // host:port; empty: no metrics endpoint
  // Series per metric family; beyond it new workloads fold into "other".
  uint32_t metrics_max_series = 1000;

  uint32_t ring_buffer_kib = 8192;
  // bpffs directory for the pinned maps and links (restart without a gap,
  // as a DaemonSet wants); empty (the default): nothing pinned, the probes
  // detach when the agent stops.
  std::string pin_path;
  // Kernel hooks: "auto" (kernel functions where the kernel allows them,
  // exec on the BTF raw tracepoint, raw tracepoints where pinned links need
  // them), "functions", "tracepoints" (the classic ones only) or
  // "raw-tracepoints".
  std::string hooks = "auto";

  // The user the agent runs as once its probes are attached: "root" (keep
  // uid 0), "UID[:GID]" or "NAME[:GROUP]". Not root, it cannot write the
  // files root owns on the node.
  std::string run_as = "65534:65534";

  // Processes remembered for ancestry (executable paths); least recently used go first.
  uint32_t process_table_size = 16384;

  KubernetesConfig kubernetes;

  bool builtin_agents = true;         // the rules shipped in src/classify/default_agents.json
  std::vector<AgentRule> agent_rules; // checked before the built-in ones
};

// Every unix socket address the kernel filter must hold: watch.sockets, then
// the enabled runtime sockets; each once, in that order.
std::vector<std::string> watched_socket_paths(const Config &config);

// Every executable basename the kernel's comm filter must hold: watch.exec,
// then (service control enabled) the managers and the init scripts'
// basenames; each once, in that order.
std::vector<std::string> watched_exec_names(const Config &config);
// watch.exec_paths, then every watch.exec name in /usr/local/sbin,
// /usr/local/bin, /usr/sbin, /usr/bin, /sbin and /bin; each once.
std::vector<std::string> watched_exec_paths(const Config &config);

} // namespace shimwatch
