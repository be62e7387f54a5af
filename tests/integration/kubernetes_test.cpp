// Pod metadata from a real HTTPS API server stand-in (fake_apiserver.py, real
// list + watch wire format), seen in the agent's real events.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <regex>
#include <thread>

#include "fake_apiserver.hpp"
#include "harness.hpp"

using namespace swtest;

namespace {

const std::string token = "shimwatch-agent-test-token";
const std::string node = "test-node-1";

json daemonset_pod(const std::string &uid, const std::string &container_id) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"uid", uid},
            {"name", "dd-agent-x7k2p"},
            {"namespace", "monitoring"},
            {"labels", {{"app", "dd-agent"}, {"controller-revision-hash", "7c9f"}}},
            {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                              {"kind", "DaemonSet"},
                                              {"name", "dd-agent"},
                                              {"uid", "ds-1"},
                                              {"controller", true}}})}}},
          {"spec",
           {{"nodeName", node},
            {"containers", json::array({{{"name", "agent"}, {"image", "datadog/agent:7"}}})}}},
          {"status",
           {{"phase", "Running"},
            {"containerStatuses", json::array({{{"name", "agent"},
                                                {"containerID", "docker://" + container_id},
                                                {"image", "datadog/agent:7"}}})}}}};
}

// The value of a metric sample on the agent's /metrics, or -1.
double metric(int port, const std::string &sample) {
  return sample_value(http_get(port, "/metrics"), sample).value_or(-1);
}

std::vector<std::string> agent_args(const FakeApiServer &api, const TempDir &dir, int port,
                                    std::vector<std::string> extra = {}) {
  write_file(dir.file("token"), token + "\n", 0600);
  std::vector<std::string> args = {
      "--format",          "json",        "--metrics-address", "127.0.0.1:" + std::to_string(port),
      "--kube-api-server", api.url(),     "--kube-token-file", dir.file("token"),
      "--kube-ca-file",    api.ca_file(), "--node-name",       node};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

} // namespace

TEST(Kubernetes, DaemonSetContainerOnRealDockerdGetsPodMetadata) {
  TempDir dir;
  FakeApiServer api(dir.path(), token);
  const std::string pod_uid = "0b7e6c1d-2a3f-4b5c-8d9e-0f1a2b3c4d5e";
  PodCgroupCleanup pod_cgroup{pod_uid};
  int port = free_port();
  const std::string image = docker_image_with_connect_helper();
  Agent agent(agent_args(api, dir, port, {"--watch-socket", "/host/d.sock"}),
              /*default_output_flags=*/false);

  // TRIGGER: the pod's container exists, the API server announces the pod,
  // then the container reaches the node's socket under another path.
  auto created =
      run_process({"docker", "create", "--cgroup-parent", "/kubepods/burstable/pod" + pod_uid, "-v",
                   "/var/run/docker.sock:/host/d.sock", "shimwatch-test/connect:1",
                   "/sw_test_connect", "/host/d.sock", "from-the-agent"});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  std::string container_id = trim(created.output);
  api.add(daemonset_pod(pod_uid, container_id));
  ASSERT_TRUE(wait_for([&] { return metric(port, "shimwatch_kubernetes_pods") >= 1; },
                       std::chrono::seconds(10)))
      << http_get(port, "/metrics");
  auto started = run_process({"docker", "start", "-a", container_id});
  run_process({"docker", "rm", "-f", container_id});
  ASSERT_EQ(started.output, "ok\n");

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto found = events_of_container(out, container_id);
  ASSERT_EQ(found.size(), 1u) << out.log;
  const json &e = found[0];
  EXPECT_EQ(e["shimwatch"]["origin"]["type"], "pod");
  EXPECT_EQ(e["shimwatch"]["origin"]["kubernetes_metadata"], "known");
  EXPECT_EQ(e["orchestrator"]["namespace"], "monitoring");
  EXPECT_EQ(e["orchestrator"]["resource"]["name"], "dd-agent-x7k2p");
  EXPECT_EQ(e["kubernetes"]["pod"]["uid"], pod_uid);
  EXPECT_EQ(e["kubernetes"]["container"]["name"], "agent");
  EXPECT_EQ(e["container"]["name"], "agent");
  EXPECT_EQ(e["container"]["image"]["name"], "datadog/agent:7");
  EXPECT_EQ(e["kubernetes"]["pod"]["labels"], json({{"app", "dd-agent"}}));
  EXPECT_EQ(e["shimwatch"]["origin"]["workload"]["kind"], "DaemonSet");
  EXPECT_EQ(e["shimwatch"]["origin"]["workload"]["name"], "dd-agent");
  EXPECT_EQ(e["shimwatch"]["origin"]["agent"], "datadog");
  EXPECT_EQ(e["shimwatch"]["socket"]["path"], "/host/d.sock");
}

