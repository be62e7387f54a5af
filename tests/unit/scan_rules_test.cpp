// Each rule of the static scan on hand-built pod specs, and owner resolution.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "scan/manifest_loader.hpp"
#include "scan/pod_spec_rules.hpp"
#include "scan/workload_scan.hpp"

namespace shimwatch::scan {
namespace {

using nlohmann::json;

json pod_with(const json &container, const json &extra = json::object()) {
  json spec = {{"containers", json::array({container})}};
  spec.update(extra);
  return spec;
}

std::vector<Finding> scan(const json &spec) {
  return scan_pod_spec(spec, "spec").findings;
}

TEST(ScanRules, HostPathClasses) {
  struct Case {
    const char *path;
    std::string_view rule;
    Severity severity;
  };
  const Case cases[] = {
      {"/var/run/docker.sock", kRuleSocketMount, Severity::high},
      {"/run/docker.sock", kRuleSocketMount, Severity::high},
      {"//var/run/./docker.sock", kRuleSocketMount, Severity::high},
      {"/srv/custom/docker.sock", kRuleSocketMount, Severity::high},
      {"/var/run", kRuleSocketParentMount, Severity::medium},
      {"/run/", kRuleSocketParentMount, Severity::medium},
      {"/var/run/docker", kRuleSocketParentMount, Severity::medium},
      {"/", kRuleSocketParentMount, Severity::medium},
      {"/var/lib/docker", kRuleStateMount, Severity::medium},
      {"/var/lib/docker/containers", kRuleStateMount, Severity::medium},
      {"/var/lib", kRuleStateMount, Severity::low},
      {"/var", kRuleStateMount, Severity::low},
      {"/etc/docker", kRuleConfigMount, Severity::medium},
      {"/etc/docker/daemon.json", kRuleConfigMount, Severity::medium},
      {"/etc", kRuleConfigMount, Severity::low},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE(c.path);
    auto found = classify_host_path(c.path);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->rule, c.rule);
    EXPECT_EQ(found->severity, c.severity);
  }
  for (const char *clean : {"/var/log", "/var/lib/kubelet", "/run/containerd/containerd.sock",
                            "/var/lib/dockerish", "/etc/kubernetes", "/proc", "/sys"})
    EXPECT_FALSE(classify_host_path(clean).has_value()) << clean;
}

TEST(ScanRules, NormalizesHostPaths) {
  EXPECT_EQ(normalize_host_path("/var/run/"), "/var/run");
  EXPECT_EQ(normalize_host_path("//var///run/../run/docker.sock"), "/var/run/docker.sock");
  EXPECT_EQ(normalize_host_path("/"), "/");
  EXPECT_EQ(normalize_host_path("/.."), "/");
}

TEST(ScanRules, Images) {
  for (const char *image :
       {"docker:24.0.7-dind", "docker:dind-rootless", "docker.io/library/docker:dind",
        "mirror.example.com/library/docker:26-dind@sha256:0123"})
    EXPECT_NE(classify_image(image)->reason.find("docker-in-docker"), std::string::npos) << image;
  for (const char *image :
       {"docker:cli", "docker:24.0.7-cli", "docker:27.0.3", "docker", "docker:latest",
        "registry.local:5000/docker:26", "docker/compose:1.29"})
    EXPECT_TRUE(classify_image(image).has_value()) << image;
  for (const char *image : {"mydocker-app", "docker.io/example/dockerize:0.7", "dockerhub/x:1",
                            "registry.example.com/docker-registry-ui:2", "docker.io/nginx:1.27",
                            "localhost:5000/app:docker", ""})
    EXPECT_FALSE(classify_image(image).has_value()) << image;
}

TEST(ScanRules, CommandsInScripts) {
  EXPECT_EQ(docker_command_in_script("docker ps -a"), "docker ps -a");
  EXPECT_EQ(docker_command_in_script("set -e; /usr/bin/docker info >/dev/null"),
            "/usr/bin/docker info >/dev/null");
  EXPECT_EQ(docker_command_in_script("for i in $(docker ps -q); do echo $i; done"), "docker ps -q");
  EXPECT_EQ(docker_command_in_script("if docker info; then exit 0; fi"), "if docker info");
  EXPECT_EQ(docker_command_in_script("x=1 DOCKER_CLI_HINTS=false docker version"),
            "x=1 DOCKER_CLI_HINTS=false docker version");
  EXPECT_EQ(docker_command_in_script("sudo -u root docker ps"), "sudo -u root docker ps");
  EXPECT_EQ(docker_command_in_script("nsenter -t 1 -m -u -n -i -- docker ps"),
            "nsenter -t 1 -m -u -n -i -- docker ps");
  EXPECT_EQ(docker_command_in_script("timeout 30 docker-compose up"),
            "timeout 30 docker-compose up");
  EXPECT_EQ(docker_command_in_script("ls | xargs -r docker rm"), "xargs -r docker rm");
  EXPECT_EQ(docker_command_in_script("`docker ps`"), "docker ps");

  for (const char *clean :
       {"echo docker is gone", "exec /agent --runtime docker", "grep docker /etc/group",
        "if [ -S /var/run/docker.sock ]; then echo docker; fi", "dockerd-rootless.sh", "crictl ps",
        "# docker ps", "mydocker ps", "cat docker.log"})
    EXPECT_FALSE(docker_command_in_script(clean).has_value()) << clean;
}

TEST(ScanRules, CommandArgvAndProbes) {
  auto direct = scan(pod_with({{"name", "c"}, {"command", {"docker"}}, {"args", {"ps", "-a"}}}));
  ASSERT_EQ(direct.size(), 1u);
  EXPECT_EQ(direct[0].rule, kRuleCommand);
  EXPECT_EQ(direct[0].severity, Severity::high);
  EXPECT_EQ(direct[0].field, "spec.containers[0].command[0]");
  EXPECT_EQ(direct[0].value, "docker ps -a");

  // args without a command go to the image's entrypoint: "docker" alone is an argument.
  EXPECT_TRUE(scan(pod_with({{"name", "c"}, {"args", {"docker"}}})).empty());
  auto shell = scan(pod_with({{"name", "c"}, {"args", {"-c", "docker"}}}));
  ASSERT_EQ(shell.size(), 1u);
  EXPECT_EQ(shell[0].field, "spec.containers[0].args[1]");

  auto hooks = scan(
      pod_with({{"name", "c"},
                {"readinessProbe", {{"exec", {{"command", {"sh", "-c", "docker ps >/dev/null"}}}}}},
                {"lifecycle", {{"preStop", {{"exec", {{"command", {"docker", "stop", "x"}}}}}}}}}));
  ASSERT_EQ(hooks.size(), 2u);
  EXPECT_EQ(hooks[0].field, "spec.containers[0].readinessProbe.exec.command[2]");
  EXPECT_EQ(hooks[1].field, "spec.containers[0].lifecycle.preStop.exec.command[0]");
}

TEST(ScanRules, DockerHostSeverities) {
  auto env_of = [](const json &entry, const json &extra = json::object()) {
    return scan(pod_with({{"name", "c"}, {"env", {entry}}}, extra));
  };
  auto unix_socket = env_of({{"name", "DOCKER_HOST"}, {"value", "unix:///run/docker.sock"}});
  ASSERT_EQ(unix_socket.size(), 1u);
  EXPECT_EQ(unix_socket[0].severity, Severity::high);
  auto tcp = env_of({{"name", "DOCKER_HOST"}, {"value", "tcp://localhost:2375"}});
  ASSERT_EQ(tcp.size(), 1u);
  EXPECT_EQ(tcp[0].severity, Severity::medium);
  auto host_network =
      env_of({{"name", "DOCKER_HOST"}, {"value", "tcp://127.0.0.1:2375"}}, {{"hostNetwork", true}});
  ASSERT_EQ(host_network.size(), 1u);
  EXPECT_EQ(host_network[0].severity, Severity::high);
  auto from = env_of(
      {{"name", "DOCKER_HOST"}, {"valueFrom", {{"secretKeyRef", {{"name", "s"}, {"key", "k"}}}}}});
  ASSERT_EQ(from.size(), 1u);
  EXPECT_EQ(from[0].field, "spec.containers[0].env[0].valueFrom");
  EXPECT_TRUE(env_of({{"name", "DOCKER_HOSTNAME"}, {"value", "x"}}).empty());
}

TEST(ScanRules, MountsWithSubPathsAndUnmountedVolumes) {
  json spec = {
      {"volumes",
       {{{"name", "run"}, {"hostPath", {{"path", "/var/run"}}}},
        {{"name", "unused"}, {"hostPath", {{"path", "/var/lib/docker"}}}},
        {{"name", "logs"}, {"hostPath", {{"path", "/var/log"}}}}}},
      {"initContainers",
       {{{"name", "init"},
         {"volumeMounts", {{{"name", "run"}, {"mountPath", "/s"}, {"subPath", "docker.sock"}}}}}}},
      {"containers",
       {{{"name", "main"},
         {"volumeMounts",
          {{{"name", "run"}, {"mountPath", "/r"}, {"subPath", "containerd"}},
           {{"name", "logs"}, {"mountPath", "/var/log"}}}}}}}};
  auto result = scan_pod_spec(spec, "spec");
  ASSERT_EQ(result.findings.size(), 2u);
  EXPECT_EQ(result.findings[0].rule, kRuleSocketMount);
  EXPECT_EQ(result.findings[0].container_type, "initContainer");
  EXPECT_EQ(result.findings[0].value, "/var/run/docker.sock");
  EXPECT_EQ(result.findings[1].rule, kRuleStateMount);
  EXPECT_EQ(result.findings[1].severity, Severity::low);
  EXPECT_EQ(result.findings[1].container, "");
  EXPECT_EQ(result.findings[1].field, "spec.volumes[1].hostPath.path");
  ASSERT_EQ(result.socket_mounts.size(), 1u);
  EXPECT_EQ(result.socket_mounts[0].socket_path, "/s");
}

TEST(ScanRules, PrivilegedNeedsHostPid) {
  json privileged = {{"name", "c"}, {"securityContext", {{"privileged", true}}}};
  EXPECT_TRUE(scan(pod_with(privileged)).empty());
  auto both = scan(pod_with(privileged, {{"hostPID", true}}));
  ASSERT_EQ(both.size(), 1u);
  EXPECT_EQ(both[0].rule, kRulePrivilegedHostPid);
  EXPECT_EQ(both[0].severity, Severity::low);
  EXPECT_TRUE(scan(pod_with({{"name", "c"}}, {{"hostPID", true}})).empty());
}

TEST(ScanRules, EphemeralContainers) {
  json spec = {{"containers", {{{"name", "app"}, {"image", "nginx"}}}},
               {"ephemeralContainers", {{{"name", "debug"}, {"image", "docker:cli"}}}}};
  auto findings = scan(spec);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].container_type, "ephemeralContainer");
  EXPECT_EQ(findings[0].field, "spec.ephemeralContainers[0].image");
}

