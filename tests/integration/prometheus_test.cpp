// The agent's /metrics as Prometheus itself sees it: promtool's linter, then
// a real server (the Debian prometheus package) scraping the real agent and
// answering through its HTTP query API.
#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <regex>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "fake_apiserver.hpp"
#include "harness.hpp"

using namespace swtest;

namespace {

const char *const promtool = "/usr/bin/promtool";
const char *const prometheus = "/usr/bin/prometheus";

// A Prometheus server with its own config, storage and port, stopped with
// SIGTERM (as a service manager would) at destruction.
class PrometheusServer {
public:
  PrometheusServer(const TempDir &dir, int scrape_port) : port_(free_port()) {
    config_ = dir.file("prometheus.yml");
    log_ = dir.file("prometheus.log");
    // Every second, so the test waits for one interval, not the default 1 min.
    write_file(config_, "global:\n"
                        "  scrape_interval: 1s\n"
                        "  scrape_timeout: 1s\n"
                        "  evaluation_interval: 1s\n"
                        "scrape_configs:\n"
                        "  - job_name: shimwatch\n"
                        "    static_configs:\n"
                        "      - targets: ['127.0.0.1:" +
                            std::to_string(scrape_port) + "']\n");
    std::vector<std::string> args = {prometheus, "--config.file=" + config_,
                                     "--storage.tsdb.path=" + dir.file("tsdb"),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_)};
    pid_ = fork();
    if (pid_ == 0) {
      int log = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
      std::vector<char *> argv;
      for (auto &a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }

  ~PrometheusServer() { stop(); }
  PrometheusServer(const PrometheusServer &) = delete;
  PrometheusServer &operator=(const PrometheusServer &) = delete;

  // SIGTERM, then its exit code; SIGKILL after 10 s (a hung shutdown must
  // not hang the suite).
  int stop() {
    if (pid_ <= 0)
      return exit_code_;
    kill(pid_, SIGTERM);
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code_;
  }

  // GET /api/v1/query; the parsed answer, or null when there was none.
  json query(const std::string &promql) const {
    std::string body = http_get(port_, "/api/v1/query?query=" + url_encode(promql));
    return json::parse(body, nullptr, /*allow_exceptions=*/false);
  }

  // The instant vector of promql, or an empty array.
  json result(const std::string &promql) const {
    json answer = query(promql);
    if (!answer.is_object() || answer.value("status", "") != "success")
      return json::array();
    return answer["data"]["result"];
  }

  std::string log() const { return read_file(log_); }

private:
  static std::string url_encode(const std::string &text) {
    std::string out;
    for (unsigned char c : text) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        char buf[4];
        std::snprintf(buf, sizeof(buf), "%%%02X", c);
        out += buf;
      }
    }
    return out;
  }

  int port_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string config_;
  std::string log_;
};

// The one sample of promql's result as {labels, value}; value -1 when the
// result is not exactly one series.
std::pair<json, double> single(const json &result) {
  if (!result.is_array() || result.size() != 1)
    return {json::object(), -1};
  return {result[0]["metric"], std::stod(result[0]["value"][1].get<std::string>())};
}

// promtool check metrics on text: its exit code and what it said.
ProcessResult lint(const TempDir &dir, const std::string &text) {
  write_file(dir.file("scrape.txt"), text);
  return run_process(
      {"/bin/sh", "-c", std::string(promtool) + " check metrics < " + dir.file("scrape.txt")});
}

// A Deployment's pod as the API server lists it: owned by the ReplicaSet
// "<deployment>-<pod-template-hash>".
json deployment_pod(const std::string &uid, const std::string &container_id) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"uid", uid},
            {"name", "web-7d4b9c6f5-x2k4p"},
            {"namespace", "shop"},
            {"labels", {{"app", "web"}, {"pod-template-hash", "7d4b9c6f5"}}},
            {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                              {"kind", "ReplicaSet"},
                                              {"name", "web-7d4b9c6f5"},
                                              {"uid", "rs-1"},
                                              {"controller", true}}})}}},
          {"spec",
           {{"nodeName", "test-node-1"},
            {"containers", json::array({{{"name", "app"}, {"image", "shop/web:3"}}})}}},
          {"status",
           {{"phase", "Running"},
            {"containerStatuses", json::array({{{"name", "app"},
                                                {"containerID", "containerd://" + container_id},
                                                {"image", "shop/web:3"}}})}}}};
}

} // namespace

