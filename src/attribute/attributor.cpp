#include "attribute/process_table.hpp"
#include "shimwatch/attribute.hpp"
#include "shimwatch/kubernetes.hpp"

namespace shimwatch {

Attributor::Attributor(const Config &config, const PodCache *pods)
    : processes_(std::make_unique<ProcessTable>(config.process_table_size)), pods_(pods),
      labels_(config.kubernetes.labels) {}

Attributor::~Attributor() = default;

void Attributor::scan_processes() {
  processes_->scan();
}

size_t Attributor::process_table_size() const {
  return processes_->size();
}

void Attributor::attribute(Event &event) {
  place(event);
  enrich(event);
}

void Attributor::place(Event &event) const {
  event.origin.cgroup = parse_cgroup_path(event.cgroup_path);
  event.origin.type = event.origin.cgroup.type;
}

void Attributor::enrich(Event &event) {
  Origin &origin = event.origin;

  // Ancestry stops at the container boundary: parents in another pid
  // namespace (containerd-shim, runc) are the runtime, not the workload.
  auto &ancestry = event.process.ancestry;
  for (size_t i = 0; i < ancestry.size(); ++i) {
    if (ancestry[i].pid_ns != event.pid_ns) {
      ancestry.resize(i);
      event.process.ancestry_truncated = false;
      break;
    }
    ancestry[i].executable = processes_->executable(ancestry[i].pid, ancestry[i].start_boottime_ns);
  }

  if (origin.cgroup.pod_uid.empty() || !pods_)
    return;
  auto pod = pods_->find(origin.cgroup.pod_uid);
  if (!pod) {
    ++kubernetes_misses_;
    return;
  }
  origin.kubernetes_known = true;
  origin.namespace_name = pod->namespace_name;
  origin.pod_name = pod->name;
  origin.workload_kind = pod->workload_kind;
  origin.workload_name = pod->workload_name;
  for (const auto &key : labels_)
    if (auto it = pod->labels.find(key); it != pod->labels.end())
      origin.labels[key] = it->second;
  if (const KubeContainer *c = pod->find_container(origin.cgroup.container_id)) {
    origin.container_name = c->name;
    origin.container_image = c->image;
    if (origin.cgroup.container_runtime.empty())
      origin.cgroup.container_runtime = c->runtime;
  }
}

} // namespace shimwatch
