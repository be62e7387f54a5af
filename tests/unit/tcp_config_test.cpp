// The Docker Engine API over TCP: its config keys (watch.tcp_ports,
// watch.tcp_destinations), its flags (--watch-tcp-port,
// --watch-tcp-destinations), and how its events are written.
#include <gtest/gtest.h>

#include "test_files.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "shimwatch/config.hpp"
#include "shimwatch/sink.hpp"

using json = nlohmann::json;
using shimwatch::Action;
using shimwatch::apply_config_json;
using shimwatch::CliRequest;
using shimwatch::Config;
using shimwatch::config_to_json;
using shimwatch::default_config;
using shimwatch::Event;
using shimwatch::HostInfo;
using shimwatch::parse_cli;
using shimwatch::validate_config;
using ports = std::vector<uint16_t>;
using strings = std::vector<std::string>;

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

namespace {

using swtest::TempFile;

Config apply_ok(const std::string &text, Config base = default_config()) {
  auto applied = apply_config_json(text, std::move(base));
  if (!applied)
    ADD_FAILURE() << text << ": " << applied.error().message;
  return applied ? *applied : Config{};
}

std::string apply_error(const std::string &text) {
  auto applied = apply_config_json(text, default_config());
  if (applied) {
    ADD_FAILURE() << text << " was accepted";
    return "";
  }
  return applied.error().message;
}

CliRequest parse_ok(const strings &args) {
  auto parsed = parse_cli(args);
  if (!parsed) {
    ADD_FAILURE() << parsed.error().message;
    return {};
  }
  return *parsed;
}

std::string parse_error(const strings &args) {
  auto parsed = parse_cli(args);
  if (parsed) {
    std::string joined;
    for (const auto &a : args)
      joined += a + " ";
    ADD_FAILURE() << joined << "was accepted";
    return "";
  }
  return parsed.error().message;
}

// {"watch": {"tcp_ports": [first, first+1, ...]}}, count ports.
std::string ports_document(int first, int count) {
  json list = json::array();
  for (int i = 0; i < count; ++i)
    list.push_back(first + i);
  return json{{"watch", {{"tcp_ports", list}}}}.dump();
}

Event tcp_event(const std::string &address, uint16_t port, int error) {
  Event e;
  e.action = Action::docker_api_tcp_connect;
  e.timestamp_ns = 1'700'000'000'123'456'789;
  e.process.pid = 4242;
  e.process.tid = 4242;
  e.process.ppid = 17;
  e.process.name = "docker";
  e.process.parent_name = "bash";
  e.process.executable = "/usr/bin/docker";
  e.process.args = {"docker", "ps"};
  e.tcp_address = address;
  e.tcp_port = port;
  e.error = error;
  return e;
}

} // namespace

// ---- defaults ----

TEST(TcpConfig, DefaultsWatchBothEnginePortsOnLocalDestinations) {
  Config c = default_config();
  EXPECT_EQ(c.watch_tcp_ports, (ports{2375, 2376}));
  EXPECT_FALSE(c.watch_tcp_any_destination);
  EXPECT_TRUE(validate_config(c).ok());

  CliRequest r = parse_ok({"run"});
  EXPECT_EQ(r.config.watch_tcp_ports, (ports{2375, 2376}));
  EXPECT_FALSE(r.config.watch_tcp_any_destination);
}

TEST(TcpConfig, DefaultsInTheEffectiveConfig) {
  json doc = json::parse(config_to_json(default_config()));
  EXPECT_EQ(doc["watch"]["tcp_ports"], json::array({2375, 2376}));
  EXPECT_EQ(doc["watch"]["tcp_destinations"], "local");
}

// ---- config file keys ----

