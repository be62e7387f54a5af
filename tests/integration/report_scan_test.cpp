// `shimwatch report --scan`: the real `shimwatch scan -f` over manifests and
// the real report over a trail whose workloads match them, from a fixture
// and from the real agent.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <chrono>
#include <sys/stat.h>
#include <thread>

#include "fake_apiserver.hpp"
#include "harness.hpp"
#include "test_files.hpp"

using namespace swtest;

namespace {

std::string fixture(const std::string &name) {
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "report" / name).string();
}

json read_json(const std::string &path) {
  return json::parse(read_file(path));
}

const json *row_labelled(const json &report, const std::string &label) {
  for (const auto &row : report["evidence"]["rows"])
    if (row["label"] == label)
      return &row;
  return nullptr;
}

const std::string token = "shimwatch-merge-test-token";
const std::string node = "merge-node-1";

json log_shipper_pod(const std::string &uid, const std::string &container_id) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"uid", uid},
            {"name", "log-shipper-q2x8d"},
            {"namespace", "logging"},
            {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                              {"kind", "DaemonSet"},
                                              {"name", "log-shipper"},
                                              {"uid", "ds-7"},
                                              {"controller", true}}})}}},
          {"spec",
           {{"nodeName", node},
            {"containers", json::array({{{"name", "shipper"}, {"image", "shipper:2"}}})}}},
          {"status",
           {{"phase", "Running"},
            {"containerStatuses", json::array({{{"name", "shipper"},
                                                {"containerID", "docker://" + container_id},
                                                {"image", "shipper:2"}}})}}}};
}

const char *const manifests = R"(apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: log-shipper
  namespace: logging
spec:
  selector:
    matchLabels: {app: log-shipper}
  template:
    metadata:
      labels: {app: log-shipper}
    spec:
      containers:
      - name: shipper
        image: shipper:2
        volumeMounts:
        - {name: docker-sock, mountPath: /var/run/docker.sock}
      volumes:
      - name: docker-sock
        hostPath: {path: /var/run/docker.sock}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: image-prune
  namespace: ops
spec:
  schedule: "0 3 1 * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: prune
            image: docker:27-cli
            command: ["docker", "image", "prune", "-af"]
            volumeMounts:
            - {name: run, mountPath: /var/run}
          volumes:
          - name: run
            hostPath: {path: /var/run}
)";

} // namespace

TEST(ReportScan, ScanAndTrailMergeIntoThreeKindsOfEvidence) {
  TempDir dir;
  const std::string scan = dir.file("scan.json");
  const std::string report_file = dir.file("report.json");
  // TRIGGER: `scan` of the fixture manifests, then `report` of a trail merged with it.
  auto scanned =
      run_shimwatch({"scan", "-f", fixture("scan_workloads"), "--format", "json", "-o", scan});
  ASSERT_EQ(scanned.exit_code, 0) << scanned.output;

  auto run = run_shimwatch({"report", "--format", "json", "--scan", scan, "-o", report_file,
                            fixture("scan_merge.jsonl")});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // ASSERT
  const json report = read_json(report_file);
  ASSERT_TRUE(report.contains("evidence")) << report.dump(2);
  const auto &evidence = report["evidence"];
  EXPECT_EQ(evidence["scan"]["workloads"], 3);
  EXPECT_EQ(evidence["scan"]["workloads_with_findings"], 2);
  EXPECT_EQ(evidence["counts"]["mounted_and_used"], 1);
  EXPECT_EQ(evidence["counts"]["mounted_not_used"], 1);
  EXPECT_EQ(evidence["counts"]["used_without_mount"], 2);

  const json *shipper = row_labelled(report, "logging/DaemonSet/log-shipper");
  ASSERT_NE(shipper, nullptr) << evidence.dump(2);
  EXPECT_EQ((*shipper)["kind"], "mounted_and_used");
  EXPECT_EQ((*shipper)["origins"], json::array({"workload:logging/DaemonSet/log-shipper"}));
  EXPECT_EQ((*shipper)["calls"], 3);
  EXPECT_EQ((*shipper)["findings"][0]["rule"], "docker-socket-mount");
  EXPECT_EQ((*shipper)["findings"][0]["severity"], "high");

  const json *cleanup = row_labelled(report, "ops/CronJob/image-cleanup");
  ASSERT_NE(cleanup, nullptr) << evidence.dump(2);
  EXPECT_EQ((*cleanup)["kind"], "mounted_not_used");
  EXPECT_EQ((*cleanup)["calls"], 0);
  EXPECT_TRUE((*cleanup)["origins"].empty());
  EXPECT_FALSE((*cleanup)["findings"].empty());

  const json *web = row_labelled(report, "shop/Deployment/web");
  ASSERT_NE(web, nullptr) << evidence.dump(2);
  EXPECT_EQ((*web)["kind"], "used_without_mount");
  EXPECT_TRUE((*web)["findings"].empty());

  const json *unit = row_labelled(report, "node-health.service");
  ASSERT_NE(unit, nullptr) << evidence.dump(2);
  EXPECT_EQ((*unit)["kind"], "used_without_mount");
  EXPECT_EQ((*unit)["note"], "host process, no spec");

  for (const auto &origin : report["origins"])
    EXPECT_TRUE(origin["evidence"].is_string()) << origin["id"];

  // TRIGGER: the same merge in Markdown.
  auto markdown = run_shimwatch({"report", "--scan", scan, fixture("scan_merge.jsonl")});
  // ASSERT
  ASSERT_EQ(markdown.exit_code, 0) << markdown.output;
  EXPECT_NE(markdown.output.find("## Static and runtime evidence"), std::string::npos);
  EXPECT_NE(
      markdown.output.find("| mounted, not used during the window | `ops/CronJob/image-cleanup`"),
      std::string::npos)
      << markdown.output;
  // TRIGGER: and in HTML.
  const std::string html = dir.file("report.html");
  auto rendered = run_shimwatch(
      {"report", "--format", "html", "--scan", scan, "-o", html, fixture("scan_merge.jsonl")});
  // ASSERT
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  std::ifstream html_file(html);
  std::stringstream html_text;
  html_text << html_file.rdbuf();
  EXPECT_NE(html_text.str().find("<th>evidence</th>"), std::string::npos);
  EXPECT_NE(html_text.str().find("data-evidence=\"mounted_not_used\""), std::string::npos);
}

