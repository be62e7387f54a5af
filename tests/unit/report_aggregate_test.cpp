// report aggregation: grouping by origin, calls of summary records, nodes and
// their windows, gap records, --since/--until, bounded counting, remediation.
#include <gtest/gtest.h>

#include "report/aggregator.hpp"
#include "report/remediation.hpp"
#include "report/top_counter.hpp"

namespace {

namespace rpt = shimwatch::report;
using rpt::Aggregator;
using rpt::OriginGroup;
using rpt::ParsedRecord;

constexpr rpt::Micros hour = 3600'000'000LL;
constexpr rpt::Micros t0 = 1'700'000'000'000'000; // 2023-11-14T22:13:20Z

ParsedRecord exec_in_unit(const std::string &node, const std::string &unit, rpt::Micros time,
                          const std::string &command_line = "docker ps") {
  ParsedRecord r;
  r.node = node;
  r.time = r.first_time = time;
  r.action = "docker-cli-exec";
  r.outcome = "success";
  r.origin_type = OriginGroup::systemd_unit;
  r.unit = unit;
  r.origin_key = "systemd_unit:" + unit;
  r.executable = "/usr/bin/docker";
  r.command_line = command_line;
  return r;
}

ParsedRecord socket_from_pod(const std::string &node, const std::string &agent, rpt::Micros time) {
  ParsedRecord r;
  r.node = node;
  r.time = r.first_time = time;
  r.action = "docker-socket-connect";
  r.outcome = "success";
  r.origin_type = OriginGroup::workload;
  r.namespace_name = "monitoring";
  r.workload_kind = "DaemonSet";
  r.workload_name = agent + "-agent";
  r.pod_name = agent + "-agent-" + node;
  r.agent = agent;
  r.origin_key = "workload:monitoring/DaemonSet/" + r.workload_name;
  r.socket = "/var/run/docker.sock";
  r.command_line = "agent run";
  return r;
}

const rpt::OriginStats *find(const Aggregator &a, const std::string &key) {
  for (const auto *o : a.sorted_origins())
    if (o->key == key)
      return o;
  return nullptr;
}

} // namespace

TEST(ReportAggregate, GroupsByOriginAcrossNodes) {
  Aggregator a({});
  a.add(exec_in_unit("node-1", "backup.service", t0));
  a.add(exec_in_unit("node-2", "backup.service", t0 + hour, "docker inspect web"));
  ParsedRecord summary = exec_in_unit("node-2", "backup.service", t0 + 3 * hour);
  summary.first_time = t0 + 2 * hour;
  summary.calls = 40;
  a.add(summary);
  a.add(socket_from_pod("node-1", "datadog", t0 + hour));

  auto origins = a.sorted_origins();
  ASSERT_EQ(origins.size(), 2u);
  const auto *unit = origins[0];
  EXPECT_EQ(unit->key, "systemd_unit:backup.service");
  EXPECT_EQ(unit->calls, 42u);
  EXPECT_EQ(unit->records, 3u);
  EXPECT_EQ(unit->first, t0);
  EXPECT_EQ(unit->last, t0 + 3 * hour);
  EXPECT_EQ(unit->nodes.size(), 2u);
  auto lines = unit->command_lines.top(10);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].key, "docker ps");
  EXPECT_EQ(lines[0].count, 41u);
  EXPECT_EQ(lines[1].key, "docker inspect web");
  EXPECT_EQ(unit->actions.at("docker-cli-exec").calls, 42u);

  const auto *pod = find(a, "workload:monitoring/DaemonSet/datadog-agent");
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->agent, "datadog");
  EXPECT_EQ(pod->sockets.top(1)[0].key, "/var/run/docker.sock");
  EXPECT_EQ(a.total_calls(), 43u);

  auto nodes = a.sorted_nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0]->name, "node-1");
  EXPECT_EQ(nodes[0]->first, t0);
  EXPECT_EQ(nodes[0]->last, t0 + hour);
  EXPECT_EQ(nodes[1]->first, t0 + hour);
  EXPECT_EQ(nodes[1]->last, t0 + 3 * hour);
  EXPECT_EQ(nodes[1]->calls, 41u);
}

