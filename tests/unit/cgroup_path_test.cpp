// parse_cgroup_path: real-world cgroup layouts (kubelet systemd and cgroupfs
// drivers with containerd, CRI-O and Docker; plain Docker, podman, nerdctl;
// systemd units and login sessions), truncated probe paths and malformed input.
// Every row states the whole expected CgroupOrigin.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "shimwatch/attribute.hpp"

using shimwatch::CgroupOrigin;
using shimwatch::origin_type_name;
using shimwatch::OriginType;
using shimwatch::parse_cgroup_path;

namespace {

// Container ids: 64 lowercase hex, as docker / containerd / CRI-O make them.
const std::string kId1 = "abddff03dfd7710c79a750ce3e730365cbb2c8247a974170c1062683bc3e9152";
const std::string kId2 = "5b126a16e7b6fc0120b36e738a6ee8cb303395f46a88cd7abb76a08ba1058db6";
const std::string kId3 = "574c1d22391013cd1ed5b1834084eb1141adddc81586df28eda43cbe4d4ec009";
const std::string kId4 = "10cd0f750e96c68f0da75c23636a0456dcf3f3e6c1393acd6244a0ecb52435a3";
const std::string kNodeId = "d6701ec289c56e4391acb11d07474b3139466857a305490575508a8b7a9fcf22";
const std::string kPodmanPodId = "b6f7eba1efddd5b1704b8ed8782b143c564496fc1b597d2a5d565bfd2632fca0";

// Pod uids as the API server spells them; static pods: kubelet's md5, 32 hex.
const std::string kUid1 = "9692aa0e-748e-11e8-8dfa-76d458035df6";
const std::string kUid2 = "2fc932ce-fdcc-454b-97bd-aadfdeb4c340";
const std::string kUid3 = "1e597579-417e-482f-bf65-5fe170c3aebd";
const std::string kStaticUid = "36b6d6be73b1065af369b3985edafa09";
const std::string kEcsTask = "7912ce694e2cc0e4e63f3fe7659cab15";

// kubelet's systemd driver writes the uid's dashes as underscores.
std::string sd(std::string uid) {
  std::replace(uid.begin(), uid.end(), '-', '_');
  return uid;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// kubelet systemd-driver pod slice names.
std::string burstable_slice(const std::string &uid) {
  return "kubepods-burstable-pod" + sd(uid) + ".slice";
}
std::string besteffort_slice(const std::string &uid) {
  return "kubepods-besteffort-pod" + sd(uid) + ".slice";
}
std::string guaranteed_slice(const std::string &uid) {
  return "kubepods-pod" + sd(uid) + ".slice";
}
std::string burstable_path(const std::string &uid) {
  return "/kubepods.slice/kubepods-burstable.slice/" + burstable_slice(uid);
}
std::string besteffort_path(const std::string &uid) {
  return "/kubepods.slice/kubepods-besteffort.slice/" + besteffort_slice(uid);
}
std::string guaranteed_path(const std::string &uid) {
  return "/kubepods.slice/" + guaranteed_slice(uid);
}

// ---------------------------------------------------------------- expected origins

CgroupOrigin host(std::string slice = {}, std::optional<uint32_t> uid = {}) {
  CgroupOrigin o;
  o.slice = std::move(slice);
  o.session_uid = uid;
  return o;
}

CgroupOrigin pod(std::string uid, std::string qos, std::string id, std::string runtime,
                 std::string slice) {
  CgroupOrigin o;
  o.type = OriginType::pod;
  o.pod_uid = std::move(uid);
  o.qos_class = std::move(qos);
  o.container_id = std::move(id);
  o.container_runtime = std::move(runtime);
  o.slice = std::move(slice);
  return o;
}

CgroupOrigin container(std::string id, std::string runtime, std::string slice = {},
                       std::optional<uint32_t> uid = {}) {
  CgroupOrigin o;
  o.type = OriginType::container;
  o.container_id = std::move(id);
  o.container_runtime = std::move(runtime);
  o.slice = std::move(slice);
  o.session_uid = uid;
  return o;
}

CgroupOrigin unit(std::string name, std::string slice, std::optional<uint32_t> uid = {}) {
  CgroupOrigin o;
  o.type = OriginType::systemd_unit;
  o.unit = std::move(name);
  o.slice = std::move(slice);
  o.session_uid = uid;
  return o;
}

CgroupOrigin session(std::string id, std::optional<uint32_t> uid, std::string slice) {
  CgroupOrigin o;
  o.type = OriginType::user_session;
  o.session = std::move(id);
  o.session_uid = uid;
  o.slice = std::move(slice);
  return o;
}

std::string describe(const CgroupOrigin &o) {
  std::string s =
      "{type=" + std::string(origin_type_name(o.type)) + " pod_uid=" + o.pod_uid +
      " qos=" + o.qos_class + " container_id=" + o.container_id +
      " runtime=" + o.container_runtime + " unit=" + o.unit + " session=" + o.session +
      " session_uid=" + (o.session_uid ? std::to_string(*o.session_uid) : std::string("none")) +
      " slice=" + o.slice + "}";
  return s;
}

struct Row {
  std::string name; // gtest parameter name: [A-Za-z0-9_]
  std::string path;
  CgroupOrigin want;
};

void PrintTo(const Row &row, std::ostream *os) {
  *os << row.name << " \"" << row.path << "\"";
}

// ---------------------------------------------------------------- the table

std::vector<Row> rows() {
  const std::string id = kId1;
  return {
      // kubelet, systemd driver, containerd (cgroup v1 and v2 look alike).
      {"SystemdContainerdBurstable", burstable_path(kUid2) + "/cri-containerd-" + id + ".scope",
       pod(kUid2, "burstable", id, "containerd", burstable_slice(kUid2))},
      {"SystemdContainerdBesteffort", besteffort_path(kUid1) + "/cri-containerd-" + id + ".scope",
       pod(kUid1, "besteffort", id, "containerd", besteffort_slice(kUid1))},
      {"SystemdContainerdGuaranteed", guaranteed_path(kUid3) + "/cri-containerd-" + id + ".scope",
       pod(kUid3, "guaranteed", id, "containerd", guaranteed_slice(kUid3))},
      {"SystemdContainerdInitSublevel",
       burstable_path(kUid2) + "/cri-containerd-" + id + ".scope/init",
       pod(kUid2, "burstable", id, "containerd", burstable_slice(kUid2))},
      {"SystemdStaticPod", burstable_path(kStaticUid) + "/cri-containerd-" + id + ".scope",
       pod(kStaticUid, "burstable", id, "containerd", burstable_slice(kStaticUid))},
      {"SystemdPodLevelBurstable", burstable_path(kUid2),
       pod(kUid2, "burstable", "", "", burstable_slice(kUid2))},
      {"SystemdPodLevelGuaranteed", guaranteed_path(kUid1),
       pod(kUid1, "guaranteed", "", "", guaranteed_slice(kUid1))},
      {"SystemdPodLevelTrailingSlash", besteffort_path(kUid3) + "/",
       pod(kUid3, "besteffort", "", "", besteffort_slice(kUid3))},

      // kubelet, systemd driver, CRI-O.
      {"SystemdCrioBurstable", burstable_path(kUid1) + "/crio-" + id + ".scope",
       pod(kUid1, "burstable", id, "cri-o", burstable_slice(kUid1))},
      {"SystemdCrioGuaranteed", guaranteed_path(kUid2) + "/crio-" + id + ".scope",
       pod(kUid2, "guaranteed", id, "cri-o", guaranteed_slice(kUid2))},
      {"SystemdCrioCrunContainerSublevel",
       besteffort_path(kUid1) + "/crio-" + id + ".scope/container",
       pod(kUid1, "besteffort", id, "cri-o", besteffort_slice(kUid1))},
      {"SystemdCrioConmonIsThePod", burstable_path(kUid1) + "/crio-conmon-" + id + ".scope",
       pod(kUid1, "burstable", "", "cri-o", burstable_slice(kUid1))},
      {"CgroupV1ProcLineCrio", "12:cpuset:" + burstable_path(kUid1) + "/crio-" + kId2 + ".scope",
       pod(kUid1, "burstable", kId2, "cri-o", burstable_slice(kUid1))},
      {"CgroupV1NamedSystemdHierarchyLine",
       "1:name=systemd:" + besteffort_path(kUid2) + "/docker-" + kId3 + ".scope",
       pod(kUid2, "besteffort", kId3, "docker", besteffort_slice(kUid2))},

      // kubelet, systemd driver, Docker (dockershim / cri-dockerd).
      {"SystemdDockershimBesteffort", besteffort_path(kUid1) + "/docker-" + id + ".scope",
       pod(kUid1, "besteffort", id, "docker", besteffort_slice(kUid1))},
      {"SystemdDockershimGuaranteed", guaranteed_path(kUid3) + "/docker-" + kId4 + ".scope",
       pod(kUid3, "guaranteed", kId4, "docker", guaranteed_slice(kUid3))},

      // kind / k3d / minikube: kubelet with a cgroup root, nodes in containers.
      {"KindBesteffort",
       "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
       "kubelet-kubepods-besteffort-pod" +
           sd(kUid3) + ".slice/cri-containerd-" + id + ".scope",
       pod(kUid3, "besteffort", id, "containerd",
           "kubelet-kubepods-besteffort-pod" + sd(kUid3) + ".slice")},
      {"KindGuaranteed",
       "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" + sd(kUid2) +
           ".slice/cri-containerd-" + id + ".scope",
       pod(kUid2, "guaranteed", id, "containerd", "kubelet-kubepods-pod" + sd(kUid2) + ".slice")},
      {"KindNodeSeenFromHost",
       "/system.slice/docker-" + kNodeId +
           ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
           "kubelet-kubepods-burstable-pod" +
           sd(kUid1) + ".slice/cri-containerd-" + id + ".scope",
       pod(kUid1, "burstable", id, "containerd",
           "kubelet-kubepods-burstable-pod" + sd(kUid1) + ".slice")},
      {"KindNodeOwnContainerdIsTheNodeContainer",
       "/system.slice/docker-" + kNodeId + ".scope/system.slice/containerd.service",
       container(kNodeId, "docker", "system.slice")},
      {"MinikubeCrioInDocker",
       "/docker/" + kNodeId + besteffort_path(kUid2) + "/crio-" + id + ".scope",
       pod(kUid2, "besteffort", id, "cri-o", besteffort_slice(kUid2))},
      {"K3dNodeSeenFromHost", "/docker/" + kNodeId + "/kubepods/besteffort/pod" + kUid1 + "/" + id,
       pod(kUid1, "besteffort", id, "", "")},
      {"KindCgroupfsRoot", "/kubelet/kubepods/burstable/pod" + kUid3 + "/" + id,
       pod(kUid3, "burstable", id, "", "")},

      // containerd's runc cgroupfs driver given a systemd cgroupsPath.
      {"ContainerdColonFormStaticPod",
       "/system.slice/containerd.service/kubepods-burstable-pod" + kStaticUid +
           ".slice:cri-containerd:" + id,
       pod(kStaticUid, "burstable", id, "containerd", "system.slice")},
      {"ContainerdColonFormBesteffort",
       "/system.slice/containerd.service/" + besteffort_slice(kUid1) + ":cri-containerd:" + kId2,
       pod(kUid1, "besteffort", kId2, "containerd", "system.slice")},
      {"ContainerdColonFormGuaranteed",
       "/system.slice/containerd.service/" + guaranteed_slice(kUid2) + ":cri-containerd:" + kId3,
       pod(kUid2, "guaranteed", kId3, "containerd", "system.slice")},
      {"ContainerdColonFormBadIdKeepsPod",
       "/system.slice/containerd.service/" + burstable_slice(kUid1) + ":cri-containerd:zzz",
       pod(kUid1, "burstable", "", "", "system.slice")},
      {"ContainerdColonFormUnknownPrefixIsTheService",
       "/system.slice/containerd.service/" + burstable_slice(kUid1) + ":rkt:" + id,
       unit("containerd.service", "system.slice")},

      // kubelet, cgroupfs driver: the runtime is not in the path (except CRI-O).
      {"CgroupfsBurstable", "/kubepods/burstable/pod" + kUid1 + "/" + id,
       pod(kUid1, "burstable", id, "", "")},
      {"CgroupfsBesteffort", "/kubepods/besteffort/pod" + kUid2 + "/" + kId2,
       pod(kUid2, "besteffort", kId2, "", "")},
      {"CgroupfsGuaranteed", "/kubepods/pod" + kUid3 + "/" + kId3,
       pod(kUid3, "guaranteed", kId3, "", "")},
      {"CgroupfsPodLevel", "/kubepods/burstable/pod" + kUid1, pod(kUid1, "burstable", "", "", "")},
      {"CgroupfsStaticPod", "/kubepods/burstable/pod" + kStaticUid + "/" + id,
       pod(kStaticUid, "burstable", id, "", "")},
      {"CgroupfsCrio", "/kubepods/burstable/pod" + kUid2 + "/crio-" + id,
       pod(kUid2, "burstable", id, "cri-o", "")},
      {"CgroupfsCrioConmonIsThePod", "/kubepods/besteffort/pod" + kUid2 + "/crio-conmon-" + id,
       pod(kUid2, "besteffort", "", "cri-o", "")},
      {"CgroupfsDoubleSlashes", "//kubepods//burstable//pod" + kUid1 + "//" + id + "//",
       pod(kUid1, "burstable", id, "", "")},
      {"CgroupfsDindInPodIsThePodContainer",
       "/kubepods/burstable/pod" + kUid1 + "/" + id + "/docker/" + kId2,
       pod(kUid1, "burstable", id, "", "")},

      // Truncated by the probe: the innermost levels decide.
      {"TruncatedSystemdPod", ".../" + burstable_slice(kUid2) + "/cri-containerd-" + id + ".scope",
       pod(kUid2, "burstable", id, "containerd", burstable_slice(kUid2))},
      {"TruncatedCgroupfsPodQosLost", ".../pod" + kUid1 + "/" + id, pod(kUid1, "", id, "", "")},
      {"TruncatedCgroupfsPodWithQos", ".../burstable/pod" + kUid1 + "/" + id,
       pod(kUid1, "burstable", id, "", "")},
      {"TruncatedContainerScopeOnly", ".../cri-containerd-" + id + ".scope",
       container(id, "containerd")},
      {"TruncatedSession", ".../session-3.scope", session("3", std::nullopt, "")},
      {"TruncatedUserUnit", ".../user@1000.service/app.slice/foo.service",
       unit("foo.service", "app.slice", 1000)},
      {"TruncationMarkerOnly", "...", host()},

      // Plain Docker.
      {"DockerCgroupfs", "/docker/" + id, container(id, "docker")},
      {"DockerSystemd", "/system.slice/docker-" + id + ".scope",
       container(id, "docker", "system.slice")},
      {"DockerInDockerInnermostWins", "/docker/" + id + "/docker/" + kId2,
       container(kId2, "docker")},
      {"DockerInDockerSystemdOuter", "/system.slice/docker-" + id + ".scope/docker/" + kId2,
       container(kId2, "docker", "system.slice")},
      {"DockerDindInitSublevel", "/system.slice/docker-" + id + ".scope/init",
       container(id, "docker", "system.slice")},
      {"DockerUnitInsideContainer", "/docker/" + id + "/system.slice/cron.service",
       container(id, "docker")},
      {"DockerCustomCgroupParent", "/ci/" + id, container(id, "")},
      {"DockerCustomSliceParent", "/ci.slice/docker-" + id + ".scope",
       container(id, "docker", "ci.slice")},
      {"AmazonEcsTask", "/ecs/" + kEcsTask + "/" + id, container(id, "")},
      {"CgroupV2ProcLineDocker", "0::/system.slice/docker-" + id + ".scope",
       container(id, "docker", "system.slice")},

      // podman.
      {"PodmanRootful", "/machine.slice/libpod-" + id + ".scope",
       container(id, "podman", "machine.slice")},
      {"PodmanRootfulContainerSublevel", "/machine.slice/libpod-" + id + ".scope/container",
       container(id, "podman", "machine.slice")},
      {"PodmanRootless",
       "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope",
       container(id, "podman", "user.slice", 1000)},
      {"PodmanRootlessContainerSublevel",
       "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope/container",
       container(id, "podman", "user.slice", 1000)},
      {"PodmanConmonIsItsContainer", "/machine.slice/libpod-conmon-" + id + ".scope",
       container(id, "podman", "machine.slice")},
      {"PodmanPod",
       "/machine.slice/machine-libpod_pod_" + kPodmanPodId + ".slice/libpod-" + id + ".scope",
       container(id, "podman", "machine-libpod_pod_" + kPodmanPodId + ".slice")},
      {"PodmanQuadletPayload", "/system.slice/nginx.service/libpod-payload-" + id,
       container(id, "podman", "system.slice")},
      {"PodmanQuadletRuntimeIsTheService", "/system.slice/nginx.service/runtime",
       unit("nginx.service", "system.slice")},
      {"PodmanRootlessQuadletPayload",
       "/user.slice/user-1000.slice/user@1000.service/app.slice/redis.service/libpod-payload-" + id,
       container(id, "podman", "app.slice", 1000)},
      {"PodmanCgroupfs", "/libpod_parent/libpod-" + id, container(id, "podman")},

      // containerd without Kubernetes; CRI-O's conmon outside a pod.
      {"NerdctlSystemd", "/system.slice/nerdctl-" + id + ".scope",
       container(id, "containerd", "system.slice")},
      {"NerdctlRootless",
       "/user.slice/user-1001.slice/user@1001.service/user.slice/nerdctl-" + id + ".scope",
       container(id, "containerd", "user.slice", 1001)},
      {"ContainerdDefaultNamespace", "/default/" + id, container(id, "containerd")},
      {"ContainerdK8sNamespace", "/k8s.io/" + id, container(id, "containerd")},
      {"CrioConmonInSystemSlice", "/system.slice/crio-conmon-" + id + ".scope",
       container(id, "cri-o", "system.slice")},

      // systemd system units.
      {"ServiceCron", "/system.slice/cron.service", unit("cron.service", "system.slice")},
      {"ServiceNestedSlice", "/system.slice/system-getty.slice/getty@tty1.service",
       unit("getty@tty1.service", "system-getty.slice")},
      {"ServiceDockerDaemon", "/system.slice/docker.service",
       unit("docker.service", "system.slice")},
      {"ServiceContainerd", "/system.slice/containerd.service",
       unit("containerd.service", "system.slice")},
      {"ServiceKubelet", "/system.slice/kubelet.service", unit("kubelet.service", "system.slice")},
      {"ServiceSubCgroup", "/system.slice/foo.service/bar", unit("foo.service", "system.slice")},
      {"ServiceTrailingSlash", "/system.slice/cron.service/", unit("cron.service", "system.slice")},
      {"SocketUnit", "/system.slice/docker.socket", unit("docker.socket", "system.slice")},
      {"MountUnit", "/system.slice/dev-hugepages.mount",
       unit("dev-hugepages.mount", "system.slice")},
      {"SwapUnit", "/system.slice/dev-sda2.swap", unit("dev-sda2.swap", "system.slice")},
      {"SystemdRunScope", "/system.slice/run-r0c8b6e3c2b3a4d7f9a1e5b2c7d8e9f01.scope",
       unit("run-r0c8b6e3c2b3a4d7f9a1e5b2c7d8e9f01.scope", "system.slice")},
      {"EscapedUnitName",
       "/system.slice/system-systemd\\x2dfsck.slice/"
       "systemd-fsck@dev-disk-by\\x2duuid-1234.service",
       unit("systemd-fsck@dev-disk-by\\x2duuid-1234.service", "system-systemd\\x2dfsck.slice")},
      {"RuntimePrefixedScopeThatIsNoId", "/system.slice/docker-cleanup.scope",
       unit("docker-cleanup.scope", "system.slice")},
      {"NspawnMachine", "/machine.slice/systemd-nspawn@debian.service",
       unit("systemd-nspawn@debian.service", "machine.slice")},
      {"PidOneInitScope", "/init.scope", unit("init.scope", "")},
      {"UserRuntimeDirService", "/user.slice/user-1000.slice/user-runtime-dir@1000.service",
       unit("user-runtime-dir@1000.service", "user-1000.slice", 1000)},

      // Login sessions and user managers.
      {"SessionNumeric", "/user.slice/user-1000.slice/session-3.scope",
       session("3", 1000, "user-1000.slice")},
      {"SessionNonAudit", "/user.slice/user-0.slice/session-c1.scope",
       session("c1", 0, "user-0.slice")},
      {"SessionCgroupV1Line", "4:memory:/user.slice/user-1000.slice/session-12.scope",
       session("12", 1000, "user-1000.slice")},
      {"UserManagerService", "/user.slice/user-1000.slice/user@1000.service",
       unit("user@1000.service", "user-1000.slice", 1000)},
      {"UserManagerInitScope", "/user.slice/user-1000.slice/user@1000.service/init.scope",
       unit("init.scope", "user-1000.slice", 1000)},
      {"UserUnit", "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
       unit("foo.service", "app.slice", 1000)},
      {"UserAppScope",
       "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4242.scope",
       unit("app-gnome-firefox-4242.scope", "app.slice", 1000)},
      {"SessionUidOverflow", "/user.slice/user-4294967296.slice/session-1.scope",
       session("1", std::nullopt, "user-4294967296.slice")},

      // Host and partial layouts.
      {"Root", "/", host()},
      {"Empty", "", host()},
      {"CgroupV2ProcLineRoot", "0::/", host()},
      {"SystemSliceAlone", "/system.slice", host("system.slice")},
      {"UserSliceAlone", "/user.slice", host("user.slice")},
      {"UserUidSliceAlone", "/user.slice/user-1000.slice", host("user-1000.slice", 1000)},
      {"KubepodsAlone", "/kubepods", host()},
      {"KubepodsSliceAlone", "/kubepods.slice", host("kubepods.slice")},
      {"CgroupfsQosOnly", "/kubepods/burstable", host()},
      {"SystemdQosOnly", "/kubepods.slice/kubepods-besteffort.slice",
       host("kubepods-besteffort.slice")},
      {"LxcPayload", "/lxc.payload.c1", host()},

      // Malformed: fall back to host or to the best partial origin.
      {"DockerShortId", "/docker/xyz", host()},
      {"DockerId63Hex", "/docker/" + id.substr(1), host()},
      {"DockerIdUppercase", "/docker/" + upper(id), host()},
      {"DockerIdWithTrailingNul", "/docker/" + id + std::string(1, '\0'), host()},
      {"CgroupfsBadPodUidKeepsContainer", "/kubepods/burstable/podNOTAUID/" + id,
       container(id, "")},
      {"CgroupfsShortPodUidKeepsContainer", "/kubepods/burstable/pod" + kUid1.substr(1) + "/" + id,
       container(id, "")},
      {"CgroupfsUppercasePodUid", "/kubepods/pod" + upper(kUid1) + "/" + id, container(id, "")},
      {"CgroupfsPodWithoutKubepods", "/pod" + kUid1 + "/" + id, container(id, "")},
      {"CgroupfsQosWithoutKubepods", "/foo/burstable/pod" + kUid1 + "/" + id, container(id, "")},
      {"CgroupfsBadContainerIdKeepsPod", "/kubepods/burstable/pod" + kUid2 + "/xyz",
       pod(kUid2, "burstable", "", "", "")},
      {"SystemdId63HexKeepsPod",
       burstable_path(kUid1) + "/cri-containerd-" + id.substr(1) + ".scope",
       pod(kUid1, "burstable", "", "", burstable_slice(kUid1))},
      {"SystemdDashedUidKeepsContainer",
       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUid1 +
           ".slice/cri-containerd-" + id + ".scope",
       container(id, "containerd", "kubepods-burstable-pod" + kUid1 + ".slice")},
      {"SystemdPodSliceWithoutKubepods", "/foo.slice/foo-pod" + sd(kUid1) + ".slice",
       host("foo-pod" + sd(kUid1) + ".slice")},
      {"DockerEmptyIdScope", "/system.slice/docker-.scope", host("system.slice")},
      {"DockerId63HexScope", "/system.slice/docker-" + id.substr(1) + ".scope",
       host("system.slice")},
      {"ControlCharacterInUnit", "/system.slice/cr\x01on.service", host("system.slice")},
      {"SpaceInUnit", "/system.slice/my service.service", host("system.slice")},
      {"NewlineInSessionScope", "/user.slice/user-1000.slice/session-3\n.scope",
       host("user-1000.slice", 1000)},
  };
}

class CgroupPathTable : public ::testing::TestWithParam<Row> {};

TEST_P(CgroupPathTable, ParsesFullOrigin) {
  const Row &row = GetParam();
  CgroupOrigin got = parse_cgroup_path(row.path);
  SCOPED_TRACE("got  " + describe(got));
  SCOPED_TRACE("want " + describe(row.want));
  EXPECT_EQ(origin_type_name(got.type), origin_type_name(row.want.type));
  EXPECT_EQ(got.pod_uid, row.want.pod_uid);
  EXPECT_EQ(got.qos_class, row.want.qos_class);
  EXPECT_EQ(got.container_id, row.want.container_id);
  EXPECT_EQ(got.container_runtime, row.want.container_runtime);
  EXPECT_EQ(got.unit, row.want.unit);
  EXPECT_EQ(got.session, row.want.session);
  EXPECT_EQ(got.session_uid, row.want.session_uid);
  EXPECT_EQ(got.slice, row.want.slice);
}

INSTANTIATE_TEST_SUITE_P(Layouts, CgroupPathTable, ::testing::ValuesIn(rows()),
                         [](const ::testing::TestParamInfo<Row> &info) { return info.param.name; });

TEST(CgroupPath, TableIsLargeAndNamesAreUnique) {
  std::vector<Row> all = rows();
  EXPECT_GE(all.size(), 50u);
  std::set<std::string> names;
  for (const Row &row : all) {
    EXPECT_TRUE(names.insert(row.name).second) << row.name;
  }
}

// Cgroup names anyone may pick where no kubelet puts pods: a user's
// delegated subtree (user@<uid>.service), or inside another pod's container
// (a container given a writable cgroupfs). The pod uid they name is not
// believed; what encloses it decides.
TEST(CgroupPath, APodNamedInAUsersDelegatedSubtreeIsNotBelieved) {
  const CgroupOrigin o =
      parse_cgroup_path("/user.slice/user-1000.slice/user@1000.service/" + besteffort_slice(kUid1) +
                        "/cri-containerd-" + kId1 + ".scope");
  EXPECT_NE(o.type, OriginType::pod);
  EXPECT_EQ(o.pod_uid, "");
  EXPECT_EQ(o.container_id, "");
  EXPECT_EQ(o.unverified_pod_uid, kUid1);
  EXPECT_EQ(o.session_uid, 1000u);
  // Positive control: the same levels where the kubelet puts them.
  const CgroupOrigin real =
      parse_cgroup_path(besteffort_path(kUid1) + "/cri-containerd-" + kId1 + ".scope");
  EXPECT_EQ(real.type, OriginType::pod);
  EXPECT_EQ(real.pod_uid, kUid1);
  EXPECT_EQ(real.unverified_pod_uid, "");
}

TEST(CgroupPath, APodNamedInsideAnotherPodIsNotBelieved) {
  const CgroupOrigin o = parse_cgroup_path("/kubepods/burstable/pod" + kUid1 + "/" + kId1 +
                                           "/kubepods/besteffort/pod" + kUid2 + "/" + kId2);
  EXPECT_EQ(o.type, OriginType::pod);
  EXPECT_EQ(o.pod_uid, kUid1) << "the enclosing pod, whose container made the cgroups";
  EXPECT_EQ(o.container_id, kId1);
  EXPECT_EQ(o.unverified_pod_uid, kUid2);
}

TEST(CgroupPath, OriginTypeNames) {
  EXPECT_EQ(origin_type_name(OriginType::host), "host");
  EXPECT_EQ(origin_type_name(OriginType::pod), "pod");
  EXPECT_EQ(origin_type_name(OriginType::container), "container");
  EXPECT_EQ(origin_type_name(OriginType::systemd_unit), "systemd_unit");
  EXPECT_EQ(origin_type_name(OriginType::user_session), "user_session");
}

// PATH_MAX-sized path, the container at the end.
TEST(CgroupPath, Path4096BytesLong) {
  std::string tail = "/docker/" + kId1;
  std::string path;
  while (path.size() + 2 + tail.size() <= 4096) {
    path += "/a";
  }
  path.append(4096 - path.size() - tail.size(), 'b');
  path += tail;
  ASSERT_EQ(path.size(), 4096u);
  CgroupOrigin got = parse_cgroup_path(path);
  EXPECT_EQ(got.type, OriginType::container);
  EXPECT_EQ(got.container_id, kId1);
  EXPECT_EQ(got.container_runtime, "docker");
}

TEST(CgroupPath, SingleLevel4096BytesIsHost) {
  CgroupOrigin got = parse_cgroup_path("/" + std::string(4095, 'a'));
  EXPECT_EQ(got.type, OriginType::host);
  EXPECT_EQ(describe(got), describe(host()));
}

TEST(CgroupPath, TwoHundredLevels) {
  std::string path;
  for (int i = 0; i < 200; ++i) {
    path += "/level" + std::to_string(i) + ".slice";
  }
  EXPECT_EQ(describe(parse_cgroup_path(path)), describe(host("level199.slice")));
  path += "/kubepods/burstable/pod" + kUid1 + "/" + kId1;
  EXPECT_EQ(describe(parse_cgroup_path(path)),
            describe(pod(kUid1, "burstable", kId1, "", "level199.slice")));
}

// Random paths built from the pieces real layouts are made of, plus raw bytes:
// parsing must never throw, and whatever comes back must be self-consistent.
TEST(CgroupPath, RandomPathsNeverFail) {
  const std::vector<std::string> pieces = {"/",
                                           "//",
                                           "...",
                                           ".",
                                           "..",
                                           ":",
                                           "-",
                                           "_",
                                           ".slice",
                                           ".scope",
                                           ".service",
                                           "kubepods",
                                           "burstable",
                                           "besteffort",
                                           "pod",
                                           sd(kUid1),
                                           kUid1,
                                           kStaticUid,
                                           kId1,
                                           kId1.substr(3),
                                           "cri-containerd-",
                                           "crio-",
                                           "crio-conmon-",
                                           "docker",
                                           "docker-",
                                           "libpod-",
                                           "nerdctl-",
                                           "session-",
                                           "user-",
                                           "user@",
                                           "1000",
                                           "4294967295",
                                           "system",
                                           "\\x2d",
                                           "\x01",
                                           " ",
                                           "\n",
                                           std::string(1, '\0'),
                                           "\xff"};
  std::mt19937 rng(12345);
  for (int round = 0; round < 20000; ++round) {
    std::string path;
    int n = static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) {
      path += pieces[rng() % pieces.size()];
    }
    CgroupOrigin got;
    ASSERT_NO_THROW(got = parse_cgroup_path(path)) << path;
    if (got.type != OriginType::pod) {
      EXPECT_TRUE(got.pod_uid.empty()) << path;
    } else {
      EXPECT_TRUE(got.pod_uid.size() == 32 || got.pod_uid.size() == 36) << path;
    }
    if (!got.container_id.empty()) {
      EXPECT_EQ(got.container_id.size(), 64u) << path;
    }
    EXPECT_EQ(got.unit.empty(), got.type != OriginType::systemd_unit) << path;
    EXPECT_EQ(got.session.empty(), got.type != OriginType::user_session) << path;
  }
}

} // namespace
