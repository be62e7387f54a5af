// `shimwatch scan` flags, errors, output formats and exit codes, in-process.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "scan/kubeconfig.hpp"
#include "scan/scan_options.hpp"
#include "test_files.hpp"

namespace shimwatch::scan {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string corpus(const std::string &name) {
  return (fs::path(__FILE__).parent_path().parent_path() / "scan" / "corpus" / name).string();
}

struct CommandRun {
  int code = -1;
  std::string out;
  std::string err;
};

CommandRun run(const std::vector<std::string> &args, const std::string &stdin_text = "",
               bool terminal = false) {
  CommandRun result;
  auto options = parse_scan_args(args);
  if (!options) {
    result.code = 2;
    result.err = options.error().message;
    return result;
  }
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  result.code = run_scan(*options, in, out, err, terminal);
  result.out = out.str();
  result.err = err.str();
  return result;
}

TEST(ScanCli, ParsesFlags) {
  auto options = parse_scan_args({"-f", "a.yaml", "--filename=b", "-f", "-", "--format", "json",
                                  "--exit-code", "-o", "out.json"});
  ASSERT_TRUE(options.ok()) << options.error().message;
  EXPECT_EQ(options->files, (std::vector<std::string>{"a.yaml", "b", "-"}));
  EXPECT_EQ(options->format, OutputFormat::json);
  EXPECT_TRUE(options->exit_code);
  EXPECT_EQ(options->output, "out.json");

  auto live = parse_scan_args({"--kubeconfig", "k", "--context=dev", "-n", "monitoring"});
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(live->kubeconfig, "k");
  EXPECT_EQ(live->context, "dev");
  EXPECT_EQ(live->namespace_name, "monitoring");
}

TEST(ScanCli, UsageErrorsNameTheProblem) {
  struct Case {
    std::vector<std::string> args;
    const char *message;
  };
  const Case cases[] = {
      {{"--format", "yaml"}, "--format yaml: must be table or json"},
      {{"-f"}, "-f needs a value"},
      {{"--bogus"}, "unknown argument --bogus"},
      {{"-f", "x.yaml", "--namespace", "a"}, "-f scans manifests"},
      {{"--server", "https://x", "--kubeconfig", "k"}, "--server replaces the kubeconfig"},
      {{"--exit-code=yes"}, "--exit-code takes no value"},
      {{"--namespace="}, "--namespace needs a non-empty value"},
  };
  for (const auto &c : cases) {
    auto options = parse_scan_args(c.args);
    ASSERT_FALSE(options.ok()) << c.message;
    EXPECT_NE(options.error().message.find(c.message), std::string::npos)
        << options.error().message;
  }
  CommandRun missing = run({"-f", "/nonexistent/manifests"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/manifests: no such file"), std::string::npos);
}

TEST(ScanCli, HelpEndsWithExamples) {
  CommandRun help = run({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("Usage: shimwatch scan"), std::string::npos);
  EXPECT_NE(help.out.find("Examples:"), std::string::npos);
}

TEST(ScanCli, ExitCodes) {
  EXPECT_EQ(run({"-f", corpus("socket-daemonset.yaml")}).code, 0);
  EXPECT_EQ(run({"-f", corpus("socket-daemonset.yaml"), "--exit-code"}).code, 1);
  EXPECT_EQ(run({"-f", corpus("clean-daemonset.yaml"), "--exit-code"}).code, 0);
  // An input that could not be read may hide a finding.
  EXPECT_EQ(run({"-f", corpus("malformed.json"), "--exit-code"}).code, 1);
}

TEST(ScanCli, JsonOutputSchema) {
  CommandRun result = run({"-f", corpus("deployment-scaled-to-zero.yaml"), "-f",
                           corpus("clean-app.json"), "-f", corpus("malformed.json")});
  ASSERT_EQ(result.code, 0);
  json doc = json::parse(result.out); // not a terminal: JSON by default
  EXPECT_EQ(doc["schema_version"], 1);
  EXPECT_EQ(doc["source"]["mode"], "manifests");
  EXPECT_EQ(doc["summary"]["findings"], 1);
  EXPECT_EQ(doc["summary"]["high"], 1);
  EXPECT_EQ(doc["summary"]["workloads"], 2);
  EXPECT_EQ(doc["summary"]["workloads_with_socket_mounted"], 1);
  EXPECT_EQ(doc["summary"]["errors"], 1);
  const json &finding = doc["findings"][0];
  EXPECT_EQ(finding["severity"], "high");
  EXPECT_EQ(finding["rule"], "docker-socket-mount");
  EXPECT_EQ(finding["namespace"], "ci");
  EXPECT_EQ(finding["workload_kind"], "Deployment");
  EXPECT_EQ(finding["workload_name"], "legacy-builder");
  EXPECT_EQ(finding["container"], "builder");
  EXPECT_EQ(finding["field"], "spec.template.spec.containers[0].volumeMounts[0]");
  EXPECT_EQ(finding["value"], "/var/run/docker.sock");
  EXPECT_EQ(finding["source"]["document"], 1);
  EXPECT_FALSE(finding["reason"].get<std::string>().empty());
  const json &workload = doc["workloads"][0];
  EXPECT_EQ(workload["id"], "ci/Deployment/legacy-builder");
  EXPECT_EQ(workload["state"], "scaled-to-zero");
  EXPECT_EQ(workload["replicas"], 0);
  EXPECT_EQ(workload["docker_socket_mounted"], true);
  EXPECT_EQ(workload["socket_mounts"][0]["socket_path"], "/var/run/docker.sock");
  EXPECT_EQ(workload["findings"], json::array({0}));
  EXPECT_EQ(workload["agent_workload"]["kind"], "Deployment");
  EXPECT_EQ(doc["workloads"][1]["max_severity"], nullptr);
  EXPECT_EQ(doc["errors"][0]["line"], 5);
  EXPECT_NE(result.err.find("malformed.json:5:"), std::string::npos) << result.err;
}

TEST(ScanCli, TableOnATerminalAndStdin) {
  std::ifstream in(corpus("helm-output.yaml"));
  std::stringstream text;
  text << in.rdbuf();
  CommandRun result = run({"-f", "-"}, text.str(), true);
  ASSERT_EQ(result.code, 0);
  std::istringstream lines(result.out);
  std::string header, row, summary;
  std::getline(lines, header);
  std::getline(lines, row);
  std::getline(lines, summary);
  EXPECT_EQ(header.find("SEVERITY"), 0u);
  EXPECT_EQ(row.find("medium"), 0u);
  // Columns line up: each header starts where its values start.
  EXPECT_EQ(header.find("WORKLOAD"), row.find("DaemonSet/release-monitoring-agent"));
  EXPECT_EQ(header.find("FIELD"), row.find("spec.template.spec.containers[0].volumeMounts[0]"));
  EXPECT_EQ(summary, "1 finding (0 high, 1 medium, 0 low) in 1 of 1 workload.");

  CommandRun clean = run({"-f", corpus("clean-app.json"), "--format", "table"});
  EXPECT_EQ(clean.out, "No Docker dependencies found in 1 workload.\n");
}

TEST(ScanCli, OutputFile) {
  swtest::TempFile file("");
  CommandRun result = run({"-f", corpus("socket-daemonset.yaml"), "-o", file.path()}, "", true);
  EXPECT_EQ(result.code, 0);
  EXPECT_TRUE(result.out.empty());
  std::ifstream in(file.path());
  json doc = json::parse(in); // a file gets JSON unless --format table
  EXPECT_EQ(doc["summary"]["high"], 1);
}

TEST(ScanKubeconfig, CurrentContextWithRelativeFilesAndInlineData) {
  fs::path dir = fs::temp_directory_path() / ("shimwatch_kubeconfig_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "config") << R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
  - name: dev-cluster
    cluster:
      server: https://10.0.0.1:6443
      certificate-authority: certs/ca.crt
  - name: prod-cluster
    cluster:
      server: https://10.0.0.2:6443
      certificate-authority-data: aGVsbG8=
contexts:
  - name: dev
    context: {cluster: dev-cluster, user: dev-user, namespace: apps}
  - name: prod
    context: {cluster: prod-cluster, user: prod-user}
  - name: sso
    context: {cluster: prod-cluster, user: sso-user}
users:
  - name: dev-user
    user: {token: abc123}
  - name: prod-user
    user:
      client-certificate-data: Y2VydA==
      client-key: /keys/prod.key
  - name: sso-user
    user:
      exec: {command: kubelogin}
)";
  std::string config = (dir / "config").string();
  auto dev = load_kubeconfig({config}, "");
  ASSERT_TRUE(dev.ok()) << dev.error().message;
  EXPECT_EQ(dev->server, "https://10.0.0.1:6443");
  EXPECT_EQ(dev->ca_file, (dir / "certs/ca.crt").string());
  EXPECT_EQ(dev->token, "abc123");

  auto prod = load_kubeconfig({config}, "prod");
  ASSERT_TRUE(prod.ok()) << prod.error().message;
  EXPECT_EQ(prod->ca_data, "hello");
  EXPECT_EQ(prod->client_cert_data, "cert");
  EXPECT_EQ(prod->client_key_file, "/keys/prod.key");

  auto sso = load_kubeconfig({config}, "sso");
  ASSERT_FALSE(sso.ok());
  EXPECT_NE(sso.error().message.find("exec"), std::string::npos);
  EXPECT_FALSE(load_kubeconfig({config}, "missing").ok());

  // $KUBECONFIG first, then the explicit flag wins, then in-cluster as the last resort.
  auto env = [&](const std::string &name) -> std::optional<std::string> {
    if (name == "KUBECONFIG")
      return "/nonexistent/a:" + config;
    return std::nullopt;
  };
  auto from_env = resolve_cluster_access({}, env);
  ASSERT_TRUE(from_env.ok()) << from_env.error().message;
  EXPECT_EQ(from_env->server, "https://10.0.0.1:6443");

  auto in_cluster = resolve_cluster_access({}, [](const std::string &name) {
    if (name == "KUBERNETES_SERVICE_HOST")
      return std::optional<std::string>("10.96.0.1");
    if (name == "KUBERNETES_SERVICE_PORT")
      return std::optional<std::string>("443");
    return std::optional<std::string>();
  });
  ASSERT_TRUE(in_cluster.ok());
  EXPECT_EQ(in_cluster->server, "https://10.96.0.1:443");
  EXPECT_EQ(in_cluster->token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");

  auto nothing = resolve_cluster_access({}, [](const std::string &) { return std::nullopt; });
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.error().message.find("no cluster to scan"), std::string::npos);
  fs::remove_all(dir);
}

} // namespace
} // namespace shimwatch::scan
