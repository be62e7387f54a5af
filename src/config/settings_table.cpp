#include "config/settings_table.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "shimwatch/classify.hpp"

namespace shimwatch::settings {

namespace {

using json = nlohmann::json;

Error key_error(std::string_view key, const std::string &what) {
  return Error{"config key '" + std::string(key) + "': " + what};
}

std::string join(const std::vector<std::string> &items, std::string_view separator) {
  std::string out;
  for (const auto &item : items)
    out += (out.empty() ? "" : std::string(separator)) + item;
  return out;
}

void append_once(std::vector<std::string> &list, const std::string &item) {
  if (std::find(list.begin(), list.end(), item) == list.end())
    list.push_back(item);
}

Result<std::vector<std::string>> string_list(const json &value, std::string_view key) {
  if (!value.is_array())
    return key_error(key, "must be an array of strings, got " + std::string(value.type_name()));
  std::vector<std::string> out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_string())
      return key_error(std::string(key) + "[" + std::to_string(i) + "]",
                       "must be a string, got " + std::string(value[i].type_name()));
    out.push_back(value[i].get<std::string>());
  }
  return out;
}

// watch.runtime_sockets: [{"path": ..., "runtime": ..., "enabled": ...}, ...]
Status read_runtime_sockets(const json &value, Config &config) {
  const std::string key = "watch.runtime_sockets";
  if (!value.is_array())
    return key_error(key, "must be an array of {\"path\", \"runtime\", \"enabled\"} objects, got " +
                              std::string(value.type_name()));
  std::vector<RuntimeSocket> out;
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string at = key + "[" + std::to_string(i) + "]";
    const json &entry = value[i];
    if (!entry.is_object())
      return key_error(at, "must be an object {\"path\", \"runtime\", \"enabled\"}, got " +
                               std::string(entry.type_name()));
    for (const auto &[name, unused] : entry.items())
      if (name != "path" && name != "runtime" && name != "enabled")
        return Error{"config key '" + at + "." + name +
                     "' is unknown (allowed here: path, runtime, enabled)"};
    RuntimeSocket socket;
    for (auto [name, target] :
         {std::pair{"path", &socket.path}, std::pair{"runtime", &socket.runtime}}) {
      if (!entry.contains(name))
        return key_error(at + "." + name, "is missing");
      const json &v = entry.at(name);
      if (!v.is_string())
        return key_error(at + "." + name, "must be a string, got " + std::string(v.type_name()));
      *target = v.get<std::string>();
    }
    if (entry.contains("enabled")) {
      const json &v = entry.at("enabled");
      if (!v.is_boolean())
        return key_error(at + ".enabled",
                         "must be true or false, got " + std::string(v.type_name()));
      socket.enabled = v.get<bool>();
    }
    out.push_back(std::move(socket));
  }
  config.runtime_sockets = std::move(out);
  return Ok{};
}

json write_runtime_sockets(const Config &config) {
  json out = json::array();
  for (const auto &s : config.runtime_sockets)
    out.push_back({{"path", s.path}, {"runtime", s.runtime}, {"enabled", s.enabled}});
  return out;
}

