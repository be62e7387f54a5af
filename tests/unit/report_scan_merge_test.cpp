// report --scan: the scan document read and checked, scanned workloads matched
// to runtime origins, and the three kinds of evidence.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "report/aggregator.hpp"
#include "report/render.hpp"
#include "report/scan_evidence.hpp"

namespace {

namespace rpt = shimwatch::report;
using nlohmann::json;
using rpt::Aggregator;
using rpt::EvidenceKind;
using rpt::OriginGroup;
using rpt::ParsedRecord;

constexpr rpt::Micros t0 = 1'700'000'000'000'000;

ParsedRecord socket_from_workload(const std::string &ns, const std::string &kind,
                                  const std::string &name, const std::string &pod) {
  ParsedRecord r;
  r.node = "node-1";
  r.time = r.first_time = t0;
  r.action = "docker-socket-connect";
  r.outcome = "success";
  r.origin_type = OriginGroup::workload;
  r.namespace_name = ns;
  r.workload_kind = kind;
  r.workload_name = name;
  r.pod_name = pod;
  r.origin_key = "workload:" + ns + "/" + kind + "/" + name;
  r.socket = "/var/run/docker.sock";
  return r;
}

ParsedRecord exec_in_unit(const std::string &unit) {
  ParsedRecord r;
  r.node = "node-1";
  r.time = r.first_time = t0;
  r.action = "docker-cli-exec";
  r.outcome = "success";
  r.origin_type = OriginGroup::systemd_unit;
  r.unit = unit;
  r.origin_key = "systemd_unit:" + unit;
  r.executable = "/usr/bin/docker";
  r.command_line = "docker ps";
  return r;
}

ParsedRecord exec_in_session(const std::string &login_uid) {
  ParsedRecord r = exec_in_unit("");
  r.origin_type = OriginGroup::user_session;
  r.unit.clear();
  r.login_uid = login_uid;
  r.origin_key = "user_session:uid " + login_uid;
  return r;
}

json scan_workload(const std::string &ns, const std::string &kind, const std::string &name,
                   json agent_workload, std::vector<int> findings, bool static_pod = false) {
  return {{"id", (ns.empty() ? "-" : ns) + "/" + kind + "/" + name},
          {"namespace", ns},
          {"kind", kind},
          {"name", name},
          {"agent_workload", std::move(agent_workload)},
          {"static_pod", static_pod},
          {"state", "active"},
          {"pods", json::array()},
          {"docker_socket_mounted", !findings.empty()},
          {"socket_mounts", json::array()},
          {"max_severity", findings.empty() ? json(nullptr) : json("high")},
          {"rules", json::array()},
          {"findings", findings}};
}

json socket_finding(int index) {
  return {{"index", index},
          {"severity", "high"},
          {"rule", "docker-socket-mount"},
          {"reason", "mounts the node's Docker socket"},
          {"field", "spec.template.spec.containers[0].volumeMounts[0]"},
          {"container", "main"}};
}

json scan_of(json workloads, int findings) {
  json list = json::array();
  for (int i = 0; i < findings; ++i)
    list.push_back(socket_finding(i));
  return {{"schema_version", 1},
          {"generated_at", "2026-11-25T15:02:11Z"},
          {"findings", list},
          {"workloads", std::move(workloads)}};
}

rpt::ScanDocument parse(const json &document) {
  auto result = rpt::parse_scan_document(document.dump(), "scan.json");
  EXPECT_TRUE(result.document) << result.error;
  return result.document ? *result.document : rpt::ScanDocument{};
}

const rpt::OriginStats *origin(const Aggregator &a, const std::string &key) {
  for (const auto *o : a.sorted_origins())
    if (o->key == key)
      return o;
  return nullptr;
}

const rpt::EvidenceRow *row_for(const rpt::Evidence &evidence, const std::string &label) {
  for (const auto &row : evidence.rows)
    if ((row.workload && row.workload->id == label) ||
        (!row.origins.empty() && row.origins.front()->key == label))
      return &row;
  return nullptr;
}

} // namespace