TEST(ReportAggregate, GapRecordsAddUpPerNodeAndStage) {
  Aggregator a({});
  ParsedRecord gap;
  gap.gap = true;
  gap.node = "node-3";
  gap.time = t0 + hour;
  gap.gap_first = t0;
  gap.gap_last = t0 + hour / 2;
  gap.gap_stage = "kernel";
  gap.dropped = 12;
  gap.gap_reasons = {{"ring_buffer_full", 12}};
  a.add(gap);
  gap.dropped = 3;
  gap.gap_reasons = {{"ring_buffer_full", 2}, {"malformed", 1}};
  a.add(gap);
  EXPECT_EQ(a.total_dropped(), 15u);
  ASSERT_EQ(a.gaps().size(), 1u);
  const auto &g = a.gaps().begin()->second;
  EXPECT_EQ(g.dropped, 15u);
  EXPECT_EQ(g.records, 2u);
  EXPECT_EQ(g.reasons.at("ring_buffer_full"), 14u);
  EXPECT_EQ(g.reasons.at("malformed"), 1u);
  // A node that only lost events is still a node that was covered.
  ASSERT_EQ(a.sorted_nodes().size(), 1u);
  EXPECT_EQ(a.sorted_nodes()[0]->first, t0);
  EXPECT_TRUE(a.sorted_origins().empty());
}

TEST(ReportAggregate, SinceAndUntilLeaveRecordsOutAndCountThem) {
  Aggregator a({.top = 10, .since = t0 + hour, .until = t0 + 5 * hour});
  a.add(exec_in_unit("node-1", "a.service", t0));
  a.add(exec_in_unit("node-1", "a.service", t0 + 2 * hour));
  a.add(exec_in_unit("node-1", "a.service", t0 + 6 * hour));
  EXPECT_EQ(a.input().outside_window, 2u);
  EXPECT_EQ(a.total_calls(), 1u);
}

TEST(ReportAggregate, FailuresKeepTheirErrorCodes) {
  Aggregator a({});
  ParsedRecord r = socket_from_pod("node-1", "datadog", t0);
  r.outcome = "failure";
  r.error_code = "ENOENT";
  r.calls = 7;
  a.add(r);
  const auto &action = a.sorted_origins()[0]->actions.at("docker-socket-connect");
  EXPECT_EQ(action.failures, 7u);
  EXPECT_EQ(action.error_codes.top(1)[0].key, "ENOENT");
  EXPECT_EQ(a.sorted_origins()[0]->failures, 7u);
}

TEST(ReportAggregate, TimelineWidensInsteadOfGrowing) {
  Aggregator a({});
  for (int i = 0; i < 2000; ++i)
    a.add(exec_in_unit("node-1", "poller.service", t0 + i * hour));
  const auto &timeline = a.sorted_origins()[0]->timeline;
  EXPECT_LE(timeline.buckets.size(), rpt::max_timeline_buckets);
  EXPECT_EQ(timeline.width_seconds, 4 * 3600);
  std::uint64_t total = 0;
  for (const auto &[start, calls] : timeline.buckets)
    total += calls;
  EXPECT_EQ(total, 2000u);
}

TEST(ReportTopCounter, ExactWhileWithinCapacityThenBounded) {
  rpt::TopCounter counter(4);
  counter.add("a", 600);
  counter.add("b", 5);
  counter.add("c");
  EXPECT_FALSE(counter.approximate());
  EXPECT_EQ(counter.distinct_seen(), 3u);
  EXPECT_EQ(counter.top(1)[0].overestimate, 0u);
  for (int i = 0; i < 400; ++i)
    counter.add("rare-" + std::to_string(i));
  EXPECT_TRUE(counter.approximate());
  EXPECT_EQ(counter.size(), 4u);
  EXPECT_EQ(counter.total(), 1006u);
  // A key seen more than total/capacity times is never lost, and its count
  // stays exact when it never had to take another key's slot.
  auto top = counter.top(4);
  EXPECT_EQ(top[0].key, "a");
  EXPECT_EQ(top[0].count, 600u);
  EXPECT_EQ(top[0].overestimate, 0u);
  // The others inherited the counts of the keys they replaced, and say so.
  for (std::size_t i = 1; i < top.size(); ++i)
    EXPECT_LE(top[i].count - top[i].overestimate, 1u) << top[i].key;
}

TEST(ReportRemediation, DockerCliSubcommandsGetTheirReplacement) {
  EXPECT_EQ(rpt::docker_subcommand("docker ps -a"), "ps");
  EXPECT_EQ(rpt::docker_subcommand("docker -H unix:///x.sock --debug inspect web"), "inspect");
  EXPECT_EQ(rpt::docker_subcommand("docker container ls"), "ps");
  EXPECT_EQ(rpt::docker_subcommand("docker"), "");

  Aggregator a({});
  a.add(exec_in_unit("node-1", "backup.service", t0, "docker ps -a"));
  a.add(exec_in_unit("node-1", "backup.service", t0, "docker logs web"));
  a.add(exec_in_unit("node-1", "backup.service", t0, "docker frobnicate"));
  const std::string text = rpt::remediation("docker-cli-exec", *a.sorted_origins()[0]);
  EXPECT_NE(text.find("`docker ps` -> `crictl ps`"), std::string::npos) << text;
  EXPECT_NE(text.find("`docker logs` -> `crictl logs`"), std::string::npos) << text;
  EXPECT_NE(text.find("no direct replacement known for `docker frobnicate`"), std::string::npos)
      << text;
}

