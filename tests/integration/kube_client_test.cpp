// The real KubeClient against a stand-in API server (fake_apiserver.py next to
// this file) over HTTPS: list, watch, 410 Gone, outages, garbage, bad tokens,
// prompt stop(); and the same for polls of the stand-in's kubelet /pods.
// Needs python3 and the openssl CLI; no root, no dockerd.
#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "fake_apiserver.hpp"
#include "log_capture.hpp"
#include "harness.hpp"
#include "shimwatch/kubernetes.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using shimwatch::KubeClient;
using shimwatch::KubeClientOptions;
using shimwatch::KubeClientStats;
using shimwatch::PodCache;
using swtest::LogCapture;

namespace {

const std::string kToken = "k8s-test-token-7f3a9c";
const std::string kNode = "node-a";

// The shared stand-in, with this file's token.
class FakeApiServer : public swtest::FakeApiServer {
public:
  explicit FakeApiServer(const std::string &dir) : swtest::FakeApiServer(dir, kToken) {}
};

// A core/v1 Pod as the API server serves it: a Deployment's, with a container id.
json make_pod(const std::string &uid, const std::string &name, const std::string &node = kNode) {
  std::string hash = "5d8f7c6b4";
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"uid", uid},
            {"name", name + "-" + hash + "-abcde"},
            {"namespace", "default"},
            {"labels", {{"app", name}, {"pod-template-hash", hash}}},
            {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                              {"kind", "ReplicaSet"},
                                              {"name", name + "-" + hash},
                                              {"uid", "rs-" + uid},
                                              {"controller", true}}})}}},
          {"spec",
           {{"nodeName", node},
            {"containers", json::array({{{"name", "main"}, {"image", "busybox"}}})}}},
          {"status",
           {{"phase", "Running"},
            {"containerStatuses", json::array({{{"name", "main"},
                                                {"containerID", "containerd://c0de" + uid},
                                                {"image", "docker.io/library/busybox:1.36"}}})}}}};
}

bool wait_until(const std::function<bool()> &pred, std::chrono::milliseconds limit = 10s) {
  return swtest::wait_for(pred, limit);
}

class KubeClientIntegration : public ::testing::Test {
protected:
  void SetUp() override {
    server_ = std::make_unique<FakeApiServer>(dir_.path());
    swtest::write_file(token_file(), kToken + "\n", 0600);
  }

  std::string token_file() const { return dir_.file("token"); }

  KubeClientOptions options() const {
    KubeClientOptions o;
    o.api_server = server_->url();
    o.token_file = token_file();
    o.ca_file = server_->ca_file();
    o.node_name = kNode;
    o.connect_timeout = 2000ms;
    o.request_timeout = 3000ms;
    o.watch_timeout = 30s;
    o.backoff_initial = 50ms;
    o.backoff_max = 200ms;
    return o;
  }

  // The kubelet source, polled every second.
  KubeClientOptions kubelet_options() const {
    KubeClientOptions o = options();
    o.source = shimwatch::KubeSource::kubelet;
    o.api_server.clear();
    o.kubelet_url = server_->url();
    o.poll_interval = 1s;
    return o;
  }

  std::unique_ptr<KubeClient> start(KubeClientOptions o) {
    auto client = std::make_unique<KubeClient>(std::move(o), cache_);
    client->start();
    return client;
  }

  bool has(const std::string &uid) const { return cache_.find(uid).has_value(); }

  swtest::TempDir dir_;
  std::unique_ptr<FakeApiServer> server_;
  PodCache cache_;
};

} // namespace