// --watch-runtime-socket RUNTIME=PATH adds (or enables) a socket.
Status add_runtime_sockets(const std::vector<std::string> &specs, Config &config) {
  for (const auto &spec : specs) {
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
  return Ok{};
}

// --watch-runtime RUNTIME enables every configured socket of that runtime.
Status enable_runtimes(const std::vector<std::string> &runtimes, Config &config) {
  for (const auto &runtime : runtimes) {
    bool found = false;
    std::vector<std::string> known;
    for (auto &socket : config.runtime_sockets) {
      if (socket.runtime == runtime) {
        socket.enabled = true;
        found = true;
      }
      append_once(known, socket.runtime);
    }
    if (!found)
      return Error{"--watch-runtime '" + runtime + "' is not a configured runtime (configured: " +
                   (known.empty() ? "none" : join(known, ", ")) +
                   "; add a socket with --watch-runtime-socket RUNTIME=PATH)"};
  }
  return Ok{};
}

Status read_agent_rules(const json &value, Config &config) {
  auto rules = parse_agent_rules(value, "agents.rules");
  if (!rules)
    return Error{"config key " + rules.error().message};
  config.agent_rules = *rules;
  return Ok{};
}

json write_agent_rules(const Config &config) {
  json out = json::array();
  for (const auto &r : config.agent_rules) {
    json rule = {{"name", r.name}};
    for (auto [key, list] :
         {std::pair{"images", &r.images}, std::pair{"containers", &r.containers},
          std::pair{"workloads", &r.workloads}, std::pair{"executables", &r.executables},
          std::pair{"units", &r.units}})
      if (!list->empty())
        rule[key] = *list;
    out.push_back(std::move(rule));
  }
  return out;
}

void lowercase_build_ids(Config &config) {
  for (auto &id : config.watch_exec_build_ids)
    std::transform(id.begin(), id.end(), id.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
}

Status forget_pin_path(const std::vector<std::string> &, Config &config) {
  config.pin_path.clear();
  return Ok{};
}

std::string choice_list(const Setting &setting) {
  std::string out;
  for (auto name : setting.choices)
    out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

// What follows the quoted value in an error about a choice.
std::string not_a_choice(const Setting &setting) {
  if (!setting.noun.empty())
    return " is not a " + std::string(setting.noun) + " (allowed: " + choice_list(setting) + ")";
  return " is not allowed (" +
         (setting.explain.empty() ? "allowed: " + choice_list(setting)
                                  : std::string(setting.explain)) +
         ")";
}

bool is_choice(const Setting &setting, const std::string &value) {
  return std::find(setting.choices.begin(), setting.choices.end(), value) != setting.choices.end();
}

std::optional<uint32_t> whole_number(const std::string &text) {
  uint32_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    return std::nullopt;
  return number;
}

std::vector<Setting> make_table() {
  using K = Kind;
  // clang-format off
  return {
    // watch
    {.path = "watch.exec", .kind = K::text_list, .flag = "--watch-exec", .value_name = "NAME",
     .help = "also report exec of this basename (repeatable)",
     .list = [](Config &c) -> auto & { return c.watch_exec; }},
    {.path = "watch.exec_paths", .kind = K::text_list, .flag = "--watch-exec-path",
     .value_name = "PATH",
     .help = "also report exec of this binary under any name (a symlink or hard link: matched "
             "by inode; repeatable)",
     .default_text = "the `docker-compose` plugin's locations, and every `--watch-exec` name in "
                     "the bin directories",
     .list = [](Config &c) -> auto & { return c.watch_exec_paths; }},
    {.path = "watch.exec_build_id_check", .kind = K::boolean,
     .help = "check the first exec of an unknown binary for a watched binary's ELF build-id",
     .boolean = [](Config &c) -> auto & { return c.watch_exec_build_id_check; }},
    {.path = "watch.exec_build_ids", .kind = K::text_list,
     .help = "more build-ids (hex) that count as the docker CLI",
     .list = [](Config &c) -> auto & { return c.watch_exec_build_ids; },
     .after_set = lowercase_build_ids},
    {.path = "watch.config_paths", .kind = K::text_list, .flag = "--watch-config-path",
     .value_name = "PATH",
     .help = "also report opens of this file, or of anything in this directory (4 levels "
             "deep; repeatable)",
     .default_text = "`/etc/docker`, `docker.service.d` and `docker.socket.d` drop-ins, "
                     "`/etc/default/docker`, `/etc/sysconfig/docker`",
     .list = [](Config &c) -> auto & { return c.watch_config_paths; }},
    {.path = "watch.sockets", .kind = K::text_list, .flag = "--watch-socket", .value_name = "PATH",
     .help = "also report connect() to this unix socket (repeatable; @NAME for an abstract "
             "socket)",
     .list = [](Config &c) -> auto & { return c.watch_sockets; }},
    {.path = "watch.tcp_ports", .kind = K::port_list, .flag = "--watch-tcp-port",
     .value_name = "N",
     .help = "also report TCP connect() to port N (repeatable; the Docker Engine API's)",
     .ports = [](Config &c) -> auto & { return c.watch_tcp_ports; }},
    {.path = "watch.tcp_destinations", .kind = K::choice, .flag = "--watch-tcp-destinations",
     .value_name = "local|any",
     .help = "which TCP destinations count: loopback and this node's addresses, or any",
     .choices = {"local", "any"},
     .explain = "local: loopback and this node's addresses; any",
     .get_choice = [](const Config &c) -> std::string {
       return c.watch_tcp_any_destination ? "any" : "local";
     },
     .set_choice = [](Config &c, const std::string &v) { c.watch_tcp_any_destination = v == "any"; }},
    {.path = "watch.runtime_sockets", .kind = K::custom, .flag = "--watch-runtime-socket",
     .value_name = "RUNTIME=PATH",
     .help = "also report connect() to PATH as this runtime's socket (repeatable), e.g. "
             "containerd=/run/k3s/containerd/containerd.sock",
     .read_json = read_runtime_sockets, .write_json = write_runtime_sockets,
     .apply_flag = add_runtime_sockets},
    {.kind = K::custom, .flag = "--watch-runtime", .value_name = "RUNTIME",
     .help = "also report connect() to the configured sockets of this runtime (repeatable; "
             "off by default for containerd: the kubelet talks to it constantly)",
     .default_text = "`cri-o`, `podman`, `dockershim`, `cri-dockerd` on, `containerd` off",
     .apply_flag = enable_runtimes},
    {.path = "watch.service_control.enabled", .kind = K::boolean,
     .help = "report systemctl, service and init scripts acting on Docker's units",
     .boolean = [](Config &c) -> auto & { return c.service_control.enabled; }},
    {.path = "watch.service_control.managers", .kind = K::text_list,
     .help = "service managers (executable basenames)",
     .list = [](Config &c) -> auto & { return c.service_control.managers; }},
    {.path = "watch.service_control.units", .kind = K::text_list, .help = "Docker's units",
     .list = [](Config &c) -> auto & { return c.service_control.units; }},
    {.path = "watch.service_control.verbs", .kind = K::text_list, .help = "verbs reported",
     .list = [](Config &c) -> auto & { return c.service_control.verbs; }},
    {.path = "watch.service_control.init_scripts", .kind = K::text_list,
     .help = "init scripts (absolute paths)",
     .list = [](Config &c) -> auto & { return c.service_control.init_scripts; }},

    // output
    {.path = "output.format", .kind = K::choice, .flag = "--format", .value_name = "auto|json|text",
     .help = "stdout format; auto is JSON lines unless stdout is a terminal",
     .choices = {"auto", "json", "text"}, .noun = "format",
     .get_choice = [](const Config &c) { return std::string(format_name(c.format)); },
     .set_choice = [](Config &c, const std::string &v) {
       c.format = v == "json" ? OutputFormat::json
                  : v == "text" ? OutputFormat::text : OutputFormat::automatic;
     }},
    {.path = "output.stdout", .kind = K::boolean, .flag = "--no-stdout",
     .help = "no events on stdout (needs --log-file or --syslog)", .switch_value = false,
     .boolean = [](Config &c) -> auto & { return c.stdout_enabled; }},
    {.path = "output.log_file", .kind = K::text, .flag = "--log-file", .value_name = "PATH",
     .help = "also append JSON lines to PATH (created mode 0640; reopened on SIGHUP, for "
             "logrotate)",
     .text = [](Config &c) -> auto & { return c.log_file; }},
    {.path = "output.log_max_mib", .kind = K::count, .flag = "--log-max-mib", .value_name = "N",
     .help = "rotate the log file at N MiB, 0 = never", .min = 0, .max = 1'000'000,
     .flag_max = 1'000'000,
     .count = [](Config &c) -> auto & { return c.log_max_mib; }},
    {.path = "output.log_keep", .kind = K::count, .flag = "--log-keep", .value_name = "N",
     .help = "rotated log files kept, PATH.1 .. PATH.N", .min = 0, .max = 1'000'000,
     .flag_max = 1'000'000,
     .count = [](Config &c) -> auto & { return c.log_keep; }},
    {.path = "output.queue_size", .kind = K::count, .flag = "--output-queue-size",
     .value_name = "N",
     .help = "records held for an output that falls behind; beyond it the oldest are dropped, "
             "counted and reported in a gap record",
     .min = 64, .max = 1'000'000, .flag_max = 1'000'000,
     .count = [](Config &c) -> auto & { return c.output_queue_size; }},
    {.path = "output.syslog.url", .kind = K::text, .flag = "--syslog", .value_name = "URL",
     .help = "also forward events to a syslog collector: udp://HOST[:514], tcp://HOST[:514] or "
             "tls://HOST[:6514] (RFC 5424), or off",
     .default_text = "off", .off_means_empty = true,
     .text = [](Config &c) -> auto & { return c.syslog.url; }},
    {.path = "output.syslog.ca_file", .kind = K::text, .flag = "--syslog-ca-file",
     .value_name = "PATH", .help = "TLS: CA bundle for the collector's certificate",
     .default_text = "the system's CAs",
     .text = [](Config &c) -> auto & { return c.syslog.ca_file; }},
    {.path = "output.syslog.cert_file", .kind = K::text, .flag = "--syslog-cert-file",
     .value_name = "PATH", .help = "TLS: client certificate, for collectors that ask for one",
     .text = [](Config &c) -> auto & { return c.syslog.cert_file; }},
    {.path = "output.syslog.key_file", .kind = K::text, .flag = "--syslog-key-file",
     .value_name = "PATH", .help = "TLS: its private key",
     .default_text = "in `--syslog-cert-file`",
     .text = [](Config &c) -> auto & { return c.syslog.key_file; }},
    {.path = "output.syslog.tls_verify", .kind = K::boolean,
     .flag = "--syslog-insecure-skip-verify",
     .help = "TLS: accept any certificate and host name", .default_text = "verify",
     .switch_value = false,
     .boolean = [](Config &c) -> auto & { return c.syslog.tls_verify; }},
    {.path = "output.syslog.facility", .kind = K::text, .flag = "--syslog-facility",
     .value_name = "NAME", .help = "syslog facility: local0 .. local7, daemon, auth, ...",
     .text = [](Config &c) -> auto & { return c.syslog.facility; }},
    {.path = "output.syslog.queue_size", .kind = K::count, .flag = "--syslog-queue-size",
     .value_name = "N",
     .help = "messages held while the collector is slow or away; beyond it they are dropped, "
             "counted and reported in a gap record",
     .min = 1, .max = 1'000'000, .flag_max = 1'000'000,
     .count = [](Config &c) -> auto & { return c.syslog.queue_size; }},
    {.path = "output.dedupe.enabled", .kind = K::boolean, .flag = "--no-dedupe",
     .help = "write every event in full; by default repeats of the same call from the same "
             "origin within the window are folded into one summary record",
     .default_text = "dedupe on", .switch_value = false,
     .boolean = [](Config &c) -> auto & { return c.dedupe.enabled; }},
    {.path = "output.dedupe.window_seconds", .kind = K::count, .flag = "--dedupe-window-seconds",
     .value_name = "N", .help = "the folding window", .min = 1, .max = 86'400,
     .unit = "seconds", .flag_max = 1'000'000,
     .count = [](Config &c) -> auto & { return c.dedupe.window_seconds; }},

    // metrics
    {.path = "metrics.address", .kind = K::text, .flag = "--metrics-address",
     .value_name = "HOST:PORT", .help = "Prometheus endpoint, or off", .off_means_empty = true,
     .text = [](Config &c) -> auto & { return c.metrics_address; }},
    {.path = "metrics.max_series", .kind = K::count,
     .help = "series per metric family; beyond it new workloads fold into \"other\"", .min = 1,
     .max = 1'000'000, .count = [](Config &c) -> auto & { return c.metrics_max_series; }},

    // kernel
    {.path = "kernel.ring_buffer_kib", .kind = K::count, .flag = "--ring-buffer-kib",
     .value_name = "N", .help = "kernel ring buffer size in KiB", .min = 64, .max = 1u << 20,
     .power_of_two = true, .count = [](Config &c) -> auto & { return c.ring_buffer_kib; }},
    {.path = "kernel.pin_path", .kind = K::text, .flag = "--pin-path", .value_name = "DIR",
     .help = "keep the probes attached when the agent stops: their maps and links are pinned "
             "under DIR (a bpffs; /sys/fs/bpf is mounted if need be), and the next start takes "
             "over without a gap; the DaemonSet sets /sys/fs/bpf/shimwatch",
     .default_text = "off: the probes detach when the agent stops",
     .empty_flag_error = "needs a directory (use --no-pin to pin nothing)",
     .text = [](Config &c) -> auto & { return c.pin_path; }},
    {.kind = K::custom, .flag = "--no-pin", .help = "pin nothing, whatever the config file says",
     .excludes = "--pin-path", .apply_flag = forget_pin_path},
    {.path = "kernel.hooks", .kind = K::choice, .flag = "--hooks",
     .value_name = "auto|functions|tracepoints|raw-tracepoints", .help = std::string_view(hooks_help),
     .choices = {"auto", "functions", "tracepoints", "raw-tracepoints"},
     .explain = std::string_view(hooks_help),
     .get_choice = [](const Config &c) { return c.hooks; },
     .set_choice = [](Config &c, const std::string &v) { c.hooks = v; }},

    // attribution
    {.path = "attribution.process_table_size", .kind = K::count,
     .help = "processes remembered for ancestry", .min = 64, .max = 4'000'000,
     .count = [](Config &c) -> auto & { return c.process_table_size; }},

    // kubernetes
    {.path = "kubernetes.mode", .kind = K::choice, .flag = "--kubernetes",
     .value_name = "auto|on|off",
     .help = "pod metadata from Kubernetes; auto = on inside a pod or when --kube-api-server "
             "is given",
     .choices = {"auto", "on", "off"}, .noun = "mode",
     .get_choice = [](const Config &c) { return std::string(kubernetes_mode_name(c.kubernetes.mode)); },
     .set_choice = [](Config &c, const std::string &v) {
       if (auto mode = parse_kubernetes_mode(v))
         c.kubernetes.mode = *mode;
     }},
    {.path = "kubernetes.source", .kind = K::choice, .flag = "--kubernetes-source",
     .value_name = "api-server|kubelet",
     .help = "where pod metadata comes from; kubelet polls the kubelet's /pods",
     .choices = {"api-server", "kubelet"}, .noun = "source",
     .get_choice = [](const Config &c) {
       return std::string(kubernetes_source_name(c.kubernetes.source));
     },
     .set_choice = [](Config &c, const std::string &v) {
       if (auto source = parse_kubernetes_source(v))
         c.kubernetes.source = *source;
     }},
    {.path = "kubernetes.api_server", .kind = K::text, .flag = "--kube-api-server",
     .value_name = "URL", .help = "API server, e.g. https://10.96.0.1:443",
     .default_text = "from `KUBERNETES_SERVICE_HOST`/`_PORT`",
     .text = [](Config &c) -> auto & { return c.kubernetes.api_server; }},
    {.path = "kubernetes.kubelet_url", .kind = K::text, .flag = "--kubelet-url",
     .value_name = "URL",
     .help = "the kubelet, e.g. https://$(NODE_IP):10250 in a pod spec (NODE_IP from "
             "status.hostIP)",
     .text = [](Config &c) -> auto & { return c.kubernetes.kubelet_url; },
     // Only a URL the user gave turns the kubelet source on in auto mode.
     .after_set = [](Config &c) { c.kubernetes.kubelet_url_given = true; }},
    {.path = "kubernetes.kubelet_tls_verify", .kind = K::boolean,
     .flag = "--kubelet-insecure-skip-tls-verify",
     .help = "do not check the kubelet's certificate (often self-signed); the token is sent "
             "regardless",
     .default_text = "verify", .switch_value = false,
     .boolean = [](Config &c) -> auto & { return c.kubernetes.kubelet_tls_verify; }},
    {.path = "kubernetes.kubelet_poll_seconds", .kind = K::count,
     .flag = "--kubelet-poll-seconds", .value_name = "N",
     .help = "seconds between polls of the kubelet", .min = 1, .max = 3600, .unit = "seconds",
     .count = [](Config &c) -> auto & { return c.kubernetes.kubelet_poll_seconds; }},
    {.path = "kubernetes.token_file", .kind = K::text, .flag = "--kube-token-file",
     .value_name = "PATH", .help = "bearer token", .default_text = "the service account's",
     .text = [](Config &c) -> auto & { return c.kubernetes.token_file; }},
    {.path = "kubernetes.ca_file", .kind = K::text, .flag = "--kube-ca-file",
     .value_name = "PATH", .help = "CA bundle for the API server (or the kubelet)",
     .default_text = "the service account's",
     .text = [](Config &c) -> auto & { return c.kubernetes.ca_file; }},
    {.path = "kubernetes.node_name", .kind = K::text, .flag = "--node-name",
     .value_name = "NAME", .help = "this node's name, for the pod watch",
     .default_text = "`$NODE_NAME`, else the host name (kubelet source: else no filter)",
     .text = [](Config &c) -> auto & { return c.kubernetes.node_name; }},
    {.path = "kubernetes.labels", .kind = K::text_list, .flag = "--kube-label",
     .value_name = "KEY", .help = "also copy this pod label into events (repeatable)",
     .list = [](Config &c) -> auto & { return c.kubernetes.labels; }},

    // agents
    {.path = "agents.builtin", .kind = K::boolean, .help = "use the built-in agent rules",
     .boolean = [](Config &c) -> auto & { return c.builtin_agents; }},
    {.path = "agents.rules", .kind = K::custom,
     .help = "node agents of one's own, checked before the built-in ones",
     .read_json = read_agent_rules, .write_json = write_agent_rules},

    // exclude
    {.path = "exclude.self", .kind = K::boolean, .help = "leave out the agent's own process",
     .boolean = [](Config &c) -> auto & { return c.exclude.self; }},
    {.path = "exclude.executables", .kind = K::text_list,
     .help = "executables left out (full path or basename; shell globs)",
     .list = [](Config &c) -> auto & { return c.exclude.executables; }},
    {.path = "exclude.units", .kind = K::text_list, .help = "systemd units left out (globs)",
     .list = [](Config &c) -> auto & { return c.exclude.units; }},
    {.path = "exclude.comms", .kind = K::text_list, .help = "comms left out (globs)",
     .list = [](Config &c) -> auto & { return c.exclude.comms; }},

    // security
    {.path = "security.run_as", .kind = K::text, .flag = "--run-as", .value_name = "USER[:GROUP]",
     .help = "the user the agent becomes once its probes are attached, keeping only the "
             "capabilities it reads the node with: a name or a number, or root to stay uid 0",
     .default_text = "{} (nobody)",
     .text = [](Config &c) -> auto & { return c.run_as; }},
  };
// clang-format on
}

// The keys allowed in the object at prefix ("" for the top, "output.syslog"),
// in table order.
std::vector<std::string> children_of(std::string_view prefix) {
  std::vector<std::string> out;
  for (const auto &setting : table()) {
    std::string_view path = setting.path;
    if (path.empty())
      continue;
    if (!prefix.empty()) {
      if (path.size() <= prefix.size() || !path.starts_with(prefix) || path[prefix.size()] != '.')
        continue;
      path.remove_prefix(prefix.size() + 1);
    }
    append_once(out, std::string(path.substr(0, path.find('.'))));
  }
  return out;
}

bool is_section(std::string_view path) {
  return std::any_of(table().begin(), table().end(), [&](const Setting &s) {
    return s.path.size() > path.size() && s.path.starts_with(path) && s.path[path.size()] == '.';
  });
}

// Every key of the object at prefix is known, and every section an object.
Status check_structure(const json &object, const std::string &prefix) {
  const auto known = children_of(prefix);
  for (const auto &[key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end())
      return Error{"config key '" + (prefix.empty() ? "" : prefix + ".") + key +
                   "' is unknown (allowed here: " + join(known, ", ") + ")"};
  }
  for (const auto &key : known) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (!object.contains(key) || !is_section(path))
      continue;
    const json &section = object.at(key);
    if (!section.is_object())
      return key_error(path, "must be an object, got " + std::string(section.type_name()));
    if (auto st = check_structure(section, path); !st)
      return st;
  }
  return Ok{};
}

const json *lookup(const json &root, std::string_view path) {
  const json *node = &root;
  while (!path.empty()) {
    const auto dot = path.find('.');
    const std::string key(path.substr(0, dot));
    if (!node->is_object() || !node->contains(key))
      return nullptr;
    node = &node->at(key);
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  }
  return node;
}

Status read_value(const Setting &s, const json &v, Config &config) {
  switch (s.kind) {
  case Kind::boolean:
    if (!v.is_boolean())
      return key_error(s.path, "must be true or false, got " + v.dump());
    s.boolean(config) = v.get<bool>();
    break;
  case Kind::text:
    if (!v.is_string())
      return key_error(s.path, "must be a string, got " + std::string(v.type_name()));
    s.text(config) = v.get<std::string>();
    break;
  case Kind::count:
    if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX)
      return key_error(s.path,
                       "must be a whole number (" + allowed_range(s) + "), got " + v.dump());
    s.count(config) = v.get<uint32_t>();
    break;
  case Kind::choice:
    if (!v.is_string())
      return key_error(s.path, "must be a string, got " + std::string(v.type_name()));
    if (!is_choice(s, v.get<std::string>()))
      return key_error(s.path, (s.noun.empty() ? v.dump() : "'" + v.get<std::string>() + "'") +
                                   not_a_choice(s));
    s.set_choice(config, v.get<std::string>());
    break;
  case Kind::text_list: {
    auto list = string_list(v, s.path);
    if (!list)
      return list.error();
    s.list(config) = std::move(*list);
    break;
  }
  case Kind::port_list: {
    if (!v.is_array())
      return key_error(s.path,
                       "must be an array of port numbers, got " + std::string(v.type_name()));
    std::vector<uint16_t> ports;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_number_unsigned() || v[i].get<uint64_t>() < 1 || v[i].get<uint64_t>() > 65535)
        return key_error(std::string(s.path) + "[" + std::to_string(i) + "]",
                         "must be a port number from 1 to 65535, got " + v[i].dump());
      ports.push_back(v[i].get<uint16_t>());
    }
    s.ports(config) = std::move(ports);
    break;
  }
  case Kind::custom:
    if (auto st = s.read_json(v, config); !st)
      return st;
    break;
  }
  if (s.after_set)
    s.after_set(config);
  return Ok{};
}

