// Pipeline: hand-built records through every branch of the way to the
// outputs (exclusion, filtering, identity labels, attribution, agents,
// dedupe, the renamed-binary check), with the kernel's maps recorded instead
// of written. Files the labels and checks look at are real ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "accepting_listener.hpp"
#include "test_files.hpp"
#include "shimwatch/attribute.hpp"
#include "shimwatch/classify.hpp"
#include "shimwatch/config.hpp"
#include "shimwatch/kubernetes.hpp"
#include "shimwatch/pipeline.hpp"

using namespace shimwatch;

namespace {

// What the pipeline asked of the kernel's maps. Refuses when told to.
class RecordedMaps : public WatchMaps {
public:
  Status set_watched_sockets(const std::vector<SocketIdentity> &identities) override {
    socket_sets.push_back(identities);
    if (refuse)
      return Error{"the kernel refused the sockets"};
    return Ok{};
  }
  Status set_watched_executables(const std::vector<FileIdentity> &identities) override {
    executable_sets.push_back(identities);
    return Ok{};
  }
  void forget_binary(const FileIdentity &identity, uint64_t) override {
    forgotten.push_back(identity);
  }
  Status set_watched_config(const std::vector<FileIdentity> &files,
                            const std::vector<FileIdentity> &directories,
                            const std::vector<FileIdentity> &parents) override {
    config_sets.push_back(files.size() + directories.size() + parents.size());
    return Ok{};
  }

  bool refuse = false;
  std::vector<std::vector<SocketIdentity>> socket_sets;
  std::vector<std::vector<FileIdentity>> executable_sets;
  std::vector<FileIdentity> forgotten;
  std::vector<size_t> config_sets;
};

class RecordedCounters : public EventCounters {
public:
  void count_decode_error() override { ++decode_errors; }
  void count_filtered() override { ++filtered; }
  void count_excluded(const std::string &rule) override { excluded.push_back(rule); }
  void count_enrichment_miss(const std::string &source) override { misses.push_back(source); }
  void count_event(const Event &) override { ++events; }

  int decode_errors = 0, filtered = 0, events = 0;
  std::vector<std::string> excluded, misses;
};

const std::string pod_uid = "6f1b5a8e-3c2d-4e8f-9a0b-1c2d3e4f5a6b";
const std::string container_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

Event docker_cli(const std::string &args = "ps") {
  Event e;
  e.action = Action::docker_cli_exec;
  e.exec_path = "/usr/bin/docker";
  e.process.name = "docker";
  e.process.executable = "/usr/bin/docker";
  e.process.args = {"docker", args};
  e.process.pid = 4242;
  e.timestamp_ns = 1'000'000'000;
  e.cgroup_path = "/kubepods/burstable/pod" + pod_uid + "/" + container_id;
  return e;
}

Event exec_of(const std::string &path) {
  Event e = docker_cli();
  e.exec_path = path;
  e.process.executable = path;
  e.process.name = path.substr(path.rfind('/') + 1);
  e.process.args = {path};
  e.cgroup_path = "/system.slice/" + e.process.name + ".service";
  return e;
}

PodInfo ci_runner_pod() {
  PodInfo pod;
  pod.uid = pod_uid;
  pod.namespace_name = "ci";
  pod.name = "runner-7d9f";
  pod.containers = {KubeContainer{container_id, "containerd", "runner", "example/ci-runner:2"}};
  pod.workload_kind = "Deployment";
  pod.workload_name = "runner";
  return pod;
}

Config base_config() {
  Config config = default_config();
  config.watch_sockets = {};
  config.watch_config_paths = {};
  config.watch_exec_build_ids = {};
  config.dedupe.enabled = false;
  config.agent_rules = {AgentRule{"ci-runner", {"example/ci-runner:*"}, {}, {}, {}, {}}};
  return config;
}

// One pipeline over a config, with its stages, maps and counters here to look at.
struct Fixture {
  explicit Fixture(Config c, Pipeline::Options options = {})
      : config(std::move(c)),
        classifier(config, SelfIdentity{}, [this](const Event &) { return trusted; }),
        attributor(config, &pods), addresses(std::vector<std::string>{"10.0.0.5"}),
        feedback(config, maps),
        pipeline(
            config, Pipeline::Stages{classifier, attributor, feedback, addresses, &counters},
            [this](std::vector<Record> &records) {
              ++deliveries;
              for (auto &r : records)
                delivered.push_back(std::get<Event>(std::move(r)));
              records.clear();
            },
            options) {}

