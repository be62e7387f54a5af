// `shimwatch scan` against the stand-in API server: the real binary lists
// pods and their owning workloads over HTTPS and reports what they use.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "fake_apiserver.hpp"
#include "harness.hpp"

namespace {

using nlohmann::json;

const std::string kToken = "scan-test-token-51c2";

json owner(const std::string &kind, const std::string &name) {
  std::string api_version = kind == "Node"                       ? "v1"
                            : kind == "Job" || kind == "CronJob" ? "batch/v1"
                                                                 : "apps/v1";
  return json::array({{{"apiVersion", api_version},
                       {"kind", kind},
                       {"name", name},
                       {"uid", name + "-uid"},
                       {"controller", true}}});
}

json metadata(const std::string &ns, const std::string &name, const json &owners = nullptr,
              const json &labels = json::object()) {
  json m = {{"namespace", ns}, {"name", name}, {"uid", ns + "-" + name}, {"labels", labels}};
  if (!owners.is_null())
    m["ownerReferences"] = owners;
  return m;
}

json socket_spec(const std::string &container,
                 const std::string &host_path = "/var/run/docker.sock",
                 const std::string &mount_path = "/var/run/docker.sock") {
  return {{"nodeName", "node-1"},
          {"containers",
           {{{"name", container},
             {"image", "example/" + container + ":1"},
             {"volumeMounts", {{{"name", "docker"}, {"mountPath", mount_path}}}}}}},
          {"volumes", {{{"name", "docker"}, {"hostPath", {{"path", host_path}}}}}}};
}

json plain_spec(const std::string &container, const json &extra = json::object()) {
  json c = {{"name", container}, {"image", "example/" + container + ":1"}};
  c.update(extra);
  return {{"nodeName", "node-1"}, {"containers", {c}}};
}

json pod(const json &meta, const json &spec) {
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}};
}

json with_template(const json &meta, const json &pod_spec, const json &extra_spec = {}) {
  json spec = {{"template", {{"spec", pod_spec}}}};
  if (extra_spec.is_object())
    spec.update(extra_spec);
  return {{"metadata", meta}, {"spec", spec}};
}

class ScanLive : public ::testing::Test {
protected:
  void SetUp() override {
    server_ = std::make_unique<swtest::FakeApiServer>(dir_.path(), kToken);
    std::ofstream(dir_.file("token")) << kToken << "\n";

    // A Deployment with two pods through its ReplicaSet.
    json web_labels = {{"pod-template-hash", "7d4b9c8f6d"}};
    for (const char *suffix : {"a1b2c", "d3e4f"})
      server_->add(pod(metadata("prod", std::string("web-7d4b9c8f6d-") + suffix,
                                owner("ReplicaSet", "web-7d4b9c8f6d"), web_labels),
                       socket_spec("web")));
    // A DaemonSet's pod mounting /var/run.
    server_->add(pod(metadata("monitoring", "agent-x7k2p", owner("DaemonSet", "agent")),
                     socket_spec("agent", "/var/run", "/host/run")));
    // A pod of a Job of a CronJob.
    json report_env = {{"env", {{{"name", "DOCKER_HOST"}, {"value", "tcp://10.0.0.5:2376"}}}}};
    server_->add(pod(metadata("finance", "report-28930120-q8v2r", owner("Job", "report-28930120")),
                     plain_spec("report", report_env)));
    // A static pod's mirror: owned by its node.
    server_->add(pod(metadata("kube-system", "image-gc-node-1", owner("Node", "node-1")),
                     plain_spec("gc", {{"command", {"sh", "-c", "docker image prune -af"}}})));
    // A bare pod with a debugging ephemeral container.
    json debug_spec = plain_spec("app");
    debug_spec["ephemeralContainers"] = {{{"name", "debugger"}, {"image", "docker:27-cli"}}};
    server_->add(pod(metadata("default", "debug"), debug_spec));

    server_->control(
        "/_control/resources",
        {{"plural", "deployments"},
         {"items",
          {with_template(metadata("prod", "web"), socket_spec("web"), {{"replicas", 2}}),
           with_template(metadata("ci", "legacy-builder"), socket_spec("builder"),
                         {{"replicas", 0}})}}});
    server_->control(
        "/_control/resources",
        {{"plural", "replicasets"},
         {"items",
          {with_template(metadata("prod", "web-7d4b9c8f6d", owner("Deployment", "web")),
                         socket_spec("web"))}}});
    server_->control("/_control/resources",
                     {{"plural", "daemonsets"},
                      {"items",
                       {with_template(metadata("monitoring", "agent"),
                                      socket_spec("agent", "/var/run", "/host/run"))}}});
    server_->control("/_control/resources",
                     {{"plural", "statefulsets"},
                      {"items",
                       {with_template(metadata("ci", "runner"),
                                      plain_spec("dind", {{"image", "docker:24-dind"}}))}}});
    server_->control(
        "/_control/resources",
        {{"plural", "jobs"},
         {"items",
          {with_template(metadata("finance", "report-28930120", owner("CronJob", "report")),
                         plain_spec("report", report_env))}}});
    json suspended = {
        {"metadata", metadata("ops", "image-cleanup")},
        {"spec",
         {{"suspend", true},
          {"schedule", "@monthly"},
          {"jobTemplate", {{"spec", {{"template", {{"spec", socket_spec("cleanup")}}}}}}}}}};
    json report = {{"metadata", metadata("finance", "report")},
                   {"spec",
                    {{"schedule", "@daily"},
                     {"jobTemplate",
                      {{"spec", {{"template", {{"spec", plain_spec("report", report_env)}}}}}}}}}};
    server_->control("/_control/resources",
                     {{"plural", "cronjobs"}, {"items", {suspended, report}}});
  }

