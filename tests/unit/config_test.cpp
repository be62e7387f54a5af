// Config: embedded defaults, JSON documents applied on top, validation.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "shimwatch/config.hpp"

using shimwatch::apply_config_json;
using shimwatch::Config;
using shimwatch::config_to_json;
using shimwatch::default_config;
using shimwatch::KubernetesConfig;
using shimwatch::KubernetesMode;
using shimwatch::KubernetesSource;
using shimwatch::OutputFormat;
using shimwatch::validate_config;
using strings = std::vector<std::string>;

namespace {

void expect_same(const Config &a, const Config &b) {
  EXPECT_EQ(a.watch_exec, b.watch_exec);
  EXPECT_EQ(a.watch_sockets, b.watch_sockets);
  EXPECT_EQ(a.format, b.format);
  EXPECT_EQ(a.stdout_enabled, b.stdout_enabled);
  EXPECT_EQ(a.log_file, b.log_file);
  EXPECT_EQ(a.metrics_address, b.metrics_address);
  EXPECT_EQ(a.ring_buffer_kib, b.ring_buffer_kib);
}

// Every kubernetes key of the JSON document (kubelet_url_given is not one).
void expect_same_kubernetes(const KubernetesConfig &a, const KubernetesConfig &b) {
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.api_server, b.api_server);
  EXPECT_EQ(a.kubelet_url, b.kubelet_url);
  EXPECT_EQ(a.kubelet_tls_verify, b.kubelet_tls_verify);
  EXPECT_EQ(a.kubelet_poll_seconds, b.kubelet_poll_seconds);
  EXPECT_EQ(a.token_file, b.token_file);
  EXPECT_EQ(a.ca_file, b.ca_file);
  EXPECT_EQ(a.node_name, b.node_name);
  EXPECT_EQ(a.labels, b.labels);
}

// The error of applying text to the defaults; fails the test if it applied.
std::string apply_error(const std::string &text) {
  auto result = apply_config_json(text, default_config());
  EXPECT_FALSE(result.ok()) << "accepted: " << text;
  return result.ok() ? "" : result.error().message;
}

std::string validate_error(const Config &config) {
  auto status = validate_config(config);
  EXPECT_FALSE(status.ok()) << config_to_json(config);
  return status.ok() ? "" : status.error().message;
}

TEST(Config, DefaultsAreTheDocumentedOnes) {
  Config c = default_config();
  EXPECT_EQ(c.watch_exec, (strings{"docker", "docker-compose"}));
  EXPECT_EQ(c.watch_sockets, (strings{"/var/run/docker.sock", "/run/docker.sock"}));
  EXPECT_EQ(c.format, OutputFormat::automatic);
  EXPECT_TRUE(c.stdout_enabled);
  EXPECT_EQ(c.log_file, "");
  EXPECT_EQ(c.metrics_address, "127.0.0.1:9464");
  EXPECT_EQ(c.ring_buffer_kib, 8192u);
}

TEST(Config, EmbeddedDefaultDocumentParsesAndValidates) {
  // default_config() falls back to an empty Config if the embedded JSON is bad;
  // only applying it directly shows that.
  auto applied = apply_config_json(shimwatch::default_config_json(), Config{});
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  expect_same(*applied, default_config());
  auto status = validate_config(*applied);
  EXPECT_TRUE(status.ok()) << status.error().message;
}