TEST(TcpConfig, TcpPortsFromAFileReplaceTheDefaults) {
  Config c = apply_ok(R"({"watch": {"tcp_ports": [8080, 2375]}})");
  EXPECT_EQ(c.watch_tcp_ports, (ports{8080, 2375}));
  EXPECT_FALSE(c.watch_tcp_any_destination);
  // The other watch keys keep their defaults.
  EXPECT_EQ(c.watch_exec, default_config().watch_exec);
  EXPECT_EQ(c.watch_sockets, default_config().watch_sockets);
}

TEST(TcpConfig, TcpPortsBoundsAreAccepted) {
  EXPECT_EQ(apply_ok(R"({"watch": {"tcp_ports": [1, 65535]}})").watch_tcp_ports, (ports{1, 65535}));
}

TEST(TcpConfig, AnEmptyTcpPortsListTurnsTcpOff) {
  Config c = apply_ok(R"({"watch": {"tcp_ports": []}})");
  EXPECT_TRUE(c.watch_tcp_ports.empty());
  EXPECT_TRUE(validate_config(c).ok());
}

TEST(TcpConfig, TcpDestinationsAnyAndLocal) {
  Config any = apply_ok(R"({"watch": {"tcp_destinations": "any"}})");
  EXPECT_TRUE(any.watch_tcp_any_destination);
  EXPECT_EQ(any.watch_tcp_ports, (ports{2375, 2376}));
  Config local = apply_ok(R"({"watch": {"tcp_destinations": "local"}})", any);
  EXPECT_FALSE(local.watch_tcp_any_destination);
}

TEST(TcpConfig, BadTcpPortsNameTheKeyAndTheEntry) {
  struct Case {
    const char *document;
    const char *key;
  } cases[] = {
      {R"({"watch": {"tcp_ports": [0]}})", "watch.tcp_ports[0]"},
      {R"({"watch": {"tcp_ports": [2375, 65536]}})", "watch.tcp_ports[1]"},
      {R"({"watch": {"tcp_ports": ["2375"]}})", "watch.tcp_ports[0]"},
      {R"({"watch": {"tcp_ports": [-1]}})", "watch.tcp_ports[0]"},
      {R"({"watch": {"tcp_ports": [2375.5]}})", "watch.tcp_ports[0]"},
      {R"({"watch": {"tcp_ports": [true]}})", "watch.tcp_ports[0]"},
      {R"({"watch": {"tcp_ports": [null]}})", "watch.tcp_ports[0]"},
      {R"({"watch": {"tcp_ports": 2375}})", "watch.tcp_ports"},
      {R"({"watch": {"tcp_ports": "2375,2376"}})", "watch.tcp_ports"},
      {R"({"watch": {"tcp_ports": {"port": 2375}}})", "watch.tcp_ports"},
      {R"({"watch": {"tcp_ports": null}})", "watch.tcp_ports"},
  };
  for (const auto &c : cases) {
    std::string message = apply_error(c.document);
    EXPECT_HAS(message, std::string("'") + c.key + "'");
  }
  // The bad value is shown.
  EXPECT_HAS(apply_error(R"({"watch": {"tcp_ports": [65536]}})"), "65536");
  EXPECT_HAS(apply_error(R"({"watch": {"tcp_ports": ["2375"]}})"), "\"2375\"");
}

TEST(TcpConfig, BadTcpDestinationsNameTheKey) {
  for (const char *document :
       {R"({"watch": {"tcp_destinations": "remote"}})", R"({"watch": {"tcp_destinations": ""}})",
        R"({"watch": {"tcp_destinations": 1}})", R"({"watch": {"tcp_destinations": ["any"]}})",
        R"({"watch": {"tcp_destinations": true}})"}) {
    std::string message = apply_error(document);
    EXPECT_HAS(message, "'watch.tcp_destinations'");
  }
  std::string message = apply_error(R"({"watch": {"tcp_destinations": "remote"}})");
  EXPECT_HAS(message, "remote");
  EXPECT_HAS(message, "local");
  EXPECT_HAS(message, "any");
}

