// Pod objects from the API server -> PodInfo, owner references -> workload,
// and the pod table attribution reads.
//
// Everything here reads untrusted JSON: every access checks the type first
// (nlohmann's typed getters throw on a mismatch, and operator[] on a const
// object without the key is undefined), so a malformed pod yields an Error
// or loses the one field that is wrong, and nothing throws.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string_view>
#include <utility>

#include "shimwatch/kubernetes.hpp"

namespace shimwatch {

namespace {

using nlohmann::json;

// obj[key] if obj is an object holding key, else nullptr.
const json *member(const json &obj, std::string_view key) {
  if (!obj.is_object())
    return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const json *member_of_type(const json &obj, std::string_view key, json::value_t type) {
  const json *m = member(obj, key);
  return m && m->type() == type ? m : nullptr;
}

const json *object_member(const json &obj, std::string_view key) {
  return member_of_type(obj, key, json::value_t::object);
}

const json *array_member(const json &obj, std::string_view key) {
  return member_of_type(obj, key, json::value_t::array);
}

// The string at obj[key], or "" when absent or not a string.
std::string string_member(const json &obj, std::string_view key) {
  const json *m = member(obj, key);
  return m && m->is_string() ? m->get<std::string>() : std::string();
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The API group of an apiVersion: "apps/v1" -> "apps", "v1" -> "".
std::string_view api_group(std::string_view api_version) {
  auto slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
}

// "web-7d4b9c8f6d" with hash "7d4b9c8f6d" -> "web"; "" when it does not fit.
std::string_view strip_suffix(std::string_view name, std::string_view suffix) {
  if (suffix.empty() || name.size() < suffix.size() + 2)
    return {};
  if (name.substr(name.size() - suffix.size()) != suffix)
    return {};
  if (name[name.size() - suffix.size() - 1] != '-')
    return {};
  return name.substr(0, name.size() - suffix.size() - 1);
}

// The controlling ownerReference (controller: true), or nullptr.
const json *controller_owner(const json &metadata) {
  const json *owners = array_member(metadata, "ownerReferences");
  if (!owners)
    return nullptr;
  for (const auto &owner : *owners) {
    const json *controller = member(owner, "controller");
    if (controller && controller->is_boolean() && controller->get<bool>())
      return &owner;
  }
  return nullptr;
}

// Image of the container called name in spec.<list>, "" if none.
std::string spec_image(const json &spec, std::string_view list, const std::string &name) {
  const json *containers = array_member(spec, list);
  if (!containers)
    return {};
  for (const auto &c : *containers)
    if (string_member(c, "name") == name)
      return string_member(c, "image");
  return {};
}

// status.<status_list> entries with a container id -> out.
void add_containers(const json &status, std::string_view status_list, const json &spec,
                    std::string_view spec_list, std::vector<KubeContainer> &out) {
  const json *statuses = array_member(status, status_list);
  if (!statuses)
    return;
  for (const auto &s : *statuses) {
    // "containerd://<hex>"; absent or "" while the container is being created.
    std::string container_id = string_member(s, "containerID");
    auto scheme_end = container_id.find("://");
    if (scheme_end == std::string::npos || scheme_end == 0 || scheme_end + 3 == container_id.size())
      continue;
    KubeContainer c;
    c.runtime = container_id.substr(0, scheme_end);
    c.id = container_id.substr(scheme_end + 3);
    c.name = string_member(s, "name");
    c.image = string_member(s, "image");
    if (c.image.empty() && !c.name.empty())
      c.image = spec_image(spec, spec_list, c.name);
    out.push_back(std::move(c));
  }
}

} // namespace

const KubeContainer *PodInfo::find_container(std::string_view id) const {
  for (const auto &c : containers)
    if (c.id == id)
      return &c;
  return nullptr;
}

Workload resolve_workload(const nlohmann::json &metadata) {
  // Only the controller counts: other owner references are garbage-collection
  // links (a pod owned by a ConfigMap-like object, by a custom resource that
  // is not what runs it), not the workload.
  const json *owner = controller_owner(metadata);
  if (!owner)
    return {};
  Workload w{string_member(*owner, "kind"), string_member(*owner, "name")};
  if (w.kind.empty() || w.name.empty())
    return {};
  // The name rules below belong to the built-in controllers: a custom
  // resource that happens to be called "Job" (another API group) keeps its
  // own name. A reference without apiVersion is taken as built-in.
  std::string api_version = string_member(*owner, "apiVersion");
  std::string_view group = api_group(api_version);
  bool builtin_apps = api_version.empty() || group == "apps" || group == "extensions";
  bool builtin_batch = api_version.empty() || group == "batch";

  if (w.kind == "ReplicaSet" && builtin_apps) {
    // The Deployment controller names its ReplicaSets "<deployment>-<hash>"
    // and labels the pods with that hash. Without the label, or when the name
    // does not end in it, the ReplicaSet was made by something else.
    std::string hash;
    if (const json *labels = object_member(metadata, "labels"))
      hash = string_member(*labels, "pod-template-hash");
    std::string_view deployment = strip_suffix(w.name, hash);
    if (!deployment.empty())
      return {"Deployment", std::string(deployment)};
    return w;
  }

  if (w.kind == "Job" && builtin_batch) {
    // The CronJob controller names its Jobs "<cronjob>-<scheduled time in
    // minutes since the epoch>": 8 digits since 1988, so 8 or more digits.
    // Name-based only: the Job's own ownerReference (to the CronJob) is not
    // in the pod, and the agent may read nothing but pods.
    auto dash = w.name.rfind('-');
    if (dash != std::string::npos && dash > 0) {
      std::string_view suffix = std::string_view(w.name).substr(dash + 1);
      if (suffix.size() >= 8 && all_digits(suffix))
        return {"CronJob", w.name.substr(0, dash)};
    }
    return w;
  }

  // DaemonSet, StatefulSet, Node (static pods: the mirror pod's owner is the
  // node, named like it), and any other controller kind as it is.
  return w;
}

Result<PodInfo> parse_pod(const nlohmann::json &pod) {
  if (!pod.is_object())
    return Error{"pod is not a JSON object"};
  const json *metadata = object_member(pod, "metadata");
  if (!metadata)
    return Error{"pod has no metadata object"};

  PodInfo info;
  info.uid = string_member(*metadata, "uid");
  info.name = string_member(*metadata, "name");
  info.namespace_name = string_member(*metadata, "namespace");
  if (info.uid.empty())
    return Error{"pod has no metadata.uid"};
  if (info.name.empty())
    return Error{"pod " + info.uid + " has no metadata.name"};
  if (info.namespace_name.empty())
    return Error{"pod " + info.uid + " has no metadata.namespace"};

  if (const json *annotations = object_member(*metadata, "annotations"))
    info.mirror_of = string_member(*annotations, "kubernetes.io/config.mirror");
  if (const json *labels = object_member(*metadata, "labels"))
    for (auto it = labels->begin(); it != labels->end(); ++it)
      if (it.value().is_string())
        info.labels.emplace(it.key(), it.value().get<std::string>());

  static const json empty = json::object();
  const json *spec = object_member(pod, "spec");
  if (!spec)
    spec = &empty;
  info.node_name = string_member(*spec, "nodeName");

  if (const json *status = object_member(pod, "status")) {
    add_containers(*status, "containerStatuses", *spec, "containers", info.containers);
    add_containers(*status, "initContainerStatuses", *spec, "initContainers", info.containers);
    add_containers(*status, "ephemeralContainerStatuses", *spec, "ephemeralContainers",
                   info.containers);
  }

  Workload w = resolve_workload(*metadata);
  info.workload_kind = std::move(w.kind);
  info.workload_name = std::move(w.name);
  return info;
}

void PodCache::index_mirror(const PodInfo &pod) {
  if (!pod.mirror_of.empty())
    mirrors_.insert_or_assign(pod.mirror_of, pod.uid);
}

void PodCache::upsert(PodInfo pod) {
  std::lock_guard lock(mutex_);
  index_mirror(pod);
  std::string uid = pod.uid;
  pods_.insert_or_assign(std::move(uid), std::move(pod));
}

void PodCache::erase(const std::string &uid) {
  std::lock_guard lock(mutex_);
  if (auto it = pods_.find(uid); it != pods_.end()) {
    if (auto m = mirrors_.find(it->second.mirror_of); m != mirrors_.end() && m->second == uid)
      mirrors_.erase(m);
    pods_.erase(it);
  }
}

void PodCache::replace_all(std::vector<PodInfo> pods) {
  std::unordered_map<std::string, PodInfo> fresh;
  std::unordered_map<std::string, std::string> mirrors;
  fresh.reserve(pods.size());
  for (auto &pod : pods) {
    if (!pod.mirror_of.empty())
      mirrors.insert_or_assign(pod.mirror_of, pod.uid);
    std::string uid = pod.uid;
    fresh.insert_or_assign(std::move(uid), std::move(pod));
  }
  std::lock_guard lock(mutex_);
  pods_.swap(fresh);
  mirrors_.swap(mirrors);
  // The old tables are freed after the unlock, when they go out of scope.
}

std::optional<PodInfo> PodCache::find(std::string_view uid) const {
  std::lock_guard lock(mutex_);
  std::string key(uid);
  auto it = pods_.find(key);
  if (it == pods_.end()) {
    auto m = mirrors_.find(key);
    if (m == mirrors_.end())
      return std::nullopt;
    it = pods_.find(m->second);
    if (it == pods_.end())
      return std::nullopt;
  }
  return it->second;
}

size_t PodCache::size() const {
  std::lock_guard lock(mutex_);
  return pods_.size();
}

} // namespace shimwatch