TEST_F(KubeClientIntegration, InitialListFillsTheCacheAcrossPages) {
  for (int i = 0; i < 5; ++i)
    server_->add(make_pod("uid-" + std::to_string(i), "web" + std::to_string(i)));
  server_->add(make_pod("uid-elsewhere", "other", "node-b"));
  json broken = make_pod("uid-broken", "broken");
  broken["metadata"].erase("name");
  server_->add(broken);
  server_->control("/_control/config", {{"page_size", 2}}); // 7 pods on node-a: 3 pages

  // TRIGGER: the client starts and lists the pods, three to a page.
  auto client = start(options());
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;
  KubeClientStats s = client->stats();
  EXPECT_EQ(s.lists, 1u);
  EXPECT_EQ(s.malformed_pods, 1u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_TRUE(s.reachable);
  EXPECT_EQ(cache_.size(), 5u);
  EXPECT_FALSE(has("uid-elsewhere"));
  auto pod = cache_.find("uid-3");
  ASSERT_TRUE(pod.has_value());
  EXPECT_EQ(pod->workload_kind, "Deployment");
  EXPECT_EQ(pod->workload_name, "web3");
  EXPECT_EQ(pod->node_name, kNode);
  ASSERT_NE(pod->find_container("c0deuid-3"), nullptr);
  EXPECT_EQ(pod->find_container("c0deuid-3")->runtime, "containerd");

  json stats = server_->stats();
  EXPECT_EQ(stats["lists"], 3); // 6 pods on node-a, 2 a page
  json list_query = stats["last_list_query"];
  EXPECT_EQ(list_query["fieldSelector"], "spec.nodeName=node-a");
  EXPECT_EQ(list_query["limit"], "500");
  EXPECT_TRUE(list_query.contains("continue"));
  ASSERT_TRUE(wait_until([&] { return server_->stats()["open_watches"] == 1; }));
  json watch_query = server_->stats()["last_watch_query"];
  EXPECT_EQ(watch_query["watch"], "1");
  EXPECT_EQ(watch_query["allowWatchBookmarks"], "true");
  EXPECT_EQ(watch_query["timeoutSeconds"], "30");
  EXPECT_EQ(watch_query["fieldSelector"], "spec.nodeName=node-a");
  EXPECT_EQ(watch_query["resourceVersion"], stats["resourceVersion"]);
}

TEST_F(KubeClientIntegration, WatchAddsModifiesAndDeletes) {
  server_->add(make_pod("uid-a", "alpha"));
  // Each event line arrives over several chunks, with bookmarks in between.
  server_->control("/_control/config", {{"fragment", true}, {"bookmark_interval", 0.2}});
  // TRIGGER: the client starts; the watch opens.
  auto client = start(options());
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;
  ASSERT_TRUE(wait_until([&] { return server_->stats()["open_watches"] == 1; }));
  // ASSERT
  EXPECT_EQ(cache_.size(), 1u);

  // TRIGGER: a pod is added.
  server_->add(make_pod("uid-b", "beta"));
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return has("uid-b"); }, 5s));
  EXPECT_EQ(cache_.find("uid-b")->workload_name, "beta");

  // TRIGGER: the pod is modified.
  json modified = make_pod("uid-b", "beta");
  modified["metadata"]["labels"]["release"] = "canary";
  server_->modify(modified);
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return cache_.find("uid-b")->labels.count("release") == 1; }));

  // TRIGGER: a pod of another node is added and one of ours removed.
  server_->add(make_pod("uid-other-node", "gamma", "node-b")); // not ours: never shows
  server_->remove("uid-a");
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return !has("uid-a"); }));
  EXPECT_FALSE(has("uid-other-node"));
  EXPECT_EQ(cache_.size(), 1u);

  // TRIGGER: a malformed pod in the stream, then a good one.
  json broken = make_pod("uid-broken", "broken");
  broken["metadata"]["namespace"] = 17;
  server_->add(broken);
  server_->add(make_pod("uid-c", "gamma"));
  // ASSERT: the malformed one is skipped and counted; the watch goes on.
  ASSERT_TRUE(wait_until([&] { return has("uid-c"); }));
  EXPECT_FALSE(has("uid-broken"));

  std::this_thread::sleep_for(500ms); // a few bookmarks
  KubeClientStats s = client->stats();
  EXPECT_EQ(s.malformed_pods, 1u);
  EXPECT_EQ(s.watch_events, 5u); // ADDED b, MODIFIED b, DELETED a, ADDED broken, ADDED c
  EXPECT_EQ(s.lists, 1u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_EQ(s.outages, 0u);
  EXPECT_TRUE(s.synced);
}