  // Waits for the build-id workers, then lets the pipeline finish their checks.
  void finish_checks() {
    for (int i = 0; i < 500 && pipeline.checks_pending() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    pipeline.finish_checks();
    pipeline.flush();
  }

  Config config;
  bool trusted = true;
  PodCache pods;
  RecordedMaps maps;
  RecordedCounters counters;
  Classifier classifier;
  Attributor attributor;
  LocalAddresses addresses;
  KernelFeedback feedback;
  int deliveries = 0;
  std::vector<Event> delivered;
  Pipeline pipeline;
};

} // namespace

TEST(Pipeline, AnAcceptedEventIsAttributedTaggedCountedAndDelivered) {
  Fixture f(base_config());
  f.pods.upsert(ci_runner_pod());

  f.pipeline.on_event(docker_cli());
  f.pipeline.flush();

  ASSERT_EQ(f.delivered.size(), 1u);
  const Event &e = f.delivered[0];
  EXPECT_EQ(e.action, Action::docker_cli_exec);
  EXPECT_EQ(e.origin.type, OriginType::pod);
  EXPECT_EQ(e.origin.namespace_name, "ci");
  EXPECT_EQ(e.origin.workload_name, "runner");
  EXPECT_EQ(e.origin.agent, "ci-runner");
  EXPECT_EQ(f.counters.events, 1);
  EXPECT_TRUE(f.counters.misses.empty());
}

TEST(Pipeline, APodTheMetadataSourceDoesNotKnowIsCountedAsAMissAndStillDelivered) {
  Fixture f(base_config());

  f.pipeline.on_event(docker_cli());
  f.pipeline.flush();

  ASSERT_EQ(f.delivered.size(), 1u);
  EXPECT_EQ(f.delivered[0].origin.cgroup.pod_uid, pod_uid);
  EXPECT_FALSE(f.delivered[0].origin.kubernetes_known);
  EXPECT_EQ(f.counters.misses, std::vector<std::string>{"kubernetes"});
}

TEST(Pipeline, ExcludedAndUnwatchedCallsAreCountedNotDelivered) {
  Config config = base_config();
  config.watch_sockets = {"/var/run/docker.sock"};
  config.exclude.executables = {"/usr/bin/kubelet"};
  Fixture f(config);

  f.pipeline.on_event(exec_of("/usr/bin/ls")); // no watched name
  Event kubelet = exec_of("/usr/bin/kubelet"); // a watched call by an excluded daemon
  kubelet.action = Action::docker_socket_connect;
  kubelet.socket_path = "/var/run/docker.sock";
  f.pipeline.on_event(kubelet);
  f.pipeline.on_event(docker_cli()); // positive control, same pipeline
  f.pipeline.flush();

  EXPECT_EQ(f.counters.filtered, 1);
  EXPECT_EQ(f.counters.excluded, std::vector<std::string>{"executable:/usr/bin/kubelet"});
  ASSERT_EQ(f.delivered.size(), 1u);
  EXPECT_EQ(f.delivered[0].process.executable, "/usr/bin/docker");
  EXPECT_EQ(f.counters.events, 1);
}

TEST(Pipeline, ExclusionByUnitLooksAtTheCgroupPathBeforeAttribution) {
  Config config = base_config();
  config.watch_sockets = {"/var/run/docker.sock"};
  config.exclude.units = {"backup*.service"};
  Fixture f(config);
  auto connect_in = [](const std::string &cgroup) {
    Event e = exec_of("/usr/bin/restic");
    e.action = Action::docker_socket_connect;
    e.socket_path = "/var/run/docker.sock";
    e.cgroup_path = cgroup;
    return e;
  };

  f.pipeline.on_event(connect_in("/system.slice/backup-nightly.service"));
  f.pipeline.on_event(connect_in("/system.slice/cron.service")); // positive control
  f.pipeline.flush();

  EXPECT_EQ(f.counters.excluded, std::vector<std::string>{"unit:backup*.service"});
  ASSERT_EQ(f.delivered.size(), 1u);
  EXPECT_EQ(f.delivered[0].origin.cgroup.unit, "cron.service");
}

TEST(Pipeline, AnUntrustedBinaryNamedLikeAnExcludedDaemonIsDeliveredAndMarked) {
  Config config = base_config();
  config.watch_sockets = {"/var/run/docker.sock"};
  config.exclude.executables = {"/usr/bin/kubelet"};
  Fixture f(config);
  f.trusted = false;

  Event impostor = exec_of("/usr/bin/kubelet");
  impostor.action = Action::docker_socket_connect;
  impostor.socket_path = "/var/run/docker.sock";
  f.pipeline.on_event(impostor);
  f.pipeline.flush();

  ASSERT_EQ(f.delivered.size(), 1u);
  EXPECT_EQ(f.delivered[0].impersonates, "/usr/bin/kubelet");
  EXPECT_TRUE(f.counters.excluded.empty());
}

TEST(Pipeline, ATcpConnectCountsOnlyWhenItGoesToThisNode) {
  Config config = base_config();
  config.watch_tcp_ports = {2375};
  Fixture f(config);
  auto tcp = [](const std::string &address) {
    Event e = docker_cli();
    e.action = Action::docker_api_tcp_connect;
    e.tcp_address = address;
    e.tcp_port = 2375;
    return e;
  };

  f.pipeline.on_event(tcp("192.0.2.9")); // another host's engine
  f.pipeline.on_event(tcp("10.0.0.5"));  // this node's address: positive control
  f.pipeline.flush();

  EXPECT_EQ(f.counters.filtered, 1);
  ASSERT_EQ(f.delivered.size(), 1u);
  EXPECT_EQ(f.delivered[0].tcp_address, "10.0.0.5");

  // Any destination asked for: both count.
  config.watch_tcp_any_destination = true;
  Fixture any(config);
  any.pipeline.on_event(tcp("192.0.2.9"));
  any.pipeline.flush();
  EXPECT_EQ(any.delivered.size(), 1u);
}

TEST(Pipeline, AConnectMatchedByTheSocketItReachedIsNamedAfterTheConfiguredPath) {
  swtest::TempDir tree;
  const std::string watched = tree.file("docker.sock");
  swtest::AcceptingListener listener(watched);
  Config config = base_config();
  config.watch_sockets = {watched};
  Fixture f(config);
  ASSERT_TRUE(f.feedback.load());
  ASSERT_EQ(f.maps.socket_sets.size(), 1u);
  ASSERT_EQ(f.maps.socket_sets[0].size(), 1u); // the kernel matches it by identity

  struct stat st {};
  ASSERT_EQ(stat(watched.c_str(), &st), 0);
  Event e = docker_cli();
  e.action = Action::docker_socket_connect;
  e.socket_path = "/host/run/d.sock"; // a hostPath mount of it
  e.socket_matched_by_peer = true;
  e.socket_peer = watched;
  e.socket_peer_dev = st.st_dev;
  e.socket_peer_ino = st.st_ino;
  f.pipeline.on_event(e);
  f.pipeline.flush();

  ASSERT_EQ(f.delivered.size(), 1u);
  EXPECT_EQ(f.delivered[0].action, Action::docker_socket_connect);
  EXPECT_EQ(f.delivered[0].socket_watched, watched);
  EXPECT_EQ(f.delivered[0].socket_path, "/host/run/d.sock");
}

TEST(Pipeline, SocketsTheKernelRefusedAreTriedAgainAtTheNextRefresh) {
  swtest::TempDir tree;
  const std::string watched = tree.file("docker.sock");
  Config config = base_config();
  config.watch_sockets = {watched};
  Fixture f(config);
  ASSERT_TRUE(f.feedback.load()); // nothing there yet: an empty set
  ASSERT_EQ(f.maps.socket_sets.size(), 1u);
  EXPECT_TRUE(f.maps.socket_sets[0].empty());

  swtest::AcceptingListener listener(watched); // the server starts
  f.maps.refuse = true;
  f.feedback.refresh();
  ASSERT_EQ(f.maps.socket_sets.size(), 2u);
  EXPECT_EQ(f.maps.socket_sets[1].size(), 1u);

  f.maps.refuse = false;
  f.feedback.refresh(); // forgotten after the refusal: sent again
  ASSERT_EQ(f.maps.socket_sets.size(), 3u);
  EXPECT_EQ(f.maps.socket_sets[2].size(), 1u);
  f.feedback.refresh(); // taken: nothing changed, nothing sent
  EXPECT_EQ(f.maps.socket_sets.size(), 3u);
}

TEST(Pipeline, StartFailsWhenTheKernelRefusesTheSockets) {
  Config config = base_config();
  config.watch_sockets = {"/var/run/docker.sock"};
  Fixture f(config);
  f.maps.refuse = true;
  auto st = f.feedback.load();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "the kernel refused the sockets");
  EXPECT_TRUE(f.maps.config_sets.empty()); // stopped before the configuration
}

