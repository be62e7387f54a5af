#include "shimwatch/sink.hpp"

namespace shimwatch {

namespace {

// The command line or socket comes last and is never cut; origin is cut to fit.
constexpr size_t origin_width = 24;

// Control characters made visible (C1 and bidirectional controls too), so
// that one event is one screen line that says what it holds.
std::string printable(std::string_view text) {
  return utf8::escape_controls(utf8::sanitize(text));
}

// Cuts to width display columns (counting UTF-8 code points), marking the cut.
std::string fit(const std::string &text, size_t width) {
  size_t columns = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80)
      continue;
    if (++columns == width && i + 1 < text.size()) {
      size_t next = i + 1;
      while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80)
        ++next;
      if (next < text.size())
        return text.substr(0, i) + "~";
    }
  }
  return text + std::string(width > columns ? width - columns : 0, ' ');
}

// Short, most precise name of who did it.
std::string origin_label(const Event &event) {
  const Origin &o = event.origin;
  const CgroupOrigin &c = o.cgroup;
  std::string label;
  switch (o.type) {
  case OriginType::pod:
    if (o.kubernetes_known)
      label = o.namespace_name + "/" + (o.workload_name.empty() ? o.pod_name : o.workload_name) +
              (o.container_name.empty() ? "" : ":" + o.container_name);
    else
      label = "pod:" + c.pod_uid;
    break;
  case OriginType::container:
    label = (c.container_runtime.empty() ? "container" : c.container_runtime) + ":" +
            c.container_id.substr(0, 12);
    break;
  case OriginType::systemd_unit:
    label = c.unit;
    break;
  case OriginType::user_session:
    label = "session " + c.session +
            (c.session_uid ? " uid " + std::to_string(*c.session_uid) : std::string());
    break;
  case OriginType::host:
    label = "host";
    break;
  }
  if (!o.agent.empty())
    label = o.agent + " " + label;
  return label;
}

} // namespace

std::string text_header() {
  char buf[256];
  snprintf(buf, sizeof(buf), "%-15s %-7s %-15s %7s %-15s %s TARGET", "TIME(UTC)", "ACTION",
           "OUTCOME", "PID", "PROCESS", fit("ORIGIN", origin_width).c_str());
  return buf;
}

std::string encode_text(const Event &event) {
  const bool connect = is_connect(event.action);
  std::string time = format_timestamp(event.timestamp_ns).substr(11, 15);
  // A connect's target: the path passed, what it reached when that differs
  // (a bind-mounted socket), and the runtime when it is not Docker's.
  std::string target = command_line(event.process.args);
  if (is_config_open(event.action)) {
    target = event.config_path;
  } else if (event.action == Action::docker_api_tcp_connect) {
    target = event.tcp_address.find(':') != std::string::npos
                 ? "tcp://[" + event.tcp_address + "]:" + std::to_string(event.tcp_port)
                 : "tcp://" + event.tcp_address + ":" + std::to_string(event.tcp_port);
  } else if (connect) {
    target = event.socket_path;
    if (!event.socket_peer.empty() && event.socket_peer != event.socket_path)
      target += " -> " + event.socket_peer;
    if (event.action == Action::runtime_socket_connect && !event.runtime.empty())
      target += " (" + event.runtime + ")";
  }
  const char *action = connect                                          ? "connect"
                       : event.action == Action::docker_service_control ? "service"
                       : event.action == Action::docker_config_read     ? "read"
                       : event.action == Action::docker_config_write    ? "write"
                                                                        : "exec";
  std::string outcome = event.success() ? "ok" : errno_name(event.error);
  std::string origin = origin_label(event);
  std::string line;
  char buf[128];
  snprintf(buf, sizeof(buf), "%-15s %-7s %-15s %7u ", time.c_str(), action, outcome.c_str(),
           event.process.pid);
  line += buf;
  line += fit(printable(event.process.name), 15) + " ";
  line += fit(printable(origin), origin_width) + " ";
  line += printable(target);
  if (event.repeat)
    line += " (" + std::to_string(event.repeat->count) + " more times until " +
            format_timestamp(event.repeat->last_seen_ns).substr(11, 8) + ")";
  return line;
}

std::string encode_gap_text(const Gap &gap) {
  std::string time = format_timestamp(gap.timestamp_ns).substr(11, 15);
  char buf[64];
  snprintf(buf, sizeof(buf), "%-15s %-7s ", time.c_str(), "GAP");
  std::string line = buf;
  for (const auto &[reason, n] : gap.reasons)
    if (n > 0)
      line += reason + "=" + std::to_string(n) + " ";
  return line + "(" + std::to_string(gap.dropped()) + " events lost at " + gap.stage + ")";
}

} // namespace shimwatch