TEST(Kubernetes, ApiServerDownSlowOrGarbageEventsStillFlow) {
  TempDir dir;
  FakeApiServer api(dir.path(), token);
  const std::string pod_uid = "1c8f7d2e-3b4a-4c5d-9e0f-1a2b3c4d5e6f";
  const std::string container_id(64, 'c');
  TestCgroup pod_cgroup("kubepods/burstable/pod" + pod_uid + "/" + container_id);
  api.add(daemonset_pod(pod_uid, container_id));
  api.mode("down");
  int port = free_port();
  Agent agent(agent_args(api, dir, port), /*default_output_flags=*/false);
  std::string docker = fake_executable(dir, "docker");

  // TRIGGER: the pod's process runs docker while the API server is down,
  // then while it answers garbage, then while it is slow.
  std::vector<ProcessResult> runs;
  runs.push_back(run_process_in_cgroup(pod_cgroup.path(), {docker, "ps", "down"}));
  ASSERT_TRUE(wait_for([&] { return metric(port, "shimwatch_kubernetes_outages_total") >= 1; },
                       std::chrono::seconds(10)));
  api.mode("garbage");
  runs.push_back(run_process_in_cgroup(pod_cgroup.path(), {docker, "ps", "garbage"}));
  api.mode("slow", 5);
  runs.push_back(run_process_in_cgroup(pod_cgroup.path(), {docker, "ps", "slow"}));
  double misses = metric(port, "shimwatch_enrichment_misses_total{source=\"kubernetes\"}");
  double outages = metric(port, "shimwatch_kubernetes_outages_total");
  double synced = metric(port, "shimwatch_kubernetes_synced");

  // ASSERT: every event went out, with the uid and container id from the cgroup.
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  for (const auto &run : runs) {
    auto events = events_of(out, run.pid, "docker-cli-exec");
    ASSERT_EQ(events.size(), 1u) << run.pid;
    EXPECT_EQ(events[0]["kubernetes"]["pod"]["uid"], pod_uid);
    EXPECT_EQ(events[0]["container"]["id"], container_id);
    EXPECT_EQ(events[0]["shimwatch"]["origin"]["kubernetes_metadata"], "unknown");
  }
  EXPECT_GE(misses, 3);
  EXPECT_EQ(outages, 1); // down and garbage without a good answer between: one outage
  EXPECT_EQ(synced, 0);
  EXPECT_EQ(count_occurrences(out.log, "is not usable"), 1u) << out.log;
}