TEST_F(KubeClientIntegration, EndedWatchIsResumedWithoutAList) {
  auto o = options();
  o.watch_timeout = 1s;
  // TRIGGER: the client starts; each watch ends after a second; a pod is added.
  auto client = start(o);
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;
  ASSERT_TRUE(wait_until([&] { return client->stats().watches >= 3; }, 6s));
  server_->add(make_pod("uid-late", "late"));
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return has("uid-late"); }, 3s));
  KubeClientStats s = client->stats();
  EXPECT_EQ(s.lists, 1u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_EQ(s.relists_gone, 0u);
  EXPECT_EQ(server_->stats()["lists"], 1);
}

TEST_F(KubeClientIntegration, GoneResourceVersionRelists) {
  server_->add(make_pod("uid-a", "alpha"));
  auto o = options();
  o.watch_timeout = 1s;
  // TRIGGER: the client starts; the server compacts its history.
  auto client = start(o);
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;

  // Compaction: the next watch (after timeoutSeconds) starts from a
  // resourceVersion the server no longer has -> ERROR 410 -> list again.
  server_->control("/_control/compact", json::object());
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().relists_gone >= 1; }, 5s));
  ASSERT_TRUE(wait_until([&] { return client->stats().lists >= 2 && client->stats().synced; }));

  // TRIGGER: "gone": open and new watches get ERROR 410; changes meanwhile come from lists.
  server_->mode("gone");
  server_->add(make_pod("uid-b", "beta"));
  server_->remove("uid-a");
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return has("uid-b") && !has("uid-a"); }));
  uint64_t gone = client->stats().relists_gone;
  EXPECT_GE(gone, 2u);

  // TRIGGER: HTTP 410 instead of an ERROR event.
  server_->mode("gone_http");
  server_->add(make_pod("uid-c", "gamma"));
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return has("uid-c"); }));
  ASSERT_TRUE(wait_until([&] { return client->stats().relists_gone > gone; }));

  // TRIGGER: the server is normal again; a pod is added.
  server_->mode("normal");
  server_->add(make_pod("uid-d", "delta"));
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return has("uid-d"); }));
  EXPECT_EQ(cache_.size(), 3u);
  KubeClientStats s = client->stats();
  EXPECT_EQ(s.outages, 0u); // 410 is a normal answer, not an outage
  EXPECT_EQ(s.errors, 0u);
}

TEST_F(KubeClientIntegration, OutageIsLoggedOnceAndTheClientRecovers) {
  LogCapture log;
  server_->add(make_pod("uid-a", "alpha"));
  server_->add(make_pod("uid-b", "beta"));
  // TRIGGER: the client starts and watches.
  auto client = start(options());
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;
  ASSERT_TRUE(wait_until([&] { return server_->stats()["open_watches"] == 1; }));

  // TRIGGER: the server goes down.
  server_->mode("down");
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return !client->stats().reachable; }));
  // TRIGGER: changes the client cannot see while the server is down.
  server_->add(make_pod("uid-c", "gamma"));
  server_->remove("uid-a");
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().errors >= 5; })); // several retries
  EXPECT_FALSE(client->stats().synced);
  EXPECT_TRUE(has("uid-a")); // stale, but still there for attribution

  // TRIGGER: the server comes back.
  server_->mode("normal");
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced && client->stats().reachable; }));
  EXPECT_TRUE(has("uid-c"));
  EXPECT_FALSE(has("uid-a"));
  EXPECT_EQ(cache_.size(), 2u);
  KubeClientStats s = client->stats();
  EXPECT_EQ(s.outages, 1u);

  std::vector<std::string> warnings = log.lines(spdlog::level::warn);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(server_->url()), std::string::npos) << warnings[0];
  std::vector<std::string> infos = log.lines(spdlog::level::info);
  EXPECT_EQ(std::count_if(infos.begin(), infos.end(),
                          [](const std::string &l) { return l.find("works again") != l.npos; }),
            1);
  EXPECT_FALSE(log.contains(kToken));

  // TRIGGER: a pod is added after the outage.
  server_->add(make_pod("uid-e", "epsilon"));
  // ASSERT: it watches again.
  ASSERT_TRUE(wait_until([&] { return has("uid-e"); }));
}

