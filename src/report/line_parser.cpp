#include "report/line_parser.hpp"

#include <array>
#include <nlohmann/json.hpp>
#include <unordered_map>

namespace shimwatch::report {

namespace {

using nlohmann::json;

// The fields the report reads, by their dotted path in the record.
enum class Field {
  timestamp,
  event_action,
  event_outcome,
  error_code,
  host_name,
  kubernetes_namespace,
  orchestrator_namespace,
  pod_name,
  pod_uid,
  container_name,
  container_image,
  container_id,
  container_runtime,
  origin_type,
  workload_kind,
  workload_name,
  origin_unit,
  origin_session,
  origin_login_uid,
  origin_agent,
  process_executable,
  process_command_line,
  socket_path,
  socket_peer,
  file_path,
  destination_ip,
  destination_port,
  service_verb,
  service_unit,
  runtime,
  repeat_count,
  repeat_first_seen,
  gap_dropped,
  gap_stage,
  gap_first,
  gap_last,
  count,
};

const std::unordered_map<std::string_view, Field> &field_paths() {
  static const std::unordered_map<std::string_view, Field> paths = {
      {"@timestamp", Field::timestamp},
      {"event.action", Field::event_action},
      {"event.outcome", Field::event_outcome},
      {"error.code", Field::error_code},
      {"host.name", Field::host_name},
      {"kubernetes.namespace", Field::kubernetes_namespace},
      {"orchestrator.namespace", Field::orchestrator_namespace},
      {"kubernetes.pod.name", Field::pod_name},
      {"kubernetes.pod.uid", Field::pod_uid},
      {"container.name", Field::container_name},
      {"container.image.name", Field::container_image},
      {"container.id", Field::container_id},
      {"container.runtime", Field::container_runtime},
      {"shimwatch.origin.type", Field::origin_type},
      {"shimwatch.origin.workload.kind", Field::workload_kind},
      {"shimwatch.origin.workload.name", Field::workload_name},
      {"shimwatch.origin.unit", Field::origin_unit},
      {"shimwatch.origin.session", Field::origin_session},
      {"shimwatch.origin.login_uid", Field::origin_login_uid},
      {"shimwatch.origin.agent", Field::origin_agent},
      {"process.executable", Field::process_executable},
      {"process.command_line", Field::process_command_line},
      {"shimwatch.socket.path", Field::socket_path},
      {"shimwatch.socket.peer", Field::socket_peer},
      {"file.path", Field::file_path},
      {"destination.ip", Field::destination_ip},
      {"destination.port", Field::destination_port},
      {"shimwatch.service.verb", Field::service_verb},
      {"shimwatch.service.unit", Field::service_unit},
      {"shimwatch.runtime", Field::runtime},
      {"shimwatch.repeat.count", Field::repeat_count},
      {"shimwatch.repeat.first_seen", Field::repeat_first_seen},
      {"shimwatch.gap.dropped", Field::gap_dropped},
      {"shimwatch.gap.stage", Field::gap_stage},
      {"shimwatch.gap.first", Field::gap_first},
      {"shimwatch.gap.last", Field::gap_last},
  };
  return paths;
}

// A value seen at a watched path: its text (strings, and numbers as text)
// and its JSON type.
struct FieldValue {
  enum class Type { absent, string, unsigned_number, other } type = Type::absent;
  std::string text;
  std::uint64_t number = 0;
};

// Walks a record without building it: only the watched paths are kept. Much
// cheaper than a DOM for lines of which a third is read.
class RecordScanner : public nlohmann::json_sax<json> {
public:
  std::array<FieldValue, static_cast<std::size_t>(Field::count)> values;
  std::vector<std::pair<std::string, std::uint64_t>> gap_numbers; // shimwatch.gap.<name>: n
  bool root_is_object = false;
  bool root_seen = false;
  bool shimwatch_present = false, shimwatch_is_object = false;
  bool origin_is_object = false, gap_is_object = false, repeat_present = false;

  void reset() {
    for (auto &v : values) {
      v.type = FieldValue::Type::absent;
      v.text.clear();
    }
    gap_numbers.clear();
    root_is_object = root_seen = false;
    shimwatch_present = shimwatch_is_object = false;
    origin_is_object = gap_is_object = repeat_present = false;
    path_.clear();
    path_lengths_.clear();
    key_.clear();
    depth_ = array_depth_ = 0;
  }

  bool null() override { return scalar(FieldValue::Type::other, {}, 0); }
  bool boolean(bool) override { return scalar(FieldValue::Type::other, {}, 0); }
  bool number_integer(number_integer_t value) override {
    return value >= 0 ? number_unsigned(static_cast<std::uint64_t>(value))
                      : scalar(FieldValue::Type::other, std::to_string(value), 0);
  }
  bool number_unsigned(number_unsigned_t value) override {
    return scalar(FieldValue::Type::unsigned_number, {}, value);
  }
  bool number_float(number_float_t, const string_t &) override {
    return scalar(FieldValue::Type::other, {}, 0);
  }
  bool string(string_t &value) override {
    return scalar(FieldValue::Type::string, std::move(value), 0);
  }
  bool binary(binary_t &) override { return scalar(FieldValue::Type::other, {}, 0); }