TEST(Kubernetes, PodAppearingAfterAnEventIsBackfilledForLaterEvents) {
  TempDir dir;
  FakeApiServer api(dir.path(), token);
  const std::string pod_uid = "2d9a8e3f-4c5b-4d6e-8f0a-2b3c4d5e6f70";
  const std::string container_id(64, 'd');
  TestCgroup pod_cgroup("kubepods/besteffort/pod" + pod_uid + "/" + container_id);
  int port = free_port();
  Agent agent(agent_args(api, dir, port), /*default_output_flags=*/false);
  std::string docker = fake_executable(dir, "docker");
  ASSERT_TRUE(wait_for([&] { return metric(port, "shimwatch_kubernetes_synced") == 1; },
                       std::chrono::seconds(10)));

  // TRIGGER
  auto before = run_process_in_cgroup(pod_cgroup.path(), {docker, "ps"});
  api.add(daemonset_pod(pod_uid, container_id));
  ASSERT_TRUE(wait_for([&] { return metric(port, "shimwatch_kubernetes_pods") >= 1; },
                       std::chrono::seconds(10)));
  auto after = run_process_in_cgroup(pod_cgroup.path(), {docker, "ps"});

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto first = events_of(out, before.pid, "docker-cli-exec");
  auto second = events_of(out, after.pid, "docker-cli-exec");
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(first[0]["shimwatch"]["origin"]["kubernetes_metadata"], "unknown");
  EXPECT_EQ(second[0]["shimwatch"]["origin"]["kubernetes_metadata"], "known");
  EXPECT_EQ(second[0]["orchestrator"]["namespace"], "monitoring");
  EXPECT_EQ(second[0]["shimwatch"]["origin"]["qos_class"], "besteffort");
}

TEST(Kubernetes, KubeletSourcePodAppearingAfterAnEventIsBackfilledForLaterEvents) {
  TempDir dir;
  FakeApiServer kubelet(dir.path(), token);
  const std::string pod_uid = "3e0b9f4a-5d6c-4e7f-9a1b-3c4d5e6f7081";
  const std::string container_id(64, 'e');
  TestCgroup pod_cgroup("kubepods/besteffort/pod" + pod_uid + "/" + container_id);
  int port = free_port();
  write_file(dir.file("token"), token + "\n", 0600);
  Agent agent({"--format", "json", "--metrics-address", "127.0.0.1:" + std::to_string(port),
               "--kubernetes-source", "kubelet", "--kubelet-url", kubelet.url(),
               "--kubelet-poll-seconds", "1", "--kube-token-file", dir.file("token"),
               "--kube-ca-file", kubelet.ca_file(), "--node-name", node},
              /*default_output_flags=*/false);
  std::string docker = fake_executable(dir, "docker");
  ASSERT_TRUE(wait_for([&] { return metric(port, "shimwatch_kubernetes_synced") == 1; },
                       std::chrono::seconds(10)));

  // TRIGGER
  auto before = run_process_in_cgroup(pod_cgroup.path(), {docker, "ps"});
  kubelet.add(daemonset_pod(pod_uid, container_id));
  ASSERT_TRUE(wait_for([&] { return metric(port, "shimwatch_kubernetes_pods") >= 1; },
                       std::chrono::seconds(10)));
  auto after = run_process_in_cgroup(pod_cgroup.path(), {docker, "ps"});

  // ASSERT
  json stats = kubelet.stats();
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto first = events_of(out, before.pid, "docker-cli-exec");
  auto second = events_of(out, after.pid, "docker-cli-exec");
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(first[0]["shimwatch"]["origin"]["kubernetes_metadata"], "unknown");
  EXPECT_EQ(second[0]["shimwatch"]["origin"]["kubernetes_metadata"], "known");
  EXPECT_EQ(second[0]["orchestrator"]["namespace"], "monitoring");
  EXPECT_EQ(second[0]["shimwatch"]["origin"]["workload"]["kind"], "DaemonSet");
  EXPECT_EQ(second[0]["shimwatch"]["origin"]["qos_class"], "besteffort");
  EXPECT_GE(stats["kubelet_polls"].get<int>(), 2);
  EXPECT_EQ(stats["lists"], 0); // the API server was never asked
  EXPECT_EQ(stats["watches"], 0);
  EXPECT_NE(out.log.find("pod metadata from the kubelet " + kubelet.url()), std::string::npos)
      << out.log;
}
