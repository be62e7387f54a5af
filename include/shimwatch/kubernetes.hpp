// kubernetes: pod metadata from the API server (list + watch of this node's
// pods) or from the kubelet (polls of its /pods), kept in a cache that
// attribution reads without ever blocking.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shimwatch/result.hpp"

namespace shimwatch {

struct KubeContainer {
  std::string id;      // hex id, without the "containerd://" scheme
  std::string runtime; // the scheme: "containerd", "cri-o", "docker"
  std::string name;
  std::string image;
};

struct PodInfo {
  std::string uid;
  std::string namespace_name;
  std::string name;
  std::string node_name;
  std::map<std::string, std::string> labels;
  // Regular, init and ephemeral containers that have an id in the pod status.
  std::vector<KubeContainer> containers;
  // The owning workload: "Deployment", "DaemonSet", "StatefulSet", "Job",
  // "CronJob", "ReplicaSet" (not from a Deployment), "Node" (static pod),
  // other owner kinds as they are; empty for a bare pod.
  std::string workload_kind;
  std::string workload_name;
  // Static pods: the uid kubelet runs them under (and names their cgroup
  // after), from the mirror pod's kubernetes.io/config.mirror annotation; the
  // mirror pod's own metadata.uid differs.
  std::string mirror_of;

  const KubeContainer *find_container(std::string_view id) const;
};

// One core/v1 Pod object as the API server serves it. An Error when
// metadata.uid, metadata.name or metadata.namespace is missing.
Result<PodInfo> parse_pod(const nlohmann::json &pod);

// ownerReferences (the controller one) + labels -> workload kind and name.
// ReplicaSet "web-7d4b9c8f6d" with label pod-template-hash=7d4b9c8f6d is
// Deployment "web"; Job "backup-28930120" (a CronJob's scheduled-time suffix)
// is CronJob "backup". No extra API calls: the agent may only read pods.
// Only an owner with controller: true counts (none: empty kind and name). The
// CronJob rule is name-based only (a suffix of 8 or more digits, the
// scheduled time in minutes); both rules apply to the built-in API groups
// (apps/extensions, batch) or an owner without apiVersion.
struct Workload {
  std::string kind;
  std::string name;
};
Workload resolve_workload(const nlohmann::json &pod_metadata);

// Thread-safe pod table: the watcher writes, attribution reads.
class PodCache {
public:
  void upsert(PodInfo pod);
  void erase(const std::string &uid);
  void replace_all(std::vector<PodInfo> pods); // after a (re)list
  // By metadata.uid, or by the uid a static pod runs under (mirror_of).
  std::optional<PodInfo> find(std::string_view uid) const;
  size_t size() const;

private:
  void index_mirror(const PodInfo &pod);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, PodInfo> pods_;
  std::unordered_map<std::string, std::string> mirrors_; // mirror_of -> metadata.uid
};

enum class KubeSource {
  api_server, // list + watch of /api/v1/pods
  kubelet,    // poll of the kubelet's /pods, for agents that may not talk to the API server
};

struct KubeClientOptions {
  KubeSource source = KubeSource::api_server;
  std::string api_server;  // https://HOST:PORT
  std::string kubelet_url; // https://NODE_IP:10250
  std::string token_file;  // bearer token, re-read at each (re)connect: it rotates
  std::string ca_file;     // CA bundle for the server's certificate
  // Kubelet serving certificates are often self-signed; false sends the token
  // to whoever answers, so it is off only when asked for, with a warning.
  bool tls_verify = true;
  // API server: only pods with spec.nodeName == node_name (required). Kubelet:
  // the same filter when set; empty keeps all, the kubelet serves only its own.
  std::string node_name;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000}; // each list page, each kubelet poll
  // timeoutSeconds of each watch; a stream still open 60 s after it is cut as half-open.
  std::chrono::seconds watch_timeout{300};
  std::chrono::milliseconds poll_interval{10000}; // kubelet: between polls
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30000};
};

struct KubeClientStats {
  bool synced = false;         // listed and watching (kubelet: the last poll succeeded)
  bool reachable = false;      // the last request got a usable answer (false during an outage)
  uint64_t lists = 0;          // successful lists (kubelet: successful polls)
  uint64_t watches = 0;        // watch requests answered with a stream
  uint64_t watch_events = 0;   // ADDED/MODIFIED/DELETED received (bookmarks not counted)
  uint64_t relists_gone = 0;   // 410 Gone, resourceVersion too old
  uint64_t errors = 0;         // failed requests, bad answers (HTTP errors, invalid JSON, ...)
  uint64_t malformed_pods = 0; // pods in lists or watch events that parse_pod refused; skipped
  // Outages: the API server (or kubelet) went from usable to failing
  // (unreachable, HTTP errors, garbage); one warning line each, one info line
  // when it recovers.
  uint64_t outages = 0;
  std::string last_error; // never contains the token
};

// The wait after the n-th consecutive failure (n from 0): initial, doubled
// each time up to max, times jitter (0.8-1.2, so that the agents of a
// cluster do not retry in step), never above max.
std::chrono::milliseconds backoff_delay(int n, std::chrono::milliseconds initial,
                                        std::chrono::milliseconds max, double jitter);

// API server: lists then watches pods with fieldSelector=spec.nodeName=<node>,
// tracking resourceVersion; reconnects with exponential backoff, re-lists on
// 410 Gone. Kubelet: GETs /pods every poll_interval and replaces the cache
// with the answer; retries failures with backoff, never waiting longer than
// poll_interval. Runs on its own thread; never blocks the caller.
class KubeClient {
public:
  KubeClient(KubeClientOptions options, PodCache &cache);
  ~KubeClient(); // stops and joins
  KubeClient(const KubeClient &) = delete;
  KubeClient &operator=(const KubeClient &) = delete;

  void start();
  void stop();
  KubeClientStats stats() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace shimwatch