ScanObject object_of(json object) {
  std::vector<ScanObject> out;
  add_object(std::move(object), SourceRef{}, false, out);
  EXPECT_EQ(out.size(), 1u);
  return out.empty() ? ScanObject{} : out[0];
}

json owned(const std::string &kind, const std::string &name, const std::string &owner_kind,
           const std::string &owner_name, const json &labels = json::object()) {
  json metadata = {{"name", name}, {"namespace", "ns"}, {"labels", labels}};
  if (!owner_kind.empty())
    metadata["ownerReferences"] = {
        {{"kind", owner_kind}, {"name", owner_name}, {"controller", true}}};
  return {{"kind", kind}, {"metadata", metadata}, {"spec", json::object()}};
}

TEST(ScanOwners, FollowsListedOwners) {
  std::vector<ScanObject> objects = {
      object_of(owned("CronJob", "backup", "", "")),
      object_of(owned("Job", "backup-manual", "CronJob", "backup")),
      object_of(owned("Pod", "backup-manual-x", "Job", "backup-manual")),
      object_of(owned("Deployment", "web", "", "")),
      object_of(owned("ReplicaSet", "web-abc", "Deployment", "web")),
      object_of(owned("Pod", "web-abc-1", "ReplicaSet", "web-abc"))};
  auto job_chain = owner_chain(objects[2], objects);
  ASSERT_EQ(job_chain.size(), 2u);
  EXPECT_EQ(job_chain[0].kind, "Job");
  EXPECT_EQ(job_chain[1].kind, "CronJob");
  EXPECT_EQ(job_chain[1].name, "backup");
  auto web_chain = owner_chain(objects[5], objects);
  ASSERT_EQ(web_chain.size(), 2u);
  EXPECT_EQ(web_chain[1].name, "web");
  EXPECT_TRUE(owner_chain(objects[0], objects).empty());
}

