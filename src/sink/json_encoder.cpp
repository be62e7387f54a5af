#include <nlohmann/json.hpp>

#include "shimwatch/attribute.hpp"
#include "shimwatch/sink.hpp"

namespace shimwatch {

namespace {

using ordered_json = nlohmann::ordered_json;

ordered_json ancestry_json(const std::vector<Ancestor> &ancestry, bool *replaced) {
  ordered_json out = ordered_json::array();
  for (const auto &a : ancestry) {
    ordered_json entry = {{"pid", a.pid}, {"name", utf8::sanitize(a.name, replaced)}};
    if (!a.executable.empty())
      entry["executable"] = utf8::sanitize(a.executable, replaced);
    out.push_back(std::move(entry));
  }
  return out;
}

// container.*, orchestrator.*, kubernetes.* from the attributed origin.
void add_origin_ecs(ordered_json &record, const Origin &o, bool *replaced) {
  const CgroupOrigin &c = o.cgroup;
  if (!c.container_id.empty()) {
    ordered_json container = {{"id", c.container_id}};
    if (!c.container_runtime.empty())
      container["runtime"] = c.container_runtime;
    if (!o.container_name.empty())
      container["name"] = utf8::sanitize(o.container_name, replaced);
    if (!o.container_image.empty())
      container["image"] = {{"name", utf8::sanitize(o.container_image, replaced)}};
    record["container"] = std::move(container);
  }
  if (o.type != OriginType::pod)
    return;
  ordered_json orchestrator = {{"type", "kubernetes"}};
  if (o.kubernetes_known)
    orchestrator["namespace"] = utf8::sanitize(o.namespace_name, replaced);
  orchestrator["resource"] = {{"type", "pod"}};
  if (o.kubernetes_known)
    orchestrator["resource"]["name"] = utf8::sanitize(o.pod_name, replaced);
  record["orchestrator"] = std::move(orchestrator);

  ordered_json kubernetes = {{"pod", {{"uid", c.pod_uid}}}};
  if (o.kubernetes_known) {
    kubernetes["pod"]["name"] = utf8::sanitize(o.pod_name, replaced);
    kubernetes["namespace"] = utf8::sanitize(o.namespace_name, replaced);
    if (!o.labels.empty()) {
      ordered_json labels = ordered_json::object();
      for (const auto &[k, v] : o.labels)
        labels[utf8::sanitize(k, replaced)] = utf8::sanitize(v, replaced);
      kubernetes["pod"]["labels"] = std::move(labels);
    }
  }
  if (!o.container_name.empty())
    kubernetes["container"] = {{"name", utf8::sanitize(o.container_name, replaced)}};
  record["kubernetes"] = std::move(kubernetes);
}

// shimwatch.origin: the kind of origin and its attributes.
ordered_json origin_json(const Origin &o, bool *replaced) {
  const CgroupOrigin &c = o.cgroup;
  ordered_json out = {{"type", origin_type_name(o.type)}};
  if (o.type == OriginType::pod) {
    out["kubernetes_metadata"] = o.kubernetes_known ? "known" : "unknown";
    if (!c.qos_class.empty())
      out["qos_class"] = c.qos_class;
    if (!o.workload_kind.empty())
      out["workload"] = {{"kind", o.workload_kind},
                         {"name", utf8::sanitize(o.workload_name, replaced)}};
  }
  if (!c.unit.empty())
    out["unit"] = utf8::sanitize(c.unit, replaced);
  if (!c.session.empty())
    out["session"] = utf8::sanitize(c.session, replaced);
  if (c.session_uid)
    out["login_uid"] = *c.session_uid;
  if (!c.slice.empty())
    out["slice"] = utf8::sanitize(c.slice, replaced);
  if (!o.agent.empty())
    out["agent"] = o.agent;
  return out;
}

} // namespace

std::string encode_json(const Event &event, const HostInfo &host) {
  const ProcessInfo &p = event.process;
  const bool connect = is_connect(event.action);
  bool replaced = false;

  ordered_json args = ordered_json::array();
  bool args_replaced = false;
  for (const auto &arg : p.args)
    args.push_back(utf8::sanitize(arg, &args_replaced));

  ordered_json record;
  record["@timestamp"] = format_timestamp(event.timestamp_ns);
  // ECS: a connect is a network connection; an exec starts a process; a
  // service control changes a service's state (categorised by the process
  // that does it, as ECS has no category for init systems).
  const bool service = event.action == Action::docker_service_control;
  const bool config = is_config_open(event.action);
  record["event"] = {
      {"kind", "event"},
      {"category", connect  ? ordered_json{"network"}
                   : config ? ordered_json{"file"}
                            : ordered_json{"process"}},
      {"type", connect   ? ordered_json{"connection"}
               : config  ? (event.action == Action::docker_config_write ? ordered_json{"change"}
                                                                        : ordered_json{"access"})
               : service ? ordered_json{"change"}
                         : ordered_json{"start"}},
      {"action", action_name(event.action)},
      {"outcome", event.interrupted || event.in_progress ? "unknown"
                  : event.success()                      ? "success"
                                                         : "failure"},
  };
  if (event.interrupted)
    record["error"] = {{"code", "EINTR"},
                       {"message", "interrupted by a signal; the call may have been restarted"}};
  else if (event.in_progress)
    record["error"] = {{"code", "EINPROGRESS"},
                       {"message", "the handshake had not ended when the connect was reported"}};
  else if (!event.success())
    record["error"] = {{"code", errno_name(event.error)}, {"message", std::strerror(event.error)}};
  record["host"] = {{"name", utf8::sanitize(host.name, &replaced)}};
  record["process"] = {
      {"pid", p.pid},
      {"thread", {{"id", p.tid}}},
      {"name", utf8::sanitize(p.name, &replaced)},
      {"executable", utf8::sanitize(p.executable, &replaced)},
      {"args", std::move(args)},
      {"args_count", p.args.size()},
      {"command_line", utf8::sanitize(command_line(p.args))},
      {"parent", {{"pid", p.ppid}, {"name", utf8::sanitize(p.parent_name, &replaced)}}},
      {"ancestry", ancestry_json(p.ancestry, &replaced)},
  };
  record["user"] = {{"id", std::to_string(p.uid)}};
  record["group"] = {{"id", std::to_string(p.gid)}};
  if (event.action == Action::docker_api_tcp_connect)
    record["destination"] = {{"ip", event.tcp_address}, {"port", event.tcp_port}};
  if (config)
    record["file"] = {{"path", utf8::sanitize(event.config_path, &replaced)}};
  add_origin_ecs(record, event.origin, &replaced);

  ordered_json sw;
  sw["origin"] = origin_json(event.origin, &replaced);
  sw["cgroup"] = {{"id", event.cgroup_id}, {"path", utf8::sanitize(event.cgroup_path, &replaced)}};
  sw["namespace"] = {{"mnt", event.mnt_ns}, {"pid", event.pid_ns}};
  if (event.action == Action::docker_api_tcp_connect) {
    // destination.* above; nothing unix-specific to add.
  } else if (config) {
    sw["config"] = {{"watched", utf8::sanitize(event.config_watched, &replaced)},
                    {"operation", event.config_renamed                          ? "rename"
                                  : event.config_created                        ? "create"
                                  : event.action == Action::docker_config_write ? "write"
                                                                                : "read"}};
  } else if (connect) {
    ordered_json socket = {{"path", utf8::sanitize(event.socket_path, &replaced)},
                           {"abstract", event.socket_abstract}};
    if (!event.socket_peer.empty())
      socket["peer"] = utf8::sanitize(event.socket_peer, &replaced);
    socket["matched_by"] = event.socket_matched_by_peer ? "peer" : "path";
    if (!event.socket_watched.empty())
      socket["watched"] = utf8::sanitize(event.socket_watched, &replaced);
    sw["socket"] = std::move(socket);
  } else {
    sw["exec"] = {{"path", utf8::sanitize(event.exec_path, &replaced)},
                  {"matched_by", event.exec_matched_by_build_id   ? "build_id"
                                 : event.exec_matched_by_identity ? "identity"
                                                                  : "name"}};
    if (event.exec_matched_by_build_id)
      sw["exec"]["build_id"] = event.exec_build_id;
  }
  if (event.action == Action::runtime_socket_connect)
    sw["runtime"] = utf8::sanitize(event.runtime, &replaced);
  if (service)
    sw["service"] = {{"verb", utf8::sanitize(event.service_verb, &replaced)},
                     {"unit", utf8::sanitize(event.service_unit, &replaced)},
                     {"manager", utf8::sanitize(event.service_manager, &replaced)}};
  ordered_json proc = ordered_json::object();
  if (p.args_truncated)
    proc["args_truncated"] = true;
  if (p.args_unreadable)
    proc["args_unreadable"] = true;
  if (p.executable_truncated)
    proc["executable_truncated"] = true;
  if (p.ancestry_truncated)
    proc["ancestry_truncated"] = true;
  if (args_replaced) {
    // The args above show U+FFFD for bytes that are not UTF-8; the exact
    // bytes, NUL separated as in the kernel, are kept here.
    std::string raw;
    for (const auto &arg : p.args) {
      raw += arg;
      raw += '\0';
    }
    proc["args_base64"] = base64_encode(raw);
  }
  if (!proc.empty())
    sw["process"] = std::move(proc);
  if (replaced || args_replaced)
    sw["invalid_utf8"] = true;
  if (event.repeat) {
    const Repeat &r = *event.repeat;
    sw["repeat"] = {{"count", r.count},
                    {"first_seen", format_timestamp(r.first_seen_ns)},
                    {"last_seen", format_timestamp(r.last_seen_ns)},
                    {"window_seconds", r.window_ns / 1'000'000'000}};
  }
  record["shimwatch"] = std::move(sw);

  return record.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

static std::string gap_message(const Gap &gap) {
  if (!gap.message.empty())
    return gap.message;
  std::string why;
  for (const auto &[reason, n] : gap.reasons)
    if (n > 0)
      why += (why.empty() ? "" : ", ") + reason + " " + std::to_string(n);
  return std::to_string(gap.dropped()) + " events were lost at stage " + gap.stage +
         (gap.destination.empty() ? "" : " (" + gap.destination + ")") + ": " + why;
}

std::string encode_gap_json(const Gap &gap, const HostInfo &host) {
  ordered_json record;
  record["@timestamp"] = format_timestamp(gap.timestamp_ns);
  record["event"] = {{"kind", "event"},
                     {"action", "shimwatch-gap"},
                     {"outcome", "unknown"},
                     {"reason", gap.reason.empty() ? gap.stage : gap.reason}};
  record["message"] = utf8::sanitize(gap_message(gap));
  record["host"] = {{"name", utf8::sanitize(host.name)}};
  ordered_json g = {{"dropped", gap.dropped()}, {"stage", gap.stage}};
  for (const auto &[reason, n] : gap.reasons)
    g[reason] = n;
  g["first"] = format_timestamp(gap.first_ns);
  g["last"] = format_timestamp(gap.last_ns);
  if (!gap.destination.empty())
    g["destination"] = utf8::sanitize(gap.destination);
  record["shimwatch"] = {{"gap", std::move(g)}};
  return record.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

} // namespace shimwatch
