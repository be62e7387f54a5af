#include "report/line_parser.hpp"

#include <nlohmann/json.hpp>

namespace shimwatch::report {

namespace {

using nlohmann::json;

const json *member(const json &object, const char *name) {
  if (!object.is_object())
    return nullptr;
  auto found = object.find(name);
  return found == object.end() ? nullptr : &*found;
}

const json *path(const json &root, std::initializer_list<const char *> names) {
  const json *node = &root;
  for (const char *name : names) {
    node = member(*node, name);
    if (node == nullptr)
      return nullptr;
  }
  return node;
}

// Copies the string at names into out (cleared when absent or not a string).
bool copy_string(const json &root, std::initializer_list<const char *> names, std::string &out) {
  const json *value = path(root, names);
  if (value == nullptr || !value->is_string()) {
    out.clear();
    return false;
  }
  out = value->get_ref<const std::string &>();
  return true;
}

std::string number_or_string(const json *value) {
  if (value == nullptr)
    return {};
  if (value->is_string())
    return value->get<std::string>();
  if (value->is_number_integer())
    return std::to_string(value->get<std::int64_t>());
  return {};
}

LineKind fail(LineKind kind, std::string *why, const char *text) {
  if (why != nullptr)
    *why = text;
  return kind;
}

void build_origin_key(ParsedRecord &r, const json &origin, const json &root) {
  std::string type;
  copy_string(origin, {"type"}, type);
  if (type == "pod") {
    r.origin_type = OriginType::workload;
    if (r.workload_name.empty()) {
      // No owner known (metadata not yet there, or a bare pod): the pod itself.
      r.workload_kind = "Pod";
      r.workload_name = r.pod_name;
      if (r.workload_name.empty()) {
        std::string uid;
        copy_string(root, {"kubernetes", "pod", "uid"}, uid);
        r.workload_name = "uid " + (uid.empty() ? std::string("unknown") : uid);
      }
    }
    r.origin_key = "workload:" + r.namespace_name + "/" + r.workload_kind + "/" + r.workload_name;
  } else if (type == "container") {
    r.origin_type = OriginType::container;
    r.origin_key = "container:" + r.container_runtime + "/" + r.container_id.substr(0, 12);
  } else if (type == "systemd_unit") {
    r.origin_type = OriginType::systemd_unit;
    r.origin_key = "systemd_unit:" + r.unit;
  } else if (type == "user_session") {
    r.origin_type = OriginType::user_session;
    // Sessions come and go; the login user is what a checklist can act on.
    r.origin_key = r.login_uid.empty() ? "user_session:session " + r.session
                                       : "user_session:uid " + r.login_uid;
  } else {
    r.origin_type = OriginType::host;
    r.origin_key = "host:" + r.executable;
  }
}

} // namespace

std::string_view origin_type_name(OriginType type) {
  switch (type) {
  case OriginType::workload:
    return "workload";
  case OriginType::container:
    return "container";
  case OriginType::systemd_unit:
    return "systemd_unit";
  case OriginType::user_session:
    return "user_session";
  case OriginType::host:
    return "host";
  }
  return "host";
}

void ParsedRecord::clear() {
  gap = false;
  time = first_time = 0;
  calls = 1;
  dropped = 0;
  gap_first = gap_last = 0;
  gap_reasons.clear();
  origin_type = OriginType::host;
  for (std::string *s :
       {&node,           &action,        &outcome,           &error_code,   &origin_key,
        &namespace_name, &workload_kind, &workload_name,     &pod_name,     &container_name,
        &image,          &container_id,  &container_runtime, &unit,         &session,
        &login_uid,      &agent,         &executable,        &command_line, &socket,
        &config_file,    &destination,   &service,           &runtime,      &gap_stage})
    s->clear();
}

bool strip_kubectl_prefix(std::string_view &line) {
  // "[pod/NAME/CONTAINER] {...}"
  if (line.substr(0, 5) != "[pod/")
    return false;
  const auto close = line.find("] ");
  if (close == std::string_view::npos || line.substr(0, close).find('/', 5) == std::string::npos)
    return false;
  line.remove_prefix(close + 2);
  return true;
}

LineKind parse_line(std::string_view line, ParsedRecord &r, std::string *why) {
  const auto first = line.find_first_not_of(" \t\r");
  if (first == std::string_view::npos)
    return LineKind::blank;
  line.remove_prefix(first);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
    line.remove_suffix(1);
  const bool looks_like_object = line.front() == '{';
  json root = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded())
    return looks_like_object ? fail(LineKind::malformed, why, "not valid JSON (a torn line?)")
                             : fail(LineKind::foreign, why, "not a JSON object");
  if (!root.is_object())
    return fail(LineKind::foreign, why, "not a JSON object");
  const json *sw = member(root, "shimwatch");
  const json *action = path(root, {"event", "action"});
  if (sw == nullptr || action == nullptr)
    return fail(LineKind::foreign, why, "no shimwatch or event.action field");
  if (!sw->is_object() || !action->is_string())
    return fail(LineKind::malformed, why, "shimwatch or event.action has the wrong type");

