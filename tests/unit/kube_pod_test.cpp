// parse_pod and resolve_workload on Pod objects as the API server serves them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "shimwatch/kubernetes.hpp"

using nlohmann::json;
using shimwatch::parse_pod;
using shimwatch::PodInfo;
using shimwatch::resolve_workload;

namespace {

// A Deployment's pod, trimmed from `kubectl get pod -o json` (containerd node).
const char *kDeploymentPod = R"({
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "creationTimestamp": "2024-05-02T09:14:07Z",
    "generateName": "web-7d4b9c8f6d-",
    "labels": {"app": "web", "pod-template-hash": "7d4b9c8f6d"},
    "name": "web-7d4b9c8f6d-x2x9k",
    "namespace": "shop",
    "ownerReferences": [{
      "apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true,
      "kind": "ReplicaSet", "name": "web-7d4b9c8f6d",
      "uid": "0d7c1e0a-1c53-4a43-9d2b-3f1b8a9b2c11"
    }],
    "resourceVersion": "4713",
    "uid": "5b1f3c9e-8f0a-4d7e-9a35-2c1d0e6f7a88"
  },
  "spec": {
    "containers": [
      {"image": "nginx:1.25", "name": "nginx", "ports": [{"containerPort": 80}]},
      {"image": "busybox:1.36", "name": "sidecar"}
    ],
    "nodeName": "node-a",
    "restartPolicy": "Always"
  },
  "status": {
    "containerStatuses": [
      {"containerID": "containerd://3f4e1a2b9c8d7e6f3f4e1a2b9c8d7e6f3f4e1a2b9c8d7e6f3f4e1a2b9c8d7e6f",
       "image": "docker.io/library/nginx:1.25",
       "imageID": "docker.io/library/nginx@sha256:32e76d4f34f80e479964a0fbd4c5b4f6967b5322c8d004e9cf0cb81c93510766",
       "name": "nginx", "ready": true, "restartCount": 0, "started": true,
       "state": {"running": {"startedAt": "2024-05-02T09:14:09Z"}}},
      {"containerID": "containerd://aaaa000011112222333344445555666677778888999900001111222233334444",
       "image": "", "name": "sidecar", "ready": true, "restartCount": 0}
    ],
    "phase": "Running",
    "podIP": "10.244.1.17"
  }
})";

// A DaemonSet's pod on a CRI-O node, with an init container.
const char *kDaemonSetPod = R"({
  "metadata": {
    "name": "node-exporter-5vq8z", "namespace": "monitoring",
    "uid": "9e0c6a1e-5b1c-4f6e-8f9a-0a1b2c3d4e5f",
    "labels": {"app.kubernetes.io/name": "node-exporter", "controller-revision-hash": "6c9f8d7b5",
               "pod-template-generation": "3"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "node-exporter",
                         "uid": "11111111-2222-3333-4444-555555555555", "controller": true,
                         "blockOwnerDeletion": true}]
  },
  "spec": {
    "nodeName": "node-b",
    "initContainers": [{"name": "init-perms", "image": "busybox:1.36"}],
    "containers": [{"name": "node-exporter", "image": "quay.io/prometheus/node-exporter:v1.7.0"}]
  },
  "status": {
    "initContainerStatuses": [
      {"name": "init-perms", "containerID": "cri-o://b1b2b3b4b5b6b7b8b9b0c1c2c3c4c5c6c7c8c9c0d1d2d3d4d5d6d7d8d9d0e1e2",
       "image": "docker.io/library/busybox:1.36",
       "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    ],
    "containerStatuses": [
      {"name": "node-exporter", "containerID": "cri-o://c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00",
       "image": "quay.io/prometheus/node-exporter:v1.7.0", "ready": true}
    ]
  }
})";

