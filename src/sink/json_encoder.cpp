#include <nlohmann/json.hpp>

#include "shimwatch/sink.hpp"

namespace shimwatch {

namespace {

using ordered_json = nlohmann::ordered_json;

} // namespace

std::string encode_json(const Event &event, const HostInfo &host) {
  const ProcessInfo &p = event.process;
  const bool connect = event.action == Action::docker_socket_connect;
  bool replaced = false;

  ordered_json args = ordered_json::array();
  bool args_replaced = false;
  for (const auto &arg : p.args)
    args.push_back(utf8::sanitize(arg, &args_replaced));

  ordered_json record;
  record["@timestamp"] = format_timestamp(event.timestamp_ns);
  record["event"] = {
      {"kind", "event"},
      {"category", connect ? ordered_json{"network"} : ordered_json{"process"}},
      {"type", connect ? ordered_json{"connection"} : ordered_json{"start"}},
      {"action", action_name(event.action)},
      {"outcome", event.success() ? "success" : "failure"},
  };
  if (!event.success())
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
  };
  record["user"] = {{"id", std::to_string(p.uid)}};
  record["group"] = {{"id", std::to_string(p.gid)}};

  ordered_json sw;
  sw["cgroup"] = {{"id", event.cgroup_id}};
  sw["namespace"] = {{"mnt", event.mnt_ns}, {"pid", event.pid_ns}};
  if (connect)
    sw["socket"] = {{"path", utf8::sanitize(event.socket_path, &replaced)},
                    {"abstract", event.socket_abstract}};
  else
    sw["exec"] = {{"path", utf8::sanitize(event.exec_path, &replaced)}};
  ordered_json proc = ordered_json::object();
  if (p.args_truncated)
    proc["args_truncated"] = true;
  if (p.args_unreadable)
    proc["args_unreadable"] = true;
  if (p.executable_truncated)
    proc["executable_truncated"] = true;
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
  record["shimwatch"] = std::move(sw);

  return record.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

} // namespace shimwatch
