// config: the agent's settings, from the embedded defaults, a JSON file and flags.
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

struct Config {
  // Basenames of executables whose exec is reported.
  std::vector<std::string> watch_exec;
  // Unix socket paths whose connect is reported; "@name" is an abstract name.
  std::vector<std::string> watch_sockets;

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

  // Processes remembered for ancestry (executable paths); least recently used go first.
  uint32_t process_table_size = 16384;

  KubernetesConfig kubernetes;

  bool builtin_agents = true;         // the rules shipped in src/classify/default_agents.json
  std::vector<AgentRule> agent_rules; // checked before the built-in ones
};

// The built-in defaults (src/config/default_config.json, embedded at build time).
std::string_view default_config_json();
Config default_config();

// Applies a JSON config document on top of base: every key present replaces
// base's value, unknown keys and wrong types are errors naming the key.
Result<Config> apply_config_json(std::string_view text, Config base);

// Checks every value; the error names the key, the bad value and what is allowed.
Status validate_config(const Config &config);

// The effective config as a JSON document, in the same schema as the file.
std::string config_to_json(const Config &config);

} // namespace shimwatch
