// parse_cli(): subcommands, flags, and how flags and a config file combine.
#include <gtest/gtest.h>

#include "test_files.hpp"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "shimwatch/config.hpp"

using shimwatch::CliRequest;
using shimwatch::Command;
using shimwatch::KubernetesMode;
using shimwatch::KubernetesSource;
using shimwatch::OutputFormat;
using shimwatch::parse_cli;
using strings = std::vector<std::string>;

namespace {

using swtest::TempFile;

CliRequest parse_ok(const strings &args) {
  auto result = parse_cli(args);
  EXPECT_TRUE(result.ok()) << result.error().message;
  return result.ok() ? *result : CliRequest{};
}

std::string parse_error(const strings &args) {
  auto result = parse_cli(args);
  EXPECT_FALSE(result.ok()) << "accepted";
  return result.ok() ? "" : result.error().message;
}

const strings default_exec = {"docker", "docker-compose"};
const strings default_sockets = {"/var/run/docker.sock", "/run/docker.sock"};

TEST(Cli, NoArgumentsMeansHelp) {
  CliRequest r = parse_ok({});
  EXPECT_EQ(r.command, Command::help);
}

TEST(Cli, HelpAndVersionSpellings) {
  for (const char *help : {"help", "--help", "-h"})
    EXPECT_EQ(parse_ok({help}).command, Command::help) << help;
  for (const char *version : {"version", "--version"})
    EXPECT_EQ(parse_ok({version}).command, Command::version) << version;
  EXPECT_EQ(parse_ok({"help", "-h"}).command, Command::help);
}

TEST(Cli, UnknownCommandIsNamed) {
  std::string message = parse_error({"frobnicate"});
  EXPECT_NE(message.find("'frobnicate'"), std::string::npos) << message;
  EXPECT_NE(message.find("run"), std::string::npos) << message;
}

TEST(Cli, VersionAndHelpTakeNoOptions) {
  for (const strings &args : {strings{"version", "--format", "json"}, strings{"version", "-v"},
                              strings{"help", "--watch-exec", "x"}, strings{"help", "--bogus"},
                              strings{"version", "--print-config"}}) {
    std::string message = parse_error(args);
    EXPECT_NE(message.find(args[1]), std::string::npos) << message;
  }
}

TEST(Cli, RunWithoutFlagsUsesDefaults) {
  CliRequest r = parse_ok({"run"});
  EXPECT_EQ(r.command, Command::run);
  EXPECT_FALSE(r.print_config);
  EXPECT_FALSE(r.verbose);
  EXPECT_EQ(r.config.watch_exec, default_exec);
  EXPECT_EQ(r.config.watch_sockets, default_sockets);
  EXPECT_EQ(r.config.format, OutputFormat::automatic);
  EXPECT_TRUE(r.config.stdout_enabled);
  EXPECT_EQ(r.config.log_file, "");
  EXPECT_EQ(r.config.metrics_address, "127.0.0.1:9464");
  EXPECT_EQ(r.config.ring_buffer_kib, 8192u);
}

TEST(Cli, CheckGetsAConfigToo) {
  CliRequest r = parse_ok({"check", "--watch-exec", "nerdctl"});
  EXPECT_EQ(r.command, Command::check);
  EXPECT_EQ(r.config.watch_exec, (strings{"docker", "docker-compose", "nerdctl"}));
}

TEST(Cli, WatchFlagsAddToDefaultsOnceEach) {
  CliRequest r =
      parse_ok({"run", "--watch-exec", "nerdctl", "--watch-exec", "podman", "--watch-exec",
                "nerdctl", "--watch-exec", "docker", "--watch-socket", "/host/run/docker.sock",
                "--watch-socket", "@dockerd", "--watch-socket", "/run/docker.sock"});
  EXPECT_EQ(r.config.watch_exec, (strings{"docker", "docker-compose", "nerdctl", "podman"}));
  EXPECT_EQ(r.config.watch_sockets, (strings{"/var/run/docker.sock", "/run/docker.sock",
                                             "/host/run/docker.sock", "@dockerd"}));
}

TEST(Cli, WatchFlagValuesAreValidated) {
  std::string message = parse_error({"run", "--watch-exec", "/usr/bin/docker"});
  EXPECT_NE(message.find("watch.exec"), std::string::npos) << message;
  message = parse_error({"run", "--watch-socket", "docker.sock"});
  EXPECT_NE(message.find("watch.sockets"), std::string::npos) << message;
}

TEST(Cli, Format) {
  EXPECT_EQ(parse_ok({"run", "--format", "json"}).config.format, OutputFormat::json);
  EXPECT_EQ(parse_ok({"run", "--format", "text"}).config.format, OutputFormat::text);
  EXPECT_EQ(parse_ok({"run", "--format", "auto"}).config.format, OutputFormat::automatic);
  std::string message = parse_error({"run", "--format", "bad"});
  EXPECT_NE(message.find("'bad'"), std::string::npos) << message;
  EXPECT_NE(message.find("auto, json, text"), std::string::npos) << message;
}

TEST(Cli, EqualsForm) {
  CliRequest r =
      parse_ok({"run", "--format=text", "--watch-exec=nerdctl", "--metrics-address=0.0.0.0:9000",
                "--ring-buffer-kib=64", "--watch-socket=@dockerd"});
  EXPECT_EQ(r.config.format, OutputFormat::text);
  EXPECT_EQ(r.config.watch_exec, (strings{"docker", "docker-compose", "nerdctl"}));
  EXPECT_EQ(r.config.watch_sockets.back(), "@dockerd");
  EXPECT_EQ(r.config.metrics_address, "0.0.0.0:9000");
  EXPECT_EQ(r.config.ring_buffer_kib, 64u);
}

TEST(Cli, FlagWithoutItsValue) {
  for (const char *flag : {"--format", "--watch-exec", "--watch-socket", "--config", "-c",
                           "--log-file", "--metrics-address", "--ring-buffer-kib",
                           "--kubernetes-source", "--kubelet-url", "--kubelet-poll-seconds"}) {
    std::string message = parse_error({"run", flag});
    EXPECT_NE(message.find(flag), std::string::npos) << message;
  }
}

TEST(Cli, SwitchGivenAValue) {
  std::string message = parse_error({"run", "--no-stdout=yes", "--log-file", "/tmp/x"});
  EXPECT_NE(message.find("--no-stdout"), std::string::npos) << message;
}

TEST(Cli, UnknownOptionIsNamed) {
  std::string message = parse_error({"run", "--bogus"});
  EXPECT_NE(message.find("'--bogus'"), std::string::npos) << message;
  message = parse_error({"check", "--print-config"});
  EXPECT_NE(message.find("'--print-config'"), std::string::npos) << message;
}

TEST(Cli, MetricsAddress) {
  EXPECT_EQ(parse_ok({"run", "--metrics-address", "off"}).config.metrics_address, "");
  EXPECT_EQ(parse_ok({"run", "--metrics-address", "[::1]:9100"}).config.metrics_address,
            "[::1]:9100");
  std::string message = parse_error({"run", "--metrics-address", "9464"});
  EXPECT_NE(message.find("metrics.address"), std::string::npos) << message;
}

TEST(Cli, RingBufferKib) {
  EXPECT_EQ(parse_ok({"run", "--ring-buffer-kib", "1048576"}).config.ring_buffer_kib, 1048576u);
  for (const char *bad : {"abc", "", "-1", "64k", "4294967296"}) {
    std::string message = parse_error({"run", "--ring-buffer-kib", bad});
    EXPECT_NE(message.find("ring"), std::string::npos) << bad << " -> " << message;
  }
  std::string message = parse_error({"run", "--ring-buffer-kib", "100"});
  EXPECT_NE(message.find("kernel.ring_buffer_kib"), std::string::npos) << message;
}

TEST(Cli, PinPath) {
  // Nothing pinned unless asked: an interactive run leaves nothing attached.
  EXPECT_EQ(parse_ok({"run"}).config.pin_path, "");
  EXPECT_EQ(parse_ok({"run", "--pin-path", "/sys/fs/bpf/node-a"}).config.pin_path,
            "/sys/fs/bpf/node-a");
  EXPECT_EQ(parse_ok({"run", "--no-pin"}).config.pin_path, "");
  EXPECT_EQ(parse_ok({"cleanup", "--pin-path", "/sys/fs/bpf/x"}).command, Command::cleanup);
  EXPECT_EQ(parse_ok({"cleanup", "--pin-path", "/sys/fs/bpf/x"}).config.pin_path, "/sys/fs/bpf/x");

  TempFile pinned(R"({"kernel": {"pin_path": "/sys/fs/bpf/from-file"}})");
  EXPECT_EQ(parse_ok({"run", "--config", pinned.path()}).config.pin_path, "/sys/fs/bpf/from-file");
  EXPECT_EQ(parse_ok({"run", "--config", pinned.path(), "--no-pin"}).config.pin_path, "");
  TempFile unpinned(R"({"kernel": {"pin_path": ""}})");
  EXPECT_EQ(parse_ok({"run", "--config", unpinned.path()}).config.pin_path, "");

  std::string message = parse_error({"run", "--no-pin", "--pin-path", "/sys/fs/bpf/x"});
  EXPECT_NE(message.find("exclude each other"), std::string::npos) << message;
  message = parse_error({"run", "--pin-path", ""});
  EXPECT_NE(message.find("--no-pin"), std::string::npos) << message;
  for (const char *bad : {"relative/dir", "/", "/top", "/sys/fs/bpf/", "/sys/fs/bpf/../x",
                          "/sys/fs/bpf//x", "/sys/fs/bpf/./x", "/sys/fs/bpf/.."}) {
    message = parse_error({"run", "--pin-path", bad});
    EXPECT_NE(message.find("'kernel.pin_path': '" + std::string(bad) + "'"), std::string::npos)
        << bad << " -> " << message;
  }
  TempFile wrong_type(R"({"kernel": {"pin_path": false}})");
  message = parse_error({"run", "--config", wrong_type.path()});
  EXPECT_NE(message.find("'kernel.pin_path': must be a string"), std::string::npos) << message;
}

TEST(Cli, Hooks) {
  EXPECT_EQ(parse_ok({"run"}).config.hooks, "auto");
  EXPECT_EQ(parse_ok({"run", "--hooks", "tracepoints"}).config.hooks, "tracepoints");
  EXPECT_EQ(parse_ok({"run", "--hooks", "raw-tracepoints"}).config.hooks, "raw-tracepoints");
  EXPECT_EQ(parse_ok({"run", "--hooks", "auto"}).config.hooks, "auto");
  EXPECT_EQ(parse_ok({"run", "--hooks", "functions"}).config.hooks, "functions");
  EXPECT_EQ(shimwatch::probe_options(parse_ok({"run", "--hooks", "functions"}).config).hooks,
            shimwatch::HookChoice::functions);
  TempFile file(R"({"kernel": {"hooks": "tracepoints"}})");
  EXPECT_EQ(parse_ok({"run", "--config", file.path()}).config.hooks, "tracepoints");
  EXPECT_EQ(parse_ok({"run", "--config", file.path(), "--hooks", "auto"}).config.hooks, "auto");
  std::string message = parse_error({"run", "--hooks", "fentry"});
  EXPECT_NE(message.find("--hooks 'fentry' is not allowed"), std::string::npos) << message;
  TempFile bad(R"({"kernel": {"hooks": "kprobe"}})");
  message = parse_error({"run", "--config", bad.path()});
  EXPECT_NE(message.find("'kernel.hooks': \"kprobe\" is not allowed"), std::string::npos)
      << message;
}

TEST(Cli, KubeletSourceDefaults) {
  CliRequest r = parse_ok({"run"});
  EXPECT_EQ(r.config.kubernetes.source, KubernetesSource::api_server);
  EXPECT_EQ(r.config.kubernetes.kubelet_url, "https://127.0.0.1:10250");
  EXPECT_FALSE(r.config.kubernetes.kubelet_url_given);
  EXPECT_TRUE(r.config.kubernetes.kubelet_tls_verify);
  EXPECT_EQ(r.config.kubernetes.kubelet_poll_seconds, 10u);
}

TEST(Cli, KubeletFlags) {
  CliRequest r =
      parse_ok({"run", "--kubernetes-source", "kubelet", "--kubelet-url", "https://10.0.0.12:10250",
                "--kubelet-insecure-skip-tls-verify", "--kubelet-poll-seconds", "30"});
  EXPECT_EQ(r.config.kubernetes.source, KubernetesSource::kubelet);
  EXPECT_EQ(r.config.kubernetes.kubelet_url, "https://10.0.0.12:10250");
  EXPECT_TRUE(r.config.kubernetes.kubelet_url_given);
  EXPECT_FALSE(r.config.kubernetes.kubelet_tls_verify);
  EXPECT_EQ(r.config.kubernetes.kubelet_poll_seconds, 30u);
  EXPECT_EQ(r.config.kubernetes.mode, KubernetesMode::automatic);

  r = parse_ok({"run", "--kubernetes-source=api-server", "--kubelet-url=http://127.0.0.1:10255",
                "--kubelet-poll-seconds=3600"});
  EXPECT_EQ(r.config.kubernetes.source, KubernetesSource::api_server);
  EXPECT_EQ(r.config.kubernetes.kubelet_url, "http://127.0.0.1:10255");
  EXPECT_TRUE(r.config.kubernetes.kubelet_tls_verify);
  EXPECT_EQ(r.config.kubernetes.kubelet_poll_seconds, 3600u);

  // The source alone leaves the URL at its default, not given.
  r = parse_ok({"run", "--kubernetes-source", "kubelet"});
  EXPECT_FALSE(r.config.kubernetes.kubelet_url_given);
}

TEST(Cli, BadKubernetesSourceNamesFlagValueAndChoices) {
  std::string message = parse_error({"run", "--kubernetes-source", "apiserver"});
  EXPECT_NE(message.find("--kubernetes-source"), std::string::npos) << message;
  EXPECT_NE(message.find("'apiserver'"), std::string::npos) << message;
  EXPECT_NE(message.find("api-server, kubelet"), std::string::npos) << message;
}

TEST(Cli, KubeletPollSeconds) {
  for (const char *bad : {"abc", "", "-1", "10s", "4294967296"}) {
    std::string message = parse_error({"run", "--kubelet-poll-seconds", bad});
    EXPECT_NE(message.find("--kubelet-poll-seconds"), std::string::npos)
        << bad << " -> " << message;
    EXPECT_NE(message.find(std::string("'") + bad + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("1 to 3600"), std::string::npos) << message;
  }
  for (const char *bad : {"0", "3601"}) {
    std::string message = parse_error({"run", "--kubelet-poll-seconds", bad});
    EXPECT_NE(message.find("kubernetes.kubelet_poll_seconds"), std::string::npos) << message;
    EXPECT_NE(message.find(bad), std::string::npos) << message;
  }
}

TEST(Cli, BadKubeletUrlIsNamed) {
  std::string message = parse_error({"run", "--kubelet-url", "10.0.0.12:10250"});
  EXPECT_NE(message.find("kubernetes.kubelet_url"), std::string::npos) << message;
  EXPECT_NE(message.find("'10.0.0.12:10250'"), std::string::npos) << message;
}

TEST(Cli, KubeletInsecureSkipTlsVerifyTakesNoValue) {
  std::string message = parse_error({"run", "--kubelet-insecure-skip-tls-verify=true"});
  EXPECT_NE(message.find("--kubelet-insecure-skip-tls-verify"), std::string::npos) << message;
}

TEST(Cli, KubeletFlagsApplyOnTopOfConfigFile) {
  TempFile file(R"({"kubernetes": {"source": "kubelet", "kubelet_url": "https://10.0.0.1:10250",
                    "kubelet_tls_verify": true, "kubelet_poll_seconds": 5}})");
  CliRequest r = parse_ok({"run", "--config", file.path()});
  EXPECT_EQ(r.config.kubernetes.source, KubernetesSource::kubelet);
  EXPECT_EQ(r.config.kubernetes.kubelet_url, "https://10.0.0.1:10250");
  EXPECT_TRUE(r.config.kubernetes.kubelet_url_given); // named in the file
  EXPECT_EQ(r.config.kubernetes.kubelet_poll_seconds, 5u);