TEST(Config, KubernetesDefaults) {
  KubernetesConfig k = default_config().kubernetes;
  EXPECT_EQ(k.mode, KubernetesMode::automatic);
  EXPECT_EQ(k.source, KubernetesSource::api_server);
  EXPECT_EQ(k.api_server, "");
  EXPECT_EQ(k.kubelet_url, "https://127.0.0.1:10250");
  EXPECT_FALSE(k.kubelet_url_given); // the embedded document does not count as given
  EXPECT_TRUE(k.kubelet_tls_verify);
  EXPECT_EQ(k.kubelet_poll_seconds, 10u);
  EXPECT_EQ(k.token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_EQ(k.ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
}

TEST(Config, KubernetesSourceNames) {
  EXPECT_EQ(shimwatch::kubernetes_source_name(KubernetesSource::api_server), "api-server");
  EXPECT_EQ(shimwatch::kubernetes_source_name(KubernetesSource::kubelet), "kubelet");
  EXPECT_EQ(*shimwatch::parse_kubernetes_source("kubelet"), KubernetesSource::kubelet);
  EXPECT_EQ(*shimwatch::parse_kubernetes_source("api-server"), KubernetesSource::api_server);
  EXPECT_FALSE(shimwatch::parse_kubernetes_source("apiserver").ok());
}

TEST(Config, FormatNames) {
  EXPECT_EQ(shimwatch::format_name(OutputFormat::automatic), "auto");
  EXPECT_EQ(shimwatch::format_name(OutputFormat::json), "json");
  EXPECT_EQ(shimwatch::format_name(OutputFormat::text), "text");
}

TEST(ApplyConfigJson, EmptyObjectChangesNothing) {
  auto applied = apply_config_json("{}", default_config());
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  expect_same(*applied, default_config());
}

TEST(ApplyConfigJson, ReplacesOnlyKeysPresent) {
  auto applied = apply_config_json(R"({"output": {"format": "json"}})", default_config());
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  Config expected = default_config();
  expected.format = OutputFormat::json;
  expect_same(*applied, expected);

  applied = apply_config_json(R"({"watch": {"exec": ["nerdctl"]}})", default_config());
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  expected = default_config();
  expected.watch_exec = {"nerdctl"};
  expect_same(*applied, expected);
}

TEST(ApplyConfigJson, EveryKey) {
  auto applied = apply_config_json(R"({
    "watch": {"exec": ["podman"], "sockets": ["@dockerd", "/host/run/d.sock"]},
    "output": {"format": "text", "stdout": false, "log_file": "/var/log/sw.json"},
    "metrics": {"address": ""},
    "kernel": {"ring_buffer_kib": 64}
  })",
                                   default_config());
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(applied->watch_exec, (strings{"podman"}));
  EXPECT_EQ(applied->watch_sockets, (strings{"@dockerd", "/host/run/d.sock"}));
  EXPECT_EQ(applied->format, OutputFormat::text);
  EXPECT_FALSE(applied->stdout_enabled);
  EXPECT_EQ(applied->log_file, "/var/log/sw.json");
  EXPECT_EQ(applied->metrics_address, "");
  EXPECT_EQ(applied->ring_buffer_kib, 64u);
}

TEST(ApplyConfigJson, KubeletKeys) {
  auto applied = apply_config_json(R"({"kubernetes": {
    "source": "kubelet", "kubelet_url": "https://10.0.0.12:10250",
    "kubelet_tls_verify": false, "kubelet_poll_seconds": 30}})",
                                   default_config());
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  const KubernetesConfig &k = applied->kubernetes;
  EXPECT_EQ(k.source, KubernetesSource::kubelet);
  EXPECT_EQ(k.kubelet_url, "https://10.0.0.12:10250");
  EXPECT_TRUE(k.kubelet_url_given);
  EXPECT_FALSE(k.kubelet_tls_verify);
  EXPECT_EQ(k.kubelet_poll_seconds, 30u);
  EXPECT_EQ(k.api_server, "");
  EXPECT_TRUE(validate_config(*applied).ok());

  applied = apply_config_json(R"({"kubernetes": {"source": "kubelet"}})", default_config());
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_FALSE(applied->kubernetes.kubelet_url_given);
  EXPECT_EQ(applied->kubernetes.kubelet_url, "https://127.0.0.1:10250");
}

TEST(ApplyConfigJson, BadKubernetesSourceNamesKeyValueAndChoices) {
  std::string message = apply_error(R"({"kubernetes": {"source": "apiserver"}})");
  EXPECT_NE(message.find("'kubernetes.source'"), std::string::npos) << message;
  EXPECT_NE(message.find("'apiserver'"), std::string::npos) << message;
  EXPECT_NE(message.find("api-server, kubelet"), std::string::npos) << message;
}

TEST(ApplyConfigJson, UnknownKubernetesKeyListsTheKubeletOnes) {
  std::string message = apply_error(R"({"kubernetes": {"kubelet_tls": false}})");
  EXPECT_NE(message.find("kubernetes.kubelet_tls"), std::string::npos) << message;
  for (const char *key : {"source", "kubelet_url", "kubelet_tls_verify", "kubelet_poll_seconds"})
    EXPECT_NE(message.find(key), std::string::npos) << key << " -> " << message;
}

