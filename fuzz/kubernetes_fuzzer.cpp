// Pod objects and watch streams as the API server (or whatever answers in its
// place) sends them: one JSON watch event per line, or one list page. Each
// line goes through the steps the watch takes with it: parse, type and
// object, parse_pod, the workload, then the pod cache.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "shimwatch/kubernetes.hpp"

using nlohmann::json;

namespace {

void take_pod(const json &object, shimwatch::PodCache &cache) {
  auto pod = shimwatch::parse_pod(object);
  if (!pod)
    return;
  std::string uid = pod->uid;
  std::string mirror = pod->mirror_of;
  if (pod->node_name.empty())
    cache.erase(uid);
  else
    cache.upsert(std::move(pod).value());
  if (auto found = cache.find(mirror.empty() ? uid : mirror))
    (void)found->find_container(uid);
}

void watch_line(std::string_view line, shimwatch::PodCache &cache) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
    line.remove_suffix(1);
  if (line.empty())
    return;
  json event = json::parse(line, nullptr, false);
  if (event.is_discarded() || !event.is_object())
    return;
  auto metadata = event.find("metadata");
  if (metadata != event.end() && metadata->is_object())
    (void)shimwatch::resolve_workload(*metadata);
  auto items = event.find("items"); // a list page (API server) or the kubelet's /pods
  if (items != event.end() && items->is_array()) {
    for (const json &item : *items)
      if (item.is_object())
        take_pod(item, cache);
    return;
  }
  auto type = event.find("type");
  auto object = event.find("object");
  if (type == event.end() || !type->is_string() || object == event.end() || !object->is_object()) {
    take_pod(event, cache); // a bare Pod
    return;
  }
  if (*type == "ADDED" || *type == "MODIFIED") {
    take_pod(*object, cache);
  } else if (*type == "DELETED") {
    auto meta = object->find("metadata");
    if (meta != object->end() && meta->is_object()) {
      auto uid = meta->find("uid");
      if (uid != meta->end() && uid->is_string())
        cache.erase(uid->get<std::string>());
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view stream(reinterpret_cast<const char *>(data), size);
  shimwatch::PodCache cache;
  size_t start = 0;
  while (start <= stream.size()) {
    size_t nl = stream.find('\n', start);
    if (nl == std::string_view::npos)
      nl = stream.size();
    watch_line(stream.substr(start, nl - start), cache);
    start = nl + 1;
  }
  return 0;
}