// A CronJob's Job's pod, on a node still running dockershim/cri-dockerd,
// with an ephemeral debug container (kubectl debug).
const char *kCronJobPod = R"({
  "metadata": {
    "name": "backup-28930120-6xq2p", "namespace": "ops",
    "uid": "c3d4e5f6-0718-4a2b-9c3d-4e5f60718293",
    "labels": {"batch.kubernetes.io/controller-uid": "e5f6a7b8-0000-1111-2222-333344445555",
               "batch.kubernetes.io/job-name": "backup-28930120", "job-name": "backup-28930120"},
    "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "backup-28930120",
                         "uid": "e5f6a7b8-0000-1111-2222-333344445555", "controller": true,
                         "blockOwnerDeletion": true}]
  },
  "spec": {
    "nodeName": "node-c",
    "containers": [{"name": "backup", "image": "registry.local/backup:2.1"}],
    "ephemeralContainers": [{"name": "debugger-x7k2", "image": "busybox:1.36",
                             "targetContainerName": "backup"}]
  },
  "status": {
    "containerStatuses": [
      {"name": "backup", "containerID": "docker://0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
       "image": "registry.local/backup:2.1"}
    ],
    "ephemeralContainerStatuses": [
      {"name": "debugger-x7k2", "containerID": "docker://fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
       "image": "busybox:1.36"}
    ]
  }
})";

// The mirror pod of a static pod (kube-apiserver manifest in /etc/kubernetes/manifests).
const char *kStaticPod = R"({
  "metadata": {
    "name": "kube-apiserver-cp-1", "namespace": "kube-system",
    "uid": "7a6b5c4d-3e2f-1a0b-9c8d-7e6f5a4b3c2d",
    "annotations": {"kubernetes.io/config.mirror": "0b4f6c1e", "kubernetes.io/config.source": "file"},
    "labels": {"component": "kube-apiserver", "tier": "control-plane"},
    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "cp-1",
                         "uid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "controller": true}]
  },
  "spec": {"nodeName": "cp-1", "containers": [{"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.29.2"}]},
  "status": {"containerStatuses": [{"name": "kube-apiserver", "containerID": "containerd://ab12",
                                    "image": "registry.k8s.io/kube-apiserver:v1.29.2"}]}
})";

// A pod created directly (kubectl run), still pulling its image: no container id yet.
const char *kBarePod = R"({
  "metadata": {"name": "debug", "namespace": "default", "uid": "0f0f0f0f-1e1e-2d2d-3c3c-4b4b4b4b4b4b",
               "labels": {"run": "debug"}},
  "spec": {"nodeName": "node-a", "containers": [{"name": "debug", "image": "alpine:3.19"}]},
  "status": {"phase": "Pending",
             "containerStatuses": [{"name": "debug", "image": "alpine:3.19", "ready": false,
                                    "state": {"waiting": {"reason": "ContainerCreating"}}}]}
})";

PodInfo parse_ok(const char *text) {
  auto result = parse_pod(json::parse(text));
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
  return result.ok() ? result.value() : PodInfo{};
}

json owner(const std::string &api_version, const std::string &kind, const std::string &name,
           json controller = true) {
  json o = {{"apiVersion", api_version}, {"kind", kind}, {"name", name}, {"uid", "u-1"}};
  if (!controller.is_null())
    o["controller"] = controller;
  return o;
}

json metadata_with(json owners, json labels = json::object()) {
  return {{"name", "p"},
          {"namespace", "n"},
          {"uid", "u"},
          {"labels", std::move(labels)},
          {"ownerReferences", std::move(owners)}};
}

} // namespace

TEST(KubePod, DeploymentPod) {
  PodInfo pod = parse_ok(kDeploymentPod);
  EXPECT_EQ(pod.uid, "5b1f3c9e-8f0a-4d7e-9a35-2c1d0e6f7a88");
  EXPECT_EQ(pod.namespace_name, "shop");
  EXPECT_EQ(pod.name, "web-7d4b9c8f6d-x2x9k");
  EXPECT_EQ(pod.node_name, "node-a");
  EXPECT_EQ(pod.labels.at("app"), "web");
  EXPECT_EQ(pod.labels.at("pod-template-hash"), "7d4b9c8f6d");
  EXPECT_EQ(pod.workload_kind, "Deployment");
  EXPECT_EQ(pod.workload_name, "web");
  ASSERT_EQ(pod.containers.size(), 2u);
  EXPECT_EQ(pod.containers[0].runtime, "containerd");
  EXPECT_EQ(pod.containers[0].id,
            "3f4e1a2b9c8d7e6f3f4e1a2b9c8d7e6f3f4e1a2b9c8d7e6f3f4e1a2b9c8d7e6f");
  EXPECT_EQ(pod.containers[0].name, "nginx");
  EXPECT_EQ(pod.containers[0].image, "docker.io/library/nginx:1.25"); // the status wins
  // An empty image in the status falls back to the spec's, by container name.
  EXPECT_EQ(pod.containers[1].name, "sidecar");
  EXPECT_EQ(pod.containers[1].image, "busybox:1.36");

  const auto *c =
      pod.find_container("aaaa000011112222333344445555666677778888999900001111222233334444");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->name, "sidecar");
  EXPECT_EQ(pod.find_container(
                "containerd://aaaa000011112222333344445555666677778888999900001111222233334444"),
            nullptr);
  EXPECT_EQ(pod.find_container(""), nullptr);
}