TEST(ApplyConfigJson, EmptyListReplacesDefaults) {
  auto applied = apply_config_json(R"({"watch": {"exec": []}})", default_config());
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_TRUE(applied->watch_exec.empty());
  EXPECT_EQ(applied->watch_sockets, default_config().watch_sockets);
}

TEST(ApplyConfigJson, UnknownTopLevelKeyIsNamed) {
  std::string message = apply_error(R"({"wach": {}})");
  EXPECT_NE(message.find("'wach'"), std::string::npos) << message;
}

TEST(ApplyConfigJson, UnknownNestedKeyIsNamedWithItsSection) {
  std::string message = apply_error(R"({"output": {"fromat": "json"}})");
  EXPECT_NE(message.find("output.fromat"), std::string::npos) << message;
  // The message lists what would have been right.
  EXPECT_NE(message.find("format, stdout, log_file"), std::string::npos) << message;

  message = apply_error(R"({"kernel": {"ring_buffer": 64}})");
  EXPECT_NE(message.find("kernel.ring_buffer"), std::string::npos) << message;
}

TEST(ApplyConfigJson, WrongTypesNameTheKey) {
  const std::pair<const char *, const char *> cases[] = {
      {R"({"watch": []})", "watch"},
      {R"({"watch": {"exec": "docker"}})", "watch.exec"},
      {R"({"watch": {"exec": ["docker", 1]}})", "watch.exec[1]"},
      {R"({"watch": {"sockets": [null]}})", "watch.sockets[0]"},
      {R"({"output": {"format": 1}})", "output.format"},
      {R"({"output": {"stdout": "yes"}})", "output.stdout"},
      {R"({"output": {"log_file": false}})", "output.log_file"},
      {R"({"metrics": {"address": 9464}})", "metrics.address"},
      {R"({"kernel": {"ring_buffer_kib": "8192"}})", "kernel.ring_buffer_kib"},
      {R"({"kernel": {"ring_buffer_kib": -64}})", "kernel.ring_buffer_kib"},
      {R"({"kernel": {"ring_buffer_kib": 64.5}})", "kernel.ring_buffer_kib"},
      {R"({"kernel": {"ring_buffer_kib": 4294967296}})", "kernel.ring_buffer_kib"},
      {R"({"kubernetes": {"source": 1}})", "kubernetes.source"},
      {R"({"kubernetes": {"kubelet_url": null}})", "kubernetes.kubelet_url"},
      {R"({"kubernetes": {"kubelet_tls_verify": "false"}})", "kubernetes.kubelet_tls_verify"},
      {R"({"kubernetes": {"kubelet_poll_seconds": "10"}})", "kubernetes.kubelet_poll_seconds"},
      {R"({"kubernetes": {"kubelet_poll_seconds": -1}})", "kubernetes.kubelet_poll_seconds"},
      {R"({"kubernetes": {"kubelet_poll_seconds": 2.5}})", "kubernetes.kubelet_poll_seconds"},
  };
  for (const auto &[text, key] : cases) {
    std::string message = apply_error(text);
    EXPECT_NE(message.find(std::string("'") + key + "'"), std::string::npos)
        << text << " -> " << message;
  }
}

TEST(ApplyConfigJson, BadFormatValueNamesKeyValueAndChoices) {
  std::string message = apply_error(R"({"output": {"format": "xml"}})");
  EXPECT_NE(message.find("output.format"), std::string::npos) << message;
  EXPECT_NE(message.find("xml"), std::string::npos) << message;
  EXPECT_NE(message.find("auto, json, text"), std::string::npos) << message;
}

TEST(ApplyConfigJson, InvalidJson) {
  for (const char *text : {"", "{", R"({"watch": })", "{'watch': {}}", "{} trailing"}) {
    std::string message = apply_error(text);
    EXPECT_NE(message.find("JSON"), std::string::npos) << text << " -> " << message;
  }
}