  r = parse_ok({"run", "--kubernetes-source", "api-server", "--kubelet-url",
                "https://10.0.0.2:10250", "--kubelet-insecure-skip-tls-verify",
                "--kubelet-poll-seconds", "60", "--config", file.path()});
  EXPECT_EQ(r.config.kubernetes.source, KubernetesSource::api_server);
  EXPECT_EQ(r.config.kubernetes.kubelet_url, "https://10.0.0.2:10250");
  EXPECT_FALSE(r.config.kubernetes.kubelet_tls_verify);
  EXPECT_EQ(r.config.kubernetes.kubelet_poll_seconds, 60u);
}

TEST(Cli, PrintConfigShowsTheKubeletKeys) {
  // --print-config prints config_to_json of the parsed config.
  CliRequest r = parse_ok({"run", "--print-config", "--kubernetes-source", "kubelet",
                           "--kubelet-url", "https://10.0.0.12:10250",
                           "--kubelet-insecure-skip-tls-verify", "--kubelet-poll-seconds", "7"});
  EXPECT_TRUE(r.print_config);
  auto doc = nlohmann::json::parse(shimwatch::config_to_json(r.config));
  EXPECT_EQ(doc["kubernetes"]["source"], "kubelet");
  EXPECT_EQ(doc["kubernetes"]["kubelet_url"], "https://10.0.0.12:10250");
  EXPECT_EQ(doc["kubernetes"]["kubelet_tls_verify"], false);
  EXPECT_EQ(doc["kubernetes"]["kubelet_poll_seconds"], 7);
  // And it reads back as the same settings.
  TempFile printed(doc.dump());
  CliRequest again = parse_ok({"run", "--config", printed.path()});
  EXPECT_EQ(again.config.kubernetes.source, KubernetesSource::kubelet);
  EXPECT_EQ(again.config.kubernetes.kubelet_url, "https://10.0.0.12:10250");
  EXPECT_FALSE(again.config.kubernetes.kubelet_tls_verify);
  EXPECT_EQ(again.config.kubernetes.kubelet_poll_seconds, 7u);
}