TEST(KubePod, DaemonSetPodOnCrio) {
  PodInfo pod = parse_ok(kDaemonSetPod);
  EXPECT_EQ(pod.workload_kind, "DaemonSet");
  EXPECT_EQ(pod.workload_name, "node-exporter");
  EXPECT_EQ(pod.node_name, "node-b");
  ASSERT_EQ(pod.containers.size(), 2u);
  // Regular containers first, then init containers.
  EXPECT_EQ(pod.containers[0].name, "node-exporter");
  EXPECT_EQ(pod.containers[0].runtime, "cri-o");
  EXPECT_EQ(pod.containers[0].id,
            "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00");
  EXPECT_EQ(pod.containers[1].name, "init-perms");
  EXPECT_EQ(pod.containers[1].runtime, "cri-o");
  EXPECT_EQ(pod.containers[1].image, "docker.io/library/busybox:1.36");
}

TEST(KubePod, CronJobPodWithEphemeralContainerOnDocker) {
  PodInfo pod = parse_ok(kCronJobPod);
  EXPECT_EQ(pod.workload_kind, "CronJob");
  EXPECT_EQ(pod.workload_name, "backup");
  ASSERT_EQ(pod.containers.size(), 2u);
  EXPECT_EQ(pod.containers[0].runtime, "docker");
  EXPECT_EQ(pod.containers[0].id,
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  EXPECT_EQ(pod.containers[1].name, "debugger-x7k2");
  EXPECT_EQ(pod.containers[1].runtime, "docker");
  EXPECT_EQ(pod.containers[1].image, "busybox:1.36");
}

TEST(KubePod, StaticPodIsOwnedByItsNode) {
  PodInfo pod = parse_ok(kStaticPod);
  EXPECT_EQ(pod.workload_kind, "Node");
  EXPECT_EQ(pod.workload_name, "cp-1");
  ASSERT_EQ(pod.containers.size(), 1u);
  EXPECT_EQ(pod.containers[0].id, "ab12");
}

TEST(KubePod, BarePodWithoutContainerIds) {
  PodInfo pod = parse_ok(kBarePod);
  EXPECT_EQ(pod.workload_kind, "");
  EXPECT_EQ(pod.workload_name, "");
  EXPECT_TRUE(pod.containers.empty()); // no containerID yet: skipped
  EXPECT_EQ(pod.labels.at("run"), "debug");
}

TEST(KubePod, StatusImageMissingFallsBackToSpecImageByName) {
  json pod = json::parse(kDeploymentPod);
  pod["status"]["containerStatuses"][0].erase("image");
  PodInfo info = parse_ok(pod.dump().c_str());
  EXPECT_EQ(info.containers[0].image, "nginx:1.25");
}

TEST(KubePod, ContainerIdsThatAreNotUsable) {
  json pod = json::parse(kBarePod);
  pod["spec"]["containers"] = json::array();
  pod["status"]["containerStatuses"] = {
      {{"name", "a"}, {"containerID", ""}},
      {{"name", "b"}, {"containerID", "no-scheme"}},
      {{"name", "c"}, {"containerID", "containerd://"}},
      {{"name", "d"}, {"containerID", "://abc"}},
      {{"name", "e"}, {"containerID", 42}},
      {{"name", "f"}, {"containerID", "containerd://abcd"}},
      "not an object",
      {{"name", 7}, {"containerID", "cri-o://beef"}, {"image", json::array()}},
  };
  PodInfo info = parse_ok(pod.dump().c_str());
  ASSERT_EQ(info.containers.size(), 2u);
  EXPECT_EQ(info.containers[0].name, "f");
  EXPECT_EQ(info.containers[0].id, "abcd");
  EXPECT_EQ(info.containers[1].name, ""); // wrong-typed name and image: left empty
  EXPECT_EQ(info.containers[1].id, "beef");
  EXPECT_EQ(info.containers[1].image, "");
}

TEST(KubePod, MissingIdentityIsAnError) {
  for (const char *field : {"uid", "name", "namespace"}) {
    json pod = json::parse(kDeploymentPod);
    pod["metadata"].erase(field);
    auto result = parse_pod(pod);
    ASSERT_FALSE(result.ok()) << field;
    EXPECT_NE(result.error().message.find(field), std::string::npos) << result.error().message;

    pod = json::parse(kDeploymentPod);
    pod["metadata"][field] = 12;
    EXPECT_FALSE(parse_pod(pod).ok()) << field;

    pod = json::parse(kDeploymentPod);
    pod["metadata"][field] = "";
    EXPECT_FALSE(parse_pod(pod).ok()) << field;
  }
  EXPECT_FALSE(parse_pod(json::parse("null")).ok());
  EXPECT_FALSE(parse_pod(json::parse("[1,2]")).ok());
  EXPECT_FALSE(parse_pod(json::parse(R"("pod")")).ok());
  EXPECT_FALSE(parse_pod(json::parse(R"({"metadata": "x"})")).ok());
  EXPECT_FALSE(parse_pod(json::parse(R"({"metadata": []})")).ok());
  EXPECT_FALSE(parse_pod(json::object()).ok());
}

TEST(KubePod, WrongTypedOptionalFieldsAreSkipped) {
  // Each mutation must leave a valid pod that simply lacks the broken part.
  const char *mutations[] = {
      R"({"spec": "x"})",
      R"({"spec": {"nodeName": 5}})",
      R"({"spec": {"containers": {"name": "nginx"}}})",
      R"({"spec": {"containers": [null, 3, {"name": 1, "image": 2}]}})",
      R"({"status": 1})",
      R"({"status": {"containerStatuses": "x", "initContainerStatuses": {}, "ephemeralContainerStatuses": 1}})",
      R"({"status": {"containerStatuses": [null, [], 1.5, true]}})",
      R"({"metadata": {"labels": ["a"]}})",
      R"({"metadata": {"labels": {"a": 1, "b": null, "c": {"d": "e"}, "ok": "yes"}}})",
      R"({"metadata": {"ownerReferences": "x"}})",
      R"({"metadata": {"ownerReferences": [null, 1, "x", {"controller": "true", "kind": "Job", "name": "j-12345678"}]}})",
      R"({"metadata": {"ownerReferences": [{"controller": true, "kind": 1, "name": ["web"]}]}})",
      R"({"metadata": {"ownerReferences": [{"controller": true, "kind": "ReplicaSet", "name": "web-1", "apiVersion": 3}]}})",
  };
  for (const char *patch : mutations) {
    json pod = json::parse(kDeploymentPod);
    pod.merge_patch(json::parse(patch));
    auto result = parse_pod(pod);
    ASSERT_TRUE(result.ok()) << patch << ": " << result.error().message;
    EXPECT_EQ(result->uid, "5b1f3c9e-8f0a-4d7e-9a35-2c1d0e6f7a88") << patch;
  }

  json pod = json::parse(kDeploymentPod);
  pod["metadata"]["labels"] = {{"a", 1}, {"ok", "yes"}};
  auto result = parse_pod(pod);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->labels.size(), 1u);
  EXPECT_EQ(result->labels.at("ok"), "yes");

  pod = json::parse(kDeploymentPod);
  pod["spec"] = "x";
  result = parse_pod(pod);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->node_name, "");
  EXPECT_EQ(result->containers.size(), 2u); // from the status alone
}