TEST_F(KubeClientIntegration, DroppedLongLivedWatchIsResumedWithoutAnOutage) {
  LogCapture log;
  // TRIGGER: the client starts; its established watch stream is cut.
  auto client = start(options());
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;
  ASSERT_TRUE(wait_until([&] { return server_->stats()["open_watches"] == 1; }));
  std::this_thread::sleep_for(1200ms); // an established stream
  server_->control("/_control/cut", json::object());
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().errors == 1; }));
  // TRIGGER
  server_->add(make_pod("uid-a", "alpha"));
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return has("uid-a"); }));
  KubeClientStats s = client->stats();
  EXPECT_EQ(s.outages, 0u);
  EXPECT_EQ(s.lists, 1u); // watched again from the last resourceVersion
  EXPECT_EQ(s.watches, 2u);
  EXPECT_TRUE(s.synced);
  EXPECT_TRUE(log.lines(spdlog::level::warn).empty());
}

TEST_F(KubeClientIntegration, GarbageIsCountedNotFatal) {
  LogCapture log;
  server_->add(make_pod("uid-a", "alpha"));
  // TRIGGER: the client starts and watches.
  auto client = start(options());
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;
  ASSERT_TRUE(wait_until([&] { return server_->stats()["open_watches"] == 1; }));

  // TRIGGER
  server_->mode("garbage"); // the open watch gets a garbage line, new requests HTML
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().errors >= 3; }));
  KubeClientStats s = client->stats();
  EXPECT_EQ(s.outages, 1u);
  EXPECT_FALSE(s.reachable);
  EXPECT_NE(s.last_error.find("not JSON"), std::string::npos) << s.last_error;
  EXPECT_TRUE(has("uid-a"));

  // TRIGGER
  server_->mode("error500");
  // ASSERT
  ASSERT_TRUE(wait_until([&] {
    return client->stats().last_error.find("HTTP 500") != std::string::npos;
  })) << client->stats().last_error;

  // TRIGGER: the server is normal again; a pod is added.
  server_->mode("normal");
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; }));
  // TRIGGER
  server_->add(make_pod("uid-b", "beta"));
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return has("uid-b"); }));
  EXPECT_EQ(client->stats().outages, 1u);
  EXPECT_EQ(log.lines(spdlog::level::warn).size(), 1u);
}

TEST_F(KubeClientIntegration, WrongTokenIsCountedAndARotatedTokenIsPickedUp) {
  LogCapture log;
  swtest::write_file(token_file(), "not-the-token\n", 0600);
  server_->add(make_pod("uid-a", "alpha"));
  // TRIGGER: the client starts with a wrong token.
  auto client = start(options());
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().errors >= 3; }));
  KubeClientStats s = client->stats();
  EXPECT_EQ(s.lists, 0u);
  EXPECT_FALSE(s.synced);
  EXPECT_EQ(s.outages, 1u);
  EXPECT_NE(s.last_error.find("HTTP 401"), std::string::npos) << s.last_error;
  EXPECT_GE(server_->stats()["unauthorized"].get<int>(), 3);
  EXPECT_EQ(cache_.size(), 0u);

  // TRIGGER: the kubelet rotates projected tokens; the client reads the file at each request.
  swtest::write_file(token_file(), kToken + "\n", 0600);
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; }));
  EXPECT_TRUE(has("uid-a"));
  EXPECT_FALSE(log.contains("not-the-token"));
  EXPECT_FALSE(log.contains(kToken));
}