  bool start_object(std::size_t) override {
    if (!root_seen) {
      root_seen = root_is_object = true;
      ++depth_;
      return true;
    }
    if (array_depth_ == 0) {
      mark_container(true);
      path_lengths_.push_back(path_.size());
      path_ = full_key();
    }
    ++depth_;
    return true;
  }
  bool key(string_t &name) override {
    key_ = std::move(name);
    return true;
  }
  bool end_object() override {
    --depth_;
    if (array_depth_ == 0 && !path_lengths_.empty()) {
      path_.resize(path_lengths_.back());
      path_lengths_.pop_back();
    }
    return true;
  }
  bool start_array(std::size_t) override {
    if (!root_seen) {
      root_seen = true;
      return false; // not a record; stop here
    }
    if (array_depth_ == 0)
      mark_container(false);
    ++array_depth_;
    return true;
  }
  bool end_array() override {
    --array_depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string &, const nlohmann::detail::exception &) override {
    return false;
  }

  const FieldValue &operator[](Field f) const { return values[static_cast<std::size_t>(f)]; }

private:
  std::string full_key() const { return path_.empty() ? key_ : path_ + "." + key_; }

  // Objects and arrays at the paths whose type matters.
  void mark_container(bool object) {
    if (depth_ == 1 && key_ == "shimwatch") {
      shimwatch_present = true;
      shimwatch_is_object = object;
    } else if (depth_ == 2 && path_ == "shimwatch") {
      if (key_ == "origin")
        origin_is_object = object;
      else if (key_ == "gap")
        gap_is_object = object;
      else if (key_ == "repeat")
        repeat_present = true;
    } else if (depth_ == 1 && key_ == "event" && !object) {
      values[static_cast<std::size_t>(Field::event_action)].type = FieldValue::Type::absent;
    }
  }

  bool scalar(FieldValue::Type type, std::string text, std::uint64_t number) {
    if (!root_seen) {
      root_seen = true;
      return false; // a bare scalar is not a record
    }
    if (array_depth_ > 0)
      return true;
    if (depth_ == 1 && key_ == "shimwatch")
      shimwatch_present = true; // and not an object
    if (depth_ == 3 && path_ == "shimwatch.gap" && type == FieldValue::Type::unsigned_number &&
        key_ != "dropped")
      gap_numbers.emplace_back(key_, number);
    scratch_.assign(path_);
    if (!scratch_.empty())
      scratch_ += '.';
    scratch_ += key_;
    const auto found = field_paths().find(scratch_);
    if (found == field_paths().end())
      return true;
    FieldValue &v = values[static_cast<std::size_t>(found->second)];
    v.type = type;
    v.text = type == FieldValue::Type::unsigned_number ? std::to_string(number) : std::move(text);
    v.number = number;
    return true;
  }

