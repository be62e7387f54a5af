#include <cstring>

#include "shimwatch/base64.hpp"
#include "shimwatch/sink.hpp"
#include "sink/json_writer.hpp"

namespace shimwatch {

namespace {

void write_ancestry(JsonWriter &w, const std::vector<Ancestor> &ancestry, bool *replaced) {
  w.key("ancestry").array();
  for (const auto &a : ancestry) {
    w.object().field("pid", a.pid).field("name", a.name, replaced);
    if (!a.executable.empty())
      w.field("executable", a.executable, replaced);
    w.end();
  }
  w.end();
}

// container.*, orchestrator.*, kubernetes.* from the attributed origin.
void write_origin_ecs(JsonWriter &w, const Origin &o, bool *replaced) {
  const CgroupOrigin &c = o.cgroup;
  if (!c.container_id.empty()) {
    w.key("container").object().field("id", c.container_id, replaced);
    if (!c.container_runtime.empty())
      w.field("runtime", c.container_runtime, replaced);
    if (!o.container_name.empty())
      w.field("name", o.container_name, replaced);
    if (!o.container_image.empty())
      w.key("image").object().field("name", o.container_image, replaced).end();
    w.end();
  }
  if (o.type != OriginType::pod)
    return;
  w.key("orchestrator").object().field("type", "kubernetes");
  if (o.kubernetes_known)
    w.field("namespace", o.namespace_name, replaced);
  w.key("resource").object().field("type", "pod");
  if (o.kubernetes_known)
    w.field("name", o.pod_name, replaced);
  w.end().end();

  w.key("kubernetes").object().key("pod").object().field("uid", c.pod_uid, replaced);
  if (o.kubernetes_known) {
    w.field("name", o.pod_name, replaced);
    if (!o.labels.empty()) {
      w.key("labels").object();
      for (const auto &[k, v] : o.labels)
        w.key_from(k, replaced).value(v, replaced);
      w.end();
    }
  }
  w.end();
  if (o.kubernetes_known)
    w.field("namespace", o.namespace_name, replaced);
  if (!o.container_name.empty())
    w.key("container").object().field("name", o.container_name, replaced).end();
  w.end();
}

// shimwatch.origin: the kind of origin and its attributes.
void write_origin(JsonWriter &w, const Origin &o, bool *replaced) {
  const CgroupOrigin &c = o.cgroup;
  w.key("origin").object().field("type", origin_type_name(o.type));
  if (o.type == OriginType::pod) {
    w.field("kubernetes_metadata", o.kubernetes_known ? "known" : "unknown");
    if (!c.qos_class.empty())
      w.field("qos_class", c.qos_class, replaced);
    if (!o.workload_kind.empty())
      w.key("workload")
          .object()
          .field("kind", o.workload_kind, replaced)
          .field("name", o.workload_name, replaced)
          .end();
  }
  if (!c.unit.empty())
    w.field("unit", c.unit, replaced);
  if (!c.session.empty())
    w.field("session", c.session, replaced);
  if (c.session_uid)
    w.field("login_uid", *c.session_uid);
  if (!c.slice.empty())
    w.field("slice", c.slice, replaced);
  if (!o.agent.empty())
    w.field("agent", o.agent, replaced);
  if (!c.unverified_pod_uid.empty())
    w.field("unverified_pod_uid", c.unverified_pod_uid, replaced);
  w.end();
}

} // namespace

std::string encode_json(const Event &event, const HostInfo &host) {
  const ProcessInfo &p = event.process;
  const bool connect = is_connect(event.action);
  const bool service = event.action == Action::docker_service_control;
  const bool config = is_config_open(event.action);
  bool replaced = false;
  JsonWriter w;

  w.object().field("@timestamp", format_timestamp(event.timestamp_ns));
  // ECS: a connect is a network connection; an exec starts a process; a
  // service control changes a service's state (categorised by the process
  // that does it, as ECS has no category for init systems).
  w.key("event").object().field("kind", "event");
  w.field_list("category", connect ? "network" : config ? "file" : "process");
  w.field_list("type", connect ? "connection"
                       : config
                           ? (event.action == Action::docker_config_write ? "change" : "access")
                       : service ? "change"
                                 : "start");
  w.field("action", action_name(event.action));
  w.field("outcome", event.interrupted || event.in_progress ? "unknown"
                     : event.success()                      ? "success"
                                                            : "failure");
  w.end();
  if (event.interrupted)
    w.key("error")
        .object()
        .field("code", "EINTR")
        .field("message", "interrupted by a signal; the call may have been restarted")
        .end();
  else if (event.in_progress)
    w.key("error")
        .object()
        .field("code", "EINPROGRESS")
        .field("message", "the handshake had not ended when the connect was reported")
        .end();
  else if (!event.success())
    w.key("error")
        .object()
        .field("code", errno_name(event.error))
        .field("message", std::strerror(event.error), &replaced)
        .end();
  w.key("host").object().field("name", host.name, &replaced).end();

  bool args_replaced = false;
  w.key("process").object().field("pid", p.pid);
  w.key("thread").object().field("id", p.tid).end();
  w.field("name", p.name, &replaced).field("executable", p.executable, &replaced);
  w.key("args").array();
  for (const auto &arg : p.args)
    w.value(arg, &args_replaced);
  w.end();
  w.field("args_count", p.args.size());
  // Its bytes are the args': a replacement there is flagged by args_replaced.
  w.field("command_line", command_line(p.args), nullptr);
  w.key("parent").object().field("pid", p.ppid).field("name", p.parent_name, &replaced).end();
  write_ancestry(w, p.ancestry, &replaced);
  w.end();
  w.key("user").object().field("id", std::to_string(p.uid)).end();
  w.key("group").object().field("id", std::to_string(p.gid)).end();
  if (event.action == Action::docker_api_tcp_connect)
    w.key("destination")
        .object()
        .field("ip", event.tcp_address, &replaced)
        .field("port", event.tcp_port)
        .end();
  if (config)
    w.key("file").object().field("path", event.config_path, &replaced).end();
  write_origin_ecs(w, event.origin, &replaced);

  w.key("shimwatch").object();
  write_origin(w, event.origin, &replaced);
  if (!event.impersonates.empty())
    w.field("impersonates", event.impersonates, &replaced);
  w.key("cgroup")
      .object()
      .field("id", event.cgroup_id)
      .field("path", event.cgroup_path, &replaced)
      .end();
  w.key("namespace").object().field("mnt", event.mnt_ns).field("pid", event.pid_ns).end();
  if (event.action == Action::docker_api_tcp_connect) {
    // destination.* above; nothing unix-specific to add.
  } else if (config) {
    w.key("config")
        .object()
        .field("watched", event.config_watched, &replaced)
        .field("operation", event.config_renamed                          ? "rename"
                            : event.config_created                        ? "create"
                            : event.action == Action::docker_config_write ? "write"
                                                                          : "read")
        .end();
  } else if (connect) {
    w.key("socket")
        .object()
        .field("path", event.socket_path, &replaced)
        .field("abstract", event.socket_abstract);
    if (!event.socket_peer.empty())
      w.field("peer", event.socket_peer, &replaced);
    w.field("matched_by", event.socket_matched_by_peer ? "peer" : "path");
    if (!event.socket_watched.empty())
      w.field("watched", event.socket_watched, &replaced);
    w.end();
  } else {
    w.key("exec")
        .object()
        .field("path", event.exec_path, &replaced)
        .field("matched_by", event.exec_matched_by_build_id   ? "build_id"
                             : event.exec_matched_by_identity ? "identity"
                                                              : "name");
    if (event.exec_matched_by_build_id)
      w.field("build_id", event.exec_build_id, &replaced);
    w.end();
  }
  if (event.action == Action::runtime_socket_connect)
    w.field("runtime", event.runtime, &replaced);
  if (service)
    w.key("service")
        .object()
        .field("verb", event.service_verb, &replaced)
        .field("unit", event.service_unit, &replaced)
        .field("manager", event.service_manager, &replaced)
        .end();
  if (p.args_truncated || p.args_unreadable || p.executable_truncated || p.ancestry_truncated ||
      p.io_uring_worker || args_replaced) {
    w.key("process").object();
    if (p.io_uring_worker)
      w.field("io_uring_worker", true);
    if (p.args_truncated)
      w.field("args_truncated", true);
    if (p.args_unreadable)
      w.field("args_unreadable", true);
    if (p.executable_truncated)
      w.field("executable_truncated", true);
    if (p.ancestry_truncated)
      w.field("ancestry_truncated", true);
    if (args_replaced) {
      // The args above show U+FFFD for bytes that are not UTF-8; the exact
      // bytes, NUL separated as in the kernel, are kept here.
      std::string raw;
      for (const auto &arg : p.args) {
        raw += arg;
        raw += '\0';
      }
      w.field("args_base64", base64_encode(raw));
    }
    w.end();
  }
  if (replaced || args_replaced)
    w.field("invalid_utf8", true);
  if (event.repeat) {
    const Repeat &r = *event.repeat;
    w.key("repeat")
        .object()
        .field("count", r.count)
        .field("first_seen", format_timestamp(r.first_seen_ns))
        .field("last_seen", format_timestamp(r.last_seen_ns))
        .field("window_seconds", r.window_ns / 1'000'000'000)
        .end();
  }
  w.end(); // shimwatch
  w.end();
  return w.take();
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
  JsonWriter w;
  w.object().field("@timestamp", format_timestamp(gap.timestamp_ns));
  w.key("event")
      .object()
      .field("kind", "event")
      .field("action", "shimwatch-gap")
      .field("outcome", "unknown")
      .field("reason", gap.reason.empty() ? gap.stage : gap.reason)
      .end();
  w.field("message", gap_message(gap));
  w.key("host").object().field("name", host.name).end();
  w.key("shimwatch").object().key("gap").object();
  w.field("dropped", gap.dropped()).field("stage", gap.stage);
  for (const auto &[reason, n] : gap.reasons)
    w.key_from(reason, nullptr).value(n);
  w.field("first", format_timestamp(gap.first_ns)).field("last", format_timestamp(gap.last_ns));
  if (!gap.destination.empty())
    w.field("destination", gap.destination);
  w.end().end();
  w.end();
  return w.take();
}

} // namespace shimwatch