TEST(ReportScanMerge, ThreeKindsOfEvidence) {
  Aggregator a({});
  a.add(socket_from_workload("logging", "DaemonSet", "log-shipper", "log-shipper-x1"));
  a.add(socket_from_workload("shop", "Deployment", "web", "web-5d8f-abcde"));
  a.add(exec_in_unit("node-health.service"));
  a.add(exec_in_session("1000"));
  const auto scan = parse(scan_of(
      {scan_workload("logging", "DaemonSet", "log-shipper",
                     {{"kind", "DaemonSet"}, {"name", "log-shipper"}}, {0}),
       scan_workload("ops", "CronJob", "image-cleanup",
                     {{"kind", "CronJob"}, {"name", "image-cleanup"}}, {1}),
       scan_workload("shop", "Deployment", "web", {{"kind", "Deployment"}, {"name", "web"}}, {})},
      2));
  const auto evidence = rpt::merge_evidence(scan, a.sorted_origins());
  ASSERT_EQ(evidence.rows.size(), 5u);

  const auto *used = row_for(evidence, "logging/DaemonSet/log-shipper");
  ASSERT_NE(used, nullptr);
  EXPECT_EQ(used->kind, EvidenceKind::mounted_and_used);
  ASSERT_EQ(used->origins.size(), 1u);
  EXPECT_EQ(used->origins.front()->key, "workload:logging/DaemonSet/log-shipper");
  ASSERT_EQ(used->workload->findings.size(), 1u);
  EXPECT_EQ(used->workload->findings.front().rule, "docker-socket-mount");

  const auto *not_used = row_for(evidence, "ops/CronJob/image-cleanup");
  ASSERT_NE(not_used, nullptr);
  EXPECT_EQ(not_used->kind, EvidenceKind::mounted_not_used);
  EXPECT_TRUE(not_used->origins.empty());

  // Scanned, but with no finding: the trail is the only evidence.
  const auto *web = row_for(evidence, "workload:shop/Deployment/web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->kind, EvidenceKind::used_without_mount);
  ASSERT_NE(web->workload, nullptr);
  EXPECT_EQ(web->workload->id, "shop/Deployment/web");

  for (const char *key : {"systemd_unit:node-health.service", "user_session:uid 1000"}) {
    const auto *host = row_for(evidence, key);
    ASSERT_NE(host, nullptr) << key;
    EXPECT_EQ(host->kind, EvidenceKind::used_without_mount);
    EXPECT_EQ(host->workload, nullptr);
    EXPECT_EQ(host->note, "host process, no spec");
  }

  // Order: mounted and used, then mounted not used, then used without mount.
  EXPECT_EQ(evidence.rows[0].kind, EvidenceKind::mounted_and_used);
  EXPECT_EQ(evidence.rows[1].kind, EvidenceKind::mounted_not_used);
  EXPECT_EQ(evidence.rows[2].kind, EvidenceKind::used_without_mount);
  EXPECT_EQ(evidence.row_of_origin.at("workload:logging/DaemonSet/log-shipper"), 0u);
}

TEST(ReportScanMerge, WorkloadNotInTheScanIsUsedWithoutMount) {
  Aggregator a({});
  a.add(socket_from_workload("ci", "StatefulSet", "runner", "runner-0"));
  const auto scan = parse(scan_of(json::array(), 0));
  const auto evidence = rpt::merge_evidence(scan, a.sorted_origins());
  ASSERT_EQ(evidence.rows.size(), 1u);
  EXPECT_EQ(evidence.rows[0].kind, EvidenceKind::used_without_mount);
  EXPECT_EQ(evidence.rows[0].note, "workload not in the scan");
}

TEST(ReportScanMerge, MatchesByAgentWorkloadAndByKindAndName) {
  Aggregator a({});
  a.add(socket_from_workload("batch", "CronJob", "backup", "backup-29412345-q7x2v"));
  a.add(socket_from_workload("batch", "CronJob", "report", "report-29412345-a1b2c"));
  a.add(socket_from_workload("apps", "Deployment", "api", "api-6c9d-xyz"));
  const auto *backup = origin(a, "workload:batch/CronJob/backup");
  const auto *report = origin(a, "workload:batch/CronJob/report");
  const auto *api = origin(a, "workload:apps/Deployment/api");
  ASSERT_TRUE(backup && report && api);

  // By agent_workload.
  const auto scan = parse(scan_of(
      {scan_workload("apps", "Deployment", "api", {{"kind", "Deployment"}, {"name", "api"}}, {0}),
       // By the scan's own kind and name, agent_workload left empty.
       scan_workload("batch", "CronJob", "backup", json::object(), {1}),
       // A Job a CronJob scheduled: the agent files its pods under the CronJob.
       scan_workload("batch", "Job", "report-29412345", json::object(), {2})},
      3));
  EXPECT_TRUE(rpt::scan_workload_matches(scan.workloads[0], *api));
  EXPECT_FALSE(rpt::scan_workload_matches(scan.workloads[0], *backup));
  EXPECT_TRUE(rpt::scan_workload_matches(scan.workloads[1], *backup));
  EXPECT_FALSE(rpt::scan_workload_matches(scan.workloads[1], *report));
  EXPECT_TRUE(rpt::scan_workload_matches(scan.workloads[2], *report));

  // The namespace must agree, unless the manifest has none.
  auto elsewhere = scan.workloads[0];
  elsewhere.namespace_name = "staging";
  EXPECT_FALSE(rpt::scan_workload_matches(elsewhere, *api));
  elsewhere.namespace_name = "";
  EXPECT_TRUE(rpt::scan_workload_matches(elsewhere, *api));

  const auto evidence = rpt::merge_evidence(scan, a.sorted_origins());
  for (const auto &row : evidence.rows)
    EXPECT_EQ(row.kind, EvidenceKind::mounted_and_used) << row.workload->id;
}

TEST(ReportScanMerge, StaticPodAndBarePod) {
  Aggregator a({});
  // Static pods run under the node's name; the pod name tells them apart.
  a.add(socket_from_workload("kube-system", "Node", "node-1", "etcd-node-1"));
  a.add(socket_from_workload("default", "Pod", "debug-shell", "debug-shell"));
  const auto *node = origin(a, "workload:kube-system/Node/node-1");
  const auto *bare = origin(a, "workload:default/Pod/debug-shell");
  ASSERT_TRUE(node && bare);

  const auto scan =
      parse(scan_of({scan_workload("kube-system", "Pod", "etcd",
                                   {{"kind", "Node"}, {"name", "node-1"}}, {0}, true),
                     scan_workload("kube-system", "Pod", "kube-apiserver",
                                   {{"kind", "Node"}, {"name", ""}}, {1}, true),
                     scan_workload("default", "Pod", "debug-shell", json::object(), {2})},
                    3));
  EXPECT_TRUE(rpt::scan_workload_matches(scan.workloads[0], *node));
  EXPECT_FALSE(rpt::scan_workload_matches(scan.workloads[1], *node)) << "another static pod";
  EXPECT_FALSE(rpt::scan_workload_matches(scan.workloads[0], *bare));
  EXPECT_TRUE(rpt::scan_workload_matches(scan.workloads[2], *bare));

  auto other_node = scan.workloads[0];
  other_node.agent_name = "node-2";
  EXPECT_FALSE(rpt::scan_workload_matches(other_node, *node));
  other_node.agent_name = ""; // the manifest did not say which node
  EXPECT_TRUE(rpt::scan_workload_matches(other_node, *node));

  const auto evidence = rpt::merge_evidence(scan, a.sorted_origins());
  const auto *apiserver = row_for(evidence, "kube-system/Pod/kube-apiserver");
  ASSERT_NE(apiserver, nullptr);
  EXPECT_EQ(apiserver->kind, EvidenceKind::mounted_not_used);
  EXPECT_EQ(row_for(evidence, "kube-system/Pod/etcd")->kind, EvidenceKind::mounted_and_used);
  EXPECT_EQ(row_for(evidence, "default/Pod/debug-shell")->kind, EvidenceKind::mounted_and_used);
}

TEST(ReportScanMerge, BadScanFileIsOneClearError) {
  auto parse_error = [](const std::string &text) {
    auto result = rpt::parse_scan_document(text, "scan.json");
    EXPECT_FALSE(result.document) << text;
    return result.error;
  };
  EXPECT_EQ(parse_error("{\"schema_version\": 1,"),
            "scan.json: not valid JSON (expected the output of shimwatch scan --format json)");
  EXPECT_EQ(parse_error("[]"), "scan.json: not a shimwatch scan document: the top level is not "
                               "an object");
  EXPECT_EQ(parse_error(R"({"origins": []})"),
            "scan.json: not a shimwatch scan document: no schema_version");
  EXPECT_EQ(parse_error(R"({"schema_version": 2, "findings": [], "workloads": []})"),
            "scan.json: not a shimwatch scan document: schema_version 2 is not supported "
            "(expected 1)");
  EXPECT_EQ(parse_error(R"({"schema_version": 1, "findings": []})"),
            "scan.json: not a shimwatch scan document: no workloads array");
  json out_of_range = scan_of({scan_workload("a", "Deployment", "b", json::object(), {3})}, 1);
  EXPECT_EQ(parse_error(out_of_range.dump()),
            "scan.json: not a shimwatch scan document: workloads[0].findings has an index "
            "outside findings[]");

  const auto missing = rpt::load_scan_file("/nonexistent/scan.json");
  EXPECT_FALSE(missing.document);
  EXPECT_EQ(missing.error, "/nonexistent/scan.json: cannot be read");
}

TEST(ReportScanMerge, JsonDocumentCarriesTheEvidence) {
  Aggregator a({});
  a.add(socket_from_workload("logging", "DaemonSet", "log-shipper", "log-shipper-x1"));
  a.add(exec_in_unit("node-health.service"));
  const auto scan =
      parse(scan_of({scan_workload("logging", "DaemonSet", "log-shipper",
                                   {{"kind", "DaemonSet"}, {"name", "log-shipper"}}, {0})},
                    1));
  const auto evidence = rpt::merge_evidence(scan, a.sorted_origins());
  const auto document =
      rpt::build_report_document({.data = a, .inputs = {"x.log"}, .evidence = &evidence});
  const auto &section = document["evidence"];
  EXPECT_EQ(section["counts"]["mounted_and_used"], 1);
  EXPECT_EQ(section["counts"]["mounted_not_used"], 0);
  EXPECT_EQ(section["counts"]["used_without_mount"], 1);
  EXPECT_EQ(section["rows"][0]["findings"][0]["field"],
            "spec.template.spec.containers[0].volumeMounts[0]");
  EXPECT_EQ(section["rows"][0]["actions"][0]["action"], "docker-socket-connect");
  EXPECT_EQ(section["rows"][1]["note"], "host process, no spec");
  for (const auto &o : document["origins"])
    EXPECT_TRUE(o.contains("evidence")) << o["id"];

  // Without --scan the document is as before.
  const auto plain = rpt::build_report_document({.data = a, .inputs = {"x.log"}});
  EXPECT_FALSE(plain.contains("evidence"));
  EXPECT_FALSE(plain["origins"][0].contains("evidence"));
}