  std::string path_; // dotted path of the object being read ("" at the root)
  std::vector<std::size_t> path_lengths_;
  std::string key_;
  std::string scratch_; // the dotted path of the current value, reused
  int depth_ = 0;
  int array_depth_ = 0;
};

LineKind fail(LineKind kind, std::string *why, const char *text) {
  if (why != nullptr)
    *why = text;
  return kind;
}

void take(const RecordScanner &scan, Field field, std::string &out) {
  const FieldValue &v = scan[field];
  if (v.type == FieldValue::Type::string)
    out = v.text;
  else
    out.clear();
}

void build_origin_key(ParsedRecord &r, const std::string &type) {
  if (type == "pod") {
    r.origin_type = OriginGroup::workload;
    if (r.workload_name.empty()) {
      // No owner known (metadata not yet there, or a bare pod): the pod itself.
      r.workload_kind = "Pod";
      r.workload_name = r.pod_name;
      if (r.workload_name.empty())
        r.workload_name = "uid " + (r.pod_uid.empty() ? std::string("unknown") : r.pod_uid);
    }
    r.origin_key = "workload:" + r.namespace_name + "/" + r.workload_kind + "/" + r.workload_name;
  } else if (type == "container") {
    r.origin_type = OriginGroup::container;
    r.origin_key = "container:" + r.container_runtime + "/" + r.container_id.substr(0, 12);
  } else if (type == "systemd_unit") {
    r.origin_type = OriginGroup::systemd_unit;
    r.origin_key = "systemd_unit:" + r.unit;
  } else if (type == "user_session") {
    r.origin_type = OriginGroup::user_session;
    // Sessions come and go; the login user is what a checklist can act on.
    r.origin_key = r.login_uid.empty() ? "user_session:session " + r.session
                                       : "user_session:uid " + r.login_uid;
  } else {
    r.origin_type = OriginGroup::host;
    r.origin_key = "host:" + r.executable;
  }
}

} // namespace

std::string_view origin_group_name(OriginGroup type) {
  switch (type) {
  case OriginGroup::workload:
    return "workload";
  case OriginGroup::container:
    return "container";
  case OriginGroup::systemd_unit:
    return "systemd_unit";
  case OriginGroup::user_session:
    return "user_session";
  case OriginGroup::host:
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
  origin_type = OriginGroup::host;
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
  thread_local RecordScanner scan;
  scan.reset();
  const bool parsed = json::sax_parse(line.begin(), line.end(), &scan);
  if (!scan.root_is_object)
    return fail(LineKind::foreign, why, "not a JSON object");
  if (!parsed)
    return looks_like_object ? fail(LineKind::malformed, why, "not valid JSON (a torn line?)")
                             : fail(LineKind::foreign, why, "not a JSON object");
  const FieldValue &action = scan[Field::event_action];
  if (!scan.shimwatch_present || action.type == FieldValue::Type::absent)
    return fail(LineKind::foreign, why, "no shimwatch or event.action field");
  if (!scan.shimwatch_is_object || action.type != FieldValue::Type::string)
    return fail(LineKind::malformed, why, "shimwatch or event.action has the wrong type");

  r.clear();
  r.action = action.text;
  const FieldValue &timestamp = scan[Field::timestamp];
  if (timestamp.type != FieldValue::Type::string)
    return fail(LineKind::malformed, why, "no @timestamp");
  const auto time = parse_rfc3339(timestamp.text);
  if (!time)
    return fail(LineKind::malformed, why, "@timestamp is not RFC 3339");
  r.time = r.first_time = *time;
  take(scan, Field::host_name, r.node);
  if (r.node.empty())
    r.node = "(unknown node)";
  auto time_or = [&](Field field, Micros fallback) {
    const FieldValue &v = scan[field];
    return v.type == FieldValue::Type::string ? parse_rfc3339(v.text).value_or(fallback) : fallback;
  };

  if (r.action == "shimwatch-gap") {
    const FieldValue &dropped = scan[Field::gap_dropped];
    if (!scan.gap_is_object || dropped.type != FieldValue::Type::unsigned_number)
      return fail(LineKind::malformed, why, "gap record without shimwatch.gap.dropped");
    r.gap = true;
    r.dropped = dropped.number;
    take(scan, Field::gap_stage, r.gap_stage);
    r.gap_first = time_or(Field::gap_first, r.time);
    r.gap_last = time_or(Field::gap_last, r.time);
    r.gap_reasons = scan.gap_numbers;
    return LineKind::record;
  }

  if (!scan.origin_is_object)
    return fail(LineKind::malformed, why, "event without shimwatch.origin");
  take(scan, Field::event_outcome, r.outcome);
  take(scan, Field::error_code, r.error_code);
  take(scan, Field::kubernetes_namespace, r.namespace_name);
  if (r.namespace_name.empty())
    take(scan, Field::orchestrator_namespace, r.namespace_name);
  take(scan, Field::workload_kind, r.workload_kind);
  take(scan, Field::workload_name, r.workload_name);
  take(scan, Field::pod_name, r.pod_name);
  take(scan, Field::container_name, r.container_name);
  take(scan, Field::container_image, r.image);
  take(scan, Field::container_id, r.container_id);
  take(scan, Field::container_runtime, r.container_runtime);
  take(scan, Field::origin_unit, r.unit);
  take(scan, Field::origin_session, r.session);
  if (const FieldValue &uid = scan[Field::origin_login_uid];
      uid.type == FieldValue::Type::string || uid.type == FieldValue::Type::unsigned_number)
    r.login_uid = uid.text;
  take(scan, Field::origin_agent, r.agent);
  take(scan, Field::process_executable, r.executable);
  take(scan, Field::process_command_line, r.command_line);
  take(scan, Field::socket_path, r.socket);
  if (!r.socket.empty()) {
    const FieldValue &peer = scan[Field::socket_peer];
    if (peer.type == FieldValue::Type::string && peer.text != r.socket)
      r.socket += " -> " + peer.text;
  }
  take(scan, Field::file_path, r.config_file);
  if (const FieldValue &ip = scan[Field::destination_ip]; ip.type == FieldValue::Type::string) {
    const FieldValue &port = scan[Field::destination_port];
    r.destination = (ip.text.find(':') != std::string::npos ? "[" + ip.text + "]" : ip.text) +
                    (port.type == FieldValue::Type::absent ? "" : ":" + port.text);
  }
  take(scan, Field::service_verb, r.service);
  if (!r.service.empty()) {
    std::string unit;
    take(scan, Field::service_unit, unit);
    r.service += " " + unit;
  }
  take(scan, Field::runtime, r.runtime);
  if (scan.repeat_present) {
    const FieldValue &count = scan[Field::repeat_count];
    if (count.type != FieldValue::Type::unsigned_number || count.number == 0)
      return fail(LineKind::malformed, why, "summary record without shimwatch.repeat.count");
    r.calls = count.number;
    r.first_time = time_or(Field::repeat_first_seen, r.time);
  }
  std::string origin_type;
  take(scan, Field::origin_type, origin_type);
  take(scan, Field::pod_uid, r.pod_uid);
  build_origin_key(r, origin_type);
  return LineKind::record;
}

} // namespace shimwatch::report