json write_value(const Setting &s, Config &config) {
  switch (s.kind) {
  case Kind::boolean:
    return s.boolean(config);
  case Kind::text:
    return s.text(config);
  case Kind::count:
    return s.count(config);
  case Kind::choice:
    return s.get_choice(config);
  case Kind::text_list:
    return s.list(config);
  case Kind::port_list:
    return s.ports(config);
  case Kind::custom:
    return s.write_json(config);
  }
  return nullptr;
}

std::string code(const std::string &value) {
  return "`" + value + "`";
}

} // namespace

const std::vector<Setting> &table() {
  static const std::vector<Setting> rows = make_table();
  return rows;
}

const Setting *find_by_path(std::string_view path) {
  for (const auto &s : table())
    if (!s.path.empty() && s.path == path)
      return &s;
  return nullptr;
}

const Setting *find_by_flag(std::string_view flag) {
  for (const auto &s : table())
    if (!s.flag.empty() && s.flag == flag)
      return &s;
  return nullptr;
}

std::string allowed_range(const Setting &s) {
  std::string out = std::string(s.power_of_two ? "a power of two " : "") + "from " +
                    std::to_string(s.min) + " to " + std::to_string(s.max);
  if (!s.unit.empty())
    out += " " + std::string(s.unit);
  return out;
}