TEST(TcpConfig, AtMost64Ports) {
  Config ok = apply_ok(ports_document(10000, 64));
  ASSERT_EQ(ok.watch_tcp_ports.size(), 64u);
  EXPECT_TRUE(validate_config(ok).ok());

  Config many = apply_ok(ports_document(10000, 65));
  ASSERT_EQ(many.watch_tcp_ports.size(), 65u);
  auto valid = validate_config(many);
  ASSERT_FALSE(valid.ok());
  EXPECT_HAS(valid.error().message, "'watch.tcp_ports'");
  EXPECT_HAS(valid.error().message, "65");
  EXPECT_HAS(valid.error().message, "64");
}

TEST(TcpConfig, TooManyPortsInAConfigFileFailTheCommandLine) {
  TempFile file(ports_document(10000, 65));
  std::string message = parse_error({"run", "--config", file.path()});
  EXPECT_HAS(message, "'watch.tcp_ports'");
}

TEST(TcpConfig, BadPortInAConfigFileNamesTheFileAndTheKey) {
  TempFile file(R"({"watch": {"tcp_ports": [0]}})");
  std::string message = parse_error({"run", "--config", file.path()});
  EXPECT_HAS(message, file.path());
  EXPECT_HAS(message, "watch.tcp_ports[0]");
}

// ---- flags ----

TEST(TcpConfig, WatchTcpPortFlagAddsToTheList) {
  CliRequest r = parse_ok({"run", "--watch-tcp-port", "8080", "--watch-tcp-port=9090"});
  EXPECT_EQ(r.config.watch_tcp_ports, (ports{2375, 2376, 8080, 9090}));
}

TEST(TcpConfig, WatchTcpPortFlagAddsNoDuplicates) {
  CliRequest r = parse_ok({"run", "--watch-tcp-port", "2375", "--watch-tcp-port", "8080",
                           "--watch-tcp-port", "8080", "--watch-tcp-port", "2376"});
  EXPECT_EQ(r.config.watch_tcp_ports, (ports{2375, 2376, 8080}));
}

TEST(TcpConfig, WatchTcpPortFlagAddsToTheConfigFilesPorts) {
  TempFile file(R"({"watch": {"tcp_ports": [8080]}})");
  CliRequest r = parse_ok({"run", "--config", file.path(), "--watch-tcp-port", "9090"});
  EXPECT_EQ(r.config.watch_tcp_ports, (ports{8080, 9090}));
}

TEST(TcpConfig, WatchTcpPortFlagBounds) {
  EXPECT_EQ(parse_ok({"run", "--watch-tcp-port", "1"}).config.watch_tcp_ports.back(), 1);
  EXPECT_EQ(parse_ok({"run", "--watch-tcp-port", "65535"}).config.watch_tcp_ports.back(), 65535);
}

TEST(TcpConfig, WatchTcpPortFlagRejectsWhatIsNoPort) {
  for (const char *bad :
       {"0", "70000", "65536", "abc", "", "-1", "+80", " 80", "80 ", "80a", "0x50", "4294967297"}) {
    std::string message = parse_error({"run", "--watch-tcp-port", bad});
    EXPECT_HAS(message, "--watch-tcp-port");
    EXPECT_HAS(message, std::string("'") + bad + "'");
  }
}

TEST(TcpConfig, WatchTcpPortFlagNeedsAValue) {
  EXPECT_HAS(parse_error({"run", "--watch-tcp-port"}), "--watch-tcp-port");
}

TEST(TcpConfig, TooManyPortsFromFlagsNameTheKey) {
  strings args = {"run"};
  for (int port = 20000; port < 20063; ++port) // 2 defaults + 63 = 65
    args.insert(args.end(), {"--watch-tcp-port", std::to_string(port)});
  std::string message = parse_error(args);
  EXPECT_HAS(message, "'watch.tcp_ports'");

  args.resize(args.size() - 2); // 64: allowed
  EXPECT_EQ(parse_ok(args).config.watch_tcp_ports.size(), 64u);
}