TEST(ApplyConfigJson, NonObjectRoot) {
  for (const char *text : {"[]", "42", "null", R"("watch")"}) {
    std::string message = apply_error(text);
    EXPECT_NE(message.find("object"), std::string::npos) << text << " -> " << message;
  }
}

TEST(ApplyConfigJson, ErrorLeavesNothingHalfApplied) {
  // A later bad key must fail the whole document, not return a partial config.
  auto applied = apply_config_json(R"({"watch": {"exec": ["nerdctl"]}, "output": {"stdout": 1}})",
                                   default_config());
  EXPECT_FALSE(applied.ok());
}

TEST(ValidateConfig, DefaultsAreValid) {
  auto status = validate_config(default_config());
  EXPECT_TRUE(status.ok()) << status.error().message;
}

TEST(ValidateConfig, WatchingNothingIsAnError) {
  Config c = default_config();
  c.watch_exec.clear();
  c.watch_sockets.clear();
  c.watch_exec_paths.clear();
  c.watch_tcp_ports.clear();
  c.watch_config_paths.clear();
  c.runtime_sockets.clear();
  c.service_control.enabled = false;
  validate_error(c);

  c.watch_sockets = {"/run/docker.sock"};
  EXPECT_TRUE(validate_config(c).ok());
  // Anything watched is enough: the defaults of the other kinds alone too.
  Config only_defaults = default_config();
  only_defaults.watch_exec.clear();
  only_defaults.watch_sockets.clear();
  EXPECT_TRUE(validate_config(only_defaults).ok());
}

TEST(ValidateConfig, ExecNames) {
  for (const std::string &bad :
       {std::string("usr/bin/docker"), std::string("/docker"), std::string(""),
        std::string(256, 'a'), std::string("."), std::string(".."), std::string("doc\0ker", 7)}) {
    Config c = default_config();
    c.watch_exec = {"docker", bad};
    std::string message = validate_error(c);
    EXPECT_NE(message.find("watch.exec"), std::string::npos) << message;
  }
  Config c = default_config();
  c.watch_exec = {std::string(255, 'a'), "docker-credential-helper", ".docker", "a"};
  auto status = validate_config(c);
  EXPECT_TRUE(status.ok()) << status.error().message;
}

TEST(ValidateConfig, ExecNameInMessage) {
  Config c = default_config();
  c.watch_exec = {"usr/bin/docker"};
  std::string message = validate_error(c);
  EXPECT_NE(message.find("'usr/bin/docker'"), std::string::npos) << message;
}

TEST(ValidateConfig, SocketPaths) {
  for (const std::string &bad :
       {std::string("docker.sock"), std::string("run/docker.sock"), std::string(""),
        std::string("@"), "/" + std::string(108, 's'), "@" + std::string(108, 's')}) {
    Config c = default_config();
    c.watch_sockets = {bad};
    std::string message = validate_error(c);
    EXPECT_NE(message.find("watch.sockets"), std::string::npos) << message;
  }
  Config c = default_config();
  c.watch_sockets = {"/" + std::string(107, 's'), "@" + std::string(107, 's'), "@docker",
                     "/host/run/d.sock"};
  auto status = validate_config(c);
  EXPECT_TRUE(status.ok()) << status.error().message;
}

TEST(ValidateConfig, MetricsAddress) {
  for (const char *bad :
       {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:65536",
        "127.0.0.1:-1", "127.0.0.1:94x", ":9464", "::1:9464", "[::1]"}) {
    Config c = default_config();
    c.metrics_address = bad;
    std::string message = validate_error(c);
    EXPECT_NE(message.find("metrics.address"), std::string::npos) << bad << " -> " << message;
  }
  for (const char *good :
       {"", "127.0.0.1:9464", "0.0.0.0:1", "localhost:65535", "[::1]:9464", "[::]:9464"}) {
    Config c = default_config();
    c.metrics_address = good;
    auto status = validate_config(c);
    EXPECT_TRUE(status.ok()) << good << " -> " << status.error().message;
  }
}

TEST(ValidateConfig, IPv6WithoutBracketsSaysSo) {
  Config c = default_config();
  c.metrics_address = "::1:9464";
  std::string message = validate_error(c);
  EXPECT_NE(message.find("brackets"), std::string::npos) << message;
}