TEST_F(KubeClientIntegration, StopIsPromptDuringAnIdleWatch) {
  auto o = options();
  o.watch_timeout = 300s;
  // TRIGGER: the client starts and its watch idles.
  auto client = start(o);
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;
  ASSERT_TRUE(wait_until([&] { return server_->stats()["open_watches"] == 1; }));
  std::this_thread::sleep_for(1500ms); // idle: nothing moves on the stream
  // TRIGGER: the client stops.
  auto begin = std::chrono::steady_clock::now();
  client->stop();
  // ASSERT
  // A broken stop() would wait out the watch (minutes); this is no speed test.
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 5s);
  EXPECT_EQ(client->stats().errors, 0u);
}

TEST_F(KubeClientIntegration, SlowAnswersTimeOutAndStopIsStillPrompt) {
  // TRIGGER: the client starts against a server that answers slowly.
  server_->mode("slow", 5);
  auto o = options();
  o.request_timeout = 500ms;
  auto client = start(o);
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().errors >= 1; }, 5s));
  EXPECT_EQ(client->stats().outages, 1u);
  EXPECT_NE(client->stats().last_error.find("imed out"), std::string::npos)
      << client->stats().last_error;
  // TRIGGER: stop while the next request waits for its slow answer.
  o.request_timeout = 60s;
  PodCache other_cache;
  KubeClient waiting(o, other_cache);
  waiting.start();
  std::this_thread::sleep_for(500ms);
  auto begin = std::chrono::steady_clock::now();
  waiting.stop();
  // ASSERT
  // A broken stop() would wait out the watch (minutes); this is no speed test.
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 5s);
  EXPECT_EQ(waiting.stats().errors, 0u);
}

TEST_F(KubeClientIntegration, UntrustedCertificateIsRefused) {
  auto o = options();
  // Public CAs, none of which signed the test server's certificate. (Not the
  // server certificate itself: curl accepts a trusted leaf as a partial chain.)
  o.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  if (!std::filesystem::exists(o.ca_file))
    GTEST_SKIP() << "no " << o.ca_file;
  // TRIGGER: the client starts with CAs that did not sign the server's certificate.
  auto client = start(o);
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().errors >= 2; }));
  KubeClientStats s = client->stats();
  EXPECT_EQ(s.lists, 0u);
  EXPECT_EQ(s.outages, 1u);
  EXPECT_NE(s.last_error.find("certificate"), std::string::npos) << s.last_error;
  EXPECT_EQ(server_->stats()["lists"], 0);
}

// ---- kubelet source ------------------------------------------------------

TEST_F(KubeClientIntegration, KubeletPollsFillTheCacheAndFollowChanges) {
  server_->add(make_pod("uid-a", "alpha"));
  server_->add(make_pod("uid-b", "beta"));
  server_->add(make_pod("uid-elsewhere", "other", "node-b"));
  json broken = make_pod("uid-broken", "broken");
  broken["metadata"].erase("name");
  server_->add(broken);

  // TRIGGER: the client starts and polls the kubelet.
  auto client = start(kubelet_options());
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;
  EXPECT_EQ(cache_.size(), 2u);
  EXPECT_FALSE(has("uid-elsewhere"));
  EXPECT_FALSE(has("uid-broken"));
  auto pod = cache_.find("uid-a");
  ASSERT_TRUE(pod.has_value());
  EXPECT_EQ(pod->workload_kind, "Deployment");
  EXPECT_EQ(pod->workload_name, "alpha");
  ASSERT_NE(pod->find_container("c0deuid-a"), nullptr);
  KubeClientStats s = client->stats();
  EXPECT_GE(s.lists, 1u);
  EXPECT_EQ(s.malformed_pods, s.lists); // the broken pod, skipped at every poll
  EXPECT_EQ(s.watches, 0u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_TRUE(s.reachable);
  json stats = server_->stats();
  EXPECT_GE(stats["kubelet_polls"].get<int>(), 1);
  EXPECT_EQ(stats["lists"], 0); // never the API server
  EXPECT_EQ(stats["watches"], 0);

  // TRIGGER: a pod is added (changes show at a later poll).
  server_->add(make_pod("uid-c", "gamma"));
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return has("uid-c"); }, 10s));
  // TRIGGER
  server_->remove("uid-a");
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return !has("uid-a"); }, 10s));
  // TRIGGER
  json modified = make_pod("uid-b", "beta");
  modified["metadata"]["labels"]["release"] = "canary";
  server_->modify(modified);
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return cache_.find("uid-b")->labels.count("release") == 1; }, 10s));
  EXPECT_EQ(cache_.size(), 2u);
  s = client->stats();
  EXPECT_GE(s.lists, 3u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_EQ(s.outages, 0u);
  EXPECT_TRUE(s.synced);
}