TEST(TcpConfig, WatchTcpDestinationsFlag) {
  EXPECT_TRUE(
      parse_ok({"run", "--watch-tcp-destinations", "any"}).config.watch_tcp_any_destination);
  EXPECT_FALSE(
      parse_ok({"run", "--watch-tcp-destinations", "local"}).config.watch_tcp_any_destination);
  EXPECT_TRUE(parse_ok({"run", "--watch-tcp-destinations=any"}).config.watch_tcp_any_destination);
}

TEST(TcpConfig, WatchTcpDestinationsFlagOverridesTheFile) {
  TempFile any(R"({"watch": {"tcp_destinations": "any"}})");
  EXPECT_TRUE(parse_ok({"run", "--config", any.path()}).config.watch_tcp_any_destination);
  EXPECT_FALSE(parse_ok({"run", "--config", any.path(), "--watch-tcp-destinations", "local"})
                   .config.watch_tcp_any_destination);
  TempFile local(R"({"watch": {"tcp_destinations": "local"}})");
  EXPECT_TRUE(parse_ok({"run", "--config", local.path(), "--watch-tcp-destinations", "any"})
                  .config.watch_tcp_any_destination);
}

TEST(TcpConfig, WatchTcpDestinationsFlagRejectsOtherValues) {
  for (const char *bad : {"other", "remote", "", "ANY"}) {
    std::string message = parse_error({"run", "--watch-tcp-destinations", bad});
    EXPECT_HAS(message, "--watch-tcp-destinations");
    EXPECT_HAS(message, std::string("'") + bad + "'");
  }
}

// ---- effective config ----

TEST(TcpConfig, ConfigToJsonRoundTrips) {
  Config c = default_config();
  c.watch_tcp_ports = {8080, 2375, 65535};
  c.watch_tcp_any_destination = true;
  json doc = json::parse(config_to_json(c));
  EXPECT_EQ(doc["watch"]["tcp_ports"], json::array({8080, 2375, 65535}));
  EXPECT_EQ(doc["watch"]["tcp_destinations"], "any");

  // Applied on a base that differs in both keys.
  Config base = default_config();
  base.watch_tcp_ports = {1};
  base.watch_tcp_any_destination = false;
  Config back = apply_ok(config_to_json(c), base);
  EXPECT_EQ(back.watch_tcp_ports, (ports{8080, 2375, 65535}));
  EXPECT_TRUE(back.watch_tcp_any_destination);
  EXPECT_EQ(config_to_json(back), config_to_json(c));
}

TEST(TcpConfig, ConfigToJsonRoundTripsNoPortsAndLocal) {
  Config c = default_config();
  c.watch_tcp_ports.clear();
  c.watch_tcp_any_destination = false;
  json doc = json::parse(config_to_json(c));
  EXPECT_EQ(doc["watch"]["tcp_ports"], json::array());
  EXPECT_EQ(doc["watch"]["tcp_destinations"], "local");
  Config base = default_config();
  base.watch_tcp_any_destination = true;
  Config back = apply_ok(config_to_json(c), base);
  EXPECT_TRUE(back.watch_tcp_ports.empty());
  EXPECT_FALSE(back.watch_tcp_any_destination);
}

TEST(TcpConfig, PrintedConfigOfFlagsHasThePorts) {
  CliRequest r = parse_ok({"run", "--watch-tcp-port", "8080", "--watch-tcp-destinations", "any"});
  json doc = json::parse(config_to_json(r.config));
  EXPECT_EQ(doc["watch"]["tcp_ports"], json::array({2375, 2376, 8080}));
  EXPECT_EQ(doc["watch"]["tcp_destinations"], "any");
}