TEST(Cli, NoStdoutNeedsLogFile) {
  std::string message = parse_error({"run", "--no-stdout"});
  EXPECT_NE(message.find("--log-file"), std::string::npos) << message;

  CliRequest r = parse_ok({"run", "--no-stdout", "--log-file", "/var/log/sw.json"});
  EXPECT_FALSE(r.config.stdout_enabled);
  EXPECT_EQ(r.config.log_file, "/var/log/sw.json");
}

TEST(Cli, NoStdoutIsFineWhenOnlyPrintingTheConfig) {
  CliRequest r = parse_ok({"run", "--no-stdout", "--print-config"});
  EXPECT_TRUE(r.print_config);
  EXPECT_FALSE(r.config.stdout_enabled);
}

TEST(Cli, PrintConfigAndVerbose) {
  CliRequest r = parse_ok({"run", "--print-config", "-v"});
  EXPECT_TRUE(r.print_config);
  EXPECT_TRUE(r.verbose);
  EXPECT_TRUE(parse_ok({"run", "--verbose"}).verbose);
  EXPECT_TRUE(parse_ok({"check", "-v"}).verbose);
}

TEST(Cli, HelpFlagOnRunMeansHelp) {
  EXPECT_EQ(parse_ok({"run", "--help"}).command, Command::help);
}

