// The output queue, syslog and dedupe settings: defaults, config file keys,
// flags, validation, and the effective config as JSON.
#include <gtest/gtest.h>

#include "test_files.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include "shimwatch/config.hpp"

using namespace shimwatch;
using strings = std::vector<std::string>;

namespace {

using swtest::TempFile;

Config apply_ok(const std::string &text) {
  auto result = apply_config_json(text, default_config());
  EXPECT_TRUE(result.ok()) << text << ": " << result.error().message;
  return result.ok() ? *result : Config{};
}

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

void expect_valid(const Config &config) {
  auto status = validate_config(config);
  EXPECT_TRUE(status.ok()) << status.error().message;
}

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

#define EXPECT_HAS(haystack, needle)                                                               \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)                                 \
      << "'" << (haystack) << "' lacks '" << (needle) << "'"

void expect_same_outputs(const Config &a, const Config &b) {
  EXPECT_EQ(a.output_queue_size, b.output_queue_size);
  EXPECT_EQ(a.syslog.url, b.syslog.url);
  EXPECT_EQ(a.syslog.ca_file, b.syslog.ca_file);
  EXPECT_EQ(a.syslog.cert_file, b.syslog.cert_file);
  EXPECT_EQ(a.syslog.key_file, b.syslog.key_file);
  EXPECT_EQ(a.syslog.tls_verify, b.syslog.tls_verify);
  EXPECT_EQ(a.syslog.facility, b.syslog.facility);
  EXPECT_EQ(a.syslog.queue_size, b.syslog.queue_size);
  EXPECT_EQ(a.dedupe.enabled, b.dedupe.enabled);
  EXPECT_EQ(a.dedupe.window_seconds, b.dedupe.window_seconds);
  EXPECT_EQ(a.stdout_enabled, b.stdout_enabled);
  EXPECT_EQ(a.log_file, b.log_file);
}

// ---------------------------------------------------------------------------
// Defaults

TEST(OutputConfig, Defaults) {
  Config c = default_config();
  EXPECT_EQ(c.output_queue_size, 16384u);
  EXPECT_TRUE(c.dedupe.enabled);
  EXPECT_EQ(c.dedupe.window_seconds, 60u);
  EXPECT_EQ(c.syslog.url, "");
  EXPECT_EQ(c.syslog.ca_file, "");
  EXPECT_EQ(c.syslog.cert_file, "");
  EXPECT_EQ(c.syslog.key_file, "");
  EXPECT_TRUE(c.syslog.tls_verify);
  EXPECT_EQ(c.syslog.facility, "local0");
  EXPECT_EQ(c.syslog.queue_size, 10000u);
  expect_valid(c);
}

TEST(OutputConfig, StructDefaultsAgreeWithTheEmbeddedDocument) {
  expect_same_outputs(Config{}, default_config());
}

TEST(OutputConfig, CliDefaults) {
  CliRequest r = parse_ok({"run"});
  expect_same_outputs(r.config, default_config());
}

// ---------------------------------------------------------------------------
// The config file

TEST(OutputConfig, EveryNewKeyApplied) {
  Config c = apply_ok(R"({"output": {
      "queue_size": 2048,
      "syslog": {"url": "tls://siem.example.com:6514", "ca_file": "/etc/ca.pem",
                 "cert_file": "/etc/client.pem", "key_file": "/etc/client.key",
                 "tls_verify": false, "facility": "authpriv", "queue_size": 500},
      "dedupe": {"enabled": false, "window_seconds": 300}}})");
  EXPECT_EQ(c.output_queue_size, 2048u);
  EXPECT_EQ(c.syslog.url, "tls://siem.example.com:6514");
  EXPECT_EQ(c.syslog.ca_file, "/etc/ca.pem");
  EXPECT_EQ(c.syslog.cert_file, "/etc/client.pem");
  EXPECT_EQ(c.syslog.key_file, "/etc/client.key");
  EXPECT_FALSE(c.syslog.tls_verify);
  EXPECT_EQ(c.syslog.facility, "authpriv");
  EXPECT_EQ(c.syslog.queue_size, 500u);
  EXPECT_FALSE(c.dedupe.enabled);
  EXPECT_EQ(c.dedupe.window_seconds, 300u);
  expect_valid(c);
}