TEST_F(KubeClientIntegration, KubeletWithoutANodeNameKeepsEveryPod) {
  server_->add(make_pod("uid-a", "alpha"));
  server_->add(make_pod("uid-elsewhere", "other", "node-b"));
  auto o = kubelet_options();
  o.node_name.clear();
  // TRIGGER: the client starts with no node name.
  auto client = start(o);
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;
  EXPECT_EQ(cache_.size(), 2u);
  EXPECT_TRUE(has("uid-elsewhere"));
  EXPECT_EQ(client->stats().errors, 0u);
}

TEST_F(KubeClientIntegration, KubeletOutageIsLoggedOnceAndTheClientRecovers) {
  LogCapture log;
  server_->add(make_pod("uid-a", "alpha"));
  server_->add(make_pod("uid-b", "beta"));
  // TRIGGER: the client starts and polls the kubelet.
  auto client = start(kubelet_options());
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;

  // TRIGGER: the kubelet goes down.
  server_->mode("down");
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return !client->stats().reachable; }));
  // TRIGGER
  server_->add(make_pod("uid-c", "gamma"));
  server_->remove("uid-a");
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().errors >= 3; })); // several retries
  EXPECT_FALSE(client->stats().synced);
  EXPECT_TRUE(has("uid-a")); // stale, but still there for attribution

  // TRIGGER: the kubelet comes back.
  server_->mode("normal");
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced && client->stats().reachable; }));
  EXPECT_TRUE(has("uid-c"));
  EXPECT_FALSE(has("uid-a"));
  EXPECT_EQ(cache_.size(), 2u);
  EXPECT_EQ(client->stats().outages, 1u);

  std::vector<std::string> warnings = log.lines(spdlog::level::warn);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("kubelet " + server_->url()), std::string::npos) << warnings[0];
  std::vector<std::string> infos = log.lines(spdlog::level::info);
  EXPECT_EQ(std::count_if(infos.begin(), infos.end(),
                          [](const std::string &l) { return l.find("works again") != l.npos; }),
            1);
  EXPECT_FALSE(log.contains(kToken));
}

TEST_F(KubeClientIntegration, KubeletGarbageIsCountedNotFatal) {
  LogCapture log;
  server_->add(make_pod("uid-a", "alpha"));
  // TRIGGER: the client starts and polls the kubelet.
  auto client = start(kubelet_options());
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;

  // TRIGGER
  server_->mode("garbage");
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().errors >= 3; }));
  KubeClientStats s = client->stats();
  EXPECT_EQ(s.outages, 1u);
  EXPECT_FALSE(s.reachable);
  EXPECT_FALSE(s.synced);
  EXPECT_NE(s.last_error.find("not JSON"), std::string::npos) << s.last_error;
  EXPECT_TRUE(has("uid-a"));

  // TRIGGER
  server_->mode("error500");
  // ASSERT
  ASSERT_TRUE(wait_until([&] {
    return client->stats().last_error.find("HTTP 500") != std::string::npos;
  })) << client->stats().last_error;

  // TRIGGER: the kubelet is normal again; a pod is added.
  server_->mode("normal");
  server_->add(make_pod("uid-b", "beta"));
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced && has("uid-b"); }));
  EXPECT_EQ(client->stats().outages, 1u);
  EXPECT_EQ(log.lines(spdlog::level::warn).size(), 1u);
}

