#include "scan/workload_scan.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "scan/pod_spec_rules.hpp"
#include "shimwatch/kubernetes.hpp"

namespace shimwatch::scan {

namespace {

using nlohmann::json;

const json &object_member(const json &object, std::string_view key) {
  static const json empty = json::object();
  if (!object.is_object())
    return empty;
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : empty;
}

std::string string_member(const json &object, std::string_view key) {
  if (!object.is_object())
    return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json &metadata_of(const json &object) {
  return object_member(object, "metadata");
}

std::string namespace_of(const json &object) {
  return string_member(metadata_of(object), "namespace");
}

// The controller ownerReference, if any.
std::optional<ObjectRef> controller_of(const json &metadata) {
  auto refs = metadata.find("ownerReferences");
  if (refs == metadata.end() || !refs->is_array())
    return std::nullopt;
  for (const auto &ref : *refs)
    if (ref.is_object() && ref.value("controller", false))
      return ObjectRef{string_member(ref, "kind"), string_member(ref, "name")};
  return std::nullopt;
}

using ObjectKey = std::tuple<std::string, std::string, std::string>; // namespace, kind, name

std::map<ObjectKey, const ScanObject *> index_objects(const std::vector<ScanObject> &objects) {
  std::map<ObjectKey, const ScanObject *> index;
  for (const auto &object : objects)
    index.emplace(ObjectKey{namespace_of(object.object), object.source.kind, object.source.name},
                  &object);
  return index;
}

std::vector<ObjectRef> chain_with(const ScanObject &object,
                                  const std::map<ObjectKey, const ScanObject *> &index) {
  std::vector<ObjectRef> chain;
  const json *current = &object.object;
  std::string ns = namespace_of(object.object);
  for (int depth = 0; depth < 8; ++depth) {
    auto ref = controller_of(metadata_of(*current));
    if (!ref)
      break;
    chain.push_back(*ref);
    if (ref->kind == "Node")
      break;
    auto found = index.find(ObjectKey{ns, ref->kind, ref->name});
    if (found != index.end() && found->second->object.is_object()) {
      current = &found->second->object;
      continue;
    }
    // The owner is not among the objects: name it the way the agent does.
    shimwatch::Workload guess = resolve_workload(metadata_of(*current));
    if (!guess.kind.empty() && (guess.kind != ref->kind || guess.name != ref->name))
      chain.push_back({guess.kind, guess.name});
    break;
  }
  return chain;
}

int template_rank(std::string_view kind) {
  if (kind == "Pod")
    return 2;
  if (kind == "ReplicaSet" || kind == "Job" || kind == "ReplicationController")
    return 1;
  return 0;
}

bool is_static_pod(const ScanObject &object, const std::vector<ObjectRef> &chain) {
  if (object.source.kind != "Pod")
    return false;
  if (!chain.empty())
    return chain.back().kind == "Node";
  const json &annotations = object_member(metadata_of(object.object), "annotations");
  return object.in_static_pod_dir || annotations.contains("kubernetes.io/config.mirror") ||
         string_member(annotations, "kubernetes.io/config.source") == "file";
}

void set_state(Workload &workload, const ScanObject &object) {
  const json &spec = object_member(object.object, "spec");
  const std::string &kind = object.source.kind;
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "ReplicaSet" ||
      kind == "ReplicationController") {
    auto replicas = spec.find("replicas");
    long long count = replicas != spec.end() && replicas->is_number_integer()
                          ? replicas->get<long long>()
                          : 1; // the API's default
    workload.replicas = count;
    workload.state = count == 0 ? "scaled-to-zero" : "active";
  } else if (kind == "CronJob" || kind == "Job") {
    auto suspend = spec.find("suspend");
    bool suspended = suspend != spec.end() && suspend->is_boolean() && suspend->get<bool>();
    workload.state = suspended ? "suspended" : "active";
  } else {
    workload.state = "active";
  }
}

std::string workload_id(const std::string &ns, const std::string &kind, const std::string &name) {
  return (ns.empty() ? "-" : ns) + "/" + kind + "/" + name;
}

} // namespace

std::string pod_spec_path(std::string_view kind) {
  if (kind == "Pod")
    return "spec";
  if (kind == "Deployment" || kind == "DaemonSet" || kind == "StatefulSet" ||
      kind == "ReplicaSet" || kind == "Job" || kind == "ReplicationController")
    return "spec.template.spec";
  if (kind == "CronJob")
    return "spec.jobTemplate.spec.template.spec";
  if (kind == "PodTemplate")
    return "template.spec";
  return "";
}

std::vector<ObjectRef> owner_chain(const ScanObject &object,
                                   const std::vector<ScanObject> &objects) {
  return chain_with(object, index_objects(objects));
}

void scan_objects(const std::vector<ScanObject> &objects, ScanReport &report) {
  auto index = index_objects(objects);
  std::vector<const ScanObject *> order;
  for (const auto &object : objects)
    if (!pod_spec_path(object.source.kind).empty())
      order.push_back(&object);
  std::stable_sort(order.begin(), order.end(), [](const ScanObject *a, const ScanObject *b) {
    return template_rank(a->source.kind) < template_rank(b->source.kind);
  });

  std::map<std::string, Workload> workloads;
  std::vector<Finding> findings;
  std::set<std::string> seen_findings; // workload id + rule + container + value
  for (const ScanObject *object : order) {
    std::string ns = namespace_of(object->object);
    auto chain = chain_with(*object, index);
    bool static_pod = is_static_pod(*object, chain);
    if (static_pod && chain.empty()) {
      std::string node = string_member(object_member(object->object, "spec"), "nodeName");
      chain.push_back({"Node", node});
    }
    // Static pods are grouped as pods: every one of a node has the same owner.
    ObjectRef top = chain.empty() || static_pod
                        ? ObjectRef{object->source.kind, object->source.name}
                        : chain.back();
    std::string id = workload_id(ns, top.kind, top.name);
    auto [it, inserted] = workloads.try_emplace(id);
    Workload &workload = it->second;
    if (inserted) {
      workload.id = id;
      workload.namespace_name = ns;
      workload.kind = top.kind;
      workload.name = top.name;
      workload.static_pod = static_pod;
      // A bare pod has no workload in the agent's events, only its pod name.
      if (static_pod)
        workload.agent_workload = chain.back();
      else if (top.kind != "Pod")
        workload.agent_workload = top;
    }
    workload.sources.push_back(object->source);
    if (object->source.kind == top.kind && object->source.name == top.name && !static_pod)
      set_state(workload, *object);
    if (object->source.kind == "Pod") {
      workload.pods.push_back(object->source.name);
      if (workload.state.empty())
        workload.state = "active";
    }

    std::vector<ObjectRef> owners{{object->source.kind, object->source.name}};
    owners.insert(owners.end(), chain.begin(), chain.end());
    auto scanned = scan_pod_spec(
        [&]() -> const json & {
          // Walk "spec.template.spec" down the object.
          const json *node = &object->object;
          std::string path = pod_spec_path(object->source.kind);
          size_t pos = 0;
          while (pos <= path.size()) {
            size_t dot = std::min(path.find('.', pos), path.size());
            node = &object_member(*node, path.substr(pos, dot - pos));
            pos = dot + 1;
          }
          return *node;
        }(),
        pod_spec_path(object->source.kind));
    for (auto &finding : scanned.findings) {
      std::string key = id + "\n" + finding.rule + "\n" + finding.container_type + "\n" +
                        finding.container + "\n" + finding.value;
      if (!seen_findings.insert(key).second)
        continue;
      finding.source = object->source;
      finding.owner_chain = owners;
      finding.workload_id = id;
      findings.push_back(std::move(finding));
    }
    for (auto &mount : scanned.socket_mounts) {
      bool known = std::any_of(
          workload.socket_mounts.begin(), workload.socket_mounts.end(), [&](const auto &m) {
            return m.container == mount.container && m.host_path == mount.host_path &&
                   m.mount_path == mount.mount_path;
          });
      if (!known)
        workload.socket_mounts.push_back(std::move(mount));
    }
  }

  std::stable_sort(findings.begin(), findings.end(), [](const Finding &a, const Finding &b) {
    return std::tie(b.severity, a.workload_id, a.container, a.field) <
           std::tie(a.severity, b.workload_id, b.container, b.field);
  });
  report.findings = std::move(findings);
  report.workloads.clear();
  std::map<std::string, size_t> position;
  for (auto &[id, workload] : workloads) {
    position[id] = report.workloads.size();
    report.workloads.push_back(std::move(workload));
  }
  for (size_t i = 0; i < report.findings.size(); ++i) {
    Workload &workload = report.workloads[position[report.findings[i].workload_id]];
    if (workload.findings.empty() || report.findings[i].severity > workload.max_severity)
      workload.max_severity = report.findings[i].severity;
    workload.findings.push_back(i);
  }
}

} // namespace shimwatch::scan