  r.clear();
  r.action = action->get<std::string>();
  std::string text;
  if (!copy_string(root, {"@timestamp"}, text))
    return fail(LineKind::malformed, why, "no @timestamp");
  const auto time = parse_rfc3339(text);
  if (!time)
    return fail(LineKind::malformed, why, "@timestamp is not RFC 3339");
  r.time = r.first_time = *time;
  copy_string(root, {"host", "name"}, r.node);
  if (r.node.empty())
    r.node = "(unknown node)";

  if (r.action == "shimwatch-gap") {
    const json *gap = member(*sw, "gap");
    const json *dropped = gap == nullptr ? nullptr : member(*gap, "dropped");
    if (dropped == nullptr || !dropped->is_number_unsigned())
      return fail(LineKind::malformed, why, "gap record without shimwatch.gap.dropped");
    r.gap = true;
    r.dropped = dropped->get<std::uint64_t>();
    copy_string(*gap, {"stage"}, r.gap_stage);
    r.gap_first =
        copy_string(*gap, {"first"}, text) ? parse_rfc3339(text).value_or(r.time) : r.time;
    r.gap_last = copy_string(*gap, {"last"}, text) ? parse_rfc3339(text).value_or(r.time) : r.time;
    for (const auto &[key, value] : gap->items())
      if (key != "dropped" && value.is_number_unsigned())
        r.gap_reasons.emplace_back(key, value.get<std::uint64_t>());
    return LineKind::record;
  }

  const json *origin = member(*sw, "origin");
  if (origin == nullptr || !origin->is_object())
    return fail(LineKind::malformed, why, "event without shimwatch.origin");
  copy_string(root, {"event", "outcome"}, r.outcome);
  copy_string(root, {"error", "code"}, r.error_code);
  copy_string(root, {"kubernetes", "namespace"}, r.namespace_name);
  if (r.namespace_name.empty())
    copy_string(root, {"orchestrator", "namespace"}, r.namespace_name);
  copy_string(*origin, {"workload", "kind"}, r.workload_kind);
  copy_string(*origin, {"workload", "name"}, r.workload_name);
  copy_string(root, {"kubernetes", "pod", "name"}, r.pod_name);
  copy_string(root, {"container", "name"}, r.container_name);
  copy_string(root, {"container", "image", "name"}, r.image);
  copy_string(root, {"container", "id"}, r.container_id);
  copy_string(root, {"container", "runtime"}, r.container_runtime);
  copy_string(*origin, {"unit"}, r.unit);
  copy_string(*origin, {"session"}, r.session);
  r.login_uid = number_or_string(member(*origin, "login_uid"));
  copy_string(*origin, {"agent"}, r.agent);
  copy_string(root, {"process", "executable"}, r.executable);
  copy_string(root, {"process", "command_line"}, r.command_line);
  if (copy_string(*sw, {"socket", "path"}, r.socket)) {
    std::string peer;
    if (copy_string(*sw, {"socket", "peer"}, peer) && peer != r.socket)
      r.socket += " -> " + peer;
  }
  copy_string(root, {"file", "path"}, r.config_file);
  if (const json *ip = path(root, {"destination", "ip"}); ip != nullptr && ip->is_string()) {
    const std::string address = ip->get<std::string>();
    const std::string port = number_or_string(path(root, {"destination", "port"}));
    r.destination = (address.find(':') != std::string::npos ? "[" + address + "]" : address) +
                    (port.empty() ? "" : ":" + port);
  }
  if (copy_string(*sw, {"service", "verb"}, r.service)) {
    std::string unit;
    copy_string(*sw, {"service", "unit"}, unit);
    r.service += " " + unit;
  }
  copy_string(*sw, {"runtime"}, r.runtime);
  if (const json *repeat = member(*sw, "repeat"); repeat != nullptr) {
    const json *count = member(*repeat, "count");
    if (count == nullptr || !count->is_number_unsigned() || count->get<std::uint64_t>() == 0)
      return fail(LineKind::malformed, why, "summary record without shimwatch.repeat.count");
    r.calls = count->get<std::uint64_t>();
    if (copy_string(*repeat, {"first_seen"}, text))
      r.first_time = parse_rfc3339(text).value_or(r.time);
  }
  build_origin_key(r, *origin, root);
  return LineKind::record;
}

} // namespace shimwatch::report