TEST(KubeWorkload, ReplicaSetOfADeployment) {
  auto w = resolve_workload(metadata_with({owner("apps/v1", "ReplicaSet", "api-server-5d8f7c6b4")},
                                          {{"pod-template-hash", "5d8f7c6b4"}}));
  EXPECT_EQ(w.kind, "Deployment");
  EXPECT_EQ(w.name, "api-server"); // dashes in the Deployment name survive
}

TEST(KubeWorkload, ReplicaSetWithoutMatchingHashStaysReplicaSet) {
  // No label.
  auto w = resolve_workload(metadata_with({owner("apps/v1", "ReplicaSet", "web-7d4b9c8f6d")}));
  EXPECT_EQ(w.kind, "ReplicaSet");
  EXPECT_EQ(w.name, "web-7d4b9c8f6d");
  // Label that does not match the name's suffix.
  w = resolve_workload(metadata_with({owner("apps/v1", "ReplicaSet", "web-7d4b9c8f6d")},
                                     {{"pod-template-hash", "aaaaaaaaaa"}}));
  EXPECT_EQ(w.kind, "ReplicaSet");
  // Suffix matches but without the dash.
  w = resolve_workload(metadata_with({owner("apps/v1", "ReplicaSet", "web7d4b9c8f6d")},
                                     {{"pod-template-hash", "7d4b9c8f6d"}}));
  EXPECT_EQ(w.kind, "ReplicaSet");
  // The whole name is the hash: no Deployment name left.
  w = resolve_workload(metadata_with({owner("apps/v1", "ReplicaSet", "-7d4b9c8f6d")},
                                     {{"pod-template-hash", "7d4b9c8f6d"}}));
  EXPECT_EQ(w.kind, "ReplicaSet");
  // Empty hash label.
  w = resolve_workload(
      metadata_with({owner("apps/v1", "ReplicaSet", "web-")}, {{"pod-template-hash", ""}}));
  EXPECT_EQ(w.kind, "ReplicaSet");
  // Wrong-typed label.
  w = resolve_workload(metadata_with({owner("apps/v1", "ReplicaSet", "web-7d4b9c8f6d")},
                                     {{"pod-template-hash", 7}}));
  EXPECT_EQ(w.kind, "ReplicaSet");
  // A ReplicaSet of another API group is not the Deployment controller's.
  w = resolve_workload(metadata_with({owner("example.com/v1", "ReplicaSet", "web-7d4b9c8f6d")},
                                     {{"pod-template-hash", "7d4b9c8f6d"}}));
  EXPECT_EQ(w.kind, "ReplicaSet");
}