TEST(Prometheus, PromtoolLintsCleanAndARealServerReadsTheCountersBack) {
  TempDir dir;
  // The events come from a unit of their own, so that the series they make
  // is theirs alone whatever else runs docker on this node.
  const std::string unit_name = "shimwatch-prometheus-test.service";
  TestCgroup unit("system.slice/" + unit_name);
  std::string docker = fake_executable(dir, "docker");
  std::string socket = dir.file("docker.sock");
  UnixListener listener(socket);
  int port = free_port();
  Agent agent({"--format", "json", "--metrics-address", "127.0.0.1:" + std::to_string(port),
               "--watch-socket", socket},
              /*default_output_flags=*/false);

  // TRIGGER: three docker execs and one connect to a watched socket.
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(run_process_in_cgroup(unit.path(), {docker, "ps"}).exit_code, 0);
  auto connect = run_process_in_cgroup(unit.path(), {SW_TEST_CONNECT_BINARY, socket});
  ASSERT_EQ(connect.output, "ok\n");

  const std::string execs =
      "shimwatch_events_total{action=\"docker-cli-exec\",unit=\"" + unit_name + "\"}";
  const std::string connects =
      "shimwatch_events_total{action=\"docker-socket-connect\",unit=\"" + unit_name + "\"}";
  const std::regex exec_sample(R"(shimwatch_events_total\{action="docker-cli-exec",[^}]*unit=")" +
                               unit_name + R"("[^}]*\} 3\n)");
  const std::regex connect_sample(
      R"(shimwatch_events_total\{action="docker-socket-connect",[^}]*unit=")" + unit_name +
      R"("[^}]*\} 1\n)");
  std::string body;
  ASSERT_TRUE(wait_for(
      [&] {
        body = http_get(port, "/metrics");
        return std::regex_search(body, exec_sample) && std::regex_search(body, connect_sample);
      },
      std::chrono::seconds(10)))
      << body;

  // ASSERT: (a) promtool parses and lints the exposition without a remark.
  auto linted = lint(dir, body);
  EXPECT_EQ(linted.exit_code, 0) << linted.output;
  EXPECT_EQ(trim(linted.output), "") << body;

  // ASSERT: (b) a real server scrapes it and reads the counters back.
  PrometheusServer server(dir, port);
  std::pair<json, double> exec_series;
  bool scraped = wait_for(
      [&] {
        exec_series = single(server.result(execs));
        return exec_series.second == 3;
      },
      std::chrono::seconds(30));
  ASSERT_TRUE(scraped) << server.query(execs).dump() << "\n" << server.log();
  const json &labels = exec_series.first;
  EXPECT_EQ(labels.value("__name__", ""), "shimwatch_events_total");
  EXPECT_EQ(labels.value("job", ""), "shimwatch");
  EXPECT_EQ(labels.value("instance", ""), "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(labels.value("outcome", ""), "success");
  EXPECT_EQ(labels.value("origin_type", ""), "systemd_unit");
  EXPECT_EQ(labels.value("unit", ""), unit_name);
  // Empty label values are no labels to Prometheus: no pod, no workload.
  for (const char *absent : {"namespace", "workload_kind", "workload", "agent"})
    EXPECT_FALSE(labels.contains(absent)) << absent << ": " << labels.dump();
  EXPECT_EQ(labels.size(), 7u) << labels.dump();

  auto [connect_labels, connect_value] = single(server.result(connects));
  EXPECT_EQ(connect_value, 1) << server.query(connects).dump();
  EXPECT_EQ(connect_labels.value("outcome", ""), "success");
  EXPECT_EQ(connect_labels.value("origin_type", ""), "systemd_unit");

  // The server took every scrape: a rejected exposition would make up 0.
  EXPECT_EQ(single(server.result("up{job=\"shimwatch\"}")).second, 1);
  for (const char *sample :
       {"shimwatch_build_info", "process_start_time_seconds", "process_resident_memory_bytes",
        "shimwatch_events_dropped_total{stage=\"kernel\",reason=\"ring_buffer_full\"}"})
    EXPECT_EQ(server.result(sample).size(), 1u) << sample;

  EXPECT_EQ(server.stop(), 0) << server.log();
  auto out = agent.stop();
  EXPECT_EQ(out.exit_code, 0) << out.log;
}

