#include "report/aggregator.hpp"

#include <algorithm>
#include <iterator>

namespace shimwatch::report {

namespace {

std::string_view kept(std::string_view text) {
  return text.size() > max_kept_text ? text.substr(0, max_kept_text) : text;
}

void widen(Micros &first, Micros &last, bool empty, Micros from, Micros to) {
  if (empty || from < first)
    first = from;
  if (empty || to > last)
    last = to;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

void merge_top(TopCounter &into, const TopCounter &from) {
  for (const auto &e : from.top(from.capacity()))
    into.add(e.key, e.count);
}

void merge_origin(OriginStats &into, const OriginStats &from) {
  widen(into.first, into.last, into.records == 0, from.first, from.last);
  into.records += from.records;
  into.calls += from.calls;
  into.failures += from.failures;
  if (into.agent.empty())
    into.agent = from.agent;
  for (const auto &[name, action] : from.actions) {
    auto found = into.actions.find(name);
    if (found == into.actions.end()) {
      if (into.actions.size() >= max_actions_per_origin)
        continue;
      found = into.actions.emplace(name, ActionStats{}).first;
    }
    ActionStats &a = found->second;
    widen(a.first, a.last, a.calls == 0, action.first, action.last);
    a.calls += action.calls;
    a.failures += action.failures;
    merge_top(a.error_codes, action.error_codes);
  }
  for (auto [to, source] : {std::pair{&into.command_lines, &from.command_lines},
                            {&into.sockets, &from.sockets},
                            {&into.config_files, &from.config_files},
                            {&into.destinations, &from.destinations},
                            {&into.services, &from.services},
                            {&into.runtimes, &from.runtimes},
                            {&into.pods, &from.pods},
                            {&into.images, &from.images},
                            {&into.executables, &from.executables},
                            {&into.sessions, &from.sessions}})
    merge_top(*to, *source);
  std::vector<std::uint32_t> nodes;
  std::set_union(into.nodes.begin(), into.nodes.end(), from.nodes.begin(), from.nodes.end(),
                 std::back_inserter(nodes));
  into.nodes = std::move(nodes);
  for (const auto &[start, calls] : from.timeline.buckets)
    into.timeline.add(start * 1'000'000, calls);
}

} // namespace

void Timeline::add(Micros time, std::uint64_t calls) {
  const std::int64_t seconds = floor_div(time, 1'000'000);
  buckets[floor_div(seconds, width_seconds) * width_seconds] += calls;
  while (buckets.size() > max_timeline_buckets) {
    width_seconds *= 2;
    std::map<std::int64_t, std::uint64_t> merged;
    for (const auto &[start, count] : buckets)
      merged[floor_div(start, width_seconds) * width_seconds] += count;
    buckets = std::move(merged);
  }
}

OriginStats::OriginStats(std::size_t top)
    : command_lines(std::max<std::size_t>(64, top * 4)), sockets(std::max<std::size_t>(16, top)),
      config_files(std::max<std::size_t>(16, top)), destinations(std::max<std::size_t>(16, top)),
      services(std::max<std::size_t>(16, top)), runtimes(8), pods(8), images(8), executables(8),
      sessions(8) {}

Aggregator::Aggregator(ReportOptions options) : options_(options) {}

std::uint32_t Aggregator::node_index(const std::string &name) {
  auto found = node_indices_.find(name);
  if (found != node_indices_.end())
    return found->second;
  const auto index = static_cast<std::uint32_t>(nodes_.size());
  NodeStats node;
  node.name = name;
  nodes_.push_back(std::move(node));
  node_indices_.emplace(name, index);
  return index;
}

OriginStats &Aggregator::origin_for(const ParsedRecord &r) {
  auto found = origins_.find(r.origin_key);
  if (found != origins_.end())
    return *found->second;
  std::string key = r.origin_key;
  const bool fold = origins_.size() >= max_origins;
  if (fold) {
    ++folded_records_;
    key = std::string(origin_group_name(r.origin_type)) + ":(other)";
    found = origins_.find(key);
    if (found != origins_.end())
      return *found->second;
  }
  auto stats = std::make_unique<OriginStats>(options_.top);
  stats->type = r.origin_type;
  stats->key = key;
  if (!fold) {
    stats->namespace_name = r.namespace_name;
    stats->workload_kind = r.workload_kind;
    stats->workload_name = r.workload_name;
    stats->unit = r.unit;
    stats->login_uid = r.login_uid;
    stats->session = r.login_uid.empty() ? r.session : "";
    stats->executable_key = r.origin_type == OriginGroup::host ? r.executable : "";
    stats->container_runtime = r.container_runtime;
    stats->container_id = r.container_id;
    // A pod not known yet: its uid is all that links it to its workload.
    if (r.origin_type == OriginGroup::workload && r.pod_name.empty())
      stats->pod_uid = r.pod_uid;
  }
  auto &ref = *stats;
  origins_.emplace(std::move(key), std::move(stats));
  return ref;
}

void Aggregator::add(const ParsedRecord &r) {
  const Micros first = r.gap ? std::min(r.gap_first, r.time) : r.first_time;
  const Micros last = r.gap ? std::max(r.gap_last, r.time) : r.time;
  if ((options_.since && last < *options_.since) || (options_.until && first > *options_.until)) {
    ++input_.outside_window;
    return;
  }
  const std::uint32_t node = node_index(r.node);
  NodeStats &n = nodes_[node];
  widen(n.first, n.last, n.records == 0, first, last);
  ++n.records;
  n.activity.add(r.time, 1);

  if (r.gap) {
    n.dropped += r.dropped;
    ++n.gap_records;
    GapStats &g = gaps_[{r.node, r.gap_stage}];
    widen(g.first, g.last, g.records == 0, first, last);
    g.node = r.node;
    g.stage = r.gap_stage;
    g.dropped += r.dropped;
    ++g.records;
    for (const auto &[reason, count] : r.gap_reasons)
      if (g.reasons.size() < 32 || g.reasons.contains(reason))
        g.reasons[reason] += count;
    return;
  }

  n.calls += r.calls;
  if (!r.pod_uid.empty() && !r.pod_name.empty() && workload_of_pod_.size() < max_known_pods)
    workload_of_pod_.try_emplace(r.pod_uid, r.origin_key);
  OriginStats &o = origin_for(r);
  widen(o.first, o.last, o.records == 0, first, last);
  ++o.records;
  o.calls += r.calls;
  const bool failed = r.outcome == "failure";
  if (failed)
    o.failures += r.calls;
  if (o.agent.empty() && !r.agent.empty())
    o.agent = r.agent;

  auto action = o.actions.find(r.action);
  if (action == o.actions.end() && o.actions.size() < max_actions_per_origin)
    action = o.actions.emplace(r.action, ActionStats{}).first;
  if (action != o.actions.end()) {
    ActionStats &a = action->second;
    widen(a.first, a.last, a.calls == 0, first, last);
    a.calls += r.calls;
    if (failed) {
      a.failures += r.calls;
      a.error_codes.add(r.error_code.empty() ? "unknown" : r.error_code, r.calls);
    }
  }

  o.command_lines.add(kept(r.command_line), r.calls);
  o.sockets.add(kept(r.socket), r.calls);
  o.config_files.add(kept(r.config_file), r.calls);
  o.destinations.add(r.destination, r.calls);
  o.services.add(r.service, r.calls);
  o.runtimes.add(r.runtime, r.calls);
  o.pods.add(r.pod_name, r.calls);
  o.images.add(kept(r.image), r.calls);
  o.executables.add(kept(r.executable), r.calls);
  o.sessions.add(r.session, r.calls);
  auto at = std::lower_bound(o.nodes.begin(), o.nodes.end(), node);
  if (at == o.nodes.end() || *at != node)
    o.nodes.insert(at, node);
  o.timeline.add(r.time, r.calls);
}

void Aggregator::resolve_pods() {
  std::vector<std::string> resolved;
  for (auto &[key, stats] : origins_) {
    if (stats->type != OriginGroup::workload || stats->pod_uid.empty())
      continue;
    const auto workload = workload_of_pod_.find(stats->pod_uid);
    if (workload == workload_of_pod_.end() || workload->second == key)
      continue;
    const auto target = origins_.find(workload->second);
    if (target == origins_.end())
      continue;
    merge_origin(*target->second, *stats);
    resolved.push_back(key);
  }
  for (const auto &key : resolved)
    origins_.erase(key);
}

std::vector<const OriginStats *> Aggregator::sorted_origins() const {
  std::vector<const OriginStats *> out;
  out.reserve(origins_.size());
  for (const auto &[key, stats] : origins_)
    out.push_back(stats.get());
  std::sort(out.begin(), out.end(), [](const OriginStats *a, const OriginStats *b) {
    return a->calls != b->calls ? a->calls > b->calls : a->key < b->key;
  });
  return out;
}

std::vector<const NodeStats *> Aggregator::sorted_nodes() const {
  std::vector<const NodeStats *> out;
  for (const auto &n : nodes_)
    out.push_back(&n);
  std::sort(out.begin(), out.end(),
            [](const NodeStats *a, const NodeStats *b) { return a->name < b->name; });
  return out;
}

std::uint64_t Aggregator::total_calls() const {
  std::uint64_t total = 0;
  for (const auto &n : nodes_)
    total += n.calls;
  return total;
}

std::uint64_t Aggregator::total_dropped() const {
  std::uint64_t total = 0;
  for (const auto &n : nodes_)
    total += n.dropped;
  return total;
}

} // namespace shimwatch::report