Result<Config> apply_json(const json &root, Config base) {
  if (!root.is_object())
    return Error{"config must be a JSON object, got " + std::string(root.type_name())};
  if (auto st = check_structure(root, ""); !st)
    return st.error();
  for (const auto &setting : table()) {
    if (setting.path.empty())
      continue;
    if (const json *value = lookup(root, setting.path))
      if (auto st = read_value(setting, *value, base); !st)
        return st.error();
  }
  return base;
}

json to_json(const Config &config) {
  Config copy = config; // the accessors hand out references into a Config
  json root = json::object();
  for (const auto &setting : table()) {
    if (setting.path.empty())
      continue;
    root[json::json_pointer("/" + [&] {
      std::string pointer(setting.path);
      std::replace(pointer.begin(), pointer.end(), '.', '/');
      return pointer;
    }())] = write_value(setting, copy);
  }
  return root;
}

Status apply_flag(const Setting &s, const std::vector<std::string> &values, Config &config) {
  if (values.empty())
    return Ok{};
  const std::string flag(s.flag);
  const std::string &last = values.back(); // a value given twice: the last one counts
  switch (s.kind) {
  case Kind::boolean:
    s.boolean(config) = s.switch_value;
    break;
  case Kind::text:
    if (last.empty() && !s.empty_flag_error.empty())
      return Error{flag + " " + std::string(s.empty_flag_error)};
    s.text(config) = s.off_means_empty && last == "off" ? "" : last;
    break;
  case Kind::count: {
    auto number = whole_number(last);
    if (s.flag_max != 0 && (!number || *number > s.flag_max))
      return Error{flag + " '" + last + "' is not a whole number from 0 to " +
                   std::to_string(s.flag_max)};
    if (!number)
      return Error{flag + " '" + last + "' is not a whole number (" + allowed_range(s) + ")"};
    s.count(config) = *number; // the range is checked with the rest of the config
    break;
  }
  case Kind::choice:
    if (!is_choice(s, last))
      return Error{flag + " '" + last + "'" + not_a_choice(s)};
    s.set_choice(config, last);
    break;
  case Kind::text_list:
    for (const auto &value : values)
      append_once(s.list(config), value);
    break;
  case Kind::port_list:
    for (const auto &value : values) {
      auto port = whole_number(value);
      if (!port || *port < 1 || *port > 65535)
        return Error{flag + " '" + value + "' is not a port number (1 to 65535)"};
      auto &ports = s.ports(config);
      if (std::find(ports.begin(), ports.end(), *port) == ports.end())
        ports.push_back(static_cast<uint16_t>(*port));
    }
    break;
  case Kind::custom:
    if (auto st = s.apply_flag(values, config); !st)
      return st;
    break;
  }
  if (s.after_set)
    s.after_set(config);
  return Ok{};
}