TEST(ValidateConfig, RingBufferSize) {
  for (uint32_t bad : {0u, 32u, 100u, 8191u, 2'097'152u, 0x80000000u}) {
    Config c = default_config();
    c.ring_buffer_kib = bad;
    std::string message = validate_error(c);
    EXPECT_NE(message.find("kernel.ring_buffer_kib"), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(bad)), std::string::npos) << message;
  }
  for (uint32_t good : {64u, 128u, 8192u, 1'048'576u}) {
    Config c = default_config();
    c.ring_buffer_kib = good;
    auto status = validate_config(c);
    EXPECT_TRUE(status.ok()) << good << " -> " << status.error().message;
  }
}

TEST(ValidateConfig, KubeletUrl) {
  for (const char *bad : {"", "10.0.0.12:10250", "ftp://10.0.0.12", "https//x"}) {
    Config c = default_config();
    c.kubernetes.kubelet_url = bad;
    std::string message = validate_error(c);
    EXPECT_NE(message.find("'kubernetes.kubelet_url'"), std::string::npos) << message;
    EXPECT_NE(message.find(std::string("'") + bad + "'"), std::string::npos) << message;
  }
  for (const char *good :
       {"https://10.0.0.12:10250", "http://127.0.0.1:10255", "https://[::1]:10250"}) {
    Config c = default_config();
    c.kubernetes.kubelet_url = good;
    auto status = validate_config(c);
    EXPECT_TRUE(status.ok()) << good << " -> " << status.error().message;
  }
}

TEST(ValidateConfig, KubeletPollSeconds) {
  for (uint32_t bad : {0u, 3601u, 86400u}) {
    Config c = default_config();
    c.kubernetes.kubelet_poll_seconds = bad;
    std::string message = validate_error(c);
    EXPECT_NE(message.find("'kubernetes.kubelet_poll_seconds'"), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(bad)), std::string::npos) << message;
    EXPECT_NE(message.find("1 to 3600"), std::string::npos) << message;
  }
  for (uint32_t good : {1u, 10u, 3600u}) {
    Config c = default_config();
    c.kubernetes.kubelet_poll_seconds = good;
    auto status = validate_config(c);
    EXPECT_TRUE(status.ok()) << good << " -> " << status.error().message;
  }
}

TEST(ConfigToJson, RoundTripsThroughApply) {
  Config c;
  c.watch_exec = {"nerdctl", "podman"};
  c.watch_sockets = {"@dockerd", "/host/run/docker.sock"};
  c.format = OutputFormat::text;
  c.stdout_enabled = false;
  c.log_file = "/var/log/shimwatch/audit.json";
  c.metrics_address = "";
  c.ring_buffer_kib = 64;
  c.kubernetes.mode = KubernetesMode::on;
  c.kubernetes.source = KubernetesSource::kubelet;
  c.kubernetes.api_server = "https://10.96.0.1:443";
  c.kubernetes.kubelet_url = "https://10.0.0.12:10250";
  c.kubernetes.kubelet_tls_verify = false;
  c.kubernetes.kubelet_poll_seconds = 3600;
  c.kubernetes.token_file = "/etc/shimwatch/token";
  c.kubernetes.ca_file = "/etc/shimwatch/ca.crt";
  c.kubernetes.node_name = "node-7";
  c.kubernetes.labels = {"team"};

  std::string text = config_to_json(c);
  // Applied to a different base, every key of the output must win.
  auto applied = apply_config_json(text, default_config());
  ASSERT_TRUE(applied.ok()) << applied.error().message << "\n" << text;
  expect_same(*applied, c);
  expect_same_kubernetes(applied->kubernetes, c.kubernetes);

  auto defaults = apply_config_json(config_to_json(default_config()), Config{});
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  expect_same(*defaults, default_config());
  expect_same_kubernetes(defaults->kubernetes, default_config().kubernetes);
}

TEST(ConfigToJson, BytesThatAreNotUtf8AreShownNotThrown) {
  Config c = default_config();
  c.watch_exec.push_back("\xff");
  auto doc = nlohmann::json::parse(config_to_json(c));
  EXPECT_EQ(doc["watch"]["exec"].back(), "\xEF\xBF\xBD");
}