TEST(Pipeline, ARenameIntoDockersConfigurationIsAnEventAndOneBesideItIsNot) {
  swtest::TempDir tree;
  const std::string etc = tree.file("etc-docker");
  std::filesystem::create_directory(etc);
  const std::string daemon = etc + "/daemon.json";
  Config config = base_config();
  config.watch_config_paths = {daemon};
  Fixture f(config);
  ASSERT_TRUE(f.feedback.load());
  ASSERT_EQ(f.maps.config_sets.size(), 1u);
  EXPECT_EQ(f.maps.config_sets[0], 1u); // the parent directory, for renames into it

  auto rename_to = [](const std::string &path) {
    Event e = exec_of("/usr/bin/cp");
    e.action = Action::docker_config_write;
    e.config_renamed = true;
    e.config_absolute = true;
    e.config_path = path;
    return e;
  };
  f.pipeline.on_event(rename_to(etc + "/daemon.json.bak"));
  f.pipeline.on_event(rename_to(daemon)); // positive control
  f.pipeline.flush();

  ASSERT_EQ(f.delivered.size(), 1u);
  EXPECT_EQ(f.delivered[0].action, Action::docker_config_write);
  EXPECT_EQ(f.delivered[0].config_watched, daemon);
  EXPECT_EQ(f.counters.filtered, 0) << "a rename beside it is no call, not a filtered one";
}