  // Runs `shimwatch scan --format json -o FILE` plus args; the JSON it wrote.
  json scan(const std::vector<std::string> &args, int expected_exit = 0) {
    std::vector<std::string> argv = {"scan", "--format", "json", "-o", dir_.file("scan.json")};
    argv.insert(argv.end(), args.begin(), args.end());
    std::remove(dir_.file("scan.json").c_str());
    last_ = swtest::run_shimwatch(argv);
    EXPECT_EQ(last_.exit_code, expected_exit) << last_.output;
    std::ifstream in(dir_.file("scan.json"));
    return json::parse(in, nullptr, false);
  }

  std::vector<std::string> server_args() {
    return {"--server",         server_->url(), "--token-file",
            dir_.file("token"), "--ca-file",    server_->ca_file()};
  }

  static std::set<std::string> finding_lines(const json &doc) {
    std::set<std::string> lines;
    for (const auto &f : doc["findings"])
      lines.insert(f["severity"].get<std::string>() + " " + f["rule"].get<std::string>() + " " +
                   f["workload_id"].get<std::string>() + " " + f["container"].get<std::string>() +
                   " " + f["field"].get<std::string>());
    return lines;
  }

  static const json *workload(const json &doc, const std::string &id) {
    for (const auto &w : doc["workloads"])
      if (w["id"] == id)
        return &w;
    return nullptr;
  }

  swtest::TempDir dir_;
  std::unique_ptr<swtest::FakeApiServer> server_;
  swtest::ProcessResult last_;
};