TEST(ConfigToJson, HasTheKubeletKeys) {
  Config c = default_config();
  c.kubernetes.source = KubernetesSource::kubelet;
  c.kubernetes.kubelet_tls_verify = false;
  c.kubernetes.kubelet_poll_seconds = 5;
  auto doc = nlohmann::json::parse(config_to_json(c));
  EXPECT_EQ(doc["kubernetes"]["source"], "kubelet");
  EXPECT_EQ(doc["kubernetes"]["kubelet_url"], "https://127.0.0.1:10250");
  EXPECT_EQ(doc["kubernetes"]["kubelet_tls_verify"], false);
  EXPECT_EQ(doc["kubernetes"]["kubelet_poll_seconds"], 5);
  EXPECT_FALSE(doc["kubernetes"].contains("kubelet_url_given"));
}

TEST(ConfigToJson, SameSchemaAsTheFile) {
  auto doc = nlohmann::json::parse(config_to_json(default_config()));
  EXPECT_EQ(doc, nlohmann::json::parse(shimwatch::default_config_json()));
}

// --- runtime sockets, service control, exclusion ---

TEST(Config, ServiceControlAndExcludeDefaults) {
  Config c = default_config();
  const auto &sc = c.service_control;
  EXPECT_TRUE(sc.enabled);
  EXPECT_EQ(sc.managers, (strings{"systemctl", "service"}));
  EXPECT_EQ(sc.units, (strings{"docker", "docker.service", "docker.socket"}));
  for (const char *verb : {"start", "stop", "restart", "reload", "enable", "disable", "mask",
                           "unmask", "try-restart", "reload-or-restart", "kill"})
    EXPECT_NE(std::find(sc.verbs.begin(), sc.verbs.end(), verb), sc.verbs.end()) << verb;
  for (const char *verb : {"status", "show", "is-active", "cat"})
    EXPECT_EQ(std::find(sc.verbs.begin(), sc.verbs.end(), verb), sc.verbs.end()) << verb;
  EXPECT_EQ(sc.init_scripts, (strings{"/etc/init.d/docker"}));
  EXPECT_TRUE(c.exclude.self);
  EXPECT_FALSE(c.exclude.executables.empty());
}

TEST(ApplyConfigJson, RuntimeSocketsServiceControlAndExclude) {
  auto applied = apply_config_json(R"({
    "watch": {
      "runtime_sockets": [
        {"path": "/run/k3s/containerd/containerd.sock", "runtime": "k3s"},
        {"path": "/run/containerd/containerd.sock", "runtime": "containerd", "enabled": false}
      ],
      "service_control": {"managers": ["systemctl"], "verbs": ["restart"]}
    },
    "exclude": {"self": false, "executables": ["/opt/*"], "units": ["backup*.service"],
                "comms": ["scan"]}
  })",
                                   default_config());
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  ASSERT_EQ(applied->runtime_sockets.size(), 2u);
  EXPECT_EQ(applied->runtime_sockets[0].path, "/run/k3s/containerd/containerd.sock");
  EXPECT_EQ(applied->runtime_sockets[0].runtime, "k3s");
  EXPECT_TRUE(applied->runtime_sockets[0].enabled); // enabled defaults to true
  EXPECT_FALSE(applied->runtime_sockets[1].enabled);
  EXPECT_EQ(applied->service_control.managers, (strings{"systemctl"}));
  EXPECT_EQ(applied->service_control.verbs, (strings{"restart"}));
  // Keys not given keep the base's value.
  EXPECT_EQ(applied->service_control.units, default_config().service_control.units);
  EXPECT_TRUE(applied->service_control.enabled);
  EXPECT_FALSE(applied->exclude.self);
  EXPECT_EQ(applied->exclude.executables, (strings{"/opt/*"}));
  EXPECT_EQ(applied->exclude.units, (strings{"backup*.service"}));
  EXPECT_EQ(applied->exclude.comms, (strings{"scan"}));
  EXPECT_TRUE(validate_config(*applied).ok());
}

