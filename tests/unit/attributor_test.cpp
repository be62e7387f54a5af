// Attributor: cgroup path + pod cache + ancestry -> the event's origin.
#include <gtest/gtest.h>

#include "shimwatch/attribute.hpp"
#include "shimwatch/config.hpp"
#include "shimwatch/kubernetes.hpp"

using namespace shimwatch;

namespace {

const std::string pod_uid = "6f1b5a8e-3c2d-4e8f-9a0b-1c2d3e4f5a6b";
const std::string container_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

Event pod_event() {
  Event e;
  e.action = Action::docker_socket_connect;
  e.pid_ns = 4026532100u;
  e.cgroup_path = "/kubepods/burstable/pod" + pod_uid + "/" + container_id;
  return e;
}

PodInfo dd_agent_pod() {
  PodInfo pod;
  pod.uid = pod_uid;
  pod.namespace_name = "monitoring";
  pod.name = "dd-agent-x7k2p";
  pod.labels = {{"app", "dd-agent"}, {"secret-ish", "do-not-copy"}};
  pod.containers = {KubeContainer{container_id, "containerd", "agent", "datadog/agent:7"}};
  pod.workload_kind = "DaemonSet";
  pod.workload_name = "dd-agent";
  return pod;
}

TEST(Attributor, PodKnownToTheCacheGetsItsMetadata) {
  PodCache pods;
  pods.upsert(dd_agent_pod());
  Attributor attributor(default_config(), &pods);
  Event e = pod_event();
  attributor.attribute(e);
  const Origin &o = e.origin;
  EXPECT_EQ(o.type, OriginType::pod);
  EXPECT_TRUE(o.kubernetes_known);
  EXPECT_EQ(o.namespace_name, "monitoring");
  EXPECT_EQ(o.pod_name, "dd-agent-x7k2p");
  EXPECT_EQ(o.container_name, "agent");
  EXPECT_EQ(o.container_image, "datadog/agent:7");
  EXPECT_EQ(o.cgroup.container_runtime, "containerd"); // cgroupfs layout did not say
  EXPECT_EQ(o.workload_kind, "DaemonSet");
  EXPECT_EQ(o.workload_name, "dd-agent");
  // Only allow-listed labels are copied.
  EXPECT_EQ(o.labels, (std::map<std::string, std::string>{{"app", "dd-agent"}}));
  EXPECT_EQ(attributor.kubernetes_misses(), 0u);
}

TEST(Attributor, PodNotYetKnownKeepsUidAndCountsAMissThenBackfills) {
  PodCache pods;
  Attributor attributor(default_config(), &pods);
  Event e = pod_event();
  attributor.attribute(e);
  EXPECT_EQ(e.origin.type, OriginType::pod);
  EXPECT_FALSE(e.origin.kubernetes_known);
  EXPECT_EQ(e.origin.cgroup.pod_uid, pod_uid);
  EXPECT_EQ(e.origin.cgroup.container_id, container_id);
  EXPECT_EQ(attributor.kubernetes_misses(), 1u);

  pods.upsert(dd_agent_pod()); // the watch delivers it later
  Event later = pod_event();
  attributor.attribute(later);
  EXPECT_TRUE(later.origin.kubernetes_known);
  EXPECT_EQ(attributor.kubernetes_misses(), 1u);
}

TEST(Attributor, NoMetadataSourceCountsNoMiss) {
  Attributor attributor(default_config(), nullptr);
  Event e = pod_event();
  attributor.attribute(e);
  EXPECT_EQ(e.origin.type, OriginType::pod);
  EXPECT_EQ(attributor.kubernetes_misses(), 0u);
}

TEST(Attributor, AncestryStopsAtTheContainerBoundary) {
  Attributor attributor(default_config(), nullptr);
  Event e = pod_event();
  e.process.ancestry = {{10, e.pid_ns, 0, "sh", ""},
                        {1, e.pid_ns, 0, "tini", ""},
                        {5000, 4026531836u, 0, "containerd-shim", ""},
                        {1, 4026531836u, 0, "systemd", ""}};
  e.process.ancestry_truncated = true;
  attributor.attribute(e);
  ASSERT_EQ(e.process.ancestry.size(), 2u);
  EXPECT_EQ(e.process.ancestry[1].name, "tini");
  EXPECT_FALSE(e.process.ancestry_truncated);
}

TEST(Attributor, HostPathsAreUnitsSessionsOrHost) {
  Attributor attributor(default_config(), nullptr);
  Event e;
  e.cgroup_path = "/system.slice/cron.service";
  attributor.attribute(e);
  EXPECT_EQ(e.origin.type, OriginType::systemd_unit);
  EXPECT_EQ(e.origin.cgroup.unit, "cron.service");
  e.cgroup_path = "/";
  attributor.attribute(e);
  EXPECT_EQ(e.origin.type, OriginType::host);
}

} // namespace
