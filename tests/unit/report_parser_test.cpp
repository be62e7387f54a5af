// report line parser: real agent lines (from the agent's own encoder and the
// README samples), kubectl prefixes, summaries, gap records, and lines that
// are not records.
#include <gtest/gtest.h>

#include "report/line_parser.hpp"
#include "shimwatch/sink.hpp"

namespace {

using shimwatch::report::LineKind;
using shimwatch::report::parse_line;
using shimwatch::report::ParsedRecord;
using shimwatch::report::strip_kubectl_prefix;
namespace rpt = shimwatch::report;

shimwatch::Event docker_ps_in_unit() {
  shimwatch::Event e;
  e.action = shimwatch::Action::docker_cli_exec;
  e.timestamp_ns = 1'700'000'000'123'456'789;
  e.process.pid = 4242;
  e.process.name = "docker";
  e.process.executable = "/usr/bin/docker";
  e.process.args = {"docker", "ps", "-a"};
  e.exec_path = "/usr/bin/docker";
  // Ancestors' fields have the same names as the process' own: never mixed up.
  shimwatch::Ancestor parent;
  parent.pid = 4200;
  parent.name = "cleanup.sh";
  parent.executable = "/usr/bin/bash";
  e.process.ancestry = {parent};
  e.origin.type = shimwatch::OriginType::systemd_unit;
  e.origin.cgroup.type = shimwatch::OriginType::systemd_unit;
  e.origin.cgroup.unit = "nightly-cleanup.service";
  e.origin.cgroup.slice = "system.slice";
  return e;
}

shimwatch::Event datadog_socket_connect() {
  shimwatch::Event e;
  e.action = shimwatch::Action::docker_socket_connect;
  e.timestamp_ns = 1'700'000'100'000'000'000;
  e.process.name = "agent";
  e.process.executable = "/opt/datadog-agent/bin/agent/agent";
  e.process.args = {"agent", "run"};
  e.socket_path = "/host/d.sock";
  e.socket_peer = "/run/docker.sock";
  e.socket_matched_by_peer = true;
  e.origin.type = shimwatch::OriginType::pod;
  e.origin.cgroup.type = shimwatch::OriginType::pod;
  e.origin.cgroup.pod_uid = "6f1b5a8e-3c2d-4e8f-9a0b-1c2d3e4f5a6b";
  e.origin.cgroup.container_id = "0f3c00000000000000000000";
  e.origin.cgroup.container_runtime = "containerd";
  e.origin.kubernetes_known = true;
  e.origin.namespace_name = "monitoring";
  e.origin.pod_name = "dd-agent-x7k2p";
  e.origin.container_name = "agent";
  e.origin.container_image = "gcr.io/datadoghq/agent:7";
  e.origin.workload_kind = "DaemonSet";
  e.origin.workload_name = "dd-agent";
  e.origin.agent = "datadog";
  return e;
}

const shimwatch::HostInfo node1{"node-1"};

ParsedRecord parse_ok(const std::string &line) {
  ParsedRecord r;
  std::string why;
  EXPECT_EQ(parse_line(line, r, &why), LineKind::record) << why << "\n" << line;
  return r;
}

// From README.md ("Docker Engine API over TCP").
const std::string readme_tcp_line =
    R"({"@timestamp":"2026-11-25T18:06:40.112093Z","event":{"kind":"event","category":["network"],"type":["connection"],"action":"docker-api-tcp-connect","outcome":"failure"},"error":{"code":"ECONNREFUSED","message":"Connection refused"},"host":{"name":"node-1"},"process":{"pid":53321,"thread":{"id":53324},"name":"docker","executable":"/usr/local/bin/docker","args":["docker","ps"],"args_count":2,"command_line":"docker ps","parent":{"pid":53320,"name":"backup.sh"},"ancestry":[]},"user":{"id":"0"},"group":{"id":"0"},"destination":{"ip":"127.0.0.1","port":2376},"shimwatch":{"origin":{"type":"systemd_unit","unit":"backup.service","slice":"system.slice"},"cgroup":{"id":9981,"path":"/system.slice/backup.service"},"namespace":{"mnt":4026531841,"pid":4026531836}}})";

} // namespace