// A config that only watches the Docker API over TCP (no exec names, no
// unix sockets) does watch something.
TEST(TcpConfig, OnlyTcpPortsIsAValidConfig) {
  Config c = apply_ok(
      R"({"watch": {"exec": [], "sockets": [], "runtime_sockets": [], "exec_paths": [], "config_paths": [], "service_control": {"enabled": false}, "tcp_ports": [2375]}})");
  auto valid = validate_config(c);
  EXPECT_TRUE(valid.ok()) << valid.error().message;
  c.watch_tcp_ports.clear();
  auto nothing = validate_config(c);
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.error().message.find("watches nothing"), std::string::npos);
}

// ---- events ----

TEST(TcpConfig, JsonOfARefusedIpv6Connect) {
  json j = json::parse(shimwatch::encode_json(tcp_event("::1", 2376, ECONNREFUSED), HostInfo{"n"}));
  EXPECT_EQ(j["event"]["action"], "docker-api-tcp-connect");
  EXPECT_EQ(j["event"]["category"], json::array({"network"}));
  EXPECT_EQ(j["event"]["type"], json::array({"connection"}));
  EXPECT_EQ(j["event"]["outcome"], "failure");
  EXPECT_EQ(j["error"]["code"], "ECONNREFUSED");
  EXPECT_EQ(j["error"]["message"], std::strerror(ECONNREFUSED));
  ASSERT_TRUE(j["destination"]["ip"].is_string());
  EXPECT_EQ(j["destination"]["ip"], "::1");
  ASSERT_TRUE(j["destination"]["port"].is_number_unsigned());
  EXPECT_EQ(j["destination"]["port"], 2376);
  ASSERT_TRUE(j.contains("shimwatch"));
  EXPECT_FALSE(j["shimwatch"].contains("socket")) << j.dump();
  EXPECT_FALSE(j["shimwatch"].contains("exec")) << j.dump();
  EXPECT_FALSE(j["shimwatch"].contains("runtime")) << j.dump();
  EXPECT_EQ(j["process"]["name"], "docker");
}

TEST(TcpConfig, JsonOfASuccessfulIpv4Connect) {
  json j = json::parse(shimwatch::encode_json(tcp_event("127.0.0.1", 2375, 0), HostInfo{"n"}));
  EXPECT_EQ(j["event"]["outcome"], "success");
  EXPECT_FALSE(j.contains("error"));
  EXPECT_EQ(j["destination"], (json{{"ip", "127.0.0.1"}, {"port", 2375}}));
  EXPECT_FALSE(j["shimwatch"].contains("socket"));
}

TEST(TcpConfig, OtherActionsHaveNoDestination) {
  Event e = tcp_event("127.0.0.1", 2375, 0);
  e.action = Action::docker_socket_connect;
  e.socket_path = "/var/run/docker.sock";
  json j = json::parse(shimwatch::encode_json(e, HostInfo{"n"}));
  EXPECT_FALSE(j.contains("destination")) << j.dump();
  EXPECT_EQ(j["shimwatch"]["socket"]["path"], "/var/run/docker.sock");
}

TEST(TcpConfig, TextShowsIpv6InBrackets) {
  std::string row = shimwatch::encode_text(tcp_event("::1", 2376, ECONNREFUSED));
  EXPECT_HAS(row, "tcp://[::1]:2376");
  EXPECT_HAS(row, "ECONNREFUSED");
  EXPECT_HAS(row, "connect");
}

TEST(TcpConfig, TextShowsIpv4WithoutBrackets) {
  std::string row = shimwatch::encode_text(tcp_event("127.0.0.1", 2375, 0));
  EXPECT_HAS(row, "tcp://127.0.0.1:2375");
  EXPECT_EQ(row.find('['), std::string::npos) << row;
  EXPECT_EQ(row.find("ECONNREFUSED"), std::string::npos) << row;
}

TEST(TcpConfig, TextShowsAMappedAddressInBrackets) {
  std::string row = shimwatch::encode_text(tcp_event("::ffff:10.0.0.5", 2375, 0));
  EXPECT_HAS(row, "tcp://[::ffff:10.0.0.5]:2375");
}
