// The merged report from the real pieces: `shimwatch scan` over manifests,
// the real agent's audit log of a pod (metadata from the API server
// stand-in) and of a host process, and `shimwatch report --scan` over both.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include "fake_apiserver.hpp"
#include "harness.hpp"
#include "test_files.hpp"

using namespace swtest;

namespace {

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

json read_json(const std::string &path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return json::parse(text.str());
}

const json *row_labelled(const json &report, const std::string &label) {
  for (const auto &row : report["evidence"]["rows"])
    if (row["label"] == label)
      return &row;
  return nullptr;
}

} // namespace

TEST(ReportScan, RealAgentTrailAndAScanTellTheThreeKindsApart) {
  TempDir dir;
  FakeApiServer api(dir.path(), token);
  const std::string pod_uid = "5e1d2c3b-4a59-4867-9a8b-7c6d5e4f3a2b";
  const std::string container_id(64, 'e');
  TestCgroup pod_cgroup("kubepods/burstable/pod" + pod_uid + "/" + container_id);
  api.add(log_shipper_pod(pod_uid, container_id));
  write_file(dir.file("token"), token + "\n", 0600);
  const std::string log = dir.file("trail.log");
  Agent agent({"--format", "json", "--metrics-address", "", "--no-dedupe", "--kube-api-server",
               api.url(), "--kube-token-file", dir.file("token"), "--kube-ca-file", api.ca_file(),
               "--node-name", node, "--log-file", log},
              /*default_output_flags=*/false);
  std::string docker = fake_executable(dir, "docker");
  // The pod's metadata must be known before its process runs docker.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto in_pod = run_process_in_cgroup(pod_cgroup.path(), {docker, "ps"});
  auto on_host = run_process({docker, "info"});
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto pod_events = events_of(out, in_pod.pid, "docker-cli-exec");
  ASSERT_EQ(pod_events.size(), 1u) << out.log;
  ASSERT_EQ(pod_events[0]["shimwatch"]["origin"]["workload"]["name"], "log-shipper") << out.log;

  mkdir(dir.file("manifests").c_str(), 0755);
  write_file(dir.file("manifests/workloads.yaml"), manifests);
  const std::string scan = dir.file("scan.json");
  auto scanned =
      run_shimwatch({"scan", "-f", dir.file("manifests"), "--format", "json", "-o", scan});
  ASSERT_EQ(scanned.exit_code, 0) << scanned.output;
  const std::string report_file = dir.file("report.json");
  auto reported =
      run_shimwatch({"report", "--format", "json", "--scan", scan, "-o", report_file, log});
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