TEST(Pipeline, RepeatsAreFoldedIntoOneSummaryAndCountedEachTime) {
  Config config = base_config();
  config.dedupe.enabled = true;
  config.dedupe.window_seconds = 60;
  Fixture f(config);

  for (int i = 0; i < 3; ++i) {
    Event e = docker_cli();
    e.timestamp_ns += i * 1'000'000'000ll;
    f.pipeline.on_event(e);
  }
  f.pipeline.on_event(docker_cli("version")); // another key: written too
  f.pipeline.flush();
  EXPECT_EQ(f.counters.events, 4);
  ASSERT_EQ(f.delivered.size(), 2u);
  EXPECT_FALSE(f.delivered[0].repeat);

  f.pipeline.flush_repeats(0, /*final=*/true);
  ASSERT_EQ(f.delivered.size(), 3u);
  const Event &summary = f.delivered[2];
  ASSERT_TRUE(summary.repeat);
  EXPECT_EQ(summary.repeat->count, 2u);
  EXPECT_EQ(summary.timestamp_ns, 3'000'000'000ll);
  EXPECT_EQ(summary.process.args, (std::vector<std::string>{"docker", "ps"}));
}

TEST(Pipeline, RecordsGoOutInBatches) {
  Fixture f(base_config(), Pipeline::Options{.batch_size = 2});
  for (int i = 0; i < 5; ++i)
    f.pipeline.on_event(docker_cli());
  EXPECT_EQ(f.deliveries, 2);
  EXPECT_EQ(f.delivered.size(), 4u);
  f.pipeline.flush();
  EXPECT_EQ(f.deliveries, 3);
  EXPECT_EQ(f.delivered.size(), 5u);
  f.pipeline.flush(); // nothing waits: no empty batch
  EXPECT_EQ(f.deliveries, 3);
}

TEST(Pipeline, AMalformedRecordIsCountedAndDropped) {
  Fixture f(base_config());
  const std::byte garbage[3]{};
  f.pipeline.on_record(garbage, ClockOffset{});
  f.pipeline.on_record(garbage, ClockOffset{});
  EXPECT_EQ(f.pipeline.decode_errors(), 2u);
  EXPECT_EQ(f.counters.decode_errors, 2);
  EXPECT_TRUE(f.delivered.empty());
}

namespace {

// The build-id of this test's own binary, as RenamedBinaries configures them.
std::string own_build_id() {
  auto id = read_build_id("/proc/self/exe");
  if (!id || !id->value.starts_with("gnu:"))
    return "";
  return id->value.substr(4);
}

// The first run of this test's binary, as the kernel reports a binary
// nothing else matched.
Event first_run_of_this_binary() {
  struct stat st {};
  EXPECT_EQ(stat("/proc/self/exe", &st), 0);
  Event e = docker_cli();
  e.exec_new_binary = true;
  e.process.pid = static_cast<uint32_t>(getpid());
  e.process.executable = std::filesystem::read_symlink("/proc/self/exe").string();
  e.exec_path = e.process.executable;
  e.process.name = "shimwatch_unit_";
  e.exe_dev = st.st_dev;
  e.exe_ino = st.st_ino;
  e.exe_size = static_cast<uint64_t>(st.st_size);
  return e;
}

} // namespace

TEST(Pipeline, ACopyOfADockerBinaryIsFoundByBuildIdAndThenMatchedInTheKernel) {
  const std::string build_id = own_build_id();
  ASSERT_FALSE(build_id.empty()) << "the test binary has no GNU build-id";
  Config config = base_config();
  config.watch_exec_build_ids = {build_id};
  Fixture f(config);
  ASSERT_TRUE(f.feedback.load());
  const size_t executable_sets = f.maps.executable_sets.size();

  Event run = first_run_of_this_binary();
  f.pipeline.on_event(run);
  EXPECT_TRUE(f.delivered.empty()) << "answered by a worker, not at once";
  f.finish_checks();

  ASSERT_EQ(f.delivered.size(), 1u);
  EXPECT_TRUE(f.delivered[0].exec_matched_by_build_id);
  EXPECT_EQ(f.delivered[0].exec_build_id, "gnu:" + build_id);
  EXPECT_EQ(f.delivered[0].origin.type, OriginType::pod); // attributed like any other
  ASSERT_EQ(f.maps.executable_sets.size(), executable_sets + 1);
  const auto &ids = f.maps.executable_sets.back();
  EXPECT_NE(std::find(ids.begin(), ids.end(), FileIdentity{run.exe_dev, run.exe_ino}), ids.end());
}

TEST(Pipeline, AnotherBinaryIsNoEventAndOneGoneBeforeItsCheckIsSentAgain) {
  Config config = base_config();
  config.watch_exec_build_ids = {"00112233445566778899aabbccddeeff00112233"};
  Fixture f(config);
  ASSERT_TRUE(f.feedback.load());

  f.pipeline.on_event(first_run_of_this_binary()); // readable, another build-id
  Event gone = first_run_of_this_binary();
  gone.process.pid = 0x7ffffff0; // no such process
  gone.exe_ino += 1;             // and no such file at its path
  f.pipeline.on_event(gone);
  f.pipeline.on_event(docker_cli()); // positive control: the way is open
  f.finish_checks();

  ASSERT_EQ(f.delivered.size(), 1u);
  EXPECT_FALSE(f.delivered[0].exec_matched_by_build_id);
  ASSERT_EQ(f.maps.forgotten.size(), 1u);
  EXPECT_EQ(f.maps.forgotten[0], (FileIdentity{gone.exe_dev, gone.exe_ino}));
}