TEST(Cli, ConfigFileReplacesDefaults) {
  TempFile file(R"({"watch": {"exec": ["nerdctl"]}, "output": {"format": "text"}})");
  for (const char *flag : {"--config", "-c"}) {
    CliRequest r = parse_ok({"run", flag, file.path()});
    EXPECT_EQ(r.config.watch_exec, (strings{"nerdctl"}));
    EXPECT_EQ(r.config.watch_sockets, default_sockets);
    EXPECT_EQ(r.config.format, OutputFormat::text);
    EXPECT_EQ(r.config.metrics_address, "127.0.0.1:9464");
  }
  CliRequest r = parse_ok({"run", "--config=" + file.path()});
  EXPECT_EQ(r.config.watch_exec, (strings{"nerdctl"}));
}

TEST(Cli, FlagsApplyOnTopOfConfigFileWhateverTheOrder) {
  TempFile file(R"({"watch": {"exec": ["nerdctl"], "sockets": ["/host/d.sock"]},
                    "output": {"format": "text"}, "metrics": {"address": "0.0.0.0:1"}})");
  const strings before = {"run",      "--watch-exec", "podman",   "--watch-socket",
                          "@dockerd", "--format",     "json",     "--metrics-address",
                          "off",      "--config",     file.path()};
  const strings after = {"run",    "--config",          file.path(), "--watch-exec",
                         "podman", "--watch-socket",    "@dockerd",  "--format",
                         "json",   "--metrics-address", "off"};
  for (const strings &args : {before, after}) {
    CliRequest r = parse_ok(args);
    EXPECT_EQ(r.config.watch_exec, (strings{"nerdctl", "podman"}));
    EXPECT_EQ(r.config.watch_sockets, (strings{"/host/d.sock", "@dockerd"}));
    EXPECT_EQ(r.config.format, OutputFormat::json);
    EXPECT_EQ(r.config.metrics_address, "");
  }
}