TEST_F(KubeClientIntegration, KubeletWrongTokenIsCountedAndARotatedTokenIsPickedUp) {
  LogCapture log;
  swtest::write_file(token_file(), "not-the-token\n", 0600);
  server_->add(make_pod("uid-a", "alpha"));
  // TRIGGER: the client starts with a wrong token.
  auto client = start(kubelet_options());
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().errors >= 3; }));
  KubeClientStats s = client->stats();
  EXPECT_EQ(s.lists, 0u);
  EXPECT_FALSE(s.synced);
  EXPECT_EQ(s.outages, 1u);
  EXPECT_NE(s.last_error.find("HTTP 401"), std::string::npos) << s.last_error;
  EXPECT_GE(server_->stats()["unauthorized"].get<int>(), 3);
  EXPECT_EQ(cache_.size(), 0u);

  // TRIGGER: the token is rotated.
  swtest::write_file(token_file(), kToken + "\n", 0600);
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; }));
  EXPECT_TRUE(has("uid-a"));
  EXPECT_FALSE(log.contains("not-the-token"));
  EXPECT_FALSE(log.contains(kToken));
}

TEST_F(KubeClientIntegration, KubeletForbiddenNamesTheMissingPermission) {
  server_->mode("forbidden");
  // TRIGGER: the client starts without the permission to read the kubelet's pods.
  auto client = start(kubelet_options());
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().errors >= 1; }));
  std::string error = client->stats().last_error;
  EXPECT_NE(error.find("HTTP 403"), std::string::npos) << error;
  EXPECT_NE(error.find("resource=nodes, subresource=proxy)"), std::string::npos) << error;
}

TEST_F(KubeClientIntegration, KubeletStopIsPromptBetweenPollsAndDuringASlowAnswer) {
  auto o = kubelet_options();
  o.poll_interval = 300s;
  // TRIGGER: the client starts.
  auto client = start(o);
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;
  std::this_thread::sleep_for(300ms); // waiting for the next poll
  // TRIGGER: the client stops while it waits for its next poll.
  auto begin = std::chrono::steady_clock::now();
  client->stop();
  // ASSERT
  // A broken stop() would wait out the poll interval; this is no speed test.
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 5s);
  EXPECT_EQ(client->stats().errors, 0u);

  // TRIGGER: a client waits for a slow answer; it stops.
  server_->mode("slow", 30);
  o.request_timeout = 60s;
  PodCache other_cache;
  KubeClient waiting(o, other_cache);
  waiting.start();
  std::this_thread::sleep_for(500ms); // the poll waits for its answer
  begin = std::chrono::steady_clock::now();
  waiting.stop();
  // ASSERT
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 5s);
  EXPECT_EQ(waiting.stats().errors, 0u);
}

TEST_F(KubeClientIntegration, KubeletCertificateIsCheckedUnlessVerificationIsOff) {
  LogCapture log;
  server_->add(make_pod("uid-a", "alpha"));
  auto o = kubelet_options();
  // Public CAs, none of which signed the stand-in's certificate.
  o.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  if (!std::filesystem::exists(o.ca_file))
    GTEST_SKIP() << "no " << o.ca_file;
  {
    PodCache other_cache;
    KubeClient refused(o, other_cache);
    // TRIGGER: a client with CAs that did not sign the kubelet's certificate.
    refused.start();
    // ASSERT
    ASSERT_TRUE(wait_until([&] { return refused.stats().errors >= 1; }));
    EXPECT_NE(refused.stats().last_error.find("certificate"), std::string::npos)
        << refused.stats().last_error;
    EXPECT_EQ(refused.stats().lists, 0u);
  }
  EXPECT_FALSE(log.contains("verification for"));

  // TRIGGER: verification off.
  o.tls_verify = false;
  auto client = start(o);
  // ASSERT
  ASSERT_TRUE(wait_until([&] { return client->stats().synced; })) << client->stats().last_error;
  EXPECT_TRUE(has("uid-a"));
  auto warnings = log.lines(spdlog::level::warn);
  EXPECT_EQ(std::count_if(warnings.begin(), warnings.end(),
                          [&](const std::string &l) {
                            return l.find("verification for " + server_->url() + " is off") !=
                                   l.npos;
                          }),
            1);
  EXPECT_FALSE(log.contains(kToken));
}
