// encode_json(): ECS field names, one line per event, argv bytes that survive.
#include <gtest/gtest.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "shimwatch/sink.hpp"

using json = nlohmann::json;
using shimwatch::Action;
using shimwatch::Event;
using shimwatch::HostInfo;

namespace {

const std::string fffd = "\xEF\xBF\xBD";

// Independent of base64_encode, so the encoder cannot agree with itself.
std::string base64_decode(const std::string &text) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=')
      break;
    auto pos = alphabet.find(c);
    if (pos == std::string::npos)
      throw std::runtime_error(std::string("bad base64 character: ") + c);
    buffer = (buffer << 6) | static_cast<uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

Event exec_event() {
  Event e;
  e.action = Action::docker_cli_exec;
  e.timestamp_ns = 1'700'000'000'123'456'789;
  e.ktime_ns = 42;
  e.process.pid = 4242;
  e.process.tid = 4243;
  e.process.ppid = 17;
  e.process.uid = 1000;
  e.process.gid = 1001;
  e.process.name = "docker";
  e.process.parent_name = "bash";
  e.process.executable = "/usr/bin/docker";
  e.process.args = {"docker", "ps", "-a"};
  e.cgroup_id = 98765;
  e.mnt_ns = 4026531841u;
  e.pid_ns = 4026531836u;
  e.exec_path = "/usr/bin/docker";
  return e;
}

Event connect_event() {
  Event e = exec_event();
  e.action = Action::docker_socket_connect;
  e.exec_path.clear();
  e.process.name = "node-exporter";
  e.process.executable = "/bin/node_exporter";
  e.process.args = {"/bin/node_exporter"};
  e.socket_path = "/var/run/docker.sock";
  return e;
}

const HostInfo host{"node-1"};

json encode(const Event &event) {
  std::string line = shimwatch::encode_json(event, host);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  // Valid JSON, and byte for byte what nlohmann writes for the same members
  // in the same order: no odd escapes or number forms for a parser to trip on.
  EXPECT_EQ(nlohmann::ordered_json::parse(line).dump(), line);
  return json::parse(line);
}

TEST(JsonEncoder, TimestampIsRfc3339UtcMicroseconds) {
  auto ts = encode(exec_event())["@timestamp"].get<std::string>();
  EXPECT_EQ(ts, "2023-11-14T22:13:20.123456Z");
  EXPECT_TRUE(std::regex_match(ts, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)")))
      << ts;
}

TEST(JsonEncoder, ExecEventFields) {
  json j = encode(exec_event());
  EXPECT_EQ(j["event"]["kind"], "event");
  EXPECT_EQ(j["event"]["action"], "docker-cli-exec");
  EXPECT_EQ(j["event"]["outcome"], "success");
  EXPECT_EQ(j["event"]["category"], json::array({"process"}));
  EXPECT_EQ(j["event"]["type"], json::array({"start"}));
  EXPECT_FALSE(j.contains("error"));

  EXPECT_EQ(j["host"]["name"], "node-1");
  const json &p = j["process"];
  EXPECT_EQ(p["pid"], 4242);
  EXPECT_EQ(p["thread"]["id"], 4243);
  EXPECT_EQ(p["name"], "docker");
  EXPECT_EQ(p["executable"], "/usr/bin/docker");
  EXPECT_EQ(p["args"], json::array({"docker", "ps", "-a"}));
  EXPECT_EQ(p["args_count"], 3);
  EXPECT_EQ(p["command_line"], "docker ps -a");
  EXPECT_EQ(p["parent"]["pid"], 17);
  EXPECT_EQ(p["parent"]["name"], "bash");

  // ECS keeps user and group ids as strings.
  ASSERT_TRUE(j["user"]["id"].is_string());
  EXPECT_EQ(j["user"]["id"], "1000");
  ASSERT_TRUE(j["group"]["id"].is_string());
  EXPECT_EQ(j["group"]["id"], "1001");

  const json &sw = j["shimwatch"];
  EXPECT_EQ(sw["cgroup"]["id"], 98765);
  EXPECT_EQ(sw["namespace"]["mnt"], 4026531841u);
  EXPECT_EQ(sw["namespace"]["pid"], 4026531836u);
  EXPECT_EQ(sw["exec"]["path"], "/usr/bin/docker");
  EXPECT_FALSE(sw.contains("socket"));
  EXPECT_FALSE(sw.contains("process"));
  EXPECT_FALSE(sw.contains("invalid_utf8"));
}

TEST(JsonEncoder, ConnectEventFields) {
  json j = encode(connect_event());
  EXPECT_EQ(j["event"]["action"], "docker-socket-connect");
  EXPECT_EQ(j["event"]["outcome"], "success");
  EXPECT_EQ(j["event"]["category"], json::array({"network"}));
  EXPECT_EQ(j["event"]["type"], json::array({"connection"}));
  EXPECT_FALSE(j.contains("error"));
  EXPECT_EQ(j["shimwatch"]["socket"]["path"], "/var/run/docker.sock");
  EXPECT_EQ(j["shimwatch"]["socket"]["abstract"], false);
  EXPECT_FALSE(j["shimwatch"].contains("exec"));
  EXPECT_EQ(j["process"]["name"], "node-exporter");
}

TEST(JsonEncoder, AbstractSocket) {
  Event e = connect_event();
  e.socket_path = "@docker";
  e.socket_abstract = true;
  json j = encode(e);
  EXPECT_EQ(j["shimwatch"]["socket"]["path"], "@docker");
  EXPECT_EQ(j["shimwatch"]["socket"]["abstract"], true);
}

TEST(JsonEncoder, FailedConnectHasErrorCodeAndMessage) {
  Event e = connect_event();
  e.error = ENOENT;
  json j = encode(e);
  EXPECT_EQ(j["event"]["outcome"], "failure");
  ASSERT_TRUE(j.contains("error"));
  EXPECT_EQ(j["error"]["code"], "ENOENT");
  EXPECT_EQ(j["error"]["message"], "No such file or directory");

  e.error = ECONNREFUSED;
  j = encode(e);
  EXPECT_EQ(j["error"]["code"], "ECONNREFUSED");
  EXPECT_EQ(j["error"]["message"], "Connection refused");
}

TEST(JsonEncoder, HostileArgvStaysOneValidLine) {
  Event e = exec_event();
  e.process.args = {
      "docker",      "exec", "a\nb",   "say \"hi\"", "C:\\dir",
      "\x01\x1b[2J", "\xff", "x\x80y", "\xc0\xaf",   "\xed\xa0\x80",
  };
  std::string line = shimwatch::encode_json(e, host);
  ASSERT_EQ(line.find('\n'), std::string::npos) << line;
  ASSERT_EQ(line.find('\r'), std::string::npos) << line;
  ASSERT_TRUE(shimwatch::utf8::valid(line));
  json j = json::parse(line);

  const json &args = j["process"]["args"];
  ASSERT_EQ(args.size(), 10u);
  EXPECT_EQ(args[0], "docker");
  EXPECT_EQ(args[2], "a\nb");
  EXPECT_EQ(args[3], "say \"hi\"");
  EXPECT_EQ(args[4], "C:\\dir");
  EXPECT_EQ(args[5], "\x01\x1b[2J");
  EXPECT_EQ(args[6], fffd);
  EXPECT_EQ(args[7], "x" + fffd + "y");
  EXPECT_EQ(args[8], fffd + fffd);
  EXPECT_EQ(args[9], fffd + fffd + fffd);
  EXPECT_EQ(j["process"]["args_count"], 10);

  EXPECT_EQ(j["shimwatch"]["invalid_utf8"], true);
  std::string raw;
  for (const auto &arg : e.process.args)
    raw += arg + '\0';
  ASSERT_TRUE(j["shimwatch"]["process"]["args_base64"].is_string());
  EXPECT_EQ(base64_decode(j["shimwatch"]["process"]["args_base64"].get<std::string>()), raw);

  auto command_line = j["process"]["command_line"].get<std::string>();
  EXPECT_EQ(command_line.find('\xff'), std::string::npos);
  EXPECT_TRUE(command_line.starts_with("docker exec 'a\nb' 'say \"hi\"' 'C:\\dir' "))
      << command_line;
}

TEST(JsonEncoder, ValidMultibyteUtf8PassesUnchanged) {
  Event e = exec_event();
  e.process.args = {"docker", "run", "--name=ü", "日本", "\xF0\x9F\x90\xB3"};
  std::string line = shimwatch::encode_json(e, host);
  // Written as UTF-8, not as \u escapes.
  EXPECT_NE(line.find("日本"), std::string::npos) << line;
  json j = json::parse(line);
  EXPECT_EQ(j["process"]["args"],
            json::array({"docker", "run", "--name=ü", "日本", "\xF0\x9F\x90\xB3"}));
  EXPECT_FALSE(j["shimwatch"].contains("invalid_utf8"));
  EXPECT_FALSE(j["shimwatch"].contains("process"));
}

TEST(JsonEncoder, InvalidUtf8OutsideArgvSetsFlagWithoutArgsBase64) {
  Event e = connect_event();
  e.socket_path = "/run/\xff.sock";
  e.process.name = "a\xc3";
  json j = encode(e);
  EXPECT_EQ(j["shimwatch"]["socket"]["path"], "/run/" + fffd + ".sock");
  EXPECT_EQ(j["process"]["name"], "a" + fffd);
  EXPECT_EQ(j["shimwatch"]["invalid_utf8"], true);
  EXPECT_FALSE(j["shimwatch"].contains("process"));
}

TEST(JsonEncoder, AnIoUringWorkersCallIsMarkedUnderShimwatchProcess) {
  Event e = exec_event();
  EXPECT_FALSE(encode(e)["shimwatch"].contains("process"));
  e.process.io_uring_worker = true;
  json j = encode(e);
  EXPECT_EQ(j["shimwatch"]["process"]["io_uring_worker"], true);
  EXPECT_FALSE(j["shimwatch"]["process"].contains("args_truncated"));
}

TEST(JsonEncoder, ArgvFlagsAppearUnderShimwatchProcess) {
  Event e = exec_event();
  e.process.args_truncated = true;
  json j = encode(e);
  ASSERT_TRUE(j["shimwatch"].contains("process"));
  EXPECT_EQ(j["shimwatch"]["process"]["args_truncated"], true);
  EXPECT_FALSE(j["shimwatch"]["process"].contains("args_unreadable"));
  EXPECT_FALSE(j["shimwatch"]["process"].contains("executable_truncated"));

  e = exec_event();
  e.process.args = {};
  e.process.args_unreadable = true;
  e.process.executable_truncated = true;
  j = encode(e);
  EXPECT_EQ(j["shimwatch"]["process"]["args_unreadable"], true);
  EXPECT_EQ(j["shimwatch"]["process"]["executable_truncated"], true);
  EXPECT_FALSE(j["shimwatch"]["process"].contains("args_truncated"));
  EXPECT_EQ(j["process"]["args"], json::array());
  EXPECT_EQ(j["process"]["args_count"], 0);
  EXPECT_EQ(j["process"]["command_line"], "");
}

TEST(JsonEncoderInterrupted, OutcomeUnknownWithEintr) {
  shimwatch::Event e;
  e.action = shimwatch::Action::docker_socket_connect;
  e.socket_path = "/var/run/docker.sock";
  e.error = EINTR;
  e.interrupted = true;
  auto j = nlohmann::json::parse(shimwatch::encode_json(e, shimwatch::HostInfo{"n"}));
  EXPECT_EQ(j["event"]["outcome"], "unknown");
  EXPECT_EQ(j["error"]["code"], "EINTR");
}

// --- service control, runtime sockets, socket peers ---

TEST(JsonEncoder, ServiceControlEvent) {
  Event e = exec_event();
  e.action = Action::docker_service_control;
  e.process.name = "systemctl";
  e.process.executable = e.exec_path = "/usr/bin/systemctl";
  e.process.args = {"systemctl", "restart", "docker"};
  e.service_verb = "restart";
  e.service_unit = "docker";
  e.service_manager = "systemctl";
  json j = encode(e);
  EXPECT_EQ(j["event"]["action"], "docker-service-control");
  EXPECT_EQ(j["event"]["category"], json::array({"process"}));
  EXPECT_EQ(j["event"]["type"], json::array({"change"}));
  EXPECT_EQ(j["shimwatch"]["service"],
            (json{{"verb", "restart"}, {"unit", "docker"}, {"manager", "systemctl"}}));
  EXPECT_EQ(j["shimwatch"]["exec"]["path"], "/usr/bin/systemctl");
  EXPECT_FALSE(j["shimwatch"].contains("socket"));
  EXPECT_FALSE(j["shimwatch"].contains("runtime"));
}

TEST(JsonEncoder, RuntimeSocketEvent) {
  Event e = connect_event();
  e.action = Action::runtime_socket_connect;
  e.socket_path = "/var/run/crio/crio.sock";
  e.runtime = "cri-o";
  json j = encode(e);
  EXPECT_EQ(j["event"]["action"], "runtime-socket-connect");
  EXPECT_EQ(j["event"]["category"], json::array({"network"}));
  EXPECT_EQ(j["event"]["type"], json::array({"connection"}));
  EXPECT_EQ(j["shimwatch"]["runtime"], "cri-o");
  EXPECT_FALSE(j["shimwatch"].contains("service"));
}

TEST(JsonEncoder, SocketPeerMatchedByAndWatched) {
  Event e = connect_event();
  json j = encode(e);
  EXPECT_EQ(j["shimwatch"]["socket"]["matched_by"], "path");
  EXPECT_FALSE(j["shimwatch"]["socket"].contains("peer"));
  EXPECT_FALSE(j["shimwatch"]["socket"].contains("watched"));
  EXPECT_FALSE(j["shimwatch"].contains("runtime")); // docker connects name no runtime

  e.socket_path = "/host/d.sock";
  e.socket_peer = "/var/run/docker.sock";
  e.socket_matched_by_peer = true;
  e.socket_watched = "/var/run/docker.sock";
  j = encode(e);
  EXPECT_EQ(j["shimwatch"]["socket"]["path"], "/host/d.sock");
  EXPECT_EQ(j["shimwatch"]["socket"]["peer"], "/var/run/docker.sock");
  EXPECT_EQ(j["shimwatch"]["socket"]["matched_by"], "peer");
  EXPECT_EQ(j["shimwatch"]["socket"]["watched"], "/var/run/docker.sock");
}

} // namespace