TEST(Cli, ConfigFileErrorsNameTheFile) {
  TempFile file(R"({"output": {"fromat": "json"}})");
  std::string message = parse_error({"run", "--config", file.path()});
  EXPECT_NE(message.find(file.path()), std::string::npos) << message;
  EXPECT_NE(message.find("output.fromat"), std::string::npos) << message;

  TempFile broken("{");
  message = parse_error({"run", "--config", broken.path()});
  EXPECT_NE(message.find(broken.path()), std::string::npos) << message;
}

TEST(Cli, ConfigFileResultIsValidated) {
  TempFile file(R"({"kernel": {"ring_buffer_kib": 100}})");
  std::string message = parse_error({"run", "--config", file.path()});
  EXPECT_NE(message.find("kernel.ring_buffer_kib"), std::string::npos) << message;
}

TEST(Cli, UnreadableConfigFileErrorMentionsPath) {
  const std::string missing = "/tmp/shimwatch_cli_test_does_not_exist.json";
  ::unlink(missing.c_str());
  auto result = parse_cli({"run", "--config", missing});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find(missing), std::string::npos) << result.error().message;
  EXPECT_EQ(result.error().errno_value, ENOENT);
}

TEST(Cli, DirectoryAsConfigFileIsAnError) {
  std::string message = parse_error({"run", "--config", "/tmp"});
  EXPECT_NE(message.find("/tmp"), std::string::npos) << message;
}