TEST(ReportParser, ExecInSystemdUnitFromTheEncoder) {
  auto r = parse_ok(shimwatch::encode_json(docker_ps_in_unit(), node1));
  EXPECT_FALSE(r.gap);
  EXPECT_EQ(r.action, "docker-cli-exec");
  EXPECT_EQ(r.outcome, "success");
  EXPECT_EQ(r.node, "node-1");
  EXPECT_EQ(r.time, 1'700'000'000'123'456);
  EXPECT_EQ(r.first_time, r.time);
  EXPECT_EQ(r.calls, 1u);
  EXPECT_EQ(r.origin_type, rpt::OriginGroup::systemd_unit);
  EXPECT_EQ(r.origin_key, "systemd_unit:nightly-cleanup.service");
  EXPECT_EQ(r.command_line, "docker ps -a");
  EXPECT_EQ(r.executable, "/usr/bin/docker");
}

TEST(ReportParser, PodWithWorkloadAgentAndSocketPeer) {
  auto r = parse_ok(shimwatch::encode_json(datadog_socket_connect(), node1));
  EXPECT_EQ(r.origin_type, rpt::OriginGroup::workload);
  EXPECT_EQ(r.origin_key, "workload:monitoring/DaemonSet/dd-agent");
  EXPECT_EQ(r.namespace_name, "monitoring");
  EXPECT_EQ(r.pod_name, "dd-agent-x7k2p");
  EXPECT_EQ(r.image, "gcr.io/datadoghq/agent:7");
  EXPECT_EQ(r.agent, "datadog");
  EXPECT_EQ(r.socket, "/host/d.sock -> /run/docker.sock");
}

TEST(ReportParser, PodWithoutMetadataIsKeyedByItsUid) {
  auto e = datadog_socket_connect();
  e.origin.kubernetes_known = false;
  e.origin.namespace_name.clear();
  e.origin.pod_name.clear();
  e.origin.workload_kind.clear();
  e.origin.workload_name.clear();
  auto r = parse_ok(shimwatch::encode_json(e, node1));
  EXPECT_EQ(r.origin_key, "workload:/Pod/uid 6f1b5a8e-3c2d-4e8f-9a0b-1c2d3e4f5a6b");
}

TEST(ReportParser, SummaryRecordStandsForRepeatCountCalls) {
  auto e = docker_ps_in_unit();
  e.repeat = shimwatch::Repeat{.count = 41,
                               .first_seen_ns = 1'700'000'010'000'000'000,
                               .last_seen_ns = 1'700'000'050'000'000'000,
                               .window_ns = 60'000'000'000};
  e.timestamp_ns = e.repeat->last_seen_ns;
  auto r = parse_ok(shimwatch::encode_json(e, node1));
  EXPECT_EQ(r.calls, 41u);
  EXPECT_EQ(r.first_time, 1'700'000'010'000'000);
  EXPECT_EQ(r.time, 1'700'000'050'000'000);
}

TEST(ReportParser, GapRecordCarriesDroppedAndReasons) {
  shimwatch::Gap gap;
  gap.stage = "kernel";
  gap.reasons = {{"ring_buffer_full", 12}, {"malformed", 1}};
  gap.first_ns = 1'700'000'000'000'000'000;
  gap.last_ns = 1'700'000'001'000'000'000;
  gap.timestamp_ns = 1'700'000'002'000'000'000;
  auto r = parse_ok(shimwatch::encode_gap_json(gap, node1));
  EXPECT_TRUE(r.gap);
  EXPECT_EQ(r.dropped, 13u);
  EXPECT_EQ(r.gap_stage, "kernel");
  EXPECT_EQ(r.gap_first, 1'700'000'000'000'000);
  EXPECT_EQ(r.gap_last, 1'700'000'001'000'000);
  ASSERT_EQ(r.gap_reasons.size(), 2u);
  EXPECT_EQ(r.node, "node-1");
}

TEST(ReportParser, ReadmeTcpSample) {
  auto r = parse_ok(readme_tcp_line);
  EXPECT_EQ(r.action, "docker-api-tcp-connect");
  EXPECT_EQ(r.outcome, "failure");
  EXPECT_EQ(r.error_code, "ECONNREFUSED");
  EXPECT_EQ(r.destination, "127.0.0.1:2376");
  EXPECT_EQ(r.origin_key, "systemd_unit:backup.service");
}

TEST(ReportParser, ServiceControlAndUserSession) {
  auto e = docker_ps_in_unit();
  e.action = shimwatch::Action::docker_service_control;
  e.process.args = {"systemctl", "restart", "docker"};
  e.service_verb = "restart";
  e.service_unit = "docker";
  e.service_manager = "systemctl";
  e.origin.type = shimwatch::OriginType::user_session;
  e.origin.cgroup.type = shimwatch::OriginType::user_session;
  e.origin.cgroup.unit.clear();
  e.origin.cgroup.session = "7";
  e.origin.cgroup.session_uid = 1000;
  auto r = parse_ok(shimwatch::encode_json(e, node1));
  EXPECT_EQ(r.service, "restart docker");
  EXPECT_EQ(r.origin_type, rpt::OriginGroup::user_session);
  EXPECT_EQ(r.origin_key, "user_session:uid 1000");
  EXPECT_EQ(r.session, "7");
}

TEST(ReportParser, KubectlPrefixIsStripped) {
  std::string line = "[pod/shimwatch-abcde/shimwatch] " + readme_tcp_line;
  std::string_view view = line;
  ASSERT_TRUE(strip_kubectl_prefix(view));
  EXPECT_EQ(view, readme_tcp_line);
  parse_ok(std::string(view));

  std::string_view plain = readme_tcp_line;
  EXPECT_FALSE(strip_kubectl_prefix(plain));
  std::string_view not_prefix = "[pod] {}";
  EXPECT_FALSE(strip_kubectl_prefix(not_prefix));
}

TEST(ReportParser, MalformedAndForeignLines) {
  ParsedRecord r;
  std::string why;
  // A torn last line (kill -9 in the middle of a write).
  EXPECT_EQ(parse_line(readme_tcp_line.substr(0, 120), r, &why), LineKind::malformed);
  EXPECT_FALSE(why.empty());
  // The agent's own log lines and other tools' JSON.
  EXPECT_EQ(parse_line("[2026-11-25 14:00:00.000] [info] attached 7 probes", r), LineKind::foreign);
  EXPECT_EQ(parse_line(R"({"level":"info","msg":"hello"})", r), LineKind::foreign);
  EXPECT_EQ(parse_line(R"([1,2,3])", r), LineKind::foreign);
  EXPECT_EQ(parse_line("", r), LineKind::blank);
  EXPECT_EQ(parse_line("  \r", r), LineKind::blank);
  // Ours, but broken.
  EXPECT_EQ(parse_line(R"({"event":{"action":"docker-cli-exec"},"shimwatch":{}})", r, &why),
            LineKind::malformed);
  EXPECT_EQ(why, "no @timestamp");
  EXPECT_EQ(
      parse_line(
          R"({"@timestamp":"yesterday","event":{"action":"docker-cli-exec"},"shimwatch":{"origin":{}}})",
          r, &why),
      LineKind::malformed);
  EXPECT_EQ(
      parse_line(
          R"({"@timestamp":"2026-11-25T18:06:40Z","event":{"action":"shimwatch-gap"},"shimwatch":{"gap":{}}})",
          r, &why),
      LineKind::malformed);
  std::string bad_repeat = readme_tcp_line;
  bad_repeat.replace(bad_repeat.find(R"(,"namespace":{"mnt")"), 1, R"(,"repeat":{"count":"x"},)");
  EXPECT_EQ(parse_line(bad_repeat, r, &why), LineKind::malformed) << bad_repeat;
  // CRLF line ends are tolerated.
  EXPECT_EQ(parse_line(readme_tcp_line + "\r", r), LineKind::record);
}

TEST(ReportTime, Rfc3339RoundTripAndBounds) {
  EXPECT_EQ(rpt::parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(rpt::parse_rfc3339("2023-11-14T22:13:20.123456Z"), 1'700'000'000'123'456);
  EXPECT_EQ(rpt::parse_rfc3339("2023-11-14T23:13:20.5+01:00"), 1'700'000'000'500'000);
  EXPECT_EQ(rpt::parse_rfc3339("2023-11-14"), 1'699'920'000'000'000);
  EXPECT_FALSE(rpt::parse_rfc3339("2023-11-14T22:13:20"));
  EXPECT_FALSE(rpt::parse_rfc3339("2023-13-14T22:13:20Z"));
  EXPECT_FALSE(rpt::parse_rfc3339("garbage"));
  EXPECT_EQ(rpt::format_rfc3339(1'700'000'000'123'456), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(rpt::parse_time_bound("2d", 1'000'000'000'000'000),
            1'000'000'000'000'000 - 2 * 86400'000'000LL);
  EXPECT_EQ(rpt::parse_time_bound("90m", 10'000'000'000), 10'000'000'000 - 5400'000'000LL);
  EXPECT_FALSE(rpt::parse_time_bound("xd", 0));
}