TEST(KubeWorkload, JobOfACronJob) {
  auto w =
      resolve_workload(metadata_with({owner("batch/v1", "Job", "nightly-db-backup-28930120")}));
  EXPECT_EQ(w.kind, "CronJob");
  EXPECT_EQ(w.name, "nightly-db-backup");
  w = resolve_workload(metadata_with({owner("batch/v1", "Job", "x-123456789")}));
  EXPECT_EQ(w.kind, "CronJob");
  EXPECT_EQ(w.name, "x");
}

TEST(KubeWorkload, JobsThatAreNotFromACronJob) {
  for (const char *name : {"migrate-1234567", // 7 digits: not a scheduled time in minutes
                           "migrate-v2", "migrate", "28930120", "-28930120", "migrate-2893012a",
                           "migrate-28930120-retry"}) {
    auto w = resolve_workload(metadata_with({owner("batch/v1", "Job", name)}));
    EXPECT_EQ(w.kind, "Job") << name;
    EXPECT_EQ(w.name, name);
  }
  // Another API group's "Job" (e.g. a batch scheduler's CRD) keeps its own name.
  auto w = resolve_workload(
      metadata_with({owner("batch.volcano.sh/v1alpha1", "Job", "train-28930120")}));
  EXPECT_EQ(w.kind, "Job");
  EXPECT_EQ(w.name, "train-28930120");
}