TEST(ReportScan, ScanFileThatIsNotAScanExitsTwo) {
  TempDir dir;
  const std::string not_scan = dir.file("not-scan.json");
  std::ofstream(not_scan) << "{\"origins\": []}\n";
  // TRIGGER: `report --scan` with a file that is not a scan.
  auto run = run_shimwatch({"report", "--scan", not_scan, fixture("scan_merge.jsonl")});
  // ASSERT
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(trim(run.output), "shimwatch report: --scan " + not_scan +
                                  ": not a shimwatch scan document: no schema_version");

  // TRIGGER: a scan file that does not exist.
  auto missing =
      run_shimwatch({"report", "--scan", dir.file("absent.json"), fixture("scan_merge.jsonl")});
  // ASSERT
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(trim(missing.output),
            "shimwatch report: --scan " + dir.file("absent.json") + ": cannot be read");

  // TRIGGER: --scan with no value.
  auto no_value = run_shimwatch({"report", "--scan"});
  // ASSERT
  EXPECT_EQ(no_value.exit_code, 2);
  EXPECT_EQ(trim(no_value.output), "shimwatch report: --scan needs a value");
}

// The merged report from the real pieces: `shimwatch scan` over manifests,
// the real agent's audit log of a pod (metadata from the API server
// stand-in) and of a host process, and `shimwatch report --scan` over both.
TEST(ReportScan, RealAgentTrailAndAScanTellTheThreeKindsApart) {
  TempDir dir;
  FakeApiServer api(dir.path(), token);
  const std::string pod_uid = "5e1d2c3b-4a59-4867-9a8b-7c6d5e4f3a2b";
  const std::string container_id(64, 'e');
  TestCgroup pod_cgroup("kubepods/burstable/pod" + pod_uid + "/" + container_id);
  api.add(log_shipper_pod(pod_uid, container_id));
  write_file(dir.file("token"), token + "\n", 0600);
  const std::string log = dir.subdir("log") + "/trail.log";
  Agent agent({"--format", "json", "--metrics-address", "", "--no-dedupe", "--kube-api-server",
               api.url(), "--kube-token-file", dir.file("token"), "--kube-ca-file", api.ca_file(),
               "--node-name", node, "--log-file", log},
              /*default_output_flags=*/false);
  std::string docker = fake_executable(dir, "docker");
  // The pod's metadata must be known before its process runs docker.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // TRIGGER: the CLI run in a pod's cgroup and on the host.
  auto in_pod = run_process_in_cgroup(pod_cgroup.path(), {docker, "ps"});
  auto on_host = run_process({docker, "info"});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto pod_events = events_of(out, in_pod.pid, "docker-cli-exec");
  ASSERT_EQ(pod_events.size(), 1u) << out.log;
  ASSERT_EQ(pod_events[0]["shimwatch"]["origin"]["workload"]["name"], "log-shipper") << out.log;

  // TRIGGER: `scan` of the manifests, then `report` of the agent's trail merged with it.
  mkdir(dir.file("manifests").c_str(), 0755);
  write_file(dir.file("manifests/workloads.yaml"), manifests);
  const std::string scan = dir.file("scan.json");
  auto scanned =
      run_shimwatch({"scan", "-f", dir.file("manifests"), "--format", "json", "-o", scan});
  ASSERT_EQ(scanned.exit_code, 0) << scanned.output;
  const std::string report_file = dir.file("report.json");
  auto reported =
      run_shimwatch({"report", "--format", "json", "--scan", scan, "-o", report_file, log});
  // ASSERT
  ASSERT_EQ(reported.exit_code, 0) << reported.output;
  const json report = read_json(report_file);
  ASSERT_TRUE(report.contains("evidence")) << report.dump(2);

  const json *shipper = row_labelled(report, "logging/DaemonSet/log-shipper");
  ASSERT_NE(shipper, nullptr) << report["evidence"].dump(2);
  EXPECT_EQ((*shipper)["kind"], "mounted_and_used");
  EXPECT_EQ((*shipper)["calls"], 1);
  EXPECT_FALSE((*shipper)["findings"].empty());

  const json *prune = row_labelled(report, "ops/CronJob/image-prune");
  ASSERT_NE(prune, nullptr) << report["evidence"].dump(2);
  EXPECT_EQ((*prune)["kind"], "mounted_not_used");
  EXPECT_EQ((*prune)["calls"], 0);

  size_t host_rows = 0;
  for (const auto &row : report["evidence"]["rows"])
    if (row["kind"] == "used_without_mount" && row["note"] == "host process, no spec")
      ++host_rows;
  EXPECT_GE(host_rows, 1u) << report["evidence"].dump(2);
  EXPECT_EQ(report["evidence"]["counts"]["mounted_and_used"], 1);
  EXPECT_EQ(report["evidence"]["counts"]["mounted_not_used"], 1);
}
