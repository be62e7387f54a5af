// The data of a static scan: Kubernetes objects read from manifests or from
// the API server, what the rules found in their pod specs, and per-input errors.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shimwatch::scan {

// high: the workload uses the node's Docker Engine directly and breaks when it
// is gone (the socket mounted, docker commands, DOCKER_HOST on a socket).
// medium: Docker access or Docker's own files that most likely break, or a
// Docker dependency that needs a plan (socket directory, /var/lib/docker,
// /etc/docker, DOCKER_HOST over TCP or from elsewhere, docker and dind images).
// low: a way to Docker without evidence of use (volumes no container mounts,
// broad parents such as /var/lib or /etc, privileged + hostPID).
enum class Severity { low = 0, medium = 1, high = 2 };

std::string_view severity_name(Severity severity);

struct ObjectRef {
  std::string kind;
  std::string name;
};

// Where an object came from: a file (and its document, 1-based) or the cluster.
struct SourceRef {
  std::string kind;
  std::string name;
  std::string file;          // empty for objects read from the API server
  int document = 0;          // 1-based document in file; 0 when not from a file
  std::string helm_template; // the "# Source: chart/templates/x.yaml" of Helm output
};

// One object with a pod spec (or a List member) as read, before grouping.
// (The throw clang-tidy 14 finds in its implicit move constructor is inside
// nlohmann::json's own move constructor, which is noexcept.)
// NOLINTNEXTLINE(bugprone-exception-escape)
struct ScanObject {
  nlohmann::json object;
  SourceRef source;
  bool in_static_pod_dir = false; // a Pod file from a kubelet manifests directory
};

struct Finding {
  Severity severity = Severity::low;
  std::string rule;
  std::string reason;
  std::string container;      // empty for pod-level findings (a volume no container mounts)
  std::string container_type; // "container", "initContainer", "ephemeralContainer" or ""
  std::string field;          // path in the source object, e.g. spec.template.spec.volumes[0]
  std::string value;          // the evidence: the host path, the image, the command, ...
  SourceRef source;
  std::vector<ObjectRef> owner_chain; // the source object first, then its owners upwards
  std::string workload_id;            // the Workload it belongs to
};

// What the socket mount looks like, for telling "mounted and used" from
// "mounted, not used" once runtime evidence is merged in.
struct SocketMount {
  std::string container;
  std::string host_path;
  std::string mount_path;
  std::string socket_path; // where the socket is inside the container
};

// The unit findings are grouped by: the top of the owner chain.
struct Workload {
  std::string id; // namespace/Kind/name ("-" for an empty namespace)
  std::string namespace_name;
  std::string kind;
  std::string name;
  // The owner as the runtime agent names it (shimwatch.origin.workload): equal
  // to kind/name except for static pods (Node, the node name) and bare pods (empty).
  ObjectRef agent_workload;
  bool static_pod = false;
  std::string state; // "active", "scaled-to-zero", "suspended", or "" when unknown
  std::optional<long long> replicas;
  std::vector<std::string> pods; // pods seen (live mode), for the merge
  std::vector<SourceRef> sources;
  std::vector<SocketMount> socket_mounts;
  std::vector<size_t> findings; // indices into ScanReport::findings
  Severity max_severity = Severity::low;
};

struct InputError {
  std::string input; // file name, "<stdin>", or the API path
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;
  std::string message;
};

struct ScanReport {
  std::string mode; // "manifests" or "cluster"
  std::vector<std::string> inputs;
  std::string server;
  std::string namespace_name;
  size_t objects = 0; // Kubernetes objects read
  std::vector<Workload> workloads;
  std::vector<Finding> findings;
  std::vector<InputError> errors;
};

} // namespace shimwatch::scan