Status validate_ranges(const Config &config) {
  Config copy = config;
  for (const auto &s : table()) {
    if (s.kind != Kind::count)
      continue;
    const uint32_t n = s.count(copy);
    if (n < s.min || n > s.max || (s.power_of_two && (n & (n - 1)) != 0))
      return key_error(s.path, std::to_string(n) + " is not " + allowed_range(s));
  }
  return Ok{};
}

std::string default_text(const Setting &s, const Config &defaults) {
  std::string value;
  if (!s.path.empty()) {
    Config copy = defaults;
    const json v = write_value(s, copy);
    if (v.is_string() && !v.get<std::string>().empty())
      value = code(v.get<std::string>());
    else if (v.is_number())
      value = code(v.dump());
    else if (v.is_array() && s.kind != Kind::custom) {
      std::vector<std::string> items;
      for (const auto &item : v)
        items.push_back(code(item.is_string() ? item.get<std::string>() : item.dump()));
      value = join(items, ", ");
    } else if (v.is_string() && s.kind == Kind::text)
      value = "none";
  }
  if (s.default_text.empty())
    return value;
  std::string out(s.default_text);
  if (auto at = out.find("{}"); at != std::string::npos)
    out.replace(at, 2, value);
  return out;
}

} // namespace shimwatch::settings
