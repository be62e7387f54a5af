// Objects -> workloads: owner chains (Pod -> ReplicaSet -> Deployment,
// Pod -> Job -> CronJob, static pods -> Node), the rules over every pod spec,
// findings de-duplicated per workload.
#pragma once

#include <vector>

#include "scan/scan_model.hpp"

namespace shimwatch::scan {

// Owners upwards from object, as far as objects (same namespace) or the
// agent's naming rules (pod-template-hash, a CronJob's scheduled-time suffix)
// tell. Empty for an object without a controller.
std::vector<ObjectRef> owner_chain(const ScanObject &object,
                                   const std::vector<ScanObject> &objects);

// Where a kind keeps its pod spec ("spec.template.spec"), or "" for kinds
// without one.
std::string pod_spec_path(std::string_view kind);

// Scans every object with a pod spec into report.workloads and
// report.findings. Templates (Deployment, CronJob, ...) go first, so a
// finding shared by a template and its pods is reported once, from the
// template; what only a pod has (an ephemeral container) comes from the pod.
void scan_objects(const std::vector<ScanObject> &objects, ScanReport &report);

} // namespace shimwatch::scan
