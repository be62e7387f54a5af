#include "scan/scan_output.hpp"
#include "shimwatch/text.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>

#include "shimwatch/version.hpp"

namespace shimwatch::scan {

namespace {

using nlohmann::json;

json source_json(const SourceRef &source) {
  json out = {{"kind", source.kind}, {"name", source.name}};
  if (!source.file.empty()) {
    out["file"] = source.file;
    out["document"] = source.document;
  }
  if (!source.helm_template.empty())
    out["helm_template"] = source.helm_template;
  return out;
}

json ref_json(const ObjectRef &ref) {
  return {{"kind", ref.kind}, {"name", ref.name}};
}

std::string utc_now() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::array<size_t, 3> count_by_severity(const ScanReport &report) {
  std::array<size_t, 3> counts{};
  for (const auto &finding : report.findings)
    ++counts[static_cast<size_t>(finding.severity)];
  return counts;
}

} // namespace

nlohmann::json scan_to_json(const ScanReport &report) {
  auto counts = count_by_severity(report);
  size_t with_findings = std::count_if(report.workloads.begin(), report.workloads.end(),
                                       [](const Workload &w) { return !w.findings.empty(); });
  size_t socket_mounted = std::count_if(report.workloads.begin(), report.workloads.end(),
                                        [](const Workload &w) { return !w.socket_mounts.empty(); });
  json source = {{"mode", report.mode}};
  if (report.mode == "cluster") {
    source["server"] = report.server;
    source["namespace"] = report.namespace_name;
  } else {
    source["inputs"] = report.inputs;
  }

  json findings = json::array();
  for (size_t i = 0; i < report.findings.size(); ++i) {
    const Finding &f = report.findings[i];
    const Workload *workload = nullptr;
    for (const auto &w : report.workloads)
      if (w.id == f.workload_id)
        workload = &w;
    json owners = json::array();
    for (const auto &ref : f.owner_chain)
      owners.push_back(ref_json(ref));
    findings.push_back({{"index", i},
                        {"severity", severity_name(f.severity)},
                        {"rule", f.rule},
                        {"reason", f.reason},
                        {"workload_id", f.workload_id},
                        {"namespace", workload ? workload->namespace_name : ""},
                        {"workload_kind", workload ? workload->kind : ""},
                        {"workload_name", workload ? workload->name : ""},
                        {"owner_chain", owners},
                        {"container", f.container},
                        {"container_type", f.container_type},
                        {"field", f.field},
                        {"value", f.value},
                        {"source", source_json(f.source)}});
  }

  json workloads = json::array();
  for (const auto &w : report.workloads) {
    json sources = json::array();
    for (const auto &s : w.sources)
      sources.push_back(source_json(s));
    json mounts = json::array();
    for (const auto &m : w.socket_mounts)
      mounts.push_back({{"container", m.container},
                        {"host_path", m.host_path},
                        {"mount_path", m.mount_path},
                        {"socket_path", m.socket_path}});
    std::vector<std::string> rules;
    for (size_t index : w.findings)
      if (std::find(rules.begin(), rules.end(), report.findings[index].rule) == rules.end())
        rules.push_back(report.findings[index].rule);
    workloads.push_back(
        {{"id", w.id},
         {"namespace", w.namespace_name},
         {"kind", w.kind},
         {"name", w.name},
         {"agent_workload", ref_json(w.agent_workload)},
         {"static_pod", w.static_pod},
         {"state", w.state},
         {"replicas", w.replicas ? json(*w.replicas) : json(nullptr)},
         {"pods", w.pods},
         {"docker_socket_mounted", !w.socket_mounts.empty()},
         {"socket_mounts", mounts},
         {"max_severity",
          w.findings.empty() ? json(nullptr) : json(std::string(severity_name(w.max_severity)))},
         {"rules", rules},
         {"findings", w.findings},
         {"sources", sources}});
  }

  json errors = json::array();
  for (const auto &e : report.errors) {
    json error = {{"input", e.input}, {"message", e.message}};
    if (e.line > 0)
      error["line"] = e.line;
    if (e.column > 0)
      error["column"] = e.column;
    errors.push_back(error);
  }

  return {{"schema_version", kScanSchemaVersion},
          {"generator", "shimwatch " + std::string(version())},
          {"generated_at", utc_now()},
          {"source", source},
          {"summary",
           {{"objects", report.objects},
            {"workloads", report.workloads.size()},
            {"workloads_with_findings", with_findings},
            {"workloads_with_socket_mounted", socket_mounted},
            {"findings", report.findings.size()},
            {"high", counts[2]},
            {"medium", counts[1]},
            {"low", counts[0]},
            {"errors", report.errors.size()}}},
          {"findings", findings},
          {"workloads", workloads},
          {"errors", errors}};
}

std::string scan_to_table(const ScanReport &report) {
  std::vector<std::array<std::string, 7>> rows;
  rows.push_back({"SEVERITY", "NAMESPACE", "WORKLOAD", "CONTAINER", "RULE", "FIELD", "REASON"});
  for (const auto &f : report.findings) {
    const Workload *workload = nullptr;
    for (const auto &w : report.workloads)
      if (w.id == f.workload_id)
        workload = &w;
    std::string ns = workload && !workload->namespace_name.empty() ? workload->namespace_name : "-";
    std::string name = workload ? workload->kind + "/" + workload->name : f.workload_id;
    if (workload && workload->static_pod)
      name += " (static)";
    else if (workload && (workload->state == "suspended" || workload->state == "scaled-to-zero"))
      name += " (" + workload->state + ")";
    std::string container = f.container.empty() ? "-" : f.container;
    if (f.container_type == "initContainer")
      container += " (init)";
    else if (f.container_type == "ephemeralContainer")
      container += " (ephemeral)";
    // Names and reasons quote the manifests (a DOCKER_HOST value, a pod
    // name): a terminal shows them, escape sequences and line breaks made
    // visible.
    rows.push_back({std::string(severity_name(f.severity)), utf8::escape_controls(ns),
                    utf8::escape_controls(name), utf8::escape_controls(container), f.rule,
                    utf8::escape_controls(f.field), utf8::escape_controls(f.reason)});
  }
  std::array<size_t, 7> widths{};
  for (const auto &row : rows)
    for (size_t c = 0; c < row.size(); ++c)
      widths[c] = std::max(widths[c], row[c].size());
  std::string out;
  if (!report.findings.empty())
    for (const auto &row : rows) {
      std::string line;
      for (size_t c = 0; c < row.size(); ++c) {
        line += row[c];
        if (c + 1 < row.size())
          line += std::string(widths[c] - row[c].size() + 2, ' ');
      }
      out += line + "\n";
    }

  auto counts = count_by_severity(report);
  size_t with_findings = std::count_if(report.workloads.begin(), report.workloads.end(),
                                       [](const Workload &w) { return !w.findings.empty(); });
  out +=
      (report.findings.empty()
           ? std::string("No Docker dependencies found")
           : std::to_string(report.findings.size()) + " finding" +
                 (report.findings.size() == 1 ? "" : "s") + " (" + std::to_string(counts[2]) +
                 " high, " + std::to_string(counts[1]) + " medium, " + std::to_string(counts[0]) +
                 " low) in " + std::to_string(with_findings) + " of") +
      (report.findings.empty() ? " in " : " ") + std::to_string(report.workloads.size()) +
      " workload" + (report.workloads.size() == 1 ? "" : "s");
  if (!report.errors.empty())
    out += "; " + std::to_string(report.errors.size()) + " input error" +
           (report.errors.size() == 1 ? "" : "s") + " (see stderr)";
  out += ".\n";
  return out;
}

} // namespace shimwatch::scan