TEST(KubeWorkload, OtherKindsAsTheyAre) {
  auto w = resolve_workload(metadata_with({owner("apps/v1", "StatefulSet", "postgres")}));
  EXPECT_EQ(w.kind, "StatefulSet");
  EXPECT_EQ(w.name, "postgres");
  w = resolve_workload(metadata_with({owner("apps/v1", "DaemonSet", "fluent-bit")}));
  EXPECT_EQ(w.kind, "DaemonSet");
  w = resolve_workload(metadata_with({owner("argoproj.io/v1alpha1", "Rollout", "checkout")}));
  EXPECT_EQ(w.kind, "Rollout");
  EXPECT_EQ(w.name, "checkout");
  w = resolve_workload(metadata_with({owner("v1", "Node", "worker-3")}));
  EXPECT_EQ(w.kind, "Node");
  EXPECT_EQ(w.name, "worker-3");
}

TEST(KubeWorkload, OnlyTheControllerCounts) {
  // No controller flag, a false one, or a non-boolean one: not the workload.
  for (json flag : {json(), json(false), json("true"), json(1)}) {
    auto w = resolve_workload(metadata_with({owner("apps/v1", "DaemonSet", "x", flag)}));
    EXPECT_EQ(w.kind, "") << flag.dump();
    EXPECT_EQ(w.name, "") << flag.dump();
  }
  // The controller is picked among several owners.
  auto w = resolve_workload(metadata_with(
      {owner("v1", "ConfigMap", "settings", false), owner("apps/v1", "StatefulSet", "kafka")}));
  EXPECT_EQ(w.kind, "StatefulSet");
  EXPECT_EQ(w.name, "kafka");
}

TEST(KubeWorkload, NoOwnerOrBrokenMetadata) {
  EXPECT_EQ(resolve_workload(json::object()).kind, "");
  EXPECT_EQ(resolve_workload(json()).kind, "");
  EXPECT_EQ(resolve_workload(json::array()).kind, "");
  EXPECT_EQ(resolve_workload(json::parse(R"({"ownerReferences": []})")).kind, "");
  EXPECT_EQ(resolve_workload(json::parse(R"({"ownerReferences": {"kind": "Job"}})")).kind, "");
  // A controller without kind or name is no workload.
  EXPECT_EQ(
      resolve_workload(json::parse(R"({"ownerReferences": [{"controller": true, "name": "x"}]})"))
          .kind,
      "");
  EXPECT_EQ(
      resolve_workload(json::parse(R"({"ownerReferences": [{"controller": true, "kind": "Job"}]})"))
          .kind,
      "");
  // Labels of the wrong type do not stop the owner from resolving.
  auto w = resolve_workload(json::parse(
      R"({"labels": "x", "ownerReferences": [{"controller": true, "kind": "ReplicaSet", "name": "a-b", "apiVersion": "apps/v1"}]})"));
  EXPECT_EQ(w.kind, "ReplicaSet");
}

TEST(KubePod, NeverThrowsWhateverTheTypes) {
  // Every node of realistic pods, replaced by a value of every JSON type.
  const json replacements[] = {
      nullptr,       1, -1.5, "x", "", true, json::array(), json::object(), json::array({1, "a"}),
      json{{"a", 1}}};
  size_t variants = 0;
  for (const char *text : {kDeploymentPod, kDaemonSetPod, kCronJobPod, kStaticPod}) {
    const json original = json::parse(text);
    const json flat = original.flatten();
    std::vector<std::string> pointers;
    for (auto it = flat.begin(); it != flat.end(); ++it) {
      // Every leaf and every ancestor of it.
      json::json_pointer p(it.key());
      while (!p.empty()) {
        pointers.push_back(p.to_string());
        p = p.parent_pointer();
      }
    }
    for (const auto &pointer : pointers)
      for (const auto &value : replacements) {
        json pod = original;
        pod[json::json_pointer(pointer)] = value;
        ++variants;
        EXPECT_NO_THROW({
          auto result = parse_pod(pod);
          if (result.ok()) {
            EXPECT_FALSE(result->uid.empty());
          }
        }) << pointer
           << " = " << value.dump();
        EXPECT_NO_THROW((void)resolve_workload(pod.value("metadata", json())))
            << pointer << " = " << value.dump();
      }
  }
  EXPECT_GT(variants, 1000u);
}