TEST(OutputConfig, KeysNotGivenKeepTheirValues) {
  Config c = apply_ok(R"({"output": {"syslog": {"facility": "local3"}, "dedupe": {}}})");
  Config d = default_config();
  EXPECT_EQ(c.syslog.facility, "local3");
  EXPECT_EQ(c.syslog.url, d.syslog.url);
  EXPECT_EQ(c.syslog.queue_size, d.syslog.queue_size);
  EXPECT_EQ(c.syslog.tls_verify, d.syslog.tls_verify);
  EXPECT_EQ(c.dedupe.enabled, d.dedupe.enabled);
  EXPECT_EQ(c.dedupe.window_seconds, d.dedupe.window_seconds);
  EXPECT_EQ(c.output_queue_size, d.output_queue_size);
}

TEST(OutputConfig, WrongTypesNameTheKey) {
  struct Case {
    const char *text;
    const char *key;
    const char *what;
  };
  for (const Case &c : {
           Case{R"({"output": {"queue_size": "big"}})", "'output.queue_size'", "whole number"},
           Case{R"({"output": {"queue_size": -1}})", "'output.queue_size'", "-1"},
           Case{R"({"output": {"queue_size": 1.5}})", "'output.queue_size'", "1.5"},
           Case{R"({"output": {"syslog": "udp://c:514"}})", "'output.syslog'", "object"},
           Case{R"({"output": {"syslog": {"url": 514}}})", "'output.syslog.url'", "string"},
           Case{R"({"output": {"syslog": {"ca_file": null}}})", "'output.syslog.ca_file'",
                "string"},
           Case{R"({"output": {"syslog": {"cert_file": []}}})", "'output.syslog.cert_file'",
                "string"},
           Case{R"({"output": {"syslog": {"key_file": {}}}})", "'output.syslog.key_file'",
                "string"},
           Case{R"({"output": {"syslog": {"facility": 16}}})", "'output.syslog.facility'",
                "string"},
           Case{R"({"output": {"syslog": {"tls_verify": "no"}}})", "'output.syslog.tls_verify'",
                "true or false"},
           Case{R"({"output": {"syslog": {"queue_size": "10"}}})", "'output.syslog.queue_size'",
                "whole number"},
           Case{R"({"output": {"dedupe": true}})", "'output.dedupe'", "object"},
           Case{R"({"output": {"dedupe": {"enabled": 1}}})", "'output.dedupe.enabled'",
                "true or false"},
           Case{R"({"output": {"dedupe": {"window_seconds": "60"}}})",
                "'output.dedupe.window_seconds'", "seconds"},
           Case{R"({"output": {"dedupe": {"window_seconds": -5}}})",
                "'output.dedupe.window_seconds'", "-5"},
       }) {
    std::string message = apply_error(c.text);
    EXPECT_HAS(message, c.key);
    EXPECT_HAS(message, c.what);
  }
}

TEST(OutputConfig, UnknownKeysAreNamedWithWhatIsAllowed) {
  std::string message = apply_error(R"({"output": {"syslog": {"port": 514}}})");
  EXPECT_EQ(message, "config key 'output.syslog.port' is unknown (allowed here: url, ca_file, "
                     "cert_file, key_file, tls_verify, facility, queue_size)");
  message = apply_error(R"({"output": {"dedupe": {"window": 60}}})");
  EXPECT_EQ(message,
            "config key 'output.dedupe.window' is unknown (allowed here: enabled, window_seconds)");
  message = apply_error(R"({"output": {"queue": 100}})");
  EXPECT_HAS(message, "'output.queue'");
  EXPECT_HAS(message, "queue_size, syslog, dedupe");
}

TEST(OutputConfig, NumbersBeyond32BitsAreRefusedNotWrapped) {
  EXPECT_HAS(apply_error(R"({"output": {"queue_size": 4294967312}})"), "'output.queue_size'");
  EXPECT_HAS(apply_error(R"({"output": {"syslog": {"queue_size": 4294967297}}})"),
             "'output.syslog.queue_size'");
  EXPECT_HAS(apply_error(R"({"output": {"dedupe": {"window_seconds": 4294967356}}})"),
             "'output.dedupe.window_seconds'");
}

// ---------------------------------------------------------------------------
// Validation

TEST(OutputConfig, QueueSizeRange) {
  for (uint32_t bad : {0u, 63u, 1'000'001u}) {
    Config c = default_config();
    c.output_queue_size = bad;
    std::string message = validate_error(c);
    EXPECT_HAS(message, "'output.queue_size'");
    EXPECT_HAS(message, std::to_string(bad) + " is not from 64 to 1000000");
  }
  for (uint32_t good : {64u, 16384u, 1'000'000u}) {
    Config c = default_config();
    c.output_queue_size = good;
    expect_valid(c);
  }
}

TEST(OutputConfig, DedupeWindowRange) {
  for (uint32_t bad : {0u, 86'401u}) {
    Config c = default_config();
    c.dedupe.window_seconds = bad;
    std::string message = validate_error(c);
    EXPECT_HAS(message, "'output.dedupe.window_seconds'");
    EXPECT_HAS(message, std::to_string(bad) + " is not from 1 to 86400");
  }
  for (uint32_t good : {1u, 60u, 86'400u}) {
    Config c = default_config();
    c.dedupe.window_seconds = good;
    expect_valid(c);
  }
}

TEST(OutputConfig, SyslogQueueSizeRange) {
  for (uint32_t bad : {0u, 1'000'001u}) {
    Config c = default_config();
    c.syslog.queue_size = bad;
    std::string message = validate_error(c);
    EXPECT_HAS(message, "'output.syslog.queue_size'");
    EXPECT_HAS(message, std::to_string(bad) + " is not from 1 to 1000000");
  }
  for (uint32_t good : {1u, 10'000u, 1'000'000u}) {
    Config c = default_config();
    c.syslog.queue_size = good;
    expect_valid(c);
  }
}

TEST(OutputConfig, RangeErrorsFromAConfigFileApplyThenFailValidation) {
  Config c = apply_ok(R"({"output": {"queue_size": 10, "dedupe": {"window_seconds": 0}}})");
  EXPECT_EQ(c.output_queue_size, 10u);
  EXPECT_HAS(validate_error(c), "'output.queue_size'");
}

TEST(OutputConfig, SyslogUrls) {
  for (const char *good : {"udp://10.0.0.5", "udp://collector:5514", "tcp://[::1]:514",
                           "tls://siem.example.com:6514", "tls://siem.example.com"}) {
    Config c = default_config();
    c.syslog.url = good;
    auto status = validate_config(c);
    EXPECT_TRUE(status.ok()) << good << ": " << status.error().message;
  }
  for (const char *bad : {"syslog.example.com:514", "http://c:514", "udp://", "tcp://c:99999"}) {
    Config c = default_config();
    c.syslog.url = bad;
    EXPECT_HAS(validate_error(c), "'output.syslog.url'");
  }
}

TEST(OutputConfig, TlsFilesNeedATlsUrl) {
  for (const char *url : {"tcp://c:514", "udp://c:514"}) {
    for (int which = 0; which < 3; ++which) {
      Config c = default_config();
      c.syslog.url = url;
      (which == 0   ? c.syslog.ca_file
       : which == 1 ? c.syslog.cert_file
                    : c.syslog.key_file) = "/etc/x.pem";
      std::string message = validate_error(c);
      EXPECT_HAS(message, "'output.syslog.url'");
      EXPECT_HAS(message, std::string("'") + url + "' is not TLS");
    }
  }
  Config tls = default_config();
  tls.syslog.url = "tls://c:6514";
  tls.syslog.ca_file = tls.syslog.cert_file = tls.syslog.key_file = "/etc/x.pem";
  expect_valid(tls);
}

TEST(OutputConfig, Facilities) {
  for (const char *good : {"kern", "user", "daemon", "auth", "authpriv", "local0", "local7"}) {
    Config c = default_config();
    c.syslog.facility = good;
    auto status = validate_config(c);
    EXPECT_TRUE(status.ok()) << good << ": " << status.error().message;
  }
  for (const char *bad : {"local8", "LOCAL0", "", "16"}) {
    Config c = default_config();
    c.syslog.facility = bad;
    std::string message = validate_error(c);
    EXPECT_HAS(message, "'output.syslog.facility'");
    EXPECT_HAS(message, std::string("'") + bad + "' is not a syslog facility");
  }
}

// ---------------------------------------------------------------------------
// Flags

TEST(OutputFlags, EverySyslogFlag) {
  CliRequest r =
      parse_ok({"run", "--syslog", "tls://siem:6514", "--syslog-ca-file", "/ca.pem",
                "--syslog-cert-file", "/c.pem", "--syslog-key-file", "/k.pem", "--syslog-facility",
                "auth", "--syslog-queue-size", "250", "--syslog-insecure-skip-verify"});
  EXPECT_EQ(r.config.syslog.url, "tls://siem:6514");
  EXPECT_EQ(r.config.syslog.ca_file, "/ca.pem");
  EXPECT_EQ(r.config.syslog.cert_file, "/c.pem");
  EXPECT_EQ(r.config.syslog.key_file, "/k.pem");
  EXPECT_EQ(r.config.syslog.facility, "auth");
  EXPECT_EQ(r.config.syslog.queue_size, 250u);
  EXPECT_FALSE(r.config.syslog.tls_verify);
  EXPECT_TRUE(r.config.stdout_enabled);
}

TEST(OutputFlags, EqualsForm) {
  CliRequest r = parse_ok({"run", "--syslog=udp://c:514", "--syslog-facility=local5",
                           "--output-queue-size=4096", "--dedupe-window-seconds=10"});
  EXPECT_EQ(r.config.syslog.url, "udp://c:514");
  EXPECT_EQ(r.config.syslog.facility, "local5");
  EXPECT_EQ(r.config.output_queue_size, 4096u);
  EXPECT_EQ(r.config.dedupe.window_seconds, 10u);
}

TEST(OutputFlags, DedupeAndQueueFlags) {
  CliRequest r = parse_ok(
      {"run", "--no-dedupe", "--dedupe-window-seconds", "120", "--output-queue-size", "64"});
  EXPECT_FALSE(r.config.dedupe.enabled);
  EXPECT_EQ(r.config.dedupe.window_seconds, 120u);
  EXPECT_EQ(r.config.output_queue_size, 64u);
}

TEST(OutputFlags, SwitchesTakeNoValue) {
  EXPECT_HAS(parse_error({"run", "--no-dedupe=yes"}), "--no-dedupe takes no value");
  EXPECT_HAS(parse_error({"run", "--syslog-insecure-skip-verify=true"}),
             "--syslog-insecure-skip-verify takes no value");
}

TEST(OutputFlags, ValueFlagsNeedTheirValue) {
  for (const char *flag : {"--syslog", "--syslog-ca-file", "--syslog-cert-file",
                           "--syslog-key-file", "--syslog-facility", "--syslog-queue-size",
                           "--dedupe-window-seconds", "--output-queue-size"})
    EXPECT_HAS(parse_error({"run", flag}), std::string(flag) + " needs a value");
}

TEST(OutputFlags, NumbersAreCheckedAndNamed) {
  EXPECT_EQ(parse_error({"run", "--output-queue-size", "many"}),
            "--output-queue-size 'many' is not a whole number from 0 to 1000000");
  EXPECT_EQ(parse_error({"run", "--syslog-queue-size", "-1"}),
            "--syslog-queue-size '-1' is not a whole number from 0 to 1000000");
  EXPECT_EQ(parse_error({"run", "--dedupe-window-seconds", "60s"}),
            "--dedupe-window-seconds '60s' is not a whole number from 0 to 1000000");
  EXPECT_EQ(parse_error({"run", "--output-queue-size", "2000000"}),
            "--output-queue-size '2000000' is not a whole number from 0 to 1000000");
  // In the flag's range but not the setting's: validation names the key.
  EXPECT_HAS(parse_error({"run", "--output-queue-size", "10"}), "'output.queue_size'");
  EXPECT_HAS(parse_error({"run", "--dedupe-window-seconds", "0"}),
             "'output.dedupe.window_seconds'");
  EXPECT_HAS(parse_error({"run", "--dedupe-window-seconds", "90000"}),
             "'output.dedupe.window_seconds'");
  EXPECT_HAS(parse_error({"run", "--syslog-queue-size", "0"}), "'output.syslog.queue_size'");
}

TEST(OutputFlags, TlsFileWithAPlainUrlIsAnError) {
  std::string message =
      parse_error({"run", "--syslog", "tcp://c:514", "--syslog-ca-file", "/etc/ca.pem"});
  EXPECT_HAS(message, "'output.syslog.url'");
  EXPECT_HAS(message, "'tcp://c:514' is not TLS");
  EXPECT_HAS(parse_error({"run", "--syslog", "udp://c", "--syslog-cert-file", "/c.pem"}),
             "is not TLS");
  EXPECT_HAS(parse_error({"run", "--syslog", "tcp://c", "--syslog-key-file", "/k.pem"}),
             "is not TLS");
}

TEST(OutputFlags, BadFacilityIsAnError) {
  std::string message =
      parse_error({"run", "--syslog", "udp://c:514", "--syslog-facility", "mail2"});
  EXPECT_HAS(message, "'output.syslog.facility'");
  EXPECT_HAS(message, "'mail2' is not a syslog facility");
}

TEST(OutputFlags, BadSyslogUrlIsAnError) {
  EXPECT_HAS(parse_error({"run", "--syslog", "collector:514"}), "'output.syslog.url'");
}

TEST(OutputFlags, SyslogOffTurnsOffAConfiguredCollector) {
  TempFile file(R"({"output": {"syslog": {"url": "udp://c:514", "facility": "local2"}}})");
  CliRequest with = parse_ok({"run", "--config", file.path()});
  EXPECT_EQ(with.config.syslog.url, "udp://c:514");
  CliRequest off = parse_ok({"run", "--config", file.path(), "--syslog", "off"});
  EXPECT_EQ(off.config.syslog.url, "");
  EXPECT_EQ(off.config.syslog.facility, "local2");
  CliRequest off_eq = parse_ok({"run", "--syslog=off", "--config", file.path()});
  EXPECT_EQ(off_eq.config.syslog.url, "");
}

TEST(OutputFlags, FlagsWinOverTheConfigFileWhateverTheOrder) {
  TempFile file(R"({"output": {"queue_size": 1024,
      "syslog": {"url": "udp://a:514", "facility": "local1", "queue_size": 77},
      "dedupe": {"enabled": true, "window_seconds": 30}}})");
  CliRequest r = parse_ok({"run", "--syslog", "tcp://b:514", "--no-dedupe", "--config", file.path(),
                           "--syslog-queue-size", "88", "--output-queue-size", "4096"});
  EXPECT_EQ(r.config.syslog.url, "tcp://b:514");
  EXPECT_EQ(r.config.syslog.facility, "local1") << "not given as a flag: the file's";
  EXPECT_EQ(r.config.syslog.queue_size, 88u);
  EXPECT_FALSE(r.config.dedupe.enabled);
  EXPECT_EQ(r.config.dedupe.window_seconds, 30u);
  EXPECT_EQ(r.config.output_queue_size, 4096u);
}

TEST(OutputFlags, ConfigFileErrorsInTheNewKeysNameTheFileAndKey) {
  TempFile file(R"({"output": {"syslog": {"tls_verify": "off"}}})");
  std::string message = parse_error({"run", "--config", file.path()});
  EXPECT_HAS(message, file.path());
  EXPECT_HAS(message, "'output.syslog.tls_verify'");
}

TEST(OutputFlags, NoStdoutWithOnlySyslogIsAccepted) {
  CliRequest r = parse_ok({"run", "--no-stdout", "--syslog", "udp://c:514"});
  EXPECT_FALSE(r.config.stdout_enabled);
  EXPECT_EQ(r.config.syslog.url, "udp://c:514");
  EXPECT_EQ(r.config.log_file, "");

  TempFile file(R"({"output": {"stdout": false, "syslog": {"url": "tls://c:6514"}}})");
  CliRequest from_file = parse_ok({"run", "--config", file.path()});
  EXPECT_FALSE(from_file.config.stdout_enabled);
}

TEST(OutputFlags, NoStdoutAloneStillErrs) {
  std::string message = parse_error({"run", "--no-stdout"});
  EXPECT_EQ(message, "--no-stdout without --log-file or --syslog leaves no output; give "
                     "--log-file PATH or --syslog URL");
  // --syslog off leaves nothing either.
  EXPECT_HAS(parse_error({"run", "--no-stdout", "--syslog", "off"}), "leaves no output");
  TempFile file(R"({"output": {"syslog": {"url": "udp://c:514"}}})");
  EXPECT_HAS(parse_error({"run", "--config", file.path(), "--no-stdout", "--syslog", "off"}),
             "leaves no output");
}

TEST(OutputFlags, NotOptionsOfVersionOrHelp) {
  EXPECT_HAS(parse_error({"version", "--syslog", "udp://c"}), "not an option of 'version'");
  EXPECT_HAS(parse_error({"help", "--no-dedupe"}), "not an option of 'help'");
}

TEST(OutputFlags, CheckTakesTheFlagsToo) {
  CliRequest r = parse_ok({"check", "--syslog", "udp://c:514", "--no-dedupe"});
  EXPECT_EQ(r.command, Command::check);
  EXPECT_EQ(r.config.syslog.url, "udp://c:514");
  EXPECT_FALSE(r.config.dedupe.enabled);
}

TEST(OutputFlags, UsageMentionsEveryNewFlag) {
  std::string usage = usage_text();
  for (const char *flag :
       {"--syslog URL", "--syslog-ca-file", "--syslog-cert-file", "--syslog-key-file",
        "--syslog-insecure-skip-verify", "--syslog-facility", "--syslog-queue-size", "--no-dedupe",
        "--dedupe-window-seconds", "--output-queue-size"})
    EXPECT_HAS(usage, flag);
}

// ---------------------------------------------------------------------------
// The effective config as JSON

TEST(OutputConfigJson, RoundTripsTheNewKeys) {
  Config c = default_config();
  c.stdout_enabled = false;
  c.output_queue_size = 999;
  c.syslog.url = "tls://[2001:db8::1]:6514";
  c.syslog.ca_file = "/etc/shimwatch/ca.pem";
  c.syslog.cert_file = "/etc/shimwatch/client.pem";
  c.syslog.key_file = "/etc/shimwatch/client.key";
  c.syslog.tls_verify = false;
  c.syslog.facility = "local6";
  c.syslog.queue_size = 123456;
  c.dedupe.enabled = false;
  c.dedupe.window_seconds = 86400;
  expect_valid(c);

  std::string text = config_to_json(c);
  auto applied = apply_config_json(text, default_config());
  ASSERT_TRUE(applied.ok()) << applied.error().message << "\n" << text;
  expect_same_outputs(*applied, c);
  // Onto a base that differs in every new key, too.
  Config other = c;
  other.output_queue_size = 70;
  other.syslog = SyslogConfig{"udp://x", "a", "b", "c", true, "kern", 1};
  other.dedupe = DedupeConfig{true, 5};
  auto again = apply_config_json(text, other);
  ASSERT_TRUE(again.ok()) << again.error().message;
  expect_same_outputs(*again, c);

  // And the defaults.
  auto defaults = apply_config_json(config_to_json(default_config()), Config{});
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  expect_same_outputs(*defaults, default_config());
}

TEST(OutputConfigJson, KeysAndTypes) {
  Config c = default_config();
  c.syslog.url = "udp://c:514";
  c.syslog.queue_size = 42;
  c.dedupe.window_seconds = 7;
  auto doc = nlohmann::json::parse(config_to_json(c));
  const auto &out = doc["output"];
  EXPECT_EQ(out["queue_size"], 16384);
  EXPECT_EQ(out["syslog"], nlohmann::json({{"url", "udp://c:514"},
                                           {"ca_file", ""},
                                           {"cert_file", ""},
                                           {"key_file", ""},
                                           {"tls_verify", true},
                                           {"facility", "local0"},
                                           {"queue_size", 42}}));
  EXPECT_EQ(out["dedupe"], nlohmann::json({{"enabled", true}, {"window_seconds", 7}}));
}

TEST(OutputConfigJson, PrintConfigShowsTheFlags) {
  CliRequest r = parse_ok({"run", "--print-config", "--syslog", "udp://c:514", "--syslog-facility",
                           "local4", "--no-dedupe", "--output-queue-size", "512"});
  EXPECT_TRUE(r.print_config);
  auto doc = nlohmann::json::parse(config_to_json(r.config));
  EXPECT_EQ(doc["output"]["syslog"]["url"], "udp://c:514");
  EXPECT_EQ(doc["output"]["syslog"]["facility"], "local4");
  EXPECT_EQ(doc["output"]["dedupe"]["enabled"], false);
  EXPECT_EQ(doc["output"]["queue_size"], 512);
}

} // namespace
