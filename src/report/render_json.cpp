#include <algorithm>
#include <cstdio>
#include <map>
#include <string_view>

#include "report/remediation.hpp"
#include "report/render.hpp"
#include "shimwatch/version.hpp"

namespace shimwatch::report {

namespace {

using nlohmann::ordered_json;

ordered_json top_list(const TopCounter &counter, std::size_t n) {
  ordered_json items = ordered_json::array();
  for (const auto &e : counter.top(n))
    items.push_back({{"value", e.key}, {"calls", e.count}, {"overestimate", e.overestimate}});
  return {{"top", std::move(items)},
          {"distinct",
           counter.approximate() ? ordered_json(nullptr) : ordered_json(counter.distinct_seen())},
          {"approximate", counter.approximate()}};
}

ordered_json names(const TopCounter &counter) {
  ordered_json items = ordered_json::array();
  for (const auto &e : counter.top(counter.capacity()))
    items.push_back(e.key);
  return items;
}

ordered_json time_or_null(bool known, Micros t) {
  return known ? ordered_json(format_rfc3339(t)) : ordered_json(nullptr);
}

ordered_json timeline_json(const Timeline &timeline, const char *count_name) {
  ordered_json buckets = ordered_json::array();
  for (const auto &[start, count] : timeline.buckets)
    buckets.push_back({{"start", format_rfc3339(start * 1'000'000)}, {count_name, count}});
  return {{"bucket_seconds", timeline.width_seconds}, {"buckets", std::move(buckets)}};
}

ordered_json origin_json(const OriginStats &o, const Aggregator &data) {
  const std::size_t top = data.options().top;
  ordered_json out = {
      {"id", o.key}, {"type", origin_group_name(o.type)}, {"label", origin_label(o)}};
  switch (o.type) {
  case OriginGroup::workload:
    out["namespace"] = o.namespace_name;
    out["workload_kind"] = o.workload_kind;
    out["workload_name"] = o.workload_name;
    break;
  case OriginGroup::container:
    out["container_runtime"] = o.container_runtime;
    out["container_id"] = o.container_id;
    break;
  case OriginGroup::systemd_unit:
    out["unit"] = o.unit;
    break;
  case OriginGroup::user_session:
    out["login_uid"] = o.login_uid.empty() ? ordered_json(nullptr) : ordered_json(o.login_uid);
    break;
  case OriginGroup::host:
    out["executable"] = o.executable_key;
    break;
  }
  out["agent"] = o.agent.empty() ? ordered_json(nullptr) : ordered_json(o.agent);
  out["calls"] = o.calls;
  out["records"] = o.records;
  out["failed_calls"] = o.failures;
  out["first_seen"] = format_rfc3339(o.first);
  out["last_seen"] = format_rfc3339(o.last);
  ordered_json nodes = ordered_json::array();
  for (auto index : o.nodes)
    nodes.push_back(data.nodes()[index].name);
  std::sort(nodes.begin(), nodes.end());
  out["nodes"] = std::move(nodes);

  ordered_json actions = ordered_json::array();
  for (const auto &[action, a] : o.actions) {
    ordered_json codes = ordered_json::array();
    for (const auto &e : a.error_codes.top(8))
      codes.push_back({{"code", e.key}, {"calls", e.count}});
    actions.push_back({{"action", action},
                       {"calls", a.calls},
                       {"failed_calls", a.failures},
                       {"first_seen", format_rfc3339(a.first)},
                       {"last_seen", format_rfc3339(a.last)},
                       {"error_codes", std::move(codes)},
                       {"remediation", remediation(action, o)}});
  }
  std::stable_sort(actions.begin(), actions.end(), [](const auto &x, const auto &y) {
    return x["calls"].template get<std::uint64_t>() > y["calls"].template get<std::uint64_t>();
  });
  out["actions"] = std::move(actions);
  out["command_lines"] = top_list(o.command_lines, top);
  out["sockets"] = top_list(o.sockets, top);
  out["config_files"] = top_list(o.config_files, top);
  out["destinations"] = top_list(o.destinations, top);
  out["service_actions"] = top_list(o.services, top);
  out["runtimes"] = top_list(o.runtimes, top);
  out["samples"] = {{"pods", names(o.pods)},
                    {"images", names(o.images)},
                    {"executables", names(o.executables)},
                    {"sessions", names(o.sessions)}};
  out["timeline"] = timeline_json(o.timeline, "calls");
  return out;
}

ordered_json evidence_row_json(const EvidenceRow &row) {
  ordered_json workload = nullptr;
  ordered_json findings = ordered_json::array();
  if (row.workload) {
    const ScanWorkload &w = *row.workload;
    workload = {{"id", w.id},
                {"namespace", w.namespace_name},
                {"kind", w.kind},
                {"name", w.name},
                {"static_pod", w.static_pod},
                {"state", w.state},
                {"docker_socket_mounted", w.docker_socket_mounted},
                {"max_severity",
                 w.max_severity.empty() ? ordered_json(nullptr) : ordered_json(w.max_severity)}};
    for (const auto &f : w.findings)
      findings.push_back({{"rule", f.rule},
                          {"severity", f.severity},
                          {"reason", f.reason},
                          {"field", f.field},
                          {"container", f.container}});
  }
  ordered_json origin_ids = ordered_json::array();
  std::map<std::string, std::uint64_t> action_calls;
  std::uint64_t calls = 0;
  Micros first = 0, last = 0;
  for (const auto *o : row.origins) {
    origin_ids.push_back(o->key);
    for (const auto &[action, a] : o->actions)
      action_calls[action] += a.calls;
    if (calls == 0 || o->first < first)
      first = o->first;
    if (calls == 0 || o->last > last)
      last = o->last;
    calls += o->calls;
  }
  ordered_json actions = ordered_json::array();
  for (const auto &[action, n] : action_calls)
    actions.push_back({{"action", action}, {"calls", n}});
  std::string label = row.workload          ? row.workload->id
                      : row.origins.empty() ? std::string()
                                            : origin_label(*row.origins.front());
  return {{"kind", evidence_kind_name(row.kind)},
          {"label", label},
          {"note", row.note.empty() ? ordered_json(nullptr) : ordered_json(row.note)},
          {"workload", std::move(workload)},
          {"findings", std::move(findings)},
          {"origins", std::move(origin_ids)},
          {"calls", calls},
          {"actions", std::move(actions)},
          {"first_seen", time_or_null(calls > 0, first)},
          {"last_seen", time_or_null(calls > 0, last)}};
}

ordered_json evidence_json(const Evidence &evidence) {
  ordered_json counts = ordered_json::object();
  for (auto kind : {EvidenceKind::mounted_and_used, EvidenceKind::mounted_not_used,
                    EvidenceKind::used_without_mount})
    counts[std::string(evidence_kind_name(kind))] = 0;
  ordered_json rows = ordered_json::array();
  for (const auto &row : evidence.rows) {
    auto &count = counts[std::string(evidence_kind_name(row.kind))];
    count = count.get<std::uint64_t>() + 1;
    rows.push_back(evidence_row_json(row));
  }
  const auto &workloads = evidence.scan->workloads;
  const auto with_findings = std::count_if(workloads.begin(), workloads.end(),
                                           [](const auto &w) { return !w.findings.empty(); });
  return {{"scan",
           {{"file", evidence.scan->path},
            {"generated_at", evidence.scan->generated_at.empty()
                                 ? ordered_json(nullptr)
                                 : ordered_json(evidence.scan->generated_at)},
            {"workloads", workloads.size()},
            {"workloads_with_findings", with_findings}}},
          {"counts", std::move(counts)},
          {"rows", std::move(rows)}};
}

} // namespace

void append_printable(std::string &out, unsigned char c) {
  if (c < 0x20 || c == 0x7f) {
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
    out += buffer;
  } else {
    out += static_cast<char>(c);
  }
}

std::string origin_label(const OriginStats &o) {
  if (o.key.ends_with(":(other)"))
    return "(more origins than the report keeps)";
  switch (o.type) {
  case OriginGroup::workload:
    return (o.namespace_name.empty() ? std::string("(no namespace)") : o.namespace_name) + "/" +
           o.workload_kind + "/" + o.workload_name;
  case OriginGroup::container:
    return (o.container_runtime.empty() ? std::string("container") : o.container_runtime) + " " +
           o.container_id.substr(0, 12);
  case OriginGroup::systemd_unit:
    return o.unit;
  case OriginGroup::user_session:
    return o.login_uid.empty() ? "session " + o.session : "uid " + o.login_uid;
  case OriginGroup::host:
    return o.executable_key.empty() ? std::string("(unknown executable)") : o.executable_key;
  }
  return o.key;
}

nlohmann::ordered_json build_report_document(const RenderContext &context) {
  const Aggregator &data = context.data;
  const InputStats &in = data.input();
  const auto origins = data.sorted_origins();

  ordered_json by_type = ordered_json::object();
  for (int t = 0; t < origin_group_count; ++t)
    by_type[std::string(origin_group_name(static_cast<OriginGroup>(t)))] = 0;
  std::uint64_t failed = 0;
  for (const auto *o : origins) {
    by_type[std::string(origin_group_name(o->type))] =
        by_type[std::string(origin_group_name(o->type))].get<std::uint64_t>() + 1;
    failed += o->failures;
  }

  bool any = false;
  Micros first = 0, last = 0;
  ordered_json nodes = ordered_json::array();
  for (const auto *n : data.sorted_nodes()) {
    if (!any || n->first < first)
      first = n->first;
    if (!any || n->last > last)
      last = n->last;
    any = true;
    nodes.push_back({{"name", n->name},
                     {"first_seen", format_rfc3339(n->first)},
                     {"last_seen", format_rfc3339(n->last)},
                     {"records", n->records},
                     {"calls", n->calls},
                     {"dropped_events", n->dropped},
                     {"gap_records", n->gap_records},
                     {"timeline", timeline_json(n->activity, "records")}});
  }
  ordered_json gaps = ordered_json::array();
  for (const auto &[key, g] : data.gaps()) {
    ordered_json reasons = ordered_json::object();
    for (const auto &[reason, count] : g.reasons)
      reasons[reason] = count;
    gaps.push_back({{"node", g.node},
                    {"stage", g.stage},
                    {"dropped_events", g.dropped},
                    {"records", g.records},
                    {"first", format_rfc3339(g.first)},
                    {"last", format_rfc3339(g.last)},
                    {"reasons", std::move(reasons)}});
  }
  ordered_json malformed_reasons = ordered_json::array();
  for (const auto &e : in.malformed_reasons.top(16))
    malformed_reasons.push_back({{"reason", e.key}, {"lines", e.count}});

  const std::uint64_t dropped = data.total_dropped();
  const bool input_problems = !in.unreadable_files.empty() || in.malformed_lines > 0 ||
                              in.truncated_gzip_members > 0 || in.corrupt_gzip_streams > 0 ||
                              in.oversize_lines > 0;
  ordered_json summary = {
      {"calls", data.total_calls()},
      {"failed_calls", failed},
      {"origins", origins.size()},
      {"origins_by_type", std::move(by_type)},
      {"folded_records", data.folded_records()},
      {"window", {{"first", time_or_null(any, first)}, {"last", time_or_null(any, last)}}},
      {"dropped_events", dropped},
      {"complete", dropped == 0 && !input_problems},
      {"nodes", std::move(nodes)},
      {"gaps", std::move(gaps)},
      {"input",
       {{"files", in.files},
        {"unreadable_files", in.unreadable_files},
        {"bytes", in.bytes},
        {"lines", in.lines},
        {"records", in.records},
        {"malformed_lines", in.malformed_lines},
        {"malformed_reasons", std::move(malformed_reasons)},
        {"foreign_lines", in.foreign_lines},
        {"blank_lines", in.blank_lines},
        {"oversize_lines", in.oversize_lines},
        {"kubectl_prefixed_lines", in.kubectl_prefixed_lines},
        {"truncated_gzip_members", in.truncated_gzip_members},
        {"corrupt_gzip_streams", in.corrupt_gzip_streams},
        {"outside_window", in.outside_window}}},
  };

  ordered_json origin_list = ordered_json::array();
  for (const auto *o : origins) {
    origin_list.push_back(origin_json(*o, data));
    if (!context.evidence)
      continue;
    // Where the origin stands in the evidence section: its kind and the scanned workload.
    const auto row = context.evidence->row_of_origin.find(o->key);
    const EvidenceRow *merged = row == context.evidence->row_of_origin.end()
                                    ? nullptr
                                    : &context.evidence->rows[row->second];
    auto &entry = origin_list.back();
    entry["evidence"] =
        merged ? ordered_json(evidence_kind_name(merged->kind)) : ordered_json(nullptr);
    entry["scan_workload"] =
        merged && merged->workload ? ordered_json(merged->workload->id) : ordered_json(nullptr);
  }

  const auto &options = data.options();
  ordered_json document = {
      {"schema_version", report_schema_version},
      {"generator", {{"name", "shimwatch report"}, {"version", std::string(version())}}},
      {"generated_at", format_rfc3339(context.generated_at)},
      {"options",
       {{"since", options.since ? ordered_json(format_rfc3339(*options.since)) : nullptr},
        {"until", options.until ? ordered_json(format_rfc3339(*options.until)) : nullptr},
        {"top", options.top},
        {"inputs", context.inputs}}},
      {"summary", std::move(summary)}};
  if (context.evidence)
    document["evidence"] = evidence_json(*context.evidence);
  document["origins"] = std::move(origin_list);
  return document;
}

void render_json(const nlohmann::ordered_json &document, std::ostream &out) {
  out << document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

} // namespace shimwatch::report
