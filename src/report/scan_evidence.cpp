#include "report/scan_evidence.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "shimwatch/kubernetes.hpp"

namespace shimwatch::report {

namespace {

using nlohmann::json;

// The scan's schema version this reader understands (new fields are fine).
constexpr int supported_scan_schema = 1;

std::string text_member(const json &object, const char *name) {
  const auto found = object.find(name);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

int severity_rank(const std::string &severity) {
  if (severity == "high")
    return 0;
  if (severity == "medium")
    return 1;
  if (severity == "low")
    return 2;
  return 3;
}

bool namespace_matches(const ScanWorkload &workload, const OriginStats &origin) {
  // A manifest without a namespace is applied wherever it is told to be.
  return workload.namespace_name.empty() || workload.namespace_name == "-" ||
         workload.namespace_name == origin.namespace_name;
}

bool is_listed_pod(const ScanWorkload &workload, const std::string &pod_name) {
  return std::find(workload.pods.begin(), workload.pods.end(), pod_name) != workload.pods.end();
}

// The kubelet names a static pod's mirror "<name>-<node>".
bool is_static_pod_name(const ScanWorkload &workload, const std::string &pod_name) {
  if (!workload.agent_name.empty())
    return pod_name == workload.name + "-" + workload.agent_name;
  return pod_name.starts_with(workload.name + "-");
}

bool matches_static_pod(const ScanWorkload &workload, const OriginStats &origin) {
  if (origin.workload_kind == "Pod") // a record from before the mirror pod was known
    return is_static_pod_name(workload, origin.workload_name) ||
           is_listed_pod(workload, origin.workload_name);
  if (origin.workload_kind != "Node")
    return false;
  if (!workload.agent_name.empty() && workload.agent_name != origin.workload_name)
    return false;
  // All static pods of a node share the node's row: the pod names tell them apart.
  for (const auto &pod : origin.pods.top(origin.pods.capacity()))
    if (is_static_pod_name(workload, pod.key) || is_listed_pod(workload, pod.key))
      return true;
  return false;
}

// The names the agent may have written for this workload's pods.
std::vector<Workload> agent_names_of(const ScanWorkload &workload) {
  std::vector<Workload> names;
  auto add = [&](Workload candidate) {
    if (candidate.kind.empty() || candidate.name.empty())
      return;
    for (const auto &known : names)
      if (known.kind == candidate.kind && known.name == candidate.name)
        return;
    names.push_back(std::move(candidate));
  };
  add({workload.agent_kind, workload.agent_name});
  add({workload.kind, workload.name});
  // The agent's own owner resolution, so a Job scheduled by a CronJob (named
  // "<cronjob>-<minutes>") is found under the CronJob as the agent files it.
  const json as_owner = {
      {"ownerReferences",
       json::array({{{"kind", workload.kind}, {"name", workload.name}, {"controller", true}}})}};
  add(resolve_workload(as_owner));
  return names;
}

EvidenceRow row_for_origin(const OriginStats &origin, const ScanDocument &scan) {
  EvidenceRow row;
  row.kind = EvidenceKind::used_without_mount;
  row.origins.push_back(&origin);
  switch (origin.type) {
  case OriginGroup::workload:
    for (const auto &workload : scan.workloads)
      if (scan_workload_matches(workload, origin)) {
        row.workload = &workload;
        break;
      }
    row.note = row.workload ? "in the scan with no finding: the access is not in the spec's "
                              "mounts (privileged, hostPID, a path no rule covers)"
                            : "workload not in the scan";
    break;
  case OriginGroup::container:
    row.note = "container outside Kubernetes, no spec";
    break;
  case OriginGroup::systemd_unit:
  case OriginGroup::user_session:
  case OriginGroup::host:
    row.note = "host process, no spec";
    break;
  }
  return row;
}

std::uint64_t row_calls(const EvidenceRow &row) {
  std::uint64_t calls = 0;
  for (const auto *origin : row.origins)
    calls += origin->calls;
  return calls;
}

} // namespace

std::string_view evidence_kind_name(EvidenceKind kind) {
  switch (kind) {
  case EvidenceKind::mounted_and_used:
    return "mounted_and_used";
  case EvidenceKind::mounted_not_used:
    return "mounted_not_used";
  case EvidenceKind::used_without_mount:
    return "used_without_mount";
  }
  return "used_without_mount";
}

ScanLoadResult parse_scan_document(std::string_view text, const std::string &path) {
  const json document = json::parse(text, nullptr, false);
  if (document.is_discarded())
    return {std::nullopt, path + ": not valid JSON (expected the output of shimwatch scan "
                                 "--format json)"};
  auto not_scan = [&](const std::string &why) {
    return ScanLoadResult{std::nullopt, path + ": not a shimwatch scan document: " + why};
  };
  if (!document.is_object())
    return not_scan("the top level is not an object");
  const auto version = document.find("schema_version");
  if (version == document.end() || !version->is_number_integer())
    return not_scan("no schema_version");
  if (version->get<int>() != supported_scan_schema)
    return not_scan("schema_version " + version->dump() + " is not supported (expected " +
                    std::to_string(supported_scan_schema) + ")");
  const auto findings = document.find("findings");
  const auto workloads = document.find("workloads");
  if (findings == document.end() || !findings->is_array())
    return not_scan("no findings array");
  if (workloads == document.end() || !workloads->is_array())
    return not_scan("no workloads array");

  ScanDocument scan;
  scan.path = path;
  scan.generated_at = text_member(document, "generated_at");
  for (std::size_t w = 0; w < workloads->size(); ++w) {
    const json &entry = (*workloads)[w];
    const std::string where = "workloads[" + std::to_string(w) + "]";
    if (!entry.is_object())
      return not_scan(where + " is not an object");
    ScanWorkload workload;
    workload.id = text_member(entry, "id");
    workload.namespace_name = text_member(entry, "namespace");
    workload.kind = text_member(entry, "kind");
    workload.name = text_member(entry, "name");
    if (workload.kind.empty() || workload.name.empty())
      return not_scan(where + " has no kind or name");
    if (const auto agent = entry.find("agent_workload");
        agent != entry.end() && agent->is_object()) {
      workload.agent_kind = text_member(*agent, "kind");
      workload.agent_name = text_member(*agent, "name");
    }
    workload.static_pod = entry.value("static_pod", false);
    workload.state = text_member(entry, "state");
    workload.docker_socket_mounted = entry.value("docker_socket_mounted", false);
    workload.max_severity = text_member(entry, "max_severity");
    if (const auto pods = entry.find("pods"); pods != entry.end() && pods->is_array())
      for (const auto &pod : *pods)
        if (pod.is_string())
          workload.pods.push_back(pod.get<std::string>());
    if (const auto indices = entry.find("findings"); indices != entry.end()) {
      if (!indices->is_array())
        return not_scan(where + ".findings is not an array");
      for (const auto &index : *indices) {
        if (!index.is_number_unsigned() || index.get<std::size_t>() >= findings->size())
          return not_scan(where + ".findings has an index outside findings[]");
        const json &finding = (*findings)[index.get<std::size_t>()];
        if (!finding.is_object())
          return not_scan("findings[" + index.dump() + "] is not an object");
        workload.findings.push_back({text_member(finding, "rule"), text_member(finding, "severity"),
                                     text_member(finding, "reason"), text_member(finding, "field"),
                                     text_member(finding, "container")});
      }
    }
    scan.workloads.push_back(std::move(workload));
  }
  return {std::move(scan), {}};
}

ScanLoadResult load_scan_file(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return {std::nullopt, path + ": cannot be read"};
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad())
    return {std::nullopt, path + ": cannot be read"};
  return parse_scan_document(text.str(), path);
}

bool scan_workload_matches(const ScanWorkload &workload, const OriginStats &origin) {
  if (origin.type != OriginGroup::workload || !namespace_matches(workload, origin))
    return false;
  if (workload.static_pod)
    return matches_static_pod(workload, origin);
  if (origin.workload_kind == "Pod") {
    // A bare pod, or a pod whose owner the agent did not know yet: by pod name.
    if (workload.agent_kind.empty() && workload.kind == "Pod" &&
        origin.workload_name == workload.name)
      return true;
    if (is_listed_pod(workload, origin.workload_name))
      return true;
  }
  for (const auto &name : agent_names_of(workload))
    if (name.kind == origin.workload_kind && name.name == origin.workload_name)
      return true;
  return false;
}

Evidence merge_evidence(const ScanDocument &scan, const std::vector<const OriginStats *> &origins) {
  Evidence evidence;
  evidence.scan = &scan;
  std::vector<EvidenceRow> used, not_used, without_mount;
  std::map<std::string, bool> origin_claimed;
  for (const auto &workload : scan.workloads) {
    if (workload.findings.empty())
      continue;
    EvidenceRow row;
    row.workload = &workload;
    for (const auto *origin : origins)
      if (scan_workload_matches(workload, *origin)) {
        row.origins.push_back(origin);
        origin_claimed[origin->key] = true;
      }
    row.kind =
        row.origins.empty() ? EvidenceKind::mounted_not_used : EvidenceKind::mounted_and_used;
    (row.origins.empty() ? not_used : used).push_back(std::move(row));
  }
  for (const auto *origin : origins)
    if (!origin_claimed.contains(origin->key))
      without_mount.push_back(row_for_origin(*origin, scan));

  std::stable_sort(used.begin(), used.end(), [](const EvidenceRow &a, const EvidenceRow &b) {
    return row_calls(a) > row_calls(b);
  });
  std::stable_sort(
      not_used.begin(), not_used.end(), [](const EvidenceRow &a, const EvidenceRow &b) {
        return severity_rank(a.workload->max_severity) < severity_rank(b.workload->max_severity);
      });
  for (auto *group : {&used, &not_used, &without_mount})
    for (auto &row : *group) {
      for (const auto *origin : row.origins)
        evidence.row_of_origin.try_emplace(origin->key, evidence.rows.size());
      evidence.rows.push_back(std::move(row));
    }
  return evidence;
}

} // namespace shimwatch::report
