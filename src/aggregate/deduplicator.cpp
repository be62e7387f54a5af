#include "shimwatch/aggregate.hpp"

#include "shimwatch/text.hpp"

namespace shimwatch {

std::string dedupe_key(const Event &event) {
  const Origin &o = event.origin;
  const CgroupOrigin &c = o.cgroup;
  // The workload, not the pod: a DaemonSet's pods on one node come and go.
  std::string origin;
  switch (o.type) {
  case OriginType::pod:
    origin = o.kubernetes_known && !o.workload_name.empty()
                 ? "pod/" + o.namespace_name + "/" + o.workload_kind + "/" + o.workload_name + "/" +
                       o.container_name
                 : "pod/" + c.pod_uid + "/" + c.container_id;
    break;
  case OriginType::container:
    origin = "container/" + c.container_id;
    break;
  case OriginType::systemd_unit:
    origin = "unit/" + c.unit;
    break;
  case OriginType::user_session:
    origin = "session/" + c.session;
    break;
  case OriginType::host:
    origin = "host";
    break;
  }
  std::string target = is_config_open(event.action) ? event.config_path
                       : event.action == Action::docker_api_tcp_connect
                           ? event.tcp_address + " " + std::to_string(event.tcp_port)
                       : is_connect(event.action) ? event.socket_path
                                                  : event.exec_path;
  // Fields joined with NUL: none of them can hold one.
  std::string key = origin;
  for (const std::string &part :
       {std::string(action_name(event.action)), std::to_string(event.error), target,
        command_line(event.process.args)}) {
    key += '\0';
    key += part;
  }
  return key;
}

Deduplicator::Deduplicator(int64_t window_ns, size_t max_keys, size_t max_bytes)
    : window_ns_(window_ns), max_keys_(max_keys), max_bytes_(max_bytes) {}

namespace {

// What one tracked key holds: its sample event, the key (twice: the map
// and the window index) and the nodes around them.
size_t entry_bytes(const std::string &key, const Event &sample) {
  return approximate_bytes(sample) + 2 * (key.size() + 64);
}

} // namespace

bool Deduplicator::admit(const Event &event) {
  std::string key = dedupe_key(event);
  if (auto it = entries_.find(key); it != entries_.end()) {
    RepeatSummary &s = it->second.summary;
    if (s.repeats++ == 0)
      s.first_seen_ns = event.timestamp_ns;
    s.last_seen_ns = event.timestamp_ns;
    return false;
  }
  const size_t bytes = entry_bytes(key, event);
  if (entries_.size() >= max_keys_ || bytes_ + bytes > max_bytes_) {
    ++untracked_;
    return true;
  }
  bytes_ += bytes;
  int64_t end = event.timestamp_ns + window_ns_;
  by_window_end_.emplace(end, key);
  entries_.emplace(std::move(key), Entry{end, RepeatSummary{event, 0, 0, 0}, bytes});
  return true;
}

std::vector<RepeatSummary> Deduplicator::due(int64_t now_ns, bool final) {
  std::vector<RepeatSummary> out;
  std::vector<std::pair<int64_t, std::string>> still_busy;
  while (!by_window_end_.empty() && (final || by_window_end_.begin()->first <= now_ns)) {
    auto [end, key] = *by_window_end_.begin();
    by_window_end_.erase(by_window_end_.begin());
    auto it = entries_.find(key);
    RepeatSummary summary = std::move(it->second.summary);
    bytes_ -= std::min(bytes_, it->second.bytes);
    entries_.erase(it);
    if (summary.repeats == 0)
      continue; // nothing folded: the key simply expires
    out.push_back(summary);
    if (!final)
      still_busy.emplace_back(end + window_ns_, std::move(key));
  }
  // Keys that were busy keep folding, into a window that ends one window later.
  for (size_t i = 0; i < still_busy.size(); ++i) {
    auto &[end, key] = still_busy[i];
    const size_t bytes = entry_bytes(key, out[i].sample);
    bytes_ += bytes;
    by_window_end_.emplace(end, key);
    entries_.emplace(std::move(key), Entry{end, RepeatSummary{out[i].sample, 0, 0, 0}, bytes});
  }
  return out;
}

} // namespace shimwatch