TEST(Cli, UsageEndsWithExamples) {
  std::string usage = shimwatch::usage_text();
  auto examples = usage.find("EXAMPLES");
  ASSERT_NE(examples, std::string::npos);
  for (const char *flag :
       {"--config", "--watch-exec", "--watch-socket", "--format", "--log-file", "--no-stdout",
        "--metrics-address", "--ring-buffer-kib", "--print-config", "--verbose", "--help",
        "--kubernetes-source", "--kubelet-url", "--kubelet-insecure-skip-tls-verify",
        "--kubelet-poll-seconds"})
    EXPECT_NE(usage.find(flag), std::string::npos) << flag;
  EXPECT_EQ(usage.find("OPTIONS", examples), std::string::npos);
}

// --- runtime sockets, service control, exclusion ---

TEST(Cli, RuntimeFlags) {
  CliRequest r = parse_ok({"run", "--watch-runtime", "containerd", "--watch-runtime-socket",
                           "k3s=/run/k3s/containerd/containerd.sock"});
  size_t containerd_on = 0;
  for (const auto &s : r.config.runtime_sockets)
    if (s.runtime == "containerd" && s.enabled)
      ++containerd_on;
  EXPECT_EQ(containerd_on, 2u); // /run and /var/run
  EXPECT_EQ(r.config.runtime_sockets.back().runtime, "k3s");
  auto paths = shimwatch::watched_socket_paths(r.config);
  EXPECT_NE(std::find(paths.begin(), paths.end(), "/run/containerd/containerd.sock"), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "/run/k3s/containerd/containerd.sock"),
            paths.end());
}

TEST(Cli, RuntimeFlagsApplyOnTopOfConfigFile) {
  TempFile file(R"({"watch": {"runtime_sockets": [
    {"path": "/run/k0s/containerd.sock", "runtime": "k0s", "enabled": false}]}})");
  CliRequest r = parse_ok({"run", "--watch-runtime", "k0s", "-c", file.path()});
  ASSERT_EQ(r.config.runtime_sockets.size(), 1u);
  EXPECT_TRUE(r.config.runtime_sockets[0].enabled);
  // The defaults were replaced by the file: containerd is no longer known.
  std::string message = parse_error({"run", "-c", file.path(), "--watch-runtime", "containerd"});
  EXPECT_NE(message.find("configured: k0s"), std::string::npos) << message;
}

TEST(Cli, PrintConfigShowsTheNewKeys) {
  CliRequest r = parse_ok({"run", "--print-config"});
  auto doc = nlohmann::json::parse(shimwatch::config_to_json(r.config));
  EXPECT_TRUE(doc["watch"]["runtime_sockets"].is_array());
  EXPECT_EQ(doc["watch"]["service_control"]["enabled"], true);
  EXPECT_EQ(doc["watch"]["service_control"]["init_scripts"],
            nlohmann::json::array({"/etc/init.d/docker"}));
  EXPECT_EQ(doc["exclude"]["self"], true);
}

TEST(Cli, UsageMentionsRuntimeFlags) {
  std::string usage = shimwatch::usage_text();
  EXPECT_NE(usage.find("--watch-runtime RUNTIME"), std::string::npos);
  EXPECT_NE(usage.find("--watch-runtime-socket RUNTIME=PATH"), std::string::npos);
}

} // namespace