TEST(ScanOwners, InfersUnlistedOwnersLikeTheAgent) {
  std::vector<ScanObject> objects = {
      object_of(
          owned("Pod", "api-5f6d7-x", "ReplicaSet", "api-5f6d7", {{"pod-template-hash", "5f6d7"}})),
      object_of(owned("Pod", "rs-only-x", "ReplicaSet", "rs-only")),
      object_of(owned("Pod", "nightly-28930120-x", "Job", "nightly-28930120")),
      object_of(owned("Pod", "static-node-1", "Node", "node-1")),
      object_of(owned("Pod", "bare", "", ""))};
  auto deployment = owner_chain(objects[0], objects);
  ASSERT_EQ(deployment.size(), 2u);
  EXPECT_EQ(deployment[1].kind, "Deployment");
  EXPECT_EQ(deployment[1].name, "api");
  EXPECT_EQ(owner_chain(objects[1], objects).size(), 1u);
  auto cron = owner_chain(objects[2], objects);
  ASSERT_EQ(cron.size(), 2u);
  EXPECT_EQ(cron[1].kind, "CronJob");
  EXPECT_EQ(cron[1].name, "nightly");

  ScanReport report;
  scan_objects(objects, report);
  std::vector<std::string> ids;
  for (const auto &w : report.workloads)
    ids.push_back(w.id + (w.static_pod ? " static" : "") + " agent=" + w.agent_workload.kind + "/" +
                  w.agent_workload.name);
  EXPECT_EQ(ids, (std::vector<std::string>{
                     "ns/CronJob/nightly agent=CronJob/nightly",
                     "ns/Deployment/api agent=Deployment/api",
                     "ns/Pod/bare agent=/",
                     "ns/Pod/static-node-1 static agent=Node/node-1",
                     "ns/ReplicaSet/rs-only agent=ReplicaSet/rs-only",
                 }));
}