TEST(ApplyConfigJson, NewKeysWrongTypesAndUnknownKeysNameTheKey) {
  const std::pair<const char *, const char *> cases[] = {
      {R"({"watch": {"runtime_sockets": {}}})", "watch.runtime_sockets"},
      {R"({"watch": {"runtime_sockets": ["/run/x.sock"]}})", "watch.runtime_sockets[0]"},
      {R"({"watch": {"runtime_sockets": [{"runtime": "x"}]}})", "watch.runtime_sockets[0].path"},
      {R"({"watch": {"runtime_sockets": [{"path": "/x"}]}})", "watch.runtime_sockets[0].runtime"},
      {R"({"watch": {"runtime_sockets": [{"path": 1, "runtime": "x"}]}})",
       "watch.runtime_sockets[0].path"},
      {R"({"watch": {"runtime_sockets": [{"path": "/x", "runtime": "x", "enabled": "yes"}]}})",
       "watch.runtime_sockets[0].enabled"},
      {R"({"watch": {"service_control": []}})", "watch.service_control"},
      {R"({"watch": {"service_control": {"enabled": 1}}})", "watch.service_control.enabled"},
      {R"({"watch": {"service_control": {"units": "docker"}}})", "watch.service_control.units"},
      {R"({"watch": {"service_control": {"verbs": [1]}}})", "watch.service_control.verbs[0]"},
      {R"({"exclude": []})", "exclude"},
      {R"({"exclude": {"self": "yes"}})", "exclude.self"},
      {R"({"exclude": {"executables": [null]}})", "exclude.executables[0]"},
  };
  for (const auto &[text, key] : cases) {
    std::string message = apply_error(text);
    EXPECT_NE(message.find(std::string("'") + key + "'"), std::string::npos)
        << text << " -> " << message;
  }
  std::string message = apply_error(
      R"({"watch": {"runtime_sockets": [{"path": "/x", "runtime": "x", "on": true}]}})");
  EXPECT_NE(message.find("watch.runtime_sockets[0].on"), std::string::npos) << message;
  EXPECT_NE(message.find("path, runtime, enabled"), std::string::npos) << message;
  message = apply_error(R"({"watch": {"service_control": {"unit": []}}})");
  EXPECT_NE(message.find("watch.service_control.unit"), std::string::npos) << message;
  EXPECT_NE(message.find("init_scripts"), std::string::npos) << message;
  message = apply_error(R"({"exclude": {"executable": []}})");
  EXPECT_NE(message.find("exclude.executable"), std::string::npos) << message;
  EXPECT_NE(message.find("self, executables, units, comms"), std::string::npos) << message;
}

TEST(ValidateConfig, RuntimeSockets) {
  const std::pair<shimwatch::RuntimeSocket, const char *> bad[] = {
      {{"run/x.sock", "x", true}, "watch.runtime_sockets[10].path"},
      {{"@", "x", true}, "watch.runtime_sockets[10].path"},
      {{"/" + std::string(108, 's'), "x", true}, "watch.runtime_sockets[10].path"},
      {{"/run/x.sock", "", true}, "watch.runtime_sockets[10].runtime"},
      {{"/run/x.sock", "my runtime", true}, "watch.runtime_sockets[10].runtime"},
      {{"/run/crio/crio.sock", "podman", false}, "watch.runtime_sockets[10].path"},
  };
  for (const auto &[socket, key] : bad) {
    Config c = default_config();
    c.runtime_sockets.push_back(socket);
    std::string message = validate_error(c);
    EXPECT_NE(message.find(key), std::string::npos) << message;
  }
  Config c = default_config();
  c.runtime_sockets.push_back({"@containerd-shim", "containerd", true});
  c.runtime_sockets.push_back({"/run/crio/crio.sock", "cri-o", false}); // same runtime: fine
  EXPECT_TRUE(validate_config(c).ok());
}

TEST(ValidateConfig, KernelFiltersHoldAtMost256Entries) {
  Config c = default_config();
  for (int i = 0; i < 250; ++i)
    c.runtime_sockets.push_back({"/run/r" + std::to_string(i) + ".sock", "r", true});
  std::string message = validate_error(c);
  EXPECT_NE(message.find("256"), std::string::npos) << message;
  for (auto &s : c.runtime_sockets)
    s.enabled = false; // known but not watched: not in the kernel filter
  EXPECT_TRUE(validate_config(c).ok());

  c = default_config();
  c.watch_exec.clear();
  for (int i = 0; i < 255; ++i)
    c.watch_exec.push_back("tool" + std::to_string(i));
  message = validate_error(c); // 255 + systemctl + service
  EXPECT_NE(message.find("256"), std::string::npos) << message;
  c.service_control.enabled = false;
  EXPECT_TRUE(validate_config(c).ok());
}