TEST(ReportRemediation, EachActionKindHasItsOwnAdvice) {
  Aggregator a({});
  a.add(socket_from_pod("node-1", "cadvisor", t0));
  a.add(socket_from_pod("node-1", "datadog", t0));
  ParsedRecord plain = socket_from_pod("node-1", "", t0);
  plain.workload_name = "legacy-tool";
  plain.origin_key = "workload:monitoring/DaemonSet/legacy-tool";
  a.add(plain);
  auto advice = [&](const std::string &key, const std::string &action) {
    const auto *o = find(a, key);
    EXPECT_NE(o, nullptr) << key;
    return o == nullptr ? std::string() : rpt::remediation(action, *o);
  };
  EXPECT_NE(advice("workload:monitoring/DaemonSet/cadvisor-agent", "docker-socket-connect")
                .find("container-id format"),
            std::string::npos);
  EXPECT_NE(advice("workload:monitoring/DaemonSet/datadog-agent", "docker-socket-connect")
                .find("Known agent `datadog`"),
            std::string::npos);
  const std::string legacy =
      advice("workload:monitoring/DaemonSet/legacy-tool", "docker-socket-connect");
  EXPECT_NE(legacy.find("CRI socket"), std::string::npos) << legacy;
  EXPECT_NE(legacy.find("hostPath"), std::string::npos) << legacy;

  const auto *o = find(a, "workload:monitoring/DaemonSet/legacy-tool");
  ASSERT_NE(o, nullptr);
  EXPECT_NE(rpt::remediation("docker-config-read", *o).find("hosts.toml"), std::string::npos);
  EXPECT_NE(rpt::remediation("docker-config-write", *o).find("change the tool that writes them"),
            std::string::npos);
  EXPECT_NE(rpt::remediation("docker-service-control", *o).find("containerd.service"),
            std::string::npos);
  EXPECT_NE(rpt::remediation("docker-api-tcp-connect", *o).find("DOCKER_HOST"), std::string::npos);
  EXPECT_NE(rpt::remediation("runtime-socket-connect", *o).find("runtime"), std::string::npos);
}

TEST(ReportAggregate, OriginsBeyondTheCapGoToOneOtherRowPerType) {
  Aggregator a({});
  for (std::size_t i = 0; i < rpt::max_origins + 5; ++i) {
    ParsedRecord r = exec_in_unit("node-1", "u.service", t0);
    r.origin_type = OriginGroup::host;
    r.executable = "/opt/tool-" + std::to_string(i);
    r.origin_key = "host:" + r.executable;
    a.add(r);
  }
  EXPECT_EQ(a.sorted_origins().size(), rpt::max_origins + 1);
  EXPECT_EQ(a.folded_records(), 5u);
  const auto *other = find(a, "host:(other)");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->calls, 5u);
  EXPECT_EQ(a.total_calls(), rpt::max_origins + 5);
}

TEST(ReportAggregate, PodSeenBeforeItsMetadataJoinsItsWorkload) {
  Aggregator a({});
  // The agent had not listed the pod yet: only its uid.
  ParsedRecord early = socket_from_pod("node-1", "datadog", t0);
  early.namespace_name.clear();
  early.pod_name.clear();
  early.workload_kind = "Pod";
  early.workload_name = "uid 6f1b";
  early.pod_uid = "6f1b";
  early.origin_key = "workload:/Pod/uid 6f1b";
  early.calls = 3;
  a.add(early);
  // A pod that never became known stays a row of its own.
  ParsedRecord orphan = early;
  orphan.pod_uid = "0000";
  orphan.workload_name = "uid 0000";
  orphan.origin_key = "workload:/Pod/uid 0000";
  a.add(orphan);
  ParsedRecord later = socket_from_pod("node-2", "datadog", t0 + hour);
  later.pod_uid = "6f1b";
  a.add(later);
  EXPECT_EQ(a.sorted_origins().size(), 3u);

  a.resolve_pods();
  ASSERT_EQ(a.sorted_origins().size(), 2u);
  const auto *workload = find(a, "workload:monitoring/DaemonSet/datadog-agent");
  ASSERT_NE(workload, nullptr);
  EXPECT_EQ(workload->calls, 4u);
  EXPECT_EQ(workload->records, 2u);
  EXPECT_EQ(workload->first, t0);
  EXPECT_EQ(workload->last, t0 + hour);
  EXPECT_EQ(workload->nodes.size(), 2u);
  EXPECT_EQ(workload->actions.at("docker-socket-connect").calls, 4u);
  EXPECT_EQ(workload->sockets.top(1)[0].count, 4u);
  EXPECT_NE(find(a, "workload:/Pod/uid 0000"), nullptr);
}