TEST(Prometheus, PodEventsCountPerWorkloadNeverPerPod) {
  TempDir dir;
  const std::string token = "shimwatch-prometheus-test-token";
  FakeApiServer api(dir.path(), token);
  const std::string known_uid = "4f1c0a5b-6e7d-4f80-8b2c-4d5e6f708192";
  const std::string unknown_uid = "5a2d1b6c-7f8e-4091-9c3d-5e6f70819203";
  const std::string known_id(64, 'f');
  const std::string unknown_id(64, 'b');
  TestCgroup known("kubepods/burstable/pod" + known_uid + "/" + known_id);
  TestCgroup unknown("kubepods/burstable/pod" + unknown_uid + "/" + unknown_id);
  api.add(deployment_pod(known_uid, known_id));
  write_file(dir.file("token"), token + "\n", 0600);
  int port = free_port();
  Agent agent({"--format", "json", "--metrics-address", "127.0.0.1:" + std::to_string(port),
               "--kube-api-server", api.url(), "--kube-token-file", dir.file("token"),
               "--kube-ca-file", api.ca_file(), "--node-name", "test-node-1"},
              /*default_output_flags=*/false);
  std::string docker = fake_executable(dir, "docker");
  ASSERT_TRUE(wait_for(
      [&] {
        return http_get(port, "/metrics").find("\nshimwatch_kubernetes_pods 1\n") !=
               std::string::npos;
      },
      std::chrono::seconds(10)))
      << http_get(port, "/metrics");

  // TRIGGER: two execs in the Deployment's pod, one in a pod nobody announced.
  std::vector<pid_t> pids;
  for (const auto *cgroup : {&known, &known, &unknown})
    pids.push_back(run_process_in_cgroup(cgroup->path(), {docker, "ps"}).pid);

  // ASSERT: one series per workload, with namespace and kind; the unknown
  // pod counts with neither (its uid must not stand in for a name).
  auto series = [](const std::string &ns, const std::string &kind, const std::string &workload) {
    return "shimwatch_events_total{action=\"docker-cli-exec\",agent=\"\",namespace=\"" + ns +
           "\",origin_type=\"pod\",outcome=\"success\",unit=\"\",workload=\"" + workload +
           "\",workload_kind=\"" + kind + "\"}";
  };
  std::string body;
  bool counted = wait_for(
      [&] {
        body = http_get(port, "/metrics");
        return body.find(series("shop", "Deployment", "web") + " 2\n") != std::string::npos &&
               body.find(series("", "", "") + " 1\n") != std::string::npos;
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(counted) << body;
  std::vector<std::string> never = {
      "web-7d4b9c6f5",          known_uid, unknown_uid, known_id.substr(0, 12),
      unknown_id.substr(0, 12), "shop/web"};
  for (pid_t pid : pids)
    never.push_back("\"" + std::to_string(pid) + "\"");
  for (const auto &text : never)
    EXPECT_EQ(body.find(text), std::string::npos) << text << " in\n" << body;
  auto linted = lint(dir, body);
  EXPECT_EQ(linted.exit_code, 0) << linted.output;
  EXPECT_EQ(trim(linted.output), "") << body;

  auto out = agent.stop();
  EXPECT_EQ(out.exit_code, 0) << out.log;
}