TEST_F(ScanLive, FindsDependenciesAndResolvesOwners) {
  // TRIGGER
  json doc = scan(server_args());

  // ASSERT
  ASSERT_TRUE(doc.is_object()) << last_.output;
  EXPECT_EQ(doc["source"]["mode"], "cluster");
  EXPECT_EQ(doc["source"]["server"], server_->url());
  EXPECT_EQ(doc["summary"]["errors"], 0);
  std::set<std::string> expected = {
      "high docker-socket-mount prod/Deployment/web web "
      "spec.template.spec.containers[0].volumeMounts[0]",
      "high docker-socket-mount ci/Deployment/legacy-builder builder "
      "spec.template.spec.containers[0].volumeMounts[0]",
      "high docker-socket-mount ops/CronJob/image-cleanup cleanup "
      "spec.jobTemplate.spec.template.spec.containers[0].volumeMounts[0]",
      "medium docker-socket-parent-mount monitoring/DaemonSet/agent agent "
      "spec.template.spec.containers[0].volumeMounts[0]",
      "medium docker-host-env finance/CronJob/report report "
      "spec.jobTemplate.spec.template.spec.containers[0].env[0].value",
      "medium docker-image ci/StatefulSet/runner dind spec.template.spec.containers[0].image",
      "high docker-command kube-system/Pod/image-gc-node-1 gc spec.containers[0].command[2]",
      "medium docker-image default/Pod/debug debugger spec.ephemeralContainers[0].image",
  };
  EXPECT_EQ(finding_lines(doc), expected);

  const json *web = workload(doc, "prod/Deployment/web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ((*web)["pods"], json({"web-7d4b9c8f6d-a1b2c", "web-7d4b9c8f6d-d3e4f"}));
  EXPECT_EQ((*web)["state"], "active");
  EXPECT_EQ((*web)["docker_socket_mounted"], true);
  EXPECT_EQ((*web)["sources"].size(), 4u); // Deployment, ReplicaSet, two pods

  const json *legacy = workload(doc, "ci/Deployment/legacy-builder");
  ASSERT_NE(legacy, nullptr);
  EXPECT_EQ((*legacy)["state"], "scaled-to-zero");
  EXPECT_EQ((*legacy)["pods"], json::array());

  const json *cleanup = workload(doc, "ops/CronJob/image-cleanup");
  ASSERT_NE(cleanup, nullptr);
  EXPECT_EQ((*cleanup)["state"], "suspended");

  const json *report = workload(doc, "finance/CronJob/report");
  ASSERT_NE(report, nullptr);
  EXPECT_EQ((*report)["pods"], json({"report-28930120-q8v2r"}));

  const json *agent = workload(doc, "monitoring/DaemonSet/agent");
  ASSERT_NE(agent, nullptr);
  EXPECT_EQ((*agent)["socket_mounts"][0]["socket_path"], "/host/run/docker.sock");

  const json *mirror = workload(doc, "kube-system/Pod/image-gc-node-1");
  ASSERT_NE(mirror, nullptr);
  EXPECT_EQ((*mirror)["static_pod"], true);
  EXPECT_EQ((*mirror)["agent_workload"], json({{"kind", "Node"}, {"name", "node-1"}}));

  // A finding read from a pod names its owners up to the workload.
  for (const auto &f : doc["findings"]) {
    if (f["container"] == "debugger") {
      EXPECT_EQ(f["owner_chain"], json({{{"kind", "Pod"}, {"name", "debug"}}}));
    }
  }

  const json *clean = workload(doc, "prod/Deployment/web");
  EXPECT_EQ((*clean)["max_severity"], "high");
}

TEST_F(ScanLive, NamespaceAndKubeconfig) {
  // TRIGGER: a kubeconfig naming the server, its CA and a token; one namespace.
  std::ofstream(dir_.file("kubeconfig"))
      << "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
      << "clusters:\n- name: fake\n  cluster:\n    server: " << server_->url()
      << "\n    certificate-authority: " << server_->ca_file() << "\n"
      << "contexts:\n- name: test\n  context: {cluster: fake, user: tester}\n"
      << "users:\n- name: tester\n  user:\n    token: " << kToken << "\n";
  json doc = scan({"--kubeconfig", dir_.file("kubeconfig"), "--namespace", "finance"});

  // ASSERT
  ASSERT_TRUE(doc.is_object()) << last_.output;
  EXPECT_EQ(doc["source"]["namespace"], "finance");
  EXPECT_EQ(finding_lines(doc),
            (std::set<std::string>{"medium docker-host-env finance/CronJob/report report "
                                   "spec.jobTemplate.spec.template.spec.containers[0].env[0]."
                                   "value"}));
  EXPECT_EQ(doc["workloads"].size(), 1u);
  EXPECT_EQ(server_->stats()["resource_lists"], 7); // every resource, namespaced
}

TEST_F(ScanLive, ForbiddenResourceIsAnErrorNotTheEnd) {
  // TRIGGER: RBAC refuses cronjobs.
  server_->control("/_control/resources", {{"forbidden", {"cronjobs"}}});
  json doc = scan(
      [&] {
        auto args = server_args();
        args.push_back("--exit-code");
        return args;
      }(),
      1);

  // ASSERT
  ASSERT_TRUE(doc.is_object()) << last_.output;
  ASSERT_EQ(doc["errors"].size(), 1u);
  EXPECT_EQ(doc["errors"][0]["input"], "/apis/batch/v1/cronjobs");
  EXPECT_NE(doc["errors"][0]["message"].get<std::string>().find("HTTP 403"), std::string::npos);
  EXPECT_NE(last_.output.find("cronjobs is forbidden"), std::string::npos) << last_.output;
  // The Job still names its CronJob; the suspended CronJob, without pods, is not seen.
  EXPECT_NE(workload(doc, "finance/CronJob/report"), nullptr);
  EXPECT_EQ(workload(doc, "ops/CronJob/image-cleanup"), nullptr);
}

TEST_F(ScanLive, UnusableServerIsAUsageError) {
  // TRIGGER: a wrong token.
  std::ofstream(dir_.file("bad-token")) << "wrong\n";
  auto result = swtest::run_shimwatch({"scan", "--server", server_->url(), "--token-file",
                                       dir_.file("bad-token"), "--ca-file", server_->ca_file()});

  // ASSERT
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("HTTP 401"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("cannot read the cluster"), std::string::npos) << result.output;
}

} // namespace