TEST(ScanManifests, YamlScalarsFollowTheCoreSchema) {
  LoadedManifests out;
  parse_manifest_text("kind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: 0\n  paused: "
                      "true\n  a: '0'\n  b: ~\n  c: 1.5\n  d: docker:24\n",
                      "x.yaml", false, out);
  ASSERT_EQ(out.objects.size(), 1u);
  const json &spec = out.objects[0].object["spec"];
  EXPECT_EQ(spec["replicas"], 0);
  EXPECT_EQ(spec["paused"], true);
  EXPECT_EQ(spec["a"], "0");
  EXPECT_TRUE(spec["b"].is_null());
  EXPECT_EQ(spec["c"], 1.5);
  EXPECT_EQ(spec["d"], "docker:24");
}

TEST(ScanManifests, OneBrokenDocumentKeepsTheOthersAndItsLine) {
  LoadedManifests out;
  parse_manifest_text("kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: [b\n"
                      "---\n--- \nkind: Pod\nmetadata: {name: c}\n...\n",
                      "x.yaml", false, out);
  ASSERT_EQ(out.objects.size(), 2u);
  EXPECT_EQ(out.objects[0].source.name, "a");
  EXPECT_EQ(out.objects[1].source.name, "c");
  EXPECT_EQ(out.objects[1].source.document, 3);
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_GE(out.errors[0].line, 5);
  EXPECT_LE(out.errors[0].line, 6);
}

TEST(ScanManifests, JsonErrorsHaveLineAndColumn) {
  LoadedManifests out;
  parse_manifest_text("{\n  \"kind\": \"Pod\",\n  \"x\": ]\n}\n", "<stdin>", false, out);
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].line, 3);
  EXPECT_EQ(out.errors[0].column, 8);
}

} // namespace
} // namespace shimwatch::scan