TEST(ValidateConfig, ServiceControl) {
  const std::pair<std::function<void(Config &)>, const char *> bad[] = {
      {[](Config &c) { c.service_control.managers = {"/bin/systemctl"}; },
       "watch.service_control.managers"},
      {[](Config &c) { c.service_control.managers = {""}; }, "watch.service_control.managers"},
      {[](Config &c) { c.service_control.units = {"docker service"}; },
       "watch.service_control.units"},
      {[](Config &c) { c.service_control.units = {""}; }, "watch.service_control.units"},
      {[](Config &c) { c.service_control.verbs = {"re start"}; }, "watch.service_control.verbs"},
      {[](Config &c) { c.service_control.init_scripts = {"etc/init.d/docker"}; },
       "watch.service_control.init_scripts"},
      {[](Config &c) { c.service_control.init_scripts = {"/etc/init.d/"}; },
       "watch.service_control.init_scripts"},
      {[](Config &c) { c.service_control.units.clear(); }, "watch.service_control.units"},
      {[](Config &c) { c.service_control.verbs.clear(); }, "watch.service_control.verbs"},
      {[](Config &c) { c.exclude.executables = {""}; }, "exclude.executables"},
      {[](Config &c) { c.exclude.units = {""}; }, "exclude.units"},
  };
  for (const auto &[change, key] : bad) {
    Config c = default_config();
    change(c);
    std::string message = validate_error(c);
    EXPECT_NE(message.find(key), std::string::npos) << message;
  }
  // Turned off, empty lists are fine.
  Config c = default_config();
  c.service_control.enabled = false;
  c.service_control.units.clear();
  c.service_control.verbs.clear();
  EXPECT_TRUE(validate_config(c).ok());
}

TEST(ConfigToJson, RoundTripsTheNewKeys) {
  Config c = default_config();
  c.runtime_sockets = {{"/run/k3s/containerd/containerd.sock", "k3s", true},
                       {"@podman", "podman", false}};
  c.service_control.enabled = false;
  c.service_control.managers = {"rc-service"};
  c.service_control.units = {"docker-custom.service"};
  c.service_control.verbs = {"restart", "stop"};
  c.service_control.init_scripts = {"/etc/rc.d/rc.docker"};
  c.exclude.self = false;
  c.exclude.executables = {"/opt/*"};
  c.exclude.units = {"backup*.service"};
  c.exclude.comms = {"scan*"};

  std::string text = config_to_json(c);
  auto applied = apply_config_json(text, default_config());
  ASSERT_TRUE(applied.ok()) << applied.error().message << "\n" << text;
  ASSERT_EQ(applied->runtime_sockets.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(applied->runtime_sockets[i].path, c.runtime_sockets[i].path);
    EXPECT_EQ(applied->runtime_sockets[i].runtime, c.runtime_sockets[i].runtime);
    EXPECT_EQ(applied->runtime_sockets[i].enabled, c.runtime_sockets[i].enabled);
  }
  const auto &sc = applied->service_control;
  EXPECT_EQ(sc.enabled, false);
  EXPECT_EQ(sc.managers, c.service_control.managers);
  EXPECT_EQ(sc.units, c.service_control.units);
  EXPECT_EQ(sc.verbs, c.service_control.verbs);
  EXPECT_EQ(sc.init_scripts, c.service_control.init_scripts);
  EXPECT_EQ(applied->exclude.self, false);
  EXPECT_EQ(applied->exclude.executables, c.exclude.executables);
  EXPECT_EQ(applied->exclude.units, c.exclude.units);
  EXPECT_EQ(applied->exclude.comms, c.exclude.comms);
  // And the printed document is the same again.
  EXPECT_EQ(config_to_json(*applied), text);
}

} // namespace
